//! vtenext records ⇄ [`crate::model`] items: CRM-API §3 (dates, the user's date format, the
//! three time zones) and §4 (the fields of Contacts, Events and Calendar tasks).
//!
//! Which zone a time is in depends on the operation that returned it (§3): the caller says so
//! with [`Ctx::source`] and gives both zones explicitly in [`Zones`]; nothing here guesses a
//! zone. On input the CRM reads event and task date+time as the **user's** local time, so
//! writes are always in [`Zones::user`]; dates are written `Y-m-d`, which vtenext accepts
//! besides the user's format (§2.5).
//!
//! Writes come as a full field map ([`contact_fields`], [`event_fields`], [`task_fields`]) for
//! `create`, and as the difference of two such maps ([`revise`]) for `revise`, so a revise
//! never sends a field the phone did not change. Each also lists the model fields the CRM
//! cannot hold ([`Outgoing::unmapped`]): the caller keeps those on the box and gives them back
//! to the phone unchanged.

use super::wire::{CrmError, Record, Source, field};
use crate::model::event::{EventTime, MeetingStatus};
use crate::model::task::{Importance, TaskDate};
use crate::model::{
    Contact, Event, Frequency, Recurrence, RecurrenceEnd, Sensitivity, Task, Weekdays,
};
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde_json::Value;

/// The zones of one CRM user (§3): the server's `$default_timezone`, in which the database
/// and the query and sync replies hold times, and the user's, in which create/retrieve and
/// `get_changes` show event times and in which every write is read.
#[derive(Clone, Debug, PartialEq)]
pub struct Zones {
    pub server: TimeZone,
    pub user: TimeZone,
}

/// Order of day, month and year in the user's date format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateOrder {
    Ymd,
    Dmy,
    Mdy,
}

/// The user's date format as `describe` gives it (`dd-mm-yyyy`, `mm-dd-yyyy`, `yyyy-mm-dd`;
/// the separator may also be `.` or `/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateFormat {
    pub order: DateOrder,
}

impl DateFormat {
    pub const YMD: DateFormat = DateFormat {
        order: DateOrder::Ymd,
    };
    pub const DMY: DateFormat = DateFormat {
        order: DateOrder::Dmy,
    };
    pub const MDY: DateFormat = DateFormat {
        order: DateOrder::Mdy,
    };

    /// From the `type.format` of a date field in `describe`.
    pub fn parse(s: &str) -> Option<DateFormat> {
        let lower = s.to_ascii_lowercase();
        let parts: Vec<&str> = lower.split(['-', '.', '/']).collect();
        let order = match parts.as_slice() {
            ["yyyy", "mm", "dd"] => DateOrder::Ymd,
            ["dd", "mm", "yyyy"] => DateOrder::Dmy,
            ["mm", "dd", "yyyy"] => DateOrder::Mdy,
            _ => return None,
        };
        Some(DateFormat { order })
    }
}

/// How to read the records of one reply.
#[derive(Clone, Debug, PartialEq)]
pub struct Ctx {
    pub zones: Zones,
    /// The user's date format (from `describe`).
    pub date_format: DateFormat,
    /// The operation that returned the records.
    pub source: Source,
}

impl Ctx {
    /// The zone of event and task date+time fields in records from `source` (§3 table).
    pub fn event_zone(&self) -> &TimeZone {
        match self.source {
            Source::Record | Source::GetChanges => &self.zones.user,
            Source::Query | Source::Sync => &self.zones.server,
        }
    }

    /// The zone of `createdtime`/`modifiedtime` in records from `source` (§3 table).
    pub fn stamp_zone(&self) -> &TimeZone {
        match self.source {
            Source::Record => &self.zones.user,
            Source::Query | Source::Sync | Source::GetChanges => &self.zones.server,
        }
    }

    /// The format of date fields in records from `source`: `get_changes` sends `Y-m-d`.
    pub fn date_format(&self) -> DateFormat {
        match self.source {
            Source::GetChanges => DateFormat::YMD,
            _ => self.date_format,
        }
    }
}

fn bad(m: impl Into<String>) -> CrmError {
    CrmError::BadRecord(m.into())
}

