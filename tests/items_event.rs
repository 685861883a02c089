//! Calendar items ([MS-ASCAL]) in 14.1 and 16.1 shapes: golden files, round trips, all-day
//! dates east and west of UTC, caps, client quirks.

mod common;

use easbox::eas::items::{ApplicationData, Class, Context, caps};
use easbox::eas::timezone::TimeZoneInfo;
use easbox::eas::{Error, ProtocolVersion};
use easbox::model::event::{
    Attendee, AttendeeStatus, AttendeeType, BusyStatus, EventTime, Exception, MAX_ATTENDEES,
    MAX_CATEGORIES, MAX_EXCEPTIONS, MeetingStatus, ResponseType,
};
use easbox::model::{Event, Frequency, Item, Recurrence, RecurrenceEnd, Sensitivity, Weekdays};
use easbox::wbxml::{self, Encoder, Limits, Tag, airsync, airsyncbase, calendar};
use jiff::Timestamp;
use jiff::civil::{Date, Weekday, date};
use jiff::tz::TimeZone;

const V14: ProtocolVersion = ProtocolVersion::V14_1;
const V16: ProtocolVersion = ProtocolVersion::V16_1;

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn at(tz: &str, y: i16, m: i8, d: i8, h: i8, mi: i8) -> Timestamp {
    date(y, m, d).at(h, mi, 0, 0).in_tz(tz).unwrap().timestamp()
}

fn encode(ev: &Event, v: ProtocolVersion) -> Vec<u8> {
    try_encode(ev, v).unwrap()
}

fn try_encode(ev: &Event, v: ProtocolVersion) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, 1 << 20)?;
    ApplicationData::new(Item::Event(ev.clone())).encode(&mut w, &Context::new(v))?;
    w.finish()?;
    Ok(out)
}

fn decode(bytes: &[u8], v: ProtocolVersion) -> Result<ApplicationData, Error> {
    let root = wbxml::parse(bytes, Limits::DEFAULT)?;
    ApplicationData::decode(&root, Class::Calendar, &Context::new(v))
}

fn event_of(bytes: &[u8], v: ProtocolVersion) -> Event {
    match decode(bytes, v).unwrap().item {
        Item::Event(e) => e,
        other => panic!("not an event: {other:?}"),
    }
}

fn text(bytes: &[u8], tag: Tag) -> Option<String> {
    let root = wbxml::parse(bytes, Limits::DEFAULT).unwrap();
    root.child_text(tag).map(str::to_owned)
}

/// What a 16.x decode keeps of an event: the server owns UID, DtStamp and the organizer.
fn as_16(ev: &Event) -> Event {
    Event {
        uid: None,
        dt_stamp: None,
        organizer_name: None,
        organizer_email: None,
        ..ev.clone()
    }
}

fn timed_rome() -> Event {
    Event {
        location: "Sala Verdi".into(),
        notes: "Ordine del giorno:\n1. budget".into(),
        reminder: Some(15),
        sensitivity: Sensitivity::Private,
        busy_status: BusyStatus::Busy,
        categories: vec!["Lavoro".into(), "Clienti".into()],
        uid: Some("040000008200E00074C5B7101A82E008".into()),
        dt_stamp: Some(at("UTC", 2024, 3, 1, 8, 0)),
        organizer_name: Some("Mario Rossi".into()),
        organizer_email: Some("mario.rossi@example.it".into()),
        ..Event::timed(
            "Riunione commerciale",
            at("Europe/Rome", 2024, 3, 15, 9, 0),
            at("Europe/Rome", 2024, 3, 15, 10, 30),
            zone("Europe/Rome"),
        )
    }
}

#[test]
fn timed_event_in_rome() {
    let ev = timed_rome();
    let b14 = encode(&ev, V14);
    common::golden("items/event_timed_rome_14.1", &b14);
    assert_eq!(
        text(&b14, calendar::START_TIME).as_deref(),
        Some("20240315T080000Z")
    );
    assert_eq!(
        text(&b14, calendar::END_TIME).as_deref(),
        Some("20240315T093000Z")
    );
    assert_eq!(
        text(&b14, calendar::LOCATION).as_deref(),
        Some("Sala Verdi")
    );
    let blob = TimeZoneInfo::from_base64(&text(&b14, calendar::TIMEZONE).unwrap()).unwrap();
    assert_eq!(blob.bias, -60);
    assert!(blob.standard_name.is_empty());
    assert_eq!(event_of(&b14, V14), ev);
}

