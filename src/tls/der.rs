//! Just enough DER (ITU-T X.690) to read the common name back out of our own CA's subject.
//!
//! rcgen can only turn an existing CA certificate into an issuer with its `x509-parser` feature,
//! which pulls a whole ASN.1 stack onto the box. Our CA's subject is a single CN that we wrote
//! ourselves, so reading that one attribute back is enough to rebuild a byte-identical issuer
//! name (webpki chains by comparing the raw issuer and subject bytes).

const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_OID: u8 = 0x06;
/// The tag of a UTF8String, the form rcgen writes a `String` in.
pub const TAG_UTF8_STRING: u8 = 0x0c;
/// The tag of a PrintableString.
pub const TAG_PRINTABLE_STRING: u8 = 0x13;
/// id-at-commonName, 2.5.4.3 (RFC 5280 appendix A), content octets only.
const OID_COMMON_NAME: [u8; 3] = [0x55, 0x04, 0x03];

/// Splits one tag-length-value off `input`: `(tag, value, rest)`. Low tag numbers and lengths
/// up to four octets only, which covers everything in a certificate name.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        u32::from(first)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0u32;
        for _ in 0..n {
            let (&b, r) = rest.split_first()?;
            len = (len << 8) | u32::from(b);
            rest = r;
        }
        len
    };
    let len = usize::try_from(len).ok()?;
    if len > rest.len() {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    Some((tag, value, rest))
}

/// The common name of an X.501 `Name` as `(string tag, text)`, if the name is nothing but
/// a single CN. `name` may be the whole SEQUENCE or just its contents (webpki hands out the
/// latter).
pub fn sole_common_name(name: &[u8]) -> Option<(u8, String)> {
    let mut rdns = match tlv(name) {
        Some((TAG_SEQUENCE, inner, [])) => inner,
        _ => name,
    };
    let mut found = None;
    while !rdns.is_empty() {
        let (tag, set, rest) = tlv(rdns)?;
        rdns = rest;
        if tag != TAG_SET {
            return None;
        }
        let (TAG_SEQUENCE, atv, []) = tlv(set)? else {
            return None;
        };
        let (TAG_OID, oid, value) = tlv(atv)? else {
            return None;
        };
        let (value_tag, text, []) = tlv(value)? else {
            return None;
        };
        if oid != OID_COMMON_NAME || found.is_some() {
            return None;
        }
        let text = String::from_utf8(text.to_vec()).ok()?;
        found = Some((value_tag, text));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(cn: &[u8]) -> Vec<u8> {
        let mut atv = vec![
            TAG_OID,
            3,
            0x55,
            0x04,
            0x03,
            TAG_UTF8_STRING,
            cn.len() as u8,
        ];
        atv.extend_from_slice(cn);
        let mut seq = vec![TAG_SEQUENCE, atv.len() as u8];
        seq.extend(atv);
        let mut set = vec![TAG_SET, seq.len() as u8];
        set.extend(seq);
        set
    }

    #[test]
    fn reads_a_lone_cn_with_or_without_the_outer_sequence() {
        let inner = name(b"easbox local CA box");
        let expected = Some((TAG_UTF8_STRING, "easbox local CA box".to_owned()));
        assert_eq!(sole_common_name(&inner), expected);
        let mut outer = vec![TAG_SEQUENCE, inner.len() as u8];
        outer.extend(inner);
        assert_eq!(sole_common_name(&outer), expected);
    }

    #[test]
    fn refuses_anything_else() {
        let mut two = name(b"a");
        two.extend(name(b"b"));
        assert_eq!(sole_common_name(&two), None);
        let mut other_oid = name(b"a");
        other_oid[8] = 0x0a; // organizationName
        assert_eq!(sole_common_name(&other_oid), None);
        let good = name(b"abc");
        for cut in 0..good.len() {
            assert!(sole_common_name(&good[..cut]).is_none(), "cut {cut}");
        }
        assert_eq!(sole_common_name(&[0x31, 0x85, 1, 1, 1, 1, 1]), None);
    }
}
