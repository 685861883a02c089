//! The engine's flows over [`MemStore`]: what issue 3's "How it is checked" asks of the
//! server, at engine level.

use super::*;
use crate::eas::ProtocolVersion;
use crate::eas::commands::folder_sync::{FolderSyncRequest, FolderSyncStatus};
use crate::eas::commands::get_item_estimate::EstimateCollection;
use crate::eas::commands::item_operations::FetchOptions;
use crate::eas::commands::move_items::Move;
use crate::eas::commands::sync::SyncOptions;
use crate::eas::items::ClientKind;
use crate::model::{Contact, Item};
use crate::sync::mem::MemStore;
use crate::sync::{DeviceKey, FolderKind, default_folders, folder_sync};
use crate::wbxml::airsync;

const USER: &str = "ann";
const CONTACTS: FolderId = FolderId(8);
const CID: &str = "8";

fn dev(id: &str) -> DeviceCtx {
    DeviceCtx {
        key: DeviceKey {
            user: USER.into(),
            device_id: id.into(),
        },
        version: ProtocolVersion::V14_1,
        client: ClientKind::Other,
    }
}

fn contact_el(props: &[(Tag, &str)]) -> OwnedElement {
    let mut e = OwnedElement::new(airsync::APPLICATION_DATA);
    for (t, v) in props {
        e = e.with(OwnedElement::leaf(*t, *v));
    }
    e
}

fn crm_add(s: &mut MemStore, first: &str) -> ItemId {
    let c = Contact {
        first_name: Some(first.into()),
        last_name: Some("Crm".into()),
        ..Contact::default()
    };
    let item = StoredItem {
        item: Item::Contact(c),
        unknown: vec![],
        crm: None,
    };
    s.put_item(USER, CONTACTS, None, &item, &Origin::Crm)
        .unwrap()
}

fn coll(key: &str) -> SyncCollectionRequest {
    SyncCollectionRequest {
        sync_key: key.into(),
        collection_id: CID.into(),
        ..SyncCollectionRequest::default()
    }
}

fn run(s: &mut MemStore, d: &DeviceCtx, c: SyncCollectionRequest) -> SyncCollectionResponse {
    run_out(s, d, c).response.collections.remove(0)
}

fn run_out(s: &mut MemStore, d: &DeviceCtx, c: SyncCollectionRequest) -> SyncOutcome {
    let req = SyncRequest {
        collections: vec![c],
        ..SyncRequest::default()
    };
    sync(s, d, &req).unwrap()
}

/// Primes a collection: key 0 then the first (empty-handed) sync; returns the key held.
fn prime(s: &mut MemStore, d: &DeviceCtx) -> String {
    let r = run(s, d, coll("0"));
    assert_eq!((r.sync_key.as_str(), r.status), ("1", SyncStatus::Success));
    assert!(r.commands.is_empty());
    "1".into()
}

fn contact_of(data: &SyncData) -> Contact {
    match data {
        SyncData::Item(ad) => match &ad.item {
            Item::Contact(c) => c.clone(),
            other => panic!("not a contact: {other:?}"),
        },
        SyncData::Raw(e) => {
            let ctx = Context::new(ProtocolVersion::V14_1);
            match ApplicationData::decode(&e.as_element(), Class::Contacts, &ctx)
                .unwrap()
                .item
            {
                Item::Contact(c) => c,
                other => panic!("not a contact: {other:?}"),
            }
        }
    }
}

fn wire(d: &DeviceCtx, c: &SyncCollectionResponse) -> Vec<u8> {
    let r = SyncResponse {
        collections: vec![c.clone()],
        client: d.client,
        ..SyncResponse::default()
    };
    to_wbxml(&r, d.version, usize::MAX).unwrap()
}

use crate::eas::items::Class;

