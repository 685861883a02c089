//! The 26 code pages of [MS-ASWBXML] 2.1.2.1, with the element names of the specification.
//!
//! Each page is a module with one `Tag` constant per element (`airsync::SYNC_KEY`) and a
//! `TAGS` table used for names in logs, XML dumps and tests.

use super::Tag;

macro_rules! codepage {
    ($page:literal, $name:literal, $module:ident { $($konst:ident = $token:literal $text:literal,)* }) => {
        #[doc = concat!("Code page ", stringify!($page), ": ", $name, ".")]
        pub mod $module {
            use super::super::Tag;
            pub const PAGE: u8 = $page;
            pub const NAME: &str = $name;
            $(pub const $konst: Tag = Tag::new($page, $token);)*
            /// Every token of the page with its specification name, ascending.
            pub const TAGS: &[(u8, &str)] = &[$(($token, $text),)*];
        }
    };
}

codepage!(0, "AirSync", airsync {
    SYNC = 0x05 "Sync",
    RESPONSES = 0x06 "Responses",
    ADD = 0x07 "Add",
    CHANGE = 0x08 "Change",
    DELETE = 0x09 "Delete",
    FETCH = 0x0A "Fetch",
    SYNC_KEY = 0x0B "SyncKey",
    CLIENT_ID = 0x0C "ClientId",
    SERVER_ID = 0x0D "ServerId",
    STATUS = 0x0E "Status",
    COLLECTION = 0x0F "Collection",
    CLASS = 0x10 "Class",
    COLLECTION_ID = 0x12 "CollectionId",
    GET_CHANGES = 0x13 "GetChanges",
    MORE_AVAILABLE = 0x14 "MoreAvailable",
    WINDOW_SIZE = 0x15 "WindowSize",
    COMMANDS = 0x16 "Commands",
    OPTIONS = 0x17 "Options",
    FILTER_TYPE = 0x18 "FilterType",
    CONFLICT = 0x1B "Conflict",
    COLLECTIONS = 0x1C "Collections",
    APPLICATION_DATA = 0x1D "ApplicationData",
    DELETES_AS_MOVES = 0x1E "DeletesAsMoves",
    SUPPORTED = 0x20 "Supported",
    SOFT_DELETE = 0x21 "SoftDelete",
    MIME_SUPPORT = 0x22 "MIMESupport",
    MIME_TRUNCATION = 0x23 "MIMETruncation",
    WAIT = 0x24 "Wait",
    LIMIT = 0x25 "Limit",
    PARTIAL = 0x26 "Partial",
    CONVERSATION_MODE = 0x27 "ConversationMode",
    MAX_ITEMS = 0x28 "MaxItems",
    HEARTBEAT_INTERVAL = 0x29 "HeartbeatInterval",
});

// PAGES-TODO: pages 1-25 are filled in below.

/// All pages by number; index = page number.
pub const PAGES: &[(&str, &[(u8, &str)])] = &[(airsync::NAME, airsync::TAGS)];

/// The page's specification name (`AirSync`, `Contacts`, …).
pub fn page_name(page: u8) -> Option<&'static str> {
    PAGES.get(usize::from(page)).map(|p| p.0)
}

/// The page number for a page name.
pub fn page_by_name(name: &str) -> Option<u8> {
    PAGES
        .iter()
        .position(|p| p.0 == name)
        .and_then(|i| u8::try_from(i).ok())
}

/// The element's specification name.
pub fn tag_name(tag: Tag) -> Option<&'static str> {
    let (_, tags) = PAGES.get(usize::from(tag.page))?;
    tags.iter().find(|t| t.0 == tag.token).map(|t| t.1)
}

/// The tag for a page number and element name.
pub fn tag_by_name(page: u8, name: &str) -> Option<Tag> {
    let (_, tags) = PAGES.get(usize::from(page))?;
    tags.iter()
        .find(|t| t.1 == name)
        .map(|t| Tag::new(page, t.0))
}
