//! `crm::pull` against the fake vtenext over real loopback sockets, into a real redb store:
//! records created, changed, reassigned, deleted and purged in the CRM reach the box in one
//! pull; times land in the owner's zone (CRM-API §3); the three methods (vtesync, sync, query)
//! give the same store; faults never lose or delete anything; a pull without CRM changes
//! writes nothing; paging past 100 records and records sharing one second.

use easbox::auth::Secret;
use easbox::crm::Module;
use easbox::crm::client::Client;
use easbox::crm::fake::{FakeConfig, FakeCrm, FakeHandle, FakeUser, FaultKind, Faults, Mode};
use easbox::crm::pull::{PullMethod, PullReport, pull};
use easbox::model::Item;
use easbox::model::event::EventTime;
use easbox::store::crm::CrmUser;
use easbox::store::{Store, User};
use easbox::sync::FolderId;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// A winter Monday, 2026-01-12 10:00:00 UTC.
const T0: i64 = 1_768_212_000;

fn fake_users() -> Vec<FakeUser> {
    vec![
        FakeUser::new("admin", "adminpw", "AdminAccessKey00", ""),
        FakeUser::new("mrossi", "pw", "MrossiAccessKey0", "America/New_York"),
        FakeUser::new("lbianchi", "pw", "LbianchiAccessK0", "Europe/Rome"),
        FakeUser::new("gverdi", "pw", "GverdiAccessKey0", "Europe/Rome"),
    ]
}

struct TmpStore {
    path: PathBuf,
    store: Arc<Store>,
}

impl Drop for TmpStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A store with box users `mrossi`, `lbianchi` (enabled) and `gverdi` (disabled), and the CRM
/// users of `crm` in `CRM_USERS`.
fn new_store(crm: &FakeHandle) -> TmpStore {
    static N: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "easbox-crm-pull-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&path);
    let store = Store::open(&path).unwrap();
    let mut t = store.write().unwrap();
    for (name, enabled) in [("mrossi", true), ("lbianchi", true), ("gverdi", false)] {
        t.put_user(
            name,
            &User {
                enabled,
                password_hash: None,
                created: 0,
            },
        )
        .unwrap();
    }
    for (name, tz) in [
        // The admin's zone is left empty: the pull asks the Users module when it needs it.
        ("admin", ""),
        ("mrossi", "America/New_York"),
        ("lbianchi", "Europe/Rome"),
        ("gverdi", "Europe/Rome"),
    ] {
        t.put_crm_user(
            name,
            &CrmUser {
                crm_id: crm.user_id(name).unwrap(),
                crm_name: name.into(),
                tz: tz.into(),
                date_format: "dd-mm-yyyy".into(),
                active: true,
                is_admin: name == "admin",
            },
        )
        .unwrap();
    }
    t.commit().unwrap();
    TmpStore {
        path,
        store: Arc::new(store),
    }
}

async fn fake(cfg: FakeConfig) -> (String, FakeHandle) {
    let (addr, h) = FakeCrm::new(cfg)
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    h.set_clock(Some(T0));
    (format!("http://{addr}/"), h)
}

fn cfg() -> FakeConfig {
    FakeConfig {
        users: fake_users(),
        ..FakeConfig::default()
    }
}

fn client(url: &str) -> Client {
    Client::new(url, "admin", Secret::new("AdminAccessKey00".into())).unwrap()
}

/// The box's CRM items: id → (user, folder, item).
fn snapshot(s: &Store) -> BTreeMap<String, (String, u32, Item)> {
    let r = s.read().unwrap();
    r.crm_index_with_prefix("")
        .unwrap()
        .into_iter()
        .map(|(id, e)| {
            let item = r
                .item(&e.user, e.folder(), e.item())
                .unwrap()
                .unwrap_or_else(|| panic!("{id} indexed but not stored"));
            (id, (e.user, e.folder, item.item))
        })
        .collect()
}

fn heads(s: &Store) -> Vec<u64> {
    let r = s.read().unwrap();
    let mut out = Vec::new();
    for u in ["mrossi", "lbianchi", "gverdi"] {
        for f in [6, 7, 8] {
            out.push(r.head(u, FolderId(f)).unwrap());
        }
    }
    out
}

