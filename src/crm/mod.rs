//! The vtenext connector (CRM-API.md, issue 4): the web-service protocol as typed values
//! ([`wire`]) and the mapping between CRM records and [`crate::model`] items ([`map`]).
//!
//! Both modules are sans-io: the HTTP transport and the pull/write-back loops live elsewhere
//! and hand them status codes and bodies.

pub mod map;
pub mod wire;
