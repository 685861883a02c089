//! Tests of the test client (`tests/common/eas_client.rs`) against a fake HTTP/1.1 responder
//! on 127.0.0.1:0: request line in both forms ([MS-ASHTTP] 2.2.1.1.1), headers, Provision's two
//! phases, response framing (Content-Length, chunked, EOF), caps, timeouts, keep-alive, and
//! TLS with easbox's own local CA.

mod common;

use common::eas_client::{
    ClientError, EasClient, LineForm, assert_wbxml2xml_decodes, tls_config_insecure,
    tls_config_with_ca, wbxml2xml,
};
use easbox::eas::ProtocolVersion;
use easbox::eas::commands::folder_sync::{
    Folder, FolderChanges, FolderSyncRequest, FolderSyncResponse, FolderSyncStatus, FolderType,
};
use easbox::eas::commands::ping::{PingRequest, PingResponse, PingStatus};
use easbox::eas::commands::provision::{
    PolicyResponse, PolicyStatus, ProvisionRequest, ProvisionResponse, ProvisionStatus,
};
use easbox::eas::commands::sync::{
    ClientCommand, SyncCollectionResponse, SyncReply, SyncRequest, SyncResponse, SyncStatus,
};
use easbox::eas::items::Class;
use easbox::eas::request::{Command, RequestLine, header};
use easbox::eas::{Codec, from_wbxml, to_wbxml};
use easbox::wbxml::{Limits, OwnedElement, airsync, contacts};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

// ---------------------------------------------------------------------------------------------
// The fake responder.

/// A request as the fake server saw it.
#[derive(Clone, Debug)]
struct Req {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Which connection (1, 2, …) carried it.
    conn: u32,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// The request line as easbox's own parser reads it.
    fn line(&self) -> RequestLine {
        RequestLine::parse(self.query(), &|n| self.header(n))
            .unwrap_or_else(|e| panic!("the client's request line {:?}: {e}", self.target))
    }

    fn decode<T: Codec>(&self, v: ProtocolVersion) -> T {
        from_wbxml(&self.body, v, Limits::DEFAULT)
            .unwrap_or_else(|e| panic!("the client's body does not decode: {e}"))
    }
}

/// What the fake server answers.
#[derive(Clone, Debug, Default)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send the body chunked (in 3-byte chunks) instead of with Content-Length.
    chunked: bool,
    /// Send neither: the body ends where the connection does.
    until_eof: bool,
    /// Wait this long before answering.
    delay: Option<Duration>,
}

impl Resp {
    fn ok<T: Codec>(body: &T, v: ProtocolVersion) -> Resp {
        Resp {
            status: 200,
            headers: vec![(
                "Content-Type".to_owned(),
                "application/vnd.ms-sync.wbxml".to_owned(),
            )],
            body: to_wbxml(body, v, 1 << 20).expect("canned response encodes"),
            ..Resp::default()
        }
    }

    fn status(status: u16) -> Resp {
        Resp {
            status,
            ..Resp::default()
        }
    }
}

type Handler = dyn Fn(&Req) -> Resp + Send + Sync;

struct Fake {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Req>>>,
}

impl Fake {
    fn start(
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: impl Fn(&Req) -> Resp + Send + Sync + 'static,
    ) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = requests.clone();
        std::thread::spawn(move || {
            for (n, tcp) in (1u32..).zip(listener.incoming()) {
                let Ok(tcp) = tcp else { return };
                let (handler, log, tls) = (handler.clone(), log.clone(), tls.clone());
                std::thread::spawn(move || serve(tcp, n, tls, &*handler, &log));
            }
        });
        Fake { addr, requests }
    }

    fn requests(&self) -> Vec<Req> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(
    tcp: TcpStream,
    conn: u32,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: &Handler,
    log: &Mutex<Vec<Req>>,
) {
    match tls {
        None => serve_on(BufReader::new(tcp), conn, handler, log),
        Some(config) => {
            let session = rustls::ServerConnection::new(config).unwrap();
            let stream = rustls::StreamOwned::new(session, tcp);
            serve_on(BufReader::new(stream), conn, handler, log);
        }
    }
}

