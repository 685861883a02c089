//! The `easbox` command: the server, user administration, and protocol tools.
#![forbid(unsafe_code)]

use easbox::auth::Secret;
use easbox::server::{App, Settings, control, demo, users};
use easbox::store::Store;
use easbox::sync::{self, FolderKind, Origin, StoredItem, SyncStore};
use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "\
usage: easbox <command>

commands:
  serve --state-dir DIR [--listen-https ADDR] [--listen-http ADDR] [--hostname NAME] [--demo]
                  run the server (default: HTTPS on [::]:443, no plain HTTP); --demo seeds a
                  user `demo` with contacts, events and tasks and prints its password
  user passwd NAME --state-dir DIR [--enable]
                  set NAME's ActiveSync password (read from standard input), creating the user
  user add NAME --state-dir DIR [--enable]
                  the same as passwd, for a new user
  user enable NAME --state-dir DIR | user disable NAME --state-dir DIR
  user list --state-dir DIR
  fake-crm --listen ADDR [--seed N] [--tz ZONE] [--user NAME:PASSWORD:ACCESSKEY[:ZONE]]...
                  run a stand-in vtenext web service (webservice.php) for trying the box
  decode [FILE]   decode an EAS WBXML body (FILE or standard input) and print it as XML
  version         print the version and the EAS protocol versions spoken
  help            this text

The user commands work whether or not a server runs on DIR: with a server, they go through
its control socket (DIR/control.sock).
";

/// Largest body `decode` reads; larger input is refused rather than read into memory.
const MAX_DECODE_INPUT: u64 = 64 * 1024 * 1024;
/// Threads for blocking work (store transactions, password hashes).
const MAX_BLOCKING_THREADS: usize = 8;
/// The database file in the state directory.
const DB_FILE: &str = "easbox.redb";

fn decode(path: Option<&str>) -> Result<(), String> {
    let mut bytes = Vec::new();
    let read = match path {
        Some(p) => std::fs::File::open(p)
            .map_err(|e| format!("{p}: {e}"))?
            .take(MAX_DECODE_INPUT + 1)
            .read_to_end(&mut bytes),
        None => std::io::stdin()
            .take(MAX_DECODE_INPUT + 1)
            .read_to_end(&mut bytes),
    };
    read.map_err(|e| format!("read: {e}"))?;
    if bytes.len() as u64 > MAX_DECODE_INPUT {
        return Err(format!("input larger than {MAX_DECODE_INPUT} bytes"));
    }
    let tree = easbox::wbxml::parse(&bytes, easbox::wbxml::Limits::DEFAULT)
        .map_err(|e| format!("not EAS WBXML: {e}"))?;
    std::io::stdout()
        .write_all(easbox::wbxml::to_xml(&tree).as_bytes())
        .map_err(|e| format!("write: {e}"))
}

/// Command-line options after the command words.
#[derive(Default)]
struct Opts {
    state_dir: Option<PathBuf>,
    https: Option<SocketAddr>,
    http: Option<SocketAddr>,
    hostname: Option<String>,
    demo: bool,
    enable: bool,
    positional: Vec<String>,
}

fn parse_opts(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--state-dir" => o.state_dir = Some(PathBuf::from(value(a)?)),
            "--listen-https" => {
                o.https = Some(
                    value(a)?
                        .parse()
                        .map_err(|e| format!("--listen-https: {e}"))?,
                )
            }
            "--listen-http" => {
                o.http = Some(
                    value(a)?
                        .parse()
                        .map_err(|e| format!("--listen-http: {e}"))?,
                )
            }
            "--hostname" => o.hostname = Some(value(a)?),
            "--demo" => o.demo = true,
            "--enable" => o.enable = true,
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ => o.positional.push(a.clone()),
        }
    }
    Ok(o)
}

fn state_dir(o: &Opts) -> Result<&Path, String> {
    o.state_dir
        .as_deref()
        .ok_or_else(|| "--state-dir DIR is required".to_owned())
}

