//! The connector's records (schema 2, issue 4): settings and status in `CRM_META`, the CRM
//! users in `CRM_USERS`. Secrets in them are sealed (`auth::seal`) with a key that lives
//! beside the database, never inside it (DESIGN "Security").

use super::codec::{decode, encode};
use super::schema::{CRM_META, CRM_USERS};
use super::{ReadTxn, StoreError, StoreTxn, Tables};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

const SETTINGS_FORMAT: u8 = 1;
const STATUS_FORMAT: u8 = 1;
const CRM_USER_FORMAT: u8 = 1;
const CA_FILE_FORMAT: u8 = 1;

const SETTINGS_KEY: &str = "settings";
const STATUS_KEY: &str = "status";
/// The CA file of a CRM with a private CA (`easbox crm set --ca-file`), beside the settings
/// rather than in them so that [`CrmSettings`] keeps its record format.
const CA_FILE_KEY: &str = "ca_file";

/// Most CRM users the box keeps (the Users module of an office CRM has tens).
pub const MAX_CRM_USERS: u32 = 10_000;

/// Pull interval bounds and default, seconds (issue 4: default 60 s, down to 5 s).
pub const DEFAULT_PULL_INTERVAL_SECS: u32 = 60;
pub const MIN_PULL_INTERVAL_SECS: u32 = 5;
pub const MAX_PULL_INTERVAL_SECS: u32 = 86_400;

/// How the box reaches the CRM. Set by `easbox crm set` (later the admin page).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CrmSettings {
    /// Base URL (`http://crm.office.lan/vtenext`).
    pub url: String,
    /// The integration user (an administrator of the CRM).
    pub user: String,
    /// The integration user's access key, sealed with `auth::seal`.
    pub access_key_sealed: Vec<u8>,
    pub interval_secs: u32,
    /// Which modules to carry: any of `Contacts`, `Events`, `Calendar` (tasks).
    pub modules: Vec<String>,
}

/// Where the connector stands, for `easbox crm status` and the admin page.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct CrmStatus {
    /// Unix seconds of the last pull cycle that completed.
    pub last_success: Option<i64>,
    /// Unix seconds and text of the last failure (cleared by a success).
    pub last_error: Option<(i64, String)>,
    /// Consecutive failed cycles (drives the backoff).
    pub failures: u32,
    /// Pull method detected per module: `"vtesync"`, `"sync"` or `"query"`.
    pub methods: Vec<(String, String)>,
    /// Records skipped because the CRM could not return them (CRM-API §9), with the reason.
    pub skipped: Vec<(String, String)>,
    /// Entries waiting in the outbox when the status was written.
    pub outbox_len: u32,
}

/// A user of the CRM's Users module, as the box knows it. The key of `CRM_USERS` is the box
/// user name: the CRM `user_name`, lower-case.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CrmUser {
    /// Webservice id (`19x4`).
    pub crm_id: String,
    /// The CRM's spelling of the user name (for `login_pwd`).
    pub crm_name: String,
    /// IANA zone of the user (`time_zone`), empty when unknown.
    pub tz: String,
    /// `dd-mm-yyyy`, `mm-dd-yyyy` or `yyyy-mm-dd`.
    pub date_format: String,
    /// `status == Active` in the CRM.
    pub active: bool,
    pub is_admin: bool,
}

mod read {
    use super::*;

    pub fn meta<T: serde::de::DeserializeOwned>(
        t: &impl Tables,
        key: &str,
        format: u8,
    ) -> Result<Option<T>, StoreError> {
        let table = t.table(CRM_META)?;
        let v = table.get(key)?;
        v.map(|v| decode(format, key_name(key), v.value()))
            .transpose()
    }