#[test]
fn timed_event_in_rome_16() {
    let ev = timed_rome();
    let b16 = encode(&ev, V16);
    common::golden("items/event_timed_rome_16.1", &b16);
    assert_eq!(text(&b16, calendar::LOCATION), None);
    let root = wbxml::parse(&b16, Limits::DEFAULT).unwrap();
    let loc = root.child(airsyncbase::LOCATION).unwrap();
    assert_eq!(
        loc.child_text(airsyncbase::DISPLAY_NAME),
        Some("Sala Verdi")
    );
    // The server still sends its UID and the organizer in 16.x ...
    assert!(text(&b16, calendar::UID).is_some());
    assert!(text(&b16, calendar::ORGANIZER_EMAIL).is_some());
    // ... and does not take them from a 16.x client.
    assert_eq!(event_of(&b16, V16), as_16(&ev));
}

fn all_day_rome() -> Event {
    Event {
        reminder: Some(0),
        busy_status: BusyStatus::Free,
        ..Event::all_day(
            "Festa della Liberazione",
            date(2024, 4, 25),
            date(2024, 4, 26),
            zone("Europe/Rome"),
        )
    }
}

#[test]
fn all_day_event_14() {
    let ev = all_day_rome();
    let b14 = encode(&ev, V14);
    common::golden("items/event_all_day_14.1", &b14);
    assert_eq!(text(&b14, calendar::ALL_DAY_EVENT).as_deref(), Some("1"));
    // Local midnight in the sent zone (Rome is UTC+2 in April).
    assert_eq!(
        text(&b14, calendar::START_TIME).as_deref(),
        Some("20240424T220000Z")
    );
    assert_eq!(
        text(&b14, calendar::END_TIME).as_deref(),
        Some("20240425T220000Z")
    );
    assert!(text(&b14, calendar::TIMEZONE).is_some());
    assert_eq!(event_of(&b14, V14), ev);
}

#[test]
fn all_day_event_16() {
    let ev = all_day_rome();
    let b16 = encode(&ev, V16);
    common::golden("items/event_all_day_16.1", &b16);
    assert_eq!(text(&b16, calendar::TIMEZONE), None);
    assert_eq!(
        text(&b16, calendar::START_TIME).as_deref(),
        Some("20240425T000000Z")
    );
    assert_eq!(
        text(&b16, calendar::END_TIME).as_deref(),
        Some("20240426T000000Z")
    );
    // Without a Timezone the zone comes back as UTC; the dates are what matter.
    let back = event_of(&b16, V16);
    assert_eq!(back.time, ev.time);
    assert_eq!(
        back,
        Event {
            time_zone: TimeZone::UTC,
            ..ev.clone()
        }
    );
}

fn weekly_meeting() -> Event {
    let rome = "Europe/Rome";
    let mut rule = Recurrence::new(Frequency::Weekly);
    rule.weekdays = [Weekday::Tuesday, Weekday::Thursday].into_iter().collect();
    rule.end = RecurrenceEnd::Until(at(rome, 2024, 6, 27, 10, 0));
    rule.week_start = Some(Weekday::Monday);
    let moved = Exception {
        subject: Some("Riunione settimanale (spostata)".into()),
        location: Some("Sala Rossini".into()),
        time: Some(EventTime::Timed {
            start: at(rome, 2024, 3, 21, 14, 0),
            end: at(rome, 2024, 3, 21, 15, 0),
        }),
        busy_status: Some(BusyStatus::Tentative),
        reminder: Some(30),
        ..Exception::new(at(rome, 2024, 3, 21, 10, 0))
    };
    Event {
        location: "Sala Verdi".into(),
        meeting_status: MeetingStatus::Organizer,
        organizer_name: Some("Mario Rossi".into()),
        organizer_email: Some("mario.rossi@example.it".into()),
        uid: Some("weekly-1@easbox".into()),
        response_requested: Some(true),
        response_type: Some(ResponseType::Organizer),
        disallow_new_time_proposal: true,
        attendees: vec![
            Attendee {
                email: "anna.bianchi@example.it".into(),
                name: "Anna Bianchi".into(),
                status: Some(AttendeeStatus::Accepted),
                kind: Some(AttendeeType::Required),
            },
            Attendee {
                email: "luca.verdi@example.it".into(),
                name: "Luca Verdi".into(),
                status: Some(AttendeeStatus::NotResponded),
                kind: Some(AttendeeType::Optional),
            },
        ],
        recurrence: Some(rule),
        exceptions: vec![Exception::deleted(at(rome, 2024, 3, 19, 10, 0)), moved],
        reminder: Some(10),
        ..Event::timed(
            "Riunione settimanale",
            at(rome, 2024, 3, 12, 10, 0),
            at(rome, 2024, 3, 12, 11, 0),
            zone(rome),
        )
    }
}

