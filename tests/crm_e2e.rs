//! The connector end to end (issue 4, "How it is checked"): the fake vtenext on 127.0.0.1:0,
//! the real `easbox serve` binary configured with `easbox crm set`, and the Rust EAS client
//! as two phones of one CRM user who signs in with the CRM password.
//!
//! - a record created, changed, reassigned, deleted and purged in the CRM reaches the phone,
//!   and wakes its Ping, within one `easbox crm pull`;
//! - an event at 09:30 in New York by a New York user is 09:30 New York on the phone, and an
//!   all-day event stays on its day;
//! - a phone's add, change and delete reach the CRM with the right fields and times;
//! - stock vtenext without VteSync (query fallback) and a CRM answering HTTP 500 keep the
//!   phone's data intact;
//! - kill -9 of the server while a write-back create is in flight, then a restart: one CRM
//!   record, no duplicate on the phone.

mod common;

use std::time::Duration;

use common::eas_client::*;
use common::server::*;
use easbox::crm::fake::{FakeUser, FaultKind, Faults};
use easbox::eas::ProtocolVersion;
use easbox::eas::commands::folder_sync::FolderType;
use easbox::eas::commands::ping::PingStatus;
use easbox::eas::commands::sync::{
    ClientCommand, ServerCommand, SyncCollectionResponse, SyncData, SyncStatus,
};
use easbox::eas::items::Class;
use easbox::wbxml::{OwnedElement, Tag, airsync, calendar, contacts};

const V: ProtocolVersion = ProtocolVersion::V14_1;
const ADMIN_KEY: &str = "AdminAccessKey00";
const M_PASSWORD: &str = "Pass1234!";

type Crm = common::crm::FakeCrmServer;

fn fake_crm() -> Crm {
    common::crm::start(vec![
        FakeUser::new("admin", "adminpw", ADMIN_KEY, ""),
        FakeUser::new("mrossi", M_PASSWORD, "PVW7C7EyRVrVJjec", "America/New_York"),
        FakeUser::new("lbianchi", "Other1234!", "LbAccessKey00000", ""),
    ])
}

fn ok(dir: &std::path::Path, args: &[&str]) -> String {
    let out = cli(dir, args, "");
    assert!(
        out.status.success(),
        "easbox {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pull(dir: &std::path::Path) -> String {
    ok(dir, &["crm", "pull"])
}

/// A server connected to the fake CRM, with `mrossi` enabled.
fn setup(name: &str, crm: &Crm) -> Server {
    let dir = fresh_dir(name);
    let srv = Server::start_in(
        &dir,
        Options {
            http: true,
            https: false,
            demo: false,
        },
    );
    ok(
        &dir,
        &[
            "crm",
            "set",
            "--url",
            &crm.url,
            "--user",
            "admin",
            "--access-key",
            ADMIN_KEY,
            "--interval",
            "3600",
        ],
    );
    // The first cycle discovers the CRM users; ActiveSync stays off until enabled.
    pull(&dir);
    ok(&dir, &["user", "enable", "mrossi"]);
    pull(&dir);
    srv
}

struct Phone {
    c: EasClient,
    contacts: String,
    calendar: String,
    keys: std::collections::HashMap<String, String>,
}

impl Phone {
    fn new(srv: &Server, id: &str) -> Phone {
        let mut c = srv.client("mrossi", M_PASSWORD, id, V);
        c.provision().expect("provision with the CRM password");
        let fs = c.folder_sync("0").expect("FolderSync");
        let adds = fs.changes.expect("hierarchy").adds;
        let find = |t: FolderType| {
            adds.iter()
                .find(|f| f.folder_type == t)
                .expect("folder")
                .server_id
                .clone()
        };
        let mut p = Phone {
            c,
            contacts: find(FolderType::DefaultContacts),
            calendar: find(FolderType::DefaultCalendar),
            keys: Default::default(),
        };
        for f in [p.contacts.clone(), p.calendar.clone()] {
            let r = p.c.sync_collection(&f, "0", None, vec![]).expect("key 0");
            p.keys.insert(f, r.collections[0].sync_key.clone());
        }
        p
    }

    /// Syncs `folder` until nothing more is available; returns every server command.
    fn sync(&mut self, folder: &str, commands: Vec<ClientCommand>) -> Vec<ServerCommand> {
        let mut out = Vec::new();
        let mut commands = Some(commands);
        loop {
            let key = self.keys[folder].clone();
            let r = self
                .c
                .sync_collection(folder, &key, Some(100), commands.take().unwrap_or_default())
                .expect("sync");
            let Some(col) = r.collections.first() else {
                return out;
            };
            let col: SyncCollectionResponse = col.clone();
            assert_eq!(col.status, SyncStatus::Success, "{col:?}");
            self.keys.insert(folder.to_owned(), col.sync_key.clone());
            out.extend(col.commands);
            if !col.more_available {
                return out;
            }
        }
    }
}

fn text(cmd: &ServerCommand, tag: Tag) -> Option<String> {
    match cmd {
        ServerCommand::Add { data, .. } | ServerCommand::Change { data, .. } => match data {
            SyncData::Raw(e) => e.child(tag).and_then(|x| x.text()).map(str::to_owned),
            SyncData::Item(_) => None,
        },
        _ => None,
    }
}

fn find_add<'a>(cmds: &'a [ServerCommand], tag: Tag, value: &str) -> &'a ServerCommand {
    cmds.iter()
        .find(|c| matches!(c, ServerCommand::Add { .. }) && text(c, tag).as_deref() == Some(value))
        .unwrap_or_else(|| panic!("no Add with {value:?} in {cmds:?}"))
}

