//! The EAS time zone blob: a base64 `TIME_ZONE_INFORMATION` ([MS-ASDTYPE] 2.7.6, [MS-ASCAL]
//! 2.2.2.46 Timezone), 172 bytes little-endian:
//!
//! | offset | field |
//! |---|---|
//! | 0 | Bias (i32, minutes; UTC = local + Bias) |
//! | 4 | StandardName (32 UTF-16 units) |
//! | 68 | StandardDate (SYSTEMTIME, 8 × u16) |
//! | 84 | StandardBias (i32) |
//! | 88 | DaylightName (32 UTF-16 units) |
//! | 152 | DaylightDate (SYSTEMTIME) |
//! | 168 | DaylightBias (i32) |
//!
//! A SYSTEMTIME with `year == 0` is an annual rule: `day` is the occurrence of `day_of_week`
//! in the month, 5 meaning the last. With `year != 0` it is an absolute date.
//!
//! [`TimeZoneInfo::for_zone`] derives the blob from a real zone's transitions in one year (the
//! blob can only carry one pair of rules) and leaves the names empty: Android falls back to
//! GMT when they are set (EAS-NOTES §3 row 5). [`TimeZoneInfo::to_zone`] turns any blob back
//! into a `jiff` zone through a POSIX TZ rule.

use super::Error;
use crate::wbxml::calendar;
use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// Bytes of a `TIME_ZONE_INFORMATION`.
pub const BLOB_LEN: usize = 172;
/// UTF-16 units of a name field, terminator included.
const NAME_UNITS: usize = 32;
/// Largest bias (and bias sum) accepted, in minutes: a day either way covers every real zone
/// and keeps the POSIX rule built from it valid.
pub const MAX_BIAS_MINUTES: i32 = 24 * 60;
/// Most transitions of one zone looked at in one year (real zones have two; a few have four).
const MAX_TRANSITIONS_PER_YEAR: usize = 16;

/// A Windows `SYSTEMTIME` as used in the blob: all fields `u16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct SystemTime {
    pub year: u16,
    pub month: u16,
    /// 0 = Sunday … 6 = Saturday.
    pub day_of_week: u16,
    /// Day of the month (absolute dates), or occurrence 1–5 of `day_of_week` (annual rules).
    pub day: u16,
    pub hour: u16,
    pub minute: u16,
    pub second: u16,
    pub milliseconds: u16,
}

impl SystemTime {
    /// An annual rule: the `week`th (5 = last) `weekday` of `month`, at a local time.
    pub fn annual(month: u8, week: u8, weekday: Weekday, hour: u8, minute: u8) -> Self {
        SystemTime {
            year: 0,
            month: month.into(),
            day_of_week: weekday.to_sunday_zero_offset().unsigned_abs().into(),
            day: week.into(),
            hour: hour.into(),
            minute: minute.into(),
            second: 0,
            milliseconds: 0,
        }
    }

    /// Whether this holds a transition (month 0 means "none").
    pub fn is_set(&self) -> bool {
        self.month != 0
    }

    fn to_bytes(self, out: &mut Vec<u8>) {
        for v in [
            self.year,
            self.month,
            self.day_of_week,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.milliseconds,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn from_bytes(b: &[u8]) -> Option<Self> {
        let u = |i: usize| -> Option<u16> {
            let s = b.get(i * 2..i * 2 + 2)?;
            Some(u16::from_le_bytes([*s.first()?, *s.get(1)?]))
        };
        Some(SystemTime {
            year: u(0)?,
            month: u(1)?,
            day_of_week: u(2)?,
            day: u(3)?,
            hour: u(4)?,
            minute: u(5)?,
            second: u(6)?,
            milliseconds: u(7)?,
        })
    }

    fn validate(&self) -> Result<(), &'static str> {
        if !self.is_set() {
            // Windows ignores every other field when the month is 0.
            return Ok(());
        }
        if self.month > 12 {
            return Err("transition month outside 1-12");
        }
        if self.hour > 23 || self.minute > 59 || self.second > 59 || self.milliseconds > 999 {
            return Err("transition time out of range");
        }
        if self.year == 0 {
            if !(1..=5).contains(&self.day) {
                return Err("transition week outside 1-5");
            }
            if self.day_of_week > 6 {
                return Err("transition weekday outside 0-6");
            }
        } else if self.absolute_date().is_none() {
            return Err("transition date does not exist");
        }
        Ok(())
    }

    fn absolute_date(&self) -> Option<Date> {
        let y = i16::try_from(self.year).ok()?;
        let m = i8::try_from(self.month).ok()?;
        let d = i8::try_from(self.day).ok()?;
        Date::new(y, m, d).ok()
    }

    /// The rule as POSIX `Mm.w.d/hh:mm:ss`. Absolute dates become the weekday rule that hits
    /// that date, which is exact for that year and what DST rules are in other years.
    fn posix_rule(&self) -> Option<String> {
        let (month, week, dow) = if self.year == 0 {
            (self.month, self.day, self.day_of_week)
        } else {
            let d = self.absolute_date()?;
            let (w, dow) = week_of_month(d);
            (self.month, u16::from(w), dow)
        };
        Some(format!(
            "M{month}.{week}.{dow}/{}:{:02}:{:02}",
            self.hour, self.minute, self.second
        ))
    }
}

/// The occurrence of `d`'s weekday in its month (5 = the last one) and the weekday 0–6.
fn week_of_month(d: Date) -> (u8, u16) {
    let day = d.day().unsigned_abs();
    let week = if day + 7 > d.days_in_month().unsigned_abs() {
        5
    } else {
        (day - 1) / 7 + 1
    };
    (
        week,
        d.weekday().to_sunday_zero_offset().unsigned_abs().into(),
    )
}

/// A decoded `TIME_ZONE_INFORMATION`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Hash)]
pub struct TimeZoneInfo {
    /// Minutes to add to local standard time to get UTC (UTC+1 → −60).
    pub bias: i32,
    pub standard_name: String,
    /// When daylight time ends, in local daylight time.
    pub standard_date: SystemTime,
    pub standard_bias: i32,
    pub daylight_name: String,
    /// When daylight time starts, in local standard time.
    pub daylight_date: SystemTime,
    /// Added to `bias` during daylight time (usually −60).
    pub daylight_bias: i32,
}

/// Lenient base64: clients differ on padding.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn bad(why: &'static str) -> Error {
    Error::BadValue {
        tag: calendar::TIMEZONE,
        why,
    }
}

