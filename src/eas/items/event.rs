//! Calendar items ([MS-ASCAL] 2.2.2) ⇄ [`model::Event`](crate::model::Event).
//!
//! Differences by version (EAS-NOTES §1.4 "Calendar changes in 16.x", §3 row 4):
//!
//! | | 12.1–14.1 | 16.0–16.1 |
//! |---|---|---|
//! | all-day times | local midnight in the zone sent in Timezone (always sent) | "floating" midnight `YYYYMMDDT000000Z`, no Timezone |
//! | location | Calendar:Location | AirSyncBase:Location/DisplayName |
//! | exception key | Calendar:ExceptionStartTime | AirSyncBase:InstanceId |
//! | UID, DtStamp, Organizer* from the client | read | ignored: the server owns them |
//! | ClientUid | — | read (it is not a response element) |
//!
//! ResponseRequested, ResponseType and DisallowNewTimeProposal are 14.0+. BusyStatus 4
//! ("working elsewhere") is 16.0+ and is sent as 0 (free) to older clients.
//! Elements are written in the order of Calendar.xsd; elements the model lacks go to
//! `unknown` and are written back after ours.

use super::recurrence::{self, Flavor, TaskExtras, datetime, opt_num, opt_time};
use super::{Context, body, caps};
use crate::eas::timezone::TimeZoneInfo;
use crate::eas::{Error, ProtocolVersion, de};
use crate::model::event::{
    Attendee, AttendeeStatus, AttendeeType, BusyStatus, EventTime, Exception, MAX_ATTENDEES,
    MAX_CATEGORIES, MAX_EXCEPTIONS, MeetingStatus, ResponseType,
};
use crate::model::{Event, Frequency, Recurrence, RecurrenceEnd, Sensitivity};
use crate::wbxml::{Element, Encoder, OwnedElement, Tag, airsyncbase, calendar};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

fn sensitivity_code(s: Sensitivity) -> u8 {
    match s {
        Sensitivity::Normal => 0,
        Sensitivity::Personal => 1,
        Sensitivity::Private => 2,
        Sensitivity::Confidential => 3,
    }
}

fn sensitivity_from(v: u8, tag: Tag) -> Result<Sensitivity, Error> {
    Ok(match v {
        0 => Sensitivity::Normal,
        1 => Sensitivity::Personal,
        2 => Sensitivity::Private,
        3 => Sensitivity::Confidential,
        _ => {
            return Err(Error::BadValue {
                tag,
                why: "sensitivity outside 0-3",
            });
        }
    })
}

/// A coded value (`from` returns `None` for codes outside the enumeration).
fn coded<T>(e: &Element<'_>, tag: Tag, from: fn(u8) -> Option<T>) -> Result<Option<T>, Error> {
    match opt_num::<u8>(e, tag)? {
        None => Ok(None),
        Some(v) => from(v).map(Some).ok_or(Error::BadValue {
            tag,
            why: "value outside the enumeration",
        }),
    }
}

/// How the all-day times of one item are read and written.
#[derive(Clone, Copy)]
struct Days<'z> {
    /// 16.x: dates travel as `YYYYMMDDT000000Z` whatever the zone.
    floating: bool,
    zone: &'z TimeZone,
}

impl Days<'_> {
    fn midnight(&self, d: Date) -> Result<Timestamp, Error> {
        // The first instant of the day: midnight itself unless a DST gap swallows it.
        d.to_zoned_datetime(self.zone.clone())
            .map(|z| z.timestamp())
            .map_err(|_| Error::Unencodable("date outside the zone's range"))
    }

    fn write(&self, d: Date) -> Result<String, Error> {
        if self.floating {
            datetime::compact_date(d)
        } else {
            datetime::compact(self.midnight(d)?)
        }
    }

    /// The day an instant stands for: the nearest midnight, so that a client that put its
    /// midnight in another zone (±12 h) still lands on the day it meant.
    fn read(&self, t: Timestamp, tag: Tag) -> Result<Date, Error> {
        let local = if self.floating {
            TimeZone::UTC.to_datetime(t)
        } else {
            self.zone.to_datetime(t)
        };
        if local.time() == Time::midnight() {
            return Ok(local.date());
        }
        local
            .checked_add(12.hours())
            .map(|d| d.date())
            .map_err(|_| Error::BadValue {
                tag,
                why: "date out of range",
            })
    }

    /// The day a model instant (a key or an Until) falls on in the event's zone.
    fn day_of(&self, t: Timestamp) -> Date {
        self.zone.to_datetime(t).date()
    }
}

