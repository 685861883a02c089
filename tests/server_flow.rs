//! The whole flow against the real `easbox serve` (issue 3, "How it is checked" 1, 2, 3, 7):
//! two devices of one user provision, FolderSync, download the demo data in windows, and see
//! each other's changes through Ping and Sync; status codes; a lost response repeated; the
//! user commands with the server stopped and running.

mod common;

use std::time::{Duration, Instant};

use common::eas_client::*;
use common::server::*;
use easbox::eas::ProtocolVersion;
use easbox::eas::commands::folder_sync::{FolderSyncStatus, FolderType};
use easbox::eas::commands::ping::PingStatus;
use easbox::eas::commands::sync::{
    ClientCommand, ServerCommand, SyncReply, SyncResponse, SyncStatus,
};
use easbox::eas::items::Class;
use easbox::eas::request::Command;
use easbox::wbxml::{OwnedElement, airsync, calendar, contacts, tasks};

const V: ProtocolVersion = ProtocolVersion::V14_1;

/// The default folders of the demo user, as FolderSync names them.
#[derive(Clone, Debug)]
pub struct Folders {
    contacts: String,
    calendar: String,
    tasks: String,
}

fn provision_and_folders(c: &mut EasClient) -> Folders {
    let p = c.provision().expect("provision");
    // Phase 1 carries the policy document and a temporary key; phase 2 replaces the key.
    let download = p.download.policy.as_ref().expect("a Policy in phase 1");
    assert!(download.data.is_some(), "no policy document: {download:?}");
    let temp = download.policy_key.expect("a temporary key");
    assert_ne!(
        temp, p.policy_key,
        "the final key must differ from the temporary one"
    );
    assert!(
        p.acknowledge
            .policy
            .as_ref()
            .is_some_and(|x| x.data.is_none()),
        "phase 2 repeats the document: {:?}",
        p.acknowledge
    );
    let fs = c.folder_sync("0").expect("FolderSync");
    assert_eq!(fs.status, FolderSyncStatus::Success);
    let adds = fs.changes.expect("hierarchy").adds;
    let find = |t: FolderType| {
        adds.iter()
            .find(|f| f.folder_type == t)
            .unwrap_or_else(|| panic!("no {t:?} folder in {adds:?}"))
            .server_id
            .clone()
    };
    Folders {
        contacts: find(FolderType::DefaultContacts),
        calendar: find(FolderType::DefaultCalendar),
        tasks: find(FolderType::DefaultTasks),
    }
}

/// The one collection of a Sync response.
fn one(r: &SyncResponse) -> &easbox::eas::commands::sync::SyncCollectionResponse {
    assert_eq!(r.collections.len(), 1, "{r:?}");
    &r.collections[0]
}

/// Sync key 0, GetItemEstimate, then windows of 100 until MoreAvailable is gone. Returns the
/// last key and the ServerIds received.
fn initial_download(c: &mut EasClient, folder: &str) -> (String, Vec<String>) {
    let r = c.sync_collection(folder, "0", None, vec![]).expect("key 0");
    let col = one(&r);
    assert_eq!(col.status, SyncStatus::Success);
    assert!(col.commands.is_empty(), "key 0 carries no items");
    let mut key = col.sync_key.clone();
    let est = c
        .get_item_estimate(&[(folder, &key)])
        .expect("GetItemEstimate");
    let estimate = est.responses[0].estimate.expect("an estimate");
    let mut ids = Vec::new();
    let mut windows = 0;
    loop {
        let r = c
            .sync_collection(folder, &key, Some(100), vec![])
            .expect("download");
        let col = one(&r);
        assert_eq!(col.status, SyncStatus::Success);
        assert!(col.commands.len() <= 100, "window of 100 exceeded");
        for cmd in &col.commands {
            match cmd {
                ServerCommand::Add { server_id, .. } => ids.push(server_id.clone()),
                other => panic!("initial download sent {other:?}"),
            }
        }
        key = col.sync_key.clone();
        windows += 1;
        if !col.more_available {
            break;
        }
        assert!(windows < 100, "MoreAvailable never ends");
    }
    assert_eq!(
        ids.len() as u32,
        estimate,
        "download count vs GetItemEstimate"
    );
    let mut uniq = ids.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), ids.len(), "an item was sent twice");
    // Nothing left: the estimate for the final key is 0.
    let est = c.get_item_estimate(&[(folder, &key)]).expect("estimate");
    assert_eq!(est.responses[0].estimate, Some(0));
    (key, ids)
}

