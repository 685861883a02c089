//! The EAS form of a contact: [MS-ASCNTC] 2.2.2 (Contacts code page 1 and Contacts2 code
//! page 12), with the notes in an AirSyncBase Body ([MS-ASAIRS] 2.2.2.9; 12.0+ has no
//! Contacts:Body).
//!
//! Also the small pieces the task form shares: the [MS-ASDTYPE] 2.3 date-time format, string
//! cleaning and string lists (Categories).
//!
//! Rules beyond the element mapping:
//! - Elements are written in the order of Microsoft's Contacts.xsd and Contacts2.xsd
//!   `AllProps` groups; the AirSyncBase Body takes the place of the old Contacts:Body.
//! - Strings we send lose their C0 control characters except tab, CR and LF: a Galaxy S4
//!   choked on them (EAS-NOTES §3 row 10).
//! - Birthday and Anniversary are dates, but EAS sends instants. Each client family expects
//!   the date at its own time of day ([`birthday_hour`], EAS-NOTES §3 row 6), and phones send
//!   local midnight in their own zone. On reading, the instant is taken to the date whose
//!   client time of day is nearest ([`date_of_instant`]).
//! - Picture is base64 text ([MS-ASCNTC] 2.2.2.58). An empty Picture stays distinguishable
//!   from none (`Some(vec![])` vs `None`): iOS sends it on every edit (EAS-NOTES §3 row 11).
//! - Alias and WeightedRank exist from 14.0 and only in recipient information cache answers
//!   ([MS-ASCNTC] 2.2.2.2, 2.2.2.64); they are written only when set and the version has them.

use super::{ClientKind, Context, body};
use crate::eas::{Error, ProtocolVersion, de};
use crate::model::contact::{self as model, Contact};
use crate::wbxml::{Element, Encoder, Node, OwnedElement, Tag, airsyncbase, contacts, contacts2};
use base64::Engine as _;
use jiff::civil::{Date, DateTime};
use jiff::{SignedDuration, Timestamp};
use std::borrow::Cow;

/// Largest Picture written, in bytes of base64 text: [MS-ASCNTC] 2.2.2.58 limits the element
/// to 48 KB. A larger stored picture (phones send more than the spec allows and we keep it)
/// is left out rather than sent against the spec; the phone then shows none.
pub const MAX_SENT_PICTURE_BASE64: u32 = 48 * 1024;

/// Reads the children of an `ApplicationData` (or `Properties`) of a Contacts folder.
pub fn decode(
    e: &Element<'_>,
    ctx: &Context<'_>,
    unknown: &mut Vec<OwnedElement>,
) -> Result<Contact, Error> {
    let mut c = Contact::default();
    for child in e.elements() {
        let tag = child.tag;
        if let Some(slot) = string_mut(&mut c, tag) {
            *slot = Some(de::text_of(child)?.to_owned());
        } else if tag == contacts::BIRTHDAY {
            c.birthday = read_date(child, ctx.client)?;
        } else if tag == contacts::ANNIVERSARY {
            c.anniversary = read_date(child, ctx.client)?;
        } else if tag == airsyncbase::BODY {
            c.notes = Some(body::decode(child)?);
        } else if tag == contacts::CATEGORIES {
            c.categories = Some(read_list(
                child,
                contacts::CATEGORY,
                "contact categories",
                model::MAX_CATEGORIES,
            )?);
        } else if tag == contacts::CHILDREN {
            c.children = Some(read_list(
                child,
                contacts::CHILD,
                "contact children",
                model::MAX_CHILDREN,
            )?);
        } else if tag == contacts::PICTURE {
            c.picture = Some(read_picture(child)?);
        } else if tag == contacts::WEIGHTED_RANK {
            let text = de::text_of(child)?.trim();
            c.weighted_rank = if text.is_empty() {
                None
            } else {
                Some(de::num_of(child)?)
            };
        } else {
            keep_unknown(unknown, child)?;
        }
    }
    Ok(c)
}

/// Writes the contact's elements (no wrapper).
pub fn encode(item: &Contact, w: &mut Encoder<'_>, ctx: &Context<'_>) -> Result<(), Error> {
    for &tag in ORDER {
        if let Some(value) = string_ref(item, tag) {
            if let Some(s) = value {
                let rich_only = tag == contacts::ALIAS;
                if !rich_only || ctx.version >= ProtocolVersion::V14_0 {
                    w.leaf(tag, &clean(s))?;
                }
            }
        } else if tag == contacts::BIRTHDAY || tag == contacts::ANNIVERSARY {
            let date = if tag == contacts::BIRTHDAY {
                item.birthday
            } else {
                item.anniversary
            };
            if let Some(d) = date {
                w.leaf(tag, &format_date_time(date_at(d, ctx.client)?)?)?;
            }
        } else if tag == contacts::BODY {
            if let Some(notes) = &item.notes {
                body::encode(w, &clean(notes), ctx.body)?;
            }
        } else if tag == contacts::CATEGORIES {
            if let Some(list) = &item.categories {
                write_list(w, tag, contacts::CATEGORY, list, model::MAX_CATEGORIES)?;
            }
        } else if tag == contacts::CHILDREN {
            if let Some(list) = &item.children {
                write_list(w, tag, contacts::CHILD, list, model::MAX_CHILDREN)?;
            }
        } else if tag == contacts::PICTURE {
            if let Some(p) = &item.picture {
                write_picture(w, p)?;
            }
        } else if tag == contacts::WEIGHTED_RANK
            && let Some(r) = item
                .weighted_rank
                .filter(|_| ctx.version >= ProtocolVersion::V14_0)
        {
            w.leaf_int(tag, r)?;
        }
    }
    Ok(())
}

