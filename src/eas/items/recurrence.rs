//! EAS recurrence ([MS-ASCAL] 2.2.2.38 Recurrence, [MS-ASTASK] 2.2.2.19 Recurrence) ⇄
//! [`model::Recurrence`](crate::model::Recurrence).
//!
//! | EAS Type | model |
//! |---|---|
//! | 0 daily | `Daily`, `weekdays` for "every weekday" |
//! | 1 weekly | `Weekly` + `weekdays` |
//! | 2 monthly | `Monthly` + `month_day` |
//! | 3 monthly on the Nth weekday | `Monthly` + `weekdays` + `set_pos` |
//! | 5 yearly | `Yearly` + `month` + `month_day` |
//! | 6 yearly on the Nth weekday | `Yearly` + `month` + `weekdays` + `set_pos` |
//!
//! WeekOfMonth 5 is "the last" and maps to `set_pos` −1 both ways (EAS-NOTES §1.7: Z-Push's
//! CalDAV backend got this wrong). Until and Occurrences exclude each other. CalendarType and
//! IsLeapMonth (14.0+) and FirstDayOfWeek (14.1+) are written only to clients that know them.
//! Calendar dates use the compact form `20240315T090000Z`, task dates the dashed form
//! `2024-03-15T09:00:00.000Z` ([MS-ASDTYPE] 2.3, 2.7.2); both forms are read on both pages.

use super::Context;
use crate::eas::{Error, ProtocolVersion, de};
use crate::model::{Frequency, Recurrence, RecurrenceEnd, Weekdays};
use crate::wbxml::{Element, Encoder, Tag, calendar, tasks};
use jiff::civil::Weekday;

/// Largest Interval the schemas allow.
pub const MAX_INTERVAL: u16 = 999;

/// What a Tasks:Recurrence carries beyond the calendar's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TaskExtras {
    /// Tasks:Start, the first occurrence's start.
    pub start: Option<jiff::Timestamp>,
    /// Regenerate: the next occurrence is computed from completion, not from the series.
    pub regenerate: bool,
    /// DeadOccur: the task occurs only once more.
    pub dead_occur: bool,
}

/// Which code page a Recurrence element lives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Calendar,
    Tasks,
}

/// The element names of one page.
struct Tags {
    recurrence: Tag,
    kind: Tag,
    until: Tag,
    occurrences: Tag,
    interval: Tag,
    day_of_week: Tag,
    day_of_month: Tag,
    week_of_month: Tag,
    month_of_year: Tag,
    calendar_type: Tag,
    is_leap_month: Tag,
    first_day_of_week: Tag,
}

const CALENDAR: Tags = Tags {
    recurrence: calendar::RECURRENCE,
    kind: calendar::TYPE,
    until: calendar::UNTIL,
    occurrences: calendar::OCCURRENCES,
    interval: calendar::INTERVAL,
    day_of_week: calendar::DAY_OF_WEEK,
    day_of_month: calendar::DAY_OF_MONTH,
    week_of_month: calendar::WEEK_OF_MONTH,
    month_of_year: calendar::MONTH_OF_YEAR,
    calendar_type: calendar::CALENDAR_TYPE,
    is_leap_month: calendar::IS_LEAP_MONTH,
    first_day_of_week: calendar::FIRST_DAY_OF_WEEK,
};

const TASKS: Tags = Tags {
    recurrence: tasks::RECURRENCE,
    kind: tasks::TYPE,
    until: tasks::UNTIL,
    occurrences: tasks::OCCURRENCES,
    interval: tasks::INTERVAL,
    day_of_week: tasks::DAY_OF_WEEK,
    day_of_month: tasks::DAY_OF_MONTH,
    week_of_month: tasks::WEEK_OF_MONTH,
    month_of_year: tasks::MONTH_OF_YEAR,
    calendar_type: tasks::CALENDAR_TYPE,
    is_leap_month: tasks::IS_LEAP_MONTH,
    first_day_of_week: tasks::FIRST_DAY_OF_WEEK,
};

impl Flavor {
    fn tags(self) -> &'static Tags {
        match self {
            Flavor::Calendar => &CALENDAR,
            Flavor::Tasks => &TASKS,
        }
    }

    /// Largest Occurrences the page's schema allows (unsignedShort / unsignedByte).
    fn max_occurrences(self) -> u32 {
        match self {
            Flavor::Calendar => u16::MAX.into(),
            Flavor::Tasks => u8::MAX.into(),
        }
    }
}

