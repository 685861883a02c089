//! Bad input against the running `easbox serve` (issue 3, "How it is checked" 5). Each case
//! is a fresh request from a provisioned device; after the whole table the server still
//! answers and an item stored before is still there.
//!
//! What the server answers, as observed and asserted below ([MS-ASHTTP] 2.2.2: a body that
//! is not WBXML at all is a 400; a WBXML body that breaks a command's rules gets the
//! command's protocol-error status):
//!
//! | case                                   | answer                                      |
//! |----------------------------------------|---------------------------------------------|
//! | Sync body cut in half (truncated)      | HTTP 400                                    |
//! | 200 nested elements (depth limit)      | 200, Sync Status 4 (LimitExceeded)          |
//! | SWITCH_PAGE to page 200 (unknown page) | 200, Sync Status 4 (UnknownPage)            |
//! | FolderSync root on a Sync command      | 200, Sync Status 4 (protocol error)         |
//! | body of 16 MiB + 1 (Content-Length)    | HTTP 413                                    |
//! | request line `Zm9v!!` (bad base64)     | HTTP 400                                    |
//! | `Cmd=Frobnicate`                       | HTTP 400                                    |
//! | Sync `SyncKey` "abc"                   | 200, collection Status 3 (invalid key)      |
//! | Sync `WindowSize` "abc"                | 200, Sync Status 4 (protocol error)         |
//! | Ping `HeartbeatInterval` "abc"         | 200, Ping Status 4 (protocol error)         |
//! | FolderSync with an empty body          | HTTP 400 (no WBXML header at all)           |
//! | 4 KiB of random bytes as a Sync        | HTTP 400                                    |
//!
//! The depth limit and an unknown code page are well-formed WBXML framing the server chose
//! not to read (`wbxml::Error::LimitExceeded` / `UnknownPage`), so they get the command's
//! protocol error rather than a 400; either is a correct refusal, and neither stores anything.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::eas_client::*;
use common::server::*;
use easbox::eas::ProtocolVersion;
use easbox::eas::commands::folder_sync::FolderType;
use easbox::eas::commands::sync::{ClientCommand, SyncReply, SyncStatus};
use easbox::eas::request::Command;
use easbox::wbxml::{Encoder, OwnedElement, Tag, airsync, contacts, folder_hierarchy, ping};

const V: ProtocolVersion = ProtocolVersion::V14_1;

/// What a case must get back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Http(u16),
    /// A 200 whose first Status element (of the given tag) holds this value.
    Status(Tag, u32),
}

