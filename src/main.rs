//! The `easbox` command: the server, user administration, and protocol tools.
#![forbid(unsafe_code)]

use easbox::auth::Secret;
use easbox::auth::seal::SealKey;
use easbox::crm::CrmHandle;
use easbox::crm::admin::{self, SetRequest};
use easbox::crm::connector::{self, Connector};
use easbox::server::{App, Settings, control, demo, users};
use easbox::store::Store;
use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "\
usage: easbox <command>

commands:
  serve --state-dir DIR [--listen-https ADDR] [--listen-http ADDR] [--hostname NAME] [--demo]
                  run the server (default: HTTPS on [::]:443, no plain HTTP) and its CRM
                  connector; --demo also runs a stand-in CRM in-process with a user `demo`
                  owning contacts, events and tasks, points the connector at it, and prints
                  the demo user's password (ActiveSync and CRM password alike)
  user passwd NAME --state-dir DIR [--enable]
                  set NAME's ActiveSync password (read from standard input), creating the user
  user add NAME --state-dir DIR [--enable]
                  the same as passwd, for a new user
  user enable NAME --state-dir DIR | user disable NAME --state-dir DIR
  user list --state-dir DIR
  crm set --state-dir DIR --url URL --user NAME --access-key KEY|- [--interval SECONDS]
          [--modules Contacts,Events,Calendar] [--check] [--ca-file PEM]
                  set the CRM and its integration user (a CRM administrator); `-` reads the
                  access key from standard input; --check logs in once and saves only if that
                  works; the interval is 5 to 86400 seconds (default 60); an https URL's
                  certificate must come from a CA of the system or of --ca-file PEM
  crm status --state-dir DIR
                  the CRM settings (without the key), the last cycle, the outbox, skipped
                  records and the CRM users with their ActiveSync state
  crm pull --state-dir DIR
                  run a connector cycle now (users, outbox, pull) and print what it did
  fake-crm --listen ADDR [--seed N] [--tz ZONE] [--user NAME:PASSWORD:ACCESSKEY[:ZONE]]...
                  run a stand-in vtenext web service (webservice.php) for trying the box
  decode [FILE]   decode an EAS WBXML body (FILE or standard input) and print it as XML
  version         print the version and the EAS protocol versions spoken
  help            this text

The user and crm commands work whether or not a server runs on DIR: with a server, they go
through its control socket (DIR/control.sock). CRM users appear as box users with ActiveSync
off; `easbox user enable NAME` turns it on.
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
    url: Option<String>,
    ca_file: Option<PathBuf>,
    user: Option<String>,
    access_key: Option<String>,
    interval: Option<String>,
    modules: Option<String>,
    check: bool,
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
            "--url" => o.url = Some(value(a)?),
            "--ca-file" => o.ca_file = Some(PathBuf::from(value(a)?)),
            "--user" => o.user = Some(value(a)?),
            "--access-key" => o.access_key = Some(value(a)?),
            "--interval" => o.interval = Some(value(a)?),
            "--modules" => o.modules = Some(value(a)?),
            "--check" => o.check = true,
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

/// Sends a request to a running server's control socket; `None` when no server listens.
fn socket_request(dir: &Path, request: &str) -> Option<Result<String, String>> {
    let socket = dir.join(control::SOCKET);
    let mut s = std::os::unix::net::UnixStream::connect(&socket).ok()?;
    let sent = s
        .write_all(request.as_bytes())
        .and_then(|_| s.shutdown(std::net::Shutdown::Write));
    if let Err(e) = sent {
        return Some(Err(format!("control socket: {e}")));
    }
    let mut answer = String::new();
    if let Err(e) = s.take(1 << 20).read_to_string(&mut answer) {
        return Some(Err(format!("control socket: {e}")));
    }
    Some(match answer.split_once('\n') {
        Some(("ok", rest)) => Ok(rest.to_owned()),
        Some((err, _)) => Err(err.trim_start_matches("error: ").to_owned()),
        None => Err(format!("control socket: unexpected answer {answer:?}")),
    })
}

/// Opens the store of `dir` for a command run without a server. `create` makes the state
/// directory and store when none exists yet (adding the first user before the server ever
/// ran).
fn open_store(dir: &Path, create: bool) -> Result<Store, String> {
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
    Store::open(&db).map_err(|e| format!("{}: {e}", db.display()))
}

/// Runs a user request through a running server's socket, or on the store directly.
fn user_request(dir: &Path, request: &str, create: bool) -> Result<String, String> {
    if let Some(answer) = socket_request(dir, request) {
        return answer;
    }
    let store = open_store(dir, create)?;
    control::execute(None, &store, request)
}

