//! The write-back outbox's records (`OUTBOX`, `OUTBOX_BY_ITEM`; issue 4, DESIGN "Durable
//! before acknowledged"): every device change of an item the CRM carries is queued here in the
//! same write transaction as the change itself, so it is on disk before the Sync response says
//! Status 1. `crm::outbox` drains the queue.
//!
//! - A change is queued when its origin is a device, the folder is one of the default
//!   Contacts/Calendar/Tasks folders ([`crm_module_name`]) and the CRM settings carry that
//!   module. A box without CRM settings queues nothing, so it never fills up.
//! - One live entry per item: a newer change folds into it (`OUTBOX_BY_ITEM`), keeping the
//!   first [`OutboxBase`], the item as it was last in step with the CRM, which a `revise`
//!   diffs against. A delete of an item never written to the CRM drops its entry.
//! - At most [`MAX_OUTBOX_ENTRIES`] live entries: past it a device change fails with
//!   [`StoreError::Full`], the Sync answers with a server error and the phone sends the
//!   change again later. Nothing is dropped silently.
//! - An entry the CRM refused stays as [`OutboxState::Failed`] with its reason, for status and
//!   the admin; it no longer holds its item (the pull updates the item again, and a new device
//!   change queues a new entry). At most [`MAX_FAILED_OUTBOX_ENTRIES`] are kept; past that the
//!   oldest is removed with a warning in the log.
//!
//! Key 0 of `OUTBOX` holds the queue's counters; entries are keyed from 1 in queue order.

use super::codec::{ITEM_FORMAT, ItemIn, decode, encode};
use super::schema::{OUTBOX, OUTBOX_BY_ITEM};
use super::{ReadTxn, StoreError, StoreTxn, Tables};
use crate::model;
use crate::sync::{DEFAULT_FOLDERS, FolderId, FolderKind, ItemId, StoredItem};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

/// Most live (pending or being created) entries. Each is one item with unsent device changes;
/// an office's phones do not change ten thousand items between two drains unless the CRM has
/// been unreachable for long, and then refusing more changes is better than losing them.
pub const MAX_OUTBOX_ENTRIES: u32 = 10_000;

/// Most refused entries kept for the admin to look at.
pub const MAX_FAILED_OUTBOX_ENTRIES: u32 = 1_000;

const ENTRY_FORMAT: u8 = 1;
const META_FORMAT: u8 = 1;
const META_KEY: u64 = 0;

/// What the CRM must do. Variant order is stored: append only.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxOp {
    /// Create the record, or revise it when the item has a CRM id.
    Upsert,
    Delete,
}

/// The item as it was last in step with the CRM, and the CRM's identity of it then.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct OutboxBase {
    /// CRM record id (`4x20`).
    pub crm_id: String,
    /// The CRM's modifiedtime then, Unix seconds in decimal (`sync::CrmRef::modified`).
    pub modified: String,
    pub item: model::Item,
}

/// Where an entry stands. Variant order is stored: append only.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum OutboxState {
    /// Waiting for its turn (`next_try`).
    Pending,
    /// A `create` was (maybe) sent at `started_at` with `sent`: whether the CRM ran it is
    /// unknown until the CRM is asked (a crash or a lost reply), so it is looked for before any
    /// second create.
    Creating {
        started_at: i64,
        sent: Box<model::Item>,
    },
    /// The CRM refused the change (`last_error` says why); never retried by itself.
    Failed { at: i64 },
}

/// One queued change of one item.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct OutboxEntry {
    pub user: String,
    pub folder: u32,
    pub item: u64,
    pub op: OutboxOp,
    /// `None` while the CRM has never held the item (an add on the phone).
    pub base: Option<OutboxBase>,
    /// The phone asked for client-wins (Sync Conflict 0) with its latest change.
    pub client_wins: bool,
    /// Unix seconds of the first change.
    pub created: i64,
    pub attempts: u32,
    /// Unix seconds before which the entry is not tried (backoff).
    pub next_try: i64,
    pub last_error: Option<String>,
    pub state: OutboxState,
    /// Raised by every change folded in, so a drain sees that the item moved on while it was
    /// talking to the CRM.
    pub version: u32,
}

impl OutboxEntry {
    pub fn folder_id(&self) -> FolderId {
        FolderId(self.folder)
    }