fn wbxml(build: impl FnOnce(&mut Encoder<'_>) -> Result<(), easbox::wbxml::Error>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, 1 << 20).unwrap();
    build(&mut w).unwrap();
    w.finish().unwrap();
    out
}

fn sync_body(key: &str, collection: &str, window: Option<&str>) -> Vec<u8> {
    wbxml(|w| {
        w.start(airsync::SYNC)?;
        w.start(airsync::COLLECTIONS)?;
        w.start(airsync::COLLECTION)?;
        w.leaf(airsync::SYNC_KEY, key)?;
        w.leaf(airsync::COLLECTION_ID, collection)?;
        if let Some(ws) = window {
            w.leaf(airsync::WINDOW_SIZE, ws)?;
        }
        w.end()?;
        w.end()?;
        w.end()
    })
}

fn first_status(body: &[u8], tag: Tag) -> Option<u32> {
    let tree = easbox::wbxml::parse(body, easbox::wbxml::Limits::DEFAULT).ok()?;
    fn find(e: &easbox::wbxml::Element<'_>, tag: Tag) -> Option<u32> {
        if e.tag == tag {
            return e.text()?.parse().ok();
        }
        e.elements().find_map(|c| find(c, tag))
    }
    find(&tree, tag)
}

/// Sends a request with a Content-Length over the cap and no body: the server must refuse it
/// from the headers alone.
fn oversized(addr: std::net::SocketAddr, c: &EasClient) -> u16 {
    let (query, headers) = c.encode_line(&c.request_line(Command::Sync)).unwrap();
    let mut head = format!(
        "POST {EAS_PATH}?{query} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\n\
         Content-Type: {WBXML_CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n",
        c.basic_auth(),
        16 * 1024 * 1024 + 1
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    // Some body bytes, then wait for the answer without sending the rest.
    let _ = s.write_all(&[0u8; 4096]);
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

#[test]
fn bad_input_table() {
    let srv = Server::start("bad-input");
    let mut c = srv.demo_client("badD", V);
    c.check_wbxml2xml = true;
    c.provision().unwrap();
    let fs = c.folder_sync("0").unwrap();
    let contacts_id = fs
        .changes
        .unwrap()
        .adds
        .into_iter()
        .find(|f| f.folder_type == FolderType::DefaultContacts)
        .unwrap()
        .server_id;
    // One stored item to check afterwards.
    let key = c
        .sync_collection(&contacts_id, "0", None, vec![])
        .unwrap()
        .collections[0]
        .sync_key
        .clone();
    let data = OwnedElement::new(airsync::APPLICATION_DATA)
        .with(OwnedElement::leaf(contacts::FIRST_NAME, "Survivor"));
    let r = c
        .sync_collection(
            &contacts_id,
            &key,
            Some(1),
            vec![ClientCommand::Add {
                class: None,
                client_id: "s".into(),
                data,
            }],
        )
        .unwrap();
    let survivor = match &r.collections[0].responses[..] {
        [
            SyncReply::Add {
                server_id: Some(id),
                status: SyncStatus::Success,
                ..
            },
        ] => id.clone(),
        other => panic!("{other:?}"),
    };

    let good = sync_body(&key, &contacts_id, None);
    let truncated = good[..good.len() / 2].to_vec();
    let mut deep = vec![0x03, 0x01, 0x6A, 0x00];
    deep.extend(std::iter::repeat_n(0x45u8, 200));
    deep.extend(std::iter::repeat_n(0x01u8, 200));
    let unknown_page = vec![0x03, 0x01, 0x6A, 0x00, 0x00, 200, 0x45, 0x01];
    let wrong_root = wbxml(|w| {
        w.start(folder_hierarchy::FOLDER_SYNC)?;
        w.leaf(folder_hierarchy::SYNC_KEY, "0")?;
        w.end()
    });
    let bad_key = sync_body("abc", &contacts_id, None);
    let bad_window = sync_body(&key, &contacts_id, Some("abc"));
    let bad_heartbeat = wbxml(|w| {
        w.start(ping::PING)?;
        w.leaf(ping::HEARTBEAT_INTERVAL, "abc")?;
        w.start(ping::FOLDERS)?;
        w.start(ping::FOLDER)?;
        w.leaf(ping::ID, &contacts_id)?;
        w.leaf(ping::CLASS, "Contacts")?;
        w.end()?;
        w.end()?;
        w.end()
    });
    // Deterministic "random" bytes (xorshift), not starting like WBXML 1.3.
    let mut x: u32 = 0x9E37_79B9;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();

    let cases: Vec<(&str, Command, Vec<u8>, Want)> = vec![
        ("truncated", Command::Sync, truncated, Want::Http(400)),
        (
            "depth 200",
            Command::Sync,
            deep,
            Want::Status(airsync::STATUS, 4),
        ),
        (
            "unknown page",
            Command::Sync,
            unknown_page,
            Want::Status(airsync::STATUS, 4),
        ),
        (
            "wrong root",
            Command::Sync,
            wrong_root,
            Want::Status(airsync::STATUS, 4),
        ),
        (
            "SyncKey abc",
            Command::Sync,
            bad_key,
            Want::Status(airsync::STATUS, 3),
        ),
        (
            "WindowSize abc",
            Command::Sync,
            bad_window,
            Want::Status(airsync::STATUS, 4),
        ),
        (
            "HeartbeatInterval abc",
            Command::Ping,
            bad_heartbeat,
            Want::Status(ping::STATUS, 4),
        ),
        (
            "FolderSync empty body",
            Command::FolderSync,
            Vec::new(),
            Want::Http(400),
        ),
        ("random bytes", Command::Sync, random, Want::Http(400)),
    ];
    let mut failures = Vec::new();
    for (name, cmd, body, want) in cases {
        let r = c.post(cmd, body).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = match want {
            Want::Http(_) if r.status != 200 => Want::Http(r.status),
            Want::Status(tag, _) if r.status == 200 => {
                Want::Status(tag, first_status(&r.body, tag).unwrap_or(0))
            }
            _ => Want::Http(r.status),
        };
        if got != want {
            failures.push(format!("{name}: want {want:?}, got {got:?} {}", r.xml()));
        }
    }

    // Request-line problems.
    let mut raw = |query: &str| {
        let auth = c.basic_auth();
        c.send_raw(
            query,
            &[
                ("Authorization", &auth),
                ("MS-ASProtocolVersion", "14.1"),
                ("Content-Type", WBXML_CONTENT_TYPE),
            ],
            b"",
        )
        .unwrap()
        .status
    };
    for (name, query, want) in [
        ("bad base64", "Zm9v!!", 400),
        (
            "unknown command",
            "Cmd=Frobnicate&User=demo&DeviceId=badD&DeviceType=TestDevice",
            400,
        ),
    ] {
        let got = raw(query);
        if got != want {
            failures.push(format!("{name}: want HTTP {want}, got {got}"));
        }
    }
    let big = oversized(srv.http.unwrap(), &c);
    if big != 413 {
        failures.push(format!("huge body: want HTTP 413, got {big}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Still alive, and the stored item is still there: a new device downloads it.
    let mut d = srv.demo_client("badCheck", V);
    d.provision().unwrap();
    d.folder_sync("0").unwrap();
    let mut k = d
        .sync_collection(&contacts_id, "0", None, vec![])
        .unwrap()
        .collections[0]
        .sync_key
        .clone();
    let mut found = false;
    loop {
        let r = d
            .sync_collection(&contacts_id, &k, Some(100), vec![])
            .unwrap();
        let col = &r.collections[0];
        found |= col.commands.iter().any(|cmd| {
            matches!(cmd, easbox::eas::commands::sync::ServerCommand::Add { server_id, .. }
                if *server_id == survivor)
        });
        k = col.sync_key.clone();
        if !col.more_available {
            break;
        }
    }
    assert!(found, "the stored item is gone");
}
