//! The HTTP front on a real socket (127.0.0.1:0) with a recording handler: routing, OPTIONS,
//! limits, credentials and graceful shutdown. The EAS application is tested elsewhere.

use easbox::http::{Config, EasHandler, EasReply, EasRequest, Limits, Listeners};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<String>>,
    shut: Mutex<bool>,
}

impl EasHandler for Recorder {
    async fn handle(&self, req: EasRequest) -> EasReply {
        let pw = req.password.as_ref().map(|p| p.expose().clone());
        self.seen.lock().unwrap().push(format!(
            "{}|{}|{:?}|{:?}|{}",
            req.line.command.as_str(),
            req.line.device_id,
            req.user,
            pw,
            req.body.len()
        ));
        EasReply::wbxml(vec![3, 1, 0x6a, 0])
    }
    fn shutting_down(&self) {
        *self.shut.lock().unwrap() = true;
    }
}

struct Server {
    addr: std::net::SocketAddr,
    handler: Arc<Recorder>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn start(limits: Limits) -> Server {
    let handler = Arc::new(Recorder::default());
    let h = handler.clone();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let cfg = Config {
                http: Some("127.0.0.1:0".parse().unwrap()),
                limits,
                ..Config::default()
            };
            let l = Listeners::bind(&cfg).await.unwrap();
            addr_tx.send(l.http_addr().unwrap()).unwrap();
            l.serve(h, async {
                let _ = stop_rx.await;
            })
            .await;
        });
    });
    Server {
        addr: addr_rx.recv().unwrap(),
        handler,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends one raw request and returns (status, headers+body text).
fn raw(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

const Q: &str =
    "/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=anna&DeviceId=dev1&DeviceType=Android";

#[test]
fn options_lists_versions_ascending_and_commands() {
    let s = start(Limits::default());
    let (status, text) = raw(
        s.addr,
        b"OPTIONS /Microsoft-Server-ActiveSync HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{text}");
    let lower = text.to_ascii_lowercase();
    assert!(
        lower.contains("ms-asprotocolversions: 12.1,14.0,14.1,16.0,16.1"),
        "{text}"
    );
    assert!(lower.contains("ms-asprotocolcommands:"), "{text}");
    assert!(lower.contains("ms-server-activesync:"), "{text}");
}

#[test]
fn post_reaches_the_handler_with_credentials() {
    let s = start(Limits::default());
    let req = format!(
        "POST {Q} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\nMS-ASProtocolVersion: 14.1\r\nContent-Length: 4\r\nConnection: close\r\n\r\n\x03\x01\x6a\x00",
        // OFFICE\anna:pw:with:colons
        "T0ZGSUNFXGFubmE6cHc6d2l0aDpjb2xvbnM="
    );
    let (status, text) = raw(s.addr, req.as_bytes());
    assert_eq!(status, 200, "{text}");
    let seen = s.handler.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        ["FolderSync|dev1|Some(\"anna\")|Some(\"pw:with:colons\")|4"]
    );
}

#[test]
fn bad_request_line_is_400_and_unknown_paths_404_and_wrong_method_405() {
    let s = start(Limits::default());
    let (status, _) = raw(
        s.addr,
        b"POST /Microsoft-Server-ActiveSync?Cmd=Nope&User=a&DeviceId=d&DeviceType=t HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 400);
    let (status, _) = raw(
        s.addr,
        b"POST /Microsoft-Server-ActiveSync?bm90IGJhc2U2NA HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 400);
    let (status, _) = raw(
        s.addr,
        b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 404);
    let (status, _) = raw(
        s.addr,
        b"GET /Microsoft-Server-ActiveSync HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 405);
    let (status, _) = raw(
        s.addr,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(s.handler.seen.lock().unwrap().is_empty());
}

#[test]
fn body_cap_gives_413_declared_or_streamed() {
    let s = start(Limits {
        max_body: 1024,
        ..Limits::default()
    });
    let declared = format!(
        "POST {Q} HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw(s.addr, declared.as_bytes()).0, 413);
    let mut chunked = format!(
        "POST {Q} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..3 {
        chunked.extend_from_slice(b"200\r\n");
        chunked.extend_from_slice(&[b'a'; 0x200]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw(s.addr, &chunked).0, 413);
    let ok = format!(
        "POST {Q} HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n{}",
        "a".repeat(1024)
    );
    assert_eq!(raw(s.addr, ok.as_bytes()).0, 200);
}

#[test]
fn malformed_credentials_reach_the_handler_as_none() {
    let s = start(Limits::default());
    for auth in ["Basic !!!", "Bearer abc", "Basic Zm9v"] {
        let req = format!(
            "POST {Q} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(raw(s.addr, req.as_bytes()).0, 200);
    }
    let seen = s.handler.seen.lock().unwrap().clone();
    assert!(seen.iter().all(|l| l.contains("|None|None|")), "{seen:?}");
}

#[test]
fn shutdown_tells_the_handler_first() {
    let s = start(Limits::default());
    let handler = s.handler.clone();
    drop(s);
    assert!(*handler.shut.lock().unwrap());
}

#[test]
fn silent_and_idle_connections_are_closed_after_the_header_timeout() {
    let s = start(Limits {
        header_timeout: Duration::from_millis(500),
        ..Limits::default()
    });
    // A client that connects and never sends a request.
    let mut silent = TcpStream::connect(s.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 256];
    let n = silent.read(&mut buf).unwrap_or(0);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "silent connection still open after {waited:?} (read {n} bytes)"
    );
    // A kept-alive connection that goes idle after one request.
    let mut idle = TcpStream::connect(s.addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let started = std::time::Instant::now();
    let mut all = Vec::new();
    let _ = idle.read_to_end(&mut all);
    let waited = started.elapsed();
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
    assert!(
        waited < Duration::from_secs(5),
        "idle keep-alive connection still open after {waited:?}"
    );
}
