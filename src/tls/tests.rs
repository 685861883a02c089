use super::*;
use std::io::Read;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh state directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("easbox-tls-{}-{tag}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn tls(&self, file: &str) -> PathBuf {
        self.0.join(TLS_DIR).join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn lan() -> IpAddr {
    "192.168.1.20".parse().unwrap()
}

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_780_000_000)
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n * DAY_SECS)
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn bytes(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap()
}

/// Completes a TLS handshake in memory, the client trusting only `ca`, and returns the ALPN
/// protocol agreed.
fn handshake(config: Arc<rustls::ServerConfig>, ca: &Path, name: &str) -> Result<Vec<u8>, String> {
    handshake_with(config, ca, name, rustls::DEFAULT_VERSIONS)
}

/// [`handshake`] with a client that offers only `versions`.
fn handshake_with(
    config: Arc<rustls::ServerConfig>,
    ca: &Path,
    name: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Vec<u8>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs(ca).unwrap() {
        roots.add(c).unwrap();
    }
    let mut client_cfg = rustls::ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client_cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let mut client = rustls::ClientConnection::new(Arc::new(client_cfg), server_name).unwrap();
    let mut server = rustls::ServerConnection::new(config).unwrap();
    for _ in 0..10 {
        let mut buf = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut buf).unwrap();
        }
        server.read_tls(&mut buf.as_slice()).unwrap();
        server.process_new_packets().map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut buf).unwrap();
        }
        client.read_tls(&mut buf.as_slice()).unwrap();
        client.process_new_packets().map_err(|e| e.to_string())?;
        if !client.is_handshaking() && !server.is_handshaking() {
            // Prove the channel carries data both ways.
            client.writer().write_all(b"ping").unwrap();
            let mut buf = Vec::new();
            client.write_tls(&mut buf).unwrap();
            server.read_tls(&mut buf.as_slice()).unwrap();
            server.process_new_packets().map_err(|e| e.to_string())?;
            let mut got = [0u8; 4];
            server.reader().read_exact(&mut got).unwrap();
            assert_eq!(&got, b"ping");
            return Ok(client.alpn_protocol().unwrap_or_default().to_vec());
        }
    }
    Err("handshake did not finish".to_owned())
}

#[test]
fn first_start_creates_owner_only_files() {
    let dir = TempDir::new("first");
    let paths = ensure_certificates(&dir.0, &names(&["box.example"]), &[lan()], start()).unwrap();
    assert_eq!(paths.origin, Origin::Generated);
    assert!(paths.custom_rejected.is_none());
    assert_eq!(mode(&dir.0.join(TLS_DIR)), 0o700);
    for f in [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY] {
        assert_eq!(mode(&dir.tls(f)), 0o600, "{f}");
    }
    assert_eq!(paths.cert, dir.tls(SERVER_CERT));
    assert_eq!(paths.ca.as_deref(), Some(dir.tls(CA_CERT).as_path()));
    // No temp files left behind.
    let leftovers: Vec<_> = fs::read_dir(dir.0.join(TLS_DIR))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    let ca = webpki::anchor_from_trusted_cert(&read_certs(&dir.tls(CA_CERT)).unwrap()[0])
        .unwrap()
        .to_owned();
    let (_, cn) = der::sole_common_name(&ca.subject).unwrap();
    assert_eq!(cn, "easbox local CA box.example");
}

#[test]
fn second_start_keeps_everything() {
    let dir = TempDir::new("keep");
    let n = names(&["box.example"]);
    ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap();
    let before: Vec<_> = [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY]
        .iter()
        .map(|f| bytes(&dir.tls(f)))
        .collect();
    ensure_certificates(&dir.0, &n, &[lan()], start() + days(100)).unwrap();
    let after: Vec<_> = [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY]
        .iter()
        .map(|f| bytes(&dir.tls(f)))
        .collect();
    assert_eq!(before, after);
}

#[test]
fn new_name_or_address_renews_server_but_keeps_ca() {
    let dir = TempDir::new("rename");
    ensure_certificates(&dir.0, &names(&["box.example"]), &[lan()], start()).unwrap();
    let ca = (bytes(&dir.tls(CA_CERT)), bytes(&dir.tls(CA_KEY)));
    let server = bytes(&dir.tls(SERVER_CERT));

    let paths = ensure_certificates(&dir.0, &names(&["mail.example"]), &[lan()], start()).unwrap();
    assert_ne!(bytes(&dir.tls(SERVER_CERT)), server);
    assert_eq!((bytes(&dir.tls(CA_CERT)), bytes(&dir.tls(CA_KEY))), ca);
    let config = server_config(&paths).unwrap();
    handshake(config.clone(), &dir.tls(CA_CERT), "mail.example").unwrap();
    assert!(handshake(config, &dir.tls(CA_CERT), "box.example").is_err());

    let server = bytes(&dir.tls(SERVER_CERT));
    let other: IpAddr = "10.0.0.7".parse().unwrap();
    ensure_certificates(&dir.0, &names(&["mail.example"]), &[other], start()).unwrap();
    assert_ne!(bytes(&dir.tls(SERVER_CERT)), server);
    assert_eq!((bytes(&dir.tls(CA_CERT)), bytes(&dir.tls(CA_KEY))), ca);
}

