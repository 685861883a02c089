//! Streaming WBXML decoder that borrows from its input.

use super::{Element, Error, Limit, Limits, Node, Tag, codepages};

/// WBXML global tokens (WAP-192-WBXML 7.1).
pub(super) mod token {
    pub const SWITCH_PAGE: u8 = 0x00;
    pub const END: u8 = 0x01;
    pub const ENTITY: u8 = 0x02;
    pub const STR_I: u8 = 0x03;
    pub const LITERAL: u8 = 0x04;
    pub const EXT_I_0: u8 = 0x40;
    pub const EXT_I_2: u8 = 0x42;
    pub const PI: u8 = 0x43;
    pub const LITERAL_C: u8 = 0x44;
    pub const EXT_T_0: u8 = 0x80;
    pub const EXT_T_2: u8 = 0x82;
    pub const STR_T: u8 = 0x83;
    pub const LITERAL_A: u8 = 0x84;
    pub const EXT_0: u8 = 0xC0;
    pub const EXT_2: u8 = 0xC2;
    pub const OPAQUE: u8 = 0xC3;
    pub const LITERAL_AC: u8 = 0xC4;
    /// Tag bit: the element has content and ends with END.
    pub const CONTENT: u8 = 0x40;
    /// Tag bit: attributes follow.
    pub const ATTRIBUTES: u8 = 0x80;
    pub const UTF8: u32 = 106;
}

/// One step of a document. An element without content still yields `Start` then `End`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    Start(Tag),
    End(Tag),
    Text(&'a str),
    Opaque(&'a [u8]),
}

/// Pull decoder over one WBXML document.
pub struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    page: u8,
    limits: Limits,
    /// Open elements; its length is bounded by `limits.max_depth`.
    stack: Vec<Tag>,
    elements: u32,
    /// A content-less tag whose synthetic `End` is due next.
    pending_end: Option<Tag>,
    root_done: bool,
}

impl<'a> Decoder<'a> {
    /// Reads the header; the body is read by [`Decoder::next_event`].
    pub fn new(input: &'a [u8], limits: Limits) -> Result<Self, Error> {
        let mut d = Decoder {
            input,
            pos: 0,
            page: 0,
            limits,
            stack: Vec::new(),
            elements: 0,
            pending_end: None,
            root_done: false,
        };
        let version = d.byte()?;
        if !(0x01..=0x03).contains(&version) {
            return Err(Error::BadHeader("version is not 1.x"));
        }
        let public_id = d.mb_u32()?;
        if public_id == 0 {
            // Public id given as a string-table index: there is no string table in EAS.
            return Err(Error::Unsupported("string table"));
        }
        if d.mb_u32()? != token::UTF8 {
            return Err(Error::BadHeader("charset is not UTF-8"));
        }
        if d.mb_u32()? != 0 {
            return Err(Error::Unsupported("string table"));
        }
        Ok(d)
    }