/// EAS date-time text ([MS-ASDTYPE] 2.3 dateTime and 2.7.2 Compact DateTime), always UTC.
pub mod datetime {
    use crate::eas::Error;
    use jiff::Timestamp;
    use jiff::civil::{Date, DateTime, Time};
    use jiff::tz::TimeZone;

    fn utc(t: Timestamp) -> Result<DateTime, Error> {
        let dt = TimeZone::UTC.to_datetime(t);
        if !(0..=9999).contains(&dt.year()) {
            return Err(Error::Unencodable("date outside years 0-9999"));
        }
        Ok(dt)
    }

    /// `20240315T090000Z`.
    pub fn compact(t: Timestamp) -> Result<String, Error> {
        let d = utc(t)?;
        Ok(format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            d.year(),
            d.month(),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        ))
    }

    /// A civil date at midnight in the compact form, for "floating" all-day times.
    pub fn compact_date(d: Date) -> Result<String, Error> {
        if !(0..=9999).contains(&d.year()) {
            return Err(Error::Unencodable("date outside years 0-9999"));
        }
        Ok(format!(
            "{:04}{:02}{:02}T000000Z",
            d.year(),
            d.month(),
            d.day()
        ))
    }

    /// `2024-03-15T09:00:00.000Z`.
    pub fn dashed(t: Timestamp) -> Result<String, Error> {
        let d = utc(t)?;
        Ok(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            d.year(),
            d.month(),
            d.day(),
            d.hour(),
            d.minute(),
            d.second(),
            d.subsec_nanosecond() / 1_000_000
        ))
    }

    fn digits(s: &str) -> Option<i32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }

    /// Reads either form, with or without `Z`, fraction or time; the civil time as written.
    pub fn parse_civil(s: &str) -> Option<DateTime> {
        let s = s.trim();
        let s = s
            .strip_suffix('Z')
            .or_else(|| s.strip_suffix('z'))
            .unwrap_or(s);
        let (date, time) = match s.split_once(['T', 't', ' ']) {
            Some((d, t)) => (d, t),
            None => (s, ""),
        };
        let (y, m, d) = if date.len() == 10 {
            (date.get(0..4)?, date.get(5..7)?, date.get(8..10)?)
        } else if date.len() == 8 {
            (date.get(0..4)?, date.get(4..6)?, date.get(6..8)?)
        } else {
            return None;
        };
        if date.len() == 10 && (date.get(4..5)? != "-" || date.get(7..8)? != "-") {
            return None;
        }
        let date = Date::new(
            i16::try_from(digits(y)?).ok()?,
            i8::try_from(digits(m)?).ok()?,
            i8::try_from(digits(d)?).ok()?,
        )
        .ok()?;
        let (time, frac) = match time.split_once('.') {
            Some((t, f)) => (t, Some(f)),
            None => (time, None),
        };
        let (h, mi, sec) = match time.len() {
            0 => ("0", "0", "0"),
            6 => (time.get(0..2)?, time.get(2..4)?, time.get(4..6)?),
            8 if time.get(2..3)? == ":" && time.get(5..6)? == ":" => {
                (time.get(0..2)?, time.get(3..5)?, time.get(6..8)?)
            }
            _ => return None,
        };
        let nanos = match frac {
            None => 0,
            Some(f) if !f.is_empty() && f.len() <= 9 => {
                let n = digits(f)?;
                let scale = 10i32.checked_pow(9 - u32::try_from(f.len()).ok()?)?;
                n.checked_mul(scale)?
            }
            Some(_) => return None,
        };
        let time = Time::new(
            i8::try_from(digits(h)?).ok()?,
            i8::try_from(digits(mi)?).ok()?,
            i8::try_from(digits(sec)?).ok()?,
            nanos,
        )
        .ok()?;
        Some(date.to_datetime(time))
    }

    /// Reads either form as a UTC instant.
    pub fn parse(s: &str) -> Option<Timestamp> {
        TimeZone::UTC.to_timestamp(parse_civil(s)?).ok()
    }
}

/// The instant in an optional child, in either EAS form.
pub(crate) fn opt_time(e: &Element<'_>, tag: Tag) -> Result<Option<jiff::Timestamp>, Error> {
    match de::opt_text(e, tag)?.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => datetime::parse(s).map(Some).ok_or(Error::BadValue {
            tag,
            why: "not an EAS date-time",
        }),
    }
}

