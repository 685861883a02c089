//! CRM passwords typed on a phone (issue 4 §3, DESIGN.md "Authentication"): the policy that
//! decides, per request, whether the box accepts a password from what it already knows, asks
//! the CRM with `login_pwd` (CRM-API §2.3), or refuses without asking.
//!
//! Why so careful: vtenext counts failed logins per (user, caller address) and locks the user
//! after 5; after 100 from one address it bans that address for *every* user (CRM-API §0.4). The
//! caller is always the box, so every phone's wrong password lands on one counter per user, and
//! the CRM resets that counter only when a login of that user from the box succeeds. The box
//! therefore keeps its own count of the CRM failures it caused and stops asking long before 5:
//!
//! - [`CRM_PAIR_LIMIT`] failures per (user, phone address) in [`CRM_PAIR_WINDOW_SECS`] slow one
//!   phone down;
//! - [`CRM_USER_LIMIT`] failures per user, from all addresses, until the CRM accepts a password
//!   of that user again (or the admin unlocks the user): the CRM's own count is not released by
//!   time either, so a time-based release here would let a retrying phone walk it up to the lock.
//!   One below the CRM's limit is left for the connector's own login as that user.
//! - A password the CRM refused is remembered (as a keyed HMAC tag, never in clear) until the CRM
//!   accepts one for that user: a phone retrying a stale password on every sync costs the CRM one
//!   failure, not one per request, and does not use up the budget for the corrected password.
//!
//! A password the CRM accepted is kept as an argon2id hash with the time of the check (the store
//! does that, `store::crm_index::CrmPassword`). It is trusted alone for
//! [`CRM_PASSWORD_FRESH_SECS`]; after that the CRM is asked again, so a password changed or a
//! user disabled in the CRM stops working within that time. While the CRM cannot be asked (down,
//! not configured, the box banned, the user locked there), a matching hash up to
//! [`CRM_PASSWORD_GRACE_SECS`] old still lets the phone in: the box keeps serving while the CRM
//! is down (DESIGN.md "The CRM is not trusted to be up").
//!
//! Without any usable hash and without the CRM the answer is a refusal (HTTP 401), not a 503: a
//! 503 makes phones report a server error and some back off for hours, while a 401 is retried
//! by the phone on its next sync, which works again as soon as the CRM is back.
//!
//! Time is passed in (`now`, Unix seconds) so every rule is testable without sleeping.

use super::lockout::{Decision, Lockout, LockoutPolicy};
use super::{AuthError, Secret};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::net::IpAddr;
use zeroize::Zeroizing;

/// How long a CRM password the CRM accepted is trusted without asking the CRM again (1 day):
/// the bound on how long a password changed, or a user disabled, in the CRM still works here.
pub const CRM_PASSWORD_FRESH_SECS: u32 = 86_400;
/// How long a cached CRM password still works while the CRM cannot be asked (7 days): a CRM
/// outage over a long weekend does not cut the phones off.
pub const CRM_PASSWORD_GRACE_SECS: u32 = 7 * 86_400;
/// CRM failures one (user, phone address) may cause in [`CRM_PAIR_WINDOW_SECS`].
pub const CRM_PAIR_LIMIT: u32 = 2;
/// Window and lock time of the per-address rule.
pub const CRM_PAIR_WINDOW_SECS: u32 = 15 * 60;
/// CRM failures the box may cause for one user until the CRM accepts a password of that user
/// again. Below the CRM's 5 (CRM-API §0.4), with one left for the connector's login as the user.
pub const CRM_USER_LIMIT: u32 = 3;
/// After the CRM answered LOGIN_LOCKED for a user, the box does not ask it about that user for
/// this long (every further attempt would only be refused, and logged there).
pub const CRM_LOCKED_BACKOFF_SECS: u32 = 3600;
/// After the CRM answered IP_BANNED, the box asks it about no one for this long.
pub const CRM_BANNED_BACKOFF_SECS: u32 = 3600;
/// Refused passwords remembered per user. Each one cost a CRM failure, so the user limit
/// already bounds them; this is the cap should the limits ever change.
pub const MAX_REJECTED_PER_USER: u32 = 8;
/// Users with remembered refused passwords or a CRM lock; the entry touched longest ago goes
/// first. Only users that exist on the box get here, so this is far above any office.
pub const MAX_REJECTED_USERS: u32 = 1024;

