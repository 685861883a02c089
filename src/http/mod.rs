//! The HTTP(S) front: hyper 1 over tokio, rustls for TLS ([MS-ASHTTP] 2.2.1 request, 2.2.2
//! response). It owns listeners, routing, Basic credentials, body and header limits, timeouts
//! and graceful shutdown; what an EAS request means is the [`EasHandler`]'s business.
//!
//! Routes: `POST` and `OPTIONS` on `/Microsoft-Server-ActiveSync`, `GET /health`. Anything
//! else is 404 (or 405 for a wrong method on a known path).

use crate::auth::Secret;
use crate::eas::request::{self, RequestLine};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The EAS endpoint's path ([MS-ASHTTP] 2.2.1.1.1).
pub const EAS_PATH: &str = "/Microsoft-Server-ActiveSync";

/// Caps and timeouts of the front.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body. Contact pictures make the largest legitimate bodies.
    pub max_body: u32,
    /// Time allowed to receive a request's headers, and to wait for the next request on a
    /// kept-alive connection.
    pub header_timeout: Duration,
    /// Time allowed to receive a body once the headers are in.
    pub body_timeout: Duration,
    /// Open connections at once; more are closed on accept. Parked Pings hold connections, so
    /// this is above the Ping cap.
    pub max_connections: u32,
    /// How long shutdown waits for connections to finish after parked Pings were answered.
    pub shutdown_grace: Duration,
}

impl Limits {
    pub const MAX_BODY: u32 = 16 * 1024 * 1024;
    pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
    pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);
    pub const MAX_CONNECTIONS: u32 = 12_000;
    pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: Self::MAX_BODY,
            header_timeout: Self::HEADER_TIMEOUT,
            body_timeout: Self::BODY_TIMEOUT,
            max_connections: Self::MAX_CONNECTIONS,
            shutdown_grace: Self::SHUTDOWN_GRACE,
        }
    }
}

/// One EAS request as the handler sees it.
#[derive(Debug)]
pub struct EasRequest {
    pub line: RequestLine,
    /// `DOMAIN\user` or `user@domain` already split off: the bare user name as sent.
    pub user: Option<String>,
    pub password: Option<Secret<String>>,
    pub user_agent: Option<String>,
    pub peer: IpAddr,
    pub body: Bytes,
}

/// What the handler answers.
#[derive(Debug, Default)]
pub struct EasReply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl EasReply {
    pub fn status(status: u16) -> Self {
        EasReply {
            status,
            ..EasReply::default()
        }
    }

    /// A WBXML body with status 200.
    pub fn wbxml(body: Vec<u8>) -> Self {
        EasReply {
            status: 200,
            headers: vec![("Content-Type", "application/vnd.ms-sync.wbxml".into())],
            body,
        }
    }
}

/// The application behind the front.
pub trait EasHandler: Send + Sync + 'static {
    fn handle(&self, req: EasRequest) -> impl Future<Output = EasReply> + Send;
    /// Called once when shutdown begins, before connections are drained: answer parked Pings.
    fn shutting_down(&self);
}

/// Where the front listens.
#[derive(Clone, Default)]
pub struct Config {
    pub https: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub limits: Limits,
}

/// Bound listeners, ready to serve.
pub struct Listeners {
    https: Option<(TcpListener, tokio_rustls::TlsAcceptor)>,
    http: Option<TcpListener>,
    limits: Limits,
}

impl Listeners {
    /// Binds every configured address. HTTPS needs a TLS config.
    pub async fn bind(cfg: &Config) -> std::io::Result<Listeners> {
        let https = match (cfg.https, &cfg.tls) {
            (Some(addr), Some(tls)) => Some((
                TcpListener::bind(addr).await?,
                tokio_rustls::TlsAcceptor::from(tls.clone()),
            )),
            (Some(_), None) => {
                return Err(std::io::Error::other(
                    "HTTPS listener without a certificate",
                ));
            }
            (None, _) => None,
        };
        let http = match cfg.http {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        Ok(Listeners {
            https,
            http,
            limits: cfg.limits,
        })
    }

    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes, then stops accepting, lets the handler answer its
    /// parked Pings, and waits up to the grace time for connections to finish.
    pub async fn serve<H: EasHandler>(self, handler: Arc<H>, shutdown: impl Future<Output = ()>) {
        let limits = self.limits;
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
        let (https, acceptor) = match self.https {
            Some((l, a)) => (Some(l), Some(a)),
            None => (None, None),
        };
        let http = self.http;
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                _ = &mut shutdown => break,
                r = accept(https.as_ref()) => r.map(|(s, p)| (s, p, true)),
                r = accept(http.as_ref()) => r.map(|(s, p)| (s, p, false)),
            };
            let (stream, peer, tls) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                log::warn!(
                    "connection cap {} reached; closing {peer}",
                    limits.max_connections
                );
                continue;
            };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            let watcher = graceful.watcher();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let service = service_fn(move |req| {
                    let handler = handler.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(route(&*handler, req, peer, limits).await)
                    }
                });
                let builder = {
                    let mut b = http1::Builder::new();
                    b.timer(TokioTimer::new())
                        .header_read_timeout(limits.header_timeout)
                        .keep_alive(true);
                    b
                };
                let result = if tls {
                    let Some(acceptor) = acceptor else { return };
                    let handshake =
                        tokio::time::timeout(limits.header_timeout, acceptor.accept(stream));
                    let stream = match handshake.await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            log::debug!("TLS handshake with {peer} failed: {e}");
                            return;
                        }
                        Err(_) => return,
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn).await
                } else {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn).await
                };
                if let Err(e) = result {
                    log::debug!("connection from {peer}: {e}");
                }
            });
        }
        handler.shutting_down();
        if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            log::warn!(
                "shutdown: connections still open after {:?}",
                limits.shutdown_grace
            );
        }
    }
}