/// The order of Contacts.xsd and then Contacts2.xsd `AllProps`. `contacts::BODY` stands for
/// the AirSyncBase Body; BodySize and BodyTruncated (2.5 only) are never written.
const ORDER: &[Tag] = &[
    contacts::ANNIVERSARY,
    contacts::ASSISTANT_NAME,
    contacts::ASSISTANT_PHONE_NUMBER,
    contacts::BIRTHDAY,
    contacts::BODY,
    contacts::BUSINESS2_PHONE_NUMBER,
    contacts::BUSINESS_ADDRESS_CITY,
    contacts::BUSINESS_PHONE_NUMBER,
    contacts::WEB_PAGE,
    contacts::BUSINESS_ADDRESS_COUNTRY,
    contacts::DEPARTMENT,
    contacts::EMAIL1_ADDRESS,
    contacts::EMAIL2_ADDRESS,
    contacts::EMAIL3_ADDRESS,
    contacts::BUSINESS_FAX_NUMBER,
    contacts::FILE_AS,
    contacts::ALIAS,
    contacts::WEIGHTED_RANK,
    contacts::FIRST_NAME,
    contacts::MIDDLE_NAME,
    contacts::HOME_ADDRESS_CITY,
    contacts::HOME_ADDRESS_COUNTRY,
    contacts::HOME_FAX_NUMBER,
    contacts::HOME_PHONE_NUMBER,
    contacts::HOME2_PHONE_NUMBER,
    contacts::HOME_ADDRESS_POSTAL_CODE,
    contacts::HOME_ADDRESS_STATE,
    contacts::HOME_ADDRESS_STREET,
    contacts::MOBILE_PHONE_NUMBER,
    contacts::SUFFIX,
    contacts::COMPANY_NAME,
    contacts::OTHER_ADDRESS_CITY,
    contacts::OTHER_ADDRESS_COUNTRY,
    contacts::CAR_PHONE_NUMBER,
    contacts::OTHER_ADDRESS_POSTAL_CODE,
    contacts::OTHER_ADDRESS_STATE,
    contacts::OTHER_ADDRESS_STREET,
    contacts::PAGER_NUMBER,
    contacts::TITLE,
    contacts::BUSINESS_ADDRESS_POSTAL_CODE,
    contacts::LAST_NAME,
    contacts::SPOUSE,
    contacts::BUSINESS_ADDRESS_STATE,
    contacts::BUSINESS_ADDRESS_STREET,
    contacts::JOB_TITLE,
    contacts::YOMI_FIRST_NAME,
    contacts::YOMI_LAST_NAME,
    contacts::YOMI_COMPANY_NAME,
    contacts::OFFICE_LOCATION,
    contacts::RADIO_PHONE_NUMBER,
    contacts::PICTURE,
    contacts::CATEGORIES,
    contacts::CHILDREN,
    contacts2::CUSTOMER_ID,
    contacts2::GOVERNMENT_ID,
    contacts2::IM_ADDRESS,
    contacts2::IM_ADDRESS2,
    contacts2::IM_ADDRESS3,
    contacts2::MANAGER_NAME,
    contacts2::COMPANY_MAIN_PHONE,
    contacts2::ACCOUNT_NAME,
    contacts2::NICK_NAME,
    contacts2::MMS,
];

/// One table for both directions, so that a string element cannot be read but not written.
macro_rules! string_fields {
    ($($tag:path => $($field:ident).+ $([$idx:literal])?,)*) => {
        fn string_mut(c: &mut Contact, tag: Tag) -> Option<&mut Option<String>> {
            $(if tag == $tag {
                return Some(&mut c.$($field).+ $([$idx])?);
            })*
            None
        }

        fn string_ref(c: &Contact, tag: Tag) -> Option<&Option<String>> {
            $(if tag == $tag {
                return Some(&c.$($field).+ $([$idx])?);
            })*
            None
        }
    };
}

