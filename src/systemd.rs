//! The service manager side of `easbox serve`: readiness and watchdog notifications
//! (sd_notify(3), sd_watchdog_enabled(3)) and logging to the journal or to stderr.
//!
//! Everything here is a no-op outside systemd: without `NOTIFY_SOCKET` the notifications send
//! nothing, without `WATCHDOG_USEC` there is no watchdog, and logs go to stderr. Both crates
//! used (`sd-notify`, `systemd-journal-logger`) are pure Rust, so no libsystemd is linked and
//! cross builds need no target library.
//!
//! How `serve` is expected to use it:
//! 1. [`init_logging`] first thing;
//! 2. bind the listeners and open the store, then [`notify_ready`];
//! 3. if [`watchdog_interval`] is `Some`, call [`notify_watchdog`] every
//!    [`watchdog_ping_period`] **from the async runtime** (a tokio interval task), not from a
//!    thread of its own: the point of the watchdog is that a stalled runtime stops the pings
//!    and systemd restarts the process;
//! 4. on SIGTERM, [`notify_stopping`] before the graceful shutdown.
//!
//! **Secrets are never logged.** Log lines name users, devices and commands, never a password,
//! an `Authorization` header, a policy key's secret material, a TLS private key or a request
//! body (bodies hold contacts and calendars). `auth::Secret` has no `Display`; do not add one,
//! and do not log `{:?}` of request headers. The journal keeps what it is given, readable to
//! the `adm` and `systemd-journal` groups.

use std::io::Write;
use std::time::Duration;

use log::{LevelFilter, Log, Metadata, Record};

/// Tells systemd that start-up is complete (`READY=1`): listeners bound, store open. With
/// `Type=notify` the unit stays "activating" until this arrives.
pub fn notify_ready() {
    send(&[sd_notify::NotifyState::Ready]);
}

/// Tells systemd that a graceful shutdown has begun (`STOPPING=1`).
pub fn notify_stopping() {
    send(&[sd_notify::NotifyState::Stopping]);
}

/// A one-line status shown by `systemctl status` (`STATUS=…`). Newlines are replaced, since
/// the notification protocol is line-based and a newline would start a new assignment.
pub fn notify_status(status: &str) {
    let line = status.replace(['\n', '\r'], " ");
    send(&[sd_notify::NotifyState::Status(&line)]);
}

/// Keep-alive for the watchdog (`WATCHDOG=1`). See [`watchdog_ping_period`] for how often.
pub fn notify_watchdog() {
    send(&[sd_notify::NotifyState::Watchdog]);
}

/// A failed notification is logged and otherwise ignored: the server keeps serving, and if
/// READY or the watchdog really cannot reach systemd, systemd's own timeouts act on it.
fn send(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        log::warn!("sd_notify failed: {e}");
    }
}

/// The watchdog timeout systemd enforces on this process (`WatchdogSec=` of the unit), or
/// `None` when there is no watchdog or it is meant for another process.
pub fn watchdog_interval() -> Option<Duration> {
    parse_watchdog(
        std::env::var("WATCHDOG_USEC").ok().as_deref(),
        std::env::var("WATCHDOG_PID").ok().as_deref(),
        std::process::id(),
    )
}

/// How often to call [`notify_watchdog`]: half the timeout, as sd_watchdog_enabled(3)
/// recommends, so one late tick does not cost a restart.
pub fn watchdog_ping_period() -> Option<Duration> {
    watchdog_interval().map(|t| t / 2)
}

/// `WATCHDOG_USEC` and `WATCHDOG_PID` as sd_watchdog_enabled(3) reads them: a positive number
/// of microseconds, and when a PID is given it must be ours (a child that inherited the
/// variables must not ping for its parent). Anything malformed means no watchdog.
fn parse_watchdog(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok()?;
    if usec == 0 {
        return None;
    }
    if let Some(pid) = pid {
        let pid: u32 = pid.trim().parse().ok()?;
        if pid != own_pid {
            return None;
        }
    }
    Some(Duration::from_micros(usec))
}