async fn pull_all(c: &Client, s: &TmpStore, listing: bool) -> PullReport {
    pull(c, &s.store, &Module::ALL, listing).await.unwrap()
}

fn last_name(item: &Item) -> Option<String> {
    match item {
        Item::Contact(c) => c.last_name.clone(),
        _ => None,
    }
}

#[tokio::test]
async fn created_changed_reassigned_deleted_and_purged_records_reach_the_box() {
    let (url, crm) = fake(cfg()).await;
    let c = client(&url);
    let s = new_store(&crm);
    let c1 = crm
        .create("Contacts", "mrossi", &[("lastname", "Uno")])
        .unwrap();
    let c2 = crm
        .create("Contacts", "mrossi", &[("lastname", "Due")])
        .unwrap();
    let c3 = crm
        .create("Contacts", "lbianchi", &[("lastname", "Tre")])
        .unwrap();
    let hidden = crm
        .create("Contacts", "gverdi", &[("lastname", "Disabled")])
        .unwrap();
    let admin_own = crm
        .create("Contacts", "admin", &[("lastname", "Admin")])
        .unwrap();
    let r = pull_all(&c, &s, false).await;
    assert_eq!(r.applied, 3);
    assert_eq!(
        r.users_changed,
        ["lbianchi".to_owned(), "mrossi".to_owned()].into()
    );
    assert_eq!(
        r.methods,
        vec![
            (Module::Contacts, PullMethod::VteSync),
            (Module::Events, PullMethod::VteSync),
            (Module::Tasks, PullMethod::VteSync),
        ]
    );
    let snap = snapshot(&s.store);
    assert_eq!(snap.len(), 3);
    assert_eq!(snap[&c1].0, "mrossi");
    assert_eq!(snap[&c1].1, 8);
    assert_eq!(snap[&c3].0, "lbianchi");
    assert!(!snap.contains_key(&hidden), "a disabled user gets nothing");
    assert!(
        !snap.contains_key(&admin_own),
        "a CRM user without box account"
    );

    crm.advance(5);
    crm.update(&c1, &[("lastname", "Uno bis")]).unwrap();
    crm.reassign(&c2, "lbianchi").unwrap();
    crm.delete(&c3).unwrap();
    let r = pull_all(&c, &s, false).await;
    assert_eq!((r.applied, r.deleted), (2, 1));
    let snap = snapshot(&s.store);
    assert_eq!(last_name(&snap[&c1].2).as_deref(), Some("Uno bis"));
    assert_eq!(snap[&c2].0, "lbianchi");
    assert!(!snap.contains_key(&c3));
    // Moved, not copied: mrossi holds only c1.
    let r = s.store.read().unwrap();
    let mrossi: Vec<_> = r
        .crm_index_with_prefix("4x")
        .unwrap()
        .into_iter()
        .filter(|(_, e)| e.user == "mrossi")
        .collect();
    assert_eq!(mrossi.len(), 1);
    drop(r);

    // Reassigned to a disabled user: gone from the box.
    crm.advance(5);
    crm.reassign(&c2, "gverdi").unwrap();
    let r = pull_all(&c, &s, false).await;
    assert_eq!(r.deleted, 1);
    assert!(!snapshot(&s.store).contains_key(&c2));

    // Purged: only the id listing sees it.
    crm.advance(5);
    crm.purge(&c1).unwrap();
    let r = pull_all(&c, &s, false).await;
    assert_eq!(r.deleted, 0);
    assert!(snapshot(&s.store).contains_key(&c1));
    let r = pull_all(&c, &s, true).await;
    assert_eq!(r.deleted, 1);
    assert!(snapshot(&s.store).is_empty());
}

#[tokio::test]
async fn listing_moves_and_fetches_what_changes_missed() {
    let (url, crm) = fake(cfg()).await;
    let c = client(&url);
    let s = new_store(&crm);
    let a = crm
        .create("Contacts", "mrossi", &[("lastname", "A")])
        .unwrap();
    pull_all(&c, &s, false).await;
    // A second box whose store lost the record (or never got it): the listing fetches it.
    let s2 = new_store(&crm);
    pull_all(&c, &s2, true).await;
    assert!(snapshot(&s2.store).contains_key(&a));
    // The owner changes without the box seeing the change (cursor already past it).
    crm.advance(1);
    crm.reassign(&a, "lbianchi").unwrap();
    let snap_before = snapshot(&s.store);
    assert_eq!(snap_before[&a].0, "mrossi");
    let r = pull_all(&c, &s, true).await;
    assert_eq!(snapshot(&s.store)[&a].0, "lbianchi");
    assert!(r.users_changed.contains("mrossi"));
}

