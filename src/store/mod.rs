//! The redb store: users, devices, folders, items, the per-folder change log and the per-device
//! sync state, behind the engine's [`SyncStore`] contract ([MS-ASCMD] 2.2.1.5 FolderSync,
//! 2.2.1.21 Sync; EAS-NOTES §1.5 and §3 rows 1, 3, 8, 16).
//!
//! - Tables and the schema version with its migrations: [`schema`] (all definitions there).
//! - Record encoding (postcard behind a format tag): `codec`.
//!
//! One [`StoreTxn`] wraps one redb write transaction: the engine runs a whole request on it and
//! the caller commits before it answers, so a device change is durable before it is
//! acknowledged (DESIGN "Durable before acknowledged"). Commits use redb's default
//! `Durability::Immediate`: when [`StoreTxn::commit`] returns, the data is on disk (fsync) and
//! survives a crash or a power cut. A transaction dropped without commit leaves nothing.
//!
//! redb lets one write transaction run at a time and [`Store::write`] blocks until the previous
//! one ends: async callers open it in a blocking task. [`Store::read`] gives a snapshot that
//! runs beside writers.
//!
//! User names are stored as given; the caller lower-cases them (sync contract).

pub mod schema;

mod codec;
pub mod crm;
pub mod crm_index;
pub mod outbox;
#[cfg(test)]
mod tests;

use crate::eas::commands::settings::DeviceInformation;
use crate::sync::{
    self, Change, ChangeKind, CollectionState, DeviceKey, Folder, FolderId, FolderSyncState,
    ItemId, Origin, StoredItem, SyncStore,
};
use codec::{
    CHANGE_FORMAT, COLLECTION_STATE_FORMAT, ChangeRec, CollectionStateIn, CollectionStateOut,
    DEVICE_FORMAT, FOLDER_FORMAT, FOLDER_SYNC_STATE_FORMAT, FolderRec, FolderSyncStateIn,
    FolderSyncStateOut, ITEM_FORMAT, ItemIn, ItemOut, USER_FORMAT, decode, encode,
};
use core::fmt;
use core::marker::PhantomData;
use redb::{Database, Key, ReadableDatabase, ReadableTable, TableDefinition, Value};
use schema::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How many ClientId → item mappings a device keeps (over all its folders). A ClientId only
/// matters until the device has seen the answer to its Add; this holds four full windows of
/// adds (WindowSize ≤ 512), so a resent request is always recognised, and the oldest go first.
pub const MAX_CLIENT_IDS_PER_DEVICE: u32 = 2048;

/// The one error type of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// redb failed (I/O, a lock, a table of the wrong type).
    Db(String),
    /// A record could not be encoded.
    Encode(String),
    /// A stored record did not decode: a damaged file or a format this build does not know.
    Corrupt(String),
    /// The file was written by a newer easbox; opening it could lose what that one added.
    SchemaTooNew { found: u32, supported: u32 },
    /// The file holds tables but no schema version: it is not an easbox store (or a damaged one).
    NoSchemaVersion,
    /// A schema version that no easbox writes.
    BadSchemaVersion(u32),
    /// This build has no migration from the file's version.
    NoMigration { from: u32 },
    /// A named cap was reached (the name says which table).
    Full(&'static str),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Db(e) => write!(f, "database: {e}"),
            StoreError::Encode(e) => write!(f, "cannot encode a record: {e}"),
            StoreError::Corrupt(e) => write!(f, "damaged record: {e}"),
            StoreError::SchemaTooNew { found, supported } => write!(
                f,
                "the store has schema version {found}, newer than the {supported} this easbox \
                 knows: run a newer easbox (or restore a backup)"
            ),
            StoreError::NoSchemaVersion => {
                f.write_str("the file holds data but no schema version: it is not an easbox store")
            }
            StoreError::BadSchemaVersion(v) => write!(f, "invalid schema version {v}"),
            StoreError::NoMigration { from } => {
                write!(f, "no migration from schema version {from}")
            }
            StoreError::Full(what) => write!(f, "too many {what}"),
        }
    }
}

