//! How records are written into table values: a one-byte format tag, then postcard.
//!
//! postcard is compact and the same on every platform (varint integers, no usize on the wire),
//! but it encodes fields by position: a field cannot simply be added with a serde default.
//! The tag is what makes records extensible without a schema migration: to add a field, raise
//! the record's format constant and teach [`decode`]'s caller to read the old format (decode
//! the old struct and convert). A tag this build does not know is refused as corrupt, never
//! misread.
//!
//! The sync contract's types (`sync::*`) carry no serde derives; their stored forms are here.

use super::StoreError;
use crate::model;
use crate::sync::{self, ChangeKind, FolderId, FolderKind, ItemId, Origin};
use crate::wbxml::OwnedElement;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub(crate) const USER_FORMAT: u8 = 1;
pub(crate) const DEVICE_FORMAT: u8 = 1;
pub(crate) const FOLDER_FORMAT: u8 = 1;
pub(crate) const ITEM_FORMAT: u8 = 1;
pub(crate) const CHANGE_FORMAT: u8 = 1;
pub(crate) const COLLECTION_STATE_FORMAT: u8 = 1;
pub(crate) const FOLDER_SYNC_STATE_FORMAT: u8 = 1;

pub(crate) fn encode<T: Serialize>(format: u8, value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_extend(value, vec![format]).map_err(|e| StoreError::Encode(format!("{e}")))
}

pub(crate) fn decode<T: DeserializeOwned>(
    format: u8,
    what: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&tag, rest)) if tag == format => {
            postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
        }
        Some((&tag, _)) => Err(StoreError::Corrupt(format!(
            "{what}: unknown record format {tag}"
        ))),
        None => Err(StoreError::Corrupt(format!("{what}: empty record"))),
    }
}

/// A folder; its id is the key.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
pub(crate) struct FolderRec {
    pub parent: Option<u32>,
    pub name: String,
    /// The EAS folder type ([MS-ASCMD] 2.2.3.186.3), so the stored code means the same thing
    /// as what goes on the wire.
    pub kind: u8,
}

pub(crate) const fn kind_code(kind: FolderKind) -> u8 {
    match kind {
        FolderKind::Inbox => 2,
        FolderKind::Drafts => 3,
        FolderKind::DeletedItems => 4,
        FolderKind::SentItems => 5,
        FolderKind::Outbox => 6,
        FolderKind::Tasks => 7,
        FolderKind::Calendar => 8,
        FolderKind::Contacts => 9,
    }
}

pub(crate) const fn kind_from_code(code: u8) -> Option<FolderKind> {
    Some(match code {
        2 => FolderKind::Inbox,
        3 => FolderKind::Drafts,
        4 => FolderKind::DeletedItems,
        5 => FolderKind::SentItems,
        6 => FolderKind::Outbox,
        7 => FolderKind::Tasks,
        8 => FolderKind::Calendar,
        9 => FolderKind::Contacts,
        _ => return None,
    })
}

impl FolderRec {
    pub fn from_folder(f: &sync::Folder) -> Self {
        FolderRec {
            parent: f.parent.map(|p| p.0),
            name: f.name.clone(),
            kind: kind_code(f.kind),
        }
    }

    pub fn into_folder(self, id: u32) -> Result<sync::Folder, StoreError> {
        let kind = kind_from_code(self.kind).ok_or_else(|| {
            StoreError::Corrupt(format!("folder {id}: unknown type {}", self.kind))
        })?;
        Ok(sync::Folder {
            id: FolderId(id),
            parent: self.parent.map(FolderId),
            name: self.name,
            kind,
        })
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
pub(crate) struct CrmRec {
    pub id: String,
    pub modified: String,
}

/// An item as written: borrows the caller's item so a write copies nothing.
#[derive(Serialize)]
pub(crate) struct ItemOut<'a> {
    pub item: &'a model::Item,
    pub unknown: &'a [OwnedElement],
    pub crm: Option<(&'a str, &'a str)>,
}

/// An item as read; the same layout as [`ItemOut`].
#[derive(Deserialize)]
pub(crate) struct ItemIn {
    pub item: model::Item,
    pub unknown: Vec<OwnedElement>,
    pub crm: Option<CrmRec>,
}

impl<'a> ItemOut<'a> {
    pub fn new(s: &'a sync::StoredItem) -> Self {
        ItemOut {
            item: &s.item,
            unknown: &s.unknown,
            crm: s.crm.as_ref().map(|c| (c.id.as_str(), c.modified.as_str())),
        }
    }
}

impl From<ItemIn> for sync::StoredItem {
    fn from(i: ItemIn) -> Self {
        sync::StoredItem {
            item: i.item,
            unknown: i.unknown,
            crm: i.crm.map(|c| sync::CrmRef {
                id: c.id,
                modified: c.modified,
            }),
        }
    }
}

/// Variant order is stored: append only.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
pub(crate) enum OriginRec {
    Crm,
    Device(String),
    Local,
}

/// Variant order is stored: append only.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum ChangeKindRec {
    Upsert,
    Delete,
}

