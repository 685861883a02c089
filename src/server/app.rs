//! The EAS application: authenticates a request, checks provisioning ([MS-ASPROV] 3.2.5),
//! and runs the command. Commands that touch items run the sync engine inside one store
//! write transaction that is committed before the response leaves (durable before
//! acknowledged); a commit that changed a user's folders wakes that user's parked Pings.
//!
//! Authentication (DESIGN.md "Authentication", issue 4 §3): a user with an ActiveSync password
//! signs in with it alone. A user without one signs in with the CRM password: checked by the
//! CRM with `login_pwd` (CRM-API §2.3), then kept as an argon2id hash for a bounded time under
//! the rules of [`crate::auth::crm_password`], so neither each request nor a CRM outage needs
//! the CRM, and a wrong password on a phone never gets the CRM to lock the user.

use super::push::{PingHub, Wake};
use super::reply::{self, Failure};
use crate::auth::crm_password::{self, CrmAnswer, CrmPasswordGuard, Refusal, Verdict};
use crate::auth::seal::SealKey;
use crate::auth::{self, Decision, Lockout, LockoutPolicy, PasswordHash, Secret, VerifiedCache};
use crate::crm::CrmHandle;
use crate::crm::wire::{ApiCode, CrmError};
use crate::eas::commands::folder_sync::FolderSyncRequest;
use crate::eas::commands::get_item_estimate::GetItemEstimateRequest;
use crate::eas::commands::item_operations::{
    ItemOperationsRequest, ItemOperationsResponse, ItemOperationsStatus, Operation,
};
use crate::eas::commands::meeting_response::{
    MeetingResponseRequest, MeetingResponseResponse, MeetingResponseStatus, MeetingResult,
};
use crate::eas::commands::move_items::MoveItemsRequest;
use crate::eas::commands::ping::{PingFolder, PingRequest, PingResponse, PingStatus};
use crate::eas::commands::provision::{
    Policy, PolicyResponse, PolicyStatus, ProvisionRequest, ProvisionResponse, ProvisionStatus,
    RemoteWipeStatus,
};
use crate::eas::commands::search::{
    SearchRequest, SearchResponse, SearchStatus, StoreResponse, StoreStatus,
};
use crate::eas::commands::settings::{
    Account, SettingsRequest, SettingsResponse, SettingsStatus, UserInformationResponse,
};
use crate::eas::commands::sync::SyncRequest;
use crate::eas::items::ClientKind;
use crate::eas::request::Command;
use crate::eas::{self, Codec, ProtocolVersion};
use crate::http::{EasHandler, EasReply, EasRequest};
use crate::store::crm_index::CrmPassword;
use crate::store::{Device, DeviceInfo, Store, StoreTxn, WipeState};
use crate::sync::{self, DeviceCtx, DeviceKey, FolderId};
use crate::wbxml::Limits;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

/// Ping heartbeat bounds in seconds (Exchange's 60–3540, EAS-NOTES §1.3); outside them a Ping
/// gets Status 5 with the bound.
pub const MIN_HEARTBEAT: u32 = 60;
pub const MAX_HEARTBEAT: u32 = 3540;
/// Folders one Ping may watch; more get Status 6 with this number.
pub const MAX_PING_FOLDERS: u32 = 300;
/// Devices whose last Ping or Sync request is remembered for empty requests.
pub const MAX_CACHED_REQUESTS: u32 = 10_000;
/// argon2 runs at once: each takes 19 MiB, and a burst of logins must not exhaust the box.
pub const MAX_CONCURRENT_HASHES: u32 = 2;
/// Seconds between device-record refreshes when nothing else about the device changed, so
/// that not every request costs a commit.
pub const DEVICE_TOUCH_SECS: i64 = 300;
/// Retry-After seconds when the Ping hub is full.
pub const PING_RETRY_AFTER: u32 = 120;

/// Settings of the application.
#[derive(Clone)]
pub struct Settings {
    /// The mail domain shown in Settings UserInformation when a user name has none.
    pub mail_domain: String,
    pub min_heartbeat: u32,
    pub max_heartbeat: u32,
    pub max_parked_pings: u32,
    /// The CRM that checks CRM passwords (shared with the connector); empty = no CRM, and only
    /// cached CRM passwords within their grace period work.
    pub crm: CrmHandle,
    /// Seals the access key `login_pwd` returns before it is stored; without it the key is
    /// not kept.
    pub seal: Option<Arc<SealKey>>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("mail_domain", &self.mail_domain)
            .field("min_heartbeat", &self.min_heartbeat)
            .field("max_heartbeat", &self.max_heartbeat)
            .field("max_parked_pings", &self.max_parked_pings)
            .field("crm", &self.crm.get().map(|c| c.endpoint().clone()))
            .field("seal", &self.seal)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mail_domain: "easbox.local".into(),
            min_heartbeat: MIN_HEARTBEAT,
            max_heartbeat: MAX_HEARTBEAT,
            max_parked_pings: super::push::MAX_PARKED_PINGS,
            crm: CrmHandle::default(),
            seal: None,
        }
    }
}

