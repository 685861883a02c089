//! Memory of recently verified passwords, so argon2 runs once per user per TTL.
//!
//! Only an HMAC-SHA-256 tag of (user, password) is kept, under a key drawn at start-up that never
//! leaves the process: a memory dump does not give the passwords, and the tags are useless to
//! another process or after a restart. The TTL is absolute (counted from the verification, not
//! refreshed by hits) so that a password changed or revoked in the CRM stops working within it.

use super::{AuthError, Secret};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use zeroize::Zeroizing;

type Tag = [u8; 32];

/// How long a verified password is trusted without running argon2 (or asking the CRM) again.
pub const DEFAULT_CACHE_TTL_SECS: u32 = 15 * 60;

/// Most users remembered at once; when full, the entry verified longest ago goes. An office box
/// serves tens of users, so this only bounds memory against a flood of distinct user names.
pub const MAX_CACHED_USERS: u32 = 1024;

struct Entry {
    tag: Tag,
    verified_at: u64,
}

/// Recently verified (user, password) pairs. `now` is seconds on the caller's monotonic clock.
pub struct VerifiedCache {
    key: Zeroizing<[u8; 32]>,
    ttl_secs: u32,
    entries: HashMap<String, Entry>,
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("ttl_secs", &self.ttl_secs)
            .field("users", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl VerifiedCache {
    /// A cache with a fresh random key and the given TTL.
    pub fn new(ttl_secs: u32) -> Result<Self, AuthError> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut_slice()).map_err(|_| AuthError::Random)?;
        Ok(VerifiedCache {
            key,
            ttl_secs,
            entries: HashMap::new(),
        })
    }