string_fields! {
    contacts::ASSISTANT_NAME => assistant_name,
    contacts::ASSISTANT_PHONE_NUMBER => assistant_phone,
    contacts::BUSINESS2_PHONE_NUMBER => business2_phone,
    contacts::BUSINESS_ADDRESS_CITY => business_address.city,
    contacts::BUSINESS_PHONE_NUMBER => business_phone,
    contacts::WEB_PAGE => web_page,
    contacts::BUSINESS_ADDRESS_COUNTRY => business_address.country,
    contacts::DEPARTMENT => department,
    contacts::EMAIL1_ADDRESS => email[0],
    contacts::EMAIL2_ADDRESS => email[1],
    contacts::EMAIL3_ADDRESS => email[2],
    contacts::BUSINESS_FAX_NUMBER => business_fax,
    contacts::FILE_AS => file_as,
    contacts::ALIAS => alias,
    contacts::FIRST_NAME => first_name,
    contacts::MIDDLE_NAME => middle_name,
    contacts::HOME_ADDRESS_CITY => home_address.city,
    contacts::HOME_ADDRESS_COUNTRY => home_address.country,
    contacts::HOME_FAX_NUMBER => home_fax,
    contacts::HOME_PHONE_NUMBER => home_phone,
    contacts::HOME2_PHONE_NUMBER => home2_phone,
    contacts::HOME_ADDRESS_POSTAL_CODE => home_address.postal_code,
    contacts::HOME_ADDRESS_STATE => home_address.state,
    contacts::HOME_ADDRESS_STREET => home_address.street,
    contacts::MOBILE_PHONE_NUMBER => mobile_phone,
    contacts::SUFFIX => suffix,
    contacts::COMPANY_NAME => company_name,
    contacts::OTHER_ADDRESS_CITY => other_address.city,
    contacts::OTHER_ADDRESS_COUNTRY => other_address.country,
    contacts::CAR_PHONE_NUMBER => car_phone,
    contacts::OTHER_ADDRESS_POSTAL_CODE => other_address.postal_code,
    contacts::OTHER_ADDRESS_STATE => other_address.state,
    contacts::OTHER_ADDRESS_STREET => other_address.street,
    contacts::PAGER_NUMBER => pager,
    contacts::TITLE => title,
    contacts::BUSINESS_ADDRESS_POSTAL_CODE => business_address.postal_code,
    contacts::LAST_NAME => last_name,
    contacts::SPOUSE => spouse,
    contacts::BUSINESS_ADDRESS_STATE => business_address.state,
    contacts::BUSINESS_ADDRESS_STREET => business_address.street,
    contacts::JOB_TITLE => job_title,
    contacts::YOMI_FIRST_NAME => yomi_first_name,
    contacts::YOMI_LAST_NAME => yomi_last_name,
    contacts::YOMI_COMPANY_NAME => yomi_company_name,
    contacts::OFFICE_LOCATION => office_location,
    contacts::RADIO_PHONE_NUMBER => radio_phone,
    contacts2::CUSTOMER_ID => customer_id,
    contacts2::GOVERNMENT_ID => government_id,
    contacts2::IM_ADDRESS => im_address[0],
    contacts2::IM_ADDRESS2 => im_address[1],
    contacts2::IM_ADDRESS3 => im_address[2],
    contacts2::MANAGER_NAME => manager_name,
    contacts2::COMPANY_MAIN_PHONE => company_main_phone,
    contacts2::ACCOUNT_NAME => account_name,
    contacts2::NICK_NAME => nickname,
    contacts2::MMS => mms,
}

/// Keeps an element the model does not hold, under the per-item cap.
pub(crate) fn keep_unknown(unknown: &mut Vec<OwnedElement>, e: &Element<'_>) -> Result<(), Error> {
    de::cap(
        "unknown elements",
        unknown.len() + 1,
        super::caps::MAX_UNKNOWN_ELEMENTS,
    )?;
    unknown.push(e.to_owned_element());
    Ok(())
}

