//! The sync engine: [MS-ASCMD] 2.2.1.21 Sync, 2.2.1.9 GetItemEstimate, 2.2.1.10 ItemOperations
//! (Fetch of an item), 2.2.1.12 MoveItems and the change check behind 2.2.1.13 Ping.
//! MeetingResponse is not handled here (easbox holds no meeting requests in an Inbox).
//!
//! Every function takes one store transaction and the requesting device. The server maps
//! [`Error`] to EAS statuses; per-collection problems are statuses in the response.
//!
//! Sync keys are decimal numbers per device and collection. Per collection (EAS-NOTES §1.5):
//! key 0 starts over (new key 1, no data); the current key applies the client's commands and
//! sends the next window of server changes under key+1; the key before it (our answer was lost)
//! gets the very same answer again, without applying its commands a second time; any other key
//! gets Status 3. A device's own changes are never sent back to it (EAS-NOTES §3 row 8), and
//! the change log holds one entry per item, so an item is sent at most once per window.
//!
//! Loops (EAS-NOTES §3 row 2): a device that sends the previous key [`LOOP_REPEATS`] times
//! after an answer with data fails on that answer. The answer is then rebuilt with half the
//! window (the device cannot move past the key otherwise), and the smaller window stays until
//! a window is acknowledged, doubling back each time. When a window of one item keeps
//! failing, the item is quarantined for that device: it is never sent to it again and is
//! listed by [`quarantined`] for the admin page.

use super::folders::parse_key;
use super::state::{EngineState, IdSet, Last};
use super::{
    ChangeKind, CollectionState, DeviceCtx, Error, Folder, FolderId, ItemId, Origin, StoredItem,
    SyncStore,
};
use crate::eas::commands::get_item_estimate::{
    EstimateResponse, GetItemEstimateRequest, GetItemEstimateResponse, GetItemEstimateStatus,
};
use crate::eas::commands::item_operations::{
    Fetch, FetchResult, FetchTarget, ItemOperationsStatus, STORE_MAILBOX,
};
use crate::eas::commands::move_items::{
    MoveItemsRequest, MoveItemsResponse, MoveItemsStatus, MoveResponse,
};
use crate::eas::commands::sync::{
    ClientCommand, Conflict, ServerCommand, SyncCollectionRequest, SyncCollectionResponse,
    SyncData, SyncReply, SyncRequest, SyncResponse, SyncStatus, effective_window,
};
use crate::eas::items::{ApplicationData, BodyPreference, Context};
use crate::eas::{self, from_wbxml, to_wbxml};
use crate::wbxml::{self, Encoder, Limits, OwnedElement, OwnedNode, Tag, contacts};
use std::collections::BTreeSet;

pub use crate::eas::commands::sync::{DEFAULT_WINDOW, MAX_WINDOW};

/// Times the previous key may come again after an answer with data before the engine treats
/// it as a loop.
pub const LOOP_REPEATS: u32 = 3;

/// Log entries read from the store per call while filling a window.
pub const SCAN_BATCH: u32 = 256;

/// Largest WBXML answer kept for replay, and largest item written while merging a Change.
/// Bigger than any answer a window of items with 1 MiB pictures produces.
pub const MAX_STATE_RESPONSE_BYTES: usize = 64 << 20;

/// The result of a Sync.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncOutcome {
    pub response: SyncResponse,
    /// Folders this request wrote items to: the server wakes other devices' Pings on them.
    pub changed: Vec<FolderId>,
    /// Client items refused with Status 6, by ClientId or ServerId, for the log.
    pub rejected: Vec<(String, eas::Error)>,
}

/// The result of a MoveItems.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveOutcome {
    pub response: MoveItemsResponse,
    pub changed: Vec<FolderId>,
}

/// The EAS ServerId of an item.
pub fn server_id(folder: FolderId, item: ItemId) -> String {
    format!("{}:{}", folder.0, item.0)
}

/// Reads a ServerId written by [`server_id`].
pub fn parse_server_id(s: &str) -> Option<(FolderId, ItemId)> {
    let (f, i) = s.split_once(':')?;
    let digits = |x: &str| !x.is_empty() && x.len() <= 20 && x.bytes().all(|b| b.is_ascii_digit());
    if !digits(f) || !digits(i) {
        return None;
    }
    Some((FolderId(f.parse().ok()?), ItemId(i.parse().ok()?)))
}