fn midnight_utc(d: Date) -> Result<Timestamp, Error> {
    TimeZone::UTC
        .to_timestamp(d.to_datetime(Time::midnight()))
        .map_err(|_| Error::Unencodable("date out of range"))
}

fn time_strings(t: &EventTime, days: Days<'_>) -> Result<(String, String), Error> {
    match *t {
        EventTime::Timed { start, end } => Ok((datetime::compact(start)?, datetime::compact(end)?)),
        EventTime::AllDay { start, end } => Ok((days.write(start)?, days.write(end)?)),
    }
}

fn check_caps(attendees: usize, categories: usize) -> Result<(), Error> {
    de::cap("attendees", attendees, MAX_ATTENDEES)?;
    de::cap("categories", categories, MAX_CATEGORIES)
}

fn write_attendees(w: &mut Encoder<'_>, list: &[Attendee]) -> Result<(), Error> {
    w.start(calendar::ATTENDEES)?;
    for a in list {
        w.start(calendar::ATTENDEE)?;
        w.leaf(calendar::EMAIL, &a.email)?;
        w.leaf(calendar::NAME_TAG, &a.name)?;
        if let Some(s) = a.status {
            w.leaf_int(calendar::ATTENDEE_STATUS, s.as_u8())?;
        }
        if let Some(t) = a.kind {
            w.leaf_int(calendar::ATTENDEE_TYPE, t.as_u8())?;
        }
        w.end()?;
    }
    w.end()?;
    Ok(())
}

fn write_categories(w: &mut Encoder<'_>, list: &[String]) -> Result<(), Error> {
    w.start(calendar::CATEGORIES)?;
    for c in list {
        w.leaf(calendar::CATEGORY, c)?;
    }
    w.end()?;
    Ok(())
}

fn write_location(w: &mut Encoder<'_>, location: &str, v: ProtocolVersion) -> Result<(), Error> {
    if v.is_16() {
        w.start(airsyncbase::LOCATION)?;
        w.leaf(airsyncbase::DISPLAY_NAME, location)?;
        w.end()?;
        Ok(())
    } else {
        w.leaf(calendar::LOCATION, location).map_err(Error::from)
    }
}

fn busy_code(b: BusyStatus, v: ProtocolVersion) -> u8 {
    if b == BusyStatus::WorkingElsewhere && !v.is_16() {
        BusyStatus::Free.as_u8()
    } else {
        b.as_u8()
    }
}

/// Fills what EAS requires of a rule and iCalendar leaves to the series' start: the weekday
/// of a weekly rule, the day and month of monthly and yearly ones.
fn complete(r: &Recurrence, first: Date) -> Recurrence {
    let mut r = r.clone();
    let nth = r.set_pos.is_some();
    match r.frequency {
        Frequency::Weekly if r.weekdays.is_empty() => {
            r.weekdays = r.weekdays.with(first.weekday());
        }
        Frequency::Monthly | Frequency::Yearly => {
            if r.frequency == Frequency::Yearly && r.month.is_none() {
                r.month = first.month().try_into().ok();
            }
            if nth && r.weekdays.is_empty() {
                r.weekdays = r.weekdays.with(first.weekday());
            }
            if !nth && r.weekdays.is_empty() && r.month_day.is_none() {
                r.month_day = first.day().try_into().ok();
            }
        }
        _ => {}
    }
    r
}

/// The local date the series starts on, in the event's zone.
fn first_day(ev: &Event) -> Date {
    match ev.time {
        EventTime::Timed { start, .. } => ev.time_zone.to_datetime(start).date(),
        EventTime::AllDay { start, .. } => start,
    }
}

