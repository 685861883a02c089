use super::*;
use crate::model::{self, Contact, Event, Task};
use crate::sync::{CrmRef, FolderKind};
use crate::wbxml::{OwnedElement, OwnedNode, Tag};
use redb::ReadableTableMetadata;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// A store file of its own, removed at the end of the test.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "easbox-store-{}-{n}-{name}.redb",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const CONTACTS: FolderId = FolderId(8);
const CALENDAR: FolderId = FolderId(7);

fn dev(user: &str, id: &str) -> DeviceKey {
    DeviceKey {
        user: user.to_owned(),
        device_id: id.to_owned(),
    }
}

fn contact(first: &str) -> StoredItem {
    StoredItem {
        item: model::Item::Contact(Contact {
            first_name: Some(first.to_owned()),
            ..Contact::default()
        }),
        unknown: Vec::new(),
        crm: None,
    }
}

fn ids(changes: &[Change]) -> Vec<(u64, u64, ChangeKind)> {
    changes.iter().map(|c| (c.seq, c.item.0, c.kind)).collect()
}

/// A store with the user's folders created.
fn store_with_folders(file: &TempFile, user: &str) -> Store {
    let store = Store::open(&file.0).unwrap();
    let mut t = store.write().unwrap();
    t.folders(user).unwrap();
    t.commit().unwrap();
    store
}

#[test]
fn users_round_trip_and_list_in_name_order() {
    let f = TempFile::new("users");
    let store = Store::open(&f.0).unwrap();
    let alice = User {
        enabled: true,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        created: 1_700_000_000,
    };
    let bob = User {
        enabled: false,
        password_hash: None,
        created: -5,
    };
    let mut t = store.write().unwrap();
    assert_eq!(t.user("alice").unwrap(), None);
    t.put_user("bob", &bob).unwrap();
    t.put_user("alice", &alice).unwrap();
    assert_eq!(t.user("alice").unwrap(), Some(alice.clone()));
    t.commit().unwrap();
    let r = store.read().unwrap();
    assert_eq!(r.user("bob").unwrap(), Some(bob.clone()));
    assert_eq!(
        r.list_users().unwrap(),
        vec![("alice".to_owned(), alice), ("bob".to_owned(), bob)]
    );
}

#[test]
fn devices_round_trip_and_list_per_user() {
    let f = TempFile::new("devices");
    let store = Store::open(&f.0).unwrap();
    let phone = Device {
        device_type: "iPhone".into(),
        user_agent: Some("Apple-iPhone15C2/2105.60".into()),
        protocol_version: "16.1".into(),
        policy_key: Some(u32::MAX),
        provisioned: true,
        wipe: WipeState::Requested { account_only: true },
        first_seen: 10,
        last_seen: 1_800_000_000,
        info: DeviceInfo {
            model: Some("iPhone15,2".into()),
            imei: Some("3519".into()),
            friendly_name: Some("Ann's phone".into()),
            os: Some("iOS 18.1".into()),
            os_language: Some("it".into()),
            phone_number: Some("+39 06 1".into()),
            user_agent: Some("Apple".into()),
            enable_outbound_sms: Some(false),
            mobile_operator: Some("TIM".into()),
        },
    };
    let tablet = Device {
        device_type: "Android".into(),
        ..Device::default()
    };
    let mut t = store.write().unwrap();
    t.put_device(&dev("ann", "A1"), &phone).unwrap();
    t.put_device(&dev("ann", "B2"), &tablet).unwrap();
    // A user whose name extends "ann" must not show up among ann's devices.
    t.put_device(&dev("anna", "C3"), &tablet).unwrap();
    t.put_device(&dev("am", "D4"), &tablet).unwrap();
    t.commit().unwrap();
    let r = store.read().unwrap();
    assert_eq!(r.device(&dev("ann", "A1")).unwrap(), Some(phone.clone()));
    assert_eq!(r.device(&dev("ann", "C3")).unwrap(), None);
    assert_eq!(
        r.list_devices("ann").unwrap(),
        vec![("A1".to_owned(), phone), ("B2".to_owned(), tablet.clone())]
    );
    assert_eq!(
        r.list_devices("anna").unwrap(),
        vec![("C3".to_owned(), tablet)]
    );
    assert!(r.list_devices("nobody").unwrap().is_empty());
}