/// `s` without C0 control characters other than tab, CR and LF (EAS-NOTES §3 row 10).
pub fn clean(s: &str) -> Cow<'_, str> {
    let bad = |c: char| c < ' ' && !matches!(c, '\t' | '\r' | '\n');
    if s.contains(bad) {
        Cow::Owned(s.chars().filter(|c| !bad(*c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// Reads a list such as `<Categories><Category>a</Category>…</Categories>`, at most `cap`
/// items. Anything but `item` inside is malformed.
pub(crate) fn read_list(
    e: &Element<'_>,
    item: Tag,
    what: &'static str,
    cap: u32,
) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for node in &e.children {
        match node {
            Node::Element(child) if child.tag == item => {
                de::cap(what, out.len() + 1, cap)?;
                out.push(de::text_of(child)?.to_owned());
            }
            Node::Text(s) if s.trim().is_empty() => {}
            Node::Element(child) => {
                return Err(Error::BadValue {
                    tag: child.tag,
                    why: "unexpected element in a list",
                });
            }
            Node::Text(_) | Node::Opaque(_) => {
                return Err(Error::BadValue {
                    tag: e.tag,
                    why: "content other than items in a list",
                });
            }
        }
    }
    Ok(out)
}

/// Writes a list; more than `cap` items is a model bug the encoder refuses.
pub(crate) fn write_list(
    w: &mut Encoder<'_>,
    tag: Tag,
    item: Tag,
    list: &[String],
    cap: u32,
) -> Result<(), Error> {
    if list.len() > cap as usize {
        return Err(Error::Unencodable("list longer than its cap"));
    }
    w.start(tag)?;
    for s in list {
        w.leaf(item, &clean(s))?;
    }
    w.end()?;
    Ok(())
}

fn read_picture(e: &Element<'_>) -> Result<Vec<u8>, Error> {
    let bad = Error::BadValue {
        tag: e.tag,
        why: "picture is neither base64 nor image data",
    };
    let raw = e.bytes().ok_or(bad.clone())?;
    let b64: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let is_b64 = b64
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    // Check the size before decoding so a huge blob is refused without a huge allocation.
    let decoded_len = if is_b64 { b64.len() / 4 * 3 } else { raw.len() };
    de::cap("picture bytes", decoded_len, model::MAX_PICTURE_BYTES)?;
    let picture = if is_b64 {
        base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
            .decode(&b64)
            .map_err(|_| bad)?
    } else if matches!(e.children.as_slice(), [Node::Opaque(_)]) {
        // Some clients send the image itself as OPAQUE rather than base64 text.
        raw.to_vec()
    } else {
        return Err(bad);
    };
    de::cap("picture bytes", picture.len(), model::MAX_PICTURE_BYTES)?;
    Ok(picture)
}

fn write_picture(w: &mut Encoder<'_>, picture: &[u8]) -> Result<(), Error> {
    let text = base64::engine::general_purpose::STANDARD.encode(picture);
    if text.len() <= MAX_SENT_PICTURE_BASE64 as usize {
        w.leaf(contacts::PICTURE, &text)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Dates.

/// The UTC hour at which a client family expects a date-only value (Birthday, Anniversary),
/// after Horde's `normalizePoomContactsDates` (EAS-NOTES §3 row 6): Gmail, Windows Phone,
/// Samsung and iOS midnight; the AOSP client of Android 4–10 08:00; BlackBerry 11:00.
/// Clients we do not recognise get midnight UTC, what the specification's examples use and
/// what every current client reads correctly.
pub const fn birthday_hour(client: ClientKind) -> i8 {
    match client {
        ClientKind::AndroidAosp => 8,
        ClientKind::BlackBerry => 11,
        ClientKind::Gmail
        | ClientKind::WindowsPhone
        | ClientKind::Samsung
        | ClientKind::Ios
        | ClientKind::Other => 0,
    }
}

/// The instant at which `client` expects the date `d`.
pub fn date_at(d: Date, client: ClientKind) -> Result<DateTime, Error> {
    DateTime::new(d.year(), d.month(), d.day(), birthday_hour(client), 0, 0, 0)
        .map_err(|_| Error::Unencodable("date outside the EAS range"))
}

/// The date a client meant by the instant `dt` (UTC wall clock).
///
/// Phones write a date as local midnight in their own zone, or at their family's hour
/// ([`birthday_hour`]); either way the intended date is the one whose client hour lies
/// nearest: the instant is shifted so that the client hour becomes noon and the date taken.
/// So for a midnight client, 1980-05-04T22:00Z (midnight in CEST) is 1980-05-05 and
/// 1980-05-05T10:00Z (midnight in Hawaii) is 1980-05-05. An instant exactly twelve hours off
/// goes to the later date: UTC+12 is inhabited, UTC−12 is not.
pub fn date_of_instant(dt: DateTime, client: ClientKind) -> Option<Date> {
    let shift = SignedDuration::from_hours(12 - i64::from(birthday_hour(client)));
    dt.checked_add(shift).ok().map(|d| d.date())
}

fn read_date(e: &Element<'_>, client: ClientKind) -> Result<Option<Date>, Error> {
    let text = de::text_of(e)?.trim();
    if text.is_empty() {
        // A date cannot be "empty"; clients clear it by leaving it out.
        return Ok(None);
    }
    let dt = parse_date_time(text).ok_or(Error::BadValue {
        tag: e.tag,
        why: "not an EAS date-time",
    })?;
    date_of_instant(dt, client)
        .map(Some)
        .ok_or(Error::BadValue {
            tag: e.tag,
            why: "date out of range",
        })
}

/// Parses an EAS date-time ([MS-ASDTYPE] 2.3, `2024-03-05T10:30:00.000Z`), also in the compact
/// form `20240305T103000Z` some clients send, with or without fraction and `Z`, or a bare
/// date (midnight). Returns the wall clock as written; EAS writes UTC (or, for Tasks
/// StartDate/DueDate, local time as if it were UTC).
pub fn parse_date_time(s: &str) -> Option<DateTime> {
    let b = s.trim().as_bytes();
    let (date, rest) = if b.get(4) == Some(&b'-') {
        let ymd = (
            num(b, 0, 4)?,
            (b.get(7) == Some(&b'-')).then_some(())?,
            num(b, 5, 2)?,
            num(b, 8, 2)?,
        );
        ((ymd.0, ymd.2, ymd.3), b.get(10..)?)
    } else {
        ((num(b, 0, 4)?, num(b, 4, 2)?, num(b, 6, 2)?), b.get(8..)?)
    };
    let (time, rest) = match rest.first() {
        None => ((0, 0, 0), rest),
        Some(b'T' | b't') => {
            if rest.get(3) == Some(&b':') {
                if rest.get(6) != Some(&b':') {
                    return None;
                }
                (
                    (num(rest, 1, 2)?, num(rest, 4, 2)?, num(rest, 7, 2)?),
                    rest.get(9..)?,
                )
            } else {
                (
                    (num(rest, 1, 2)?, num(rest, 3, 2)?, num(rest, 5, 2)?),
                    rest.get(7..)?,
                )
            }
        }
        Some(_) => return None,
    };
    let (nanos, rest) = match rest.first() {
        Some(b'.') => {
            let digits = rest.get(1..)?;
            let n = digits.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 || n > 9 {
                return None;
            }
            let frac = num(digits, 0, n)?;
            let nanos = frac * 10i32.pow(9 - n as u32);
            (nanos, digits.get(n..)?)
        }
        _ => (0, rest),
    };
    if !matches!(rest, [] | [b'Z' | b'z']) {
        return None;
    }
    DateTime::new(
        i16::try_from(date.0).ok()?,
        i8::try_from(date.1).ok()?,
        i8::try_from(date.2).ok()?,
        i8::try_from(time.0).ok()?,
        i8::try_from(time.1).ok()?,
        i8::try_from(time.2).ok()?,
        nanos,
    )
    .ok()
}

/// `n` ASCII digits of `b` at `at`.
fn num(b: &[u8], at: usize, n: usize) -> Option<i32> {
    let digits = b.get(at..at.checked_add(n)?)?;
    digits.iter().try_fold(0i32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + i32::from(c - b'0'))
    })
}

/// Writes a wall clock in the EAS form `YYYY-MM-DDTHH:MM:SS.mmmZ` ([MS-ASDTYPE] 2.3);
/// milliseconds are kept, finer parts dropped.
pub fn format_date_time(dt: DateTime) -> Result<String, Error> {
    if !(1..=9999).contains(&dt.year()) {
        return Err(Error::Unencodable("date outside years 1-9999"));
    }
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.subsec_nanosecond() / 1_000_000
    ))
}

/// An instant in EAS form.
pub fn format_timestamp(ts: Timestamp) -> Result<String, Error> {
    format_date_time(jiff::tz::Offset::UTC.to_datetime(ts))
}

/// The instant of an element holding an EAS date-time in UTC.
pub fn read_timestamp(e: &Element<'_>) -> Result<Timestamp, Error> {
    let dt = read_date_time(e)?;
    jiff::tz::Offset::UTC
        .to_timestamp(dt)
        .map_err(|_| Error::BadValue {
            tag: e.tag,
            why: "date out of range",
        })
}

/// The wall clock of an element holding an EAS date-time.
pub fn read_date_time(e: &Element<'_>) -> Result<DateTime, Error> {
    parse_date_time(de::text_of(e)?).ok_or(Error::BadValue {
        tag: e.tag,
        why: "not an EAS date-time",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Item;
    use crate::wbxml::{self, Limits, airsync};
    use jiff::civil::date;

    fn ctx(client: ClientKind) -> Context<'static> {
        Context {
            client,
            ..Context::new(ProtocolVersion::V14_1)
        }
    }

    fn encode_bytes(c: &Contact, ctx: &Context<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1 << 22).unwrap();
        w.start(airsync::APPLICATION_DATA).unwrap();
        encode(c, &mut w, ctx).unwrap();
        w.end().unwrap();
        w.finish().unwrap();
        out
    }

    fn round(c: &Contact, ctx: &Context<'_>) -> (Contact, Vec<OwnedElement>) {
        let bytes = encode_bytes(c, ctx);
        let root = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        let mut unknown = Vec::new();
        let back = decode(&root, ctx, &mut unknown).unwrap();
        (back, unknown)
    }

    fn app_data(build: impl FnOnce(&mut Encoder<'_>)) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1 << 24).unwrap();
        w.start(airsync::APPLICATION_DATA).unwrap();
        build(&mut w);
        w.end().unwrap();
        w.finish().unwrap();
        out
    }

    fn decode_bytes(bytes: &[u8], client: ClientKind) -> Result<Contact, Error> {
        let root = wbxml::parse(bytes, Limits::DEFAULT).unwrap();
        decode(&root, &ctx(client), &mut Vec::new())
    }

    #[test]
    fn every_string_field_round_trips() {
        let mut c = Contact::default();
        for (i, &tag) in ORDER.iter().enumerate() {
            if let Some(slot) = string_mut(&mut c, tag) {
                *slot = Some(format!("v{i}"));
            }
        }
        let (back, unknown) = round(&c, &ctx(ClientKind::Other));
        assert!(unknown.is_empty());
        assert_eq!(back, c);
        // All 56 string fields of the model (10 names, 6 work, 3 emails, 3 IM, web page,
        // 13 phones, 15 address parts, spouse, 3 ids, alias) are in ORDER.
        let strings = ORDER
            .iter()
            .filter(|t| string_ref(&c, **t).is_some())
            .count();
        assert_eq!(strings, 56);
        assert!(c.email.iter().chain(&c.im_address).all(Option::is_some));
    }

    #[test]
    fn order_has_no_duplicates() {
        let mut tags = ORDER.to_vec();
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), ORDER.len());
    }

    #[test]
    fn empty_string_differs_from_absent() {
        let c = Contact {
            first_name: Some(String::new()),
            categories: Some(Vec::new()),
            picture: Some(Vec::new()),
            ..Contact::default()
        };
        let (back, _) = round(&c, &ctx(ClientKind::Ios));
        assert_eq!(back, c);
        assert_eq!(back.last_name, None);
    }

    #[test]
    fn control_characters_are_stripped_on_the_way_out() {
        assert_eq!(clean("a\u{0}b\u{1b}c\td\r\ne\u{7f}"), "abc\td\r\ne\u{7f}");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
        let c = Contact {
            first_name: Some("An\u{0}n\u{7}".into()),
            notes: Some("line\u{1}\nnext".into()),
            categories: Some(vec!["V\u{2}IP".into()]),
            ..Contact::default()
        };
        let (back, _) = round(&c, &ctx(ClientKind::Other));
        assert_eq!(back.first_name.as_deref(), Some("Ann"));
        assert_eq!(back.notes.as_deref(), Some("line\nnext"));
        assert_eq!(back.categories, Some(vec!["VIP".to_owned()]));
    }

    #[test]
    fn birthday_time_of_day_per_client() {
        let c = Contact {
            birthday: Some(date(1980, 5, 5)),
            anniversary: Some(date(2001, 12, 31)),
            ..Contact::default()
        };
        for (client, hour) in [
            (ClientKind::Other, "00"),
            (ClientKind::Gmail, "00"),
            (ClientKind::Ios, "00"),
            (ClientKind::Samsung, "00"),
            (ClientKind::WindowsPhone, "00"),
            (ClientKind::AndroidAosp, "08"),
            (ClientKind::BlackBerry, "11"),
        ] {
            let bytes = encode_bytes(&c, &ctx(client));
            let root = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
            assert_eq!(
                root.child_text(contacts::BIRTHDAY),
                Some(format!("1980-05-05T{hour}:00:00.000Z").as_str()),
                "{client:?}"
            );
            assert_eq!(
                root.child_text(contacts::ANNIVERSARY),
                Some(format!("2001-12-31T{hour}:00:00.000Z").as_str())
            );
            let (back, _) = round(&c, &ctx(client));
            assert_eq!(back, c, "{client:?}");
        }
    }

    #[test]
    fn birthday_instants_from_any_zone_map_to_the_intended_date() {
        let at = |s: &str| parse_date_time(s).unwrap();
        let want = Some(date(1980, 5, 5));
        for client in [ClientKind::Other, ClientKind::Ios, ClientKind::Gmail] {
            // Midnight in CEST (+2), in New York (−4), in Hawaii (−10), in Kolkata (+5:30),
            // in Auckland standard time (+12).
            for s in [
                "1980-05-04T22:00:00.000Z",
                "1980-05-05T04:00:00.000Z",
                "1980-05-05T10:00:00.000Z",
                "1980-05-04T18:30:00.000Z",
                "1980-05-04T12:00:00.000Z",
                "1980-05-05T00:00:00.000Z",
            ] {
                assert_eq!(date_of_instant(at(s), client), want, "{client:?} {s}");
            }
            assert_eq!(
                date_of_instant(at("1980-05-04T11:59:59Z"), client),
                Some(date(1980, 5, 4))
            );
        }
        // AOSP writes 08:00Z; from a CEST phone local midnight still lands on the day.
        for s in [
            "1980-05-05T08:00:00Z",
            "1980-05-04T22:00:00Z",
            "1980-05-05T19:59:00Z",
        ] {
            assert_eq!(date_of_instant(at(s), ClientKind::AndroidAosp), want, "{s}");
        }
        assert_eq!(
            date_of_instant(at("1980-05-05T20:00:00Z"), ClientKind::AndroidAosp),
            Some(date(1980, 5, 6))
        );
        // BlackBerry writes 11:00Z.
        assert_eq!(
            date_of_instant(at("1980-05-05T11:00:00Z"), ClientKind::BlackBerry),
            want
        );
        assert_eq!(
            date_of_instant(at("1980-05-04T23:00:00Z"), ClientKind::BlackBerry),
            want
        );
        // Through the decoder.
        let bytes = app_data(|w| {
            w.leaf(contacts::BIRTHDAY, "1980-05-04T22:00:00.000Z")
                .unwrap()
        });
        assert_eq!(
            decode_bytes(&bytes, ClientKind::Ios).unwrap().birthday,
            want
        );
        let empty = app_data(|w| w.empty(contacts::BIRTHDAY).unwrap());
        assert_eq!(
            decode_bytes(&empty, ClientKind::Ios).unwrap().birthday,
            None
        );
        let junk = app_data(|w| w.leaf(contacts::BIRTHDAY, "yesterday").unwrap());
        assert!(decode_bytes(&junk, ClientKind::Ios).is_err());
    }

    #[test]
    fn date_time_forms() {
        let want = date(2024, 3, 5).at(10, 30, 7, 0);
        for s in [
            "2024-03-05T10:30:07.000Z",
            "2024-03-05T10:30:07Z",
            "2024-03-05T10:30:07",
            "20240305T103007Z",
            " 20240305t103007z ",
        ] {
            assert_eq!(parse_date_time(s), Some(want), "{s}");
        }
        assert_eq!(
            parse_date_time("2024-03-05T10:30:07.123Z"),
            Some(date(2024, 3, 5).at(10, 30, 7, 123_000_000))
        );
        assert_eq!(
            parse_date_time("2024-03-05"),
            Some(date(2024, 3, 5).at(0, 0, 0, 0))
        );
        assert_eq!(
            parse_date_time("20240305"),
            Some(date(2024, 3, 5).at(0, 0, 0, 0))
        );
        for bad in [
            "",
            "2024-13-05T10:30:07Z",
            "2024-02-30T10:30:07Z",
            "2024-03-05T25:30:07Z",
            "2024-03-05 10:30:07Z",
            "2024-03-05T10:30:07+02:00",
            "2024-03-05T10:30:07.Z",
            "2024-03-05T10:30:07.1234567890Z",
            "2024-03-05T10-30:07Z",
            "2024-3-5",
            "20240305T1030Z",
            "x024-03-05",
            "٢٠٢٤-03-05",
        ] {
            assert_eq!(parse_date_time(bad), None, "{bad}");
        }
        assert_eq!(
            format_date_time(date(2024, 3, 5).at(10, 30, 7, 123_456_789)).unwrap(),
            "2024-03-05T10:30:07.123Z"
        );
        assert!(format_date_time(date(-1, 1, 1).at(0, 0, 0, 0)).is_err());
        assert!(format_date_time(date(0, 1, 1).at(0, 0, 0, 0)).is_err());
    }

    #[test]
    fn picture_is_base64_text_and_empty_is_kept_apart_from_absent() {
        let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];
        let c = Contact {
            picture: Some(jpeg.clone()),
            ..Contact::default()
        };
        let bytes = encode_bytes(&c, &ctx(ClientKind::Ios));
        let root = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        assert_eq!(root.child_text(contacts::PICTURE), Some("/9j/4AAQSkZJRg=="));
        assert_eq!(
            decode_bytes(&bytes, ClientKind::Ios).unwrap().picture,
            Some(jpeg.clone())
        );

        // An empty Picture (iOS on every edit) is Some(empty), not None.
        let empty = app_data(|w| w.empty(contacts::PICTURE).unwrap());
        assert_eq!(
            decode_bytes(&empty, ClientKind::Ios).unwrap().picture,
            Some(Vec::new())
        );
        let none = app_data(|w| w.leaf(contacts::FIRST_NAME, "A").unwrap());
        assert_eq!(decode_bytes(&none, ClientKind::Ios).unwrap().picture, None);

        // Base64 with line breaks and without padding; raw image bytes as OPAQUE.
        let wrapped = app_data(|w| w.leaf(contacts::PICTURE, "/9j/4AAQ\r\nSkZJRg").unwrap());
        assert_eq!(
            decode_bytes(&wrapped, ClientKind::Other).unwrap().picture,
            Some(jpeg.clone())
        );
        let raw = app_data(|w| w.leaf_opaque(contacts::PICTURE, &jpeg).unwrap());
        assert_eq!(
            decode_bytes(&raw, ClientKind::Other).unwrap().picture,
            Some(jpeg.clone())
        );
        let b64_opaque = app_data(|w| {
            w.leaf_opaque(contacts::PICTURE, b"/9j/4AAQSkZJRg==")
                .unwrap()
        });
        assert_eq!(
            decode_bytes(&b64_opaque, ClientKind::Other)
                .unwrap()
                .picture,
            Some(jpeg)
        );
        let junk = app_data(|w| w.leaf(contacts::PICTURE, "not base64!").unwrap());
        assert!(decode_bytes(&junk, ClientKind::Other).is_err());
    }

    #[test]
    fn picture_cap() {
        let cap = model::MAX_PICTURE_BYTES as usize;
        let fits = vec![7u8; cap];
        let over = vec![7u8; cap + 1];
        let ok = app_data(|w| w.leaf_opaque(contacts::PICTURE, &fits).unwrap());
        assert_eq!(
            decode_bytes(&ok, ClientKind::Other)
                .unwrap()
                .picture
                .map(|p| p.len()),
            Some(cap)
        );
        let too_big = app_data(|w| w.leaf_opaque(contacts::PICTURE, &over).unwrap());
        assert_eq!(
            decode_bytes(&too_big, ClientKind::Other),
            Err(Error::TooMany {
                what: "picture bytes",
                cap: model::MAX_PICTURE_BYTES
            })
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(&over);
        let too_big_text = app_data(|w| w.leaf_opaque(contacts::PICTURE, b64.as_bytes()).unwrap());
        assert!(matches!(
            decode_bytes(&too_big_text, ClientKind::Other),
            Err(Error::TooMany { .. })
        ));
        // Sending: the spec's 48 KB of base64 is the limit.
        let at_limit = vec![1u8; MAX_SENT_PICTURE_BASE64 as usize / 4 * 3];
        let above = vec![1u8; MAX_SENT_PICTURE_BASE64 as usize / 4 * 3 + 1];
        for (p, sent) in [(at_limit, true), (above, false)] {
            let c = Contact {
                picture: Some(p),
                ..Contact::default()
            };
            let bytes = encode_bytes(&c, &ctx(ClientKind::Other));
            let root = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
            assert_eq!(root.child(contacts::PICTURE).is_some(), sent);
        }
    }

    #[test]
    fn categories_and_children_caps() {
        for (list, item, cap, what) in [
            (
                contacts::CATEGORIES,
                contacts::CATEGORY,
                model::MAX_CATEGORIES,
                "contact categories",
            ),
            (
                contacts::CHILDREN,
                contacts::CHILD,
                model::MAX_CHILDREN,
                "contact children",
            ),
        ] {
            let build = |n: u32| {
                app_data(|w| {
                    w.start(list).unwrap();
                    for i in 0..n {
                        w.leaf(item, &format!("x{i}")).unwrap();
                    }
                    w.end().unwrap();
                })
            };
            let ok = decode_bytes(&build(cap), ClientKind::Other).unwrap();
            let got = if list == contacts::CATEGORIES {
                ok.categories
            } else {
                ok.children
            };
            assert_eq!(got.map(|v| v.len()), Some(cap as usize));
            assert_eq!(
                decode_bytes(&build(cap + 1), ClientKind::Other),
                Err(Error::TooMany { what, cap })
            );
        }
        // The encoder refuses a model list over its cap.
        let c = Contact {
            children: Some(vec![String::new(); model::MAX_CHILDREN as usize + 1]),
            ..Contact::default()
        };
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1 << 20).unwrap();
        w.start(airsync::APPLICATION_DATA).unwrap();
        assert!(encode(&c, &mut w, &ctx(ClientKind::Other)).is_err());
        // A stray element inside a list is malformed.
        let stray = app_data(|w| {
            w.start(contacts::CATEGORIES).unwrap();
            w.leaf(contacts::CHILD, "x").unwrap();
            w.end().unwrap();
        });
        assert!(decode_bytes(&stray, ClientKind::Other).is_err());
    }

    #[test]
    fn unknown_elements_are_kept_under_the_cap() {
        let cap = super::super::caps::MAX_UNKNOWN_ELEMENTS;
        let build = |n: u32| {
            app_data(|w| {
                w.leaf(contacts::FIRST_NAME, "A").unwrap();
                for i in 0..n {
                    // Contacts:Body is 2.5 only; OrdinalDate is not a contact's.
                    w.leaf(contacts::BODY, &format!("old {i}")).unwrap();
                }
            })
        };
        let bytes = build(cap);
        let root = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        let mut unknown = Vec::new();
        let c = decode(&root, &ctx(ClientKind::Other), &mut unknown).unwrap();
        assert_eq!(c.first_name.as_deref(), Some("A"));
        assert_eq!(unknown.len(), cap as usize);
        assert_eq!(unknown[0].tag, contacts::BODY);
        assert_eq!(unknown[0].text(), Some("old 0"));
        let bytes = build(cap + 1);
        assert_eq!(
            decode_bytes(&bytes, ClientKind::Other),
            Err(Error::TooMany {
                what: "unknown elements",
                cap
            })
        );
    }

    #[test]
    fn rich_only_fields_follow_the_version() {
        let c = Contact {
            alias: Some("ann".into()),
            weighted_rank: Some(-3),
            ..Contact::default()
        };
        let (back, _) = round(&c, &ctx(ClientKind::Other));
        assert_eq!(back, c);
        let old = Context::new(ProtocolVersion::V12_1);
        let (back, _) = round(&c, &old);
        assert_eq!(back, Contact::default());
        let bad = app_data(|w| w.leaf(contacts::WEIGHTED_RANK, "high").unwrap());
        assert!(decode_bytes(&bad, ClientKind::Other).is_err());
    }

    #[test]
    fn client_kind_from_device() {
        for (dt, ua, want) in [
            (
                "Android",
                Some("Android-Mail/2023.10.01.570917387.Release"),
                ClientKind::Gmail,
            ),
            (
                "Android",
                Some("Android/4.4.2-EAS-1.3"),
                ClientKind::AndroidAosp,
            ),
            (
                "Android",
                Some("Android/10-EAS-2.0"),
                ClientKind::AndroidAosp,
            ),
            ("Android", Some("Android/11-EAS-2.0"), ClientKind::Other),
            ("Android", Some("Android/3.2-EAS-1.0"), ClientKind::Other),
            ("Android", None, ClientKind::Other),
            (
                "SAMSUNGSMG950F",
                Some("SAMSUNG-SM-G950F/101.80001"),
                ClientKind::Samsung,
            ),
            ("SamsungDevice", None, ClientKind::Samsung),
            ("iPhone", Some("Apple-iPhone9C1/1602.92"), ClientKind::Ios),
            ("iPad", None, ClientKind::Ios),
            ("Unknown", Some("Apple-iPad7C3/2001.100"), ClientKind::Ios),
            ("WP8", Some("MSFT-WP/8.0.10211"), ClientKind::WindowsPhone),
            ("WindowsPhone", None, ClientKind::WindowsPhone),
            ("BlackBerry", Some("RIM-Q10/10.3"), ClientKind::BlackBerry),
            ("Nine", Some("Nine/4.9.4a"), ClientKind::Other),
            ("", None, ClientKind::Other),
        ] {
            assert_eq!(ClientKind::from_device(dt, ua), want, "{dt} {ua:?}");
        }
    }

    #[test]
    fn through_application_data() {
        let c = Contact {
            last_name: Some("Rossi".into()),
            ..Contact::default()
        };
        let ctx = ctx(ClientKind::Other);
        let ad = super::super::ApplicationData::new(Item::Contact(c));
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 4096).unwrap();
        ad.encode(&mut w, &ctx).unwrap();
        w.finish().unwrap();
        let root = wbxml::parse(&out, Limits::DEFAULT).unwrap();
        let back =
            super::super::ApplicationData::decode(&root, super::super::Class::Contacts, &ctx)
                .unwrap();
        assert_eq!(back, ad);
    }
}