/// Writes the elements of an event (inside ApplicationData).
pub fn encode(ev: &Event, w: &mut Encoder<'_>, ctx: &Context<'_>) -> Result<(), Error> {
    let v = ctx.version;
    check_caps(ev.attendees.len(), ev.categories.len())?;
    de::cap("exceptions", ev.exceptions.len(), MAX_EXCEPTIONS)?;
    let all_day = ev.time.is_all_day();
    let days = Days {
        floating: v.is_16() && all_day,
        zone: &ev.time_zone,
    };
    let (start, end) = time_strings(&ev.time, days)?;

    if !days.floating {
        let tz = TimeZoneInfo::for_zone(&ev.time_zone, first_day(ev).year())?;
        w.leaf(calendar::TIMEZONE, &tz.to_base64())?;
    }
    w.leaf_int(calendar::ALL_DAY_EVENT, u8::from(all_day))?;
    if !ev.notes.is_empty() {
        body::encode(w, &ev.notes, ctx.body)?;
    }
    w.leaf_int(calendar::BUSY_STATUS, busy_code(ev.busy_status, v))?;
    if let Some(n) = &ev.organizer_name {
        w.leaf(calendar::ORGANIZER_NAME, n)?;
    }
    if let Some(m) = &ev.organizer_email {
        w.leaf(calendar::ORGANIZER_EMAIL, m)?;
    }
    if let Some(t) = ev.dt_stamp {
        w.leaf(calendar::DT_STAMP, &datetime::compact(t)?)?;
    }
    w.leaf(calendar::END_TIME, &end)?;
    if !ev.location.is_empty() {
        write_location(w, &ev.location, v)?;
    }
    if let Some(r) = ev.reminder {
        w.leaf_int(calendar::REMINDER, r)?;
    }
    w.leaf_int(calendar::SENSITIVITY, sensitivity_code(ev.sensitivity))?;
    if !ev.subject.is_empty() {
        w.leaf(calendar::SUBJECT, &ev.subject)?;
    }
    w.leaf(calendar::START_TIME, &start)?;
    if let Some(u) = &ev.uid {
        w.leaf(calendar::UID, u)?;
    }
    w.leaf_int(calendar::MEETING_STATUS, ev.meeting_status.as_u8())?;
    if !ev.attendees.is_empty() {
        write_attendees(w, &ev.attendees)?;
    }
    if !ev.categories.is_empty() {
        write_categories(w, &ev.categories)?;
    }
    if let Some(r) = &ev.recurrence {
        let mut r = complete(r, first_day(ev));
        if let (true, RecurrenceEnd::Until(u)) = (days.floating, r.end) {
            // A floating series ends on a floating day.
            r.end = RecurrenceEnd::Until(midnight_utc(days.day_of(u))?);
        }
        recurrence::encode(&r, &TaskExtras::default(), w, Flavor::Calendar, ctx)?;
    }
    if !ev.exceptions.is_empty() {
        w.start(calendar::EXCEPTIONS)?;
        for x in &ev.exceptions {
            encode_exception(x, days, w, ctx)?;
        }
        w.end()?;
    }
    if v >= ProtocolVersion::V14_0 {
        if let Some(r) = ev.response_requested {
            w.leaf_int(calendar::RESPONSE_REQUESTED, u8::from(r))?;
        }
        if let Some(r) = ev.response_type {
            w.leaf_int(calendar::RESPONSE_TYPE, r.as_u8())?;
        }
        if ev.disallow_new_time_proposal {
            w.leaf(calendar::DISALLOW_NEW_TIME_PROPOSAL, "1")?;
        }
    }
    Ok(())
}

fn encode_exception(
    x: &Exception,
    days: Days<'_>,
    w: &mut Encoder<'_>,
    ctx: &Context<'_>,
) -> Result<(), Error> {
    let v = ctx.version;
    // The key: the occurrence's original start; a floating day for 16.x all-day series.
    let key = if days.floating {
        datetime::compact_date(days.day_of(x.original_start))?
    } else {
        datetime::compact(x.original_start)?
    };
    w.start(calendar::EXCEPTION)?;
    if x.deleted {
        w.leaf(calendar::DELETED, "1")?;
    }
    if !v.is_16() {
        w.leaf(calendar::EXCEPTION_START_TIME, &key)?;
    }
    if !x.deleted {
        check_caps(
            x.attendees.as_ref().map_or(0, Vec::len),
            x.categories.as_ref().map_or(0, Vec::len),
        )?;
        if let Some(s) = &x.subject {
            w.leaf(calendar::SUBJECT, s)?;
        }
        let times = match &x.time {
            Some(t) => {
                let d = Days {
                    floating: v.is_16() && t.is_all_day(),
                    ..days
                };
                Some((time_strings(t, d)?, t.is_all_day()))
            }
            None => None,
        };
        if let Some(((start, end), _)) = &times {
            w.leaf(calendar::START_TIME, start)?;
            w.leaf(calendar::END_TIME, end)?;
        }
        if let Some(n) = &x.notes {
            body::encode(w, n, ctx.body)?;
        }
        if let Some(l) = &x.location {
            write_location(w, l, v)?;
        }
        if let Some(c) = &x.categories {
            write_categories(w, c)?;
        }
        if let Some(s) = x.sensitivity {
            w.leaf_int(calendar::SENSITIVITY, sensitivity_code(s))?;
        }
        if let Some(b) = x.busy_status {
            w.leaf_int(calendar::BUSY_STATUS, busy_code(b, v))?;
        }
        if let Some((_, all_day)) = times {
            w.leaf_int(calendar::ALL_DAY_EVENT, u8::from(all_day))?;
        }
        if let Some(r) = x.reminder {
            w.leaf_int(calendar::REMINDER, r)?;
        }
    }
    if v.is_16() {
        w.leaf(airsyncbase::INSTANCE_ID, &key)?;
    }
    if !x.deleted {
        if let Some(m) = x.meeting_status {
            w.leaf_int(calendar::MEETING_STATUS, m.as_u8())?;
        }
        if let Some(a) = &x.attendees {
            write_attendees(w, a)?;
        }
        if let (Some(r), true) = (x.response_type, v >= ProtocolVersion::V14_0) {
            w.leaf_int(calendar::RESPONSE_TYPE, r.as_u8())?;
        }
    }
    w.end()?;
    Ok(())
}