fn server_id(c: &ServerCommand) -> String {
    match c {
        ServerCommand::Add { server_id, .. }
        | ServerCommand::Change { server_id, .. }
        | ServerCommand::Delete { server_id }
        | ServerCommand::SoftDelete { server_id } => server_id.clone(),
    }
}

fn contact(first: &str, last: &str, email: &str) -> OwnedElement {
    OwnedElement::new(airsync::APPLICATION_DATA)
        .with(OwnedElement::leaf(contacts::FIRST_NAME, first))
        .with(OwnedElement::leaf(contacts::LAST_NAME, last))
        .with(OwnedElement::leaf(contacts::EMAIL1_ADDRESS, email))
}

/// Phone `b` parks a Ping on its contacts and calendar; `action` runs; the Ping must answer
/// Status 2 naming `folder`.
fn ping_woken_by(b: &mut Phone, folder: &str, action: impl FnOnce()) {
    let watch = [
        (b.contacts.clone(), Class::Contacts),
        (b.calendar.clone(), Class::Calendar),
    ];
    let r = std::thread::scope(|s| {
        let bc = &mut b.c;
        let pinger = s.spawn(move || {
            let folders: Vec<(&str, Class)> =
                watch.iter().map(|(id, c)| (id.as_str(), *c)).collect();
            bc.ping_with_timeout(&folders, Some(120), Duration::from_secs(60))
        });
        std::thread::sleep(Duration::from_millis(300));
        action();
        pinger.join().expect("ping thread")
    });
    let r = r.expect("Ping answers");
    assert_eq!(r.status, PingStatus::ChangesOccurred, "{r:?}");
    assert_eq!(r.folders, vec![folder.to_owned()]);
}

fn crm_ids_named(crm: &Crm, lastname: &str) -> Vec<String> {
    crm.handle
        .ids("Contacts", None)
        .into_iter()
        .filter(|id| {
            crm.handle
                .record(id)
                .is_some_and(|r| r.get("lastname").map(String::as_str) == Some(lastname))
        })
        .collect()
}

