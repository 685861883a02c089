//! HTTPS certificates: the box's own local CA and server certificate, or the customer's.
//!
//! Implements: RFC 5280 certificate profile (basicConstraints, keyUsage, extKeyUsage
//! serverAuth, subjectAltName DNS and IP entries) through rcgen; Apple's limit of 825 days for
//! TLS server certificates ("Requirements for trusted certificates in iOS 13 and macOS 10.15",
//! support.apple.com/en-us/103769); RFC 7301 ALPN (`http/1.1` only, EAS is HTTP/1.1).
//!
//! Files live in `<state dir>/tls/` (directory 0700, every file 0600, written as temp + rename):
//!
//! | file | what |
//! |---|---|
//! | `ca.pem`, `ca.key` | local CA, made once and never replaced: phones have been told to trust it |
//! | `server.pem`, `server.key` | server certificate signed by the CA, renewed when needed |
//! | `custom.pem`, `custom.key` | optional, put there by the customer; wins when it is usable |
//!
//! Damaged files: `server.*` are derived data, so a server certificate or key that does not
//! parse, does not match, has expired or does not cover the names is silently replaced. A CA
//! that cannot be used (`ca.pem` unreadable, `ca.key` missing, unreadable or not matching) is
//! reported as [`TlsError::CaUnusable`] and left alone: replacing it would break every phone
//! that trusts it, so that has to be an operator's decision (delete both CA files). A CA key
//! without `ca.pem` is an interrupted first start (the key is written first) and is replaced.
//! A customer pair that cannot be used does not stop the box: the generated certificate is
//! served and the reason is handed back in [`CertPaths::custom_rejected`] for the log.
//!
//! Only rustls's ring provider is used (see the firmware notes on cross builds).

mod der;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// Sub-directory of the state directory that holds every TLS file.
pub const TLS_DIR: &str = "tls";
/// Local CA certificate (PEM).
pub const CA_CERT: &str = "ca.pem";
/// Local CA private key (PKCS#8 PEM).
pub const CA_KEY: &str = "ca.key";
/// Generated server certificate (PEM).
pub const SERVER_CERT: &str = "server.pem";
/// Generated server private key (PKCS#8 PEM).
pub const SERVER_KEY: &str = "server.key";
/// Customer-supplied certificate chain (PEM, leaf first).
pub const CUSTOM_CERT: &str = "custom.pem";
/// Customer-supplied private key (PEM).
pub const CUSTOM_KEY: &str = "custom.key";

/// Lifetime of the local CA: long, because renewing it means touching every phone again.
pub const CA_VALIDITY_DAYS: u32 = 3650;
/// Lifetime of the server certificate: Apple rejects TLS server certificates valid longer.
pub const SERVER_VALIDITY_DAYS: u32 = 825;
/// A server certificate this close to its end is renewed.
pub const RENEW_BEFORE_DAYS: u32 = 30;
/// Certificates start this much before "now" so a phone whose clock is a little behind still
/// accepts them.
pub const BACKDATE_SECS: u32 = 3600;
/// Prefix of the CA's common name; the host name follows.
pub const CA_NAME_PREFIX: &str = "easbox local CA ";
/// The only application protocol offered: EAS is HTTP/1.1.
pub const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

const DAY_SECS: u64 = 86_400;

/// Where the certificate to serve lives, as chosen by [`ensure_certificates`].
#[derive(Debug)]
pub struct CertPaths {
    /// Server certificate, or the customer's chain (leaf first).
    pub cert: PathBuf,
    /// Private key of `cert`.
    pub key: PathBuf,
    /// The local CA, sent after the server certificate; `None` for a customer chain.
    pub ca: Option<PathBuf>,
    /// Which kind of certificate this is.
    pub origin: Origin,
    /// Why `custom.pem`/`custom.key` were present but not used, for the log.
    pub custom_rejected: Option<TlsError>,
}

/// Who made the certificate being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The box, signed by its local CA.
    Generated,
    /// The customer (`custom.pem` + `custom.key`).
    Custom,
}

