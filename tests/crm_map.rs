//! The vtenext connector's sans-io layer against the replies recorded on a real vtenext
//! (`../shared/fixtures/vtenext-replies/`, CRM-API.md): every reply goes through the envelope
//! parser, and the recorded contacts, events and tasks map to model items with the right
//! values in the right zones (server Europe/Rome, user mrossi America/New_York, dd-mm-yyyy).

use easbox::crm::map::{self, Ctx, DateFormat, Zones};
use easbox::crm::wire::{self, ApiCode, CrmError, Record, Source};
use easbox::model::event::EventTime;
use easbox::model::task::Importance;
use easbox::model::{Contact, Event, Frequency, RecurrenceEnd, Task};
use jiff::Timestamp;
use jiff::civil::date;
use jiff::tz::TimeZone;
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/vtenext-replies")
}

fn reply(name: &str) -> Result<Value, CrmError> {
    let body = std::fs::read(dir().join(name)).unwrap();
    wire::parse_envelope(200, &body)
}

fn ok(name: &str) -> Value {
    reply(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn zones() -> Zones {
    Zones {
        server: TimeZone::get("Europe/Rome").unwrap(),
        user: TimeZone::get("America/New_York").unwrap(),
    }
}

fn ctx(source: Source) -> Ctx {
    Ctx {
        zones: zones(),
        date_format: DateFormat::DMY,
        source,
    }
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn by_id<'a>(rs: &'a [Record], id: &str) -> &'a Record {
    rs.iter()
        .find(|r| wire::field(r, "id") == Some(id))
        .unwrap_or_else(|| panic!("no {id}"))
}

/// Every recorded reply: a success, or the error code the real server sent.
#[test]
fn every_fixture_parses() {
    let errors: &[(&str, ApiCode)] = &[
        ("after_logout.json", ApiCode::InvalidSessionId),
        ("badlogin.json", ApiCode::InvalidUserCredentials),
        ("badsession.json", ApiCode::InvalidSessionId),
        ("create_bad_json.json", ApiCode::MandatoryFieldsMissing),
        (
            "create_contact_noowner.json",
            ApiCode::MandatoryFieldsMissing,
        ),
        (
            "create_missing_mandatory.json",
            ApiCode::MandatoryFieldsMissing,
        ),
        ("create_via_get.json", ApiCode::AccessDenied),
        ("extendsession.json", ApiCode::AuthenticationFailure),
        ("login_locked.json", ApiCode::LoginLocked),
        ("noauth.json", ApiCode::AuthenticationRequired),
        ("query_badfield.json", ApiCode::AccessDenied),
        ("query_badmodule.json", ApiCode::AccessDenied),
        ("query_nosemicolon.json", ApiCode::QuerySyntaxError),
        ("query_syntax.json", ApiCode::QuerySyntaxError),
        ("retrieve_bad.json", ApiCode::AccessDenied),
        ("retrieve_badformat.json", ApiCode::AccessDenied),
        ("retrieve_deleted.json", ApiCode::AccessDenied),
        ("retrieve_task.json", ApiCode::InvalidIdAttribute),
        ("sync_app_m.json", ApiCode::AccessDenied),
        (
            "update_contact_partial.json",
            ApiCode::MandatoryFieldsMissing,
        ),
        ("update_missing_id.json", ApiCode::AccessDenied),
    ];
    // Not webservice.php envelopes: the REST API's replies and the recorder's own notes.
    let not_envelopes = [
        "ids.json",
        "ids2.json",
        "rest_badauth.json",
        "rest_loginpwd.json",
        "rest_query.json",
        "rest_retrieve.json",
    ];
    let mut seen = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".json") {
            continue;
        }
        seen += 1;
        let got = reply(&name);
        if let Some((_, code)) = errors.iter().find(|(n, _)| *n == name) {
            match got {
                Err(CrmError::Api { code: c, message }) => {
                    assert_eq!(&c, code, "{name}");
                    assert!(!message.is_empty(), "{name}");
                }
                other => panic!("{name}: {other:?}"),
            }
        } else if not_envelopes.contains(&name.as_str()) {
            assert!(matches!(got, Err(CrmError::BadJson(_))), "{name}: {got:?}");
        } else {
            let v = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            // Each success also goes through the typed parser of its operation.
            let typed: Result<(), CrmError> = match name.as_str() {
                n if n.starts_with("getchallenge") => wire::parse_challenge(v).map(drop),
                n if n.starts_with("login") => wire::parse_login(v).map(drop),
                "ws_login_pwd.json" => wire::parse_login_pwd(v).map(drop),
                "logout.json" => wire::parse_logout(v),
                "listtypes.json" => wire::parse_listtypes(v).map(drop),
                n if n.starts_with("describe_") => wire::parse_describe(v).map(drop),
                n if n.starts_with("delete_") => wire::parse_delete(v).map(drop),
                n if n.starts_with("query_") => wire::parse_query(v).map(drop),
                n if n.starts_with("sync_") => wire::parse_sync(v).map(drop),
                n if n.starts_with("vtesync_") => wire::parse_get_changes(v).map(drop),
                _ => wire::parse_record(v).map(drop),
            };
            typed.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    assert!(seen >= 80, "only {seen} fixtures");
}

#[test]
fn typed_replies() {
    let l = wire::parse_login(ok("login_mrossi.json")).unwrap();
    assert_eq!(l.session, "6e94fb916b06d3fde6a22");
    assert_eq!(l.user_id, "19x4");
    assert_eq!(l.timezone_offset, -21600);
    let c = wire::parse_challenge(ok("getchallenge.json")).unwrap();
    assert_eq!(c.token, "6b06d4ab99c71");
    assert_eq!(c.expire_time - c.server_time, 300);
    assert_eq!(
        wire::parse_login_pwd(ok("ws_login_pwd.json")).unwrap(),
        "PVW7C7EyRVrVJjec"
    );
    let d = wire::parse_describe(ok("describe_Contacts.json")).unwrap();
    assert_eq!(d.id_prefix, "4");
    assert_eq!(d.date_format(), Some("dd-mm-yyyy"));
    assert_eq!(DateFormat::parse("dd-mm-yyyy"), Some(DateFormat::DMY));
    assert!(d.field("lastname").unwrap().mandatory);
    assert_eq!(
        wire::parse_describe(ok("describe_Events.json"))
            .unwrap()
            .id_prefix,
        "18"
    );
    let ev = wire::parse_describe(ok("describe_Events.json")).unwrap();
    assert!(
        ev.field("recurringtype")
            .unwrap()
            .picklist
            .contains(&"Daily".to_owned())
    );
    assert!(
        wire::parse_listtypes(ok("listtypes.json"))
            .unwrap()
            .contains(&"Contacts".to_owned())
    );
    assert_eq!(wire::parse_count(ok("query_count.json")).unwrap(), 2);
    assert_eq!(
        wire::parse_delete(ok("delete_contact.json")).unwrap(),
        wire::Deleted::Now
    );
    assert_eq!(
        wire::parse_delete(ok("delete_again.json")).unwrap(),
        wire::Deleted::Already
    );

    let s = wire::parse_sync(ok("sync_after_delete.json")).unwrap();
    assert_eq!(s.deleted[0].id, "4x26");
    assert_eq!(s.cursor, Some(1795609682));
    assert!(!s.more);
    let g = wire::parse_get_changes(ok("vtesync_after_delete.json")).unwrap();
    assert_eq!(g.deleted[0].id, "4x26");
    assert_eq!(
        g.deleted[0].modified_time.as_deref(),
        Some("2026-11-25 13:28:02")
    );
    assert_eq!(g.server_tz.as_deref(), Some("Europe/Rome"));
    assert_eq!(g.user_tz.as_deref(), Some("America/New_York"));
    let g = wire::parse_get_changes(ok("vtesync_getchanges_m.json")).unwrap();
    assert_eq!(g.created.len(), 4);
    assert_eq!(g.source, Source::GetChanges);
}

#[test]
fn contact_from_every_source() {
    let want_birthday = Some(date(1980, 5, 17));
    let rec = wire::parse_record(ok("retrieve_contact.json")).unwrap();
    let c = map::contact_from_record(&rec, &ctx(Source::Record), Some("ACME")).unwrap();
    assert_eq!(c.first_name.as_deref(), Some("Lucia"));
    assert_eq!(c.last_name.as_deref(), Some("Bianchi"));
    assert_eq!(c.email[0].as_deref(), Some("lucia@example.test"));
    assert_eq!(c.mobile_phone.as_deref(), Some("+39 333 1234567"));
    assert_eq!(c.business_phone.as_deref(), Some("02 1234"));
    assert_eq!(c.home_phone.as_deref(), Some("06 5555"));
    assert_eq!(c.business_fax.as_deref(), Some("02 9999"));
    assert_eq!(c.job_title.as_deref(), Some("CTO"));
    assert_eq!(c.department.as_deref(), Some("IT"));
    assert_eq!(c.company_name.as_deref(), Some("ACME"));
    assert_eq!(
        c.business_address.street.as_deref(),
        Some("Via Roma 1\nScala B")
    );
    assert_eq!(c.business_address.postal_code.as_deref(), Some("20100"));
    assert_eq!(c.business_address.country.as_deref(), Some("Italia"));
    assert!(c.other_address.is_unset());
    assert_eq!(c.birthday, want_birthday);
    assert_eq!(
        c.notes.as_deref(),
        Some("Line1\nLine2 \"quoted\" back\\slash àèìòù €")
    );
    assert_eq!(c.title, None);

    // The same contact from get_changes (Y-m-d) and from query (dd-mm-yyyy).
    let g = wire::parse_get_changes(ok("vtesync_getchanges_contacts_m.json")).unwrap();
    let cg =
        map::contact_from_record(&g.created[0], &ctx(Source::GetChanges), Some("ACME")).unwrap();
    assert_eq!(cg, c);
    let q = wire::parse_query(ok("query_contacts_star.json")).unwrap();
    let cq =
        map::contact_from_record(by_id(&q, "4x20"), &ctx(Source::Query), Some("ACME")).unwrap();
    assert_eq!(cq, c);

    // modifiedtime: 07:26:38 New York in the record reply, 13:26:38 Rome in get_changes.
    let m1 = map::modified_time(&rec, &ctx(Source::Record)).unwrap();
    let m2 = map::modified_time(&g.created[0], &ctx(Source::GetChanges)).unwrap();
    assert_eq!(m1, Some(ts("2026-11-25T12:26:38Z")));
    assert_eq!(m1, m2);

    // The user's format decides dd-mm against mm-dd.
    assert_eq!(
        map::parse_date("05-06-2026", DateFormat::DMY).unwrap(),
        Some(date(2026, 6, 5))
    );
    assert_eq!(
        map::parse_date("05-06-2026", DateFormat::MDY).unwrap(),
        Some(date(2026, 5, 6))
    );
    assert_eq!(
        map::parse_date("2026-06-05", DateFormat::MDY).unwrap(),
        Some(date(2026, 6, 5))
    );
    assert!(map::parse_date("31-02-2026", DateFormat::DMY).is_err());
    assert!(map::parse_date("17-05", DateFormat::DMY).is_err());
    assert_eq!(map::parse_date("", DateFormat::DMY).unwrap(), None);
}

#[test]
fn event_times_by_source() {
    let nine_thirty = ts("2026-12-01T14:30:00Z"); // 09:30 New York in winter
    let want = EventTime::Timed {
        start: nine_thirty,
        end: ts("2026-12-01T15:45:00Z"),
    };
    let rec = wire::parse_record(ok("retrieve_event.json")).unwrap();
    let e = map::event_from_record(&rec, &ctx(Source::Record)).unwrap();
    assert_eq!(e.time, want);
    assert_eq!(e.subject, "Riunione");
    assert_eq!(e.location, "Sala 1");
    assert_eq!(e.notes, "agenda");
    assert_eq!(e.reminder, Some(1));
    assert_eq!(
        e.uid.as_deref(),
        Some("20358679-6d76-450e-86e4-42bae54dec62")
    );
    assert_eq!(e.time_zone, zones().user);
    assert_eq!(e.recurrence, None);
    assert_eq!(e.dt_stamp, Some(ts("2026-11-25T12:26:38Z")));

    // query and sync give 15:30 Rome for the same event; get_changes 09:30 New York.
    let q = wire::parse_query(ok("query_events_m.json")).unwrap();
    let eq = map::event_from_record(by_id(&q, "18x22"), &ctx(Source::Query)).unwrap();
    assert_eq!(eq.time, want);
    let s = wire::parse_sync(ok("sync_events_m.json")).unwrap();
    let es = map::event_from_record(by_id(&s.updated, "18x22"), &ctx(Source::Sync)).unwrap();
    assert_eq!(es.time, want);
    assert_eq!(es.dt_stamp, e.dt_stamp);
    let g = wire::parse_get_changes(ok("vtesync_getchanges_m.json")).unwrap();
    let eg = map::event_from_record(by_id(&g.created, "18x22"), &ctx(Source::GetChanges)).unwrap();
    assert_eq!(eg, e);

    // An event moved to 10:00–11:00 New York (revise reply, and sync's 16:00 Rome).
    let r = map::event_from_record(
        &wire::parse_record(ok("revise_event.json")).unwrap(),
        &ctx(Source::Record),
    )
    .unwrap();
    assert_eq!(r.location, "Sala 2");
    let su = wire::parse_sync(ok("sync_after_update.json")).unwrap();
    let rs = map::event_from_record(&su.updated[0], &ctx(Source::Sync)).unwrap();
    assert_eq!(r.time, rs.time);
    assert_eq!(
        r.time,
        EventTime::Timed {
            start: ts("2026-12-01T15:00:00Z"),
            end: ts("2026-12-01T16:00:00Z")
        }
    );
}

#[test]
fn all_day_events_stay_on_their_day() {
    let want = EventTime::AllDay {
        start: date(2026, 12, 24),
        end: date(2026, 12, 25),
    };
    let rec = wire::parse_record(ok("create_event_allday.json")).unwrap();
    assert_eq!(
        map::event_from_record(&rec, &ctx(Source::Record))
            .unwrap()
            .time,
        want
    );
    // Stored shifted in Rome: 24-12 06:00 → 25-12 05:59.
    let q = wire::parse_query(ok("query_events_m.json")).unwrap();
    assert_eq!(
        map::event_from_record(by_id(&q, "18x23"), &ctx(Source::Query))
            .unwrap()
            .time,
        want
    );
    let g = wire::parse_get_changes(ok("vtesync_getchanges_m.json")).unwrap();
    assert_eq!(
        map::event_from_record(by_id(&g.created, "18x23"), &ctx(Source::GetChanges))
            .unwrap()
            .time,
        want
    );
    // A user in the server's zone reads the same record the same way.
    let same = Ctx {
        zones: Zones {
            server: TimeZone::get("Europe/Rome").unwrap(),
            user: TimeZone::get("Europe/Rome").unwrap(),
        },
        date_format: DateFormat::DMY,
        source: Source::Record,
    };
    assert_eq!(map::event_from_record(&rec, &same).unwrap().time, want);
}

#[test]
fn recurring_event() {
    let rec = wire::parse_record(ok("create_event_recurring.json")).unwrap();
    let e = map::event_from_record(&rec, &ctx(Source::Record)).unwrap();
    assert_eq!(
        e.time,
        EventTime::Timed {
            start: ts("2026-12-01T13:00:00Z"),
            end: ts("2026-12-01T13:15:00Z")
        }
    );
    let rule = e.recurrence.clone().unwrap();
    assert_eq!(rule.frequency, Frequency::Daily);
    assert_eq!(rule.interval, 1);
    assert_eq!(rule.end, RecurrenceEnd::Until(ts("2026-12-05T13:00:00Z")));
    // The same series from query (14:00 Rome).
    let q = wire::parse_query(ok("query_events_m.json")).unwrap();
    let eq = map::event_from_record(by_id(&q, "18x24"), &ctx(Source::Query)).unwrap();
    assert_eq!(eq.time, e.time);
    assert_eq!(eq.recurrence, e.recurrence);
    assert_eq!(
        e.uid.as_deref(),
        Some("08dd3fb9-8b8e-4409-b890-04755eaf7b7f")
    );

    // The third occurrence of a series the web UI expanded (§4): one event on its own day,
    // with a UID of its own, though it still says Daily.
    let mut occ = rec.clone();
    occ.insert("recurr_idx".into(), Value::String("3".into()));
    occ.insert("date_start".into(), Value::String("03-12-2026".into()));
    occ.insert("due_date".into(), Value::String("03-12-2026".into()));
    occ.insert("id".into(), Value::String("18x40".into()));
    let o = map::event_from_record(&occ, &ctx(Source::Record)).unwrap();
    assert_eq!(o.recurrence, None);
    assert_eq!(
        o.time,
        EventTime::Timed {
            start: ts("2026-12-03T13:00:00Z"),
            end: ts("2026-12-03T13:15:00Z")
        }
    );
    assert_eq!(
        o.uid.as_deref(),
        Some("08dd3fb9-8b8e-4409-b890-04755eaf7b7f-3")
    );
}

#[test]
fn tasks() {
    let rec = wire::parse_record(ok("retrieve_task_typed.json")).unwrap();
    assert!(map::is_task(&rec));
    let t = map::task_from_record(&rec, &ctx(Source::Record)).unwrap();
    assert_eq!(t.subject.as_deref(), Some("Task with type"));
    let start = t.start.unwrap();
    // 14:00 New York, stored as 20:00 Rome.
    assert_eq!(start.utc, ts("2026-12-02T19:00:00Z"));
    assert_eq!(start.local, date(2026, 12, 2).at(14, 0, 0, 0));
    let due = t.due.unwrap();
    assert_eq!(due.local, date(2026, 12, 3).at(0, 0, 0, 0));
    assert!(!t.complete);
    let q = wire::parse_query(ok("query_calendar_after.json")).unwrap();
    let tq = map::task_from_record(&q[0], &ctx(Source::Query)).unwrap();
    assert_eq!(tq.start, t.start);
    // A completed task carries a completion time (EAS requires one with Complete 1): the
    // record's last change.
    let mut done = rec.clone();
    done.insert("taskstatus".into(), Value::String("Completed".into()));
    let td = map::task_from_record(&done, &ctx(Source::Record)).unwrap();
    assert!(td.complete);
    assert_eq!(
        td.date_completed,
        map::modified_time(&done, &ctx(Source::Record)).unwrap()
    );
    assert!(td.date_completed.is_some());
    // A task created without activitytype is an event to the CRM.
    let untyped = wire::parse_record(ok("create_task.json")).unwrap();
    assert!(!map::is_task(&untyped));
    let typed = wire::parse_record(ok("create_task_typed.json")).unwrap();
    assert!(map::is_task(&typed));
}

/// What the CRM gives back for written fields: dates in the user's format, reminders read in
/// minutes although written in seconds (CRM-API §4).
fn as_crm_record(o: &map::Outgoing, id: &str) -> Record {
    let mut r = o.fields.clone();
    for k in ["birthday", "date_start", "due_date"] {
        if let Some(Value::String(s)) = r.get_mut(k)
            && let Ok(Some(d)) = map::parse_date(s, DateFormat::YMD)
        {
            *s = d.strftime("%d-%m-%Y").to_string();
        }
    }
    if let Some(Value::String(s)) = r.get_mut("reminder_time")
        && let Ok(secs) = s.parse::<u64>()
    {
        *s = (secs / 60).to_string();
    }
    r.insert("id".into(), Value::String(id.into()));
    r
}

#[test]
fn contact_round_trip_and_revise() {
    let mut c = Contact {
        title: Some("Dr.".into()),
        first_name: Some("Anna".into()),
        last_name: Some("Verdi".into()),
        job_title: Some("CFO".into()),
        department: Some("Finance".into()),
        email: [Some("anna@example.test".into()), None, None],
        business_phone: Some("02 1".into()),
        mobile_phone: Some("333".into()),
        home_phone: Some("06".into()),
        business_fax: Some("02 2".into()),
        business2_phone: Some("02 3".into()),
        birthday: Some(date(1975, 12, 31)),
        notes: Some("n€".into()),
        company_name: Some("ACME".into()),
        ..Contact::default()
    };
    c.business_address.street = Some("Via X 1".into());
    c.other_address.city = Some("Roma".into());
    let out = map::contact_fields(&c);
    assert!(out.unmapped.is_empty(), "{:?}", out.unmapped);
    assert_eq!(out.account_name.as_deref(), Some("ACME"));
    assert_eq!(out.fields["birthday"], "1975-12-31");
    let create = map::for_create(&out, "19x4");
    assert_eq!(create.fields["assigned_user_id"], "19x4");
    assert!(!create.fields.contains_key("mailingcity"));
    let back = map::contact_from_record(
        &as_crm_record(&out, "4x30"),
        &ctx(Source::Record),
        Some("ACME"),
    )
    .unwrap();
    assert_eq!(back, c);

    let mut changed = c.clone();
    changed.department = Some("IT".into());
    changed.birthday = Some(date(1975, 12, 30));
    changed.nickname = Some("Annie".into());
    let rev = map::revise("4x30", &out, &map::contact_fields(&changed));
    let mut keys: Vec<&str> = rev.fields.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["birthday", "department", "id"]);
    assert_eq!(rev.unmapped, ["nickname"]);
    assert_eq!(rev.account_name, None);
    assert!(map::revise("4x30", &out, &out).fields.is_empty());
}

