//! Every named limit of the WBXML codec, exactly at the limit (accepted) and one past it
//! (the right [`Error`]), and a table of malformed inputs with the error each must give.
//! WBXML 1.3 (WAP-192-WBXML) as [MS-ASWBXML] 2.1.2 restricts it.

use easbox::wbxml::{
    Decoder, Encoder, Error, Event, HEADER, Limit, Limits, OwnedElement, Tag, airsync, parse,
};

const SYNC: Tag = airsync::SYNC;
const SYNC_KEY: Tag = airsync::SYNC_KEY;

// WBXML global tokens, spelled out here so the tests do not depend on the codec's own names.
const SWITCH_PAGE: u8 = 0x00;
const END: u8 = 0x01;
const STR_I: u8 = 0x03;
const OPAQUE: u8 = 0xC3;
/// `Sync` (AirSync 0x05) with the content bit.
const SYNC_C: u8 = 0x45;
/// `Sync` without content.
const SYNC_E: u8 = 0x05;
/// `SyncKey` (0x0B) with the content bit.
const KEY_C: u8 = 0x4B;
/// `SyncKey` without content.
const KEY_E: u8 = 0x0B;

fn doc(body: &[u8]) -> Vec<u8> {
    let mut v = HEADER.to_vec();
    v.extend_from_slice(body);
    v
}

fn limits() -> Limits {
    Limits::DEFAULT
}

/// Also drives the streaming decoder to the end, so that both entry points are checked.
fn decode(bytes: &[u8], l: Limits) -> Result<(), Error> {
    let tree = parse(bytes, l).map(|_| ());
    let stream = || -> Result<(), Error> {
        let mut d = Decoder::new(bytes, l)?;
        while d.next_event()?.is_some() {}
        Ok(())
    };
    let streamed = stream();
    assert_eq!(tree, streamed, "parse and Decoder disagree on {bytes:02X?}");
    tree
}

// ---------------------------------------------------------------------------------------------
// Decoder limits.

/// `depth` nested elements, the innermost empty.
fn nested(depth: usize) -> Vec<u8> {
    let mut body = vec![SYNC_C; depth.saturating_sub(1)];
    body.push(SYNC_E);
    body.extend(std::iter::repeat_n(END, depth.saturating_sub(1)));
    doc(&body)
}

fn depth_limit_holds(max: u16) {
    let l = Limits {
        max_depth: max,
        ..limits()
    };
    assert_eq!(decode(&nested(usize::from(max)), l), Ok(()));
    assert_eq!(
        decode(&nested(usize::from(max) + 1), l),
        Err(Error::LimitExceeded(Limit::Depth))
    );
}

#[test]
fn max_depth() {
    depth_limit_holds(Limits::MAX_DEPTH);
    depth_limit_holds(1);
    depth_limit_holds(5);
    // A content-less element counts as open while it is being reported, like any other.
    let l = Limits {
        max_depth: 2,
        ..limits()
    };
    assert_eq!(decode(&doc(&[SYNC_C, KEY_E, END]), l), Ok(()));
    assert_eq!(
        decode(&doc(&[SYNC_C, KEY_C, KEY_E, END, END]), l),
        Err(Error::LimitExceeded(Limit::Depth))
    );
}

fn with_string(len: usize) -> Vec<u8> {
    let mut body = vec![SYNC_C, STR_I];
    body.extend(std::iter::repeat_n(b'x', len));
    body.extend([0, END]);
    doc(&body)
}

fn string_limit_holds(max: u32) {
    let l = Limits {
        max_string_len: max,
        ..limits()
    };
    let len = max as usize;
    assert_eq!(decode(&with_string(len), l), Ok(()));
    assert_eq!(
        decode(&with_string(len + 1), l),
        Err(Error::LimitExceeded(Limit::StringLen))
    );
}

#[test]
fn max_string_len() {
    string_limit_holds(Limits::MAX_STRING_LEN);
    string_limit_holds(1);
    string_limit_holds(100);
    // The length is in bytes, not characters.
    let l = Limits {
        max_string_len: 4,
        ..limits()
    };
    let mut body = vec![SYNC_C, STR_I];
    body.extend("éé".as_bytes());
    body.extend([0, END]);
    assert_eq!(decode(&doc(&body), l), Ok(()));
    let mut body = vec![SYNC_C, STR_I];
    body.extend("ééx".as_bytes());
    body.extend([0, END]);
    assert_eq!(
        decode(&doc(&body), l),
        Err(Error::LimitExceeded(Limit::StringLen))
    );
}

