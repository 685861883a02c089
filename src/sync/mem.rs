//! [`MemStore`]: the [`SyncStore`] in memory, for the engine's tests and benchmarks. It keeps
//! the trait's documented semantics exactly: the default folders on first use (the same ids
//! as the redb store, from [`super::folders::DEFAULT_FOLDERS`]), one log entry per item (the
//! latest), sequence numbers per folder, and a bounded ClientId map per device.

use super::folders::default_folders;
use super::{
    Change, ChangeKind, CollectionState, DeviceKey, Error, Folder, FolderId, FolderSyncState,
    ItemId, Origin, StoredItem, SyncStore,
};
use std::collections::{BTreeMap, VecDeque};

/// ClientId mappings kept per device; the oldest goes first. A device re-sends an Add only
/// for its last unacknowledged batch (at most a Sync's 1,024 commands per collection).
pub const MAX_CLIENT_IDS: u32 = 10_000;

type UserFolder = (String, FolderId);

/// An in-memory store.
#[derive(Clone, Debug, Default)]
pub struct MemStore {
    folders: BTreeMap<String, Vec<Folder>>,
    items: BTreeMap<(UserFolder, ItemId), StoredItem>,
    /// The log by sequence number, and each item's current entry.
    log: BTreeMap<(UserFolder, u64), Change>,
    latest: BTreeMap<(UserFolder, ItemId), u64>,
    heads: BTreeMap<UserFolder, u64>,
    next_item: BTreeMap<UserFolder, u64>,
    collections: BTreeMap<(DeviceKey, FolderId), CollectionState>,
    folder_sync: BTreeMap<DeviceKey, FolderSyncState>,
    client_ids: BTreeMap<(DeviceKey, FolderId, String), ItemId>,
    client_id_order: BTreeMap<DeviceKey, VecDeque<(FolderId, String)>>,
}

impl MemStore {
    pub fn new() -> Self {
        MemStore::default()
    }

    fn check_folder(&mut self, user: &str, folder: FolderId) -> Result<(), Error> {
        if self.folders(user)?.iter().any(|f| f.id == folder) {
            Ok(())
        } else {
            Err(Error::Store(format!("no folder {} for {user}", folder.0)))
        }
    }

    fn append(&mut self, uf: UserFolder, item: ItemId, kind: ChangeKind, origin: &Origin) {
        let head = self.heads.entry(uf.clone()).or_insert(0);
        *head += 1;
        let seq = *head;
        if let Some(old) = self.latest.insert((uf.clone(), item), seq) {
            self.log.remove(&(uf.clone(), old));
        }
        self.log.insert(
            (uf, seq),
            Change {
                seq,
                item,
                kind,
                origin: origin.clone(),
            },
        );
    }

    /// Replaces a user's folder list (tests of hierarchy changes; easbox itself never
    /// changes ids).
    pub fn set_folders(&mut self, user: &str, folders: Vec<Folder>) {
        self.folders.insert(user.to_owned(), folders);
    }

    /// Entries in the whole log of a folder (each item at most once).
    pub fn log_len(&self, user: &str, folder: FolderId) -> usize {
        let uf = (user.to_owned(), folder);
        self.log.range((uf.clone(), 0)..=(uf, u64::MAX)).count()
    }
}

impl SyncStore for MemStore {
    fn folders(&mut self, user: &str) -> Result<Vec<Folder>, Error> {
        Ok(self
            .folders
            .entry(user.to_owned())
            .or_insert_with(default_folders)
            .clone())
    }

    fn item(
        &self,
        user: &str,
        folder: FolderId,
        item: ItemId,
    ) -> Result<Option<StoredItem>, Error> {
        Ok(self.items.get(&((user.to_owned(), folder), item)).cloned())
    }

    fn put_item(
        &mut self,
        user: &str,
        folder: FolderId,
        item: Option<ItemId>,
        data: &StoredItem,
        origin: &Origin,
    ) -> Result<ItemId, Error> {
        self.check_folder(user, folder)?;
        let uf = (user.to_owned(), folder);
        let next = self.next_item.entry(uf.clone()).or_insert(1);
        let id = match item {
            Some(id) => {
                // Ids are never reused: a caller-chosen id moves the counter past it.
                *next = (*next).max(id.0.saturating_add(1));
                id
            }
            None => {
                let id = ItemId(*next);
                *next += 1;
                id
            }
        };
        self.items.insert((uf.clone(), id), data.clone());
        self.append(uf, id, ChangeKind::Upsert, origin);
        Ok(id)
    }

    fn delete_item(
        &mut self,
        user: &str,
        folder: FolderId,
        item: ItemId,
        origin: &Origin,
    ) -> Result<bool, Error> {
        let uf = (user.to_owned(), folder);
        if self.items.remove(&(uf.clone(), item)).is_none() {
            return Ok(false);
        }
        self.append(uf, item, ChangeKind::Delete, origin);
        Ok(true)
    }