    pub fn item_id(&self) -> ItemId {
        ItemId(self.item)
    }

    pub fn is_failed(&self) -> bool {
        matches!(self.state, OutboxState::Failed { .. })
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Meta {
    next_seq: u64,
    live: u32,
    failed: u32,
}

/// The CRM module (`elementType`) a box folder carries: the default Contacts, Calendar and
/// Tasks folders. The store sits below `crm` and cannot ask `crm::Module`; a test there checks
/// that both agree.
pub fn crm_module_name(folder: FolderId) -> Option<&'static str> {
    let (_, kind, _) = DEFAULT_FOLDERS.iter().find(|f| f.0 == folder.0)?;
    match kind {
        FolderKind::Contacts => Some("Contacts"),
        FolderKind::Calendar => Some("Events"),
        FolderKind::Tasks => Some("Calendar"),
        _ => None,
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

mod read {
    use super::*;

    pub fn meta(t: &impl Tables) -> Result<Meta, StoreError> {
        let table = t.table(OUTBOX)?;
        let v = table.get(META_KEY)?;
        Ok(v.map(|v| decode(META_FORMAT, "outbox counters", v.value()))
            .transpose()?
            .unwrap_or_default())
    }

    pub fn entry(t: &impl Tables, seq: u64) -> Result<Option<OutboxEntry>, StoreError> {
        if seq == META_KEY {
            return Ok(None);
        }
        let table = t.table(OUTBOX)?;
        let v = table.get(seq)?;
        v.map(|v| decode(ENTRY_FORMAT, "outbox entry", v.value()))
            .transpose()
    }

    /// Entries in queue order that `keep` accepts, at most `limit`.
    pub fn entries(
        t: &impl Tables,
        limit: u32,
        keep: impl Fn(&OutboxEntry) -> bool,
    ) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        let table = t.table(OUTBOX)?;
        let mut out = Vec::new();
        for row in table.range(1u64..)? {
            if out.len() >= usize::try_from(limit).unwrap_or(usize::MAX) {
                break;
            }
            let (k, v) = row?;
            let e: OutboxEntry = decode(ENTRY_FORMAT, "outbox entry", v.value())?;
            if keep(&e) {
                out.push((k.value(), e));
            }
        }
        Ok(out)
    }

    pub fn by_item(
        t: &impl Tables,
        user: &str,
        folder: FolderId,
        item: ItemId,
    ) -> Result<Option<u64>, StoreError> {
        let table = t.table(OUTBOX_BY_ITEM)?;
        let v = table.get((user, folder.0, item.0))?;
        Ok(v.map(|v| v.value()))
    }
}

impl StoreTxn<'_> {
    fn put_meta(&mut self, m: &Meta) -> Result<(), StoreError> {
        let bytes = encode(META_FORMAT, m)?;
        self.txn
            .open_table(OUTBOX)?
            .insert(META_KEY, bytes.as_slice())?;
        Ok(())
    }

    fn write_entry(&mut self, seq: u64, e: &OutboxEntry) -> Result<(), StoreError> {
        let bytes = encode(ENTRY_FORMAT, e)?;
        self.txn.open_table(OUTBOX)?.insert(seq, bytes.as_slice())?;
        Ok(())
    }

    /// Removes the item's pointer when it points at `seq`.
    fn release_item(&mut self, seq: u64, e: &OutboxEntry) -> Result<(), StoreError> {
        let mut t = self.txn.open_table(OUTBOX_BY_ITEM)?;
        let key = (e.user.as_str(), e.folder, e.item);
        if t.get(key)?.map(|v| v.value()) == Some(seq) {
            t.remove(key)?;
        }
        Ok(())
    }

    /// Called by `put_item`/`delete_item` for a device's change; `old` is the item's stored
    /// record before the change (`None` for a new item).
    pub(super) fn outbox_device_change(
        &mut self,
        user: &str,
        folder: FolderId,
        item: ItemId,
        op: OutboxOp,
        old: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        self.outbox_enqueue(user, folder, item, op, old, MAX_OUTBOX_ENTRIES)
    }

    fn carried(&self, folder: FolderId) -> Result<bool, StoreError> {
        let Some(module) = crm_module_name(folder) else {
            return Ok(false);
        };
        Ok(self
            .crm_settings()?
            .is_some_and(|s| s.modules.iter().any(|m| m == module)))
    }

    /// [`Self::outbox_device_change`] with the cap as a parameter, so tests can use a small one.
    pub(super) fn outbox_enqueue(
        &mut self,
        user: &str,
        folder: FolderId,
        item: ItemId,
        op: OutboxOp,
        old: Option<&[u8]>,
        cap: u32,
    ) -> Result<(), StoreError> {
        if !self.carried(folder)? {
            return Ok(());
        }
        if let Some(seq) = read::by_item(&self.txn, user, folder, item)? {
            if let Some(mut e) = read::entry(&self.txn, seq)? {
                if op == OutboxOp::Delete
                    && e.base.is_none()
                    && matches!(e.state, OutboxState::Pending)
                {
                    // Never written to the CRM: nothing to undo there.
                    return self.remove_outbox_entry(seq).map(|_| ());
                }
                // A create that may have run keeps its state: the drain finds the record
                // first and then deletes it.
                e.op = op;
                e.client_wins = self.client_wins;
                e.version = e.version.wrapping_add(1);
                return self.write_entry(seq, &e);
            }
            // A pointer without its entry: stale, replaced below.
            self.txn
                .open_table(OUTBOX_BY_ITEM)?
                .remove((user, folder.0, item.0))?;
        }
        let old: Option<StoredItem> = match old {
            Some(b) => Some(decode::<ItemIn>(ITEM_FORMAT, "item", b)?.into()),
            None => None,
        };
        let base = old.and_then(|o| {
            o.crm.map(|c| OutboxBase {
                crm_id: c.id,
                modified: c.modified,
                item: o.item,
            })
        });
        if op == OutboxOp::Delete && base.is_none() {
            return Ok(());
        }
        let mut meta = read::meta(&self.txn)?;
        if meta.live >= cap {
            return Err(StoreError::Full("outbox entries"));
        }
        let seq = meta.next_seq.max(1);
        meta.next_seq = seq
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt("outbox sequence exhausted".into()))?;
        meta.live = meta.live.saturating_add(1);
        let e = OutboxEntry {
            user: user.to_owned(),
            folder: folder.0,
            item: item.0,
            op,
            base,
            client_wins: self.client_wins,
            created: now_secs(),
            attempts: 0,
            next_try: 0,
            last_error: None,
            state: OutboxState::Pending,
            version: 0,
        };
        self.write_entry(seq, &e)?;
        self.put_meta(&meta)?;
        self.txn
            .open_table(OUTBOX_BY_ITEM)?
            .insert((user, folder.0, item.0), seq)?;
        Ok(())
    }