    fn key_name(key: &str) -> &'static str {
        match key {
            SETTINGS_KEY => "crm settings",
            CA_FILE_KEY => "crm ca file",
            _ => "crm status",
        }
    }

    pub fn crm_users(t: &impl Tables) -> Result<Vec<(String, CrmUser)>, StoreError> {
        let table = t.table(CRM_USERS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push((
                k.value().to_owned(),
                decode(CRM_USER_FORMAT, "crm user", v.value())?,
            ));
        }
        Ok(out)
    }

    pub fn crm_user(t: &impl Tables, name: &str) -> Result<Option<CrmUser>, StoreError> {
        let table = t.table(CRM_USERS)?;
        let v = table.get(name)?;
        v.map(|v| decode(CRM_USER_FORMAT, "crm user", v.value()))
            .transpose()
    }
}

impl StoreTxn<'_> {
    pub fn crm_settings(&self) -> Result<Option<CrmSettings>, StoreError> {
        read::meta(&self.txn, SETTINGS_KEY, SETTINGS_FORMAT)
    }

    pub fn put_crm_settings(&mut self, s: &CrmSettings) -> Result<(), StoreError> {
        let bytes = encode(SETTINGS_FORMAT, s)?;
        self.txn
            .open_table(CRM_META)?
            .insert(SETTINGS_KEY, bytes.as_slice())?;
        Ok(())
    }

    pub fn crm_status(&self) -> Result<CrmStatus, StoreError> {
        Ok(read::meta(&self.txn, STATUS_KEY, STATUS_FORMAT)?.unwrap_or_default())
    }

    /// The path of the CRM's extra CA file (PEM), if one is set.
    pub fn crm_ca_file(&self) -> Result<Option<String>, StoreError> {
        read::meta(&self.txn, CA_FILE_KEY, CA_FILE_FORMAT)
    }

    /// Sets or (with `None`) removes the CRM's extra CA file.
    pub fn put_crm_ca_file(&mut self, path: Option<&str>) -> Result<(), StoreError> {
        let mut table = self.txn.open_table(CRM_META)?;
        match path {
            Some(p) => {
                let bytes = encode(CA_FILE_FORMAT, &p)?;
                table.insert(CA_FILE_KEY, bytes.as_slice())?;
            }
            None => {
                table.remove(CA_FILE_KEY)?;
            }
        }
        Ok(())
    }

    pub fn put_crm_status(&mut self, s: &CrmStatus) -> Result<(), StoreError> {
        let bytes = encode(STATUS_FORMAT, s)?;
        self.txn
            .open_table(CRM_META)?
            .insert(STATUS_KEY, bytes.as_slice())?;
        Ok(())
    }

    pub fn crm_users(&self) -> Result<Vec<(String, CrmUser)>, StoreError> {
        read::crm_users(&self.txn)
    }

    pub fn crm_user(&self, name: &str) -> Result<Option<CrmUser>, StoreError> {
        read::crm_user(&self.txn, name)
    }

    /// Writes a CRM user; a new one past [`MAX_CRM_USERS`] is refused.
    pub fn put_crm_user(&mut self, name: &str, u: &CrmUser) -> Result<(), StoreError> {
        self.put_crm_user_capped(name, u, MAX_CRM_USERS)
    }

    fn put_crm_user_capped(&mut self, name: &str, u: &CrmUser, cap: u32) -> Result<(), StoreError> {
        let mut table = self.txn.open_table(CRM_USERS)?;
        if table.get(name)?.is_none() && redb::ReadableTableMetadata::len(&table)? >= u64::from(cap)
        {
            return Err(StoreError::Full("CRM users"));
        }
        let bytes = encode(CRM_USER_FORMAT, u)?;
        table.insert(name, bytes.as_slice())?;
        Ok(())
    }

    pub fn remove_crm_user(&mut self, name: &str) -> Result<bool, StoreError> {
        Ok(self.txn.open_table(CRM_USERS)?.remove(name)?.is_some())
    }
}

