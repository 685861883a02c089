//! A fake vtenext CE 20.04 web service (`webservice.php`), faithful to the replies recorded on
//! a real server (shared/CRM-API.md, shared/fixtures/vtenext-replies/).
//!
//! What it reproduces: CRM-API §1 (GET vs POST per operation, the error envelope, unknown
//! operation = HTTP 500 with an empty body), §2.1–2.10 (getchallenge, login with
//! `md5(token . accessKey)`, login_pwd, logout, extendsession, listtypes, describe, query with
//! the VTQL grammar, retrieve, create, update, revise, soft delete, vtiger `sync`,
//! `vtesync.get_changes`), §3 (dates in the user's format, the three time zones per
//! operation), §4 (reminder seconds → minutes, tasks without `activitytype` filed as events,
//! duration recomputed), §0.4 (the 5-failure lockout per user and IP, the IP ban after 100)
//! and §8. `Mode::Stock` makes `sync` answer HTTP 500 with an empty body like stock vtenext.
//! Faults (HTTP 500, empty bodies, slow replies, malformed JSON, lost replies) are switched at
//! run time through [`FakeHandle`].
//!
//! Storage follows the real database: dates as `Y-m-d`, event and task times and
//! createdtime/modifiedtime in the **server's** zone; each operation renders them its own way.
//!
//! Accounts (`3x`, CRM-API §1, the target of a contact's `account_id`, §4) are a minimal
//! module whose describe (`data/describe_Accounts.json`) is **not** from a recording: the
//! field names are vtenext's (accountname mandatory, phone, website, email1, bill_street/city/
//! code/country, description, assigned_user_id, createdtime, modifiedtime), the rest of each
//! field's metadata is modelled on the recorded Contacts describe. Accounts take part in
//! create/retrieve/update/revise/delete/query, not in `sync`/`get_changes`.
//!
//! Not reproduced: the REST API (§2.11), records with an unknown owner (§9), the `as` lockout
//! policy, group owners.

mod ops;
mod util;
pub mod vtql;

pub use util::{DateFormat, md5_hex, pct_encode};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use jiff::tz::TimeZone;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;

/// Largest request body the fake reads (a create with a long description fits easily).
pub const MAX_BODY: u32 = 4 * 1024 * 1024;
/// Rows a query without LIMIT returns at most ("crmv@55311 fix for z-push", CRM-API §2.7).
pub const QUERY_DEFAULT_ROWS: u32 = 1000;
/// Ids one vtiger `sync` call takes (CRM-API §2.8).
pub const SYNC_MAX_IDS: u32 = 100;
/// Failed `ws` logins per user and IP before the user is locked (CRM-API §0.4).
pub const LOCK_AFTER: u32 = 5;
/// Failed logins from one IP, any user, before the IP is banned (CRM-API §0.4).
pub const BAN_AFTER: u32 = 100;
/// Lifetime of a challenge token, seconds (CRM-API §2.1).
pub const TOKEN_LIFETIME: i64 = 300;
/// Session lifetime and idle timeout, seconds (CRM-API §1).
pub const SESSION_LIFETIME: i64 = 86_400;
pub const SESSION_IDLE: i64 = 1_800;
/// Live challenge tokens kept at once over all users; the oldest go first beyond this.
pub const MAX_TOKENS: u32 = 4_096;
/// Live sessions kept at once; the oldest go first beyond this.
pub const MAX_SESSIONS: u32 = 4_096;
/// (user, IP) pairs whose failed logins are remembered; beyond this new pairs are not
/// counted per user (the per-IP count still grows, so the ban still comes).
pub const MAX_FAILURE_ENTRIES: u32 = 100_000;
/// Most contacts, events and tasks `--seed` makes of each.
pub const MAX_SEED: u32 = 100_000;

