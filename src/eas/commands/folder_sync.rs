//! [MS-ASCMD] 2.2.1.5 FolderSync: the folder hierarchy and its changes since a SyncKey.
//!
//! Element order of the response follows `FolderSyncResponse.xsd`: Status, SyncKey, Changes
//! (Count, then every Update, every Delete, every Add). Status codes: 2.2.3.177.5; folder
//! types: 2.2.3.186.3.

use crate::eas::status::status_enum;
use crate::eas::{Codec, Error, ProtocolVersion, de};
use crate::wbxml::{Element, Encoder, Tag, folder_hierarchy as fh};

/// Most Add, Update and Delete entries together in one response we decode. A hierarchy of
/// thousands of folders is already beyond what phones handle.
pub const MAX_CHANGES: u32 = 5_000;

/// Longest SyncKey, ServerId or ParentId (`FolderHierarchy.xsd`: maxLength 64).
pub const MAX_ID_LEN: u32 = 64;

/// The SyncKey that asks for the whole hierarchy.
pub const INITIAL_SYNC_KEY: &str = "0";

status_enum! {
    /// FolderSync status ([MS-ASCMD] 2.2.3.177.5).
    pub enum FolderSyncStatus with common {
        /// The hierarchy or its changes follow.
        Success = 1,
        /// A server error; the client retries, and after repeated failures starts at key 0.
        ServerError = 6,
        /// The SyncKey is unknown or out of step; the client starts again at key 0.
        InvalidSyncKey = 9,
        /// The request is malformed.
        IncorrectlyFormattedRequest = 10,
        /// An unknown error occurred.
        UnknownError = 11,
        /// An unusual back-end condition.
        CodeUnknown = 12,
    }
}

/// Folder types ([MS-ASCMD] 2.2.3.186.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FolderType {
    UserCreatedGeneric = 1,
    DefaultInbox = 2,
    DefaultDrafts = 3,
    DefaultDeletedItems = 4,
    DefaultSentItems = 5,
    DefaultOutbox = 6,
    DefaultTasks = 7,
    DefaultCalendar = 8,
    DefaultContacts = 9,
    DefaultNotes = 10,
    DefaultJournal = 11,
    UserCreatedMail = 12,
    UserCreatedCalendar = 13,
    UserCreatedContacts = 14,
    UserCreatedTasks = 15,
    UserCreatedJournal = 16,
    UserCreatedNotes = 17,
    Unknown = 18,
    RecipientInformationCache = 19,
}

impl FolderType {
    /// Every type, ascending.
    pub const ALL: [FolderType; 19] = [
        FolderType::UserCreatedGeneric,
        FolderType::DefaultInbox,
        FolderType::DefaultDrafts,
        FolderType::DefaultDeletedItems,
        FolderType::DefaultSentItems,
        FolderType::DefaultOutbox,
        FolderType::DefaultTasks,
        FolderType::DefaultCalendar,
        FolderType::DefaultContacts,
        FolderType::DefaultNotes,
        FolderType::DefaultJournal,
        FolderType::UserCreatedMail,
        FolderType::UserCreatedCalendar,
        FolderType::UserCreatedContacts,
        FolderType::UserCreatedTasks,
        FolderType::UserCreatedJournal,
        FolderType::UserCreatedNotes,
        FolderType::Unknown,
        FolderType::RecipientInformationCache,
    ];

    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    pub fn from_u8(n: u8) -> Option<FolderType> {
        Self::ALL.into_iter().find(|t| t.as_u8() == n)
    }
}

/// One folder of an Add or Update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    pub server_id: String,
    /// `"0"` for a folder at the top of the hierarchy.
    pub parent_id: String,
    pub display_name: String,
    pub folder_type: FolderType,
}

/// The Changes element of a response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderChanges {
    pub updates: Vec<Folder>,
    /// ServerIds of deleted folders.
    pub deletes: Vec<String>,
    pub adds: Vec<Folder>,
}