#[test]
fn two_devices_add_change_delete() {
    let mut s = MemStore::new();
    let (a, b) = (dev("A"), dev("B"));
    let mut ka = prime(&mut s, &a);
    let mut kb = prime(&mut s, &b);

    // A adds.
    let mut c = coll(&ka);
    c.commands.push(ClientCommand::Add {
        class: None,
        client_id: "c1".into(),
        data: contact_el(&[(contacts::FIRST_NAME, "Ann"), (contacts::LAST_NAME, "Lee")]),
    });
    let out = run_out(&mut s, &a, c);
    assert_eq!(out.changed, vec![CONTACTS]);
    let r = &out.response.collections[0];
    let SyncReply::Add {
        server_id: Some(sid),
        status: SyncStatus::Success,
        ..
    } = &r.responses[0]
    else {
        panic!("{:?}", r.responses)
    };
    assert!(r.commands.is_empty(), "A got its own add back");
    ka = r.sync_key.clone();

    // B receives the Add.
    let r = run(&mut s, &b, coll(&kb));
    kb = r.sync_key.clone();
    let [ServerCommand::Add { server_id, data }] = r.commands.as_slice() else {
        panic!("{:?}", r.commands)
    };
    assert_eq!(server_id, sid);
    assert_eq!(contact_of(data).first_name.as_deref(), Some("Ann"));

    // A changes only the first name: the last name is ghosted (kept).
    let mut c = coll(&ka);
    c.commands.push(ClientCommand::Change {
        server_id: sid.clone(),
        instance_id: None,
        data: contact_el(&[(contacts::FIRST_NAME, "Anna")]),
    });
    let r = run(&mut s, &a, c);
    assert!(r.responses.is_empty() && r.commands.is_empty());
    ka = r.sync_key.clone();
    let r = run(&mut s, &b, coll(&kb));
    kb = r.sync_key.clone();
    let [ServerCommand::Change { data, .. }] = r.commands.as_slice() else {
        panic!("{:?}", r.commands)
    };
    let got = contact_of(data);
    assert_eq!(got.first_name.as_deref(), Some("Anna"));
    assert_eq!(got.last_name.as_deref(), Some("Lee"));

    // A deletes; B gets the Delete, A nothing.
    let mut c = coll(&ka);
    c.commands.push(ClientCommand::Delete {
        server_id: sid.clone(),
        instance_id: None,
    });
    let r = run(&mut s, &a, c);
    assert!(r.commands.is_empty());
    let ka2 = r.sync_key.clone();
    let r = run(&mut s, &b, coll(&kb));
    assert_eq!(
        r.commands,
        vec![ServerCommand::Delete {
            server_id: sid.clone()
        }]
    );
    assert!(run(&mut s, &a, coll(&ka2)).commands.is_empty());
    assert!(run(&mut s, &b, coll(&r.sync_key)).commands.is_empty());
}

#[test]
fn repeated_key_gets_the_same_answer_and_adds_are_not_applied_twice() {
    let mut s = MemStore::new();
    let a = dev("A");
    let k = prime(&mut s, &a);
    for i in 0..3 {
        crm_add(&mut s, &format!("crm{i}"));
    }
    let mut c = coll(&k);
    c.commands.push(ClientCommand::Add {
        class: None,
        client_id: "x".into(),
        data: contact_el(&[(contacts::FIRST_NAME, "Mine")]),
    });
    c.commands.push(ClientCommand::Fetch {
        server_id: "8:1".into(),
    });
    let first = run(&mut s, &a, c.clone());
    assert_eq!(first.commands.len(), 3);
    assert_eq!(first.responses.len(), 2);
    let again = run(&mut s, &a, c.clone());
    assert_eq!(wire(&a, &first), wire(&a, &again));
    assert_eq!(s.log_len(USER, CONTACTS), 4, "the Add ran twice");
    // The new key goes on from there.
    let next = run(&mut s, &a, coll(&first.sync_key));
    assert_eq!(next.status, SyncStatus::Success);
    assert!(next.commands.is_empty());
    // The old key is now unknown.
    assert_eq!(run(&mut s, &a, coll(&k)).status, SyncStatus::InvalidSyncKey);

    // The same ClientId under a new key (our answer lost, the device re-synced): same
    // ServerId, no duplicate.
    let SyncReply::Add {
        server_id: Some(sid),
        ..
    } = &first.responses[0]
    else {
        panic!()
    };
    let mut c = coll(&next.sync_key);
    c.commands.push(ClientCommand::Add {
        class: None,
        client_id: "x".into(),
        data: contact_el(&[(contacts::FIRST_NAME, "Mine")]),
    });
    let r = run(&mut s, &a, c);
    let SyncReply::Add {
        server_id: Some(sid2),
        status: SyncStatus::Success,
        ..
    } = &r.responses[0]
    else {
        panic!()
    };
    assert_eq!(sid, sid2);
    assert_eq!(s.log_len(USER, CONTACTS), 4);
}

