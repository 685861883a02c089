//! Small pieces the fake needs: MD5 (the login digest of CRM-API §2.2),
//! form/query-string decoding, an order-keeping JSON writer (PHP's
//! `json_encode` keeps insertion order, e.g. `message` before `code` in the error envelope) and
//! the date conversions of CRM-API §3.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;

/// MD5 of `data` as lowercase hex (RFC 1321), as PHP's `md5()` returns it.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Decodes `application/x-www-form-urlencoded` (also a query string) into pairs; a later
/// duplicate wins on lookup, as in PHP's `$_GET`.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect()
}

/// Percent-decoding with `+` as space; invalid escapes are kept literally, bad UTF-8 replaced.
pub fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b.get(i).copied().unwrap_or(0) {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3).unwrap_or_default())
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encoding for building requests (tests, the CLI banner).
pub fn pct_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A JSON value that keeps key order.
#[derive(Clone, Debug, PartialEq)]
pub enum Out {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<Out>),
    Obj(Vec<(String, Out)>),
}

impl Out {
    pub fn s(v: impl Into<String>) -> Out {
        Out::Str(v.into())
    }

    pub fn obj(pairs: Vec<(&str, Out)>) -> Out {
        Out::Obj(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    pub fn write(&self, out: &mut String) {
        match self {
            Out::Null => out.push_str("null"),
            Out::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Out::Int(i) => out.push_str(&i.to_string()),
            Out::Str(s) => out.push_str(&serde_json::Value::from(s.as_str()).to_string()),
            Out::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Out::Obj(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::from(k.as_str()).to_string());
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    /// From a parsed JSON value (the recorded describe replies).
    pub fn from_value(v: &serde_json::Value) -> Out {
        match v {
            serde_json::Value::Null => Out::Null,
            serde_json::Value::Bool(b) => Out::Bool(*b),
            serde_json::Value::Number(n) => Out::Int(n.as_i64().unwrap_or(0)),
            serde_json::Value::String(s) => Out::Str(s.clone()),
            serde_json::Value::Array(a) => Out::Arr(a.iter().map(Out::from_value).collect()),
            serde_json::Value::Object(m) => Out::Obj(
                m.iter()
                    .map(|(k, v)| (k.clone(), Out::from_value(v)))
                    .collect(),
            ),
        }
    }
}

/// The user date formats vtenext offers (`date_format` of the Users module).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateFormat {
    DdMmYyyy,
    MmDdYyyy,
    YyyyMmDd,
}

impl DateFormat {
    pub fn parse(s: &str) -> Option<DateFormat> {
        match s {
            "dd-mm-yyyy" => Some(DateFormat::DdMmYyyy),
            "mm-dd-yyyy" => Some(DateFormat::MmDdYyyy),
            "yyyy-mm-dd" => Some(DateFormat::YyyyMmDd),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DateFormat::DdMmYyyy => "dd-mm-yyyy",
            DateFormat::MmDdYyyy => "mm-dd-yyyy",
            DateFormat::YyyyMmDd => "yyyy-mm-dd",
        }
    }

    pub fn format(self, d: Date) -> String {
        let (y, m, dd) = (d.year(), d.month(), d.day());
        match self {
            DateFormat::DdMmYyyy => format!("{dd:02}-{m:02}-{y:04}"),
            DateFormat::MmDdYyyy => format!("{m:02}-{dd:02}-{y:04}"),
            DateFormat::YyyyMmDd => format!("{y:04}-{m:02}-{dd:02}"),
        }
    }
}

/// Reads a date given as `Y-m-d` or in the user's format. Out-of-range months and days roll
/// over like PHP's `mktime` (CRM-API §2.5: `2026-13-45` became `14-02-2027`).
pub fn parse_date_input(s: &str, fmt: DateFormat) -> Option<Date> {
    let parts: Vec<&str> = s.trim().split(['-', '/', '.']).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let n = |x: &str| x.parse::<i64>().ok();
    let (y, m, d) = if a.len() == 4 {
        (n(a)?, n(b)?, n(c)?)
    } else {
        match fmt {
            DateFormat::MmDdYyyy => (n(c)?, n(a)?, n(b)?),
            _ => (n(c)?, n(b)?, n(a)?),
        }
    };
    let base = Date::new(i16::try_from(y).ok()?, 1, 1).ok()?;
    let with_month = base
        .checked_add(jiff::Span::new().try_months(m - 1).ok()?)
        .ok()?;
    with_month
        .checked_add(jiff::Span::new().try_days(d - 1).ok()?)
        .ok()
}

pub fn ymd(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

pub fn parse_ymd(s: &str) -> Option<Date> {
    s.parse::<Date>().ok()
}

pub fn parse_hm(s: &str) -> Option<Time> {
    let (h, m) = s.trim().split_once(':')?;
    let m = m.get(..2).unwrap_or(m);
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

pub fn hm(t: Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// Moves a civil date and time from one zone to another.
pub fn shift(dt: DateTime, from: &TimeZone, to: &TimeZone) -> DateTime {
    from.to_timestamp(dt).map_or(dt, |ts| to.to_datetime(ts))
}

/// `Y-m-d H:i:s` of an epoch second in a zone (how vtenext prints createdtime/modifiedtime).
pub fn stamp(epoch: i64, tz: &TimeZone) -> String {
    match jiff::Timestamp::from_second(epoch) {
        Ok(ts) => tz.to_datetime(ts).strftime("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_hex(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn dates_roll_over_like_php() {
        let d = parse_date_input("2026-13-45", DateFormat::DdMmYyyy).unwrap();
        assert_eq!(DateFormat::DdMmYyyy.format(d), "14-02-2027");
        let d = parse_date_input("17-05-1980", DateFormat::DdMmYyyy).unwrap();
        assert_eq!(ymd(d), "1980-05-17");
        assert!(parse_date_input("x", DateFormat::DdMmYyyy).is_none());
    }

    #[test]
    fn form_decoding() {
        let f = parse_form("a=1+2&b=%7B%22x%22%7D&c&d=%zz");
        assert_eq!(f[0], ("a".into(), "1 2".into()));
        assert_eq!(f[1].1, "{\"x\"}");
        assert_eq!(f[2], ("c".into(), String::new()));
        assert_eq!(f[3].1, "%zz");
        assert_eq!(pct_decode("%4"), "%4");
    }

    #[test]
    fn out_keeps_order() {
        let o = Out::obj(vec![("message", Out::s("m")), ("code", Out::s("C"))]);
        assert_eq!(o.to_json(), r#"{"message":"m","code":"C"}"#);
    }
}