/// A bounded map of the last request per device; the oldest entry goes first.
struct LastRequests<T> {
    map: HashMap<DeviceKey, (u64, T)>,
    tick: u64,
}

impl<T: Clone> LastRequests<T> {
    fn new() -> Self {
        LastRequests {
            map: HashMap::new(),
            tick: 0,
        }
    }

    fn get(&self, k: &DeviceKey) -> Option<T> {
        self.map.get(k).map(|(_, v)| v.clone())
    }

    fn put(&mut self, k: &DeviceKey, v: T) {
        self.tick += 1;
        if self.map.len() >= MAX_CACHED_REQUESTS as usize
            && !self.map.contains_key(k)
            && let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, (t, _))| *t)
                .map(|(k, _)| k.clone())
        {
            self.map.remove(&oldest);
        }
        self.map.insert(k.clone(), (self.tick, v));
    }
}

/// The application state shared by every connection.
pub struct App {
    store: Arc<Store>,
    settings: Settings,
    verified: Mutex<VerifiedCache>,
    lockout: Mutex<Lockout>,
    crm_guard: Mutex<CrmPasswordGuard>,
    /// One `login_pwd` at a time: a phone sends several requests at once, and each one asking
    /// the CRM with the same wrong password would count as another failure there.
    crm_checks: tokio::sync::Mutex<()>,
    hashes: Semaphore,
    pub hub: PingHub,
    /// Notified after a command changed items on a device's behalf: the CRM connector then
    /// drains the write-back outbox soon instead of at its next cycle.
    pub outbox_work: Arc<tokio::sync::Notify>,
    pings: Mutex<LastRequests<(u32, Vec<PingFolder>)>>,
    syncs: Mutex<LastRequests<SyncRequest>>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is a single map update, so a poisoned lock holds consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The verdict on a CRM password.
enum CrmCheck {
    Ok,
    /// Wrong (the CRM said so now or earlier, or the box-side limit is reached): counts as a
    /// failed login.
    Wrong,
    /// No verdict (no CRM, CRM down, user locked there) and no usable cached hash: 401, but not
    /// the phone's fault, so not counted.
    NoVerdict,
}

/// What the policy makes of a CRM error.
fn crm_answer(e: &CrmError) -> CrmAnswer {
    match e.code() {
        Some(ApiCode::LoginLocked) => CrmAnswer::UserLocked,
        Some(ApiCode::IpBanned) => CrmAnswer::BoxBanned,
        Some(c) if c.is_credential_failure() => CrmAnswer::Refused,
        _ => CrmAnswer::Unavailable,
    }
}

/// Why authentication failed.
enum Denied {
    /// 401: no or wrong credentials, or locked out.
    Unauthorized,
    /// 403: the user exists but ActiveSync is off.
    Forbidden,
    /// 500: the store failed.
    Server,
}

/// A non-zero random policy key.
fn new_policy_key() -> u32 {
    let mut b = [0u8; 4];
    loop {
        if getrandom::fill(&mut b).is_err() {
            // No randomness: fall back to the clock, still never 0.
            return (now_secs() as u32) | 1;
        }
        let k = u32::from_le_bytes(b);
        if k != 0 {
            return k;
        }
    }
}

impl App {
    pub fn new(store: Arc<Store>, settings: Settings) -> Result<App, auth::AuthError> {
        Ok(App {
            store,
            verified: Mutex::new(VerifiedCache::new(auth::DEFAULT_CACHE_TTL_SECS)?),
            lockout: Mutex::new(Lockout::new(LockoutPolicy::default())),
            crm_guard: Mutex::new(CrmPasswordGuard::new()?),
            crm_checks: tokio::sync::Mutex::new(()),
            hashes: Semaphore::new(MAX_CONCURRENT_HASHES as usize),
            hub: PingHub::new(settings.max_parked_pings),
            outbox_work: Arc::new(tokio::sync::Notify::new()),
            settings,
            pings: Mutex::new(LastRequests::new()),
            syncs: Mutex::new(LastRequests::new()),
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Forgets a user's cached password (password changed, user disabled).
    pub fn forget_password(&self, user: &str) {
        lock(&self.verified).invalidate(user);
    }

    /// Forgets a user's failed logins, here and those counted against the CRM (the admin
    /// unlocked the user; in the CRM too, or the box's count no longer mirrors the CRM's).
    pub fn unlock_user(&self, user: &str) {
        lock(&self.lockout).unlock_user(user);
        lock(&self.crm_guard).unlock_user(user);
    }

    /// Runs `f` in a write transaction that is never committed: for checks that only read
    /// (Ping). redb has one writer, and a commit would cost a disk sync per parked Ping.
    async fn peek<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut StoreTxn<'_>) -> Result<T, sync::Error> + Send + 'static,
    ) -> Result<T, sync::Error> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut t = store.write()?;
            f(&mut t)
        })
        .await
        .map_err(|e| sync::Error::Store(format!("worker: {e}")))?
    }