    fn changes_after(
        &self,
        user: &str,
        folder: FolderId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Change>, Error> {
        let Some(from) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let uf = (user.to_owned(), folder);
        Ok(self
            .log
            .range((uf.clone(), from)..=(uf, u64::MAX))
            .take(limit as usize)
            .map(|(_, c)| c.clone())
            .collect())
    }

    fn head(&self, user: &str, folder: FolderId) -> Result<u64, Error> {
        Ok(self
            .heads
            .get(&(user.to_owned(), folder))
            .copied()
            .unwrap_or(0))
    }

    fn collection_state(
        &self,
        device: &DeviceKey,
        folder: FolderId,
    ) -> Result<Option<CollectionState>, Error> {
        Ok(self.collections.get(&(device.clone(), folder)).cloned())
    }

    fn put_collection_state(
        &mut self,
        device: &DeviceKey,
        folder: FolderId,
        state: &CollectionState,
    ) -> Result<(), Error> {
        self.collections
            .insert((device.clone(), folder), state.clone());
        Ok(())
    }

    fn drop_collection_states(&mut self, device: &DeviceKey) -> Result<(), Error> {
        self.collections.retain(|(d, _), _| d != device);
        Ok(())
    }

    fn folder_sync_state(&self, device: &DeviceKey) -> Result<Option<FolderSyncState>, Error> {
        Ok(self.folder_sync.get(device).cloned())
    }

    fn put_folder_sync_state(
        &mut self,
        device: &DeviceKey,
        state: &FolderSyncState,
    ) -> Result<(), Error> {
        self.folder_sync.insert(device.clone(), state.clone());
        Ok(())
    }

    fn client_id(
        &self,
        device: &DeviceKey,
        folder: FolderId,
        client_id: &str,
    ) -> Result<Option<ItemId>, Error> {
        Ok(self
            .client_ids
            .get(&(device.clone(), folder, client_id.to_owned()))
            .copied())
    }

    fn put_client_id(
        &mut self,
        device: &DeviceKey,
        folder: FolderId,
        client_id: &str,
        item: ItemId,
    ) -> Result<(), Error> {
        let key = (device.clone(), folder, client_id.to_owned());
        if self.client_ids.insert(key, item).is_none() {
            let order = self.client_id_order.entry(device.clone()).or_default();
            order.push_back((folder, client_id.to_owned()));
            while order.len() > MAX_CLIENT_IDS as usize {
                if let Some((f, c)) = order.pop_front() {
                    self.client_ids.remove(&(device.clone(), f, c));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Contact, Item};

    fn item() -> StoredItem {
        StoredItem {
            item: Item::Contact(Contact::default()),
            unknown: vec![],
            crm: None,
        }
    }

    #[test]
    fn log_keeps_latest_entry_per_item() {
        let mut s = MemStore::new();
        let f = FolderId(8);
        let a = s.put_item("u", f, None, &item(), &Origin::Crm).unwrap();
        let b = s.put_item("u", f, None, &item(), &Origin::Local).unwrap();
        assert_ne!(a, b);
        s.put_item("u", f, Some(a), &item(), &Origin::Device("d".into()))
            .unwrap();
        assert!(s.delete_item("u", f, b, &Origin::Crm).unwrap());
        assert!(!s.delete_item("u", f, b, &Origin::Crm).unwrap());
        let log = s.changes_after("u", f, 0, 10).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(
            (log[0].seq, log[0].item, log[0].kind),
            (3, a, ChangeKind::Upsert)
        );
        assert_eq!(
            (log[1].seq, log[1].item, log[1].kind),
            (4, b, ChangeKind::Delete)
        );
        assert_eq!(s.head("u", f).unwrap(), 4);
        assert_eq!(s.changes_after("u", f, 3, 10).unwrap().len(), 1);
        assert_eq!(s.changes_after("u", f, 0, 1).unwrap().len(), 1);
        assert!(s.changes_after("u", f, u64::MAX, 1).unwrap().is_empty());
        assert!(
            s.put_item("u", FolderId(99), None, &item(), &Origin::Crm)
                .is_err()
        );
        // Ids are never reused.
        let c = s.put_item("u", f, None, &item(), &Origin::Crm).unwrap();
        assert!(c.0 > b.0);
    }

    #[test]
    fn default_folders_and_client_ids() {
        let mut s = MemStore::new();
        let f = s.folders("u").unwrap();
        assert_eq!(f.len(), 8);
        assert_eq!(f, default_folders());
        let d = DeviceKey {
            user: "u".into(),
            device_id: "d".into(),
        };
        for i in 0..u64::from(MAX_CLIENT_IDS) + 1 {
            s.put_client_id(&d, FolderId(8), &i.to_string(), ItemId(i))
                .unwrap();
        }
        assert_eq!(s.client_id(&d, FolderId(8), "0").unwrap(), None);
        assert_eq!(s.client_id(&d, FolderId(8), "1").unwrap(), Some(ItemId(1)));
    }
}