impl std::error::Error for StoreError {}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.to_string())
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<StoreError> for sync::Error {
    fn from(e: StoreError) -> Self {
        sync::Error::Store(e.to_string())
    }
}

/// A user of the box.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Whether ActiveSync is enabled for the user (403 otherwise).
    pub enabled: bool,
    /// The ActiveSync password as an argon2id PHC string (`auth::password`).
    pub password_hash: Option<String>,
    /// Unix seconds.
    pub created: i64,
}

/// Where a remote wipe stands; the codes are the Provision RemoteWipe statuses that Z-Push
/// and grommunio record (EAS-NOTES §1.3: 1 → 2 → 4 → 8). Variant order is stored: append only.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WipeState {
    /// No wipe (1).
    #[default]
    None,
    /// An admin asked for a wipe; the device has not been told yet (2).
    Pending { account_only: bool },
    /// The wipe was sent to the device in a Provision response (4).
    Requested { account_only: bool },
    /// The device acknowledged the wipe (8).
    Acknowledged { account_only: bool },
}

impl WipeState {
    pub const fn code(self) -> u8 {
        match self {
            WipeState::None => 1,
            WipeState::Pending { .. } => 2,
            WipeState::Requested { .. } => 4,
            WipeState::Acknowledged { .. } => 8,
        }
    }
}

/// What a device says about itself in Settings DeviceInformation ([MS-ASCMD] 2.2.3.53).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct DeviceInfo {
    pub model: Option<String>,
    pub imei: Option<String>,
    pub friendly_name: Option<String>,
    pub os: Option<String>,
    pub os_language: Option<String>,
    pub phone_number: Option<String>,
    pub user_agent: Option<String>,
    pub enable_outbound_sms: Option<bool>,
    pub mobile_operator: Option<String>,
}

impl From<&DeviceInformation> for DeviceInfo {
    fn from(d: &DeviceInformation) -> Self {
        DeviceInfo {
            model: d.model.clone(),
            imei: d.imei.clone(),
            friendly_name: d.friendly_name.clone(),
            os: d.os.clone(),
            os_language: d.os_language.clone(),
            phone_number: d.phone_number.clone(),
            user_agent: d.user_agent.clone(),
            enable_outbound_sms: d.enable_outbound_sms,
            mobile_operator: d.mobile_operator.clone(),
        }
    }
}

/// One device of a user. The model is in `info` (the device reports it in Settings).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Device {
    /// The DeviceType of the request line.
    pub device_type: String,
    /// The HTTP User-Agent of the last request.
    pub user_agent: Option<String>,
    /// The MS-ASProtocolVersion of the last request, e.g. "16.1".
    pub protocol_version: String,
    /// The policy key of the last completed Provision.
    pub policy_key: Option<u32>,
    pub provisioned: bool,
    pub wipe: WipeState,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds.
    pub last_seen: i64,
    pub info: DeviceInfo,
}

/// The store: one redb file.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens the store at `path`, creating it, or migrating an older schema, as needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let db = Database::create(path)?;
        open_or_migrate(&db)?;
        Ok(Store { db })
    }

    /// Begins a write transaction (waits for the previous one to end).
    pub fn write(&self) -> Result<StoreTxn<'_>, StoreError> {
        Ok(StoreTxn {
            txn: self.db.begin_write()?,
            client_wins: false,
            _store: PhantomData,
        })
    }

    /// A consistent read-only snapshot.
    pub fn read(&self) -> Result<ReadTxn<'_>, StoreError> {
        Ok(ReadTxn {
            txn: self.db.begin_read()?,
            _store: PhantomData,
        })
    }
}

