//! The HTTP side of the vtenext web service (CRM-API §1, §2.1–2.3): one keep-alive HTTP/1.1
//! connection to `{base}/webservice.php`, the session of the integration user (challenge,
//! login with `md5(token . accessKey)`, a new login when the session is lost) and `login_pwd`
//! for CRM passwords typed on a phone.
//!
//! What goes over the wire is built and read by [`super::wire`]; this file only moves bytes,
//! bounds them ([`super::wire::MAX_REPLY_BYTES`], [`CALL_TIMEOUT`]) and keeps the session.
//!
//! A credential failure of the integration user is remembered and not retried until the
//! settings change ([`Client::new`] again): vtenext locks a user after 5 failed logins and bans
//! the box's address after 100 (CRM-API §0.4).

use super::wire::{self, CrmError, LoginResult, Method, Request};
use crate::auth::Secret;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// Longest a single call may take, connect included. A slow CRM makes the connector back off;
/// it never holds a phone's request.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest a URL the settings accept, in bytes.
pub const MAX_URL_LEN: u32 = 2048;

/// Where the CRM is: `http://host[:port][/path]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path of `webservice.php`, starting with `/`.
    pub path: String,
}

impl Endpoint {
    /// Reads a base URL such as `http://crm.local/vtenext` or `http://127.0.0.1:8081/`.
    pub fn parse(url: &str) -> Result<Endpoint, CrmError> {
        let bad = |m: &str| CrmError::BadRequest(format!("CRM URL {url:?}: {m}"));
        if url.len() > MAX_URL_LEN as usize {
            return Err(bad("too long"));
        }
        let (https, rest) = if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else {
            return Err(bad("must start with http:// or https://"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("no host (or credentials in the URL)"));
        }
        if path.contains(['?', '#']) {
            return Err(bad("no query or fragment allowed"));
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("bad IPv6 host"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad("bad port"))?,
                None if after.is_empty() => default_port,
                None => return Err(bad("bad host")),
            };
            (h.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad("bad port"))?),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() || host.bytes().any(|b| b.is_ascii_whitespace() || b == b'/') {
            return Err(bad("bad host"));
        }
        let mut path = path.trim_end_matches('/').to_owned();
        if path.ends_with(wire::ENDPOINT) {
            path.truncate(path.len() - wire::ENDPOINT.len());
            path = path.trim_end_matches('/').to_owned();
        }
        path.push('/');
        path.push_str(wire::ENDPOINT);
        Ok(Endpoint {
            https,
            host,
            port,
            path,
        })
    }

    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match (self.https, self.port) {
            (false, 80) | (true, 443) => host,
            _ => format!("{host}:{}", self.port),
        }
    }
}

/// The integration user's live session.
#[derive(Clone, Debug)]
pub struct Session {
    pub name: String,
    pub login: LoginResult,
}

/// A client of one CRM as one integration user.
pub struct Client {
    endpoint: Endpoint,
    user: String,
    access_key: Secret<String>,
    conn: Mutex<Option<SendRequest<Full<Bytes>>>>,
    session: Mutex<Option<Session>>,
    /// Set after the CRM refused the integration user's key: no further login is tried.
    refused: std::sync::Mutex<Option<CrmError>>,
    calls: AtomicU64,
}