/// The policy of the per-user rule: no window, no release by time (see the module docs).
const USER_POLICY: LockoutPolicy = LockoutPolicy {
    pair_limit: 0,
    user_limit: CRM_USER_LIMIT,
    window_secs: u32::MAX,
    lock_secs: u32::MAX,
};

const PAIR_POLICY: LockoutPolicy = LockoutPolicy {
    pair_limit: CRM_PAIR_LIMIT,
    user_limit: 0,
    window_secs: CRM_PAIR_WINDOW_SECS,
    lock_secs: CRM_PAIR_WINDOW_SECS,
};

type Tag = [u8; 32];

/// How old the stored hash of a password is, for a password that matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheAge {
    /// Younger than [`CRM_PASSWORD_FRESH_SECS`]: accept without the CRM.
    Fresh,
    /// Older, but younger than [`CRM_PASSWORD_GRACE_SECS`]: accept only if the CRM cannot be
    /// asked.
    Grace,
    /// Too old to be used at all.
    Expired,
}

/// The age class of a hash verified at `verified_at` (Unix seconds). A time in the future
/// (the clock went backwards, or a damaged record) proves nothing and counts as expired.
pub fn cache_age(verified_at: i64, now: i64) -> CacheAge {
    match now.checked_sub(verified_at) {
        Some(age) if (0..i64::from(CRM_PASSWORD_FRESH_SECS)).contains(&age) => CacheAge::Fresh,
        Some(age) if (0..i64::from(CRM_PASSWORD_GRACE_SECS)).contains(&age) => CacheAge::Grace,
        _ => CacheAge::Expired,
    }
}

/// What to do with a CRM password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let the phone in.
    Accept,
    /// Ask the CRM (`login_pwd`) and report the answer with [`CrmPasswordGuard::record`].
    AskCrm,
    /// HTTP 401 without asking the CRM (again).
    Refuse(Refusal),
}

/// Why a CRM password was refused (for the log; the phone sees a 401 in every case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The CRM refused this very password earlier; it was not asked again.
    KnownWrong,
    /// The CRM refused the password just now.
    WrongPassword,
    /// The box-side limit of CRM failures for this user or address is reached.
    Limited,
    /// The CRM cannot be asked (not configured, unreachable, the box banned, the user locked
    /// there) and no hash of this password young enough is stored.
    CrmUnavailable,
}

/// The CRM's answer to `login_pwd`, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmAnswer {
    /// The password is right (the access key came back).
    Accepted,
    /// The CRM counted a failure: INVALID_USER_CREDENTIALS, or AUTHENTICATION_REQUIRED (the user
    /// is inactive there), or another credential error.
    Refused,
    /// LOGIN_LOCKED: the CRM refuses this user whatever the password.
    UserLocked,
    /// IP_BANNED: the CRM refuses the box for everyone.
    BoxBanned,
    /// No verdict: the CRM is down, slow, or answered something unreadable.
    Unavailable,
}

/// What [`CrmPasswordGuard::record`] concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    /// The CRM has just started refusing the user (LOGIN_LOCKED) or the box (IP_BANNED): log
    /// an error once, not on every request.
    pub newly_blocked: bool,
}

struct Rejected {
    tags: Vec<Tag>,
    /// Zero when the CRM does not lock the user.
    locked_until: u64,
    last_seen: u64,
}

/// The box's memory of what the CRM said about users' passwords. Keep one per CRM.
pub struct CrmPasswordGuard {
    key: Zeroizing<[u8; 32]>,
    pairs: Lockout,
    users: Lockout,
    rejected: HashMap<String, Rejected>,
    banned_until: u64,
}

impl std::fmt::Debug for CrmPasswordGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrmPasswordGuard")
            .field("users_with_refusals", &self.rejected.len())
            .field("banned_until", &self.banned_until)
            .finish_non_exhaustive()
    }
}