/// Runs a `crm …` request through a running server's socket, or with a connector made for
/// this command over the store (`crm pull` then runs one cycle here).
fn crm_request(dir: &Path, request: &str, create: bool) -> Result<String, String> {
    if let Some(answer) = socket_request(dir, request) {
        return answer;
    }
    let store = Arc::new(open_store(dir, create)?);
    let seal = Arc::new(SealKey::load_or_create(dir).map_err(|e| e.to_string())?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let c = Connector::new(
            store,
            CrmHandle::default(),
            seal,
            Box::new(|_| {}),
            Arc::new(tokio::sync::Notify::new()),
        );
        admin::execute(&c, request).await
    })
}

fn crm_command(args: &[String]) -> Result<(), String> {
    const USAGE: &str = "usage: easbox crm set --state-dir DIR --url URL --user NAME --access-key KEY|- [--interval SECONDS] [--modules Contacts,Events,Calendar] [--check] [--ca-file PEM], crm status --state-dir DIR, or crm pull --state-dir DIR";
    let o = parse_opts(args)?;
    let verb = match o.positional.as_slice() {
        [v] => v.as_str(),
        _ => return Err(USAGE.into()),
    };
    let dir = state_dir(&o)?;
    let (request, create) = match verb {
        "set" => {
            let url = o.url.as_deref().ok_or("crm set: --url URL is required")?;
            let user = o
                .user
                .as_deref()
                .ok_or("crm set: --user NAME is required")?;
            let key = match o.access_key.as_deref() {
                None => {
                    return Err(
                        "crm set: --access-key KEY (or - for standard input) is required".into(),
                    );
                }
                Some("-") => {
                    let mut k = String::new();
                    std::io::stdin()
                        .lock()
                        .take(4096)
                        .read_line(&mut k)
                        .map_err(|e| format!("reading the access key: {e}"))?;
                    k.trim_end_matches(['\r', '\n']).to_owned()
                }
                Some(k) => k.to_owned(),
            };
            let mut req = SetRequest::new(url, user, Secret::new(key));
            if let Some(i) = &o.interval {
                req.interval_secs = admin::parse_interval(i)?;
            }
            if let Some(m) = &o.modules {
                req.modules = admin::parse_modules(m)?;
            }
            req.check = o.check;
            if let Some(p) = &o.ca_file {
                // The server may run in another directory: it gets the absolute path.
                req.ca_file = Some(std::path::absolute(p).map_err(|e| format!("--ca-file: {e}"))?);
            }
            req.validate()?;
            (req.to_request(), true)
        }
        "status" => ("crm status\n".to_owned(), false),
        "pull" => ("crm pull\n".to_owned(), false),
        _ => return Err(USAGE.into()),
    };
    let out = crm_request(dir, &request, create)?;
    print!("{out}");
    Ok(())
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

/// A password or access key for the demo: 16 characters from an unambiguous alphabet.
fn demo_password() -> Result<String, String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("randomness: {e}"))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

