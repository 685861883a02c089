//! The write-back outbox (`store::outbox` queueing, `crm::outbox::drain`) against the fake
//! vtenext over real loopback sockets and a real redb file: device changes made through the
//! store as the sync engine makes them reach the CRM with the right fields and times, get their
//! CRM identity without a change for the phone, fold, survive a lost reply and a restart
//! without a duplicate, back off on transient faults, follow the conflict rule, and keep a
//! refused change as failed.

use easbox::auth::Secret;
use easbox::crm::client::Client;
use easbox::crm::fake::{FakeConfig, FakeCrm, FakeHandle, FakeUser, FaultKind};
use easbox::crm::outbox::{self, DrainReport, UserClients};
use easbox::model::{self, Contact, Event, Task};
use easbox::store::crm::{CrmSettings, CrmUser};
use easbox::store::outbox::OutboxState;
use easbox::store::{Store, User};
use easbox::sync::{ChangeKind, CrmRef, FolderId, ItemId, Origin, StoredItem, SyncStore};
use jiff::civil::date;
use jiff::tz::TimeZone;
use std::path::PathBuf;
use std::sync::Arc;

const USER: &str = "mrossi";
const CONTACTS: FolderId = FolderId(8);
const CALENDAR: FolderId = FolderId(7);
const TASKS: FolderId = FolderId(6);