/// One write transaction. Dropping it without [`StoreTxn::commit`] discards every change.
pub struct StoreTxn<'s> {
    txn: redb::WriteTransaction,
    /// The Sync's Conflict option for the collection being applied (`outbox`).
    client_wins: bool,
    _store: PhantomData<&'s Store>,
}

/// A read-only snapshot.
pub struct ReadTxn<'s> {
    txn: redb::ReadTransaction,
    _store: PhantomData<&'s Store>,
}

/// Opening a table for reading, the same way in a write and a read transaction, so the read
/// paths are written once.
trait Tables {
    type Table<'a, K: Key + 'static, V: Value + 'static>: ReadableTable<K, V>
    where
        Self: 'a;
    fn table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<Self::Table<'_, K, V>, StoreError>;
}

impl Tables for redb::WriteTransaction {
    type Table<'a, K: Key + 'static, V: Value + 'static> = redb::Table<'a, K, V>;
    fn table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<redb::Table<'_, K, V>, StoreError> {
        Ok(self.open_table(def)?)
    }
}

impl Tables for redb::ReadTransaction {
    type Table<'a, K: Key + 'static, V: Value + 'static> = redb::ReadOnlyTable<K, V>;
    fn table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<redb::ReadOnlyTable<K, V>, StoreError> {
        Ok(self.open_table(def)?)
    }
}

mod read {
    use super::*;

    pub fn user(t: &impl Tables, name: &str) -> Result<Option<User>, StoreError> {
        let table = t.table(USERS)?;
        let v = table.get(name)?;
        v.map(|v| decode(USER_FORMAT, "user", v.value()))
            .transpose()
    }

    pub fn users(t: &impl Tables) -> Result<Vec<(String, User)>, StoreError> {
        let table = t.table(USERS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push((
                k.value().to_owned(),
                decode(USER_FORMAT, "user", v.value())?,
            ));
        }
        Ok(out)
    }

    pub fn device(t: &impl Tables, key: &DeviceKey) -> Result<Option<Device>, StoreError> {
        let table = t.table(DEVICES)?;
        let v = table.get((key.user.as_str(), key.device_id.as_str()))?;
        v.map(|v| decode(DEVICE_FORMAT, "device", v.value()))
            .transpose()
    }

    pub fn devices(t: &impl Tables, user: &str) -> Result<Vec<(String, Device)>, StoreError> {
        let table = t.table(DEVICES)?;
        let mut out = Vec::new();
        for row in table.range((user, "")..)? {
            let (k, v) = row?;
            let (u, id) = k.value();
            if u != user {
                break;
            }
            out.push((id.to_owned(), decode(DEVICE_FORMAT, "device", v.value())?));
        }
        Ok(out)
    }

    pub fn folders(t: &impl Tables, user: &str) -> Result<Vec<Folder>, StoreError> {
        let table = t.table(FOLDERS)?;
        let mut out = Vec::new();
        for row in table.range((user, 0u32)..=(user, u32::MAX))? {
            let (k, v) = row?;
            let id = k.value().1;
            let rec: FolderRec = decode(FOLDER_FORMAT, "folder", v.value())?;
            out.push(rec.into_folder(id)?);
        }
        Ok(out)
    }

    pub fn item(
        t: &impl Tables,
        user: &str,
        folder: FolderId,
        item: ItemId,
    ) -> Result<Option<StoredItem>, StoreError> {
        let table = t.table(ITEMS)?;
        let v = table.get((user, folder.0, item.0))?;
        v.map(|v| decode::<ItemIn>(ITEM_FORMAT, "item", v.value()).map(StoredItem::from))
            .transpose()
    }

