//! Any bytes through the WBXML decoder ([MS-ASWBXML] 2.1.2): the streaming decoder and the
//! tree parser must agree and never panic; a document they accept must re-encode, and the
//! re-encoded bytes must decode to the same tree.
#![no_main]

use easbox::wbxml::{Decoder, Encoder, Limits, parse, to_xml};
use libfuzzer_sys::fuzz_target;

/// Larger than any document the default limits let through and re-encode.
const CAP: usize = 1 << 30;

fuzz_target!(|data: &[u8]| {
    let streamed = Decoder::new(data, Limits::DEFAULT).and_then(|mut d| {
        while d.next_event()?.is_some() {}
        Ok(())
    });
    let tree = parse(data, Limits::DEFAULT);
    assert_eq!(
        streamed,
        tree.as_ref().map(|_| ()).map_err(Clone::clone),
        "Decoder and parse disagree"
    );
    let Ok(root) = tree else { return };
    let _ = to_xml(&root);
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, CAP).expect("header fits");
    w.element(&root).expect("a decoded tree re-encodes");
    w.finish().expect("the re-encoded document is complete");
    let again = parse(&out, Limits::DEFAULT).expect("re-encoded bytes decode");
    assert_eq!(again, root, "decode(encode(decode(x))) != decode(x)");
});