#[test]
fn crm_and_phones_stay_in_step() {
    let crm = fake_crm();
    let before = crm
        .handle
        .create(
            "Contacts",
            "mrossi",
            &[("firstname", "Anna"), ("lastname", "Verdi")],
        )
        .expect("create");
    let srv = setup("crm-e2e", &crm);
    let dir = srv.dir.clone();
    let mut a = Phone::new(&srv, "phoneA");
    let mut b = Phone::new(&srv, "phoneB");
    let contacts_a = a.contacts.clone();
    let contacts_b = b.contacts.clone();
    let initial = b.sync(&contacts_b, vec![]);
    let anna = server_id(find_add(&initial, contacts::LAST_NAME, "Verdi"));
    a.sync(&contacts_a, vec![]);
    let calls_before_phones = crm.handle.calls("login_pwd");
    assert!(calls_before_phones >= 1, "the CRM password was checked");

    // Created in the CRM → woken Ping → Add with the CRM's fields.
    let bruno = crm
        .handle
        .create(
            "Contacts",
            "mrossi",
            &[
                ("firstname", "Bruno"),
                ("lastname", "Neri"),
                ("email", "bruno@example.test"),
                ("mobile", "+39 333 1234567"),
            ],
        )
        .unwrap();
    ping_woken_by(&mut b, &contacts_b, || {
        pull(&dir);
    });
    let got = b.sync(&contacts_b, vec![]);
    let add = find_add(&got, contacts::LAST_NAME, "Neri");
    assert_eq!(
        text(add, contacts::EMAIL1_ADDRESS).as_deref(),
        Some("bruno@example.test")
    );
    assert_eq!(
        text(add, contacts::MOBILE_PHONE_NUMBER).as_deref(),
        Some("+39 333 1234567")
    );
    let bruno_sid = server_id(add);

    // Changed in the CRM → Change.
    crm.handle
        .update(&bruno, &[("mobile", "+39 333 7654321")])
        .unwrap();
    ping_woken_by(&mut b, &contacts_b, || {
        pull(&dir);
    });
    let got = b.sync(&contacts_b, vec![]);
    assert!(
        got.iter().any(
            |c| matches!(c, ServerCommand::Change { server_id, .. } if *server_id == bruno_sid)
                && text(c, contacts::MOBILE_PHONE_NUMBER).as_deref() == Some("+39 333 7654321")
        ),
        "{got:?}"
    );

    // Reassigned to a user without ActiveSync → gone from the phone.
    crm.handle.reassign(&bruno, "lbianchi").unwrap();
    pull(&dir);
    let got = b.sync(&contacts_b, vec![]);
    assert!(
        got.iter()
            .any(|c| matches!(c, ServerCommand::Delete { server_id } if *server_id == bruno_sid)),
        "reassigned: {got:?}"
    );

    // Deleted in the CRM → Delete.
    crm.handle.delete(&before).unwrap();
    pull(&dir);
    let got = b.sync(&contacts_b, vec![]);
    assert!(
        got.iter()
            .any(|c| matches!(c, ServerCommand::Delete { server_id } if *server_id == anna)),
        "deleted: {got:?}"
    );

    // Purged (no trace for sync) → found by the id listing of `crm pull`.
    let carla = crm
        .handle
        .create(
            "Contacts",
            "mrossi",
            &[("firstname", "Carla"), ("lastname", "Blu")],
        )
        .unwrap();
    pull(&dir);
    let got = b.sync(&contacts_b, vec![]);
    let carla_sid = server_id(find_add(&got, contacts::LAST_NAME, "Blu"));
    crm.handle.purge(&carla).unwrap();
    pull(&dir);
    let got = b.sync(&contacts_b, vec![]);
    assert!(
        got.iter()
            .any(|c| matches!(c, ServerCommand::Delete { server_id } if *server_id == carla_sid)),
        "purged: {got:?}"
    );

    // 09:30 New York by a New York user: 14:30Z on 1 December (EST).
    let cal_b = b.calendar.clone();
    crm.handle
        .create(
            "Events",
            "mrossi",
            &[
                ("subject", "Standup NY"),
                ("date_start", "2026-12-01"),
                ("time_start", "09:30"),
                ("due_date", "2026-12-01"),
                ("time_end", "10:00"),
                ("activitytype", "Meeting"),
                ("eventstatus", "Planned"),
            ],
        )
        .unwrap();
    crm.handle
        .create(
            "Events",
            "mrossi",
            &[
                ("subject", "Christmas Eve"),
                ("date_start", "2026-12-24"),
                ("time_start", "00:00"),
                ("due_date", "2026-12-24"),
                ("time_end", "23:59"),
                ("is_all_day_event", "1"),
                ("activitytype", "Meeting"),
                ("eventstatus", "Planned"),
            ],
        )
        .unwrap();
    ping_woken_by(&mut b, &cal_b, || {
        pull(&dir);
    });
    let got = b.sync(&cal_b, vec![]);
    let standup = find_add(&got, calendar::SUBJECT, "Standup NY");
    assert_eq!(
        text(standup, calendar::START_TIME).as_deref(),
        Some("20261201T143000Z")
    );
    assert_eq!(
        text(standup, calendar::END_TIME).as_deref(),
        Some("20261201T150000Z")
    );
    let eve = find_add(&got, calendar::SUBJECT, "Christmas Eve");
    assert_eq!(text(eve, calendar::ALL_DAY_EVENT).as_deref(), Some("1"));
    // 14.1 all-day: local midnight of the 24th in the event's zone (New York).
    assert_eq!(
        text(eve, calendar::START_TIME).as_deref(),
        Some("20261224T050000Z")
    );
    assert_eq!(
        text(eve, calendar::END_TIME).as_deref(),
        Some("20261225T050000Z")
    );

    // A phone's add reaches the CRM, owned by the user, with its fields; B gets it from the
    // box; A never gets it back.
    a.sync(&contacts_a, vec![]);
    a.sync(
        &contacts_a,
        vec![ClientCommand::Add {
            class: None,
            client_id: "c1".into(),
            data: contact("Dario", "Phonemade", "dario@example.test"),
        }],
    );
    pull(&dir);
    let ids = crm_ids_named(&crm, "Phonemade");
    assert_eq!(ids.len(), 1, "one CRM record: {ids:?}");
    let rec = crm.handle.record(&ids[0]).unwrap();
    assert_eq!(rec.get("firstname").map(String::as_str), Some("Dario"));
    assert_eq!(
        rec.get("email").map(String::as_str),
        Some("dario@example.test")
    );
    assert_eq!(
        rec.get("assigned_user_id").cloned(),
        crm.handle.user_id("mrossi")
    );
    let echo = a.sync(&contacts_a, vec![]);
    assert!(
        echo.iter()
            .all(|c| text(c, contacts::LAST_NAME).as_deref() != Some("Phonemade")),
        "A got its own add back after the CRM took it: {echo:?}"
    );
    let got = b.sync(&contacts_b, vec![]);
    let dario_sid = server_id(find_add(&got, contacts::LAST_NAME, "Phonemade"));

    // A phone's change → the CRM record changes (and stays one record).
    a.sync(
        &contacts_a,
        vec![ClientCommand::Change {
            server_id: dario_sid.clone(),
            instance_id: None,
            data: contact("Dario", "Phonemade", "dario.new@example.test"),
        }],
    );
    pull(&dir);
    let ids = crm_ids_named(&crm, "Phonemade");
    assert_eq!(ids.len(), 1);
    assert_eq!(
        crm.handle
            .record(&ids[0])
            .unwrap()
            .get("email")
            .map(String::as_str),
        Some("dario.new@example.test")
    );

    // A phone's event at 15:00Z = 10:00 in New York, as mrossi sees it in the CRM.
    let cal_a = a.calendar.clone();
    a.sync(&cal_a, vec![]);
    a.sync(
        &cal_a,
        vec![ClientCommand::Add {
            class: None,
            client_id: "e1".into(),
            data: OwnedElement::new(airsync::APPLICATION_DATA)
                .with(OwnedElement::leaf(calendar::SUBJECT, "Phone meeting"))
                .with(OwnedElement::leaf(calendar::START_TIME, "20261202T150000Z"))
                .with(OwnedElement::leaf(calendar::END_TIME, "20261202T160000Z")),
        }],
    );
    pull(&dir);
    let ev = crm
        .handle
        .ids("Events", Some("mrossi"))
        .into_iter()
        .filter_map(|id| crm.handle.record(&id))
        .find(|r| r.get("subject").map(String::as_str) == Some("Phone meeting"))
        .expect("the phone's event in the CRM");
    assert_eq!(
        ev.get("time_start").map(String::as_str),
        Some("10:00"),
        "{ev:?}"
    );
    assert!(
        ev.get("date_start")
            .is_some_and(|d| d.contains("02") && d.contains("12")),
        "{ev:?}"
    );

    // A phone's delete → gone from the CRM.
    a.sync(
        &contacts_a,
        vec![ClientCommand::Delete {
            server_id: dario_sid,
            instance_id: None,
        }],
    );
    pull(&dir);
    assert!(crm_ids_named(&crm, "Phonemade").is_empty());

    // The phones never needed the CRM for every request: one login_pwd per password check
    // window, not per request.
    assert!(
        crm.handle.calls("login_pwd") <= calls_before_phones + 1,
        "login_pwd called {} times",
        crm.handle.calls("login_pwd")
    );
}

