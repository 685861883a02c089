//! `easbox crm set|status|pull` (issue 4 §2): the checks on the settings, their text form on
//! the control socket, and the status report. The same code runs in a server (through the
//! control socket, `server::control`) and in the command when no server holds the store.
//!
//! Request form on the socket: the command line (`crm set`, `crm status`, `crm pull`), then for
//! `crm set` one `name=value` line per setting, the access key last. The socket is owner-only
//! and nothing here logs a request.

use super::client::{Client, ClientOptions, Endpoint};
use super::connector::Connector;
use super::wire::CrmError;
use crate::auth::Secret;
use crate::store::crm::{
    CrmSettings, DEFAULT_PULL_INTERVAL_SECS, MAX_PULL_INTERVAL_SECS, MIN_PULL_INTERVAL_SECS,
};
use crate::store::{Store, StoreError};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The modules `--modules` accepts (CRM names; `Calendar` = tasks).
pub const MODULE_NAMES: [&str; 3] = ["Contacts", "Events", "Calendar"];
/// Longest integration user name, bytes.
pub const MAX_USER_LEN: u32 = 255;
/// Longest access key, bytes (vtenext's are 16 characters).
pub const MAX_ACCESS_KEY_LEN: u32 = 256;
/// Longest `--ca-file` path, bytes (Linux's PATH_MAX).
pub const MAX_CA_FILE_PATH_LEN: u32 = 4096;

/// What `easbox crm set` asks for.
#[derive(Debug)]
pub struct SetRequest {
    pub url: String,
    pub user: String,
    pub access_key: Secret<String>,
    pub interval_secs: u32,
    pub modules: Vec<String>,
    /// Log in once before storing, and store only when that works.
    pub check: bool,
    /// Extra CA file (PEM, absolute path) for an https CRM with a private CA; `None` removes
    /// the one set before.
    pub ca_file: Option<PathBuf>,
}

/// `Contacts,Events` → the module names, checked, without repeats, in the order given.
pub fn parse_modules(s: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for m in s.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let Some(known) = MODULE_NAMES.iter().find(|k| k.eq_ignore_ascii_case(m)) else {
            return Err(format!(
                "unknown module {m:?} (known: {})",
                MODULE_NAMES.join(", ")
            ));
        };
        if !out.iter().any(|o| o == known) {
            out.push((*known).to_owned());
        }
    }
    if out.is_empty() {
        return Err(format!(
            "--modules needs at least one of {}",
            MODULE_NAMES.join(", ")
        ));
    }
    Ok(out)
}

/// `--interval SECONDS`, within the bounds.
pub fn parse_interval(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .trim()
        .parse()
        .map_err(|_| format!("--interval: not a number of seconds: {s:?}"))?;
    if !(MIN_PULL_INTERVAL_SECS..=MAX_PULL_INTERVAL_SECS).contains(&n) {
        return Err(format!(
            "--interval must be {MIN_PULL_INTERVAL_SECS} to {MAX_PULL_INTERVAL_SECS} seconds, not {n}"
        ));
    }
    Ok(n)
}

impl SetRequest {
    /// A request with the defaults for what was not given.
    pub fn new(url: &str, user: &str, access_key: Secret<String>) -> SetRequest {
        SetRequest {
            url: url.trim().to_owned(),
            user: user.trim().to_owned(),
            access_key,
            interval_secs: DEFAULT_PULL_INTERVAL_SECS,
            modules: MODULE_NAMES.iter().map(|m| (*m).to_owned()).collect(),
            check: false,
            ca_file: None,
        }
    }

    fn client_options(&self) -> ClientOptions {
        ClientOptions {
            ca_file: self.ca_file.clone(),
        }
    }