impl Client {
    pub fn new(url: &str, user: &str, access_key: Secret<String>) -> Result<Client, CrmError> {
        let endpoint = Endpoint::parse(url)?;
        if endpoint.https {
            return Err(CrmError::BadRequest(
                "https CRM URLs are not supported yet".into(),
            ));
        }
        Ok(Client {
            endpoint,
            user: user.to_owned(),
            access_key,
            conn: Mutex::new(None),
            session: Mutex::new(None),
            refused: std::sync::Mutex::new(None),
            calls: AtomicU64::new(0),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Whether the CRM refused the integration user's key (no login is tried any more).
    pub fn is_refused(&self) -> bool {
        self.refused_error().is_some()
    }

    fn refused_error(&self) -> Option<CrmError> {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// HTTP requests sent so far (for status and benchmarks).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Sends one request without a session and returns the envelope's `result`.
    pub async fn send(&self, req: &Request) -> Result<Value, CrmError> {
        match tokio::time::timeout(CALL_TIMEOUT, self.send_inner(req)).await {
            Ok(r) => r,
            Err(_) => {
                // The connection may be mid-reply; a fresh one is cleaner than draining it.
                *self.conn.lock().await = None;
                Err(CrmError::Transport("timed out".into()))
            }
        }
    }

    async fn send_inner(&self, req: &Request) -> Result<Value, CrmError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let encoded = req.encoded();
        let builder = hyper::Request::builder().header("host", self.endpoint.authority());
        let http_req = match req.method {
            Method::Get => builder
                .method("GET")
                .uri(format!("{}?{encoded}", self.endpoint.path))
                .body(Full::new(Bytes::new())),
            Method::Post => builder
                .method("POST")
                .uri(&self.endpoint.path)
                .header("content-type", wire::FORM_CONTENT_TYPE)
                .body(Full::new(Bytes::from(encoded))),
        }
        .map_err(|e| CrmError::BadRequest(e.to_string()))?;

        let mut guard = self.conn.lock().await;
        let reuse = guard.as_ref().is_some_and(|s| !s.is_closed());
        if !reuse {
            *guard = Some(self.connect().await?);
        }
        let Some(sender) = guard.as_mut() else {
            return Err(CrmError::Transport("no connection".into()));
        };
        if sender.ready().await.is_err() {
            *guard = Some(self.connect().await?);
        }
        let Some(sender) = guard.as_mut() else {
            return Err(CrmError::Transport("no connection".into()));
        };
        let resp = match sender.send_request(http_req).await {
            Ok(r) => r,
            Err(e) => {
                *guard = None;
                return Err(CrmError::Transport(e.to_string()));
            }
        };
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), wire::MAX_REPLY_BYTES as usize);
        let bytes = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                *guard = None;
                return Err(if e.is::<http_body_util::LengthLimitError>() {
                    CrmError::TooLarge
                } else {
                    CrmError::Transport(e.to_string())
                });
            }
        };
        drop(guard);
        wire::parse_envelope(status, &bytes)
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, CrmError> {
        let tcp = TcpStream::connect((self.endpoint.host.as_str(), self.endpoint.port))
            .await
            .map_err(|e| CrmError::Transport(format!("connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| CrmError::Transport(format!("handshake: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                log::debug!("CRM connection ended: {e}");
            }
        });
        Ok(sender)
    }

    /// Logs the integration user in (challenge, then login) and keeps the session.
    pub async fn login(&self) -> Result<Session, CrmError> {
        if let Some(e) = self.refused_error() {
            return Err(e);
        }
        let challenge = wire::parse_challenge(self.send(&wire::getchallenge(&self.user)).await?)?;
        let reply = self
            .send(&wire::login(
                &self.user,
                &challenge.token,
                self.access_key.expose(),
            ))
            .await;
        let login = match reply.and_then(wire::parse_login) {
            Ok(l) => l,
            Err(e) => {
                if e.code().is_some_and(|c| c.is_credential_failure()) {
                    log::error!(
                        "CRM refused the integration user {:?}: {e}; no further login until the settings change",
                        self.user
                    );
                    *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
                }
                return Err(e);
            }
        };
        let session = Session {
            name: login.session.clone(),
            login,
        };
        *self.session.lock().await = Some(session.clone());
        Ok(session)
    }

    /// The current session, logging in when there is none.
    pub async fn session(&self) -> Result<Session, CrmError> {
        if let Some(s) = self.session.lock().await.clone() {
            return Ok(s);
        }
        self.login().await
    }

    /// Runs an operation that needs a session. `build` makes the request from the session
    /// name; when the CRM says the session is gone, the client logs in again once and repeats.
    pub async fn call(
        &self,
        build: impl Fn(&str) -> Result<Request, CrmError>,
    ) -> Result<Value, CrmError> {
        let session = self.session().await?;
        match self.send(&build(&session.name)?).await {
            Err(e) if e.code().is_some_and(|c| c.is_session_lost()) => {
                let mut guard = self.session.lock().await;
                if guard.as_ref().is_some_and(|s| s.name == session.name) {
                    *guard = None;
                }
                drop(guard);
                let session = self.session().await?;
                self.send(&build(&session.name)?).await
            }
            other => other,
        }
    }

    /// Checks a user's CRM password with `login_pwd` (CRM-API §2.3): the user's access key on
    /// success. No session is opened. The caller counts failures: each one counts towards the
    /// CRM's own lockout of that user.
    pub async fn login_pwd(
        &self,
        user: &str,
        password: &Secret<String>,
    ) -> Result<Secret<String>, CrmError> {
        let v = self.send(&wire::login_pwd(user, password.expose())).await?;
        wire::parse_login_pwd(v).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_forms() {
        let e = Endpoint::parse("http://crm.local/vtenext").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("crm.local", 80, "/vtenext/webservice.php")
        );
        let e = Endpoint::parse("http://127.0.0.1:8081/").unwrap();
        assert_eq!((e.port, e.path.as_str()), (8081, "/webservice.php"));
        let e = Endpoint::parse("https://[::1]:8443/crm/webservice.php").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str(), e.https),
            ("::1", 8443, "/crm/webservice.php", true)
        );
        assert_eq!(e.authority(), "[::1]:8443");
        for bad in [
            "ftp://x",
            "http://",
            "http://u:p@host/",
            "http://h:99999/",
            "http://h/?a=b",
            "crm.local",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        let long = format!("http://h/{}", "a".repeat(MAX_URL_LEN as usize));
        assert!(Endpoint::parse(&long).is_err());
    }
}
