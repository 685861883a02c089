//! [MS-ASCMD] 2.2.1.10 ItemOperations: Fetch of one item by ServerId (with its CollectionId)
//! or by a Search LongId, with the body preferences of its Options; EmptyFolderContents and
//! Move (of a conversation) are decoded so that the server can answer them with a status.
//! Status codes per [MS-ASCMD] 2.2.3.177.8.
//!
//! Operations keep their request order (the server must execute them in that order). The
//! response schema (`ItemOperationsResponse.xsd`) wants the results grouped: all Move, then
//! all EmptyFolderContents, then all Fetch, so the response holds three lists and writes them
//! in that order. A Fetch result is written Status, CollectionId, ServerId, LongId, Class,
//! FileReference, Properties, as the schema's sequence says.

use super::sync::{SyncData, decode_body_preferences};
use crate::eas::items::{BodyPreference, ClientKind, Context};
use crate::eas::status::status_enum;
use crate::eas::{Codec, Error, ProtocolVersion, de, en};
use crate::wbxml::{
    Element, Encoder, Tag, airsync, airsyncbase, document_library, item_operations as io, search,
};

/// Caps on one ItemOperations.
pub mod caps {
    /// Operations (Fetch, EmptyFolderContents, Move) per request, and results per response.
    /// Clients fetch one item or attachment at a time; a few batch a screenful.
    pub const MAX_OPERATIONS: u32 = 64;
    /// `BodyPreference` elements per Fetch `Options`.
    pub const MAX_BODY_PREFERENCES: u32 = super::super::sync::caps::MAX_BODY_PREFERENCES;
}

status_enum! {
    /// ItemOperations status ([MS-ASCMD] 2.2.3.177.8). 13 is not defined.
    pub enum ItemOperationsStatus with common {
        Success = 1,
        /// Protocol violation or XML validation error (also: an option invalid for its
        /// operation).
        ProtocolError = 2,
        ServerError = 3,
        /// Document library: the URI is bad.
        BadUri = 4,
        /// Document library: access denied.
        AccessDenied = 5,
        /// Document library: the object was not found or access is denied. Also "not found"
        /// for a conversation Move.
        NotFound = 6,
        /// Document library: cannot connect to the server.
        ConnectionFailed = 7,
        /// The byte range is invalid or too large.
        InvalidRange = 8,
        /// The store is unknown or unsupported.
        UnknownStore = 9,
        /// The file is empty.
        EmptyFile = 10,
        /// The requested data is too large.
        TooLarge = 11,
        /// I/O failure while downloading the file.
        IoFailure = 12,
        /// The mailbox fetch provider could not process (convert) the item.
        ConversionFailed = 14,
        /// The attachment or attachment id is invalid.
        InvalidAttachment = 15,
        /// Access to the resource is denied.
        ResourceAccessDenied = 16,
        /// Partial success: the command completed partially.
        PartialSuccess = 17,
        /// Credentials are required.
        CredentialsRequired = 18,
    }
}

/// The `Store` of a mailbox fetch.
pub const STORE_MAILBOX: &str = "Mailbox";

/// An ItemOperations request.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ItemOperationsRequest {
    /// In request order.
    pub operations: Vec<Operation>,
}

/// One operation of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    Fetch(Fetch),
    /// Empty a folder (clients use it on Deleted Items).
    EmptyFolderContents {
        collection_id: String,
        delete_sub_folders: bool,
    },
    /// Move a mail conversation (14.0+).
    Move {
        conversation_id: String,
        dst_fld_id: String,
        move_always: bool,
    },
}

/// A fetch operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetch {
    /// `Mailbox` for items (see [`STORE_MAILBOX`]), `Document Library` for documents.
    pub store: String,
    pub target: FetchTarget,
    pub options: FetchOptions,
}

/// What a fetch names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchTarget {
    /// An item by ServerId. Clients send its CollectionId along; it is optional in the
    /// schema, so a server that can resolve the ServerId alone may do so.
    Item {
        collection_id: Option<String>,
        server_id: String,
    },
    /// A Search result by `Search:LongId`.
    LongId(String),
    /// An attachment by `AirSyncBase:FileReference`.
    FileReference(String),
    /// A document library item by `DocumentLibrary:LinkId` (easbox answers with a status).
    LinkId(String),
}

