//! The vtenext connector (shared/CRM-API.md, issue 4).
//!
//! - [`wire`]: the web-service protocol as typed values (sans-io).
//! - [`map`]: CRM records ⇄ [`crate::model`] items, with the CRM's three time zones (sans-io).
//! - [`fake`]: an in-process stand-in for vtenext that answers like the recorded replies in
//!   shared/fixtures/vtenext-replies/; tests and `easbox fake-crm` use it.
//!
//! - [`client`]: HTTP to `webservice.php`, the integration user's session, `login_pwd`.

pub mod client;
pub mod fake;
pub mod map;
pub mod wire;