/// A date field; `""` is `None`. A value with a 4-digit year first is read as `Y-m-d` whatever
/// the format, since that cannot be misread.
pub fn parse_date(s: &str, fmt: DateFormat) -> Result<Option<Date>, CrmError> {
    let s = s.trim();
    if s.is_empty() || s.starts_with("0000-00-00") {
        return Ok(None);
    }
    let parts: Vec<&str> = s.split(['-', '.', '/']).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(bad(format!("not a date: {s:?}")));
    };
    let num = |x: &str| -> Result<i16, CrmError> {
        x.parse::<i16>()
            .map_err(|_| bad(format!("not a date: {s:?}")))
    };
    let (y, m, d) = if a.len() == 4 {
        (num(a)?, num(b)?, num(c)?)
    } else {
        match fmt.order {
            DateOrder::Dmy => (num(c)?, num(b)?, num(a)?),
            DateOrder::Mdy => (num(c)?, num(a)?, num(b)?),
            DateOrder::Ymd => return Err(bad(format!("not a Y-m-d date: {s:?}"))),
        }
    };
    let m = i8::try_from(m).map_err(|_| bad(format!("bad month in {s:?}")))?;
    let d = i8::try_from(d).map_err(|_| bad(format!("bad day in {s:?}")))?;
    Date::new(y, m, d)
        .map(Some)
        .map_err(|_| bad(format!("not a date: {s:?}")))
}

/// A date as written to the CRM: `Y-m-d`, accepted whatever the user's format (§2.5).
pub fn format_date(d: Date) -> String {
    d.strftime("%Y-%m-%d").to_string()
}

/// `HH:MM` (or `HH:MM:SS`); `""` is `None`.
pub fn parse_time(s: &str) -> Result<Option<Time>, CrmError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let mut it = s.split(':');
    let h = it.next().and_then(|x| x.parse::<i8>().ok());
    let m = it.next().and_then(|x| x.parse::<i8>().ok());
    let sec = match it.next() {
        None => Some(0),
        Some(x) => x.parse::<i8>().ok(),
    };
    match (h, m, sec, it.next()) {
        (Some(h), Some(m), Some(sec), None) => Time::new(h, m, sec, 0)
            .map(Some)
            .map_err(|_| bad(format!("not a time: {s:?}"))),
        _ => Err(bad(format!("not a time: {s:?}"))),
    }
}

/// A time as written to the CRM: `HH:MM`.
pub fn format_time(t: Time) -> String {
    t.strftime("%H:%M").to_string()
}

/// The instant of a wall-clock time in `tz`. A time in a DST gap or fold is resolved as
/// RFC 5545 does (jiff's "compatible": later in a gap, earlier in a fold).
pub fn to_instant(dt: DateTime, tz: &TimeZone) -> Result<Timestamp, CrmError> {
    tz.to_ambiguous_zoned_datetime(dt)
        .compatible()
        .map(|z| z.timestamp())
        .map_err(|e| bad(format!("time out of range: {e}")))
}

/// The wall-clock time of an instant in `tz`.
pub fn to_local(t: Timestamp, tz: &TimeZone) -> DateTime {
    tz.to_datetime(t)
}

/// A `Y-m-d H:i:s` datetime (createdtime, modifiedtime) in `tz`; `""` and zero dates are `None`.
pub fn parse_stamp(s: &str, tz: &TimeZone) -> Result<Option<Timestamp>, CrmError> {
    let s = s.trim();
    if s.is_empty() || s.starts_with("0000-00-00") {
        return Ok(None);
    }
    let (d, t) = s.split_once(' ').unwrap_or((s, "00:00:00"));
    let date = parse_date(d, DateFormat::YMD)?.ok_or_else(|| bad("empty stamp date"))?;
    let time = parse_time(t)?.unwrap_or(Time::midnight());
    to_instant(date.to_datetime(time), tz).map(Some)
}

/// The record's `modifiedtime` as an instant, read in the zone its source uses.
pub fn modified_time(r: &Record, ctx: &Ctx) -> Result<Option<Timestamp>, CrmError> {
    parse_stamp(field(r, "modifiedtime").unwrap_or(""), ctx.stamp_zone())
}

fn text(r: &Record, name: &str) -> Option<String> {
    field(r, name).map(str::to_owned)
}