fn contact(first: &str) -> OwnedElement {
    OwnedElement::new(airsync::APPLICATION_DATA)
        .with(OwnedElement::leaf(contacts::FIRST_NAME, first))
        .with(OwnedElement::leaf(contacts::LAST_NAME, "Flowtest"))
        .with(OwnedElement::leaf(
            contacts::EMAIL1_ADDRESS,
            format!("{first}@example.org"),
        ))
}

fn event(subject: &str) -> OwnedElement {
    OwnedElement::new(airsync::APPLICATION_DATA)
        .with(OwnedElement::leaf(calendar::SUBJECT, subject))
        .with(OwnedElement::leaf(calendar::START_TIME, "20261201T100000Z"))
        .with(OwnedElement::leaf(calendar::END_TIME, "20261201T110000Z"))
}

fn task(subject: &str) -> OwnedElement {
    OwnedElement::new(airsync::APPLICATION_DATA).with(OwnedElement::leaf(tasks::SUBJECT, subject))
}

/// One device with its folders and sync keys.
struct Device {
    c: EasClient,
    f: Folders,
    keys: std::collections::HashMap<String, String>,
}

impl Device {
    fn new(srv: &Server, id: &str, version: ProtocolVersion) -> Device {
        let mut c = srv.demo_client(id, version);
        let f = provision_and_folders(&mut c);
        let mut keys = std::collections::HashMap::new();
        for folder in [&f.contacts, &f.calendar, &f.tasks] {
            let (key, ids) = initial_download(&mut c, folder);
            assert!(!ids.is_empty(), "demo data in folder {folder}");
            keys.insert(folder.clone(), key);
        }
        Device { c, f, keys }
    }

    /// Sync `folder` with `commands`; updates the key and returns the collection.
    fn sync(
        &mut self,
        folder: &str,
        commands: Vec<ClientCommand>,
    ) -> easbox::eas::commands::sync::SyncCollectionResponse {
        let key = self.keys[folder].clone();
        let r = self
            .c
            .sync_collection(folder, &key, Some(100), commands)
            .expect("sync");
        if r.collections.is_empty() {
            // The empty answer: nothing changed, key unchanged.
            return easbox::eas::commands::sync::SyncCollectionResponse::new(
                &key,
                folder,
                SyncStatus::Success,
            );
        }
        let col = one(&r).clone();
        assert_eq!(col.status, SyncStatus::Success, "{col:?}");
        self.keys.insert(folder.to_owned(), col.sync_key.clone());
        col
    }
}

/// B parks a Ping on every folder, A runs `commands` on `folder`; B's Ping must answer Status
/// 2 naming `folder` within a second of A's answer, and A must not get its own change back.
/// Returns A's replies and B's received commands.
fn change_seen_by_other(
    a: &mut Device,
    b: &mut Device,
    folder: &str,
    commands: Vec<ClientCommand>,
) -> (Vec<SyncReply>, Vec<ServerCommand>) {
    let watch = [
        (b.f.contacts.clone(), Class::Contacts),
        (b.f.calendar.clone(), Class::Calendar),
        (b.f.tasks.clone(), Class::Tasks),
    ];
    let (replies, a_done, ping, ping_done) = std::thread::scope(|s| {
        let bc = &mut b.c;
        let pinger = s.spawn(move || {
            let folders: Vec<(&str, Class)> =
                watch.iter().map(|(id, c)| (id.as_str(), *c)).collect();
            let r = bc.ping_with_timeout(&folders, Some(60), Duration::from_secs(10));
            (r, Instant::now())
        });
        // Give the Ping time to park; a change before that is found by its first check
        // anyway, so the assertions hold either way.
        std::thread::sleep(Duration::from_millis(200));
        let col = a.sync(folder, commands);
        let a_done = Instant::now();
        let (ping, ping_done) = pinger.join().expect("ping thread");
        (col.responses, a_done, ping, ping_done)
    });
    let ping = ping.expect("Ping answers");
    assert_eq!(ping.status, PingStatus::ChangesOccurred, "{ping:?}");
    assert_eq!(ping.folders, vec![folder.to_owned()]);
    assert!(
        ping_done.saturating_duration_since(a_done) < Duration::from_secs(1),
        "Ping answered {:?} after the change",
        ping_done.saturating_duration_since(a_done)
    );
    let got = b.sync(folder, vec![]).commands;
    // A's next Sync has nothing: its own change is never echoed.
    let echo = a.sync(folder, vec![]);
    assert!(echo.commands.is_empty(), "A got its change back: {echo:?}");
    (replies, got)
}

