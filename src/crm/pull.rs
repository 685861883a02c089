//! PLACEHOLDER: replaced by the real module at merge

use super::Module;
use super::client::Client;
use super::wire::CrmError;
use crate::store::Store;
use std::collections::BTreeSet;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullMethod {
    VteSync,
    Sync,
    Query,
}

impl PullMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PullMethod::VteSync => "vtesync",
            PullMethod::Sync => "sync",
            PullMethod::Query => "query",
        }
    }
}

#[derive(Debug, Default)]
pub struct PullReport {
    pub users_changed: BTreeSet<String>,
    pub applied: u32,
    pub deleted: u32,
    pub methods: Vec<(Module, PullMethod)>,
    pub skipped: Vec<(String, String)>,
}

pub async fn pull(
    _client: &Client,
    _store: &Arc<Store>,
    _modules: &[Module],
    _full_listing: bool,
) -> Result<PullReport, CrmError> {
    Ok(PullReport::default())
}