/// Fetch `Options` ([MS-ASCMD] 2.2.3.125.3), the parts easbox uses.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FetchOptions {
    /// Byte range `first-last` of a document or attachment.
    pub range: Option<String>,
    /// `AirSync:MIMESupport` 0–2.
    pub mime_support: Option<u8>,
    pub body_preferences: Vec<BodyPreference>,
}

impl FetchOptions {
    fn is_empty(&self) -> bool {
        *self == FetchOptions::default()
    }

    fn decode(e: &Element<'_>) -> Result<Self, Error> {
        let body_preferences = decode_body_preferences(e)?;
        let mime_support = de::opt_ranged(e, airsync::MIME_SUPPORT, 2, "MIMESupport outside 0-2")?;
        Ok(FetchOptions {
            range: de::opt_owned(e, io::RANGE)?,
            mime_support,
            body_preferences,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>) -> Result<(), Error> {
        w.start(io::OPTIONS)?;
        en::opt_leaf(w, io::RANGE, self.range.as_deref())?;
        en::opt_leaf_int(w, airsync::MIME_SUPPORT, self.mime_support)?;
        for b in &self.body_preferences {
            b.encode(w)?;
        }
        w.end()?;
        Ok(())
    }
}

impl Fetch {
    fn decode(e: &Element<'_>) -> Result<Self, Error> {
        let text = |tag| de::opt_owned(e, tag);
        let target = if let Some(server_id) = text(airsync::SERVER_ID)? {
            FetchTarget::Item {
                collection_id: text(airsync::COLLECTION_ID)?,
                server_id,
            }
        } else if let Some(l) = text(search::LONG_ID)? {
            FetchTarget::LongId(l)
        } else if let Some(f) = text(airsyncbase::FILE_REFERENCE)? {
            FetchTarget::FileReference(f)
        } else if let Some(l) = text(document_library::LINK_ID)? {
            FetchTarget::LinkId(l)
        } else {
            return Err(Error::Missing {
                parent: e.tag,
                child: airsync::SERVER_ID,
            });
        };
        Ok(Fetch {
            store: de::req_owned(e, io::STORE)?,
            target,
            options: e
                .child(io::OPTIONS)
                .map(FetchOptions::decode)
                .transpose()?
                .unwrap_or_default(),
        })
    }

    fn encode(&self, w: &mut Encoder<'_>) -> Result<(), Error> {
        w.start(io::FETCH)?;
        w.leaf(io::STORE, &self.store)?;
        match &self.target {
            FetchTarget::Item {
                collection_id,
                server_id,
            } => {
                if let Some(c) = collection_id {
                    w.leaf(airsync::COLLECTION_ID, c)?;
                }
                w.leaf(airsync::SERVER_ID, server_id)?;
            }
            FetchTarget::LongId(l) => w.leaf(search::LONG_ID, l)?,
            FetchTarget::FileReference(f) => w.leaf(airsyncbase::FILE_REFERENCE, f)?,
            FetchTarget::LinkId(l) => w.leaf(document_library::LINK_ID, l)?,
        }
        if !self.options.is_empty() {
            self.options.encode(w)?;
        }
        w.end()?;
        Ok(())
    }
}

/// An `Options` child flag such as `<DeleteSubFolders/>`.
fn option_flag(e: &Element<'_>, tag: Tag) -> bool {
    e.child(io::OPTIONS).is_some_and(|o| de::flag(o, tag))
}

fn write_option_flag(w: &mut Encoder<'_>, tag: Tag, on: bool) -> Result<(), Error> {
    if on {
        w.start(io::OPTIONS)?;
        w.empty(tag)?;
        w.end()?;
    }
    Ok(())
}

impl Operation {
    fn decode(e: &Element<'_>) -> Result<Self, Error> {
        Ok(match e.tag {
            io::FETCH => Operation::Fetch(Fetch::decode(e)?),
            io::EMPTY_FOLDER_CONTENTS => Operation::EmptyFolderContents {
                collection_id: de::req_owned(e, airsync::COLLECTION_ID)?,
                delete_sub_folders: option_flag(e, io::DELETE_SUB_FOLDERS),
            },
            io::MOVE => Operation::Move {
                conversation_id: de::req_owned(e, io::CONVERSATION_ID)?,
                dst_fld_id: de::req_owned(e, io::DST_FLD_ID)?,
                move_always: option_flag(e, io::MOVE_ALWAYS),
            },
            tag => {
                return Err(Error::BadValue {
                    tag,
                    why: "not an ItemOperations operation",
                });
            }
        })
    }

    fn encode(&self, w: &mut Encoder<'_>) -> Result<(), Error> {
        match self {
            Operation::Fetch(f) => f.encode(w),
            Operation::EmptyFolderContents {
                collection_id,
                delete_sub_folders,
            } => {
                w.start(io::EMPTY_FOLDER_CONTENTS)?;
                w.leaf(airsync::COLLECTION_ID, collection_id)?;
                write_option_flag(w, io::DELETE_SUB_FOLDERS, *delete_sub_folders)?;
                w.end()?;
                Ok(())
            }
            Operation::Move {
                conversation_id,
                dst_fld_id,
                move_always,
            } => {
                w.start(io::MOVE)?;
                w.leaf(io::CONVERSATION_ID, conversation_id)?;
                w.leaf(io::DST_FLD_ID, dst_fld_id)?;
                write_option_flag(w, io::MOVE_ALWAYS, *move_always)?;
                w.end()?;
                Ok(())
            }
        }
    }
}

impl Codec for ItemOperationsRequest {
    const ROOT: Tag = io::ITEM_OPERATIONS;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        let operations = de::capped(
            root.elements(),
            "ItemOperations operations",
            caps::MAX_OPERATIONS,
            Operation::decode,
        )?;
        Ok(ItemOperationsRequest { operations })
    }

    fn encode(&self, w: &mut Encoder<'_>, _v: ProtocolVersion) -> Result<(), Error> {
        w.start(io::ITEM_OPERATIONS)?;
        for op in &self.operations {
            op.encode(w)?;
        }
        w.end()?;
        Ok(())
    }
}

/// An ItemOperations response.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemOperationsResponse {
    /// Status of the whole request (required).
    pub status: ItemOperationsStatus,
    pub moves: Vec<MoveResult>,
    pub empty_folder_contents: Vec<EmptyFolderResult>,
    pub fetches: Vec<FetchResult>,
    /// The client family, for items written from the model. Not on the wire.
    pub client: ClientKind,
}

