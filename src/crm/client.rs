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
//!
//! `https://` URLs go over TLS (RFC 8446, rustls with the ring provider): the server's
//! certificate is checked against the system's CA bundle ([`SYSTEM_CA_BUNDLE`]) plus an
//! optional CA file of the office ([`ClientOptions::ca_file`]), and its name against the URL's
//! host (RFC 6125; an IP address host must be an IP address SAN). There is no way to skip the
//! check: the access key and every user's password go over this connection. A TLS failure is a
//! [`CrmError::Transport`] whose text names the cause ("certificate not trusted", "not valid for
//! host …"), transient like any unreachable CRM: the admin fixes the CA file or the CRM's
//! certificate and the next attempt works without a restart.

use super::wire::{self, CrmError, LoginResult, Method, Request};
use crate::auth::Secret;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// Longest a single call may take, connect included. A slow CRM makes the connector back off;
/// it never holds a phone's request.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest a URL the settings accept, in bytes.
pub const MAX_URL_LEN: u32 = 2048;

/// The CAs the system trusts: Debian's bundle (package `ca-certificates`), PEM.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Largest CA file read, bytes (Debian's bundle is about 220 KB).
pub const MAX_CA_FILE_BYTES: u32 = 4 * 1024 * 1024;
/// Most certificates taken from one CA file (Debian's bundle has about 150).
pub const MAX_CA_CERTS: u32 = 1000;

/// How to reach the CRM beyond its URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientOptions {
    /// PEM file with the CA(s) of a CRM whose certificate comes from a private CA, trusted in
    /// addition to [`SYSTEM_CA_BUNDLE`]. Only used for `https://` URLs.
    pub ca_file: Option<PathBuf>,
}

impl ClientOptions {
    /// Reads the CA files as an https client would: a missing or unusable
    /// [`ClientOptions::ca_file`] is a [`CrmError::BadRequest`] naming the file.
    pub fn check(&self) -> Result<(), CrmError> {
        tls_config(self.ca_file.as_deref()).map(drop)
    }
}

/// Where the CRM is: `http[s]://host[:port][/path]`.
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
    /// For `https://`: the TLS settings and the name the certificate must carry.
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    options: ClientOptions,
    conn: Mutex<Option<SendRequest<Full<Bytes>>>>,
    session: Mutex<Option<Session>>,
    /// Set after the CRM refused the integration user's key: no further login is tried.
    refused: std::sync::Mutex<Option<CrmError>>,
    calls: AtomicU64,
}

impl Client {
    /// A client trusting the system's CAs only (see [`Client::new_with`]).
    pub fn new(url: &str, user: &str, access_key: Secret<String>) -> Result<Client, CrmError> {
        Client::new_with(url, user, access_key, ClientOptions::default())
    }

    /// A client of the CRM at `url`. For `https://`, the CA files are read here: a missing or
    /// unusable `options.ca_file` is a [`CrmError::BadRequest`] naming the file.
    pub fn new_with(
        url: &str,
        user: &str,
        access_key: Secret<String>,
        options: ClientOptions,
    ) -> Result<Client, CrmError> {
        let endpoint = Endpoint::parse(url)?;
        let tls = if endpoint.https {
            let name = ServerName::try_from(endpoint.host.clone()).map_err(|_| {
                CrmError::BadRequest(format!(
                    "CRM URL {url:?}: {:?} is not a host name for TLS",
                    endpoint.host
                ))
            })?;
            Some((tls_config(options.ca_file.as_deref())?, name))
        } else {
            None
        };
        Ok(Client {
            endpoint,
            tls,
            options,
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

    /// What the client was made with (clients of single users reuse the admin's).
    pub fn options(&self) -> &ClientOptions {
        &self.options
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
        match &self.tls {
            None => http1(TokioIo::new(tcp)).await,
            Some((config, name)) => {
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| tls_error(&e, &self.endpoint.host))?;
                http1(TokioIo::new(tls)).await
            }
        }
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

/// HTTP/1.1 over an open connection; the connection runs in its own task until it closes.
async fn http1<IO>(io: IO) -> Result<SendRequest<Full<Bytes>>, CrmError>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| CrmError::Transport(format!("handshake: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            log::debug!("CRM connection ended: {e}");
        }
    });
    Ok(sender)
}

/// A failed TLS handshake in words an admin can act on.
fn tls_error(e: &std::io::Error, host: &str) -> CrmError {
    use rustls::{AlertDescription, CertificateError, Error as TlsError};
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<TlsError>()) else {
        return CrmError::Transport(format!(
            "TLS handshake with {host} failed: {e} (is it an https port?)"
        ));
    };
    let text = match tls {
        TlsError::InvalidCertificate(CertificateError::UnknownIssuer) => format!(
            "TLS: the certificate of {host} is not trusted (issued by an unknown CA; give that \
             CA with `easbox crm set --ca-file`)"
        ),
        TlsError::InvalidCertificate(CertificateError::NotValidForNameContext {
            presented,
            ..
        }) => format!(
            "TLS: the certificate is not valid for host {host} (it names {})",
            presented.join(", ")
        ),
        TlsError::InvalidCertificate(CertificateError::NotValidForName) => {
            format!("TLS: the certificate is not valid for host {host}")
        }
        TlsError::InvalidCertificate(
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. },
        ) => format!(
            "TLS: the certificate of {host} has expired or is not valid yet (check the clocks): {tls}"
        ),
        TlsError::InvalidCertificate(_) => {
            format!("TLS: the certificate of {host} is not accepted: {tls}")
        }
        TlsError::PeerIncompatible(_)
        | TlsError::AlertReceived(
            AlertDescription::ProtocolVersion | AlertDescription::HandshakeFailure,
        ) => format!(
            "TLS: {host} and the box share no TLS version or cipher suite ({tls}); the box \
             speaks {}",
            tls_versions()
        ),
        TlsError::InvalidMessage(_) => {
            format!("TLS handshake with {host} failed: {tls} (is it an https port?)")
        }
        other => format!("TLS handshake with {host} failed: {other}"),
    };
    CrmError::Transport(text)
}