#[test]
fn unknown_keys_and_folders() {
    let mut s = MemStore::new();
    let a = dev("A");
    assert_eq!(
        run(&mut s, &a, coll("5")).status,
        SyncStatus::InvalidSyncKey
    );
    prime(&mut s, &a);
    for k in ["2", "7", "x", "", "+1", "99999999999"] {
        assert_eq!(
            run(&mut s, &a, coll(k)).status,
            SyncStatus::InvalidSyncKey,
            "{k}"
        );
    }
    for id in ["99", "abc", "", "-1"] {
        let mut c = coll("1");
        c.collection_id = id.into();
        assert_eq!(
            run(&mut s, &a, c).status,
            SyncStatus::FolderHierarchyChanged,
            "{id}"
        );
    }
    // A corrupt engine state counts as an unknown key.
    let mut st = s.collection_state(&a.key, CONTACTS).unwrap().unwrap();
    st.engine = vec![0xFF];
    s.put_collection_state(&a.key, CONTACTS, &st).unwrap();
    assert_eq!(
        run(&mut s, &a, coll("1")).status,
        SyncStatus::InvalidSyncKey
    );
    let fs = |k: &str| FolderSyncRequest { sync_key: k.into() };
    assert_eq!(
        folder_sync(&mut s, &a, &fs("1")),
        Err(Error::UnknownFolderSyncKey)
    );
    let r = folder_sync(&mut s, &a, &fs("0")).unwrap();
    assert_eq!(r.sync_key.as_deref(), Some("1"));
    for k in ["2", "0x", "abc"] {
        assert_eq!(
            folder_sync(&mut s, &a, &fs(k)),
            Err(Error::UnknownFolderSyncKey)
        );
    }
}

#[test]
fn folder_sync_keys_replay_and_keeps_item_states() {
    let mut s = MemStore::new();
    let a = dev("A");
    let fs = |k: &str| FolderSyncRequest { sync_key: k.into() };
    let r = folder_sync(&mut s, &a, &fs("0")).unwrap();
    assert_eq!(r.status, FolderSyncStatus::Success);
    let adds = &r.changes.as_ref().unwrap().adds;
    assert_eq!(adds.len(), 8);
    assert!(
        adds.iter()
            .any(|f| f.display_name == "Drafts" && f.server_id == "2")
    );
    assert!(
        adds.iter()
            .any(|f| f.display_name == "Outbox" && f.server_id == "5")
    );
    assert!(
        adds.iter()
            .any(|f| f.server_id == "8" && f.folder_type.as_u8() == 9)
    );
    // Nothing changed: the same key, no changes.
    let same = folder_sync(&mut s, &a, &fs("1")).unwrap();
    assert_eq!(same.sync_key.as_deref(), Some("1"));
    assert_eq!(same.changes.unwrap().count(), 0);

    // A renamed folder: an Update under key 2; the lost answer is repeated for key 1.
    let mut folders = default_folders();
    folders[7].name = "People".into();
    s.set_folders(USER, folders);
    let upd = folder_sync(&mut s, &a, &fs("1")).unwrap();
    assert_eq!(upd.sync_key.as_deref(), Some("2"));
    assert_eq!(
        upd.changes.as_ref().unwrap().updates[0].display_name,
        "People"
    );
    assert_eq!(folder_sync(&mut s, &a, &fs("1")).unwrap(), upd);
    assert_eq!(
        folder_sync(&mut s, &a, &fs("2"))
            .unwrap()
            .changes
            .unwrap()
            .count(),
        0
    );

    // FolderSync 0 keeps the device's collection states: no re-download.
    let k = prime(&mut s, &a);
    for i in 0..5 {
        crm_add(&mut s, &format!("c{i}"));
    }
    let r = run(&mut s, &a, coll(&k));
    assert_eq!(r.commands.len(), 5);
    let r0 = folder_sync(&mut s, &a, &fs("0")).unwrap();
    assert_eq!(
        r0.sync_key.as_deref(),
        Some("3"),
        "a key 0 answer reuses no old key"
    );
    let r = run(&mut s, &a, coll(&r.sync_key));
    assert_eq!(r.status, SyncStatus::Success);
    assert!(r.commands.is_empty());
}

