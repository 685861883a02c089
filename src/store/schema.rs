//! Every table of the store, the schema version and the migrations between versions (DESIGN
//! "store"; EAS-NOTES §3 row 16: a server upgrade must not lose sync state).
//!
//! All definitions live here so that one file shows the whole on-disk layout. Keys are redb
//! tuples (ordered element by element, so a range over a prefix lists e.g. one folder's log in
//! sequence order); values are either fixed-width tuples or [`super::codec`] records.
//!
//! Schema versions:
//! - **1**: users, devices, folders, items, change log, sync states, ClientIds.
//! - **2**: the CRM connector's tables (settings and status, CRM users, the CRM-id index,
//!   pull cursors, CRM password cache, the write-back outbox).
//!
//! A later version adds a [`Step`] at the end of [`MIGRATIONS`] and raises [`SCHEMA_VERSION`];
//! `Store::open` runs every step from the file's version to the current one in one write
//! transaction, so an upgrade is applied completely or not at all.

use super::StoreError;
use redb::{Database, ReadableDatabase, ReadableTableMetadata, TableDefinition};

/// The schema this build writes and reads.
pub const SCHEMA_VERSION: u32 = 2;

/// `META`: name → number. Holds [`SCHEMA_VERSION_KEY`].
pub(crate) const META: TableDefinition<&str, u32> = TableDefinition::new("meta");
pub(crate) const SCHEMA_VERSION_KEY: &str = "schema_version";

/// user name → [`super::User`] record.
pub(crate) const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");

/// (user, device id) → [`super::Device`] record.
pub(crate) const DEVICES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("devices");

/// (user, folder id) → folder record (parent, name, EAS type). A user's rows are written on
/// first use from `sync::DEFAULT_FOLDERS` (ids 1–8, fixed) and read back from here ever after,
/// so the ids a user's devices hold do not depend on code that could change.
pub(crate) const FOLDERS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("folders");

/// (user, folder id) → (next item id, head sequence of the folder's log).
pub(crate) const FOLDER_COUNTERS: TableDefinition<(&str, u32), (u64, u64)> =
    TableDefinition::new("folder_counters");

/// (user, folder id, item id) → stored item record.
pub(crate) const ITEMS: TableDefinition<(&str, u32, u64), &[u8]> = TableDefinition::new("items");

/// (user, folder id, seq) → change record (item, kind, origin). At most one entry per item.
pub(crate) const CHANGES: TableDefinition<(&str, u32, u64), &[u8]> =
    TableDefinition::new("changes");

/// (user, folder id, item id) → seq of the item's one entry in `CHANGES`, so a newer write can
/// remove the older entry.
pub(crate) const CHANGE_INDEX: TableDefinition<(&str, u32, u64), u64> =
    TableDefinition::new("change_index");

/// (user, device id, folder id) → collection state record.
pub(crate) const COLLECTION_STATES: TableDefinition<(&str, &str, u32), &[u8]> =
    TableDefinition::new("collection_states");

/// (user, device id) → folder-sync state record.
pub(crate) const FOLDER_SYNC_STATES: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("folder_sync_states");

/// (user, device id, folder id, client id) → (item id, age stamp).
pub(crate) const CLIENT_IDS: TableDefinition<(&str, &str, u32, &str), (u64, u64)> =
    TableDefinition::new("client_ids");

/// (user, device id, age stamp) → (folder id, client id): the device's ClientIds oldest first,
/// for eviction past [`super::MAX_CLIENT_IDS_PER_DEVICE`].
pub(crate) const CLIENT_ID_AGE: TableDefinition<(&str, &str, u64), (u32, &str)> =
    TableDefinition::new("client_id_age");

/// (user, device id) → (next age stamp, number of ClientIds held).
pub(crate) const CLIENT_ID_COUNTERS: TableDefinition<(&str, &str), (u64, u32)> =
    TableDefinition::new("client_id_counters");

// ---- Version 2: the CRM connector (issue 4). Records are `super::codec` values of types
// defined next to their accessors.

/// name → record: `"settings"` (URL, integration user, encrypted access key, interval,
/// modules), `"status"` (last success, last error, detected capabilities).
pub(crate) const CRM_META: TableDefinition<&str, &[u8]> = TableDefinition::new("crm_meta");

/// box user name (lower-case) → the CRM user it is (webservice id, zone, date format, active),
/// as discovered from the Users module.
pub(crate) const CRM_USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("crm_users");

/// CRM record id (`4x20`) → where it lives on the box (user, folder, item) and the CRM's
/// modifiedtime last applied, so a pull de-duplicates and finds the item of an update.
pub(crate) const CRM_INDEX: TableDefinition<&str, &[u8]> = TableDefinition::new("crm_index");

