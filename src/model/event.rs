//! A calendar event: what [MS-ASCAL] 2.2.2 carries and a CRM stores, free of the wire format.
//!
//! Timed events hold instants and the zone they are shown in; all-day events hold civil dates,
//! so that no conversion can move them to another day (EAS-NOTES §3 row 4). A recurring
//! event has a [`Recurrence`] and [`Exception`]s keyed by the original start of the
//! occurrence they replace.

use super::{Recurrence, Sensitivity};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// Most categories one event (or exception) carries; the EAS schema allows 300.
pub const MAX_CATEGORIES: u32 = 300;
/// Most attendees one event (or exception) carries.
pub const MAX_ATTENDEES: u32 = 500;
/// Most exceptions of one series; [MS-ASCAL] 2.2.2.21 allows 256 per `Exceptions`.
pub const MAX_EXCEPTIONS: u32 = 256;

/// When an event takes place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventTime {
    Timed {
        start: Timestamp,
        end: Timestamp,
    },
    /// Whole days: `end` is exclusive, the day after the last day (a one-day event on the
    /// 15th is 15th..16th), as in EAS and iCalendar.
    AllDay {
        start: Date,
        end: Date,
    },
}

impl EventTime {
    pub fn is_all_day(&self) -> bool {
        matches!(self, EventTime::AllDay { .. })
    }
}

/// Free/busy status ([MS-ASCAL] 2.2.2.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BusyStatus {
    Free,
    Tentative,
    #[default]
    Busy,
    OutOfOffice,
    /// "Working elsewhere", EAS 16.0+.
    WorkingElsewhere,
}

impl BusyStatus {
    pub const fn as_u8(self) -> u8 {
        match self {
            BusyStatus::Free => 0,
            BusyStatus::Tentative => 1,
            BusyStatus::Busy => 2,
            BusyStatus::OutOfOffice => 3,
            BusyStatus::WorkingElsewhere => 4,
        }
    }

    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => BusyStatus::Free,
            1 => BusyStatus::Tentative,
            2 => BusyStatus::Busy,
            3 => BusyStatus::OutOfOffice,
            4 => BusyStatus::WorkingElsewhere,
            _ => return None,
        })
    }
}

/// Whether the event is a meeting and who organises it ([MS-ASCAL] 2.2.2.29). EAS sends
/// 9, 11, 13 and 15 as synonyms of 1, 3, 5 and 7; they are read as those.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MeetingStatus {
    /// An appointment without attendees.
    #[default]
    Appointment,
    /// A meeting the user organises.
    Organizer,
    /// A meeting received from someone else.
    Received,
    /// A meeting the user organised, cancelled.
    Canceled,
    /// A received meeting, cancelled by its organiser.
    CanceledReceived,
}

impl MeetingStatus {
    pub const fn as_u8(self) -> u8 {
        match self {
            MeetingStatus::Appointment => 0,
            MeetingStatus::Organizer => 1,
            MeetingStatus::Received => 3,
            MeetingStatus::Canceled => 5,
            MeetingStatus::CanceledReceived => 7,
        }
    }

    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => MeetingStatus::Appointment,
            1 | 9 => MeetingStatus::Organizer,
            3 | 11 => MeetingStatus::Received,
            5 | 13 => MeetingStatus::Canceled,
            7 | 15 => MeetingStatus::CanceledReceived,
            _ => return None,
        })
    }
}

/// The user's answer to a meeting ([MS-ASCAL] 2.2.2.38 ResponseType).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseType {
    None,
    Organizer,
    Tentative,
    Accepted,
    Declined,
    NotResponded,
}

impl ResponseType {
    pub const fn as_u8(self) -> u8 {
        match self {
            ResponseType::None => 0,
            ResponseType::Organizer => 1,
            ResponseType::Tentative => 2,
            ResponseType::Accepted => 3,
            ResponseType::Declined => 4,
            ResponseType::NotResponded => 5,
        }
    }

    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => ResponseType::None,
            1 => ResponseType::Organizer,
            2 => ResponseType::Tentative,
            3 => ResponseType::Accepted,
            4 => ResponseType::Declined,
            5 => ResponseType::NotResponded,
            _ => return None,
        })
    }
}

/// An attendee's answer ([MS-ASCAL] 2.2.2.4 AttendeeStatus).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttendeeStatus {
    Unknown,
    Tentative,
    Accepted,
    Declined,
    NotResponded,
}