/// Where [`init_logging`] sends log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSink {
    /// The systemd journal, with structured fields (PRIORITY, CODE_FILE, TARGET, …).
    Journal,
    /// Plain lines on stderr.
    Stderr,
}

/// Installs the global `log` logger at `level`: the journal when started by systemd, else
/// stderr. Returns the sink chosen. Calling it twice keeps the first logger (and reports the
/// sink of the second attempt's choice only if it could be installed).
///
/// "Started by systemd" means stderr is the journal stream systemd connected
/// (`JOURNAL_STREAM` names stderr's device and inode, as systemd.exec(5) describes) or
/// `INVOCATION_ID` is set (a unit whose stderr goes elsewhere). If the journal socket
/// cannot be opened, stderr is used.
pub fn init_logging(level: LevelFilter) -> LogSink {
    let sink = if started_by_systemd() {
        match systemd_journal_logger::JournalLog::new() {
            Ok(journal) => {
                let journal = journal.with_syslog_identifier("easbox".to_owned());
                match journal.install() {
                    Ok(()) => Some(LogSink::Journal),
                    Err(_) => None,
                }
            }
            Err(_) => install_stderr(),
        }
    } else {
        install_stderr()
    };
    log::set_max_level(level);
    sink.unwrap_or(LogSink::Stderr)
}

fn install_stderr() -> Option<LogSink> {
    log::set_boxed_logger(Box::new(StderrLog))
        .ok()
        .map(|()| LogSink::Stderr)
}

fn started_by_systemd() -> bool {
    choose_journal(
        systemd_journal_logger::connected_to_journal(),
        std::env::var_os("INVOCATION_ID").is_some_and(|v| !v.is_empty()),
    )
}

/// Kept as a function of its inputs so the rule is tested without touching the environment.
fn choose_journal(stderr_is_journal_stream: bool, has_invocation_id: bool) -> bool {
    stderr_is_journal_stream || has_invocation_id
}

/// Minimal stderr logger: `2026-01-02T03:04:05.678Z INFO target: message`. One `write_all`
/// per record so lines from several threads do not interleave.
struct StderrLog;