fn read_attendees(e: &Element<'_>) -> Result<Vec<Attendee>, Error> {
    let mut out = Vec::new();
    for a in e.children_with(calendar::ATTENDEE) {
        de::cap("attendees", out.len() + 1, MAX_ATTENDEES)?;
        out.push(Attendee {
            email: de::opt_text(a, calendar::EMAIL)?.unwrap_or("").to_owned(),
            name: de::opt_text(a, calendar::NAME_TAG)?
                .unwrap_or("")
                .to_owned(),
            status: coded(a, calendar::ATTENDEE_STATUS, AttendeeStatus::from_u8)?,
            kind: coded(a, calendar::ATTENDEE_TYPE, AttendeeType::from_u8)?,
        });
    }
    Ok(out)
}

fn read_categories(e: &Element<'_>) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for c in e.children_with(calendar::CATEGORY) {
        de::cap("categories", out.len() + 1, MAX_CATEGORIES)?;
        out.push(de::text_of(c)?.to_owned());
    }
    Ok(out)
}

/// Calendar:Location, or AirSyncBase:Location's DisplayName (16.x).
fn read_location(e: &Element<'_>) -> Result<Option<String>, Error> {
    if let Some(l) = e.child(airsyncbase::LOCATION) {
        return Ok(Some(
            de::opt_text(l, airsyncbase::DISPLAY_NAME)?
                .unwrap_or("")
                .to_owned(),
        ));
    }
    Ok(de::opt_text(e, calendar::LOCATION)?.map(str::to_owned))
}

fn req_time(e: &Element<'_>, tag: Tag) -> Result<Timestamp, Error> {
    opt_time(e, tag)?.ok_or(Error::Missing {
        parent: e.tag,
        child: tag,
    })
}

/// Reads the time of an event or exception. `default_start` and `length` stand in for
/// what an exception leaves out.
fn read_time(
    e: &Element<'_>,
    all_day: bool,
    days: Days<'_>,
    default_start: Option<Timestamp>,
    length: (SignedDuration, i32),
) -> Result<EventTime, Error> {
    let sent = match default_start {
        Some(_) => opt_time(e, calendar::START_TIME)?,
        None => Some(req_time(e, calendar::START_TIME)?),
    };
    let start = sent.or(default_start).unwrap_or(Timestamp::UNIX_EPOCH);
    let end = opt_time(e, calendar::END_TIME)?;
    Ok(if all_day {
        let s = match sent {
            Some(t) => days.read(t, calendar::START_TIME)?,
            None => days.day_of(start),
        };
        let e = match end {
            Some(t) => days.read(t, calendar::END_TIME)?,
            None => s.checked_add(length.1.days()).unwrap_or(s),
        };
        let e = if e > s { e } else { s.tomorrow().unwrap_or(s) };
        EventTime::AllDay { start: s, end: e }
    } else {
        let end = end
            .or_else(|| start.checked_add(length.0).ok())
            .unwrap_or(start);
        EventTime::Timed {
            start,
            end: end.max(start),
        }
    })
}

