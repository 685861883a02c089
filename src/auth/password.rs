//! argon2id password hashes in PHC string form (RFC 9106 Argon2, PHC string format).

use super::{AuthError, Secret};
use argon2::{
    ARGON2ID_IDENT, Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version,
};
use std::fmt;

/// argon2 memory cost in KiB: 19 MiB, the OWASP Password Storage Cheat Sheet minimum for
/// argon2id. A Raspberry-Pi-class box has 1–4 GiB, so a few hashes at once fit easily, while a
/// larger setting would make every cold login (and every guess we must check) slow on a
/// Cortex-A53. The HTTP layer should still bound how many hashes run at once.
pub const ARGON2_M_COST_KIB: u32 = 19 * 1024;

/// argon2 passes over memory (OWASP pairs t=2 with m=19 MiB).
pub const ARGON2_T_COST: u32 = 2;

/// argon2 lanes. One: the box has few cores and other requests to serve, and the `argon2`
/// crate computes lanes sequentially without its `parallel` feature anyway.
pub const ARGON2_P_COST: u32 = 1;

/// Longest password accepted, in bytes. Basic auth headers are capped by the HTTP layer too;
/// this cap keeps a hostile client from making us hash megabytes per guess.
pub const MAX_PASSWORD_LEN: u32 = 1024;

/// An argon2id hash in PHC string form (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), the only form
/// in which passwords are stored.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Accepts a stored PHC string after checking that it is an argon2id hash.
    pub fn from_phc(phc: String) -> Result<Self, AuthError> {
        let parsed = argon2::PasswordHash::new(&phc).map_err(|_| AuthError::InvalidHash)?;
        if parsed.algorithm != ARGON2ID_IDENT || parsed.salt.is_none() || parsed.hash.is_none() {
            return Err(AuthError::InvalidHash);
        }
        Ok(PasswordHash(phc))
    }

    /// The PHC string, for storing.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The hash is not the password, but it allows offline guessing, so it stays out of logs too.
impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

fn hasher() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn check_len(password: &Secret<String>) -> Result<(), AuthError> {
    if password.expose().len() > MAX_PASSWORD_LEN as usize {
        return Err(AuthError::PasswordTooLong {
            max: MAX_PASSWORD_LEN,
        });
    }
    Ok(())
}

/// Hashes a password with argon2id, the parameters above and a fresh 16-byte random salt.
pub fn hash_password(password: &Secret<String>) -> Result<PasswordHash, AuthError> {
    check_len(password)?;
    let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
    getrandom::fill(&mut salt).map_err(|_| AuthError::Random)?;
    let phc = hasher()?
        .hash_password_with_salt(password.expose().as_bytes(), &salt)
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(PasswordHash(phc.to_string()))
}

/// Whether `password` matches `hash`. Uses the parameters recorded in the hash, so hashes made
/// with older settings still verify. The final comparison is constant-time (the `phc` crate's
/// `Output` equality). An over-long password is refused before argon2 runs.
pub fn verify_password(hash: &PasswordHash, password: &Secret<String>) -> bool {
    if check_len(password).is_err() {
        return false;
    }
    let Ok(parsed) = argon2::PasswordHash::new(hash.as_str()) else {
        return false;
    };
    if parsed.algorithm != ARGON2ID_IDENT {
        return false;
    }
    let Ok(argon2) = hasher() else {
        return false;
    };
    argon2
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret<String> {
        Secret::new(s.to_owned())
    }

    #[test]
    fn hash_then_verify() {
        let h = hash_password(&secret("correct horse")).expect("hash");
        assert!(
            h.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            h.as_str()
        );
        assert!(verify_password(&h, &secret("correct horse")));
        assert!(!verify_password(&h, &secret("correct horsE")));
        assert!(!verify_password(&h, &secret("")));
    }

    #[test]
    fn salts_differ() {
        let a = hash_password(&secret("same")).expect("hash");
        let b = hash_password(&secret("same")).expect("hash");
        assert_ne!(a.as_str(), b.as_str());
    }

    #[test]
    fn length_cap() {
        let at_cap = "x".repeat(MAX_PASSWORD_LEN as usize);
        let h = hash_password(&secret(&at_cap)).expect("a password at the cap hashes");
        assert!(verify_password(&h, &secret(&at_cap)));
        let over = "x".repeat(MAX_PASSWORD_LEN as usize + 1);
        assert_eq!(
            hash_password(&secret(&over)),
            Err(AuthError::PasswordTooLong {
                max: MAX_PASSWORD_LEN
            })
        );
        assert!(!verify_password(&h, &secret(&over)));
    }

    #[test]
    fn stored_hash_round_trip_and_rejects() {
        let h = hash_password(&secret("pw")).expect("hash");
        let back = PasswordHash::from_phc(h.as_str().to_owned()).expect("valid");
        assert!(verify_password(&back, &secret("pw")));
        assert_eq!(
            PasswordHash::from_phc("not a hash".into()),
            Err(AuthError::InvalidHash)
        );
        let argon2i = h.as_str().replacen("argon2id", "argon2i", 1);
        assert_eq!(PasswordHash::from_phc(argon2i), Err(AuthError::InvalidHash));
        // A hash that slipped past `from_phc` (built directly) still fails closed.
        assert!(!verify_password(
            &PasswordHash("garbage".into()),
            &secret("pw")
        ));
    }

    #[test]
    fn debug_hides_hash() {
        let h = hash_password(&secret("pw")).expect("hash");
        assert_eq!(format!("{h:?}"), "PasswordHash(***)");
    }
}