impl FolderChanges {
    /// The Count element's value: every Add, Update and Delete.
    pub fn count(&self) -> u32 {
        let n = self.updates.len() + self.deletes.len() + self.adds.len();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

/// A FolderSync request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderSyncRequest {
    /// [`INITIAL_SYNC_KEY`] for the whole hierarchy.
    pub sync_key: String,
}

/// A FolderSync response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderSyncResponse {
    pub status: FolderSyncStatus,
    /// The new key; sent with [`FolderSyncStatus::Success`].
    pub sync_key: Option<String>,
    /// Sent with [`FolderSyncStatus::Success`], empty when nothing changed.
    pub changes: Option<FolderChanges>,
}

/// A required id of at most [`MAX_ID_LEN`] bytes, not empty.
pub(crate) fn req_id(e: &Element<'_>, tag: Tag) -> Result<String, Error> {
    let s = de::req_text(e, tag)?;
    check_id(tag, s)?;
    Ok(s.to_owned())
}

fn check_id(tag: Tag, s: &str) -> Result<(), Error> {
    if s.is_empty() || s.len() > MAX_ID_LEN as usize {
        return Err(Error::BadValue {
            tag,
            why: "id must be 1 to 64 bytes",
        });
    }
    Ok(())
}

fn write_id(w: &mut Encoder<'_>, tag: Tag, s: &str) -> Result<(), Error> {
    if s.is_empty() || s.len() > MAX_ID_LEN as usize {
        return Err(Error::Unencodable("id must be 1 to 64 bytes"));
    }
    w.leaf(tag, s)?;
    Ok(())
}

