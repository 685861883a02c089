//! [MS-ASCMD] 2.2.1.16 Search, as easbox offers it: the global address list (Store Name
//! `GAL`) searched by a text Query, with a result Range and optional contact pictures.
//!
//! Mailbox and document-library searches decode without failing (their structured Query is
//! kept as sent) so that the server can answer them with a Store status. Response element
//! order follows `SearchResponse.xsd`: Status, Response/Store (Status, Result*, Range, Total);
//! GAL properties ([MS-ASCMD] 2.2.3.135.3 and the GAL code page) are written in code page
//! order. Status codes: 2.2.3.177.13.

use crate::eas::status::status_enum;
use crate::eas::{Codec, Error, ProtocolVersion, de, en};
use crate::wbxml::{Element, Encoder, OwnedElement, Tag, gal, search as sr};
use core::fmt;

/// Most Result elements decoded from one response. Range allows 1,000 (0–999).
pub const MAX_RESULTS: u32 = 1_000;

/// Highest index a Range may name (`Search.xsd`: at most three digits).
pub const MAX_RANGE_INDEX: u16 = 999;

/// The Store Name of the global address list.
pub const STORE_GAL: &str = "GAL";

status_enum! {
    /// Status of the Search element ([MS-ASCMD] 2.2.3.177.13).
    pub enum SearchStatus with common {
        Success = 1,
        ServerError = 3,
    }
}

status_enum! {
    /// Status of the Store element ([MS-ASCMD] 2.2.3.177.13).
    pub enum StoreStatus with common {
        Success = 1,
        /// The request is invalid.
        InvalidRequest = 2,
        ServerError = 3,
        /// A document-library link is bad.
        BadLink = 4,
        AccessDenied = 5,
        /// The store or object was not found.
        NotFound = 6,
        ConnectionFailed = 7,
        /// The query is too complex.
        QueryTooComplex = 8,
        /// The search timed out.
        TimedOut = 10,
        /// The client must run FolderSync.
        FolderSyncRequired = 11,
        /// The requested range is past the last result.
        EndOfRetrievableRangeExceeded = 12,
        AccessBlocked = 13,
        CredentialsRequired = 14,
    }
}

status_enum! {
    /// Status of a GAL Picture ([MS-ASCMD] 2.2.3.177.13; the common codes 173–175).
    pub enum PictureStatus {
        Success = 1,
        /// The contact has no picture.
        NoPicture = 173,
        /// The picture is larger than MaxSize.
        TooLarge = 174,
        /// More pictures than MaxPictures were asked for.
        LimitReached = 175,
    }
}

/// A Range `start-end`, both inclusive, zero-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SearchRange {
    pub start: u16,
    pub end: u16,
}

impl SearchRange {
    /// Parses `0-99`; both bounds at most [`MAX_RANGE_INDEX`] and in order.
    pub fn parse(s: &str) -> Option<SearchRange> {
        let (a, b) = s.trim().split_once('-')?;
        let digits =
            |x: &str| !x.is_empty() && x.len() <= 3 && x.bytes().all(|c| c.is_ascii_digit());
        if !digits(a) || !digits(b) {
            return None;
        }
        let r = SearchRange {
            start: a.parse().ok()?,
            end: b.parse().ok()?,
        };
        (r.start <= r.end).then_some(r)
    }

    fn valid(self) -> bool {
        self.start <= self.end && self.end <= MAX_RANGE_INDEX
    }

    fn decode(e: &Element<'_>) -> Result<SearchRange, Error> {
        SearchRange::parse(de::text_of(e)?).ok_or(Error::BadValue {
            tag: e.tag,
            why: "range must be start-end, 0-999",
        })
    }

    fn encode(self, w: &mut Encoder<'_>) -> Result<(), Error> {
        if !self.valid() {
            return Err(Error::Unencodable("range must be start-end, 0-999"));
        }
        w.leaf(sr::RANGE, &self.to_string())?;
        Ok(())
    }
}

impl fmt::Display for SearchRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// The Query of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// A GAL query: the text to look for.
    Text(String),
    /// A mailbox or document-library query (And, FreeText, EqualTo…), the Query element as
    /// sent.
    Structured(OwnedElement),
}

