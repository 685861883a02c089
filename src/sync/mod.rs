//! The sync engine: folders, the per-folder change log, per-device sync keys and windows,
//! replay of a repeated request, conflicts and loop detection ([MS-ASCMD] 2.2.1.5 FolderSync,
//! 2.2.1.21 Sync, 2.2.1.9 GetItemEstimate, 2.2.1.10 ItemOperations, 2.2.1.12 MoveItems).
//!
//! Sans-io: the engine works on typed EAS requests and a [`SyncStore`], a storage interface
//! that `store` implements over one redb write transaction (and [`mem::MemStore`] in memory for
//! tests). The caller opens the transaction, runs the engine, commits, and only then sends the
//! response: a device change is durable before it is acknowledged.
//!
//! Change detection is a log, not a diff: every item write appends to its folder's log with a
//! sequence number and its [`Origin`]. A device's state per collection is a cursor into that
//! log, so a Sync costs O(changes), and a device's own changes are skipped for it.

pub mod engine;
pub mod folders;
pub mod mem;
pub mod state;

pub use engine::{
    SyncOutcome, changed_folders, get_item_estimate, item_operations_fetch, move_items,
    quarantined, sync,
};
pub use folders::{DEFAULT_FOLDERS, default_folders, folder_sync};

use crate::eas;
use crate::eas::items::{Class, ClientKind};
use crate::model;
use crate::wbxml::OwnedElement;
use core::fmt;

/// A user's folder; its EAS ServerId/CollectionId is the decimal number. Ids are stable: a
/// FolderSync from key 0 returns the same ids again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FolderId(pub u32);

/// An item within its folder. Its EAS ServerId is `"<folder>:<item>"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemId(pub u64);

/// One device of one user. User names are lower-case on the box.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceKey {
    pub user: String,
    pub device_id: String,
}

/// What the engine knows about the device making a request.
#[derive(Clone, Debug)]
pub struct DeviceCtx {
    pub key: DeviceKey,
    pub version: eas::ProtocolVersion,
    pub client: ClientKind,
}

/// EAS folder types used by easbox ([MS-ASCMD] 2.2.3.186.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FolderKind {
    Inbox,
    Drafts,
    DeletedItems,
    SentItems,
    Outbox,
    Tasks,
    Calendar,
    Contacts,
}

/// A folder of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    pub id: FolderId,
    /// `None` for a top-level folder (EAS ParentId 0).
    pub parent: Option<FolderId>,
    pub name: String,
    pub kind: FolderKind,
}

impl Folder {
    /// The class of items the folder holds; mail folders hold none on easbox.
    pub fn class(&self) -> Option<Class> {
        match self.kind {
            FolderKind::Contacts => Some(Class::Contacts),
            FolderKind::Calendar => Some(Class::Calendar),
            FolderKind::Tasks => Some(Class::Tasks),
            _ => None,
        }
    }
}

/// Who made a change: the CRM, a device (by id, within the same user), or the box itself
/// (seed data, admin).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    Crm,
    Device(String),
    Local,
}

/// What a change-log entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The item was added or changed; devices that never saw it get an Add, others a Change.
    Upsert,
    Delete,
}

/// One entry of a folder's change log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub seq: u64,
    pub item: ItemId,
    pub kind: ChangeKind,
    pub origin: Origin,
}

/// Where an item came from in the CRM, for the connector (issue 4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmRef {
    pub id: String,
    pub modified: String,
}

/// An item as stored: the model item, what a client sent that the model does not hold (so a
/// round trip loses nothing), and its CRM identity once known.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredItem {
    pub item: model::Item,
    pub unknown: Vec<OwnedElement>,
    pub crm: Option<CrmRef>,
}

/// Errors of the sync layer. Mapped to EAS statuses in one place by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The storage failed; the request gets a server-error status and nothing is committed.
    Store(String),
    /// A request or item the EAS layer could not read or write.
    Eas(eas::Error),
    /// A FolderSync key the device does not hold (FolderSync Status 9).
    UnknownFolderSyncKey,
    /// A collection id that is not one of the user's folders (Sync Status 12, Ping 7).
    UnknownFolder(String),
    /// A Sync key the device does not hold for the collection (Sync Status 3).
    UnknownSyncKey,
}