#[test]
fn query_fallback_and_faults_keep_the_phone_data() {
    let crm = fake_crm();
    // Stock vtenext (sync answers HTTP 500) without the VteSync module: only query is left.
    crm.handle.set_vtesync(false);
    crm.handle
        .create(
            "Contacts",
            "mrossi",
            &[("firstname", "Elsa"), ("lastname", "Fallback")],
        )
        .unwrap();
    let srv = setup("crm-e2e-fallback", &crm);
    let dir = srv.dir.clone();
    let status = ok(&dir, &["crm", "status"]);
    assert!(status.contains("query"), "method shown: {status}");
    let mut b = Phone::new(&srv, "phoneB");
    let cb = b.contacts.clone();
    let got = b.sync(&cb, vec![]);
    find_add(&got, contacts::LAST_NAME, "Fallback");

    // Every fault: the pull fails (non-zero exit), the phone loses nothing.
    for kind in [
        FaultKind::Http500,
        FaultKind::EmptyBody,
        FaultKind::MalformedJson,
    ] {
        crm.handle.set_faults(Faults {
            global: Some(kind),
            ..Faults::default()
        });
        let out = cli(&dir, &["crm", "pull"], "");
        assert!(!out.status.success(), "{kind:?}: pull said ok");
        let got = b.sync(&cb, vec![]);
        assert!(
            got.iter().all(|c| !matches!(
                c,
                ServerCommand::Delete { .. } | ServerCommand::SoftDelete { .. }
            )),
            "{kind:?} deleted on the phone: {got:?}"
        );
        let status = ok(&dir, &["crm", "status"]);
        assert!(
            status.contains("error") || status.contains("fail"),
            "{status}"
        );
    }
    crm.handle.set_faults(Faults::default());
    crm.handle
        .create(
            "Contacts",
            "mrossi",
            &[("firstname", "Fabio"), ("lastname", "Later")],
        )
        .unwrap();
    pull(&dir);
    let got = b.sync(&cb, vec![]);
    find_add(&got, contacts::LAST_NAME, "Later");
}

