//! User discovery (issue 4 §2): the CRM's Users module, read by the integration user (a CRM
//! administrator), becomes the box's list of CRM users (`store::crm::CrmUser`, keyed by the
//! box user name = CRM `user_name` in lower case), and every *active* CRM user gets a box user
//! (`store::User`) that is **disabled**: enabling ActiveSync stays a box-side switch
//! (`easbox user enable NAME`, later the admin page).
//!
//! Only the six fields of [`USER_FIELDS`] are asked for and kept. Retrieving a Users record as
//! admin returns the password hash and the access key (CRM-API §9): nothing else of that module
//! is read, stored or logged.
//!
//! A CRM user that became inactive, or that no longer appears in a complete listing, keeps its
//! box user and data; its `CrmUser.active` turns false, and the pull ignores it (it files
//! nothing under an inactive user). A listing that failed part-way changes nothing: a failed,
//! empty or partial reply never becomes a removal.

use super::client::Client;
use super::wire::{self, CrmError, Query, Record, field};
use crate::store::crm::{CrmUser, MAX_CRM_USERS};
use crate::store::{Store, StoreError, User};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The Users fields the box reads; nothing else of that module is asked for (CRM-API §9).
pub const USER_FIELDS: [&str; 6] = [
    "id",
    "user_name",
    "status",
    "user_timezone",
    "date_format",
    "is_admin",
];

/// Users the CRM returned that the box could not take, kept for the status at most.
pub const MAX_SKIPPED_USERS: u32 = 100;

/// The date formats vtenext offers (`describe` of Users, `date_format`).
const DATE_FORMATS: [&str; 3] = ["dd-mm-yyyy", "mm-dd-yyyy", "yyyy-mm-dd"];

/// What one discovery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DiscoveryReport {
    /// Users the CRM listed and the box took.
    pub seen: u32,
    /// Of those, active ones.
    pub active: u32,
    /// Box users created (disabled) for new active CRM users.
    pub created: Vec<String>,
    /// CRM users that turned inactive or vanished from the listing.
    pub deactivated: Vec<String>,
    /// `(CRM id or "?", reason)` of listed users the box could not take, at most
    /// [`MAX_SKIPPED_USERS`].
    pub skipped: Vec<(String, String)>,
    /// The listing stopped at [`MAX_CRM_USERS`].
    pub truncated: bool,
}

/// Reads one row of `SELECT id, user_name, status, user_timezone, date_format, is_admin FROM
/// Users`: the box user name and the record kept. Errors say why the row is skipped, never
/// with the row's content.
pub fn crm_user_from_record(r: &Record) -> Result<(String, CrmUser), String> {
    let id = field(r, "id").ok_or("no id")?;
    match wire::split_id(id) {
        Some((_, n)) if n > 0 => {}
        _ => return Err("unreadable id".into()),
    }
    let crm_name = field(r, "user_name").unwrap_or("").trim();
    if crm_name.is_empty() {
        return Err("no user_name".into());
    }
    let name = crate::server::users::normalize(crm_name)
        .map_err(|e| format!("user_name cannot be a box user name: {e}"))?;
    let tz = field(r, "user_timezone").unwrap_or("").trim();
    let tz = if !tz.is_empty() && jiff::tz::TimeZone::get(tz).is_ok() {
        tz.to_owned()
    } else {
        String::new()
    };
    let date_format = field(r, "date_format").unwrap_or("").trim();
    let date_format = if DATE_FORMATS.contains(&date_format) {
        date_format.to_owned()
    } else {
        String::new()
    };
    let active = field(r, "status").is_some_and(|s| s.trim().eq_ignore_ascii_case("active"));
    let is_admin = field(r, "is_admin")
        .is_some_and(|s| matches!(s.trim().to_ascii_lowercase().as_str(), "on" | "1" | "yes"));
    Ok((
        name,
        CrmUser {
            crm_id: id.to_owned(),
            crm_name: crm_name.to_owned(),
            tz,
            date_format,
            active,
            is_admin,
        },
    ))
}

/// Every row of the Users listing, paged by id (stable, CRM-API §9), at most
/// [`MAX_CRM_USERS`]. The second value says whether the listing was cut there.
pub async fn list(client: &Client) -> Result<(Vec<Record>, bool), CrmError> {
    let mut rows = Vec::new();
    let max_pages = MAX_CRM_USERS / wire::PAGE_ROWS + 1;
    for page in 0..max_pages {
        let q = Query::fields("Users", &USER_FIELDS)
            .order_by("id")
            .page(page);
        let got = wire::parse_query(client.call(|s| wire::query(s, &q)).await?)?;
        let n = u32::try_from(got.len()).unwrap_or(u32::MAX);
        for r in got {
            if rows.len() >= MAX_CRM_USERS as usize {
                return Ok((rows, true));
            }
            rows.push(r);
        }
        if !wire::page_may_continue(n, Some(wire::PAGE_ROWS)) {
            return Ok((rows, false));
        }
    }
    Ok((rows, true))
}

