//! Failed-login counters per (user, client address) and per user.
//!
//! A phone with a stale password retries on every sync. Counting per (user, address) stops one
//! device quickly; counting per user (with a higher limit) stops guessing spread over many
//! addresses. Windows are fixed: they start at the first failure and the count restarts once
//! the window has passed. A lock, once set, lasts its full time; a failure reported while locked
//! does not extend it, so a phone that keeps retrying gets in as soon as the password is fixed.
//!
//! Both maps are capped: when one is full, expired entries go first, then the one seen longest
//! ago. Who may be tracked (any name sent, or only known users) is the caller's choice.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

/// Failures from one address for one user that lock that pair.
pub const DEFAULT_PAIR_LIMIT: u32 = 5;
/// Failures for one user from all addresses that lock the user everywhere. Higher than the pair
/// limit so that one misconfigured phone locks only itself, not the user's other devices.
pub const DEFAULT_USER_LIMIT: u32 = 10;
/// Length of the window in which failures are counted.
pub const DEFAULT_WINDOW_SECS: u32 = 15 * 60;
/// How long a lock lasts.
pub const DEFAULT_LOCK_SECS: u32 = 15 * 60;
/// Most (user, address) pairs tracked at once.
pub const MAX_TRACKED_PAIRS: u32 = 4096;
/// Most users tracked at once.
pub const MAX_TRACKED_USERS: u32 = 1024;

/// Limits of a [`Lockout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// See [`DEFAULT_PAIR_LIMIT`]. Zero disables the per-pair rule.
    pub pair_limit: u32,
    /// See [`DEFAULT_USER_LIMIT`]. Zero disables the per-user rule.
    pub user_limit: u32,
    /// See [`DEFAULT_WINDOW_SECS`].
    pub window_secs: u32,
    /// See [`DEFAULT_LOCK_SECS`].
    pub lock_secs: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            pair_limit: DEFAULT_PAIR_LIMIT,
            user_limit: DEFAULT_USER_LIMIT,
            window_secs: DEFAULT_WINDOW_SECS,
            lock_secs: DEFAULT_LOCK_SECS,
        }
    }
}

/// Whether an authentication attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Check the password.
    Allowed,
    /// Refuse without checking (HTTP 401/429 with `Retry-After`).
    Locked {
        /// Seconds until the lock ends.
        retry_after_secs: u32,
    },
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    window_start: u64,
    failures: u32,
    /// Zero when not locked.
    locked_until: u64,
    last_seen: u64,
}

impl Counter {
    fn new(now: u64) -> Self {
        Counter {
            window_start: now,
            failures: 0,
            locked_until: 0,
            last_seen: now,
        }
    }

    fn retry_after(&self, now: u64) -> Option<u32> {
        (now < self.locked_until)
            .then(|| u32::try_from(self.locked_until - now).unwrap_or(u32::MAX))
    }

    /// Neither locked nor holding failures that still count.
    fn is_stale(&self, now: u64, policy: &LockoutPolicy) -> bool {
        self.retry_after(now).is_none()
            && (self.failures == 0
                || now.saturating_sub(self.window_start) >= u64::from(policy.window_secs))
    }

    fn fail(&mut self, now: u64, limit: u32, policy: &LockoutPolicy) {
        self.last_seen = now;
        if limit == 0 || self.retry_after(now).is_some() {
            return;
        }
        if self.locked_until != 0
            || now.saturating_sub(self.window_start) >= u64::from(policy.window_secs)
        {
            *self = Counter::new(now);
        }
        self.failures = self.failures.saturating_add(1);
        if self.failures >= limit {
            self.locked_until = now.saturating_add(u64::from(policy.lock_secs));
        }
    }
}

/// Makes room for one more key: expired entries first, then the one seen longest ago.
fn make_room<K: Eq + Hash + Clone>(
    map: &mut HashMap<K, Counter>,
    cap: u32,
    now: u64,
    policy: &LockoutPolicy,
) {
    if map.len() < cap as usize {
        return;
    }
    map.retain(|_, c| !c.is_stale(now, policy));
    if map.len() < cap as usize {
        return;
    }
    let oldest = map
        .iter()
        .min_by_key(|(_, c)| c.last_seen)
        .map(|(k, _)| k.clone());
    if let Some(oldest) = oldest {
        map.remove(&oldest);
    }
}

/// One IPv6 client usually holds a whole /64, so the pair rule counts per /64 there; an
/// IPv4-mapped address counts as the IPv4 address it carries.
fn client_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// Failure counters. `now` is seconds on the caller's monotonic clock.
#[derive(Debug, Default)]
pub struct Lockout {
    policy: LockoutPolicy,
    pairs: HashMap<(String, IpAddr), Counter>,
    users: HashMap<String, Counter>,
}

impl Lockout {
    /// Empty counters under `policy`.
    pub fn new(policy: LockoutPolicy) -> Self {
        Lockout {
            policy,
            pairs: HashMap::new(),
            users: HashMap::new(),
        }
    }