/// A field that must be there (`""` counts as there).
fn req<'a>(r: &'a Record, name: &str) -> Result<&'a str, CrmError> {
    field(r, name).ok_or_else(|| bad(format!("no {name}")))
}

fn date_field(r: &Record, name: &str, ctx: &Ctx) -> Result<Option<Date>, CrmError> {
    parse_date(field(r, name).unwrap_or(""), ctx.date_format())
}

/// What a write sends, and what it cannot.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Outgoing {
    /// Field name → string value, as `create`/`revise` take them.
    pub fields: Record,
    /// Model fields that are set but that the CRM cannot hold; the caller keeps them on the
    /// box. Names are the model's field names.
    pub unmapped: Vec<&'static str>,
    /// Contacts: the company name, which the CRM holds as a reference to an Account; the
    /// caller resolves it to `account_id` (or leaves the reference alone).
    pub account_name: Option<String>,
}

impl Outgoing {
    fn set(&mut self, name: &str, v: impl Into<String>) {
        self.fields.insert(name.to_owned(), Value::String(v.into()));
    }

    fn opt(&mut self, name: &str, v: &Option<String>) {
        self.set(name, v.as_deref().unwrap_or(""));
    }

    fn keep_if(&mut self, set: bool, name: &'static str) {
        if set {
            self.unmapped.push(name);
        }
    }
}

/// The fields of `revise` that turn the CRM record of `old` into `new`: only the fields
/// whose value differs, plus `id`. Both maps come from the same `*_fields` function.
pub fn revise(id: &str, old: &Outgoing, new: &Outgoing) -> Outgoing {
    let mut out = Outgoing {
        unmapped: new.unmapped.clone(),
        account_name: if old.account_name != new.account_name {
            new.account_name.clone()
        } else {
            None
        },
        ..Outgoing::default()
    };
    for (k, v) in &new.fields {
        if old.fields.get(k) != Some(v) {
            out.fields.insert(k.clone(), v.clone());
        }
    }
    if !out.fields.is_empty() {
        out.fields.insert("id".into(), Value::String(id.to_owned()));
    }
    out
}

/// The fields for `create`: the full map without empty values, plus the owner (mandatory,
/// §2.5).
pub fn for_create(full: &Outgoing, assigned_user_id: &str) -> Outgoing {
    let mut out = full.clone();
    out.fields
        .retain(|_, v| v.as_str().is_none_or(|s| !s.is_empty()));
    out.set("assigned_user_id", assigned_user_id);
    out
}

// ---------------------------------------------------------------------------------------------
// Contacts (§4).

fn none_if_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// A Contacts record as a [`Contact`]. The record holds `account_id`; the account's name is
/// resolved by the caller and given as `account_name`.
///
/// `phone` is the business phone, `otherphone` the second business phone, `fax` the business
/// fax; the mailing address is the business address and the other address the other one.
/// Empty CRM fields become `None` so that a phone is not sent empty elements.
pub fn contact_from_record(
    r: &Record,
    ctx: &Ctx,
    account_name: Option<&str>,
) -> Result<Contact, CrmError> {
    let t = |n: &str| none_if_empty(text(r, n));
    let addr = |p: &str| crate::model::contact::Address {
        street: t(&format!("{p}street")),
        city: t(&format!("{p}city")),
        state: t(&format!("{p}state")),
        postal_code: t(&format!("{p}zip")),
        country: t(&format!("{p}country")),
    };
    req(r, "lastname")?;
    Ok(Contact {
        title: t("salutationtype").filter(|s| s != "--None--"),
        first_name: t("firstname"),
        last_name: t("lastname"),
        company_name: account_name.filter(|s| !s.is_empty()).map(str::to_owned),
        department: t("department"),
        job_title: t("title"),
        assistant_name: t("assistant"),
        email: [t("email"), None, None],
        business_phone: t("phone"),
        business2_phone: t("otherphone"),
        home_phone: t("homephone"),
        mobile_phone: t("mobile"),
        business_fax: t("fax"),
        assistant_phone: t("assistantphone"),
        business_address: addr("mailing"),
        other_address: addr("other"),
        birthday: date_field(r, "birthday", ctx)?,
        notes: t("description"),
        ..Contact::default()
    })
}

