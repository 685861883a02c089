//! [MS-ASCMD] 2.2.1.21 Sync: the request (client changes and what it wants back) and the
//! response (server changes, answers to client changes), with the Sync status codes of
//! [MS-ASCMD] 2.2.3.177.17.
//!
//! Item data stays opaque here. A request's `ApplicationData` is kept as an [`OwnedElement`]
//! because the class of a collection is known only to the server's store, not to the request
//! (14.x requests carry no Class); the sync engine turns it into an item with
//! [`ApplicationData::decode`] once it knows the folder. A response carries [`SyncData`]: the
//! server writes [`SyncData::Item`] straight from the model, and a decoded response (the test
//! client) holds [`SyncData::Raw`].
//!
//! Element order follows [MS-ASCMD] 2.2.3.29.2 for requests (SyncKey, CollectionId, Supported,
//! DeletesAsMoves, GetChanges, WindowSize, Options, Commands; Class first for 12.1). The response
//! schema (`SyncResponse.xsd`) allows any order inside a Collection; we write SyncKey,
//! CollectionId, Status, Responses, MoreAvailable, Commands: the order Z-Push has sent to every
//! client family for years, with MoreAvailable before Commands as in the MS-ASCMD table.

use crate::eas::items::{ApplicationData, BodyPreference, ClientKind, Context};
use crate::eas::status::status_enum;
use crate::eas::{Codec, Error, ProtocolVersion, de, en};
use crate::wbxml::{Element, Encoder, Limits, OwnedElement, Tag, airsync, airsyncbase};

/// Caps on what one Sync request or response may hold.
pub mod caps {
    /// Collections in one Sync. easbox serves a handful of folders per user; a few clients
    /// list every folder they know, mail dummies included.
    pub const MAX_COLLECTIONS: u32 = 100;
    /// Commands (client) or server commands per collection. Above the largest window (512)
    /// so that a client's upload batch fits.
    pub const MAX_COMMANDS: u32 = 1024;
    /// Entries under `Responses` per collection (decoding a response).
    pub const MAX_RESPONSES: u32 = 1024;
    /// `Options` blocks per collection: one for the folder's class and one for SMS
    /// ([MS-ASCMD] 2.2.3.125.6).
    pub const MAX_OPTIONS: u32 = 2;
    /// `BodyPreference` elements per `Options` (there are four body types).
    pub const MAX_BODY_PREFERENCES: u32 = 8;
    /// Element names in a `Supported` list (a contact has about 60 properties).
    pub const MAX_SUPPORTED: u32 = 128;
}

/// The window a client gets when it names none ([MS-ASCMD] 2.2.3.199).
pub const DEFAULT_WINDOW: u32 = 100;
/// The largest window; 0 or more than this means this.
pub const MAX_WINDOW: u32 = 512;

/// The window to use for a `WindowSize` value: 1–512 as given, 0 or above 512 → 512,
/// absent → 100 (EAS-NOTES §1.3).
pub const fn effective_window(window_size: Option<u32>) -> u32 {
    match window_size {
        None => DEFAULT_WINDOW,
        Some(0) => MAX_WINDOW,
        Some(n) if n > MAX_WINDOW => MAX_WINDOW,
        Some(n) => n,
    }
}

status_enum! {
    /// Sync status ([MS-ASCMD] 2.2.3.177.17).
    pub enum SyncStatus with common {
        Success = 1,
        /// Invalid or unknown SyncKey: the client restarts the collection at 0.
        InvalidSyncKey = 3,
        /// Protocol error: the request is malformed.
        ProtocolError = 4,
        ServerError = 5,
        /// The client's item could not be converted (bad data in an Add or Change).
        ConversionError = 6,
        /// The client's change lost a conflict (server wins).
        Conflict = 7,
        /// The item named by a Change, Delete or Fetch does not exist.
        ObjectNotFound = 8,
        /// The sync cannot be completed (e.g. mailbox full).
        CannotComplete = 9,
        /// The folder hierarchy changed: the client runs FolderSync.
        FolderHierarchyChanged = 12,
        /// An empty or partial request arrived with nothing cached to complete it.
        IncompleteRequest = 13,
        /// Wait or HeartbeatInterval out of range; the response carries the bound in `Limit`.
        InvalidWaitOrHeartbeat = 14,
        /// Invalid request (e.g. too many collections).
        InvalidRequest = 15,
        /// Transient server problem: retry.
        Retry = 16,
    }
}

/// Conflict resolution ([MS-ASCMD] 2.2.3.34).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Conflict {
    /// 0: the client's object replaces the server's.
    ClientWins,
    /// 1: the server's object replaces the client's (the default).
    #[default]
    ServerWins,
}

impl Conflict {
    pub const fn code(self) -> u8 {
        match self {
            Conflict::ClientWins => 0,
            Conflict::ServerWins => 1,
        }
    }
}

/// An EAS boolean where an empty element means true: `<GetChanges/>`, `<DeletesAsMoves/>`
/// ([MS-ASCMD] 2.2.3.84, 2.2.3.43).
fn empty_true(e: &Element<'_>, tag: Tag) -> Result<Option<bool>, Error> {
    match de::opt_text(e, tag)?.map(str::trim) {
        None => Ok(None),
        Some("") | Some("1") => Ok(Some(true)),
        Some("0") => Ok(Some(false)),
        Some(_) => Err(Error::BadValue {
            tag,
            why: "expected empty, 0 or 1",
        }),
    }
}

fn write_empty_true(w: &mut Encoder<'_>, tag: Tag, v: Option<bool>) -> Result<(), Error> {
    match v {
        None => Ok(()),
        Some(true) => Ok(w.empty(tag)?),
        Some(false) => Ok(w.leaf(tag, "0")?),
    }
}