#[test]
fn wipe_codes_follow_the_provision_status_sequence() {
    let codes: Vec<u8> = [
        WipeState::None,
        WipeState::Pending {
            account_only: false,
        },
        WipeState::Requested {
            account_only: false,
        },
        WipeState::Acknowledged { account_only: true },
    ]
    .into_iter()
    .map(WipeState::code)
    .collect();
    assert_eq!(codes, [1, 2, 4, 8]);
}

#[test]
fn device_info_comes_from_settings() {
    let d = DeviceInformation {
        model: Some("Pixel".into()),
        enable_outbound_sms: Some(true),
        ..DeviceInformation::default()
    };
    let info = DeviceInfo::from(&d);
    assert_eq!(info.model.as_deref(), Some("Pixel"));
    assert_eq!(info.enable_outbound_sms, Some(true));
    assert_eq!(info.imei, None);
}

#[test]
fn default_folders_have_fixed_ids_across_calls_users_and_reopen() {
    let f = TempFile::new("folders");
    let first = {
        let store = Store::open(&f.0).unwrap();
        assert!(store.read().unwrap().folders("u").unwrap().is_empty());
        let mut t = store.write().unwrap();
        let a = t.folders("u").unwrap();
        assert_eq!(t.folders("u").unwrap(), a);
        assert_eq!(
            t.folders("other").unwrap(),
            a,
            "ids do not depend on the user"
        );
        t.commit().unwrap();
        a
    };
    let expected: Vec<(u32, &str, FolderKind)> = vec![
        (1, "Inbox", FolderKind::Inbox),
        (2, "Drafts", FolderKind::Drafts),
        (3, "Deleted Items", FolderKind::DeletedItems),
        (4, "Sent Items", FolderKind::SentItems),
        (5, "Outbox", FolderKind::Outbox),
        (6, "Tasks", FolderKind::Tasks),
        (7, "Calendar", FolderKind::Calendar),
        (8, "Contacts", FolderKind::Contacts),
    ];
    let got: Vec<(u32, &str, FolderKind)> = first
        .iter()
        .map(|x| (x.id.0, x.name.as_str(), x.kind))
        .collect();
    assert_eq!(got, expected);
    assert!(first.iter().all(|x| x.parent.is_none()));
    let store = Store::open(&f.0).unwrap();
    let mut t = store.write().unwrap();
    assert_eq!(t.folders("u").unwrap(), first);
    assert!(first.iter().all(|x| x.id.0 < schema::FIRST_EXTRA_FOLDER_ID));
}

#[test]
fn items_of_every_kind_round_trip() {
    let f = TempFile::new("items");
    let store = store_with_folders(&f, "u");
    let mut unknown = OwnedElement::new(Tag {
        page: 1,
        token: 0x3A,
    });
    unknown.children.push(OwnedNode::Text("kept".into()));
    unknown.children.push(OwnedNode::Opaque(vec![0, 1, 255]));
    let mut outer = OwnedElement::new(Tag {
        page: 12,
        token: 0x05,
    });
    outer.children.push(OwnedNode::Element(unknown));
    let rome = jiff::tz::TimeZone::get("Europe/Rome").unwrap();
    let start: jiff::Timestamp = "2024-03-31T08:00:00Z".parse().unwrap();
    let mut event = Event::timed("Standup", start, start, rome);
    event.recurrence = Some(model::Recurrence {
        week_start: Some(jiff::civil::Weekday::Monday),
        weekdays: model::Weekdays::WORKDAYS,
        ..model::Recurrence::new(model::Frequency::Weekly)
    });
    event
        .exceptions
        .push(model::event::Exception::deleted(start));
    let items = [
        StoredItem {
            item: model::Item::Contact(Contact {
                first_name: Some("Ann".into()),
                email: [Some("a@x.it".into()), None, Some(String::new())],
                birthday: Some(jiff::civil::date(1980, 2, 29)),
                picture: Some(vec![1, 2, 3]),
                weighted_rank: Some(-3),
                ..Contact::default()
            }),
            unknown: vec![outer],
            crm: Some(CrmRef {
                id: "12x345".into(),
                modified: "2024-01-01 10:00:00".into(),
            }),
        },
        StoredItem {
            item: model::Item::Event(event),
            unknown: Vec::new(),
            crm: None,
        },
        StoredItem {
            item: model::Item::Task(Task {
                subject: Some("Call".into()),
                due: Some(model::task::TaskDate::from_utc(start)),
                complete: true,
                ..Task::default()
            }),
            unknown: Vec::new(),
            crm: None,
        },
    ];
    let mut t = store.write().unwrap();
    let mut written = Vec::new();
    for it in &items {
        written.push(t.put_item("u", CALENDAR, None, it, &Origin::Local).unwrap());
    }
    assert_eq!(written, [ItemId(1), ItemId(2), ItemId(3)]);
    t.commit().unwrap();
    let r = store.read().unwrap();
    for (id, it) in written.iter().zip(&items) {
        assert_eq!(r.item("u", CALENDAR, *id).unwrap().as_ref(), Some(it));
    }
    assert_eq!(r.item("u", CALENDAR, ItemId(4)).unwrap(), None);
    assert_eq!(r.item("u", CONTACTS, ItemId(1)).unwrap(), None);
    assert_eq!(r.item("v", CALENDAR, ItemId(1)).unwrap(), None);
    if let Some(StoredItem {
        item: model::Item::Event(e),
        ..
    }) = r.item("u", CALENDAR, ItemId(2)).unwrap()
    {
        assert_eq!(e.time_zone.iana_name(), Some("Europe/Rome"));
    } else {
        panic!("the event did not come back as an event");
    }
}