#[test]
fn windows_more_available_and_estimates_over_1000_items() {
    let mut s = MemStore::new();
    for i in 0..1000 {
        crm_add(&mut s, &format!("c{i}"));
    }
    for (window, sizes) in [
        (Some(100), vec![100u32; 10]),
        (Some(0), vec![512, 488]),
        (None, vec![100; 10]),
        (Some(9999), vec![512, 488]),
    ] {
        let d = dev(&format!("w{window:?}"));
        let mut key = prime(&mut s, &d);
        let mut total = 0u32;
        for (i, n) in sizes.iter().enumerate() {
            let est = get_item_estimate(
                &mut s,
                &d,
                &GetItemEstimateRequest {
                    collections: vec![EstimateCollection {
                        sync_key: key.clone(),
                        collection_id: CID.into(),
                        ..EstimateCollection::default()
                    }],
                },
            )
            .unwrap();
            assert_eq!(est.responses[0].estimate, Some(1000 - total));
            let mut c = coll(&key);
            c.window_size = window;
            let r = run(&mut s, &d, c);
            assert_eq!(r.commands.len() as u32, *n, "window {window:?} round {i}");
            assert_eq!(r.more_available, i + 1 < sizes.len());
            assert!(
                r.commands
                    .iter()
                    .all(|c| matches!(c, ServerCommand::Add { .. }))
            );
            total += n;
            key = r.sync_key;
        }
        assert_eq!(total, 1000);
        let r = run(&mut s, &d, coll(&key));
        assert!(r.commands.is_empty() && !r.more_available);
    }
}

#[test]
fn request_window_bounds_all_collections() {
    let mut s = MemStore::new();
    for i in 0..30 {
        crm_add(&mut s, &format!("c{i}"));
    }
    let d = dev("A");
    let k = prime(&mut s, &d);
    let req = SyncRequest {
        collections: vec![coll(&k)],
        window_size: Some(10),
        ..SyncRequest::default()
    };
    let r = sync(&mut s, &d, &req).unwrap();
    assert_eq!(r.response.collections[0].commands.len(), 10);
    assert!(r.response.collections[0].more_available);
}

#[test]
fn estimate_agrees_with_sync() {
    let mut s = MemStore::new();
    let (a, c) = (dev("A"), dev("C"));
    let ka = prime(&mut s, &a);
    let mut gone = Vec::new();
    for i in 0..20 {
        let id = crm_add(&mut s, &format!("c{i}"));
        if i % 4 == 0 {
            gone.push(id);
        }
    }
    // A receives them, then adds 3 of its own and deletes some the CRM made.
    let r = run(&mut s, &a, coll(&ka));
    assert_eq!(r.commands.len(), 20);
    let mut req = coll(&r.sync_key);
    for i in 0..3 {
        req.commands.push(ClientCommand::Add {
            class: None,
            client_id: format!("a{i}"),
            data: contact_el(&[(contacts::FIRST_NAME, "A")]),
        });
    }
    for id in &gone {
        req.commands.push(ClientCommand::Delete {
            server_id: server_id(CONTACTS, *id),
            instance_id: None,
        });
    }
    let ra = run(&mut s, &a, req);
    assert!(ra.commands.is_empty(), "A got its own changes back");
    assert!(
        ra.responses
            .iter()
            .all(|r| matches!(r, SyncReply::Add { .. }))
    );
    let kc = prime(&mut s, &c);
    let est = |s: &mut MemStore, d: &DeviceCtx, key: &str| {
        get_item_estimate(
            s,
            d,
            &GetItemEstimateRequest {
                collections: vec![EstimateCollection {
                    sync_key: key.into(),
                    collection_id: CID.into(),
                    ..EstimateCollection::default()
                }],
            },
        )
        .unwrap()
        .responses[0]
            .estimate
    };
    // C never held the deleted items: no Deletes for it. A's adds are A's, not C's.
    assert_eq!(est(&mut s, &c, &kc), Some(18));
    let mut cc = coll(&kc);
    cc.window_size = Some(7);
    let mut key = kc;
    let mut n = 0;
    loop {
        let mut cc2 = cc.clone();
        cc2.sync_key = key;
        let r = run(&mut s, &c, cc2);
        n += r.commands.len();
        key = r.sync_key;
        if !r.more_available {
            break;
        }
    }
    assert_eq!(n, 18);
    assert_eq!(est(&mut s, &c, &key), Some(0));
    assert_eq!(est(&mut s, &a, &ra.sync_key), Some(0));
    // Estimate statuses.
    let st = |s: &mut MemStore, key: &str, id: &str| {
        get_item_estimate(
            s,
            &a,
            &GetItemEstimateRequest {
                collections: vec![EstimateCollection {
                    sync_key: key.into(),
                    collection_id: id.into(),
                    ..EstimateCollection::default()
                }],
            },
        )
        .unwrap()
        .responses[0]
            .status
    };
    assert_eq!(
        st(&mut s, "1", "42"),
        GetItemEstimateStatus::InvalidCollection
    );
    assert_eq!(
        st(&mut s, "0", CID),
        GetItemEstimateStatus::SyncStateNotPrimed
    );
    assert_eq!(
        st(&mut s, "1", "7"),
        GetItemEstimateStatus::SyncStateNotPrimed
    );
    assert_eq!(st(&mut s, "1", CID), GetItemEstimateStatus::InvalidSyncKey);
}

