//! The connector's runtime (issue 4 §2): one task beside the EAS server that, every
//! `interval_secs`, discovers the CRM users ([`super::users`]), drains the write-back outbox
//! ([`super::outbox::drain`]), pulls the CRM's changes ([`super::pull::pull`]), wakes the Pings
//! of the users whose folders changed, and records where it stands (`store::crm::CrmStatus`).
//!
//! - **Never in the way of EAS.** The connector is its own task; store work goes through
//!   `spawn_blocking` in short transactions; a CRM that is down or slow only delays the next
//!   cycle ([`backoff`]), while phones keep being served from the store.
//! - **Settings change at run time.** `easbox crm set` writes the settings and pokes
//!   [`Connector::settings_changed`] through the control socket; the connector builds a new
//!   [`Client`] and publishes it in the [`CrmHandle`] that the EAS side uses for CRM passwords.
//! - **A refused integration key is not retried** (CRM-API §0.4: 5 failed logins lock the user,
//!   100 ban the box's address): the status says so and the connector waits for new settings.
//! - **Pull now.** [`Connector::pull_now`] asks for a cycle and waits for its result (`easbox
//!   crm pull`); without a running loop it runs the cycle itself.
//! - **Outbox has work.** The EAS side notifies after a device change; the connector drains the
//!   outbox soon after ([`OUTBOX_DEBOUNCE`]) instead of waiting for the next cycle, unless the
//!   CRM is failing (then the next cycle, with its backoff, does it).
//! - **Full listings** (which catch purges and reassignments that incremental changes miss,
//!   CRM-API §7) run every [`FULL_LISTING_EVERY_CYCLES`] cycles or [`FULL_LISTING_EVERY`],
//!   whichever comes first, counted from when the settings were loaded.

use super::client::{Client, ClientOptions};
use super::wire::CrmError;
use super::{CrmHandle, Module, outbox, pull, users};
use crate::auth::seal::SealKey;
use crate::store::Store;
use crate::store::crm::{CrmSettings, CrmStatus};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, Notify, watch};
use tokio::time::Instant;

/// Cycles between two user discoveries (one also runs when the settings are loaded).
pub const USERS_EVERY_CYCLES: u32 = 10;
/// Cycles between two full id listings.
pub const FULL_LISTING_EVERY_CYCLES: u32 = 10;
/// Longest time between two full id listings.
pub const FULL_LISTING_EVERY: Duration = Duration::from_secs(600);
/// Longest wait after failures (unless the interval itself is longer).
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// Wait after an "outbox has work" notice before draining, so that a burst of device changes
/// is written back in one pass.
pub const OUTBOX_DEBOUNCE: Duration = Duration::from_secs(1);
/// Longest error text kept in the status, bytes.
pub const MAX_ERROR_TEXT: u32 = 512;
/// Skipped records kept in the status at most.
pub const MAX_STATUS_SKIPPED: u32 = 100;
/// How long shutdown waits for a cycle in progress before abandoning it.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How the connector wakes the parked Pings of a user (`PingHub::notify_user`).
pub type Wake = Box<dyn Fn(&str) + Send + Sync>;

/// Wait before the next cycle after `failures` consecutive failed ones: the interval, doubled
/// per failure, at most [`MAX_BACKOFF`] (or the interval when that is longer).
pub fn backoff(interval_secs: u32, failures: u32) -> Duration {
    let interval = Duration::from_secs(u64::from(interval_secs.max(1)));
    let cap = MAX_BACKOFF.max(interval);
    // 2^10 already exceeds the cap for any interval of at least 1 s.
    let factor = 1u32 << failures.min(10);
    interval.saturating_mul(factor).min(cap)
}

/// A cycle's outcome as text, for `easbox crm pull` (cheap to clone through a watch).
pub type Outcome = Result<String, String>;

