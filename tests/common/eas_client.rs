//! A blocking EAS test client: hand-written HTTP/1.1 over `std::net::TcpStream`, plain or TLS
//! (rustls, ring), for the integration tests that talk to a real easbox server.
//!
//! It speaks [MS-ASHTTP] 2.2.1 (request line in the plain or the base64 form, with
//! `MS-ASProtocolVersion` / `X-MS-PolicyKey` headers in the plain form) and reads responses
//! with a size cap (Content-Length, chunked, or to EOF). Typed helpers encode requests with
//! easbox's own codecs and decode the answers with them; every non-empty WBXML body is also
//! fed to Debian's `wbxml2xml -l ACTIVESYNC` (see [`EasClient::check_wbxml2xml`]), so that a
//! body our decoder is lenient about still has to be WBXML another implementation reads.
//!
//! Anything unexpected is an [`ClientError`], never a panic, so that tests can assert on
//! failures (a 449, a 401, a timeout); the typed helpers return `Err(ClientError::Http)` for
//! any status other than 200.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use easbox::eas::commands::folder_sync::{FolderSyncRequest, FolderSyncResponse};
use easbox::eas::commands::get_item_estimate::{
    EstimateCollection, GetItemEstimateRequest, GetItemEstimateResponse,
};
use easbox::eas::commands::item_operations::{
    Fetch, FetchOptions, FetchTarget, ItemOperationsRequest, ItemOperationsResponse, Operation,
    STORE_MAILBOX,
};
use easbox::eas::commands::ping::{PingFolder, PingRequest, PingResponse};
use easbox::eas::commands::provision::{
    PolicyAckStatus, PolicyRequest, ProvisionRequest, ProvisionResponse,
};
use easbox::eas::commands::settings::{DeviceInformation, SettingsRequest, SettingsResponse};
use easbox::eas::commands::sync::{
    ClientCommand, SyncCollectionRequest, SyncRequest, SyncResponse,
};
use easbox::eas::items::Class;
use easbox::eas::items::body::BodyPreference;
use easbox::eas::request::{Command, RequestLine};
use easbox::eas::{Codec, ProtocolVersion};
use easbox::wbxml::Limits;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject};
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// The path every EAS request goes to ([MS-ASHTTP] 2.2.1.1.1).
pub const EAS_PATH: &str = "/Microsoft-Server-ActiveSync";
/// The Content-Type of a WBXML body ([MS-ASHTTP] 2.2.1.1.2.3).
pub const WBXML_CONTENT_TYPE: &str = "application/vnd.ms-sync.wbxml";
/// Status line plus headers of a response, at most. A server that sends more is broken.
pub const MAX_HEAD: usize = 64 * 1024;
/// Headers of a response, at most.
pub const MAX_HEADERS: usize = 100;
/// Default cap on a response body.
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;
/// Default read/write timeout of every request but Ping.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// What a Ping waits beyond its heartbeat before the client gives up on the answer.
pub const PING_GRACE: Duration = Duration::from_secs(30);
/// The cap used when encoding a request body.
pub const REQUEST_CAP: usize = 16 * 1024 * 1024;

/// Which request-line form a client uses ([MS-ASHTTP] 2.2.1.1.1.1 vs 2.2.1.1.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineForm {
    /// `?Cmd=…&User=…&DeviceId=…&DeviceType=…`, version and policy key in headers.
    Plain,
    /// The base64-encoded binary form (12.1+), version and policy key inside.
    Base64,
}

/// One HTTP response as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawResponse {
    pub status: u16,
    pub reason: String,
    /// In the order received, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header called `name`, in order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body rendered as XML by easbox's decoder, for assertion messages.
    pub fn xml(&self) -> String {
        match easbox::wbxml::parse(&self.body, Limits::DEFAULT) {
            Ok(e) => easbox::wbxml::to_xml(&e),
            Err(e) => format!("<!-- not WBXML: {e} -->"),
        }
    }

    fn wants_close(&self) -> bool {
        self.header("Connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }
}

/// Why a request did not give the expected answer.
#[derive(Debug)]
pub enum ClientError {
    /// Connect, TLS, read, write or timeout (`TimedOut` / `WouldBlock` for a read timeout).
    Io(io::Error),
    /// The response is not well-formed HTTP/1.1, or exceeds a cap.
    Protocol(String),
    /// A status other than 200 from a typed helper.
    Http(RawResponse),
    /// Our own request could not be encoded.
    Encode(easbox::eas::Error),
    /// A 200 response whose body easbox cannot decode as the expected command.
    Decode {
        error: easbox::eas::Error,
        response: RawResponse,
    },
}

impl ClientError {
    /// The HTTP status of an [`ClientError::Http`].
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ClientError::Http(r) => Some(r.status),
            _ => None,
        }
    }

    /// True for a read that ran into its timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ClientError::Io(e)
            if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock))
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "I/O: {e}"),
            ClientError::Protocol(why) => write!(f, "bad HTTP response: {why}"),
            ClientError::Http(r) => write!(
                f,
                "HTTP {} {} (headers {:?}) body {}",
                r.status,
                r.reason,
                r.headers,
                r.xml()
            ),
            ClientError::Encode(e) => write!(f, "cannot encode the request: {e}"),
            ClientError::Decode { error, response } => {
                write!(f, "cannot decode the response: {error}: {}", response.xml())
            }
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