/// Everything that can go wrong here. Never carries key material: file contents are only
/// ever described, not quoted.
#[derive(Debug)]
pub enum TlsError {
    /// Reading or writing a file or directory failed.
    Io { path: PathBuf, source: io::Error },
    /// A file holds no usable PEM certificate or key.
    Pem { path: PathBuf, reason: String },
    /// One of a pair of files is there but the other is not.
    Missing { path: PathBuf },
    /// A certificate's public key does not belong to the private key next to it.
    KeyMismatch { cert: PathBuf },
    /// The local CA exists but cannot sign; it is never replaced automatically.
    CaUnusable { path: PathBuf, reason: String },
    /// A host name cannot go into a certificate.
    InvalidName(String),
    /// The clock is before 1970 or too far in the future.
    Clock,
    /// rcgen failed to make a key or certificate.
    Generate(rcgen::Error),
    /// rustls refused the certificate, key or configuration.
    Rustls(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Pem { path, reason } => write!(f, "{}: {reason}", path.display()),
            Self::Missing { path } => write!(f, "{}: missing (it comes in a pair)", path.display()),
            Self::KeyMismatch { cert } => {
                write!(
                    f,
                    "{}: certificate does not match its private key",
                    cert.display()
                )
            }
            Self::CaUnusable { path, reason } => write!(
                f,
                "{}: local CA unusable ({reason}); fix it, or delete {CA_CERT} and {CA_KEY} \
                 to make a new CA that every phone must trust again",
                path.display()
            ),
            Self::InvalidName(name) => write!(f, "{name:?} cannot be put in a certificate"),
            Self::Clock => f.write_str("system clock is out of range"),
            Self::Generate(e) => write!(f, "certificate generation failed: {e}"),
            Self::Rustls(e) => write!(f, "TLS configuration failed: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Generate(e) => Some(e),
            Self::Rustls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rcgen::Error> for TlsError {
    fn from(e: rcgen::Error) -> Self {
        Self::Generate(e)
    }
}

impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        Self::Rustls(e)
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Makes sure a certificate to serve exists under `state_dir/tls/` and says which one.
///
/// `names` are the host names phones use (the first one names the CA when it is made),
/// `addrs` the addresses; `localhost` and `127.0.0.1` are always added. `now` is passed in so
/// tests can move the clock.
pub fn ensure_certificates(
    state_dir: &Path,
    names: &[String],
    addrs: &[IpAddr],
    now: SystemTime,
) -> Result<CertPaths, TlsError> {
    let dir = state_dir.join(TLS_DIR);
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io_err(&dir))?;

    let custom_rejected = match custom_pair(&dir) {
        Ok(Some(paths)) => return Ok(paths),
        Ok(None) => None,
        Err(e) => Some(e),
    };

    let wanted = Wanted::new(names, addrs)?;
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| TlsError::Clock)?
        .as_secs();
    let ca = load_or_create_ca(&dir, &wanted.host, now_secs)?;
    let cert = dir.join(SERVER_CERT);
    let key = dir.join(SERVER_KEY);
    if !server_is_good(&cert, &key, &ca.der, &wanted, now_secs) {
        issue_server(&dir, &ca, &wanted, now_secs)?;
    }
    Ok(CertPaths {
        cert,
        key,
        ca: Some(dir.join(CA_CERT)),
        origin: Origin::Generated,
        custom_rejected,
    })
}

/// A rustls server configuration for `paths`: the certificate (and CA, if any) as the chain,
/// ring as the provider, ALPN `http/1.1`.
pub fn server_config(paths: &CertPaths) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut chain = read_certs(&paths.cert)?;
    if let Some(ca) = &paths.ca {
        chain.extend(read_certs(ca)?);
    }
    let key = read_key(&paths.key)?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Ok(Arc::new(config))
}

/// The names and addresses the server certificate must cover.
struct Wanted {
    host: String,
    dns: Vec<String>,
    ips: Vec<IpAddr>,
}

impl Wanted {
    fn new(names: &[String], addrs: &[IpAddr]) -> Result<Self, TlsError> {
        let mut dns: Vec<String> = Vec::new();
        let mut ips: Vec<IpAddr> = Vec::new();
        for name in names {
            if let Ok(ip) = name.parse::<IpAddr>() {
                ips.push(ip);
                continue;
            }
            let lower = name.trim_end_matches('.').to_ascii_lowercase();
            if ServerName::try_from(lower.as_str()).is_err() {
                return Err(TlsError::InvalidName(name.clone()));
            }
            dns.push(lower);
        }
        dns.push("localhost".to_owned());
        ips.extend_from_slice(addrs);
        ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let mut seen = Vec::with_capacity(dns.len());
        dns.retain(|d| {
            let fresh = !seen.contains(d);
            seen.push(d.clone());
            fresh
        });
        let mut seen_ips = Vec::with_capacity(ips.len());
        ips.retain(|ip| {
            let fresh = !seen_ips.contains(ip);
            seen_ips.push(*ip);
            fresh
        });
        let host = dns
            .first()
            .cloned()
            .unwrap_or_else(|| "localhost".to_owned());
        Ok(Self { host, dns, ips })
    }