fn find_folder<'a>(folders: &'a [Folder], id: &str) -> Option<&'a Folder> {
    let n: u32 = id
        .parse()
        .ok()
        .filter(|_| id.bytes().all(|b| b.is_ascii_digit()))?;
    folders.iter().find(|f| f.id.0 == n)
}

fn own(dev: &DeviceCtx) -> Origin {
    Origin::Device(dev.key.device_id.clone())
}

fn next_key(k: u32) -> u32 {
    k.checked_add(1).unwrap_or(1)
}

/// The items a device holds in a collection and what it has been sent; a state that does not
/// read back counts as none.
fn engine_of(state: &CollectionState) -> Option<EngineState> {
    EngineState::from_bytes(&state.engine)
}

/// Items this device has quarantined in a collection, with the reason, for the admin page.
pub fn quarantined(state: &CollectionState) -> Vec<(ItemId, String)> {
    engine_of(state).map(|e| e.quarantine).unwrap_or_default()
}

/// Whether a log entry is sent to the device: not its own change of an item it holds (after
/// a reset it holds none, so it gets its own items back), a Delete only of an item it holds,
/// never a quarantined item.
fn deliverable(
    ch: &super::Change,
    me: &Origin,
    known: &IdSet,
    quarantine: &[(ItemId, String)],
) -> bool {
    if quarantine.iter().any(|q| q.0 == ch.item) {
        return false;
    }
    match ch.kind {
        ChangeKind::Upsert => !(ch.origin == *me && known.contains(ch.item)),
        ChangeKind::Delete => known.contains(ch.item),
    }
}

/// Counts deliverable entries after `cursor`, stopping at `stop` (Ping needs only one).
fn count_pending(
    store: &impl SyncStore,
    dev: &DeviceCtx,
    folder: FolderId,
    cursor: u64,
    es: &EngineState,
    stop: u32,
) -> Result<u32, Error> {
    let me = own(dev);
    let mut n = 0u32;
    let mut at = cursor;
    loop {
        let batch = store.changes_after(&dev.key.user, folder, at, SCAN_BATCH)?;
        let Some(last) = batch.last() else {
            return Ok(n);
        };
        at = last.seq;
        for ch in &batch {
            if deliverable(ch, &me, &es.known, &es.quarantine) {
                n = n.saturating_add(1);
                if n >= stop {
                    return Ok(n);
                }
            }
        }
    }
}

/// Whether an item can be written for this device (its version and client family).
fn encodable(ad: &ApplicationData, dev: &DeviceCtx, buf: &mut Vec<u8>) -> Result<(), eas::Error> {
    buf.clear();
    let ctx = Context {
        version: dev.version,
        body: None,
        client: dev.client,
    };
    let mut w = Encoder::new(buf, MAX_STATE_RESPONSE_BYTES)?;
    ad.encode(&mut w, &ctx)?;
    w.finish()?;
    Ok(())
}

/// One window of server changes.
struct Window {
    commands: Vec<ServerCommand>,
    sent: Vec<ItemId>,
    cursor: u64,
    more: bool,
}

/// Fills a window of at most `window` server changes after `cursor`, updating `known`.
fn fill_window(
    store: &impl SyncStore,
    dev: &DeviceCtx,
    folder: FolderId,
    cursor: u64,
    es: &mut EngineState,
    window: u32,
) -> Result<Window, Error> {
    let me = own(dev);
    let mut w = Window {
        commands: Vec::new(),
        sent: Vec::new(),
        cursor,
        more: false,
    };
    let mut scratch = Vec::new();
    'scan: loop {
        let batch = store.changes_after(&dev.key.user, folder, w.cursor, SCAN_BATCH)?;
        if batch.is_empty() {
            break;
        }
        for ch in batch {
            if deliverable(&ch, &me, &es.known, &es.quarantine) {
                if w.sent.len() >= window as usize {
                    w.more = true;
                    break 'scan;
                }
                let sid = server_id(folder, ch.item);
                match ch.kind {
                    ChangeKind::Upsert => {
                        // The log and the items are written together; an Upsert without its
                        // item would be a store fault, and skipping it keeps the device going.
                        if let Some(item) = store.item(&dev.key.user, folder, ch.item)? {
                            let ad = ApplicationData {
                                item: item.item,
                                unknown: item.unknown,
                            };
                            // An item this device's version cannot carry would fail the whole
                            // response, on every retry: it is quarantined for the device
                            // instead, and the rest of the folder goes on.
                            if let Err(e) = encodable(&ad, dev, &mut scratch) {
                                log::warn!(
                                    "{}/{}: item {sid} quarantined: it cannot be sent: {e}",
                                    dev.key.user,
                                    dev.key.device_id
                                );
                                es.quarantine(ch.item, &format!("cannot be sent: {e}"));
                                w.cursor = ch.seq;
                                continue;
                            }
                            let data = SyncData::Item(Box::new(ad));
                            w.commands.push(if es.known.contains(ch.item) {
                                ServerCommand::Change {
                                    server_id: sid,
                                    data,
                                }
                            } else {
                                ServerCommand::Add {
                                    server_id: sid,
                                    data,
                                }
                            });
                            es.known.insert(ch.item);
                            w.sent.push(ch.item);
                        }
                    }
                    ChangeKind::Delete => {
                        w.commands.push(ServerCommand::Delete { server_id: sid });
                        es.known.remove(ch.item);
                        w.sent.push(ch.item);
                    }
                }
            }
            w.cursor = ch.seq;
        }
    }
    Ok(w)
}