fn read_i32(b: &[u8], at: usize) -> Option<i32> {
    let s = b.get(at..at + 4)?;
    Some(i32::from_le_bytes(s.try_into().ok()?))
}

fn read_name(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(u16::from_le_bytes)
        .take_while(|u| *u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

fn write_name(out: &mut Vec<u8>, name: &str) {
    let mut units: Vec<u16> = name.encode_utf16().take(NAME_UNITS - 1).collect();
    // Never leave half a surrogate pair at the cut.
    if units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
        units.pop();
    }
    units.resize(NAME_UNITS, 0);
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

fn minutes(o: Offset) -> i32 {
    o.seconds() / 60
}

fn check_bias(v: i32) -> Result<(), Error> {
    if v.unsigned_abs() > MAX_BIAS_MINUTES.unsigned_abs() {
        return Err(bad("bias out of range"));
    }
    Ok(())
}

impl TimeZoneInfo {
    /// A zone without daylight saving time, `offset_minutes` east of UTC.
    pub fn fixed(offset_minutes: i32) -> Self {
        TimeZoneInfo {
            bias: -offset_minutes,
            ..Default::default()
        }
    }

    /// Whether the blob carries daylight saving rules.
    pub fn has_dst(&self) -> bool {
        self.standard_date.is_set() && self.daylight_date.is_set()
    }

    /// Reads the 172-byte structure.
    pub fn from_bytes(b: &[u8]) -> Result<Self, Error> {
        if b.len() != BLOB_LEN {
            return Err(bad("time zone blob is not 172 bytes"));
        }
        let field = |at: usize, len: usize| b.get(at..at + len).ok_or(bad("short blob"));
        let tz = TimeZoneInfo {
            bias: read_i32(b, 0).ok_or(bad("short blob"))?,
            standard_name: read_name(field(4, 64)?),
            standard_date: SystemTime::from_bytes(field(68, 16)?).ok_or(bad("short blob"))?,
            standard_bias: read_i32(b, 84).ok_or(bad("short blob"))?,
            daylight_name: read_name(field(88, 64)?),
            daylight_date: SystemTime::from_bytes(field(152, 16)?).ok_or(bad("short blob"))?,
            daylight_bias: read_i32(b, 168).ok_or(bad("short blob"))?,
        };
        tz.validate()?;
        Ok(tz)
    }

    /// Checks the ranges [`TimeZoneInfo::to_zone`] relies on.
    pub fn validate(&self) -> Result<(), Error> {
        check_bias(self.bias)?;
        check_bias(self.standard_bias)?;
        check_bias(self.daylight_bias)?;
        check_bias(self.bias + self.standard_bias)?;
        check_bias(self.bias + self.daylight_bias)?;
        self.standard_date.validate().map_err(bad)?;
        self.daylight_date.validate().map_err(bad)?;
        Ok(())
    }

    /// Writes the 172-byte structure. Names longer than 31 UTF-16 units are cut.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(BLOB_LEN);
        out.extend_from_slice(&self.bias.to_le_bytes());
        write_name(&mut out, &self.standard_name);
        self.standard_date.to_bytes(&mut out);
        out.extend_from_slice(&self.standard_bias.to_le_bytes());
        write_name(&mut out, &self.daylight_name);
        self.daylight_date.to_bytes(&mut out);
        out.extend_from_slice(&self.daylight_bias.to_le_bytes());
        out
    }

    /// Reads the base64 form sent in `Calendar:Timezone`. Whitespace is ignored.
    pub fn from_base64(s: &str) -> Result<Self, Error> {
        let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        // 172 bytes are 232 base64 characters; anything much longer is not a blob.
        if compact.len() > 240 {
            return Err(bad("time zone blob is not 172 bytes"));
        }
        let bytes = B64
            .decode(compact.as_bytes())
            .map_err(|_| bad("time zone blob is not base64"))?;
        Self::from_bytes(&bytes)
    }

    /// The base64 form.
    pub fn to_base64(&self) -> String {
        general_purpose::STANDARD.encode(self.to_bytes())
    }

    /// The blob for `tz` in `year`, from the zone's real transitions in that year. Names stay
    /// empty. A year without a change to and from daylight time gives a blob without dates,
    /// holding the offset in force at the end of the year.
    pub fn for_zone(tz: &TimeZone, year: i16) -> Result<Self, Error> {
        let range = |y: i16| -> Option<Timestamp> {
            let d = Date::new(y, 1, 1).ok()?;
            TimeZone::UTC
                .to_timestamp(d.to_datetime(Time::midnight()))
                .ok()
        };
        let start = range(year).ok_or(Error::Unencodable("year outside the calendar"))?;
        let end = year
            .checked_add(1)
            .and_then(range)
            .ok_or(Error::Unencodable("year outside the calendar"))?;
        let before = |t: Timestamp| {
            tz.to_offset(
                t.checked_sub(SignedDuration::from_secs(1))
                    .unwrap_or(Timestamp::MIN),
            )
        };
        // Last change to a larger offset (into daylight time) and to a smaller one (out of
        // it): offsets, not the zone's DST flag, since tzdb marks Europe/Dublin's winter as
        // "DST" with a negative save.
        let mut spring: Option<(Timestamp, Offset, Offset)> = None;
        let mut fall: Option<(Timestamp, Offset, Offset)> = None;
        for t in tz
            .following(start)
            .take_while(|t| t.timestamp() < end)
            .take(MAX_TRANSITIONS_PER_YEAR)
        {
            let (prev, next) = (before(t.timestamp()), t.offset());
            if next > prev {
                spring = Some((t.timestamp(), prev, next));
            } else if next < prev {
                fall = Some((t.timestamp(), prev, next));
            }
        }
        let (Some(spring), Some(fall)) = (spring, fall) else {
            return Ok(Self::fixed(minutes(before(end))));
        };
        let rule = |(at, prev, _): (Timestamp, Offset, Offset)| -> SystemTime {
            let local: DateTime = prev.to_datetime(at);
            let (week, dow) = week_of_month(local.date());
            SystemTime {
                year: 0,
                month: local.month().unsigned_abs().into(),
                day_of_week: dow,
                day: week.into(),
                hour: local.hour().unsigned_abs().into(),
                minute: local.minute().unsigned_abs().into(),
                second: local.second().unsigned_abs().into(),
                milliseconds: 0,
            }
        };
        let (std, dst) = (fall.2, spring.2);
        Ok(TimeZoneInfo {
            bias: -minutes(std),
            standard_name: String::new(),
            standard_date: rule(fall),
            standard_bias: 0,
            daylight_name: String::new(),
            daylight_date: rule(spring),
            daylight_bias: -(minutes(dst) - minutes(std)),
        })
    }

    /// The POSIX TZ string for the blob's rules (`STD-1DST,M3.5.0/2:00:00,M10.5.0/3:00:00`),
    /// or `None` when it has none.
    pub fn posix_string(&self) -> Option<String> {
        if !self.has_dst() {
            return None;
        }
        let std = self.bias.saturating_add(self.standard_bias);
        let dst = self.bias.saturating_add(self.daylight_bias);
        Some(format!(
            "<STD>{}<DST>{},{},{}",
            posix_offset(std),
            posix_offset(dst),
            self.daylight_date.posix_rule()?,
            self.standard_date.posix_rule()?,
        ))
    }

    /// The zone the blob describes: a fixed offset without rules, else a rule-based zone
    /// (either hemisphere). A blob that fails [`TimeZoneInfo::validate`] falls back to its
    /// standard offset, then to UTC.
    pub fn to_zone(&self) -> TimeZone {
        let fixed = || {
            Offset::from_seconds(self.bias.saturating_mul(-60))
                .map(TimeZone::fixed)
                .unwrap_or(TimeZone::UTC)
        };
        if self.validate().is_err() {
            return fixed();
        }
        match self.posix_string() {
            Some(p) => TimeZone::posix(&p).unwrap_or_else(|_| fixed()),
            None => fixed(),
        }
    }

    /// A common IANA zone whose offsets in `year` match this blob's, for naming a zone a
    /// client sent. Zones with the same rules are tried in [`COMMON_ZONES`] order.
    pub fn guess_iana(&self, year: i16) -> Option<&'static str> {
        let mine = self.to_zone();
        let probes = probe_instants(&mine, year)?;
        COMMON_ZONES.iter().copied().find(|name| {
            let Ok(tz) = TimeZone::get(name) else {
                return false;
            };
            let same = |t: &Timestamp| tz.to_offset(*t) == mine.to_offset(*t);
            probes.iter().all(same) && probe_instants(&tz, year).is_some_and(|p| p.iter().all(same))
        })
    }
}