#[tokio::test]
async fn times_land_in_the_owners_zone_for_every_method() {
    let (url, crm) = fake(cfg()).await;
    let ev = crm
        .create(
            "Events",
            "mrossi",
            &[
                ("subject", "Call"),
                ("activitytype", "Meeting"),
                ("date_start", "2026-01-15"),
                ("time_start", "09:30"),
                ("due_date", "2026-01-15"),
                ("time_end", "10:15"),
                ("eventstatus", "Planned"),
            ],
        )
        .unwrap();
    let all_day = crm
        .create(
            "Events",
            "mrossi",
            &[
                ("subject", "Christmas eve"),
                ("activitytype", "Meeting"),
                ("date_start", "2026-12-24"),
                ("time_start", "00:00"),
                ("due_date", "2026-12-24"),
                ("time_end", "23:59"),
                ("is_all_day_event", "1"),
                ("eventstatus", "Planned"),
            ],
        )
        .unwrap();
    let task = crm
        .create(
            "Calendar",
            "mrossi",
            &[
                ("subject", "Call back"),
                ("date_start", "2026-01-16"),
                ("time_start", "14:00"),
                ("due_date", "2026-01-16"),
                ("taskstatus", "Not Started"),
            ],
        )
        .unwrap();
    let hidden_task = crm
        .create(
            "Calendar",
            "gverdi",
            &[
                ("subject", "Not for the box"),
                ("date_start", "2026-01-16"),
                ("due_date", "2026-01-16"),
                ("taskstatus", "Not Started"),
            ],
        )
        .unwrap();
    let ny = TimeZone::get("America/New_York").unwrap();
    let mut snaps = Vec::new();
    for (mode, vtesync, want) in [
        (Mode::Stock, true, PullMethod::VteSync),
        (Mode::SyncFixed, false, PullMethod::Sync),
        (Mode::Stock, false, PullMethod::Query),
    ] {
        crm.set_mode(mode);
        crm.set_vtesync(vtesync);
        let c = client(&url);
        let s = new_store(&crm);
        let r = pull_all(&c, &s, false).await;
        assert!(r.methods.iter().all(|(_, m)| *m == want), "{r:?}");
        let snap = snapshot(&s.store);
        let (user, folder, Item::Event(e)) = &snap[&ev] else {
            panic!("not an event")
        };
        assert_eq!((user.as_str(), *folder), ("mrossi", 7));
        let start: Timestamp = "2026-01-15T14:30:00Z".parse().unwrap();
        let end: Timestamp = "2026-01-15T15:15:00Z".parse().unwrap();
        assert_eq!(e.time, EventTime::Timed { start, end }, "{want:?}");
        assert_eq!(e.time_zone, ny);
        let (_, _, Item::Event(d)) = &snap[&all_day] else {
            panic!("not an event")
        };
        assert_eq!(
            d.time,
            EventTime::AllDay {
                start: jiff::civil::date(2026, 12, 24),
                end: jiff::civil::date(2026, 12, 25),
            },
            "{want:?}"
        );
        let (_, folder, Item::Task(t)) = &snap[&task] else {
            panic!("not a task")
        };
        assert_eq!(*folder, 6);
        let due = t.start.as_ref().unwrap();
        assert_eq!(due.utc, "2026-01-16T19:00:00Z".parse().unwrap());
        assert!(!snap.contains_key(&hidden_task));
        snaps.push(snap);
    }
    assert_eq!(snaps[0], snaps[1], "sync gives what vtesync gives");
    assert_eq!(snaps[0], snaps[2], "query gives what vtesync gives");
}