/// Answers a Sync. The request must be complete: an empty or partial request is completed
/// from the server's cache of the device's last request before it comes here.
///
/// A request `WindowSize` (14.0+) bounds the items of all collections together, each
/// collection's own `WindowSize` bounds that collection.
pub fn sync(
    store: &mut impl SyncStore,
    dev: &DeviceCtx,
    req: &SyncRequest,
) -> Result<SyncOutcome, Error> {
    let folders = store.folders(&dev.key.user)?;
    let mut out = SyncOutcome {
        response: SyncResponse {
            client: dev.client,
            ..SyncResponse::default()
        },
        changed: Vec::new(),
        rejected: Vec::new(),
    };
    let mut budget = req.window_size.map(|w| effective_window(Some(w)));
    for c in &req.collections {
        let coll = sync_collection(store, dev, &folders, c, &mut budget, &mut out)?;
        out.response.collections.push(coll);
    }
    Ok(out)
}

fn body_preference(c: &SyncCollectionRequest) -> Option<BodyPreference> {
    c.item_options()
        .and_then(|o| o.body_preferences.first().cloned())
}

fn sync_collection(
    store: &mut impl SyncStore,
    dev: &DeviceCtx,
    folders: &[Folder],
    c: &SyncCollectionRequest,
    budget: &mut Option<u32>,
    out: &mut SyncOutcome,
) -> Result<SyncCollectionResponse, Error> {
    let status = |s| {
        Ok(SyncCollectionResponse::new(
            &c.sync_key,
            &c.collection_id,
            s,
        ))
    };
    let Some(folder) = find_folder(folders, &c.collection_id) else {
        return status(SyncStatus::FolderHierarchyChanged);
    };
    let fid = folder.id;
    if c.sync_key == "0" {
        // A new start: the old state (and what it says the device holds) goes.
        let es = EngineState {
            supported: c.supported.clone(),
            ..EngineState::default()
        };
        store.put_collection_state(
            &dev.key,
            fid,
            &CollectionState {
                key: 1,
                cursor: 0,
                engine: es.to_bytes(),
            },
        )?;
        return Ok(SyncCollectionResponse::new(
            "1",
            &c.collection_id,
            SyncStatus::Success,
        ));
    }
    let Some(key) = parse_key(&c.sync_key) else {
        return status(SyncStatus::InvalidSyncKey);
    };
    let Some(state) = store.collection_state(&dev.key, fid)? else {
        return status(SyncStatus::InvalidSyncKey);
    };
    let Some(mut es) = engine_of(&state) else {
        return status(SyncStatus::InvalidSyncKey);
    };
    let body = body_preference(c);
    if key != state.key {
        let Some(last) = es.last.take() else {
            return status(SyncStatus::InvalidSyncKey);
        };
        if last.request_key != key || next_key(key) != state.key {
            return status(SyncStatus::InvalidSyncKey);
        }
        return replay(store, dev, folder, c, state, es, last, body, budget);
    }

    // The device acknowledged our last answer: a shrunk window grows back.
    if es.last.take().is_some_and(|l| !l.sent.is_empty()) {
        es.window_cap = es
            .window_cap
            .map(|w| w.saturating_mul(2))
            .filter(|&w| w < MAX_WINDOW);
    }
    let mut responses = Vec::new();
    if !c.commands.is_empty() {
        let wrote = apply_commands(store, dev, folder, c, &state, &mut es, &mut responses, out)?;
        if wrote && !out.changed.contains(&fid) {
            out.changed.push(fid);
        }
    }
    let cursor_before = state.cursor;
    let known_before = es.known.clone();
    let mut coll = SyncCollectionResponse::new(
        next_key(key).to_string(),
        &c.collection_id,
        SyncStatus::Success,
    );
    coll.responses = responses;
    coll.body_preference = body;
    let mut cursor = state.cursor;
    let mut sent = Vec::new();
    if c.wants_changes(dev.version) {
        let w = fill(store, dev, fid, cursor, &mut es, c, budget)?;
        coll.commands = w.commands;
        coll.more_available = w.more;
        cursor = w.cursor;
        sent = w.sent;
    }
    finish(
        store,
        dev,
        fid,
        key,
        cursor,
        cursor_before,
        known_before,
        sent,
        es,
        coll,
    )
}