#[test]
fn conflicts_server_wins_by_default_client_wins_on_request() {
    for client_wins in [false, true] {
        let mut s = MemStore::new();
        let b = dev("B");
        let k = prime(&mut s, &b);
        let id = crm_add(&mut s, "Orig");
        let r = run(&mut s, &b, coll(&k));
        assert_eq!(r.commands.len(), 1);
        // The CRM changes the item; B changes it too before hearing of it.
        let crm = StoredItem {
            item: Item::Contact(Contact {
                first_name: Some("Server".into()),
                ..Contact::default()
            }),
            unknown: vec![],
            crm: None,
        };
        s.put_item(USER, CONTACTS, Some(id), &crm, &Origin::Crm)
            .unwrap();
        let mut c = coll(&r.sync_key);
        if client_wins {
            c.options.push(SyncOptions {
                conflict: Some(Conflict::ClientWins),
                ..SyncOptions::default()
            });
        }
        let sid = server_id(CONTACTS, id);
        c.commands.push(ClientCommand::Change {
            server_id: sid.clone(),
            instance_id: None,
            data: contact_el(&[(contacts::FIRST_NAME, "Client")]),
        });
        let r = run(&mut s, &b, c);
        let stored = s.item(USER, CONTACTS, id).unwrap().unwrap();
        let Item::Contact(stored) = stored.item else {
            panic!()
        };
        if client_wins {
            assert!(r.responses.is_empty());
            assert!(r.commands.is_empty(), "B's own version came back");
            assert_eq!(stored.first_name.as_deref(), Some("Client"));
        } else {
            assert_eq!(
                r.responses,
                vec![SyncReply::Change {
                    server_id: sid.clone(),
                    instance_id: None,
                    status: SyncStatus::Conflict
                }]
            );
            let [ServerCommand::Change { data, .. }] = r.commands.as_slice() else {
                panic!("{:?}", r.commands)
            };
            assert_eq!(contact_of(data).first_name.as_deref(), Some("Server"));
            assert_eq!(stored.first_name.as_deref(), Some("Server"));
        }
    }
}

#[test]
fn server_wins_over_a_delete_sends_the_item_back_as_add() {
    let mut s = MemStore::new();
    let b = dev("B");
    let k = prime(&mut s, &b);
    let id = crm_add(&mut s, "Orig");
    let r = run(&mut s, &b, coll(&k));
    crm_add(&mut s, "x");
    let fresh = StoredItem {
        item: Item::Contact(Contact::default()),
        unknown: vec![],
        crm: None,
    };
    s.put_item(USER, CONTACTS, Some(id), &fresh, &Origin::Crm)
        .unwrap();
    let mut c = coll(&r.sync_key);
    c.commands.push(ClientCommand::Delete {
        server_id: server_id(CONTACTS, id),
        instance_id: None,
    });
    let r = run(&mut s, &b, c);
    assert!(matches!(
        r.responses.as_slice(),
        [SyncReply::Delete {
            status: SyncStatus::Conflict,
            ..
        }]
    ));
    assert!(r.commands.iter().any(
        |c| matches!(c, ServerCommand::Add { server_id, .. } if *server_id == server_id_of(id))
    ));
    assert!(s.item(USER, CONTACTS, id).unwrap().is_some());
}

fn server_id_of(id: ItemId) -> String {
    server_id(CONTACTS, id)
}