#[test]
fn near_expiry_renews_server_but_keeps_ca() {
    let dir = TempDir::new("expiry");
    let n = names(&["box.example"]);
    ensure_certificates(&dir.0, &n, &[], start()).unwrap();
    let ca = bytes(&dir.tls(CA_CERT));
    let server = bytes(&dir.tls(SERVER_CERT));
    ensure_certificates(&dir.0, &n, &[], start() + days(790)).unwrap();
    assert_eq!(bytes(&dir.tls(SERVER_CERT)), server, "35 days left: keep");
    ensure_certificates(&dir.0, &n, &[], start() + days(800)).unwrap();
    assert_ne!(bytes(&dir.tls(SERVER_CERT)), server, "25 days left: renew");
    assert_eq!(bytes(&dir.tls(CA_CERT)), ca);
}

#[test]
fn server_cert_verifies_for_name_and_addresses() {
    let dir = TempDir::new("verify");
    let paths = ensure_certificates(&dir.0, &names(&["Box.Example"]), &[lan()], start()).unwrap();
    let ca = read_certs(&dir.tls(CA_CERT)).unwrap().remove(0);
    let leaf = read_certs(&dir.tls(SERVER_CERT)).unwrap().remove(0);

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(provider()),
    )
    .build()
    .unwrap();
    let at = UnixTime::since_unix_epoch(start().duration_since(UNIX_EPOCH).unwrap());
    for name in ["box.example", "192.168.1.20", "localhost", "127.0.0.1"] {
        let sn = ServerName::try_from(name).unwrap();
        rustls::client::danger::ServerCertVerifier::verify_server_cert(
            verifier.as_ref(),
            &leaf,
            &[],
            &sn,
            &[],
            at,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let sn = ServerName::try_from("other.example").unwrap();
    assert!(
        rustls::client::danger::ServerCertVerifier::verify_server_cert(
            verifier.as_ref(),
            &leaf,
            &[],
            &sn,
            &[],
            at
        )
        .is_err()
    );

    // And over a real (in-memory) TLS 1.3 handshake, with ALPN.
    let config = server_config(&paths).unwrap();
    for name in ["box.example", "192.168.1.20"] {
        assert_eq!(
            handshake(config.clone(), &dir.tls(CA_CERT), name).unwrap(),
            b"http/1.1"
        );
    }
}

#[test]
fn damaged_server_files_are_replaced() {
    let dir = TempDir::new("corrupt-server");
    let n = names(&["box.example"]);
    ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap();
    let ca = bytes(&dir.tls(CA_CERT));
    for f in [SERVER_CERT, SERVER_KEY] {
        fs::write(dir.tls(f), b"-----BEGIN garbage").unwrap();
        let paths = ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap();
        server_config(&paths).unwrap();
        assert_eq!(bytes(&dir.tls(CA_CERT)), ca);
    }
    // A key from another pair is "damaged" too.
    let other = TempDir::new("corrupt-server-other");
    ensure_certificates(&other.0, &n, &[lan()], start()).unwrap();
    fs::copy(other.tls(SERVER_KEY), dir.tls(SERVER_KEY)).unwrap();
    let paths = ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap();
    server_config(&paths).unwrap();
    handshake(
        server_config(&paths).unwrap(),
        &dir.tls(CA_CERT),
        "box.example",
    )
    .unwrap();
}

#[test]
fn damaged_ca_is_reported_and_left_alone() {
    let n = names(&["box.example"]);
    for (file, content) in [
        (
            CA_CERT,
            &b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"[..],
        ),
        (CA_KEY, b"secret-looking-bytes"),
    ] {
        let dir = TempDir::new("corrupt-ca");
        ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap();
        fs::write(dir.tls(file), content).unwrap();
        let err = ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap_err();
        assert!(matches!(err, TlsError::CaUnusable { .. }), "{err:?}");
        assert_eq!(bytes(&dir.tls(file)), content, "left alone");
        let text = format!("{err} {err:?}");
        assert!(text.contains("delete ca.pem and ca.key"), "{text}");
        assert!(!text.contains("secret-looking"), "{text}");
    }
    // A CA whose name we cannot rebuild byte for byte is refused, not replaced.
    let dir = TempDir::new("foreign-ca");
    ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap();
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = ca_params(DnValue::Utf8String("someone's CA".to_owned()));
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Someone");
    fs::write(dir.tls(CA_CERT), params.self_signed(&key).unwrap().pem()).unwrap();
    fs::write(dir.tls(CA_KEY), key.serialize_pem()).unwrap();
    let err = ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap_err();
    assert!(err.to_string().contains("single common name"), "{err}");
    // A missing CA key is not a reason to make a new CA either.
    let dir = TempDir::new("ca-key-gone");
    ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap();
    fs::remove_file(dir.tls(CA_KEY)).unwrap();
    let err = ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap_err();
    assert!(err.to_string().contains("ca.key is missing"), "{err}");
    // A CA key whose certificate never got written is an interrupted first start.
    let dir = TempDir::new("ca-cert-gone");
    ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap();
    fs::remove_file(dir.tls(CA_CERT)).unwrap();
    let paths = ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap();
    handshake(
        server_config(&paths).unwrap(),
        &dir.tls(CA_CERT),
        "box.example",
    )
    .unwrap();
}

/// Makes a self-signed pair, as a customer might get from elsewhere.
fn customer_pair(name: &str) -> (String, String) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let params = CertificateParams::new(vec![name.to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[test]
fn custom_certificate_wins_when_it_matches() {
    let dir = TempDir::new("custom");
    let n = names(&["box.example"]);
    ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap();
    let (cert, key) = customer_pair("crm.customer.example");
    fs::write(dir.tls(CUSTOM_CERT), &cert).unwrap();
    fs::write(dir.tls(CUSTOM_KEY), &key).unwrap();
    let paths = ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap();
    assert_eq!(paths.origin, Origin::Custom);
    assert_eq!(paths.cert, dir.tls(CUSTOM_CERT));
    assert!(paths.ca.is_none());
    handshake(
        server_config(&paths).unwrap(),
        &dir.tls(CUSTOM_CERT),
        "crm.customer.example",
    )
    .unwrap();

    // A key from another pair: fall back to the generated certificate and say why.
    let (_, wrong_key) = customer_pair("crm.customer.example");
    fs::write(dir.tls(CUSTOM_KEY), &wrong_key).unwrap();
    let paths = ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap();
    assert_eq!(paths.origin, Origin::Generated);
    let why = paths.custom_rejected.as_ref().unwrap();
    assert!(matches!(why, TlsError::KeyMismatch { .. }), "{why:?}");
    assert!(!format!("{why:?}").contains("PRIVATE KEY"));
    handshake(
        server_config(&paths).unwrap(),
        &dir.tls(CA_CERT),
        "box.example",
    )
    .unwrap();

    // Half a pair.
    fs::remove_file(dir.tls(CUSTOM_KEY)).unwrap();
    let paths = ensure_certificates(&dir.0, &n, &[lan()], start()).unwrap();
    assert!(matches!(
        paths.custom_rejected,
        Some(TlsError::Missing { .. })
    ));
}

#[test]
fn server_cert_lives_825_days_for_server_auth_only() {
    let dir = TempDir::new("lifetime");
    let v6: IpAddr = "fd00::7".parse().unwrap();
    ensure_certificates(&dir.0, &names(&["box.example"]), &[v6], start()).unwrap();
    let ca = read_certs(&dir.tls(CA_CERT)).unwrap().remove(0);
    let leaf = read_certs(&dir.tls(SERVER_CERT)).unwrap().remove(0);
    let t0 = start().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let backdate = u64::from(BACKDATE_SECS);
    let life = u64::from(SERVER_VALIDITY_DAYS) * DAY_SECS;
    assert!(chains_to(&leaf, &ca, t0 - backdate));
    assert!(!chains_to(&leaf, &ca, t0 - backdate - 1));
    assert!(chains_to(&leaf, &ca, t0 - backdate + life));
    assert!(!chains_to(&leaf, &ca, t0 - backdate + life + 1));

    let anchors = [webpki::anchor_from_trusted_cert(&ca).unwrap()];
    let ee = webpki::EndEntityCert::try_from(&leaf).unwrap();
    let client_auth = ee.verify_for_usage(
        provider().signature_verification_algorithms.all,
        &anchors,
        &[],
        UnixTime::since_unix_epoch(Duration::from_secs(t0)),
        webpki::KeyUsage::client_auth(),
        None,
        None,
    );
    assert!(client_auth.is_err());
    ee.verify_is_valid_for_subject_name(&ServerName::from(v6))
        .unwrap();
}

#[test]
fn bad_host_name_is_refused() {
    let dir = TempDir::new("badname");
    let err = ensure_certificates(&dir.0, &names(&["bad name!"]), &[], start()).unwrap_err();
    assert!(matches!(err, TlsError::InvalidName(_)), "{err:?}");
}

/// Android 9 and older phones speak TLS 1.2 at most; vtenext on an older OpenSSL too.
#[test]
fn tls_1_2_and_1_3_clients_are_both_served() {
    let dir = TempDir::new("versions");
    let paths = ensure_certificates(&dir.0, &names(&["box.example"]), &[lan()], start()).unwrap();
    let config = server_config(&paths).unwrap();
    let ca = paths.ca.clone().unwrap();
    for v in [&rustls::version::TLS12, &rustls::version::TLS13] {
        handshake_with(config.clone(), &ca, "box.example", &[v])
            .unwrap_or_else(|e| panic!("{v:?}: {e}"));
    }
}
