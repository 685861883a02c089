//! `crm::client` against the fake vtenext over real loopback sockets: login, a session lost
//! and re-established, login_pwd, the integration user refused once and never retried, and
//! faults surfacing as transient errors.

use easbox::auth::Secret;
use easbox::crm::client::Client;
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