/// A CRM user of the fake. The first user of [`FakeConfig::users`] is the admin.
#[derive(Clone, Debug)]
pub struct FakeUser {
    pub name: String,
    pub password: String,
    /// The 16-character access key of `vte_users.accesskey`.
    pub access_key: String,
    /// IANA zone; empty = the server's zone.
    pub tz: String,
    /// `dd-mm-yyyy`, `mm-dd-yyyy` or `yyyy-mm-dd`.
    pub date_format: String,
    /// `enable_activesync`, checked by login_pwd when the request carries User/Cmd/DeviceId.
    pub activesync: bool,
    pub active: bool,
}

impl FakeUser {
    pub fn new(name: &str, password: &str, access_key: &str, tz: &str) -> FakeUser {
        FakeUser {
            name: name.to_owned(),
            password: password.to_owned(),
            access_key: access_key.to_owned(),
            tz: tz.to_owned(),
            date_format: "dd-mm-yyyy".to_owned(),
            activesync: true,
            active: true,
        }
    }
}

/// Which vtenext the fake plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Stock vtenext CE 20.04 on PHP ≥ 7.1: `sync` answers HTTP 500 with an empty body
    /// (CRM-API §0.2); `vtesync.get_changes` works.
    Stock,
    /// vtenext with the `syncType` parameter registered: `sync` behaves like vtiger's (§2.8).
    SyncFixed,
}

/// What a faulted reply looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// HTTP 500, empty body; the operation is not run.
    Http500,
    /// HTTP 200, empty body; the operation is not run.
    EmptyBody,
    /// HTTP 200 with a truncated JSON body; the operation is not run.
    MalformedJson,
    /// The operation runs (a create is stored), then HTTP 500 with an empty body: the reply is
    /// lost on the way, the case behind "no duplicate creates".
    LostReply,
}

/// Fault switches, global or per operation name (`"query"`, `"vtesync.get_changes"`, …).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub global: Option<FaultKind>,
    pub per_op: BTreeMap<String, FaultKind>,
    /// Delay before every reply, milliseconds.
    pub delay_ms: u32,
    pub per_op_delay_ms: BTreeMap<String, u32>,
}

/// Everything a fake starts from.
#[derive(Clone, Debug)]
pub struct FakeConfig {
    /// Contacts, events and tasks to generate (each), spread over the users.
    pub seed: u32,
    /// The server's `$default_timezone`.
    pub tz: String,
    pub users: Vec<FakeUser>,
    pub mode: Mode,
    /// Whether the VteSync module is active (`vtesync.get_changes` exists).
    pub vtesync: bool,
    pub faults: Faults,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            seed: 0,
            tz: "Europe/Rome".to_owned(),
            users: vec![FakeUser::new("admin", "admin", "AdminAccessKey00", "")],
            mode: Mode::Stock,
            vtesync: true,
            faults: Faults::default(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct UserRec {
    pub id: u32,
    pub name: String,
    pub password: String,
    pub access_key: String,
    pub tz_name: String,
    pub tz: TimeZone,
    pub date_format: DateFormat,
    pub admin: bool,
    pub active: bool,
    pub activesync: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Contact,
    Activity,
    Account,
}

/// One row of `vte_crmentity` plus its module table, in database form.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub crmid: u32,
    pub kind: Kind,
    pub fields: BTreeMap<String, String>,
    pub owner: u32,
    pub creator: u32,
    pub created: i64,
    pub modified: i64,
    pub deleted: bool,
}

pub(crate) struct Session {
    pub user: u32,
    pub created: i64,
    pub last: i64,
}

pub(crate) struct State {
    pub server_tz: TimeZone,
    pub server_tz_name: String,
    pub users: Vec<UserRec>,
    pub records: BTreeMap<u32, Record>,
    pub next_crmid: u32,
    pub next_contact_no: u32,
    pub tokens: Vec<(String, String, i64)>,
    pub sessions: HashMap<String, Session>,
    pub failures: HashMap<(String, IpAddr), u32>,
    pub ip_failures: HashMap<IpAddr, u32>,
    pub mode: Mode,
    pub vtesync: bool,
    pub faults: Faults,
    pub clock_fixed: Option<i64>,
    pub clock_offset: i64,
    pub private_sharing: bool,
    pub calls: BTreeMap<String, u64>,
}

impl State {
    pub fn now(&self) -> i64 {
        match self.clock_fixed {
            Some(t) => t,
            None => {
                let sys = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                sys.saturating_add(self.clock_offset)
            }
        }
    }

