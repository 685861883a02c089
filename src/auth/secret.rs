//! A wrapper that keeps secrets out of logs and wipes them on drop.

use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// A secret value (password, TOTP seed, key). `Debug` and `Display` print `Secret(***)`, so a
/// stray `{:?}` in a log line or an error cannot leak it; the memory is zeroed on drop.
///
/// There is deliberately no `PartialEq`: comparing secrets must go through a constant-time path
/// ([`crate::auth::verify_password`], [`crate::auth::VerifiedCache`]).
#[derive(Clone)]
pub struct Secret<T: Zeroize>(Zeroizing<T>);

impl<T: Zeroize> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The secret itself. The name makes every use easy to find in review.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret::new(value)
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<T: Zeroize> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new(String::from("hunter2-correct-horse"));
        for shown in [
            format!("{s:?}"),
            format!("{s:#?}"),
            format!("{s}"),
            format!("{:?}", Some(&s)),
            format!("{:?}", (1, s.clone())),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("Secret(***)"), "{shown}");
        }
        assert_eq!(s.expose(), "hunter2-correct-horse");
    }

    #[test]
    fn from_and_clone_keep_the_value() {
        let s: Secret<Vec<u8>> = vec![1u8, 2, 3].into();
        let t = s.clone();
        drop(s);
        assert_eq!(t.expose(), &[1u8, 2, 3]);
    }
}
