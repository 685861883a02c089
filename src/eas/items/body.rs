//! Item bodies through AirSyncBase ([MS-ASAIRS] 2.2.2.9 Body, 2.2.2.10 BodyPreference).
//!
//! The model holds notes as plain text. They are sent as Type 1 (plain) when the client
//! accepts it, else as Type 2 (HTML, escaped), truncated to the client's TruncationSize on a
//! character boundary, with EstimatedDataSize giving the full size and an optional Preview.

use crate::eas::{Error, de};
use crate::wbxml::{Element, Encoder, airsyncbase};

/// AirSyncBase body types ([MS-ASAIRS] 2.2.2.22.1).
pub mod body_type {
    pub const PLAIN: u8 = 1;
    pub const HTML: u8 = 2;
    pub const RTF: u8 = 3;
    pub const MIME: u8 = 4;
}

/// Longest Preview the spec allows ([MS-ASAIRS] 2.2.2.37.1).
pub const MAX_PREVIEW: u32 = 255;

/// One `BodyPreference` of a Sync, ItemOperations or Search request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyPreference {
    pub body_type: u8,
    /// Bytes of Data to send at most.
    pub truncation_size: Option<u32>,
    /// With truncation: send nothing rather than a cut body.
    pub all_or_none: bool,
    /// Characters of plain-text preview wanted (14.0+), at most [`MAX_PREVIEW`].
    pub preview: Option<u32>,
}

impl BodyPreference {
    pub fn plain() -> Self {
        BodyPreference {
            body_type: body_type::PLAIN,
            truncation_size: None,
            all_or_none: false,
            preview: None,
        }
    }

    /// Reads a `BodyPreference` element.
    pub fn decode(e: &Element<'_>) -> Result<Self, Error> {
        let body_type = de::req_num(e, airsyncbase::TYPE)?;
        if !(body_type::PLAIN..=body_type::MIME).contains(&body_type) {
            return Err(Error::BadValue {
                tag: airsyncbase::TYPE,
                why: "body type outside 1-4",
            });
        }
        Ok(BodyPreference {
            body_type,
            truncation_size: de::opt_num(e, airsyncbase::TRUNCATION_SIZE)?,
            all_or_none: de::opt_bool(e, airsyncbase::ALL_OR_NONE)?.unwrap_or(false),
            preview: de::opt_num::<u32>(e, airsyncbase::PREVIEW)?.map(|p| p.min(MAX_PREVIEW)),
        })
    }

    /// Writes a `BodyPreference` element.
    pub fn encode(&self, w: &mut Encoder<'_>) -> Result<(), Error> {
        w.start(airsyncbase::BODY_PREFERENCE)?;
        w.leaf_int(airsyncbase::TYPE, self.body_type)?;
        if let Some(t) = self.truncation_size {
            w.leaf_int(airsyncbase::TRUNCATION_SIZE, t)?;
        }
        if self.all_or_none {
            w.leaf(airsyncbase::ALL_OR_NONE, "1")?;
        }
        if let Some(p) = self.preview {
            w.leaf_int(airsyncbase::PREVIEW, p)?;
        }
        w.end()?;
        Ok(())
    }

    /// The preference to answer with: plain text if offered, else HTML, else none (the
    /// client then gets plain text, the type every client reads).
    pub fn choose(prefs: &[BodyPreference]) -> Option<&BodyPreference> {
        prefs
            .iter()
            .find(|p| p.body_type == body_type::PLAIN)
            .or_else(|| prefs.iter().find(|p| p.body_type == body_type::HTML))
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A cut HTML body must not end inside an entity or a tag (`&lt;b&g`, `<b`): clients show
/// such leftovers as text.
fn drop_partial_markup(s: &str) -> &str {
    match s.rfind(['&', '<']) {
        Some(i) if !s[i..].contains([';', '>']) => &s[..i],
        _ => s,
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("<br>"),
            _ => out.push(c),
        }
    }
    out
}

/// Writes `<Body>` for plain-text notes under the client's preference.
pub fn encode(
    w: &mut Encoder<'_>,
    notes: &str,
    pref: Option<&BodyPreference>,
) -> Result<(), Error> {
    let html = pref.is_some_and(|p| p.body_type == body_type::HTML);
    let owned;
    let data: &str = if html {
        owned = html_escape(notes);
        &owned
    } else {
        notes
    };
    let limit = pref.and_then(|p| p.truncation_size).map(|t| t as usize);
    let truncated = limit.is_some_and(|l| data.len() > l);
    let all_or_none = pref.is_some_and(|p| p.all_or_none);
    w.start(airsyncbase::BODY)?;
    w.leaf_int(
        airsyncbase::TYPE,
        if html {
            body_type::HTML
        } else {
            body_type::PLAIN
        },
    )?;
    w.leaf_int(airsyncbase::ESTIMATED_DATA_SIZE, data.len() as i64)?;
    if truncated {
        w.leaf(airsyncbase::TRUNCATED, "1")?;
    }
    if !(truncated && all_or_none) {
        let mut shown = cut(data, limit.unwrap_or(usize::MAX));
        if html && truncated {
            shown = drop_partial_markup(shown);
        }
        w.leaf(airsyncbase::DATA, shown)?;
    }
    if let Some(p) = pref.and_then(|p| p.preview).filter(|p| *p > 0) {
        let preview: String = notes.chars().take(p as usize).collect();
        w.leaf(airsyncbase::PREVIEW, &preview)?;
    }
    w.end()?;
    Ok(())
}

/// Reads a client's `<Body>` into plain text. HTML is reduced to its text; other types keep
/// their data as sent.
pub fn decode(e: &Element<'_>) -> Result<String, Error> {
    let kind: u8 = de::opt_num(e, airsyncbase::TYPE)?.unwrap_or(body_type::PLAIN);
    let data = de::opt_text(e, airsyncbase::DATA)?.unwrap_or("");
    Ok(if kind == body_type::HTML {
        html_to_text(data)
    } else {
        data.to_owned()
    })
}

/// A small HTML-to-text reduction for notes: line breaks for `<br>` and block ends, tags
/// dropped, the five common entities decoded.
fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let Some(gt) = rest[lt..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[lt + 1..lt + gt].trim().to_ascii_lowercase();
        if tag.starts_with("br") || tag == "/p" || tag == "/div" {
            out.push('\n');
        }
        rest = &rest[lt + gt + 1..];
    }
    out.push_str(rest);
    let text = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    text.trim_end_matches('\n').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::{self, Limits};