#[test]
fn the_log_keeps_only_the_latest_entry_per_item_in_order() {
    let f = TempFile::new("log");
    let store = store_with_folders(&f, "u");
    let mut t = store.write().unwrap();
    let phone = Origin::Device("P1".into());
    let a = t
        .put_item("u", CONTACTS, None, &contact("a"), &Origin::Crm)
        .unwrap();
    let b = t
        .put_item("u", CONTACTS, None, &contact("b"), &phone)
        .unwrap();
    let c = t
        .put_item("u", CONTACTS, None, &contact("c"), &Origin::Local)
        .unwrap();
    assert_eq!(t.head("u", CONTACTS).unwrap(), 3);
    // a changes twice: its entry moves to the end each time, the old ones go away.
    t.put_item("u", CONTACTS, Some(a), &contact("a2"), &phone)
        .unwrap();
    t.put_item("u", CONTACTS, Some(a), &contact("a3"), &Origin::Crm)
        .unwrap();
    assert_eq!(t.head("u", CONTACTS).unwrap(), 5);
    let all = t.changes_after("u", CONTACTS, 0, 100).unwrap();
    assert_eq!(
        ids(&all),
        [
            (2, b.0, ChangeKind::Upsert),
            (3, c.0, ChangeKind::Upsert),
            (5, a.0, ChangeKind::Upsert)
        ]
    );
    assert_eq!(all[0].origin, phone);
    assert_eq!(all[2].origin, Origin::Crm, "the latest write's origin");
    assert_eq!(t.item("u", CONTACTS, a).unwrap().unwrap(), contact("a3"));
    // Other folders have their own log.
    assert_eq!(t.head("u", CALENDAR).unwrap(), 0);
    assert!(t.changes_after("u", CALENDAR, 0, 100).unwrap().is_empty());
    t.commit().unwrap();
}

#[test]
fn changes_after_pages_with_a_limit() {
    let f = TempFile::new("page");
    let store = store_with_folders(&f, "u");
    let mut t = store.write().unwrap();
    for i in 0..10 {
        t.put_item(
            "u",
            CONTACTS,
            None,
            &contact(&i.to_string()),
            &Origin::Local,
        )
        .unwrap();
    }
    let seqs = |after, limit| -> Vec<u64> {
        t.changes_after("u", CONTACTS, after, limit)
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect()
    };
    assert_eq!(seqs(0, 3), [1, 2, 3]);
    assert_eq!(seqs(3, 3), [4, 5, 6]);
    assert_eq!(seqs(8, 3), [9, 10]);
    assert_eq!(seqs(10, 3), Vec::<u64>::new());
    assert_eq!(seqs(0, 0), Vec::<u64>::new());
    assert_eq!(seqs(u64::MAX, 5), Vec::<u64>::new());
    assert_eq!(seqs(0, u32::MAX).len(), 10);
}

