//! `crm::client` against the fake vtenext over real loopback sockets: login, a session lost
//! and re-established, login_pwd, the integration user refused once and never retried, and
//! faults surfacing as transient errors. Then the same over https: a TLS terminator in front
//! of the fake (a private CA made here), trusted through a CA file, and the failures an admin
//! meets (CA not given, certificate for another name, an http port behind an https URL).

use easbox::auth::Secret;
use easbox::crm::client::{Client, ClientOptions};
use easbox::crm::fake::{FakeConfig, FakeCrm, FakeHandle, FakeUser, FaultKind};
use easbox::crm::wire::{self, ApiCode, CrmError};

async fn fake(users: Vec<FakeUser>) -> (String, FakeHandle) {
    let cfg = FakeConfig {
        users,
        ..FakeConfig::default()
    };
    let (addr, handle) = FakeCrm::new(cfg)
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    (format!("http://{addr}/"), handle)
}

fn users() -> Vec<FakeUser> {
    vec![
        FakeUser::new("admin", "adminpw", "AdminAccessKey00", ""),
        FakeUser::new(
            "mrossi",
            "Pass1234!",
            "PVW7C7EyRVrVJjec",
            "America/New_York",
        ),
    ]
}

#[tokio::test]
async fn login_query_and_relogin_after_logout() {
    let (url, crm) = fake(users()).await;
    let c = Client::new(&url, "admin", Secret::new("AdminAccessKey00".into())).unwrap();
    let s = c.login().await.unwrap();
    assert_eq!(s.login.user_id, "19x1");
    let q = wire::Query::count("Contacts");
    let n = wire::parse_count(c.call(|s| wire::query(s, &q)).await.unwrap()).unwrap();
    assert_eq!(n, 0);
    // The CRM forgets the session (logout from elsewhere): the next call logs in again.
    c.send(&wire::logout(&s.name)).await.unwrap();
    let before = crm.calls("login");
    let n = wire::parse_count(c.call(|s| wire::query(s, &q)).await.unwrap()).unwrap();
    assert_eq!(n, 0);
    assert_eq!(crm.calls("login"), before + 1);
}

#[tokio::test]
async fn refused_key_is_not_retried() {
    let (url, crm) = fake(users()).await;
    let c = Client::new(&url, "admin", Secret::new("WrongKey00000000".into())).unwrap();
    for _ in 0..10 {
        let e = c.login().await.unwrap_err();
        assert_eq!(e.code(), Some(&ApiCode::InvalidUserCredentials));
    }
    assert_eq!(
        crm.calls("login"),
        1,
        "a refused key must not be tried again"
    );
    assert!(c.is_refused());
    // A user's wrong password through login_pwd is not the integration key being refused.
    let good = Client::new(&url, "admin", Secret::new("AdminAccessKey00".into())).unwrap();
    assert!(
        good.login_pwd("admin", &Secret::new("wrong".into()))
            .await
            .is_err()
    );
    assert!(!good.is_refused());
}

#[tokio::test]
async fn login_pwd_gives_the_access_key() {
    let (url, _crm) = fake(users()).await;
    let c = Client::new(&url, "admin", Secret::new("AdminAccessKey00".into())).unwrap();
    let key = c
        .login_pwd("mrossi", &Secret::new("Pass1234!".into()))
        .await
        .unwrap();
    assert_eq!(key.expose(), "PVW7C7EyRVrVJjec");
    let e = c
        .login_pwd("mrossi", &Secret::new("nope".into()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&ApiCode::InvalidUserCredentials));
}

#[tokio::test]
async fn faults_are_transient_errors() {
    let (url, crm) = fake(users()).await;
    let c = Client::new(&url, "admin", Secret::new("AdminAccessKey00".into())).unwrap();
    c.login().await.unwrap();
    let q = wire::Query::count("Contacts");
    for (kind, want) in [
        (FaultKind::Http500, CrmError::Http(500)),
        (FaultKind::EmptyBody, CrmError::EmptyBody),
    ] {
        crm.set_fault("query", Some(kind));
        let e = c.call(|s| wire::query(s, &q)).await.unwrap_err();
        assert_eq!(e, want);
        assert!(e.is_transient());
    }
    crm.set_fault("query", Some(FaultKind::MalformedJson));
    let e = c.call(|s| wire::query(s, &q)).await.unwrap_err();
    assert!(matches!(e, CrmError::BadJson(_)), "{e:?}");
    crm.set_fault("query", None);
    assert!(c.call(|s| wire::query(s, &q)).await.is_ok());
}

#[tokio::test]
async fn unreachable_crm_is_a_transport_error() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let c = Client::new(&format!("http://{addr}/"), "admin", Secret::new("k".into())).unwrap();
    let e = c.login().await.unwrap_err();
    assert!(matches!(e, CrmError::Transport(_)), "{e:?}");
}

/// A TLS terminator on 127.0.0.1 in front of a plain-HTTP fake CRM, with its own CA.
struct TlsFront {
    url: String,
    ca_file: std::path::PathBuf,
    /// TLS connections accepted (handshake done).
    accepted: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

/// Starts a terminator whose certificate names `names`, forwarding to `plain` (`host:port`).
async fn tls_front(plain: &str, names: &[&str]) -> TlsFront {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "easbox test office CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let ca_file = std::env::temp_dir().join(format!(
        "easbox-crm-client-ca-{}-{}.pem",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();

    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(AtomicU32::new(0));
    let count = accepted.clone();
    let plain = plain.to_owned();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let plain = plain.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                count.fetch_add(1, Ordering::Relaxed);
                let Ok(mut back) = tokio::net::TcpStream::connect(plain.as_str()).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut back).await;
            });
        }
    });
    TlsFront {
        url: format!("https://{addr}/"),
        ca_file,
        accepted,
    }
}