#[test]
fn weekly_meeting_with_exceptions() {
    let ev = weekly_meeting();
    let b14 = encode(&ev, V14);
    common::golden("items/event_weekly_meeting_14.1", &b14);
    let root = wbxml::parse(&b14, Limits::DEFAULT).unwrap();
    let xs: Vec<_> = root
        .child(calendar::EXCEPTIONS)
        .unwrap()
        .children_with(calendar::EXCEPTION)
        .collect();
    assert_eq!(xs.len(), 2);
    assert_eq!(xs[0].child_text(calendar::DELETED), Some("1"));
    assert_eq!(
        xs[0].child_text(calendar::EXCEPTION_START_TIME),
        Some("20240319T090000Z")
    );
    assert!(xs[1].child(airsyncbase::INSTANCE_ID).is_none());
    let rec = root.child(calendar::RECURRENCE).unwrap();
    assert_eq!(rec.child_text(calendar::TYPE), Some("1"));
    assert_eq!(rec.child_text(calendar::DAY_OF_WEEK), Some("20"));
    assert_eq!(rec.child_text(calendar::FIRST_DAY_OF_WEEK), Some("1"));
    assert_eq!(event_of(&b14, V14), ev);
}

#[test]
fn weekly_meeting_with_exceptions_16() {
    let ev = weekly_meeting();
    let b16 = encode(&ev, V16);
    common::golden("items/event_weekly_meeting_16.1", &b16);
    let root = wbxml::parse(&b16, Limits::DEFAULT).unwrap();
    let xs: Vec<_> = root
        .child(calendar::EXCEPTIONS)
        .unwrap()
        .children_with(calendar::EXCEPTION)
        .collect();
    assert_eq!(
        xs[0].child_text(airsyncbase::INSTANCE_ID),
        Some("20240319T090000Z")
    );
    assert!(xs[0].child(calendar::EXCEPTION_START_TIME).is_none());
    assert!(xs[1].child(airsyncbase::LOCATION).is_some());
    assert_eq!(event_of(&b16, V16), as_16(&ev));
}

#[test]
fn monthly_last_friday() {
    let ny = "America/New_York";
    let mut rule = Recurrence::new(Frequency::Monthly);
    rule.weekdays = Weekdays::EMPTY.with(Weekday::Friday);
    rule.set_pos = Some(-1);
    rule.end = RecurrenceEnd::Count(12);
    let ev = Event {
        recurrence: Some(rule),
        ..Event::timed(
            "Month-end review",
            at(ny, 2024, 1, 26, 16, 0),
            at(ny, 2024, 1, 26, 17, 0),
            zone(ny),
        )
    };
    let b = encode(&ev, V14);
    common::golden("items/event_monthly_last_friday_14.1", &b);
    let root = wbxml::parse(&b, Limits::DEFAULT).unwrap();
    let rec = root.child(calendar::RECURRENCE).unwrap();
    assert_eq!(rec.child_text(calendar::TYPE), Some("3"));
    assert_eq!(rec.child_text(calendar::WEEK_OF_MONTH), Some("5"));
    assert_eq!(rec.child_text(calendar::DAY_OF_WEEK), Some("32"));
    assert_eq!(rec.child_text(calendar::OCCURRENCES), Some("12"));
    assert_eq!(event_of(&b, V14), ev);
    assert_eq!(event_of(&encode(&ev, V16), V16), ev);
}