impl CrmPasswordGuard {
    /// An empty guard with a fresh random key for the refused-password tags.
    pub fn new() -> Result<Self, AuthError> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut_slice()).map_err(|_| AuthError::Random)?;
        Ok(CrmPasswordGuard {
            key,
            pairs: Lockout::new(PAIR_POLICY),
            users: Lockout::new(USER_POLICY),
            rejected: HashMap::new(),
            banned_until: 0,
        })
    }

    /// The user name is length-prefixed into the MAC input, as in `VerifiedCache`, so a tag
    /// of one user never matches for another.
    fn mac(&self, user: &str, password: &Secret<String>) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.as_slice()).ok()?;
        let user_len = u64::try_from(user.len()).ok()?;
        mac.update(&user_len.to_le_bytes());
        mac.update(user.as_bytes());
        mac.update(password.expose().as_bytes());
        Some(mac)
    }

    fn is_rejected(&self, user: &str, password: &Secret<String>) -> bool {
        let Some(r) = self.rejected.get(user) else {
            return false;
        };
        // verify_slice compares in constant time.
        r.tags.iter().any(|t| {
            self.mac(user, password)
                .is_some_and(|mac| mac.verify_slice(t).is_ok())
        })
    }

    fn user_locked(&self, user: &str, now: u64) -> bool {
        self.rejected
            .get(user)
            .is_some_and(|r| now < r.locked_until)
    }

    fn entry(&mut self, user: &str, now: u64) -> &mut Rejected {
        if !self.rejected.contains_key(user)
            && self.rejected.len() >= MAX_REJECTED_USERS as usize
            && let Some(oldest) = self
                .rejected
                .iter()
                .min_by_key(|(_, r)| r.last_seen)
                .map(|(u, _)| u.clone())
        {
            self.rejected.remove(&oldest);
        }
        let r = self
            .rejected
            .entry(user.to_owned())
            .or_insert_with(|| Rejected {
                tags: Vec::new(),
                locked_until: 0,
                last_seen: now,
            });
        r.last_seen = now;
        r
    }

    /// What to do with `password` for `user` from `addr`. `cached` is the age of the stored
    /// hash when the password matches it (`None`: no hash, or it does not match);
    /// `crm_configured` whether a CRM client exists at all.
    pub fn decide(
        &self,
        user: &str,
        addr: IpAddr,
        password: &Secret<String>,
        cached: Option<CacheAge>,
        crm_configured: bool,
        now: u64,
    ) -> Verdict {
        if cached == Some(CacheAge::Fresh) {
            return Verdict::Accept;
        }
        if !crm_configured || now < self.banned_until || self.user_locked(user, now) {
            return fallback(cached, Refusal::CrmUnavailable);
        }
        if self.is_rejected(user, password) {
            return Verdict::Refuse(Refusal::KnownWrong);
        }
        let limited = matches!(self.pairs.check(user, addr, now), Decision::Locked { .. })
            || matches!(self.users.check(user, addr, now), Decision::Locked { .. });
        if limited {
            return fallback(cached, Refusal::Limited);
        }
        Verdict::AskCrm
    }

    /// Takes the CRM's answer to a `login_pwd` that [`Self::decide`] asked for.
    pub fn record(
        &mut self,
        user: &str,
        addr: IpAddr,
        password: &Secret<String>,
        answer: CrmAnswer,
        cached: Option<CacheAge>,
        now: u64,
    ) -> Outcome {
        let mut newly_blocked = false;
        let verdict = match answer {
            CrmAnswer::Accepted => {
                // The CRM reset its count for this user: so does the box.
                self.pairs.record_success(user, addr);
                self.users.record_success(user, addr);
                self.rejected.remove(user);
                Verdict::Accept
            }
            CrmAnswer::Refused => {
                self.pairs.record_failure(user, addr, now);
                self.users.record_failure(user, addr, now);
                let tag: Option<Tag> = self
                    .mac(user, password)
                    .map(|m| m.finalize().into_bytes().into());
                let r = self.entry(user, now);
                if let Some(tag) = tag
                    && !r.tags.contains(&tag)
                {
                    if r.tags.len() >= MAX_REJECTED_PER_USER as usize {
                        r.tags.remove(0);
                    }
                    r.tags.push(tag);
                }
                Verdict::Refuse(Refusal::WrongPassword)
            }
            CrmAnswer::UserLocked => {
                let r = self.entry(user, now);
                newly_blocked = now >= r.locked_until;
                r.locked_until = now.saturating_add(u64::from(CRM_LOCKED_BACKOFF_SECS));
                fallback(cached, Refusal::CrmUnavailable)
            }
            CrmAnswer::BoxBanned => {
                newly_blocked = now >= self.banned_until;
                self.banned_until = now.saturating_add(u64::from(CRM_BANNED_BACKOFF_SECS));
                fallback(cached, Refusal::CrmUnavailable)
            }
            CrmAnswer::Unavailable => fallback(cached, Refusal::CrmUnavailable),
        };
        Outcome {
            verdict,
            newly_blocked,
        }
    }

    /// Forgets everything about `user` (the admin unlocked the user in the CRM and here).
    pub fn unlock_user(&mut self, user: &str) {
        self.pairs.unlock_user(user);
        self.users.unlock_user(user);
        self.rejected.remove(user);
    }
}