    pub fn outbox_entry(&self, seq: u64) -> Result<Option<OutboxEntry>, StoreError> {
        read::entry(&self.txn, seq)
    }

    /// Rewrites an existing entry (`false` when it is gone). An entry turning
    /// [`OutboxState::Failed`] lets go of its item and counts as failed, not live.
    pub fn put_outbox_entry(&mut self, seq: u64, e: &OutboxEntry) -> Result<bool, StoreError> {
        self.put_outbox_entry_capped(seq, e, MAX_FAILED_OUTBOX_ENTRIES)
    }

    fn put_outbox_entry_capped(
        &mut self,
        seq: u64,
        e: &OutboxEntry,
        failed_cap: u32,
    ) -> Result<bool, StoreError> {
        let Some(old) = read::entry(&self.txn, seq)? else {
            return Ok(false);
        };
        self.write_entry(seq, e)?;
        let mut meta = read::meta(&self.txn)?;
        match (old.is_failed(), e.is_failed()) {
            (false, true) => {
                meta.live = meta.live.saturating_sub(1);
                meta.failed = meta.failed.saturating_add(1);
                self.release_item(seq, e)?;
            }
            (true, false) => {
                meta.failed = meta.failed.saturating_sub(1);
                meta.live = meta.live.saturating_add(1);
                let mut t = self.txn.open_table(OUTBOX_BY_ITEM)?;
                let key = (e.user.as_str(), e.folder, e.item);
                if t.get(key)?.is_none() {
                    t.insert(key, seq)?;
                }
            }
            _ => {}
        }
        self.put_meta(&meta)?;
        while meta.failed > failed_cap {
            let oldest = read::entries(&self.txn, 1, OutboxEntry::is_failed)?;
            let Some((old_seq, old)) = oldest.into_iter().next() else {
                break;
            };
            log::warn!(
                "outbox: more than {failed_cap} refused changes kept; forgetting the oldest \
                 ({} folder {} item {}: {})",
                old.user,
                old.folder,
                old.item,
                old.last_error.as_deref().unwrap_or("")
            );
            self.remove_outbox_entry(old_seq)?;
            meta = read::meta(&self.txn)?;
        }
        Ok(true)
    }

