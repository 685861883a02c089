//! CRM pull benchmarks against the fake vtenext over loopback, into a redb store under the
//! system temp dir.
//!
//! Method. `import`: the fake holds 10,000 contacts of one enabled user (created 50 per CRM
//! second) and answers every call after 50 ms (`Faults::delay_ms`, a CRM on a slow link);
//! `pull` runs until a cycle applies nothing (a cycle stops at `MAX_PAGES_PER_MODULE` /
//! `MAX_RECORDS_PER_MODULE`), once per method (vtesync, sync, query). Printed: wall time, CRM
//! calls (`Client::calls`), items per second. `idle`: a fake with 101 users (the admin and 100
//! users enabled on the box), 3 contacts, 2 events and 1 task each, one user's per CRM second;
//! a first pull imports them,
//! then 10 cycles with no CRM change are timed, with no delay and with 50 ms per call.
//! Printed: CRM calls per cycle and per user, wall time per cycle.
//!
//! Run: `cargo bench --bench crm_pull` (or `-- import`, `-- idle`). Prints figures; nothing
//! here asserts a speed.

use easbox::auth::Secret;
use easbox::crm::Module;
use easbox::crm::client::Client;
use easbox::crm::fake::{FakeConfig, FakeCrm, FakeHandle, FakeUser, Faults, Mode};
use easbox::crm::pull::pull;
use easbox::store::crm::CrmUser;
use easbox::store::{Store, User};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

const T0: i64 = 1_768_212_000;

struct Tmp(PathBuf);
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn store_for(crm: &FakeHandle, users: &[String], tag: &str) -> (Tmp, Arc<Store>) {
    let path = std::env::temp_dir().join(format!("easbox-bench-pull-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = Store::open(&path).unwrap();
    let mut t = store.write().unwrap();
    for u in users {
        t.put_user(
            u,
            &User {
                enabled: true,
                password_hash: None,
                created: 0,
            },
        )
        .unwrap();
        t.put_crm_user(
            u,
            &CrmUser {
                crm_id: crm.user_id(u).unwrap(),
                crm_name: u.clone(),
                tz: "Europe/Rome".into(),
                date_format: "dd-mm-yyyy".into(),
                active: true,
                is_admin: false,
            },
        )
        .unwrap();
    }
    t.commit().unwrap();
    (Tmp(path), Arc::new(store))
}

async fn fake(users: &[String], mode: Mode, vtesync: bool) -> (String, FakeHandle) {
    let mut fu = vec![FakeUser::new("admin", "a", "AdminAccessKey00", "")];
    fu.extend(
        users
            .iter()
            .map(|u| FakeUser::new(u, "p", "UserAccessKey000", "")),
    );
    let cfg = FakeConfig {
        users: fu,
        mode,
        vtesync,
        ..FakeConfig::default()
    };
    let (addr, h) = FakeCrm::new(cfg)
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    h.set_clock(Some(T0));
    (format!("http://{addr}/"), h)
}

const METHODS: [(Mode, bool, &str); 3] = [
    (Mode::Stock, true, "vtesync"),
    (Mode::SyncFixed, false, "sync"),
    (Mode::Stock, false, "query"),
];

async fn import() {
    println!("import: 10,000 contacts, 50 ms per CRM call");
    let users = vec!["mrossi".to_owned()];
    for (mode, vtesync, name) in METHODS {
        let (url, crm) = fake(&users, mode, vtesync).await;
        for i in 0..10_000 {
            if i % 50 == 0 {
                crm.advance(1);
            }
            crm.create(
                "Contacts",
                "mrossi",
                &[
                    ("firstname", "Anna"),
                    ("lastname", &format!("Rossi {i}")),
                    ("email", &format!("anna{i}@example.test")),
                    ("mobile", &format!("+39 333 {:07}", i)),
                    ("mailingcity", "Milano"),
                ],
            )
            .unwrap();
        }
        crm.set_faults(Faults {
            delay_ms: 50,
            ..Faults::default()
        });
        let (_tmp, store) = store_for(&crm, &users, name);
        let c = Client::new(&url, "admin", Secret::new("AdminAccessKey00".into())).unwrap();
        let t = Instant::now();
        let mut items = 0u64;
        let mut cycles = 0;
        loop {
            let r = pull(&c, &store, &[Module::Contacts], false).await.unwrap();
            cycles += 1;
            if r.applied == 0 {
                break;
            }
            items += u64::from(r.applied);
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "  {name:8} {items} items in {secs:.1} s ({cycles} cycles, the last empty), {} CRM calls, {:.0} items/s",
            c.calls(),
            items as f64 / secs
        );
    }
}

async fn idle() {
    println!("idle: 100 enabled users, 6 records each, a cycle without CRM changes (3 modules)");
    let users: Vec<String> = (0..100).map(|i| format!("user{i:03}")).collect();
    for (mode, vtesync, name) in METHODS {
        let (url, crm) = fake(&users, mode, vtesync).await;
        // One user's records per CRM second, as office work spreads them.
        for u in &users {
            crm.advance(1);
            for k in 0..3 {
                crm.create("Contacts", u, &[("lastname", &format!("C{k}"))])
                    .unwrap();
            }
            for k in 0..2 {
                crm.create(
                    "Events",
                    u,
                    &[
                        ("subject", &format!("E{k}")),
                        ("activitytype", "Meeting"),
                        ("date_start", "2026-01-15"),
                        ("time_start", "09:30"),
                        ("due_date", "2026-01-15"),
                        ("time_end", "10:00"),
                        ("eventstatus", "Planned"),
                    ],
                )
                .unwrap();
            }
            crm.create(
                "Calendar",
                u,
                &[
                    ("subject", "T"),
                    ("date_start", "2026-01-16"),
                    ("due_date", "2026-01-16"),
                    ("taskstatus", "Not Started"),
                ],
            )
            .unwrap();
        }
        let (_tmp, store) = store_for(&crm, &users, &format!("idle-{name}"));
        let c = Client::new(&url, "admin", Secret::new("AdminAccessKey00".into())).unwrap();
        let first = pull(&c, &store, &Module::ALL, false).await.unwrap();
        for delay in [0u32, 50] {
            crm.set_faults(Faults {
                delay_ms: delay,
                ..Faults::default()
            });
            let calls = c.calls();
            let t = Instant::now();
            const CYCLES: u32 = 10;
            for _ in 0..CYCLES {
                crm.advance(60);
                let r = pull(&c, &store, &Module::ALL, false).await.unwrap();
                assert_eq!(r.applied, 0);
            }
            let per_cycle = (c.calls() - calls) as f64 / f64::from(CYCLES);
            let wall = t.elapsed().as_secs_f64() * 1000.0 / f64::from(CYCLES);
            println!(
                "  {name:8} delay {delay:2} ms: {per_cycle:.1} calls/cycle, {:.3} calls/user/cycle, {wall:.1} ms/cycle (first import: {} items)",
                per_cycle / 100.0,
                first.applied
            );
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |p: &str| args.is_empty() || args.iter().any(|a| a == p);
    if want("import") {
        import().await;
    }
    if want("idle") {
        idle().await;
    }
}
