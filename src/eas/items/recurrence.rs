//! PLACEHOLDER: EAS recurrence ([MS-ASCAL] 2.2.2.38, [MS-ASTASK] 2.2.2.19), replaced by the
//! event work. The signatures below are the contract the task code relies on.

use super::Context;
use crate::eas::Error;
use crate::model::Recurrence;
use crate::wbxml::{Element, Encoder};

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

/// Reads a `Recurrence` element (of either page).
pub fn decode(
    e: &Element<'_>,
    _flavor: Flavor,
    _ctx: &Context<'_>,
) -> Result<(Recurrence, TaskExtras), Error> {
    Err(Error::BadValue {
        tag: e.tag,
        why: "not yet implemented",
    })
}

/// Writes `<Recurrence>…</Recurrence>` on the flavor's page; `extras` only for tasks.
pub fn encode(
    _r: &Recurrence,
    _extras: &TaskExtras,
    _w: &mut Encoder<'_>,
    _flavor: Flavor,
    _ctx: &Context<'_>,
) -> Result<(), Error> {
    Err(Error::Unencodable("not yet implemented"))
}