    /// Removes an entry (written, dropped, or discarded by the admin); `false` when gone.
    pub fn remove_outbox_entry(&mut self, seq: u64) -> Result<bool, StoreError> {
        let Some(old) = read::entry(&self.txn, seq)? else {
            return Ok(false);
        };
        self.txn.open_table(OUTBOX)?.remove(seq)?;
        self.release_item(seq, &old)?;
        let mut meta = read::meta(&self.txn)?;
        if old.is_failed() {
            meta.failed = meta.failed.saturating_sub(1);
        } else {
            meta.live = meta.live.saturating_sub(1);
        }
        self.put_meta(&meta)?;
        Ok(true)
    }

    /// The live entry of an item, if any.
    pub fn outbox_seq_of(
        &self,
        user: &str,
        folder: FolderId,
        item: ItemId,
    ) -> Result<Option<u64>, StoreError> {
        read::by_item(&self.txn, user, folder, item)
    }

    /// (live, failed) entries.
    pub fn outbox_counts(&self) -> Result<(u32, u32), StoreError> {
        read::meta(&self.txn).map(|m| (m.live, m.failed))
    }
}

impl ReadTxn<'_> {
    /// Live entries whose `next_try` has come, in queue order, at most `limit`.
    pub fn outbox_due(&self, now: i64, limit: u32) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        read::entries(&self.txn, limit, |e| !e.is_failed() && e.next_try <= now)
    }

    /// Every entry (live and failed) in queue order, at most `limit`: for status and admin.
    pub fn outbox_entries(&self, limit: u32) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        read::entries(&self.txn, limit, |_| true)
    }

    pub fn outbox_entry(&self, seq: u64) -> Result<Option<OutboxEntry>, StoreError> {
        read::entry(&self.txn, seq)
    }

    /// (live, failed) entries.
    pub fn outbox_counts(&self) -> Result<(u32, u32), StoreError> {
        read::meta(&self.txn).map(|m| (m.live, m.failed))
    }

    /// Whether a device change of the item waits in the outbox.
    pub fn outbox_pending(
        &self,
        user: &str,
        folder: FolderId,
        item: ItemId,
    ) -> Result<bool, StoreError> {
        Ok(read::by_item(&self.txn, user, folder, item)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::crm::CrmSettings;
    use crate::sync::{CrmRef, Origin, SyncStore};

    fn temp(name: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("easbox-outbox-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    fn settings(modules: &[&str]) -> CrmSettings {
        CrmSettings {
            url: "http://crm.test/".into(),
            user: "admin".into(),
            access_key_sealed: Vec::new(),
            interval_secs: 60,
            modules: modules.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    fn contact(last: &str) -> StoredItem {
        StoredItem {
            item: model::Item::Contact(model::Contact {
                last_name: Some(last.into()),
                ..model::Contact::default()
            }),
            unknown: Vec::new(),
            crm: None,
        }
    }

    const DEV: fn() -> Origin = || Origin::Device("dev1".into());
    const C: FolderId = FolderId(8);

    #[test]
    fn folders_and_modules() {
        assert_eq!(crm_module_name(FolderId(8)), Some("Contacts"));
        assert_eq!(crm_module_name(FolderId(7)), Some("Events"));
        assert_eq!(crm_module_name(FolderId(6)), Some("Calendar"));
        assert_eq!(crm_module_name(FolderId(1)), None);
        assert_eq!(crm_module_name(FolderId(100)), None);
    }

    #[test]
    fn queue_fold_drop_and_only_when_carried() {
        let p = temp("fold");
        let store = Store::open(&p).unwrap();
        let mut t = store.write().unwrap();
        // No settings: nothing is queued.
        let a = t.put_item("u", C, None, &contact("A"), &DEV()).unwrap();
        assert_eq!(t.outbox_counts().unwrap(), (0, 0));
        // Contacts not carried: nothing either.
        t.put_crm_settings(&settings(&["Events"])).unwrap();
        t.put_item("u", C, Some(a), &contact("A2"), &DEV()).unwrap();
        assert_eq!(t.outbox_counts().unwrap(), (0, 0));
        t.put_crm_settings(&settings(&["Contacts", "Events"]))
            .unwrap();
        // The CRM's own writes are not queued.
        t.put_item("u", C, Some(a), &contact("A3"), &Origin::Crm)
            .unwrap();
        assert_eq!(t.outbox_counts().unwrap(), (0, 0));

        // An add, then two changes: one entry, version 2, no base.
        let b = t.put_item("u", C, None, &contact("B"), &DEV()).unwrap();
        t.set_client_wins(true);
        t.put_item("u", C, Some(b), &contact("B2"), &DEV()).unwrap();
        t.set_client_wins(false);
        t.put_item("u", C, Some(b), &contact("B3"), &DEV()).unwrap();
        assert_eq!(t.outbox_counts().unwrap(), (1, 0));
        let seq = t.outbox_seq_of("u", C, b).unwrap().unwrap();
        let e = t.outbox_entry(seq).unwrap().unwrap();
        assert_eq!(
            (e.op, e.version, e.base.is_none()),
            (OutboxOp::Upsert, 2, true)
        );
        assert!(!e.client_wins);
        // Deleting it before it reached the CRM drops the entry.
        assert!(t.delete_item("u", C, b, &DEV()).unwrap());
        assert_eq!(t.outbox_counts().unwrap(), (0, 0));
        assert_eq!(t.outbox_seq_of("u", C, b).unwrap(), None);

        // An item the CRM holds: the base is its state before the first change.
        let mut held = contact("H");
        held.crm = Some(CrmRef {
            id: "4x20".into(),
            modified: "100".into(),
        });
        let h = t.put_item("u", C, None, &held, &Origin::Crm).unwrap();
        let mut changed = contact("H2");
        changed.crm = held.crm.clone();
        t.put_item("u", C, Some(h), &changed, &DEV()).unwrap();
        changed.item = contact("H3").item;
        t.put_item("u", C, Some(h), &changed, &DEV()).unwrap();
        let seq = t.outbox_seq_of("u", C, h).unwrap().unwrap();
        let e = t.outbox_entry(seq).unwrap().unwrap();
        let base = e.base.unwrap();
        assert_eq!(
            (base.crm_id.as_str(), base.modified.as_str()),
            ("4x20", "100")
        );
        assert_eq!(base.item, held.item);
        // Its delete stays queued (the CRM record must go), in the same entry.
        assert!(t.delete_item("u", C, h, &DEV()).unwrap());
        let e = t.outbox_entry(seq).unwrap().unwrap();
        assert_eq!(e.op, OutboxOp::Delete);
        assert_eq!(t.outbox_counts().unwrap(), (1, 0));
        t.commit().unwrap();

        // Durable: a new snapshot sees it.
        let r = store.read().unwrap();
        assert_eq!(r.outbox_due(0, 10).unwrap().len(), 1);
        assert!(r.outbox_pending("u", C, h).unwrap());
        drop(r);
        drop(store);
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn cap_refuses_new_entries_but_folds_still_work() {
        let p = temp("cap");
        let store = Store::open(&p).unwrap();
        let mut t = store.write().unwrap();
        t.put_crm_settings(&settings(&["Contacts"])).unwrap();
        t.folders("u").unwrap();
        let mut ids = Vec::new();
        for i in 0..3u64 {
            let id = ItemId(i + 1);
            t.outbox_enqueue("u", C, id, OutboxOp::Upsert, None, 3)
                .unwrap();
            ids.push(id);
        }
        assert_eq!(
            t.outbox_enqueue("u", C, ItemId(9), OutboxOp::Upsert, None, 3),
            Err(StoreError::Full("outbox entries"))
        );
        // A change of a queued item folds in and needs no room.
        t.outbox_enqueue("u", C, ids[0], OutboxOp::Upsert, None, 3)
            .unwrap();
        assert_eq!(t.outbox_counts().unwrap(), (3, 0));
        // A failed entry frees its live slot.
        let seq = t.outbox_seq_of("u", C, ids[1]).unwrap().unwrap();
        let mut e = t.outbox_entry(seq).unwrap().unwrap();
        e.state = OutboxState::Failed { at: 5 };
        e.last_error = Some("refused".into());
        assert!(t.put_outbox_entry(seq, &e).unwrap());
        assert_eq!(t.outbox_counts().unwrap(), (2, 1));
        assert_eq!(t.outbox_seq_of("u", C, ids[1]).unwrap(), None);
        t.outbox_enqueue("u", C, ItemId(9), OutboxOp::Upsert, None, 3)
            .unwrap();
        assert_eq!(t.outbox_counts().unwrap(), (3, 1));
        t.commit().unwrap();
        drop(store);
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn failed_entries_are_capped_oldest_first() {
        let p = temp("failcap");
        let store = Store::open(&p).unwrap();
        let mut t = store.write().unwrap();
        t.put_crm_settings(&settings(&["Contacts"])).unwrap();
        for i in 1..=4u64 {
            t.outbox_enqueue("u", C, ItemId(i), OutboxOp::Upsert, None, 10)
                .unwrap();
            let seq = t.outbox_seq_of("u", C, ItemId(i)).unwrap().unwrap();
            let mut e = t.outbox_entry(seq).unwrap().unwrap();
            e.state = OutboxState::Failed { at: 1 };
            t.put_outbox_entry_capped(seq, &e, 2).unwrap();
        }
        assert_eq!(t.outbox_counts().unwrap(), (0, 2));
        t.commit().unwrap();
        let r = store.read().unwrap();
        let left: Vec<u64> = r
            .outbox_entries(10)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e.item)
            .collect();
        assert_eq!(left, [3, 4]);
        assert!(r.outbox_due(i64::MAX, 10).unwrap().is_empty());
        drop(r);
        drop(store);
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn the_sync_engine_passes_the_conflict_option_with_the_change() {
        use crate::eas::ProtocolVersion;
        use crate::eas::commands::sync::{
            ClientCommand, Conflict, SyncCollectionRequest, SyncOptions, SyncRequest,
        };
        use crate::eas::items::ClientKind;
        use crate::sync::{DeviceCtx, DeviceKey};
        use crate::wbxml::{OwnedElement, airsync, contacts};

        let p = temp("engine");
        let store = Store::open(&p).unwrap();
        let dev = DeviceCtx {
            key: DeviceKey {
                user: "u".into(),
                device_id: "dev1".into(),
            },
            version: ProtocolVersion::V14_1,
            client: ClientKind::Other,
        };
        let coll = |key: &str| SyncCollectionRequest {
            sync_key: key.into(),
            collection_id: "8".into(),
            ..SyncCollectionRequest::default()
        };
        let run = |c: SyncCollectionRequest| {
            let mut t = store.write().unwrap();
            let req = SyncRequest {
                collections: vec![c],
                ..SyncRequest::default()
            };
            let out = crate::sync::sync(&mut t, &dev, &req).unwrap();
            t.commit().unwrap();
            out.response.collections[0].sync_key.clone()
        };
        let mut t = store.write().unwrap();
        t.put_crm_settings(&settings(&["Contacts"])).unwrap();
        t.commit().unwrap();
        let mut key = run(coll("0"));
        key = run(coll(&key));
        for (n, client_wins) in [("a", true), ("b", false)] {
            let mut c = coll(&key);
            if client_wins {
                c.options.push(SyncOptions {
                    conflict: Some(Conflict::ClientWins),
                    ..SyncOptions::default()
                });
            }
            c.commands.push(ClientCommand::Add {
                class: None,
                client_id: n.into(),
                data: OwnedElement::new(airsync::APPLICATION_DATA)
                    .with(OwnedElement::leaf(contacts::LAST_NAME, n)),
            });
            key = run(c);
        }
        let r = store.read().unwrap();
        let flags: Vec<bool> = r
            .outbox_entries(10)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e.client_wins)
            .collect();
        assert_eq!(flags, [true, false]);
        drop(r);
        drop(store);
        let _ = std::fs::remove_file(&p);
    }
}