/// The `BodyPreference` children of an `Options` block (Sync and ItemOperations alike).
pub(crate) fn decode_body_preferences(e: &Element<'_>) -> Result<Vec<BodyPreference>, Error> {
    de::capped(
        e.children_with(airsyncbase::BODY_PREFERENCE),
        "BodyPreference elements",
        caps::MAX_BODY_PREFERENCES,
        BodyPreference::decode,
    )
}

/// The `Collection` children of `Collections` (request and response alike), at most
/// [`caps::MAX_COLLECTIONS`]; none when `Collections` is absent.
fn decode_collections<T>(
    root: &Element<'_>,
    f: impl FnMut(&Element<'_>) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    match root.child(airsync::COLLECTIONS) {
        Some(cs) => de::capped(
            cs.children_with(airsync::COLLECTION),
            "Sync collections",
            caps::MAX_COLLECTIONS,
            f,
        ),
        None => Ok(Vec::new()),
    }
}

/// Item data in a response: `ApplicationData` in Sync, `Properties` in ItemOperations.
#[derive(Clone, Debug, PartialEq)]
pub enum SyncData {
    /// The whole wrapper element as received, or as built by hand. Its tag must be the
    /// wrapper's (`AirSync:ApplicationData` or `ItemOperations:Properties`).
    Raw(OwnedElement),
    /// A model item, written through [`ApplicationData::encode_children`] without building a
    /// tree first.
    Item(Box<ApplicationData>),
}

impl SyncData {
    /// Writes the wrapper element `wrapper` with the item inside.
    pub fn encode(
        &self,
        w: &mut Encoder<'_>,
        wrapper: Tag,
        ctx: &Context<'_>,
    ) -> Result<(), Error> {
        match self {
            SyncData::Raw(e) => {
                if e.tag != wrapper {
                    return Err(Error::Unencodable("raw item data under another element"));
                }
                w.owned(e)?;
            }
            SyncData::Item(item) => {
                w.start(wrapper)?;
                item.encode_children(w, ctx)?;
                w.end()?;
            }
        }
        Ok(())
    }

    /// Reads an optional wrapper child as raw data.
    pub(crate) fn opt_raw(parent: &Element<'_>, wrapper: Tag) -> Option<SyncData> {
        parent
            .child(wrapper)
            .map(|e| SyncData::Raw(e.to_owned_element()))
    }
}

// ---------------------------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------------------------

/// A Sync request.
///
/// An empty request (no body, or `<Sync/>` with nothing in it) is valid from 12.1: it asks the
/// server to repeat the previous request, which the server caches ([MS-ASCMD] 2.2.1.21,
/// "Empty Sync request"). It decodes to `SyncRequest::default()`; see [`SyncRequest::is_empty`]
/// and [`SyncRequest::from_body`]. With `partial` set, the collections given are merged into
/// the cached request.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SyncRequest {
    pub collections: Vec<SyncCollectionRequest>,
    /// Minutes to wait for changes before answering (1–59); exclusive with
    /// `heartbeat_interval`. Range checks (Status 14 with Limit) are the server's.
    pub wait: Option<u32>,
    /// Seconds to wait for changes (60–3540, 14.0+); exclusive with `wait`.
    pub heartbeat_interval: Option<u32>,
    /// Items across all collections (14.0+); see [`effective_window`].
    pub window_size: Option<u32>,
    /// `<Partial/>`: the collections complete the cached request.
    pub partial: bool,
}

impl SyncRequest {
    /// True for the empty request that reuses the cached one.
    pub fn is_empty(&self) -> bool {
        *self == SyncRequest::default()
    }

    /// True when the server must complete this request from its cache: empty or partial.
    pub fn uses_cache(&self) -> bool {
        self.partial || self.collections.is_empty()
    }

    /// Decodes an HTTP body, which may be empty (the cached-request form).
    pub fn from_body(body: &[u8], v: ProtocolVersion, limits: Limits) -> Result<Self, Error> {
        if body.is_empty() {
            return Ok(SyncRequest::default());
        }
        crate::eas::from_wbxml(body, v, limits)
    }

    /// Encodes an HTTP body: nothing at all for the empty request.
    pub fn to_body(&self, v: ProtocolVersion, cap: usize) -> Result<Vec<u8>, Error> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        crate::eas::to_wbxml(self, v, cap)
    }
}

/// One `Collection` of a Sync request.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SyncCollectionRequest {
    /// `Class` (12.1 clients name the folder's class; later versions do not). Kept as sent.
    pub class: Option<String>,
    pub sync_key: String,
    pub collection_id: String,
    /// The `Supported` list of an initial sync: element names the client handles, so that an
    /// absent one in a later Change means "delete" (ghosting, EAS-NOTES §1.5). `None` when the
    /// client sent no list.
    pub supported: Option<Vec<Tag>>,
    /// `DeletesAsMoves`; absent means true.
    pub deletes_as_moves: Option<bool>,
    /// `GetChanges` as sent. Absent means no in 12.1 and yes from 14.0 (EAS-NOTES §1.3); see
    /// [`SyncCollectionRequest::wants_changes`].
    pub get_changes: Option<bool>,
    /// `WindowSize` as sent; see [`SyncCollectionRequest::effective_window`].
    pub window_size: Option<u32>,
    /// `Options` blocks: at most one for the folder's class and one for SMS.
    pub options: Vec<SyncOptions>,
    /// `Commands`, in the order sent.
    pub commands: Vec<ClientCommand>,
}

impl SyncCollectionRequest {
    /// The window to fill: see [`effective_window`].
    pub fn effective_window(&self) -> u32 {
        effective_window(self.window_size)
    }