    pub fn changes_after(
        t: &impl Tables,
        user: &str,
        folder: FolderId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Change>, StoreError> {
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let table = t.table(CHANGES)?;
        let mut out = Vec::new();
        for row in table
            .range((user, folder.0, first)..=(user, folder.0, u64::MAX))?
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
        {
            let (k, v) = row?;
            let rec: ChangeRec = decode(CHANGE_FORMAT, "change", v.value())?;
            out.push(rec.into_change(k.value().2));
        }
        Ok(out)
    }

    /// (next item id, head seq); a folder never written has (1, 0).
    pub fn counters(
        t: &impl Tables,
        user: &str,
        folder: FolderId,
    ) -> Result<(u64, u64), StoreError> {
        let table = t.table(FOLDER_COUNTERS)?;
        Ok(table
            .get((user, folder.0))?
            .map(|v| v.value())
            .unwrap_or((1, 0)))
    }

    pub fn collection_state(
        t: &impl Tables,
        device: &DeviceKey,
        folder: FolderId,
    ) -> Result<Option<CollectionState>, StoreError> {
        let table = t.table(COLLECTION_STATES)?;
        let v = table.get((device.user.as_str(), device.device_id.as_str(), folder.0))?;
        v.map(|v| {
            decode::<CollectionStateIn>(COLLECTION_STATE_FORMAT, "collection state", v.value())
                .map(CollectionState::from)
        })
        .transpose()
    }

    pub fn folder_sync_state(
        t: &impl Tables,
        device: &DeviceKey,
    ) -> Result<Option<FolderSyncState>, StoreError> {
        let table = t.table(FOLDER_SYNC_STATES)?;
        let v = table.get((device.user.as_str(), device.device_id.as_str()))?;
        v.map(|v| {
            decode::<FolderSyncStateIn>(FOLDER_SYNC_STATE_FORMAT, "folder sync state", v.value())
                .map(FolderSyncState::from)
        })
        .transpose()
    }

    pub fn client_id(
        t: &impl Tables,
        device: &DeviceKey,
        folder: FolderId,
        client_id: &str,
    ) -> Result<Option<ItemId>, StoreError> {
        let table = t.table(CLIENT_IDS)?;
        let v = table.get((
            device.user.as_str(),
            device.device_id.as_str(),
            folder.0,
            client_id,
        ))?;
        Ok(v.map(|v| ItemId(v.value().0)))
    }
}

impl StoreTxn<'_> {
    /// Makes every change of the transaction durable (fsync) before returning.
    pub fn commit(self) -> Result<(), StoreError> {
        Ok(self.txn.commit()?)
    }

    pub fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        read::user(&self.txn, name)
    }

    pub fn put_user(&mut self, name: &str, user: &User) -> Result<(), StoreError> {
        let bytes = encode(USER_FORMAT, user)?;
        self.txn.open_table(USERS)?.insert(name, bytes.as_slice())?;
        Ok(())
    }

    /// All users, by name.
    pub fn list_users(&self) -> Result<Vec<(String, User)>, StoreError> {
        read::users(&self.txn)
    }

    pub fn device(&self, key: &DeviceKey) -> Result<Option<Device>, StoreError> {
        read::device(&self.txn, key)
    }

    pub fn put_device(&mut self, key: &DeviceKey, device: &Device) -> Result<(), StoreError> {
        let bytes = encode(DEVICE_FORMAT, device)?;
        self.txn.open_table(DEVICES)?.insert(
            (key.user.as_str(), key.device_id.as_str()),
            bytes.as_slice(),
        )?;
        Ok(())
    }

    /// A user's devices, by device id.
    pub fn list_devices(&self, user: &str) -> Result<Vec<(String, Device)>, StoreError> {
        read::devices(&self.txn, user)
    }

    /// Replaces a user's folder list. easbox's default ids never change; this is for folders
    /// added later (e.g. CRM calendars, from [`schema::FIRST_EXTRA_FOLDER_ID`] up) and for
    /// tests of hierarchy changes. Items of a folder that is left out stay stored.
    pub fn set_folders(&mut self, user: &str, folders: &[Folder]) -> Result<(), StoreError> {
        let mut table = self.txn.open_table(FOLDERS)?;
        table.retain_in((user, 0u32)..=(user, u32::MAX), |_, _| false)?;
        for folder in folders {
            let rec = encode(FOLDER_FORMAT, &FolderRec::from_folder(folder))?;
            table.insert((user, folder.id.0), rec.as_slice())?;
        }
        Ok(())
    }

    /// Appends an entry for `item` to the folder's log and removes the item's previous entry.
    fn log(
        &mut self,
        user: &str,
        folder: FolderId,
        item: ItemId,
        kind: ChangeKind,
        origin: &Origin,
        (next_item, head): (u64, u64),
    ) -> Result<(), StoreError> {
        let seq = head
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt("change log sequence exhausted".into()))?;
        let previous = self
            .txn
            .open_table(CHANGE_INDEX)?
            .insert((user, folder.0, item.0), seq)?
            .map(|v| v.value());
        let mut changes = self.txn.open_table(CHANGES)?;
        if let Some(old) = previous {
            changes.remove((user, folder.0, old))?;
        }
        let rec = encode(CHANGE_FORMAT, &ChangeRec::new(item, kind, origin))?;
        changes.insert((user, folder.0, seq), rec.as_slice())?;
        drop(changes);
        self.txn
            .open_table(FOLDER_COUNTERS)?
            .insert((user, folder.0), (next_item, seq))?;
        Ok(())
    }
}

