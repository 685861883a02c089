//! PLACEHOLDER: replaced by the real module at merge

use super::client::Client;
use super::wire::CrmError;
use crate::store::{ReadTxn, Store, StoreError};
use std::collections::BTreeSet;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct DrainReport {
    pub written: u32,
    pub conflicts: u32,
    pub failed: u32,
    pub pending: u32,
    pub users_changed: BTreeSet<String>,
}

pub type UserClients<'a> = &'a (dyn Fn(&str) -> Option<Arc<Client>> + Send + Sync);

pub async fn drain(
    _admin: &Client,
    _as_user: UserClients<'_>,
    _store: &Arc<Store>,
) -> Result<DrainReport, CrmError> {
    Ok(DrainReport::default())
}

pub fn pending_len(_t: &ReadTxn) -> Result<u32, StoreError> {
    Ok(0)
}