/// The window for a collection: its own, the loop cap, and what the request's overall window
/// leaves.
fn fill(
    store: &impl SyncStore,
    dev: &DeviceCtx,
    fid: FolderId,
    cursor: u64,
    es: &mut EngineState,
    c: &SyncCollectionRequest,
    budget: &mut Option<u32>,
) -> Result<Window, Error> {
    let mut window = c.effective_window();
    if let Some(cap) = es.window_cap {
        window = window.min(cap);
    }
    if let Some(b) = *budget {
        window = window.min(b);
    }
    let w = fill_window(store, dev, fid, cursor, es, window)?;
    if let Some(b) = budget.as_mut() {
        *b = b.saturating_sub(u32::try_from(w.sent.len()).unwrap_or(u32::MAX));
    }
    Ok(w)
}

/// Stores the new state with the answer for replay, and returns the answer.
#[allow(clippy::too_many_arguments)]
fn finish(
    store: &mut impl SyncStore,
    dev: &DeviceCtx,
    fid: FolderId,
    request_key: u32,
    cursor: u64,
    cursor_before: u64,
    known_before: IdSet,
    sent: Vec<ItemId>,
    mut es: EngineState,
    coll: SyncCollectionResponse,
) -> Result<SyncCollectionResponse, Error> {
    let mut whole = SyncResponse {
        collections: vec![coll],
        client: dev.client,
        ..SyncResponse::default()
    };
    let response = to_wbxml(&whole, dev.version, MAX_STATE_RESPONSE_BYTES)?;
    es.last = Some(Last {
        request_key,
        cursor_before,
        known_before,
        sent,
        replays: 0,
        response,
    });
    store.put_collection_state(
        &dev.key,
        fid,
        &CollectionState {
            key: next_key(request_key),
            cursor,
            engine: es.to_bytes(),
        },
    )?;
    whole
        .collections
        .pop()
        .ok_or_else(|| Error::Store("lost the collection answer".into()))
}

/// The previous key again: the same answer, or after [`LOOP_REPEATS`] a smaller one.
#[allow(clippy::too_many_arguments)]
fn replay(
    store: &mut impl SyncStore,
    dev: &DeviceCtx,
    folder: &Folder,
    c: &SyncCollectionRequest,
    state: CollectionState,
    mut es: EngineState,
    mut last: Last,
    body: Option<BodyPreference>,
    budget: &mut Option<u32>,
) -> Result<SyncCollectionResponse, Error> {
    let stored: Option<SyncCollectionResponse> =
        from_wbxml::<SyncResponse>(&last.response, dev.version, Limits::DEFAULT)
            .ok()
            .and_then(|mut r| r.collections.pop());
    let Some(mut coll) = stored else {
        return Ok(SyncCollectionResponse::new(
            &c.sync_key,
            &c.collection_id,
            SyncStatus::InvalidSyncKey,
        ));
    };
    coll.body_preference = body;
    last.replays = last.replays.saturating_add(1);
    if last.replays < LOOP_REPEATS || last.sent.is_empty() {
        if let Some(b) = budget.as_mut() {
            *b = b.saturating_sub(u32::try_from(last.sent.len()).unwrap_or(u32::MAX));
        }
        es.last = Some(last);
        store.put_collection_state(
            &dev.key,
            folder.id,
            &CollectionState {
                engine: es.to_bytes(),
                ..state
            },
        )?;
        return Ok(coll);
    }
    // A loop: rebuild the answer from where it started, with less in it.
    match last.sent.as_slice() {
        [one] => es.quarantine(
            *one,
            &format!(
                "Sync key {} repeated {} times on a window of this item alone",
                last.request_key, last.replays
            ),
        ),
        sent => {
            let half = u32::try_from(sent.len() / 2).unwrap_or(MAX_WINDOW).max(1);
            es.window_cap = Some(half);
        }
    }
    es.known = last.known_before.clone();
    let w = fill(
        store,
        dev,
        folder.id,
        last.cursor_before,
        &mut es,
        c,
        budget,
    )?;
    coll.commands = w.commands;
    coll.more_available = w.more;
    finish(
        store,
        dev,
        folder.id,
        last.request_key,
        w.cursor,
        last.cursor_before,
        last.known_before,
        w.sent,
        es,
        coll,
    )
}