/// A number in an optional child; an empty element counts as absent.
pub(crate) fn opt_num<T: core::str::FromStr>(
    e: &Element<'_>,
    tag: Tag,
) -> Result<Option<T>, Error> {
    match e.child(tag) {
        Some(c) if de::text_of(c)?.trim().is_empty() => Ok(None),
        Some(c) => de::num_of(c).map(Some),
        None => Ok(None),
    }
}

fn in_range<T: PartialOrd + Copy>(
    v: Option<T>,
    tag: Tag,
    lo: T,
    hi: T,
    why: &'static str,
) -> Result<Option<T>, Error> {
    match v {
        Some(x) if x < lo || x > hi => Err(Error::BadValue { tag, why }),
        _ => Ok(v),
    }
}

/// Reads a `Recurrence` element (of either page).
pub fn decode(
    e: &Element<'_>,
    flavor: Flavor,
    _ctx: &Context<'_>,
) -> Result<(Recurrence, TaskExtras), Error> {
    let t = flavor.tags();
    let kind: u8 = de::req_num(e, t.kind)?;
    let interval = in_range(
        opt_num::<u16>(e, t.interval)?,
        t.interval,
        0,
        MAX_INTERVAL,
        "interval above 999",
    )?
    .unwrap_or(1)
    .max(1);
    let days = in_range(
        opt_num::<u16>(e, t.day_of_week)?,
        t.day_of_week,
        0,
        255,
        "day mask above 255",
    )?
    .map(|m| Weekdays::from_mask((m & 0x7F) as u8));
    let month_day = in_range(
        opt_num::<u8>(e, t.day_of_month)?,
        t.day_of_month,
        1,
        31,
        "day of month outside 1-31",
    )?;
    let week = in_range(
        opt_num::<u8>(e, t.week_of_month)?,
        t.week_of_month,
        1,
        5,
        "week of month outside 1-5",
    )?;
    let month = in_range(
        opt_num::<u8>(e, t.month_of_year)?,
        t.month_of_year,
        1,
        12,
        "month outside 1-12",
    )?;
    let calendar_type = in_range(
        opt_num::<u8>(e, t.calendar_type)?,
        t.calendar_type,
        0,
        23,
        "calendar type outside 0-23",
    )?;
    let first_day = in_range(
        opt_num::<i8>(e, t.first_day_of_week)?,
        t.first_day_of_week,
        0,
        6,
        "first day of week outside 0-6",
    )?;
    let until = opt_time(e, t.until)?;
    let occurrences: Option<u32> = opt_num(e, t.occurrences)?;

    let mut r = Recurrence::new(match kind {
        0 => Frequency::Daily,
        1 => Frequency::Weekly,
        2 | 3 => Frequency::Monthly,
        5 | 6 => Frequency::Yearly,
        _ => {
            return Err(Error::BadValue {
                tag: t.kind,
                why: "recurrence type not 0-3, 5 or 6",
            });
        }
    });
    r.interval = interval;
    let nth = |r: &mut Recurrence| -> Result<(), Error> {
        let missing = |child| Error::Missing {
            parent: t.recurrence,
            child,
        };
        r.weekdays = days
            .filter(|d| !d.is_empty())
            .ok_or(missing(t.day_of_week))?;
        let w = week.ok_or(missing(t.week_of_month))?;
        r.set_pos = Some(if w == 5 { -1 } else { w as i8 });
        Ok(())
    };
    match kind {
        0 | 1 => r.weekdays = days.unwrap_or_default(),
        2 => r.month_day = month_day,
        3 => nth(&mut r)?,
        5 => {
            r.month = month;
            r.month_day = month_day;
        }
        _ => {
            r.month = month;
            nth(&mut r)?;
        }
    }
    // The two ends exclude each other; a client that sends both gets the date.
    r.end = match (until, occurrences) {
        (Some(u), _) => RecurrenceEnd::Until(u),
        (None, Some(n)) if n > 0 => RecurrenceEnd::Count(n),
        _ => RecurrenceEnd::Never,
    };
    r.calendar_type = calendar_type.filter(|c| *c > 1);
    r.leap_month = de::opt_bool(e, t.is_leap_month)?.unwrap_or(false);
    r.week_start = first_day.and_then(|d| Weekday::from_sunday_zero_offset(d).ok());

    let extras = match flavor {
        Flavor::Calendar => TaskExtras::default(),
        Flavor::Tasks => TaskExtras {
            start: opt_time(e, tasks::START)?,
            regenerate: de::opt_bool(e, tasks::REGENERATE)?.unwrap_or(false),
            dead_occur: de::opt_bool(e, tasks::DEAD_OCCUR)?.unwrap_or(false),
        },
    };
    Ok((r, extras))
}