#[test]
fn delete_leaves_a_delete_entry_and_a_missing_item_changes_nothing() {
    let f = TempFile::new("delete");
    let store = store_with_folders(&f, "u");
    let mut t = store.write().unwrap();
    let a = t
        .put_item("u", CONTACTS, None, &contact("a"), &Origin::Local)
        .unwrap();
    let b = t
        .put_item("u", CONTACTS, None, &contact("b"), &Origin::Local)
        .unwrap();
    let phone = Origin::Device("P1".into());
    assert!(t.delete_item("u", CONTACTS, a, &phone).unwrap());
    assert_eq!(t.item("u", CONTACTS, a).unwrap(), None);
    let log = t.changes_after("u", CONTACTS, 0, 10).unwrap();
    assert_eq!(
        ids(&log),
        [(2, b.0, ChangeKind::Upsert), (3, a.0, ChangeKind::Delete)]
    );
    assert_eq!(log[1].origin, phone);
    assert!(!t.delete_item("u", CONTACTS, a, &phone).unwrap());
    assert!(!t.delete_item("u", CONTACTS, ItemId(99), &phone).unwrap());
    assert_eq!(t.head("u", CONTACTS).unwrap(), 3);
    // A new item never reuses a deleted one's id.
    let c = t
        .put_item("u", CONTACTS, None, &contact("c"), &Origin::Local)
        .unwrap();
    assert_eq!(c, ItemId(3));
}

#[test]
fn a_given_item_id_is_never_handed_out_again() {
    let f = TempFile::new("given-id");
    let store = store_with_folders(&f, "u");
    let mut t = store.write().unwrap();
    let given = t
        .put_item("u", CONTACTS, Some(ItemId(41)), &contact("x"), &Origin::Crm)
        .unwrap();
    assert_eq!(given, ItemId(41));
    let next = t
        .put_item("u", CONTACTS, None, &contact("y"), &Origin::Crm)
        .unwrap();
    assert_eq!(next, ItemId(42));
    assert!(
        t.put_item(
            "u",
            CONTACTS,
            Some(ItemId(u64::MAX)),
            &contact("z"),
            &Origin::Crm
        )
        .is_err()
    );
}

#[test]
fn an_unknown_folder_is_refused_and_the_defaults_exist_from_first_use() {
    let f = TempFile::new("unknown-folder");
    let store = Store::open(&f.0).unwrap();
    let mut t = store.write().unwrap();
    assert_eq!(
        t.put_item("u", FolderId(77), None, &contact("a"), &Origin::Local),
        Err(sync::Error::Store("no folder 77 for u".into()))
    );
    // Writing into a default folder before any `folders` call works, like `MemStore`.
    let id = t
        .put_item("v", CONTACTS, None, &contact("a"), &Origin::Local)
        .unwrap();
    assert_eq!(t.item("v", CONTACTS, id).unwrap(), Some(contact("a")));
    assert_eq!(t.folders("v").unwrap(), sync::default_folders());
}

#[test]
fn collection_states_are_per_device_and_dropped_per_device() {
    let f = TempFile::new("states");
    let store = Store::open(&f.0).unwrap();
    let (p1, p2) = (dev("u", "P1"), dev("u", "P2"));
    let s = |key, cursor, engine: &[u8]| CollectionState {
        key,
        cursor,
        engine: engine.to_vec(),
    };
    let mut t = store.write().unwrap();
    t.put_collection_state(&p1, CONTACTS, &s(1, 10, b"a"))
        .unwrap();
    t.put_collection_state(&p1, CALENDAR, &s(2, 20, b"b"))
        .unwrap();
    t.put_collection_state(&p2, CONTACTS, &s(7, 70, &[0; 300]))
        .unwrap();
    assert_eq!(
        t.collection_state(&p1, CONTACTS).unwrap(),
        Some(s(1, 10, b"a"))
    );
    assert_eq!(
        t.collection_state(&p2, CONTACTS).unwrap(),
        Some(s(7, 70, &[0; 300]))
    );
    assert_eq!(t.collection_state(&p2, CALENDAR).unwrap(), None);
    t.put_collection_state(&p1, CONTACTS, &s(3, 11, b""))
        .unwrap();
    assert_eq!(
        t.collection_state(&p1, CONTACTS).unwrap(),
        Some(s(3, 11, b""))
    );
    t.drop_collection_states(&p1).unwrap();
    assert_eq!(t.collection_state(&p1, CONTACTS).unwrap(), None);
    assert_eq!(t.collection_state(&p1, CALENDAR).unwrap(), None);
    assert_eq!(
        t.collection_state(&p2, CONTACTS).unwrap(),
        Some(s(7, 70, &[0; 300]))
    );
    t.commit().unwrap();
}