#[test]
fn loop_detection_shrinks_the_window_then_quarantines() {
    let mut s = MemStore::new();
    let d = dev("L");
    let k = prime(&mut s, &d);
    for i in 0..8 {
        crm_add(&mut s, &format!("c{i}"));
    }
    let mut c = coll(&k);
    c.window_size = Some(8);
    let first = run(&mut s, &d, c.clone());
    assert_eq!(first.commands.len(), 8);
    let bad = first.commands[0].clone();
    // The device fails on the answer and repeats its key.
    let mut sizes = Vec::new();
    let mut last = wire(&d, &first);
    for _ in 0..20 {
        let r = run(&mut s, &d, c.clone());
        let w = wire(&d, &r);
        if w != last {
            sizes.push(r.commands.len());
            last = w;
        }
        assert_eq!(r.sync_key, first.sync_key);
        let st = s.collection_state(&d.key, CONTACTS).unwrap().unwrap();
        if !quarantined(&st).is_empty() {
            break;
        }
    }
    // Halved every third repeat; the item of a one-item window that keeps failing is
    // quarantined and the window stays small until acknowledged.
    assert_eq!(sizes, vec![4, 2, 1, 1]);
    let st = s.collection_state(&d.key, CONTACTS).unwrap().unwrap();
    let q = quarantined(&st);
    let ServerCommand::Add {
        server_id: bad_id, ..
    } = bad.clone()
    else {
        panic!()
    };
    assert_eq!(q.len(), 1);
    assert_eq!(server_id_of(q[0].0), bad_id);
    assert!(q[0].1.contains("repeated"));
    // The rest goes through once the device moves on, the bad item never again.
    let est = get_item_estimate(
        &mut s,
        &d,
        &GetItemEstimateRequest {
            collections: vec![EstimateCollection {
                sync_key: first.sync_key.clone(),
                collection_id: CID.into(),
                ..EstimateCollection::default()
            }],
        },
    )
    .unwrap();
    assert_eq!(est.responses[0].estimate, Some(6));
    // The window grows back as answers are acknowledged: 1 (sent already), 2, 4.
    let mut key = first.sync_key.clone();
    let mut got = Vec::new();
    loop {
        let mut c2 = coll(&key);
        c2.window_size = Some(8);
        let r = run(&mut s, &d, c2);
        got.push(r.commands.len());
        assert!(!r.commands.contains(&bad));
        key = r.sync_key;
        if !r.more_available {
            break;
        }
    }
    assert_eq!(got, vec![2, 4]);
}

#[test]
fn a_device_that_resets_gets_its_own_items_back() {
    let mut s = MemStore::new();
    let a = dev("A");
    let k = prime(&mut s, &a);
    let mut c = coll(&k);
    c.commands.push(ClientCommand::Add {
        class: None,
        client_id: "1".into(),
        data: contact_el(&[(contacts::FIRST_NAME, "Mine")]),
    });
    run(&mut s, &a, c);
    let k = prime(&mut s, &a);
    let r = run(&mut s, &a, coll(&k));
    assert_eq!(r.commands.len(), 1);
}

#[test]
fn bad_items_get_status_6_and_others_go_on() {
    let mut s = MemStore::new();
    let a = dev("A");
    let k = prime(&mut s, &a);
    let mut c = coll(&k);
    c.commands.push(ClientCommand::Add {
        class: None,
        client_id: "bad".into(),
        data: contact_el(&[(contacts::BIRTHDAY, "not a date")]),
    });
    c.commands.push(ClientCommand::Add {
        class: None,
        client_id: "good".into(),
        data: contact_el(&[(contacts::FIRST_NAME, "Ok")]),
    });
    c.commands.push(ClientCommand::Change {
        server_id: "8:999".into(),
        instance_id: None,
        data: contact_el(&[]),
    });
    let out = run_out(&mut s, &a, c);
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].0, "bad");
    let r = &out.response.collections[0].responses;
    assert!(matches!(
        &r[0],
        SyncReply::Add {
            status: SyncStatus::ConversionError,
            server_id: None,
            ..
        }
    ));
    assert!(matches!(
        &r[1],
        SyncReply::Add {
            status: SyncStatus::Success,
            server_id: Some(_),
            ..
        }
    ));
    assert!(matches!(
        &r[2],
        SyncReply::Change {
            status: SyncStatus::ObjectNotFound,
            ..
        }
    ));
    assert_eq!(s.log_len(USER, CONTACTS), 1);
}

