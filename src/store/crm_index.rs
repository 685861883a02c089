//! The CRM-id index (`CRM_INDEX`), the pull cursors (`CRM_CURSORS`), the CRM password cache
//! (`CRM_PASSWORDS`) and writing an item's CRM identity without a change for the phones
//! (CRM-API §7: key by CRM id, keep the last modifiedtime).

use super::codec::{ITEM_FORMAT, ItemIn, ItemOut, decode, encode};
use super::schema::{CRM_CURSORS, CRM_INDEX, CRM_PASSWORDS, ITEMS};
use super::{ReadTxn, StoreError, StoreTxn, Tables};
use crate::sync::{CrmRef, FolderId, ItemId, StoredItem};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

const INDEX_FORMAT: u8 = 1;
const CURSOR_FORMAT: u8 = 1;
const PASSWORD_FORMAT: u8 = 1;

/// Where a CRM record lives on the box.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CrmIndexEntry {
    pub user: String,
    pub folder: u32,
    pub item: u64,
    /// The CRM's modifiedtime last applied or written, Unix seconds.
    pub modified: i64,
}

impl CrmIndexEntry {
    pub fn folder(&self) -> FolderId {
        FolderId(self.folder)
    }
    pub fn item(&self) -> ItemId {
        ItemId(self.item)
    }
}

/// The cached CRM password check of a user (issue 4 §3) and the user's access key that
/// `login_pwd` returned, sealed with `auth::seal`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct CrmPassword {
    /// argon2id PHC string of the CRM password last verified by the CRM.
    pub hash: Option<String>,
    /// Unix seconds of that verification.
    pub verified_at: i64,
    pub access_key_sealed: Option<Vec<u8>>,
}

mod read {
    use super::*;

    pub fn entry(t: &impl Tables, crm_id: &str) -> Result<Option<CrmIndexEntry>, StoreError> {
        let table = t.table(CRM_INDEX)?;
        let v = table.get(crm_id)?;
        v.map(|v| decode(INDEX_FORMAT, "crm index", v.value()))
            .transpose()
    }

    /// Entries whose id starts with `prefix` (`"4x"` for Contacts).
    pub fn with_prefix(
        t: &impl Tables,
        prefix: &str,
    ) -> Result<Vec<(String, CrmIndexEntry)>, StoreError> {
        let table = t.table(CRM_INDEX)?;
        let mut out = Vec::new();
        for row in table.range(prefix..)? {
            let (k, v) = row?;
            let k = k.value();
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_owned(), decode(INDEX_FORMAT, "crm index", v.value())?));
        }
        Ok(out)
    }

    pub fn cursor(t: &impl Tables, module: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let table = t.table(CRM_CURSORS)?;
        let v = table.get(module)?;
        v.map(|v| decode(CURSOR_FORMAT, "crm cursor", v.value()))
            .transpose()
    }

    pub fn password(t: &impl Tables, user: &str) -> Result<Option<CrmPassword>, StoreError> {
        let table = t.table(CRM_PASSWORDS)?;
        let v = table.get(user)?;
        v.map(|v| decode(PASSWORD_FORMAT, "crm password", v.value()))
            .transpose()
    }
}