/// Encoding fills the parts EAS requires from the series' start.
#[test]
fn rule_parts_come_from_the_start() {
    let rome = "Europe/Rome";
    let ev = Event {
        recurrence: Some(Recurrence::new(Frequency::Yearly)),
        ..Event::timed(
            "Anniversario",
            at(rome, 2024, 5, 8, 0, 30),
            at(rome, 2024, 5, 8, 1, 30),
            zone(rome),
        )
    };
    let b = encode(&ev, V14);
    let root = wbxml::parse(&b, Limits::DEFAULT).unwrap();
    let rec = root.child(calendar::RECURRENCE).unwrap();
    assert_eq!(rec.child_text(calendar::TYPE), Some("5"));
    // The local date, not the UTC one (7 May 22:30 UTC).
    assert_eq!(rec.child_text(calendar::MONTH_OF_YEAR), Some("5"));
    assert_eq!(rec.child_text(calendar::DAY_OF_MONTH), Some("8"));
    let mut weekly = ev.clone();
    weekly.recurrence = Some(Recurrence::new(Frequency::Weekly));
    let b = encode(&weekly, V14);
    let root = wbxml::parse(&b, Limits::DEFAULT).unwrap();
    let rec = root.child(calendar::RECURRENCE).unwrap();
    assert_eq!(rec.child_text(calendar::DAY_OF_WEEK), Some("8")); // Wednesday
    let mut monthly = ev;
    let mut r = Recurrence::new(Frequency::Monthly);
    r.weekdays = Weekdays::ALL;
    monthly.recurrence = Some(r);
    assert!(matches!(
        try_encode(&monthly, V14),
        Err(Error::Unencodable(_))
    ));
}

#[test]
fn all_day_stays_on_its_day_east_and_west() {
    for name in [
        "Pacific/Auckland",
        "Pacific/Kiritimati",
        "America/Los_Angeles",
        "Pacific/Honolulu",
        "Europe/Rome",
        "UTC",
    ] {
        for (s, e) in [
            (date(2024, 1, 10), date(2024, 1, 11)),
            (date(2024, 7, 1), date(2024, 7, 4)),
            (date(2024, 12, 31), date(2025, 1, 1)),
        ] {
            let mut rule = Recurrence::new(Frequency::Yearly);
            rule.month = Some(s.month() as u8);
            rule.month_day = Some(s.day() as u8);
            rule.end = RecurrenceEnd::Until(
                date(2030, s.month(), s.day())
                    .to_zoned_datetime(zone(name))
                    .unwrap()
                    .timestamp(),
            );
            let second = date(2025, s.month(), s.day())
                .to_zoned_datetime(zone(name))
                .unwrap()
                .timestamp();
            let ev = Event {
                recurrence: Some(rule),
                exceptions: vec![Exception::deleted(second)],
                ..Event::all_day("Day", s, e, zone(name))
            };
            let back14 = event_of(&encode(&ev, V14), V14);
            assert_eq!(back14, ev, "{name} {s} 14.1");
            let back16 = event_of(&encode(&ev, V16), V16);
            assert_eq!(back16.time, ev.time, "{name} {s} 16.1");
            // Keys and Until come back on the same days (in the 16.x zone, UTC).
            let key = back16.exceptions[0].original_start;
            assert_eq!(
                TimeZone::UTC.to_datetime(key).date(),
                date(2025, s.month(), s.day())
            );
            let Some(RecurrenceEnd::Until(u)) = back16.recurrence.map(|r| r.end) else {
                panic!("no until");
            };
            assert_eq!(
                TimeZone::UTC.to_datetime(u).date(),
                date(2030, s.month(), s.day())
            );
        }
    }
}