/// Instants that tell two zones apart in `year`: mid-January, mid-July, and an hour either
/// side of each transition.
fn probe_instants(tz: &TimeZone, year: i16) -> Option<Vec<Timestamp>> {
    let at = |m: i8, d: i8| -> Option<Timestamp> {
        let date = Date::new(year, m, d).ok()?;
        TimeZone::UTC
            .to_timestamp(date.to_datetime(Time::midnight()))
            .ok()
    };
    let start = at(1, 1)?;
    let end = year.checked_add(1).and_then(|y| {
        let d = Date::new(y, 1, 1).ok()?;
        TimeZone::UTC
            .to_timestamp(d.to_datetime(Time::midnight()))
            .ok()
    })?;
    let mut out = vec![at(1, 15)?, at(7, 15)?];
    let hour = SignedDuration::from_hours(1);
    for t in tz
        .following(start)
        .take_while(|t| t.timestamp() < end)
        .take(MAX_TRANSITIONS_PER_YEAR)
    {
        let ts = t.timestamp();
        out.extend(ts.checked_sub(hour).ok());
        out.extend(ts.checked_add(hour).ok());
    }
    Some(out)
}

/// POSIX offsets count hours west of UTC, like the blob's bias.
fn posix_offset(bias: i32) -> String {
    let sign = if bias < 0 { "-" } else { "+" };
    let m = bias.unsigned_abs();
    format!("{sign}{}:{:02}", m / 60, m % 60)
}