/// Runs a user request through a running server's socket, or on the store directly. `create`
/// makes the state directory and store when none exists yet (adding the first user before the
/// server ever ran).
fn user_request(dir: &Path, request: &str, create: bool) -> Result<String, String> {
    let socket = dir.join(control::SOCKET);
    if let Ok(mut s) = std::os::unix::net::UnixStream::connect(&socket) {
        s.write_all(request.as_bytes())
            .and_then(|_| s.shutdown(std::net::Shutdown::Write))
            .map_err(|e| format!("control socket: {e}"))?;
        let mut answer = String::new();
        s.take(1 << 20)
            .read_to_string(&mut answer)
            .map_err(|e| format!("control socket: {e}"))?;
        return match answer.split_once('\n') {
            Some(("ok", rest)) => Ok(rest.to_owned()),
            Some((err, _)) => Err(err.trim_start_matches("error: ").to_owned()),
            None => Err(format!("control socket: unexpected answer {answer:?}")),
        };
    }
    let db = dir.join(DB_FILE);
    if create && !db.exists() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    } else if !db.exists() {
        return Err(format!(
            "no easbox state in {} (start `easbox serve --state-dir {}` once)",
            dir.display(),
            dir.display()
        ));
    }
    let store = Store::open(&db).map_err(|e| format!("{}: {e}", db.display()))?;
    control::execute(None, &store, request)
}

fn user_command(args: &[String]) -> Result<(), String> {
    let o = parse_opts(args)?;
    let dir = state_dir(&o)?;
    let request = match o.positional.as_slice() {
        [verb, name] if verb == "add" || verb == "passwd" => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .take(4096)
                .read_line(&mut password)
                .map_err(|e| format!("reading the password: {e}"))?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                return Err("give the password on standard input".into());
            }
            let flag = if o.enable { " --enable" } else { "" };
            format!("user passwd {name}{flag}\n{password}")
        }
        [verb, name] if verb == "enable" || verb == "disable" => format!("user {verb} {name}"),
        [verb] if verb == "list" => "user list".to_owned(),
        _ => return Err("usage: easbox user add|passwd|enable|disable NAME --state-dir DIR, or user list --state-dir DIR".into()),
    };
    let create = request.starts_with("user passwd");
    let out = user_request(dir, &request, create)?;
    print!("{out}");
    Ok(())
}

/// A password for the demo user: 16 characters from an unambiguous alphabet.
fn demo_password() -> Result<String, String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("randomness: {e}"))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

/// Seeds the demo user and, when its folders are empty, the demo data set.
fn seed_demo(store: &Store) -> Result<String, String> {
    let password = demo_password()?;
    users::set_password(store, "demo", &Secret::new(password.clone()), true)?;
    let mut t = store.write().map_err(|e| e.to_string())?;
    let folders = t.folders("demo").map_err(|e| e.to_string())?;
    let folder = |kind| folders.iter().find(|f| f.kind == kind).map(|f| f.id);
    let now = jiff::Timestamp::now();
    let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let seed = 20_261_125;
    let mut items: Vec<(Option<sync::FolderId>, easbox::model::Item)> = Vec::new();
    items.extend(demo::contacts(seed).into_iter().map(|c| {
        (
            folder(FolderKind::Contacts),
            easbox::model::Item::Contact(c),
        )
    }));
    items.extend(
        demo::events(seed, today)
            .into_iter()
            .map(|e| (folder(FolderKind::Calendar), easbox::model::Item::Event(e))),
    );
    items.extend(
        demo::tasks(seed, now)
            .into_iter()
            .map(|x| (folder(FolderKind::Tasks), easbox::model::Item::Task(x))),
    );
    let mut seeded = 0u32;
    for (f, item) in items {
        let Some(f) = f else { continue };
        if t.head("demo", f).map_err(|e| e.to_string())? > 0 && seeded == 0 {
            // Already seeded on an earlier start: keep what phones changed since.
            break;
        }
        let data = StoredItem {
            item,
            unknown: Vec::new(),
            crm: None,
        };
        t.put_item("demo", f, None, &data, &Origin::Local)
            .map_err(|e| e.to_string())?;
        seeded += 1;
    }
    t.commit().map_err(|e| e.to_string())?;
    if seeded > 0 {
        log::info!("demo: seeded {seeded} items for user demo");
    }
    Ok(password)
}

fn hostname(o: &Opts) -> String {
    o.hostname.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "easbox".to_owned())
    })
}