    /// Whether `user` may try to authenticate from `addr` now. Call before any password check.
    pub fn check(&self, user: &str, addr: IpAddr, now: u64) -> Decision {
        let pair = self
            .pairs
            .get(&(user.to_owned(), client_key(addr)))
            .and_then(|c| c.retry_after(now));
        let user = self.users.get(user).and_then(|c| c.retry_after(now));
        match pair.max(user) {
            Some(retry_after_secs) => Decision::Locked { retry_after_secs },
            None => Decision::Allowed,
        }
    }

    /// Counts a failed attempt and returns the decision that now applies.
    pub fn record_failure(&mut self, user: &str, addr: IpAddr, now: u64) -> Decision {
        let policy = self.policy;
        let key = (user.to_owned(), client_key(addr));
        if !self.pairs.contains_key(&key) {
            make_room(&mut self.pairs, MAX_TRACKED_PAIRS, now, &policy);
        }
        self.pairs
            .entry(key)
            .or_insert_with(|| Counter::new(now))
            .fail(now, policy.pair_limit, &policy);
        if !self.users.contains_key(user) {
            make_room(&mut self.users, MAX_TRACKED_USERS, now, &policy);
        }
        self.users
            .entry(user.to_owned())
            .or_insert_with(|| Counter::new(now))
            .fail(now, policy.user_limit, &policy);
        self.check(user, addr, now)
    }

    /// A correct password: the user has shown they hold it, so both the pair and the user
    /// counters start over (a per-user lock left behind would only hurt their other devices).
    pub fn record_success(&mut self, user: &str, addr: IpAddr) {
        self.pairs.remove(&(user.to_owned(), client_key(addr)));
        self.users.remove(user);
    }

    /// Forgets `user` entirely (the admin unlocked or removed the account).
    pub fn unlock_user(&mut self, user: &str) {
        self.users.remove(user);
        self.pairs.retain(|(u, _), _| u != user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    fn locked(d: Decision) -> bool {
        matches!(d, Decision::Locked { .. })
    }

    fn fail_n(l: &mut Lockout, user: &str, addr: IpAddr, n: u32, now: u64) -> Decision {
        let mut d = Decision::Allowed;
        for _ in 0..n {
            d = l.record_failure(user, addr, now);
        }
        d
    }

    #[test]
    fn pair_locks_after_limit_and_only_that_pair() {
        let mut l = Lockout::default();
        assert_eq!(
            fail_n(&mut l, "anna", A, DEFAULT_PAIR_LIMIT - 1, 100),
            Decision::Allowed
        );
        assert_eq!(l.check("anna", A, 100), Decision::Allowed);
        assert_eq!(
            l.record_failure("anna", A, 100),
            Decision::Locked {
                retry_after_secs: DEFAULT_LOCK_SECS
            }
        );
        assert_eq!(
            l.check("anna", A, 160),
            Decision::Locked {
                retry_after_secs: DEFAULT_LOCK_SECS - 60
            }
        );
        assert_eq!(l.check("anna", B, 160), Decision::Allowed, "other address");
        assert_eq!(l.check("bob", A, 160), Decision::Allowed, "other user");
    }

    #[test]
    fn lock_expires_and_counting_restarts() {
        let mut l = Lockout::default();
        fail_n(&mut l, "anna", A, DEFAULT_PAIR_LIMIT, 0);
        let end = u64::from(DEFAULT_LOCK_SECS);
        assert!(locked(l.check("anna", A, end - 1)));
        assert_eq!(l.check("anna", A, end), Decision::Allowed);
        assert_eq!(l.record_failure("anna", A, end), Decision::Allowed);
    }

    #[test]
    fn failures_while_locked_do_not_extend() {
        let mut l = Lockout::default();
        fail_n(&mut l, "anna", A, DEFAULT_PAIR_LIMIT, 0);
        fail_n(&mut l, "anna", A, 3, 600);
        assert_eq!(
            l.check("anna", A, 600),
            Decision::Locked {
                retry_after_secs: DEFAULT_LOCK_SECS - 600
            }
        );
    }

    #[test]
    fn window_expiry_forgets_old_failures() {
        let mut l = Lockout::default();
        fail_n(&mut l, "anna", A, DEFAULT_PAIR_LIMIT - 1, 0);
        let later = u64::from(DEFAULT_WINDOW_SECS);
        assert_eq!(l.record_failure("anna", A, later), Decision::Allowed);
        fail_n(&mut l, "anna", A, DEFAULT_PAIR_LIMIT - 2, later + 1);
        assert!(locked(l.record_failure("anna", A, later + 2)));
    }

    #[test]
    fn user_locks_across_addresses() {
        let mut l = Lockout::default();
        for i in 0..DEFAULT_USER_LIMIT - 1 {
            let addr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, u8::try_from(i).expect("small")));
            assert_eq!(l.record_failure("anna", addr, 10), Decision::Allowed);
        }
        assert!(locked(l.record_failure("anna", B, 10)));
        assert!(
            locked(l.check("anna", A, 11)),
            "fresh address is locked too"
        );
        assert_eq!(l.check("bob", A, 11), Decision::Allowed);
    }