fn mb_u32(mut v: u32) -> Vec<u8> {
    let mut out = vec![(v & 0x7F) as u8];
    v >>= 7;
    while v > 0 {
        out.insert(0, (v & 0x7F) as u8 | 0x80);
        v >>= 7;
    }
    out
}

fn with_opaque(len: usize) -> Vec<u8> {
    let mut body = vec![SYNC_C, OPAQUE];
    body.extend(mb_u32(u32::try_from(len).expect("test length fits u32")));
    body.extend(std::iter::repeat_n(0xAB, len));
    body.push(END);
    doc(&body)
}

fn opaque_limit_holds(max: u32) {
    let l = Limits {
        max_opaque_len: max,
        ..limits()
    };
    let len = max as usize;
    assert_eq!(decode(&with_opaque(len), l), Ok(()));
    assert_eq!(
        decode(&with_opaque(len + 1), l),
        Err(Error::LimitExceeded(Limit::OpaqueLen))
    );
}

#[test]
fn max_opaque_len() {
    opaque_limit_holds(Limits::MAX_OPAQUE_LEN);
    opaque_limit_holds(0);
    opaque_limit_holds(1);
    opaque_limit_holds(300);
    // A declared length past the limit is refused before the decoder looks for the bytes.
    let mut body = vec![SYNC_C, OPAQUE];
    body.extend(mb_u32(Limits::MAX_OPAQUE_LEN + 1));
    assert_eq!(
        decode(&doc(&body), limits()),
        Err(Error::LimitExceeded(Limit::OpaqueLen))
    );
}

/// A root holding `n - 1` empty children: `n` elements.
fn flat(n: usize) -> Vec<u8> {
    let mut body = vec![SYNC_C];
    body.extend(std::iter::repeat_n(KEY_E, n - 1));
    body.push(END);
    doc(&body)
}

fn elements_limit_holds(max: u32) {
    let l = Limits {
        max_elements: max,
        ..limits()
    };
    let n = max as usize;
    assert_eq!(decode(&flat(n), l), Ok(()));
    assert_eq!(
        decode(&flat(n + 1), l),
        Err(Error::LimitExceeded(Limit::Elements))
    );
}

#[test]
fn max_elements() {
    elements_limit_holds(Limits::MAX_ELEMENTS);
    elements_limit_holds(1);
    elements_limit_holds(2);
    elements_limit_holds(1000);
    // Nested elements count like siblings.
    let l = Limits {
        max_elements: 3,
        ..limits()
    };
    assert_eq!(decode(&nested(3), l), Ok(()));
    assert_eq!(
        decode(&nested(4), l),
        Err(Error::LimitExceeded(Limit::Elements))
    );
}

#[test]
fn default_limits_are_the_named_constants() {
    assert_eq!(Limits::default(), Limits::DEFAULT);
    assert_eq!(Limits::DEFAULT.max_depth, Limits::MAX_DEPTH);
    assert_eq!(Limits::DEFAULT.max_string_len, Limits::MAX_STRING_LEN);
    assert_eq!(Limits::DEFAULT.max_opaque_len, Limits::MAX_OPAQUE_LEN);
    assert_eq!(Limits::DEFAULT.max_elements, Limits::MAX_ELEMENTS);
}

// ---------------------------------------------------------------------------------------------
// Encoder limits.

/// A document using every kind of write: page switches, strings, opaque data, empty elements.
fn write_sample(w: &mut Encoder<'_>) -> Result<(), Error> {
    w.start(SYNC)?;
    w.leaf(SYNC_KEY, "12345")?;
    w.empty(airsync::GET_CHANGES)?;
    w.start(airsync::APPLICATION_DATA)?;
    w.leaf(easbox::wbxml::contacts::FILE_AS, "Rossi, Maria")?;
    w.leaf_opaque(easbox::wbxml::contacts::PICTURE, &[1, 2, 3, 4, 5])?;
    w.end()?;
    w.leaf_int(airsync::WINDOW_SIZE, 100)?;
    w.end()
}

fn sample_len() -> usize {
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, usize::MAX).expect("header");
    write_sample(&mut w).expect("sample");
    w.finish().expect("complete")
}