    /// Runs `f` in a write transaction on a blocking thread and commits when it succeeds.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut StoreTxn<'_>) -> Result<T, sync::Error> + Send + 'static,
    ) -> Result<T, sync::Error> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut t = store.write()?;
            let r = f(&mut t)?;
            t.commit()?;
            Ok(r)
        })
        .await
        .map_err(|e| sync::Error::Store(format!("worker: {e}")))?
    }

    async fn authenticate(&self, req: &EasRequest) -> Result<String, Denied> {
        let (Some(user), Some(password)) = (&req.user, &req.password) else {
            return Err(Denied::Unauthorized);
        };
        let user = user.to_lowercase();
        let now = now_secs();
        if let Decision::Locked { .. } = lock(&self.lockout).check(&user, req.peer, now) {
            log::info!("user {user:?} from {} is locked out", req.peer);
            return Err(Denied::Unauthorized);
        }
        let found = {
            let store = self.store.clone();
            let name = user.clone();
            tokio::task::spawn_blocking(move || {
                let t = store.read()?;
                let Some(u) = t.user(&name)? else {
                    return Ok(None);
                };
                // The CRM side is read only for users who sign in with the CRM password.
                let crm = if u.password_hash.is_none() {
                    let crm_name = t.crm_user(&name)?.map(|c| c.crm_name);
                    Some((t.crm_password(&name)?, crm_name))
                } else {
                    None
                };
                Ok(Some((u, crm)))
            })
            .await
            .map_err(|_| Denied::Server)?
            .map_err(|e: crate::store::StoreError| {
                log::error!("store: {e}");
                Denied::Server
            })?
        };
        let Some((record, crm)) = found else {
            lock(&self.lockout).record_failure(&user, req.peer, now);
            log::info!("unknown user {user:?} from {}", req.peer);
            return Err(Denied::Unauthorized);
        };
        let known = lock(&self.verified).check(&user, password, now);
        if !known {
            let checked = match record.password_hash.as_deref() {
                None => {
                    let (stored, crm_name) = crm.unwrap_or_default();
                    let crm_name = crm_name.unwrap_or_else(|| user.clone());
                    self.check_crm_password(
                        &user,
                        &crm_name,
                        record.enabled,
                        stored,
                        password,
                        req.peer,
                        now,
                    )
                    .await?
                }
                Some(phc) => {
                    let Ok(hash) = PasswordHash::from_phc(phc.to_owned()) else {
                        log::error!("stored hash of {user:?} is unreadable");
                        return Err(Denied::Server);
                    };
                    if self.verify(hash, password).await? {
                        CrmCheck::Ok
                    } else {
                        CrmCheck::Wrong
                    }
                }
            };
            match checked {
                CrmCheck::Ok => {}
                CrmCheck::Wrong => {
                    lock(&self.lockout).record_failure(&user, req.peer, now);
                    log::info!("wrong password for {user:?} from {}", req.peer);
                    return Err(Denied::Unauthorized);
                }
                CrmCheck::NoVerdict => return Err(Denied::Unauthorized),
            }
            lock(&self.verified).insert(&user, password, now);
        }
        lock(&self.lockout).record_success(&user, req.peer);
        if !record.enabled {
            return Err(Denied::Forbidden);
        }
        Ok(user)
    }

    /// argon2 on a blocking thread, at most [`MAX_CONCURRENT_HASHES`] at once.
    async fn verify(&self, hash: PasswordHash, password: &Secret<String>) -> Result<bool, Denied> {
        let _slot = self.hashes.acquire().await.map_err(|_| Denied::Server)?;
        let pw = Secret::new(password.expose().clone());
        tokio::task::spawn_blocking(move || auth::verify_password(&hash, &pw))
            .await
            .map_err(|_| Denied::Server)
    }

    /// Checks a CRM password (issue 4 §3) for a user without an ActiveSync password: the
    /// stored hash first, then the CRM when [`crm_password`]'s rules allow. A disabled user's
    /// password is never sent to the CRM: only a stored hash can show it is right (then the
    /// caller answers 403, as for an ActiveSync password), otherwise 401.
    #[allow(clippy::too_many_arguments)]
    async fn check_crm_password(
        &self,
        user: &str,
        crm_name: &str,
        enabled: bool,
        stored: Option<CrmPassword>,
        password: &Secret<String>,
        peer: IpAddr,
        now: u64,
    ) -> Result<CrmCheck, Denied> {
        let now_unix = i64::try_from(now).unwrap_or(i64::MAX);
        let cached = match stored.as_ref().and_then(|p| p.hash.clone()) {
            Some(phc) => match PasswordHash::from_phc(phc) {
                Ok(hash) => self.verify(hash, password).await?.then(|| {
                    crm_password::cache_age(stored.as_ref().map_or(0, |p| p.verified_at), now_unix)
                }),
                Err(_) => {
                    log::warn!("stored CRM password hash of {user:?} is unreadable; ignored");
                    None
                }
            },
            None => None,
        };
        let client = if enabled {
            self.settings.crm.get()
        } else {
            None
        };
        let decide =
            || lock(&self.crm_guard).decide(user, peer, password, cached, client.is_some(), now);
        let settle = |verdict| match verdict {
            Verdict::Accept => CrmCheck::Ok,
            Verdict::Refuse(r) => {
                log::info!("CRM password of {user:?} from {peer} refused: {r:?}");
                match r {
                    Refusal::CrmUnavailable => CrmCheck::NoVerdict,
                    Refusal::KnownWrong | Refusal::WrongPassword | Refusal::Limited => {
                        CrmCheck::Wrong
                    }
                }
            }
            Verdict::AskCrm => CrmCheck::NoVerdict,
        };
        let first = decide();
        let client = match (first, &client) {
            (Verdict::AskCrm, Some(c)) => c.clone(),
            _ => return Ok(settle(first)),
        };
        // Another request of the same phone may have asked meanwhile: decide again in turn.
        let _turn = self.crm_checks.lock().await;
        if lock(&self.verified).check(user, password, now) {
            return Ok(CrmCheck::Ok);
        }
        let verdict = decide();
        if verdict != Verdict::AskCrm {
            return Ok(settle(verdict));
        }
        let reply = client.login_pwd(crm_name, password).await;
        let answer = match &reply {
            Ok(_) => CrmAnswer::Accepted,
            Err(e) => crm_answer(e),
        };
        let outcome = lock(&self.crm_guard).record(user, peer, password, answer, cached, now);
        match reply {
            Ok(access_key) => {
                self.store_crm_password(user, password, &access_key, stored, now_unix)
                    .await;
                log::info!("CRM accepted the password of {user:?}");
            }
            Err(e) => {
                if outcome.newly_blocked {
                    match answer {
                        CrmAnswer::BoxBanned => log::error!(
                            "the CRM banned the box's address ({e}); no CRM password is checked for {} s",
                            crm_password::CRM_BANNED_BACKOFF_SECS
                        ),
                        _ => log::error!(
                            "the CRM locked user {crm_name:?} ({e}); the box does not ask it about this user for {} s",
                            crm_password::CRM_LOCKED_BACKOFF_SECS
                        ),
                    }
                } else if answer == CrmAnswer::Unavailable {
                    log::warn!("CRM password of {user:?} not checked: {e}");
                }
                // The CRM refused a password that matched the stored hash: changed or disabled
                // there, so the hash must not let it in again while the CRM is down.
                if answer == CrmAnswer::Refused
                    && cached.is_some()
                    && let Some(mut p) = stored
                {
                    p.hash = None;
                    self.put_crm_password(user, p).await;
                }
            }
        }
        Ok(settle(outcome.verdict))
    }

    /// Keeps what `login_pwd` proved: the password's argon2id hash with the time, and the
    /// user's access key sealed (never in clear; not at all without a seal key).
    async fn store_crm_password(
        &self,
        user: &str,
        password: &Secret<String>,
        access_key: &Secret<String>,
        stored: Option<CrmPassword>,
        now: i64,
    ) {
        let hash = {
            let Ok(_slot) = self.hashes.acquire().await else {
                return;
            };
            let pw = Secret::new(password.expose().clone());
            match tokio::task::spawn_blocking(move || auth::hash_password(&pw)).await {
                Ok(Ok(h)) => h,
                Ok(Err(e)) => {
                    log::error!("CRM password of {user:?} not cached: {e}");
                    return;
                }
                Err(e) => {
                    log::error!("CRM password of {user:?} not cached: {e}");
                    return;
                }
            }
        };
        let sealed = match &self.settings.seal {
            Some(key) => match key.seal_str(access_key) {
                Ok(s) => Some(s),
                Err(e) => {
                    log::error!("access key of {user:?} not sealed: {e}");
                    None
                }
            },
            None => None,
        };
        let record = CrmPassword {
            hash: Some(hash.as_str().to_owned()),
            verified_at: now,
            access_key_sealed: sealed.or(stored.and_then(|p| p.access_key_sealed)),
        };
        self.put_crm_password(user, record).await;
    }

    async fn put_crm_password(&self, user: &str, record: CrmPassword) {
        let name = user.to_owned();
        let done = self
            .write(move |t| {
                t.put_crm_password(&name, &record)?;
                Ok(())
            })
            .await;
        if let Err(e) = done {
            log::error!("CRM password of {user:?} not stored: {e}");
        }
    }

    /// Loads the device record, creating or refreshing it when needed.
    async fn device(
        &self,
        key: &DeviceKey,
        req: &EasRequest,
        v: ProtocolVersion,
    ) -> Result<Device, sync::Error> {
        let key = key.clone();
        let device_type = req.line.device_type.clone();
        let ua = req.user_agent.clone();
        let version = v.as_str().to_owned();
        let now = now_secs() as i64;
        let current = {
            let store = self.store.clone();
            let k = key.clone();
            tokio::task::spawn_blocking(move || store.read().and_then(|t| t.device(&k)))
                .await
                .map_err(|e| sync::Error::Store(e.to_string()))??
        };
        if let Some(d) = &current
            && d.device_type == device_type
            && d.user_agent == ua
            && d.protocol_version == version
            && now - d.last_seen < DEVICE_TOUCH_SECS
        {
            return Ok(d.clone());
        }
        self.write(move |t| {
            let mut d = t.device(&key)?.unwrap_or(Device {
                first_seen: now,
                ..Device::default()
            });
            d.device_type = device_type;
            d.user_agent = ua;
            d.protocol_version = version;
            d.last_seen = now;
            t.put_device(&key, &d)?;
            Ok(d)
        })
        .await
    }

    async fn provision(&self, key: &DeviceKey, v: ProtocolVersion, body: &[u8]) -> EasReply {
        let req: ProvisionRequest = match eas::from_wbxml(body, v, Limits::DEFAULT) {
            Ok(r) => r,
            Err(e) => return reply::eas_error(Command::Provision, v, &e),
        };
        let key = key.clone();
        let done = self
            .write(move |t| {
                let mut d = t.device(&key)?.unwrap_or_default();
                let mut resp = ProvisionResponse::status(ProvisionStatus::Success);
                if let Some(info) = &req.device_information {
                    d.info = DeviceInfo::from(info);
                    resp.device_information = Some(SettingsStatus::Success);
                }
                let wipe_ack = req.remote_wipe.or(req.account_only_remote_wipe);
                match (d.wipe, wipe_ack) {
                    (WipeState::Requested { account_only }, Some(RemoteWipeStatus::Success)) => {
                        d.wipe = WipeState::Acknowledged { account_only };
                        log::warn!(
                            "device {:?} of {:?} acknowledged the wipe",
                            key.device_id,
                            key.user
                        );
                    }
                    (
                        WipeState::Pending { account_only } | WipeState::Requested { account_only },
                        _,
                    ) => {
                        // The wipe directive replaces the policy until the device acknowledges it.
                        d.wipe = WipeState::Requested { account_only };
                        if account_only && v >= ProtocolVersion::V16_1 {
                            resp.account_only_remote_wipe = true;
                        } else {
                            resp.remote_wipe = true;
                        }
                        t.put_device(&key, &d)?;
                        return Ok(resp);
                    }
                    _ => {}
                }
                if let Some(policy) = &req.policy {
                    let status_key = match (policy.policy_key, d.policy_key) {
                        // First phase: a temporary key and the policy document.
                        (None, _) => {
                            let k = new_policy_key();
                            d.policy_key = Some(k);
                            d.provisioned = false;
                            (PolicyStatus::Success, Some(k), Some(Policy::minimal()))
                        }
                        // Acknowledgement of the temporary key: the final key.
                        (Some(sent), Some(temp)) if sent == temp => {
                            let k = new_policy_key();
                            d.policy_key = Some(k);
                            d.provisioned = true;
                            (PolicyStatus::Success, Some(k), None)
                        }
                        (Some(_), _) => (PolicyStatus::WrongPolicyKey, None, None),
                    };
                    resp.policy = Some(PolicyResponse {
                        policy_type: policy.policy_type.clone(),
                        status: status_key.0,
                        policy_key: status_key.1,
                        data: status_key.2,
                    });
                }
                t.put_device(&key, &d)?;
                Ok(resp)
            })
            .await;
        match done {
            Ok(resp) => encode(Command::Provision, v, &resp),
            Err(e) => reply::sync_error(Command::Provision, v, &e),
        }
    }

    async fn ping(&self, dev: DeviceCtx, body: &[u8]) -> EasReply {
        let v = dev.version;
        let req: PingRequest = if body.is_empty() {
            PingRequest::default()
        } else {
            match eas::from_wbxml(body, v, Limits::DEFAULT) {
                Ok(r) => r,
                Err(e) => return reply::eas_error(Command::Ping, v, &e),
            }
        };
        let cached = lock(&self.pings).get(&dev.key);
        let heartbeat = req.heartbeat_interval.or(cached.as_ref().map(|c| c.0));
        let folders = if req.folders.is_empty() {
            cached.map(|c| c.1)
        } else {
            Some(req.folders.clone())
        };
        let (Some(heartbeat), Some(folders)) = (heartbeat, folders) else {
            return encode(
                Command::Ping,
                v,
                &PingResponse::status(PingStatus::MissingParameters),
            );
        };
        if heartbeat < self.settings.min_heartbeat || heartbeat > self.settings.max_heartbeat {
            let bound = heartbeat.clamp(self.settings.min_heartbeat, self.settings.max_heartbeat);
            return encode(
                Command::Ping,
                v,
                &PingResponse {
                    heartbeat_interval: Some(bound),
                    ..PingResponse::status(PingStatus::InvalidHeartbeatInterval)
                },
            );
        }
        if folders.len() > MAX_PING_FOLDERS as usize {
            return encode(
                Command::Ping,
                v,
                &PingResponse {
                    max_folders: Some(MAX_PING_FOLDERS),
                    ..PingResponse::status(PingStatus::TooManyFolders)
                },
            );
        }
        let mut ids = Vec::with_capacity(folders.len());
        for f in &folders {
            match f.id.parse::<u32>() {
                Ok(n) => ids.push(FolderId(n)),
                Err(_) => {
                    return encode(
                        Command::Ping,
                        v,
                        &PingResponse::status(PingStatus::FolderSyncRequired),
                    );
                }
            }
        }
        lock(&self.pings).put(&dev.key, (heartbeat, folders));
        // Park before the first check so that a change committed in between still wakes us.
        let mut parked = match self.hub.park(&dev.key.user, &dev.key.device_id) {
            Ok(p) => p,
            Err(_) => {
                log::warn!("Ping hub full ({} parked)", self.hub.parked());
                return EasReply {
                    status: 503,
                    headers: vec![("Retry-After", PING_RETRY_AFTER.to_string())],
                    body: Vec::new(),
                };
            }
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(heartbeat));
        loop {
            let check_dev = dev.clone();
            let check_ids = ids.clone();
            let changed = self
                .peek(move |t| sync::changed_folders(t, &check_dev, &check_ids))
                .await;
            match changed {
                Ok(c) if !c.is_empty() => {
                    return encode(
                        Command::Ping,
                        v,
                        &PingResponse {
                            folders: c.iter().map(|f| f.0.to_string()).collect(),
                            ..PingResponse::status(PingStatus::ChangesOccurred)
                        },
                    );
                }
                Ok(_) => {}
                Err(e) => return reply::sync_error(Command::Ping, v, &e),
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match parked.wait(left).await {
                Wake::Changed => continue,
                Wake::Superseded | Wake::Expired | Wake::Shutdown => {
                    return encode(
                        Command::Ping,
                        v,
                        &PingResponse::status(PingStatus::HeartbeatExpired),
                    );
                }
            }
        }
    }

    async fn sync(&self, dev: DeviceCtx, body: &[u8]) -> EasReply {
        let v = dev.version;
        let req = match SyncRequest::from_body(body, v, Limits::DEFAULT) {
            Ok(r) => r,
            Err(e) => return reply::eas_error(Command::Sync, v, &e),
        };
        let req = if req.is_empty() || req.uses_cache() {
            match lock(&self.syncs).get(&dev.key) {
                Some(cached) if req.is_empty() => cached,
                Some(mut cached) => {
                    // Partial: the collections sent replace their cached versions.
                    for c in req.collections {
                        cached
                            .collections
                            .retain(|x| x.collection_id != c.collection_id);
                        cached.collections.push(c);
                    }
                    cached
                }
                // Nothing to repeat: the client must send a full request (Status 13).
                None => return reply::status_only(Command::Sync, 13),
            }
        } else {
            req
        };
        // What an empty or partial request repeats: the collections and their options, never
        // the commands (they were applied once), with the keys this answer hands out.
        let mut to_cache = req.clone();
        for c in &mut to_cache.collections {
            c.commands.clear();
        }
        let key = dev.key.clone();
        let user = dev.key.user.clone();
        let outcome = self.write(move |t| sync::sync(t, &dev, &req)).await;
        match outcome {
            Ok(o) => {
                for c in &mut to_cache.collections {
                    if let Some(r) = o
                        .response
                        .collections
                        .iter()
                        .find(|r| r.collection_id == c.collection_id)
                    {
                        c.sync_key.clone_from(&r.sync_key);
                    }
                }
                lock(&self.syncs).put(&key, to_cache);
                for (id, e) in &o.rejected {
                    log::info!("item {id} of {user:?} refused: {e}");
                }
                if !o.changed.is_empty() {
                    self.hub.notify_user(&user);
                    self.outbox_work.notify_one();
                }
                encode(Command::Sync, v, &o.response)
            }
            Err(e) => reply::sync_error(Command::Sync, v, &e),
        }
    }

    async fn run_command(&self, dev: DeviceCtx, cmd: Command, body: &[u8]) -> EasReply {
        let v = dev.version;
        macro_rules! decode {
            ($t:ty) => {
                match eas::from_wbxml::<$t>(body, v, Limits::DEFAULT) {
                    Ok(r) => r,
                    Err(e) => return reply::eas_error(cmd, v, &e),
                }
            };
        }
        match cmd {
            Command::Sync => self.sync(dev, body).await,
            Command::Ping => self.ping(dev, body).await,
            Command::FolderSync => {
                let req = decode!(FolderSyncRequest);
                match self.write(move |t| sync::folder_sync(t, &dev, &req)).await {
                    Ok(r) => encode(cmd, v, &r),
                    Err(e) => reply::sync_error(cmd, v, &e),
                }
            }
            Command::GetItemEstimate => {
                let req = decode!(GetItemEstimateRequest);
                match self
                    .write(move |t| sync::get_item_estimate(t, &dev, &req))
                    .await
                {
                    Ok(r) => encode(cmd, v, &r),
                    Err(e) => reply::sync_error(cmd, v, &e),
                }
            }
            Command::MoveItems => {
                let req = decode!(MoveItemsRequest);
                let user = dev.key.user.clone();
                match self.write(move |t| sync::move_items(t, &dev, &req)).await {
                    Ok(o) => {
                        if !o.changed.is_empty() {
                            self.hub.notify_user(&user);
                            self.outbox_work.notify_one();
                        }
                        encode(cmd, v, &o.response)
                    }
                    Err(e) => reply::sync_error(cmd, v, &e),
                }
            }
            Command::ItemOperations => {
                let req = decode!(ItemOperationsRequest);
                let client = dev.client;
                let done = self
                    .write(move |t| {
                        let mut resp = ItemOperationsResponse::new(ItemOperationsStatus::Success);
                        resp.client = client;
                        for op in &req.operations {
                            match op {
                                Operation::Fetch(f) => {
                                    resp.fetches.push(sync::item_operations_fetch(t, &dev, f)?)
                                }
                                // easbox has no mail: emptying folders and moving
                                // conversations are not offered.
                                _ => resp.status = ItemOperationsStatus::ProtocolError,
                            }
                        }
                        Ok(resp)
                    })
                    .await;
                match done {
                    Ok(r) => encode(cmd, v, &r),
                    Err(e) => reply::sync_error(cmd, v, &e),
                }
            }
            Command::Settings => {
                let req = decode!(SettingsRequest);
                self.settings_cmd(dev, req).await
            }
            Command::Search => {
                let req: SearchRequest = decode!(SearchRequest);
                // The GAL will list CRM users once the connector exists (issue 4); until
                // then a search succeeds with no matches, and other stores are refused.
                let gal = req
                    .store
                    .eq_ignore_ascii_case(crate::eas::commands::search::STORE_GAL);
                let resp = SearchResponse {
                    status: SearchStatus::Success,
                    store: Some(StoreResponse {
                        status: if gal {
                            StoreStatus::Success
                        } else {
                            StoreStatus::InvalidRequest
                        },
                        results: Vec::new(),
                        range: None,
                        total: Some(0),
                    }),
                };
                encode(cmd, v, &resp)
            }
            Command::MeetingResponse => {
                let req = decode!(MeetingResponseRequest);
                // Meeting replies need the CRM's invitation flow (issue 4); say so per request
                // rather than claim success.
                let resp = MeetingResponseResponse {
                    results: req
                        .requests
                        .iter()
                        .map(|r| MeetingResult {
                            request_id: r.request_id.clone(),
                            status: MeetingResponseStatus::InvalidMeetingRequest,
                            calendar_id: None,
                            instance_id: None,
                        })
                        .collect(),
                };
                encode(cmd, v, &resp)
            }
            // easbox holds no mail. Phones send meeting invitations as mail; the CRM notifies
            // attendees itself, so the message is accepted and dropped (EAS-NOTES §1.3).
            Command::SendMail => {
                log::info!(
                    "SendMail from {:?} dropped: easbox has no mail",
                    dev.key.device_id
                );
                EasReply::status(200)
            }
            _ => EasReply::status(400),
        }
    }

    async fn settings_cmd(&self, dev: DeviceCtx, req: SettingsRequest) -> EasReply {
        let v = dev.version;
        let mut resp = SettingsResponse::status(SettingsStatus::Success);
        if let Some(info) = &req.device_information {
            let key = dev.key.clone();
            let info = DeviceInfo::from(info);
            let stored = self
                .write(move |t| {
                    let mut d = t.device(&key)?.unwrap_or_default();
                    d.info = info;
                    t.put_device(&key, &d)?;
                    Ok(())
                })
                .await;
            if let Err(e) = stored {
                return reply::sync_error(Command::Settings, v, &e);
            }
            resp.device_information = Some(SettingsStatus::Success);
        }
        if req.user_information_get {
            let user = &dev.key.user;
            let address = if user.contains('@') {
                user.clone()
            } else {
                format!("{user}@{}", self.settings.mail_domain)
            };
            resp.user_information = Some(UserInformationResponse {
                status: SettingsStatus::Success,
                accounts: Some(vec![Account {
                    user_display_name: Some(user.clone()),
                    email_addresses: vec![address.clone()],
                    primary_smtp_address: Some(address),
                    ..Account::default()
                }]),
            });
        }
        if req.device_password.is_some() {
            resp.device_password = Some(SettingsStatus::Success);
        }
        if req.oof.is_some() {
            resp.oof = Some(crate::eas::commands::settings::OofResponse {
                status: SettingsStatus::AccessDenied,
                state: None,
            });
        }
        encode(Command::Settings, v, &resp)
    }
}