    pub fn user(&self, id: u32) -> Option<&UserRec> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn user_by_name(&self, name: &str) -> Option<&UserRec> {
        self.users.iter().find(|u| u.name == name)
    }
}

fn tz_of(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|e| format!("unknown time zone {name:?}: {e}"))
}

/// The fake CRM before it listens.
pub struct FakeCrm {
    state: Arc<Mutex<State>>,
}

/// A handle to a running (or not yet running) fake: state, faults and CRM-user actions.
#[derive(Clone)]
pub struct FakeHandle {
    state: Arc<Mutex<State>>,
}

impl FakeCrm {
    /// Builds the fake with its users (ids 1, 4, 5, … as in a vtenext install where the admin
    /// is 1 and the recorded `mrossi` is 4) and its seed records.
    pub fn new(cfg: FakeConfig) -> Result<FakeCrm, String> {
        let server_tz = tz_of(&cfg.tz)?;
        if cfg.users.is_empty() {
            return Err("at least one user (the admin) is needed".to_owned());
        }
        if cfg.seed > MAX_SEED {
            return Err(format!("--seed is at most {MAX_SEED}"));
        }
        let mut users = Vec::new();
        for (i, u) in cfg.users.iter().enumerate() {
            let tz_name = if u.tz.is_empty() {
                cfg.tz.clone()
            } else {
                u.tz.clone()
            };
            if users.iter().any(|x: &UserRec| x.name == u.name) {
                return Err(format!("user {:?} given twice", u.name));
            }
            let id = if i == 0 {
                1
            } else {
                u32::try_from(i).unwrap_or(u32::MAX).saturating_add(3)
            };
            users.push(UserRec {
                id,
                name: u.name.clone(),
                password: u.password.clone(),
                access_key: u.access_key.clone(),
                tz: tz_of(&tz_name)?,
                tz_name,
                date_format: DateFormat::parse(&u.date_format)
                    .ok_or_else(|| format!("unknown date format {:?}", u.date_format))?,
                admin: i == 0,
                active: u.active,
                activesync: u.activesync,
            });
        }
        let state = State {
            server_tz,
            server_tz_name: cfg.tz.clone(),
            users,
            records: BTreeMap::new(),
            next_crmid: 20,
            next_contact_no: 1,
            tokens: Vec::new(),
            sessions: HashMap::new(),
            failures: HashMap::new(),
            ip_failures: HashMap::new(),
            mode: cfg.mode,
            vtesync: cfg.vtesync,
            faults: cfg.faults.clone(),
            clock_fixed: None,
            clock_offset: 0,
            private_sharing: false,
            calls: BTreeMap::new(),
        };
        let fake = FakeCrm {
            state: Arc::new(Mutex::new(state)),
        };
        fake.handle().seed(cfg.seed)?;
        Ok(fake)
    }

    pub fn handle(&self) -> FakeHandle {
        FakeHandle {
            state: self.state.clone(),
        }
    }

    /// Binds `addr` (e.g. `127.0.0.1:0`) and serves in a spawned task.
    pub async fn bind(self, addr: &str) -> std::io::Result<(SocketAddr, FakeHandle)> {
        let listener = TcpListener::bind(addr).await?;
        self.serve(listener)
    }

    /// Serves on `listener` in a spawned task; returns its address and a handle.
    pub fn serve(self, listener: TcpListener) -> std::io::Result<(SocketAddr, FakeHandle)> {
        let addr = listener.local_addr()?;
        let handle = self.handle();
        let h = handle.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    continue;
                };
                let h = h.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let h = h.clone();
                        async move { Ok::<_, std::convert::Infallible>(h.http(req, peer.ip()).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok((addr, handle))
    }
}

/// What the operation layer answers.
pub(crate) enum Reply {
    /// `{"success":true,"result":…}`
    Ok(util::Out),
    /// `{"success":false,"error":{"message":…,"code":…}}`
    Err(&'static str, String),
    /// HTTP 500 with an empty body (unknown operation, stock `sync`).
    Http500,
}

impl Reply {
    pub fn err(code: &'static str, msg: &str) -> Reply {
        Reply::Err(code, msg.to_owned())
    }