/// The full field map of a contact (every mapped field; `None` is `""`).
pub fn contact_fields(c: &Contact) -> Outgoing {
    let mut o = Outgoing::default();
    o.opt("salutationtype", &c.title);
    o.opt("firstname", &c.first_name);
    o.opt("lastname", &c.last_name);
    o.opt("department", &c.department);
    o.opt("title", &c.job_title);
    o.opt("assistant", &c.assistant_name);
    o.opt("email", &c.email[0]);
    o.opt("phone", &c.business_phone);
    o.opt("otherphone", &c.business2_phone);
    o.opt("homephone", &c.home_phone);
    o.opt("mobile", &c.mobile_phone);
    o.opt("fax", &c.business_fax);
    o.opt("assistantphone", &c.assistant_phone);
    for (p, a) in [
        ("mailing", &c.business_address),
        ("other", &c.other_address),
    ] {
        o.opt(&format!("{p}street"), &a.street);
        o.opt(&format!("{p}city"), &a.city);
        o.opt(&format!("{p}state"), &a.state);
        o.opt(&format!("{p}zip"), &a.postal_code);
        o.opt(&format!("{p}country"), &a.country);
    }
    o.set("birthday", c.birthday.map(format_date).unwrap_or_default());
    o.opt("description", &c.notes);
    o.account_name = c.company_name.clone();
    o.keep_if(c.middle_name.is_some(), "middle_name");
    o.keep_if(c.suffix.is_some(), "suffix");
    o.keep_if(c.yomi_first_name.is_some(), "yomi_first_name");
    o.keep_if(c.yomi_last_name.is_some(), "yomi_last_name");
    o.keep_if(c.yomi_company_name.is_some(), "yomi_company_name");
    o.keep_if(c.nickname.is_some(), "nickname");
    o.keep_if(c.file_as.is_some(), "file_as");
    o.keep_if(c.office_location.is_some(), "office_location");
    o.keep_if(c.manager_name.is_some(), "manager_name");
    o.keep_if(c.email[1].is_some() || c.email[2].is_some(), "email");
    o.keep_if(c.im_address.iter().any(Option::is_some), "im_address");
    o.keep_if(c.web_page.is_some(), "web_page");
    o.keep_if(c.home2_phone.is_some(), "home2_phone");
    o.keep_if(c.car_phone.is_some(), "car_phone");
    o.keep_if(c.pager.is_some(), "pager");
    o.keep_if(c.radio_phone.is_some(), "radio_phone");
    o.keep_if(c.home_fax.is_some(), "home_fax");
    o.keep_if(c.company_main_phone.is_some(), "company_main_phone");
    o.keep_if(c.mms.is_some(), "mms");
    o.keep_if(!c.home_address.is_unset(), "home_address");
    o.keep_if(c.anniversary.is_some(), "anniversary");
    o.keep_if(c.spouse.is_some(), "spouse");
    o.keep_if(c.children.is_some(), "children");
    o.keep_if(c.categories.is_some(), "categories");
    o.keep_if(c.picture.as_ref().is_some_and(|p| !p.is_empty()), "picture");
    o.keep_if(c.customer_id.is_some(), "customer_id");
    o.keep_if(c.government_id.is_some(), "government_id");
    o.keep_if(c.account_name.is_some(), "account_name");
    o.keep_if(c.alias.is_some(), "alias");
    o.keep_if(c.weighted_rank.is_some(), "weighted_rank");
    o
}

// ---------------------------------------------------------------------------------------------
// Events (§3, §4).

/// The `recurringtype` values the CRM holds (§4): only the frequency.
fn frequency_of(s: &str) -> Option<Frequency> {
    match s {
        "Daily" => Some(Frequency::Daily),
        "Weekly" => Some(Frequency::Weekly),
        "Monthly" => Some(Frequency::Monthly),
        "Yearly" => Some(Frequency::Yearly),
        _ => None,
    }
}

fn frequency_name(f: Frequency) -> &'static str {
    match f {
        Frequency::Daily => "Daily",
        Frequency::Weekly => "Weekly",
        Frequency::Monthly => "Monthly",
        Frequency::Yearly => "Yearly",
    }
}