impl ReadTxn<'_> {
    pub fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        read::user(&self.txn, name)
    }

    pub fn list_users(&self) -> Result<Vec<(String, User)>, StoreError> {
        read::users(&self.txn)
    }

    pub fn device(&self, key: &DeviceKey) -> Result<Option<Device>, StoreError> {
        read::device(&self.txn, key)
    }

    pub fn list_devices(&self, user: &str) -> Result<Vec<(String, Device)>, StoreError> {
        read::devices(&self.txn, user)
    }

    /// The user's folders; empty until a write transaction's `folders` created them.
    pub fn folders(&self, user: &str) -> Result<Vec<Folder>, StoreError> {
        read::folders(&self.txn, user)
    }

    pub fn item(
        &self,
        user: &str,
        folder: FolderId,
        item: ItemId,
    ) -> Result<Option<StoredItem>, StoreError> {
        read::item(&self.txn, user, folder, item)
    }

    pub fn changes_after(
        &self,
        user: &str,
        folder: FolderId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Change>, StoreError> {
        read::changes_after(&self.txn, user, folder, after, limit)
    }

    pub fn head(&self, user: &str, folder: FolderId) -> Result<u64, StoreError> {
        Ok(read::counters(&self.txn, user, folder)?.1)
    }

    pub fn collection_state(
        &self,
        device: &DeviceKey,
        folder: FolderId,
    ) -> Result<Option<CollectionState>, StoreError> {
        read::collection_state(&self.txn, device, folder)
    }
}