#[test]
fn folder_sync_states_are_per_device() {
    let f = TempFile::new("fs-states");
    let store = Store::open(&f.0).unwrap();
    let mut t = store.write().unwrap();
    let st = FolderSyncState {
        key: 4,
        engine: vec![9, 8, 7],
    };
    assert_eq!(t.folder_sync_state(&dev("u", "P1")).unwrap(), None);
    t.put_folder_sync_state(&dev("u", "P1"), &st).unwrap();
    assert_eq!(t.folder_sync_state(&dev("u", "P1")).unwrap(), Some(st));
    assert_eq!(t.folder_sync_state(&dev("u", "P2")).unwrap(), None);
    assert_eq!(t.folder_sync_state(&dev("v", "P1")).unwrap(), None);
}

#[test]
fn client_ids_map_per_device_and_folder() {
    let f = TempFile::new("client-ids");
    let store = Store::open(&f.0).unwrap();
    let mut t = store.write().unwrap();
    let p1 = dev("u", "P1");
    t.put_client_id(&p1, CONTACTS, "c-1", ItemId(5)).unwrap();
    assert_eq!(t.client_id(&p1, CONTACTS, "c-1").unwrap(), Some(ItemId(5)));
    assert_eq!(t.client_id(&p1, CALENDAR, "c-1").unwrap(), None);
    assert_eq!(t.client_id(&dev("u", "P2"), CONTACTS, "c-1").unwrap(), None);
    assert_eq!(t.client_id(&p1, CONTACTS, "c-2").unwrap(), None);
    t.put_client_id(&p1, CONTACTS, "c-1", ItemId(6)).unwrap();
    assert_eq!(t.client_id(&p1, CONTACTS, "c-1").unwrap(), Some(ItemId(6)));
}

#[test]
fn client_ids_evict_the_oldest_past_the_cap() {
    let f = TempFile::new("client-cap");
    let store = Store::open(&f.0).unwrap();
    let mut t = store.write().unwrap();
    let (p1, p2) = (dev("u", "P1"), dev("u", "P2"));
    for i in 0..4u64 {
        t.put_client_id_capped(&p1, CONTACTS, &format!("c{i}"), ItemId(i), 4)
            .unwrap();
    }
    t.put_client_id_capped(&p2, CONTACTS, "other", ItemId(100), 4)
        .unwrap();
    // Writing c0 again makes it the youngest, so c1 is the next to go.
    t.put_client_id_capped(&p1, CONTACTS, "c0", ItemId(0), 4)
        .unwrap();
    t.put_client_id_capped(&p1, CALENDAR, "c4", ItemId(4), 4)
        .unwrap();
    t.put_client_id_capped(&p1, CONTACTS, "c5", ItemId(5), 4)
        .unwrap();
    let held = |t: &StoreTxn<'_>, folder, c: &str| t.client_id(&p1, folder, c).unwrap();
    assert_eq!(held(&t, CONTACTS, "c1"), None);
    assert_eq!(held(&t, CONTACTS, "c2"), None);
    assert_eq!(held(&t, CONTACTS, "c0"), Some(ItemId(0)));
    assert_eq!(held(&t, CONTACTS, "c3"), Some(ItemId(3)));
    assert_eq!(held(&t, CALENDAR, "c4"), Some(ItemId(4)));
    assert_eq!(held(&t, CONTACTS, "c5"), Some(ItemId(5)));
    // Another device's map is its own.
    assert_eq!(
        t.client_id(&p2, CONTACTS, "other").unwrap(),
        Some(ItemId(100))
    );
}

#[test]
fn the_real_client_id_cap_holds() {
    let f = TempFile::new("client-cap-real");
    let store = Store::open(&f.0).unwrap();
    let mut t = store.write().unwrap();
    let p1 = dev("u", "P1");
    let n = u64::from(MAX_CLIENT_IDS_PER_DEVICE) + 10;
    for i in 0..n {
        t.put_client_id(&p1, CONTACTS, &i.to_string(), ItemId(i))
            .unwrap();
    }
    for i in 0..10u64 {
        assert_eq!(t.client_id(&p1, CONTACTS, &i.to_string()).unwrap(), None);
    }
    assert_eq!(
        t.client_id(&p1, CONTACTS, &(n - 1).to_string()).unwrap(),
        Some(ItemId(n - 1))
    );
    assert_eq!(t.client_id(&p1, CONTACTS, "10").unwrap(), Some(ItemId(10)));
}

