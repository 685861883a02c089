//! The application behind the HTTP front: authentication, provisioning, command dispatch to
//! the sync engine inside one store transaction, and push.

pub mod demo;
pub mod push;
pub mod reply;