struct Env {
    path: PathBuf,
    store: Arc<Store>,
    crm: FakeHandle,
    url: String,
    admin: Client,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn no_users(_: &str) -> Option<Arc<Client>> {
    None
}

const NONE: UserClients<'static> = &no_users;

async fn env(name: &str) -> Env {
    let cfg = FakeConfig {
        users: vec![
            FakeUser::new("admin", "adminpw", "AdminAccessKey00", ""),
            FakeUser::new(USER, "Pass1234!", "PVW7C7EyRVrVJjec", "America/New_York"),
        ],
        ..FakeConfig::default()
    };
    let (addr, crm) = FakeCrm::new(cfg)
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("http://{addr}/");
    let path = std::env::temp_dir().join(format!(
        "easbox-crm-outbox-{name}-{}.redb",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let store = Arc::new(Store::open(&path).unwrap());
    let mut t = store.write().unwrap();
    t.put_crm_settings(&CrmSettings {
        url: url.clone(),
        user: "admin".into(),
        access_key_sealed: Vec::new(),
        interval_secs: 60,
        modules: vec!["Contacts".into(), "Events".into(), "Calendar".into()],
    })
    .unwrap();
    t.put_user(
        USER,
        &User {
            enabled: true,
            password_hash: None,
            created: 0,
        },
    )
    .unwrap();
    for (name, tz, admin) in [
        ("admin", "Europe/Rome", true),
        (USER, "America/New_York", false),
    ] {
        t.put_crm_user(
            name,
            &CrmUser {
                crm_id: crm.user_id(name).unwrap(),
                crm_name: name.into(),
                tz: tz.into(),
                date_format: "dd-mm-yyyy".into(),
                active: true,
                is_admin: admin,
            },
        )
        .unwrap();
    }
    t.folders(USER).unwrap();
    t.commit().unwrap();
    let admin = admin_client(&url);
    Env {
        path,
        store,
        crm,
        url,
        admin,
    }
}

fn admin_client(url: &str) -> Client {
    Client::new(url, "admin", Secret::new("AdminAccessKey00".into())).unwrap()
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl Env {
    /// A device change as the sync engine makes it: one transaction, committed.
    fn device_put(&self, folder: FolderId, item: Option<ItemId>, data: model::Item) -> ItemId {
        self.device_put_with(folder, item, data, false)
    }

    fn device_put_with(
        &self,
        folder: FolderId,
        item: Option<ItemId>,
        data: model::Item,
        client_wins: bool,
    ) -> ItemId {
        let mut t = self.store.write().unwrap();
        t.set_client_wins(client_wins);
        let crm = item.and_then(|i| t.item(USER, folder, i).unwrap().and_then(|s| s.crm));
        let stored = StoredItem {
            item: data,
            unknown: Vec::new(),
            crm,
        };
        let id = t
            .put_item(USER, folder, item, &stored, &Origin::Device("dev1".into()))
            .unwrap();
        t.commit().unwrap();
        id
    }

    fn device_delete(&self, folder: FolderId, item: ItemId) {
        let mut t = self.store.write().unwrap();
        assert!(
            t.delete_item(USER, folder, item, &Origin::Device("dev1".into()))
                .unwrap()
        );
        t.commit().unwrap();
    }

    /// A restart: the store file closed and opened again.
    fn reopen(&mut self) {
        // redb opens a file once per process: a stand-in holds the place meanwhile.
        let stand_in = self.path.with_extension("stand-in");
        let old = std::mem::replace(&mut self.store, Arc::new(Store::open(&stand_in).unwrap()));
        drop(old);
        self.store = Arc::new(Store::open(&self.path).unwrap());
        let _ = std::fs::remove_file(&stand_in);
    }

    fn stored(&self, folder: FolderId, item: ItemId) -> StoredItem {
        self.store
            .read()
            .unwrap()
            .item(USER, folder, item)
            .unwrap()
            .unwrap()
    }

    fn crm_ref(&self, folder: FolderId, item: ItemId) -> CrmRef {
        self.stored(folder, item)
            .crm
            .expect("the item has its CRM id")
    }

    fn head(&self, folder: FolderId) -> u64 {
        self.store.read().unwrap().head(USER, folder).unwrap()
    }

    fn counts(&self) -> (u32, u32) {
        self.store.read().unwrap().outbox_counts().unwrap()
    }

    async fn drain(&self, at: i64) -> DrainReport {
        outbox::drain_at(&self.admin, NONE, &self.store, at)
            .await
            .unwrap()
    }
}

fn contact(first: &str, last: &str) -> model::Item {
    model::Item::Contact(Contact {
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        email: [Some("lucia@example.test".into()), None, None],
        mobile_phone: Some("+39 333 1234567".into()),
        business_phone: Some("+39 02 555".into()),
        birthday: Some(date(1980, 5, 17)),
        ..Contact::default()
    })
}

fn with_contact(item: &model::Item, f: impl FnOnce(&mut Contact)) -> model::Item {
    let model::Item::Contact(c) = item else {
        panic!("not a contact")
    };
    let mut c = c.clone();
    f(&mut c);
    model::Item::Contact(c)
}

#[tokio::test]
async fn an_add_reaches_the_crm_and_gets_its_id_silently() {
    let e = env("add").await;
    let item = e.device_put(CONTACTS, None, contact("Lucia", "Bianchi"));
    assert_eq!(e.counts(), (1, 0), "queued with the change");
    let head = e.head(CONTACTS);

    let r = e.drain(now()).await;
    assert_eq!((r.written, r.conflicts, r.failed, r.pending), (1, 0, 0, 0));
    assert!(r.users_changed.is_empty());
    let ids = e.crm.ids("Contacts", Some(USER));
    assert_eq!(ids.len(), 1, "one record, owned by the box user");
    let rec = e.crm.record(&ids[0]).unwrap();
    assert_eq!(rec["firstname"], "Lucia");
    assert_eq!(rec["lastname"], "Bianchi");
    assert_eq!(rec["email"], "lucia@example.test");
    assert_eq!(rec["mobile"], "+39 333 1234567");
    assert_eq!(rec["phone"], "+39 02 555");
    assert_eq!(rec["birthday"], "17-05-1980");
    assert_eq!(rec["assigned_user_id"], e.crm.user_id(USER).unwrap());

    // The CRM's identity replaces the temporary one without a change for the phone.
    let r = e.crm_ref(CONTACTS, item);
    assert_eq!(r.id, ids[0]);
    assert_eq!(e.head(CONTACTS), head);
    let crm_modified = {
        let raw = e.crm.record_raw(&ids[0]).unwrap();
        let rome = TimeZone::get("Europe/Rome").unwrap();
        let dt: jiff::civil::DateTime = raw["modifiedtime"].parse().unwrap();
        rome.to_timestamp(dt).unwrap().as_second()
    };
    assert_eq!(r.modified, crm_modified.to_string(), "true epoch seconds");
    let idx = e.store.read().unwrap().crm_index(&ids[0]).unwrap().unwrap();
    assert_eq!((idx.item, idx.modified), (item.0, crm_modified));
    assert_eq!(e.counts(), (0, 0));
    // Nothing left: another drain sends nothing.
    let before = e.crm.calls("create");
    assert_eq!(e.drain(now()).await.written, 0);
    assert_eq!(e.crm.calls("create"), before);
}

#[tokio::test]
async fn written_as_the_user_when_the_box_has_the_users_client() {
    let e = env("asuser").await;
    let url = e.url.clone();
    let user_client =
        Arc::new(Client::new(&url, USER, Secret::new("PVW7C7EyRVrVJjec".into())).unwrap());
    let clients = move |u: &str| (u == USER).then(|| user_client.clone());
    e.device_put(CONTACTS, None, contact("Anna", "Verdi"));
    let r = outbox::drain_at(&e.admin, &clients, &e.store, now())
        .await
        .unwrap();
    assert_eq!(r.written, 1);
    let ids = e.crm.ids("Contacts", Some(USER));
    let rec = e.crm.record(&ids[0]).unwrap();
    assert_eq!(rec["creator"], e.crm.user_id(USER).unwrap());
    assert_eq!(e.admin.calls(), 0, "the integration user wrote nothing");
}

#[tokio::test]
async fn events_and_tasks_keep_their_times_and_days() {
    let e = env("times").await;
    let ny = TimeZone::get("America/New_York").unwrap();
    let start = ny.to_timestamp(date(2026, 12, 1).at(9, 30, 0, 0)).unwrap();
    let end = ny.to_timestamp(date(2026, 12, 1).at(10, 45, 0, 0)).unwrap();
    let timed = e.device_put(
        CALENDAR,
        None,
        model::Item::Event(Event::timed("Riunione", start, end, ny.clone())),
    );
    let all_day = e.device_put(
        CALENDAR,
        None,
        model::Item::Event(Event::all_day(
            "Vigilia",
            date(2026, 12, 24),
            date(2026, 12, 25),
            ny.clone(),
        )),
    );
    let task_due = ny.to_timestamp(date(2026, 12, 3).at(14, 0, 0, 0)).unwrap();
    let task = e.device_put(
        TASKS,
        None,
        model::Item::Task(Task {
            subject: Some("Chiamare Lucia".into()),
            due: Some(model::task::TaskDate {
                utc: task_due,
                local: date(2026, 12, 3).at(14, 0, 0, 0),
            }),
            start: Some(model::task::TaskDate {
                utc: task_due,
                local: date(2026, 12, 3).at(14, 0, 0, 0),
            }),
            ..Task::default()
        }),
    );
    let r = e.drain(now()).await;
    assert_eq!((r.written, r.failed), (3, 0));

    // The integration user (in Rome) wrote them: the New York user still sees 09:30.
    let rec = e.crm.record(&e.crm_ref(CALENDAR, timed).id).unwrap();
    assert_eq!(rec["subject"], "Riunione");
    assert_eq!(rec["date_start"], "01-12-2026");
    assert_eq!(rec["time_start"], "09:30");
    assert_eq!(rec["time_end"], "10:45");
    assert_eq!(rec["is_all_day_event"], "0");
    let raw = e.crm.record_raw(&e.crm_ref(CALENDAR, timed).id).unwrap();
    assert_eq!(raw["time_start"], "15:30", "stored in the server's zone");

    let rec = e.crm.record(&e.crm_ref(CALENDAR, all_day).id).unwrap();
    assert_eq!(rec["is_all_day_event"], "1");
    assert_eq!(rec["date_start"], "24-12-2026");
    assert_eq!(rec["due_date"], "24-12-2026");

    let id = e.crm_ref(TASKS, task).id;
    assert_eq!(e.crm.ids("Calendar", Some(USER)), std::slice::from_ref(&id));
    let rec = e.crm.record(&id).unwrap();
    assert_eq!(rec["activitytype"], "Task");
    assert_eq!(rec["subject"], "Chiamare Lucia");
    assert_eq!(rec["due_date"], "03-12-2026");
    assert_eq!(rec["time_end"], "14:00");
}

#[tokio::test]
async fn a_change_revises_and_a_delete_deletes() {
    let e = env("revise").await;
    let first = contact("Lucia", "Bianchi");
    let item = e.device_put(CONTACTS, None, first.clone());
    e.drain(now()).await;
    let id = e.crm_ref(CONTACTS, item).id;
    e.crm.advance(60);

    let changed = with_contact(&first, |c| {
        c.mobile_phone = Some("+39 333 7654321".into());
        c.nickname = Some("Lu".into());
    });
    e.device_put(CONTACTS, Some(item), changed);
    let head = e.head(CONTACTS);
    let r = e.drain(now()).await;
    assert_eq!((r.written, r.conflicts, r.pending), (1, 0, 0));
    assert_eq!((e.crm.calls("revise"), e.crm.calls("update")), (1, 0));
    let rec = e.crm.record(&id).unwrap();
    assert_eq!(rec["mobile"], "+39 333 7654321");
    assert_eq!(rec["firstname"], "Lucia");
    // The item follows the CRM's new modifiedtime, silently; the nickname stays on the box.
    let stored = e.stored(CONTACTS, item);
    assert_eq!(e.head(CONTACTS), head);
    let idx = e.store.read().unwrap().crm_index(&id).unwrap().unwrap();
    assert_eq!(stored.crm.unwrap().modified, idx.modified.to_string());
    let model::Item::Contact(c) = stored.item else {
        panic!()
    };
    assert_eq!(c.nickname.as_deref(), Some("Lu"));

    // A change of a box-only field only: nothing to send.
    let revises = e.crm.calls("revise");
    let only_box = with_contact(&e.stored(CONTACTS, item).item, |c| {
        c.nickname = Some("Lulu".into())
    });
    e.device_put(CONTACTS, Some(item), only_box);
    let r = e.drain(now()).await;
    assert_eq!((r.written, r.pending), (0, 0));
    assert_eq!(e.crm.calls("revise"), revises);

    e.device_delete(CONTACTS, item);
    let r = e.drain(now()).await;
    assert_eq!((r.written, r.pending), (1, 0));
    assert!(e.crm.record(&id).is_none());
    assert!(e.crm.ids("Contacts", None).is_empty());
    assert_eq!(e.store.read().unwrap().crm_index(&id).unwrap(), None);
}

#[tokio::test]
async fn changes_fold_and_a_delete_before_the_crm_saw_it_sends_nothing() {
    let e = env("fold").await;
    let a = e.device_put(CONTACTS, None, contact("Marco", "Gallo"));
    let v2 = with_contact(&contact("Marco", "Gallo"), |c| {
        c.job_title = Some("CTO".into())
    });
    e.device_put(CONTACTS, Some(a), v2);
    let v3 = with_contact(&contact("Marco", "Galli"), |c| {
        c.job_title = Some("CEO".into())
    });
    e.device_put(CONTACTS, Some(a), v3);
    let b = e.device_put(CONTACTS, None, contact("Sara", "Russo"));
    e.device_delete(CONTACTS, b);
    assert_eq!(e.counts(), (1, 0));

    let r = e.drain(now()).await;
    assert_eq!(r.written, 1);
    assert_eq!(e.crm.calls("create"), 1);
    assert_eq!(e.crm.calls("revise"), 0);
    let ids = e.crm.ids("Contacts", None);
    assert_eq!(ids.len(), 1);
    let rec = e.crm.record(&ids[0]).unwrap();
    assert_eq!(
        (rec["lastname"].as_str(), rec["title"].as_str()),
        ("Galli", "CEO")
    );
}

#[tokio::test]
async fn a_lost_create_reply_is_found_not_created_again() {
    let e = env("lost").await;
    e.crm.set_fault("create", Some(FaultKind::LostReply));
    let item = e.device_put(CONTACTS, None, contact("Paolo", "Ferrari"));
    let r = e.drain(now()).await;
    assert_eq!((r.written, r.pending), (1, 0));
    let ids = e.crm.ids("Contacts", None);
    assert_eq!(ids.len(), 1);
    assert_eq!(e.crm_ref(CONTACTS, item).id, ids[0]);
    assert_eq!(e.crm.calls("create"), 1);
}

#[tokio::test]
async fn a_create_lost_in_a_crash_is_adopted_after_the_restart() {
    let mut e = env("restart").await;
    // The create runs but its reply is lost, and the CRM cannot be searched either: the box
    // cannot know, and "dies" with the entry marked as being created.
    e.crm.set_fault("create", Some(FaultKind::LostReply));
    e.crm.set_fault("query", Some(FaultKind::Http500));
    let t0 = now();
    let item = e.device_put(CONTACTS, None, contact("Elena", "Romano"));
    let r = e.drain(t0).await;
    assert_eq!((r.written, r.pending), (0, 1));
    assert_eq!(e.crm.ids("Contacts", None).len(), 1, "the CRM ran it");
    {
        let read = e.store.read().unwrap();
        let entries = read.outbox_entries(10).unwrap();
        assert!(matches!(
            entries[0].1.state,
            OutboxState::Creating { started_at, .. } if started_at == t0
        ));
    }
    assert_eq!(e.stored(CONTACTS, item).crm, None);

    // Restart: a new store handle on the same file and a new client.
    e.crm.set_fault("create", None);
    e.crm.set_fault("query", None);
    e.reopen();
    e.admin = admin_client(&e.url);

    let r = e.drain(t0 + 3600).await;
    assert_eq!((r.written, r.pending, r.failed), (1, 0, 0));
    let ids = e.crm.ids("Contacts", None);
    assert_eq!(ids.len(), 1, "exactly one record");
    assert_eq!(e.crm.calls("create"), 1, "never created a second time");
    assert_eq!(e.crm_ref(CONTACTS, item).id, ids[0]);
}

#[tokio::test]
async fn transient_faults_back_off_and_retry() {
    let e = env("backoff").await;
    e.crm.set_fault("create", Some(FaultKind::Http500));
    e.device_put(CONTACTS, None, contact("Luca", "Esposito"));
    let t0 = now();
    let r = e.drain(t0).await;
    assert_eq!((r.written, r.failed, r.pending), (0, 0, 1));
    let entry = |e: &Env| {
        e.store.read().unwrap().outbox_entries(1).unwrap()[0]
            .1
            .clone()
    };
    let first = entry(&e);
    assert_eq!((first.attempts, first.next_try), (1, t0 + 10));
    assert!(first.last_error.as_deref().unwrap().contains("500"));

    // Not due yet: nothing is sent.
    let calls = e.crm.calls("create");
    e.drain(t0 + 9).await;
    assert_eq!(e.crm.calls("create"), calls);

    // Due, still failing: the wait doubles.
    e.drain(t0 + 10).await;
    assert_eq!(e.crm.calls("create"), calls + 1);
    let second = entry(&e);
    assert_eq!((second.attempts, second.next_try), (2, t0 + 10 + 20));

    e.crm.set_fault("create", None);
    let r = e.drain(t0 + 30).await;
    assert_eq!((r.written, r.pending), (1, 0));
    assert_eq!(e.crm.ids("Contacts", None).len(), 1);
}

/// A contact in the CRM and on the box, in step; then the CRM user and the phone both change
/// the mobile number before the next pull.
async fn both_sides_changed(e: &Env, client_wins: bool) -> (ItemId, String) {
    let first = contact("Giulia", "Verdi");
    let item = e.device_put(CONTACTS, None, first.clone());
    e.drain(now()).await;
    let id = e.crm_ref(CONTACTS, item).id;
    e.crm.advance(60);
    e.crm.update(&id, &[("mobile", "+39 111")]).unwrap();
    let phone = with_contact(&first, |c| {
        c.mobile_phone = Some("+39 222".into());
        c.nickname = Some("Giuli".into());
    });
    e.device_put_with(CONTACTS, Some(item), phone, client_wins);
    (item, id)
}

#[tokio::test]
async fn both_sides_changed_the_crm_wins_by_default() {
    let e = env("crmwins").await;
    let (item, id) = both_sides_changed(&e, false).await;
    let head = e.head(CONTACTS);
    let r = e.drain(now()).await;
    assert_eq!((r.conflicts, r.pending, r.failed), (1, 0, 0));
    assert!(r.users_changed.contains(USER), "the phones are woken");
    assert_eq!(e.crm.record(&id).unwrap()["mobile"], "+39 111");
    let stored = e.stored(CONTACTS, item);
    let model::Item::Contact(c) = &stored.item else {
        panic!()
    };
    assert_eq!(c.mobile_phone.as_deref(), Some("+39 111"));
    assert_eq!(c.nickname.as_deref(), Some("Giuli"), "box-only fields stay");
    // The phone gets the CRM's version: a change from the CRM in the log.
    let log = e
        .store
        .read()
        .unwrap()
        .changes_after(USER, CONTACTS, head, 10)
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].item, log[0].kind, &log[0].origin),
        (item, ChangeKind::Upsert, &Origin::Crm)
    );
    // In step again: the index and the item carry the CRM's modifiedtime.
    let idx = e.store.read().unwrap().crm_index(&id).unwrap().unwrap();
    assert_eq!(stored.crm.unwrap().modified, idx.modified.to_string());
}

#[tokio::test]
async fn both_sides_changed_client_wins_when_asked() {
    let e = env("clientwins").await;
    let (item, id) = both_sides_changed(&e, true).await;
    let head = e.head(CONTACTS);
    let r = e.drain(now()).await;
    assert_eq!((r.conflicts, r.written, r.pending), (1, 1, 0));
    assert_eq!(e.crm.record(&id).unwrap()["mobile"], "+39 222");
    assert_eq!(e.head(CONTACTS), head, "the phone already has its version");
    let model::Item::Contact(c) = e.stored(CONTACTS, item).item else {
        panic!()
    };
    assert_eq!(c.mobile_phone.as_deref(), Some("+39 222"));
}

#[tokio::test]
async fn a_refused_write_is_kept_as_failed_and_reported() {
    let e = env("refused").await;
    // No last name: the CRM answers MANDATORY_FIELDS_MISSING.
    let item = e.device_put(
        CONTACTS,
        None,
        model::Item::Contact(Contact {
            first_name: Some("Solo".into()),
            ..Contact::default()
        }),
    );
    let r = e.drain(now()).await;
    assert_eq!((r.written, r.failed, r.pending), (0, 1, 0));
    assert_eq!(e.counts(), (0, 1));
    let entries = e.store.read().unwrap().outbox_entries(10).unwrap();
    let failed = &entries[0].1;
    assert!(matches!(failed.state, OutboxState::Failed { .. }));
    assert_eq!(failed.item, item.0);
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap()
            .contains("MANDATORY_FIELDS_MISSING")
    );
    // Never retried by itself; the item is free for the pull again.
    let calls = e.crm.calls("create");
    e.drain(now() + 86_400).await;
    assert_eq!(e.crm.calls("create"), calls);
    assert!(
        !e.store
            .read()
            .unwrap()
            .outbox_pending(USER, CONTACTS, item)
            .unwrap()
    );
    assert!(e.crm.ids("Contacts", None).is_empty());
}