/// When the CRM cannot give a verdict: a hash within the grace period still works.
fn fallback(cached: Option<CacheAge>, otherwise: Refusal) -> Verdict {
    match cached {
        Some(CacheAge::Fresh | CacheAge::Grace) => Verdict::Accept,
        _ => Verdict::Refuse(otherwise),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    const FRESH: i64 = CRM_PASSWORD_FRESH_SECS as i64;
    const GRACE: i64 = CRM_PASSWORD_GRACE_SECS as i64;

    fn pw(s: &str) -> Secret<String> {
        Secret::new(s.to_owned())
    }

    fn guard() -> CrmPasswordGuard {
        CrmPasswordGuard::new().expect("random key")
    }

    #[test]
    fn limits_stay_below_the_crm_lockout() {
        // CRM-API §0.4: vtenext locks a user after 5 failures from one address.
        const { assert!(CRM_USER_LIMIT < 5) };
        const { assert!(CRM_PAIR_LIMIT <= CRM_USER_LIMIT) };
        const { assert!(CRM_PASSWORD_FRESH_SECS < CRM_PASSWORD_GRACE_SECS) };
    }

    #[test]
    fn age_classes() {
        let now = 10 * GRACE;
        assert_eq!(cache_age(now, now), CacheAge::Fresh);
        assert_eq!(cache_age(now - FRESH + 1, now), CacheAge::Fresh);
        assert_eq!(cache_age(now - FRESH, now), CacheAge::Grace);
        assert_eq!(cache_age(now - GRACE + 1, now), CacheAge::Grace);
        assert_eq!(cache_age(now - GRACE, now), CacheAge::Expired);
        assert_eq!(cache_age(now + 1, now), CacheAge::Expired, "future");
        assert_eq!(cache_age(i64::MIN, i64::MAX), CacheAge::Expired, "overflow");
    }

    #[test]
    fn fresh_hash_accepts_without_the_crm() {
        let g = guard();
        for crm in [true, false] {
            assert_eq!(
                g.decide("anna", A, &pw("pw"), Some(CacheAge::Fresh), crm, 0),
                Verdict::Accept
            );
        }
        assert_eq!(
            g.decide("anna", A, &pw("pw"), Some(CacheAge::Grace), true, 0),
            Verdict::AskCrm,
            "stale: the CRM is asked again when it can be"
        );
        assert_eq!(
            g.decide("anna", A, &pw("pw"), None, true, 0),
            Verdict::AskCrm
        );
    }

    #[test]
    fn without_crm_only_grace_works() {
        let g = guard();
        assert_eq!(
            g.decide("anna", A, &pw("pw"), Some(CacheAge::Grace), false, 0),
            Verdict::Accept
        );
        for cached in [None, Some(CacheAge::Expired)] {
            assert_eq!(
                g.decide("anna", A, &pw("pw"), cached, false, 0),
                Verdict::Refuse(Refusal::CrmUnavailable)
            );
        }
    }

    #[test]
    fn crm_down_falls_back_to_grace() {
        let mut g = guard();
        let o = g.record(
            "anna",
            A,
            &pw("pw"),
            CrmAnswer::Unavailable,
            Some(CacheAge::Grace),
            0,
        );
        assert_eq!(o.verdict, Verdict::Accept);
        let o = g.record(
            "anna",
            A,
            &pw("pw"),
            CrmAnswer::Unavailable,
            Some(CacheAge::Expired),
            0,
        );
        assert_eq!(o.verdict, Verdict::Refuse(Refusal::CrmUnavailable));
        // Outages are not failures: nothing was counted.
        assert_eq!(
            g.decide("anna", A, &pw("other"), None, true, 1),
            Verdict::AskCrm
        );
    }

    #[test]
    fn same_wrong_password_is_asked_once() {
        let mut g = guard();
        let mut asked = 0;
        for now in 0..50 {
            match g.decide("anna", A, &pw("stale"), None, true, now) {
                Verdict::AskCrm => {
                    asked += 1;
                    g.record("anna", A, &pw("stale"), CrmAnswer::Refused, None, now);
                }
                Verdict::Refuse(r) => assert_eq!(r, Refusal::KnownWrong),
                Verdict::Accept => panic!("accepted a wrong password"),
            }
        }
        assert_eq!(asked, 1);
        // The corrected password is still checked.
        assert_eq!(
            g.decide("anna", A, &pw("right"), None, true, 60),
            Verdict::AskCrm
        );
        assert_eq!(
            g.decide("bob", A, &pw("stale"), None, true, 60),
            Verdict::AskCrm,
            "the tag is bound to the user"
        );
    }

    #[test]
    fn distinct_wrong_passwords_stop_below_the_crm_limit() {
        let mut g = guard();
        let mut asked = 0u32;
        // Many addresses, many passwords, a long time: the CRM's count never reaches its 5.
        for i in 0..50u32 {
            let addr = IpAddr::V4(Ipv4Addr::from(0xc000_0200 + i));
            let now = u64::from(i) * u64::from(CRM_PAIR_WINDOW_SECS) * 4;
            let p = pw(&format!("guess{i}"));
            match g.decide("anna", addr, &p, None, true, now) {
                Verdict::AskCrm => {
                    asked += 1;
                    let o = g.record("anna", addr, &p, CrmAnswer::Refused, None, now);
                    assert_eq!(o.verdict, Verdict::Refuse(Refusal::WrongPassword));
                }
                Verdict::Refuse(r) => assert_eq!(r, Refusal::Limited),
                Verdict::Accept => panic!("accepted a wrong password"),
            }
        }
        assert_eq!(asked, CRM_USER_LIMIT);
        // A password the box knows (still within grace) gets in without the CRM.
        assert_eq!(
            g.decide(
                "anna",
                A,
                &pw("right"),
                Some(CacheAge::Grace),
                true,
                1 << 20
            ),
            Verdict::Accept
        );
        assert_eq!(
            g.decide("bob", A, &pw("x"), None, true, 0),
            Verdict::AskCrm,
            "other users are not affected"
        );
    }

    #[test]
    fn pair_limit_slows_one_address_and_releases() {
        let mut g = guard();
        for i in 0..CRM_PAIR_LIMIT {
            let p = pw(&format!("g{i}"));
            assert_eq!(g.decide("anna", A, &p, None, true, 0), Verdict::AskCrm);
            g.record("anna", A, &p, CrmAnswer::Refused, None, 0);
        }
        assert_eq!(
            g.decide("anna", A, &pw("next"), None, true, 1),
            Verdict::Refuse(Refusal::Limited)
        );
        assert_eq!(
            g.decide("anna", B, &pw("next"), None, true, 1),
            Verdict::AskCrm,
            "another address of the user still has budget"
        );
        let later = u64::from(CRM_PAIR_WINDOW_SECS);
        assert_eq!(
            g.decide("anna", A, &pw("next"), None, true, later),
            Verdict::AskCrm
        );
    }

    #[test]
    fn success_resets_everything() {
        let mut g = guard();
        for i in 0..CRM_USER_LIMIT {
            let addr = IpAddr::V4(Ipv4Addr::from(0xc000_0200 + i));
            g.record("anna", addr, &pw("old"), CrmAnswer::Refused, None, 0);
        }
        assert_eq!(
            g.decide("anna", B, &pw("new"), None, true, 1),
            Verdict::Refuse(Refusal::Limited)
        );
        g.record("anna", B, &pw("new"), CrmAnswer::Accepted, None, 1);
        assert_eq!(
            g.decide("anna", B, &pw("old"), None, true, 2),
            Verdict::AskCrm,
            "refusals are forgotten once the CRM reset its count"
        );
    }

    #[test]
    fn unlock_user_forgets() {
        let mut g = guard();
        for i in 0..CRM_USER_LIMIT {
            g.record("anna", A, &pw(&format!("{i}")), CrmAnswer::Refused, None, 0);
        }
        g.unlock_user("anna");
        assert_eq!(
            g.decide("anna", A, &pw("0"), None, true, 1),
            Verdict::AskCrm
        );
    }

    #[test]
    fn crm_lock_and_ban_stop_asking_and_report_once() {
        let mut g = guard();
        let o = g.record("anna", A, &pw("pw"), CrmAnswer::UserLocked, None, 0);
        assert_eq!(o.verdict, Verdict::Refuse(Refusal::CrmUnavailable));
        assert!(o.newly_blocked);
        let o = g.record("anna", A, &pw("pw"), CrmAnswer::UserLocked, None, 1);
        assert!(!o.newly_blocked, "logged once");
        assert_eq!(
            g.decide("anna", A, &pw("pw"), None, true, 2),
            Verdict::Refuse(Refusal::CrmUnavailable)
        );
        assert_eq!(
            g.decide("anna", A, &pw("pw"), Some(CacheAge::Grace), true, 2),
            Verdict::Accept
        );
        assert_eq!(
            g.decide("bob", A, &pw("pw"), None, true, 2),
            Verdict::AskCrm
        );
        let end = 1 + u64::from(CRM_LOCKED_BACKOFF_SECS);
        assert_eq!(
            g.decide("anna", A, &pw("pw"), None, true, end),
            Verdict::AskCrm
        );

        let o = g.record("bob", A, &pw("pw"), CrmAnswer::BoxBanned, None, 10);
        assert!(o.newly_blocked);
        assert_eq!(
            g.decide("carl", B, &pw("pw"), None, true, 11),
            Verdict::Refuse(Refusal::CrmUnavailable),
            "a ban stops asking about everyone"
        );
        let end = 10 + u64::from(CRM_BANNED_BACKOFF_SECS);
        assert_eq!(
            g.decide("carl", B, &pw("pw"), None, true, end),
            Verdict::AskCrm
        );
    }

    #[test]
    fn rejected_memory_is_capped() {
        let mut g = guard();
        for i in 0..MAX_REJECTED_USERS + 5 {
            g.record(
                &format!("u{i}"),
                A,
                &pw("x"),
                CrmAnswer::Refused,
                None,
                u64::from(i),
            );
        }
        assert_eq!(g.rejected.len(), MAX_REJECTED_USERS as usize);
        assert!(!g.rejected.contains_key("u0"), "oldest went first");
        let mut g2 = guard();
        for i in 0..MAX_REJECTED_PER_USER + 3 {
            g2.record("anna", A, &pw(&format!("{i}")), CrmAnswer::Refused, None, 0);
        }
        let tags = g2.rejected.get("anna").map_or(0, |r| r.tags.len());
        assert_eq!(tags, MAX_REJECTED_PER_USER as usize);
        assert!(!g2.is_rejected("anna", &pw("0")), "oldest tag went first");
        assert!(g2.is_rejected("anna", &pw(&format!("{}", MAX_REJECTED_PER_USER + 2))));
    }
}