impl SyncStore for StoreTxn<'_> {
    fn set_client_wins(&mut self, client_wins: bool) {
        self.client_wins = client_wins;
    }

    fn folders(&mut self, user: &str) -> Result<Vec<Folder>, sync::Error> {
        let existing = read::folders(&self.txn, user)?;
        if !existing.is_empty() {
            return Ok(existing);
        }
        let mut table = self.txn.open_table(FOLDERS).map_err(StoreError::from)?;
        let out = sync::default_folders();
        for folder in &out {
            let rec = encode(FOLDER_FORMAT, &FolderRec::from_folder(folder))?;
            table
                .insert((user, folder.id.0), rec.as_slice())
                .map_err(StoreError::from)?;
        }
        Ok(out)
    }

    fn item(
        &self,
        user: &str,
        folder: FolderId,
        item: ItemId,
    ) -> Result<Option<StoredItem>, sync::Error> {
        Ok(read::item(&self.txn, user, folder, item)?)
    }

    fn put_item(
        &mut self,
        user: &str,
        folder: FolderId,
        item: Option<ItemId>,
        data: &StoredItem,
        origin: &Origin,
    ) -> Result<ItemId, sync::Error> {
        // As in `MemStore`: a user's folders exist from their first use, whoever comes first.
        if !self.folders(user)?.iter().any(|f| f.id == folder) {
            return Err(sync::Error::Store(format!(
                "no folder {} for {user}",
                folder.0
            )));
        }
        let (mut next, head) = read::counters(&self.txn, user, folder)?;
        let id = match item {
            Some(id) => id,
            None => ItemId(next),
        };
        // An id given by the caller (a replayed or imported item) must never be handed out
        // again to a new one.
        next = next.max(
            id.0.checked_add(1)
                .ok_or_else(|| StoreError::Corrupt(format!("item id {} out of range", id.0)))?,
        );
        let rec = encode(ITEM_FORMAT, &ItemOut::new(data))?;
        // A device change goes to the CRM: queued in this same transaction (outbox), with
        // the item as it was before.
        let old = {
            let mut items = self.txn.open_table(ITEMS).map_err(StoreError::from)?;
            let old = items
                .insert((user, folder.0, id.0), rec.as_slice())
                .map_err(StoreError::from)?;
            match origin {
                Origin::Device(_) => Some(old.map(|v| v.value().to_vec())),
                _ => None,
            }
        };
        self.log(user, folder, id, ChangeKind::Upsert, origin, (next, head))?;
        if let Some(old) = old {
            self.outbox_device_change(user, folder, id, outbox::OutboxOp::Upsert, old.as_deref())?;
        }
        Ok(id)
    }

    fn delete_item(
        &mut self,
        user: &str,
        folder: FolderId,
        item: ItemId,
        origin: &Origin,
    ) -> Result<bool, sync::Error> {
        let removed = self
            .txn
            .open_table(ITEMS)
            .map_err(StoreError::from)?
            .remove((user, folder.0, item.0))
            .map_err(StoreError::from)?
            .map(|v| v.value().to_vec());
        let Some(old) = removed else {
            return Ok(false);
        };
        let (next, head) = read::counters(&self.txn, user, folder)?;
        self.log(user, folder, item, ChangeKind::Delete, origin, (next, head))?;
        if let Origin::Device(_) = origin {
            self.outbox_device_change(user, folder, item, outbox::OutboxOp::Delete, Some(&old))?;
        }
        Ok(true)
    }

    fn changes_after(
        &self,
        user: &str,
        folder: FolderId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Change>, sync::Error> {
        Ok(read::changes_after(&self.txn, user, folder, after, limit)?)
    }

    fn head(&self, user: &str, folder: FolderId) -> Result<u64, sync::Error> {
        Ok(read::counters(&self.txn, user, folder)?.1)
    }

    fn collection_state(
        &self,
        device: &DeviceKey,
        folder: FolderId,
    ) -> Result<Option<CollectionState>, sync::Error> {
        Ok(read::collection_state(&self.txn, device, folder)?)
    }

    fn put_collection_state(
        &mut self,
        device: &DeviceKey,
        folder: FolderId,
        state: &CollectionState,
    ) -> Result<(), sync::Error> {
        let rec = encode(COLLECTION_STATE_FORMAT, &CollectionStateOut::from(state))?;
        self.txn
            .open_table(COLLECTION_STATES)
            .map_err(StoreError::from)?
            .insert(
                (device.user.as_str(), device.device_id.as_str(), folder.0),
                rec.as_slice(),
            )
            .map_err(StoreError::from)?;
        Ok(())
    }

    fn drop_collection_states(&mut self, device: &DeviceKey) -> Result<(), sync::Error> {
        let (u, d) = (device.user.as_str(), device.device_id.as_str());
        self.txn
            .open_table(COLLECTION_STATES)
            .map_err(StoreError::from)?
            .retain_in((u, d, 0u32)..=(u, d, u32::MAX), |_, _| false)
            .map_err(StoreError::from)?;
        Ok(())
    }

    fn folder_sync_state(
        &self,
        device: &DeviceKey,
    ) -> Result<Option<FolderSyncState>, sync::Error> {
        Ok(read::folder_sync_state(&self.txn, device)?)
    }

    fn put_folder_sync_state(
        &mut self,
        device: &DeviceKey,
        state: &FolderSyncState,
    ) -> Result<(), sync::Error> {
        let rec = encode(FOLDER_SYNC_STATE_FORMAT, &FolderSyncStateOut::from(state))?;
        self.txn
            .open_table(FOLDER_SYNC_STATES)
            .map_err(StoreError::from)?
            .insert(
                (device.user.as_str(), device.device_id.as_str()),
                rec.as_slice(),
            )
            .map_err(StoreError::from)?;
        Ok(())
    }

    fn client_id(
        &self,
        device: &DeviceKey,
        folder: FolderId,
        client_id: &str,
    ) -> Result<Option<ItemId>, sync::Error> {
        Ok(read::client_id(&self.txn, device, folder, client_id)?)
    }

    fn put_client_id(
        &mut self,
        device: &DeviceKey,
        folder: FolderId,
        client_id: &str,
        item: ItemId,
    ) -> Result<(), sync::Error> {
        Ok(self.put_client_id_capped(device, folder, client_id, item, MAX_CLIENT_IDS_PER_DEVICE)?)
    }
}