    /// Whether the server sends changes: never for SyncKey 0 (the first answer carries only a
    /// key), else as sent, else implicit yes from 14.0 and no before.
    pub fn wants_changes(&self, v: ProtocolVersion) -> bool {
        if self.sync_key == "0" {
            return false;
        }
        self.get_changes.unwrap_or(v >= ProtocolVersion::V14_0)
    }

    /// The Options for the folder's own items: the block without a Class or with a class
    /// other than SMS.
    pub fn item_options(&self) -> Option<&SyncOptions> {
        self.options
            .iter()
            .find(|o| o.class.as_deref() != Some("SMS"))
    }

    /// The conflict rule asked for; server wins when not given.
    pub fn conflict(&self) -> Conflict {
        self.item_options()
            .and_then(|o| o.conflict)
            .unwrap_or_default()
    }

    fn decode(e: &Element<'_>) -> Result<Self, Error> {
        let supported = match e.child(airsync::SUPPORTED) {
            None => None,
            Some(s) => {
                let mut tags = Vec::new();
                for c in s.elements() {
                    de::cap("Supported elements", tags.len() + 1, caps::MAX_SUPPORTED)?;
                    tags.push(c.tag);
                }
                Some(tags)
            }
        };
        let options = de::capped(
            e.children_with(airsync::OPTIONS),
            "Options blocks",
            caps::MAX_OPTIONS,
            SyncOptions::decode,
        )?;
        let commands = match e.child(airsync::COMMANDS) {
            Some(cmds) => de::capped(
                cmds.elements(),
                "Sync commands",
                caps::MAX_COMMANDS,
                ClientCommand::decode,
            )?,
            None => Vec::new(),
        };
        Ok(SyncCollectionRequest {
            class: de::opt_owned(e, airsync::CLASS)?,
            sync_key: de::req_owned(e, airsync::SYNC_KEY)?,
            collection_id: de::req_owned(e, airsync::COLLECTION_ID)?,
            supported,
            deletes_as_moves: empty_true(e, airsync::DELETES_AS_MOVES)?,
            get_changes: empty_true(e, airsync::GET_CHANGES)?,
            window_size: de::opt_num(e, airsync::WINDOW_SIZE)?,
            options,
            commands,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, v: ProtocolVersion) -> Result<(), Error> {
        w.start(airsync::COLLECTION)?;
        en::opt_leaf(w, airsync::CLASS, self.class.as_deref())?;
        w.leaf(airsync::SYNC_KEY, &self.sync_key)?;
        w.leaf(airsync::COLLECTION_ID, &self.collection_id)?;
        if let Some(tags) = &self.supported {
            w.start(airsync::SUPPORTED)?;
            for t in tags {
                w.empty(*t)?;
            }
            w.end()?;
        }
        write_empty_true(w, airsync::DELETES_AS_MOVES, self.deletes_as_moves)?;
        write_empty_true(w, airsync::GET_CHANGES, self.get_changes)?;
        en::opt_leaf_int(w, airsync::WINDOW_SIZE, self.window_size)?;
        for o in &self.options {
            o.encode(w)?;
        }
        if !self.commands.is_empty() {
            w.start(airsync::COMMANDS)?;
            for c in &self.commands {
                c.encode(w, v)?;
            }
            w.end()?;
        }
        w.end()?;
        Ok(())
    }
}

/// `Options` of a Sync collection ([MS-ASCMD] 2.2.3.125.6).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SyncOptions {
    /// The class these options apply to (`SMS` for the second block); none for the folder's.
    pub class: Option<String>,
    /// 0–8 ([MS-ASCMD] 2.2.3.68.2): 0 all, 4–7 calendar windows, 8 incomplete tasks.
    pub filter_type: Option<u8>,
    /// Several allowed, one per body type.
    pub body_preferences: Vec<BodyPreference>,
    pub conflict: Option<Conflict>,
    /// 0 never, 1 S/MIME only, 2 always.
    pub mime_support: Option<u8>,
    /// 0–8.
    pub mime_truncation: Option<u8>,
    /// Recipient information cache only.
    pub max_items: Option<u32>,
}

impl SyncOptions {
    fn decode(e: &Element<'_>) -> Result<Self, Error> {
        let body_preferences = decode_body_preferences(e)?;
        let conflict = match de::opt_ranged(e, airsync::CONFLICT, 1, "Conflict is 0 or 1")? {
            None => None,
            Some(0) => Some(Conflict::ClientWins),
            Some(_) => Some(Conflict::ServerWins),
        };
        Ok(SyncOptions {
            class: de::opt_owned(e, airsync::CLASS)?,
            filter_type: de::opt_ranged(e, airsync::FILTER_TYPE, 8, "FilterType outside 0-8")?,
            body_preferences,
            conflict,
            mime_support: de::opt_ranged(e, airsync::MIME_SUPPORT, 2, "MIMESupport outside 0-2")?,
            mime_truncation: de::opt_ranged(
                e,
                airsync::MIME_TRUNCATION,
                8,
                "MIMETruncation outside 0-8",
            )?,
            max_items: de::opt_num(e, airsync::MAX_ITEMS)?,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>) -> Result<(), Error> {
        w.start(airsync::OPTIONS)?;
        en::opt_leaf(w, airsync::CLASS, self.class.as_deref())?;
        en::opt_leaf_int(w, airsync::FILTER_TYPE, self.filter_type)?;
        for b in &self.body_preferences {
            b.encode(w)?;
        }
        en::opt_leaf_int(w, airsync::CONFLICT, self.conflict.map(Conflict::code))?;
        en::opt_leaf_int(w, airsync::MIME_SUPPORT, self.mime_support)?;
        en::opt_leaf_int(w, airsync::MIME_TRUNCATION, self.mime_truncation)?;
        en::opt_leaf_int(w, airsync::MAX_ITEMS, self.max_items)?;
        w.end()?;
        Ok(())
    }
}

/// A client operation under a request's `Commands`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCommand {
    /// A new item; `data` is the whole `ApplicationData` element.
    Add {
        /// Present only for SMS (14.0) and some 12.1 clients.
        class: Option<String>,
        client_id: String,
        data: OwnedElement,
    },
    /// A change to an item; absent properties follow the ghosting rules.
    Change {
        server_id: String,
        /// 16.x: the occurrence of a recurring event the change applies to
        /// (`AirSyncBase:InstanceId`, [MS-ASAIRS] 2.2.2.25).
        instance_id: Option<String>,
        data: OwnedElement,
    },
    Delete {
        server_id: String,
        /// 16.x: delete only this occurrence of a recurring event.
        instance_id: Option<String>,
    },
    /// The client asks for one item in full.
    Fetch { server_id: String },
}

impl ClientCommand {
    fn data(e: &Element<'_>) -> Result<OwnedElement, Error> {
        e.child(airsync::APPLICATION_DATA)
            .map(Element::to_owned_element)
            .ok_or(Error::Missing {
                parent: e.tag,
                child: airsync::APPLICATION_DATA,
            })
    }

