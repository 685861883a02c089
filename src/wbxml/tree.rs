//! A small element tree: borrowed for decoding requests, owned for keeping what a client sent
//! that the model does not hold.

use super::Tag;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element<'a> {
    pub tag: Tag,
    pub children: Vec<Node<'a>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node<'a> {
    Element(Element<'a>),
    Text(&'a str),
    Opaque(&'a [u8]),
}

impl<'a> Element<'a> {
    /// Child elements, in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element<'a>> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The first child element with this tag.
    pub fn child(&self, tag: Tag) -> Option<&Element<'a>> {
        self.elements().find(|e| e.tag == tag)
    }

    /// All child elements with this tag.
    pub fn children_with(&self, tag: Tag) -> impl Iterator<Item = &Element<'a>> {
        self.elements().filter(move |e| e.tag == tag)
    }

    /// The element's character content: `""` when empty, the string when it holds one, an
    /// opaque blob when that is UTF-8 (some clients send strings as OPAQUE). `None` when it
    /// holds elements or several pieces.
    pub fn text(&self) -> Option<&'a str> {
        match self.children.as_slice() {
            [] => Some(""),
            [Node::Text(s)] => Some(s),
            [Node::Opaque(b)] => core::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The element's content as bytes (OPAQUE or a string's UTF-8).
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self.children.as_slice() {
            [] => Some(&[]),
            [Node::Text(s)] => Some(s.as_bytes()),
            [Node::Opaque(b)] => Some(b),
            _ => None,
        }
    }

    /// Text of the first child with this tag.
    pub fn child_text(&self, tag: Tag) -> Option<&'a str> {
        self.child(tag).and_then(|e| e.text())
    }

    pub fn to_owned_element(&self) -> OwnedElement {
        OwnedElement {
            tag: self.tag,
            children: self
                .children
                .iter()
                .map(|n| match n {
                    Node::Element(e) => OwnedNode::Element(e.to_owned_element()),
                    Node::Text(s) => OwnedNode::Text((*s).to_owned()),
                    Node::Opaque(b) => OwnedNode::Opaque(b.to_vec()),
                })
                .collect(),
        }
    }
}

/// An element detached from its input, e.g. an unknown element kept for a lossless round trip.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct OwnedElement {
    pub tag: Tag,
    pub children: Vec<OwnedNode>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum OwnedNode {
    Element(OwnedElement),
    Text(String),
    Opaque(Vec<u8>),
}

impl OwnedElement {
    pub fn new(tag: Tag) -> Self {
        OwnedElement {
            tag,
            children: Vec::new(),
        }
    }

    /// A leaf holding one string.
    pub fn leaf(tag: Tag, text: impl Into<String>) -> Self {
        let text = text.into();
        OwnedElement {
            tag,
            children: if text.is_empty() {
                Vec::new()
            } else {
                vec![OwnedNode::Text(text)]
            },
        }
    }

    pub fn with(mut self, child: OwnedElement) -> Self {
        self.children.push(OwnedNode::Element(child));
        self
    }

    pub fn elements(&self) -> impl Iterator<Item = &OwnedElement> {
        self.children.iter().filter_map(|n| match n {
            OwnedNode::Element(e) => Some(e),
            _ => None,
        })
    }

    pub fn child(&self, tag: Tag) -> Option<&OwnedElement> {
        self.elements().find(|e| e.tag == tag)
    }

    pub fn text(&self) -> Option<&str> {
        match self.children.as_slice() {
            [] => Some(""),
            [OwnedNode::Text(s)] => Some(s),
            [OwnedNode::Opaque(b)] => core::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

impl OwnedElement {
    /// A borrowed view, so that code written for decoded input also reads kept elements.
    pub fn as_element(&self) -> Element<'_> {
        Element {
            tag: self.tag,
            children: self
                .children
                .iter()
                .map(|n| match n {
                    OwnedNode::Element(e) => Node::Element(e.as_element()),
                    OwnedNode::Text(s) => Node::Text(s),
                    OwnedNode::Opaque(b) => Node::Opaque(b),
                })
                .collect(),
        }
    }
}