impl ReadTxn<'_> {
    pub fn crm_settings(&self) -> Result<Option<CrmSettings>, StoreError> {
        read::meta(&self.txn, SETTINGS_KEY, SETTINGS_FORMAT)
    }

    /// The path of the CRM's extra CA file (PEM), if one is set.
    pub fn crm_ca_file(&self) -> Result<Option<String>, StoreError> {
        read::meta(&self.txn, CA_FILE_KEY, CA_FILE_FORMAT)
    }

    pub fn crm_status(&self) -> Result<CrmStatus, StoreError> {
        Ok(read::meta(&self.txn, STATUS_KEY, STATUS_FORMAT)?.unwrap_or_default())
    }

    pub fn crm_users(&self) -> Result<Vec<(String, CrmUser)>, StoreError> {
        read::crm_users(&self.txn)
    }

    pub fn crm_user(&self, name: &str) -> Result<Option<CrmUser>, StoreError> {
        read::crm_user(&self.txn, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn tmp(name: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!(
            "easbox-crm-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn settings_status_and_users_round_trip() {
        let p = tmp("rt");
        let store = Store::open(&p).unwrap();
        let mut t = store.write().unwrap();
        assert_eq!(t.crm_settings().unwrap(), None);
        assert_eq!(t.crm_status().unwrap(), CrmStatus::default());
        let s = CrmSettings {
            url: "http://crm/".into(),
            user: "admin".into(),
            access_key_sealed: vec![1, 2, 3],
            interval_secs: 60,
            modules: vec!["Contacts".into()],
        };
        t.put_crm_settings(&s).unwrap();
        let u = CrmUser {
            crm_id: "19x4".into(),
            crm_name: "MRossi".into(),
            tz: "America/New_York".into(),
            date_format: "dd-mm-yyyy".into(),
            active: true,
            is_admin: false,
        };
        t.put_crm_user("mrossi", &u).unwrap();
        t.commit().unwrap();
        let r = store.read().unwrap();
        assert_eq!(r.crm_settings().unwrap(), Some(s.clone()));
        assert_eq!(r.crm_user("mrossi").unwrap(), Some(u.clone()));
        assert_eq!(r.crm_users().unwrap(), vec![("mrossi".to_owned(), u)]);
        assert_eq!(r.crm_ca_file().unwrap(), None);
        drop(r);
        let mut t = store.write().unwrap();
        t.put_crm_ca_file(Some("/etc/easbox/office-ca.pem"))
            .unwrap();
        t.commit().unwrap();
        let r = store.read().unwrap();
        assert_eq!(
            r.crm_ca_file().unwrap().as_deref(),
            Some("/etc/easbox/office-ca.pem")
        );
        assert_eq!(r.crm_settings().unwrap(), Some(s));
        drop(r);
        let mut t = store.write().unwrap();
        t.put_crm_ca_file(None).unwrap();
        assert_eq!(t.crm_ca_file().unwrap(), None);
        t.commit().unwrap();
        drop(store);
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn crm_users_are_capped_but_known_ones_still_update() {
        let p = tmp("cap");
        let store = Store::open(&p).unwrap();
        let mut t = store.write().unwrap();
        let u = CrmUser {
            crm_id: "19x1".into(),
            crm_name: "a".into(),
            tz: String::new(),
            date_format: "yyyy-mm-dd".into(),
            active: true,
            is_admin: false,
        };
        for i in 0..3 {
            t.put_crm_user_capped(&format!("u{i}"), &u, 3).unwrap();
        }
        assert_eq!(
            t.put_crm_user_capped("u3", &u, 3),
            Err(StoreError::Full("CRM users"))
        );
        let inactive = CrmUser {
            active: false,
            ..u.clone()
        };
        t.put_crm_user_capped("u1", &inactive, 3).unwrap();
        assert!(!t.crm_user("u1").unwrap().unwrap().active);
        drop(t);
        drop(store);
        let _ = std::fs::remove_file(&p);
    }
}
