//! WBXML encoder writing into a caller's buffer under a size cap.

use super::decode::token;
use super::{Element, Error, HEADER, Limit, Node, OwnedElement, OwnedNode, Tag, codepages};

/// Writes one document. Elements are opened with [`Encoder::start`] and closed with
/// [`Encoder::end`]; an element closed with nothing inside is written without the content bit
/// and without `END`, as EAS peers expect for empty elements (`<Supported/>`, `<Deleted/>`).
pub struct Encoder<'b> {
    out: &'b mut Vec<u8>,
    /// Length of `out` when the document began: the cap counts only this document.
    base: usize,
    cap: usize,
    page: u8,
    /// Open elements and the offset of each one's tag byte; bounded by [`Encoder::MAX_DEPTH`].
    open: Vec<(Tag, usize)>,
    roots: u8,
}

impl<'b> Encoder<'b> {
    /// Deepest nesting the encoder writes; deeper than anything EAS defines.
    pub const MAX_DEPTH: usize = super::Limits::MAX_DEPTH as usize;

    /// Starts a document at the end of `out`; it may add at most `cap` bytes (header included).
    pub fn new(out: &'b mut Vec<u8>, cap: usize) -> Result<Self, Error> {
        let base = out.len();
        let mut e = Encoder {
            out,
            base,
            cap,
            page: 0,
            open: Vec::new(),
            roots: 0,
        };
        e.put(&HEADER)?;
        Ok(e)
    }