    fn decode(e: &Element<'_>) -> Result<Self, Error> {
        Ok(match e.tag {
            airsync::ADD => ClientCommand::Add {
                class: de::opt_owned(e, airsync::CLASS)?,
                client_id: de::req_owned(e, airsync::CLIENT_ID)?,
                data: Self::data(e)?,
            },
            airsync::CHANGE => ClientCommand::Change {
                server_id: de::req_owned(e, airsync::SERVER_ID)?,
                instance_id: de::opt_owned(e, airsyncbase::INSTANCE_ID)?,
                data: Self::data(e)?,
            },
            airsync::DELETE => ClientCommand::Delete {
                server_id: de::req_owned(e, airsync::SERVER_ID)?,
                instance_id: de::opt_owned(e, airsyncbase::INSTANCE_ID)?,
            },
            airsync::FETCH => ClientCommand::Fetch {
                server_id: de::req_owned(e, airsync::SERVER_ID)?,
            },
            tag => {
                return Err(Error::BadValue {
                    tag,
                    why: "not a Sync command",
                });
            }
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, v: ProtocolVersion) -> Result<(), Error> {
        let instance = |w: &mut Encoder<'_>, id: &Option<String>| -> Result<(), Error> {
            match id {
                Some(_) if !v.is_16() => Err(Error::Unencodable("InstanceId needs 16.0 or later")),
                Some(id) => Ok(w.leaf(airsyncbase::INSTANCE_ID, id)?),
                None => Ok(()),
            }
        };
        let raw_data = |w: &mut Encoder<'_>, data: &OwnedElement| -> Result<(), Error> {
            if data.tag != airsync::APPLICATION_DATA {
                return Err(Error::Unencodable("command data is not ApplicationData"));
            }
            Ok(w.owned(data)?)
        };
        match self {
            ClientCommand::Add {
                class,
                client_id,
                data,
            } => {
                w.start(airsync::ADD)?;
                en::opt_leaf(w, airsync::CLASS, class.as_deref())?;
                w.leaf(airsync::CLIENT_ID, client_id)?;
                raw_data(w, data)?;
            }
            ClientCommand::Change {
                server_id,
                instance_id,
                data,
            } => {
                w.start(airsync::CHANGE)?;
                w.leaf(airsync::SERVER_ID, server_id)?;
                instance(w, instance_id)?;
                raw_data(w, data)?;
            }
            ClientCommand::Delete {
                server_id,
                instance_id,
            } => {
                w.start(airsync::DELETE)?;
                w.leaf(airsync::SERVER_ID, server_id)?;
                instance(w, instance_id)?;
            }
            ClientCommand::Fetch { server_id } => {
                w.start(airsync::FETCH)?;
                w.leaf(airsync::SERVER_ID, server_id)?;
            }
        }
        w.end()?;
        Ok(())
    }
}

impl Codec for SyncRequest {
    const ROOT: Tag = airsync::SYNC;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        let collections = decode_collections(root, SyncCollectionRequest::decode)?;
        let wait = de::opt_num(root, airsync::WAIT)?;
        let heartbeat_interval = de::opt_num(root, airsync::HEARTBEAT_INTERVAL)?;
        if wait.is_some() && heartbeat_interval.is_some() {
            return Err(Error::BadValue {
                tag: airsync::HEARTBEAT_INTERVAL,
                why: "Wait and HeartbeatInterval are exclusive",
            });
        }
        Ok(SyncRequest {
            collections,
            wait,
            heartbeat_interval,
            window_size: de::opt_num(root, airsync::WINDOW_SIZE)?,
            partial: de::flag(root, airsync::PARTIAL),
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, v: ProtocolVersion) -> Result<(), Error> {
        if self.wait.is_some() && self.heartbeat_interval.is_some() {
            return Err(Error::Unencodable(
                "Wait and HeartbeatInterval are exclusive",
            ));
        }
        w.start(airsync::SYNC)?;
        if !self.collections.is_empty() {
            w.start(airsync::COLLECTIONS)?;
            for c in &self.collections {
                c.encode(w, v)?;
            }
            w.end()?;
        }
        en::opt_leaf_int(w, airsync::WAIT, self.wait)?;
        en::opt_leaf_int(w, airsync::HEARTBEAT_INTERVAL, self.heartbeat_interval)?;
        en::opt_leaf_int(w, airsync::WINDOW_SIZE, self.window_size)?;
        if self.partial {
            w.empty(airsync::PARTIAL)?;
        }
        w.end()?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------------------------

/// A Sync response.
///
/// Items are written with [`SyncData::Item`], which needs an item [`Context`]: the response
/// carries the client family here and each collection its body preference (neither is on the
/// wire; a decoded response has the defaults).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SyncResponse {
    /// Top-level status: only for a failure of the whole request (e.g. 4, 13, 14, 15).
    pub status: Option<SyncStatus>,
    /// With Status 14: the bound the client broke (Wait minutes or HeartbeatInterval
    /// seconds). Exclusive with `collections`.
    pub limit: Option<u32>,
    pub collections: Vec<SyncCollectionResponse>,
    /// The client family, for items written from the model. Not on the wire.
    pub client: ClientKind,
}

/// One `Collection` of a Sync response.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncCollectionResponse {
    // No Class: MS-ASCMD lets a 12.1 response name it, but SyncResponse.xsd has no place for
    // it and it is optional, so easbox never writes it and ignores it when reading.
    pub sync_key: String,
    pub collection_id: String,
    pub status: SyncStatus,
    /// Answers to the client's commands.
    pub responses: Vec<SyncReply>,
    /// More changes wait beyond this window.
    pub more_available: bool,
    /// Server changes.
    pub commands: Vec<ServerCommand>,
    /// The body preference the client asked for in this collection, for items written from
    /// the model. Not on the wire.
    pub body_preference: Option<BodyPreference>,
}

impl SyncCollectionResponse {
    /// A collection answer with no changes and no replies.
    pub fn new(
        sync_key: impl Into<String>,
        collection_id: impl Into<String>,
        status: SyncStatus,
    ) -> Self {
        SyncCollectionResponse {
            sync_key: sync_key.into(),
            collection_id: collection_id.into(),
            status,
            responses: Vec::new(),
            more_available: false,
            commands: Vec::new(),
            body_preference: None,
        }
    }

