//! A third-party client against the real `easbox serve` (issue 3, "How it is checked" 6):
//! tests/tools/pyactivesync_interop.py (pyactivesync, 16.1: Provision, FolderSync, Sync of
//! Contacts, Add, Change, Delete) over plain HTTP and over HTTPS trusting the server's CA.
//!
//! The script runs under `$EASBOX_PYTHON`, else the venv `target/py` that `tests/run.sh`
//! creates, else `python3`. If none can import pyactivesync the tests FAIL (never skip).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::server::*;

const HINT: &str = "run `bash tests/run.sh` once: it creates the venv target/py with \
                    tests/tools/requirements.txt (or set EASBOX_PYTHON to a Python that can \
                    `import pyactivesync`)";

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python to run the script with; panics when none can import pyactivesync.
fn python() -> PathBuf {
    let candidates: Vec<PathBuf> = match std::env::var_os("EASBOX_PYTHON") {
        // An explicit choice is the only candidate: falling back would hide a broken setup.
        Some(p) => vec![PathBuf::from(p)],
        None => vec![
            crate_root().join("target/py/bin/python"),
            PathBuf::from("python3"),
        ],
    };
    let mut tried = Vec::new();
    for py in candidates {
        let ok = Command::new(&py)
            .args(["-c", "import pyactivesync"])
            .output()
            .map(|o| o.status.success());
        match ok {
            Ok(true) => return py,
            Ok(false) => tried.push(format!("{}: cannot import pyactivesync", py.display())),
            Err(e) => tried.push(format!("{}: {e}", py.display())),
        }
    }
    panic!("no Python with pyactivesync ({}); {HINT}", tried.join("; "))
}

fn run_script(addr: std::net::SocketAddr, password: &str, mode: &[&str]) {
    let script = crate_root().join("tests/tools/pyactivesync_interop.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(format!("127.0.0.1:{}", addr.port()))
        .args(["demo", password])
        .args(mode)
        .args(["--timeout", "20"])
        .env_remove("REQUESTS_CA_BUNDLE")
        .output()
        .expect("run the interop script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pyactivesync interop {mode:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    eprintln!("{stdout}");
}

#[test]
fn pyactivesync_plain_and_https() {
    let srv = Server::start_in(
        &fresh_dir("interop"),
        Options {
            http: true,
            https: true,
            demo: true,
        },
    );
    let pw = srv.demo_password.clone().unwrap();
    run_script(srv.http.unwrap(), &pw, &["--plain"]);
    let ca = srv.ca_pem();
    run_script(srv.https.unwrap(), &pw, &["--ca", ca.to_str().unwrap()]);
    // The server's log must not mention the password.
    assert!(!srv.log().contains(&pw), "the demo password is in the log");
}

/// The Rust client over HTTPS with the generated CA: the certificate names localhost.
#[test]
fn rust_client_over_https() {
    let srv = Server::start_in(
        &fresh_dir("https"),
        Options {
            http: false,
            https: true,
            demo: true,
        },
    );
    let mut c = srv.demo_client_tls("tlsD", easbox::eas::ProtocolVersion::V16_1);
    c.provision().expect("provision over TLS");
    let fs = c.folder_sync("0").expect("FolderSync over TLS");
    assert_eq!(
        fs.status,
        easbox::eas::commands::folder_sync::FolderSyncStatus::Success
    );
}