/// A change-log entry; its seq is the key.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
pub(crate) struct ChangeRec {
    pub item: u64,
    pub kind: ChangeKindRec,
    pub origin: OriginRec,
}

impl ChangeRec {
    pub fn new(item: ItemId, kind: ChangeKind, origin: &Origin) -> Self {
        ChangeRec {
            item: item.0,
            kind: match kind {
                ChangeKind::Upsert => ChangeKindRec::Upsert,
                ChangeKind::Delete => ChangeKindRec::Delete,
            },
            origin: match origin {
                Origin::Crm => OriginRec::Crm,
                Origin::Device(d) => OriginRec::Device(d.clone()),
                Origin::Local => OriginRec::Local,
            },
        }
    }

    pub fn into_change(self, seq: u64) -> sync::Change {
        sync::Change {
            seq,
            item: ItemId(self.item),
            kind: match self.kind {
                ChangeKindRec::Upsert => ChangeKind::Upsert,
                ChangeKindRec::Delete => ChangeKind::Delete,
            },
            origin: match self.origin {
                OriginRec::Crm => Origin::Crm,
                OriginRec::Device(d) => Origin::Device(d),
                OriginRec::Local => Origin::Local,
            },
        }
    }
}

#[derive(Serialize)]
pub(crate) struct CollectionStateOut<'a> {
    pub key: u32,
    pub cursor: u64,
    pub engine: &'a [u8],
}

#[derive(Deserialize)]
pub(crate) struct CollectionStateIn {
    pub key: u32,
    pub cursor: u64,
    pub engine: Vec<u8>,
}

impl<'a> From<&'a sync::CollectionState> for CollectionStateOut<'a> {
    fn from(s: &'a sync::CollectionState) -> Self {
        CollectionStateOut {
            key: s.key,
            cursor: s.cursor,
            engine: &s.engine,
        }
    }
}

impl From<CollectionStateIn> for sync::CollectionState {
    fn from(s: CollectionStateIn) -> Self {
        sync::CollectionState {
            key: s.key,
            cursor: s.cursor,
            engine: s.engine,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct FolderSyncStateOut<'a> {
    pub key: u32,
    pub engine: &'a [u8],
}

#[derive(Deserialize)]
pub(crate) struct FolderSyncStateIn {
    pub key: u32,
    pub engine: Vec<u8>,
}

impl<'a> From<&'a sync::FolderSyncState> for FolderSyncStateOut<'a> {
    fn from(s: &'a sync::FolderSyncState) -> Self {
        FolderSyncStateOut {
            key: s.key,
            engine: &s.engine,
        }
    }
}

impl From<FolderSyncStateIn> for sync::FolderSyncState {
    fn from(s: FolderSyncStateIn) -> Self {
        sync::FolderSyncState {
            key: s.key,
            engine: s.engine,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_format_and_garbage_are_corrupt_not_misread() {
        let bytes = encode(
            CHANGE_FORMAT,
            &ChangeRec::new(ItemId(7), ChangeKind::Delete, &Origin::Crm),
        )
        .unwrap();
        let back: ChangeRec = decode(CHANGE_FORMAT, "change", &bytes).unwrap();
        assert_eq!(back.into_change(3).item, ItemId(7));
        let mut other = bytes.clone();
        other[0] = 99;
        assert!(matches!(
            decode::<ChangeRec>(CHANGE_FORMAT, "change", &other),
            Err(StoreError::Corrupt(_))
        ));
        assert!(decode::<ChangeRec>(CHANGE_FORMAT, "change", &[]).is_err());
        assert!(decode::<ChangeRec>(CHANGE_FORMAT, "change", &[CHANGE_FORMAT, 0xFF]).is_err());
    }

    #[test]
    fn folder_kinds_round_trip_through_their_eas_type() {
        for (_, kind, _) in crate::sync::DEFAULT_FOLDERS {
            assert_eq!(kind_from_code(kind_code(kind)), Some(kind));
        }
        assert_eq!(kind_from_code(1), None);
        assert_eq!(kind_from_code(10), None);
    }
}