fn read_exception(
    x: &Element<'_>,
    series: &EventTime,
    days: Days<'_>,
    v: ProtocolVersion,
) -> Result<Exception, Error> {
    let key_text = de::opt_text(x, airsyncbase::INSTANCE_ID)?
        .or(de::opt_text(x, calendar::EXCEPTION_START_TIME)?)
        .ok_or(Error::Missing {
            parent: calendar::EXCEPTION,
            child: if v.is_16() {
                airsyncbase::INSTANCE_ID
            } else {
                calendar::EXCEPTION_START_TIME
            },
        })?;
    let bad_key = Error::BadValue {
        tag: calendar::EXCEPTION_START_TIME,
        why: "not an EAS date-time",
    };
    let key = datetime::parse(key_text).ok_or(bad_key)?;
    let original_start = if series.is_all_day() {
        days.midnight(days.read(key, calendar::EXCEPTION_START_TIME)?)?
    } else {
        key
    };
    let mut ex = Exception::new(original_start);
    ex.deleted = match de::opt_text(x, calendar::DELETED)?.map(str::trim) {
        None | Some("0") => false,
        // An empty <Deleted/> is read as a deletion: no client sends it for anything else.
        Some("1") | Some("") => true,
        Some(_) => {
            return Err(Error::BadValue {
                tag: calendar::DELETED,
                why: "expected 0 or 1",
            });
        }
    };
    ex.subject = de::opt_text(x, calendar::SUBJECT)?.map(str::to_owned);
    ex.location = read_location(x)?;
    ex.notes = x.child(airsyncbase::BODY).map(body::decode).transpose()?;
    let flag = de::opt_bool(x, calendar::ALL_DAY_EVENT)?;
    if flag.is_some()
        || x.child(calendar::START_TIME).is_some()
        || x.child(calendar::END_TIME).is_some()
    {
        let all_day = flag.unwrap_or(series.is_all_day());
        let length = match *series {
            EventTime::Timed { start, end } => (end.duration_since(start), 1),
            EventTime::AllDay { start, end } => (
                SignedDuration::from_hours(24),
                start.until(end).map_or(1, |s| s.get_days().max(1)),
            ),
        };
        let d = Days {
            floating: v.is_16() && all_day,
            ..days
        };
        ex.time = Some(read_time(x, all_day, d, Some(original_start), length)?);
    }
    ex.reminder = opt_num(x, calendar::REMINDER)?;
    ex.busy_status = coded(x, calendar::BUSY_STATUS, BusyStatus::from_u8)?;
    ex.sensitivity = opt_num::<u8>(x, calendar::SENSITIVITY)?
        .map(|s| sensitivity_from(s, calendar::SENSITIVITY))
        .transpose()?;
    ex.categories = x
        .child(calendar::CATEGORIES)
        .map(read_categories)
        .transpose()?;
    ex.meeting_status = coded(x, calendar::MEETING_STATUS, MeetingStatus::from_u8)?;
    ex.attendees = x
        .child(calendar::ATTENDEES)
        .map(read_attendees)
        .transpose()?;
    ex.response_type = coded(x, calendar::RESPONSE_TYPE, ResponseType::from_u8)?;
    Ok(ex)
}

/// Elements this module reads; everything else is kept in `unknown`.
const KNOWN: &[Tag] = &[
    calendar::TIMEZONE,
    calendar::ALL_DAY_EVENT,
    calendar::BUSY_STATUS,
    calendar::ORGANIZER_NAME,
    calendar::ORGANIZER_EMAIL,
    calendar::DT_STAMP,
    calendar::END_TIME,
    calendar::LOCATION,
    calendar::REMINDER,
    calendar::SENSITIVITY,
    calendar::SUBJECT,
    calendar::START_TIME,
    calendar::UID,
    calendar::MEETING_STATUS,
    calendar::ATTENDEES,
    calendar::CATEGORIES,
    calendar::RECURRENCE,
    calendar::EXCEPTIONS,
    calendar::RESPONSE_REQUESTED,
    calendar::RESPONSE_TYPE,
    calendar::DISALLOW_NEW_TIME_PROPOSAL,
    calendar::CLIENT_UID,
    airsyncbase::BODY,
    airsyncbase::LOCATION,
];

