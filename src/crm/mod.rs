//! The CRM side of easbox: talking to vtenext's web service (shared/CRM-API.md).
//!
//! [`fake`] is an in-process stand-in for vtenext that answers like the recorded replies in
//! shared/fixtures/vtenext-replies/; tests and `easbox fake-crm` use it.

pub mod fake;