/// A client document: ApplicationData with leaves, written through the encoder.
fn client_doc(build: impl FnOnce(&mut Encoder<'_>)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, 1 << 22).unwrap();
    w.start(airsync::APPLICATION_DATA).unwrap();
    build(&mut w);
    w.end().unwrap();
    w.finish().unwrap();
    out
}

fn all_day_days(bytes: &[u8], v: ProtocolVersion) -> (Date, Date) {
    match event_of(bytes, v).time {
        EventTime::AllDay { start, end } => (start, end),
        t => panic!("not all-day: {t:?}"),
    }
}

#[test]
fn client_all_day_events_land_on_their_day() {
    for name in ["Pacific/Auckland", "America/Los_Angeles", "Asia/Kolkata"] {
        let tz = zone(name);
        let blob = TimeZoneInfo::for_zone(&tz, 2024).unwrap().to_base64();
        let midnight = |d: Date| {
            let t = d.to_zoned_datetime(tz.clone()).unwrap().timestamp();
            TimeZone::UTC
                .to_datetime(t)
                .strftime("%Y%m%dT%H%M%SZ")
                .to_string()
        };
        // 14.1: local midnight in the zone it sends.
        let b = client_doc(|w| {
            w.leaf(calendar::TIMEZONE, &blob).unwrap();
            w.leaf(calendar::ALL_DAY_EVENT, "1").unwrap();
            w.leaf(calendar::START_TIME, &midnight(date(2024, 3, 15)))
                .unwrap();
            w.leaf(calendar::END_TIME, &midnight(date(2024, 3, 16)))
                .unwrap();
            w.leaf(calendar::SUBJECT, "x").unwrap();
        });
        assert_eq!(
            all_day_days(&b, V14),
            (date(2024, 3, 15), date(2024, 3, 16)),
            "{name}"
        );
        assert_eq!(
            event_of(&b, V14).time_zone,
            tz,
            "{name}: zone named from the blob"
        );
        // 16.1: floating midnight, no zone.
        let b = client_doc(|w| {
            w.leaf(calendar::ALL_DAY_EVENT, "1").unwrap();
            w.leaf(calendar::START_TIME, "20240315T000000Z").unwrap();
            w.leaf(calendar::END_TIME, "20240316T000000Z").unwrap();
        });
        assert_eq!(
            all_day_days(&b, V16),
            (date(2024, 3, 15), date(2024, 3, 16))
        );
    }
    // A 14.1 client that put its midnight in UTC while sending Los Angeles still gets the
    // 15th (nearest midnight), and an all-day event without an end lasts one day.
    let la = TimeZoneInfo::for_zone(&zone("America/Los_Angeles"), 2024)
        .unwrap()
        .to_base64();
    let b = client_doc(|w| {
        w.leaf(calendar::TIMEZONE, &la).unwrap();
        w.leaf(calendar::ALL_DAY_EVENT, "1").unwrap();
        w.leaf(calendar::START_TIME, "20240315T000000Z").unwrap();
    });
    assert_eq!(
        all_day_days(&b, V14),
        (date(2024, 3, 15), date(2024, 3, 16))
    );
}

#[test]
fn sixteen_ignores_server_owned_fields_and_reads_client_uid() {
    let doc = || {
        client_doc(|w| {
            w.leaf(calendar::START_TIME, "20240315T080000Z").unwrap();
            w.leaf(calendar::END_TIME, "20240315T090000Z").unwrap();
            w.leaf(calendar::UID, "client-uid").unwrap();
            w.leaf(calendar::DT_STAMP, "20240301T000000Z").unwrap();
            w.leaf(calendar::ORGANIZER_NAME, "Me").unwrap();
            w.leaf(calendar::ORGANIZER_EMAIL, "me@example.it").unwrap();
            w.leaf(calendar::CLIENT_UID, "abc-123").unwrap();
            w.leaf(calendar::BUSY_STATUS, "4").unwrap();
        })
    };
    let e16 = event_of(&doc(), V16);
    assert_eq!(e16.uid, None);
    assert_eq!(e16.dt_stamp, None);
    assert_eq!(e16.organizer_email, None);
    assert_eq!(e16.client_uid.as_deref(), Some("abc-123"));
    assert_eq!(e16.busy_status, BusyStatus::WorkingElsewhere);
    assert_eq!(e16.time_zone, TimeZone::UTC);
    let e14 = event_of(&doc(), V14);
    assert_eq!(e14.uid.as_deref(), Some("client-uid"));
    assert_eq!(e14.organizer_name.as_deref(), Some("Me"));
    assert_eq!(e14.dt_stamp, Some(at("UTC", 2024, 3, 1, 0, 0)));
    assert_eq!(e14.client_uid, None);
    // Nothing of that is kept as unknown (it would be echoed back twice).
    assert!(decode(&doc(), V16).unwrap().unknown.is_empty());
    // ClientUid is a request element: never written back.
    let b = encode(&e16, V16);
    assert_eq!(text(&b, calendar::CLIENT_UID), None);
    assert_eq!(text(&b, calendar::BUSY_STATUS).as_deref(), Some("4"));
    assert_eq!(
        text(&encode(&e16, V14), calendar::BUSY_STATUS).as_deref(),
        Some("0")
    );
}

#[test]
fn exceptions_sent_by_a_14_client() {
    let rome = zone("Europe/Rome");
    let blob = TimeZoneInfo::for_zone(&rome, 2024).unwrap().to_base64();
    let b = client_doc(|w| {
        w.leaf(calendar::TIMEZONE, &blob).unwrap();
        w.leaf(calendar::START_TIME, "20240312T090000Z").unwrap();
        w.leaf(calendar::END_TIME, "20240312T100000Z").unwrap();
        w.start(calendar::RECURRENCE).unwrap();
        w.leaf(calendar::TYPE, "1").unwrap();
        w.leaf(calendar::DAY_OF_WEEK, "4").unwrap();
        w.end().unwrap();
        w.start(calendar::EXCEPTIONS).unwrap();
        // Only a new start: the end keeps the series' hour.
        w.start(calendar::EXCEPTION).unwrap();
        w.leaf(calendar::EXCEPTION_START_TIME, "20240319T090000Z")
            .unwrap();
        w.leaf(calendar::START_TIME, "20240319T130000Z").unwrap();
        w.end().unwrap();
        // <Deleted/> empty, and a repeated key that replaces the first exception.
        w.start(calendar::EXCEPTION).unwrap();
        w.empty(calendar::DELETED).unwrap();
        w.leaf(calendar::EXCEPTION_START_TIME, "20240326T090000Z")
            .unwrap();
        w.end().unwrap();
        w.start(calendar::EXCEPTION).unwrap();
        w.leaf(calendar::DELETED, "0").unwrap();
        w.leaf(calendar::EXCEPTION_START_TIME, "20240319T090000Z")
            .unwrap();
        w.leaf(calendar::START_TIME, "20240319T140000Z").unwrap();
        w.end().unwrap();
        w.end().unwrap();
    });
    let ev = event_of(&b, V14);
    assert_eq!(ev.exceptions.len(), 2);
    let deleted = ev.exception(at("UTC", 2024, 3, 26, 9, 0)).unwrap();
    assert!(deleted.deleted);
    let moved = ev.exception(at("UTC", 2024, 3, 19, 9, 0)).unwrap();
    assert_eq!(
        moved.time,
        Some(EventTime::Timed {
            start: at("UTC", 2024, 3, 19, 14, 0),
            end: at("UTC", 2024, 3, 19, 15, 0),
        })
    );
    assert!(!moved.deleted);
}

#[test]
fn unknown_elements_are_kept_and_written_back() {
    let b = client_doc(|w| {
        w.leaf(calendar::START_TIME, "20240315T080000Z").unwrap();
        w.leaf(calendar::END_TIME, "20240315T090000Z").unwrap();
        w.leaf(calendar::ONLINE_MEETING_CONF_LINK, "https://meet.example/x")
            .unwrap();
        w.leaf(airsyncbase::NATIVE_BODY_TYPE, "1").unwrap();
    });
    let data = decode(&b, V14).unwrap();
    assert_eq!(data.unknown.len(), 2);
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, 1 << 20).unwrap();
    data.encode(&mut w, &Context::new(V14)).unwrap();
    w.finish().unwrap();
    assert_eq!(
        text(&out, calendar::ONLINE_MEETING_CONF_LINK).as_deref(),
        Some("https://meet.example/x")
    );
    assert_eq!(decode(&out, V14).unwrap(), data);
}

