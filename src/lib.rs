//! easbox: an Exchange ActiveSync server that keeps phones in step with a vtenext CRM.
//!
//! Layout (see `README.md` and the design notes for the why):
//!
//! | module | what it owns |
//! |---|---|
//! | [`wbxml`] | WBXML 1.3 tokens, the 26 EAS code pages, a borrowing decoder, a capped encoder |
//! | [`model`] | domain items: Contact, Event (recurrence, exceptions, zone), Task |
//! | [`eas`] | MS-ASHTTP request line, typed commands and status codes, the EAS form of items |
//! | [`auth`] | secrets, argon2id hashes, the verified-password cache, failed-login lockout |
//! | [`store`] | redb tables (all in `store::schema`), schema version + migrations, a `SyncStore` |
//! | [`tls`] | local CA and server certificate (rcgen), customer certificate, rustls server config |
//! | [`crm`] | vtenext: wire protocol, record mapping, a faithful fake CRM (`easbox fake-crm`) |
//! | [`systemd`] | sd_notify readiness and watchdog, logging to the journal or stderr |
//!
//! `wbxml`, `model`, `eas` and `auth` are sans-io: bytes or typed values in, bytes or typed
//! values out.
//! They import no tokio, hyper or redb (a test greps for that).
#![forbid(unsafe_code)]

pub mod auth;
pub mod crm;
pub mod eas;
pub mod http;
pub mod model;
pub mod server;
pub mod store;
pub mod sync;
pub mod systemd;
pub mod tls;
pub mod wbxml;