/// Items with a server change the device has not been sent yet (conflict candidates).
fn undelivered(
    store: &impl SyncStore,
    dev: &DeviceCtx,
    folder: FolderId,
    cursor: u64,
) -> Result<BTreeSet<ItemId>, Error> {
    let me = own(dev);
    let mut set = BTreeSet::new();
    let mut at = cursor;
    loop {
        let batch = store.changes_after(&dev.key.user, folder, at, SCAN_BATCH)?;
        let Some(last) = batch.last() else {
            return Ok(set);
        };
        at = last.seq;
        set.extend(batch.iter().filter(|c| c.origin != me).map(|c| c.item));
    }
}

/// Applies the client's commands; returns whether an item was written.
#[allow(clippy::too_many_arguments)]
fn apply_commands(
    store: &mut impl SyncStore,
    dev: &DeviceCtx,
    folder: &Folder,
    c: &SyncCollectionRequest,
    state: &CollectionState,
    es: &mut EngineState,
    responses: &mut Vec<SyncReply>,
    out: &mut SyncOutcome,
) -> Result<bool, Error> {
    let user = dev.key.user.as_str();
    let fid = folder.id;
    let me = own(dev);
    let ctx = Context {
        version: dev.version,
        body: None,
        client: dev.client,
    };
    let needs_conflicts = c.commands.iter().any(|k| {
        matches!(
            k,
            ClientCommand::Change { .. } | ClientCommand::Delete { .. }
        )
    });
    let pending = if needs_conflicts {
        undelivered(store, dev, fid, state.cursor)?
    } else {
        BTreeSet::new()
    };
    let server_wins = c.conflict() == Conflict::ServerWins;
    store.set_client_wins(!server_wins);
    let mut wrote = false;
    // An item of this folder by ServerId, or None.
    let target = |sid: &str| {
        parse_server_id(sid)
            .filter(|(f, _)| *f == fid)
            .map(|(_, i)| i)
    };
    for cmd in &c.commands {
        match cmd {
            ClientCommand::Add {
                client_id, data, ..
            } => {
                if let Some(id) = store.client_id(&dev.key, fid, client_id)? {
                    // A re-sent Add (our answer was lost): the item it made, never a second.
                    es.known.insert(id);
                    responses.push(SyncReply::Add {
                        client_id: client_id.clone(),
                        server_id: Some(server_id(fid, id)),
                        status: SyncStatus::Success,
                    });
                    continue;
                }
                let decoded = match folder.class() {
                    Some(class) => ApplicationData::decode(&data.as_element(), class, &ctx),
                    None => Err(no_items(data)),
                };
                match decoded {
                    Ok(ad) => {
                        let stored = StoredItem {
                            item: ad.item,
                            unknown: ad.unknown,
                            crm: None,
                        };
                        let id = store.put_item(user, fid, None, &stored, &me)?;
                        store.put_client_id(&dev.key, fid, client_id, id)?;
                        es.known.insert(id);
                        wrote = true;
                        responses.push(SyncReply::Add {
                            client_id: client_id.clone(),
                            server_id: Some(server_id(fid, id)),
                            status: SyncStatus::Success,
                        });
                    }
                    Err(e) => {
                        out.rejected.push((client_id.clone(), e));
                        responses.push(SyncReply::Add {
                            client_id: client_id.clone(),
                            server_id: None,
                            status: SyncStatus::ConversionError,
                        });
                    }
                }
            }
            ClientCommand::Change {
                server_id: sid,
                instance_id,
                data,
            } => {
                let reply = |status| SyncReply::Change {
                    server_id: sid.clone(),
                    instance_id: instance_id.clone(),
                    status,
                };
                let found = match target(sid) {
                    Some(id) => store.item(user, fid, id)?.map(|s| (id, s)),
                    None => None,
                };
                let (Some((id, old)), Some(class)) = (found, folder.class()) else {
                    responses.push(reply(SyncStatus::ObjectNotFound));
                    continue;
                };
                if instance_id.is_some() {
                    // The model has no per-occurrence edit yet; changing the series instead
                    // would be wrong, so the change is refused.
                    out.rejected.push((
                        sid.clone(),
                        eas::Error::Unencodable("a change of one occurrence (InstanceId)"),
                    ));
                    responses.push(reply(SyncStatus::ConversionError));
                    continue;
                }
                if server_wins && pending.contains(&id) {
                    // The server's version goes out in this answer's Commands.
                    responses.push(reply(SyncStatus::Conflict));
                    continue;
                }
                let merged = ghost_merge(&old, data, es.supported.as_deref(), &ctx)
                    .and_then(|m| ApplicationData::decode(&m.as_element(), class, &ctx));
                match merged {
                    Ok(ad) => {
                        let stored = StoredItem {
                            item: ad.item,
                            unknown: ad.unknown,
                            crm: old.crm,
                        };
                        store.put_item(user, fid, Some(id), &stored, &me)?;
                        es.known.insert(id);
                        wrote = true;
                    }
                    Err(e) => {
                        out.rejected.push((sid.clone(), e));
                        responses.push(reply(SyncStatus::ConversionError));
                    }
                }
            }
            ClientCommand::Delete {
                server_id: sid,
                instance_id,
            } => {
                let reply = |status| SyncReply::Delete {
                    server_id: sid.clone(),
                    instance_id: instance_id.clone(),
                    status,
                };
                let Some(id) = target(sid) else {
                    responses.push(reply(SyncStatus::ObjectNotFound));
                    continue;
                };
                if instance_id.is_some() {
                    out.rejected.push((
                        sid.clone(),
                        eas::Error::Unencodable("a delete of one occurrence (InstanceId)"),
                    ));
                    responses.push(reply(SyncStatus::ConversionError));
                    continue;
                }
                if server_wins && pending.contains(&id) && store.item(user, fid, id)?.is_some() {
                    // The device dropped the item; it gets the server's version as an Add.
                    es.known.remove(id);
                    responses.push(reply(SyncStatus::Conflict));
                    continue;
                }
                // Deleting what is already gone is what the device wanted: no error.
                if store.delete_item(user, fid, id, &me)? {
                    wrote = true;
                }
                es.known.remove(id);
            }
            ClientCommand::Fetch { server_id: sid } => {
                let found = match target(sid) {
                    Some(id) => store.item(user, fid, id)?,
                    None => None,
                };
                responses.push(match found {
                    Some(s) => SyncReply::Fetch {
                        server_id: sid.clone(),
                        status: SyncStatus::Success,
                        data: Some(SyncData::Item(Box::new(ApplicationData {
                            item: s.item,
                            unknown: s.unknown,
                        }))),
                    },
                    None => SyncReply::Fetch {
                        server_id: sid.clone(),
                        status: SyncStatus::ObjectNotFound,
                        data: None,
                    },
                });
            }
        }
    }
    Ok(wrote)
}

