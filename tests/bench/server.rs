//! Server benchmarks over real HTTP on loopback, against the release `easbox` binary with its
//! redb store (state directory under the system temp dir, on whatever disk that is).
//!
//! Method. Each part starts its own `easbox serve --listen-http 127.0.0.1:0` through
//! `sh -c 'ulimit -n <hard>; exec …'`, adds users with `easbox user add` (through its control
//! socket), and talks EAS 14.1 to it (plain request line, WBXML bodies encoded by easbox's own
//! codecs). `sync`: device A provisions and adds 5,000 contacts in Syncs of 100 Adds; then a
//! new device per window size (100, then 512) provisions, FolderSyncs and downloads the whole
//! Contacts folder from SyncKey 0; the clock runs from its first Sync to the last answer
//! (client-side decoding included), and the total from its Provision. `memory`: 10,001
//! devices of 10 users are provisioned (two requests each), then Pings (heartbeat 3540 s,
//! Contacts) are parked, each on its own TCP connection, by a lean tokio client; the server's
//! VmRSS (/proc/PID/status) is read before, with 1,000 and with 10,000 parked (parked = all
//! sent, no answer, and the server's CPU time still for 0.5 s); the status of a 10,001st Ping
//! is printed (503 = the hub is full, so all 10,000 are parked). `serve` runs itself with
//! `MALLOC_ARENA_MAX=2` unless the variable is given; set it to compare (e.g. `=8`). `wake`: device B parks a
//! Ping on Contacts, 20 ms later device A Syncs one Add; B's answer time is taken from just
//! before A sends and from when A's answer is in; B then Syncs the change and parks again,
//! 1,000 times.
//!
//! Run: `cargo build --release && cargo bench --bench server` (or `-- sync`, `-- memory`,
//! `-- wake` for one part). The bench does not build the server: it runs `target/release/easbox`
//! next to its own binary, or `$EASBOX_BIN`. Prints figures; nothing here asserts a speed.

#[path = "../common/mod.rs"]
mod common;

use common::eas_client::EasClient;
use easbox::eas::commands::folder_sync::FolderType;
use easbox::eas::commands::ping::{PingFolder, PingRequest};
use easbox::eas::commands::provision::{
    PolicyAckStatus, PolicyRequest, ProvisionRequest, ProvisionResponse,
};
use easbox::eas::commands::sync::{ClientCommand, ServerCommand, SyncResponse};
use easbox::eas::items::Class;
use easbox::eas::request::{Command as EasCommand, RequestLine};
use easbox::eas::{ProtocolVersion, from_wbxml, to_wbxml};
use easbox::wbxml::{Limits, OwnedElement, airsync, contacts};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench-password-1";
const VERSION: ProtocolVersion = ProtocolVersion::V14_1;
const CONTACTS_TOTAL: u32 = 5_000;
const ADD_BATCH: u32 = 100;
const PING_USERS: u32 = 10;
const PARKED_SMALL: u32 = 1_000;
const PARKED_LARGE: u32 = easbox::server::push::MAX_PARKED_PINGS;
const WAKES: u32 = 1_000;
/// How long B's Ping is given to park before A changes something.
const PARK_DELAY: Duration = Duration::from_millis(20);
/// Requests in flight while provisioning the Ping devices.
const PROVISION_WORKERS: u32 = 32;
/// Pings opened at a time before waiting for them to be sent.
const PARK_BATCH: u32 = 500;
/// Bound on any wait for the server in this bench.
const WAIT_LIMIT: Duration = Duration::from_secs(300);

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all = which.is_empty();
    let bin = easbox_bin();
    raise_open_files();
    println!("server binary: {}", bin.display());
    if all || which.iter().any(|w| w == "sync") {
        bench_sync(&bin);
    }
    if all || which.iter().any(|w| w == "memory") {
        bench_memory(&bin);
    }
    if all || which.iter().any(|w| w == "wake") {
        bench_wake(&bin);
    }
}

// ---------------------------------------------------------------------------------------------
// The server process