    /// Bytes written so far for this document.
    pub fn len(&self) -> usize {
        self.out.len() - self.base
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes still available under the cap.
    pub fn remaining(&self) -> usize {
        self.cap.saturating_sub(self.len())
    }

    /// Open elements right now.
    pub fn depth(&self) -> usize {
        self.open.len()
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if bytes.len() > self.remaining() {
            return Err(Error::LimitExceeded(Limit::OutputSize));
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    fn put_mb_u32(&mut self, mut v: u32) -> Result<(), Error> {
        let mut buf = [0u8; 5];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = (v & 0x7F) as u8 | if i == buf.len() - 1 { 0 } else { 0x80 };
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        self.put(&buf[i..])
    }

    fn ensure_open(&self) -> Result<(), Error> {
        if self.open.is_empty() {
            return Err(Error::Encode("content outside an element"));
        }
        Ok(())
    }

    /// Opens an element.
    pub fn start(&mut self, tag: Tag) -> Result<(), Error> {
        if !(Tag::MIN_TOKEN..=Tag::MAX_TOKEN).contains(&tag.token) {
            return Err(Error::Encode("token outside 0x05-0x3F"));
        }
        if codepages::page_name(tag.page).is_none() {
            return Err(Error::UnknownPage(tag.page));
        }
        if self.open.is_empty() {
            if self.roots > 0 {
                return Err(Error::Encode("second root element"));
            }
            self.roots = 1;
        }
        if self.open.len() >= Self::MAX_DEPTH {
            return Err(Error::LimitExceeded(Limit::Depth));
        }
        if tag.page != self.page {
            self.put(&[token::SWITCH_PAGE, tag.page])?;
            self.page = tag.page;
        }
        let at = self.out.len();
        self.put(&[tag.token | token::CONTENT])?;
        self.open.push((tag, at));
        Ok(())
    }

    /// Closes the innermost open element.
    pub fn end(&mut self) -> Result<(), Error> {
        let (_, at) = self
            .open
            .pop()
            .ok_or(Error::Encode("end with no open element"))?;
        if at + 1 == self.out.len() {
            self.out[at] &= !token::CONTENT;
            Ok(())
        } else {
            self.put(&[token::END])
        }
    }

    /// Inline string. Empty strings write nothing; NUL cannot be carried by `STR_I`.
    pub fn text(&mut self, s: &str) -> Result<(), Error> {
        self.ensure_open()?;
        if s.is_empty() {
            return Ok(());
        }
        if s.as_bytes().contains(&0) {
            return Err(Error::Encode("NUL inside a string"));
        }
        if s.len() + 2 > self.remaining() {
            return Err(Error::LimitExceeded(Limit::OutputSize));
        }
        self.out.push(token::STR_I);
        self.out.extend_from_slice(s.as_bytes());
        self.out.push(0);
        Ok(())
    }

    /// Opaque bytes (pictures, MIME, binary ids).
    pub fn opaque(&mut self, b: &[u8]) -> Result<(), Error> {
        self.ensure_open()?;
        let len = u32::try_from(b.len()).map_err(|_| Error::LimitExceeded(Limit::OpaqueLen))?;
        self.put(&[token::OPAQUE])?;
        self.put_mb_u32(len)?;
        self.put(b)
    }

    /// `<tag>text</tag>`.
    pub fn leaf(&mut self, tag: Tag, text: &str) -> Result<(), Error> {
        self.start(tag)?;
        self.text(text)?;
        self.end()
    }

    /// `<tag>` + opaque bytes.
    pub fn leaf_opaque(&mut self, tag: Tag, b: &[u8]) -> Result<(), Error> {
        self.start(tag)?;
        self.opaque(b)?;
        self.end()
    }

    /// A number as text: EAS sends integers as decimal strings.
    pub fn leaf_int(&mut self, tag: Tag, v: impl Into<i64>) -> Result<(), Error> {
        let buf = itoa_buf(v.into());
        self.leaf(tag, buf.as_str())
    }

    /// `<tag/>`.
    pub fn empty(&mut self, tag: Tag) -> Result<(), Error> {
        self.start(tag)?;
        self.end()
    }

    /// Writes a borrowed element and everything inside it.
    pub fn element(&mut self, e: &Element<'_>) -> Result<(), Error> {
        self.start(e.tag)?;
        for n in &e.children {
            match n {
                Node::Element(c) => self.element(c)?,
                Node::Text(s) => self.text(s)?,
                Node::Opaque(b) => self.opaque(b)?,
            }
        }
        self.end()
    }

    /// Writes an owned element and everything inside it.
    pub fn owned(&mut self, e: &OwnedElement) -> Result<(), Error> {
        self.start(e.tag)?;
        for n in &e.children {
            match n {
                OwnedNode::Element(c) => self.owned(c)?,
                OwnedNode::Text(s) => self.text(s)?,
                OwnedNode::Opaque(b) => self.opaque(b)?,
            }
        }
        self.end()
    }

    /// Checks that every element was closed; returns the document's length.
    pub fn finish(self) -> Result<usize, Error> {
        if !self.open.is_empty() {
            return Err(Error::Encode("unclosed element at finish"));
        }
        if self.roots == 0 {
            return Err(Error::Encode("no root element"));
        }
        Ok(self.len())
    }
}

/// Decimal text of an integer without a heap allocation.
fn itoa_buf(v: i64) -> SmallStr {
    use core::fmt::Write;
    let mut s = SmallStr::default();
    // 20 digits and a sign always fit in 24 bytes.
    let _ = write!(s, "{v}");
    s
}

#[derive(Default)]
struct SmallStr {
    buf: [u8; 24],
    len: usize,
}

impl SmallStr {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl core::fmt::Write for SmallStr {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(core::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::{Limits, airsync, parse};

    fn body(f: impl FnOnce(&mut Encoder<'_>) -> Result<(), Error>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 1 << 20).expect("header");
        f(&mut w).expect("writes");
        w.finish().expect("complete");
        out.split_off(HEADER.len())
    }

    fn mb(v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 64).expect("header");
        w.put_mb_u32(v).expect("fits");
        out.split_off(HEADER.len())
    }

    #[test]
    fn mb_u32_is_shortest_big_endian() {
        assert_eq!(mb(0), [0x00]);
        assert_eq!(mb(127), [0x7F]);
        assert_eq!(mb(128), [0x81, 0x00]);
        assert_eq!(mb(16_383), [0xFF, 0x7F]);
        assert_eq!(mb(16_384), [0x81, 0x80, 0x00]);
        assert_eq!(mb(u32::MAX), [0x8F, 0xFF, 0xFF, 0xFF, 0x7F]);
    }

    #[test]
    fn empty_elements_lose_the_content_bit() {
        assert_eq!(body(|w| w.empty(airsync::SYNC)), [0x05]);
        assert_eq!(
            body(|w| {
                w.start(airsync::SYNC)?;
                w.text("")?;
                w.end()
            }),
            [0x05]
        );
        // An empty opaque is content: the element keeps its END.
        assert_eq!(
            body(|w| w.leaf_opaque(airsync::SYNC, &[])),
            [0x45, 0xC3, 0x00, 0x01]
        );
    }

    #[test]
    fn pages_switch_only_when_they_change() {
        let contacts_a = Tag::new(1, 0x05);
        let contacts_b = Tag::new(1, 0x06);
        let bytes = body(|w| {
            w.start(airsync::SYNC)?;
            w.empty(contacts_a)?;
            w.empty(contacts_b)?;
            w.empty(airsync::SYNC_KEY)?;
            w.end()
        });
        assert_eq!(
            bytes,
            [0x45, 0x00, 0x01, 0x05, 0x06, 0x00, 0x00, 0x0B, 0x01]
        );
    }

    #[test]
    fn leaf_int_writes_decimal_text() {
        for v in [0i64, 7, -1, 1_000_000, i64::MIN, i64::MAX] {
            let bytes = body(|w| w.leaf_int(airsync::WINDOW_SIZE, v));
            let mut doc = HEADER.to_vec();
            doc.extend(&bytes);
            let root = parse(&doc, Limits::DEFAULT).expect("decodes");
            assert_eq!(root.text(), Some(v.to_string().as_str()));
        }
        assert_eq!(itoa_buf(i64::MIN).as_str(), "-9223372036854775808");
    }

    #[test]
    fn a_failed_write_leaves_no_more_than_the_cap() {
        let mut out = Vec::new();
        let mut w = Encoder::new(&mut out, 10).expect("header");
        w.start(airsync::SYNC).expect("fits");
        assert_eq!(
            w.text("far too long for the cap"),
            Err(Error::LimitExceeded(Limit::OutputSize))
        );
        assert_eq!(
            w.opaque(&[0; 32]),
            Err(Error::LimitExceeded(Limit::OutputSize))
        );
        assert!(w.len() <= 10);
        assert_eq!(w.remaining(), 10 - w.len());
        assert_eq!(w.depth(), 1);
    }
}
