//! Recurrence rules in the shape of RFC 5545 RRULE, restricted to what EAS can express
//! ([MS-ASCAL] 2.2.2.38, [MS-ASTASK] 2.2.2.19): one frequency, an interval, and at most one
//! of each BY-part.
//!
//! EAS's six recurrence types map onto this as:
//! daily (0) = `Daily` (with `weekdays` for "every weekday"), weekly (1) = `Weekly` + weekdays,
//! monthly (2) = `Monthly` + `month_day`, monthly on the Nth weekday (3) = `Monthly` +
//! `weekdays` + `set_pos`, yearly (5) = `Yearly` + `month` + `month_day`, yearly on the Nth
//! weekday (6) = `Yearly` + `month` + `weekdays` + `set_pos`. `set_pos` is 1–4 or −1 for "last"
//! (EAS writes last as WeekOfMonth 5).

use jiff::civil::Weekday;
use serde::{Deserialize, Serialize};

/// How often the rule repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// A set of weekdays: bit 0 = Sunday … bit 6 = Saturday (the EAS DayOfWeek mask).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
pub struct Weekdays(u8);

impl Weekdays {
    pub const EMPTY: Weekdays = Weekdays(0);
    /// Monday to Friday.
    pub const WORKDAYS: Weekdays = Weekdays(0b011_1110);
    pub const ALL: Weekdays = Weekdays(0b111_1111);

    /// From the EAS mask; bits above Saturday are dropped.
    pub const fn from_mask(mask: u8) -> Weekdays {
        Weekdays(mask & 0x7F)
    }

    pub const fn mask(self) -> u8 {
        self.0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn bit(day: Weekday) -> u8 {
        1 << day.to_sunday_zero_offset()
    }

    pub fn with(self, day: Weekday) -> Weekdays {
        Weekdays(self.0 | Self::bit(day))
    }

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & Self::bit(day) != 0
    }

    /// The days in the set, Sunday first.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        (0..7i8)
            .filter_map(|i| Weekday::from_sunday_zero_offset(i).ok())
            .filter(move |d| self.contains(*d))
    }
}

impl FromIterator<Weekday> for Weekdays {
    fn from_iter<I: IntoIterator<Item = Weekday>>(iter: I) -> Self {
        iter.into_iter().fold(Weekdays::EMPTY, Weekdays::with)
    }
}

/// Where a series stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RecurrenceEnd {
    #[default]
    Never,
    /// After this many occurrences (COUNT).
    Count(u32),
    /// No occurrence starts after this instant (UNTIL).
    Until(jiff::Timestamp),
}

/// A recurrence rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    pub frequency: Frequency,
    /// Every `interval` days/weeks/months/years; at least 1.
    pub interval: u16,
    /// BYDAY without ordinals; with `set_pos` it names the weekday(s) of "the Nth …".
    pub weekdays: Weekdays,
    /// BYSETPOS: 1–4, or −1 for the last.
    pub set_pos: Option<i8>,
    /// BYMONTHDAY: 1–31.
    pub month_day: Option<u8>,
    /// BYMONTH: 1–12.
    pub month: Option<u8>,
    pub end: RecurrenceEnd,
    /// WKST; EAS FirstDayOfWeek (14.1+).
    #[serde(with = "weekday_serde")]
    pub week_start: Option<Weekday>,
    /// A non-Gregorian calendar (EAS CalendarType other than default/Gregorian, RFC 7529
    /// RSCALE); kept so a round trip does not lose it.
    pub calendar_type: Option<u8>,
    /// The Chinese/Hebrew leap month (EAS IsLeapMonth, RFC 7529 `L` suffix).
    pub leap_month: bool,
}

impl Recurrence {
    /// A rule with the given frequency, interval 1, no BY-parts, no end.
    pub fn new(frequency: Frequency) -> Self {
        Recurrence {
            frequency,
            interval: 1,
            weekdays: Weekdays::EMPTY,
            set_pos: None,
            month_day: None,
            month: None,
            end: RecurrenceEnd::Never,
            week_start: None,
            calendar_type: None,
            leap_month: false,
        }
    }
}

/// `Weekday` has no serde form in jiff; it is stored as its Sunday-zero offset (0–6).
mod weekday_serde {
    use jiff::civil::Weekday;
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

    pub fn serialize<S: Serializer>(d: &Option<Weekday>, se: S) -> Result<S::Ok, S::Error> {
        d.map(Weekday::to_sunday_zero_offset).serialize(se)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Weekday>, D::Error> {
        match Option::<i8>::deserialize(de)? {
            None => Ok(None),
            Some(n) => Weekday::from_sunday_zero_offset(n)
                .map(Some)
                .map_err(de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekday_mask_matches_eas() {
        // [MS-ASCAL] 2.2.2.16: Sunday 1, Monday 2, … Saturday 64.
        assert_eq!(Weekdays::EMPTY.with(Weekday::Sunday).mask(), 1);
        assert_eq!(Weekdays::EMPTY.with(Weekday::Saturday).mask(), 64);
        let w: Weekdays = [Weekday::Monday, Weekday::Friday].into_iter().collect();
        assert_eq!(w.mask(), 2 | 32);
        assert_eq!(
            w.iter().collect::<Vec<_>>(),
            [Weekday::Monday, Weekday::Friday]
        );
        assert_eq!(Weekdays::WORKDAYS.iter().count(), 5);
        assert!(!Weekdays::WORKDAYS.contains(Weekday::Sunday));
        assert_eq!(Weekdays::from_mask(0xFF), Weekdays::ALL);
    }
}