impl Log for StderrLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_line(
            &jiff::Timestamp::now().round(jiff::Unit::Millisecond).ok(),
            record,
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

fn format_line(now: &Option<jiff::Timestamp>, record: &Record<'_>) -> String {
    let mut line = match now {
        Some(t) => format!("{t} "),
        None => String::new(),
    };
    line.push_str(&format!(
        "{:<5} {}: {}",
        record.level(),
        record.target(),
        record.args()
    ));
    // One record is one line, so a message cannot forge a second log line.
    let mut line = line.replace(['\n', '\r'], " ");
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::process::Command;

    #[test]
    fn watchdog_env_rules() {
        let us = |s| Some(Duration::from_micros(s));
        assert_eq!(parse_watchdog(Some("30000000"), None, 7), us(30_000_000));
        assert_eq!(
            parse_watchdog(Some("30000000"), Some("7"), 7),
            us(30_000_000)
        );
        assert_eq!(parse_watchdog(Some("30000000"), Some("8"), 7), None);
        assert_eq!(parse_watchdog(Some("30000000"), Some("x"), 7), None);
        assert_eq!(parse_watchdog(Some("0"), None, 7), None);
        assert_eq!(parse_watchdog(Some("-5"), None, 7), None);
        assert_eq!(parse_watchdog(Some(""), None, 7), None);
        assert_eq!(parse_watchdog(None, Some("7"), 7), None);
    }

    #[test]
    fn journal_choice() {
        assert!(choose_journal(true, false));
        assert!(choose_journal(false, true));
        assert!(!choose_journal(false, false));
    }

    #[test]
    fn stderr_line_is_one_line() {
        let args = format_args!("bad\nINFO forged: line");
        let record = Record::builder()
            .args(args)
            .level(log::Level::Warn)
            .target("easbox::http")
            .build();
        let line = format_line(&None, &record);
        assert_eq!(line, "WARN  easbox::http: bad INFO forged: line\n");
    }

    /// Set only in the child processes; the `child_*` tests do nothing without it, so
    /// `cargo test -- --include-ignored` stays green.
    const CHILD: &str = "EASBOX_SYSTEMD_CHILD_TEST";

    fn in_child() -> bool {
        std::env::var_os(CHILD).is_some()
    }

    /// Runs one test of this binary in a child process with `env`, so the real functions
    /// read a real environment (setting variables in this process would need `unsafe`).
    fn child(test: &str, env: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
        cmd.args([
            "--exact",
            test,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .env_remove("INVOCATION_ID")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run child test");
        assert!(out.status.success(), "child {test} failed: {out:?}");
        out
    }

    #[test]
    #[ignore = "run by notify_reaches_socket in a child process"]
    fn child_notify() {
        if !in_child() {
            return;
        }
        assert_eq!(watchdog_interval(), Some(Duration::from_secs(4)));
        assert_eq!(watchdog_ping_period(), Some(Duration::from_secs(2)));
        notify_status("starting\nup");
        notify_ready();
        notify_watchdog();
        notify_stopping();
    }

    #[test]
    fn notify_reaches_socket() {
        let dir = std::env::temp_dir().join(format!("easbox-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).expect("bind");
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        child(
            "systemd::tests::child_notify",
            &[
                ("NOTIFY_SOCKET", path.to_str().expect("utf-8 path")),
                ("WATCHDOG_USEC", "4000000"),
            ],
        );
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        for _ in 0..4 {
            let n = sock.recv(&mut buf).expect("datagram");
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        assert_eq!(
            got,
            [
                "STATUS=starting up\n",
                "READY=1\n",
                "WATCHDOG=1\n",
                "STOPPING=1\n"
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    #[ignore = "run by no_systemd_means_no_ops_and_stderr in a child process"]
    fn child_plain() {
        if !in_child() {
            return;
        }
        assert_eq!(watchdog_interval(), None);
        notify_ready(); // no NOTIFY_SOCKET: must not fail or block
        notify_watchdog();
        assert_eq!(init_logging(LevelFilter::Info), LogSink::Stderr);
        log::info!(target: "easbox::probe", "hello from the child");
        log::debug!(target: "easbox::probe", "filtered out");
    }

    #[test]
    fn no_systemd_means_no_ops_and_stderr() {
        let out = child("systemd::tests::child_plain", &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.lines()
                .any(|l| l.ends_with("INFO  easbox::probe: hello from the child")),
            "stderr: {err}"
        );
        assert!(!err.contains("filtered out"), "stderr: {err}");
    }

    #[test]
    #[ignore = "run by invocation_id_without_journal_falls_back in a child process"]
    fn child_invocation_without_journal() {
        if !in_child() {
            return;
        }
        // INVOCATION_ID says systemd, but this box has no journald socket: stderr it is.
        let sink = init_logging(LevelFilter::Info);
        let journal_up = std::path::Path::new("/run/systemd/journal/socket").exists();
        if !journal_up {
            assert_eq!(sink, LogSink::Stderr);
        }
        log::info!(target: "easbox::probe", "sink {sink:?}");
    }

    #[test]
    fn invocation_id_without_journal_falls_back() {
        let out = child(
            "systemd::tests::child_invocation_without_journal",
            &[("INVOCATION_ID", "0123456789abcdef0123456789abcdef")],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        if !std::path::Path::new("/run/systemd/journal/socket").exists() {
            assert!(err.contains("easbox::probe: sink Stderr"), "stderr: {err}");
        }
    }
}