#[tokio::test]
async fn methods_are_detected_and_give_the_same_store_over_changes() {
    let (url, crm) = fake(cfg()).await;
    let ids: Vec<String> = (0..5)
        .map(|i| {
            crm.create("Contacts", "mrossi", &[("lastname", &format!("C{i}"))])
                .unwrap()
        })
        .collect();
    let stores: Vec<(Mode, bool, TmpStore, Client)> = [
        (Mode::Stock, true),
        (Mode::SyncFixed, false),
        (Mode::Stock, false),
    ]
    .into_iter()
    .map(|(m, v)| (m, v, new_store(&crm), client(&url)))
    .collect();
    for (m, v, s, c) in &stores {
        crm.set_mode(*m);
        crm.set_vtesync(*v);
        pull(c, &s.store, &[Module::Contacts], true).await.unwrap();
    }
    crm.advance(3);
    crm.update(&ids[0], &[("lastname", "Changed")]).unwrap();
    crm.reassign(&ids[1], "lbianchi").unwrap();
    crm.delete(&ids[2]).unwrap();
    let acme = crm
        .create("Accounts", "admin", &[("accountname", "ACME")])
        .unwrap();
    crm.update(&ids[3], &[("account_id", acme.as_str())])
        .unwrap();
    crm.advance(3);
    for (m, v, s, c) in &stores {
        crm.set_mode(*m);
        crm.set_vtesync(*v);
        pull(c, &s.store, &[Module::Contacts], true).await.unwrap();
    }
    let snaps: Vec<_> = stores
        .iter()
        .map(|(_, _, s, _)| snapshot(&s.store))
        .collect();
    assert_eq!(snaps[0].len(), 4);
    assert_eq!(last_name(&snaps[0][&ids[0]].2).as_deref(), Some("Changed"));
    assert_eq!(snaps[0][&ids[1]].0, "lbianchi");
    // Every method resolves the account (the stores are equal below).
    assert_eq!(company(&snaps[0][&ids[3]].2).as_deref(), Some("ACME"));
    assert_eq!(snaps[0], snaps[1]);
    // Query sees no deletes; the listing (asked above) does.
    assert_eq!(snaps[0], snaps[2]);
}

#[tokio::test]
async fn faults_lose_nothing_and_delete_nothing() {
    let kinds = [
        FaultKind::Http500,
        FaultKind::EmptyBody,
        FaultKind::MalformedJson,
        FaultKind::LostReply,
    ];
    for kind in kinds {
        for global in [true, false] {
            let (url, crm) = fake(cfg()).await;
            let c = client(&url);
            let s = new_store(&crm);
            let a = crm
                .create("Contacts", "mrossi", &[("lastname", "A")])
                .unwrap();
            let b = crm
                .create("Contacts", "mrossi", &[("lastname", "B")])
                .unwrap();
            let p = crm
                .create("Contacts", "mrossi", &[("lastname", "P")])
                .unwrap();
            pull_all(&c, &s, true).await;
            crm.advance(2);
            crm.update(&a, &[("lastname", "A2")]).unwrap();
            crm.delete(&b).unwrap();
            crm.purge(&p).unwrap();
            let n = crm
                .create("Contacts", "lbianchi", &[("lastname", "N")])
                .unwrap();
            let before = snapshot(&s.store);
            if global {
                crm.set_faults(Faults {
                    global: Some(kind),
                    ..Faults::default()
                });
            } else {
                // The changes read fine; the id listing fails.
                crm.set_fault("query", Some(kind));
            }
            let r = pull(&c, &s.store, &Module::ALL, true).await;
            assert!(r.is_err(), "{kind:?} global={global}: {r:?}");
            let after = snapshot(&s.store);
            assert!(after.contains_key(&p), "{kind:?}: a failed listing deletes");
            if global {
                assert_eq!(after, before, "{kind:?}");
            }
            crm.set_faults(Faults::default());
            pull_all(&c, &s, true).await;
            let snap = snapshot(&s.store);
            assert_eq!(last_name(&snap[&a].2).as_deref(), Some("A2"), "{kind:?}");
            assert!(!snap.contains_key(&b));
            assert!(!snap.contains_key(&p));
            assert!(snap.contains_key(&n));
        }
    }
}