fn protocol(why: impl Into<String>) -> ClientError {
    ClientError::Protocol(why.into())
}

/// The result of both Provision phases.
#[derive(Clone, Debug)]
pub struct Provisioned {
    /// The download phase: policy document and temporary key.
    pub download: ProvisionResponse,
    /// The acknowledgement phase: the final key.
    pub acknowledge: ProvisionResponse,
    /// The final key, now sent with every request.
    pub policy_key: u32,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A rustls client configuration that trusts only the CA certificate(s) in `ca_pem`.
pub fn tls_config_with_ca(ca_pem: &[u8]) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots
            .add(cert.expect("CA PEM parses"))
            .expect("CA certificate accepted");
    }
    assert!(!roots.is_empty(), "no certificate in the CA PEM");
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A rustls client configuration that accepts any server certificate (signatures on the
/// handshake are still checked). For tests that care about the bytes, not about trust.
pub fn tls_config_insecure() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Runs `wbxml2xml -l ACTIVESYNC` on `bytes` and returns the XML; panics, with the tool's
/// message, if it rejects them or is not installed.
pub fn wbxml2xml(bytes: &[u8]) -> String {
    let mut child = Process::new("wbxml2xml")
        .args(["-l", "ACTIVESYNC", "-m", "0", "-k", "-o", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run wbxml2xml ({e}); install it with \
                 `apt-get install libwbxml2-utils` or run the tests through tests/run.sh"
            )
        });
    // The input is small; write it all, then close stdin so the tool sees EOF.
    {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(bytes).expect("write to wbxml2xml");
    }
    let out = child.wait_with_output().expect("wait for wbxml2xml");
    assert!(
        out.status.success(),
        "wbxml2xml -l ACTIVESYNC rejects the body ({}): {}\nbody: {:02x?}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim(),
        bytes
    );
    String::from_utf8(out.stdout).expect("wbxml2xml writes UTF-8")
}

/// Asserts that Debian's libwbxml decodes `bytes` as ActiveSync WBXML.
pub fn assert_wbxml2xml_decodes(bytes: &[u8]) {
    let xml = wbxml2xml(bytes);
    assert!(
        xml.contains("<?xml"),
        "wbxml2xml printed no XML for {bytes:02x?}: {xml}"
    );
}

/// A blocking EAS client for one user and device.
///
/// Public fields may be changed between requests: e.g. switch `form`, forget `policy_key`,
/// or lower `timeout`.
pub struct EasClient {
    pub addr: SocketAddr,
    pub tls: Option<Arc<ClientConfig>>,
    /// The name the TLS certificate must carry; `localhost` by default (easbox's generated
    /// certificate always has it).
    pub server_name: String,
    pub user: String,
    pub password: String,
    pub device_id: String,
    pub device_type: String,
    pub version: ProtocolVersion,
    /// Sent with every request once known (set by [`EasClient::provision`]).
    pub policy_key: Option<u32>,
    pub form: LineForm,
    /// Read and write timeout of every request but Ping.
    pub timeout: Duration,
    /// Cap on a response body.
    pub max_body: usize,
    /// Keep the connection open between requests (HTTP/1.1 keep-alive); otherwise every
    /// request sends `Connection: close` and uses a new connection. A kept connection the
    /// server has closed meanwhile is not retried: the next request fails (call
    /// [`EasClient::disconnect`] after an idle wait).
    pub keep_alive: bool,
    /// Feed every non-empty 200 WBXML body to `wbxml2xml` (panics if it rejects it).
    pub check_wbxml2xml: bool,
    /// The last response received, whatever its status.
    pub last: Option<RawResponse>,
    /// Connections opened so far.
    pub connections: u32,
    conn: Option<BufReader<Stream>>,
}

