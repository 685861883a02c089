//! The MS-ASHTTP request line ([MS-ASHTTP] 2.2.1.1.1): any query string with any values of
//! the three headers it reads must parse or fail without panicking; a line that parses must
//! survive a round trip through both of its encoded forms.
//!
//! Input layout: UTF-8 text, lines separated by `\n`: the query, then the values of
//! `MS-ASProtocolVersion`, `X-MS-PolicyKey` and `MS-ASAcceptMultiPart`; a missing or empty
//! line means the header is absent.
#![no_main]

use easbox::eas::request::{RequestLine, header, no_headers};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let query = lines.next().unwrap_or("");
    let values: Vec<&str> = lines.take(3).collect();
    let value = |i: usize| values.get(i).copied().filter(|v| !v.is_empty());
    let headers = |name: &str| match name {
        header::PROTOCOL_VERSION => value(0),
        header::POLICY_KEY => value(1),
        header::ACCEPT_MULTIPART => value(2),
        _ => None,
    };
    let Ok(line) = RequestLine::parse(query, &headers) else {
        return;
    };

    // Base64 form: carries everything itself (it needs a protocol version).
    if let Ok(q) = line.to_query_base64() {
        let back = RequestLine::parse(&q, &no_headers).expect("our base64 line parses");
        assert_eq!(back, line, "base64 round trip of {q:?}");
    }

    // Plain form: version, policy key and AcceptMultiPart travel as headers; no locale.
    if let Ok(q) = line.to_query_plain() {
        let hs = line.plain_headers();
        let lookup = |name: &str| hs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        let back = RequestLine::parse(&q, &lookup).expect("our plain line parses");
        let mut want = line.clone();
        want.locale = 0;
        assert_eq!(back, want, "plain round trip of {q:?} with {hs:?}");
    }
});