/// The Picture option: the client wants contact pictures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PictureOptions {
    /// Largest picture in bytes.
    pub max_size: Option<u32>,
    /// Most pictures in the response.
    pub max_pictures: Option<u32>,
}

/// The Options of a request, as far as GAL searches use them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchOptions {
    pub range: Option<SearchRange>,
    pub picture: Option<PictureOptions>,
}

/// A Search request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRequest {
    /// The Store Name: [`STORE_GAL`], `Mailbox` or `DocumentLibrary`.
    pub store: String,
    pub query: Query,
    pub options: SearchOptions,
}

impl SearchRequest {
    /// A GAL search for `text`.
    pub fn gal(text: &str, options: SearchOptions) -> Self {
        SearchRequest {
            store: STORE_GAL.to_owned(),
            query: Query::Text(text.to_owned()),
            options,
        }
    }

    /// Whether this searches the global address list.
    pub fn is_gal(&self) -> bool {
        self.store.eq_ignore_ascii_case(STORE_GAL)
    }
}

/// A picture in a GAL result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GalPicture {
    pub status: PictureStatus,
    /// The image (JPEG), with [`PictureStatus::Success`].
    pub data: Option<Vec<u8>>,
}

/// One GAL entry ([MS-ASCMD] 2.2.3.135.3 and the GAL code page).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GalEntry {
    pub display_name: Option<String>,
    pub phone: Option<String>,
    pub office: Option<String>,
    pub title: Option<String>,
    pub company: Option<String>,
    pub alias: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub home_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub email_address: Option<String>,
    pub picture: Option<GalPicture>,
}

/// The Store of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreResponse {
    pub status: StoreStatus,
    /// Matches; with none, an empty Result is written, as the specification asks.
    pub results: Vec<GalEntry>,
    /// The range returned, when there are matches.
    pub range: Option<SearchRange>,
    /// All matches, also those outside the range.
    pub total: Option<u32>,
}

/// A Search response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchResponse {
    pub status: SearchStatus,
    /// Absent when the whole request failed.
    pub store: Option<StoreResponse>,
}

impl GalEntry {
    fn strings(&self) -> [(Tag, &Option<String>); 11] {
        [
            (gal::DISPLAY_NAME, &self.display_name),
            (gal::PHONE, &self.phone),
            (gal::OFFICE, &self.office),
            (gal::TITLE, &self.title),
            (gal::COMPANY, &self.company),
            (gal::ALIAS, &self.alias),
            (gal::FIRST_NAME, &self.first_name),
            (gal::LAST_NAME, &self.last_name),
            (gal::HOME_PHONE, &self.home_phone),
            (gal::MOBILE_PHONE, &self.mobile_phone),
            (gal::EMAIL_ADDRESS, &self.email_address),
        ]
    }

