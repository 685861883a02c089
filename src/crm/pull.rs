//! The connector's pull: CRM changes of every user into the box store (issue 4; CRM-API §2.7
//! query, §2.8 sync, §2.9 vtesync.get_changes, §3 time zones, §7 what sync users lose, §9
//! broken records).
//!
//! Per module, one cycle asks the changes of **all** users as the integration user (an
//! administrator) and files each record under its owner (`assigned_user_id` → the enabled box
//! user whose `CrmUser.crm_id` matches). The method is detected and remembered in the module's
//! cursor: `vtesync.get_changes` (best: deletes, zones), else vtiger `sync` with
//! `syncType=application`, else a `query` paged by modifiedtime (no deletes: only the id
//! listing finds them). Stock vtenext answers `sync` with HTTP 500 and an inactive VteSync
//! answers `get_changes` the same way (§0.2, §1), which is how detection tells them apart.
//!
//! Safety rules kept here:
//! - A failed, empty, malformed or partial reply never becomes a delete on the box. Deletes come
//!   only from ids the CRM reports deleted, and from a **complete** id listing
//!   (`full_listing`) whose missing ids a second query confirms one by one.
//! - Windows overlap ([`OVERLAP_SECS`]): `sync` compares at one-second resolution (§2.8 race),
//!   and records are de-duplicated by id and modifiedtime against `CRM_INDEX`, so an unchanged
//!   record is never written again and phones see no change.
//! - An item with a device change waiting in the outbox is left alone: the outbox applies the
//!   conflict rule.
//! - An update keeps what the CRM cannot hold ([`merge`]): the second e-mail, the picture, an
//!   event's attendees and exceptions, the opaque `unknown` elements.
//! - A contact's company is its Account's name (CRM-API §4 `account_id`→Accounts): the
//!   `account_id`s of a page are resolved with one query per page ([`ACCOUNT_IDS_PER_QUERY`]
//!   ids) through a per-cycle cache ([`MAX_ACCOUNT_NAMES`]). An id that does not resolve
//!   (a failed query, an account the integration user cannot see) leaves the company as the
//!   box has it; a failing Accounts query never stops the pull (a refusal is reported in
//!   `skipped` once and the cycle stops asking).
//! - A query page that fails because one record in it is broken (§9, "Invalid owner of the
//!   record") is narrowed down ([`fetch_narrowing`]) and the broken row is skipped and reported.

use super::Module;
use super::client::Client;
use super::map::{self, Ctx, DateFormat, Zones};
use super::wire::{self, ApiCode, CrmError, Op, Query, Record, Source, field};
use crate::model::event::MeetingStatus;
use crate::model::{Contact, Event, Item, Sensitivity, Task};
use crate::store::Store;
use crate::store::crm_index::CrmIndexEntry;
use crate::sync::{CrmRef, FolderId, Origin, StoredItem, SyncStore};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;

/// Seconds the window of each cycle reaches back before the cursor. `sync` compares
/// `modifiedtime > since` at one-second resolution, so a record written later in the same
/// second as the cursor is otherwise missed (§2.8); a few more seconds cover a CRM transaction
/// that commits after its modifiedtime was taken. Records seen again are de-duplicated.
pub const OVERLAP_SECS: i64 = 10;

/// Pages fetched per module per cycle; the rest waits for the next cycle, so one big import
/// cannot hold the connector (the outbox and the other modules get their turn).
pub const MAX_PAGES_PER_MODULE: u32 = 100;

/// Records handled per module per cycle (same reason as [`MAX_PAGES_PER_MODULE`]).
pub const MAX_RECORDS_PER_MODULE: u32 = 10_000;

/// Largest `maxEntries` asked of `get_changes`. When more than `maxEntries` records share the
/// cursor's second, `last_update` cannot move on; the page is asked again with twice the
/// entries, up to this, and beyond it that second is read with a paged query.
pub const MAX_GET_CHANGES_ENTRIES: u32 = 1_000;

/// How often a remembered method is checked again (a CRM upgrade may bring VteSync or a fixed
/// `sync`), and how often `describe` is asked again (date format, id prefix), seconds.
pub const REDETECT_SECS: i64 = 86_400;

/// Consecutive failures of a remembered method, of the kind an unknown operation gives (HTTP
/// 500), after which the next cycle detects the method again.
pub const METHOD_FAILURES_BEFORE_REDETECT: u32 = 3;

/// Pages of the id listing per module: 100,000 records. A longer listing is abandoned (no
/// deletes) and reported.
pub const MAX_LISTING_PAGES: u32 = 1_000;

/// Calls one narrowing of a failing query page may make (a page of 100 with one broken row
/// takes about 14).
pub const MAX_NARROWING_CALLS: u32 = 64;

/// Entries kept in [`PullReport::skipped`].
pub const MAX_SKIPPED: u32 = 100;

/// Account ids resolved per `Accounts` query (the ids of one page of contacts).
pub const ACCOUNT_IDS_PER_QUERY: u32 = wire::PAGE_ROWS;

/// Account names remembered during one cycle; beyond this, names are still resolved per page
/// but no longer remembered.
pub const MAX_ACCOUNT_NAMES: u32 = 2_000;

/// Records fetched by id per query after a listing (new to the box or moved).
pub const MAX_LISTING_FETCH: u32 = 10_000;

// The caps fit each other and the wire's own (checked at compile time).
const _: () = assert!(MAX_GET_CHANGES_ENTRIES <= wire::MAX_RECORDS_PER_REPLY);
const _: () = assert!(MAX_GET_CHANGES_ENTRIES >= wire::GET_CHANGES_MAX_ENTRIES);
const _: () = assert!(MAX_RECORDS_PER_MODULE >= wire::PAGE_ROWS);
const _: () = assert!(OVERLAP_SECS >= 1);
const _: () = assert!(ACCOUNT_IDS_PER_QUERY <= wire::MAX_IN_VALUES);

/// How a module's changes are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PullMethod {
    /// `vtesync.get_changes` (§2.9).
    VteSync,
    /// vtiger `sync` with `syncType=application` (§2.8).
    Sync,
    /// `query` paged by modifiedtime (§2.7).
    Query,
}

impl PullMethod {
    const ORDER: [PullMethod; 3] = [PullMethod::VteSync, PullMethod::Sync, PullMethod::Query];

    pub fn as_str(self) -> &'static str {
        match self {
            PullMethod::VteSync => "vtesync",
            PullMethod::Sync => "sync",
            PullMethod::Query => "query",
        }
    }
}

/// What one pull did.
#[derive(Debug, Default)]
pub struct PullReport {
    /// Box users whose folders changed: the caller wakes their Pings.
    pub users_changed: BTreeSet<String>,
    /// Records written (created, updated or moved) on the box.
    pub applied: u32,
    /// Items deleted on the box.
    pub deleted: u32,
    /// The method used per module.
    pub methods: Vec<(Module, PullMethod)>,
    /// Records (id, or row range) the CRM could not return or the box could not read, with
    /// the reason; at most [`MAX_SKIPPED`].
    pub skipped: Vec<(String, String)>,
}

impl PullReport {
    fn skip(&mut self, what: String, why: String) {
        if self.skipped.len() < MAX_SKIPPED as usize {
            log::warn!("CRM pull skipped {what}: {why}");
            self.skipped.push((what, why));
        }
    }
}

/// A module's pull state, kept in `CRM_CURSORS` (postcard).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
struct Cursor {
    method: Option<PullMethod>,
    /// Box clock, Unix seconds, of the last detection.
    detected_at: i64,
    /// Consecutive HTTP-500-like failures of `method`.
    failures: u32,
    /// Every change up to this CRM modifiedtime (Unix seconds) is on the box.
    position: Option<i64>,
    /// The server's zone (`get_changes.local_timezone`).
    server_tz: Option<String>,
    /// The integration user's date format (`describe`), as `dd-mm-yyyy`.
    date_format: Option<String>,
    /// `describe.idPrefix`.
    id_prefix: Option<String>,
    described_at: i64,
    /// Where a cycle stopped by the caps left off.
    resume: Option<Walk>,
}

impl Cursor {
    fn decode(bytes: Option<Vec<u8>>) -> Cursor {
        // An unreadable cursor only costs a full re-read: records are de-duplicated.
        bytes
            .and_then(|b| postcard::from_bytes(&b).ok())
            .unwrap_or_default()
    }

    fn encode(&self) -> Result<Vec<u8>, CrmError> {
        postcard::to_allocvec(self).map_err(store_err)
    }

    fn advance(&mut self, to: i64) {
        self.position = Some(self.position.map_or(to, |p| p.max(to)));
    }
}