    /// Byte offset of the next unread token, for error reports.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn byte(&mut self) -> Result<u8, Error> {
        let b = *self.input.get(self.pos).ok_or(Error::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn mb_u32(&mut self) -> Result<u32, Error> {
        let mut value: u32 = 0;
        for _ in 0..5 {
            let b = self.byte()?;
            if value > (u32::MAX >> 7) {
                return Err(Error::BadInteger);
            }
            value = (value << 7) | u32::from(b & 0x7F);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Error::BadInteger)
    }

    fn check_in_element(&self) -> Result<(), Error> {
        if self.stack.is_empty() {
            return Err(Error::Structure("content outside the root element"));
        }
        Ok(())
    }

    /// The next event, or `None` after the root element has ended.
    pub fn next_event(&mut self) -> Result<Option<Event<'a>>, Error> {
        if let Some(tag) = self.pending_end.take() {
            return Ok(Some(self.close(tag)));
        }
        loop {
            if self.root_done {
                if self.pos != self.input.len() {
                    return Err(Error::Structure("data after the root element"));
                }
                return Ok(None);
            }
            let b = self.byte()?;
            match b {
                token::SWITCH_PAGE => {
                    let page = self.byte()?;
                    if codepages::page_name(page).is_none() {
                        return Err(Error::UnknownPage(page));
                    }
                    self.page = page;
                }
                token::END => {
                    let tag = *self
                        .stack
                        .last()
                        .ok_or(Error::Structure("END with no open element"))?;
                    return Ok(Some(self.close(tag)));
                }
                token::STR_I => {
                    self.check_in_element()?;
                    let rest = &self.input[self.pos..];
                    let len = rest.iter().position(|&c| c == 0).ok_or(Error::Truncated)?;
                    if len > self.limits.max_string_len as usize {
                        return Err(Error::LimitExceeded(Limit::StringLen));
                    }
                    let s = core::str::from_utf8(&rest[..len]).map_err(|_| Error::BadUtf8)?;
                    self.pos += len + 1;
                    // An empty inline string carries nothing; dropping it keeps
                    // decode∘encode the identity (the encoder writes no empty strings).
                    if !s.is_empty() {
                        return Ok(Some(Event::Text(s)));
                    }
                }
                token::OPAQUE => {
                    self.check_in_element()?;
                    let len = self.mb_u32()?;
                    if len > self.limits.max_opaque_len {
                        return Err(Error::LimitExceeded(Limit::OpaqueLen));
                    }
                    let len = len as usize;
                    let end = self.pos.checked_add(len).ok_or(Error::Truncated)?;
                    let data = self.input.get(self.pos..end).ok_or(Error::Truncated)?;
                    self.pos = end;
                    return Ok(Some(Event::Opaque(data)));
                }
                token::ENTITY => return Err(Error::Unsupported("entity")),
                token::LITERAL | token::LITERAL_A | token::LITERAL_C | token::LITERAL_AC => {
                    return Err(Error::Unsupported("literal tag"));
                }
                token::EXT_I_0..=token::EXT_I_2
                | token::EXT_T_0..=token::EXT_T_2
                | token::EXT_0..=token::EXT_2 => return Err(Error::Unsupported("extension")),
                token::PI => return Err(Error::Unsupported("processing instruction")),
                token::STR_T => return Err(Error::Unsupported("string table")),
                _ => {
                    if b & token::ATTRIBUTES != 0 {
                        return Err(Error::Unsupported("attributes"));
                    }
                    // A second root cannot get here: once the root closes, `root_done` makes
                    // the loop report the bytes after it.
                    self.elements += 1;
                    if self.elements > self.limits.max_elements {
                        return Err(Error::LimitExceeded(Limit::Elements));
                    }
                    if self.stack.len() >= usize::from(self.limits.max_depth) {
                        return Err(Error::LimitExceeded(Limit::Depth));
                    }
                    let tag = Tag::new(self.page, b & 0x3F);
                    self.stack.push(tag);
                    if b & token::CONTENT == 0 {
                        self.pending_end = Some(tag);
                    }
                    return Ok(Some(Event::Start(tag)));
                }
            }
        }
    }

    fn close(&mut self, tag: Tag) -> Event<'a> {
        self.stack.pop();
        if self.stack.is_empty() {
            self.root_done = true;
        }
        Event::End(tag)
    }
}