impl StoreTxn<'_> {
    pub fn crm_index(&self, crm_id: &str) -> Result<Option<CrmIndexEntry>, StoreError> {
        read::entry(&self.txn, crm_id)
    }

    pub fn crm_index_with_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, CrmIndexEntry)>, StoreError> {
        read::with_prefix(&self.txn, prefix)
    }

    pub fn put_crm_index(&mut self, crm_id: &str, e: &CrmIndexEntry) -> Result<(), StoreError> {
        let bytes = encode(INDEX_FORMAT, e)?;
        self.txn
            .open_table(CRM_INDEX)?
            .insert(crm_id, bytes.as_slice())?;
        Ok(())
    }

    pub fn remove_crm_index(&mut self, crm_id: &str) -> Result<bool, StoreError> {
        Ok(self.txn.open_table(CRM_INDEX)?.remove(crm_id)?.is_some())
    }

    /// A module's pull cursor, opaque to the store (the pull encodes it).
    pub fn crm_cursor(&self, module: &str) -> Result<Option<Vec<u8>>, StoreError> {
        read::cursor(&self.txn, module)
    }

    pub fn put_crm_cursor(&mut self, module: &str, cursor: &[u8]) -> Result<(), StoreError> {
        let bytes = encode(CURSOR_FORMAT, &cursor)?;
        self.txn
            .open_table(CRM_CURSORS)?
            .insert(module, bytes.as_slice())?;
        Ok(())
    }

    pub fn crm_password(&self, user: &str) -> Result<Option<CrmPassword>, StoreError> {
        read::password(&self.txn, user)
    }

    pub fn put_crm_password(&mut self, user: &str, p: &CrmPassword) -> Result<(), StoreError> {
        let bytes = encode(PASSWORD_FORMAT, p)?;
        self.txn
            .open_table(CRM_PASSWORDS)?
            .insert(user, bytes.as_slice())?;
        Ok(())
    }

    pub fn remove_crm_password(&mut self, user: &str) -> Result<bool, StoreError> {
        Ok(self.txn.open_table(CRM_PASSWORDS)?.remove(user)?.is_some())
    }

    /// Sets an item's CRM identity (after the CRM created it, or took a revision) without a
    /// change-log entry: the phone already holds this content, only the box's bookkeeping
    /// changed. `false` when the item is gone.
    pub fn set_crm_ref(
        &mut self,
        user: &str,
        folder: FolderId,
        item: ItemId,
        crm: Option<CrmRef>,
    ) -> Result<bool, StoreError> {
        let mut items = self.txn.open_table(ITEMS)?;
        let old: Option<StoredItem> = match items.get((user, folder.0, item.0))? {
            Some(v) => Some(decode::<ItemIn>(ITEM_FORMAT, "item", v.value())?.into()),
            None => None,
        };
        let Some(mut stored) = old else {
            return Ok(false);
        };
        stored.crm = crm;
        let rec = encode(ITEM_FORMAT, &ItemOut::new(&stored))?;
        items.insert((user, folder.0, item.0), rec.as_slice())?;
        Ok(true)
    }
}

impl ReadTxn<'_> {
    pub fn crm_index(&self, crm_id: &str) -> Result<Option<CrmIndexEntry>, StoreError> {
        read::entry(&self.txn, crm_id)
    }

    pub fn crm_index_with_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, CrmIndexEntry)>, StoreError> {
        read::with_prefix(&self.txn, prefix)
    }

    pub fn crm_cursor(&self, module: &str) -> Result<Option<Vec<u8>>, StoreError> {
        read::cursor(&self.txn, module)
    }

    pub fn crm_password(&self, user: &str) -> Result<Option<CrmPassword>, StoreError> {
        read::password(&self.txn, user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model;
    use crate::store::Store;
    use crate::sync::{Origin, SyncStore};

    #[test]
    fn index_prefix_cursor_password_and_crm_ref() {
        let p = std::env::temp_dir().join(format!("easbox-crmidx-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        let store = Store::open(&p).unwrap();
        let mut t = store.write().unwrap();
        let e = |item| CrmIndexEntry {
            user: "u".into(),
            folder: 8,
            item,
            modified: 5,
        };
        for (id, item) in [("4x1", 1), ("4x20", 2), ("18x3", 3), ("4", 9), ("40x1", 4)] {
            t.put_crm_index(id, &e(item)).unwrap();
        }
        let ids: Vec<String> = t
            .crm_index_with_prefix("4x")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(ids, ["4x1", "4x20"]);
        assert!(t.remove_crm_index("4x1").unwrap());
        assert_eq!(t.crm_index("4x1").unwrap(), None);
        t.put_crm_cursor("Contacts", b"abc").unwrap();
        assert_eq!(
            t.crm_cursor("Contacts").unwrap().as_deref(),
            Some(&b"abc"[..])
        );
        let pw = CrmPassword {
            hash: Some("$argon2id$x".into()),
            verified_at: 7,
            access_key_sealed: Some(vec![1]),
        };
        t.put_crm_password("u", &pw).unwrap();
        assert_eq!(t.crm_password("u").unwrap(), Some(pw));

        // set_crm_ref changes the item but not the change log.
        let item = StoredItem {
            item: model::Item::Contact(model::Contact::default()),
            unknown: Vec::new(),
            crm: None,
        };
        let id = t
            .put_item("u", FolderId(8), None, &item, &Origin::Local)
            .unwrap();
        let head = t.head("u", FolderId(8)).unwrap();
        let r = CrmRef {
            id: "4x20".into(),
            modified: "1795609682".into(),
        };
        assert!(
            t.set_crm_ref("u", FolderId(8), id, Some(r.clone()))
                .unwrap()
        );
        assert_eq!(t.head("u", FolderId(8)).unwrap(), head);
        assert_eq!(t.item("u", FolderId(8), id).unwrap().unwrap().crm, Some(r));
        assert!(!t.set_crm_ref("u", FolderId(8), ItemId(999), None).unwrap());
        t.commit().unwrap();
        drop(store);
        let _ = std::fs::remove_file(&p);
    }
}