    fn decode(e: &Element<'_>) -> Result<Self, Error> {
        let mut responses = Vec::new();
        let mut commands = Vec::new();
        for part in e.elements() {
            if part.tag == airsync::RESPONSES {
                for r in part.elements() {
                    de::cap("Sync responses", responses.len() + 1, caps::MAX_RESPONSES)?;
                    responses.push(SyncReply::decode(r)?);
                }
            } else if part.tag == airsync::COMMANDS {
                for c in part.elements() {
                    de::cap("Sync commands", commands.len() + 1, caps::MAX_COMMANDS)?;
                    commands.push(ServerCommand::decode(c)?);
                }
            }
        }
        Ok(SyncCollectionResponse {
            sync_key: de::req_owned(e, airsync::SYNC_KEY)?,
            collection_id: de::req_owned(e, airsync::COLLECTION_ID)?,
            status: SyncStatus::req(e, airsync::STATUS)?,
            responses,
            more_available: de::flag(e, airsync::MORE_AVAILABLE),
            commands,
            body_preference: None,
        })
    }

    fn encode(
        &self,
        w: &mut Encoder<'_>,
        v: ProtocolVersion,
        client: ClientKind,
    ) -> Result<(), Error> {
        let ctx = Context {
            version: v,
            body: self.body_preference.as_ref(),
            client,
        };
        w.start(airsync::COLLECTION)?;
        w.leaf(airsync::SYNC_KEY, &self.sync_key)?;
        w.leaf(airsync::COLLECTION_ID, &self.collection_id)?;
        w.leaf_int(airsync::STATUS, self.status.as_u8())?;
        if !self.responses.is_empty() {
            w.start(airsync::RESPONSES)?;
            for r in &self.responses {
                r.encode(w, &ctx)?;
            }
            w.end()?;
        }
        if self.more_available {
            w.empty(airsync::MORE_AVAILABLE)?;
        }
        if !self.commands.is_empty() {
            w.start(airsync::COMMANDS)?;
            for c in &self.commands {
                c.encode(w, &ctx)?;
            }
            w.end()?;
        }
        w.end()?;
        Ok(())
    }
}

/// A server change under a response's `Commands`.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerCommand {
    Add {
        server_id: String,
        data: SyncData,
    },
    Change {
        server_id: String,
        data: SyncData,
    },
    Delete {
        server_id: String,
    },
    /// The item left the filter window (e.g. an old appointment); the client drops it
    /// without treating it as deleted.
    SoftDelete {
        server_id: String,
    },
}

impl ServerCommand {
    fn data(e: &Element<'_>) -> Result<SyncData, Error> {
        SyncData::opt_raw(e, airsync::APPLICATION_DATA).ok_or(Error::Missing {
            parent: e.tag,
            child: airsync::APPLICATION_DATA,
        })
    }