impl AttendeeStatus {
    pub const fn as_u8(self) -> u8 {
        match self {
            AttendeeStatus::Unknown => 0,
            AttendeeStatus::Tentative => 2,
            AttendeeStatus::Accepted => 3,
            AttendeeStatus::Declined => 4,
            AttendeeStatus::NotResponded => 5,
        }
    }

    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => AttendeeStatus::Unknown,
            2 => AttendeeStatus::Tentative,
            3 => AttendeeStatus::Accepted,
            4 => AttendeeStatus::Declined,
            5 => AttendeeStatus::NotResponded,
            _ => return None,
        })
    }
}

/// An attendee's role ([MS-ASCAL] 2.2.2.5 AttendeeType).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttendeeType {
    Required,
    Optional,
    Resource,
}

impl AttendeeType {
    pub const fn as_u8(self) -> u8 {
        match self {
            AttendeeType::Required => 1,
            AttendeeType::Optional => 2,
            AttendeeType::Resource => 3,
        }
    }

    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => AttendeeType::Required,
            2 => AttendeeType::Optional,
            3 => AttendeeType::Resource,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attendee {
    pub email: String,
    pub name: String,
    pub status: Option<AttendeeStatus>,
    pub kind: Option<AttendeeType>,
}

/// One occurrence of a series that was deleted or changed. Every `None` means "as the
/// series".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    /// The start the occurrence had in the series (for all-day series: midnight of its day in
    /// the event's zone).
    pub original_start: Timestamp,
    pub deleted: bool,
    pub subject: Option<String>,
    pub location: Option<String>,
    pub notes: Option<String>,
    pub time: Option<EventTime>,
    pub reminder: Option<u32>,
    pub busy_status: Option<BusyStatus>,
    pub sensitivity: Option<Sensitivity>,
    pub categories: Option<Vec<String>>,
    pub meeting_status: Option<MeetingStatus>,
    pub attendees: Option<Vec<Attendee>>,
    pub response_type: Option<ResponseType>,
}

impl Exception {
    /// An exception that changes nothing yet.
    pub fn new(original_start: Timestamp) -> Self {
        Exception {
            original_start,
            deleted: false,
            subject: None,
            location: None,
            notes: None,
            time: None,
            reminder: None,
            busy_status: None,
            sensitivity: None,
            categories: None,
            meeting_status: None,
            attendees: None,
            response_type: None,
        }
    }

    /// The occurrence at `original_start` is deleted.
    pub fn deleted(original_start: Timestamp) -> Self {
        Exception {
            deleted: true,
            ..Exception::new(original_start)
        }
    }
}

/// A calendar event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub subject: String,
    pub location: String,
    /// Plain-text notes (the EAS body).
    pub notes: String,
    pub time: EventTime,
    /// The zone the event is shown in: for timed events, the zone of its recurrence; for
    /// all-day events, the zone EAS 14.x places their midnights in.
    #[serde(with = "tz_serde")]
    pub time_zone: TimeZone,
    /// Minutes before the start; `None` = no reminder.
    pub reminder: Option<u32>,
    pub busy_status: BusyStatus,
    pub sensitivity: Sensitivity,
    pub categories: Vec<String>,
    pub attendees: Vec<Attendee>,
    pub organizer_name: Option<String>,
    pub organizer_email: Option<String>,
    pub meeting_status: MeetingStatus,
    pub response_requested: Option<bool>,
    pub response_type: Option<ResponseType>,
    pub disallow_new_time_proposal: bool,
    /// The iCalendar UID of the event or series.
    pub uid: Option<String>,
    /// The client's own id for an event it created (EAS 16.0+ ClientUid).
    pub client_uid: Option<String>,
    /// When the event was created or last modified.
    pub dt_stamp: Option<Timestamp>,
    pub recurrence: Option<Recurrence>,
    /// Deleted or changed occurrences, at most one per original start.
    pub exceptions: Vec<Exception>,
}

impl Default for Event {
    fn default() -> Self {
        Event {
            subject: String::new(),
            location: String::new(),
            notes: String::new(),
            time: EventTime::Timed {
                start: Timestamp::UNIX_EPOCH,
                end: Timestamp::UNIX_EPOCH,
            },
            time_zone: TimeZone::UTC,
            reminder: None,
            busy_status: BusyStatus::default(),
            sensitivity: Sensitivity::default(),
            categories: Vec::new(),
            attendees: Vec::new(),
            organizer_name: None,
            organizer_email: None,
            meeting_status: MeetingStatus::default(),
            response_requested: None,
            response_type: None,
            disallow_new_time_proposal: false,
            uid: None,
            client_uid: None,
            dt_stamp: None,
            recurrence: None,
            exceptions: Vec::new(),
        }
    }
}

impl Event {
    /// A timed event.
    pub fn timed(subject: &str, start: Timestamp, end: Timestamp, time_zone: TimeZone) -> Self {
        Event {
            subject: subject.to_owned(),
            time: EventTime::Timed { start, end },
            time_zone,
            ..Event::default()
        }
    }