/// Reads the children of an `ApplicationData` of a calendar folder.
pub fn decode(
    e: &Element<'_>,
    ctx: &Context<'_>,
    unknown: &mut Vec<OwnedElement>,
) -> Result<Event, Error> {
    let v = ctx.version;
    for c in e.elements().filter(|c| !KNOWN.contains(&c.tag)) {
        de::cap(
            "unknown elements",
            unknown.len() + 1,
            caps::MAX_UNKNOWN_ELEMENTS,
        )?;
        unknown.push(c.to_owned_element());
    }
    let all_day = de::opt_bool(e, calendar::ALL_DAY_EVENT)?.unwrap_or(false);
    // The blob describes one year's rules: name the zone after the year of the start.
    let tz_info = match de::opt_text(e, calendar::TIMEZONE)?.map(str::trim) {
        None | Some("") => None,
        Some(b) => Some(TimeZoneInfo::from_base64(b)?),
    };
    let year = req_time(e, calendar::START_TIME)
        .map(|t| TimeZone::UTC.to_datetime(t).year())
        .unwrap_or(2000);
    let time_zone = match tz_info {
        None => TimeZone::UTC,
        Some(info) => info
            .guess_iana(year)
            .and_then(|n| TimeZone::get(n).ok())
            .unwrap_or_else(|| info.to_zone()),
    };
    let days = Days {
        floating: v.is_16() && all_day,
        zone: &time_zone,
    };
    let time = read_time(e, all_day, days, None, (SignedDuration::ZERO, 1))?;

    let mut ev = Event {
        subject: de::opt_text(e, calendar::SUBJECT)?.unwrap_or("").to_owned(),
        location: read_location(e)?.unwrap_or_default(),
        notes: e
            .child(airsyncbase::BODY)
            .map(body::decode)
            .transpose()?
            .unwrap_or_default(),
        time,
        reminder: opt_num(e, calendar::REMINDER)?,
        busy_status: coded(e, calendar::BUSY_STATUS, BusyStatus::from_u8)?.unwrap_or_default(),
        sensitivity: opt_num::<u8>(e, calendar::SENSITIVITY)?
            .map(|s| sensitivity_from(s, calendar::SENSITIVITY))
            .transpose()?
            .unwrap_or_default(),
        categories: e
            .child(calendar::CATEGORIES)
            .map(read_categories)
            .transpose()?
            .unwrap_or_default(),
        attendees: e
            .child(calendar::ATTENDEES)
            .map(read_attendees)
            .transpose()?
            .unwrap_or_default(),
        meeting_status: coded(e, calendar::MEETING_STATUS, MeetingStatus::from_u8)?
            .unwrap_or_default(),
        response_requested: de::opt_bool(e, calendar::RESPONSE_REQUESTED)?,
        response_type: coded(e, calendar::RESPONSE_TYPE, ResponseType::from_u8)?,
        disallow_new_time_proposal: de::opt_bool(e, calendar::DISALLOW_NEW_TIME_PROPOSAL)?
            .unwrap_or(false),
        client_uid: if v >= ProtocolVersion::V16_0 {
            de::opt_text(e, calendar::CLIENT_UID)?.map(str::to_owned)
        } else {
            None
        },
        time_zone: time_zone.clone(),
        ..Event::default()
    };
    // 16.x clients must not send these; the server owns them (MS-ASCAL 2.2.2.46 UID).
    if !v.is_16() {
        ev.uid = de::opt_text(e, calendar::UID)?.map(str::to_owned);
        ev.organizer_name = de::opt_text(e, calendar::ORGANIZER_NAME)?.map(str::to_owned);
        ev.organizer_email = de::opt_text(e, calendar::ORGANIZER_EMAIL)?.map(str::to_owned);
        ev.dt_stamp = opt_time(e, calendar::DT_STAMP)?;
    }
    if let Some(r) = e.child(calendar::RECURRENCE) {
        let (mut r, _) = recurrence::decode(r, Flavor::Calendar, ctx)?;
        if let (true, RecurrenceEnd::Until(u)) = (days.floating, r.end) {
            r.end = RecurrenceEnd::Until(days.midnight(days.read(u, calendar::UNTIL)?)?);
        }
        ev.recurrence = Some(r);
    }
    if let Some(xs) = e.child(calendar::EXCEPTIONS) {
        for x in xs.children_with(calendar::EXCEPTION) {
            let ex = read_exception(x, &ev.time, days, v)?;
            // One exception per occurrence: a repeated key replaces the earlier one.
            if let Some(i) = ev
                .exceptions
                .iter()
                .position(|o| o.original_start == ex.original_start)
            {
                ev.exceptions.remove(i);
            }
            de::cap("exceptions", ev.exceptions.len() + 1, MAX_EXCEPTIONS)?;
            ev.exceptions.push(ex);
        }
    }
    Ok(ev)
}
