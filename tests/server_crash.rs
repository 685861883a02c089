//! Crashes and restarts of the real `easbox serve` (issue 3, "How it is checked" 4).
//!
//! A test cannot stop the server at an exact instruction, so the crash test sends a Sync with
//! an Add, does not read the answer, and SIGKILLs the server after a range of delays (0 to
//! 50 ms): some kills land before the commit, some after it, before the device saw the
//! acknowledgement. After each restart on the same state directory the device repeats the
//! identical request; the item must then exist exactly once, under the ServerId the repeat
//! names. A plain restart (SIGTERM, and SIGKILL when idle) keeps the policy key and the sync
//! keys valid.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::eas_client::*;
use common::server::*;
use easbox::eas::ProtocolVersion;
use easbox::eas::commands::folder_sync::{FolderSyncStatus, FolderType};
use easbox::eas::commands::sync::{ClientCommand, ServerCommand, SyncData, SyncReply, SyncStatus};
use easbox::eas::request::Command;
use easbox::wbxml::{OwnedElement, airsync, contacts};

const V: ProtocolVersion = ProtocolVersion::V14_1;

fn contacts_folder(c: &mut EasClient) -> String {
    c.provision().expect("provision");
    let fs = c.folder_sync("0").expect("FolderSync");
    fs.changes
        .expect("hierarchy")
        .adds
        .into_iter()
        .find(|f| f.folder_type == FolderType::DefaultContacts)
        .expect("contacts folder")
        .server_id
}

/// Key 0 and the whole download; the last key.
fn download(c: &mut EasClient, folder: &str) -> (String, Vec<ServerCommand>) {
    let r = c.sync_collection(folder, "0", None, vec![]).expect("key 0");
    let mut key = r.collections[0].sync_key.clone();
    let mut all = Vec::new();
    loop {
        let r = c
            .sync_collection(folder, &key, Some(100), vec![])
            .expect("sync");
        let col = &r.collections[0];
        assert_eq!(col.status, SyncStatus::Success);
        all.extend(col.commands.iter().cloned());
        key = col.sync_key.clone();
        if !col.more_available {
            return (key, all);
        }
    }
}

fn first_name(cmd: &ServerCommand) -> Option<String> {
    match cmd {
        ServerCommand::Add {
            data: SyncData::Raw(e),
            ..
        } => e
            .child(contacts::FIRST_NAME)
            .and_then(|x| x.text())
            .map(str::to_owned),
        _ => None,
    }
}

fn add(name: &str, client_id: &str) -> Vec<ClientCommand> {
    vec![ClientCommand::Add {
        class: None,
        client_id: client_id.into(),
        data: OwnedElement::new(airsync::APPLICATION_DATA)
            .with(OwnedElement::leaf(contacts::FIRST_NAME, name))
            .with(OwnedElement::leaf(contacts::LAST_NAME, "Crashtest")),
    }]
}