fn skip(report: &mut DiscoveryReport, id: &str, why: String) {
    if report.skipped.len() < MAX_SKIPPED_USERS as usize {
        report.skipped.push((id.to_owned(), why));
    }
}

/// Writes a listing to the store in one transaction. `complete` says that the listing holds
/// every CRM user, so that one missing from it is marked inactive.
pub fn apply(
    store: &Store,
    rows: &[Record],
    complete: bool,
    now: i64,
) -> Result<DiscoveryReport, StoreError> {
    let mut report = DiscoveryReport {
        truncated: !complete,
        ..DiscoveryReport::default()
    };
    let mut listed: BTreeMap<String, CrmUser> = BTreeMap::new();
    for r in rows {
        let id = field(r, "id").unwrap_or("?");
        match crm_user_from_record(r) {
            Ok((name, u)) => {
                if let Some(first) = listed.get(&name) {
                    let why = format!("user name clashes with {} in lower case", first.crm_id);
                    skip(&mut report, id, why);
                } else {
                    listed.insert(name, u);
                }
            }
            Err(why) => skip(&mut report, id, why),
        }
    }
    let mut t = store.write()?;
    let known: BTreeMap<String, CrmUser> = t.crm_users()?.into_iter().collect();
    for (name, u) in &listed {
        let before = known.get(name);
        if before != Some(u) {
            match t.put_crm_user(name, u) {
                Ok(()) => {}
                Err(StoreError::Full(_)) => {
                    skip(
                        &mut report,
                        &u.crm_id,
                        "the box keeps no more CRM users".into(),
                    );
                    continue;
                }
                Err(e) => return Err(e),
            }
            if before.is_some_and(|b| b.active) && !u.active {
                report.deactivated.push(name.clone());
            }
        }
        report.seen += 1;
        if u.active {
            report.active += 1;
            if t.user(name)?.is_none() {
                t.put_user(
                    name,
                    &User {
                        enabled: false,
                        password_hash: None,
                        created: now,
                    },
                )?;
                report.created.push(name.clone());
            }
        }
    }
    if complete {
        for (name, mut u) in known {
            if u.active && !listed.contains_key(&name) {
                u.active = false;
                t.put_crm_user(&name, &u)?;
                report.deactivated.push(name);
            }
        }
    }
    t.commit()?;
    Ok(report)
}

/// Why a discovery failed: the CRM (a refused key among them), or the box's own store.
#[derive(Debug)]
pub enum DiscoverError {
    Crm(CrmError),
    Store(String),
}

impl From<CrmError> for DiscoverError {
    fn from(e: CrmError) -> Self {
        DiscoverError::Crm(e)
    }
}

impl std::fmt::Display for DiscoverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiscoverError::Crm(e) => e.fmt(f),
            DiscoverError::Store(e) => write!(f, "store: {e}"),
        }
    }
}

