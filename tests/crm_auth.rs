//! CRM passwords on the phone (issue 4 §3, DESIGN.md "Authentication"): the EAS server on
//! 127.0.0.1:0 in this process, the fake vtenext on 127.0.0.1:0, and the test EAS client.
//!
//! A box user without an ActiveSync password signs in with the CRM password: the CRM is asked
//! once (`login_pwd`), then the argon2id hash is used; a wrong password repeated 50 times makes
//! at most `CRM_USER_LIMIT` CRM calls and leaves the CRM user unlocked; a cached hash works
//! through a CRM outage within the grace period and not after; an ActiveSync password replaces
//! the CRM password.

mod common;

use common::eas_client::EasClient;
use common::server::fresh_dir;
use easbox::auth::Secret;
use easbox::auth::crm_password::{
    CRM_PAIR_LIMIT, CRM_PASSWORD_FRESH_SECS, CRM_PASSWORD_GRACE_SECS, CRM_USER_LIMIT,
};
use easbox::auth::seal::SealKey;
use easbox::crm::CrmHandle;
use easbox::crm::client::Client;
use easbox::crm::fake::{FakeConfig, FakeCrm, FakeHandle, FakeUser, FaultKind};
use easbox::eas::ProtocolVersion;
use easbox::eas::request::Command;
use easbox::http::{Config, Listeners};
use easbox::server::{App, Settings};
use easbox::store::crm::CrmUser;
use easbox::store::crm_index::CrmPassword;
use easbox::store::{Store, User};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

const CRM_NAME: &str = "MRossi";
const USER: &str = "mrossi";
const PASSWORD: &str = "Pass1234!";
const ACCESS_KEY: &str = "PVW7C7EyRVrVJjec";
const V: ProtocolVersion = ProtocolVersion::V14_1;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The fake CRM, the store, and EAS servers started on them.
struct Harness {
    rt: tokio::runtime::Runtime,
    fake: FakeHandle,
    crm_url: String,
    crm: CrmHandle,
    store: Arc<Store>,
    seal: Arc<SealKey>,
}

