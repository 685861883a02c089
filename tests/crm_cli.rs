//! `easbox crm set|status|pull` run as the real binary, with and without a server holding the
//! store, against the fake vtenext on a loopback port: argument checks, the access key sealed
//! (never in the database file in plain text), user discovery (CRM users become disabled box
//! users that `easbox user enable` turns on), the running connector picking up new settings
//! without a restart, and a refused integration key not retried.
//!
//! The pull and the outbox are exercised elsewhere; here a cycle only has to complete.

mod common;

use common::server::{Options, Server, cli, fresh_dir, user_cmd};
use easbox::crm::fake::FakeUser;
use std::path::Path;
use std::process::Output;

const ADMIN_KEY: &str = "AdminAccessKey00";

type Crm = common::crm::FakeCrmServer;

fn fake_crm() -> Crm {
    let mut old = FakeUser::new("old", "pw", "OldAccessKey0000", "");
    old.active = false;
    common::crm::start(vec![
        FakeUser::new("admin", "adminpw", ADMIN_KEY, ""),
        FakeUser::new(
            "MRossi",
            "Pass1234!",
            "PVW7C7EyRVrVJjec",
            "America/New_York",
        ),
        old,
    ])
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs `easbox crm ARGS --state-dir DIR`, asserts success, returns stdout.
fn crm_ok(dir: &Path, args: &[&str], stdin: &str) -> String {
    let mut full = vec!["crm"];
    full.extend_from_slice(args);
    let out = cli(dir, &full, stdin);
    let (o, e) = text(&out);
    assert!(out.status.success(), "easbox {full:?} failed: {e}{o}");
    o
}

/// Runs `easbox crm ARGS --state-dir DIR`, asserts failure, returns stderr.
fn crm_err(dir: &Path, args: &[&str], stdin: &str) -> String {
    let mut full = vec!["crm"];
    full.extend_from_slice(args);
    let out = cli(dir, &full, stdin);
    let (o, e) = text(&out);
    assert!(!out.status.success(), "easbox {full:?} succeeded: {o}");
    assert!(!e.is_empty(), "easbox {full:?} failed without a message");
    e
}

fn line<'a>(status: &'a str, prefix: &str) -> &'a str {
    status
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{status}"))
}

/// The status line of a CRM user: name, CRM id, active or inactive, box state.
fn user_line(status: &str, name: &str) -> Vec<String> {
    status
        .lines()
        .map(|l| l.trim().split('\t').map(str::to_owned).collect::<Vec<_>>())
        .find(|f| f.first().is_some_and(|n| n == name))
        .unwrap_or_else(|| panic!("no user {name} in:\n{status}"))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn set_refuses_each_bad_argument_with_a_clear_message() {
    let dir = fresh_dir("crm-set-bad");
    let base = [
        "set",
        "--url",
        "http://127.0.0.1:9/",
        "--user",
        "admin",
        "--access-key",
        ADMIN_KEY,
    ];
    let with = |extra: &[&'static str]| {
        let mut v: Vec<&str> = base.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["set", "--user", "a", "--access-key", "k"], "--url"),
        (
            vec!["set", "--url", "http://h/", "--access-key", "k"],
            "--user",
        ),
        (
            vec!["set", "--url", "http://h/", "--user", "a"],
            "--access-key",
        ),
        (
            vec![
                "set",
                "--url",
                "ftp://h/",
                "--user",
                "a",
                "--access-key",
                "k",
            ],
            "--url",
        ),
        (
            vec![
                "set",
                "--url",
                "http://h:99999/",
                "--user",
                "a",
                "--access-key",
                "k",
            ],
            "port",
        ),
        (
            vec![
                "set",
                "--url",
                "https://h/",
                "--user",
                "a",
                "--access-key",
                "k",
                "--ca-file",
                "/nonexistent/office-ca.pem",
            ],
            "--ca-file: CA file /nonexistent/office-ca.pem",
        ),
        (
            with(&["--ca-file", "/nonexistent/office-ca.pem"]),
            "only for https",
        ),
        (with(&["--interval", "4"]), "--interval"),
        (with(&["--interval", "86401"]), "--interval"),
        (with(&["--interval", "soon"]), "--interval"),
        (with(&["--modules", "Contacts,Leads"]), "Leads"),
        (with(&["--modules", ","]), "--modules"),
        (with(&["--bogus"]), "--bogus"),
        (vec!["frob"], "usage"),
        (vec![], "usage"),
    ];
    for (args, want) in cases {
        let e = crm_err(&dir, &args, "");
        assert!(e.contains(want), "{args:?}: {e:?} does not mention {want}");
        assert!(!e.contains(ADMIN_KEY), "{args:?}: the key is in {e:?}");
    }
    // An empty key on standard input.
    let e = crm_err(
        &dir,
        &[
            "set",
            "--url",
            "http://h/",
            "--user",
            "a",
            "--access-key",
            "-",
        ],
        "\n",
    );
    assert!(e.contains("--access-key"), "{e}");
    // Nothing was saved by any of them: not even a store was made.
    assert!(!dir.join("easbox.redb").exists());
    // Status and pull need a state directory with a store.
    assert!(crm_err(&dir, &["status"], "").contains("no easbox state"));
    assert!(crm_err(&dir, &["pull"], "").contains("no easbox state"));
}