fn no_items(data: &OwnedElement) -> eas::Error {
    eas::Error::BadValue {
        tag: data.tag,
        why: "easbox holds no mail or notes",
    }
}

/// Ghosting for a Change ([MS-ASCMD] 2.2.3.179 Supported, EAS-NOTES §1.5), done on the EAS
/// elements so that it works alike for every class: a top-level property of the stored item
/// that the client left out is kept, unless the client's initial `Supported` list names it (then
/// leaving it out deletes it). An empty `Picture` keeps the stored picture: iOS sends one on
/// every edit (EAS-NOTES §3 row 11). The stored item is written with the device's version and
/// family, and without a body preference so that its body is whole.
fn ghost_merge(
    old: &StoredItem,
    client: &OwnedElement,
    supported: Option<&[Tag]>,
    ctx: &Context<'_>,
) -> Result<OwnedElement, eas::Error> {
    let ad = ApplicationData {
        item: old.item.clone(),
        unknown: old.unknown.clone(),
    };
    let mut buf = Vec::new();
    let mut w = Encoder::new(&mut buf, MAX_STATE_RESPONSE_BYTES)?;
    ad.encode(&mut w, ctx)?;
    w.finish()?;
    let stored = wbxml::parse(&buf, Limits::DEFAULT)?;
    let mut merged = client.clone();
    let is_empty = |e: &OwnedElement| e.children.is_empty() || e.text() == Some("");
    for prop in stored.elements() {
        let named = supported.is_some_and(|s| s.contains(&prop.tag));
        match merged.children.iter_mut().find_map(|n| match n {
            OwnedNode::Element(e) if e.tag == prop.tag => Some(e),
            _ => None,
        }) {
            None if !named => merged
                .children
                .push(OwnedNode::Element(prop.to_owned_element())),
            Some(e) if prop.tag == contacts::PICTURE && is_empty(e) => {
                *e = prop.to_owned_element();
            }
            _ => {}
        }
    }
    Ok(merged)
}

