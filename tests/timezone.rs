//! The TIME_ZONE_INFORMATION blob ([MS-ASDTYPE] 2.7.6): derived from real zones, read back,
//! known client blobs, malformed input.

use easbox::eas::Error;
use easbox::eas::timezone::{BLOB_LEN, SystemTime, TimeZoneInfo};
use jiff::civil::{Weekday, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn year_bounds(year: i16) -> (Timestamp, Timestamp) {
    let s = date(year, 1, 1).at(0, 0, 0, 0).in_tz("UTC").unwrap();
    let e = date(year + 1, 1, 1).at(0, 0, 0, 0).in_tz("UTC").unwrap();
    (s.timestamp(), e.timestamp())
}

fn transitions(tz: &TimeZone, year: i16) -> Vec<Timestamp> {
    let (s, e) = year_bounds(year);
    tz.following(s)
        .take_while(|t| t.timestamp() < e)
        .map(|t| t.timestamp())
        .collect()
}

/// The blob's zone gives the real zone's offset an hour (and a second) either side of every
/// transition of the year, and in mid-winter and mid-summer.
fn assert_reproduces(name: &str, year: i16) -> TimeZoneInfo {
    let real = zone(name);
    let info = TimeZoneInfo::for_zone(&real, year).unwrap();
    assert!(info.standard_name.is_empty() && info.daylight_name.is_empty());
    let back = TimeZoneInfo::from_base64(&info.to_base64()).unwrap();
    assert_eq!(back, info, "{name} {year}: base64 round trip");
    let mine = back.to_zone();
    let mut probes = vec![
        date(year, 1, 15)
            .at(12, 0, 0, 0)
            .in_tz("UTC")
            .unwrap()
            .timestamp(),
        date(year, 7, 15)
            .at(12, 0, 0, 0)
            .in_tz("UTC")
            .unwrap()
            .timestamp(),
    ];
    for t in transitions(&real, year) {
        for d in [-3600, -1, 0, 3600] {
            probes.push(t.checked_add(SignedDuration::from_secs(d)).unwrap());
        }
    }
    for p in probes {
        assert_eq!(
            mine.to_offset(p),
            real.to_offset(p),
            "{name} {year}: offset at {p} (blob {info:?})"
        );
    }
    info
}

#[test]
fn europe_rome() {
    let info = assert_reproduces("Europe/Rome", 2024);
    assert_eq!(info.bias, -60);
    assert_eq!(info.daylight_bias, -60);
    assert_eq!(info.standard_bias, 0);
    // Last Sunday of March at 02:00 local standard time, last Sunday of October at 03:00
    // local daylight time: what Windows ships for W. Europe Standard Time.
    assert_eq!(
        info.daylight_date,
        SystemTime::annual(3, 5, Weekday::Sunday, 2, 0)
    );
    assert_eq!(
        info.standard_date,
        SystemTime::annual(10, 5, Weekday::Sunday, 3, 0)
    );
    assert_eq!(transitions(&zone("Europe/Rome"), 2024).len(), 2);
    // A year where October's last Sunday is its 4th one and one where it is its 5th.
    assert_reproduces("Europe/Rome", 2023);
    assert_reproduces("Europe/Rome", 2026);
}

#[test]
fn america_new_york() {
    let info = assert_reproduces("America/New_York", 2024);
    assert_eq!(info.bias, 300);
    assert_eq!(
        info.daylight_date,
        SystemTime::annual(3, 2, Weekday::Sunday, 2, 0)
    );
    assert_eq!(
        info.standard_date,
        SystemTime::annual(11, 1, Weekday::Sunday, 2, 0)
    );
    // The 2007 rule change: first Sunday of April, last of October.
    let old = assert_reproduces("America/New_York", 2006);
    assert_eq!(
        old.daylight_date,
        SystemTime::annual(4, 1, Weekday::Sunday, 2, 0)
    );
    assert_eq!(
        old.standard_date,
        SystemTime::annual(10, 5, Weekday::Sunday, 2, 0)
    );
}

#[test]
fn zones_without_dst() {
    for (name, bias) in [("Asia/Kolkata", -330), ("UTC", 0), ("Asia/Tokyo", -540)] {
        let info = assert_reproduces(name, 2024);
        assert_eq!(info.bias, bias, "{name}");
        assert!(!info.has_dst(), "{name}");
        assert_eq!(info.standard_date, SystemTime::default());
        assert_eq!(info.daylight_date, SystemTime::default());
    }
}

#[test]
fn australia_sydney_southern_hemisphere() {
    let info = assert_reproduces("Australia/Sydney", 2024);
    assert_eq!(info.bias, -600);
    assert_eq!(
        info.daylight_date,
        SystemTime::annual(10, 1, Weekday::Sunday, 2, 0)
    );
    assert_eq!(
        info.standard_date,
        SystemTime::annual(4, 1, Weekday::Sunday, 3, 0)
    );
    assert_reproduces("Pacific/Auckland", 2024);
    assert_reproduces("America/Santiago", 2024);
}

#[test]
fn sao_paulo_dst_abolished_in_2019() {
    let y2018 = assert_reproduces("America/Sao_Paulo", 2018);
    assert!(y2018.has_dst());
    assert_eq!(y2018.bias, 180);
    // Third Sunday of February, first Sunday of November, both at local midnight.
    assert_eq!(
        y2018.standard_date,
        SystemTime::annual(2, 3, Weekday::Sunday, 0, 0)
    );
    assert_eq!(
        y2018.daylight_date,
        SystemTime::annual(11, 1, Weekday::Sunday, 0, 0)
    );
    let y2024 = assert_reproduces("America/Sao_Paulo", 2024);
    assert!(!y2024.has_dst());
    assert_eq!(y2024.bias, 180);
    assert_ne!(y2018, y2024);
}

#[test]
fn more_zones_reproduce() {
    for name in [
        "Europe/London",
        "Europe/Dublin",
        "America/Los_Angeles",
        "America/St_Johns",
        "Australia/Adelaide",
        "Australia/Lord_Howe",
        "Asia/Jerusalem",
        "Africa/Cairo",
        "America/Havana",
    ] {
        assert_reproduces(name, 2024);
    }
}

fn blob(
    bias: i32,
    std_name: &str,
    std: [u16; 8],
    std_bias: i32,
    dst_name: &str,
    dst: [u16; 8],
    dst_bias: i32,
) -> Vec<u8> {
    let name = |s: &str| {
        let mut v: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        v.resize(64, 0);
        v
    };
    let st = |t: [u16; 8]| t.iter().flat_map(|u| u.to_le_bytes()).collect::<Vec<u8>>();
    let mut b = bias.to_le_bytes().to_vec();
    b.extend(name(std_name));
    b.extend(st(std));
    b.extend(std_bias.to_le_bytes());
    b.extend(name(dst_name));
    b.extend(st(dst));
    b.extend(dst_bias.to_le_bytes());
    assert_eq!(b.len(), BLOB_LEN);
    b
}

#[test]
fn aosp_dawson_like_blob() {
    // Bias 480, standard first Sunday of November 2:00, daylight second Sunday of March 2:00.
    let b = blob(
        480,
        "",
        [0, 11, 0, 1, 2, 0, 0, 0],
        0,
        "",
        [0, 3, 0, 2, 2, 0, 0, 0],
        -60,
    );
    let info = TimeZoneInfo::from_bytes(&b).unwrap();
    assert_eq!(info.bias, 480);
    assert_eq!(info.daylight_bias, -60);
    assert_eq!(info.standard_date.month, 11);
    assert_eq!(info.standard_date.day, 1);
    assert_eq!(info.daylight_date.day, 2);
    assert_eq!(info.to_bytes(), b);
    let tz = info.to_zone();
    let la = zone("America/Los_Angeles");
    for t in transitions(&la, 2024) {
        for d in [-3600, 3600] {
            let p = t.checked_add(SignedDuration::from_secs(d)).unwrap();
            assert_eq!(tz.to_offset(p), la.to_offset(p));
        }
    }
    assert_eq!(info.guess_iana(2024), Some("America/Los_Angeles"));
}

/// Horde/Z-Push send EST with names; the base64 starts `LAEAAEUAUwBU` (Bias 300, "EST").
const HORDE_EST: &str = "LAEAAEUAUwBUAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAsAAAABAAIAAAAAAAAAAAAAAEUARABUAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAMAAAACAAIAAAAAAAAAxP///w==";

#[test]
fn horde_est_blob() {
    let info = TimeZoneInfo::from_base64(HORDE_EST).unwrap();
    assert_eq!(info.bias, 300);
    assert_eq!(info.standard_name, "EST");
    assert_eq!(info.daylight_name, "EDT");
    assert_eq!(info.daylight_bias, -60);
    assert_eq!(info.to_base64(), HORDE_EST);
    assert_eq!(info.guess_iana(2024), Some("America/New_York"));
    let ny = zone("America/New_York");
    let tz = info.to_zone();
    for t in transitions(&ny, 2024) {
        for d in [-3600, 3600] {
            let p = t.checked_add(SignedDuration::from_secs(d)).unwrap();
            assert_eq!(tz.to_offset(p), ny.to_offset(p));
        }
    }
    // Unpadded and wrapped forms decode the same.
    let wrapped = format!(
        "{}\r\n{}",
        &HORDE_EST[..100],
        HORDE_EST[100..].trim_end_matches('=')
    );
    assert_eq!(TimeZoneInfo::from_base64(&wrapped).unwrap(), info);
}

#[test]
fn week_five_means_last() {
    // Daylight time from the 5th (= last) Sunday of March to the 5th Sunday of October, in
    // 2024 when October has only four Sundays (the last is the 27th).
    let b = blob(
        -60,
        "",
        [0, 10, 0, 5, 3, 0, 0, 0],
        0,
        "",
        [0, 3, 0, 5, 2, 0, 0, 0],
        -60,
    );
    let tz = TimeZoneInfo::from_bytes(&b).unwrap().to_zone();
    let at = |m, d, h| {
        date(2024, m, d)
            .at(h, 0, 0, 0)
            .in_tz("UTC")
            .unwrap()
            .timestamp()
    };
    assert_eq!(tz.to_offset(at(10, 27, 0)).seconds(), 7200);
    assert_eq!(tz.to_offset(at(10, 27, 2)).seconds(), 3600);
    assert_eq!(tz.to_offset(at(10, 20, 2)).seconds(), 7200);
    assert_eq!(tz.to_offset(at(3, 31, 0)).seconds(), 3600);
    assert_eq!(tz.to_offset(at(3, 31, 2)).seconds(), 7200);
    // Week 4 is the 4th, not the last: October 2023 has five Sundays.
    let b4 = blob(
        -60,
        "",
        [0, 10, 0, 4, 3, 0, 0, 0],
        0,
        "",
        [0, 3, 0, 5, 2, 0, 0, 0],
        -60,
    );
    let tz4 = TimeZoneInfo::from_bytes(&b4).unwrap().to_zone();
    let at23 = |m, d, h| {
        date(2023, m, d)
            .at(h, 0, 0, 0)
            .in_tz("UTC")
            .unwrap()
            .timestamp()
    };
    assert_eq!(tz4.to_offset(at23(10, 22, 2)).seconds(), 3600);
    assert_eq!(tz4.to_offset(at23(10, 22, 0)).seconds(), 7200);
}

#[test]
fn absolute_dates_are_read_as_that_years_rule() {
    // New York 2024 written with wYear: 10 March and 3 November.
    let b = blob(
        300,
        "",
        [2024, 11, 0, 3, 2, 0, 0, 0],
        0,
        "",
        [2024, 3, 0, 10, 2, 0, 0, 0],
        -60,
    );
    let info = TimeZoneInfo::from_bytes(&b).unwrap();
    let tz = info.to_zone();
    let ny = zone("America/New_York");
    for t in transitions(&ny, 2024) {
        for d in [-3600, 3600] {
            let p = t.checked_add(SignedDuration::from_secs(d)).unwrap();
            assert_eq!(tz.to_offset(p), ny.to_offset(p));
        }
    }
    assert_eq!(info.guess_iana(2024), Some("America/New_York"));
}

#[test]
fn guesses_common_zones() {
    for (name, year) in [
        ("Europe/Rome", 2024),
        ("America/New_York", 2024),
        ("Asia/Kolkata", 2024),
        ("Australia/Sydney", 2024),
        ("UTC", 2024),
        ("Asia/Tokyo", 2024),
        ("America/Sao_Paulo", 2018),
        ("America/Sao_Paulo", 2024),
        ("Pacific/Auckland", 2024),
        ("America/Los_Angeles", 2024),
    ] {
        let info = TimeZoneInfo::for_zone(&zone(name), year).unwrap();
        assert_eq!(info.guess_iana(year), Some(name), "{name} {year}");
    }
    // Europe/Berlin shares Rome's rules: the first listed name wins.
    let berlin = TimeZoneInfo::for_zone(&zone("Europe/Berlin"), 2024).unwrap();
    assert_eq!(berlin.guess_iana(2024), Some("Europe/Rome"));
    // A made-up offset matches nothing.
    assert_eq!(TimeZoneInfo::fixed(17).guess_iana(2024), None);
}

fn is_bad_value(r: Result<TimeZoneInfo, Error>) -> bool {
    matches!(r, Err(Error::BadValue { .. }))
}

#[test]
fn malformed_blobs_are_errors() {
    let good = blob(
        -60,
        "",
        [0, 10, 0, 5, 3, 0, 0, 0],
        0,
        "",
        [0, 3, 0, 5, 2, 0, 0, 0],
        -60,
    );
    assert!(TimeZoneInfo::from_bytes(&good).is_ok());
    assert!(is_bad_value(TimeZoneInfo::from_bytes(&good[..171])));
    let mut long = good.clone();
    long.push(0);
    assert!(is_bad_value(TimeZoneInfo::from_bytes(&long)));
    assert!(is_bad_value(TimeZoneInfo::from_bytes(&[])));
    assert!(is_bad_value(TimeZoneInfo::from_base64("!!!not base64")));
    assert!(is_bad_value(TimeZoneInfo::from_base64("LAEAAA==")));
    assert!(is_bad_value(TimeZoneInfo::from_base64(&"A".repeat(10_000))));
    let with = |at: usize, v: u16| {
        let mut b = good.clone();
        b[at..at + 2].copy_from_slice(&v.to_le_bytes());
        TimeZoneInfo::from_bytes(&b)
    };
    // StandardDate starts at 68: year, month, dow, day, hour, minute, second, ms.
    assert!(is_bad_value(with(70, 13)), "month 13");
    assert!(is_bad_value(with(74, 6)), "week 6");
    assert!(is_bad_value(with(74, 0)), "week 0");
    assert!(is_bad_value(with(72, 7)), "weekday 7");
    assert!(is_bad_value(with(76, 24)), "hour 24");
    assert!(is_bad_value(with(152 + 2, 13)), "daylight month 13");
    // An absolute date that does not exist: 30 February 2024.
    let mut b = good.clone();
    for (i, v) in [2024u16, 2, 0, 30].iter().enumerate() {
        b[68 + i * 2..70 + i * 2].copy_from_slice(&v.to_le_bytes());
    }
    assert!(is_bad_value(TimeZoneInfo::from_bytes(&b)));
    let mut huge = good.clone();
    huge[0..4].copy_from_slice(&i32::MAX.to_le_bytes());
    assert!(is_bad_value(TimeZoneInfo::from_bytes(&huge)));
    // Month 0 switches a date off whatever its other fields hold.
    let off = {
        let mut b = good.clone();
        b[70..72].copy_from_slice(&0u16.to_le_bytes());
        b[74..76].copy_from_slice(&9u16.to_le_bytes());
        TimeZoneInfo::from_bytes(&b).unwrap()
    };
    assert!(!off.has_dst());
    assert_eq!(off.to_zone().to_fixed_offset().unwrap().seconds(), 3600);
}

#[test]
fn years_outside_the_calendar_are_unencodable() {
    assert!(matches!(
        TimeZoneInfo::for_zone(&zone("Europe/Rome"), 9999),
        Err(Error::Unencodable(_))
    ));
}

proptest! {
    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(info) = TimeZoneInfo::from_bytes(&bytes) {
            let tz = info.to_zone();
            let _ = tz.to_offset(Timestamp::UNIX_EPOCH);
            let _ = info.guess_iana(2024);
        }
    }

    #[test]
    fn any_valid_rules_build_a_zone(
        bias in -720i32..=840,
        months in (1u16..=12, 1u16..=12),
        weeks in (1u16..=5, 1u16..=5),
        dows in (0u16..=6, 0u16..=6),
        hours in (0u16..=23, 0u16..=23),
        dst_bias in -120i32..=120,
    ) {
        let b = blob(
            bias, "", [0, months.0, dows.0, weeks.0, hours.0, 0, 0, 0], 0,
            "", [0, months.1, dows.1, weeks.1, hours.1, 0, 0, 0], dst_bias,
        );
        let info = TimeZoneInfo::from_bytes(&b).unwrap();
        let posix = info.posix_string().unwrap();
        prop_assert!(TimeZone::posix(&posix).is_ok(), "{}", posix);
        let tz = info.to_zone();
        let jan = date(2024, 1, 15).at(0, 0, 0, 0).in_tz("UTC").unwrap().timestamp();
        let off = tz.to_offset(jan).seconds();
        prop_assert!(off == -bias * 60 || off == -(bias + dst_bias) * 60);
    }
}

proptest! {
    #[test]
    fn any_absolute_dates_build_a_zone(
        year in 1601u16..=2400,
        months in (1u16..=12, 1u16..=12),
        days in (1u16..=28, 1u16..=28),
        hours in (0u16..=23, 0u16..=23),
    ) {
        let b = blob(
            -60, "", [year, months.0, 0, days.0, hours.0, 0, 0, 0], 0,
            "", [year, months.1, 0, days.1, hours.1, 0, 0, 0], -60,
        );
        let info = TimeZoneInfo::from_bytes(&b).unwrap();
        let posix = info.posix_string().unwrap();
        prop_assert!(TimeZone::posix(&posix).is_ok(), "{}", posix);
    }
}
