//! User administration shared by the command line and the control socket: the same code runs
//! whether the CLI opened the store itself or asked a running server to.

use crate::auth::{self, Secret};
use crate::store::{Store, User};
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest user name; longer names are refused rather than cut.
pub const MAX_NAME_LEN: usize = 64;

/// A user name as stored: lower case, 1–64 of `a-z 0-9 . _ - @`.
pub fn normalize(name: &str) -> Result<String, String> {
    let n = name.trim().to_lowercase();
    if n.is_empty() || n.len() > MAX_NAME_LEN {
        return Err(format!(
            "user name must have 1 to {MAX_NAME_LEN} characters"
        ));
    }
    if !n
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err("user name may hold only letters, digits and . _ - @".into());
    }
    Ok(n)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Creates a user with an ActiveSync password, or sets the password of an existing one.
/// Returns whether the user is enabled.
pub fn set_password(
    store: &Store,
    name: &str,
    password: &Secret<String>,
    enable: bool,
) -> Result<bool, String> {
    let name = normalize(name)?;
    if password.expose().is_empty() {
        return Err("empty password".into());
    }
    let hash = auth::hash_password(password).map_err(|e| e.to_string())?;
    let mut t = store.write().map_err(|e| e.to_string())?;
    let mut user = t.user(&name).map_err(|e| e.to_string())?.unwrap_or(User {
        enabled: false,
        password_hash: None,
        created: now(),
    });
    user.password_hash = Some(hash.as_str().to_owned());
    user.enabled |= enable;
    t.put_user(&name, &user).map_err(|e| e.to_string())?;
    t.commit().map_err(|e| e.to_string())?;
    Ok(user.enabled)
}

/// Turns ActiveSync on or off for an existing user.
pub fn set_enabled(store: &Store, name: &str, enabled: bool) -> Result<(), String> {
    let name = normalize(name)?;
    let mut t = store.write().map_err(|e| e.to_string())?;
    let mut user = t
        .user(&name)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {name:?}"))?;
    user.enabled = enabled;
    t.put_user(&name, &user).map_err(|e| e.to_string())?;
    t.commit().map_err(|e| e.to_string())
}

/// One line per user: name, enabled or disabled, whether an ActiveSync password is set.
pub fn list(store: &Store) -> Result<String, String> {
    let t = store.read().map_err(|e| e.to_string())?;
    let mut out = String::new();
    for (name, u) in t.list_users().map_err(|e| e.to_string())? {
        out.push_str(&format!(
            "{name}\t{}\t{}\n",
            if u.enabled { "enabled" } else { "disabled" },
            if u.password_hash.is_some() {
                "activesync-password"
            } else {
                "crm-password"
            }
        ));
    }
    Ok(out)
}