#[test]
fn set_status_and_pull_without_a_server() {
    let crm = fake_crm();
    let dir = fresh_dir("crm-direct");
    // A failed --check saves nothing and says why.
    let e = crm_err(
        &dir,
        &[
            "set",
            "--url",
            &crm.url,
            "--user",
            "admin",
            "--access-key",
            "WrongKey",
            "--check",
        ],
        "",
    );
    assert!(e.contains("login check failed"), "{e}");
    assert!(crm_ok(&dir, &["status"], "").contains("settings: none"));
    let e = crm_err(&dir, &["pull"], "");
    assert!(e.contains("no CRM settings"), "{e}");

    // The key from standard input, checked by a login.
    let out = crm_ok(
        &dir,
        &[
            "set",
            "--url",
            &crm.url,
            "--user",
            "admin",
            "--access-key",
            "-",
            "--interval",
            "30",
            "--modules",
            "Contacts,Calendar",
            "--check",
        ],
        &format!("{ADMIN_KEY}\n"),
    );
    assert!(out.contains("login checked"), "{out}");
    assert!(out.contains("settings saved"), "{out}");
    assert!(!out.contains(ADMIN_KEY));

    let status = crm_ok(&dir, &["status"], "");
    assert_eq!(line(&status, "url:"), format!("url: {}", crm.url));
    assert_eq!(line(&status, "user:"), "user: admin");
    assert_eq!(line(&status, "interval:"), "interval: 30 s");
    assert_eq!(line(&status, "modules:"), "modules: Contacts,Calendar");
    assert_eq!(line(&status, "last success:"), "last success: never");
    assert_eq!(line(&status, "crm users:"), "crm users: 0");
    assert!(!status.contains(ADMIN_KEY), "{status}");

    // The key is sealed: not in the database file in plain text.
    let db = std::fs::read(dir.join("easbox.redb")).unwrap();
    assert!(
        !contains(&db, ADMIN_KEY.as_bytes()),
        "the key is in the store"
    );
    assert!(dir.join("seal.key").exists());

    // One cycle here: discovery fills the CRM users.
    let report = crm_ok(&dir, &["pull"], "");
    assert!(report.contains("users: 3 listed, 2 active"), "{report}");
    let status = crm_ok(&dir, &["status"], "");
    assert!(line(&status, "last success:") != "last success: never");
    assert_eq!(line(&status, "last error:"), "last error: none");
    assert_eq!(line(&status, "failures:"), "failures: 0");
    assert_eq!(line(&status, "crm users:"), "crm users: 3");
    let id = crm.handle.user_id("MRossi").unwrap();
    assert_eq!(
        user_line(&status, "mrossi"),
        vec!["mrossi", id.as_str(), "active", "disabled"]
    );
    assert_eq!(
        user_line(&status, "admin"),
        vec!["admin", "19x1", "active", "disabled", "admin"]
    );
    // An inactive CRM user gets no box user.
    assert_eq!(user_line(&status, "old")[2..], ["inactive", "no box user"]);

    // Box users are created disabled; enabling is a box-side switch.
    let list = user_cmd(&dir, &["list"], "");
    assert!(list.contains("mrossi\tdisabled\tcrm-password"), "{list}");
    assert!(!list.contains("old"), "{list}");
    user_cmd(&dir, &["enable", "MRossi"], "");
    let status = crm_ok(&dir, &["status"], "");
    assert_eq!(user_line(&status, "mrossi")[3], "enabled");

    // A second discovery keeps the box state.
    crm_ok(&dir, &["pull"], "");
    let status = crm_ok(&dir, &["status"], "");
    assert_eq!(user_line(&status, "mrossi")[3], "enabled");
}