#[test]
fn encoder_output_cap() {
    let n = sample_len();
    assert!(n > 20, "sample is {n} bytes");
    // Exactly at the cap: fine.
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, n).expect("header");
    write_sample(&mut w).expect("sample fits its own length");
    assert_eq!(w.finish(), Ok(n));
    // Every smaller cap fails with OutputSize, wherever the write that crosses it is, and never
    // writes past the cap.
    for cap in 0..n {
        let mut out = Vec::new();
        let result = match Encoder::new(&mut out, cap) {
            Ok(mut w) => write_sample(&mut w),
            Err(e) => Err(e),
        };
        assert_eq!(
            result,
            Err(Error::LimitExceeded(Limit::OutputSize)),
            "cap {cap} of {n}"
        );
        assert!(out.len() <= cap, "cap {cap}: wrote {} bytes", out.len());
    }
}

#[test]
fn encoder_cap_counts_only_this_document() {
    let n = sample_len();
    let mut out = vec![0xEE; 1000];
    let mut w = Encoder::new(&mut out, n).expect("header");
    write_sample(&mut w).expect("sample fits after other data");
    assert_eq!(w.finish(), Ok(n));
    assert_eq!(out.len(), 1000 + n);
    let mut out = vec![0xEE; 1000];
    let mut w = Encoder::new(&mut out, n - 1).expect("header");
    assert_eq!(
        write_sample(&mut w),
        Err(Error::LimitExceeded(Limit::OutputSize))
    );
    assert!(out.len() < 1000 + n);
}

fn encode_nested(depth: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, 1 << 16)?;
    for _ in 0..depth {
        w.start(SYNC)?;
    }
    for _ in 0..depth {
        w.end()?;
    }
    w.finish()?;
    Ok(out)
}

#[test]
fn encoder_depth() {
    let max = Encoder::MAX_DEPTH;
    let bytes = encode_nested(max).expect("MAX_DEPTH nested elements");
    // What the encoder writes at its deepest, the decoder reads with the default limits.
    assert_eq!(decode(&bytes, Limits::DEFAULT), Ok(()));
    assert_eq!(bytes, nested(max));
    assert_eq!(
        encode_nested(max + 1),
        Err(Error::LimitExceeded(Limit::Depth))
    );
    // The owned-tree writer goes through the same check.
    let mut deep = OwnedElement::new(SYNC);
    for _ in 1..=max {
        deep = OwnedElement::new(SYNC).with(deep);
    }
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, 1 << 16).expect("header");
    assert_eq!(w.owned(&deep), Err(Error::LimitExceeded(Limit::Depth)));
}

#[test]
fn encoder_misuse() {
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, 1024).expect("header");
    assert!(matches!(w.text("x"), Err(Error::Encode(_))));
    assert!(matches!(w.opaque(b"x"), Err(Error::Encode(_))));
    assert!(matches!(w.end(), Err(Error::Encode(_))));
    assert!(matches!(w.start(Tag::new(0, 0x04)), Err(Error::Encode(_))));
    assert!(matches!(w.start(Tag::new(0, 0x40)), Err(Error::Encode(_))));
    assert_eq!(w.start(Tag::new(26, 0x05)), Err(Error::UnknownPage(26)));
    w.start(SYNC).expect("root");
    assert!(matches!(w.text("a\0b"), Err(Error::Encode(_))));
    w.end().expect("end");
    assert!(matches!(w.start(SYNC), Err(Error::Encode(_))));
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, 1024).expect("header");
    w.start(SYNC).expect("root");
    assert!(matches!(w.finish(), Err(Error::Encode(_))));
    let mut out = Vec::new();
    let w = Encoder::new(&mut out, 1024).expect("header");
    assert!(matches!(w.finish(), Err(Error::Encode(_))));
}

// ---------------------------------------------------------------------------------------------
// Malformed input.