/// Accepts on a listener, or never completes when there is none.
async fn accept(l: Option<&TcpListener>) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

type Body = Full<Bytes>;

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn route<H: EasHandler>(
    handler: &H,
    req: Request<Incoming>,
    peer: SocketAddr,
    limits: Limits,
) -> Response<Body> {
    let path = req.uri().path();
    if path.eq_ignore_ascii_case(EAS_PATH) {
        return match *req.method() {
            Method::OPTIONS => options(),
            Method::POST => eas(handler, req, peer.ip(), limits).await,
            _ => plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
        };
    }
    match (req.method(), path) {
        (&Method::GET, "/health") => plain(StatusCode::OK, "ok\n"),
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// OPTIONS: the versions (ascending) and commands clients look for, with an empty body.
fn options() -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()));
    for (name, value) in request::options_headers() {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            r.headers_mut().insert(n, v);
        }
    }
    r.headers_mut().insert(
        hyper::header::ALLOW,
        HeaderValue::from_static("OPTIONS,POST"),
    );
    r.headers_mut()
        .insert("Public", HeaderValue::from_static("OPTIONS,POST"));
    r
}

/// `Authorization: Basic …` → (user without domain, password). `None` when absent or
/// malformed: the handler answers 401 either way.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, Secret<String>)> {
    let value = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    let (_, user) = request::split_user(user);
    if user.is_empty() || user.len() > request::MAX_USER_LEN as usize {
        return None;
    }
    Some((user.to_owned(), Secret::new(password.to_owned())))
}

async fn eas<H: EasHandler>(
    handler: &H,
    req: Request<Incoming>,
    peer: IpAddr,
    limits: Limits,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let line = match RequestLine::parse(parts.uri.query().unwrap_or(""), &header) {
        Ok(l) => l,
        Err(e) => {
            log::info!("bad request line from {peer}: {e}");
            return plain(StatusCode::BAD_REQUEST, "bad request line\n");
        }
    };
    if parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > u64::from(limits.max_body))
    {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "body too large\n");
    }
    let collected = tokio::time::timeout(
        limits.body_timeout,
        Limited::new(body, limits.max_body as usize).collect(),
    )
    .await;
    let body = match collected {
        // A copy, not a slice: a small body is a slice of hyper's 8 KiB read buffer, and
        // holding it (a Ping parks for up to an hour) makes hyper allocate a second buffer for
        // the connection.
        Ok(Ok(b)) => Bytes::copy_from_slice(&b.to_bytes()),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return plain(StatusCode::PAYLOAD_TOO_LARGE, "body too large\n");
            }
            return plain(StatusCode::BAD_REQUEST, "body not readable\n");
        }
        Err(_) => return plain(StatusCode::REQUEST_TIMEOUT, "body too slow\n"),
    };
    let (user, password) = match basic_credentials(&parts.headers) {
        Some((u, p)) => (Some(u), Some(p)),
        None => (None, None),
    };
    let user_agent = header("User-Agent").map(|s| s.chars().take(256).collect());
    // The headers are not needed any more; a parked Ping should not keep them.
    drop(parts);
    let reply = handler
        .handle(EasRequest {
            line,
            user,
            password,
            user_agent,
            peer,
            body,
        })
        .await;
    let mut r = Response::new(Full::new(Bytes::from(reply.body)));
    *r.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in reply.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            r.headers_mut().append(n, v);
        }
    }
    r
}
