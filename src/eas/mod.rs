//! Exchange ActiveSync as typed values: the request line ([MS-ASHTTP] 2.2.1.1), protocol
//! versions, typed requests and responses per command ([MS-ASCMD] 2.2.1), their status codes,
//! and the EAS form of the domain items ([MS-ASCNTC], [MS-ASCAL], [MS-ASTASK],
//! [MS-ASAIRS] bodies, [MS-ASDTYPE] 2.7.6 time zones).
//!
//! Sans-io: every function takes bytes or typed values and returns bytes or typed values.
//! Decoding reads a borrowed [`wbxml::Element`] tree; encoding writes through a capped
//! [`wbxml::Encoder`].

pub mod commands;
pub mod items;
pub mod request;
pub mod status;
pub mod timezone;
mod version;

pub use version::ProtocolVersion;

use crate::wbxml::{self, Element, Encoder, Limits, Tag};
use core::fmt;

/// Errors of the EAS layer. The mapping to an EAS status or HTTP code lives in one place in
/// the HTTP layer, keyed on these variants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The body is not well-formed WBXML or breaks a WBXML limit.
    Wbxml(wbxml::Error),
    /// The root element is not the command's.
    WrongRoot { expected: Tag, found: Tag },
    /// A required element is missing.
    Missing { parent: Tag, child: Tag },
    /// An element holds a value that is not allowed there.
    BadValue { tag: Tag, why: &'static str },
    /// More of something than the named cap allows.
    TooMany { what: &'static str, cap: u32 },
    /// The MS-ASHTTP request line (query string or base64 form) is malformed.
    BadRequestLine(&'static str),
    /// A protocol version easbox does not speak.
    UnsupportedVersion,
    /// A value cannot be written in EAS form (e.g. a date outside the EAS range).
    Unencodable(&'static str),
}

impl From<wbxml::Error> for Error {
    fn from(e: wbxml::Error) -> Self {
        Error::Wbxml(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Wbxml(e) => write!(f, "{e}"),
            Error::WrongRoot { expected, found } => {
                write!(f, "expected root element {expected}, found {found}")
            }
            Error::Missing { parent, child } => write!(f, "{parent} lacks {child}"),
            Error::BadValue { tag, why } => write!(f, "bad value in {tag}: {why}"),
            Error::TooMany { what, cap } => write!(f, "too many {what} (cap {cap})"),
            Error::BadRequestLine(why) => write!(f, "bad request line: {why}"),
            Error::UnsupportedVersion => f.write_str("unsupported protocol version"),
            Error::Unencodable(why) => write!(f, "cannot encode: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// A command body: a request or response with its own root element.
pub trait Codec: Sized {
    /// The root element of the body.
    const ROOT: Tag;
    /// Reads the body from its root element.
    fn decode(root: &Element<'_>, v: ProtocolVersion) -> Result<Self, Error>;
    /// Writes the body, root element included.
    fn encode(&self, w: &mut Encoder<'_>, v: ProtocolVersion) -> Result<(), Error>;
}

/// Encodes a command body into a new buffer of at most `cap` bytes.
pub fn to_wbxml<T: Codec>(body: &T, v: ProtocolVersion, cap: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, cap)?;
    body.encode(&mut w, v)?;
    w.finish()?;
    Ok(out)
}

/// Decodes a command body, checking its root element.
pub fn from_wbxml<T: Codec>(bytes: &[u8], v: ProtocolVersion, limits: Limits) -> Result<T, Error> {
    let root = wbxml::parse(bytes, limits)?;
    T::decode(expect_root(&root, T::ROOT)?, v)
}

/// Reading helpers shared by the command and item decoders.
pub(crate) mod de {
    use super::Error;
    use crate::wbxml::{Element, Tag};
    use core::str::FromStr;

    pub fn expect_root<'e, 'a>(e: &'e Element<'a>, tag: Tag) -> Result<&'e Element<'a>, Error> {
        if e.tag != tag {
            return Err(Error::WrongRoot {
                expected: tag,
                found: e.tag,
            });
        }
        Ok(e)
    }

    /// Text of an element that must not hold child elements.
    pub fn text_of<'a>(e: &Element<'a>) -> Result<&'a str, Error> {
        e.text().ok_or(Error::BadValue {
            tag: e.tag,
            why: "expected text",
        })
    }

    /// Text of an optional child.
    pub fn opt_text<'a>(e: &Element<'a>, tag: Tag) -> Result<Option<&'a str>, Error> {
        e.child(tag).map(text_of).transpose()
    }

    /// Text of a required child.
    pub fn req_text<'a>(e: &Element<'a>, tag: Tag) -> Result<&'a str, Error> {
        opt_text(e, tag)?.ok_or(Error::Missing {
            parent: e.tag,
            child: tag,
        })
    }

    /// Text of an optional child, owned (for decoded structs that outlive the tree).
    pub fn opt_owned(e: &Element<'_>, tag: Tag) -> Result<Option<String>, Error> {
        Ok(opt_text(e, tag)?.map(str::to_owned))
    }

    /// Text of a required child, owned.
    pub fn req_owned(e: &Element<'_>, tag: Tag) -> Result<String, Error> {
        Ok(req_text(e, tag)?.to_owned())
    }

    /// A number in an element's text.
    pub fn num_of<T: FromStr>(e: &Element<'_>) -> Result<T, Error> {
        text_of(e)?.trim().parse().map_err(|_| Error::BadValue {
            tag: e.tag,
            why: "not a number in range",
        })
    }

    /// A number in an optional child.
    pub fn opt_num<T: FromStr>(e: &Element<'_>, tag: Tag) -> Result<Option<T>, Error> {
        e.child(tag).map(num_of).transpose()
    }

    /// A number in a required child.
    pub fn req_num<T: FromStr>(e: &Element<'_>, tag: Tag) -> Result<T, Error> {
        opt_num(e, tag)?.ok_or(Error::Missing {
            parent: e.tag,
            child: tag,
        })
    }

    /// An EAS boolean (`0`/`1`) in an optional child.
    pub fn opt_bool(e: &Element<'_>, tag: Tag) -> Result<Option<bool>, Error> {
        match opt_text(e, tag)?.map(str::trim) {
            None => Ok(None),
            Some("1") => Ok(Some(true)),
            Some("0") | Some("") => Ok(Some(false)),
            Some(_) => Err(Error::BadValue {
                tag,
                why: "expected 0 or 1",
            }),
        }
    }

    /// An empty marker element such as `<GetChanges/>` or `<Deleted/>`: present or not.
    pub fn flag(e: &Element<'_>, tag: Tag) -> bool {
        e.child(tag).is_some()
    }

    /// A number in an optional child, at most `max` (`why` names the range when it is not).
    pub fn opt_ranged(
        e: &Element<'_>,
        tag: Tag,
        max: u8,
        why: &'static str,
    ) -> Result<Option<u8>, Error> {
        match opt_num::<u8>(e, tag)? {
            Some(n) if n > max => Err(Error::BadValue { tag, why }),
            n => Ok(n),
        }
    }

    /// Decodes each element of `items` with `f`, failing with `TooMany` on the element past
    /// `cap` before decoding it.
    pub fn capped<'e, 'a: 'e, T>(
        items: impl Iterator<Item = &'e Element<'a>>,
        what: &'static str,
        cap_at: u32,
        mut f: impl FnMut(&'e Element<'a>) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        for e in items {
            cap(what, out.len() + 1, cap_at)?;
            out.push(f(e)?);
        }
        Ok(out)
    }

    /// Fails when `count` exceeds `cap`; used before collecting repeated elements.
    pub fn cap(what: &'static str, count: usize, cap: u32) -> Result<(), Error> {
        if count > cap as usize {
            return Err(Error::TooMany { what, cap });
        }
        Ok(())
    }
}

pub(crate) use de::expect_root;

/// Writing helpers shared by the command and item encoders: optional fields are left out,
/// never written empty.
pub(crate) mod en {
    use super::Error;
    use crate::wbxml::{Encoder, Tag};

    /// `<tag>text</tag>` when there is a value.
    pub fn opt_leaf(w: &mut Encoder<'_>, tag: Tag, v: Option<&str>) -> Result<(), Error> {
        if let Some(s) = v {
            w.leaf(tag, s)?;
        }
        Ok(())
    }

    /// `<tag>n</tag>` when there is a value.
    pub fn opt_leaf_int(
        w: &mut Encoder<'_>,
        tag: Tag,
        v: Option<impl Into<i64>>,
    ) -> Result<(), Error> {
        if let Some(n) = v {
            w.leaf_int(tag, n)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Error, de, en};
    use crate::wbxml::{Encoder, Limits, airsync, parse};

    /// `<Sync>` holding `n` `<Collection>` leaves and a `<WindowSize>` of `window`.
    fn doc(n: u32, window: &str) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut w = Encoder::new(&mut buf, 4096).unwrap();
        w.start(airsync::SYNC).unwrap();
        for i in 0..n {
            w.leaf_int(airsync::COLLECTION, i).unwrap();
        }
        w.leaf(airsync::WINDOW_SIZE, window).unwrap();
        en::opt_leaf(&mut w, airsync::SYNC_KEY, None).unwrap();
        en::opt_leaf_int(&mut w, airsync::WAIT, None::<u32>).unwrap();
        en::opt_leaf(&mut w, airsync::CLASS, Some("Email")).unwrap();
        en::opt_leaf_int(&mut w, airsync::LIMIT, Some(7u32)).unwrap();
        w.end().unwrap();
        w.finish().unwrap();
        buf
    }

    #[test]
    fn capped_allows_exactly_the_cap() {
        let read = |n| {
            let bytes = doc(n, "1");
            let root = parse(&bytes, Limits::DEFAULT).unwrap();
            de::capped(root.children_with(airsync::COLLECTION), "c", 3, |e| {
                de::num_of::<u32>(e)
            })
        };
        assert_eq!(read(0).unwrap(), Vec::<u32>::new());
        assert_eq!(read(3).unwrap(), [0, 1, 2]);
        assert!(matches!(read(4), Err(Error::TooMany { what: "c", cap: 3 })));
    }

    #[test]
    fn opt_ranged_bounds_and_owned_text() {
        let check = |window: &str| {
            let bytes = doc(0, window);
            let root = parse(&bytes, Limits::DEFAULT).unwrap();
            de::opt_ranged(&root, airsync::WINDOW_SIZE, 8, "w")
        };
        assert_eq!(check("8").unwrap(), Some(8));
        assert_eq!(check("0").unwrap(), Some(0));
        assert!(matches!(check("9"), Err(Error::BadValue { why: "w", .. })));
        assert!(matches!(check("x"), Err(Error::BadValue { .. })));

        let bytes = doc(0, "1");
        let root = parse(&bytes, Limits::DEFAULT).unwrap();
        assert_eq!(
            de::opt_ranged(&root, airsync::FILTER_TYPE, 8, "f").unwrap(),
            None
        );
        // en::opt_leaf* wrote only the present values.
        assert_eq!(de::opt_owned(&root, airsync::SYNC_KEY).unwrap(), None);
        assert_eq!(de::opt_owned(&root, airsync::WAIT).unwrap(), None);
        assert_eq!(de::req_owned(&root, airsync::CLASS).unwrap(), "Email");
        assert_eq!(
            de::opt_owned(&root, airsync::LIMIT).unwrap().as_deref(),
            Some("7")
        );
        assert!(matches!(
            de::req_owned(&root, airsync::SYNC_KEY),
            Err(Error::Missing { .. })
        ));
    }
}