/// `(name, input, expected error)`; a `Structure`/`Unsupported`/`BadHeader` reason is not
/// compared, only the variant.
fn malformed() -> Vec<(&'static str, Vec<u8>, Error)> {
    let mut cases: Vec<(&'static str, Vec<u8>, Error)> = vec![
        ("empty input", vec![], Error::Truncated),
        ("header: version only", vec![0x03], Error::Truncated),
        ("header: no charset", vec![0x03, 0x01], Error::Truncated),
        (
            "header: no string table length",
            vec![0x03, 0x01, 0x6A],
            Error::Truncated,
        ),
        (
            "header: public id unterminated",
            vec![0x03, 0x81],
            Error::Truncated,
        ),
        ("body: missing", doc(&[]), Error::Truncated),
        ("body: root never ends", doc(&[SYNC_C]), Error::Truncated),
        (
            "body: child never ends",
            doc(&[SYNC_C, KEY_C, STR_I, b'1', 0, END]),
            Error::Truncated,
        ),
        (
            "body: SWITCH_PAGE without page",
            doc(&[SYNC_C, SWITCH_PAGE]),
            Error::Truncated,
        ),
        (
            "string: no terminating NUL",
            doc(&[SYNC_C, STR_I, b'a', b'b']),
            Error::Truncated,
        ),
        (
            "opaque: shorter than its length",
            doc(&[SYNC_C, OPAQUE, 0x05, 1, 2]),
            Error::Truncated,
        ),
        (
            "opaque: length unterminated",
            doc(&[SYNC_C, OPAQUE, 0x81]),
            Error::Truncated,
        ),
        (
            "opaque: no length",
            doc(&[SYNC_C, OPAQUE]),
            Error::Truncated,
        ),
        (
            "header: WBXML version 0x04",
            vec![0x04, 0x01, 0x6A, 0x00, SYNC_E],
            Error::BadHeader(""),
        ),
        (
            "header: WBXML version 0x00",
            vec![0x00, 0x01, 0x6A, 0x00, SYNC_E],
            Error::BadHeader(""),
        ),
        (
            "header: charset ISO-8859-1",
            vec![0x03, 0x01, 0x04, 0x00, SYNC_E],
            Error::BadHeader(""),
        ),
        (
            "header: non-empty string table",
            vec![0x03, 0x01, 0x6A, 0x02, b'a', 0x00, SYNC_E],
            Error::Unsupported(""),
        ),
        (
            "header: public id in the string table",
            vec![0x03, 0x00, 0x00, 0x6A, 0x00, SYNC_E],
            Error::Unsupported(""),
        ),
        (
            "body: STR_T",
            doc(&[SYNC_C, 0x83, 0x00, END]),
            Error::Unsupported(""),
        ),
        (
            "tag with attributes",
            doc(&[0x85, 0x01]),
            Error::Unsupported(""),
        ),
        (
            "tag with attributes and content",
            doc(&[SYNC_C, 0xCB, 0x01, END, END]),
            Error::Unsupported(""),
        ),
        (
            "ENTITY",
            doc(&[SYNC_C, 0x02, 0x41, END]),
            Error::Unsupported(""),
        ),
        ("PI", doc(&[SYNC_C, 0x43, END]), Error::Unsupported("")),
        ("PI before the root", doc(&[0x43]), Error::Unsupported("")),
        (
            "unknown page 26",
            doc(&[SWITCH_PAGE, 26, SYNC_E]),
            Error::UnknownPage(26),
        ),
        (
            "unknown page 255 inside the root",
            doc(&[SYNC_C, SWITCH_PAGE, 255, KEY_E, END]),
            Error::UnknownPage(255),
        ),
        ("END with nothing open", doc(&[END]), Error::Structure("")),
        (
            "END after the root ended",
            doc(&[SYNC_C, END, END]),
            Error::Structure(""),
        ),
        (
            "data after the root",
            doc(&[SYNC_E, STR_I, b'x', 0]),
            Error::Structure(""),
        ),
        (
            "page switch after the root",
            doc(&[SYNC_E, SWITCH_PAGE, 1]),
            Error::Structure(""),
        ),
        ("two roots", doc(&[SYNC_E, KEY_E]), Error::Structure("")),
        (
            "two roots with content",
            doc(&[SYNC_C, END, SYNC_C, END]),
            Error::Structure(""),
        ),
        (
            "text before the root",
            doc(&[STR_I, b'x', 0, SYNC_E]),
            Error::Structure(""),
        ),
        (
            "opaque before the root",
            doc(&[OPAQUE, 0x01, 0x00, SYNC_E]),
            Error::Structure(""),
        ),
        (
            "bad UTF-8",
            doc(&[SYNC_C, STR_I, 0xFF, 0xFE, 0, END]),
            Error::BadUtf8,
        ),
        (
            "truncated UTF-8 sequence",
            doc(&[SYNC_C, STR_I, b'a', 0xC3, 0, END]),
            Error::BadUtf8,
        ),
        (
            "UTF-8 surrogate",
            doc(&[SYNC_C, STR_I, 0xED, 0xA0, 0x80, 0, END]),
            Error::BadUtf8,
        ),
        (
            "mb_u_int32: 33 bits",
            doc(&[SYNC_C, OPAQUE, 0x90, 0x80, 0x80, 0x80, 0x00, END]),
            Error::BadInteger,
        ),
        (
            "mb_u_int32: six bytes",
            doc(&[SYNC_C, OPAQUE, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, END]),
            Error::BadInteger,
        ),
        (
            "mb_u_int32: public id overflows",
            vec![0x03, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x6A, 0x00, SYNC_E],
            Error::BadInteger,
        ),
        (
            "mb_u_int32: string table length overflows",
            vec![0x03, 0x01, 0x6A, 0x90, 0x80, 0x80, 0x80, 0x00, SYNC_E],
            Error::BadInteger,
        ),
    ];
    for (name, token) in [
        ("LITERAL", 0x04),
        ("LITERAL_A", 0x84),
        ("LITERAL_C", 0x44),
        ("LITERAL_AC", 0xC4),
    ] {
        cases.push((
            name,
            doc(&[SYNC_C, token, 0x00, END]),
            Error::Unsupported(""),
        ));
    }
    for (name, token) in [
        ("EXT_I_0", 0x40),
        ("EXT_I_1", 0x41),
        ("EXT_I_2", 0x42),
        ("EXT_T_0", 0x80),
        ("EXT_T_1", 0x81),
        ("EXT_T_2", 0x82),
        ("EXT_0", 0xC0),
        ("EXT_1", 0xC1),
        ("EXT_2", 0xC2),
    ] {
        cases.push((
            name,
            doc(&[SYNC_C, token, 0x00, END]),
            Error::Unsupported(""),
        ));
    }
    cases
}