#[test]
fn event_round_trips() {
    let ny = zones().user;
    let mut timed = Event::timed(
        "Riunione",
        ts("2026-12-01T14:30:00Z"),
        ts("2026-12-01T15:45:00Z"),
        ny.clone(),
    );
    timed.location = "Sala 1".into();
    timed.notes = "agenda".into();
    timed.reminder = Some(15);
    let out = map::event_fields(&timed, &ny).unwrap();
    assert_eq!(out.fields["time_start"], "09:30");
    assert_eq!(out.fields["date_start"], "2026-12-01");
    assert_eq!(out.fields["duration_hours"], "1");
    assert_eq!(out.fields["duration_minutes"], "15");
    assert_eq!(out.fields["reminder_time"], "900");
    assert!(out.unmapped.is_empty(), "{:?}", out.unmapped);
    let back = map::event_from_record(&as_crm_record(&out, "18x40"), &ctx(Source::Record)).unwrap();
    assert_eq!(back, timed);

    let all_day = Event::all_day("Ferie", date(2026, 12, 24), date(2026, 12, 25), ny.clone());
    let out = map::event_fields(&all_day, &ny).unwrap();
    assert_eq!(out.fields["is_all_day_event"], "1");
    assert_eq!(out.fields["due_date"], "2026-12-24");
    assert_eq!(out.fields["time_end"], "23:59");
    let back = map::event_from_record(&as_crm_record(&out, "18x41"), &ctx(Source::Record)).unwrap();
    assert_eq!(back.time, all_day.time);

    let rec = wire::parse_record(ok("create_event_recurring.json")).unwrap();
    let series = map::event_from_record(&rec, &ctx(Source::Record)).unwrap();
    let out = map::event_fields(&series, &ny).unwrap();
    assert_eq!(out.fields["recurringtype"], "Daily");
    assert_eq!(out.fields["due_date"], "2026-12-05");
    assert_eq!(out.fields["time_end"], "08:15");
    assert!(out.unmapped.is_empty(), "{:?}", out.unmapped);
    let back = map::event_from_record(&as_crm_record(&out, "18x24"), &ctx(Source::Record)).unwrap();
    assert_eq!(back.time, series.time);
    assert_eq!(back.recurrence, series.recurrence);

    // A rule the CRM cannot hold (every 2 days) is reported.
    let mut every2 = series.clone();
    if let Some(r) = every2.recurrence.as_mut() {
        r.interval = 2;
    }
    assert!(
        map::event_fields(&every2, &ny)
            .unwrap()
            .unmapped
            .contains(&"recurrence")
    );
    // Moving the event revises only its times.
    let mut moved = timed.clone();
    moved.time = EventTime::Timed {
        start: ts("2026-12-01T15:00:00Z"),
        end: ts("2026-12-01T16:00:00Z"),
    };
    let old = map::event_fields(&timed, &ny).unwrap();
    let rev = map::revise("18x22", &old, &map::event_fields(&moved, &ny).unwrap());
    let mut keys: Vec<&str> = rev.fields.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["duration_minutes", "id", "time_end", "time_start"]);
}

#[test]
fn task_round_trip() {
    let ny = zones().user;
    let rec = wire::parse_record(ok("retrieve_task_typed.json")).unwrap();
    let mut t = map::task_from_record(&rec, &ctx(Source::Record)).unwrap();
    t.importance = Some(Importance::High);
    t.notes = Some("call".into());
    let out = map::task_fields(&t, &ny);
    assert_eq!(out.fields["activitytype"], "Task");
    assert_eq!(out.fields["time_start"], "14:00");
    assert_eq!(out.fields["time_end"], "");
    assert_eq!(out.fields["taskpriority"], "High");
    let back = map::task_from_record(&as_crm_record(&out, "1x158"), &ctx(Source::Record)).unwrap();
    assert_eq!(back, t);
    let done = Task {
        complete: true,
        ..t.clone()
    };
    let rev = map::revise("1x158", &out, &map::task_fields(&done, &ny));
    assert_eq!(rev.fields["taskstatus"], "Completed");
    assert_eq!(rev.fields.len(), 2);
}
