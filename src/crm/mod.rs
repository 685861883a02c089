//! The vtenext connector (shared/CRM-API.md, issue 4).
//!
//! - [`wire`]: the web-service protocol as typed values (sans-io).
//! - [`map`]: CRM records ⇄ [`crate::model`] items, with the CRM's three time zones (sans-io).
//! - [`fake`]: an in-process stand-in for vtenext that answers like the recorded replies in
//!   shared/fixtures/vtenext-replies/; tests and `easbox fake-crm` use it.
//!
//! The HTTP transport, the pull and the write-back outbox come next.

pub mod fake;
pub mod map;
pub mod wire;