#[test]
fn ghosting_supported_list_and_empty_picture() {
    let mut s = MemStore::new();
    let a = dev("A");
    // Initial sync naming LastName as supported: leaving it out of a Change deletes it.
    let mut c0 = coll("0");
    c0.supported = Some(vec![contacts::LAST_NAME]);
    run(&mut s, &a, c0);
    let id = crm_add(&mut s, "F");
    let mut pic = s.item(USER, CONTACTS, id).unwrap().unwrap();
    if let Item::Contact(c) = &mut pic.item {
        c.picture = Some(vec![1, 2, 3]);
        c.mobile_phone = Some("123".into());
    }
    s.put_item(USER, CONTACTS, Some(id), &pic, &Origin::Crm)
        .unwrap();
    let r = run(&mut s, &a, coll("1"));
    let mut c = coll(&r.sync_key);
    c.commands.push(ClientCommand::Change {
        server_id: server_id(CONTACTS, id),
        instance_id: None,
        data: contact_el(&[(contacts::FIRST_NAME, "G"), (contacts::PICTURE, "")]),
    });
    let r = run(&mut s, &a, c);
    assert!(r.responses.is_empty(), "{:?}", r.responses);
    let Item::Contact(got) = s.item(USER, CONTACTS, id).unwrap().unwrap().item else {
        panic!()
    };
    assert_eq!(got.first_name.as_deref(), Some("G"));
    assert_eq!(
        got.last_name, None,
        "a supported property left out is deleted"
    );
    assert_eq!(got.mobile_phone.as_deref(), Some("123"), "others are kept");
    assert_eq!(
        got.picture,
        Some(vec![1, 2, 3]),
        "an empty Picture is not a delete"
    );
}

#[test]
fn fetch_move_and_ping_changes() {
    let mut s = MemStore::new();
    let (a, b) = (dev("A"), dev("B"));
    let ka = prime(&mut s, &a);
    prime(&mut s, &b);
    assert_eq!(
        changed_folders(&mut s, &a, &[CONTACTS, FolderId(7)]).unwrap(),
        vec![]
    );
    let id = crm_add(&mut s, "P");
    assert_eq!(
        changed_folders(&mut s, &a, &[CONTACTS]).unwrap(),
        vec![CONTACTS]
    );
    assert_eq!(
        changed_folders(&mut s, &a, &[FolderId(77)]),
        Err(Error::UnknownFolder("77".into()))
    );
    let r = run(&mut s, &a, coll(&ka));
    assert_eq!(changed_folders(&mut s, &a, &[CONTACTS]).unwrap(), vec![]);
    // A's own change does not wake A, but wakes B.
    let mut c = coll(&r.sync_key);
    c.commands.push(ClientCommand::Change {
        server_id: server_id(CONTACTS, id),
        instance_id: None,
        data: contact_el(&[(contacts::FIRST_NAME, "Q")]),
    });
    run(&mut s, &a, c);
    assert_eq!(changed_folders(&mut s, &a, &[CONTACTS]).unwrap(), vec![]);
    assert_eq!(
        changed_folders(&mut s, &b, &[CONTACTS]).unwrap(),
        vec![CONTACTS]
    );

    let fetch = |cid: Option<&str>, sid: &str| Fetch {
        store: "Mailbox".into(),
        target: FetchTarget::Item {
            collection_id: cid.map(Into::into),
            server_id: sid.into(),
        },
        options: FetchOptions::default(),
    };
    let sid = server_id(CONTACTS, id);
    let f = item_operations_fetch(&mut s, &a, &fetch(Some(CID), &sid)).unwrap();
    assert_eq!(f.status, ItemOperationsStatus::Success);
    assert_eq!(f.class.as_deref(), Some("Contacts"));
    assert_eq!(
        contact_of(f.properties.as_ref().unwrap())
            .first_name
            .as_deref(),
        Some("Q")
    );
    for (cid, sid) in [
        (Some("7"), sid.as_str()),
        (None, "8:99"),
        (None, "zz"),
        (None, "3:1"),
    ] {
        let f = item_operations_fetch(&mut s, &a, &fetch(cid, sid)).unwrap();
        assert_eq!(f.status, ItemOperationsStatus::NotFound, "{cid:?} {sid}");
    }

    let mv = |src: &str, sf: &str, df: &str| MoveItemsRequest {
        moves: vec![Move {
            src_msg_id: src.into(),
            src_fld_id: sf.into(),
            dst_fld_id: df.into(),
        }],
    };
    let st = |s: &mut MemStore, r: MoveItemsRequest| {
        move_items(s, &a, &r).unwrap().response.responses[0].clone()
    };
    let same = st(&mut s, mv(&sid, CID, CID));
    assert_eq!(
        (same.status, same.dst_msg_id.as_deref()),
        (MoveItemsStatus::Success, Some(sid.as_str()))
    );
    assert_eq!(
        st(&mut s, mv(&sid, CID, "7")).status,
        MoveItemsStatus::CannotMove
    );
    assert_eq!(
        st(&mut s, mv(&sid, CID, "1")).status,
        MoveItemsStatus::CannotMove
    );
    assert_eq!(
        st(&mut s, mv(&sid, CID, "99")).status,
        MoveItemsStatus::InvalidDestination
    );
    assert_eq!(
        st(&mut s, mv("8:99", CID, "7")).status,
        MoveItemsStatus::InvalidSource
    );
    assert_eq!(
        st(&mut s, mv(&sid, "7", "8")).status,
        MoveItemsStatus::InvalidSource
    );

    // Between two folders of one class (not made by easbox today): a new item, source gone.
    let mut folders = default_folders();
    folders.push(Folder {
        id: FolderId(9),
        parent: None,
        name: "More".into(),
        kind: FolderKind::Contacts,
    });
    s.set_folders(USER, folders);
    let out = move_items(&mut s, &a, &mv(&sid, CID, "9")).unwrap();
    let m = &out.response.responses[0];
    assert_eq!(m.status, MoveItemsStatus::Success);
    assert!(m.dst_msg_id.as_deref().is_some_and(|d| d.starts_with("9:")));
    assert_eq!(out.changed, vec![CONTACTS, FolderId(9)]);
    assert!(s.item(USER, CONTACTS, id).unwrap().is_none());
}

