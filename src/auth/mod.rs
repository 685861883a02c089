//! Authentication building blocks, sans-io: typed values and explicit clocks in, decisions out.
//!
//! Phones authenticate with HTTP Basic auth ([MS-ASHTTP] 2.2.1.1.2.1 Authorization header) on
//! every request, so the HTTP layer needs three things that must not cost an argon2 run or a CRM
//! round trip each time (DESIGN.md "Authentication", "Secrets"):
//!
//! - [`Secret`]: a password that cannot end up in a log by accident and is wiped on drop.
//! - [`hash_password`] / [`verify_password`]: argon2id hashes. ActiveSync passwords are stored
//!   only in this form, and a CRM password that the CRM accepted is kept as argon2id too, so the
//!   box can still let a phone in while the CRM is down.
//! - [`VerifiedCache`]: a short-lived, keyed memory of passwords that were verified, so the
//!   argon2 cost (tens of milliseconds on a Raspberry-Pi-class board) is paid once per user per
//!   TTL, not once per EAS request.
//! - [`Lockout`]: failure counters per (user, client address) and per user. A phone with a stale
//!   password retries for ever; vtenext bans the caller's address after 5 failed logins, and that
//!   caller is the box, so a phone's wrong password must be stopped here before it reaches the
//!   CRM often enough to lock every user of the office out.
//! - [`crm_password`]: the policy for CRM passwords typed on a phone (issue 4 §3): accept from
//!   the cached hash, ask the CRM with `login_pwd`, or refuse, staying below the CRM's lockout.
//!
//! Time is passed in as `now` (seconds on a monotonic clock of the caller's choosing) so that
//! every rule is testable without sleeping. Nothing here imports tokio, hyper or redb.

mod cache;
pub mod crm_password;
mod lockout;
mod password;
pub mod seal;
mod secret;

pub use cache::{DEFAULT_CACHE_TTL_SECS, MAX_CACHED_USERS, VerifiedCache};
pub use lockout::{
    DEFAULT_LOCK_SECS, DEFAULT_PAIR_LIMIT, DEFAULT_USER_LIMIT, DEFAULT_WINDOW_SECS, Decision,
    Lockout, LockoutPolicy, MAX_TRACKED_PAIRS, MAX_TRACKED_USERS,
};
pub use password::{
    ARGON2_M_COST_KIB, ARGON2_P_COST, ARGON2_T_COST, MAX_PASSWORD_LEN, PasswordHash, hash_password,
    verify_password,
};
pub use secret::Secret;

use std::fmt;

/// The one error type of the `auth` module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The password is longer than [`MAX_PASSWORD_LEN`] bytes.
    PasswordTooLong {
        /// The cap that was exceeded, in bytes.
        max: u32,
    },
    /// A stored hash is not an argon2id PHC string this module can verify.
    InvalidHash,
    /// The operating system's random source failed (salt or cache key).
    Random,
    /// argon2 refused its input or parameters; the text is the crate's message.
    Hash(String),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::PasswordTooLong { max } => {
                write!(f, "password longer than {max} bytes")
            }
            AuthError::InvalidHash => {
                f.write_str("stored password hash is not a valid argon2id hash")
            }
            AuthError::Random => f.write_str("the system random source failed"),
            AuthError::Hash(msg) => write!(f, "password hashing failed: {msg}"),
        }
    }
}

impl std::error::Error for AuthError {}