impl From<eas::Error> for Error {
    fn from(e: eas::Error) -> Self {
        Error::Eas(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Store(e) => write!(f, "store: {e}"),
            Error::Eas(e) => write!(f, "{e}"),
            Error::UnknownFolderSyncKey => f.write_str("unknown FolderSync key"),
            Error::UnknownFolder(id) => write!(f, "unknown folder {id:?}"),
            Error::UnknownSyncKey => f.write_str("unknown Sync key"),
        }
    }
}

impl std::error::Error for Error {}

/// What the engine keeps per device and collection. `key` is the sync key the device holds;
/// `cursor` is how far into the folder's change log that key reaches. The engine owns the
/// meaning of `engine` (what was last sent, so a repeated key gets the same answer; loop
/// counters; quarantined items); the store persists it as opaque bytes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CollectionState {
    pub key: u32,
    pub cursor: u64,
    pub engine: Vec<u8>,
}

/// What the engine keeps per device for the folder hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FolderSyncState {
    pub key: u32,
    /// Opaque to the store, like [`CollectionState::engine`].
    pub engine: Vec<u8>,
}

/// The storage the engine runs on: one transaction's view of the store. Every method may fail
/// with [`Error::Store`]; a failure aborts the transaction.
pub trait SyncStore {
    /// The collection's Sync Options Conflict before its commands are applied ([MS-ASCMD]
    /// 2.2.3.34: 0 = the client's object replaces the server's, 1 = server wins, the default).
    /// The store keeps it with the device changes it queues for the CRM.
    fn set_client_wins(&mut self, _client_wins: bool) {}

    /// The user's folders, creating the default set on first use.
    fn folders(&mut self, user: &str) -> Result<Vec<Folder>, Error>;

    fn item(&self, user: &str, folder: FolderId, item: ItemId)
    -> Result<Option<StoredItem>, Error>;

    /// Writes an item (a new one when `item` is `None`) and appends an Upsert to the folder's
    /// log. The log keeps only the latest entry per item, so replaying it from the start costs
    /// O(items), not O(history).
    fn put_item(
        &mut self,
        user: &str,
        folder: FolderId,
        item: Option<ItemId>,
        data: &StoredItem,
        origin: &Origin,
    ) -> Result<ItemId, Error>;

    /// Removes an item and appends a Delete; `false` when there was no such item.
    fn delete_item(
        &mut self,
        user: &str,
        folder: FolderId,
        item: ItemId,
        origin: &Origin,
    ) -> Result<bool, Error>;

    /// Log entries with `seq > after`, ascending, at most `limit`.
    fn changes_after(
        &self,
        user: &str,
        folder: FolderId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Change>, Error>;

    /// The newest sequence number of the folder's log (0 when empty).
    fn head(&self, user: &str, folder: FolderId) -> Result<u64, Error>;

    fn collection_state(
        &self,
        device: &DeviceKey,
        folder: FolderId,
    ) -> Result<Option<CollectionState>, Error>;

    fn put_collection_state(
        &mut self,
        device: &DeviceKey,
        folder: FolderId,
        state: &CollectionState,
    ) -> Result<(), Error>;

    /// Forgets every collection state of a device (its FolderSync from key 0 changed ids).
    fn drop_collection_states(&mut self, device: &DeviceKey) -> Result<(), Error>;

    fn folder_sync_state(&self, device: &DeviceKey) -> Result<Option<FolderSyncState>, Error>;

    fn put_folder_sync_state(
        &mut self,
        device: &DeviceKey,
        state: &FolderSyncState,
    ) -> Result<(), Error>;

    /// The item a device's earlier Add with this ClientId created, if any.
    fn client_id(
        &self,
        device: &DeviceKey,
        folder: FolderId,
        client_id: &str,
    ) -> Result<Option<ItemId>, Error>;

    /// Remembers a ClientId → item mapping (the store keeps a bounded number per device).
    fn put_client_id(
        &mut self,
        device: &DeviceKey,
        folder: FolderId,
        client_id: &str,
        item: ItemId,
    ) -> Result<(), Error>;
}