impl ItemOperationsResponse {
    pub fn new(status: ItemOperationsStatus) -> Self {
        ItemOperationsResponse {
            status,
            moves: Vec::new(),
            empty_folder_contents: Vec::new(),
            fetches: Vec::new(),
            client: ClientKind::default(),
        }
    }

    fn results(&self) -> usize {
        self.moves.len() + self.empty_folder_contents.len() + self.fetches.len()
    }
}

/// The result of a conversation Move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveResult {
    pub status: ItemOperationsStatus,
    pub conversation_id: String,
}

/// The result of an EmptyFolderContents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmptyFolderResult {
    pub status: ItemOperationsStatus,
    pub collection_id: String,
}

/// The result of a Fetch: the target echoed back, and the item on success.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchResult {
    pub status: ItemOperationsStatus,
    pub collection_id: Option<String>,
    pub server_id: Option<String>,
    pub long_id: Option<String>,
    /// `AirSync:Class` of the item (`Contacts`, `Calendar`, `Tasks`).
    pub class: Option<String>,
    pub file_reference: Option<String>,
    /// The item inside `Properties`.
    pub properties: Option<SyncData>,
    /// The body preference the Fetch asked for, for items written from the model. Not on
    /// the wire.
    pub body_preference: Option<BodyPreference>,
}

impl FetchResult {
    /// A result that echoes nothing back and carries no item.
    pub fn new(status: ItemOperationsStatus) -> Self {
        FetchResult {
            status,
            collection_id: None,
            server_id: None,
            long_id: None,
            class: None,
            file_reference: None,
            properties: None,
            body_preference: None,
        }
    }