    fn server_names(&self) -> impl Iterator<Item = ServerName<'_>> {
        let dns = self
            .dns
            .iter()
            .filter_map(|d| ServerName::try_from(d.as_str()).ok());
        dns.chain(self.ips.iter().map(|ip| ServerName::from(*ip)))
    }
}

/// The local CA, ready to sign.
struct Ca {
    der: CertificateDer<'static>,
    params: CertificateParams,
    key: KeyPair,
}

fn ca_params(common_name: DnValue) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn load_or_create_ca(dir: &Path, host: &str, now: u64) -> Result<Ca, TlsError> {
    let cert_path = dir.join(CA_CERT);
    let key_path = dir.join(CA_KEY);
    if !exists(&cert_path)? {
        return create_ca(&cert_path, &key_path, host, now);
    }
    let unusable = |reason: String| TlsError::CaUnusable {
        path: cert_path.clone(),
        reason,
    };
    let der = read_certs(&cert_path)
        .map_err(|e| unusable(e.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| unusable("no certificate in it".to_owned()))?;
    if !exists(&key_path)? {
        return Err(unusable(format!("{CA_KEY} is missing")));
    }
    let key_der = read_key(&key_path).map_err(|e| unusable(e.to_string()))?;
    if !key_matches(&der, key_der) {
        return Err(unusable(format!("{CA_KEY} does not belong to it")));
    }
    let key_pem = fs::read_to_string(&key_path).map_err(io_err(&key_path))?;
    let key = KeyPair::from_pem(&key_pem)
        .map_err(|_| unusable(format!("{CA_KEY} is not a key rcgen can sign with")))?;
    let anchor = webpki::anchor_from_trusted_cert(&der)
        .map_err(|e| unusable(format!("not a valid certificate: {e}")))?;
    let (tag, cn) = der::sole_common_name(&anchor.subject)
        .ok_or_else(|| unusable("subject is not a single common name".to_owned()))?;
    let cn = match tag {
        der::TAG_UTF8_STRING => DnValue::Utf8String(cn),
        der::TAG_PRINTABLE_STRING => DnValue::PrintableString(
            cn.try_into()
                .map_err(|_| unusable("bad PrintableString".to_owned()))?,
        ),
        _ => {
            return Err(unusable(
                "common name has an unusual string type".to_owned(),
            ));
        }
    };
    Ok(Ca {
        der,
        params: ca_params(cn),
        key,
    })
}

fn create_ca(cert_path: &Path, key_path: &Path, host: &str, now: u64) -> Result<Ca, TlsError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = ca_params(DnValue::Utf8String(format!("{CA_NAME_PREFIX}{host}")));
    set_validity(&mut params, now, CA_VALIDITY_DAYS)?;
    params.serial_number = Some(random_serial()?);
    let cert = params.self_signed(&key)?;
    // Key first: a crash in between leaves a key without a certificate, which the next start
    // treats as "no CA yet"; the other order would leave a CA that can never sign.
    write_private(key_path, key.serialize_pem().as_bytes())?;
    write_private(cert_path, cert.pem().as_bytes())?;
    Ok(Ca {
        der: cert.der().clone(),
        params,
        key,
    })
}

fn set_validity(params: &mut CertificateParams, now: u64, days: u32) -> Result<(), TlsError> {
    let start = now.saturating_sub(u64::from(BACKDATE_SECS));
    let end = start
        .checked_add(u64::from(days) * DAY_SECS)
        .ok_or(TlsError::Clock)?;
    params.not_before = offset_date_time(start)?;
    params.not_after = offset_date_time(end)?;
    Ok(())
}

fn offset_date_time(secs: u64) -> Result<time::OffsetDateTime, TlsError> {
    let secs = i64::try_from(secs).map_err(|_| TlsError::Clock)?;
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|_| TlsError::Clock)
}

fn random_serial() -> Result<SerialNumber, TlsError> {
    let mut bytes = [0u8; 16];
    provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| TlsError::Rustls(rustls::Error::FailedToGetRandomBytes))?;
    // RFC 5280 4.1.2.2: positive, at most 20 octets.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