#[test]
fn a_running_server_takes_new_settings_and_pulls_on_request() {
    let crm = fake_crm();
    let dir = fresh_dir("crm-server");
    let mut srv = Server::start_in(
        &dir,
        Options {
            demo: false,
            ..Options::default()
        },
    );
    // No settings yet: the connector idles and says so.
    assert!(crm_ok(&dir, &["status"], "").contains("settings: none"));
    assert!(crm_err(&dir, &["pull"], "").contains("no CRM settings"));

    // A wrong key: refused once, then not tried again until the settings change.
    crm_ok(
        &dir,
        &[
            "set",
            "--url",
            &crm.url,
            "--user",
            "admin",
            "--access-key",
            "WrongKey",
        ],
        "",
    );
    let e = crm_err(&dir, &["pull"], "");
    assert!(e.contains("refused"), "{e}");
    let logins = crm.handle.calls("login");
    assert!(logins >= 1);
    let e = crm_err(&dir, &["pull"], "");
    assert!(e.contains("refused"), "{e}");
    assert_eq!(
        crm.handle.calls("login"),
        logins,
        "a refused key was tried again"
    );
    let status = crm_ok(&dir, &["status"], "");
    assert!(line(&status, "last error:").contains("refused"), "{status}");
    assert_eq!(line(&status, "last success:"), "last success: never");

    // The right key through the control socket: taken without a restart.
    crm_ok(
        &dir,
        &[
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
        "",
    );
    let report = crm_ok(&dir, &["pull"], "");
    assert!(report.contains("outbox:"), "{report}");
    let status = crm_ok(&dir, &["status"], "");
    assert!(line(&status, "last success:") != "last success: never");
    assert_eq!(line(&status, "last error:"), "last error: none");
    assert_eq!(line(&status, "interval:"), "interval: 5 s");
    assert_eq!(user_line(&status, "mrossi")[3], "disabled");
    assert!(!status.contains(ADMIN_KEY));

    // Enabling works while the server holds the store.
    user_cmd(&dir, &["enable", "mrossi"], "");
    let status = crm_ok(&dir, &["status"], "");
    assert_eq!(user_line(&status, "mrossi")[3], "enabled");

    let db = std::fs::read(dir.join("easbox.redb")).unwrap();
    assert!(
        !contains(&db, ADMIN_KEY.as_bytes()),
        "the key is in the store"
    );
    assert!(!srv.log().contains(ADMIN_KEY), "the key is in the log");

    // The connector ends with the server.
    assert!(srv.stop().success(), "log: {}", srv.log());
}

#[test]
fn set_takes_an_https_url_with_an_office_ca_file() {
    let dir = fresh_dir("crm-set-https");
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&key).unwrap();
    let ca_file = dir.join("office-ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let ca_arg = ca_file.to_str().unwrap();
    let url = "https://crm.office.lan/vtenext";
    let out = crm_ok(
        &dir,
        &[
            "set",
            "--url",
            url,
            "--user",
            "admin",
            "--access-key",
            ADMIN_KEY,
            "--ca-file",
            ca_arg,
        ],
        "",
    );
    assert!(out.contains(ca_arg), "{out}");
    let status = crm_ok(&dir, &["status"], "");
    assert_eq!(line(&status, "url:"), format!("url: {url}"));
    assert_eq!(line(&status, "ca file:"), format!("ca file: {ca_arg}"));
    // Set again without the option: the CA file is gone from the settings.
    crm_ok(
        &dir,
        &[
            "set",
            "--url",
            url,
            "--user",
            "admin",
            "--access-key",
            ADMIN_KEY,
        ],
        "",
    );
    let status = crm_ok(&dir, &["status"], "");
    assert!(!status.contains("ca file:"), "{status}");
    // A CA file that is not PEM is refused, and the settings stay as they were.
    std::fs::write(&ca_file, "not a certificate\n").unwrap();
    let e = crm_err(
        &dir,
        &[
            "set",
            "--url",
            "https://other.lan/",
            "--user",
            "admin",
            "--access-key",
            ADMIN_KEY,
            "--ca-file",
            ca_arg,
        ],
        "",
    );
    assert!(e.contains("no PEM certificate"), "{e}");
    assert_eq!(
        line(&crm_ok(&dir, &["status"], ""), "url:"),
        format!("url: {url}")
    );
}