impl Folder {
    fn decode(e: &Element<'_>) -> Result<Self, Error> {
        let ty: u8 = de::req_num(e, fh::TYPE)?;
        Ok(Folder {
            server_id: req_id(e, fh::SERVER_ID)?,
            parent_id: req_id(e, fh::PARENT_ID)?,
            display_name: de::req_owned(e, fh::DISPLAY_NAME)?,
            folder_type: FolderType::from_u8(ty).ok_or(Error::BadValue {
                tag: fh::TYPE,
                why: "folder type outside 1-19",
            })?,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, tag: Tag) -> Result<(), Error> {
        w.start(tag)?;
        write_id(w, fh::SERVER_ID, &self.server_id)?;
        write_id(w, fh::PARENT_ID, &self.parent_id)?;
        w.leaf(fh::DISPLAY_NAME, &self.display_name)?;
        w.leaf_int(fh::TYPE, self.folder_type.as_u8())?;
        w.end()?;
        Ok(())
    }
}

impl Codec for FolderSyncRequest {
    const ROOT: Tag = fh::FOLDER_SYNC;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        de::expect_root(root, Self::ROOT)?;
        Ok(FolderSyncRequest {
            sync_key: req_id(root, fh::SYNC_KEY)?,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, _v: ProtocolVersion) -> Result<(), Error> {
        w.start(Self::ROOT)?;
        write_id(w, fh::SYNC_KEY, &self.sync_key)?;
        w.end()?;
        Ok(())
    }
}

impl Codec for FolderSyncResponse {
    const ROOT: Tag = fh::FOLDER_SYNC;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        de::expect_root(root, Self::ROOT)?;
        let status = FolderSyncStatus::req(root, fh::STATUS)?;
        let sync_key = match root.child(fh::SYNC_KEY) {
            Some(_) => Some(req_id(root, fh::SYNC_KEY)?),
            None => None,
        };
        let changes = match root.child(fh::CHANGES) {
            None => None,
            Some(c) => {
                let mut out = FolderChanges::default();
                let mut n = 0usize;
                for e in c.elements() {
                    if e.tag != fh::ADD && e.tag != fh::UPDATE && e.tag != fh::DELETE {
                        continue;
                    }
                    n += 1;
                    de::cap("FolderSync changes", n, MAX_CHANGES)?;
                    if e.tag == fh::ADD {
                        out.adds.push(Folder::decode(e)?);
                    } else if e.tag == fh::UPDATE {
                        out.updates.push(Folder::decode(e)?);
                    } else {
                        out.deletes.push(req_id(e, fh::SERVER_ID)?);
                    }
                }
                Some(out)
            }
        };
        Ok(FolderSyncResponse {
            status,
            sync_key,
            changes,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, _v: ProtocolVersion) -> Result<(), Error> {
        w.start(Self::ROOT)?;
        w.leaf_int(fh::STATUS, self.status.as_u8())?;
        if let Some(k) = &self.sync_key {
            write_id(w, fh::SYNC_KEY, k)?;
        }
        if let Some(c) = &self.changes {
            w.start(fh::CHANGES)?;
            w.leaf_int(fh::COUNT, c.count())?;
            for f in &c.updates {
                f.encode(w, fh::UPDATE)?;
            }
            for id in &c.deletes {
                w.start(fh::DELETE)?;
                write_id(w, fh::SERVER_ID, id)?;
                w.end()?;
            }
            for f in &c.adds {
                f.encode(w, fh::ADD)?;
            }
            w.end()?;
        }
        w.end()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::{from_wbxml, to_wbxml};
    use crate::wbxml::Limits;

    const V: ProtocolVersion = ProtocolVersion::V14_1;

    fn folder(id: &str, ty: FolderType) -> Folder {
        Folder {
            server_id: id.into(),
            parent_id: "0".into(),
            display_name: format!("Folder {id}"),
            folder_type: ty,
        }
    }

    #[test]
    fn folder_types_round_trip() {
        for t in FolderType::ALL {
            assert_eq!(FolderType::from_u8(t.as_u8()), Some(t));
        }
        assert_eq!(FolderType::from_u8(0), None);
        assert_eq!(FolderType::from_u8(20), None);
        assert_eq!(FolderType::DefaultContacts.as_u8(), 9);
    }

    #[test]
    fn status_codes() {
        assert_eq!(FolderSyncStatus::InvalidSyncKey.as_u8(), 9);
        for &s in FolderSyncStatus::NAMED {
            assert_eq!(FolderSyncStatus::from_u8(s.as_u8()), s);
        }
    }

    #[test]
    fn response_round_trip() {
        let r = FolderSyncResponse {
            status: FolderSyncStatus::Success,
            sync_key: Some("7".into()),
            changes: Some(FolderChanges {
                updates: vec![folder("c", FolderType::DefaultCalendar)],
                deletes: vec!["x".into()],
                adds: vec![folder("k", FolderType::DefaultContacts)],
            }),
        };
        let b = to_wbxml(&r, V, 1 << 16).unwrap();
        assert_eq!(
            from_wbxml::<FolderSyncResponse>(&b, V, Limits::DEFAULT),
            Ok(r)
        );
    }

    #[test]
    fn changes_cap() {
        let mut c = FolderChanges::default();
        for i in 0..=MAX_CHANGES {
            c.deletes.push(format!("{i}"));
        }
        let r = FolderSyncResponse {
            status: FolderSyncStatus::Success,
            sync_key: Some("1".into()),
            changes: Some(c),
        };
        let b = to_wbxml(&r, V, 1 << 20).unwrap();
        assert_eq!(
            from_wbxml::<FolderSyncResponse>(&b, V, Limits::DEFAULT),
            Err(Error::TooMany {
                what: "FolderSync changes",
                cap: MAX_CHANGES
            })
        );
    }

    #[test]
    fn ids_are_bounded() {
        let long = "k".repeat(65);
        let r = FolderSyncRequest { sync_key: long };
        assert!(matches!(to_wbxml(&r, V, 1024), Err(Error::Unencodable(_))));
        let empty = FolderSyncRequest {
            sync_key: String::new(),
        };
        assert!(to_wbxml(&empty, V, 1024).is_err());
    }
}