fn encode<T: Codec>(cmd: Command, v: ProtocolVersion, body: &T) -> EasReply {
    match eas::to_wbxml(body, v, reply::MAX_RESPONSE) {
        Ok(bytes) => EasReply::wbxml(bytes),
        Err(e) => {
            log::error!("{cmd:?} response not encodable: {e}");
            reply::failure(cmd, v, Failure::Server)
        }
    }
}

impl EasHandler for App {
    async fn handle(&self, req: EasRequest) -> EasReply {
        let cmd = req.line.command;
        let user = match self.authenticate(&req).await {
            Ok(u) => u,
            Err(Denied::Unauthorized) => {
                return EasReply {
                    status: 401,
                    headers: vec![("WWW-Authenticate", "Basic realm=\"easbox\"".into())],
                    body: Vec::new(),
                };
            }
            Err(Denied::Forbidden) => return EasReply::status(403),
            Err(Denied::Server) => return EasReply::status(500),
        };
        let Some(v) = req.line.protocol_version else {
            return EasReply::status(400);
        };
        let key = DeviceKey {
            user,
            device_id: req.line.device_id.clone(),
        };
        let device = match self.device(&key, &req, v).await {
            Ok(d) => d,
            Err(e) => return reply::sync_error(cmd, v, &e),
        };
        if cmd == Command::Provision {
            return self.provision(&key, v, &req.body).await;
        }
        let client = ClientKind::from_device(&req.line.device_type, req.user_agent.as_deref());
        let dev = DeviceCtx {
            key,
            version: v,
            client,
        };
        // Settings only records what the device says about itself and tells it its address;
        // clients send it before provisioning, so it does not wait for a policy key.
        if cmd == Command::Settings {
            return self.run_command(dev, cmd, &req.body).await;
        }
        let wipe_due = matches!(
            device.wipe,
            WipeState::Pending { .. } | WipeState::Requested { .. }
        );
        if wipe_due || !device.provisioned || device.policy_key.is_none() {
            return reply::failure(cmd, v, Failure::Provision(reply::DEVICE_NOT_PROVISIONED));
        }
        if req.line.policy_key != device.policy_key {
            return reply::failure(cmd, v, Failure::Provision(reply::INVALID_POLICY_KEY));
        }
        self.run_command(dev, cmd, &req.body).await
    }

    fn shutting_down(&self) {
        self.hub.shut_down();
    }
}