    fn decode(e: &Element<'_>) -> Result<Self, Error> {
        let text = |tag| de::opt_owned(e, tag);
        Ok(FetchResult {
            status: ItemOperationsStatus::req(e, io::STATUS)?,
            collection_id: text(airsync::COLLECTION_ID)?,
            server_id: text(airsync::SERVER_ID)?,
            long_id: text(search::LONG_ID)?,
            class: text(airsync::CLASS)?,
            file_reference: text(airsyncbase::FILE_REFERENCE)?,
            properties: SyncData::opt_raw(e, io::PROPERTIES),
            body_preference: None,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, ctx: &Context<'_>) -> Result<(), Error> {
        let opt = |w: &mut Encoder<'_>, tag, v: &Option<String>| -> Result<(), Error> {
            if let Some(s) = v {
                w.leaf(tag, s)?;
            }
            Ok(())
        };
        w.start(io::FETCH)?;
        w.leaf_int(io::STATUS, self.status.as_u8())?;
        opt(w, airsync::COLLECTION_ID, &self.collection_id)?;
        opt(w, airsync::SERVER_ID, &self.server_id)?;
        opt(w, search::LONG_ID, &self.long_id)?;
        opt(w, airsync::CLASS, &self.class)?;
        opt(w, airsyncbase::FILE_REFERENCE, &self.file_reference)?;
        if let Some(p) = &self.properties {
            let ctx = Context {
                body: self.body_preference.as_ref(),
                ..*ctx
            };
            p.encode(w, io::PROPERTIES, &ctx)?;
        }
        w.end()?;
        Ok(())
    }
}

impl Codec for ItemOperationsResponse {
    const ROOT: Tag = io::ITEM_OPERATIONS;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        let mut r = ItemOperationsResponse::new(ItemOperationsStatus::req(root, io::STATUS)?);
        if let Some(resp) = root.child(io::RESPONSE) {
            for e in resp.elements() {
                de::cap(
                    "ItemOperations results",
                    r.results() + 1,
                    caps::MAX_OPERATIONS,
                )?;
                match e.tag {
                    io::MOVE => r.moves.push(MoveResult {
                        status: ItemOperationsStatus::req(e, io::STATUS)?,
                        conversation_id: de::req_owned(e, io::CONVERSATION_ID)?,
                    }),
                    io::EMPTY_FOLDER_CONTENTS => r.empty_folder_contents.push(EmptyFolderResult {
                        status: ItemOperationsStatus::req(e, io::STATUS)?,
                        collection_id: de::req_owned(e, airsync::COLLECTION_ID)?,
                    }),
                    io::FETCH => r.fetches.push(FetchResult::decode(e)?),
                    tag => {
                        return Err(Error::BadValue {
                            tag,
                            why: "not an ItemOperations result",
                        });
                    }
                }
            }
        }
        Ok(r)
    }