/// module (`Contacts`, `Events`, `Calendar`) → pull cursor and method in use.
pub(crate) const CRM_CURSORS: TableDefinition<&str, &[u8]> = TableDefinition::new("crm_cursors");

/// box user name → cached CRM password check (argon2id hash, when verified) and the user's
/// encrypted access key from `login_pwd`.
pub(crate) const CRM_PASSWORDS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("crm_passwords");

/// outbox sequence → a device change waiting to be written to the CRM.
pub(crate) const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");

/// (user, folder id, item id) → the outbox sequence of the item's pending entry, so a newer
/// change of the same item folds into it and a pull can see that the item is pending.
pub(crate) const OUTBOX_BY_ITEM: TableDefinition<(&str, u32, u64), u64> =
    TableDefinition::new("outbox_by_item");

/// Folders created later (CRM calendars, for instance) take ids from here up, so they never
/// collide with a default folder added in a later version.
pub const FIRST_EXTRA_FOLDER_ID: u32 = 100;

/// One migration step: rewrites the tables of version N into version N+1.
pub(crate) type Step = fn(&redb::WriteTransaction) -> Result<(), StoreError>;

/// `MIGRATIONS[i]` migrates version `i + 1` to `i + 2`.
pub(crate) const MIGRATIONS: &[Step] = &[v1_to_v2];

/// Version 2 only adds the connector's tables; nothing of version 1 changes.
fn v1_to_v2(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(CRM_META)?;
    txn.open_table(CRM_USERS)?;
    txn.open_table(CRM_INDEX)?;
    txn.open_table(CRM_CURSORS)?;
    txn.open_table(CRM_PASSWORDS)?;
    txn.open_table(OUTBOX)?;
    txn.open_table(OUTBOX_BY_ITEM)?;
    Ok(())
}

/// Creates the tables of a new database or brings an older one to [`SCHEMA_VERSION`].
pub(crate) fn open_or_migrate(db: &Database) -> Result<(), StoreError> {
    migrate(db, MIGRATIONS, SCHEMA_VERSION)
}

/// The migration driver, with the steps and the target passed in so that tests can run a
/// future step list against a version-1 file.
pub(crate) fn migrate(db: &Database, steps: &[Step], target: u32) -> Result<(), StoreError> {
    let found = stored_version(db)?;
    let from = match found {
        Some(0) => return Err(StoreError::BadSchemaVersion(0)),
        Some(v) if v > target => {
            return Err(StoreError::SchemaTooNew {
                found: v,
                supported: target,
            });
        }
        Some(v) if v == target => return Ok(()),
        Some(v) => v,
        // Only a file that holds nothing may be taken for a fresh version-1 store: data without
        // a version could be anything.
        None if holds_data(db)? => return Err(StoreError::NoSchemaVersion),
        None => 1,
    };
    let txn = db.begin_write()?;
    if found.is_none() {
        create_v1_tables(&txn)?;
    }
    for version in from..target {
        let step = usize::try_from(version - 1)
            .ok()
            .and_then(|i| steps.get(i))
            .ok_or(StoreError::NoMigration { from: version })?;
        step(&txn)?;
    }
    txn.open_table(META)?.insert(SCHEMA_VERSION_KEY, target)?;
    txn.commit()?;
    Ok(())
}

fn stored_version(db: &Database) -> Result<Option<u32>, StoreError> {
    let txn = db.begin_read()?;
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(meta.get(SCHEMA_VERSION_KEY)?.map(|v| v.value()))
}

fn holds_data(db: &Database) -> Result<bool, StoreError> {
    let txn = db.begin_read()?;
    for handle in txn.list_tables()? {
        if txn.open_untyped_table(handle)?.len()? > 0 {
            return Ok(true);
        }
    }
    Ok(txn.list_multimap_tables()?.next().is_some())
}

/// Version 1's tables. Later versions create theirs in their own step, so that the table set
/// of version N is always "version 1 plus steps 1..N".
fn create_v1_tables(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(META)?;
    txn.open_table(USERS)?;
    txn.open_table(DEVICES)?;
    txn.open_table(FOLDERS)?;
    txn.open_table(FOLDER_COUNTERS)?;
    txn.open_table(ITEMS)?;
    txn.open_table(CHANGES)?;
    txn.open_table(CHANGE_INDEX)?;
    txn.open_table(COLLECTION_STATES)?;
    txn.open_table(FOLDER_SYNC_STATES)?;
    txn.open_table(CLIENT_IDS)?;
    txn.open_table(CLIENT_ID_AGE)?;
    txn.open_table(CLIENT_ID_COUNTERS)?;
    Ok(())
}