    fn decode(e: &Element<'_>) -> Result<Self, Error> {
        let server_id = de::req_owned(e, airsync::SERVER_ID)?;
        Ok(match e.tag {
            airsync::ADD => ServerCommand::Add {
                server_id,
                data: Self::data(e)?,
            },
            airsync::CHANGE => ServerCommand::Change {
                server_id,
                data: Self::data(e)?,
            },
            airsync::DELETE => ServerCommand::Delete { server_id },
            airsync::SOFT_DELETE => ServerCommand::SoftDelete { server_id },
            tag => {
                return Err(Error::BadValue {
                    tag,
                    why: "not a Sync server command",
                });
            }
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, ctx: &Context<'_>) -> Result<(), Error> {
        match self {
            ServerCommand::Add { server_id, data } => {
                w.start(airsync::ADD)?;
                w.leaf(airsync::SERVER_ID, server_id)?;
                data.encode(w, airsync::APPLICATION_DATA, ctx)?;
            }
            ServerCommand::Change { server_id, data } => {
                w.start(airsync::CHANGE)?;
                w.leaf(airsync::SERVER_ID, server_id)?;
                data.encode(w, airsync::APPLICATION_DATA, ctx)?;
            }
            ServerCommand::Delete { server_id } => {
                w.start(airsync::DELETE)?;
                w.leaf(airsync::SERVER_ID, server_id)?;
            }
            ServerCommand::SoftDelete { server_id } => {
                w.start(airsync::SOFT_DELETE)?;
                w.leaf(airsync::SERVER_ID, server_id)?;
            }
        }
        w.end()?;
        Ok(())
    }
}

/// An answer under a response's `Responses`, one per client command that needs one.
#[derive(Clone, Debug, PartialEq)]
pub enum SyncReply {
    /// Always sent for an Add, with the new ServerId on success (EAS-NOTES §3 #3).
    Add {
        client_id: String,
        server_id: Option<String>,
        status: SyncStatus,
    },
    /// Sent for a Change only when it failed. `instance_id` echoes a 16.x client's
    /// InstanceId and is written for 16.x only.
    Change {
        server_id: String,
        instance_id: Option<String>,
        status: SyncStatus,
    },
    /// Sent for a Delete only when it failed; `instance_id` as for Change.
    Delete {
        server_id: String,
        instance_id: Option<String>,
        status: SyncStatus,
    },
    /// The item asked for, or the status why not.
    Fetch {
        server_id: String,
        status: SyncStatus,
        data: Option<SyncData>,
    },
}

impl SyncReply {
    fn decode(e: &Element<'_>) -> Result<Self, Error> {
        let status = SyncStatus::req(e, airsync::STATUS)?;
        Ok(match e.tag {
            airsync::ADD => SyncReply::Add {
                client_id: de::req_owned(e, airsync::CLIENT_ID)?,
                server_id: de::opt_owned(e, airsync::SERVER_ID)?,
                status,
            },
            airsync::CHANGE => SyncReply::Change {
                server_id: de::req_owned(e, airsync::SERVER_ID)?,
                instance_id: de::opt_owned(e, airsyncbase::INSTANCE_ID)?,
                status,
            },
            airsync::DELETE => SyncReply::Delete {
                server_id: de::req_owned(e, airsync::SERVER_ID)?,
                instance_id: de::opt_owned(e, airsyncbase::INSTANCE_ID)?,
                status,
            },
            airsync::FETCH => SyncReply::Fetch {
                server_id: de::req_owned(e, airsync::SERVER_ID)?,
                status,
                data: SyncData::opt_raw(e, airsync::APPLICATION_DATA),
            },
            tag => {
                return Err(Error::BadValue {
                    tag,
                    why: "not a Sync response entry",
                });
            }
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, ctx: &Context<'_>) -> Result<(), Error> {
        match self {
            SyncReply::Add {
                client_id,
                server_id,
                status,
            } => {
                w.start(airsync::ADD)?;
                w.leaf(airsync::CLIENT_ID, client_id)?;
                en::opt_leaf(w, airsync::SERVER_ID, server_id.as_deref())?;
                w.leaf_int(airsync::STATUS, status.as_u8())?;
            }
            SyncReply::Change {
                server_id,
                instance_id,
                status,
            }
            | SyncReply::Delete {
                server_id,
                instance_id,
                status,
            } => {
                let tag = if matches!(self, SyncReply::Change { .. }) {
                    airsync::CHANGE
                } else {
                    airsync::DELETE
                };
                w.start(tag)?;
                w.leaf(airsync::SERVER_ID, server_id)?;
                if ctx.version.is_16() {
                    en::opt_leaf(w, airsyncbase::INSTANCE_ID, instance_id.as_deref())?;
                }
                w.leaf_int(airsync::STATUS, status.as_u8())?;
            }
            SyncReply::Fetch {
                server_id,
                status,
                data,
            } => {
                w.start(airsync::FETCH)?;
                w.leaf(airsync::SERVER_ID, server_id)?;
                w.leaf_int(airsync::STATUS, status.as_u8())?;
                if let Some(d) = data {
                    d.encode(w, airsync::APPLICATION_DATA, ctx)?;
                }
            }
        }
        w.end()?;
        Ok(())
    }
}

impl Codec for SyncResponse {
    const ROOT: Tag = airsync::SYNC;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        let collections = decode_collections(root, SyncCollectionResponse::decode)?;
        Ok(SyncResponse {
            status: SyncStatus::opt(root, airsync::STATUS)?,
            limit: de::opt_num(root, airsync::LIMIT)?,
            collections,
            client: ClientKind::default(),
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, v: ProtocolVersion) -> Result<(), Error> {
        if self.limit.is_some() && !self.collections.is_empty() {
            return Err(Error::Unencodable("Limit and Collections are exclusive"));
        }
        w.start(airsync::SYNC)?;
        if let Some(s) = self.status {
            w.leaf_int(airsync::STATUS, s.as_u8())?;
        }
        en::opt_leaf_int(w, airsync::LIMIT, self.limit)?;
        if !self.collections.is_empty() {
            w.start(airsync::COLLECTIONS)?;
            for c in &self.collections {
                c.encode(w, v, self.client)?;
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

    const V: ProtocolVersion = ProtocolVersion::V14_1;

    fn round<T: Codec + PartialEq + core::fmt::Debug>(x: &T, v: ProtocolVersion) {
        let bytes = to_wbxml(x, v, 1 << 20).unwrap();
        let back: T = from_wbxml(&bytes, v, Limits::DEFAULT).unwrap();
        assert_eq!(&back, x);
    }

    fn collection(key: &str) -> SyncCollectionRequest {
        SyncCollectionRequest {
            sync_key: key.into(),
            collection_id: "1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn window_rules() {
        assert_eq!(effective_window(None), 100);
        assert_eq!(effective_window(Some(0)), 512);
        assert_eq!(effective_window(Some(1)), 1);
        assert_eq!(effective_window(Some(512)), 512);
        assert_eq!(effective_window(Some(513)), 512);
        assert_eq!(effective_window(Some(u32::MAX)), 512);
        let mut c = collection("1");
        c.window_size = Some(25);
        assert_eq!(c.effective_window(), 25);
        c.window_size = Some(0);
        assert_eq!(c.effective_window(), 512);
    }

    #[test]
    fn get_changes_is_implicit_from_14() {
        let mut c = collection("5");
        assert!(!c.wants_changes(ProtocolVersion::V12_1));
        assert!(c.wants_changes(ProtocolVersion::V14_0));
        assert!(c.wants_changes(ProtocolVersion::V16_1));
        c.get_changes = Some(false);
        assert!(!c.wants_changes(ProtocolVersion::V16_1));
        c.get_changes = Some(true);
        assert!(c.wants_changes(ProtocolVersion::V12_1));
        let initial = SyncCollectionRequest {
            get_changes: Some(true),
            ..collection("0")
        };
        assert!(!initial.wants_changes(V));
    }

    #[test]
    fn status_codes() {
        use crate::eas::status::CommonStatus;
        let all = [1u8, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16];
        let named: Vec<u8> = SyncStatus::NAMED.iter().map(|s| s.as_u8()).collect();
        assert_eq!(named, all);
        for c in all {
            assert_eq!(SyncStatus::from_u8(c).as_u8(), c);
        }
        // Unknown codes are kept, not rejected: a peer may send codes newer than this table.
        for c in [0u8, 2, 10, 11, 17, 100, 178] {
            assert_eq!(SyncStatus::from_u8(c), SyncStatus::Other(c), "{c}");
        }
        assert_eq!(
            SyncStatus::from_u8(142),
            SyncStatus::Common(CommonStatus::DeviceNotProvisioned)
        );
        assert_eq!(SyncStatus::InvalidSyncKey.as_u8(), 3);
        assert_eq!(SyncStatus::Retry.as_u8(), 16);
    }

    #[test]
    fn empty_body_is_the_cached_request() {
        let r = SyncRequest::from_body(&[], V, Limits::DEFAULT).unwrap();
        assert!(r.is_empty() && r.uses_cache());
        assert!(r.to_body(V, 1024).unwrap().is_empty());
        // `<Sync/>` means the same.
        let bytes = to_wbxml(&SyncRequest::default(), V, 1024).unwrap();
        assert!(!bytes.is_empty());
        assert!(
            SyncRequest::from_body(&bytes, V, Limits::DEFAULT)
                .unwrap()
                .is_empty()
        );
        let partial = SyncRequest {
            partial: true,
            wait: Some(5),
            ..Default::default()
        };
        assert!(!partial.is_empty() && partial.uses_cache());
        round(&partial, V);
    }

    #[test]
    fn empty_markers_mean_true() {
        let mut c = collection("3");
        c.get_changes = Some(true);
        c.deletes_as_moves = Some(false);
        let req = SyncRequest {
            collections: vec![c],
            ..Default::default()
        };
        let bytes = to_wbxml(&req, V, 1024).unwrap();
        let tree = crate::wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        let col = tree
            .child(airsync::COLLECTIONS)
            .and_then(|c| c.child(airsync::COLLECTION))
            .unwrap();
        assert_eq!(col.child(airsync::GET_CHANGES).unwrap().children.len(), 0);
        assert_eq!(col.child_text(airsync::DELETES_AS_MOVES), Some("0"));
        round(&req, V);
    }

    #[test]
    fn wait_and_heartbeat_are_exclusive() {
        let both = SyncRequest {
            wait: Some(5),
            heartbeat_interval: Some(300),
            ..Default::default()
        };
        assert!(to_wbxml(&both, V, 1024).is_err());
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1024).unwrap();
        w.start(airsync::SYNC).unwrap();
        w.leaf(airsync::WAIT, "5").unwrap();
        w.leaf(airsync::HEARTBEAT_INTERVAL, "300").unwrap();
        w.end().unwrap();
        w.finish().unwrap();
        assert!(matches!(
            from_wbxml::<SyncRequest>(&out, V, Limits::DEFAULT),
            Err(Error::BadValue { .. })
        ));
    }

    #[test]
    fn bad_values_are_errors() {
        let mut o = SyncOptions {
            filter_type: Some(9),
            ..Default::default()
        };
        let mut c = collection("1");
        c.options = vec![o.clone()];
        let req = SyncRequest {
            collections: vec![c.clone()],
            ..Default::default()
        };
        let bytes = to_wbxml(&req, V, 4096).unwrap();
        assert!(from_wbxml::<SyncRequest>(&bytes, V, Limits::DEFAULT).is_err());
        o.filter_type = Some(8);
        o.conflict = Some(Conflict::ClientWins);
        c.options = vec![o];
        round(
            &SyncRequest {
                collections: vec![c],
                ..Default::default()
            },
            V,
        );
    }

    #[test]
    fn raw_data_must_have_the_wrapper_tag() {
        let resp = SyncResponse {
            collections: vec![SyncCollectionResponse {
                commands: vec![ServerCommand::Add {
                    server_id: "1:1".into(),
                    data: SyncData::Raw(OwnedElement::new(airsync::COMMANDS)),
                }],
                ..SyncCollectionResponse::new("2", "1", SyncStatus::Success)
            }],
            ..Default::default()
        };
        assert_eq!(
            to_wbxml(&resp, V, 4096),
            Err(Error::Unencodable("raw item data under another element"))
        );
    }

    #[test]
    fn limit_excludes_collections() {
        let resp = SyncResponse {
            status: Some(SyncStatus::InvalidWaitOrHeartbeat),
            limit: Some(59),
            ..Default::default()
        };
        round(&resp, V);
        let both = SyncResponse {
            collections: vec![SyncCollectionResponse::new("1", "1", SyncStatus::Success)],
            ..resp
        };
        assert!(to_wbxml(&both, V, 4096).is_err());
    }

    fn decode_req(req: &SyncRequest) -> Result<SyncRequest, Error> {
        let bytes = to_wbxml(req, V, 1 << 22).unwrap();
        from_wbxml(&bytes, V, Limits::DEFAULT)
    }

    fn too_many(r: Result<impl core::fmt::Debug, Error>, cap: u32) {
        match r {
            Err(Error::TooMany { cap: c, .. }) => assert_eq!(c, cap),
            other => panic!("expected TooMany({cap}), got {other:?}"),
        }
    }

    fn with_collection(c: SyncCollectionRequest) -> SyncRequest {
        SyncRequest {
            collections: vec![c],
            ..Default::default()
        }
    }

    #[test]
    fn request_caps() {
        let n = caps::MAX_COLLECTIONS as usize;
        let mut req = SyncRequest {
            collections: vec![collection("1"); n],
            ..Default::default()
        };
        assert!(decode_req(&req).is_ok());
        req.collections.push(collection("1"));
        too_many(decode_req(&req), caps::MAX_COLLECTIONS);

        let del = ClientCommand::Delete {
            server_id: "1:1".into(),
            instance_id: None,
        };
        let mut c = collection("4");
        c.commands = vec![del.clone(); caps::MAX_COMMANDS as usize];
        assert!(decode_req(&with_collection(c.clone())).is_ok());
        c.commands.push(del);
        too_many(decode_req(&with_collection(c)), caps::MAX_COMMANDS);

        let mut c = collection("4");
        let o = SyncOptions {
            body_preferences: vec![BodyPreference::plain(); caps::MAX_BODY_PREFERENCES as usize],
            ..Default::default()
        };
        c.options = vec![o.clone()];
        assert!(decode_req(&with_collection(c.clone())).is_ok());
        c.options[0].body_preferences.push(BodyPreference::plain());
        too_many(decode_req(&with_collection(c)), caps::MAX_BODY_PREFERENCES);

        let mut c = collection("4");
        c.options = vec![o.clone(); caps::MAX_OPTIONS as usize];
        assert!(decode_req(&with_collection(c.clone())).is_ok());
        c.options.push(o);
        too_many(decode_req(&with_collection(c)), caps::MAX_OPTIONS);

        let mut c = collection("0");
        c.supported = Some(vec![airsync::CLASS; caps::MAX_SUPPORTED as usize]);
        assert!(decode_req(&with_collection(c.clone())).is_ok());
        if let Some(s) = c.supported.as_mut() {
            s.push(airsync::CLASS);
        }
        too_many(decode_req(&with_collection(c)), caps::MAX_SUPPORTED);
    }

    #[test]
    fn response_caps() {
        let decode = |r: &SyncResponse| {
            let bytes = to_wbxml(r, V, 1 << 22).unwrap();
            from_wbxml::<SyncResponse>(&bytes, V, Limits::DEFAULT)
        };
        let one = SyncCollectionResponse::new("2", "1", SyncStatus::Success);
        let mut r = SyncResponse {
            collections: vec![one.clone(); caps::MAX_COLLECTIONS as usize],
            ..Default::default()
        };
        assert!(decode(&r).is_ok());
        r.collections.push(one.clone());
        too_many(decode(&r), caps::MAX_COLLECTIONS);

        let reply = SyncReply::Change {
            server_id: "1:1".into(),
            instance_id: None,
            status: SyncStatus::ObjectNotFound,
        };
        let mut c = one.clone();
        c.responses = vec![reply.clone(); caps::MAX_RESPONSES as usize];
        let mut r = SyncResponse {
            collections: vec![c],
            ..Default::default()
        };
        assert!(decode(&r).is_ok());
        r.collections[0].responses.push(reply);
        too_many(decode(&r), caps::MAX_RESPONSES);

        let cmd = ServerCommand::SoftDelete {
            server_id: "1:1".into(),
        };
        let mut c = one;
        c.commands = vec![cmd.clone(); caps::MAX_COMMANDS as usize];
        let mut r = SyncResponse {
            collections: vec![c],
            ..Default::default()
        };
        assert!(decode(&r).is_ok());
        r.collections[0].commands.push(cmd);
        too_many(decode(&r), caps::MAX_COMMANDS);
    }

    #[test]
    fn class_in_a_response_collection_is_ignored() {
        // A 12.1 server may name the class there; SyncResponse.xsd has no place for it.
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 4096).unwrap();
        w.start(airsync::SYNC).unwrap();
        w.start(airsync::COLLECTIONS).unwrap();
        w.start(airsync::COLLECTION).unwrap();
        w.leaf(airsync::CLASS, "Contacts").unwrap();
        w.leaf(airsync::SYNC_KEY, "1").unwrap();
        w.leaf(airsync::COLLECTION_ID, "2").unwrap();
        w.leaf(airsync::STATUS, "1").unwrap();
        for _ in 0..3 {
            w.end().unwrap();
        }
        w.finish().unwrap();
        let back: SyncResponse = from_wbxml(&out, ProtocolVersion::V12_1, Limits::DEFAULT).unwrap();
        let want = SyncCollectionResponse::new("1", "2", SyncStatus::Success);
        assert_eq!(back.collections, vec![want.clone()]);
        let again = to_wbxml(&back, ProtocolVersion::V12_1, 4096).unwrap();
        assert!(
            !crate::wbxml::to_xml(&crate::wbxml::parse(&again, Limits::DEFAULT).unwrap())
                .contains("Class")
        );
    }
}