    #[test]
    fn success_resets() {
        let mut l = Lockout::default();
        fail_n(&mut l, "anna", A, DEFAULT_PAIR_LIMIT - 1, 0);
        fail_n(&mut l, "anna", B, DEFAULT_PAIR_LIMIT - 1, 0);
        l.record_success("anna", A);
        assert_eq!(
            fail_n(&mut l, "anna", A, DEFAULT_PAIR_LIMIT - 1, 1),
            Decision::Allowed
        );
        // The user counter restarted too, or 4 + 4 + 4 would have reached the user limit.
        assert_eq!(l.check("anna", B, 1), Decision::Allowed);
        assert!(
            locked(l.record_failure("anna", B, 1)),
            "B's pair count survived"
        );
    }

    #[test]
    fn unlock_user_clears_pairs() {
        let mut l = Lockout::default();
        fail_n(&mut l, "anna", A, DEFAULT_PAIR_LIMIT, 0);
        fail_n(&mut l, "bob", A, DEFAULT_PAIR_LIMIT, 0);
        l.unlock_user("anna");
        assert_eq!(l.check("anna", A, 1), Decision::Allowed);
        assert!(locked(l.check("bob", A, 1)));
    }

    #[test]
    fn zero_limit_disables_a_rule() {
        let mut l = Lockout::new(LockoutPolicy {
            user_limit: 0,
            ..LockoutPolicy::default()
        });
        for i in 0..50u8 {
            let addr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, i));
            fail_n(&mut l, "anna", addr, DEFAULT_PAIR_LIMIT - 1, 0);
        }
        assert_eq!(l.check("anna", A, 0), Decision::Allowed);
    }

    #[test]
    fn ipv6_counts_per_64() {
        let mut l = Lockout::default();
        let base = 0x2001_0db8_0000_0001_u128 << 64;
        for i in 0..u128::from(DEFAULT_PAIR_LIMIT) {
            l.record_failure("anna", IpAddr::V6(Ipv6Addr::from(base | (i + 1))), 0);
        }
        let same_64 = IpAddr::V6(Ipv6Addr::from(base | 0xffff));
        let other_64 = IpAddr::V6(Ipv6Addr::from(base + (1 << 64)));
        assert!(locked(l.check("anna", same_64, 1)));
        assert_eq!(l.check("anna", other_64, 1), Decision::Allowed);
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        fail_n(&mut l, "bob", mapped, DEFAULT_PAIR_LIMIT, 0);
        assert!(
            locked(l.check("bob", A, 1)),
            "mapped address counts as IPv4"
        );
    }

    #[test]
    fn pair_cap_evicts_oldest_and_prefers_stale() {
        // A window longer than the fill, so nothing goes stale until we say so.
        let window_secs = 10 * MAX_TRACKED_PAIRS;
        let mut l = Lockout::new(LockoutPolicy {
            user_limit: 0,
            window_secs,
            ..LockoutPolicy::default()
        });
        for i in 0..MAX_TRACKED_PAIRS {
            let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            l.record_failure("anna", addr, u64::from(i));
        }
        assert_eq!(l.pairs.len(), MAX_TRACKED_PAIRS as usize);
        l.record_failure("anna", A, u64::from(MAX_TRACKED_PAIRS));
        assert_eq!(l.pairs.len(), MAX_TRACKED_PAIRS as usize);
        let first = ("anna".to_owned(), IpAddr::V4(Ipv4Addr::from(0x0a00_0000)));
        assert!(!l.pairs.contains_key(&first), "oldest evicted");
        assert!(l.pairs.contains_key(&("anna".to_owned(), A)));

        // Once the window has passed, all old entries are stale and go together.
        let later = u64::from(MAX_TRACKED_PAIRS) + u64::from(window_secs) + 1;
        l.record_failure("anna", B, later);
        assert!(l.pairs.len() < 10, "{}", l.pairs.len());
    }

    #[test]
    fn user_cap_evicts_oldest() {
        let mut l = Lockout::new(LockoutPolicy {
            window_secs: 10 * MAX_TRACKED_USERS,
            ..LockoutPolicy::default()
        });
        for i in 0..MAX_TRACKED_USERS {
            l.record_failure(&format!("u{i}"), A, u64::from(i));
        }
        assert_eq!(l.users.len(), MAX_TRACKED_USERS as usize);
        l.record_failure("late", A, u64::from(MAX_TRACKED_USERS));
        assert_eq!(l.users.len(), MAX_TRACKED_USERS as usize);
        assert!(!l.users.contains_key("u0"));
        assert!(l.users.contains_key("late"));
    }
}