/// What the loop keeps between cycles.
struct State {
    loaded: bool,
    settings: Option<CrmSettings>,
    client: Option<Arc<Client>>,
    /// Why no cycle runs until the settings change (a refused key, unusable settings).
    blocked: Option<String>,
    failures: u32,
    cycles_since_users: Option<u32>,
    cycles_since_full: u32,
    last_full: Instant,
    /// Users with ActiveSync on at the last cycle: a user switched on since gets the records
    /// the CRM already holds, which only the id listing finds (the change cursors are past
    /// them), so a new name here asks for one.
    /// `None` until the first cycle, which only records the set: a restart is not a switch-on,
    /// and the periodic listing still comes within [`FULL_LISTING_EVERY`].
    enabled: Option<std::collections::BTreeSet<String>>,
    /// Clients acting as single CRM users for the write-back, with the sealed key they were
    /// made from (a new key makes a new client).
    user_clients: HashMap<String, (Vec<u8>, Arc<Client>)>,
}

impl State {
    fn new() -> State {
        State {
            loaded: false,
            settings: None,
            client: None,
            blocked: None,
            failures: 0,
            cycles_since_users: None,
            cycles_since_full: 0,
            last_full: Instant::now(),
            enabled: None,
            user_clients: HashMap::new(),
        }
    }
}

/// The connector of one box.
pub struct Connector {
    store: Arc<Store>,
    crm: CrmHandle,
    seal: Arc<SealKey>,
    wake: Wake,
    outbox_work: Arc<Notify>,
    pull_now: Notify,
    pull_requested: AtomicBool,
    /// A person asked for a pull: it lists every id too, so a purge in the CRM shows at once.
    full_requested: AtomicBool,
    settings_changed: Notify,
    /// Set with `settings_changed`: a pull asked for after `crm set` answered must see the
    /// new settings, whichever notice the loop wakes on first.
    settings_dirty: AtomicBool,
    shutdown: watch::Sender<bool>,
    running: AtomicBool,
    full_started: AtomicU64,
    done: watch::Sender<(u64, Outcome)>,
    state: Mutex<State>,
}

fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn cap_text(mut s: String) -> String {
    if s.len() > MAX_ERROR_TEXT as usize {
        let mut cut = MAX_ERROR_TEXT as usize;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// What went wrong in a cycle.
enum Failure {
    Crm(CrmError),
    Local(String),
}

impl From<CrmError> for Failure {
    fn from(e: CrmError) -> Self {
        Failure::Crm(e)
    }
}

impl From<users::DiscoverError> for Failure {
    fn from(e: users::DiscoverError) -> Self {
        match e {
            users::DiscoverError::Crm(e) => Failure::Crm(e),
            users::DiscoverError::Store(e) => Failure::Local(format!("store: {e}")),
        }
    }
}

impl Connector {
    /// A connector over `store`. `outbox_work` is notified by the EAS side after device
    /// changes; `wake` wakes a user's Pings.
    pub fn new(
        store: Arc<Store>,
        crm: CrmHandle,
        seal: Arc<SealKey>,
        wake: Wake,
        outbox_work: Arc<Notify>,
    ) -> Arc<Connector> {
        Arc::new(Connector {
            store,
            crm,
            seal,
            wake,
            outbox_work,
            pull_now: Notify::new(),
            pull_requested: AtomicBool::new(false),
            full_requested: AtomicBool::new(false),
            settings_changed: Notify::new(),
            settings_dirty: AtomicBool::new(false),
            shutdown: watch::channel(false).0,
            running: AtomicBool::new(false),
            full_started: AtomicU64::new(0),
            done: watch::channel((0, Ok(String::new()))).0,
            state: Mutex::new(State::new()),
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The box's sealing key (settings seal the access key with it).
    pub fn seal(&self) -> &SealKey {
        &self.seal
    }

    /// The settings in the store changed: reload them before the next cycle, which runs now.
    pub fn settings_changed(&self) {
        self.settings_dirty.store(true, Ordering::Release);
        self.settings_changed.notify_one();
    }

    /// Ends [`Connector::run`] after the cycle in progress.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Runs a full cycle now and returns its outcome: through the running loop when there is
    /// one (waiting for a cycle that started after this call), else right here. `list_ids`
    /// asks for the full id listing too (purges and reassignments show at once).
    pub async fn pull_now(&self, list_ids: bool) -> Outcome {
        if list_ids {
            self.full_requested.store(true, Ordering::Release);
        }
        if !self.running.load(Ordering::Acquire) {
            let mut st = self.state.lock().await;
            if !st.loaded {
                self.reload(&mut st).await;
            }
            return self.full_cycle(&mut st).await;
        }
        let mut done = self.done.subscribe();
        let mut shutdown = self.shutdown.subscribe();
        let target = self.full_started.load(Ordering::Acquire) + 1;
        self.pull_requested.store(true, Ordering::Release);
        self.pull_now.notify_one();
        tokio::select! {
            r = done.wait_for(|(seq, _)| *seq >= target) => match r {
                Ok(v) => v.1.clone(),
                Err(_) => Err("the connector stopped".into()),
            },
            _ = shutdown.wait_for(|s| *s) => Err("the server is shutting down".into()),
        }
    }

    /// The loop: runs until [`Connector::shutdown`].
    pub async fn run(self: Arc<Self>) {
        let mut st = self.state.lock().await;
        self.running.store(true, Ordering::Release);
        let mut shutdown = self.shutdown.subscribe();
        if !st.loaded {
            self.settings_dirty.store(true, Ordering::Release);
        }
        let mut next_full = Instant::now();
        loop {
            if *shutdown.borrow() {
                break;
            }
            if self.settings_dirty.swap(false, Ordering::AcqRel) {
                self.reload(&mut st).await;
                next_full = Instant::now();
            }
            let asked = self.pull_requested.swap(false, Ordering::AcqRel);
            let usable = st.client.is_some() && st.blocked.is_none();
            if asked || (usable && Instant::now() >= next_full) {
                let seq = self.full_started.fetch_add(1, Ordering::AcqRel) + 1;
                let outcome = self.full_cycle(&mut st).await;
                if let Err(e) = &outcome {
                    log::debug!("CRM cycle {seq}: {e}");
                }
                let _ = self.done.send_replace((seq, outcome));
                let interval = st
                    .settings
                    .as_ref()
                    .map_or(crate::store::crm::DEFAULT_PULL_INTERVAL_SECS, |s| {
                        s.interval_secs
                    });
                next_full = Instant::now() + backoff(interval, st.failures);
            }
            let usable = st.client.is_some() && st.blocked.is_none();
            // Idle (no settings, or blocked): only a notice moves the loop.
            let deadline = if usable {
                next_full
            } else {
                Instant::now() + Duration::from_secs(86_400)
            };
            let mut drain = false;
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {}
                _ = self.pull_now.notified() => {}
                _ = self.settings_changed.notified() => {}
                _ = self.outbox_work.notified() => drain = true,
                _ = shutdown.changed() => {}
            }
            if drain && usable && st.failures == 0 && !self.settings_dirty.load(Ordering::Acquire) {
                tokio::select! {
                    _ = tokio::time::sleep(OUTBOX_DEBOUNCE) => {}
                    _ = shutdown.changed() => continue,
                }
                self.drain_pass(&mut st).await;
            }
        }
        self.running.store(false, Ordering::Release);
    }

    /// Loads the settings and builds the client (also after `easbox crm set`).
    async fn reload(&self, st: &mut State) {
        // New settings do not make every enabled user new.
        let enabled = st.enabled.take();
        *st = State::new();
        st.enabled = enabled;
        st.loaded = true;
        let store = self.store.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let t = store.read()?;
            Ok::<_, crate::store::StoreError>((t.crm_settings()?, t.crm_ca_file()?))
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
        let (settings, options) = match loaded {
            Ok((Some(s), ca_file)) => (
                s,
                ClientOptions {
                    ca_file: ca_file.map(PathBuf::from),
                },
            ),
            Ok((None, _)) => {
                self.crm.set(None);
                return;
            }
            Err(e) => {
                self.crm.set(None);
                st.blocked = Some(format!("cannot read the CRM settings: {e}"));
                return;
            }
        };
        let client = self
            .seal
            .open_str(&settings.access_key_sealed)
            .map_err(|e| format!("{e}; set the access key again with `easbox crm set`"))
            .and_then(|key| {
                Client::new_with(&settings.url, &settings.user, key, options)
                    .map_err(|e| e.to_string())
            });
        match client {
            Ok(c) => {
                let c = Arc::new(c);
                log::info!(
                    "CRM connector: {} as {:?}, every {} s",
                    settings.url,
                    settings.user,
                    settings.interval_secs
                );
                self.crm.set(Some(c.clone()));
                st.client = Some(c);
            }
            Err(e) => {
                self.crm.set(None);
                log::error!("CRM settings unusable: {e}");
                let text = cap_text(format!("CRM settings unusable: {e}"));
                st.blocked = Some(text.clone());
                let _ = self
                    .update_status(move |s| {
                        s.last_error = Some((now_secs(), text));
                    })
                    .await;
            }
        }
        st.settings = Some(settings);
    }

    /// Read-modify-write of the status, with the outbox length filled in.
    async fn update_status(
        &self,
        f: impl FnOnce(&mut CrmStatus) + Send + 'static,
    ) -> Result<CrmStatus, String> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let pending = outbox::pending_len(&store.read()?)?;
            let mut t = store.write()?;
            let mut s = t.crm_status()?;
            f(&mut s);
            s.outbox_len = pending;
            t.put_crm_status(&s)?;
            t.commit()?;
            Ok(s)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e: crate::store::StoreError| e.to_string())
    }

    /// Records a failed cycle; a refused key blocks further cycles until new settings.
    async fn fail(&self, st: &mut State, f: Failure) -> String {
        let (text, refused) = match f {
            Failure::Crm(e) => {
                // Only the integration user's own login blocks the connector; a user's key
                // refused while writing as that user is the outbox's business.
                let refused = e.code().is_some_and(|c| c.is_credential_failure())
                    && st.client.as_ref().is_some_and(|c| c.is_refused());
                (e.to_string(), refused)
            }
            Failure::Local(e) => (e, false),
        };
        let text = if refused {
            let user = st.settings.as_ref().map_or("", |s| s.user.as_str());
            format!(
                "the CRM refused the integration user {user:?} ({text}); no retry until the settings change (`easbox crm set`)"
            )
        } else {
            text
        };
        let text = cap_text(text);
        st.failures = st.failures.saturating_add(1);
        if refused {
            log::error!("{text}");
            st.blocked = Some(text.clone());
        } else {
            log::warn!("CRM cycle failed ({} in a row): {text}", st.failures);
        }
        let t = text.clone();
        if let Err(e) = self
            .update_status(move |s| {
                s.last_error = Some((now_secs(), t));
                s.failures = s.failures.saturating_add(1);
            })
            .await
        {
            log::error!("CRM status not written: {e}");
        }
        text
    }

    /// Clients acting as the enabled CRM users whose access key the box holds (from a CRM
    /// password typed on a phone, `store::crm_index::CrmPassword`), for the write-back.
    async fn user_clients(&self, st: &mut State) -> HashMap<String, Arc<Client>> {
        let Some(settings) = st.settings.clone() else {
            return HashMap::new();
        };
        let store = self.store.clone();
        let keys = tokio::task::spawn_blocking(move || {
            let t = store.read()?;
            let mut out = Vec::new();
            for (name, u) in t.crm_users()? {
                if !u.active || !t.user(&name)?.is_some_and(|b| b.enabled) {
                    continue;
                }
                if let Some(sealed) = t.crm_password(&name)?.and_then(|p| p.access_key_sealed) {
                    out.push((name, u.crm_name, sealed));
                }
            }
            Ok::<_, crate::store::StoreError>(out)
        })
        .await;
        let keys = match keys {
            Ok(Ok(k)) => k,
            Ok(Err(e)) => {
                log::error!("store: {e}");
                Vec::new()
            }
            Err(e) => {
                log::error!("worker: {e}");
                Vec::new()
            }
        };
        // The same CA file as the admin's client.
        let options = st
            .client
            .as_ref()
            .map(|c| c.options().clone())
            .unwrap_or_default();
        let mut next = HashMap::new();
        for (name, crm_name, sealed) in keys {
            if let Some((old, c)) = st.user_clients.remove(&name)
                && old == sealed
            {
                next.insert(name, (old, c));
                continue;
            }
            let Ok(key) = self.seal.open_str(&sealed) else {
                log::warn!("the stored CRM key of {name:?} does not open; writes go as admin");
                continue;
            };
            match Client::new_with(&settings.url, &crm_name, key, options.clone()) {
                Ok(c) => {
                    next.insert(name, (sealed, Arc::new(c)));
                }
                Err(e) => log::warn!("no CRM client for {name:?}: {e}"),
            }
        }
        st.user_clients = next;
        st.user_clients
            .iter()
            .map(|(n, (_, c))| (n.clone(), c.clone()))
            .collect()
    }

    fn wake_all(&self, users: &BTreeSet<String>) {
        for u in users {
            (self.wake)(u);
        }
    }

    /// The box users with ActiveSync on.
    async fn enabled_users(&self) -> Result<std::collections::BTreeSet<String>, Failure> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let t = store.read()?;
            Ok(t.list_users()?
                .into_iter()
                .filter(|(_, u)| u.enabled)
                .map(|(n, _)| n)
                .collect())
        })
        .await
        .map_err(|e| Failure::Local(e.to_string()))?
        .map_err(|e: crate::store::StoreError| Failure::Local(e.to_string()))
    }

    /// One cycle: users (when due), outbox, pull, wake-ups, status.
    async fn full_cycle(&self, st: &mut State) -> Outcome {
        if let Some(why) = &st.blocked {
            return Err(why.clone());
        }
        let (Some(client), Some(settings)) = (st.client.clone(), st.settings.clone()) else {
            return Err("no CRM settings: set them with `easbox crm set`".into());
        };
        match self.cycle_inner(st, &client, &settings).await {
            Ok(text) => Ok(text),
            Err(f) => Err(self.fail(st, f).await),
        }
    }

    async fn cycle_inner(
        &self,
        st: &mut State,
        client: &Client,
        settings: &CrmSettings,
    ) -> Result<String, Failure> {
        let mut out = String::new();
        let users_due = st
            .cycles_since_users
            .is_none_or(|n| n + 1 >= USERS_EVERY_CYCLES);
        let mut skipped: Vec<(String, String)> = Vec::new();
        if users_due {
            let r = users::discover(client, &self.store).await?;
            let _ = writeln!(
                out,
                "users: {} listed, {} active{}",
                r.seen,
                r.active,
                if r.created.is_empty() {
                    String::new()
                } else {
                    format!(", new box users (ActiveSync off): {}", r.created.join(", "))
                }
            );
            skipped.extend(
                r.skipped
                    .into_iter()
                    .map(|(id, why)| (format!("user {id}"), why)),
            );
            st.cycles_since_users = Some(0);
        } else {
            st.cycles_since_users = st.cycles_since_users.map(|n| n + 1);
        }

        let clients = self.user_clients(st).await;
        let as_user = move |name: &str| clients.get(name).cloned();
        let drain = outbox::drain(client, &as_user, &self.store).await?;
        let _ = writeln!(
            out,
            "outbox: {} written, {} conflicts, {} failed, {} pending",
            drain.written, drain.conflicts, drain.failed, drain.pending
        );

        let modules: Vec<Module> = settings
            .modules
            .iter()
            .filter_map(|m| Module::from_crm_name(m))
            .collect();
        let enabled = self.enabled_users().await?;
        let newly_enabled = st
            .enabled
            .as_ref()
            .is_some_and(|before| enabled.iter().any(|u| !before.contains(u)));
        st.enabled = Some(enabled);
        let full = self.full_requested.swap(false, Ordering::AcqRel)
            || newly_enabled
            || st.cycles_since_full + 1 >= FULL_LISTING_EVERY_CYCLES
            || st.last_full.elapsed() >= FULL_LISTING_EVERY;
        let pulled = pull::pull(client, &self.store, &modules, full).await?;
        if full {
            st.cycles_since_full = 0;
            st.last_full = Instant::now();
        } else {
            st.cycles_since_full += 1;
        }
        let methods: Vec<(String, String)> = pulled
            .methods
            .iter()
            .map(|(m, p)| (m.crm_name().to_owned(), p.as_str().to_owned()))
            .collect();
        let _ = writeln!(
            out,
            "pull: {} applied, {} deleted{}; methods: {}",
            pulled.applied,
            pulled.deleted,
            if full { " (full listing)" } else { "" },
            if methods.is_empty() {
                "-".to_owned()
            } else {
                methods
                    .iter()
                    .map(|(m, p)| format!("{m}={p}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        skipped.extend(pulled.skipped);
        skipped.truncate(MAX_STATUS_SKIPPED as usize);
        let _ = writeln!(out, "skipped: {}", skipped.len());

        let mut woken = drain.users_changed;
        woken.extend(pulled.users_changed);
        self.wake_all(&woken);
        let _ = writeln!(out, "woke: {} users", woken.len());

        st.failures = 0;
        let status = self
            .update_status(move |s| {
                s.last_success = Some(now_secs());
                s.last_error = None;
                s.failures = 0;
                if !methods.is_empty() {
                    s.methods = methods;
                }
                s.skipped = skipped;
            })
            .await
            .map_err(Failure::Local)?;
        let _ = writeln!(out, "outbox after: {}", status.outbox_len);
        Ok(out)
    }

    /// Writes the outbox back between cycles.
    async fn drain_pass(&self, st: &mut State) {
        let Some(client) = st.client.clone() else {
            return;
        };
        let clients = self.user_clients(st).await;
        let as_user = move |name: &str| clients.get(name).cloned();
        match outbox::drain(&client, &as_user, &self.store).await {
            Ok(r) => {
                self.wake_all(&r.users_changed);
                if let Err(e) = self.update_status(|_| {}).await {
                    log::error!("CRM status not written: {e}");
                }
            }
            Err(e) => {
                self.fail(st, Failure::Crm(e)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(60, 0), Duration::from_secs(60));
        assert_eq!(backoff(60, 1), Duration::from_secs(120));
        assert_eq!(backoff(60, 2), Duration::from_secs(240));
        assert_eq!(backoff(60, 3), Duration::from_secs(480));
        assert_eq!(backoff(60, 4), MAX_BACKOFF);
        assert_eq!(backoff(60, u32::MAX), MAX_BACKOFF);
        assert_eq!(backoff(5, 0), Duration::from_secs(5));
        assert_eq!(backoff(5, 7), Duration::from_secs(640));
        assert_eq!(backoff(5, 8), MAX_BACKOFF);
        // An interval longer than the cap is never shortened.
        assert_eq!(backoff(86_400, 0), Duration::from_secs(86_400));
        assert_eq!(backoff(86_400, 5), Duration::from_secs(86_400));
        // Never zero, even for a zero interval that validation would refuse.
        assert_eq!(backoff(0, 0), Duration::from_secs(1));
        for f in 0..40 {
            assert!(backoff(60, f) <= MAX_BACKOFF);
            assert!(backoff(60, f + 1) >= backoff(60, f));
        }
    }

    #[test]
    fn error_text_is_capped_on_a_char_boundary() {
        let long = "é".repeat(1000);
        let s = cap_text(long);
        assert!(s.len() <= MAX_ERROR_TEXT as usize + '…'.len_utf8());
        assert!(s.ends_with('…'));
        assert_eq!(cap_text("short".into()), "short");
    }
}