/// One running EAS server; stopped when dropped.
struct EasBox {
    addr: SocketAddr,
    app: Arc<App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for EasBox {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl Harness {
    /// A fake CRM with the admin and `MRossi`, and a box user `mrossi` (enabled, no ActiveSync
    /// password) with its `CrmUser` row.
    fn new(name: &str) -> Harness {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let cfg = FakeConfig {
            users: vec![
                FakeUser::new("admin", "adminpw", "AdminAccessKey00", ""),
                FakeUser::new(CRM_NAME, PASSWORD, ACCESS_KEY, "Europe/Rome"),
            ],
            ..FakeConfig::default()
        };
        let (addr, fake) = rt
            .block_on(FakeCrm::new(cfg).expect("fake").bind("127.0.0.1:0"))
            .expect("bind the fake CRM");
        let crm_url = format!("http://{addr}/");
        let client = Client::new(&crm_url, "admin", Secret::new("AdminAccessKey00".into()))
            .expect("CRM client");
        let crm = CrmHandle::default();
        crm.set(Some(Arc::new(client)));
        let dir = fresh_dir(name);
        let store = Arc::new(Store::open(dir.join("easbox.redb")).expect("store"));
        let seal = Arc::new(SealKey::load_or_create(&dir).expect("seal key"));
        let h = Harness {
            rt,
            crm_url,
            crm,
            store,
            seal,
            fake,
        };
        h.put_user(true, None);
        let crm_id = h.fake.user_id(CRM_NAME).expect("fake user id");
        let mut t = h.store.write().unwrap();
        t.put_crm_user(
            USER,
            &CrmUser {
                crm_id,
                crm_name: CRM_NAME.into(),
                tz: "Europe/Rome".into(),
                date_format: "dd-mm-yyyy".into(),
                active: true,
                is_admin: false,
            },
        )
        .unwrap();
        t.commit().unwrap();
        h
    }

    fn put_user(&self, enabled: bool, password_hash: Option<String>) {
        let mut t = self.store.write().unwrap();
        t.put_user(
            USER,
            &User {
                enabled,
                password_hash,
                created: 0,
            },
        )
        .unwrap();
        t.commit().unwrap();
    }

    /// A new EAS server (fresh in-memory caches and counters) on the same store and CRM.
    fn start(&self) -> EasBox {
        let settings = Settings {
            crm: self.crm.clone(),
            seal: Some(self.seal.clone()),
            ..Settings::default()
        };
        let app = Arc::new(App::new(self.store.clone(), settings).expect("app"));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let listeners = self
            .rt
            .block_on(Listeners::bind(&Config {
                http: Some("127.0.0.1:0".parse().unwrap()),
                ..Config::default()
            }))
            .expect("bind the EAS listener");
        let addr = listeners.http_addr().expect("http address");
        let served = app.clone();
        self.rt.spawn(async move {
            listeners
                .serve(served, async {
                    let _ = stop_rx.await;
                })
                .await;
        });
        EasBox {
            addr,
            app,
            stop: Some(stop_tx),
        }
    }

    fn login_pwd_calls(&self) -> u64 {
        self.fake.calls("login_pwd")
    }

    fn crm_password(&self) -> Option<CrmPassword> {
        self.store.read().unwrap().crm_password(USER).unwrap()
    }

    fn set_verified_at(&self, at: i64) {
        let mut p = self.crm_password().expect("a cached CRM password");
        p.verified_at = at;
        let mut t = self.store.write().unwrap();
        t.put_crm_password(USER, &p).unwrap();
        t.commit().unwrap();
    }

    /// `login_pwd` straight to the fake, from the same address as the box.
    fn direct_login_pwd(&self, password: &str) -> Result<String, String> {
        let c = Client::new(
            &self.crm_url,
            "admin",
            Secret::new("AdminAccessKey00".into()),
        )
        .map_err(|e| e.to_string())?;
        self.rt
            .block_on(c.login_pwd(CRM_NAME, &Secret::new(password.into())))
            .map(|k| k.expose().clone())
            .map_err(|e| e.to_string())
    }
}

fn client(b: &EasBox, password: &str, device: &str) -> EasClient {
    EasClient::new(b.addr, None, USER, password, device, "TestDevice", V)
}

/// The HTTP status of a FolderSync (no provisioning needed to learn the authentication).
fn status(b: &EasBox, password: &str) -> u16 {
    let mut c = client(b, password, "probe");
    c.post(Command::FolderSync, Vec::new())
        .expect("an HTTP answer")
        .status
}

/// Provision and FolderSync succeed with `password`.
fn full_sign_in(b: &EasBox, password: &str, device: &str) {
    let mut c = client(b, password, device);
    c.provision().expect("provision");
    let r = c.folder_sync("0").expect("folder sync");
    assert!(r.changes.is_some(), "the default folders are listed");
}

#[test]
fn crm_password_is_asked_once_then_cached() {
    let h = Harness::new("crm-auth-cached");
    let b = h.start();
    full_sign_in(&b, PASSWORD, "dev1");
    assert_eq!(h.login_pwd_calls(), 1, "the CRM checked the password once");

    // Further requests, even from another device, do not ask the CRM.
    full_sign_in(&b, PASSWORD, "dev2");
    assert_eq!(status(&b, PASSWORD), 200);
    assert_eq!(h.login_pwd_calls(), 1);

    // What was stored: an argon2id hash of the password, and the access key sealed.
    let p = h.crm_password().expect("a cached CRM password");
    let hash = p.hash.as_deref().expect("hash");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
    assert!((now() - p.verified_at).abs() < 600, "{}", p.verified_at);
    let sealed = p.access_key_sealed.expect("sealed access key");
    assert!(
        !sealed
            .windows(ACCESS_KEY.len())
            .any(|w| w == ACCESS_KEY.as_bytes()),
        "the access key is not stored in clear"
    );
    assert_eq!(h.seal.open_str(&sealed).unwrap().expose(), ACCESS_KEY);

    // A restarted server (empty memory) trusts the fresh stored hash without the CRM.
    drop(b);
    let b = h.start();
    assert_eq!(status(&b, PASSWORD), 200);
    assert_eq!(h.login_pwd_calls(), 1);
}

#[test]
fn crm_outage_uses_the_cached_hash_within_grace_only() {
    let h = Harness::new("crm-auth-outage");
    let b = h.start();
    assert_eq!(status(&b, PASSWORD), 200);
    drop(b);
    h.fake.set_fault("login_pwd", Some(FaultKind::Http500));

    // Stale but within grace: the CRM is asked, fails, and the hash still lets the phone in.
    h.set_verified_at(now() - i64::from(CRM_PASSWORD_FRESH_SECS) - 60);
    let calls = h.login_pwd_calls();
    let b = h.start();
    assert_eq!(status(&b, PASSWORD), 200);
    assert_eq!(h.login_pwd_calls(), calls + 1, "the CRM was tried");
    assert_eq!(status(&b, "wrong"), 401, "only the cached password");
    drop(b);

    // Past the grace period: refused while the CRM is down.
    h.set_verified_at(now() - i64::from(CRM_PASSWORD_GRACE_SECS) - 60);
    let b = h.start();
    assert_eq!(status(&b, PASSWORD), 401);

    // The CRM is back: the same server checks and refreshes the hash.
    h.fake.set_fault("login_pwd", None);
    assert_eq!(status(&b, PASSWORD), 200);
    let p = h.crm_password().expect("a cached CRM password");
    assert!((now() - p.verified_at).abs() < 600, "refreshed");
}

#[test]
fn wrong_password_50_times_stays_below_the_crm_lockout() {
    let h = Harness::new("crm-auth-wrong");
    let b = h.start();
    for _ in 0..50 {
        assert_eq!(status(&b, "wrong-password"), 401);
    }
    let calls = h.login_pwd_calls();
    assert!(
        (1..=u64::from(CRM_USER_LIMIT)).contains(&calls),
        "{calls} login_pwd calls"
    );
    // The CRM did not lock the user: the right password straight to the CRM still works.
    assert_eq!(h.direct_login_pwd(PASSWORD).as_deref(), Ok(ACCESS_KEY));
}

#[test]
fn distinct_wrong_passwords_50_times_stay_below_the_crm_lockout() {
    let h = Harness::new("crm-auth-guesses");
    let b = h.start();
    for i in 0..50 {
        assert_eq!(status(&b, &format!("guess-{i}")), 401);
    }
    // One phone address gets the per-address budget; all addresses together never more than
    // the per-user one.
    assert_eq!(h.login_pwd_calls(), u64::from(CRM_PAIR_LIMIT));
    const { assert!(CRM_PAIR_LIMIT <= CRM_USER_LIMIT) };
    assert_eq!(h.direct_login_pwd(PASSWORD).as_deref(), Ok(ACCESS_KEY));
}

#[test]
fn activesync_password_replaces_the_crm_password() {
    let h = Harness::new("crm-auth-aspw");
    let b = h.start();
    assert_eq!(status(&b, PASSWORD), 200);
    easbox::server::users::set_password(&h.store, USER, &Secret::new("as-pw".into()), false)
        .expect("set the ActiveSync password");
    b.app.forget_password(USER);
    assert_eq!(
        status(&b, PASSWORD),
        401,
        "the CRM password no longer works"
    );
    assert_eq!(status(&b, "as-pw"), 200);
    // Also after a restart, where the stored CRM hash is still fresh.
    drop(b);
    let b = h.start();
    assert_eq!(status(&b, PASSWORD), 401);
    assert_eq!(h.login_pwd_calls(), 1);
}

#[test]
fn disabled_user_is_never_sent_to_the_crm() {
    let h = Harness::new("crm-auth-disabled");
    h.put_user(false, None);
    let b = h.start();
    assert_eq!(status(&b, PASSWORD), 401);
    assert_eq!(h.login_pwd_calls(), 0);
    // With a hash the CRM accepted earlier, the password is known right: 403 as for an
    // ActiveSync password of a disabled user.
    h.put_user(true, None);
    let b2 = h.start();
    assert_eq!(status(&b2, PASSWORD), 200);
    h.put_user(false, None);
    let b3 = h.start();
    assert_eq!(status(&b3, PASSWORD), 403);
    assert_eq!(h.login_pwd_calls(), 1);
}