/// Store failures travel as a transient error: the cycle is retried later.
fn store_err(e: impl std::fmt::Display) -> CrmError {
    CrmError::Transport(format!("local store: {e}"))
}

fn box_now() -> i64 {
    Timestamp::now().as_second()
}

/// An enabled box user, by CRM user id.
#[derive(Clone, Debug)]
struct Owner {
    name: String,
    tz: Option<TimeZone>,
}

struct Owners {
    enabled: HashMap<String, Owner>,
    /// Every CRM user's zone name, by CRM id (the integration user's among them).
    zones: HashMap<String, String>,
}

fn load_owners(store: &Store) -> Result<Owners, CrmError> {
    let r = store.read().map_err(store_err)?;
    let users: HashMap<String, bool> = r
        .list_users()
        .map_err(store_err)?
        .into_iter()
        .map(|(n, u)| (n, u.enabled))
        .collect();
    let mut enabled = HashMap::new();
    let mut zones = HashMap::new();
    for (name, cu) in r.crm_users().map_err(store_err)? {
        zones.insert(cu.crm_id.clone(), cu.tz.clone());
        if users.get(&name).copied().unwrap_or(false) {
            let tz = TimeZone::get(&cu.tz).ok();
            enabled.insert(cu.crm_id, Owner { name, tz });
        }
    }
    Ok(Owners { enabled, zones })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CrmError> + Send + 'static,
) -> Result<T, CrmError> {
    tokio::task::spawn_blocking(f).await.map_err(store_err)?
}

/// Pulls the changes of `modules` into `store`; with `full_listing`, also lists every id to
/// find purged and reassigned records (the caller does this every N cycles).
pub async fn pull(
    client: &Client,
    store: &Arc<Store>,
    modules: &[Module],
    full_listing: bool,
) -> Result<PullReport, CrmError> {
    pull_capped(client, store, modules, full_listing, Caps::DEFAULT).await
}

/// The per-cycle caps, a parameter so tests can use small ones.
#[derive(Clone, Copy, Debug)]
struct Caps {
    pages: u32,
    records: u32,
}

impl Caps {
    const DEFAULT: Caps = Caps {
        pages: MAX_PAGES_PER_MODULE,
        records: MAX_RECORDS_PER_MODULE,
    };
}

async fn pull_capped(
    client: &Client,
    store: &Arc<Store>,
    modules: &[Module],
    full_listing: bool,
    caps: Caps,
) -> Result<PullReport, CrmError> {
    let s = store.clone();
    let owners = Arc::new(blocking(move || load_owners(&s)).await?);
    let mut report = PullReport::default();
    let mut accounts = AccountNames::default();
    let modules: BTreeSet<Module> = modules.iter().copied().collect();
    let mut cursors = BTreeMap::new();
    for &m in &modules {
        let s = store.clone();
        let bytes = blocking(move || {
            s.read()
                .and_then(|r| r.crm_cursor(m.crm_name()))
                .map_err(store_err)
        })
        .await?;
        cursors.insert(m, Cursor::decode(bytes));
    }
    // The server's zone, once any module learned it.
    let mut server_tz: Option<String> = cursors.values().find_map(|c| c.server_tz.clone());
    for &m in &modules {
        let mut cur = cursors.remove(&m).unwrap_or_default();
        if cur.server_tz.is_none() {
            cur.server_tz = server_tz.clone();
        }
        let mut p = ModulePull {
            client,
            store,
            module: m,
            owners: owners.clone(),
            report: &mut report,
            caps,
            accounts: &mut accounts,
        };
        let method = p.changes(&mut cur).await?;
        if server_tz.is_none() {
            server_tz = cur.server_tz.clone();
        }
        if full_listing {
            p.listing(&mut cur).await?;
        }
        report.methods.push((m, method));
    }
    Ok(report)
}

/// One page of changes, whatever the method.
struct Page {
    source: Source,
    records: Vec<Record>,
    deleted: Vec<String>,
    /// The zone of event times in `records` (`get_changes.user_timezone`: the caller's).
    reply_user_tz: Option<TimeZone>,
}

/// Where the walk through a module's changes stands. Kept in the cursor when a cycle stops at
/// its caps, so the next one goes on exactly there (a window reaching back by
/// [`OVERLAP_SECS`] would re-read the same capped page for ever).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Walk {
    VteSync {
        from: i64,
        max: u32,
    },
    Sync {
        since: i64,
    },
    /// `modifiedtime >= from` (none: all), skipping `skip` rows of that order.
    Query {
        from: Option<i64>,
        skip: u32,
    },
}

impl Walk {
    fn method(self) -> PullMethod {
        match self {
            Walk::VteSync { .. } => PullMethod::VteSync,
            Walk::Sync { .. } => PullMethod::Sync,
            Walk::Query { .. } => PullMethod::Query,
        }
    }
}

fn is_unsupported(e: &CrmError) -> bool {
    match e {
        CrmError::Http(500) => true,
        CrmError::Api { code, .. } => matches!(
            code,
            ApiCode::UnknownOperation | ApiCode::OperationNotSupported | ApiCode::AccessDenied
        ),
        _ => false,
    }
}

/// A query error that one broken record can cause (§9): worth narrowing down.
fn is_narrowable(e: &CrmError) -> bool {
    match e {
        CrmError::Api { code, .. } => {
            !e.is_transient()
                && !code.is_session_lost()
                && !code.is_credential_failure()
                && *code != ApiCode::QuerySyntaxError
        }
        _ => false,
    }
}

/// Rows of a query fetched through `fetch(lo, hi)` (rows `lo..hi` of a stable order), with
/// the rows that made it fail skipped.
#[derive(Debug)]
pub struct Narrowed<T> {
    pub rows: Vec<T>,
    /// Indexes whose single-row fetch failed, with the error.
    pub skipped: Vec<(u32, CrmError)>,
}