/// Raises this process's open-files limit to its hard limit: the memory part holds 10,001
/// client sockets at once.
fn raise_open_files() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    lim.current = lim.maximum;
    if let Err(e) = setrlimit(Resource::Nofile, lim) {
        eprintln!("cannot raise the open-files limit: {e}");
    }
    let now = getrlimit(Resource::Nofile);
    println!(
        "bench open-files limit (soft/hard): {:?}/{:?}",
        now.current, now.maximum
    );
}

/// `$EASBOX_BIN`, else `easbox` in the release directory this bench binary was built into.
fn easbox_bin() -> PathBuf {
    let bin = std::env::var_os("EASBOX_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            // target/release/deps/server-<hash> → target/release/easbox
            Some(exe.parent()?.parent()?.join("easbox"))
        });
    match bin {
        Some(b) if b.is_file() => b,
        other => {
            eprintln!(
                "no release easbox binary at {:?}: build it first with `cargo build --release` \
                 (same CARGO_TARGET_DIR), or point EASBOX_BIN at one",
                other
            );
            std::process::exit(2);
        }
    }
}

struct Server {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Server {
    /// Starts the server on a fresh state directory with the highest file-descriptor limit the
    /// shell may set, and adds `users` (enabled, all with [`PASSWORD`]).
    fn start(bin: &Path, name: &str, users: &[String]) -> Server {
        let dir = std::env::temp_dir().join(format!("easbox-bench-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("state dir");
        let log = std::fs::File::create(dir.join("server.log")).expect("log file");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(concat!(
                r#"ulimit -n "$(ulimit -Hn)" || exit 3; "#,
                r#"exec "$0" serve --state-dir "$1" --listen-http 127.0.0.1:0"#
            ))
            .arg(bin)
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start easbox serve");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let addr = loop {
            line.clear();
            if out.read_line(&mut line).expect("server stdout") == 0 {
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                panic!("the server ended before listening; its log:\n{log}");
            }
            if let Some(a) = line.trim().strip_prefix("http ") {
                break a.parse::<SocketAddr>().expect("listen address");
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while out.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        // `user add` needs the state the server creates; with it running, it goes through its
        // control socket.
        for u in users {
            let mut c = Command::new(bin)
                .args(["user", "add", u, "--state-dir"])
                .arg(&dir)
                .arg("--enable")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .expect("run easbox user add");
            c.stdin
                .take()
                .expect("stdin")
                .write_all(format!("{PASSWORD}\n").as_bytes())
                .expect("password");
            assert!(c.wait().expect("user add").success(), "user add {u} failed");
        }
        Server { child, addr, dir }
    }

    fn proc_file(&self, name: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{name}", self.child.id())).unwrap_or_default()
    }

    fn rss_kib(&self) -> u64 {
        self.proc_file("status")
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// User plus system CPU time of the server, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = self.proc_file("stat");
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let n = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        n(11) + n(12)
    }

    fn open_files_limit(&self) -> String {
        self.proc_file("limits")
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .map(|l| {
                l.split_whitespace()
                    .skip(3)
                    .take(2)
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default()
    }

    /// Waits until the server's CPU time stands still for 0.5 s.
    fn wait_quiet(&self) {
        let start = Instant::now();
        let mut last = self.cpu_ticks();
        let mut still = 0;
        while still < 2 && start.elapsed() < WAIT_LIMIT {
            std::thread::sleep(Duration::from_millis(250));
            let now = self.cpu_ticks();
            still = if now == last { still + 1 } else { 0 };
            last = now;
        }
    }

    fn client(&self, user: &str, device: &str) -> EasClient {
        let mut c = EasClient::new(self.addr, None, user, PASSWORD, device, "Bench", VERSION);
        c.keep_alive = true;
        c.check_wbxml2xml = false;
        c
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------------
// EAS helpers (blocking client)

fn contact_data(i: u32) -> OwnedElement {
    OwnedElement::new(airsync::APPLICATION_DATA)
        .with(OwnedElement::leaf(
            contacts::FILE_AS,
            format!("Bianchi-{i}, Giulia{i}"),
        ))
        .with(OwnedElement::leaf(
            contacts::FIRST_NAME,
            format!("Giulia{i}"),
        ))
        .with(OwnedElement::leaf(
            contacts::LAST_NAME,
            format!("Bianchi-{i}"),
        ))
        .with(OwnedElement::leaf(
            contacts::COMPANY_NAME,
            "Studio Rossi & Associati S.r.l.",
        ))
        .with(OwnedElement::leaf(
            contacts::JOB_TITLE,
            "Responsabile acquisti",
        ))
        .with(OwnedElement::leaf(
            contacts::EMAIL1_ADDRESS,
            format!("giulia.bianchi{i}@example.com"),
        ))
        .with(OwnedElement::leaf(
            contacts::BUSINESS_PHONE_NUMBER,
            format!("+39 02 5550{i:04}"),
        ))
        .with(OwnedElement::leaf(
            contacts::MOBILE_PHONE_NUMBER,
            format!("+39 333 55{i:05}"),
        ))
        .with(OwnedElement::leaf(
            contacts::BUSINESS_ADDRESS_STREET,
            format!("Via Roma {i}"),
        ))
        .with(OwnedElement::leaf(
            contacts::BUSINESS_ADDRESS_CITY,
            "Milano",
        ))
}

fn add(i: u32) -> ClientCommand {
    ClientCommand::Add {
        class: None,
        client_id: format!("c{i}"),
        data: contact_data(i),
    }
}

/// Provisions and FolderSyncs; returns the Contacts folder id.
fn set_up(c: &mut EasClient) -> String {
    c.provision().expect("provision");
    let fs = c.folder_sync("0").expect("folder sync");
    fs.changes
        .as_ref()
        .and_then(|ch| {
            ch.adds
                .iter()
                .find(|f| f.folder_type == FolderType::DefaultContacts)
        })
        .map(|f| f.server_id.clone())
        .expect("a Contacts folder")
}

fn collection(r: SyncResponse) -> easbox::eas::commands::sync::SyncCollectionResponse {
    r.collections.into_iter().next().expect("one collection")
}

/// Syncs `folder` from `key` until nothing more is available; returns the new key and the
/// items received.
fn drain(c: &mut EasClient, folder: &str, mut key: String, window: u32) -> (String, u32) {
    let mut items = 0u32;
    loop {
        let col = collection(
            c.sync_collection(folder, &key, Some(window), Vec::new())
                .expect("sync"),
        );
        items += col
            .commands
            .iter()
            .filter(|c| matches!(c, ServerCommand::Add { .. }))
            .count() as u32;
        if !col.sync_key.is_empty() {
            key = col.sync_key;
        }
        if !col.more_available {
            return (key, items);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Initial sync

fn bench_sync(bin: &Path) {
    println!("\n== initial sync of {CONTACTS_TOTAL} contacts over HTTP (redb) ==");
    let server = Server::start(bin, "sync", &["ann".to_owned()]);
    let mut a = server.client("ann", "benchA");
    let folder = set_up(&mut a);
    let mut key = collection(
        a.sync_collection(&folder, "0", None, Vec::new())
            .expect("key 0"),
    )
    .sync_key;
    let t = Instant::now();
    for batch in 0..CONTACTS_TOTAL / ADD_BATCH {
        let cmds = (0..ADD_BATCH).map(|j| add(batch * ADD_BATCH + j)).collect();
        let col = collection(
            a.sync_collection(&folder, &key, Some(ADD_BATCH), cmds)
                .expect("sync adds"),
        );
        assert_eq!(col.responses.len() as u32, ADD_BATCH, "one reply per Add");
        key = col.sync_key;
    }
    let seed = t.elapsed().as_secs_f64();
    println!(
        "seed: {CONTACTS_TOTAL} Adds in Syncs of {ADD_BATCH}: {seed:.2} s ({:.0} items/s)",
        f64::from(CONTACTS_TOTAL) / seed
    );
    for (n, window) in [(1u32, 100u32), (2, 512)] {
        let total = Instant::now();
        let mut b = server.client("ann", &format!("benchB{n}"));
        let folder = set_up(&mut b);
        let t = Instant::now();
        let key0 = collection(
            b.sync_collection(&folder, "0", None, Vec::new())
                .expect("key 0"),
        )
        .sync_key;
        let (_, items) = drain(&mut b, &folder, key0, window);
        let secs = t.elapsed().as_secs_f64();
        let all = total.elapsed().as_secs_f64();
        assert_eq!(items, CONTACTS_TOTAL, "every contact arrives once");
        println!(
            "window {window:>3}: {items} items in {secs:.3} s = {:.0} items/s \
             (with Provision + FolderSync: {all:.3} s)",
            f64::from(items) / secs
        );
    }
    println!("server RSS after the syncs: {} KiB", server.rss_kib());
}

// ---------------------------------------------------------------------------------------------
// 2. Memory per parked Ping (lean async client)

/// One HTTP/1.1 POST, fully encoded.
fn raw_post(
    addr: SocketAddr,
    user: &str,
    device: &str,
    key: Option<u32>,
    cmd: EasCommand,
    body: &[u8],
) -> Vec<u8> {
    use base64::Engine;
    let mut line = RequestLine::new(cmd, device, "Bench");
    line.user = Some(user.to_owned());
    line.protocol_version = Some(VERSION);
    line.policy_key = key;
    let query = line.to_query_plain().expect("request line");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{PASSWORD}"));
    let mut head = format!(
        "POST /Microsoft-Server-ActiveSync?{query} HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Basic {auth}\r\nContent-Type: application/vnd.ms-sync.wbxml\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for (n, v) in line.plain_headers() {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Sends `req` and reads one Content-Length response: (status, body).
async fn exchange(
    s: &mut tokio::net::TcpStream,
    req: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_owned());
    s.write_all(req).await?;
    buf.clear();
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err(bad("response head too long"));
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("head not UTF-8"))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("status line"))?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let mut chunk = vec![0u8; len - body.len()];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("body cut short"));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((status, body))
}

fn provision_body(key: Option<u32>) -> Vec<u8> {
    let req = ProvisionRequest {
        policy: Some(match key {
            None => PolicyRequest::download(),
            Some(k) => PolicyRequest::acknowledge(k, PolicyAckStatus::Success),
        }),
        ..ProvisionRequest::default()
    };
    to_wbxml(&req, VERSION, 1 << 20).expect("provision body")
}

fn policy_key(status: u16, body: &[u8]) -> Result<u32, String> {
    if status != 200 {
        return Err(format!("Provision: HTTP {status}"));
    }
    let r: ProvisionResponse =
        from_wbxml(body, VERSION, Limits::DEFAULT).map_err(|e| format!("Provision: {e}"))?;
    r.policy
        .and_then(|p| p.policy_key)
        .ok_or_else(|| "Provision: no key".to_owned())
}

/// Provisions `count` devices `p<i>` of users `ping<i % PING_USERS>`; returns each final key.
async fn provision_all(addr: SocketAddr, count: u32) -> Vec<u32> {
    let next = Arc::new(AtomicU32::new(0));
    let keys = Arc::new(std::sync::Mutex::new(vec![0u32; count as usize]));
    let mut workers = Vec::new();
    for _ in 0..PROVISION_WORKERS {
        let (next, keys) = (next.clone(), keys.clone());
        workers.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            s.set_nodelay(true).expect("nodelay");
            let mut buf = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return;
                }
                let (user, dev) = (format!("ping{}", i % PING_USERS), format!("p{i}"));
                let r1 = raw_post(
                    addr,
                    &user,
                    &dev,
                    None,
                    EasCommand::Provision,
                    &provision_body(None),
                );
                let (st, body) = exchange(&mut s, &r1, &mut buf).await.expect("provision 1");
                let temp = policy_key(st, &body).expect("temporary key");
                let r2 = raw_post(
                    addr,
                    &user,
                    &dev,
                    Some(temp),
                    EasCommand::Provision,
                    &provision_body(Some(temp)),
                );
                let (st, body) = exchange(&mut s, &r2, &mut buf).await.expect("provision 2");
                let key = policy_key(st, &body).expect("final key");
                if let Some(k) = keys.lock().expect("keys").get_mut(i as usize) {
                    *k = key;
                }
            }
        }));
    }
    for w in workers {
        w.await.expect("provisioning worker");
    }
    keys.lock().expect("keys").clone()
}

/// Counters of the parked Pings.
#[derive(Default)]
struct PingCounts {
    sent: AtomicU32,
    answered: AtomicU32,
}

/// Opens a connection per device in `from..to` and parks its Ping; returns when all are sent.
async fn park(
    addr: SocketAddr,
    folder: &str,
    keys: &[u32],
    from: u32,
    to: u32,
    counts: &Arc<PingCounts>,
) {
    let body = to_wbxml(
        &PingRequest {
            heartbeat_interval: Some(easbox::server::app::MAX_HEARTBEAT),
            folders: vec![PingFolder {
                id: folder.to_owned(),
                class: Class::Contacts,
            }],
        },
        VERSION,
        1 << 20,
    )
    .expect("ping body");
    let mut batch_start = from;
    while batch_start < to {
        let batch_end = (batch_start + PARK_BATCH).min(to);
        for i in batch_start..batch_end {
            let req = raw_post(
                addr,
                &format!("ping{}", i % PING_USERS),
                &format!("p{i}"),
                keys.get(i as usize).copied(),
                EasCommand::Ping,
                &body,
            );
            let counts = counts.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
                s.write_all(&req).await.expect("send ping");
                counts.sent.fetch_add(1, Ordering::Relaxed);
                // The answer should never come while the bench runs: hold the connection.
                let mut buf = Vec::new();
                let _ = exchange(&mut s, &[], &mut buf).await;
                counts.answered.fetch_add(1, Ordering::Relaxed);
                std::future::pending::<()>().await;
            });
        }
        let start = Instant::now();
        // `sent` counts every Ping of the bench, and parts are parked in order from device 0.
        while counts.sent.load(Ordering::Relaxed) < batch_end && start.elapsed() < WAIT_LIMIT {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        batch_start = batch_end;
    }
}

fn bench_memory(bin: &Path) {
    println!(
        "\n== server memory with parked Pings (plain HTTP; MALLOC_ARENA_MAX={}) ==",
        std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "unset".into())
    );
    let users: Vec<String> = (0..PING_USERS).map(|u| format!("ping{u}")).collect();
    let server = Server::start(bin, "memory", &users);
    println!(
        "server open-files limit (soft/hard): {}",
        server.open_files_limit()
    );
    let fresh = server.rss_kib();
    // One FolderSync per user creates its folders, which the Pings name.
    let mut folder = String::new();
    for u in &users {
        folder = set_up(&mut server.client(u, "setup"));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let t = Instant::now();
    let keys = rt.block_on(provision_all(server.addr, PARKED_LARGE + 1));
    println!(
        "provisioned {} devices in {:.1} s",
        PARKED_LARGE + 1,
        t.elapsed().as_secs_f64()
    );
    server.wait_quiet();
    let idle = server.rss_kib();
    println!("RSS: fresh {fresh} KiB; idle after provisioning {idle} KiB");
    let counts = Arc::new(PingCounts::default());
    let mut parked = 0;
    for n in [PARKED_SMALL, PARKED_LARGE] {
        let t = Instant::now();
        rt.block_on(park(server.addr, &folder, &keys, parked, n, &counts));
        parked = n;
        server.wait_quiet();
        let rss = server.rss_kib();
        let answered = counts.answered.load(Ordering::Relaxed);
        println!(
            "{n:>5} parked (sent in {:.1} s, {answered} answered early): RSS {rss} KiB, \
             +{} KiB over idle = {:.2} KiB per parked Ping",
            t.elapsed().as_secs_f64(),
            rss.saturating_sub(idle),
            rss.saturating_sub(idle) as f64 / f64::from(n)
        );
    }
    // The hub is full only if all 10,000 are parked: one more Ping must get 503.
    let extra = PARKED_LARGE;
    let req = raw_post(
        server.addr,
        &format!("ping{}", extra % PING_USERS),
        &format!("p{extra}"),
        keys.get(extra as usize).copied(),
        EasCommand::Ping,
        &to_wbxml(
            &PingRequest {
                heartbeat_interval: Some(easbox::server::app::MAX_HEARTBEAT),
                folders: vec![PingFolder {
                    id: folder.clone(),
                    class: Class::Contacts,
                }],
            },
            VERSION,
            1 << 20,
        )
        .expect("ping body"),
    );
    let status = rt.block_on(async {
        let mut s = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect");
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), exchange(&mut s, &req, &mut buf))
            .await
            .map(|r| r.map(|(st, _)| st))
    });
    println!(
        "Ping number {} answered: {status:?} (503 = hub full, all parked)",
        PARKED_LARGE + 1
    );
    drop(server);
    rt.shutdown_timeout(Duration::from_secs(1));
}

// ---------------------------------------------------------------------------------------------
// 3. Wake latency

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn bench_wake(bin: &Path) {
    println!("\n== wake latency: A's Sync Add → B's Ping answer ({WAKES} wakes) ==");
    let server = Server::start(bin, "wake", &["ann".to_owned()]);
    let mut a = server.client("ann", "wakeA");
    let folder = set_up(&mut a);
    let mut a_key = collection(
        a.sync_collection(&folder, "0", None, Vec::new())
            .expect("key 0"),
    )
    .sync_key;
    let mut b = server.client("ann", "wakeB");
    set_up(&mut b);
    let b_key0 = collection(
        b.sync_collection(&folder, "0", None, Vec::new())
            .expect("key 0"),
    )
    .sync_key;
    let (mut b_key, _) = drain(&mut b, &folder, b_key0, 100);

    let (to_main, from_b) = std::sync::mpsc::channel::<Result<Instant, String>>();
    let (go_b, b_go) = std::sync::mpsc::channel::<()>();
    let (sent_tx, sent_rx) = std::sync::mpsc::channel::<()>();
    let b_folder = folder.clone();
    let b_thread = std::thread::spawn(move || {
        let class = Class::Contacts;
        while b_go.recv().is_ok() {
            // The client writes the request, then blocks reading: tell main just before.
            let _ = sent_tx.send(());
            let r = b.ping(
                &[(b_folder.as_str(), class)],
                Some(easbox::server::app::MIN_HEARTBEAT),
            );
            let at = Instant::now();
            let r = match r {
                Ok(p) if !p.folders.is_empty() => Ok(at),
                Ok(p) => Err(format!("Ping answered without folders: {p:?}")),
                Err(e) => Err(format!("Ping: {e}")),
            };
            let failed = r.is_err();
            let _ = to_main.send(r);
            if failed {
                return;
            }
            let (k, items) = drain(&mut b, &b_folder, b_key.clone(), 100);
            assert_eq!(items, 1, "B gets the one new contact");
            b_key = k;
        }
    });

    let mut from_send = Vec::with_capacity(WAKES as usize);
    let mut from_reply = Vec::with_capacity(WAKES as usize);
    let mut early = 0u32;
    for i in 0..WAKES {
        go_b.send(()).expect("B alive");
        sent_rx.recv().expect("B sent");
        std::thread::sleep(PARK_DELAY);
        let t0 = Instant::now();
        let col = collection(
            a.sync_collection(&folder, &a_key, Some(ADD_BATCH), vec![add(i)])
                .expect("A adds"),
        );
        let t1 = Instant::now();
        a_key = col.sync_key;
        let t2 = from_b.recv().expect("B answers").expect("B's Ping");
        from_send.push(t2.saturating_duration_since(t0));
        if t2 < t1 {
            early += 1;
        }
        from_reply.push(t2.saturating_duration_since(t1));
    }
    drop(go_b);
    b_thread.join().expect("B thread");
    from_send.sort();
    from_reply.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "from before A's Sync:      p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(percentile(&from_send, 0.50)),
        ms(percentile(&from_send, 0.99)),
        ms(percentile(&from_send, 1.0))
    );
    println!(
        "from A's answer received:  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms \
         ({early} of {WAKES} Ping answers came before A's own answer; counted as 0)",
        ms(percentile(&from_reply, 0.50)),
        ms(percentile(&from_reply, 0.99)),
        ms(percentile(&from_reply, 1.0))
    );
}