#[test]
fn everything_survives_a_reopen() {
    let f = TempFile::new("reopen");
    let p1 = dev("u", "P1");
    let device = Device {
        device_type: "SmartPhone".into(),
        policy_key: Some(77),
        ..Device::default()
    };
    let state = CollectionState {
        key: 5,
        cursor: 2,
        engine: vec![1],
    };
    let fs = FolderSyncState {
        key: 2,
        engine: vec![],
    };
    let user = User {
        enabled: true,
        password_hash: None,
        created: 1,
    };
    {
        let store = Store::open(&f.0).unwrap();
        let mut t = store.write().unwrap();
        t.folders("u").unwrap();
        t.put_user("u", &user).unwrap();
        t.put_device(&p1, &device).unwrap();
        t.put_item("u", CONTACTS, None, &contact("a"), &Origin::Crm)
            .unwrap();
        t.put_item("u", CONTACTS, None, &contact("b"), &Origin::Crm)
            .unwrap();
        t.delete_item("u", CONTACTS, ItemId(1), &Origin::Crm)
            .unwrap();
        t.put_collection_state(&p1, CONTACTS, &state).unwrap();
        t.put_folder_sync_state(&p1, &fs).unwrap();
        t.put_client_id(&p1, CONTACTS, "cid", ItemId(2)).unwrap();
        t.commit().unwrap();
    }
    let store = Store::open(&f.0).unwrap();
    let mut t = store.write().unwrap();
    assert_eq!(t.user("u").unwrap(), Some(user));
    assert_eq!(t.device(&p1).unwrap(), Some(device));
    assert_eq!(
        t.item("u", CONTACTS, ItemId(2)).unwrap(),
        Some(contact("b"))
    );
    assert_eq!(
        ids(&t.changes_after("u", CONTACTS, 0, 9).unwrap()),
        [(2, 2, ChangeKind::Upsert), (3, 1, ChangeKind::Delete)]
    );
    assert_eq!(t.head("u", CONTACTS).unwrap(), 3);
    assert_eq!(t.collection_state(&p1, CONTACTS).unwrap(), Some(state));
    assert_eq!(t.folder_sync_state(&p1).unwrap(), Some(fs));
    assert_eq!(t.client_id(&p1, CONTACTS, "cid").unwrap(), Some(ItemId(2)));
    // Counters survive too: the next item does not reuse an id.
    assert_eq!(
        t.put_item("u", CONTACTS, None, &contact("c"), &Origin::Crm)
            .unwrap(),
        ItemId(3)
    );
}

#[test]
fn a_dropped_transaction_leaves_nothing() {
    let f = TempFile::new("rollback");
    let store = store_with_folders(&f, "u");
    {
        let mut t = store.write().unwrap();
        t.put_user(
            "x",
            &User {
                enabled: true,
                password_hash: None,
                created: 0,
            },
        )
        .unwrap();
        t.folders("other").unwrap();
        t.put_item("u", CONTACTS, None, &contact("a"), &Origin::Local)
            .unwrap();
        t.put_client_id(&dev("u", "P"), CONTACTS, "c", ItemId(1))
            .unwrap();
        // dropped here, not committed
    }
    let r = store.read().unwrap();
    assert_eq!(r.user("x").unwrap(), None);
    assert!(r.folders("other").unwrap().is_empty());
    assert_eq!(r.item("u", CONTACTS, ItemId(1)).unwrap(), None);
    assert_eq!(r.head("u", CONTACTS).unwrap(), 0);
    drop(r);
    let t = store.write().unwrap();
    assert_eq!(t.client_id(&dev("u", "P"), CONTACTS, "c").unwrap(), None);
}

#[test]
fn a_read_snapshot_does_not_see_later_commits() {
    let f = TempFile::new("snapshot");
    let store = store_with_folders(&f, "u");
    let before = store.read().unwrap();
    let mut t = store.write().unwrap();
    t.put_item("u", CONTACTS, None, &contact("a"), &Origin::Local)
        .unwrap();
    t.commit().unwrap();
    assert_eq!(before.head("u", CONTACTS).unwrap(), 0);
    assert_eq!(store.read().unwrap().head("u", CONTACTS).unwrap(), 1);
}