/// Answers a GetItemEstimate: per collection, the number of items the next Sync with that key
/// sends in all its windows together (the same rules as Sync: no own changes, no Deletes of
/// items the device lacks, no quarantined items).
pub fn get_item_estimate(
    store: &mut impl SyncStore,
    dev: &DeviceCtx,
    req: &GetItemEstimateRequest,
) -> Result<GetItemEstimateResponse, Error> {
    let folders = store.folders(&dev.key.user)?;
    let mut resp = GetItemEstimateResponse::default();
    for c in &req.collections {
        let answer = |status, estimate| EstimateResponse {
            status,
            collection_id: Some(c.collection_id.clone()),
            estimate,
        };
        let Some(folder) = find_folder(&folders, &c.collection_id) else {
            resp.responses
                .push(answer(GetItemEstimateStatus::InvalidCollection, None));
            continue;
        };
        let state = store.collection_state(&dev.key, folder.id)?;
        let (Some(state), false) = (state, c.sync_key == "0") else {
            resp.responses
                .push(answer(GetItemEstimateStatus::SyncStateNotPrimed, None));
            continue;
        };
        let es = engine_of(&state);
        let (Some(es), Some(true)) = (es, parse_key(&c.sync_key).map(|k| k == state.key)) else {
            resp.responses
                .push(answer(GetItemEstimateStatus::InvalidSyncKey, None));
            continue;
        };
        let n = count_pending(store, dev, folder.id, state.cursor, &es, u32::MAX)?;
        resp.responses
            .push(answer(GetItemEstimateStatus::Success, Some(n)));
    }
    Ok(resp)
}

/// The folders among `folders` with changes this device has not been sent (Ping). Folders
/// the device never synced have none. An id that is not a folder of the user is
/// [`Error::UnknownFolder`] (Ping Status 7).
pub fn changed_folders(
    store: &mut impl SyncStore,
    dev: &DeviceCtx,
    folders: &[FolderId],
) -> Result<Vec<FolderId>, Error> {
    let all = store.folders(&dev.key.user)?;
    let mut out = Vec::new();
    for &f in folders {
        if !all.iter().any(|x| x.id == f) {
            return Err(Error::UnknownFolder(f.0.to_string()));
        }
        let Some(state) = store.collection_state(&dev.key, f)? else {
            continue;
        };
        let Some(es) = engine_of(&state) else {
            continue;
        };
        if count_pending(store, dev, f, state.cursor, &es, 1)? > 0 && !out.contains(&f) {
            out.push(f);
        }
    }
    Ok(out)
}