    fn body(notes: &str, pref: Option<&BodyPreference>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1 << 20).unwrap();
        encode(&mut w, notes, pref).unwrap();
        w.finish().unwrap();
        out
    }

    #[test]
    fn plain_round_trip() {
        let bytes = body("Call back\nafter 5", None);
        let e = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        assert_eq!(e.child_text(airsyncbase::TYPE), Some("1"));
        assert_eq!(e.child_text(airsyncbase::ESTIMATED_DATA_SIZE), Some("17"));
        assert!(e.child(airsyncbase::TRUNCATED).is_none());
        assert_eq!(decode(&e).unwrap(), "Call back\nafter 5");
    }

    #[test]
    fn truncates_on_a_char_boundary() {
        let pref = BodyPreference {
            truncation_size: Some(4),
            ..BodyPreference::plain()
        };
        let bytes = body("aàbc", Some(&pref)); // 'à' is two bytes: a,à = 3, b = 4
        let e = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        assert_eq!(e.child_text(airsyncbase::DATA), Some("aàb"));
        assert_eq!(e.child_text(airsyncbase::TRUNCATED), Some("1"));
        assert_eq!(e.child_text(airsyncbase::ESTIMATED_DATA_SIZE), Some("5"));
        let cut_mid = BodyPreference {
            truncation_size: Some(2),
            ..pref
        };
        let e2 = body("aàbc", Some(&cut_mid));
        let e2 = wbxml::parse(&e2, Limits::DEFAULT).unwrap();
        assert_eq!(e2.child_text(airsyncbase::DATA), Some("a"));
    }

    #[test]
    fn all_or_none_sends_no_data_when_too_long() {
        let pref = BodyPreference {
            truncation_size: Some(3),
            all_or_none: true,
            ..BodyPreference::plain()
        };
        let e = body("long text", Some(&pref));
        let e = wbxml::parse(&e, Limits::DEFAULT).unwrap();
        assert!(e.child(airsyncbase::DATA).is_none());
        assert_eq!(e.child_text(airsyncbase::TRUNCATED), Some("1"));
        let fits = body("ab", Some(&pref));
        let fits = wbxml::parse(&fits, Limits::DEFAULT).unwrap();
        assert_eq!(fits.child_text(airsyncbase::DATA), Some("ab"));
    }

    #[test]
    fn html_when_only_html_is_accepted_and_back() {
        let pref = BodyPreference {
            body_type: body_type::HTML,
            ..BodyPreference::plain()
        };
        assert_eq!(BodyPreference::choose(&[pref]), Some(&pref));
        let bytes = body("a<b & c\nd", Some(&pref));
        let e = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        assert_eq!(e.child_text(airsyncbase::TYPE), Some("2"));
        assert_eq!(e.child_text(airsyncbase::DATA), Some("a&lt;b &amp; c<br>d"));
        assert_eq!(decode(&e).unwrap(), "a<b & c\nd");
    }

    #[test]
    fn truncated_html_never_ends_inside_an_entity_or_tag() {
        let pref = BodyPreference {
            body_type: body_type::HTML,
            truncation_size: Some(8),
            ..BodyPreference::plain()
        };
        // Escaped: "a &lt;b&gt;" — a cut at 8 bytes falls inside "&gt;".
        let bytes = body("a <b>", Some(&pref));
        let e = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        assert_eq!(e.child_text(airsyncbase::DATA), Some("a &lt;b"));
        let br = body(
            "ab\ncd",
            Some(&BodyPreference {
                truncation_size: Some(4),
                ..pref
            }),
        );
        let e = wbxml::parse(&br, Limits::DEFAULT).unwrap();
        assert_eq!(e.child_text(airsyncbase::DATA), Some("ab"));
    }

    #[test]
    fn preview_and_preference_round_trip() {
        let pref = BodyPreference {
            body_type: 1,
            truncation_size: Some(200),
            all_or_none: true,
            preview: Some(3),
        };
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1024).unwrap();
        pref.encode(&mut w).unwrap();
        w.finish().unwrap();
        let e = wbxml::parse(&out, Limits::DEFAULT).unwrap();
        assert_eq!(BodyPreference::decode(&e).unwrap(), pref);
        let bytes = body("hello", Some(&pref));
        let e = wbxml::parse(&bytes, Limits::DEFAULT).unwrap();
        assert_eq!(e.child_text(airsyncbase::PREVIEW), Some("hel"));
        let plain = BodyPreference::plain();
        assert_eq!(BodyPreference::choose(&[pref, plain]), Some(&pref));
        assert_eq!(BodyPreference::choose(&[]), None);
    }

    #[test]
    fn rejects_bad_type() {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1024).unwrap();
        w.start(airsyncbase::BODY_PREFERENCE).unwrap();
        w.leaf(airsyncbase::TYPE, "9").unwrap();
        w.end().unwrap();
        w.finish().unwrap();
        let e = wbxml::parse(&out, Limits::DEFAULT).unwrap();
        assert!(BodyPreference::decode(&e).is_err());
    }
}