/// Writes the whole Sync request and returns the open connection without reading anything.
fn send_unread(c: &EasClient, folder: &str, key: &str, cmds: Vec<ClientCommand>) -> TcpStream {
    use easbox::eas::commands::sync::{SyncCollectionRequest, SyncRequest};
    let req = SyncRequest {
        collections: vec![SyncCollectionRequest {
            sync_key: key.into(),
            collection_id: folder.into(),
            window_size: Some(100),
            commands: cmds,
            ..SyncCollectionRequest::default()
        }],
        ..SyncRequest::default()
    };
    let body = req.to_body(V, REQUEST_CAP).unwrap();
    let (query, headers) = c.encode_line(&c.request_line(Command::Sync)).unwrap();
    let mut head = format!(
        "POST {EAS_PATH}?{query} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\
         Content-Type: {WBXML_CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n",
        c.addr,
        c.basic_auth(),
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut s = TcpStream::connect(c.addr).unwrap();
    let mut all = head.into_bytes();
    all.extend_from_slice(&body);
    s.write_all(&all).unwrap();
    s
}

#[test]
fn kill_between_change_and_acknowledgement() {
    let mut srv = Server::start("crash");
    let mut a = srv.demo_client("crashA", V);
    let folder = contacts_folder(&mut a);
    let (mut key, _) = download(&mut a, &folder);
    // B only watches: its estimate tells whether the killed request had been committed.
    let mut b = srv.demo_client("crashB", V);
    contacts_folder(&mut b);
    let (b_key, _) = download(&mut b, &folder);
    let mut applied_before_kill = 0u32;
    let delays_ms = [0u64, 1, 3, 5, 10, 20, 50];
    let mut ids = Vec::new();
    for (i, delay) in delays_ms.iter().enumerate() {
        let name = format!("Crash{i}");
        let client_id = format!("cid{i}");
        let conn = send_unread(&a, &folder, &key, add(&name, &client_id));
        std::thread::sleep(Duration::from_millis(*delay));
        srv = srv.restart_after_kill();
        drop(conn);
        // The demo password is new on every start.
        a.password = srv.demo_password.clone().unwrap();
        a.addr = srv.http.unwrap();
        b.password = a.password.clone();
        b.addr = a.addr;
        let est = b.get_item_estimate(&[(&folder, &b_key)]).unwrap();
        let before = est.responses[0].estimate.expect("estimate");
        assert!(
            before == i as u32 || before == i as u32 + 1,
            "after kill at {delay} ms B sees {before} new items, {i} before it"
        );
        applied_before_kill += before - i as u32;
        // The device never saw an answer: it repeats the identical request.
        let r = a
            .sync_collection(&folder, &key, Some(100), add(&name, &client_id))
            .unwrap_or_else(|e| panic!("repeat after kill at {delay} ms: {e}"));
        let col = &r.collections[0];
        assert_eq!(col.status, SyncStatus::Success, "{r:?}");
        let id = match &col.responses[..] {
            [
                SyncReply::Add {
                    client_id: c,
                    server_id: Some(id),
                    status: SyncStatus::Success,
                },
            ] if *c == client_id => id.clone(),
            other => panic!("after kill at {delay} ms: {other:?}"),
        };
        ids.push((name, id));
        key = col.sync_key.clone();
    }

    eprintln!(
        "{applied_before_kill} of {} killed Adds were committed before the kill",
        delays_ms.len()
    );
    // A fresh device sees every added contact exactly once, under the ServerId A was given.
    let mut check = srv.demo_client("crashCheck", V);
    contacts_folder(&mut check);
    let (_, all) = download(&mut check, &folder);
    assert_eq!(
        all.len() as u32,
        easbox::server::demo::CONTACTS + ids.len() as u32,
        "an Add was applied twice or lost"
    );
    for (name, id) in &ids {
        let with_name: Vec<_> = all
            .iter()
            .filter(|c| first_name(c).as_deref() == Some(name.as_str()))
            .collect();
        assert_eq!(with_name.len(), 1, "{name}: {with_name:?}");
        assert!(
            matches!(with_name[0], ServerCommand::Add { server_id, .. } if server_id == id),
            "{name} stored as {:?}, A was told {id}",
            with_name[0]
        );
    }
    // A is in step: nothing new, and nothing of its own echoed back.
    let r = a.sync_collection(&folder, &key, Some(100), vec![]).unwrap();
    assert!(r.collections.iter().all(|c| c.commands.is_empty()), "{r:?}");
}

#[test]
fn restart_keeps_policy_and_sync_keys() {
    let mut srv = Server::start("restart");
    let mut a = srv.demo_client("restartA", V);
    let folder = contacts_folder(&mut a);
    let (mut key, items) = download(&mut a, &folder);
    assert_eq!(items.len() as u32, easbox::server::demo::CONTACTS);
    let fs_key = a.folder_sync("0").unwrap().sync_key.unwrap();

    for how in ["SIGTERM", "SIGKILL"] {
        if how == "SIGTERM" {
            let st = srv.stop();
            assert!(st.success(), "clean stop: {st:?}");
            let dir = srv.dir.clone();
            let opts = srv.opts;
            drop(srv);
            srv = Server::start_in(&dir, opts);
        } else {
            srv = srv.restart_after_kill();
        }
        a.password = srv.demo_password.clone().unwrap();
        a.addr = srv.http.unwrap();
        let policy = a.policy_key;
        // The policy key and both sync keys are still good: no 142/144, no Status 3/9, no
        // demo data seeded twice.
        let fs = a
            .folder_sync(&fs_key)
            .unwrap_or_else(|e| panic!("{how}: {e}"));
        assert_eq!(fs.status, FolderSyncStatus::Success, "{how}: {fs:?}");
        assert!(
            fs.changes
                .is_none_or(|c| c.adds.is_empty() && c.deletes.is_empty())
        );
        let est = a.get_item_estimate(&[(&folder, &key)]).unwrap();
        assert_eq!(est.responses[0].estimate, Some(0), "{how}: {est:?}");
        let r = a.sync_collection(&folder, &key, Some(100), vec![]).unwrap();
        assert!(
            r.collections
                .iter()
                .all(|c| c.status == SyncStatus::Success && c.commands.is_empty()),
            "{how}: {r:?}"
        );
        if let Some(c) = r.collections.first() {
            key = c.sync_key.clone();
        }
        assert_eq!(a.policy_key, policy);
    }
}

/// SIGTERM the moment the addresses are printed: the server must shut down cleanly (exit 0),
/// not die of the signal. (The handlers used to be installed only after the addresses were
/// printed and READY=1 sent, so this killed the process about one time in four.)
#[test]
fn sigterm_right_after_start_is_a_clean_shutdown() {
    let dir = fresh_dir("sigterm");
    for _ in 0..5 {
        let mut srv = Server::start_in(
            &dir,
            Options {
                http: true,
                https: false,
                demo: false,
            },
        );
        let st = srv.stop();
        assert!(st.success(), "exit {st:?}; log {}", srv.log());
    }
}