fn issue_server(dir: &Path, ca: &Ca, wanted: &Wanted, now: u64) -> Result<(), TlsError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, wanted.host.clone());
    params.distinguished_name = dn;
    params.subject_alt_names = wanted
        .dns
        .iter()
        .map(|d| {
            d.clone()
                .try_into()
                .map(SanType::DnsName)
                .map_err(|_| TlsError::InvalidName(d.clone()))
        })
        .collect::<Result<_, _>>()?;
    params
        .subject_alt_names
        .extend(wanted.ips.iter().map(|ip| SanType::IpAddress(*ip)));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial()?);
    set_validity(&mut params, now, SERVER_VALIDITY_DAYS)?;
    let issuer = Issuer::from_params(&ca.params, &ca.key);
    let cert = params.signed_by(&key, &issuer)?;
    // Catches a CA whose name we rebuilt differently from what its certificate says.
    if !chains_to(cert.der(), &ca.der, now) {
        return Err(TlsError::CaUnusable {
            path: dir.join(CA_CERT),
            reason: "a certificate it signs does not verify against it (expired?)".to_owned(),
        });
    }
    write_private(&dir.join(SERVER_KEY), key.serialize_pem().as_bytes())?;
    write_private(&dir.join(SERVER_CERT), cert.pem().as_bytes())?;
    Ok(())
}

/// Whether the current server pair can stay: it parses, matches, chains to the CA, is valid
/// now and for [`RENEW_BEFORE_DAYS`] more, and covers every wanted name.
fn server_is_good(
    cert_path: &Path,
    key_path: &Path,
    ca: &CertificateDer<'_>,
    wanted: &Wanted,
    now: u64,
) -> bool {
    let (Ok(certs), Ok(key)) = (read_certs(cert_path), read_key(key_path)) else {
        return false;
    };
    let Some(cert) = certs.into_iter().next() else {
        return false;
    };
    let renew_at = now.saturating_add(u64::from(RENEW_BEFORE_DAYS) * DAY_SECS);
    if !key_matches(&cert, key) || !chains_to(&cert, ca, now) || !chains_to(&cert, ca, renew_at) {
        return false;
    }
    let Ok(ee) = webpki::EndEntityCert::try_from(&cert) else {
        return false;
    };
    wanted
        .server_names()
        .all(|name| ee.verify_is_valid_for_subject_name(&name).is_ok())
}

/// Verifies `cert` as a TLS server certificate issued by `ca` at `at` (seconds since 1970).
fn chains_to(cert: &CertificateDer<'_>, ca: &CertificateDer<'_>, at: u64) -> bool {
    let Ok(anchor) = webpki::anchor_from_trusted_cert(ca) else {
        return false;
    };
    let Ok(ee) = webpki::EndEntityCert::try_from(cert) else {
        return false;
    };
    let algs = provider().signature_verification_algorithms.all;
    ee.verify_for_usage(
        algs,
        &[anchor],
        &[],
        UnixTime::since_unix_epoch(Duration::from_secs(at)),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .is_ok()
}

fn key_matches(cert: &CertificateDer<'static>, key: PrivateKeyDer<'static>) -> bool {
    let Ok(signer) = provider().key_provider.load_private_key(key) else {
        return false;
    };
    CertifiedKey::new(vec![cert.clone()], signer)
        .keys_match()
        .is_ok()
}

/// The customer's pair, if both files are there and belong together.
fn custom_pair(dir: &Path) -> Result<Option<CertPaths>, TlsError> {
    let cert = dir.join(CUSTOM_CERT);
    let key = dir.join(CUSTOM_KEY);
    match (exists(&cert)?, exists(&key)?) {
        (false, false) => return Ok(None),
        (true, false) => return Err(TlsError::Missing { path: key }),
        (false, true) => return Err(TlsError::Missing { path: cert }),
        (true, true) => {}
    }
    let leaf = read_certs(&cert)?
        .into_iter()
        .next()
        .ok_or_else(|| TlsError::Pem {
            path: cert.clone(),
            reason: "no certificate in it".to_owned(),
        })?;
    if !key_matches(&leaf, read_key(&key)?) {
        return Err(TlsError::KeyMismatch { cert });
    }
    Ok(Some(CertPaths {
        cert,
        key,
        ca: None,
        origin: Origin::Custom,
        custom_rejected: None,
    }))
}

fn exists(path: &Path) -> Result<bool, TlsError> {
    path.try_exists().map_err(io_err(path))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_err(path, e, "no PEM certificates"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(path, e, "damaged PEM certificate"))?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            reason: "no certificate in it".to_owned(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_err(path, e, "no usable PEM private key"))
}

/// Describes a PEM failure without quoting the file (it may be a key).
fn pem_err(path: &Path, e: pem::Error, what: &str) -> TlsError {
    match e {
        pem::Error::Io(source) => TlsError::Io {
            path: path.to_owned(),
            source,
        },
        _ => TlsError::Pem {
            path: path.to_owned(),
            reason: what.to_owned(),
        },
    }
}

/// Writes `bytes` to `path` readable by the owner only, replacing it atomically.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    // `mode` only applies when the file is created; a leftover temp file keeps its old mode.
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(io_err(&tmp))?;
    file.write_all(bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_err(path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}
