//! Properties of the WBXML codec ([MS-ASWBXML] 2.1.2, WAP-192-WBXML):
//! - decode ∘ encode is the identity on every tree the encoder accepts (pages 0–25, tokens
//!   0x05–0x3F, non-empty text without NUL, opaque bytes, bounded depth and width);
//! - the decoder never panics: on arbitrary bytes, on a valid header followed by random
//!   bytes, and on mutations of valid documents; whatever it accepts re-encodes to a document
//!   that decodes to the same tree.

use easbox::wbxml::{
    Decoder, Encoder, Error, HEADER, Limits, OwnedElement, OwnedNode, Tag, parse, to_xml,
};
use proptest::prelude::*;

/// Enough for every generated tree; the cap itself is tested in wbxml_limits.rs.
const CAP: usize = 1 << 22;

fn tag() -> impl Strategy<Value = Tag> {
    (0u8..=25, Tag::MIN_TOKEN..=Tag::MAX_TOKEN).prop_map(|(p, t)| Tag::new(p, t))
}

/// Non-empty text without NUL: ASCII, multi-byte UTF-8, control characters, XML specials.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ]{1,12}",
        "[^\u{0}]{1,20}",
        "[\u{1}-\u{1f}<>&\"']{1,6}",
        Just("\u{10FFFF}é€".to_owned()),
    ]
}

fn opaque() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        // Lengths that need a two- and three-byte mb_u_int32.
        (128usize..300).prop_map(|n| vec![0u8; n]),
        Just(vec![0x5Au8; 16_400]),
    ]
}

fn leaf() -> impl Strategy<Value = OwnedElement> {
    (
        tag(),
        prop::collection::vec(
            prop_oneof![
                text().prop_map(OwnedNode::Text),
                opaque().prop_map(OwnedNode::Opaque),
            ],
            0..3,
        ),
    )
        .prop_map(|(tag, children)| OwnedElement { tag, children })
}

/// Trees up to 6 levels and 8 children per element, mixing elements, text and opaque data.
fn tree() -> impl Strategy<Value = OwnedElement> {
    leaf().prop_recursive(6, 200, 8, |inner| {
        (
            tag(),
            prop::collection::vec(
                prop_oneof![
                    3 => inner.prop_map(OwnedNode::Element),
                    1 => text().prop_map(OwnedNode::Text),
                    1 => opaque().prop_map(OwnedNode::Opaque),
                ],
                0..8,
            ),
        )
            .prop_map(|(tag, children)| OwnedElement { tag, children })
    })
}

fn encode(e: &OwnedElement) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, CAP)?;
    w.owned(e)?;
    w.finish()?;
    Ok(out)
}

/// Every decoding entry point on `bytes`; must not panic. On success the document must
/// re-encode and decode to the same tree, and the two entry points must agree.
fn decode_everything(bytes: &[u8]) {
    let tree = parse(bytes, Limits::DEFAULT);
    let mut streamed = Ok(());
    if let Ok(mut d) = Decoder::new(bytes, Limits::DEFAULT) {
        loop {
            match d.next_event() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    streamed = Err(e);
                    break;
                }
            }
        }
    } else {
        streamed = Decoder::new(bytes, Limits::DEFAULT).map(|_| ());
    }
    assert_eq!(
        tree.as_ref().map(|_| ()).map_err(Clone::clone),
        streamed,
        "parse and Decoder disagree"
    );
    if let Ok(root) = tree {
        let _ = to_xml(&root);
        let owned = root.to_owned_element();
        let again = encode(&owned).expect("a decoded tree re-encodes");
        let back = parse(&again, Limits::DEFAULT).expect("re-encoded bytes decode");
        assert_eq!(back.to_owned_element(), owned);
    }
}

/// Structure-aware byte soup: tokens the decoder has branches for, with plausible operands.
fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => (0x05u8..=0x3F).prop_map(|t| vec![t]),
        4 => (0x45u8..=0x7F).prop_map(|t| vec![t]),
        3 => Just(vec![0x01]),
        2 => (0u8..=27).prop_map(|p| vec![0x00, p]),
        2 => "[a-z]{0,5}".prop_map(|s| {
            let mut v = vec![0x03];
            v.extend(s.bytes());
            v.push(0);
            v
        }),
        2 => prop::collection::vec(any::<u8>(), 0..6).prop_map(|b| {
            let mut v = vec![0xC3, b.len() as u8];
            v.extend(b);
            v
        }),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|ps| {
        let mut v = HEADER.to_vec();
        for p in ps {
            v.extend(p);
        }
        v
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![
                Just(0x00u8),
                Just(0x01),
                Just(0x03),
                Just(0xC3),
                Just(0x80),
                Just(0xFF),
                any::<u8>()
            ]
        )
            .prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len();
    if n == 0 {
        return;
    }
    match *m {
        Mutation::Flip(i, b) => bytes[i % n] ^= b,
        Mutation::Set(i, b) => bytes[i % n] = b,
        Mutation::Insert(i, b) => bytes.insert(i % (n + 1), b),
        Mutation::Remove(i) => {
            bytes.remove(i % n);
        }
        Mutation::Truncate(i) => bytes.truncate(i % n),
        Mutation::Duplicate(i, len) => {
            let start = i % n;
            let end = (start + len).min(n);
            let copy = bytes[start..end].to_vec();
            bytes.splice(end..end, copy);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decode_of_encode_is_identity(t in tree()) {
        let bytes = encode(&t).expect("generated trees are encodable");
        prop_assert_eq!(&bytes[..4], &HEADER[..]);
        let back = parse(&bytes, Limits::DEFAULT).expect("our own output decodes");
        prop_assert_eq!(back.to_owned_element(), t);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_everything(&bytes);
    }

    #[test]
    fn header_then_random_body_never_panics(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = HEADER.to_vec();
        bytes.extend(body);
        decode_everything(&bytes);
    }

    #[test]
    fn token_soup_never_panics(bytes in token_soup()) {
        decode_everything(&bytes);
    }

    #[test]
    fn mutated_documents_never_panic(
        t in tree(),
        ms in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = encode(&t).expect("generated trees are encodable");
        for m in &ms {
            apply(&mut bytes, m);
        }
        decode_everything(&bytes);
    }
}

/// The identity property would hold trivially if both sides dropped content; check a known
/// tree byte for byte once.
#[test]
fn a_known_tree_has_known_bytes() {
    let t = OwnedElement {
        tag: Tag::new(0, 0x05),
        children: vec![
            OwnedNode::Element(OwnedElement::leaf(Tag::new(0, 0x0B), "1")),
            OwnedNode::Element(OwnedElement {
                tag: Tag::new(1, 0x3C),
                children: vec![OwnedNode::Opaque(vec![0xAA; 130])],
            }),
            OwnedNode::Element(OwnedElement::new(Tag::new(1, 0x05))),
        ],
    };
    let bytes = encode(&t).expect("encodes");
    let mut want = vec![0x03, 0x01, 0x6A, 0x00, 0x45, 0x4B, 0x03, b'1', 0x00, 0x01];
    want.extend([0x00, 0x01, 0x7C, 0xC3, 0x81, 0x02]);
    want.extend([0xAA; 130]);
    want.extend([0x01, 0x05, 0x01]);
    assert_eq!(bytes, want);
    assert_eq!(
        parse(&bytes, Limits::DEFAULT)
            .expect("decodes")
            .to_owned_element(),
        t
    );
}
