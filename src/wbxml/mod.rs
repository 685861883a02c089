//! WBXML 1.3 as Exchange ActiveSync uses it ([MS-ASWBXML] 2.1.2, WAP-192-WBXML).
//!
//! EAS uses a small subset of WBXML: the header `03 01 6A 00` (version 1.3, unknown public id,
//! UTF-8, empty string table), `SWITCH_PAGE`, `END`, `STR_I`, `OPAQUE` and tags with the content
//! bit. String tables, attributes, entities, literals, extensions and processing instructions
//! never occur in EAS; they are rejected with [`Error::Unsupported`] rather than half-supported.
//!
//! - [`Decoder`] yields [`Event`]s that borrow strings and opaque data from the input.
//! - [`parse`] builds a small borrowed tree ([`Element`]) on top of it.
//! - [`Encoder`] writes into a caller's `Vec<u8>` and refuses to grow it past a cap.
//!
//! Every resource a hostile peer could inflate has a named limit in [`Limits`].

mod codepages;
mod decode;
mod encode;
mod tree;
mod xml;

pub use codepages::*;
pub use decode::{Decoder, Event, parse};
pub use encode::Encoder;
pub use tree::{Element, Node, OwnedElement, OwnedNode};
pub use xml::to_xml;

use core::fmt;

/// The four header bytes every EAS body starts with.
pub const HEADER: [u8; 4] = [0x03, 0x01, 0x6A, 0x00];

/// One element name: a code page and a token within it ([MS-ASWBXML] 2.1.2.1).
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Tag {
    pub page: u8,
    pub token: u8,
}

impl Tag {
    /// Tokens 0x00–0x04 are WBXML global tokens; element tokens use the low six bits.
    pub const MIN_TOKEN: u8 = 0x05;
    pub const MAX_TOKEN: u8 = 0x3F;

    pub const fn new(page: u8, token: u8) -> Tag {
        Tag { page, token }
    }

    /// `Page:Name` from the code page tables, or `Page:0xNN` for a token the tables lack.
    pub fn name(self) -> Option<&'static str> {
        codepages::tag_name(self)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (codepages::page_name(self.page), self.name()) {
            (Some(p), Some(n)) => write!(f, "{p}:{n}"),
            (Some(p), None) => write!(f, "{p}:0x{:02X}", self.token),
            _ => write!(f, "{}:0x{:02X}", self.page, self.token),
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Caps on what one document may contain. Exceeding any of them is an [`Error`], never a panic
/// or an unbounded allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest element nesting. A Sync with an exception's attendee is about 12 deep.
    pub max_depth: u16,
    /// Longest inline string in bytes (notes, bodies).
    pub max_string_len: u32,
    /// Longest opaque blob in bytes (contact pictures: the spec says 48 KB, phones send MBs).
    pub max_opaque_len: u32,
    /// Most elements in one document.
    pub max_elements: u32,
}

impl Limits {
    pub const MAX_DEPTH: u16 = 32;
    pub const MAX_STRING_LEN: u32 = 1024 * 1024;
    pub const MAX_OPAQUE_LEN: u32 = 8 * 1024 * 1024;
    pub const MAX_ELEMENTS: u32 = 500_000;

    pub const DEFAULT: Limits = Limits {
        max_depth: Self::MAX_DEPTH,
        max_string_len: Self::MAX_STRING_LEN,
        max_opaque_len: Self::MAX_OPAQUE_LEN,
        max_elements: Self::MAX_ELEMENTS,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Which limit was exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Depth,
    StringLen,
    OpaqueLen,
    Elements,
    /// The encoder's output cap.
    OutputSize,
}

/// Everything that can go wrong in this layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The input ended inside a token, string or element.
    Truncated,
    /// The header is not WBXML 1.x with UTF-8 and an empty string table.
    BadHeader(&'static str),
    /// A WBXML feature EAS does not use (string table, attributes, entities, literals, PIs,
    /// extensions).
    Unsupported(&'static str),
    /// A multi-byte integer longer than 32 bits.
    BadInteger,
    /// A string that is not UTF-8.
    BadUtf8,
    /// A code page number outside 0–25 ([MS-ASWBXML] 2.1.2.1).
    UnknownPage(u8),
    /// `END` with no element open, text outside the root, or a second root.
    Structure(&'static str),
    /// A named limit was exceeded.
    LimitExceeded(Limit),
    /// Encoder misuse: an inline string containing NUL, `end` without `start`, unfinished
    /// elements at `finish`.
    Encode(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("WBXML input ends early"),
            Error::BadHeader(why) => write!(f, "bad WBXML header: {why}"),
            Error::Unsupported(what) => write!(f, "WBXML {what} is not used by EAS"),
            Error::BadInteger => f.write_str("WBXML multi-byte integer overflows 32 bits"),
            Error::BadUtf8 => f.write_str("WBXML string is not UTF-8"),
            Error::UnknownPage(p) => write!(f, "unknown WBXML code page {p}"),
            Error::Structure(why) => write!(f, "malformed WBXML: {why}"),
            Error::LimitExceeded(l) => write!(f, "WBXML limit exceeded: {l:?}"),
            Error::Encode(why) => write!(f, "WBXML encoder: {why}"),
        }
    }
}

impl std::error::Error for Error {}