/// Fetches rows `lo..hi`. When a fetch fails with an error one broken record can cause (§9),
/// the range is halved until the failing rows are alone; those are skipped. Transient errors
/// end it with that error, as does a range where nothing at all could be read (then the error
/// is not one record's) or more than [`MAX_NARROWING_CALLS`] calls.
pub async fn fetch_narrowing<T, F, Fut>(
    lo: u32,
    hi: u32,
    mut fetch: F,
) -> Result<Narrowed<T>, CrmError>
where
    F: FnMut(u32, u32) -> Fut,
    Fut: Future<Output = Result<Vec<T>, CrmError>>,
{
    let mut out = Narrowed {
        rows: Vec::new(),
        skipped: Vec::new(),
    };
    let mut stack = vec![(lo, hi)];
    let mut calls = 0u32;
    let mut any_ok = false;
    let mut first_err: Option<CrmError> = None;
    while let Some((a, b)) = stack.pop() {
        if a >= b {
            continue;
        }
        calls += 1;
        if calls > MAX_NARROWING_CALLS {
            return Err(first_err.unwrap_or_else(|| {
                CrmError::BadRequest("narrowing a failing query took too many calls".into())
            }));
        }
        match fetch(a, b).await {
            Ok(rows) => {
                any_ok = true;
                out.rows.extend(rows);
            }
            Err(e) if is_narrowable(&e) => {
                if b - a <= 1 {
                    out.skipped.push((a, e.clone()));
                } else {
                    let mid = a + (b - a) / 2;
                    // Left half first, so rows keep their order.
                    stack.push((mid, b));
                    stack.push((a, mid));
                }
                first_err.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if !any_ok && let Some(e) = first_err {
        return Err(e);
    }
    Ok(out)
}

async fn query_rows(client: &Client, q: &Query) -> Result<Vec<Record>, CrmError> {
    let v = client.call(|s| wire::query(s, q)).await?;
    wire::parse_query(v)
}

/// `Y-m-d H:i:s` of an instant in `tz`, as query compares modifiedtime (server zone, §3).
fn stamp(t: i64, tz: &TimeZone) -> String {
    let ts = Timestamp::from_second(t).unwrap_or(Timestamp::UNIX_EPOCH);
    map::to_local(ts, tz)
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A record as the box will file it.
struct Incoming {
    id: String,
    /// The enabled box user owning it; `None`: nobody on the box may have it.
    owner: Option<String>,
    mtime: i64,
    item: Option<Item>,
}

#[derive(Default)]
struct Applied {
    applied: u32,
    deleted: u32,
    users: BTreeSet<String>,
}

struct ModulePull<'a> {
    client: &'a Client,
    store: &'a Arc<Store>,
    module: Module,
    owners: Arc<Owners>,
    report: &'a mut PullReport,
    caps: Caps,
    accounts: &'a mut AccountNames,
}

/// Account id → name, learnt during one cycle.
#[derive(Default)]
struct AccountNames {
    names: HashMap<String, String>,
    /// The CRM refused an Accounts query: no more are asked this cycle.
    refused: bool,
}

impl AccountNames {
    /// Remembers a name while the cache has room ([`MAX_ACCOUNT_NAMES`]).
    fn remember(&mut self, id: &str, name: &str) {
        if u32::try_from(self.names.len()).unwrap_or(u32::MAX) < MAX_ACCOUNT_NAMES {
            self.names.insert(id.to_owned(), name.to_owned());
        }
    }
}

/// Whether `id` looks like a webservice id (`3x25`): anything else would make the whole IN
/// query fail.
fn is_ws_id(id: &str) -> bool {
    id.split_once('x').is_some_and(|(p, n)| {
        !p.is_empty()
            && !n.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

impl ModulePull<'_> {
    fn name(&self) -> &'static str {
        self.module.crm_name()
    }

    /// The names of the accounts the page's contacts refer to (see the module docs). Never
    /// fails: what cannot be resolved is missing from the map.
    async fn account_names(&mut self, records: &[Record]) -> HashMap<String, String> {
        let mut out = HashMap::new();
        if self.module != Module::Contacts {
            return out;
        }
        let mut want = Vec::new();
        for r in records {
            let Some(id) = field(r, "account_id").filter(|id| is_ws_id(id)) else {
                continue;
            };
            match self.accounts.names.get(id) {
                Some(n) => {
                    out.insert(id.to_owned(), n.clone());
                }
                None => want.push(id),
            }
        }
        want.sort_unstable();
        want.dedup();
        if self.accounts.refused {
            return out;
        }
        for chunk in want.chunks(ACCOUNT_IDS_PER_QUERY as usize) {
            let q = Query::fields("Accounts", &["id", "accountname"]).and_in("id", chunk);
            match query_rows(self.client, &q).await {
                Ok(rows) => {
                    for row in &rows {
                        let (Some(id), Some(name)) = (field(row, "id"), field(row, "accountname"))
                        else {
                            continue;
                        };
                        self.accounts.remember(id, name);
                        out.insert(id.to_owned(), name.to_owned());
                    }
                }
                Err(e) if e.is_transient() => {
                    log::warn!("CRM pull: account names not resolved this time: {e}");
                    return out;
                }
                Err(e) => {
                    self.report.skip("Accounts names".into(), e.to_string());
                    self.accounts.refused = true;
                    return out;
                }
            }
        }
        out
    }

    /// `describe` once a day: the integration user's date format and the id prefix.
    async fn describe(&mut self, cur: &mut Cursor) -> Result<(), CrmError> {
        let now = box_now();
        if cur.date_format.is_some()
            && cur.id_prefix.is_some()
            && now.saturating_sub(cur.described_at) < REDETECT_SECS
        {
            return Ok(());
        }
        let name = self.name();
        let d = wire::parse_describe(self.client.call(|s| Ok(wire::describe(s, name))).await?)?;
        cur.date_format = Some(d.date_format().unwrap_or("yyyy-mm-dd").to_owned());
        cur.id_prefix = Some(d.id_prefix);
        cur.described_at = now;
        Ok(())
    }

    fn date_format(cur: &Cursor) -> DateFormat {
        cur.date_format
            .as_deref()
            .and_then(DateFormat::parse)
            .unwrap_or(DateFormat::YMD)
    }

    /// The server's zone: learned from `get_changes`, else the integration user's when it logs
    /// in with an offset of 0 to the server (§3, "a safe connector rule").
    async fn server_tz(&mut self, cur: &mut Cursor) -> Result<TimeZone, CrmError> {
        if let Some(tz) = cur.server_tz.as_deref().and_then(|n| TimeZone::get(n).ok()) {
            return Ok(tz);
        }
        let session = self.client.session().await?;
        let unknown = || {
            CrmError::BadRecord(
                "the CRM server's time zone is unknown (no vtesync.get_changes, and the \
                 integration user's zone differs from the server's)"
                    .into(),
            )
        };
        if session.login.timezone_offset != 0 {
            return Err(unknown());
        }
        let id = session.login.user_id.clone();
        let mut name = self.owners.zones.get(&id).cloned().unwrap_or_default();
        if name.is_empty() {
            let q = Query::fields("Users", &["user_timezone"]).and("id", Op::Eq, &id);
            let rows = query_rows(self.client, &q).await?;
            name = rows
                .first()
                .and_then(|r| field(r, "user_timezone"))
                .unwrap_or("")
                .to_owned();
        }
        let tz = TimeZone::get(&name).map_err(|_| unknown())?;
        cur.server_tz = Some(name);
        Ok(tz)
    }

    /// Reads the module's changes since the cursor, detecting the method when needed.
    async fn changes(&mut self, cur: &mut Cursor) -> Result<PullMethod, CrmError> {
        self.describe(cur).await?;
        let now = box_now();
        let redetect = match cur.method {
            None => true,
            Some(PullMethod::VteSync) => cur.failures >= METHOD_FAILURES_BEFORE_REDETECT,
            Some(_) => {
                now.saturating_sub(cur.detected_at) >= REDETECT_SECS
                    || cur.failures >= METHOD_FAILURES_BEFORE_REDETECT
            }
        };
        let start = cur
            .position
            .map_or(0, |p| p.saturating_sub(OVERLAP_SECS).max(0));
        let candidates: Vec<PullMethod> = match (redetect, cur.method) {
            (false, Some(m)) => vec![m],
            _ => PullMethod::ORDER.to_vec(),
        };
        let mut walk = None;
        let mut last_err = None;
        let mut method = PullMethod::Query;
        // Detection: the first method whose first page works.
        for m in candidates.iter().copied() {
            let w = match cur.resume {
                Some(w) if !redetect && w.method() == m => w,
                _ => self.walk_start(m, start, cur),
            };
            match self.fetch(w, cur).await {
                Ok(first) => {
                    method = m;
                    walk = Some((w, first));
                    break;
                }
                Err(e) if redetect && is_unsupported(&e) && m != PullMethod::Query => {
                    log::info!("CRM {}: {} unavailable ({e})", self.name(), m.as_str());
                    last_err = Some(e);
                }
                Err(e) => {
                    last_err = Some(e);
                    break;
                }
            }
        }
        let Some((_, mut fetched)) = walk else {
            let e = last_err.unwrap_or(CrmError::Http(500));
            if !redetect && is_unsupported(&e) {
                cur.failures = cur.failures.saturating_add(1);
                self.save_cursor(cur).await?;
            }
            return Err(e);
        };
        if redetect || cur.method != Some(method) {
            log::info!("CRM {}: pulling with {}", self.name(), method.as_str());
            cur.detected_at = now;
        }
        cur.method = Some(method);
        cur.failures = 0;
        let mut pages = 0u32;
        let mut records = 0u32;
        loop {
            let (page, next) = fetched;
            pages += 1;
            records = records.saturating_add(u32::try_from(page.records.len()).unwrap_or(u32::MAX));
            let stop = pages >= self.caps.pages || records >= self.caps.records;
            // Saved with the page: a cycle stopped by the caps resumes exactly here.
            cur.resume = if stop { next.walk } else { None };
            self.apply(page, cur, next.position).await?;
            let Some(nw) = next.walk else { break };
            if stop {
                log::info!(
                    "CRM {}: {pages} pages, {records} records this cycle; the rest next cycle",
                    self.name()
                );
                break;
            }
            fetched = self.fetch(nw, cur).await?;
        }
        Ok(method)
    }

    fn walk_start(&self, m: PullMethod, start: i64, _cur: &Cursor) -> Walk {
        match m {
            PullMethod::VteSync => Walk::VteSync {
                from: start,
                max: wire::GET_CHANGES_MAX_ENTRIES,
            },
            PullMethod::Sync => Walk::Sync { since: start },
            PullMethod::Query => Walk::Query {
                from: (start > 0).then_some(start),
                skip: 0,
            },
        }
    }

    /// Fetches one page; says where the cursor may move after applying it and what to ask
    /// next (`None`: done for this cycle).
    async fn fetch(&mut self, w: Walk, cur: &mut Cursor) -> Result<(Page, Next), CrmError> {
        let name = self.name();
        match w {
            Walk::VteSync { from, max } => {
                let mut p = wire::GetChanges::since(
                    name,
                    Timestamp::from_second(from).unwrap_or(Timestamp::UNIX_EPOCH),
                );
                p.max_entries = max;
                let cs = wire::parse_get_changes(
                    self.client.call(|s| Ok(wire::get_changes(s, &p))).await?,
                )?;
                if let Some(tz) = &cs.server_tz
                    && TimeZone::get(tz).is_ok()
                {
                    cur.server_tz = Some(tz.clone());
                }
                let reply_user_tz = cs.user_tz.as_deref().and_then(|z| TimeZone::get(z).ok());
                let last = cs.cursor;
                let n = cs.created.len() + cs.updated.len() + cs.deleted.len();
                let mut records = cs.created;
                records.extend(cs.updated);
                let page = Page {
                    source: Source::GetChanges,
                    records,
                    deleted: cs.deleted.into_iter().map(|d| d.id).collect(),
                    reply_user_tz,
                };
                let next = match (cs.more, last) {
                    (false, Some(t)) => Next {
                        position: Some(t),
                        walk: None,
                    },
                    (false, None) => Next {
                        position: None,
                        walk: None,
                    },
                    // More than `max` records share the second `from`: the cursor cannot move.
                    (true, Some(t)) if t <= from => {
                        if max < MAX_GET_CHANGES_ENTRIES {
                            Next {
                                position: None,
                                walk: Some(Walk::VteSync {
                                    from,
                                    max: max.saturating_mul(2).min(MAX_GET_CHANGES_ENTRIES),
                                }),
                            }
                        } else {
                            // Read that second with a paged query, then go on after it.
                            self.second_by_query(from, cur).await?;
                            Next {
                                position: Some(from),
                                walk: Some(Walk::VteSync {
                                    from: from.saturating_add(1),
                                    max: wire::GET_CHANGES_MAX_ENTRIES,
                                }),
                            }
                        }
                    }
                    (true, Some(t)) => Next {
                        // Records of second `t` may continue on the next page.
                        position: Some(t.saturating_sub(1)),
                        walk: Some(Walk::VteSync {
                            from: t,
                            max: wire::GET_CHANGES_MAX_ENTRIES,
                        }),
                    },
                    (true, None) => {
                        return Err(CrmError::BadJson(format!(
                            "get_changes: more without last_update ({n} entries)"
                        )));
                    }
                };
                Ok((page, next))
            }
            Walk::Sync { since } => {
                let cs = wire::parse_sync(
                    self.client
                        .call(|s| {
                            Ok(wire::sync(
                                s,
                                name,
                                since,
                                Some(wire::SyncType::Application),
                            ))
                        })
                        .await?,
                )?;
                let last = cs.cursor.unwrap_or(since);
                let page = Page {
                    source: Source::Sync,
                    records: cs.updated,
                    deleted: cs.deleted.into_iter().map(|d| d.id).collect(),
                    reply_user_tz: None,
                };
                // `updated` holds every record of (since, last], so `last` is complete.
                let next = Next {
                    position: (last > since).then_some(last),
                    walk: (cs.more && last > since).then_some(Walk::Sync { since: last }),
                };
                Ok((page, next))
            }
            Walk::Query { from, skip } => {
                let tz = self.server_tz(cur).await?;
                let from_stamp = from.map(|f| stamp(f, &tz));
                let client = self.client;
                let narrowed =
                    fetch_narrowing(skip, skip.saturating_add(wire::PAGE_ROWS), |a, b| {
                        let mut q = Query::all(name);
                        if let Some(s) = &from_stamp {
                            q = q.and("modifiedtime", Op::Ge, s);
                        }
                        let q = q.order_by("modifiedtime").order_by("id").limit(a, b - a);
                        async move { query_rows(client, &q).await }
                    })
                    .await?;
                for (row, e) in &narrowed.skipped {
                    self.report.skip(
                        format!(
                            "{name} row {row} from modifiedtime {}",
                            from_stamp.as_deref().unwrap_or("0")
                        ),
                        e.to_string(),
                    );
                }
                let got =
                    u32::try_from(narrowed.rows.len() + narrowed.skipped.len()).unwrap_or(u32::MAX);
                let ctx_tz = tz.clone();
                let mtimes: Vec<i64> = narrowed
                    .rows
                    .iter()
                    .filter_map(|r| {
                        map::parse_stamp(field(r, "modifiedtime").unwrap_or(""), &ctx_tz)
                            .ok()
                            .flatten()
                            .map(|t| t.as_second())
                    })
                    .collect();
                let max = mtimes.iter().copied().max();
                let full = wire::page_may_continue(got, Some(wire::PAGE_ROWS));
                let next_walk = if !full {
                    None
                } else {
                    match max {
                        Some(m) if Some(m) > from => Some(Walk::Query {
                            from: Some(m),
                            skip: u32::try_from(mtimes.iter().filter(|t| **t == m).count())
                                .unwrap_or(u32::MAX),
                        }),
                        _ => Some(Walk::Query {
                            from,
                            skip: skip.saturating_add(got),
                        }),
                    }
                };
                let page = Page {
                    source: Source::Query,
                    records: narrowed.rows,
                    deleted: Vec::new(),
                    reply_user_tz: None,
                };
                // A full page may stop inside second `max`: only what lies before is complete.
                let position = match (max, full) {
                    (Some(m), true) => Some(m.saturating_sub(1)),
                    (Some(m), false) => Some(m),
                    (None, _) => None,
                };
                Ok((
                    page,
                    Next {
                        position,
                        walk: next_walk,
                    },
                ))
            }
        }
    }

    /// Reads every record modified in second `t` with a paged query (for `get_changes` stuck
    /// on a second shared by more than [`MAX_GET_CHANGES_ENTRIES`] records).
    async fn second_by_query(&mut self, t: i64, cur: &mut Cursor) -> Result<(), CrmError> {
        let tz = self.server_tz(cur).await?;
        let s = stamp(t, &tz);
        let name = self.name();
        let client = self.client;
        let mut offset = 0u32;
        for _ in 0..self.caps.pages {
            let narrowed =
                fetch_narrowing(offset, offset.saturating_add(wire::PAGE_ROWS), |a, b| {
                    let q = Query::all(name)
                        .and("modifiedtime", Op::Eq, &s)
                        .order_by("id")
                        .limit(a, b - a);
                    async move { query_rows(client, &q).await }
                })
                .await?;
            for (row, e) in &narrowed.skipped {
                self.report
                    .skip(format!("{name} row {row} of second {s}"), e.to_string());
            }
            let got =
                u32::try_from(narrowed.rows.len() + narrowed.skipped.len()).unwrap_or(u32::MAX);
            let page = Page {
                source: Source::Query,
                records: narrowed.rows,
                deleted: Vec::new(),
                reply_user_tz: None,
            };
            self.apply(page, cur, None).await?;
            if !wire::page_may_continue(got, Some(wire::PAGE_ROWS)) {
                return Ok(());
            }
            offset = offset.saturating_add(got);
        }
        Ok(())
    }

    /// Maps a page and writes it, with the cursor moved to `advance`, in one transaction.
    async fn apply(
        &mut self,
        page: Page,
        cur: &mut Cursor,
        advance: Option<i64>,
    ) -> Result<(), CrmError> {
        let server = match page.source {
            Source::GetChanges => cur.server_tz.as_deref().and_then(|n| TimeZone::get(n).ok()),
            _ => None,
        };
        let server = match server {
            Some(tz) => tz,
            None if page.records.is_empty() => TimeZone::UTC,
            None => self.server_tz(cur).await?,
        };
        let fmt = Self::date_format(cur);
        let accounts = self.account_names(&page.records).await;
        let mut incoming = Vec::with_capacity(page.records.len());
        for r in &page.records {
            match map_record(
                self.module,
                r,
                page.source,
                page.reply_user_tz.as_ref(),
                &server,
                fmt,
                &self.owners.enabled,
                &accounts,
            ) {
                Ok(Some(i)) => incoming.push(i),
                Ok(None) => {}
                Err((id, e)) => self.report.skip(id, e.to_string()),
            }
        }
        if let Some(t) = advance {
            cur.advance(t);
        }
        let bytes = cur.encode()?;
        let store = self.store.clone();
        let module = self.module;
        let deleted = page.deleted;
        let a =
            blocking(move || apply_batch(&store, module, incoming, deleted, Some(bytes))).await?;
        self.absorb(a);
        Ok(())
    }

    fn absorb(&mut self, a: Applied) {
        self.report.applied = self.report.applied.saturating_add(a.applied);
        self.report.deleted = self.report.deleted.saturating_add(a.deleted);
        self.report.users_changed.extend(a.users);
    }

    async fn save_cursor(&mut self, cur: &Cursor) -> Result<(), CrmError> {
        let bytes = cur.encode()?;
        let store = self.store.clone();
        let module = self.module;
        blocking(move || apply_batch(&store, module, Vec::new(), Vec::new(), Some(bytes)))
            .await
            .map(|_| ())
    }

    /// Lists every id of the module and diffs it with `CRM_INDEX`: ids gone are deleted on the
    /// box (each confirmed by a second query), ids moved to another owner or new to the box
    /// are fetched and filed. Any failure leaves the box as it was.
    async fn listing(&mut self, cur: &mut Cursor) -> Result<(), CrmError> {
        let name = self.name();
        let client = self.client;
        let Some(prefix) = cur.id_prefix.clone() else {
            return Ok(());
        };
        let prefix = format!("{prefix}x");
        let mut listed: HashMap<String, String> = HashMap::new();
        let mut offset = 0u32;
        let mut complete = false;
        for _ in 0..MAX_LISTING_PAGES {
            let narrowed =
                fetch_narrowing(offset, offset.saturating_add(wire::PAGE_ROWS), |a, b| {
                    let q = Query::fields(name, &["id", "assigned_user_id"])
                        .order_by("id")
                        .limit(a, b - a);
                    async move { query_rows(client, &q).await }
                })
                .await;
            let narrowed = match narrowed {
                Ok(n) => n,
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    self.report
                        .skip(format!("{name} id listing"), e.to_string());
                    return Ok(());
                }
            };
            for (row, e) in &narrowed.skipped {
                self.report
                    .skip(format!("{name} listing row {row}"), e.to_string());
            }
            let got =
                u32::try_from(narrowed.rows.len() + narrowed.skipped.len()).unwrap_or(u32::MAX);
            for r in narrowed.rows {
                if let Some(id) = field(&r, "id") {
                    let owner = field(&r, "assigned_user_id").unwrap_or("").to_owned();
                    listed.insert(id.to_owned(), owner);
                }
            }
            if !wire::page_may_continue(got, Some(wire::PAGE_ROWS)) {
                complete = true;
                break;
            }
            offset = offset.saturating_add(got);
        }
        if !complete {
            self.report.skip(
                format!("{name} id listing"),
                format!("longer than {MAX_LISTING_PAGES} pages; no deletes"),
            );
            return Ok(());
        }
        let store = self.store.clone();
        let p = prefix.clone();
        let index = blocking(move || {
            store
                .read()
                .and_then(|r| r.crm_index_with_prefix(&p))
                .map_err(store_err)
        })
        .await?;
        let enabled = &self.owners.enabled;
        let mut missing = Vec::new();
        let mut fetch = Vec::new();
        for (id, e) in &index {
            match listed.get(id) {
                None => missing.push(id.clone()),
                Some(owner) => {
                    if enabled.get(owner).map(|o| &o.name) != Some(&e.user) {
                        fetch.push(id.clone());
                    }
                }
            }
        }
        let known: BTreeSet<&String> = index.iter().map(|(id, _)| id).collect();
        for (id, owner) in &listed {
            if !known.contains(id) && enabled.contains_key(owner) && id.starts_with(&prefix) {
                fetch.push(id.clone());
            }
        }
        fetch.sort();
        fetch.truncate(MAX_LISTING_FETCH as usize);

        // Confirm each missing id with a query by id: only an id the CRM answered for, and
        // did not return, is gone.
        let mut gone = Vec::new();
        for chunk in missing.chunks(wire::PAGE_ROWS as usize) {
            let n = u32::try_from(chunk.len()).unwrap_or(0);
            let res = fetch_narrowing(0, n, |a, b| {
                let ids: Vec<&str> = chunk
                    .get(a as usize..b as usize)
                    .unwrap_or(&[])
                    .iter()
                    .map(String::as_str)
                    .collect();
                let q = Query::fields(name, &["id"]).and_in("id", &ids);
                async move { query_rows(client, &q).await }
            })
            .await;
            let narrowed = match res {
                Ok(n) => n,
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    self.report
                        .skip(format!("{name} listing confirmation"), e.to_string());
                    return Ok(());
                }
            };
            let present: BTreeSet<&str> = narrowed
                .rows
                .iter()
                .filter_map(|r| field(r, "id"))
                .collect();
            let unsure: BTreeSet<u32> = narrowed.skipped.iter().map(|(i, _)| *i).collect();
            for (i, id) in chunk.iter().enumerate() {
                let i = u32::try_from(i).unwrap_or(u32::MAX);
                if !present.contains(id.as_str()) && !unsure.contains(&i) {
                    gone.push(id.clone());
                }
            }
        }
        if !gone.is_empty() {
            log::info!("CRM {name}: {} records purged in the CRM", gone.len());
            let store = self.store.clone();
            let module = self.module;
            let a = blocking(move || apply_batch(&store, module, Vec::new(), gone, None)).await?;
            self.absorb(a);
        }

        // Moved or new records: fetch them whole and file them.
        for chunk in fetch.chunks(wire::PAGE_ROWS as usize) {
            let n = u32::try_from(chunk.len()).unwrap_or(0);
            let narrowed = fetch_narrowing(0, n, |a, b| {
                let ids: Vec<&str> = chunk
                    .get(a as usize..b as usize)
                    .unwrap_or(&[])
                    .iter()
                    .map(String::as_str)
                    .collect();
                let q = Query::all(name).and_in("id", &ids);
                async move { query_rows(client, &q).await }
            })
            .await;
            let narrowed = match narrowed {
                Ok(n) => n,
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    self.report
                        .skip(format!("{name} fetch by id"), e.to_string());
                    return Ok(());
                }
            };
            for (i, e) in &narrowed.skipped {
                let id = chunk.get(*i as usize).cloned().unwrap_or_default();
                self.report.skip(id, e.to_string());
            }
            let page = Page {
                source: Source::Query,
                records: narrowed.rows,
                deleted: Vec::new(),
                reply_user_tz: None,
            };
            self.apply(page, cur, None).await?;
        }
        Ok(())
    }
}

/// Where the cursor may go after a page, and the next page to ask (`None`: done).
struct Next {
    position: Option<i64>,
    walk: Option<Walk>,
}

/// Rewrites an activity's date/time pairs from zone `from` to zone `to` (`get_changes` shows
/// them in the caller's zone; the box reads them in the owner's, §3).
fn shift_activity(r: &mut Record, from: &TimeZone, to: &TimeZone) {
    for (d, t) in [("date_start", "time_start"), ("due_date", "time_end")] {
        let (Some(ds), Some(ts)) = (field(r, d), field(r, t)) else {
            continue;
        };
        let (Ok(Some(date)), Ok(Some(time))) =
            (map::parse_date(ds, DateFormat::YMD), map::parse_time(ts))
        else {
            continue;
        };
        let Ok(at) = map::to_instant(date.to_datetime(time), from) else {
            continue;
        };
        let local = map::to_local(at, to);
        r.insert(d.into(), Value::String(map::format_date(local.date())));
        r.insert(t.into(), Value::String(map::format_time(local.time())));
    }
}

/// Reads a record for the box: its owner among the enabled users, its modifiedtime and (for an
/// owner on the box) its model item. `Ok(None)`: not this module's (an event among tasks).
/// `accounts` names the accounts of contacts (id → accountname).
#[allow(clippy::too_many_arguments)]
fn map_record(
    module: Module,
    r: &Record,
    source: Source,
    reply_user_tz: Option<&TimeZone>,
    server: &TimeZone,
    date_format: DateFormat,
    owners: &HashMap<String, Owner>,
    accounts: &HashMap<String, String>,
) -> Result<Option<Incoming>, (String, CrmError)> {
    let id = field(r, "id").unwrap_or("").to_owned();
    if id.is_empty() {
        return Err((
            "(record without id)".into(),
            CrmError::BadRecord("no id".into()),
        ));
    }
    match module {
        Module::Tasks if !map::is_task(r) => return Ok(None),
        Module::Events if map::is_task(r) => return Ok(None),
        _ => {}
    }
    let owner = field(r, "assigned_user_id").and_then(|o| owners.get(o));
    let user_tz = owner
        .and_then(|o| o.tz.clone())
        .unwrap_or_else(|| server.clone());
    let shifted;
    let r = match (source, reply_user_tz, module) {
        (Source::GetChanges, Some(from), Module::Events | Module::Tasks) if *from != user_tz => {
            let mut c = r.clone();
            shift_activity(&mut c, from, &user_tz);
            shifted = c;
            &shifted
        }
        _ => r,
    };
    let ctx = Ctx {
        zones: Zones {
            server: server.clone(),
            user: user_tz,
        },
        date_format,
        source,
    };
    let fail = |e: CrmError| (id.clone(), e);
    let mtime = map::modified_time(r, &ctx)
        .map_err(fail)?
        .ok_or_else(|| fail(CrmError::BadRecord("no modifiedtime".into())))?
        .as_second();
    let item = match owner {
        None => None,
        Some(_) => Some(match module {
            Module::Contacts => {
                let company = field(r, "account_id")
                    .and_then(|a| accounts.get(a))
                    .map(String::as_str);
                Item::Contact(map::contact_from_record(r, &ctx, company).map_err(fail)?)
            }
            Module::Events => Item::Event(map::event_from_record(r, &ctx).map_err(fail)?),
            Module::Tasks => Item::Task(map::task_from_record(r, &ctx).map_err(fail)?),
        }),
    };
    Ok(Some(Incoming {
        id,
        owner: owner.map(|o| o.name.clone()),
        mtime,
        item,
    }))
}

/// Writes one page in one transaction: upserts, moves and deletes, then the cursor.
fn apply_batch(
    store: &Store,
    module: Module,
    incoming: Vec<Incoming>,
    deleted: Vec<String>,
    cursor: Option<Vec<u8>>,
) -> Result<Applied, CrmError> {
    let folder = module.folder();
    let mut out = Applied::default();
    let mut t = store.write().map_err(store_err)?;
    for inc in incoming {
        apply_one(&mut t, folder, inc, &mut out)?;
    }
    for id in deleted {
        remove_one(&mut t, &id, &mut out)?;
    }
    if let Some(c) = cursor {
        t.put_crm_cursor(module.crm_name(), &c).map_err(store_err)?;
    }
    t.commit().map_err(store_err)?;
    Ok(out)
}

/// Deletes the box item of a CRM id (unless the outbox holds a change of it).
fn remove_one(
    t: &mut crate::store::StoreTxn<'_>,
    id: &str,
    out: &mut Applied,
) -> Result<(), CrmError> {
    let Some(e) = t.crm_index(id).map_err(store_err)? else {
        return Ok(());
    };
    if t.outbox_pending(&e.user, e.folder(), e.item())
        .map_err(store_err)?
    {
        return Ok(());
    }
    if t.delete_item(&e.user, e.folder(), e.item(), &Origin::Crm)
        .map_err(store_err)?
    {
        out.deleted += 1;
        out.users.insert(e.user.clone());
    }
    t.remove_crm_index(id).map_err(store_err)?;
    Ok(())
}

fn apply_one(
    t: &mut crate::store::StoreTxn<'_>,
    folder: FolderId,
    inc: Incoming,
    out: &mut Applied,
) -> Result<(), CrmError> {
    let (Some(owner), Some(fresh)) = (inc.owner, inc.item) else {
        // Owned by nobody on the box (any more).
        return remove_one(t, &inc.id, out);
    };
    let entry = t.crm_index(&inc.id).map_err(store_err)?;
    let old = match &entry {
        Some(e) => t.item(&e.user, e.folder(), e.item()).map_err(store_err)?,
        None => None,
    };
    if let Some(e) = &entry {
        if t.outbox_pending(&e.user, e.folder(), e.item())
            .map_err(store_err)?
        {
            return Ok(());
        }
        if let Some(o) = &old
            && e.user == owner
        {
            // Older than what the box holds, or the same version with the same content (a
            // record changed twice within its second keeps its modifiedtime, §2.8: the
            // content tells).
            if e.modified > inc.mtime
                || (e.modified == inc.mtime && merge(&o.item, fresh.clone()) == o.item)
            {
                return Ok(());
            }
        }
    }
    let crm = Some(CrmRef {
        id: inc.id.clone(),
        modified: inc.mtime.to_string(),
    });
    match (entry, old) {
        (Some(e), Some(old)) if e.user == owner => {
            let item = merge(&old.item, fresh);
            if item == old.item {
                // A newer modifiedtime with nothing the box carries changed (a field the box
                // does not map, a CRM restored from a backup): only the bookkeeping moves, no
                // phone is told.
                t.set_crm_ref(&owner, e.folder(), e.item(), crm)
                    .map_err(store_err)?;
                t.put_crm_index(
                    &inc.id,
                    &CrmIndexEntry {
                        modified: inc.mtime,
                        ..e
                    },
                )
                .map_err(store_err)?;
                return Ok(());
            }
            let merged = StoredItem {
                item,
                unknown: old.unknown,
                crm,
            };
            t.put_item(&owner, e.folder(), Some(e.item()), &merged, &Origin::Crm)
                .map_err(store_err)?;
            t.put_crm_index(
                &inc.id,
                &CrmIndexEntry {
                    modified: inc.mtime,
                    ..e
                },
            )
            .map_err(store_err)?;
        }
        (entry, old) => {
            // New to the box, or moved from another user's folder (keeping what the box held).
            let (item, unknown) = match old {
                Some(o) => (merge(&o.item, fresh), o.unknown),
                None => (fresh, Vec::new()),
            };
            if let Some(e) = &entry
                && t.delete_item(&e.user, e.folder(), e.item(), &Origin::Crm)
                    .map_err(store_err)?
            {
                out.users.insert(e.user.clone());
            }
            let id = t
                .put_item(
                    &owner,
                    folder,
                    None,
                    &StoredItem { item, unknown, crm },
                    &Origin::Crm,
                )
                .map_err(store_err)?;
            t.put_crm_index(
                &inc.id,
                &CrmIndexEntry {
                    user: owner.clone(),
                    folder: folder.0,
                    item: id.0,
                    modified: inc.mtime,
                },
            )
            .map_err(store_err)?;
        }
    }
    out.applied += 1;
    out.users.insert(owner);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Merging a CRM update into the box's item.

/// The item after a CRM update: the fields the CRM holds (what `crm::map` reads) come from
/// `fresh`, everything else stays as the box has it, so a phone's second e-mail, picture,
/// attendees or exceptions survive a change made in the CRM. Where the CRM holds a coarser
/// form of a box value (a private event the phone marked confidential, a series rule the CRM
/// only knows the frequency of), the box's finer value stays while the coarse form agrees.
pub fn merge(old: &Item, fresh: Item) -> Item {
    match (old, fresh) {
        (Item::Contact(o), Item::Contact(f)) => Item::Contact(merge_contact(o, f)),
        (Item::Event(o), Item::Event(f)) => Item::Event(merge_event(o, f)),
        (Item::Task(o), Item::Task(f)) => Item::Task(merge_task(o, f)),
        (_, f) => f,
    }
}

fn merge_contact(old: &Contact, f: Contact) -> Contact {
    let mut c = old.clone();
    c.title = f.title;
    c.first_name = f.first_name;
    c.last_name = f.last_name;
    // The CRM holds the company as an Account reference: with an account (resolved), its name
    // is the company; without one, or unresolved this time, the box's company stays.
    if f.company_name.is_some() {
        c.company_name = f.company_name;
    }
    c.department = f.department;
    c.job_title = f.job_title;
    c.assistant_name = f.assistant_name;
    let [e0, _, _] = f.email;
    c.email[0] = e0;
    c.business_phone = f.business_phone;
    c.business2_phone = f.business2_phone;
    c.home_phone = f.home_phone;
    c.mobile_phone = f.mobile_phone;
    c.business_fax = f.business_fax;
    c.assistant_phone = f.assistant_phone;
    c.business_address = f.business_address;
    c.other_address = f.other_address;
    c.birthday = f.birthday;
    c.notes = f.notes;
    c
}

fn canceled(s: MeetingStatus) -> bool {
    matches!(s, MeetingStatus::Canceled | MeetingStatus::CanceledReceived)
}

fn merge_event(old: &Event, f: Event) -> Event {
    let mut e = old.clone();
    let same_series = {
        let tz = &f.time_zone;
        match (map::event_fields(old, tz), map::event_fields(&f, tz)) {
            (Ok(a), Ok(b)) => ["recurringtype", "date_start", "due_date"]
                .iter()
                .all(|k| a.fields.get(*k) == b.fields.get(*k)),
            _ => false,
        }
    };
    if !(same_series && old.recurrence.is_some() == f.recurrence.is_some()) {
        e.recurrence = f.recurrence;
    }
    e.subject = f.subject;
    e.location = f.location;
    e.notes = f.notes;
    if e.time != f.time {
        e.time = f.time;
        e.time_zone = f.time_zone;
    }
    e.reminder = f.reminder;
    e.sensitivity = match (old.sensitivity, f.sensitivity) {
        (Sensitivity::Confidential, Sensitivity::Private) => Sensitivity::Confidential,
        (Sensitivity::Personal, Sensitivity::Normal) => Sensitivity::Personal,
        (_, s) => s,
    };
    if canceled(old.meeting_status) != canceled(f.meeting_status) {
        e.meeting_status = f.meeting_status;
    }
    if f.uid.is_some() {
        e.uid = f.uid;
    }
    e.dt_stamp = f.dt_stamp;
    e
}

fn merge_task(old: &Task, f: Task) -> Task {
    let mut t = old.clone();
    t.subject = f.subject;
    t.notes = f.notes;
    t.importance = f.importance;
    t.start = f.start;
    t.due = f.due;
    if !f.complete {
        t.date_completed = None;
    }
    t.complete = f.complete;
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet as Set;

    fn rows(
        broken: &Set<u32>,
        total: u32,
    ) -> impl FnMut(u32, u32) -> std::future::Ready<Result<Vec<u32>, CrmError>> + '_ {
        move |a, b| {
            let b = b.min(total);
            std::future::ready(if (a..b).any(|i| broken.contains(&i)) {
                Err(CrmError::Api {
                    code: ApiCode::Other("INVALID_OWNER".into()),
                    message: "Invalid owner of the record".into(),
                })
            } else {
                Ok((a..b).collect())
            })
        }
    }

    #[tokio::test]
    async fn narrowing_skips_the_broken_rows_only() {
        let broken: Set<u32> = [37].into();
        let n = fetch_narrowing(0, 100, rows(&broken, 100)).await.unwrap();
        let want: Vec<u32> = (0..100).filter(|i| *i != 37).collect();
        assert_eq!(n.rows, want);
        assert_eq!(n.skipped.len(), 1);
        assert_eq!(n.skipped[0].0, 37);

        let broken: Set<u32> = [0, 99].into();
        let n = fetch_narrowing(0, 100, rows(&broken, 100)).await.unwrap();
        assert_eq!(n.rows.len(), 98);
        assert_eq!(
            n.skipped.iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![0, 99]
        );

        // A last page shorter than asked.
        let broken: Set<u32> = [12].into();
        let n = fetch_narrowing(0, 100, rows(&broken, 20)).await.unwrap();
        assert_eq!(n.rows.len(), 19);
    }

    #[tokio::test]
    async fn narrowing_gives_up_when_it_is_not_one_record() {
        // Every row fails: the error is the query's, not a record's.
        let broken: Set<u32> = (0..100).collect();
        assert!(fetch_narrowing(0, 100, rows(&broken, 100)).await.is_err());
        // Too many broken rows: the call cap ends it.
        let broken: Set<u32> = (0..100).step_by(3).collect();
        let mut calls = 0u32;
        let mut f = rows(&broken, 100);
        let r = fetch_narrowing(0, 100, |a, b| {
            calls += 1;
            f(a, b)
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls, MAX_NARROWING_CALLS);
        // A transient error is returned as it is, at once.
        let mut calls = 0;
        let r: Result<Narrowed<u32>, _> = fetch_narrowing(0, 100, |_, _| {
            calls += 1;
            std::future::ready(Err(CrmError::Http(500)))
        })
        .await;
        assert_eq!(r.unwrap_err(), CrmError::Http(500));
        assert_eq!(calls, 1);
        // A syntax error is ours: not narrowed.
        let mut calls = 0;
        let r: Result<Narrowed<u32>, _> = fetch_narrowing(0, 100, |_, _| {
            calls += 1;
            std::future::ready(Err(CrmError::Api {
                code: ApiCode::QuerySyntaxError,
                message: "x".into(),
            }))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }

    #[test]
    fn merge_keeps_what_the_crm_cannot_hold() {
        let old = Contact {
            first_name: Some("Lucia".into()),
            last_name: Some("Bianchi".into()),
            email: [
                Some("l@crm.test".into()),
                Some("second@box.test".into()),
                None,
            ],
            picture: Some(vec![1, 2, 3]),
            children: Some(vec!["Anna".into()]),
            company_name: Some("ACME".into()),
            mobile_phone: Some("1".into()),
            ..Contact::default()
        };
        let fresh = Contact {
            first_name: Some("Lucia".into()),
            last_name: Some("Bianchi-Rossi".into()),
            email: [Some("new@crm.test".into()), None, None],
            mobile_phone: None,
            ..Contact::default()
        };
        let Item::Contact(m) = merge(&Item::Contact(old), Item::Contact(fresh)) else {
            panic!("not a contact");
        };
        assert_eq!(m.last_name.as_deref(), Some("Bianchi-Rossi"));
        assert_eq!(m.email[0].as_deref(), Some("new@crm.test"));
        assert_eq!(m.email[1].as_deref(), Some("second@box.test"));
        assert_eq!(m.picture, Some(vec![1, 2, 3]));
        assert_eq!(m.children, Some(vec!["Anna".to_owned()]));
        assert_eq!(m.company_name.as_deref(), Some("ACME"));
        assert_eq!(
            m.mobile_phone, None,
            "a field cleared in the CRM is cleared"
        );
    }

    #[test]
    fn merge_event_and_task() {
        use crate::model::event::{Attendee, EventTime};
        use crate::model::{Frequency, Recurrence, RecurrenceEnd};
        let tz = TimeZone::get("Europe/Rome").unwrap();
        let start: Timestamp = "2026-12-01T08:30:00Z".parse().unwrap();
        let end: Timestamp = "2026-12-01T09:30:00Z".parse().unwrap();
        let mut rule = Recurrence::new(Frequency::Weekly);
        rule.weekdays = crate::model::Weekdays::EMPTY.with(jiff::civil::Weekday::Tuesday);
        rule.interval = 2;
        rule.end = RecurrenceEnd::Until("2026-12-29T08:30:00Z".parse().unwrap());
        let old = Event {
            subject: "Old".into(),
            time: EventTime::Timed { start, end },
            time_zone: tz.clone(),
            sensitivity: Sensitivity::Confidential,
            meeting_status: MeetingStatus::Organizer,
            attendees: vec![Attendee::default()],
            recurrence: Some(rule.clone()),
            ..Event::default()
        };
        let mut crm_rule = Recurrence::new(Frequency::Weekly);
        crm_rule.weekdays = rule.weekdays;
        crm_rule.end = rule.end;
        let fresh = Event {
            subject: "New".into(),
            time: EventTime::Timed { start, end },
            time_zone: tz.clone(),
            sensitivity: Sensitivity::Private,
            meeting_status: MeetingStatus::Appointment,
            recurrence: Some(crm_rule.clone()),
            ..Event::default()
        };
        let Item::Event(m) = merge(&Item::Event(old.clone()), Item::Event(fresh.clone())) else {
            panic!("not an event");
        };
        assert_eq!(m.subject, "New");
        assert_eq!(m.attendees.len(), 1);
        assert_eq!(m.sensitivity, Sensitivity::Confidential);
        assert_eq!(m.meeting_status, MeetingStatus::Organizer);
        assert_eq!(m.recurrence, Some(rule), "the finer box rule stays");
        // The CRM changed the series' frequency: its rule wins.
        let mut daily = fresh.clone();
        daily.recurrence = Some(Recurrence::new(Frequency::Daily));
        let Item::Event(m) = merge(&Item::Event(old.clone()), Item::Event(daily)) else {
            panic!("not an event");
        };
        assert_eq!(m.recurrence.map(|r| r.frequency), Some(Frequency::Daily));
        // Cancelled in the CRM.
        let mut c = fresh;
        c.meeting_status = MeetingStatus::Canceled;
        c.sensitivity = Sensitivity::Normal;
        let Item::Event(m) = merge(&Item::Event(old), Item::Event(c)) else {
            panic!("not an event");
        };
        assert_eq!(m.meeting_status, MeetingStatus::Canceled);
        assert_eq!(m.sensitivity, Sensitivity::Normal);

        let old = Task {
            subject: Some("a".into()),
            categories: Some(vec!["x".into()]),
            complete: true,
            date_completed: Some(start),
            ..Task::default()
        };
        let fresh = Task {
            subject: Some("b".into()),
            complete: false,
            ..Task::default()
        };
        let Item::Task(m) = merge(&Item::Task(old), Item::Task(fresh)) else {
            panic!("not a task");
        };
        assert_eq!(m.subject.as_deref(), Some("b"));
        assert_eq!(m.categories, Some(vec!["x".to_owned()]));
        assert!(!m.complete);
        assert_eq!(m.date_completed, None);
    }

    #[test]
    fn cursor_round_trip_and_garbage() {
        let c = Cursor {
            method: Some(PullMethod::Sync),
            position: Some(1_795_609_682),
            server_tz: Some("Europe/Rome".into()),
            ..Cursor::default()
        };
        assert_eq!(Cursor::decode(Some(c.encode().unwrap())), c);
        assert_eq!(Cursor::decode(Some(vec![0xff; 3])), Cursor::default());
        assert_eq!(Cursor::decode(None), Cursor::default());
        let mut c = Cursor::default();
        c.advance(10);
        c.advance(5);
        assert_eq!(c.position, Some(10));
    }

    #[test]
    fn shift_moves_activity_times_between_zones() {
        let mut r: Record = serde_json::from_str(
            r#"{"date_start":"2026-12-24","time_start":"06:00","due_date":"2026-12-25","time_end":"05:59"}"#,
        )
        .unwrap();
        let rome = TimeZone::get("Europe/Rome").unwrap();
        let ny = TimeZone::get("America/New_York").unwrap();
        shift_activity(&mut r, &rome, &ny);
        assert_eq!(field(&r, "date_start"), Some("2026-12-24"));
        assert_eq!(field(&r, "time_start"), Some("00:00"));
        assert_eq!(field(&r, "due_date"), Some("2026-12-24"));
        assert_eq!(field(&r, "time_end"), Some("23:59"));
        // A date-only task is left as it is.
        let mut r: Record =
            serde_json::from_str(r#"{"date_start":"2026-12-24","time_start":""}"#).unwrap();
        shift_activity(&mut r, &rome, &ny);
        assert_eq!(field(&r, "date_start"), Some("2026-12-24"));
    }

    /// The per-cycle caps end a cycle early; the next cycles go on where it stopped.
    #[tokio::test]
    async fn page_and_record_caps_split_an_import_over_cycles() {
        use crate::auth::Secret;
        use crate::crm::fake::{FakeConfig, FakeCrm, FakeUser, Mode};
        use crate::store::User;
        use crate::store::crm::CrmUser;
        for (mode, vtesync) in [
            (Mode::Stock, true),
            (Mode::SyncFixed, false),
            (Mode::Stock, false),
        ] {
            let cfg = FakeConfig {
                users: vec![
                    FakeUser::new("admin", "a", "AdminAccessKey00", ""),
                    FakeUser::new("mrossi", "p", "MrossiAccessKey0", ""),
                ],
                mode,
                vtesync,
                ..FakeConfig::default()
            };
            let (addr, crm) = FakeCrm::new(cfg)
                .unwrap()
                .bind("127.0.0.1:0")
                .await
                .unwrap();
            crm.set_clock(Some(1_768_212_000));
            for i in 0..250 {
                if i % 10 == 0 {
                    crm.advance(1);
                }
                crm.create("Contacts", "mrossi", &[("lastname", "x")])
                    .unwrap();
            }
            let p = std::env::temp_dir().join(format!(
                "easbox-pull-caps-{}-{vtesync}-{mode:?}",
                std::process::id()
            ));
            let _ = std::fs::remove_file(&p);
            let store = Arc::new(Store::open(&p).unwrap());
            let mut t = store.write().unwrap();
            t.put_user(
                "mrossi",
                &User {
                    enabled: true,
                    password_hash: None,
                    created: 0,
                },
            )
            .unwrap();
            t.put_crm_user(
                "mrossi",
                &CrmUser {
                    crm_id: crm.user_id("mrossi").unwrap(),
                    crm_name: "mrossi".into(),
                    tz: "Europe/Rome".into(),
                    date_format: "dd-mm-yyyy".into(),
                    active: true,
                    is_admin: false,
                },
            )
            .unwrap();
            t.commit().unwrap();
            let c = Client::new(
                &format!("http://{addr}/"),
                "admin",
                Secret::new("AdminAccessKey00".into()),
            )
            .unwrap();
            let one_page = Caps {
                pages: 1,
                records: u32::MAX,
            };
            let r = pull_capped(&c, &store, &[Module::Contacts], false, one_page)
                .await
                .unwrap();
            assert!(r.applied <= 100, "{mode:?}: {r:?}");
            let mut total = r.applied;
            let few = Caps {
                pages: u32::MAX,
                records: 50,
            };
            for _ in 0..20 {
                let r = pull_capped(&c, &store, &[Module::Contacts], false, few)
                    .await
                    .unwrap();
                assert!(r.applied <= 100, "{mode:?}: {r:?}");
                total += r.applied;
            }
            assert_eq!(total, 250, "{mode:?}");
            drop(store);
            let _ = std::fs::remove_file(&p);
        }
    }

    #[test]
    fn account_names_are_capped_and_ids_checked() {
        let mut a = AccountNames::default();
        for i in 0..=MAX_ACCOUNT_NAMES {
            a.remember(&format!("3x{i}"), "n");
        }
        assert_eq!(a.names.len(), MAX_ACCOUNT_NAMES as usize);
        assert!(is_ws_id("3x25"));
        for bad in ["", "x25", "3x", "3x2a", "a3x2", "3x2'", "25"] {
            assert!(!is_ws_id(bad), "{bad}");
        }
    }

    #[test]
    fn report_skip_is_capped() {
        let mut r = PullReport::default();
        for i in 0..(MAX_SKIPPED + 10) {
            r.skip(format!("4x{i}"), "x".into());
        }
        assert_eq!(r.skipped.len(), MAX_SKIPPED as usize);
    }

    #[test]
    fn pending_outbox_item_is_not_overwritten() {
        use crate::store::schema::OUTBOX_BY_ITEM;
        let p = std::env::temp_dir().join(format!("easbox-pull-outbox-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        let store = Store::open(&p).unwrap();
        let contact = |name: &str| {
            Item::Contact(Contact {
                last_name: Some(name.into()),
                ..Contact::default()
            })
        };
        let inc = |name: &str, mtime| Incoming {
            id: "4x20".into(),
            owner: Some("mrossi".into()),
            mtime,
            item: Some(contact(name)),
        };
        let a = apply_batch(
            &store,
            Module::Contacts,
            vec![inc("Box", 100)],
            vec![],
            None,
        )
        .unwrap();
        assert_eq!(a.applied, 1);
        let e = store.read().unwrap().crm_index("4x20").unwrap().unwrap();
        drop(store);
        // A device change of the item waits in the outbox.
        {
            let db = redb::Database::create(&p).unwrap();
            let w = db.begin_write().unwrap();
            w.open_table(OUTBOX_BY_ITEM)
                .unwrap()
                .insert(("mrossi", e.folder, e.item), 1u64)
                .unwrap();
            w.commit().unwrap();
        }
        let store = Store::open(&p).unwrap();
        let a = apply_batch(
            &store,
            Module::Contacts,
            vec![inc("Crm", 200)],
            vec!["4x20".into()],
            None,
        )
        .unwrap();
        assert_eq!((a.applied, a.deleted), (0, 0));
        let r = store.read().unwrap();
        let item = r.item("mrossi", e.folder(), e.item()).unwrap().unwrap();
        assert_eq!(item.item, contact("Box"));
        assert_eq!(r.crm_index("4x20").unwrap().unwrap().modified, 100);
        drop(r);
        drop(store);
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn unchanged_and_stale_records_are_not_written() {
        let p = std::env::temp_dir().join(format!("easbox-pull-dedup-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        let store = Store::open(&p).unwrap();
        let inc = |mtime, owner: Option<&str>| Incoming {
            id: "4x21".into(),
            owner: owner.map(str::to_owned),
            mtime,
            item: Some(Item::Contact(Contact {
                last_name: Some(format!("v{mtime}")),
                ..Contact::default()
            })),
        };
        apply_batch(
            &store,
            Module::Contacts,
            vec![inc(100, Some("a"))],
            vec![],
            None,
        )
        .unwrap();
        let head = |s: &Store| s.read().unwrap().head("a", FolderId(8)).unwrap();
        let h = head(&store);
        for m in [100, 99] {
            let a = apply_batch(
                &store,
                Module::Contacts,
                vec![inc(m, Some("a"))],
                vec![],
                None,
            )
            .unwrap();
            assert_eq!(a.applied, 0);
        }
        assert_eq!(head(&store), h);
        // Reassigned to b: gone from a, filed under b.
        let a = apply_batch(
            &store,
            Module::Contacts,
            vec![inc(101, Some("b"))],
            vec![],
            None,
        )
        .unwrap();
        assert_eq!(a.users, ["a".to_owned(), "b".to_owned()].into());
        let e = store.read().unwrap().crm_index("4x21").unwrap().unwrap();
        assert_eq!(e.user, "b");
        // Reassigned to a user who is not on the box: deleted, index entry gone.
        let a = apply_batch(&store, Module::Contacts, vec![inc(102, None)], vec![], None).unwrap();
        assert_eq!(a.deleted, 1);
        assert!(store.read().unwrap().crm_index("4x21").unwrap().is_none());
        drop(store);
        let _ = std::fs::remove_file(&p);
    }
}