/// Decodes a whole document into a borrowed tree.
pub fn parse(input: &[u8], limits: Limits) -> Result<Element<'_>, Error> {
    let mut d = Decoder::new(input, limits)?;
    // Open elements; bounded by the decoder's depth limit.
    let mut open: Vec<Element<'_>> = Vec::new();
    let mut root = None;
    while let Some(ev) = d.next_event()? {
        match ev {
            Event::Start(tag) => open.push(Element {
                tag,
                children: Vec::new(),
            }),
            Event::End(_) => {
                let done = open
                    .pop()
                    .ok_or(Error::Structure("END with no open element"))?;
                match open.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(done)),
                    None => root = Some(done),
                }
            }
            Event::Text(s) => {
                if let Some(e) = open.last_mut() {
                    e.children.push(Node::Text(s));
                }
            }
            Event::Opaque(b) => {
                if let Some(e) = open.last_mut() {
                    e.children.push(Node::Opaque(b));
                }
            }
        }
    }
    root.ok_or(Error::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::{HEADER, airsync};

    fn doc(body: &[u8]) -> Vec<u8> {
        let mut v = HEADER.to_vec();
        v.extend_from_slice(body);
        v
    }

    /// `mb_u32` over the bytes after a one-byte prefix (the decoder needs no header for it).
    fn mb(bytes: &[u8]) -> Result<(u32, usize), Error> {
        let mut d = Decoder {
            input: bytes,
            pos: 0,
            page: 0,
            limits: Limits::DEFAULT,
            stack: Vec::new(),
            elements: 0,
            pending_end: None,
            root_done: false,
        };
        let v = d.mb_u32()?;
        Ok((v, d.pos))
    }

    #[test]
    fn mb_u32_boundaries() {
        assert_eq!(mb(&[0x00]), Ok((0, 1)));
        assert_eq!(mb(&[0x7F]), Ok((127, 1)));
        assert_eq!(mb(&[0x81, 0x00]), Ok((128, 2)));
        assert_eq!(mb(&[0xFF, 0x7F]), Ok((16_383, 2)));
        assert_eq!(mb(&[0x81, 0x80, 0x00]), Ok((16_384, 3)));
        assert_eq!(mb(&[0x8F, 0xFF, 0xFF, 0xFF, 0x7F]), Ok((u32::MAX, 5)));
        // Redundant leading zero groups are legal and change nothing.
        assert_eq!(mb(&[0x80, 0x80, 0x80, 0x80, 0x05]), Ok((5, 5)));
        assert_eq!(mb(&[0x90, 0x80, 0x80, 0x80, 0x00]), Err(Error::BadInteger));
        assert_eq!(
            mb(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
            Err(Error::BadInteger)
        );
        assert_eq!(mb(&[0x80]), Err(Error::Truncated));
        assert_eq!(mb(&[]), Err(Error::Truncated));
    }

    #[test]
    fn events_of_a_small_document() {
        // <Sync><SyncKey>1</SyncKey><GetChanges/>[page 1]<Picture>opaque</Picture></Sync>
        let bytes = doc(&[
            0x45, 0x4B, 0x03, b'1', 0x00, 0x01, 0x13, 0x00, 0x01, 0x7C, 0xC3, 0x02, 0xAB, 0xCD,
            0x01, 0x01,
        ]);
        let mut d = Decoder::new(&bytes, Limits::DEFAULT).expect("header");
        assert_eq!(d.position(), 4);
        let picture = Tag::new(1, 0x3C);
        let mut events = Vec::new();
        while let Some(ev) = d.next_event().expect("valid") {
            events.push(ev);
        }
        assert_eq!(
            events,
            [
                Event::Start(airsync::SYNC),
                Event::Start(airsync::SYNC_KEY),
                Event::Text("1"),
                Event::End(airsync::SYNC_KEY),
                Event::Start(airsync::GET_CHANGES),
                Event::End(airsync::GET_CHANGES),
                Event::Start(picture),
                Event::Opaque(&[0xAB, 0xCD]),
                Event::End(picture),
                Event::End(airsync::SYNC),
            ]
        );
        assert_eq!(d.position(), bytes.len());
        // After the end it stays at the end.
        assert_eq!(d.next_event(), Ok(None));
    }

    #[test]
    fn empty_strings_are_dropped_and_split_strings_kept() {
        let bytes = doc(&[0x45, 0x03, 0x00, 0x03, b'a', 0x00, 0x03, b'b', 0x00, 0x01]);
        let root = parse(&bytes, Limits::DEFAULT).expect("valid");
        assert_eq!(root.children, [Node::Text("a"), Node::Text("b")]);
        // Several pieces are not one text.
        assert_eq!(root.text(), None);
        let only_empty = doc(&[0x45, 0x03, 0x00, 0x01]);
        let root = parse(&only_empty, Limits::DEFAULT).expect("valid");
        assert!(root.children.is_empty());
        assert_eq!(root.text(), Some(""));
    }

    #[test]
    fn the_page_persists_across_elements() {
        // Switch to Contacts once; both children are on page 1, the root on page 0.
        let bytes = doc(&[0x45, 0x00, 0x01, 0x05, 0x06, 0x01]);
        let root = parse(&bytes, Limits::DEFAULT).expect("valid");
        let tags: Vec<Tag> = root.elements().map(|e| e.tag).collect();
        assert_eq!(tags, [Tag::new(1, 0x05), Tag::new(1, 0x06)]);
        assert_eq!(root.tag, airsync::SYNC);
    }

    #[test]
    fn a_string_may_reach_the_end_of_input_only_with_its_nul() {
        // The NUL search must not run past the input or accept a string cut off by the end.
        assert_eq!(
            parse(&doc(&[0x45, 0x03, b'a']), Limits::DEFAULT),
            Err(Error::Truncated)
        );
        assert_eq!(
            parse(&doc(&[0x45, 0x03]), Limits::DEFAULT),
            Err(Error::Truncated)
        );
    }
}
