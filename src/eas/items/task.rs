//! PLACEHOLDER: replaced by the items work.

use super::Context;
use crate::eas::Error;
use crate::model::Task;
use crate::wbxml::{Element, Encoder, OwnedElement};

pub fn decode(
    e: &Element<'_>,
    _ctx: &Context<'_>,
    _unknown: &mut Vec<OwnedElement>,
) -> Result<Task, Error> {
    Err(Error::BadValue {
        tag: e.tag,
        why: "not yet implemented",
    })
}

pub fn encode(_item: &Task, _w: &mut Encoder<'_>, _ctx: &Context<'_>) -> Result<(), Error> {
    Err(Error::Unencodable("not yet implemented"))
}
