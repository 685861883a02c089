//! Sealing secrets kept in the store (CRM access keys): ChaCha20-Poly1305 with a 256-bit key
//! that lives in its own file beside the database, never inside it (DESIGN "Security"). A copy
//! of the database alone does not give the CRM keys away.
//!
//! Sealed form: a format byte, a 96-bit random nonce, then the ciphertext and tag.

use super::Secret;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use std::fmt;
use std::path::Path;

/// File name of the key in the state directory.
pub const KEY_FILE: &str = "seal.key";
/// Key length, bytes.
pub const KEY_LEN: usize = 32;
/// Largest secret sealed, bytes (access keys are 16 characters).
pub const MAX_SEALED_PLAINTEXT: usize = 4096;

const FORMAT: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealError {
    /// The key file could not be read or written.
    Io(String),
    /// The key file is not a key.
    BadKey,
    /// The sealed bytes are damaged, too long, or were sealed with another key.
    Unseal,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::Io(e) => write!(f, "seal key: {e}"),
            SealError::BadKey => write!(f, "seal key file is not {KEY_LEN} bytes"),
            SealError::Unseal => f.write_str("a sealed secret does not open with this box's key"),
        }
    }
}

impl std::error::Error for SealError {}

/// The box's sealing key.
pub struct SealKey(LessSafeKey);

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey(***)")
    }
}

impl SealKey {
    /// Reads `DIR/seal.key`, creating it (owner-only) on first use.
    pub fn load_or_create(state_dir: &Path) -> Result<SealKey, SealError> {
        let path = state_dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Self::from_bytes(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = zeroize::Zeroizing::new([0u8; KEY_LEN]);
                getrandom::fill(key.as_mut_slice()).map_err(|e| SealError::Io(e.to_string()))?;
                write_private(&path, key.as_slice())?;
                Self::from_bytes(key.as_slice())
            }
            Err(e) => Err(SealError::Io(format!("{}: {e}", path.display()))),
        }
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<SealKey, SealError> {
        if bytes.len() != KEY_LEN {
            return Err(SealError::BadKey);
        }
        let k = UnboundKey::new(&CHACHA20_POLY1305, bytes).map_err(|_| SealError::BadKey)?;
        Ok(SealKey(LessSafeKey::new(k)))
    }

    pub fn seal(&self, secret: &[u8]) -> Result<Vec<u8>, SealError> {
        if secret.len() > MAX_SEALED_PLAINTEXT {
            return Err(SealError::Unseal);
        }
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SealError::Io(e.to_string()))?;
        let mut buf = secret.to_vec();
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .map_err(|_| SealError::Unseal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        zeroize::Zeroize::zeroize(&mut buf);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Secret<Vec<u8>>, SealError> {
        let Some((&FORMAT, rest)) = sealed.split_first() else {
            return Err(SealError::Unseal);
        };
        if rest.len() < NONCE_LEN || rest.len() > NONCE_LEN + MAX_SEALED_PLAINTEXT + 16 {
            return Err(SealError::Unseal);
        }
        let (n, ct) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(n).map_err(|_| SealError::Unseal)?;
        let mut buf = ct.to_vec();
        let plain_len = self
            .0
            .open_in_place(nonce, Aad::empty(), &mut buf)
            .map_err(|_| SealError::Unseal)?
            .len();
        buf.truncate(plain_len);
        Ok(Secret::new(buf))
    }

    /// Seals a text secret.
    pub fn seal_str(&self, secret: &Secret<String>) -> Result<Vec<u8>, SealError> {
        self.seal(secret.expose().as_bytes())
    }

    /// Opens a text secret.
    pub fn open_str(&self, sealed: &[u8]) -> Result<Secret<String>, SealError> {
        let bytes = self.open(sealed)?;
        let s = std::str::from_utf8(bytes.expose()).map_err(|_| SealError::Unseal)?;
        Ok(Secret::new(s.to_owned()))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SealError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e: std::io::Error| SealError::Io(format!("{}: {e}", path.display()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_tamper() {
        let dir = std::env::temp_dir().join(format!("easbox-seal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let k = SealKey::load_or_create(&dir).unwrap();
        let sealed = k.seal_str(&Secret::new("PVW7C7EyRVrVJjec".into())).unwrap();
        assert!(!sealed.windows(16).any(|w| w == b"PVW7C7EyRVrVJjec"));
        // The same key file opens it again; the key file is owner-only.
        let k2 = SealKey::load_or_create(&dir).unwrap();
        assert_eq!(k2.open_str(&sealed).unwrap().expose(), "PVW7C7EyRVrVJjec");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Any flipped bit, a truncation or another key fails.
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(
                k.open(&bad).err(),
                Some(SealError::Unseal),
                "bit in byte {i}"
            );
        }
        assert!(k.open(&sealed[..10]).is_err());
        assert!(k.open(&[]).is_err());
        let other = SealKey::from_bytes(&[7u8; KEY_LEN]).unwrap();
        assert!(other.open(&sealed).is_err());
        assert_eq!(
            SealKey::from_bytes(&[0u8; 5]).err(),
            Some(SealError::BadKey)
        );
        assert!(k.seal(&vec![0u8; MAX_SEALED_PLAINTEXT + 1]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