impl StoreTxn<'_> {
    /// [`SyncStore::put_client_id`] with the cap as a parameter, so tests can use a small one.
    fn put_client_id_capped(
        &mut self,
        device: &DeviceKey,
        folder: FolderId,
        client_id: &str,
        item: ItemId,
        cap: u32,
    ) -> Result<(), StoreError> {
        let (u, d) = (device.user.as_str(), device.device_id.as_str());
        let (stamp, mut count) = self
            .txn
            .open_table(CLIENT_ID_COUNTERS)?
            .get((u, d))?
            .map(|v| v.value())
            .unwrap_or((0, 0));
        let mut ids = self.txn.open_table(CLIENT_IDS)?;
        let previous = ids
            .insert((u, d, folder.0, client_id), (item.0, stamp))?
            .map(|v| v.value().1);
        let mut age = self.txn.open_table(CLIENT_ID_AGE)?;
        match previous {
            // A mapping written again is young again.
            Some(old) => {
                age.remove((u, d, old))?;
            }
            None => count = count.saturating_add(1),
        }
        age.insert((u, d, stamp), (folder.0, client_id))?;
        while count > cap {
            let oldest = age
                .range((u, d, 0u64)..=(u, d, u64::MAX))?
                .next()
                .transpose()?
                .map(|(k, v)| {
                    let (f, c) = v.value();
                    (k.value().2, f, c.to_owned())
                });
            let Some((old_stamp, old_folder, old_client)) = oldest else {
                break;
            };
            age.remove((u, d, old_stamp))?;
            ids.remove((u, d, old_folder, old_client.as_str()))?;
            count -= 1;
        }
        drop(ids);
        drop(age);
        self.txn
            .open_table(CLIENT_ID_COUNTERS)?
            .insert((u, d), (stamp.saturating_add(1), count))?;
        Ok(())
    }
}

impl StoreTxn<'_> {
    /// Whether a device change of the item waits in the outbox. The pull leaves such an item
    /// to the outbox, which applies the conflict rule (CRM wins unless the phone asked for
    /// client-wins).
    pub fn outbox_pending(
        &self,
        user: &str,
        folder: FolderId,
        item: ItemId,
    ) -> Result<bool, StoreError> {
        Ok(self
            .txn
            .open_table(OUTBOX_BY_ITEM)?
            .get((user, folder.0, item.0))?
            .is_some())
    }
}
