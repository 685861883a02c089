//! Starts and stops the real `easbox` binary for integration tests: a fresh state directory
//! per test under `CARGO_TARGET_TMPDIR`, listeners on 127.0.0.1 port 0 (the addresses are
//! read from what `easbox serve` prints), users made with `easbox user …`.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::eas_client::{EasClient, tls_config_with_ca};
use easbox::eas::ProtocolVersion;

/// What `easbox serve` must print within this time (certificate generation and the demo
/// user's argon2 hash included).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_easbox")
}

/// A new, empty state directory unique to this process and call.
pub fn fresh_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    static CLEAN: std::sync::Once = std::sync::Once::new();
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("server-tests");
    // Directories are kept after a run (their server.log explains a failure); those of runs
    // more than an hour old go.
    CLEAN.call_once(|| {
        let old = |e: &std::fs::DirEntry| {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(3600))
        };
        for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            if old(&e) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    });
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = root.join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the state directory");
    dir
}

/// How to start a server.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub http: bool,
    pub https: bool,
    pub demo: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            http: true,
            https: false,
            demo: true,
        }
    }
}

/// A running `easbox serve`; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub dir: PathBuf,
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    pub demo_password: Option<String>,
    pub opts: Options,
}

impl Server {
    /// Starts a server on a fresh state directory with the default options (plain HTTP,
    /// demo data).
    pub fn start(name: &str) -> Server {
        Server::start_in(&fresh_dir(name), Options::default())
    }

    /// Starts a server on `dir` (which may hold state from an earlier run).
    pub fn start_in(dir: &Path, opts: Options) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .expect("open the server log");
        let mut cmd = Command::new(binary());
        cmd.arg("serve").arg("--state-dir").arg(dir);
        if opts.https {
            cmd.args(["--listen-https", "127.0.0.1:0", "--hostname", "localhost"]);
        }
        if opts.http {
            cmd.args(["--listen-http", "127.0.0.1:0"]);
        }
        if opts.demo {
            cmd.arg("--demo");
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start easbox serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            dir: dir.to_owned(),
            http: None,
            https: None,
            demo_password: None,
            opts,
        };
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        while (opts.http && server.http.is_none())
            || (opts.https && server.https.is_none())
            || (opts.demo && server.demo_password.is_none())
        {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|e| {
                panic!(
                    "easbox serve did not print its addresses ({e}); log: {}",
                    server.log()
                )
            });
            if let Some(a) = line.strip_prefix("http ") {
                server.http = Some(a.parse().expect("http address"));
            } else if let Some(a) = line.strip_prefix("https ") {
                server.https = Some(a.parse().expect("https address"));
            } else if let Some(p) = line.strip_prefix("demo user: demo  password: ") {
                server.demo_password = Some(p.trim().to_owned());
            }
        }
        server
    }

    /// The server's log so far (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (a clean shutdown), and wait for the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        self.child.wait().expect("wait for easbox")
    }

    /// Kills this server and starts a new one on the same state directory.
    pub fn restart_after_kill(mut self) -> Server {
        self.kill();
        Server::start_in(&self.dir.clone(), self.opts)
    }

    /// A plain-HTTP client of `user`.
    pub fn client(
        &self,
        user: &str,
        password: &str,
        device_id: &str,
        version: ProtocolVersion,
    ) -> EasClient {
        let addr = self.http.expect("server started with --listen-http");
        EasClient::new(addr, None, user, password, device_id, "TestDevice", version)
    }

    /// A plain-HTTP client of the demo user.
    pub fn demo_client(&self, device_id: &str, version: ProtocolVersion) -> EasClient {
        let pw = self
            .demo_password
            .clone()
            .expect("server started with --demo");
        self.client("demo", &pw, device_id, version)
    }

    /// An HTTPS client of the demo user that trusts the server's own CA.
    pub fn demo_client_tls(&self, device_id: &str, version: ProtocolVersion) -> EasClient {
        let addr = self.https.expect("server started with --listen-https");
        let ca = std::fs::read(self.ca_pem()).expect("read the CA");
        let pw = self
            .demo_password
            .clone()
            .expect("server started with --demo");
        EasClient::new(
            addr,
            Some(tls_config_with_ca(&ca)),
            "demo",
            &pw,
            device_id,
            "TestDevice",
            version,
        )
    }

    /// The CA certificate `easbox serve` generated.
    pub fn ca_pem(&self) -> PathBuf {
        self.dir.join("tls/ca.pem")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        // No input may make the server panic, even in a task that hyper or tokio survives.
        let log = self.log();
        if !std::thread::panicking() && log.contains("panicked at") {
            panic!("easbox serve panicked; log:\n{log}");
        }
    }
}

/// Runs `easbox ARGS --state-dir DIR` with `stdin`, returning its output.
pub fn cli(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(binary())
        .args(args)
        .arg("--state-dir")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run easbox");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for easbox")
}

/// Runs a `easbox user …` command and asserts it succeeds; returns its standard output.
pub fn user_cmd(dir: &Path, args: &[&str], stdin: &str) -> String {
    let mut full = vec!["user"];
    full.extend_from_slice(args);
    let out = cli(dir, &full, stdin);
    assert!(
        out.status.success(),
        "easbox {full:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `easbox user add NAME --enable` with `password` on standard input.
pub fn add_user(dir: &Path, name: &str, password: &str) {
    user_cmd(dir, &["add", name, "--enable"], &format!("{password}\n"));
}