fn tls_versions() -> String {
    rustls::DEFAULT_VERSIONS
        .iter()
        .map(|v| format!("{:?}", v.version))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a TLS configuration was built from: the CA file and the size and time of both files,
/// so a replaced file is read again.
type TlsKey = (Option<PathBuf>, [Option<(u64, Option<SystemTime>)>; 2]);

/// The last TLS configuration built: the connector makes a client per user with the same CA
/// files, which then share one set of parsed CAs.
static TLS_CACHE: std::sync::Mutex<Option<(TlsKey, Arc<ClientConfig>)>> =
    std::sync::Mutex::new(None);

fn file_stamp(p: &Path) -> Option<(u64, Option<SystemTime>)> {
    std::fs::metadata(p)
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

/// The client TLS configuration: ring, rustls's safe protocol versions, ALPN `http/1.1`, the
/// system's CAs and those of `ca_file`.
fn tls_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, CrmError> {
    let key: TlsKey = (
        ca_file.map(Path::to_path_buf),
        [
            file_stamp(Path::new(SYSTEM_CA_BUNDLE)),
            ca_file.and_then(file_stamp),
        ],
    );
    let mut cache = TLS_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((k, config)) = cache.as_ref()
        && *k == key
    {
        return Ok(config.clone());
    }
    let mut roots = rustls::RootCertStore::empty();
    match read_ca_file(Path::new(SYSTEM_CA_BUNDLE)) {
        Ok(certs) => {
            roots.add_parsable_certificates(certs);
        }
        Err(e) => log::warn!("system CAs not usable, only a CA file is trusted: {e}"),
    }
    if let Some(path) = ca_file {
        let bad = |m: String| CrmError::BadRequest(format!("CA file {}: {m}", path.display()));
        let certs = read_ca_file(path).map_err(&bad)?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate in it".into()));
        }
        for (i, c) in certs.into_iter().enumerate() {
            roots
                .add(c)
                .map_err(|e| bad(format!("certificate {} unusable: {e}", i + 1)))?;
        }
    }
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| CrmError::BadRequest(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = Arc::new(config);
    *cache = Some((key, config.clone()));
    Ok(config)
}

/// The certificates of a PEM file, at most [`MAX_CA_FILE_BYTES`] and [`MAX_CA_CERTS`].
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(u64::from(MAX_CA_FILE_BYTES) + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() > MAX_CA_FILE_BYTES as usize {
        return Err(format!(
            "{}: larger than {MAX_CA_FILE_BYTES} bytes",
            path.display()
        ));
    }
    let mut certs = Vec::new();
    for c in CertificateDer::pem_slice_iter(&bytes) {
        let c = c.map_err(|e| format!("{}: not PEM: {e}", path.display()))?;
        if certs.len() >= MAX_CA_CERTS as usize {
            return Err(format!(
                "{}: more than {MAX_CA_CERTS} certificates",
                path.display()
            ));
        }
        certs.push(c);
    }
    Ok(certs)
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

    fn temp(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("easbox-client-{tag}-{}.pem", std::process::id()))
    }

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn ca_file_caps() {
        let pem = ca_pem();
        let path = temp("many");
        std::fs::write(&path, pem.repeat(MAX_CA_CERTS as usize)).unwrap();
        assert_eq!(read_ca_file(&path).unwrap().len(), MAX_CA_CERTS as usize);
        std::fs::write(&path, pem.repeat(MAX_CA_CERTS as usize + 1)).unwrap();
        let e = read_ca_file(&path).unwrap_err();
        assert!(e.contains("more than"), "{e}");
        let big = vec![b'#'; MAX_CA_FILE_BYTES as usize + 1];
        std::fs::write(&path, big).unwrap();
        let e = read_ca_file(&path).unwrap_err();
        assert!(e.contains("larger than"), "{e}");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn https_clients_name_the_server_by_host_or_address() {
        let path = temp("names");
        std::fs::write(&path, ca_pem()).unwrap();
        let opts = ClientOptions {
            ca_file: Some(path.clone()),
        };
        let key = || Secret::new("k".to_owned());
        for (url, ip) in [
            ("https://crm.office.lan/vtenext", false),
            ("https://192.168.1.5:8443/", true),
            ("https://[fd00::5]/", true),
        ] {
            let c = Client::new_with(url, "admin", key(), opts.clone()).unwrap();
            let Some((_, name)) = &c.tls else {
                panic!("{url}: no TLS")
            };
            assert_eq!(matches!(name, ServerName::IpAddress(_)), ip, "{url}");
            assert_eq!(c.options(), &opts);
        }
        assert!(
            Client::new("http://crm/", "a", key())
                .unwrap()
                .tls
                .is_none()
        );
        let _ = std::fs::remove_file(&path);
    }
}