#[test]
fn caps() {
    let n_leaves = |tag: Tag, n: u32| {
        client_doc(|w| {
            w.leaf(calendar::START_TIME, "20240315T080000Z").unwrap();
            for i in 0..n {
                w.leaf(tag, &i.to_string()).unwrap();
            }
        })
    };
    let max = caps::MAX_UNKNOWN_ELEMENTS;
    assert!(decode(&n_leaves(calendar::ONLINE_MEETING_CONF_LINK, max), V14).is_ok());
    assert!(matches!(
        decode(&n_leaves(calendar::ONLINE_MEETING_CONF_LINK, max + 1), V14),
        Err(Error::TooMany { .. })
    ));
    let nested = |outer: Tag, build: &dyn Fn(&mut Encoder<'_>, u32), n: u32| {
        client_doc(|w| {
            w.leaf(calendar::START_TIME, "20240315T080000Z").unwrap();
            w.start(outer).unwrap();
            for i in 0..n {
                build(w, i);
            }
            w.end().unwrap();
        })
    };
    let category =
        |w: &mut Encoder<'_>, i: u32| w.leaf(calendar::CATEGORY, &i.to_string()).unwrap();
    let attendee = |w: &mut Encoder<'_>, i: u32| {
        w.start(calendar::ATTENDEE).unwrap();
        w.leaf(calendar::EMAIL, &format!("a{i}@example.it"))
            .unwrap();
        w.leaf(calendar::NAME_TAG, "A").unwrap();
        w.end().unwrap();
    };
    let exception = |w: &mut Encoder<'_>, i: u32| {
        w.start(calendar::EXCEPTION).unwrap();
        w.leaf(calendar::DELETED, "1").unwrap();
        let t = at("UTC", 2024, 3, 15, 8, 0)
            .checked_add(jiff::SignedDuration::from_hours(24 * i64::from(i)))
            .unwrap();
        let s = TimeZone::UTC
            .to_datetime(t)
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        w.leaf(calendar::EXCEPTION_START_TIME, &s).unwrap();
        w.end().unwrap();
    };
    for (outer, build, cap) in [
        (
            calendar::CATEGORIES,
            &category as &dyn Fn(&mut Encoder<'_>, u32),
            MAX_CATEGORIES,
        ),
        (calendar::ATTENDEES, &attendee, MAX_ATTENDEES),
        (calendar::EXCEPTIONS, &exception, MAX_EXCEPTIONS),
    ] {
        let ok = decode(&nested(outer, build, cap), V14);
        assert!(ok.is_ok(), "{outer:?} at the cap: {ok:?}");
        assert!(
            matches!(
                decode(&nested(outer, build, cap + 1), V14),
                Err(Error::TooMany { .. })
            ),
            "{outer:?} above the cap"
        );
    }
    // The encoder refuses models above the caps too.
    let mut ev = timed_rome();
    ev.categories = vec!["c".into(); MAX_CATEGORIES as usize + 1];
    assert!(matches!(try_encode(&ev, V14), Err(Error::TooMany { .. })));
    let mut ev = timed_rome();
    ev.attendees = vec![Attendee::default(); MAX_ATTENDEES as usize + 1];
    assert!(matches!(try_encode(&ev, V14), Err(Error::TooMany { .. })));
    let mut ev = weekly_meeting();
    ev.exceptions = vec![Exception::deleted(Timestamp::UNIX_EPOCH); MAX_EXCEPTIONS as usize + 1];
    assert!(matches!(try_encode(&ev, V14), Err(Error::TooMany { .. })));
}