#[tokio::test]
async fn a_fault_on_the_remembered_method_is_an_error_not_a_switch() {
    let (url, crm) = fake(cfg()).await;
    let c = client(&url);
    let s = new_store(&crm);
    crm.create("Contacts", "mrossi", &[("lastname", "A")])
        .unwrap();
    pull_all(&c, &s, false).await;
    crm.set_fault("vtesync.get_changes", Some(FaultKind::Http500));
    assert!(
        pull(&c, &s.store, &[Module::Contacts], false)
            .await
            .is_err()
    );
    crm.set_fault("vtesync.get_changes", None);
    let r = pull(&c, &s.store, &[Module::Contacts], false)
        .await
        .unwrap();
    assert_eq!(r.methods, vec![(Module::Contacts, PullMethod::VteSync)]);
}

#[tokio::test]
async fn slow_replies_are_waited_for() {
    let (url, crm) = fake(cfg()).await;
    let c = client(&url);
    let s = new_store(&crm);
    crm.create("Contacts", "mrossi", &[("lastname", "A")])
        .unwrap();
    crm.set_faults(Faults {
        delay_ms: 50,
        ..Faults::default()
    });
    let r = pull_all(&c, &s, true).await;
    assert_eq!(r.applied, 1);
}

#[tokio::test]
async fn a_pull_without_crm_changes_writes_nothing_and_costs_one_call_per_module() {
    for (mode, vtesync) in [
        (Mode::Stock, true),
        (Mode::SyncFixed, false),
        (Mode::Stock, false),
    ] {
        let (url, crm) = fake(cfg()).await;
        crm.set_mode(mode);
        crm.set_vtesync(vtesync);
        let c = client(&url);
        let s = new_store(&crm);
        for i in 0..30 {
            crm.create("Contacts", "mrossi", &[("lastname", &format!("C{i}"))])
                .unwrap();
            crm.create(
                "Events",
                "lbianchi",
                &[
                    ("subject", "E"),
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
        pull_all(&c, &s, false).await;
        let h = heads(&s.store);
        // Within the overlap window, then past it.
        for step in [1, 60] {
            crm.advance(step);
            let calls = c.calls();
            let r = pull_all(&c, &s, false).await;
            assert_eq!(r.applied, 0, "{mode:?} {vtesync}");
            assert!(r.users_changed.is_empty());
            assert_eq!(
                heads(&s.store),
                h,
                "{mode:?} {vtesync}: a change was logged"
            );
            assert_eq!(c.calls() - calls, 3, "{mode:?} {vtesync}");
        }
    }
}

#[tokio::test]
async fn a_crm_touch_that_changes_nothing_mapped_tells_no_phone() {
    let (url, crm) = fake(cfg()).await;
    let c = client(&url);
    let s = new_store(&crm);
    let id = crm
        .create("Contacts", "mrossi", &[("lastname", "Touched")])
        .unwrap();
    pull_all(&c, &s, false).await;
    let h = heads(&s.store);
    crm.advance(120);
    // `leadsource` is not a field the box maps: the record is newer, its content the same.
    crm.update(&id, &[("leadsource", "Web Site")]).unwrap();
    let r = pull_all(&c, &s, false).await;
    assert_eq!(r.applied, 0);
    assert!(r.users_changed.is_empty());
    assert_eq!(heads(&s.store), h, "a change was logged");
    // The box now knows the newer modifiedtime, so the next pull does not look again.
    let rt = s.store.read().unwrap();
    let e = rt.crm_index(&id).unwrap().unwrap();
    let item = rt.item(&e.user, e.folder(), e.item()).unwrap().unwrap();
    assert_eq!(item.crm.unwrap().modified, e.modified.to_string());
    drop(rt);
    // A real change still goes through.
    crm.advance(120);
    crm.update(&id, &[("lastname", "Changed")]).unwrap();
    let r = pull_all(&c, &s, false).await;
    assert_eq!(r.applied, 1);
    assert_ne!(heads(&s.store), h);
}

#[tokio::test]
async fn more_than_a_page_and_many_records_in_one_second() {
    for (mode, vtesync, n) in [
        (Mode::Stock, true, 250),
        // More than the largest get_changes page share one second.
        (Mode::Stock, true, 1_100),
        (Mode::SyncFixed, false, 250),
        (Mode::Stock, false, 250),
    ] {
        let (url, crm) = fake(cfg()).await;
        crm.set_mode(mode);
        crm.set_vtesync(vtesync);
        let c = client(&url);
        let s = new_store(&crm);
        // All in one second, then more over the next seconds.
        for i in 0..n {
            crm.create("Contacts", "mrossi", &[("lastname", &format!("S{i}"))])
                .unwrap();
        }
        for i in 0..150 {
            if i % 20 == 0 {
                crm.advance(1);
            }
            crm.create("Contacts", "lbianchi", &[("lastname", &format!("L{i}"))])
                .unwrap();
        }
        let r = pull(&c, &s.store, &[Module::Contacts], false)
            .await
            .unwrap();
        let snap = snapshot(&s.store);
        assert_eq!(snap.len(), n + 150, "{mode:?} {vtesync} {n}: {r:?}");
        assert_eq!(r.applied as usize, n + 150);
    }
}

#[tokio::test]
async fn records_written_in_the_cursors_second_are_not_missed() {
    for (mode, vtesync) in [
        (Mode::Stock, true),
        (Mode::SyncFixed, false),
        (Mode::Stock, false),
    ] {
        let (url, crm) = fake(cfg()).await;
        crm.set_mode(mode);
        crm.set_vtesync(vtesync);
        let c = client(&url);
        let s = new_store(&crm);
        let a = crm
            .create("Contacts", "mrossi", &[("lastname", "A")])
            .unwrap();
        pull_all(&c, &s, false).await;
        // Same second as the pull: a new record and a change of the one just pulled.
        let b = crm
            .create("Contacts", "mrossi", &[("lastname", "B")])
            .unwrap();
        crm.update(&a, &[("lastname", "A2")]).unwrap();
        pull_all(&c, &s, false).await;
        let snap = snapshot(&s.store);
        assert!(snap.contains_key(&b), "{mode:?} {vtesync}");
        assert_eq!(last_name(&snap[&a].2).as_deref(), Some("A2"), "{mode:?}");
    }
}

#[tokio::test]
async fn box_only_fields_survive_a_crm_update() {
    let (url, crm) = fake(cfg()).await;
    let c = client(&url);
    let s = new_store(&crm);
    let a = crm
        .create(
            "Contacts",
            "mrossi",
            &[("lastname", "A"), ("email", "a@crm.test")],
        )
        .unwrap();
    pull_all(&c, &s, false).await;
    // A phone added a second e-mail and a picture (stored on the box only).
    let e = s.store.read().unwrap().crm_index(&a).unwrap().unwrap();
    {
        use easbox::sync::{Origin, SyncStore};
        let mut t = s.store.write().unwrap();
        let mut it = t.item("mrossi", e.folder(), e.item()).unwrap().unwrap();
        if let Item::Contact(ct) = &mut it.item {
            ct.email[1] = Some("second@box.test".into());
            ct.picture = Some(vec![1, 2, 3]);
        }
        t.put_item(
            "mrossi",
            e.folder(),
            Some(e.item()),
            &it,
            &Origin::Device("d".into()),
        )
        .unwrap();
        t.commit().unwrap();
    }
    crm.advance(2);
    crm.update(&a, &[("lastname", "A2")]).unwrap();
    pull_all(&c, &s, false).await;
    let snap = snapshot(&s.store);
    let Item::Contact(ct) = &snap[&a].2 else {
        panic!()
    };
    assert_eq!(ct.last_name.as_deref(), Some("A2"));
    assert_eq!(ct.email[0].as_deref(), Some("a@crm.test"));
    assert_eq!(ct.email[1].as_deref(), Some("second@box.test"));
    assert_eq!(ct.picture, Some(vec![1, 2, 3]));
    let stored = s
        .store
        .read()
        .unwrap()
        .item("mrossi", e.folder(), e.item())
        .unwrap()
        .unwrap();
    let crm_ref = stored.crm.unwrap();
    assert_eq!(crm_ref.id, a);
    assert_eq!(crm_ref.modified, (T0 + 2).to_string());
}

fn company(item: &Item) -> Option<String> {
    match item {
        Item::Contact(c) => c.company_name.clone(),
        _ => None,
    }
}

#[tokio::test]
async fn a_contacts_account_is_its_company_on_the_box() {
    let (url, crm) = fake(cfg()).await;
    let c = client(&url);
    let s = new_store(&crm);
    let acme = crm
        .create("Accounts", "mrossi", &[("accountname", "ACME Srl")])
        .unwrap();
    assert!(acme.starts_with("3x"), "{acme}");
    let with = crm
        .create(
            "Contacts",
            "mrossi",
            &[("lastname", "With"), ("account_id", acme.as_str())],
        )
        .unwrap();
    let without = crm
        .create("Contacts", "mrossi", &[("lastname", "Without")])
        .unwrap();
    let queries = crm.calls("query");
    let r = pull_all(&c, &s, false).await;
    assert!(r.skipped.is_empty(), "{r:?}");
    let snap = snapshot(&s.store);
    assert_eq!(company(&snap[&with].2).as_deref(), Some("ACME Srl"));
    assert_eq!(company(&snap[&without].2), None);
    // One Accounts query for the page (the cycle asks no other query with vtesync).
    assert_eq!(crm.calls("query") - queries, 1);

    // Another account in the CRM: the box follows.
    crm.advance(2);
    let other = crm
        .create("Accounts", "admin", &[("accountname", "Beta SpA")])
        .unwrap();
    crm.update(&with, &[("account_id", other.as_str())])
        .unwrap();
    pull_all(&c, &s, false).await;
    let snap = snapshot(&s.store);
    assert_eq!(company(&snap[&with].2).as_deref(), Some("Beta SpA"));

    // An account that does not resolve (deleted) leaves the company as the box has it.
    crm.advance(2);
    crm.delete(&other).unwrap();
    crm.update(&with, &[("lastname", "With2")]).unwrap();
    let r = pull_all(&c, &s, false).await;
    assert!(r.skipped.is_empty(), "{r:?}");
    let snap = snapshot(&s.store);
    assert_eq!(last_name(&snap[&with].2).as_deref(), Some("With2"));
    assert_eq!(company(&snap[&with].2).as_deref(), Some("Beta SpA"));
}

#[tokio::test]
async fn faults_on_the_accounts_query_lose_nothing() {
    for kind in [
        FaultKind::Http500,
        FaultKind::EmptyBody,
        FaultKind::MalformedJson,
        FaultKind::LostReply,
    ] {
        let (url, crm) = fake(cfg()).await;
        let c = client(&url);
        let s = new_store(&crm);
        let acme = crm
            .create("Accounts", "mrossi", &[("accountname", "ACME")])
            .unwrap();
        let a = crm
            .create(
                "Contacts",
                "mrossi",
                &[("lastname", "A"), ("account_id", acme.as_str())],
            )
            .unwrap();
        pull_all(&c, &s, false).await;
        crm.advance(2);
        crm.update(&a, &[("lastname", "A2")]).unwrap();
        let b = crm
            .create(
                "Contacts",
                "lbianchi",
                &[("lastname", "B"), ("account_id", acme.as_str())],
            )
            .unwrap();
        crm.set_fault("query", Some(kind));
        let r = pull(&c, &s.store, &Module::ALL, false).await;
        let r = r.unwrap_or_else(|e| panic!("{kind:?}: the pull stopped: {e}"));
        crm.set_fault("query", None);
        let snap = snapshot(&s.store);
        assert_eq!(last_name(&snap[&a].2).as_deref(), Some("A2"), "{kind:?}");
        // The box's company stays; the new contact has none yet, but it is there.
        assert_eq!(company(&snap[&a].2).as_deref(), Some("ACME"), "{kind:?}");
        assert!(snap.contains_key(&b), "{kind:?}: {r:?}");
        assert_eq!(
            company(&snap[&b].2),
            None,
            "{kind:?}: the fault was not hit"
        );
        // The next CRM change brings the company.
        crm.advance(2);
        crm.update(&b, &[("lastname", "B2")]).unwrap();
        pull_all(&c, &s, true).await;
        let snap = snapshot(&s.store);
        assert_eq!(company(&snap[&b].2).as_deref(), Some("ACME"), "{kind:?}");
        assert!(snap.contains_key(&a));
    }
}