    /// Reads the children of a `Properties` element; non-GAL properties are skipped.
    fn decode(p: &Element<'_>) -> Result<GalEntry, Error> {
        let s = |tag| de::opt_owned(p, tag);
        let picture = match p.child(gal::PICTURE) {
            None => None,
            Some(pic) => Some(GalPicture {
                status: PictureStatus::req(pic, gal::STATUS)?,
                data: match pic.child(gal::DATA) {
                    None => None,
                    Some(d) => Some(
                        d.bytes()
                            .ok_or(Error::BadValue {
                                tag: gal::DATA,
                                why: "expected picture bytes",
                            })?
                            .to_vec(),
                    ),
                },
            }),
        };
        Ok(GalEntry {
            display_name: s(gal::DISPLAY_NAME)?,
            phone: s(gal::PHONE)?,
            office: s(gal::OFFICE)?,
            title: s(gal::TITLE)?,
            company: s(gal::COMPANY)?,
            alias: s(gal::ALIAS)?,
            first_name: s(gal::FIRST_NAME)?,
            last_name: s(gal::LAST_NAME)?,
            home_phone: s(gal::HOME_PHONE)?,
            mobile_phone: s(gal::MOBILE_PHONE)?,
            email_address: s(gal::EMAIL_ADDRESS)?,
            picture,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>) -> Result<(), Error> {
        w.start(sr::RESULT)?;
        w.start(sr::PROPERTIES)?;
        for (tag, v) in self.strings() {
            if let Some(v) = v {
                w.leaf(tag, v)?;
            }
        }
        if let Some(p) = &self.picture {
            w.start(gal::PICTURE)?;
            w.leaf_int(gal::STATUS, p.status.as_u8())?;
            if let Some(d) = &p.data {
                w.leaf_opaque(gal::DATA, d)?;
            }
            w.end()?;
        }
        w.end()?;
        w.end()?;
        Ok(())
    }
}

impl Codec for SearchRequest {
    const ROOT: Tag = sr::SEARCH;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        de::expect_root(root, Self::ROOT)?;
        let store = root.child(sr::STORE).ok_or(Error::Missing {
            parent: sr::SEARCH,
            child: sr::STORE,
        })?;
        let name = de::req_text(store, sr::NAME_TAG)?.trim();
        let q = store.child(sr::QUERY).ok_or(Error::Missing {
            parent: sr::STORE,
            child: sr::QUERY,
        })?;
        let query = match q.text() {
            Some(t) => Query::Text(t.to_owned()),
            None => Query::Structured(q.to_owned_element()),
        };
        let mut options = SearchOptions::default();
        if let Some(o) = store.child(sr::OPTIONS) {
            options.range = o.child(sr::RANGE).map(SearchRange::decode).transpose()?;
            options.picture = match o.child(sr::PICTURE) {
                None => None,
                Some(p) => Some(PictureOptions {
                    max_size: de::opt_num(p, sr::MAX_SIZE)?,
                    max_pictures: de::opt_num(p, sr::MAX_PICTURES)?,
                }),
            };
        }
        Ok(SearchRequest {
            store: name.to_owned(),
            query,
            options,
        })
    }

    fn encode(&self, w: &mut Encoder<'_>, _v: ProtocolVersion) -> Result<(), Error> {
        w.start(Self::ROOT)?;
        w.start(sr::STORE)?;
        w.leaf(sr::NAME_TAG, &self.store)?;
        match &self.query {
            Query::Text(t) => w.leaf(sr::QUERY, t)?,
            Query::Structured(q) => {
                if q.tag != sr::QUERY {
                    return Err(Error::Unencodable(
                        "structured query must be a Query element",
                    ));
                }
                w.owned(q)?;
            }
        }
        let o = &self.options;
        if o.range.is_some() || o.picture.is_some() {
            w.start(sr::OPTIONS)?;
            if let Some(r) = o.range {
                r.encode(w)?;
            }
            if let Some(p) = o.picture {
                w.start(sr::PICTURE)?;
                en::opt_leaf_int(w, sr::MAX_SIZE, p.max_size)?;
                en::opt_leaf_int(w, sr::MAX_PICTURES, p.max_pictures)?;
                w.end()?;
            }
            w.end()?;
        }
        w.end()?;
        w.end()?;
        Ok(())
    }
}

impl Codec for SearchResponse {
    const ROOT: Tag = sr::SEARCH;

    fn decode(root: &Element<'_>, _v: ProtocolVersion) -> Result<Self, Error> {
        de::expect_root(root, Self::ROOT)?;
        // The schema makes the top Status optional; without it the Store's status speaks.
        let status = SearchStatus::opt(root, sr::STATUS)?.unwrap_or(SearchStatus::Success);
        let store = match root.child(sr::RESPONSE).and_then(|r| r.child(sr::STORE)) {
            None => None,
            Some(s) => {
                let mut results = Vec::new();
                for r in s.children_with(sr::RESULT) {
                    let Some(p) = r.child(sr::PROPERTIES) else {
                        continue;
                    };
                    de::cap("Search results", results.len() + 1, MAX_RESULTS)?;
                    results.push(GalEntry::decode(p)?);
                }
                Some(StoreResponse {
                    status: StoreStatus::req(s, sr::STATUS)?,
                    results,
                    range: s.child(sr::RANGE).map(SearchRange::decode).transpose()?,
                    total: de::opt_num(s, sr::TOTAL)?,
                })
            }
        };
        Ok(SearchResponse { status, store })
    }

