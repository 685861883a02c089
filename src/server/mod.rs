//! The application behind the HTTP front: authentication, provisioning, command dispatch to
//! the sync engine inside one store transaction, push, the demo data set, user administration
//! and the local control socket.

pub mod app;
pub mod control;
pub mod demo;
pub mod push;
pub mod reply;
pub mod users;

pub use app::{App, Settings};