/// The EAS fields of a rule, checked against what EAS can express.
struct Fields {
    kind: u8,
    interval: u16,
    week: Option<u8>,
    days: Option<u8>,
    month: Option<u8>,
    month_day: Option<u8>,
}

fn fields(r: &Recurrence) -> Result<Fields, Error> {
    let no = Error::Unencodable;
    if r.interval > MAX_INTERVAL {
        return Err(no("recurrence interval above 999"));
    }
    let week = match r.set_pos {
        None => None,
        Some(p @ 1..=4) => Some(p as u8),
        Some(-1) => Some(5),
        Some(_) => return Err(no("EAS has only the 1st-4th and the last weekday")),
    };
    let days = (!r.weekdays.is_empty()).then(|| r.weekdays.mask());
    let kind = match r.frequency {
        Frequency::Daily | Frequency::Weekly => {
            if week.is_some() || r.month_day.is_some() || r.month.is_some() {
                return Err(no("daily or weekly rule with month parts"));
            }
            if r.frequency == Frequency::Daily {
                0
            } else {
                1
            }
        }
        Frequency::Monthly | Frequency::Yearly => {
            if r.frequency == Frequency::Monthly && r.month.is_some() {
                return Err(no("monthly rule limited to months"));
            }
            let yearly = r.frequency == Frequency::Yearly;
            match (week, days, r.month_day) {
                (Some(_), Some(_), None) => {
                    if yearly {
                        6
                    } else {
                        3
                    }
                }
                (None, None, _) => {
                    if yearly {
                        5
                    } else {
                        2
                    }
                }
                (Some(_), None, _) => return Err(no("Nth-weekday rule without a weekday")),
                (Some(_), Some(_), Some(_)) => {
                    return Err(no("rule with both a month day and a weekday"));
                }
                (None, Some(_), _) => return Err(no("monthly or yearly rule on every weekday")),
            }
        }
    };
    Ok(Fields {
        kind,
        interval: r.interval.max(1),
        week,
        days,
        month: r.month,
        month_day: r.month_day,
    })
}