    /// An all-day event from `start` to `end` (exclusive).
    pub fn all_day(subject: &str, start: Date, end: Date, time_zone: TimeZone) -> Self {
        Event {
            subject: subject.to_owned(),
            time: EventTime::AllDay { start, end },
            time_zone,
            ..Event::default()
        }
    }

    /// The exception for the occurrence that started at `original_start`, if any.
    pub fn exception(&self, original_start: Timestamp) -> Option<&Exception> {
        self.exceptions
            .iter()
            .find(|x| x.original_start == original_start)
    }
}

/// The stored form of a zone: its IANA name when it has one, else a POSIX TZ string or a fixed
/// offset (jiff's Temporal time zone syntax). A zone with none of these (a system zone that is
/// no tzdb link) is stored as the fixed offset in effect when it is written: a write must not
/// fail on a zone, and such a zone never comes from a client or the CRM, which name theirs.
mod tz_serde {
    use jiff::Timestamp;
    use jiff::fmt::temporal::{DateTimeParser, DateTimePrinter};
    use jiff::tz::TimeZone;
    use serde::{Deserialize, Deserializer, Serializer, de};

    static PRINTER: DateTimePrinter = DateTimePrinter::new();
    static PARSER: DateTimeParser = DateTimeParser::new();

    pub(super) fn to_name(tz: &TimeZone) -> String {
        let mut s = String::new();
        // A TZif zone carries whatever name it was given, which need not be a tzdb name: only
        // a name that reads back is kept.
        if PRINTER.print_time_zone(tz, &mut s).is_ok() && PARSER.parse_time_zone(&s).is_ok() {
            return s;
        }
        s.clear();
        let fixed = TimeZone::fixed(tz.to_offset(Timestamp::now()));
        match PRINTER.print_time_zone(&fixed, &mut s) {
            Ok(()) => s,
            Err(_) => "UTC".to_owned(),
        }
    }

    pub fn serialize<S: Serializer>(tz: &TimeZone, se: S) -> Result<S::Ok, S::Error> {
        se.serialize_str(&to_name(tz))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<TimeZone, D::Error> {
        let s = String::deserialize(de)?;
        PARSER.parse_time_zone(&s).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_codes_round_trip() {
        for v in 0..=20u8 {
            if let Some(b) = BusyStatus::from_u8(v) {
                assert_eq!(b.as_u8(), v);
            }
            if let Some(r) = ResponseType::from_u8(v) {
                assert_eq!(r.as_u8(), v);
            }
            if let Some(s) = AttendeeStatus::from_u8(v) {
                assert_eq!(s.as_u8(), v);
            }
            if let Some(t) = AttendeeType::from_u8(v) {
                assert_eq!(t.as_u8(), v);
            }
            if let Some(m) = MeetingStatus::from_u8(v) {
                assert!(m.as_u8() == v || m.as_u8() + 8 == v);
            }
        }
        assert_eq!(BusyStatus::from_u8(5), None);
        assert_eq!(MeetingStatus::from_u8(2), None);
        assert_eq!(
            MeetingStatus::from_u8(15),
            Some(MeetingStatus::CanceledReceived)
        );
        assert_eq!(AttendeeStatus::from_u8(1), None);
        assert_eq!(AttendeeType::from_u8(0), None);
    }

    #[test]
    fn zones_keep_their_name_through_serde() {
        let named = TimeZone::get("Europe/Rome").unwrap();
        assert_eq!(tz_serde::to_name(&named), "Europe/Rome");
        let posix = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
        let fixed = TimeZone::fixed(jiff::tz::offset(-3));
        for tz in [named, posix, fixed, TimeZone::UTC] {
            let e = Event::timed(
                "x",
                Timestamp::UNIX_EPOCH,
                Timestamp::UNIX_EPOCH,
                tz.clone(),
            );
            let bytes = postcard::to_stdvec(&e).unwrap();
            let back: Event = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back, e);
            assert_eq!(back.time_zone.iana_name(), tz.iana_name());
        }
        // A zone whose name is no tzdb name falls back to an offset instead of failing, and
        // what is stored reads back.
        let tzif = std::fs::read("/usr/share/zoneinfo/Europe/Rome").unwrap_or_default();
        if let Ok(tz) = TimeZone::tzif("Not/AZone", &tzif) {
            let e = Event::timed("x", Timestamp::UNIX_EPOCH, Timestamp::UNIX_EPOCH, tz);
            let bytes = postcard::to_stdvec(&e).unwrap();
            let back: Event = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back.time_zone.iana_name(), None);
        }
        let unnamed = TimeZone::fixed(jiff::tz::offset(2));
        assert_eq!(tz_serde::to_name(&unnamed), "+02:00");
    }
}