/// Zones [`TimeZoneInfo::guess_iana`] tries, most wanted first: where two zones share their
/// rules, the first one is the name reported (Europe/Rome for central Europe).
pub const COMMON_ZONES: &[&str] = &[
    "UTC",
    "Europe/Rome",
    "Europe/London",
    "Europe/Athens",
    "Europe/Moscow",
    "Europe/Chisinau",
    "Atlantic/Azores",
    "Atlantic/Cape_Verde",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Africa/Cairo",
    "Africa/Casablanca",
    "Asia/Jerusalem",
    "Asia/Beirut",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Kabul",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Yangon",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Darwin",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Noumea",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Fiji",
    "Pacific/Tongatapu",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Phoenix",
    "America/Denver",
    "America/Chicago",
    "America/Mexico_City",
    "America/New_York",
    "America/Bogota",
    "America/Havana",
    "America/Halifax",
    "America/Caracas",
    "America/Santiago",
    "America/Asuncion",
    "America/St_Johns",
    "America/Sao_Paulo",
    "America/Noronha",
    "Etc/GMT+12",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_round_trip() {
        let tz = TimeZoneInfo::fixed(330);
        let bytes = tz.to_bytes();
        assert_eq!(bytes.len(), BLOB_LEN);
        assert_eq!(TimeZoneInfo::from_bytes(&bytes).unwrap(), tz);
        assert_eq!(TimeZoneInfo::from_base64(&tz.to_base64()).unwrap(), tz);
        assert_eq!(tz.to_zone().to_fixed_offset().unwrap().seconds(), 330 * 60);
    }

    #[test]
    fn names_are_cut_at_31_units_without_splitting_a_pair() {
        let tz = TimeZoneInfo {
            standard_name: format!("{}😀", "a".repeat(30)),
            ..Default::default()
        };
        let back = TimeZoneInfo::from_bytes(&tz.to_bytes()).unwrap();
        assert_eq!(back.standard_name, "a".repeat(30));
    }

    #[test]
    fn posix_string_shape() {
        let tz = TimeZoneInfo {
            bias: -60,
            standard_date: SystemTime::annual(10, 5, Weekday::Sunday, 3, 0),
            daylight_date: SystemTime::annual(3, 5, Weekday::Sunday, 2, 0),
            daylight_bias: -60,
            ..Default::default()
        };
        assert_eq!(
            tz.posix_string().unwrap(),
            "<STD>-1:00<DST>-2:00,M3.5.0/2:00:00,M10.5.0/3:00:00"
        );
    }
}