    fn encode(&self, w: &mut Encoder<'_>, v: ProtocolVersion) -> Result<(), Error> {
        let ctx = Context {
            version: v,
            body: None,
            client: self.client,
        };
        w.start(io::ITEM_OPERATIONS)?;
        w.leaf_int(io::STATUS, self.status.as_u8())?;
        if self.results() > 0 {
            w.start(io::RESPONSE)?;
            for m in &self.moves {
                w.start(io::MOVE)?;
                w.leaf_int(io::STATUS, m.status.as_u8())?;
                w.leaf(io::CONVERSATION_ID, &m.conversation_id)?;
                w.end()?;
            }
            for e in &self.empty_folder_contents {
                w.start(io::EMPTY_FOLDER_CONTENTS)?;
                w.leaf_int(io::STATUS, e.status.as_u8())?;
                w.leaf(airsync::COLLECTION_ID, &e.collection_id)?;
                w.end()?;
            }
            for f in &self.fetches {
                f.encode(w, &ctx)?;
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
    use crate::eas::status::CommonStatus;
    use crate::eas::{from_wbxml, to_wbxml};
    use crate::wbxml::Limits;

    const V: ProtocolVersion = ProtocolVersion::V14_1;

    fn fetch(server_id: &str) -> Operation {
        Operation::Fetch(Fetch {
            store: STORE_MAILBOX.into(),
            target: FetchTarget::Item {
                collection_id: Some("2".into()),
                server_id: server_id.into(),
            },
            options: FetchOptions::default(),
        })
    }

    #[test]
    fn status_codes() {
        let named: Vec<u8> = ItemOperationsStatus::NAMED
            .iter()
            .map(|s| s.as_u8())
            .collect();
        let want: Vec<u8> = (1u8..=12).chain(14..=18).collect();
        assert_eq!(named, want);
        for c in want {
            assert_eq!(ItemOperationsStatus::from_u8(c).as_u8(), c);
        }
        assert_eq!(
            ItemOperationsStatus::from_u8(13),
            ItemOperationsStatus::Other(13)
        );
        assert_eq!(
            ItemOperationsStatus::from_u8(19),
            ItemOperationsStatus::Other(19)
        );
        assert_eq!(
            ItemOperationsStatus::from_u8(156),
            ItemOperationsStatus::Common(CommonStatus::MoveCommandInvalidDestinationFolder)
        );
    }

    #[test]
    fn all_operations_round_trip_in_order() {
        let req = ItemOperationsRequest {
            operations: vec![
                Operation::EmptyFolderContents {
                    collection_id: "4".into(),
                    delete_sub_folders: true,
                },
                fetch("2:1"),
                Operation::Move {
                    conversation_id: "abc".into(),
                    dst_fld_id: "5".into(),
                    move_always: false,
                },
                Operation::Fetch(Fetch {
                    store: STORE_MAILBOX.into(),
                    target: FetchTarget::FileReference("att/1".into()),
                    options: FetchOptions {
                        range: Some("0-99".into()),
                        mime_support: Some(0),
                        body_preferences: vec![],
                    },
                }),
                Operation::Fetch(Fetch {
                    store: "Document Library".into(),
                    target: FetchTarget::LinkId("file://x".into()),
                    options: FetchOptions::default(),
                }),
            ],
        };
        let bytes = to_wbxml(&req, V, 4096).unwrap();
        assert_eq!(
            from_wbxml::<ItemOperationsRequest>(&bytes, V, Limits::DEFAULT),
            Ok(req)
        );
    }

    #[test]
    fn fetch_without_target_is_an_error() {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1024).unwrap();
        w.start(io::ITEM_OPERATIONS).unwrap();
        w.start(io::FETCH).unwrap();
        w.leaf(io::STORE, "Mailbox").unwrap();
        w.end().unwrap();
        w.end().unwrap();
        w.finish().unwrap();
        assert!(matches!(
            from_wbxml::<ItemOperationsRequest>(&out, V, Limits::DEFAULT),
            Err(Error::Missing { .. })
        ));
    }

    #[test]
    fn operations_cap() {
        let at = ItemOperationsRequest {
            operations: (0..caps::MAX_OPERATIONS)
                .map(|i| fetch(&format!("2:{i}")))
                .collect(),
        };
        let bytes = to_wbxml(&at, V, 1 << 20).unwrap();
        assert!(from_wbxml::<ItemOperationsRequest>(&bytes, V, Limits::DEFAULT).is_ok());
        let mut over = at;
        over.operations.push(fetch("2:x"));
        let bytes = to_wbxml(&over, V, 1 << 20).unwrap();
        assert!(matches!(
            from_wbxml::<ItemOperationsRequest>(&bytes, V, Limits::DEFAULT),
            Err(Error::TooMany {
                cap: caps::MAX_OPERATIONS,
                ..
            })
        ));
    }

    #[test]
    fn results_are_written_grouped() {
        let mut r = ItemOperationsResponse::new(ItemOperationsStatus::Success);
        r.fetches
            .push(FetchResult::new(ItemOperationsStatus::NotFound));
        r.empty_folder_contents.push(EmptyFolderResult {
            status: ItemOperationsStatus::ProtocolError,
            collection_id: "4".into(),
        });
        r.moves.push(MoveResult {
            status: ItemOperationsStatus::Common(CommonStatus::MoveCommandInvalidDestinationFolder),
            conversation_id: "c".into(),
        });
        let bytes = to_wbxml(&r, V, 4096).unwrap();
        let tree = crate::wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        let order: Vec<Tag> = tree
            .child(io::RESPONSE)
            .unwrap()
            .elements()
            .map(|e| e.tag)
            .collect();
        assert_eq!(order, [io::MOVE, io::EMPTY_FOLDER_CONTENTS, io::FETCH]);
        assert_eq!(
            from_wbxml::<ItemOperationsResponse>(&bytes, V, Limits::DEFAULT),
            Ok(r)
        );
    }
}