#[test]
fn kill_during_write_back_creates_once() {
    let crm = fake_crm();
    let srv = setup("crm-e2e-kill", &crm);
    let dir = srv.dir.clone();
    let mut a = Phone::new(&srv, "phoneA");
    let ca = a.contacts.clone();
    a.sync(&ca, vec![]);
    // The CRM takes 3 s to answer a create: the server is killed while it is in flight.
    let mut per_op_delay_ms = std::collections::BTreeMap::new();
    per_op_delay_ms.insert("create".to_owned(), 3000u32);
    crm.handle.set_faults(Faults {
        per_op_delay_ms,
        ..Faults::default()
    });
    a.sync(
        &ca,
        vec![ClientCommand::Add {
            class: None,
            client_id: "k1".into(),
            data: contact("Gino", "Killtest", "gino@example.test"),
        }],
    );
    let puller = {
        let dir = dir.clone();
        std::thread::spawn(move || cli(&dir, &["crm", "pull"], ""))
    };
    std::thread::sleep(Duration::from_millis(1500));
    let srv = srv.restart_after_kill();
    let _ = puller.join();
    crm.handle.set_faults(Faults::default());
    // The create may or may not have run in the CRM; either way there is one record after
    // the restarted box has written back.
    pull(&dir);
    pull(&dir);
    assert_eq!(crm_ids_named(&crm, "Killtest").len(), 1);
    // The phone still has exactly one Killtest and is not sent a second one.
    let mut a2 = Phone::new(&srv, "phoneA2");
    let ca2 = a2.contacts.clone();
    let all = a2.sync(&ca2, vec![]);
    let n = all
        .iter()
        .filter(|c| text(c, contacts::LAST_NAME).as_deref() == Some("Killtest"))
        .count();
    assert_eq!(n, 1, "{all:?}");
}

#[test]
fn a_user_switched_on_gets_what_the_crm_already_holds_without_a_manual_pull() {
    let crm = fake_crm();
    crm.handle
        .create(
            "Contacts",
            "lbianchi",
            &[("firstname", "Ida"), ("lastname", "Before")],
        )
        .unwrap();
    let srv = setup("crm-e2e-enable", &crm);
    let dir = srv.dir.clone();
    // An hour later: the record is far behind every change cursor and its overlap.
    crm.handle.advance(3600);
    pull(&dir);
    // The running loop pulls every 5 s from now on; lbianchi's records were passed by the
    // change cursors while ActiveSync was off for her.
    ok(
        &dir,
        &[
            "crm",
            "set",
            "--url",
            &crm.url,
            "--user",
            "admin",
            "--access-key",
            ADMIN_KEY,
            "--interval",
            "5",
        ],
    );
    ok(&dir, &["user", "enable", "lbianchi"]);
    let mut c = srv.client("lbianchi", "Other1234!", "phoneL", V);
    c.provision().expect("provision");
    let fs = c.folder_sync("0").expect("FolderSync");
    let contacts_id = fs
        .changes
        .expect("hierarchy")
        .adds
        .into_iter()
        .find(|f| f.folder_type == FolderType::DefaultContacts)
        .expect("contacts")
        .server_id;
    // The periodic id listing comes only every 10 cycles (50 s here); switching a user on
    // must not wait for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = c.sync_collection(&contacts_id, "0", None, vec![]).unwrap();
        let key = r.collections[0].sync_key.clone();
        let r = c
            .sync_collection(&contacts_id, &key, Some(100), vec![])
            .unwrap();
        let got: Vec<ServerCommand> = r
            .collections
            .first()
            .map(|c| c.commands.clone())
            .unwrap_or_default();
        if got
            .iter()
            .any(|c| text(c, contacts::LAST_NAME).as_deref() == Some("Before"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the switched-on user never got her CRM contacts: {}",
            ok(&dir, &["crm", "status"])
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