/// Writes `<Recurrence>…</Recurrence>` on the flavor's page; `extras` only for tasks.
pub fn encode(
    r: &Recurrence,
    extras: &TaskExtras,
    w: &mut Encoder<'_>,
    flavor: Flavor,
    ctx: &Context<'_>,
) -> Result<(), Error> {
    let t = flavor.tags();
    let f = fields(r)?;
    let v = ctx.version;
    let (until, occurrences) = match r.end {
        RecurrenceEnd::Never => (None, None),
        RecurrenceEnd::Count(n) if n == 0 || n > flavor.max_occurrences() => {
            return Err(Error::Unencodable("occurrence count out of range"));
        }
        RecurrenceEnd::Count(n) => (None, Some(n)),
        RecurrenceEnd::Until(u) => (
            Some(match flavor {
                Flavor::Calendar => datetime::compact(u)?,
                Flavor::Tasks => datetime::dashed(u)?,
            }),
            None,
        ),
    };
    let calendar_type = r.calendar_type.filter(|_| v >= ProtocolVersion::V14_0);
    let leap = r.leap_month && v >= ProtocolVersion::V14_0;
    let first_day = r.week_start.filter(|_| v >= ProtocolVersion::V14_1);

    w.start(t.recurrence)?;
    w.leaf_int(t.kind, f.kind)?;
    // Element order follows the page's schema (Calendar.xsd / Tasks.xsd).
    match flavor {
        Flavor::Calendar => {
            if let Some(n) = occurrences {
                w.leaf_int(t.occurrences, n)?;
            }
            w.leaf_int(t.interval, f.interval)?;
            if let Some(x) = f.week {
                w.leaf_int(t.week_of_month, x)?;
            }
            if let Some(x) = f.days {
                w.leaf_int(t.day_of_week, x)?;
            }
            if let Some(x) = f.month {
                w.leaf_int(t.month_of_year, x)?;
            }
            if let Some(u) = &until {
                w.leaf(t.until, u)?;
            }
            if let Some(x) = f.month_day {
                w.leaf_int(t.day_of_month, x)?;
            }
        }
        Flavor::Tasks => {
            if let Some(s) = extras.start {
                w.leaf(tasks::START, &datetime::dashed(s)?)?;
            }
            if let Some(u) = &until {
                w.leaf(t.until, u)?;
            }
            if let Some(n) = occurrences {
                w.leaf_int(t.occurrences, n)?;
            }
            w.leaf_int(t.interval, f.interval)?;
            if let Some(x) = f.days {
                w.leaf_int(t.day_of_week, x)?;
            }
            if let Some(x) = f.month_day {
                w.leaf_int(t.day_of_month, x)?;
            }
            if let Some(x) = f.week {
                w.leaf_int(t.week_of_month, x)?;
            }
            if let Some(x) = f.month {
                w.leaf_int(t.month_of_year, x)?;
            }
            w.leaf_int(tasks::REGENERATE, u8::from(extras.regenerate))?;
            w.leaf_int(tasks::DEAD_OCCUR, u8::from(extras.dead_occur))?;
        }
    }
    if let Some(c) = calendar_type {
        w.leaf_int(t.calendar_type, c)?;
    }
    if leap {
        w.leaf(t.is_leap_month, "1")?;
    }
    if let Some(d) = first_day {
        w.leaf_int(t.first_day_of_week, d.to_sunday_zero_offset())?;
    }
    w.end()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::{self, Limits};
    use jiff::Timestamp;

    fn ctx(v: ProtocolVersion) -> Context<'static> {
        Context::new(v)
    }

    fn enc(r: &Recurrence, x: &TaskExtras, f: Flavor, v: ProtocolVersion) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 4096).unwrap();
        encode(r, x, &mut w, f, &ctx(v)).unwrap();
        w.finish().unwrap();
        out
    }

    fn round_trip(r: &Recurrence, f: Flavor, v: ProtocolVersion) -> Vec<u8> {
        let x = TaskExtras::default();
        let bytes = enc(r, &x, f, v);
        let e = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        let (back, bx) = decode(&e, f, &ctx(v)).unwrap();
        assert_eq!(&back, r, "{f:?} {v}");
        assert_eq!(bx, x);
        bytes
    }

    fn text(bytes: &[u8], tag: Tag) -> Option<String> {
        let e = wbxml::parse(bytes, Limits::DEFAULT).unwrap();
        e.child_text(tag).map(str::to_owned)
    }

    fn rule(f: Frequency) -> Recurrence {
        Recurrence::new(f)
    }

    #[test]
    fn all_six_types_both_pages() {
        let mut daily = rule(Frequency::Daily);
        daily.interval = 2;
        daily.end = RecurrenceEnd::Count(10);
        let mut workdays = rule(Frequency::Daily);
        workdays.weekdays = Weekdays::WORKDAYS;
        let mut weekly = rule(Frequency::Weekly);
        weekly.weekdays = [Weekday::Monday, Weekday::Thursday].into_iter().collect();
        weekly.end = RecurrenceEnd::Until(Timestamp::constant(1_735_689_600, 0));
        let mut monthly = rule(Frequency::Monthly);
        monthly.month_day = Some(15);
        let mut last_friday = rule(Frequency::Monthly);
        last_friday.weekdays = Weekdays::EMPTY.with(Weekday::Friday);
        last_friday.set_pos = Some(-1);
        let mut yearly = rule(Frequency::Yearly);
        yearly.month = Some(3);
        yearly.month_day = Some(8);
        let mut thanksgiving = rule(Frequency::Yearly);
        thanksgiving.month = Some(11);
        thanksgiving.weekdays = Weekdays::EMPTY.with(Weekday::Thursday);
        thanksgiving.set_pos = Some(4);
        let cases = [
            (&daily, "0"),
            (&workdays, "0"),
            (&weekly, "1"),
            (&monthly, "2"),
            (&last_friday, "3"),
            (&yearly, "5"),
            (&thanksgiving, "6"),
        ];
        for (r, kind) in cases {
            for f in [Flavor::Calendar, Flavor::Tasks] {
                for v in ProtocolVersion::ALL {
                    let b = round_trip(r, f, v);
                    assert_eq!(text(&b, f.tags().kind).as_deref(), Some(kind));
                }
            }
        }
        let b = round_trip(&last_friday, Flavor::Calendar, ProtocolVersion::V14_1);
        assert_eq!(text(&b, calendar::WEEK_OF_MONTH).as_deref(), Some("5"));
        assert_eq!(text(&b, calendar::DAY_OF_WEEK).as_deref(), Some("32"));
        let b = round_trip(&workdays, Flavor::Calendar, ProtocolVersion::V14_1);
        assert_eq!(text(&b, calendar::DAY_OF_WEEK).as_deref(), Some("62"));
        let b = round_trip(&weekly, Flavor::Calendar, ProtocolVersion::V14_1);
        assert_eq!(
            text(&b, calendar::UNTIL).as_deref(),
            Some("20250101T000000Z")
        );
        let b = round_trip(&weekly, Flavor::Tasks, ProtocolVersion::V14_1);
        assert_eq!(
            text(&b, tasks::UNTIL).as_deref(),
            Some("2025-01-01T00:00:00.000Z")
        );
    }

    #[test]
    fn week_of_month_five_is_last_and_one_to_four_stay() {
        for (wom, pos) in [(1, 1), (2, 2), (3, 3), (4, 4), (5, -1)] {
            let mut r = rule(Frequency::Monthly);
            r.weekdays = Weekdays::EMPTY.with(Weekday::Sunday);
            r.set_pos = Some(pos);
            let b = round_trip(&r, Flavor::Calendar, ProtocolVersion::V14_1);
            assert_eq!(text(&b, calendar::WEEK_OF_MONTH), Some(wom.to_string()));
        }
    }

    #[test]
    fn version_gated_fields() {
        let mut r = rule(Frequency::Weekly);
        r.weekdays = Weekdays::EMPTY.with(Weekday::Tuesday);
        r.week_start = Some(Weekday::Monday);
        r.calendar_type = Some(15);
        r.leap_month = true;
        let b = round_trip(&r, Flavor::Calendar, ProtocolVersion::V14_1);
        assert_eq!(text(&b, calendar::FIRST_DAY_OF_WEEK).as_deref(), Some("1"));
        assert_eq!(text(&b, calendar::CALENDAR_TYPE).as_deref(), Some("15"));
        assert_eq!(text(&b, calendar::IS_LEAP_MONTH).as_deref(), Some("1"));
        round_trip(&r, Flavor::Tasks, ProtocolVersion::V16_1);
        let b = enc(
            &r,
            &TaskExtras::default(),
            Flavor::Calendar,
            ProtocolVersion::V14_0,
        );
        assert_eq!(text(&b, calendar::FIRST_DAY_OF_WEEK), None);
        assert_eq!(text(&b, calendar::CALENDAR_TYPE).as_deref(), Some("15"));
        let b = enc(
            &r,
            &TaskExtras::default(),
            Flavor::Calendar,
            ProtocolVersion::V12_1,
        );
        assert_eq!(text(&b, calendar::CALENDAR_TYPE), None);
        assert_eq!(text(&b, calendar::IS_LEAP_MONTH), None);
    }

    #[test]
    fn task_extras_round_trip() {
        let mut r = rule(Frequency::Weekly);
        r.weekdays = Weekdays::EMPTY.with(Weekday::Friday);
        let x = TaskExtras {
            start: Some(Timestamp::constant(1_710_460_800, 0)),
            regenerate: true,
            dead_occur: false,
        };
        let b = enc(&r, &x, Flavor::Tasks, ProtocolVersion::V14_1);
        assert_eq!(
            text(&b, tasks::START).as_deref(),
            Some("2024-03-15T00:00:00.000Z")
        );
        let e = wbxml::parse(&b, Limits::DEFAULT).unwrap();
        assert_eq!(
            decode(&e, Flavor::Tasks, &ctx(ProtocolVersion::V14_1)).unwrap(),
            (r, x)
        );
    }

    #[test]
    fn unencodable_rules() {
        let bad = |r: Recurrence| {
            let mut out = Vec::new();
            let mut w = Encoder::new(&mut out, 4096).unwrap();
            let res = encode(
                &r,
                &TaskExtras::default(),
                &mut w,
                Flavor::Calendar,
                &ctx(ProtocolVersion::V14_1),
            );
            assert!(matches!(res, Err(Error::Unencodable(_))), "{r:?}");
        };
        let mut r = rule(Frequency::Monthly);
        r.weekdays = Weekdays::EMPTY.with(Weekday::Monday);
        bad(r.clone()); // every Monday of the month
        r.set_pos = Some(-2);
        bad(r.clone()); // second to last
        r.set_pos = Some(2);
        r.month_day = Some(3);
        bad(r); // both
        let mut r = rule(Frequency::Weekly);
        r.month_day = Some(3);
        bad(r);
        let mut r = rule(Frequency::Daily);
        r.interval = 1000;
        bad(r);
        let mut r = rule(Frequency::Daily);
        r.end = RecurrenceEnd::Count(0);
        bad(r);
        let mut r = rule(Frequency::Monthly);
        r.month = Some(2);
        bad(r);
        let mut r = rule(Frequency::Yearly);
        r.set_pos = Some(1);
        bad(r);
    }

    fn parse_rule(xml: &[(Tag, &str)], f: Flavor) -> Result<(Recurrence, TaskExtras), Error> {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 4096).unwrap();
        w.start(f.tags().recurrence).unwrap();
        for (t, v) in xml {
            w.leaf(*t, v).unwrap();
        }
        w.end().unwrap();
        w.finish().unwrap();
        let e = wbxml::parse(&out, Limits::DEFAULT).unwrap();
        decode(&e, f, &ctx(ProtocolVersion::V14_1))
    }

    #[test]
    fn lenient_and_strict_decoding() {
        use calendar::*;
        // Both ends: the date wins. Interval 0 is 1. Gregorian is no calendar type.
        let (r, _) = parse_rule(
            &[
                (TYPE, "1"),
                (DAY_OF_WEEK, "2"),
                (INTERVAL, "0"),
                (OCCURRENCES, "5"),
                (UNTIL, "2024-06-01T00:00:00.000Z"),
                (CALENDAR_TYPE, "1"),
            ],
            Flavor::Calendar,
        )
        .unwrap();
        assert_eq!(r.interval, 1);
        assert_eq!(
            r.end,
            RecurrenceEnd::Until(Timestamp::constant(1_717_200_000, 0))
        );
        assert_eq!(r.calendar_type, None);
        let bad = |x: &[(Tag, &str)]| parse_rule(x, Flavor::Calendar).is_err();
        assert!(bad(&[(TYPE, "4")]));
        assert!(bad(&[(TYPE, "7")]));
        assert!(bad(&[(INTERVAL, "1")]));
        assert!(bad(&[(TYPE, "3"), (DAY_OF_WEEK, "2")]), "no WeekOfMonth");
        assert!(bad(&[(TYPE, "3"), (WEEK_OF_MONTH, "2")]), "no DayOfWeek");
        assert!(bad(&[
            (TYPE, "3"),
            (DAY_OF_WEEK, "2"),
            (WEEK_OF_MONTH, "6")
        ]));
        assert!(bad(&[(TYPE, "2"), (DAY_OF_MONTH, "32")]));
        assert!(bad(&[(TYPE, "5"), (MONTH_OF_YEAR, "13")]));
        assert!(bad(&[(TYPE, "1"), (DAY_OF_WEEK, "x")]));
        assert!(bad(&[(TYPE, "1"), (UNTIL, "yesterday")]));
        assert!(bad(&[(TYPE, "1"), (FIRST_DAY_OF_WEEK, "7")]));
        assert!(bad(&[(TYPE, "1"), (INTERVAL, "1000")]));
    }

    #[test]
    fn date_forms() {
        use datetime::*;
        let t = Timestamp::constant(1_710_493_200, 0); // 2024-03-15T09:00:00Z
        assert_eq!(compact(t).unwrap(), "20240315T090000Z");
        assert_eq!(dashed(t).unwrap(), "2024-03-15T09:00:00.000Z");
        for s in [
            "20240315T090000Z",
            "20240315T090000",
            "2024-03-15T09:00:00.000Z",
            "2024-03-15T09:00:00Z",
            " 2024-03-15T09:00:00.0Z ",
        ] {
            assert_eq!(parse(s), Some(t), "{s}");
        }
        assert_eq!(
            parse("20240315"),
            Some(Timestamp::constant(1_710_460_800, 0))
        );
        for s in [
            "",
            "2024",
            "20241315T000000Z",
            "2024-03-15T25:00:00Z",
            "2024/03/15",
            "+0240315T0",
            "20240315T0900",
            "2024-03-15T09:00:00.Z",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
        assert!(compact(Timestamp::MIN).is_err());
    }
}