#[test]
fn bad_input_is_an_error() {
    let with = |extra: &dyn Fn(&mut Encoder<'_>)| {
        decode(
            &client_doc(|w| {
                extra(w);
            }),
            V14,
        )
    };
    let start = |w: &mut Encoder<'_>| w.leaf(calendar::START_TIME, "20240315T080000Z").unwrap();
    assert!(matches!(with(&|_| {}), Err(Error::Missing { .. })));
    assert!(with(&|w| w.leaf(calendar::START_TIME, "tomorrow").unwrap()).is_err());
    for (tag, value) in [
        (calendar::TIMEZONE, "AAAA"),
        (calendar::BUSY_STATUS, "9"),
        (calendar::SENSITIVITY, "4"),
        (calendar::MEETING_STATUS, "2"),
        (calendar::ALL_DAY_EVENT, "2"),
        (calendar::REMINDER, "-5"),
        (calendar::END_TIME, "2024-13-01"),
        (calendar::RESPONSE_TYPE, "6"),
    ] {
        let r = with(&|w| {
            start(w);
            w.leaf(tag, value).unwrap();
        });
        assert!(
            matches!(r, Err(Error::BadValue { .. })),
            "{tag:?}={value}: {r:?}"
        );
    }
    // An exception without its key.
    let r = with(&|w| {
        start(w);
        w.start(calendar::EXCEPTIONS).unwrap();
        w.start(calendar::EXCEPTION).unwrap();
        w.leaf(calendar::DELETED, "1").unwrap();
        w.end().unwrap();
        w.end().unwrap();
    });
    assert!(matches!(r, Err(Error::Missing { .. })));
    // An empty Reminder is no reminder, not an error.
    let ok = with(&|w| {
        start(w);
        w.empty(calendar::REMINDER).unwrap();
    });
    assert!(ok.is_ok());
}