    fn body(&self) -> String {
        use util::Out;
        match self {
            Reply::Ok(r) => {
                Out::obj(vec![("success", Out::Bool(true)), ("result", r.clone())]).to_json()
            }
            Reply::Err(code, msg) => Out::obj(vec![
                ("success", Out::Bool(false)),
                (
                    "error",
                    Out::obj(vec![
                        ("message", Out::s(msg.clone())),
                        ("code", Out::s(*code)),
                    ]),
                ),
            ])
            .to_json(),
            Reply::Http500 => String::new(),
        }
    }
}

fn respond(status: StatusCode, body: String, json: bool) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if json {
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
    }
    r
}

/// The HTTP method each operation is registered with (`vte_ws_operation.type`).
pub fn op_method(op: &str) -> Option<&'static str> {
    match op {
        "getchallenge"
        | "query"
        | "retrieve"
        | "describe"
        | "listtypes"
        | "sync"
        | "vtesync.get_changes" => Some("GET"),
        "login" | "login_pwd" | "create" | "update" | "revise" | "delete" | "logout"
        | "extendsession" => Some("POST"),
        _ => None,
    }
}

impl FakeHandle {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn http(&self, req: Request<Incoming>, ip: IpAddr) -> Response<Full<Bytes>> {
        if !req.uri().path().ends_with("/webservice.php") {
            return respond(StatusCode::NOT_FOUND, String::new(), false);
        }
        let is_post = req.method() == Method::POST;
        let query = util::parse_form(req.uri().query().unwrap_or(""));
        let body = match Limited::new(req.into_body(), MAX_BODY as usize)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(_) => return respond(StatusCode::PAYLOAD_TOO_LARGE, String::new(), false),
        };
        let form = if is_post {
            util::parse_form(&String::from_utf8_lossy(&body))
        } else {
            Vec::new()
        };
        let get = |list: &[(String, String)], k: &str| {
            list.iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        // $_REQUEST: the operation and the session come from either place.
        let op = get(&form, "operation").or_else(|| get(&query, "operation"));
        let session = get(&form, "sessionName").or_else(|| get(&query, "sessionName"));
        let op = op.unwrap_or_default();
        let (fault, delay) = {
            let mut st = self.lock();
            *st.calls.entry(op.clone()).or_insert(0) += 1;
            let f = st.faults.per_op.get(&op).copied().or(st.faults.global);
            let d = st
                .faults
                .per_op_delay_ms
                .get(&op)
                .copied()
                .unwrap_or(st.faults.delay_ms);
            (f, d)
        };
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(u64::from(delay))).await;
        }
        match fault {
            Some(FaultKind::Http500) => {
                return respond(StatusCode::INTERNAL_SERVER_ERROR, String::new(), false);
            }
            Some(FaultKind::EmptyBody) => return respond(StatusCode::OK, String::new(), true),
            _ => {}
        }
        let Some(method) = op_method(&op) else {
            return respond(StatusCode::INTERNAL_SERVER_ERROR, String::new(), false);
        };
        // A GET operation reads only the query string, a POST one only the form body.
        let params = if method == "GET" { query.clone() } else { form };
        let mut params_map: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in params {
            params_map.insert(k, v);
        }
        let zpush = ["User", "Cmd", "DeviceId"]
            .iter()
            .all(|k| query.iter().any(|(n, _)| n == k));
        let reply = {
            let mut st = self.lock();
            ops::dispatch(&mut st, &op, &params_map, session.as_deref(), ip, zpush)
        };
        match (fault, reply) {
            (Some(FaultKind::LostReply), _) | (_, Reply::Http500) => {
                respond(StatusCode::INTERNAL_SERVER_ERROR, String::new(), false)
            }
            (Some(FaultKind::MalformedJson), r) => {
                let b = r.body();
                let cut = b.len() / 2;
                let mut t: String = b.chars().take(cut.max(1)).collect();
                t.push_str("\u{0}<br />");
                respond(StatusCode::OK, t, true)
            }
            (_, r) => respond(StatusCode::OK, r.body(), true),
        }
    }

    /// Replaces the fault switches.
    pub fn set_faults(&self, f: Faults) {
        self.lock().faults = f;
    }

    /// Sets one operation's fault (`None` clears it).
    pub fn set_fault(&self, op: &str, kind: Option<FaultKind>) {
        let mut st = self.lock();
        match kind {
            Some(k) => st.faults.per_op.insert(op.to_owned(), k),
            None => st.faults.per_op.remove(op),
        };
    }

    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
    }

    pub fn set_vtesync(&self, on: bool) {
        self.lock().vtesync = on;
    }

    /// Restricts query/retrieve to the caller's own records (a private sharing rule); the
    /// recorded default lets every user see every record.
    pub fn set_private_sharing(&self, on: bool) {
        self.lock().private_sharing = on;
    }

    /// Freezes the clock at an epoch second (`None` = the system clock again).
    pub fn set_clock(&self, epoch: Option<i64>) {
        self.lock().clock_fixed = epoch;
    }

    /// Moves the clock forward (token and session expiry, modifiedtime steps).
    pub fn advance(&self, secs: i64) {
        let mut st = self.lock();
        match st.clock_fixed.as_mut() {
            Some(t) => *t = t.saturating_add(secs),
            None => st.clock_offset = st.clock_offset.saturating_add(secs),
        }
    }

    pub fn now(&self) -> i64 {
        self.lock().now()
    }

    /// The next crmid to hand out (tests replaying a recording set it to the recorded one).
    pub fn set_next_crmid(&self, n: u32) {
        self.lock().next_crmid = n;
    }

    /// The crmid the next record gets.
    pub fn next_crmid(&self) -> u32 {
        self.lock().next_crmid
    }

    /// How many requests named this operation reached the fake.
    pub fn calls(&self, op: &str) -> u64 {
        self.lock().calls.get(op).copied().unwrap_or(0)
    }

    /// The webservice id (`19x4`) of a user.
    pub fn user_id(&self, name: &str) -> Option<String> {
        self.lock()
            .user_by_name(name)
            .map(|u| format!("19x{}", u.id))
    }

    /// Clears a user's lockout, as an admin does in the UI.
    pub fn unlock(&self, name: &str) {
        let mut st = self.lock();
        st.failures.retain(|(u, _), _| u != name);
        st.ip_failures.clear();
    }

    /// Creates a record as `owner` would in the web UI: dates `Y-m-d` (or the user's format),
    /// times in the owner's zone. `module` is Contacts, Events, Calendar or Accounts. Returns
    /// the id.
    pub fn create(
        &self,
        module: &str,
        owner: &str,
        fields: &[(&str, &str)],
    ) -> Result<String, String> {
        let mut st = self.lock();
        let uid = st
            .user_by_name(owner)
            .map(|u| u.id)
            .ok_or("unknown owner")?;
        let mut el: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect();
        el.insert("assigned_user_id".into(), format!("19x{uid}").into());
        if module == "Calendar" && !el.contains_key("activitytype") {
            el.insert("activitytype".into(), "Task".into());
        }
        if module == "Events" && !el.contains_key("duration_hours") {
            el.insert("duration_hours".into(), "0".into());
        }
        ops::ui_create(&mut st, module, uid, &el)
    }

    /// Changes fields of a record as its owner would in the web UI.
    pub fn update(&self, id: &str, fields: &[(&str, &str)]) -> Result<(), String> {
        let mut st = self.lock();
        let el: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect();
        ops::ui_revise(&mut st, id, &el)
    }

    /// Gives a record to another user (`assigned_user_id` change).
    pub fn reassign(&self, id: &str, new_owner: &str) -> Result<(), String> {
        let uid = self.user_id(new_owner).ok_or("unknown user")?;
        self.update(id, &[("assigned_user_id", uid.as_str())])
    }

    /// Soft delete (to the recycle bin).
    pub fn delete(&self, id: &str) -> Result<(), String> {
        let mut st = self.lock();
        let now = st.now();
        let r = ops::record_mut(&mut st, id).ok_or("no such record")?;
        r.deleted = true;
        r.modified = now;
        Ok(())
    }

    /// Removes a record for good (emptying the recycle bin): no trace is left for sync.
    pub fn purge(&self, id: &str) -> Result<(), String> {
        let mut st = self.lock();
        let crmid = ops::record_mut(&mut st, id)
            .map(|r| r.crmid)
            .ok_or("no such record")?;
        st.records.remove(&crmid);
        Ok(())
    }

    /// A record as its owner sees it in `retrieve` (user zone, user date format); `None` when
    /// missing or deleted.
    pub fn record(&self, id: &str) -> Option<BTreeMap<String, String>> {
        let st = self.lock();
        ops::ui_view(&st, id, false)
    }

    /// A record in database form (server zone, `Y-m-d`), with `deleted` as "0"/"1".
    pub fn record_raw(&self, id: &str) -> Option<BTreeMap<String, String>> {
        let st = self.lock();
        ops::ui_view(&st, id, true)
    }

    /// Live record ids of a module (Contacts, Events, Calendar, Accounts), optionally of one
    /// owner.
    pub fn ids(&self, module: &str, owner: Option<&str>) -> Vec<String> {
        let st = self.lock();
        ops::ids(&st, module, owner)
    }

    fn seed(&self, n: u32) -> Result<(), String> {
        const FIRST: [&str; 8] = [
            "Anna", "Marco", "Giulia", "Luca", "Sara", "Paolo", "Elena", "Davide",
        ];
        const LAST: [&str; 8] = [
            "Rossi", "Bianchi", "Verdi", "Russo", "Ferrari", "Esposito", "Romano", "Gallo",
        ];
        const SUBJ: [&str; 4] = ["Riunione", "Call cliente", "Demo", "Revisione"];
        let names: Vec<String> = self.lock().users.iter().map(|u| u.name.clone()).collect();
        let today = {
            let st = self.lock();
            jiff::Timestamp::from_second(st.now())
                .map(|t| st.server_tz.to_datetime(t).date())
                .unwrap_or_default()
        };
        for i in 0..n {
            let owner = names
                .get(usize::try_from(i).unwrap_or(0) % names.len().max(1))
                .cloned()
                .unwrap_or_default();
            let f = FIRST[(i % 8) as usize];
            let l = LAST[((i / 8) % 8) as usize];
            let email = format!(
                "{}.{}{}@example.test",
                f.to_lowercase(),
                l.to_lowercase(),
                i
            );
            let phone = format!("+39 02 {:07}", 1_000_000 + i);
            self.create(
                "Contacts",
                &owner,
                &[
                    ("firstname", f),
                    ("lastname", &format!("{l} {i}")),
                    ("email", &email),
                    ("mobile", &phone),
                    ("mailingcity", "Milano"),
                ],
            )?;
            let day = today
                .checked_add(jiff::Span::new().days(i64::from(i % 30)))
                .unwrap_or(today);
            let hour = 8 + (i % 9);
            let start = util::ymd(day);
            self.create(
                "Events",
                &owner,
                &[
                    ("subject", &format!("{} {i}", SUBJ[(i % 4) as usize])),
                    ("activitytype", "Meeting"),
                    ("date_start", &start),
                    ("time_start", &format!("{hour:02}:00")),
                    ("due_date", &start),
                    ("time_end", &format!("{hour:02}:45")),
                    ("eventstatus", "Planned"),
                    ("location", "Sala 1"),
                ],
            )?;
            self.create(
                "Calendar",
                &owner,
                &[
                    ("subject", &format!("Task {i}")),
                    ("date_start", &start),
                    ("due_date", &start),
                    ("taskstatus", "Not Started"),
                    ("taskpriority", "Medium"),
                ],
            )?;
        }
        Ok(())
    }
}