fn same_variant(a: &Error, b: &Error) -> bool {
    match (a, b) {
        (Error::BadHeader(_), Error::BadHeader(_))
        | (Error::Unsupported(_), Error::Unsupported(_))
        | (Error::Structure(_), Error::Structure(_))
        | (Error::Encode(_), Error::Encode(_)) => true,
        _ => a == b,
    }
}

#[test]
fn malformed_input_gives_its_error() {
    let mut wrong = Vec::new();
    for (name, bytes, want) in malformed() {
        match decode(&bytes, Limits::DEFAULT) {
            Err(got) if same_variant(&got, &want) => {}
            got => wrong.push(format!("{name}: want {want:?}, got {got:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Each malformed case differs from a valid document in the one way its name says: the
/// valid neighbours decode.
#[test]
fn valid_neighbours_decode() {
    for body in [
        &[SYNC_E][..],
        &[SYNC_C, END],
        &[SYNC_C, KEY_C, STR_I, b'1', 0, END, END],
        &[SYNC_C, STR_I, b'a', b'b', 0, END],
        &[SYNC_C, OPAQUE, 0x02, 1, 2, END],
        &[SYNC_C, OPAQUE, 0x00, END],
        &[SYNC_C, SWITCH_PAGE, 25, KEY_E, END],
        &[SWITCH_PAGE, 1, SYNC_E],
        &[SYNC_C, STR_I, 0xC3, 0xA9, 0, END],
        &[SYNC_C, STR_I, 0, END],
        // The largest mb_u_int32 as a declared opaque length: refused by the limit, not as an
        // overflow.
    ] {
        assert_eq!(decode(&doc(body), Limits::DEFAULT), Ok(()), "{body:02X?}");
    }
    let max = doc(&[SYNC_C, OPAQUE, 0x8F, 0xFF, 0xFF, 0xFF, 0x7F]);
    assert_eq!(
        decode(&max, Limits::DEFAULT),
        Err(Error::LimitExceeded(Limit::OpaqueLen))
    );
    // WBXML 1.1 and 1.2 headers are read too.
    assert_eq!(decode(&[0x01, 0x01, 0x6A, 0x00, SYNC_E], limits()), Ok(()));
    assert_eq!(decode(&[0x02, 0x01, 0x6A, 0x00, SYNC_E], limits()), Ok(()));
}

/// An error leaves the streaming decoder in a state that keeps failing or ends; it never
/// yields events past a malformed token as if nothing happened.
#[test]
fn events_stop_at_the_first_error() {
    for (name, bytes, _) in malformed() {
        let Ok(mut d) = Decoder::new(&bytes, Limits::DEFAULT) else {
            continue;
        };
        let mut seen = Vec::new();
        loop {
            match d.next_event() {
                Ok(Some(ev)) => seen.push(ev),
                Ok(None) => panic!("{name}: decoded to the end: {seen:?}"),
                Err(_) => break,
            }
            assert!(seen.len() < 100, "{name}: runaway events");
        }
        assert!(
            !seen.iter().any(|e| matches!(e, Event::Text("x"))),
            "{name}: text after the root reached the caller"
        );
    }
}