#[test]
fn store_errors_become_sync_store_errors() {
    let e: sync::Error = StoreError::Corrupt("x".into()).into();
    assert_eq!(e, sync::Error::Store("damaged record: x".into()));
}

// ---- schema version and migrations ----

fn raw_version(path: &Path) -> Option<u32> {
    let db = Database::create(path).unwrap();
    let r = db.begin_read().unwrap();
    let Ok(meta) = r.open_table(META) else {
        return None;
    };
    meta.get(SCHEMA_VERSION_KEY).unwrap().map(|v| v.value())
}

#[test]
fn a_new_store_is_written_at_the_current_version() {
    let f = TempFile::new("fresh");
    drop(Store::open(&f.0).unwrap());
    assert_eq!(raw_version(&f.0), Some(SCHEMA_VERSION));
    assert_eq!(SCHEMA_VERSION, 2);
}

#[test]
fn a_version_1_store_made_by_hand_opens() {
    let f = TempFile::new("v1");
    {
        let db = Database::create(&f.0).unwrap();
        let t = db.begin_write().unwrap();
        t.open_table(META)
            .unwrap()
            .insert(SCHEMA_VERSION_KEY, 1)
            .unwrap();
        let rec = encode(
            USER_FORMAT,
            &User {
                enabled: true,
                password_hash: None,
                created: 3,
            },
        )
        .unwrap();
        t.open_table(USERS)
            .unwrap()
            .insert("old", rec.as_slice())
            .unwrap();
        t.commit().unwrap();
    }
    let store = Store::open(&f.0).unwrap();
    assert_eq!(
        store.read().unwrap().user("old").unwrap().unwrap().created,
        3
    );
    // Tables version 1 did not create by hand exist after open.
    let mut t = store.write().unwrap();
    assert_eq!(t.folders("old").unwrap().len(), sync::DEFAULT_FOLDERS.len());
    drop(t);
    drop(store);
    // The step to version 2 ran: the connector's tables exist and are empty.
    assert_eq!(raw_version(&f.0), Some(2));
    let db = Database::create(&f.0).unwrap();
    let r = db.begin_read().unwrap();
    assert_eq!(r.open_table(schema::CRM_META).unwrap().len().unwrap(), 0);
    assert_eq!(r.open_table(schema::OUTBOX).unwrap().len().unwrap(), 0);
    assert_eq!(
        r.open_table(schema::OUTBOX_BY_ITEM).unwrap().len().unwrap(),
        0
    );
}

#[test]
fn a_newer_schema_is_refused_with_a_clear_error() {
    let f = TempFile::new("too-new");
    drop(Store::open(&f.0).unwrap());
    {
        let db = Database::create(&f.0).unwrap();
        let t = db.begin_write().unwrap();
        t.open_table(META)
            .unwrap()
            .insert(SCHEMA_VERSION_KEY, 9)
            .unwrap();
        t.commit().unwrap();
    }
    let err = Store::open(&f.0).err().unwrap();
    assert_eq!(
        err,
        StoreError::SchemaTooNew {
            found: 9,
            supported: SCHEMA_VERSION
        }
    );
    assert!(err.to_string().contains("newer"), "{err}");
    // Refusing did not touch the file.
    assert_eq!(raw_version(&f.0), Some(9));
}

#[test]
fn version_zero_is_refused() {
    let f = TempFile::new("zero");
    {
        let db = Database::create(&f.0).unwrap();
        let t = db.begin_write().unwrap();
        t.open_table(META)
            .unwrap()
            .insert(SCHEMA_VERSION_KEY, 0)
            .unwrap();
        t.commit().unwrap();
    }
    assert_eq!(
        Store::open(&f.0).err(),
        Some(StoreError::BadSchemaVersion(0))
    );
}

#[test]
fn no_version_is_version_1_only_when_empty() {
    // An empty redb file (and one with only empty tables) is a new store.
    let empty = TempFile::new("no-version-empty");
    {
        let db = Database::create(&empty.0).unwrap();
        let t = db.begin_write().unwrap();
        t.open_table(USERS).unwrap();
        t.commit().unwrap();
    }
    drop(Store::open(&empty.0).unwrap());
    assert_eq!(raw_version(&empty.0), Some(SCHEMA_VERSION));

    // A file with data but no version is not taken for ours.
    let full = TempFile::new("no-version-data");
    {
        let db = Database::create(&full.0).unwrap();
        let t = db.begin_write().unwrap();
        let other: TableDefinition<&str, u64> = TableDefinition::new("something_else");
        t.open_table(other).unwrap().insert("k", 1).unwrap();
        t.commit().unwrap();
    }
    let err = Store::open(&full.0).err().unwrap();
    assert_eq!(err, StoreError::NoSchemaVersion);
    assert!(err.to_string().contains("not an easbox store"));
    assert_eq!(raw_version(&full.0), None);
}