/// The rule the CRM implies for a series that starts on `start`: every day/week/month/year on
/// the start's weekday/day.
fn implied_rule(f: Frequency, start: Date) -> Recurrence {
    let mut r = Recurrence::new(f);
    match f {
        Frequency::Daily => {}
        Frequency::Weekly => r.weekdays = Weekdays::EMPTY.with(start.weekday()),
        Frequency::Monthly => r.month_day = u8::try_from(start.day()).ok(),
        Frequency::Yearly => {
            r.month_day = u8::try_from(start.day()).ok();
            r.month = u8::try_from(start.month()).ok();
        }
    }
    r
}

fn at(d: Date, t: Option<Time>) -> DateTime {
    d.to_datetime(t.unwrap_or(Time::midnight()))
}

fn add_days(d: Date, n: i64) -> Result<Date, CrmError> {
    d.checked_add(Span::new().days(n))
        .map_err(|_| bad("date out of range"))
}

/// An Events record as an [`Event`] shown in the user's zone.
///
/// Timed events: start = `date_start time_start`, end = `due_date time_end`, both in the
/// zone of the record's source. All-day events (`is_all_day_event` = 1) are stored shifted to
/// the server's zone (§3: 24-12 00:00–23:59 in New York is 24-12 06:00 → 25-12 05:59 in Rome);
/// their days are taken after converting back to the user's zone, so they stay on their day.
/// A recurring record (`recurringtype` set) holds the series' first and last day in
/// `date_start`/`due_date` and each occurrence's times in `time_start`/`time_end`.
pub fn event_from_record(r: &Record, ctx: &Ctx) -> Result<Event, CrmError> {
    let src = ctx.event_zone();
    let user = &ctx.zones.user;
    let d0 = date_field(r, "date_start", ctx)?.ok_or_else(|| bad("no date_start"))?;
    let d1 = date_field(r, "due_date", ctx)?.unwrap_or(d0);
    let t0 = parse_time(field(r, "time_start").unwrap_or(""))?;
    let t1 = parse_time(field(r, "time_end").unwrap_or(""))?;
    let start = to_instant(at(d0, t0), src)?;
    let end = to_instant(at(d1, t1), src)?;
    // A series the web UI expanded is one record per occurrence sharing `ical_uuid`, with
    // `recurr_idx` 1..n (§4): each is a single event, whatever `recurringtype` it carries,
    // or a phone would show n overlapping series.
    let occurrence = field(r, "recurr_idx")
        .and_then(|i| i.trim().parse::<u32>().ok())
        .filter(|&i| i >= 1);
    let freq = match occurrence {
        Some(_) => None,
        None => frequency_of(field(r, "recurringtype").unwrap_or("")),
    };
    let all_day = field(r, "is_all_day_event") == Some("1");

    let (time, recurrence) = if all_day {
        let first = to_local(start, user).date();
        let last = to_local(end, user).date().max(first);
        match freq {
            None => (
                EventTime::AllDay {
                    start: first,
                    end: add_days(last, 1)?,
                },
                None,
            ),
            Some(f) => {
                let mut rule = implied_rule(f, first);
                rule.end = RecurrenceEnd::Until(to_instant(at(last, None), user)?);
                (
                    EventTime::AllDay {
                        start: first,
                        end: add_days(first, 1)?,
                    },
                    Some(rule),
                )
            }
        }
    } else {
        match freq {
            None => (
                EventTime::Timed {
                    start,
                    end: end.max(start),
                },
                None,
            ),
            Some(f) => {
                // One occurrence: the first day, from time_start to time_end (the next day if
                // time_end is earlier).
                let mut occ_end = to_instant(at(d0, t1), src)?;
                if occ_end < start {
                    occ_end = to_instant(at(add_days(d0, 1)?, t1), src)?;
                }
                let mut rule = implied_rule(f, to_local(start, user).date());
                // Last occurrence starts on due_date at the series' start time.
                rule.end = RecurrenceEnd::Until(to_instant(at(d1, t0), src)?);
                (
                    EventTime::Timed {
                        start,
                        end: occ_end,
                    },
                    Some(rule),
                )
            }
        }
    };

    let reminder = match field(r, "reminder_time").unwrap_or("").trim() {
        "" => None,
        s => Some(
            s.parse::<u32>()
                .map_err(|_| bad(format!("reminder_time: {s:?}")))?,
        ),
    };
    Ok(Event {
        subject: req(r, "subject")?.to_owned(),
        location: text(r, "location").unwrap_or_default(),
        notes: text(r, "description").unwrap_or_default(),
        time,
        time_zone: user.clone(),
        reminder,
        sensitivity: match field(r, "visibility") {
            Some("Private") => Sensitivity::Private,
            _ => Sensitivity::Normal,
        },
        meeting_status: match field(r, "eventstatus") {
            Some("Not Held") => MeetingStatus::Canceled,
            _ => MeetingStatus::Appointment,
        },
        // Occurrences of an expanded series get UIDs of their own: phones treat one UID as
        // one calendar item and would fold the occurrences into one.
        uid: none_if_empty(text(r, "ical_uuid")).map(|u| match occurrence {
            Some(i) => format!("{u}-{i}"),
            None => u,
        }),
        dt_stamp: modified_time(r, ctx)?,
        recurrence,
        ..Event::default()
    })
}