    /// Checks every field; the error says which one and why (never with the key).
    pub fn validate(&self) -> Result<(), String> {
        let key = self.access_key.expose();
        if key.is_empty() {
            return Err("--access-key is empty".into());
        }
        if key.len() > MAX_ACCESS_KEY_LEN as usize
            || key.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "--access-key must be 1 to {MAX_ACCESS_KEY_LEN} characters without spaces"
            ));
        }
        if self.user.is_empty()
            || self.user.len() > MAX_USER_LEN as usize
            || self.user.chars().any(char::is_control)
        {
            return Err(format!("--user must be 1 to {MAX_USER_LEN} characters"));
        }
        if self
            .url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!("--url {:?}: no spaces allowed", self.url));
        }
        let endpoint = Endpoint::parse(&self.url).map_err(|e| format!("--url: {}", plain(e)))?;
        if let Some(ca) = &self.ca_file {
            if !endpoint.https {
                return Err("--ca-file is only for https:// URLs".into());
            }
            let text = ca.to_str().unwrap_or_default();
            if !ca.is_absolute()
                || text.is_empty()
                || text.len() > MAX_CA_FILE_PATH_LEN as usize
                || text.chars().any(char::is_control)
            {
                return Err(format!(
                    "--ca-file {}: must be an absolute path of at most {MAX_CA_FILE_PATH_LEN} bytes",
                    ca.display()
                ));
            }
            self.client_options()
                .check()
                .map_err(|e| format!("--ca-file: {}", plain(e)))?;
        }
        // The client takes exactly what the connector will use.
        Client::new_with(
            &self.url,
            &self.user,
            Secret::new(String::new()),
            self.client_options(),
        )
        .map_err(|e| format!("--url: {}", plain(e)))?;
        if !(MIN_PULL_INTERVAL_SECS..=MAX_PULL_INTERVAL_SECS).contains(&self.interval_secs) {
            return Err(format!(
                "--interval must be {MIN_PULL_INTERVAL_SECS} to {MAX_PULL_INTERVAL_SECS} seconds"
            ));
        }
        parse_modules(&self.modules.join(","))?;
        Ok(())
    }

    /// The socket form (see the module doc).
    pub fn to_request(&self) -> String {
        format!(
            "crm set\nurl={}\nuser={}\ninterval={}\nmodules={}\ncheck={}\n{}access_key={}\n",
            self.url,
            self.user,
            self.interval_secs,
            self.modules.join(","),
            u8::from(self.check),
            self.ca_file
                .as_deref()
                .map_or(String::new(), |p| format!("ca_file={}\n", p.display())),
            self.access_key.expose()
        )
    }

    /// Reads the lines after `crm set`.
    pub fn from_request(body: &str) -> Result<SetRequest, String> {
        let mut r = SetRequest::new("", "", Secret::new(String::new()));
        for line in body.lines() {
            let (k, v) = line.split_once('=').ok_or("crm set: a line without `=`")?;
            match k {
                "url" => r.url = v.to_owned(),
                "user" => r.user = v.to_owned(),
                "interval" => r.interval_secs = parse_interval(v)?,
                "modules" => r.modules = parse_modules(v)?,
                "check" => r.check = v == "1",
                "ca_file" => r.ca_file = Some(PathBuf::from(v)),
                "access_key" => r.access_key = Secret::new(v.to_owned()),
                other => return Err(format!("crm set: unknown setting {other:?}")),
            }
        }
        r.validate()?;
        Ok(r)
    }
}

/// Runs a `crm …` request with `connector` (the server's, or one made for this command).
pub async fn execute(connector: &Connector, request: &str) -> Result<String, String> {
    let (command, rest) = request.split_once('\n').unwrap_or((request, ""));
    match command.trim() {
        "crm set" => set(connector, SetRequest::from_request(rest)?).await,
        "crm status" => {
            let store = connector.store().clone();
            tokio::task::spawn_blocking(move || status_text(&store))
                .await
                .map_err(|e| e.to_string())?
        }
        "crm pull" => connector
            .pull_now(true)
            .await
            .map_err(|e| format!("pull failed: {e}")),
        other => Err(format!("unknown request {other:?}")),
    }
}