#[tokio::test]
async fn the_drain_future_can_be_spawned() {
    let e = env("spawn").await;
    e.device_put(CONTACTS, None, contact("Davide", "Gallo"));
    let store = e.store.clone();
    let url = e.url.clone();
    let r = tokio::spawn(async move {
        let admin = admin_client(&url);
        outbox::drain(&admin, NONE, &store).await
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.written, 1);
}

#[tokio::test]
async fn a_lost_create_already_filed_by_a_pull_leaves_one_item() {
    let e = env("dedupe").await;
    e.crm.set_fault("create", Some(FaultKind::LostReply));
    e.crm.set_fault("query", Some(FaultKind::Http500));
    let t0 = now();
    let item = e.device_put(CONTACTS, None, contact("Sara", "Ferrari"));
    e.drain(t0).await;
    let ids = e.crm.ids("Contacts", None);
    assert_eq!(ids.len(), 1);
    // Meanwhile a pull saw the new record and filed it as an item of its own.
    let dup = {
        let mut t = e.store.write().unwrap();
        let dup = t
            .put_item(
                USER,
                CONTACTS,
                None,
                &StoredItem {
                    item: contact("Sara", "Ferrari"),
                    unknown: Vec::new(),
                    crm: Some(CrmRef {
                        id: ids[0].clone(),
                        modified: "1".into(),
                    }),
                },
                &Origin::Crm,
            )
            .unwrap();
        t.put_crm_index(
            &ids[0],
            &easbox::store::crm_index::CrmIndexEntry {
                user: USER.into(),
                folder: CONTACTS.0,
                item: dup.0,
                modified: 1,
            },
        )
        .unwrap();
        t.commit().unwrap();
        dup
    };
    e.crm.set_fault("create", None);
    e.crm.set_fault("query", None);
    let r = e.drain(t0 + 3600).await;
    assert_eq!((r.written, r.pending), (1, 0));
    assert!(
        r.users_changed.contains(USER),
        "the phones lose the duplicate"
    );
    assert_eq!(e.crm.ids("Contacts", None), ids, "still one record");
    assert_eq!(e.crm_ref(CONTACTS, item).id, ids[0]);
    let read = e.store.read().unwrap();
    assert_eq!(read.item(USER, CONTACTS, dup).unwrap(), None);
    assert_eq!(read.crm_index(&ids[0]).unwrap().unwrap().item, item.0);
}

#[tokio::test]
async fn an_unknown_crm_user_waits_instead_of_failing() {
    let e = env("wait").await;
    {
        let mut t = e.store.write().unwrap();
        assert!(t.remove_crm_user(USER).unwrap());
        t.commit().unwrap();
    }
    e.device_put(CONTACTS, None, contact("Anna", "Rossi"));
    let t0 = now();
    let r = e.drain(t0).await;
    assert_eq!((r.written, r.failed, r.pending), (0, 0, 1));
    let entry = e.store.read().unwrap().outbox_entries(1).unwrap()[0]
        .1
        .clone();
    assert!(entry.last_error.unwrap().contains("not discovered"));
    assert_eq!(e.crm.calls("create"), 0);
    // Discovery catches up: the next due drain writes it.
    {
        let mut t = e.store.write().unwrap();
        t.put_crm_user(
            USER,
            &CrmUser {
                crm_id: e.crm.user_id(USER).unwrap(),
                crm_name: USER.into(),
                tz: "America/New_York".into(),
                date_format: "dd-mm-yyyy".into(),
                active: true,
                is_admin: false,
            },
        )
        .unwrap();
        t.commit().unwrap();
    }
    let r = e.drain(t0 + 3600).await;
    assert_eq!((r.written, r.pending), (1, 0));
}

fn with_company(item: &model::Item, company: Option<&str>) -> model::Item {
    with_contact(item, |c| c.company_name = company.map(str::to_owned))
}

#[tokio::test]
async fn a_company_links_an_account_creating_it_once() {
    let e = env("company").await;
    let beta = e
        .crm
        .create("Accounts", "admin", &[("accountname", "Beta SpA")])
        .unwrap();
    let a = e.device_put(
        CONTACTS,
        None,
        with_company(&contact("Lucia", "Bianchi"), Some("ACME Srl")),
    );
    let b = e.device_put(
        CONTACTS,
        None,
        with_company(&contact("Marco", "Gallo"), Some("ACME Srl")),
    );
    let c = e.device_put(
        CONTACTS,
        None,
        with_company(&contact("Sara", "Russo"), Some("Beta SpA")),
    );
    let r = e.drain(now()).await;
    assert_eq!((r.written, r.failed, r.pending), (3, 0, 0));
    let accounts = e.crm.ids("Accounts", None);
    assert_eq!(
        accounts.len(),
        2,
        "one new account for two contacts: {accounts:?}"
    );
    let acme = e.crm.ids("Accounts", Some(USER));
    assert_eq!(acme.len(), 1, "created for the contact's owner");
    let acme = acme[0].clone();
    assert_eq!(e.crm.record(&acme).unwrap()["accountname"], "ACME Srl");
    let account_of = |item| {
        let id = e.crm_ref(CONTACTS, item).id;
        e.crm.record(&id).unwrap()["account_id"].clone()
    };
    assert_eq!(account_of(a), acme);
    assert_eq!(account_of(b), acme);
    assert_eq!(account_of(c), beta);

    // Another company on the phone relinks; an empty one unlinks.
    e.crm.advance(60);
    let moved = with_company(&e.stored(CONTACTS, a).item, Some("Beta SpA"));
    e.device_put(CONTACTS, Some(a), moved);
    let cleared = with_company(&e.stored(CONTACTS, b).item, None);
    e.device_put(CONTACTS, Some(b), cleared);
    let r = e.drain(now()).await;
    assert_eq!((r.written, r.failed, r.pending), (2, 0, 0));
    assert_eq!(account_of(a), beta);
    assert_eq!(account_of(b), "");
    assert_eq!(e.crm.ids("Accounts", None).len(), 2, "no account created");
    assert_eq!(
        e.crm.record(&e.crm_ref(CONTACTS, a).id).unwrap()["lastname"],
        "Bianchi"
    );
}

#[tokio::test]
async fn faults_on_the_accounts_lookup_lose_nothing_and_create_once() {
    for (op, kind) in [
        ("query", FaultKind::Http500),
        ("query", FaultKind::MalformedJson),
        ("create", FaultKind::LostReply),
        ("create", FaultKind::Http500),
    ] {
        let e = env(&format!("company-fault-{op}-{kind:?}")).await;
        e.crm.set_fault(op, Some(kind));
        let item = e.device_put(
            CONTACTS,
            None,
            with_company(&contact("Luca", "Esposito"), Some("ACME Srl")),
        );
        let t0 = now();
        e.drain(t0).await;
        e.crm.set_fault(op, None);
        let r = e.drain(t0 + 3_600).await;
        assert_eq!((r.failed, r.pending), (0, 0), "{op} {kind:?}");
        assert_eq!(e.crm.ids("Accounts", None).len(), 1, "{op} {kind:?}");
        assert_eq!(e.crm.ids("Contacts", None).len(), 1, "{op} {kind:?}");
        let id = e.crm_ref(CONTACTS, item).id;
        let rec = e.crm.record(&id).unwrap();
        assert_eq!(
            rec["account_id"],
            e.crm.ids("Accounts", None)[0],
            "{op} {kind:?}"
        );
        let model::Item::Contact(c) = e.stored(CONTACTS, item).item else {
            panic!()
        };
        assert_eq!(c.company_name.as_deref(), Some("ACME Srl"));
    }
}

/// A contact linked to "Beta SpA" in step; then the CRM user links it to "Gamma" and the phone
/// sets "ACME Srl" before the next pull.
async fn both_sides_changed_the_company(e: &Env, client_wins: bool) -> (ItemId, String) {
    e.crm
        .create("Accounts", "admin", &[("accountname", "Gamma")])
        .unwrap();
    let first = with_company(&contact("Giulia", "Verdi"), Some("Beta SpA"));
    let item = e.device_put(CONTACTS, None, first.clone());
    e.drain(now()).await;
    let id = e.crm_ref(CONTACTS, item).id;
    let gamma = e
        .crm
        .ids("Accounts", None)
        .into_iter()
        .find(|a| e.crm.record(a).unwrap()["accountname"] == "Gamma")
        .unwrap();
    e.crm.advance(60);
    e.crm
        .update(&id, &[("account_id", gamma.as_str())])
        .unwrap();
    e.device_put_with(
        CONTACTS,
        Some(item),
        with_company(&first, Some("ACME Srl")),
        client_wins,
    );
    (item, id)
}

fn company_of(e: &Env, item: ItemId) -> Option<String> {
    let model::Item::Contact(c) = e.stored(CONTACTS, item).item else {
        panic!()
    };
    c.company_name
}

#[tokio::test]
async fn a_company_conflict_follows_the_rule() {
    let e = env("company-crmwins").await;
    let (item, id) = both_sides_changed_the_company(&e, false).await;
    let r = e.drain(now()).await;
    assert_eq!((r.conflicts, r.pending, r.failed), (1, 0, 0));
    assert_eq!(
        company_of(&e, item).as_deref(),
        Some("Gamma"),
        "the CRM wins"
    );
    let acc = e.crm.record(&id).unwrap()["account_id"].clone();
    assert_eq!(e.crm.record(&acc).unwrap()["accountname"], "Gamma");

    let e = env("company-clientwins").await;
    let (item, id) = both_sides_changed_the_company(&e, true).await;
    let r = e.drain(now()).await;
    assert_eq!((r.conflicts, r.written, r.pending), (1, 1, 0));
    assert_eq!(company_of(&e, item).as_deref(), Some("ACME Srl"));
    let acc = e.crm.record(&id).unwrap()["account_id"].clone();
    assert_eq!(e.crm.record(&acc).unwrap()["accountname"], "ACME Srl");
}