/// The full field map of an event, written in the user's zone (the CRM reads writes so, §3).
/// `reminder_time` is written in **seconds** (§4) and read back in minutes.
pub fn event_fields(e: &Event, user: &TimeZone) -> Result<Outgoing, CrmError> {
    let mut o = Outgoing::default();
    o.set("subject", e.subject.as_str());
    o.set("location", e.location.as_str());
    o.set("description", e.notes.as_str());
    let (start_dt, end_dt, all_day) = match e.time {
        EventTime::Timed { start, end } => (to_local(start, user), to_local(end, user), false),
        EventTime::AllDay { start, end } => {
            let last = add_days(end, -1)?.max(start);
            (
                start.to_datetime(Time::midnight()),
                last.to_datetime(Time::constant(23, 59, 0, 0)),
                true,
            )
        }
    };
    // A series is one record: due_date is the last day, the times are each occurrence's.
    let mut due = end_dt;
    let mut unmapped_rule = false;
    match &e.recurrence {
        None => o.set("recurringtype", ""),
        Some(rule) => {
            o.set("recurringtype", frequency_name(rule.frequency));
            let implied = {
                let mut r = implied_rule(rule.frequency, start_dt.date());
                r.end = rule.end;
                r
            };
            unmapped_rule = *rule != implied;
            let last_day = match rule.end {
                RecurrenceEnd::Until(t) => to_local(t, user).date(),
                // The CRM needs a last day; without one the series is a single occurrence
                // there and the rule stays on the box.
                _ => {
                    unmapped_rule = true;
                    start_dt.date()
                }
            };
            due = last_day.to_datetime(end_dt.time());
        }
    }
    o.set("date_start", format_date(start_dt.date()));
    o.set("time_start", format_time(start_dt.time()));
    o.set("due_date", format_date(due.date()));
    o.set("time_end", format_time(due.time()));
    let minutes = match e.time {
        EventTime::Timed { start, end } => (end.as_second() - start.as_second()).max(0) / 60,
        EventTime::AllDay { .. } => (end_dt.duration_since(start_dt).as_secs().max(0)) / 60,
    };
    o.set("duration_hours", (minutes / 60).to_string());
    o.set("duration_minutes", (minutes % 60).to_string());
    o.set("is_all_day_event", if all_day { "1" } else { "0" });
    o.set(
        "reminder_time",
        e.reminder
            .map(|m| (u64::from(m) * 60).to_string())
            .unwrap_or_default(),
    );
    o.set(
        "visibility",
        match e.sensitivity {
            Sensitivity::Private | Sensitivity::Confidential => "Private",
            _ => "Public",
        },
    );
    o.set(
        "eventstatus",
        match e.meeting_status {
            MeetingStatus::Canceled | MeetingStatus::CanceledReceived => "Not Held",
            _ => "Planned",
        },
    );
    o.set("activitytype", "Meeting");
    o.keep_if(unmapped_rule, "recurrence");
    o.keep_if(!e.exceptions.is_empty(), "exceptions");
    o.keep_if(!e.attendees.is_empty(), "attendees");
    o.keep_if(!e.categories.is_empty(), "categories");
    o.keep_if(
        e.organizer_name.is_some() || e.organizer_email.is_some(),
        "organizer",
    );
    o.keep_if(e.busy_status != Default::default(), "busy_status");
    o.keep_if(e.response_requested.is_some(), "response_requested");
    o.keep_if(e.response_type.is_some(), "response_type");
    o.keep_if(e.client_uid.is_some(), "client_uid");
    o.keep_if(
        e.sensitivity == Sensitivity::Personal || e.sensitivity == Sensitivity::Confidential,
        "sensitivity",
    );
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// Calendar tasks (§4).

/// Whether a Calendar record is a task (`activitytype` = Task); a record with an empty type
/// is an event to the CRM (§4) and must not be read as a task.
pub fn is_task(r: &Record) -> bool {
    field(r, "activitytype") == Some("Task")
}

fn task_date(d: Option<Date>, t: Option<Time>, ctx: &Ctx) -> Result<Option<TaskDate>, CrmError> {
    let Some(d) = d else { return Ok(None) };
    let utc = to_instant(at(d, t), ctx.event_zone())?;
    // A date without a time is a whole day in the user's zone: keep its midnight there.
    let utc = if t.is_none() {
        to_instant(at(d, None), &ctx.zones.user)?
    } else {
        utc
    };
    Ok(Some(TaskDate {
        utc,
        local: to_local(utc, &ctx.zones.user),
    }))
}

/// A Calendar record as a [`Task`].
pub fn task_from_record(r: &Record, ctx: &Ctx) -> Result<Task, CrmError> {
    let start = task_date(
        date_field(r, "date_start", ctx)?,
        parse_time(field(r, "time_start").unwrap_or(""))?,
        ctx,
    )?;
    let due = task_date(
        date_field(r, "due_date", ctx)?,
        parse_time(field(r, "time_end").unwrap_or(""))?,
        ctx,
    )?;
    let complete = field(r, "taskstatus") == Some("Completed");
    Ok(Task {
        subject: Some(req(r, "subject")?.to_owned()),
        notes: none_if_empty(text(r, "description")),
        importance: match field(r, "taskpriority") {
            Some("High") => Some(Importance::High),
            Some("Medium") => Some(Importance::Normal),
            Some("Low") => Some(Importance::Low),
            _ => None,
        },
        start,
        due,
        complete,
        // The CRM keeps no completion time; EAS requires one with Complete 1 ([MS-ASTASK]
        // 2.2.2.7), and the record's last change is when it was marked done at the latest.
        date_completed: if complete {
            modified_time(r, ctx)?
                .or(due.map(|d| d.utc))
                .or(start.map(|d| d.utc))
        } else {
            None
        },
        ..Task::default()
    })
}

/// The full field map of a task, written in the user's zone, with `activitytype` = Task
/// (without it the CRM stores an event, §4).
pub fn task_fields(t: &Task, user: &TimeZone) -> Outgoing {
    let mut o = Outgoing::default();
    o.opt("subject", &t.subject);
    o.opt("description", &t.notes);
    o.set("activitytype", "Task");
    o.set(
        "taskpriority",
        match t.importance {
            Some(Importance::High) => "High",
            Some(Importance::Normal) => "Medium",
            Some(Importance::Low) => "Low",
            None => "",
        },
    );
    o.set(
        "taskstatus",
        if t.complete {
            "Completed"
        } else {
            "Not Started"
        },
    );
    let put = |o: &mut Outgoing, d: &Option<TaskDate>, date: &str, time: &str| {
        match d {
            None => {
                o.set(date, "");
                o.set(time, "");
            }
            Some(d) => {
                let l = to_local(d.utc, user);
                o.set(date, format_date(l.date()));
                // Midnight is how a date-only task comes back; send it as date only.
                o.set(
                    time,
                    if l.time() == Time::midnight() {
                        String::new()
                    } else {
                        format_time(l.time())
                    },
                );
            }
        }
    };
    put(&mut o, &t.start, "date_start", "time_start");
    put(&mut o, &t.due, "due_date", "time_end");
    o.keep_if(t.categories.is_some(), "categories");
    o.keep_if(t.recurrence.is_some(), "recurrence");
    o.keep_if(t.date_completed.is_some(), "date_completed");
    o.keep_if(t.sensitivity.is_some(), "sensitivity");
    o.keep_if(
        t.reminder_set.is_some() || t.reminder_time.is_some(),
        "reminder",
    );
    o
}