async fn set(connector: &Connector, req: SetRequest) -> Result<String, String> {
    req.validate()?;
    let mut out = String::new();
    if req.check {
        let client = Client::new_with(
            &req.url,
            &req.user,
            Secret::new(req.access_key.expose().clone()),
            req.client_options(),
        )
        .map_err(|e| e.to_string())?;
        let session = client
            .login()
            .await
            .map_err(|e| format!("login check failed, settings not saved: {e}"))?;
        let _ = writeln!(
            out,
            "login checked: the CRM knows {:?} as {}",
            req.user, session.login.user_id
        );
    }
    let sealed = connector
        .seal()
        .seal_str(&req.access_key)
        .map_err(|e| e.to_string())?;
    let settings = CrmSettings {
        url: req.url.clone(),
        user: req.user.clone(),
        access_key_sealed: sealed,
        interval_secs: req.interval_secs,
        modules: req.modules.clone(),
    };
    // validate() checked that the path is UTF-8.
    let ca_file = req
        .ca_file
        .as_deref()
        .and_then(Path::to_str)
        .map(str::to_owned);
    let store = connector.store().clone();
    tokio::task::spawn_blocking(move || {
        let mut t = store.write()?;
        t.put_crm_settings(&settings)?;
        t.put_crm_ca_file(ca_file.as_deref())?;
        // New settings start a new count: the old failures were against other settings.
        let mut s = t.crm_status()?;
        s.failures = 0;
        t.put_crm_status(&s)?;
        t.commit()
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    connector.settings_changed();
    let _ = writeln!(
        out,
        "CRM settings saved: {} as {:?}, every {} s, modules {}{}",
        req.url,
        req.user,
        req.interval_secs,
        req.modules.join(","),
        req.ca_file
            .as_deref()
            .map_or(String::new(), |p| format!(", CA file {}", p.display()))
    );
    Ok(out)
}

/// The text of an error without the "bad CRM request" of a request never sent.
fn plain(e: CrmError) -> String {
    match e {
        CrmError::BadRequest(m) => m,
        e => e.to_string(),
    }
}

fn time_text(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// The report of `easbox crm status`: settings without the key, the last cycle, the outbox,
/// skipped records and the CRM users with their box state.
pub fn status_text(store: &Store) -> Result<String, String> {
    let e = |e: StoreError| e.to_string();
    let t = store.read().map_err(e)?;
    let mut out = String::new();
    match t.crm_settings().map_err(e)? {
        None => out.push_str("settings: none (set them with `easbox crm set`)\n"),
        Some(s) => {
            let _ = writeln!(out, "url: {}", s.url);
            let _ = writeln!(out, "user: {}", s.user);
            let _ = writeln!(out, "interval: {} s", s.interval_secs);
            let _ = writeln!(out, "modules: {}", s.modules.join(","));
            if let Some(ca) = t.crm_ca_file().map_err(e)? {
                let _ = writeln!(out, "ca file: {ca}");
            }
        }
    }
    let st = t.crm_status().map_err(e)?;
    let _ = writeln!(
        out,
        "last success: {}",
        st.last_success.map_or("never".to_owned(), time_text)
    );
    match &st.last_error {
        None => out.push_str("last error: none\n"),
        Some((at, text)) => {
            let _ = writeln!(out, "last error: {} {text}", time_text(*at));
        }
    }
    let _ = writeln!(out, "failures: {}", st.failures);
    let methods: Vec<String> = st.methods.iter().map(|(m, p)| format!("{m}={p}")).collect();
    let _ = writeln!(
        out,
        "methods: {}",
        if methods.is_empty() {
            "-".to_owned()
        } else {
            methods.join(", ")
        }
    );
    let pending = super::outbox::pending_len(&t).map_err(e)?;
    let _ = writeln!(out, "outbox: {pending}");
    let _ = writeln!(out, "skipped: {}", st.skipped.len());
    for (id, why) in &st.skipped {
        let _ = writeln!(out, "  {id}: {why}");
    }
    let crm_users = t.crm_users().map_err(e)?;
    let _ = writeln!(out, "crm users: {}", crm_users.len());
    for (name, u) in crm_users {
        let box_state = match t.user(&name).map_err(e)? {
            Some(b) if b.enabled => "enabled",
            Some(_) => "disabled",
            None => "no box user",
        };
        let _ = writeln!(
            out,
            "  {name}\t{}\t{}\t{}{}",
            u.crm_id,
            if u.active { "active" } else { "inactive" },
            box_state,
            if u.is_admin { "\tadmin" } else { "" }
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> SetRequest {
        SetRequest::new(
            "http://127.0.0.1:8081/",
            "admin",
            Secret::new("AdminAccessKey00".into()),
        )
    }

    #[test]
    fn a_good_request_round_trips_through_its_socket_form() {
        let mut r = req();
        r.modules = parse_modules("contacts, Events,Contacts").unwrap();
        r.interval_secs = 5;
        r.check = true;
        r.validate().unwrap();
        let text = r.to_request();
        let (cmd, body) = text.split_once('\n').unwrap();
        assert_eq!(cmd, "crm set");
        let back = SetRequest::from_request(body).unwrap();
        assert_eq!(back.url, r.url);
        assert_eq!(back.user, "admin");
        assert_eq!(back.access_key.expose(), "AdminAccessKey00");
        assert_eq!(back.interval_secs, 5);
        assert_eq!(back.modules, vec!["Contacts", "Events"]);
        assert!(back.check);
        // Debug never shows the key.
        assert!(!format!("{back:?}").contains("AdminAccessKey00"));
    }

    #[test]
    fn an_https_request_with_a_ca_file_round_trips() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).unwrap();
        let path = std::env::temp_dir().join(format!("easbox-admin-ca-{}.pem", std::process::id()));
        std::fs::write(&path, ca.pem()).unwrap();
        let r = SetRequest {
            ca_file: Some(path.clone()),
            ..SetRequest::new("https://10.0.0.5/vtenext", "admin", Secret::new("k".into()))
        };
        r.validate().unwrap();
        let text = r.to_request();
        let back = SetRequest::from_request(text.split_once('\n').unwrap().1).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(back.ca_file, Some(path));
        assert_eq!(back.url, "https://10.0.0.5/vtenext");
        // Without the option, no line: an older request form reads the same.
        assert!(!req().to_request().contains("ca_file"));
    }

    #[test]
    fn bad_fields_say_which() {
        let cases: Vec<(SetRequest, &str)> = vec![
            (
                SetRequest::new("ftp://x", "admin", Secret::new("k".into())),
                "--url",
            ),
            (
                SetRequest {
                    ca_file: Some("/etc/ssl/certs/ca-certificates.crt".into()),
                    ..req()
                },
                "only for https",
            ),
            (
                SetRequest {
                    ca_file: Some("office-ca.pem".into()),
                    ..SetRequest::new("https://crm/", "admin", Secret::new("k".into()))
                },
                "absolute",
            ),
            (
                SetRequest {
                    ca_file: Some("/nonexistent/office-ca.pem".into()),
                    ..SetRequest::new("https://crm/", "admin", Secret::new("k".into()))
                },
                "--ca-file: CA file /nonexistent/office-ca.pem",
            ),
            (
                SetRequest::new("http://crm/", "", Secret::new("k".into())),
                "--user",
            ),
            (
                SetRequest::new("http://crm/", "a", Secret::new(String::new())),
                "--access-key",
            ),
            (
                SetRequest::new("http://crm/", "a", Secret::new("a b".into())),
                "--access-key",
            ),
            (
                SetRequest {
                    interval_secs: 4,
                    ..req()
                },
                "--interval",
            ),
            (
                SetRequest {
                    modules: vec!["Leads".into()],
                    ..req()
                },
                "Leads",
            ),
        ];
        for (r, want) in cases {
            let e = r.validate().unwrap_err();
            assert!(e.contains(want), "{e} lacks {want}");
        }
        assert!(parse_interval("86401").unwrap_err().contains("--interval"));
        assert!(parse_interval("x").unwrap_err().contains("--interval"));
        assert_eq!(parse_interval("86400"), Ok(86_400));
        assert!(parse_modules("").is_err());
        assert!(SetRequest::from_request("bogus=1").is_err());
        // https is accepted, with or without a CA file.
        SetRequest::new(
            "https://crm.office.lan/vtenext",
            "a",
            Secret::new("k".into()),
        )
        .validate()
        .unwrap();
        assert!(SetRequest::from_request("no equals").is_err());
    }
}
