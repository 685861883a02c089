//! A task: the element set of [MS-ASTASK] 2.2.2, free of any wire format.
//!
//! Optional elements are `Option`s so that "not said" (a ghosted field in a client's Change)
//! differs from "said"; `Complete` is required by [MS-ASTASK] 2.2.2 Complete and is a plain `bool`.

use super::{Recurrence, Sensitivity};
use jiff::Timestamp;
use jiff::civil::DateTime;
use serde::{Deserialize, Serialize};

/// Most categories a task keeps (the `Category` maxOccurs of Microsoft's Tasks.xsd).
pub const MAX_CATEGORIES: u32 = 300;

/// How important the task is ([MS-ASTASK] 2.2.2 Importance: 0 low, 1 normal, 2 high).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Importance {
    Low,
    #[default]
    Normal,
    High,
}

/// A task's start or due date.
///
/// EAS carries each twice ([MS-ASTASK] 2.2.2 StartDate/UtcStartDate, DueDate/UtcDueDate): once as the UTC
/// instant and once as the user's wall-clock time written as if it were UTC. Keeping both is
/// the only way to give a phone back what it sent without knowing its zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDate {
    /// The instant (UtcStartDate / UtcDueDate).
    pub utc: Timestamp,
    /// The user's wall-clock time at that instant (StartDate / DueDate).
    pub local: DateTime,
}

impl TaskDate {
    /// A date given only as an instant: the wall clock is taken to be UTC's.
    pub fn from_utc(utc: Timestamp) -> TaskDate {
        TaskDate {
            utc,
            local: jiff::tz::Offset::UTC.to_datetime(utc),
        }
    }
}

/// A task's recurrence: the rule plus what [MS-ASTASK] 2.2.2.19 adds for tasks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecurrence {
    pub rule: Recurrence,
    /// Start of the first occurrence (Tasks:Start).
    pub start: Option<Timestamp>,
    /// The next occurrence is computed from the completion date, not from the series.
    pub regenerate: bool,
    /// The task occurs only once more.
    pub dead_occur: bool,
}

/// A task.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Task {
    pub subject: Option<String>,
    /// Notes as plain text.
    pub notes: Option<String>,
    pub importance: Option<Importance>,
    pub start: Option<TaskDate>,
    pub due: Option<TaskDate>,
    /// At most [`MAX_CATEGORIES`]; `Some(vec![])` clears the list.
    pub categories: Option<Vec<String>>,
    pub recurrence: Option<TaskRecurrence>,
    pub complete: bool,
    /// When the task was completed. [MS-ASTASK] 2.2.2 DateCompleted requires it in what the
    /// server sends whenever `complete` is set; clients may leave it out, so the sync layer
    /// fills it in (it knows the time) before such a task is sent on.
    pub date_completed: Option<Timestamp>,
    pub sensitivity: Option<Sensitivity>,
    /// Whether the reminder is on; the time may be kept while it is off.
    pub reminder_set: Option<bool>,
    pub reminder_time: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_utc_uses_the_utc_wall_clock() {
        let ts: Timestamp = "2024-03-05T10:30:00Z".parse().unwrap();
        let d = TaskDate::from_utc(ts);
        assert_eq!(d.local, jiff::civil::date(2024, 3, 5).at(10, 30, 0, 0));
        assert_eq!(d.utc, ts);
    }
}