    fn encode(&self, w: &mut Encoder<'_>, _v: ProtocolVersion) -> Result<(), Error> {
        w.start(Self::ROOT)?;
        w.leaf_int(sr::STATUS, self.status.as_u8())?;
        if let Some(s) = &self.store {
            w.start(sr::RESPONSE)?;
            w.start(sr::STORE)?;
            w.leaf_int(sr::STATUS, s.status.as_u8())?;
            if s.results.is_empty() {
                if s.status == StoreStatus::Success {
                    w.empty(sr::RESULT)?;
                }
            } else {
                for r in &s.results {
                    r.encode(w)?;
                }
            }
            if let Some(r) = s.range {
                r.encode(w)?;
            }
            en::opt_leaf_int(w, sr::TOTAL, s.total)?;
            w.end()?;
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

    fn rt<T: Codec + PartialEq + core::fmt::Debug>(x: &T) {
        let b = to_wbxml(x, V, 1 << 20).unwrap();
        assert_eq!(&from_wbxml::<T>(&b, V, Limits::DEFAULT).unwrap(), x);
    }

    #[test]
    fn range_parsing() {
        assert_eq!(
            SearchRange::parse("0-99"),
            Some(SearchRange { start: 0, end: 99 })
        );
        for bad in ["", "5", "9-1", "0-1000", "-1-3", "a-b", "1-", "0001-2"] {
            assert_eq!(SearchRange::parse(bad), None, "{bad}");
        }
        assert_eq!(SearchRange { start: 3, end: 7 }.to_string(), "3-7");
    }

    #[test]
    fn request_round_trips() {
        rt(&SearchRequest::gal(
            "ross",
            SearchOptions {
                range: Some(SearchRange { start: 0, end: 99 }),
                picture: Some(PictureOptions {
                    max_size: Some(36_000),
                    max_pictures: Some(10),
                }),
            },
        ));
        rt(&SearchRequest::gal(
            "a",
            SearchOptions {
                range: None,
                picture: Some(PictureOptions::default()),
            },
        ));
        rt(&SearchRequest::gal("b", SearchOptions::default()));
        let q = OwnedElement::new(sr::QUERY)
            .with(OwnedElement::new(sr::AND).with(OwnedElement::leaf(sr::FREE_TEXT, "test")));
        rt(&SearchRequest {
            store: "Mailbox".into(),
            query: Query::Structured(q),
            options: SearchOptions::default(),
        });
    }

    #[test]
    fn response_round_trips() {
        let e = GalEntry {
            display_name: Some("Anna Rossi".into()),
            email_address: Some("anna@example.com".into()),
            picture: Some(GalPicture {
                status: PictureStatus::Success,
                data: Some(vec![0xFF, 0xD8, 0x00, 0xFF]),
            }),
            ..GalEntry::default()
        };
        rt(&SearchResponse {
            status: SearchStatus::Success,
            store: Some(StoreResponse {
                status: StoreStatus::Success,
                results: vec![e.clone(), GalEntry::default()],
                range: Some(SearchRange { start: 0, end: 1 }),
                total: Some(2),
            }),
        });
        rt(&SearchResponse {
            status: SearchStatus::Success,
            store: Some(StoreResponse {
                status: StoreStatus::Success,
                results: vec![],
                range: None,
                total: Some(0),
            }),
        });
        rt(&SearchResponse {
            status: SearchStatus::ServerError,
            store: None,
        });
    }

    #[test]
    fn results_cap() {
        let r = SearchResponse {
            status: SearchStatus::Success,
            store: Some(StoreResponse {
                status: StoreStatus::Success,
                results: vec![GalEntry::default(); MAX_RESULTS as usize + 1],
                range: None,
                total: None,
            }),
        };
        let b = to_wbxml(&r, V, 1 << 20).unwrap();
        assert_eq!(
            from_wbxml::<SearchResponse>(&b, V, Limits::DEFAULT),
            Err(Error::TooMany {
                what: "Search results",
                cap: MAX_RESULTS
            })
        );
    }

    #[test]
    fn bad_range_is_refused_both_ways() {
        let r = SearchRequest::gal(
            "x",
            SearchOptions {
                range: Some(SearchRange {
                    start: 0,
                    end: 1000,
                }),
                picture: None,
            },
        );
        assert!(matches!(to_wbxml(&r, V, 1024), Err(Error::Unencodable(_))));
    }
}