/// An ItemOperations Fetch of one item by ServerId (and CollectionId when given). Search
/// results (LongId), attachments and document libraries are not held by easbox.
pub fn item_operations_fetch(
    store: &mut impl SyncStore,
    dev: &DeviceCtx,
    fetch: &Fetch,
) -> Result<FetchResult, Error> {
    if fetch.store != STORE_MAILBOX {
        return Ok(FetchResult::new(ItemOperationsStatus::UnknownStore));
    }
    let (collection_id, sid) = match &fetch.target {
        FetchTarget::Item {
            collection_id,
            server_id,
        } => (collection_id, server_id),
        FetchTarget::LongId(id) => {
            let mut r = FetchResult::new(ItemOperationsStatus::NotFound);
            r.long_id = Some(id.clone());
            return Ok(r);
        }
        FetchTarget::FileReference(f) => {
            let mut r = FetchResult::new(ItemOperationsStatus::InvalidAttachment);
            r.file_reference = Some(f.clone());
            return Ok(r);
        }
        FetchTarget::LinkId(_) => return Ok(FetchResult::new(ItemOperationsStatus::UnknownStore)),
    };
    let mut r = FetchResult::new(ItemOperationsStatus::NotFound);
    r.collection_id = collection_id.clone();
    r.server_id = Some(sid.clone());
    let Some((fid, id)) = parse_server_id(sid) else {
        return Ok(r);
    };
    if collection_id
        .as_ref()
        .is_some_and(|c| *c != fid.0.to_string())
    {
        return Ok(r);
    }
    let folders = store.folders(&dev.key.user)?;
    let Some(class) = folders.iter().find(|f| f.id == fid).and_then(Folder::class) else {
        return Ok(r);
    };
    let Some(item) = store.item(&dev.key.user, fid, id)? else {
        return Ok(r);
    };
    r.status = ItemOperationsStatus::Success;
    r.class = Some(class.as_str().to_owned());
    r.properties = Some(SyncData::Item(Box::new(ApplicationData {
        item: item.item,
        unknown: item.unknown,
    })));
    r.body_preference = fetch.options.body_preferences.first().cloned();
    Ok(r)
}

/// Answers a MoveItems. easbox has one folder per class, so a move is either within its
/// folder (success, same ServerId: the device's view already matches), or to a folder of
/// another class (Status 5, an item cannot change class). A move between two folders of the
/// same class (not made by easbox today) re-creates the item in the destination.
pub fn move_items(
    store: &mut impl SyncStore,
    dev: &DeviceCtx,
    req: &MoveItemsRequest,
) -> Result<MoveOutcome, Error> {
    let folders = store.folders(&dev.key.user)?;
    let user = dev.key.user.clone();
    let me = own(dev);
    let mut out = MoveOutcome {
        response: MoveItemsResponse::default(),
        changed: Vec::new(),
    };
    for m in &req.moves {
        let answer = |status, dst: Option<String>| MoveResponse {
            src_msg_id: m.src_msg_id.clone(),
            status,
            dst_msg_id: dst,
        };
        let src = find_folder(&folders, &m.src_fld_id);
        let item = parse_server_id(&m.src_msg_id).filter(|(f, _)| src.is_some_and(|s| s.id == *f));
        let found = match (src, item) {
            (Some(s), Some((_, id))) => store.item(&user, s.id, id)?.map(|i| (s, id, i)),
            _ => None,
        };
        let Some((src, id, data)) = found else {
            out.response
                .responses
                .push(answer(MoveItemsStatus::InvalidSource, None));
            continue;
        };
        let Some(dst) = find_folder(&folders, &m.dst_fld_id) else {
            out.response
                .responses
                .push(answer(MoveItemsStatus::InvalidDestination, None));
            continue;
        };
        if dst.id == src.id {
            out.response
                .responses
                .push(answer(MoveItemsStatus::Success, Some(m.src_msg_id.clone())));
            continue;
        }
        if dst.class().is_none() || dst.class() != src.class() {
            out.response
                .responses
                .push(answer(MoveItemsStatus::CannotMove, None));
            continue;
        }
        let new = store.put_item(&user, dst.id, None, &data, &me)?;
        store.delete_item(&user, src.id, id, &me)?;
        // The device moved the item itself: it holds it in the destination, not the source.
        for (f, add) in [(dst.id, true), (src.id, false)] {
            if let Some(mut st) = store.collection_state(&dev.key, f)?
                && let Some(mut es) = engine_of(&st)
            {
                if add {
                    es.known.insert(new);
                } else {
                    es.known.remove(id);
                }
                st.engine = es.to_bytes();
                store.put_collection_state(&dev.key, f, &st)?;
            }
        }
        for f in [src.id, dst.id] {
            if !out.changed.contains(&f) {
                out.changed.push(f);
            }
        }
        out.response.responses.push(answer(
            MoveItemsStatus::Success,
            Some(server_id(dst.id, new)),
        ));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