#[test]
fn round_trips_many_shapes() {
    let rome = zone("Europe/Rome");
    let mut shapes = vec![timed_rome(), weekly_meeting()];
    for (i, status) in [
        MeetingStatus::Appointment,
        MeetingStatus::Received,
        MeetingStatus::Canceled,
        MeetingStatus::CanceledReceived,
    ]
    .into_iter()
    .enumerate()
    {
        shapes.push(Event {
            meeting_status: status,
            busy_status: [
                BusyStatus::Free,
                BusyStatus::OutOfOffice,
                BusyStatus::Tentative,
                BusyStatus::Busy,
            ][i],
            sensitivity: [
                Sensitivity::Normal,
                Sensitivity::Personal,
                Sensitivity::Confidential,
                Sensitivity::Private,
            ][i],
            response_type: Some(ResponseType::Tentative),
            response_requested: Some(false),
            ..Event::timed(
                "s",
                at("UTC", 2030, 1, 1, 0, 0),
                at("UTC", 2030, 1, 1, 0, 15),
                rome.clone(),
            )
        });
    }
    // An all-day exception in a timed series, and a timed exception in an all-day one.
    let mut daily = Recurrence::new(Frequency::Daily);
    daily.interval = 2;
    let mut timed = weekly_meeting();
    timed.recurrence = Some(daily.clone());
    timed.exceptions = vec![Exception {
        time: Some(EventTime::AllDay {
            start: date(2024, 3, 14),
            end: date(2024, 3, 15),
        }),
        notes: Some("all day instead".into()),
        categories: Some(vec!["x".into()]),
        sensitivity: Some(Sensitivity::Personal),
        meeting_status: Some(MeetingStatus::Canceled),
        response_type: Some(ResponseType::Declined),
        attendees: Some(vec![Attendee {
            email: "x@example.it".into(),
            name: "X".into(),
            status: None,
            kind: None,
        }]),
        ..Exception::new(at("Europe/Rome", 2024, 3, 14, 10, 0))
    }];
    shapes.push(timed);
    let mut all_day = Event::all_day("a", date(2024, 3, 12), date(2024, 3, 14), TimeZone::UTC);
    all_day.recurrence = Some(daily);
    all_day.exceptions = vec![Exception {
        time: Some(EventTime::Timed {
            start: at("UTC", 2024, 3, 16, 9, 0),
            end: at("UTC", 2024, 3, 16, 10, 0),
        }),
        ..Exception::new(at("UTC", 2024, 3, 16, 0, 0))
    }];
    shapes.push(all_day);
    for ev in shapes {
        assert_eq!(event_of(&encode(&ev, V14), V14), ev);
        assert_eq!(
            event_of(&encode(&ev, ProtocolVersion::V14_0), ProtocolVersion::V14_0).subject,
            ev.subject
        );
        assert_eq!(event_of(&encode(&ev, V16), V16), as_16(&ev));
    }
}