/// `http://127.0.0.1:1234/` → `127.0.0.1:1234`.
fn host_port(url: &str) -> &str {
    url.trim_start_matches("http://").trim_end_matches('/')
}

fn with_ca(front: &TlsFront) -> ClientOptions {
    ClientOptions {
        ca_file: Some(front.ca_file.clone()),
    }
}

#[tokio::test]
async fn https_with_the_office_ca_works_and_keeps_the_connection() {
    let (url, crm) = fake(users()).await;
    let front = tls_front(host_port(&url), &["127.0.0.1", "localhost"]).await;
    let c = Client::new_with(
        &front.url,
        "admin",
        Secret::new("AdminAccessKey00".into()),
        with_ca(&front),
    )
    .unwrap();
    let s = c.login().await.unwrap();
    assert_eq!(s.login.user_id, "19x1");
    let q = wire::Query::count("Contacts");
    for _ in 0..3 {
        let n = wire::parse_count(c.call(|s| wire::query(s, &q)).await.unwrap()).unwrap();
        assert_eq!(n, 0);
    }
    assert_eq!(crm.calls("query"), 3);
    // challenge, login and three queries went over one TLS connection (keep-alive).
    assert_eq!(front.accepted.load(std::sync::atomic::Ordering::Relaxed), 1);
    // A faulty reply over TLS is the same transient error as over plain HTTP.
    crm.set_fault("query", Some(FaultKind::Http500));
    let e = c.call(|s| wire::query(s, &q)).await.unwrap_err();
    assert_eq!(e, CrmError::Http(500));
    crm.set_fault("query", None);
    assert!(c.call(|s| wire::query(s, &q)).await.is_ok());
    // The host name form works too (the certificate names localhost).
    let local = front.url.replace("127.0.0.1", "localhost");
    let c = Client::new_with(
        &local,
        "admin",
        Secret::new("AdminAccessKey00".into()),
        with_ca(&front),
    )
    .unwrap();
    c.login().await.unwrap();
}

#[tokio::test]
async fn https_refused_key_is_not_retried() {
    let (url, crm) = fake(users()).await;
    let front = tls_front(host_port(&url), &["127.0.0.1"]).await;
    let c = Client::new_with(
        &front.url,
        "admin",
        Secret::new("WrongKey00000000".into()),
        with_ca(&front),
    )
    .unwrap();
    for _ in 0..5 {
        let e = c.login().await.unwrap_err();
        assert_eq!(e.code(), Some(&ApiCode::InvalidUserCredentials));
    }
    assert_eq!(crm.calls("login"), 1);
}

#[tokio::test]
async fn https_without_the_ca_is_an_untrusted_certificate() {
    let (url, crm) = fake(users()).await;
    let front = tls_front(host_port(&url), &["127.0.0.1"]).await;
    let c = Client::new(&front.url, "admin", Secret::new("AdminAccessKey00".into())).unwrap();
    let e = c.login().await.unwrap_err();
    assert!(matches!(e, CrmError::Transport(_)), "{e:?}");
    assert!(e.is_transient());
    let text = e.to_string();
    assert!(
        text.contains("certificate") && text.contains("not trusted"),
        "{text}"
    );
    assert!(text.contains("--ca-file"), "{text}");
    assert_eq!(crm.calls("getchallenge"), 0, "nothing may reach the CRM");
}

#[tokio::test]
async fn https_certificate_for_another_host_is_refused() {
    let (url, crm) = fake(users()).await;
    let front = tls_front(host_port(&url), &["crm.example"]).await;
    let c = Client::new_with(
        &front.url,
        "admin",
        Secret::new("AdminAccessKey00".into()),
        with_ca(&front),
    )
    .unwrap();
    let e = c.login().await.unwrap_err();
    assert!(matches!(e, CrmError::Transport(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("not valid for host 127.0.0.1") && text.contains("crm.example"),
        "{text}"
    );
    assert_eq!(crm.calls("getchallenge"), 0);
}

#[tokio::test]
async fn https_url_on_a_plain_http_port_says_so() {
    let (url, _crm) = fake(users()).await;
    let front = tls_front(host_port(&url), &["127.0.0.1"]).await;
    let c = Client::new_with(
        &url.replace("http://", "https://"),
        "admin",
        Secret::new("AdminAccessKey00".into()),
        with_ca(&front),
    )
    .unwrap();
    let e = c.login().await.unwrap_err();
    assert!(matches!(e, CrmError::Transport(_)), "{e:?}");
    assert!(e.to_string().contains("https port"), "{e}");
}

#[test]
fn a_missing_or_empty_ca_file_is_refused_up_front() {
    let key = || Secret::new("k".into());
    let missing = std::env::temp_dir().join("easbox-no-such-ca-file.pem");
    let e = Client::new_with(
        "https://crm.example/",
        "admin",
        key(),
        ClientOptions {
            ca_file: Some(missing.clone()),
        },
    )
    .err()
    .unwrap();
    assert!(matches!(e, CrmError::BadRequest(_)), "{e:?}");
    assert!(
        e.to_string().contains(&missing.display().to_string()),
        "{e}"
    );
    let empty = std::env::temp_dir().join(format!("easbox-empty-ca-{}.pem", std::process::id()));
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let e = Client::new_with(
        "https://crm.example/",
        "admin",
        key(),
        ClientOptions {
            ca_file: Some(empty.clone()),
        },
    )
    .err()
    .unwrap();
    let _ = std::fs::remove_file(&empty);
    assert!(e.to_string().contains("no PEM certificate"), "{e}");
}
