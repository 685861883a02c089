//! The default folder set and [MS-ASCMD] 2.2.1.5 FolderSync.
//!
//! easbox's folders are fixed per user: the mail folders Android needs (EAS-NOTES §1.3:
//! without Drafts and Outbox Android 5 resets the account) and one folder per item class.
//! Ids never change, so a FolderSync from key 0 keeps every collection state (EAS-NOTES §3
//! row 13: Gmail sends key 0 on refresh).

use super::state::FolderEngineState;
use super::{DeviceCtx, Error, Folder, FolderId, FolderKind, FolderSyncState, SyncStore};
use crate::eas::commands::folder_sync::{
    self as fs, FolderChanges, FolderSyncRequest, FolderSyncResponse, FolderSyncStatus, FolderType,
    INITIAL_SYNC_KEY,
};
use crate::eas::{from_wbxml, to_wbxml};
use crate::wbxml::Limits;

/// The folders every user has, with their fixed ids: `(id, kind, display name)`. The redb
/// store and [`super::mem::MemStore`] both create exactly these on first use.
pub const DEFAULT_FOLDERS: [(u32, FolderKind, &str); 8] = [
    (1, FolderKind::Inbox, "Inbox"),
    (2, FolderKind::Drafts, "Drafts"),
    (3, FolderKind::DeletedItems, "Deleted Items"),
    (4, FolderKind::SentItems, "Sent Items"),
    (5, FolderKind::Outbox, "Outbox"),
    (6, FolderKind::Tasks, "Tasks"),
    (7, FolderKind::Calendar, "Calendar"),
    (8, FolderKind::Contacts, "Contacts"),
];

/// The default folders as [`Folder`]s, all at the top of the hierarchy.
pub fn default_folders() -> Vec<Folder> {
    DEFAULT_FOLDERS
        .iter()
        .map(|&(id, kind, name)| Folder {
            id: FolderId(id),
            parent: None,
            name: name.to_owned(),
            kind,
        })
        .collect()
}

/// The EAS folder type of a folder kind ([MS-ASCMD] 2.2.3.186.3).
pub const fn folder_type(kind: FolderKind) -> FolderType {
    match kind {
        FolderKind::Inbox => FolderType::DefaultInbox,
        FolderKind::Drafts => FolderType::DefaultDrafts,
        FolderKind::DeletedItems => FolderType::DefaultDeletedItems,
        FolderKind::SentItems => FolderType::DefaultSentItems,
        FolderKind::Outbox => FolderType::DefaultOutbox,
        FolderKind::Tasks => FolderType::DefaultTasks,
        FolderKind::Calendar => FolderType::DefaultCalendar,
        FolderKind::Contacts => FolderType::DefaultContacts,
    }
}

/// A folder in FolderSync form.
pub fn to_eas(f: &Folder) -> fs::Folder {
    fs::Folder {
        server_id: f.id.0.to_string(),
        parent_id: f.parent.map_or_else(|| "0".to_owned(), |p| p.0.to_string()),
        display_name: f.name.clone(),
        folder_type: folder_type(f.kind),
    }
}

/// Responses kept in the FolderSync state are written without a size cap: a hierarchy is
/// small, and the store bounds what it persists.
const STATE_CAP: usize = 1 << 20;

fn encode(resp: &FolderSyncResponse, dev: &DeviceCtx) -> Result<Vec<u8>, Error> {
    Ok(to_wbxml(resp, dev.version, STATE_CAP)?)
}

fn decode(bytes: &[u8], dev: &DeviceCtx) -> Option<FolderSyncResponse> {
    from_wbxml(bytes, dev.version, Limits::DEFAULT).ok()
}

fn success(key: u32, changes: FolderChanges) -> FolderSyncResponse {
    FolderSyncResponse {
        status: FolderSyncStatus::Success,
        sync_key: Some(key.to_string()),
        changes: Some(changes),
    }
}

/// Parses a sync key: decimal digits only, as easbox writes them.
pub(crate) fn parse_key(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Answers a FolderSync.
///
/// - Key 0: every folder, under a key never issued to this device before. Collection states
///   are kept (ids are stable).
/// - The current key: the changes since the hierarchy the device holds; with none, the same
///   key again and an empty Changes.
/// - The key before the current one (the device lost our answer): the same answer again.
/// - Anything else: [`Error::UnknownFolderSyncKey`] (Status 9).
pub fn folder_sync(
    store: &mut impl SyncStore,
    dev: &DeviceCtx,
    req: &FolderSyncRequest,
) -> Result<FolderSyncResponse, Error> {
    let current: Vec<fs::Folder> = store.folders(&dev.key.user)?.iter().map(to_eas).collect();
    let state = store.folder_sync_state(&dev.key)?;
    if req.sync_key == INITIAL_SYNC_KEY {
        let key = next_key(state.as_ref().map_or(0, |s| s.key));
        let changes = FolderChanges {
            adds: current,
            ..FolderChanges::default()
        };
        let resp = success(key, changes);
        let engine = FolderEngineState {
            snapshot: encode(&resp, dev)?,
            last: None,
        };
        store.put_folder_sync_state(
            &dev.key,
            &FolderSyncState {
                key,
                engine: engine.to_bytes(),
            },
        )?;
        return Ok(resp);
    }
    let key = parse_key(&req.sync_key).ok_or(Error::UnknownFolderSyncKey)?;
    let state = state.ok_or(Error::UnknownFolderSyncKey)?;
    let engine = FolderEngineState::from_bytes(&state.engine).ok_or(Error::UnknownFolderSyncKey)?;
    if key == state.key {
        let held = decode(&engine.snapshot, dev)
            .and_then(|r| r.changes)
            .map(|c| c.adds)
            .ok_or(Error::UnknownFolderSyncKey)?;
        let changes = diff(&held, &current);
        if changes.count() == 0 {
            return Ok(success(key, changes));
        }
        let new_key = next_key(key);
        let resp = success(new_key, changes);
        let snapshot = success(
            new_key,
            FolderChanges {
                adds: current,
                ..FolderChanges::default()
            },
        );
        let engine = FolderEngineState {
            snapshot: encode(&snapshot, dev)?,
            last: Some((key, encode(&resp, dev)?)),
        };
        store.put_folder_sync_state(
            &dev.key,
            &FolderSyncState {
                key: new_key,
                engine: engine.to_bytes(),
            },
        )?;
        return Ok(resp);
    }
    match &engine.last {
        Some((k, bytes)) if *k == key => decode(bytes, dev).ok_or(Error::UnknownFolderSyncKey),
        _ => Err(Error::UnknownFolderSyncKey),
    }
}

fn next_key(k: u32) -> u32 {
    k.checked_add(1).unwrap_or(1)
}

/// What changed from the hierarchy `held` to `now`.
fn diff(held: &[fs::Folder], now: &[fs::Folder]) -> FolderChanges {
    let mut c = FolderChanges::default();
    for f in now {
        match held.iter().find(|h| h.server_id == f.server_id) {
            None => c.adds.push(f.clone()),
            Some(h) if h != f => c.updates.push(f.clone()),
            Some(_) => {}
        }
    }
    for h in held {
        if !now.iter().any(|f| f.server_id == h.server_id) {
            c.deletes.push(h.server_id.clone());
        }
    }
    c
}