/// Lists the CRM users and writes them to the store.
pub async fn discover(
    client: &Client,
    store: &Arc<Store>,
) -> Result<DiscoveryReport, DiscoverError> {
    let (rows, truncated) = list(client).await?;
    let store = store.clone();
    let now = jiff::Timestamp::now().as_second();
    let report = tokio::task::spawn_blocking(move || apply(&store, &rows, !truncated, now))
        .await
        .map_err(|e| DiscoverError::Store(format!("worker: {e}")))?
        .map_err(|e| DiscoverError::Store(e.to_string()))?;
    for name in &report.created {
        log::info!("CRM user {name:?} found: box user created, ActiveSync off until enabled");
    }
    for name in &report.deactivated {
        log::info!("CRM user {name:?} is no longer active: the pull leaves it alone");
    }
    if report.truncated {
        log::warn!("the CRM lists more than {MAX_CRM_USERS} users; the rest are ignored");
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: serde_json::Value) -> Record {
        v.as_object().cloned().unwrap()
    }

    fn row(id: &str, name: &str, status: &str) -> Record {
        rec(json!({"id": id, "user_name": name, "status": status,
            "user_timezone": "America/New_York", "date_format": "mm-dd-yyyy", "is_admin": "off"}))
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!(
            "easbox-users-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn a_row_maps_to_a_lower_case_box_name() {
        let (name, u) = crm_user_from_record(&row("19x4", "MRossi", "Active")).unwrap();
        assert_eq!(name, "mrossi");
        assert_eq!(
            u,
            CrmUser {
                crm_id: "19x4".into(),
                crm_name: "MRossi".into(),
                tz: "America/New_York".into(),
                date_format: "mm-dd-yyyy".into(),
                active: true,
                is_admin: false,
            }
        );
        let admin = rec(
            json!({"id": "19x1", "user_name": "admin", "status": "Active",
            "user_timezone": "Mars/Base", "date_format": "dd/mm/yy", "is_admin": "on"}),
        );
        let (_, a) = crm_user_from_record(&admin).unwrap();
        assert!(a.is_admin);
        assert_eq!((a.tz.as_str(), a.date_format.as_str()), ("", ""));
        let (_, i) = crm_user_from_record(&row("19x5", "x", "Inactive")).unwrap();
        assert!(!i.active);
    }

    #[test]
    fn bad_rows_are_refused_without_their_content() {
        for r in [
            rec(json!({"user_name": "a"})),
            rec(json!({"id": "nonsense", "user_name": "a"})),
            rec(json!({"id": "19x0", "user_name": "a"})),
            rec(json!({"id": "19x7", "user_name": ""})),
            rec(json!({"id": "19x7", "user_name": 5})),
            row("19x8", "Mario Rossi", "Active"),
            row("19x9", &"a".repeat(100), "Active"),
        ] {
            let e = crm_user_from_record(&r).unwrap_err();
            assert!(!e.contains("Mario"), "{e}");
        }
    }

    #[test]
    fn apply_creates_disabled_box_users_for_active_ones_only() {
        let p = tmp("apply");
        let store = Store::open(&p).unwrap();
        let rows = vec![
            row("19x1", "admin", "Active"),
            row("19x4", "MRossi", "Active"),
            row("19x5", "gone", "Inactive"),
            row("19x6", "mrossi", "Active"),
            row("19x7", "bad name!", "Active"),
        ];
        let r = apply(&store, &rows, true, 100).unwrap();
        assert_eq!((r.seen, r.active), (3, 2));
        assert_eq!(r.created, vec!["admin".to_owned(), "mrossi".to_owned()]);
        assert_eq!(r.skipped.len(), 2, "{:?}", r.skipped);
        {
            let t = store.read().unwrap();
            let u = t.user("mrossi").unwrap().unwrap();
            assert!(!u.enabled && u.password_hash.is_none() && u.created == 100);
            assert!(t.user("gone").unwrap().is_none());
            assert_eq!(t.crm_user("mrossi").unwrap().unwrap().crm_id, "19x4");
            assert!(!t.crm_user("gone").unwrap().unwrap().active);
        }
        // Enabled on the box, then inactive in the CRM: the box user stays as it is.
        crate::server::users::set_enabled(&store, "mrossi", true).unwrap();
        let r = apply(&store, &[row("19x4", "MRossi", "Inactive")], false, 200).unwrap();
        assert_eq!(r.deactivated, vec!["mrossi".to_owned()]);
        assert!(r.created.is_empty());
        {
            let t = store.read().unwrap();
            assert!(t.user("mrossi").unwrap().unwrap().enabled);
            assert!(!t.crm_user("mrossi").unwrap().unwrap().active);
            // An incomplete listing leaves the others alone.
            assert!(t.crm_user("admin").unwrap().unwrap().active);
        }
        // A complete listing without admin marks it inactive; nothing is removed.
        let r = apply(&store, &[row("19x4", "MRossi", "Active")], true, 300).unwrap();
        assert_eq!(r.deactivated, vec!["admin".to_owned()]);
        let t = store.read().unwrap();
        assert!(t.user("admin").unwrap().is_some());
        assert!(!t.crm_user("admin").unwrap().unwrap().active);
        drop(t);
        drop(store);
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn skipped_users_are_capped() {
        let p = tmp("cap");
        let store = Store::open(&p).unwrap();
        let rows: Vec<Record> = (1..=MAX_SKIPPED_USERS + 20)
            .map(|i| row(&format!("19x{i}"), "bad name", "Active"))
            .collect();
        let r = apply(&store, &rows, true, 1).unwrap();
        assert_eq!(r.skipped.len(), MAX_SKIPPED_USERS as usize);
        drop(store);
        let _ = std::fs::remove_file(&p);
    }
}
