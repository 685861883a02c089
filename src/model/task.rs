//! PLACEHOLDER: replaced by the items work.

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Task {}