/// A stand-in for a future version 3: copies every user's record into a new table.
fn step_2_to_3(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    const USERS_V2: TableDefinition<&str, &[u8]> = TableDefinition::new("users_v2");
    let users = txn.open_table(USERS)?;
    let mut v2 = txn.open_table(USERS_V2)?;
    for row in users.iter()? {
        let (k, v) = row?;
        v2.insert(k.value(), v.value())?;
    }
    Ok(())
}

fn failing_step(_: &redb::WriteTransaction) -> Result<(), StoreError> {
    Err(StoreError::Corrupt("step failed".into()))
}

#[test]
fn the_migration_framework_runs_a_later_step_from_version_1() {
    let f = TempFile::new("migrate");
    {
        let store = Store::open(&f.0).unwrap();
        let mut t = store.write().unwrap();
        t.put_user(
            "ann",
            &User {
                enabled: true,
                password_hash: None,
                created: 1,
            },
        )
        .unwrap();
        t.commit().unwrap();
    }
    {
        let db = Database::create(&f.0).unwrap();
        let steps: &[schema::Step] = &[schema::MIGRATIONS[0], step_2_to_3];
        schema::migrate(&db, steps, 3).unwrap();
        let r = db.begin_read().unwrap();
        let v2: TableDefinition<&str, &[u8]> = TableDefinition::new("users_v2");
        assert!(r.open_table(v2).unwrap().get("ann").unwrap().is_some());
        assert_eq!(
            r.open_table(META)
                .unwrap()
                .get(SCHEMA_VERSION_KEY)
                .unwrap()
                .map(|v| v.value()),
            Some(3)
        );
        // Running again at version 3 is a no-op.
        drop(r);
        schema::migrate(&db, &[failing_step, failing_step], 3).unwrap();
    }
    // This build only knows version 2: the migrated file is now refused.
    assert_eq!(
        Store::open(&f.0).err(),
        Some(StoreError::SchemaTooNew {
            found: 3,
            supported: 2
        })
    );
}

#[test]
fn a_failing_or_missing_step_leaves_the_old_version() {
    let f = TempFile::new("migrate-fail");
    drop(Store::open(&f.0).unwrap());
    let db = Database::create(&f.0).unwrap();
    let steps: &[schema::Step] = &[schema::MIGRATIONS[0], step_2_to_3, failing_step];
    assert!(schema::migrate(&db, steps, 4).is_err());
    assert_eq!(
        schema::migrate(&db, &[schema::MIGRATIONS[0], step_2_to_3], 4),
        Err(StoreError::NoMigration { from: 3 })
    );
    drop(db);
    assert_eq!(raw_version(&f.0), Some(2));
    let db = Database::create(&f.0).unwrap();
    let r = db.begin_read().unwrap();
    let v2: TableDefinition<&str, &[u8]> = TableDefinition::new("users_v2");
    assert!(r.open_table(v2).is_err(), "step 1's work was rolled back");
}

#[test]
fn set_folders_replaces_the_list_and_keeps_items() {
    let f = TempFile::new("set-folders");
    let store = store_with_folders(&f, "u");
    let mut t = store.write().unwrap();
    let id = t
        .put_item("u", CONTACTS, None, &contact("a"), &Origin::Local)
        .unwrap();
    let mut folders = sync::default_folders();
    folders.retain(|x| x.id != CALENDAR);
    folders.push(Folder {
        id: FolderId(schema::FIRST_EXTRA_FOLDER_ID),
        parent: Some(CALENDAR),
        name: "CRM".into(),
        kind: FolderKind::Calendar,
    });
    t.set_folders("u", &folders).unwrap();
    assert_eq!(t.folders("u").unwrap(), folders);
    assert_eq!(t.folders("v").unwrap(), sync::default_folders());
    assert_eq!(t.item("u", CONTACTS, id).unwrap(), Some(contact("a")));
    t.commit().unwrap();
    assert_eq!(store.read().unwrap().folders("u").unwrap(), folders);
}