fn added_id(replies: &[SyncReply], client_id: &str) -> String {
    match replies {
        [
            SyncReply::Add {
                client_id: c,
                server_id: Some(id),
                status: SyncStatus::Success,
            },
        ] if c == client_id => id.clone(),
        other => panic!("Add reply {other:?}"),
    }
}

fn text_of(cmd: &ServerCommand, tag: easbox::wbxml::Tag) -> Option<String> {
    let data = match cmd {
        ServerCommand::Add { data, .. } | ServerCommand::Change { data, .. } => data,
        _ => return None,
    };
    match data {
        easbox::eas::commands::sync::SyncData::Raw(e) => {
            e.child(tag).and_then(|x| x.text()).map(str::to_owned)
        }
        easbox::eas::commands::sync::SyncData::Item(_) => panic!("decoded item"),
    }
}

#[test]
fn two_devices_see_each_others_changes() {
    let srv = Server::start("flow");
    // A speaks 14.1, B 16.1: the two shapes of every item.
    let mut a = Device::new(&srv, "deviceA", V);
    let mut b = Device::new(&srv, "deviceB", ProtocolVersion::V16_1);
    let contacts_id = a.f.contacts.clone();

    // Add.
    let (replies, got) = change_seen_by_other(
        &mut a,
        &mut b,
        &contacts_id,
        vec![ClientCommand::Add {
            class: None,
            client_id: "c1".into(),
            data: contact("Alice"),
        }],
    );
    let id = added_id(&replies, "c1");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(matches!(&got[0], ServerCommand::Add { server_id, .. } if *server_id == id));
    assert_eq!(
        text_of(&got[0], contacts::FIRST_NAME).as_deref(),
        Some("Alice")
    );

    // Change.
    let (replies, got) = change_seen_by_other(
        &mut a,
        &mut b,
        &contacts_id,
        vec![ClientCommand::Change {
            server_id: id.clone(),
            instance_id: None,
            data: contact("Alicia"),
        }],
    );
    assert!(
        replies.is_empty(),
        "a good Change has no reply: {replies:?}"
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(matches!(&got[0], ServerCommand::Change { server_id, .. } if *server_id == id));
    assert_eq!(
        text_of(&got[0], contacts::FIRST_NAME).as_deref(),
        Some("Alicia")
    );

    // Delete.
    let (replies, got) = change_seen_by_other(
        &mut a,
        &mut b,
        &contacts_id,
        vec![ClientCommand::Delete {
            server_id: id.clone(),
            instance_id: None,
        }],
    );
    assert!(replies.is_empty(), "{replies:?}");
    assert_eq!(
        got,
        vec![ServerCommand::Delete {
            server_id: id.clone()
        }]
    );

    // Calendar and tasks: one add each.
    for (folder, data, tag, subject) in [
        (
            a.f.calendar.clone(),
            event("Flow meeting"),
            calendar::SUBJECT,
            "Flow meeting",
        ),
        (
            a.f.tasks.clone(),
            task("Flow task"),
            tasks::SUBJECT,
            "Flow task",
        ),
    ] {
        let (replies, got) = change_seen_by_other(
            &mut a,
            &mut b,
            &folder,
            vec![ClientCommand::Add {
                class: None,
                client_id: "n1".into(),
                data,
            }],
        );
        let id = added_id(&replies, "n1");
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(matches!(&got[0], ServerCommand::Add { server_id, .. } if *server_id == id));
        assert_eq!(text_of(&got[0], tag).as_deref(), Some(subject));
    }
}

#[test]
fn lost_response_is_answered_again_identically() {
    let srv = Server::start("lost");
    let mut a = Device::new(&srv, "lostA", V);
    let mut b = Device::new(&srv, "lostB", V);
    let folder = a.f.contacts.clone();
    let key = a.keys[&folder].clone();
    let req_cmd = vec![ClientCommand::Add {
        class: None,
        client_id: "once".into(),
        data: contact("Once"),
    }];
    a.c.sync_collection(&folder, &key, Some(100), req_cmd.clone())
        .expect("first");
    let first = a.c.last.clone().expect("a response").body;
    // The reply is "lost": the device sends the identical request again.
    a.c.sync_collection(&folder, &key, Some(100), req_cmd)
        .expect("repeat");
    let second = a.c.last.clone().expect("a response").body;
    assert_eq!(first, second, "the repeated request got a different answer");

    let r: SyncResponse =
        easbox::eas::from_wbxml(&second, V, easbox::wbxml::Limits::DEFAULT).unwrap();
    let col = one(&r);
    let id = added_id(&col.responses, "once");
    a.keys.insert(folder.clone(), col.sync_key.clone());

    // B receives exactly one copy.
    let bkey = b.keys[&folder].clone();
    let est = b.c.get_item_estimate(&[(&folder, &bkey)]).unwrap();
    assert_eq!(est.responses[0].estimate, Some(1));
    let got = b.sync(&folder, vec![]).commands;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(matches!(&got[0], ServerCommand::Add { server_id, .. } if *server_id == id));
    // A fresh device sees the demo contacts plus one.
    let mut c = srv.demo_client("lostC", V);
    let f = provision_and_folders(&mut c);
    let (_, ids) = initial_download(&mut c, &f.contacts);
    assert_eq!(ids.len() as u32, easbox::server::demo::CONTACTS + 1);
    assert_eq!(ids.iter().filter(|x| **x == id).count(), 1);
}

#[test]
fn empty_sync_repeats_the_collections_with_the_current_key_and_no_commands() {
    let srv = Server::start("emptysync");
    let mut a = Device::new(&srv, "emptyA", V);
    let mut b = Device::new(&srv, "emptyB", V);
    let folder = a.f.contacts.clone();
    let key = a.keys[&folder].clone();
    let add = vec![ClientCommand::Add {
        class: None,
        client_id: "e1".into(),
        data: contact("Emptyone"),
    }];
    let r =
        a.c.sync_collection(&folder, &key, Some(100), add)
            .expect("full");
    let after_add = one(&r).sync_key.clone();
    // B adds a contact; A's empty Sync must deliver it under the key A holds now, not replay
    // the answer to its previous key, and must not apply A's Add again.
    b.sync(
        &folder,
        vec![ClientCommand::Add {
            class: None,
            client_id: "e2".into(),
            data: contact("Fromb"),
        }],
    );
    let raw = a.c.post(Command::Sync, Vec::new()).expect("empty Sync");
    assert_eq!(raw.status, 200);
    let r: SyncResponse =
        easbox::eas::from_wbxml(&raw.body, V, easbox::wbxml::Limits::DEFAULT).unwrap();
    let col = one(&r);
    assert_eq!(col.status, SyncStatus::Success);
    assert_ne!(
        col.sync_key, after_add,
        "the empty request was answered with the old key"
    );
    assert!(
        col.responses.is_empty(),
        "the cached Add was applied again: {col:?}"
    );
    assert_eq!(col.commands.len(), 1, "{col:?}");
    assert_eq!(
        text_of(&col.commands[0], contacts::FIRST_NAME).as_deref(),
        Some("Fromb")
    );
}

// -------------------------------------------------------------------------------------------
// Status codes

#[test]
fn authentication_and_provisioning_statuses() {
    let srv = Server::start("status-auth");
    add_user(&srv.dir, "off", "offpass");
    // Without credentials.
    let mut c = srv.demo_client("s1", V);
    let r = c
        .send_raw(
            "Cmd=FolderSync&User=demo&DeviceId=s1&DeviceType=T",
            &[("MS-ASProtocolVersion", "14.1")],
            b"",
        )
        .unwrap();
    assert_eq!(r.status, 401);
    assert!(
        r.header("WWW-Authenticate")
            .is_some_and(|v| v.starts_with("Basic"))
    );
    // Wrong password (a separate user, so that the lockout does not touch demo).
    add_user(&srv.dir, "wrongpw", "right");
    let mut w = srv.client("wrongpw", "wrong", "s2", V);
    let e = w.folder_sync("0").unwrap_err();
    assert_eq!(e.http_status(), Some(401));
    assert!(
        w.last
            .as_ref()
            .unwrap()
            .header("WWW-Authenticate")
            .is_some()
    );
    // Disabled user: 403.
    user_cmd(&srv.dir, &["disable", "off"], "");
    let mut off = srv.client("off", "offpass", "s3", V);
    assert_eq!(off.folder_sync("0").unwrap_err().http_status(), Some(403));

    // Before provisioning: 449 at 12.1, Status 142 at 14.1 and 16.1.
    let mut c12 = srv.demo_client("p12", ProtocolVersion::V12_1);
    assert_eq!(c12.folder_sync("0").unwrap_err().http_status(), Some(449));
    for v in [ProtocolVersion::V14_1, ProtocolVersion::V16_1] {
        let mut c = srv.demo_client(&format!("p{}", v.as_str()), v);
        let r = c
            .post(Command::FolderSync, folder_sync_body("0", v))
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(status_of(&r.body), Some(142), "{}", r.xml());
    }
    // A wrong policy key after provisioning: 144.
    let mut p = srv.demo_client("pk", V);
    let key = p.provision().unwrap().policy_key;
    p.policy_key = Some(key.wrapping_add(1).max(1));
    let r = p
        .post(Command::FolderSync, folder_sync_body("0", V))
        .unwrap();
    assert_eq!(status_of(&r.body), Some(144), "{}", r.xml());
    p.policy_key = Some(key);
    assert_eq!(
        p.folder_sync("0").unwrap().status,
        FolderSyncStatus::Success
    );
}

fn folder_sync_body(key: &str, v: ProtocolVersion) -> Vec<u8> {
    easbox::eas::to_wbxml(
        &easbox::eas::commands::folder_sync::FolderSyncRequest {
            sync_key: key.into(),
        },
        v,
        1 << 20,
    )
    .unwrap()
}

/// The first Status element anywhere in a WBXML body.
fn status_of(body: &[u8]) -> Option<u32> {
    let tree = easbox::wbxml::parse(body, easbox::wbxml::Limits::DEFAULT).ok()?;
    fn find(e: &easbox::wbxml::Element<'_>) -> Option<u32> {
        use easbox::wbxml::{folder_hierarchy, get_item_estimate, ping, provision};
        let statuses = [
            airsync::STATUS,
            folder_hierarchy::STATUS,
            ping::STATUS,
            provision::STATUS,
            get_item_estimate::STATUS,
        ];
        if statuses.contains(&e.tag)
            && let Some(t) = e.text()
        {
            return t.parse().ok();
        }
        e.elements().find_map(|c| find(c))
    }
    find(&tree)
}

#[test]
fn command_statuses() {
    let srv = Server::start("status-cmd");
    let mut a = srv.demo_client("cmdA", V);
    let f = provision_and_folders(&mut a);
    // The base64 request line works as well as the plain one.
    a.form = LineForm::Base64;
    assert_eq!(
        a.folder_sync("0").unwrap().status,
        FolderSyncStatus::Success
    );
    let r = a.sync_collection(&f.tasks, "0", None, vec![]).unwrap();
    assert_eq!(one(&r).status, SyncStatus::Success);
    a.form = LineForm::Plain;
    // Unknown Sync key: Status 3.
    let r = a.sync_collection(&f.contacts, "999", None, vec![]).unwrap();
    assert_eq!(one(&r).status, SyncStatus::InvalidSyncKey, "{r:?}");
    // Unknown collection: Status 12.
    let r = a.sync_collection("4711", "0", None, vec![]).unwrap();
    let status = r.collections.first().map(|c| c.status).or(r.status);
    assert_eq!(status, Some(SyncStatus::FolderHierarchyChanged), "{r:?}");
    // FolderSync with an unknown key: 9.
    assert_eq!(
        a.folder_sync("12345").unwrap().status,
        FolderSyncStatus::InvalidSyncKey
    );
    // Ping: heartbeat out of range → 5 with the bound.
    let folders = [(f.contacts.as_str(), Class::Contacts)];
    let r = a.ping(&folders, Some(10)).unwrap();
    assert_eq!(r.status, PingStatus::InvalidHeartbeatInterval);
    assert_eq!(r.heartbeat_interval, Some(60));
    let r = a.ping(&folders, Some(100_000)).unwrap();
    assert_eq!(r.status, PingStatus::InvalidHeartbeatInterval);
    assert_eq!(r.heartbeat_interval, Some(3540));
    // Ping on an unknown folder → 7.
    let r = a.ping(&[("4711", Class::Contacts)], Some(60)).unwrap();
    assert_eq!(r.status, PingStatus::FolderSyncRequired, "{r:?}");
}

#[test]
fn ping_cache_and_superseding() {
    let srv = Server::start("ping");
    let mut a = srv.demo_client("pingA", V);
    let f = provision_and_folders(&mut a);
    let mut key = a
        .sync_collection(&f.contacts, "0", None, vec![])
        .unwrap()
        .collections[0]
        .sync_key
        .clone();
    // Download everything so that the Ping has nothing pending.
    loop {
        let r = a
            .sync_collection(&f.contacts, &key, Some(100), vec![])
            .unwrap();
        let col = one(&r);
        key = col.sync_key.clone();
        if !col.more_available {
            break;
        }
    }
    let mut b = srv.demo_client("pingA", V);
    b.policy_key = a.policy_key;
    let folders = [(f.contacts.as_str(), Class::Contacts)];
    // A first Ping parks; a second Ping from the same device ends it with Status 1.
    std::thread::scope(|s| {
        let first = s.spawn(|| {
            let r = a.ping_with_timeout(&folders, Some(60), Duration::from_secs(10));
            (r, Instant::now())
        });
        std::thread::sleep(Duration::from_millis(300));
        let second_sent = Instant::now();
        // The newer Ping sends an empty body: the server reuses the cached parameters.
        let second = s.spawn(|| {
            let r = b.post(Command::Ping, Vec::new());
            (r, Instant::now())
        });
        let (r1, t1) = first.join().unwrap();
        let r1 = r1.expect("the older Ping answers");
        assert_eq!(r1.status, PingStatus::HeartbeatExpired, "{r1:?}");
        let started = Instant::now();
        // Wake the newer (empty-body) Ping with a change from another device: it must be
        // parked on the cached folders, so it answers Status 2 naming Contacts.
        let mut c = srv.demo_client("pingC", V);
        c.provision().unwrap();
        let fc = c.folder_sync("0").unwrap();
        assert_eq!(fc.status, FolderSyncStatus::Success);
        let ck = c
            .sync_collection(&f.contacts, "0", None, vec![])
            .unwrap()
            .collections[0]
            .sync_key
            .clone();
        c.sync_collection(
            &f.contacts,
            &ck,
            Some(1),
            vec![ClientCommand::Add {
                class: None,
                client_id: "p".into(),
                data: contact("Pinged"),
            }],
        )
        .unwrap();
        let (r2, t2) = second.join().unwrap();
        let r2 = r2.expect("the newer Ping answers");
        assert_eq!(r2.status, 200);
        let resp: easbox::eas::commands::ping::PingResponse =
            easbox::eas::from_wbxml(&r2.body, V, easbox::wbxml::Limits::DEFAULT).unwrap();
        assert_eq!(resp.status, PingStatus::ChangesOccurred, "{resp:?}");
        assert_eq!(resp.folders, vec![f.contacts.clone()]);
        assert!(
            t1.saturating_duration_since(second_sent) < Duration::from_secs(1),
            "the older Ping took {:?} to end",
            t1.saturating_duration_since(second_sent)
        );
        assert!(t2.saturating_duration_since(started) < Duration::from_secs(10));
    });
}

// -------------------------------------------------------------------------------------------
// Users CLI

#[test]
fn user_commands_stopped_and_running() {
    let dir = fresh_dir("users");
    // Stopped, before any server ever ran: listing is a clear error, adding creates the store.
    let out = cli(&dir, &["user", "list"], "");
    assert!(!out.status.success());
    add_user(&dir, "first", "firstpw");
    let list = user_cmd(&dir, &["list"], "");
    assert_eq!(state(&list, "first"), "enabled", "{list}");
    // Run once so that the store exists, then stop cleanly.
    let mut srv = Server::start_in(&dir, Options::default());
    let status = srv.stop();
    assert!(
        status.success(),
        "clean stop: {status:?}; log {}",
        srv.log()
    );
    drop(srv);

    // Direct (no server).
    add_user(&dir, "ann", "annpw");
    add_user(&dir, "bob", "bobpw");
    user_cmd(&dir, &["disable", "bob"], "");
    let list = user_cmd(&dir, &["list"], "");
    assert_eq!(state(&list, "ann"), "enabled", "{list}");
    assert_eq!(state(&list, "bob"), "disabled", "{list}");

    // Running (control socket).
    let srv = Server::start_in(&dir, Options::default());
    let mut ann = srv.client("ann", "annpw", "annD", V);
    ann.provision().unwrap();
    assert_eq!(
        ann.folder_sync("0").unwrap().status,
        FolderSyncStatus::Success
    );
    let mut bob = srv.client("bob", "bobpw", "bobD", V);
    assert_eq!(bob.provision().unwrap_err().http_status(), Some(403));
    user_cmd(&dir, &["enable", "bob"], "");
    bob.provision().expect("enabled bob provisions");
    add_user(&dir, "cy", "cypw");
    let mut cy = srv.client("cy", "cypw", "cyD", V);
    cy.provision().expect("a user added while running works");
    let list_running = user_cmd(&dir, &["list"], "");
    for n in ["ann", "bob", "cy", "demo"] {
        assert_eq!(state(&list_running, n), "enabled", "{list_running}");
    }
    // A disable takes effect on the next request (the cached password does not matter).
    user_cmd(&dir, &["disable", "ann"], "");
    assert_eq!(ann.folder_sync("0").unwrap_err().http_status(), Some(403));
    assert_eq!(state(&user_cmd(&dir, &["list"], ""), "ann"), "disabled");
    user_cmd(&dir, &["enable", "ann"], "");
    assert_eq!(
        ann.folder_sync("0").unwrap().status,
        FolderSyncStatus::Success
    );
    // A password change while running takes effect at once: the old one is refused.
    user_cmd(&dir, &["passwd", "ann"], "annpw2\n");
    assert_eq!(ann.folder_sync("0").unwrap_err().http_status(), Some(401));
    ann.password = "annpw2".into();
    assert_eq!(
        ann.folder_sync("0").unwrap().status,
        FolderSyncStatus::Success
    );
}

/// The enabled/disabled column of `name` in `easbox user list` output.
fn state(list: &str, name: &str) -> String {
    list.lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|cols| cols.first() == Some(&name))
        .and_then(|cols| cols.get(1).map(|s| (*s).to_owned()))
        .unwrap_or_else(|| panic!("{name} not in {list:?}"))
}

/// `serve` started without `MALLOC_ARENA_MAX` replaces itself (same PID, so a supervisor and
/// this test still hold it) with two malloc arenas: the parked-Ping memory target depends on it.
#[test]
fn serve_runs_with_two_malloc_arenas_under_the_same_pid() {
    let dir = fresh_dir("arenas");
    let mut srv = Server::start_in(
        &dir,
        Options {
            http: true,
            https: false,
            demo: false,
        },
    );
    let pid = srv.child.id();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|kv| kv == b"MALLOC_ARENA_MAX=2"),
        "MALLOC_ARENA_MAX=2 not in the server's environment"
    );
    // It still answers, under the PID it was started with.
    let mut c = srv.client("nobody", "x", "arenas", V);
    let r = c.options().expect("OPTIONS");
    assert_eq!(r.status, 200);
    assert!(srv.stop().success());
}