async fn serve(o: Opts) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let dir = state_dir(&o)?.to_owned();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    let store = Arc::new(Store::open(dir.join(DB_FILE)).map_err(|e| format!("store: {e}"))?);
    let demo_password = if o.demo {
        let s = store.clone();
        Some(
            tokio::task::spawn_blocking(move || seed_demo(&s))
                .await
                .map_err(|e| e.to_string())??,
        )
    } else {
        None
    };
    let host = hostname(&o);
    let https = match (o.https, o.http) {
        (None, None) => Some(SocketAddr::from(([0u16; 8], 443))),
        (h, _) => h,
    };
    let tls = if https.is_some() {
        let mut addrs = Vec::new();
        if let Some(a) = https.filter(|a| !a.ip().is_unspecified()) {
            addrs.push(a.ip());
        }
        let paths = easbox::tls::ensure_certificates(
            &dir,
            std::slice::from_ref(&host),
            &addrs,
            std::time::SystemTime::now(),
        )
        .map_err(|e| format!("certificates: {e}"))?;
        if let Some(why) = &paths.custom_rejected {
            log::warn!("custom certificate not used: {why}");
        }
        Some(easbox::tls::server_config(&paths).map_err(|e| format!("TLS: {e}"))?)
    } else {
        None
    };
    let cfg = easbox::http::Config {
        https,
        http: o.http,
        tls,
        limits: easbox::http::Limits::default(),
    };
    let listeners = easbox::http::Listeners::bind(&cfg)
        .await
        .map_err(|e| format!("listen: {e}"))?;
    let app = Arc::new(App::new(store, Settings::default()).map_err(|e| e.to_string())?);
    // The handlers exist before anyone is told the server is up: a SIGTERM right after the
    // addresses are printed (or READY=1 is sent) must shut down cleanly, not kill the process.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    let control = {
        let app = app.clone();
        let dir = dir.clone();
        tokio::spawn(async move {
            if let Err(e) = control::serve(app, &dir).await {
                log::error!("control socket: {e}");
            }
        })
    };
    if let Some(a) = listeners.https_addr() {
        log::info!("listening on https://{a}/Microsoft-Server-ActiveSync");
        println!("https {a}");
    }
    if let Some(a) = listeners.http_addr() {
        log::info!("listening on http://{a}/Microsoft-Server-ActiveSync");
        println!("http {a}");
    }
    if let Some(p) = &demo_password {
        // Printed, never logged: the journal keeps no secrets.
        println!("demo user: demo  password: {p}");
    }
    let _ = std::io::stdout().flush();
    easbox::systemd::notify_ready();
    let watchdog = easbox::systemd::watchdog_ping_period().map(|period| {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                easbox::systemd::notify_watchdog();
            }
        })
    });
    let shutdown = async {
        tokio::select! {
            _ = async { match int.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        log::info!("shutting down");
        easbox::systemd::notify_stopping();
    };
    listeners.serve(app, shutdown).await;
    control.abort();
    if let Some(w) = watchdog {
        w.abort();
    }
    let _ = std::fs::remove_file(dir.join(control::SOCKET));
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => {
            let _sink = easbox::systemd::init_logging(log::LevelFilter::Info);
            match parse_opts(&args[1..]) {
                // redb has one writer and argon2 runs two at a time, so a large blocking pool
                // only costs memory (a thread stack and a malloc arena each).
                Ok(o) => tokio::runtime::Builder::new_multi_thread()
                    .max_blocking_threads(MAX_BLOCKING_THREADS)
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())
                    .and_then(|rt| rt.block_on(serve(o))),
                Err(e) => Err(e),
            }
        }
        Some("user") => user_command(&args[1..]),
        Some("fake-crm") => {
            let _sink = easbox::systemd::init_logging(log::LevelFilter::Info);
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|rt| rt.block_on(easbox::crm::fake::run_cli(&args[1..])))
        }
        Some("decode") if args.len() <= 2 => decode(args.get(1).map(String::as_str)),
        Some("version") | Some("--version") => {
            println!(
                "easbox {} (EAS {})",
                env!("CARGO_PKG_VERSION"),
                easbox::eas::ProtocolVersion::header_list()
            );
            Ok(())
        }
        Some("help") | Some("--help") | Some("-h") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("easbox: {e}");
            ExitCode::FAILURE
        }
    }
}