fn serve_on<S: Read + Write>(
    mut s: BufReader<S>,
    conn: u32,
    handler: &Handler,
    log: &Mutex<Vec<Req>>,
) {
    loop {
        let mut line = String::new();
        // EOF, a reset, or a failed TLS handshake end the connection.
        if s.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.trim_end().split(' ');
        let (method, target) = (parts.next().unwrap(), parts.next().unwrap());
        assert_eq!(parts.next(), Some("HTTP/1.1"), "request line {line:?}");
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            s.read_line(&mut h).unwrap();
            assert!(h.ends_with("\r\n"), "header without CRLF: {h:?}");
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (n, v) = h.split_once(':').unwrap();
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        let mut req = Req {
            method: method.to_owned(),
            target: target.to_owned(),
            headers,
            body: Vec::new(),
            conn,
        };
        if let Some(len) = req.header("Content-Length") {
            let mut body = vec![0; len.parse().unwrap()];
            s.read_exact(&mut body).unwrap();
            req.body = body;
        }
        log.lock().unwrap().push(req.clone());
        let resp = handler(&req);
        if let Some(d) = resp.delay {
            std::thread::sleep(d);
        }
        let mut out = format!("HTTP/1.1 {} Whatever\r\n", resp.status);
        for (n, v) in &resp.headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        let close = resp.until_eof || req.header("Connection") == Some("close");
        if close {
            out.push_str("Connection: close\r\n");
        }
        let mut out = out.into_bytes();
        if resp.chunked {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for c in resp.body.chunks(3) {
                out.extend_from_slice(format!("{:x};ext=1\r\n", c.len()).as_bytes());
                out.extend_from_slice(c);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
        } else if resp.until_eof {
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&resp.body);
        } else {
            out.extend_from_slice(
                format!("Content-Length: {}\r\n\r\n", resp.body.len()).as_bytes(),
            );
            out.extend_from_slice(&resp.body);
        }
        if s.get_mut().write_all(&out).is_err() || s.get_mut().flush().is_err() {
            return;
        }
        if close {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Canned bodies and helpers.

const V: ProtocolVersion = ProtocolVersion::V14_1;

fn client(addr: SocketAddr, v: ProtocolVersion) -> EasClient {
    EasClient::new(
        addr,
        None,
        "anna@example.com",
        "s3cret:pw",
        "DEV01",
        "SmartPhone",
        v,
    )
}

fn folders() -> FolderSyncResponse {
    FolderSyncResponse {
        status: FolderSyncStatus::Success,
        sync_key: Some("1".to_owned()),
        changes: Some(FolderChanges {
            adds: vec![
                Folder {
                    server_id: "c".to_owned(),
                    parent_id: "0".to_owned(),
                    display_name: "Contacts".to_owned(),
                    folder_type: FolderType::DefaultContacts,
                },
                Folder {
                    server_id: "k".to_owned(),
                    parent_id: "0".to_owned(),
                    display_name: "Calendar".to_owned(),
                    folder_type: FolderType::DefaultCalendar,
                },
            ],
            ..FolderChanges::default()
        }),
    }
}

fn provision_response(key: u32) -> ProvisionResponse {
    ProvisionResponse {
        device_information: None,
        status: ProvisionStatus::Success,
        policy: Some(PolicyResponse {
            policy_type: "MS-EAS-Provisioning-WBXML".to_owned(),
            status: PolicyStatus::Success,
            policy_key: Some(key),
            data: None,
        }),
        remote_wipe: false,
        account_only_remote_wipe: false,
    }
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("easbox-client-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A local CA and server certificate made by easbox into a temp dir: the server config and
/// the CA's PEM.
fn easbox_tls(tag: &str) -> (TempDir, Arc<rustls::ServerConfig>, Vec<u8>) {
    let dir = TempDir::new(tag);
    let paths = easbox::tls::ensure_certificates(
        &dir.0,
        &["box.example".to_owned()],
        &[],
        SystemTime::now(),
    )
    .unwrap();
    let config = easbox::tls::server_config(&paths).unwrap();
    let ca = std::fs::read(paths.ca.as_ref().unwrap()).unwrap();
    (dir, config, ca)
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn options_sends_basic_auth_and_reads_headers() {
    let fake = Fake::start(None, |_| Resp {
        status: 200,
        headers: vec![
            (
                "MS-ASProtocolVersions".to_owned(),
                "12.1,14.0,14.1".to_owned(),
            ),
            ("MS-ASProtocolCommands".to_owned(), "Sync,Ping".to_owned()),
        ],
        ..Resp::default()
    });
    let mut c = client(fake.addr, V);
    let r = c.options().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("ms-asprotocolversions"), Some("12.1,14.0,14.1"));
    assert_eq!(r.header("MS-ASProtocolCommands"), Some("Sync,Ping"));
    assert!(r.body.is_empty());
    let req = &fake.requests()[0];
    assert_eq!(req.method, "OPTIONS");
    assert_eq!(req.target, "/Microsoft-Server-ActiveSync");
    // base64("anna@example.com:s3cret:pw"): the password may hold a colon.
    assert_eq!(
        req.header("Authorization"),
        Some("Basic YW5uYUBleGFtcGxlLmNvbTpzM2NyZXQ6cHc=")
    );
    assert_eq!(req.header("Host"), Some(fake.addr.to_string().as_str()));
}

fn folder_sync_round_trip(form: LineForm, v: ProtocolVersion) {
    let fake = Fake::start(None, move |req| {
        let line = req.line();
        assert_eq!(line.command, Command::FolderSync);
        assert_eq!(line.user.as_deref(), Some("anna@example.com"));
        assert_eq!(line.device_id, "DEV01");
        assert_eq!(line.device_type, "SmartPhone");
        assert_eq!(line.protocol_version, Some(v));
        assert_eq!(line.policy_key, Some(0x1234_5678));
        assert_eq!(
            req.header("Content-Type"),
            Some("application/vnd.ms-sync.wbxml")
        );
        let body: FolderSyncRequest = req.decode(v);
        assert_eq!(body.sync_key, "0");
        Resp::ok(&folders(), v)
    });
    let mut c = client(fake.addr, v);
    c.form = form;
    c.policy_key = Some(0x1234_5678);
    let got = c.folder_sync("0").unwrap();
    assert_eq!(got, folders());
    let req = &fake.requests()[0];
    match form {
        LineForm::Plain => {
            assert!(req.query().starts_with("Cmd=FolderSync&"), "{}", req.target);
            assert_eq!(req.header(header::PROTOCOL_VERSION), Some(v.as_str()));
            assert_eq!(req.header(header::POLICY_KEY), Some("305419896"));
        }
        LineForm::Base64 => {
            assert!(!req.query().contains("Cmd="), "{}", req.target);
            assert_eq!(req.header(header::PROTOCOL_VERSION), None);
            assert_eq!(req.header(header::POLICY_KEY), None);
        }
    }
    assert_eq!(c.last.as_ref().unwrap().status, 200);
}

#[test]
fn folder_sync_plain_form() {
    folder_sync_round_trip(LineForm::Plain, ProtocolVersion::V14_1);
    folder_sync_round_trip(LineForm::Plain, ProtocolVersion::V16_1);
}

#[test]
fn folder_sync_base64_form() {
    folder_sync_round_trip(LineForm::Base64, ProtocolVersion::V12_1);
    folder_sync_round_trip(LineForm::Base64, ProtocolVersion::V14_1);
}

fn provision_flow(form: LineForm, v: ProtocolVersion) {
    let fake = Fake::start(None, move |req| {
        let line = req.line();
        match line.command {
            Command::Provision => {
                let body: ProvisionRequest = req.decode(v);
                let policy = body.policy.unwrap();
                match policy.policy_key {
                    None => {
                        assert_eq!(line.policy_key, None, "phase 1 sends no key");
                        assert_eq!(
                            body.device_information.is_some(),
                            v >= ProtocolVersion::V14_1,
                            "DeviceInformation from 14.1 on"
                        );
                        Resp::ok(&provision_response(111), v)
                    }
                    Some(k) => {
                        assert_eq!(k, 111, "phase 2 acknowledges the temporary key");
                        assert_eq!(policy.status.map(|s| s.as_u8()), Some(1));
                        assert_eq!(line.policy_key, Some(111));
                        Resp::ok(&provision_response(3_000_000_000), v)
                    }
                }
            }
            Command::FolderSync => {
                assert_eq!(line.policy_key, Some(3_000_000_000));
                Resp::ok(&folders(), v)
            }
            other => panic!("unexpected {other:?}"),
        }
    });
    let mut c = client(fake.addr, v);
    c.form = form;
    let p = c.provision().unwrap();
    assert_eq!(p.policy_key, 3_000_000_000);
    assert_eq!(c.policy_key, Some(3_000_000_000));
    assert_eq!(p.download.policy.unwrap().policy_key, Some(111));
    c.folder_sync("0").unwrap();
    assert_eq!(fake.requests().len(), 3);
}

#[test]
fn provision_both_phases_then_the_key_travels() {
    provision_flow(LineForm::Plain, ProtocolVersion::V14_1);
    provision_flow(LineForm::Plain, ProtocolVersion::V14_0);
    provision_flow(LineForm::Base64, ProtocolVersion::V16_1);
    provision_flow(LineForm::Base64, ProtocolVersion::V12_1);
}

#[test]
fn provision_fails_on_a_bad_status() {
    let fake = Fake::start(None, |_| {
        let mut r = provision_response(5);
        r.policy.as_mut().unwrap().status = PolicyStatus::NoPolicy;
        Resp::ok(&r, V)
    });
    let mut c = client(fake.addr, V);
    let err = c.provision().unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err}");
    assert_eq!(c.policy_key, None);
}

#[test]
fn non_200_is_an_http_error_with_the_response() {
    let fake = Fake::start(None, |_| Resp {
        headers: vec![(
            "WWW-Authenticate".to_owned(),
            "Basic realm=\"x\"".to_owned(),
        )],
        ..Resp::status(401)
    });
    let mut c = client(fake.addr, V);
    let err = c.folder_sync("0").unwrap_err();
    assert_eq!(err.http_status(), Some(401));
    let ClientError::Http(r) = err else { panic!() };
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"x\""));

    let fake = Fake::start(None, |_| Resp::status(449));
    let mut c = client(fake.addr, V);
    assert_eq!(c.folder_sync("0").unwrap_err().http_status(), Some(449));
}

#[test]
fn a_200_that_is_not_the_command_is_a_decode_error() {
    let fake = Fake::start(None, |_| Resp::ok(&folders(), V));
    let mut c = client(fake.addr, V);
    let err = c.ping(&[("c", Class::Contacts)], Some(60)).unwrap_err();
    assert!(matches!(err, ClientError::Decode { .. }), "{err}");
}

#[test]
fn sync_collection_sends_the_commands_and_reads_replies() {
    let fake = Fake::start(None, |req| {
        let body = SyncRequest::from_body(&req.body, V, Limits::DEFAULT).unwrap();
        assert_eq!(body.collections.len(), 1);
        let col = &body.collections[0];
        assert_eq!(
            (col.collection_id.as_str(), col.sync_key.as_str()),
            ("c", "5")
        );
        assert_eq!(col.window_size, Some(25));
        let [
            ClientCommand::Add {
                client_id, data, ..
            },
        ] = col.commands.as_slice()
        else {
            panic!("{:?}", col.commands)
        };
        assert_eq!(
            data.child(contacts::FIRST_NAME).and_then(|e| e.text()),
            Some("Anna")
        );
        let mut col = SyncCollectionResponse::new("6", "c", SyncStatus::Success);
        col.responses.push(SyncReply::Add {
            client_id: client_id.clone(),
            server_id: Some("c:1".to_owned()),
            status: SyncStatus::Success,
        });
        Resp::ok(
            &SyncResponse {
                collections: vec![col],
                ..SyncResponse::default()
            },
            V,
        )
    });
    let mut c = client(fake.addr, V);
    let data = OwnedElement::new(airsync::APPLICATION_DATA)
        .with(OwnedElement::leaf(contacts::FIRST_NAME, "Anna"));
    let add = ClientCommand::Add {
        class: None,
        client_id: "new-1".to_owned(),
        data,
    };
    let r = c.sync_collection("c", "5", Some(25), vec![add]).unwrap();
    let col = &r.collections[0];
    assert_eq!(col.sync_key, "6");
    assert_eq!(
        col.responses,
        vec![SyncReply::Add {
            client_id: "new-1".to_owned(),
            server_id: Some("c:1".to_owned()),
            status: SyncStatus::Success,
        }]
    );
}

#[test]
fn an_empty_sync_answer_reads_as_nothing_changed() {
    let fake = Fake::start(None, |req| {
        assert!(req.body.is_empty(), "the empty Sync request has no body");
        Resp::status(200)
    });
    let mut c = client(fake.addr, V);
    let r = c.sync(&SyncRequest::default()).unwrap();
    assert_eq!(r, SyncResponse::default());
    assert!(c.last.unwrap().body.is_empty());
}

#[test]
fn ping_round_trip_and_read_timeout() {
    let fake = Fake::start(None, |req| {
        let body: PingRequest = req.decode(V);
        assert_eq!(body.heartbeat_interval, Some(480));
        assert_eq!(body.folders.len(), 2);
        assert_eq!(body.folders[1].class, Class::Calendar);
        let mut r = PingResponse::status(PingStatus::ChangesOccurred);
        r.folders = vec!["k".to_owned()];
        Resp {
            delay: (body.folders[0].id == "slow").then_some(Duration::from_millis(1500)),
            ..Resp::ok(&r, V)
        }
    });
    let mut c = client(fake.addr, V);
    let r = c
        .ping(&[("c", Class::Contacts), ("k", Class::Calendar)], Some(480))
        .unwrap();
    assert_eq!(r.status, PingStatus::ChangesOccurred);
    assert_eq!(r.folders, vec!["k".to_owned()]);

    let err = c
        .ping_with_timeout(
            &[("slow", Class::Contacts), ("k", Class::Calendar)],
            Some(480),
            Duration::from_millis(200),
        )
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[test]
fn other_typed_helpers_encode_their_command() {
    use easbox::eas::commands::get_item_estimate::GetItemEstimateRequest;
    use easbox::eas::commands::item_operations::{FetchTarget, ItemOperationsRequest, Operation};
    use easbox::eas::commands::settings::{
        DeviceInformation, SettingsRequest, SettingsResponse, SettingsStatus,
    };
    let fake = Fake::start(None, |req| match req.line().command {
        Command::GetItemEstimate => {
            let b: GetItemEstimateRequest = req.decode(V);
            assert_eq!(b.collections[0].collection_id, "c");
            assert_eq!(b.collections[0].sync_key, "3");
            Resp::status(500)
        }
        Command::ItemOperations => {
            let b: ItemOperationsRequest = req.decode(V);
            let [Operation::Fetch(f)] = b.operations.as_slice() else {
                panic!()
            };
            assert_eq!(
                f.target,
                FetchTarget::Item {
                    collection_id: Some("c".to_owned()),
                    server_id: "c:1".to_owned()
                }
            );
            Resp::status(500)
        }
        Command::Settings => {
            let b: SettingsRequest = req.decode(V);
            assert_eq!(b.device_information.unwrap().model.as_deref(), Some("X1"));
            let mut r = SettingsResponse::status(SettingsStatus::Success);
            r.device_information = Some(SettingsStatus::Success);
            Resp::ok(&r, V)
        }
        other => panic!("{other:?}"),
    });
    let mut c = client(fake.addr, V);
    assert_eq!(
        c.get_item_estimate(&[("c", "3")])
            .unwrap_err()
            .http_status(),
        Some(500)
    );
    assert_eq!(
        c.item_operations_fetch("c", "c:1", None)
            .unwrap_err()
            .http_status(),
        Some(500)
    );
    let info = DeviceInformation {
        model: Some("X1".to_owned()),
        ..DeviceInformation::default()
    };
    let r = c.settings_device_information(info).unwrap();
    assert_eq!(r.device_information, Some(SettingsStatus::Success));
}

#[test]
fn send_raw_sends_exactly_what_it_is_given() {
    let fake = Fake::start(None, |_| Resp::status(400));
    let mut c = client(fake.addr, V);
    let r = c
        .send_raw("Cmd=Bogus&%ZZ", &[("X-Odd", "1")], b"\x03\x01")
        .unwrap();
    assert_eq!(r.status, 400);
    let req = &fake.requests()[0];
    assert_eq!(req.target, "/Microsoft-Server-ActiveSync?Cmd=Bogus&%ZZ");
    assert_eq!(req.header("X-Odd"), Some("1"));
    assert_eq!(req.header("Authorization"), None);
    assert_eq!(req.body, b"\x03\x01");
}

#[test]
fn chunked_and_eof_delimited_bodies() {
    for (chunked, until_eof) in [(true, false), (false, true)] {
        let fake = Fake::start(None, move |_| Resp {
            chunked,
            until_eof,
            ..Resp::ok(&folders(), V)
        });
        let mut c = client(fake.addr, V);
        assert_eq!(c.folder_sync("0").unwrap(), folders());
    }
}

#[test]
fn body_cap_is_enforced() {
    for chunked in [false, true] {
        let fake = Fake::start(None, move |_| Resp {
            chunked,
            ..Resp::ok(&folders(), V)
        });
        let mut c = client(fake.addr, V);
        c.max_body = 10;
        let err = c.folder_sync("0").unwrap_err();
        assert!(matches!(err, ClientError::Protocol(_)), "{err}");
    }
}

#[test]
fn keep_alive_reuses_one_connection() {
    let fake = Fake::start(None, |_| Resp::ok(&folders(), V));
    let mut c = client(fake.addr, V);
    c.keep_alive = true;
    for _ in 0..3 {
        c.folder_sync("0").unwrap();
    }
    assert_eq!(c.connections, 1);
    assert!(fake.requests().iter().all(|r| r.conn == 1));
    assert_eq!(fake.requests()[0].header("Connection"), Some("keep-alive"));

    let mut c = client(fake.addr, V);
    for _ in 0..2 {
        c.folder_sync("0").unwrap();
    }
    assert_eq!(
        c.connections, 2,
        "without keep-alive every request connects"
    );
}

#[test]
fn tls_with_the_easbox_ca() {
    let (_dir, server, ca) = easbox_tls("ok");
    let fake = Fake::start(Some(server), |_| Resp::ok(&folders(), V));
    let mut c = client(fake.addr, V);
    c.tls = Some(tls_config_with_ca(&ca));
    c.keep_alive = true;
    assert_eq!(c.folder_sync("0").unwrap(), folders());
    assert_eq!(c.folder_sync("0").unwrap(), folders());
    assert_eq!(c.connections, 1);
    // The generated certificate names box.example too.
    c.disconnect();
    c.server_name = "box.example".to_owned();
    assert_eq!(c.folder_sync("0").unwrap(), folders());

    let mut insecure = client(fake.addr, V);
    insecure.tls = Some(tls_config_insecure());
    insecure.server_name = "not-in-the-certificate.example".to_owned();
    assert_eq!(insecure.folder_sync("0").unwrap(), folders());
}

#[test]
fn tls_refuses_another_ca_and_a_wrong_name() {
    let (_dir, server, ca) = easbox_tls("srv");
    let (_other_dir, _, other_ca) = easbox_tls("other");
    let fake = Fake::start(Some(server), |_| Resp::ok(&folders(), V));

    let mut c = client(fake.addr, V);
    c.tls = Some(tls_config_with_ca(&other_ca));
    let err = c.folder_sync("0").unwrap_err();
    assert!(matches!(err, ClientError::Io(_)), "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");

    let mut c = client(fake.addr, V);
    c.tls = Some(tls_config_with_ca(&ca));
    c.server_name = "elsewhere.example".to_owned();
    assert!(c.folder_sync("0").is_err());
    assert!(
        fake.requests().is_empty(),
        "no request went over a refused handshake"
    );
}

#[test]
fn plain_client_against_tls_server_fails_cleanly() {
    let (_dir, server, _) = easbox_tls("mix");
    let fake = Fake::start(Some(server), |_| Resp::ok(&folders(), V));
    let mut c = client(fake.addr, V);
    c.timeout = Duration::from_secs(2);
    assert!(c.folder_sync("0").is_err());
}

#[test]
fn wbxml2xml_check() {
    let good = to_wbxml(&folders(), V, 1 << 20).unwrap();
    assert_wbxml2xml_decodes(&good);
    let xml = wbxml2xml(&good);
    assert!(xml.contains("<DisplayName>Contacts</DisplayName>"), "{xml}");
    let truncated = good[..good.len() - 3].to_vec();
    let failed = std::panic::catch_unwind(|| assert_wbxml2xml_decodes(&truncated));
    assert!(failed.is_err(), "a truncated body must fail the check");
}

#[test]
fn the_client_checks_each_body_with_wbxml2xml() {
    // Decodable by easbox? No matter: libwbxml refuses a body cut inside a string.
    let fake = Fake::start(None, |_| Resp {
        body: vec![0x03, 0x01, 0x6a, 0x00, 0x47, 0x52, 0x03, 0x30],
        ..Resp::status(200)
    });
    let addr = fake.addr;
    let panicked = std::thread::spawn(move || client(addr, V).folder_sync("0"))
        .join()
        .is_err();
    assert!(panicked, "the wbxml2xml check must reject the body");

    let mut c = client(addr, V);
    c.check_wbxml2xml = false;
    assert!(matches!(
        c.folder_sync("0").unwrap_err(),
        ClientError::Decode { .. }
    ));
}

#[test]
fn malformed_responses_are_protocol_errors() {
    for raw in [
        &b"HTTP/1.1 abc OK\r\n\r\n"[..],
        b"SPDY/9 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(raw).unwrap();
        });
        let mut c = client(addr, V);
        let err = c.folder_sync("0").unwrap_err();
        assert!(
            matches!(err, ClientError::Protocol(_)),
            "{:?}: {err}",
            String::from_utf8_lossy(raw)
        );
        t.join().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// tests/tools/pyactivesync_interop.py against a scripted server: proves the script drives
// pyactivesync through every step and judges the statuses, before a real server exists.

/// The Python with pyactivesync: `$EASBOX_PYTHON` (tests/run.sh sets it), else the venv
/// tests/run.sh makes. Missing is a failure, never a skip.
fn python() -> PathBuf {
    let py = std::env::var_os("EASBOX_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/python"),
        PathBuf::from,
    );
    let ok = std::process::Command::new(&py)
        .args(["-c", "import pyactivesync"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} cannot import pyactivesync: run the tests through tests/run.sh (it installs \
         tests/tools/requirements.txt into target/py) or set EASBOX_PYTHON",
        py.display()
    );
    py
}

/// A server that walks the script's steps: Provision ×2, FolderSync 0, Sync 0, Sync, Add,
/// Change, Delete. `fail_delete` answers the Delete with Status 8.
fn scripted_server(tls: Option<Arc<rustls::ServerConfig>>, fail_delete: bool) -> Fake {
    const V16: ProtocolVersion = ProtocolVersion::V16_1;
    Fake::start(tls, move |req| {
        let line = req.line();
        assert_eq!(
            line.protocol_version,
            Some(V16),
            "pyactivesync speaks 16.1 only"
        );
        match line.command {
            Command::Provision => {
                let body: ProvisionRequest = req.decode(V16);
                match body.policy.unwrap().policy_key {
                    None => Resp::ok(&provision_response(111), V16),
                    Some(111) => Resp::ok(&provision_response(222), V16),
                    Some(k) => panic!("acknowledges {k}"),
                }
            }
            Command::FolderSync => {
                assert_eq!(line.policy_key, Some(222));
                Resp::ok(&folders(), V16)
            }
            Command::Sync => {
                assert_eq!(line.policy_key, Some(222));
                let body = SyncRequest::from_body(&req.body, V16, Limits::DEFAULT).unwrap();
                let col = &body.collections[0];
                assert_eq!(col.collection_id, "c", "the Contacts folder");
                let (next, reply) = match (col.sync_key.as_str(), col.commands.as_slice()) {
                    ("0", []) => ("1", None),
                    ("1", []) => ("2", None),
                    (
                        "2",
                        [
                            ClientCommand::Add {
                                client_id, data, ..
                            },
                        ],
                    ) => {
                        assert_eq!(
                            data.child(contacts::FIRST_NAME).and_then(|e| e.text()),
                            Some("Interop")
                        );
                        let reply = SyncReply::Add {
                            client_id: client_id.clone(),
                            server_id: Some("c:1".to_owned()),
                            status: SyncStatus::Success,
                        };
                        ("3", Some(reply))
                    }
                    (
                        "3",
                        [
                            ClientCommand::Change {
                                server_id, data, ..
                            },
                        ],
                    ) => {
                        assert_eq!(server_id, "c:1");
                        assert_eq!(
                            data.child(contacts::JOB_TITLE).and_then(|e| e.text()),
                            Some("Changed")
                        );
                        ("4", None)
                    }
                    ("4", [ClientCommand::Delete { server_id, .. }]) => {
                        assert_eq!(col.deletes_as_moves, Some(false));
                        let reply = fail_delete.then(|| SyncReply::Delete {
                            server_id: server_id.clone(),
                            instance_id: None,
                            status: SyncStatus::ObjectNotFound,
                        });
                        ("5", reply)
                    }
                    other => panic!("unexpected Sync {other:?}"),
                };
                let mut c = SyncCollectionResponse::new(next, "c", SyncStatus::Success);
                c.responses.extend(reply);
                Resp::ok(
                    &SyncResponse {
                        collections: vec![c],
                        ..SyncResponse::default()
                    },
                    V16,
                )
            }
            other => panic!("unexpected {other:?}"),
        }
    })
}

fn run_interop(addr: SocketAddr, mode: &[&str]) -> (bool, String) {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/pyactivesync_interop.py");
    let out = std::process::Command::new(python())
        .arg(script)
        .arg(addr.to_string())
        .args(["anna@example.com", "pw"])
        .args(mode)
        .args(["--timeout", "10"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn pyactivesync_interop_script_walks_every_step() {
    let fake = scripted_server(None, false);
    let (ok, out) = run_interop(fake.addr, &["--plain"]);
    assert!(ok, "{out}");
    for step in [
        "Provision",
        "FolderSync 0",
        "Sync 0",
        "Sync",
        "Add",
        "Change",
        "Delete",
    ] {
        assert!(
            out.contains(&format!("ok   {step}:")),
            "{step} missing:\n{out}"
        );
    }
    assert!(out.contains("all steps OK"), "{out}");
    assert_eq!(fake.requests().len(), 8, "{out}");
}

#[test]
fn pyactivesync_interop_script_over_tls_with_the_ca() {
    let (dir, server, ca) = easbox_tls("py");
    let ca_file = dir.0.join("ca-for-python.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let fake = scripted_server(Some(server), false);
    // requests checks the certificate against 127.0.0.1, which easbox always puts in it.
    let (ok, out) = run_interop(fake.addr, &["--ca", ca_file.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("all steps OK"), "{out}");
}

#[test]
fn pyactivesync_interop_script_fails_on_a_bad_status() {
    let fake = scripted_server(None, true);
    let (ok, out) = run_interop(fake.addr, &["--plain"]);
    assert!(!ok, "{out}");
    assert!(out.contains("FAIL Delete: Status 8"), "{out}");
    assert!(!out.contains("all steps OK"), "{out}");
}