    /// The user name is part of the MAC input (length-prefixed, so "ab"+"c" ≠ "a"+"bc"): a tag
    /// copied to another user's entry would not match.
    fn mac(&self, user: &str, password: &Secret<String>) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.as_slice()).ok()?;
        let user_len = u64::try_from(user.len()).ok()?;
        mac.update(&user_len.to_le_bytes());
        mac.update(user.as_bytes());
        mac.update(password.expose().as_bytes());
        Some(mac)
    }

    /// Records that `password` was just verified for `user` (by argon2 or by the CRM).
    pub fn insert(&mut self, user: &str, password: &Secret<String>, now: u64) {
        // The key length is always valid for HMAC; should that ever fail, not caching only
        // costs an argon2 run on the next request.
        let Some(mac) = self.mac(user, password) else {
            return;
        };
        let tag: Tag = mac.finalize().into_bytes().into();
        if !self.entries.contains_key(user) && self.entries.len() >= MAX_CACHED_USERS as usize {
            self.entries
                .retain(|_, e| now.saturating_sub(e.verified_at) < u64::from(self.ttl_secs));
            if self.entries.len() >= MAX_CACHED_USERS as usize {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.verified_at)
                    .map(|(u, _)| u.clone());
                if let Some(oldest) = oldest {
                    self.entries.remove(&oldest);
                }
            }
        }
        self.entries.insert(
            user.to_owned(),
            Entry {
                tag,
                verified_at: now,
            },
        );
    }

    /// Whether `password` was verified for `user` less than the TTL ago. The tag comparison is
    /// constant-time. A wrong password does not evict the entry: otherwise anyone could force
    /// argon2 runs for a user by sending a bad password.
    pub fn check(&mut self, user: &str, password: &Secret<String>, now: u64) -> bool {
        let Some(entry) = self.entries.get(user) else {
            return false;
        };
        // A clock that went backwards (now < verified_at) is treated as expired too.
        if now < entry.verified_at || now - entry.verified_at >= u64::from(self.ttl_secs) {
            self.entries.remove(user);
            return false;
        }
        let tag = entry.tag;
        self.mac(user, password)
            .is_some_and(|mac| mac.verify_slice(&tag).is_ok())
    }

    /// Forgets `user` (password changed, ActiveSync disabled, account removed).
    pub fn invalidate(&mut self, user: &str) {
        self.entries.remove(user);
    }

    /// Forgets everyone (e.g. the CRM address changed).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Number of users currently remembered, expired or not.
    pub fn len(&self) -> u32 {
        u32::try_from(self.entries.len()).unwrap_or(u32::MAX)
    }

    /// Whether no user is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Secret<String> {
        Secret::new(s.to_owned())
    }

    fn cache() -> VerifiedCache {
        VerifiedCache::new(DEFAULT_CACHE_TTL_SECS).expect("random key")
    }

    #[test]
    fn hit_and_miss() {
        let mut c = cache();
        assert!(!c.check("anna", &pw("pw"), 100), "empty cache");
        c.insert("anna", &pw("pw"), 100);
        assert!(c.check("anna", &pw("pw"), 101));
        assert!(!c.check("anna", &pw("pW"), 101), "wrong password");
        assert!(!c.check("bob", &pw("pw"), 101), "other user");
        assert!(c.check("anna", &pw("pw"), 102), "a miss does not evict");
    }

    #[test]
    fn user_is_bound_into_the_tag() {
        let mut c = cache();
        c.insert("ab", &pw("c"), 0);
        let tag = c.entries.get("ab").map(|e| e.tag).expect("entry");
        c.entries.insert(
            "a".into(),
            Entry {
                tag,
                verified_at: 0,
            },
        );
        assert!(!c.check("a", &pw("bc"), 1));
        assert!(c.check("ab", &pw("c"), 1));
    }

    #[test]
    fn expiry() {
        let mut c = cache();
        let ttl = u64::from(DEFAULT_CACHE_TTL_SECS);
        c.insert("anna", &pw("pw"), 1000);
        assert!(c.check("anna", &pw("pw"), 1000 + ttl - 1));
        assert!(!c.check("anna", &pw("pw"), 1000 + ttl));
        assert!(c.is_empty(), "expired entry is dropped");
        c.insert("anna", &pw("pw"), 1000);
        assert!(!c.check("anna", &pw("pw"), 999), "clock went backwards");
    }

    #[test]
    fn insert_refreshes_and_replaces() {
        let mut c = cache();
        c.insert("anna", &pw("old"), 0);
        c.insert("anna", &pw("new"), 10);
        assert!(!c.check("anna", &pw("old"), 11));
        assert!(c.check("anna", &pw("new"), 11));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn cap_evicts_oldest() {
        // A TTL longer than the fill so that nothing expires and the oldest must be chosen.
        let mut c = VerifiedCache::new(10 * MAX_CACHED_USERS).expect("random key");
        for i in 0..MAX_CACHED_USERS {
            c.insert(&format!("u{i}"), &pw("pw"), u64::from(i));
        }
        assert_eq!(c.len(), MAX_CACHED_USERS);
        c.insert("late", &pw("pw"), u64::from(MAX_CACHED_USERS));
        assert_eq!(c.len(), MAX_CACHED_USERS);
        let now = u64::from(MAX_CACHED_USERS) + 1;
        assert!(!c.check("u0", &pw("pw"), now), "oldest evicted");
        assert!(c.check("u1", &pw("pw"), now));
        assert!(c.check("late", &pw("pw"), now));
    }

    #[test]
    fn cap_prefers_dropping_expired() {
        let mut c = VerifiedCache::new(100).expect("random key");
        c.insert("stale", &pw("pw"), 0);
        for i in 1..MAX_CACHED_USERS {
            c.insert(&format!("u{i}"), &pw("pw"), 500);
        }
        c.insert("late", &pw("pw"), 550);
        assert_eq!(c.len(), MAX_CACHED_USERS, "only the expired entry went");
        assert!(c.check("u1", &pw("pw"), 551));
    }

    #[test]
    fn invalidation() {
        let mut c = cache();
        c.insert("anna", &pw("pw"), 0);
        c.insert("bob", &pw("pw"), 0);
        c.invalidate("anna");
        assert!(!c.check("anna", &pw("pw"), 1));
        assert!(c.check("bob", &pw("pw"), 1));
        c.clear();
        assert!(!c.check("bob", &pw("pw"), 1));
    }

    #[test]
    fn keys_differ_per_instance() {
        let a = cache();
        let b = cache();
        assert_ne!(a.key.as_slice(), b.key.as_slice());
    }
}
