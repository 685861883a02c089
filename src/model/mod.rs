//! The domain items easbox carries between the CRM and phones, free of any wire format.
//!
//! `eas` and `crm` each translate these to and from their own form; the store persists them.
//! Dates are `jiff` civil dates, instants are `jiff::Timestamp`s and zones are real
//! `jiff::tz::TimeZone`s, so that no layer does date arithmetic on strings.
//!
//! The types derive serde for the store, which writes them with postcard: fields and enum
//! variants are encoded by position, so never reorder them; a new field or variant means a new
//! record format in `store` (see `store::codec`).

pub mod contact;
pub mod event;
pub mod recurrence;
pub mod task;

use serde::{Deserialize, Serialize};

pub use contact::Contact;
pub use event::Event;
pub use recurrence::{Frequency, Recurrence, RecurrenceEnd, Weekdays};
pub use task::Task;

/// Any item of a folder.
// A contact is ~1.5 KB of optional fields; items are moved one at a time, never kept in bulk
// arrays, so boxing it would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Item {
    Contact(Contact),
    Event(Event),
    Task(Task),
}

/// Who may see an event or task ([MS-ASCAL] 2.2.2.41, [MS-ASTASK] 2.2.2.24).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Sensitivity {
    #[default]
    Normal,
    Personal,
    Private,
    Confidential,
}