impl EasClient {
    pub fn new(
        addr: SocketAddr,
        tls: Option<Arc<ClientConfig>>,
        user: &str,
        password: &str,
        device_id: &str,
        device_type: &str,
        version: ProtocolVersion,
    ) -> Self {
        EasClient {
            addr,
            tls,
            server_name: "localhost".to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
            device_id: device_id.to_owned(),
            device_type: device_type.to_owned(),
            version,
            policy_key: None,
            form: LineForm::Plain,
            timeout: DEFAULT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            keep_alive: false,
            check_wbxml2xml: true,
            last: None,
            connections: 0,
            conn: None,
        }
    }

    /// The `Authorization` header value.
    pub fn basic_auth(&self) -> String {
        let raw = format!("{}:{}", self.user, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// The request line this client would send for `cmd` (to be adjusted by a test and
    /// passed to [`EasClient::post_line`]).
    pub fn request_line(&self, cmd: Command) -> RequestLine {
        let mut line = RequestLine::new(cmd, &self.device_id, &self.device_type);
        line.user = Some(self.user.clone());
        line.protocol_version = Some(self.version);
        line.policy_key = self.policy_key;
        line
    }

    /// The query (after `?`) and extra headers of `line` in this client's form.
    pub fn encode_line(
        &self,
        line: &RequestLine,
    ) -> Result<(String, Vec<(String, String)>), ClientError> {
        match self.form {
            LineForm::Plain => {
                let q = line.to_query_plain().map_err(ClientError::Encode)?;
                let h = line
                    .plain_headers()
                    .into_iter()
                    .map(|(n, v)| (n.to_owned(), v))
                    .collect();
                Ok((q, h))
            }
            LineForm::Base64 => Ok((
                line.to_query_base64().map_err(ClientError::Encode)?,
                Vec::new(),
            )),
        }
    }

    /// `OPTIONS /Microsoft-Server-ActiveSync`: the status and headers (versions, commands).
    pub fn options(&mut self) -> Result<RawResponse, ClientError> {
        let headers = vec![("Authorization".to_owned(), self.basic_auth())];
        self.exchange("OPTIONS", EAS_PATH, &headers, None, self.timeout)
    }

    /// POSTs `body` (already WBXML, or empty) for `cmd`, whatever the answer's status.
    pub fn post(&mut self, cmd: Command, body: Vec<u8>) -> Result<RawResponse, ClientError> {
        let line = self.request_line(cmd);
        self.post_line(&line, body)
    }

    /// POSTs `body` with a request line built by the caller.
    pub fn post_line(
        &mut self,
        line: &RequestLine,
        body: Vec<u8>,
    ) -> Result<RawResponse, ClientError> {
        let timeout = self.timeout;
        self.post_line_timeout(line, body, timeout)
    }

    fn post_line_timeout(
        &mut self,
        line: &RequestLine,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<RawResponse, ClientError> {
        let (query, mut headers) = self.encode_line(line)?;
        headers.push(("Authorization".to_owned(), self.basic_auth()));
        headers.push(("Content-Type".to_owned(), WBXML_CONTENT_TYPE.to_owned()));
        let r = self.exchange(
            "POST",
            &format!("{EAS_PATH}?{query}"),
            &headers,
            Some(&body),
            timeout,
        )?;
        if self.check_wbxml2xml && r.status == 200 && !r.body.is_empty() {
            assert_wbxml2xml_decodes(&r.body);
        }
        Ok(r)
    }

    /// POSTs exactly what it is given: `query` after `?` (no encoding), `headers` as the
    /// only headers besides Host, Content-Length and Connection (no Authorization unless
    /// given). For bad-input tests.
    pub fn send_raw(
        &mut self,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<RawResponse, ClientError> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let path = if query.is_empty() {
            EAS_PATH.to_owned()
        } else {
            format!("{EAS_PATH}?{query}")
        };
        let timeout = self.timeout;
        self.exchange("POST", &path, &headers, Some(body), timeout)
    }

    /// Sends any method and path, with `headers` as given (no Authorization added).
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<RawResponse, ClientError> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let timeout = self.timeout;
        self.exchange(method, path, &headers, body, timeout)
    }

    /// Encodes `req`, POSTs it and decodes a 200 answer as `Resp`.
    pub fn call<Req: Codec, Resp: Codec>(
        &mut self,
        cmd: Command,
        req: &Req,
    ) -> Result<Resp, ClientError> {
        let timeout = self.timeout;
        self.call_timeout(cmd, req, timeout)
    }

    fn call_timeout<Req: Codec, Resp: Codec>(
        &mut self,
        cmd: Command,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, ClientError> {
        let body =
            easbox::eas::to_wbxml(req, self.version, REQUEST_CAP).map_err(ClientError::Encode)?;
        let line = self.request_line(cmd);
        let r = self.post_line_timeout(&line, body, timeout)?;
        self.decode(r)
    }

    fn decode<Resp: Codec>(&self, r: RawResponse) -> Result<Resp, ClientError> {
        if r.status != 200 {
            return Err(ClientError::Http(r));
        }
        easbox::eas::from_wbxml(&r.body, self.version, Limits::DEFAULT)
            .map_err(|error| ClientError::Decode { error, response: r })
    }

    /// Both Provision phases ([MS-ASPROV] 3.1.5.1): download the policy (with
    /// DeviceInformation from 14.1 on), acknowledge the temporary key, and keep the final key
    /// for every later request. Fails unless both phases answer Status 1 with a key.
    pub fn provision(&mut self) -> Result<Provisioned, ClientError> {
        let device_information =
            (self.version >= ProtocolVersion::V14_1).then(|| DeviceInformation {
                model: Some("easbox-test".to_owned()),
                friendly_name: Some("easbox test client".to_owned()),
                os: Some("Linux".to_owned()),
                user_agent: Some("easbox-test-client/1".to_owned()),
                ..DeviceInformation::default()
            });
        let phase1 = ProvisionRequest {
            device_information,
            policy: Some(PolicyRequest::download()),
            ..ProvisionRequest::default()
        };
        let download: ProvisionResponse = self.call(Command::Provision, &phase1)?;
        let temp = Self::provision_key(&download, "download")?;
        // The acknowledgement carries the temporary key in the body and, as iOS and Outlook
        // do, in the header.
        self.policy_key = Some(temp);
        let phase2 = ProvisionRequest {
            policy: Some(PolicyRequest::acknowledge(temp, PolicyAckStatus::Success)),
            ..ProvisionRequest::default()
        };
        let acknowledge: ProvisionResponse = self.call(Command::Provision, &phase2)?;
        let policy_key = Self::provision_key(&acknowledge, "acknowledge")?;
        self.policy_key = Some(policy_key);
        Ok(Provisioned {
            download,
            acknowledge,
            policy_key,
        })
    }

    fn provision_key(r: &ProvisionResponse, phase: &str) -> Result<u32, ClientError> {
        use easbox::eas::commands::provision::{PolicyStatus, ProvisionStatus};
        if r.status != ProvisionStatus::Success {
            return Err(protocol(format!(
                "Provision {phase}: status {:?}",
                r.status
            )));
        }
        let policy = r
            .policy
            .as_ref()
            .ok_or_else(|| protocol(format!("Provision {phase}: no Policy")))?;
        if policy.status != PolicyStatus::Success {
            return Err(protocol(format!(
                "Provision {phase}: policy status {:?}",
                policy.status
            )));
        }
        policy
            .policy_key
            .ok_or_else(|| protocol(format!("Provision {phase}: no PolicyKey")))
    }

    /// FolderSync from `sync_key` (`"0"` for the whole hierarchy).
    pub fn folder_sync(&mut self, sync_key: &str) -> Result<FolderSyncResponse, ClientError> {
        let req = FolderSyncRequest {
            sync_key: sync_key.to_owned(),
        };
        self.call(Command::FolderSync, &req)
    }

    /// Any Sync request. An empty 200 body (the server's "nothing changed") reads as
    /// `SyncResponse::default()`; look at [`EasClient::last`] to tell it apart.
    pub fn sync(&mut self, req: &SyncRequest) -> Result<SyncResponse, ClientError> {
        let body = req
            .to_body(self.version, REQUEST_CAP)
            .map_err(ClientError::Encode)?;
        let line = self.request_line(Command::Sync);
        let r = self.post_line(&line, body)?;
        if r.status == 200 && r.body.is_empty() {
            return Ok(SyncResponse::default());
        }
        self.decode(r)
    }

    /// A Sync of one collection: `sync_key`, `window` items at most, and `commands` (Add,
    /// Change, Delete, Fetch) from the client. GetChanges is left to the server's default
    /// (true except for key 0).
    pub fn sync_collection(
        &mut self,
        collection_id: &str,
        sync_key: &str,
        window: Option<u32>,
        commands: Vec<ClientCommand>,
    ) -> Result<SyncResponse, ClientError> {
        let req = SyncRequest {
            collections: vec![SyncCollectionRequest {
                sync_key: sync_key.to_owned(),
                collection_id: collection_id.to_owned(),
                window_size: window,
                commands,
                ..SyncCollectionRequest::default()
            }],
            ..SyncRequest::default()
        };
        self.sync(&req)
    }

    /// Ping on `folders`; waits for the answer until the heartbeat plus [`PING_GRACE`] (or
    /// [`DEFAULT_TIMEOUT`] when no heartbeat is sent).
    pub fn ping(
        &mut self,
        folders: &[(&str, Class)],
        heartbeat: Option<u32>,
    ) -> Result<PingResponse, ClientError> {
        let timeout = match heartbeat {
            Some(h) => Duration::from_secs(u64::from(h)) + PING_GRACE,
            None => DEFAULT_TIMEOUT,
        };
        self.ping_with_timeout(folders, heartbeat, timeout)
    }

    /// Ping with an explicit read timeout (a test that expects the server to answer early
    /// sets it short; a timeout is `Err(ClientError::Io)` with [`ClientError::is_timeout`]).
    pub fn ping_with_timeout(
        &mut self,
        folders: &[(&str, Class)],
        heartbeat: Option<u32>,
        timeout: Duration,
    ) -> Result<PingResponse, ClientError> {
        let req = PingRequest {
            heartbeat_interval: heartbeat,
            folders: folders
                .iter()
                .map(|(id, class)| PingFolder {
                    id: (*id).to_owned(),
                    class: *class,
                })
                .collect(),
        };
        self.call_timeout(Command::Ping, &req, timeout)
    }

    /// GetItemEstimate for `(collection_id, sync_key)` pairs.
    pub fn get_item_estimate(
        &mut self,
        collections: &[(&str, &str)],
    ) -> Result<GetItemEstimateResponse, ClientError> {
        let req = GetItemEstimateRequest {
            collections: collections
                .iter()
                .map(|(id, key)| EstimateCollection {
                    sync_key: (*key).to_owned(),
                    collection_id: (*id).to_owned(),
                    ..EstimateCollection::default()
                })
                .collect(),
        };
        self.call(Command::GetItemEstimate, &req)
    }

    /// ItemOperations Fetch of one item, with an optional body preference.
    pub fn item_operations_fetch(
        &mut self,
        collection_id: &str,
        server_id: &str,
        body: Option<BodyPreference>,
    ) -> Result<ItemOperationsResponse, ClientError> {
        let req = ItemOperationsRequest {
            operations: vec![Operation::Fetch(Fetch {
                store: STORE_MAILBOX.to_owned(),
                target: FetchTarget::Item {
                    collection_id: Some(collection_id.to_owned()),
                    server_id: server_id.to_owned(),
                },
                options: FetchOptions {
                    body_preferences: body.into_iter().collect(),
                    ..FetchOptions::default()
                },
            })],
        };
        self.call(Command::ItemOperations, &req)
    }

    /// Settings with a DeviceInformation Set.
    pub fn settings_device_information(
        &mut self,
        info: DeviceInformation,
    ) -> Result<SettingsResponse, ClientError> {
        let req = SettingsRequest {
            device_information: Some(info),
            ..SettingsRequest::default()
        };
        self.call(Command::Settings, &req)
    }

    /// Drops the kept-alive connection, if any.
    pub fn disconnect(&mut self) {
        self.conn = None;
    }

    // -----------------------------------------------------------------------------------------
    // HTTP/1.1

    fn connect(&mut self, timeout: Duration) -> Result<BufReader<Stream>, ClientError> {
        let tcp = TcpStream::connect_timeout(&self.addr, timeout)?;
        tcp.set_nodelay(true)?;
        self.connections += 1;
        let stream = match &self.tls {
            None => Stream::Plain(tcp),
            Some(config) => {
                let name = ServerName::try_from(self.server_name.clone())
                    .map_err(|e| protocol(format!("bad server name: {e}")))?;
                let conn = ClientConnection::new(config.clone(), name)
                    .map_err(|e| protocol(format!("TLS client: {e}")))?;
                Stream::Tls(Box::new(StreamOwned::new(conn, tcp)))
            }
        };
        Ok(BufReader::new(stream))
    }

    fn exchange(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<RawResponse, ClientError> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect(timeout)?,
        };
        conn.get_ref().tcp().set_read_timeout(Some(timeout))?;
        conn.get_ref().tcp().set_write_timeout(Some(timeout))?;

        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if let Some(b) = body {
            head.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        head.push_str(if self.keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        let mut out = head.into_bytes();
        out.extend_from_slice(body.unwrap_or_default());
        conn.get_mut().write_all(&out)?;
        conn.get_mut().flush()?;

        let (r, reusable) = read_response(&mut conn, method == "HEAD", self.max_body)?;
        if self.keep_alive && reusable && !r.wants_close() {
            self.conn = Some(conn);
        }
        self.last = Some(r.clone());
        Ok(r)
    }
}

/// Reads one response; the flag says whether the connection may carry another.
fn read_response(
    conn: &mut BufReader<Stream>,
    head_only: bool,
    max_body: usize,
) -> Result<(RawResponse, bool), ClientError> {
    loop {
        let (status, reason, headers) = read_head(conn)?;
        // 1xx answers (100 Continue) come before the real one.
        if (100..200).contains(&status) {
            continue;
        }
        let mut r = RawResponse {
            status,
            reason,
            headers,
            body: Vec::new(),
        };
        if head_only || status == 204 || status == 304 {
            return Ok((r, true));
        }
        let chunked = r
            .header("Transfer-Encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            r.body = read_chunked(conn, max_body)?;
            return Ok((r, true));
        }
        if let Some(len) = r.header("Content-Length") {
            let len: usize = len
                .trim()
                .parse()
                .map_err(|_| protocol(format!("bad Content-Length {len:?}")))?;
            if len > max_body {
                return Err(protocol(format!("body of {len} bytes over the cap")));
            }
            let mut body = vec![0u8; len];
            conn.read_exact(&mut body)?;
            r.body = body;
            return Ok((r, true));
        }
        r.body = read_to_eof(conn, max_body)?;
        return Ok((r, false));
    }
}

/// One CRLF-terminated line, without the CRLF, adding its length to `used`.
fn read_line(conn: &mut BufReader<Stream>, used: &mut usize) -> Result<String, ClientError> {
    let mut line = Vec::new();
    let room = MAX_HEAD.saturating_sub(*used) as u64 + 1;
    let n = conn.by_ref().take(room).read_until(b'\n', &mut line)?;
    *used += n;
    if n == 0 {
        return Err(ClientError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a full response",
        )));
    }
    if *used > MAX_HEAD {
        return Err(protocol("response head over the cap"));
    }
    if !line.ends_with(b"\r\n") {
        return Err(protocol("header line without CRLF"));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| protocol("header line not UTF-8"))
}

type Head = (u16, String, Vec<(String, String)>);

fn read_head(conn: &mut BufReader<Stream>) -> Result<Head, ClientError> {
    let mut used = 0;
    let status_line = read_line(conn, &mut used)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(protocol(format!("status line {status_line:?}")));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| protocol(format!("status line {status_line:?}")))?;
    let reason = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let line = read_line(conn, &mut used)?;
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(protocol("too many headers"));
        }
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| protocol(format!("header line {line:?}")))?;
        if n.is_empty() || n.contains(' ') {
            return Err(protocol(format!("header name {n:?}")));
        }
        headers.push((n.to_owned(), v.trim().to_owned()));
    }
    Ok((status, reason, headers))
}

fn read_chunked(conn: &mut BufReader<Stream>, max_body: usize) -> Result<Vec<u8>, ClientError> {
    let mut body = Vec::new();
    loop {
        let mut used = 0;
        let size_line = read_line(conn, &mut used)?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| protocol(format!("chunk size {size_line:?}")))?;
        if size == 0 {
            // Trailers, then the blank line.
            while !read_line(conn, &mut used)?.is_empty() {}
            return Ok(body);
        }
        if body.len().saturating_add(size) > max_body {
            return Err(protocol("chunked body over the cap"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        conn.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        conn.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(protocol("chunk not followed by CRLF"));
        }
    }
}

fn read_to_eof(conn: &mut BufReader<Stream>, max_body: usize) -> Result<Vec<u8>, ClientError> {
    let mut body = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return Ok(body),
            Ok(n) => {
                if body.len() + n > max_body {
                    return Err(protocol("body over the cap"));
                }
                body.extend_from_slice(&buf[..n]);
            }
            // A TLS peer that closes without close_notify: the body ends at the TCP EOF.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(body),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}