/// Starts the demo CRM in-process, fills it with the demo data set, points the connector at
/// it and makes the box user `demo` (enabled, with an ActiveSync password equal to its CRM
/// password). Returns the password and the CRM's address.
async fn start_demo(store: &Arc<Store>, seal: &SealKey) -> Result<(String, String), String> {
    let password = demo_password()?;
    let admin_key = demo_password()?;
    let demo_key = demo_password()?;
    let fake =
        easbox::crm::fake::FakeCrm::new(demo::fake_config(&admin_key, &password, &demo_key))?;
    let now = jiff::Timestamp::now();
    let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let made = demo::fill_fake(&fake.handle(), 20_261_125, today, now);
    log::info!("demo: the stand-in CRM holds {made} records of user demo");
    // The stand-in CRM lives in memory and starts afresh with each demo run. A real CRM never
    // hands out an id twice; this one must not either, or a phone's new record would take the
    // id of one the box already holds from an earlier run.
    let s = store.clone();
    let highest = tokio::task::spawn_blocking(move || {
        let t = s.read().map_err(|e| e.to_string())?;
        let ids = t.crm_index_with_prefix("").map_err(|e| e.to_string())?;
        Ok::<u32, String>(
            ids.iter()
                .filter_map(|(id, _)| easbox::crm::wire::split_id(id))
                .filter_map(|(_, n)| u32::try_from(n).ok())
                .max()
                .unwrap_or(0),
        )
    })
    .await
    .map_err(|e| e.to_string())??;
    let h = fake.handle();
    if highest >= h.next_crmid() {
        h.set_next_crmid(highest.saturating_add(1));
    }
    let (addr, _handle) = fake
        .bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("demo CRM: {e}"))?;
    let url = format!("http://{addr}/");
    let settings = easbox::store::crm::CrmSettings {
        url: url.clone(),
        user: demo::DEMO_ADMIN.to_owned(),
        access_key_sealed: seal
            .seal_str(&Secret::new(admin_key))
            .map_err(|e| e.to_string())?,
        interval_secs: easbox::store::crm::MIN_PULL_INTERVAL_SECS * 3,
        modules: admin::MODULE_NAMES
            .iter()
            .map(|m| (*m).to_owned())
            .collect(),
    };
    let key_sealed = seal
        .seal_str(&Secret::new(demo_key))
        .map_err(|e| e.to_string())?;
    let s = store.clone();
    let pw = password.clone();
    tokio::task::spawn_blocking(move || {
        users::set_password(&s, demo::DEMO_USER, &Secret::new(pw), true)?;
        let mut t = s.write().map_err(|e| e.to_string())?;
        t.put_crm_settings(&settings).map_err(|e| e.to_string())?;
        // The demo user's CRM key, as a CRM password check would have left it: the
        // write-back then acts as that user.
        let mut p = t
            .crm_password(demo::DEMO_USER)
            .map_err(|e| e.to_string())?
            .unwrap_or(easbox::store::crm_index::CrmPassword {
                hash: None,
                verified_at: 0,
                access_key_sealed: None,
            });
        p.access_key_sealed = Some(key_sealed);
        t.put_crm_password(demo::DEMO_USER, &p)
            .map_err(|e| e.to_string())?;
        t.commit().map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok((password, url))
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
    let seal = Arc::new(SealKey::load_or_create(&dir).map_err(|e| e.to_string())?);
    let demo = if o.demo {
        Some(start_demo(&store, &seal).await?)
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
    // The live CRM client; the EAS side checks CRM passwords with the same handle.
    let crm = CrmHandle::default();
    let app = Arc::new(
        App::new(
            store.clone(),
            Settings {
                crm: crm.clone(),
                seal: Some(seal.clone()),
                ..Settings::default()
            },
        )
        .map_err(|e| e.to_string())?,
    );
    let connector = {
        let outbox_work = app.outbox_work.clone();
        let app = app.clone();
        Connector::new(
            store,
            crm,
            seal,
            Box::new(move |user| app.hub.notify_user(user)),
            outbox_work,
        )
    };
    if demo.is_some() {
        // The demo data is on the box before anyone is told the server is up.
        match connector.pull_now(false).await {
            Ok(report) => log::info!("demo: first CRM cycle done: {}", report.replace('\n', "; ")),
            Err(e) => log::error!("demo: first CRM cycle failed: {e}"),
        }
    }
    let mut connector_task = tokio::spawn(connector.clone().run());
    // The handlers exist before anyone is told the server is up: a SIGTERM right after the
    // addresses are printed (or READY=1 is sent) must shut down cleanly, not kill the process.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    let control = {
        let app = app.clone();
        let dir = dir.clone();
        let connector = connector.clone();
        tokio::spawn(async move {
            if let Err(e) = control::serve(app, &dir, Some(connector)).await {
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
    if let Some((p, url)) = &demo {
        println!("demo CRM: {url}");
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
    connector.shutdown();
    if tokio::time::timeout(connector::SHUTDOWN_GRACE, &mut connector_task)
        .await
        .is_err()
    {
        log::warn!("CRM connector cycle abandoned at shutdown");
        connector_task.abort();
    }
    if let Some(w) = watchdog {
        w.abort();
    }
    let _ = std::fs::remove_file(dir.join(control::SOCKET));
    Ok(())
}

/// glibc arenas for `serve` (see [`few_malloc_arenas`]).
const MALLOC_ARENAS: &str = "2";

/// glibc gives every thread that allocates its own malloc arena (up to 8 per core) and reads
/// `MALLOC_ARENA_MAX` only when the process starts. With thousands of parked Pings spread over
/// many half-empty arenas a Ping costs ~20 KiB of RSS; with two it costs ~12 KiB
/// (`cargo bench --bench server -- memory`). So `serve` started without the variable replaces
/// itself, same PID (systemd's notify socket and watchdog follow), with it set. A variable set
/// by the caller is left as it is; a failed exec is logged and the server runs on as it is.
fn few_malloc_arenas() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("MALLOC_ARENA_MAX", MALLOC_ARENAS)
        .exec();
    eprintln!("easbox: running with the default malloc arenas (re-exec failed: {err})");
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => {
            few_malloc_arenas();
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
        Some("crm") => crm_command(&args[1..]),
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