/// `easbox fake-crm --listen ADDR [--seed N] [--tz ZONE] [--user NAME:PASSWORD:ACCESSKEY[:ZONE]]...
/// [--stock|--sync-fixed] [--no-vtesync]`: runs the fake until Ctrl-C. The first user is the
/// admin; without `--user` there is one admin `admin:admin:AdminAccessKey00`.
pub async fn run_cli(args: &[String]) -> Result<(), String> {
    let mut listen: Option<String> = None;
    let mut cfg = FakeConfig {
        users: Vec::new(),
        ..FakeConfig::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--listen" => listen = Some(val("--listen")?),
            "--seed" => {
                let v = val("--seed")?;
                cfg.seed = v
                    .parse()
                    .map_err(|_| format!("--seed: not a number: {v:?}"))?;
            }
            "--tz" => cfg.tz = val("--tz")?,
            "--user" => {
                let v = val("--user")?;
                let parts: Vec<&str> = v.splitn(4, ':').collect();
                match parts.as_slice() {
                    [n, p, k] | [n, p, k, _] if !n.is_empty() && !k.is_empty() => {
                        let tz = parts.get(3).copied().unwrap_or("");
                        cfg.users.push(FakeUser::new(n, p, k, tz));
                    }
                    _ => {
                        return Err(format!(
                            "--user wants NAME:PASSWORD:ACCESSKEY[:ZONE], got {v:?}"
                        ));
                    }
                }
            }
            "--stock" => cfg.mode = Mode::Stock,
            "--sync-fixed" => cfg.mode = Mode::SyncFixed,
            "--no-vtesync" => cfg.vtesync = false,
            other => return Err(format!("fake-crm: unknown argument {other:?}")),
        }
    }
    let listen = listen.ok_or("fake-crm: --listen ADDR is required")?;
    if cfg.users.is_empty() {
        cfg.users = FakeConfig::default().users;
    }
    let users: Vec<String> = cfg.users.iter().map(|u| u.name.clone()).collect();
    let fake = FakeCrm::new(cfg)?;
    let (addr, _h) = fake
        .bind(&listen)
        .await
        .map_err(|e| format!("fake-crm: cannot listen on {listen}: {e}"))?;
    println!(
        "fake vtenext on http://{addr}/webservice.php (users: {})",
        users.join(", ")
    );
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[tokio::test]
    async fn cli_errors_say_what_is_wrong() {
        let e = run_cli(&args(&["--seed", "3"])).await.unwrap_err();
        assert!(e.contains("--listen"), "{e}");
        let e = run_cli(&args(&["--listen", "127.0.0.1:0", "--user", "x"]))
            .await
            .unwrap_err();
        assert!(e.contains("NAME:PASSWORD:ACCESSKEY"), "{e}");
        let e = run_cli(&args(&["--listen", "127.0.0.1:0", "--tz", "Mars/Base"]))
            .await
            .unwrap_err();
        assert!(e.contains("time zone"), "{e}");
        let e = run_cli(&args(&["--listen", "127.0.0.1:0", "--seed", "x"]))
            .await
            .unwrap_err();
        assert!(e.contains("--seed"), "{e}");
        let e = run_cli(&args(&["--bogus"])).await.unwrap_err();
        assert!(e.contains("--bogus"), "{e}");
    }

    #[test]
    fn config_errors() {
        let cfg = |users: Vec<FakeUser>| FakeConfig {
            users,
            ..FakeConfig::default()
        };
        assert!(FakeCrm::new(cfg(Vec::new())).is_err());
        let u = FakeUser::new("a", "p", "k", "");
        assert!(FakeCrm::new(cfg(vec![u.clone(), u.clone()])).is_err());
        let mut bad = u.clone();
        bad.date_format = "yyyy/dd".into();
        assert!(FakeCrm::new(cfg(vec![bad])).is_err());
        let seeded = FakeConfig {
            seed: MAX_SEED + 1,
            ..FakeConfig::default()
        };
        assert!(FakeCrm::new(seeded).is_err());
    }
}