#[test]
fn mail_folders_sync_empty_and_refuse_items() {
    let mut s = MemStore::new();
    let a = dev("A");
    let mut c = coll("0");
    c.collection_id = "2".into();
    assert_eq!(run(&mut s, &a, c).status, SyncStatus::Success);
    let mut c = coll("1");
    c.collection_id = "2".into();
    c.commands.push(ClientCommand::Add {
        class: None,
        client_id: "d".into(),
        data: contact_el(&[]),
    });
    let out = run_out(&mut s, &a, c);
    let r = &out.response.collections[0];
    assert_eq!(r.status, SyncStatus::Success);
    assert!(matches!(
        &r.responses[0],
        SyncReply::Add {
            status: SyncStatus::ConversionError,
            ..
        }
    ));
    assert_eq!(out.rejected.len(), 1);
}

#[test]
fn an_item_the_device_cannot_receive_is_quarantined_and_the_rest_goes_on() {
    use crate::model::Task;
    const TASKS: FolderId = FolderId(6);
    let mut s = MemStore::new();
    let d = dev("Q");
    let mut c = coll("0");
    c.collection_id = "6".into();
    let r = run(&mut s, &d, c.clone());
    let task = |subject: &str, complete: bool| StoredItem {
        item: Item::Task(Task {
            subject: Some(subject.into()),
            complete,
            ..Task::default()
        }),
        unknown: vec![],
        crm: None,
    };
    // Complete without DateCompleted: the encoder refuses it ([MS-ASTASK] 2.2.2.7).
    let bad = s
        .put_item(USER, TASKS, None, &task("bad", true), &Origin::Crm)
        .unwrap();
    s.put_item(USER, TASKS, None, &task("good", false), &Origin::Crm)
        .unwrap();
    c.sync_key = r.sync_key.clone();
    let r = run(&mut s, &d, c.clone());
    assert_eq!(r.status, SyncStatus::Success);
    assert_eq!(r.commands.len(), 1, "{:?}", r.commands);
    let st = s.collection_state(&d.key, TASKS).unwrap().unwrap();
    let q = quarantined(&st);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].0, bad);
    assert!(q[0].1.contains("cannot be sent"), "{}", q[0].1);
    // The response itself encodes.
    wire(&d, &r);
    // And the next Sync does not try it again.
    c.sync_key = r.sync_key.clone();
    let r = run(&mut s, &d, c);
    assert!(r.commands.is_empty());
}
