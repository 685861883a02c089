//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod crm;
pub mod eas_client;
pub mod server;

use std::path::PathBuf;

/// Compares `bytes` with the golden file `tests/golden/<name>.wbxml` byte for byte, and the
/// XML rendering with `<name>.xml` (the XML is there for people to read; the bytes are the
/// reference). Golden files are written only when `EASBOX_BLESS=1` is set (then nothing is
/// compared: review the written files with `git diff`); a normal run never writes them.
pub fn golden(name: &str, bytes: &[u8]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bin = dir.join(format!("{name}.wbxml"));
    let xml_path = dir.join(format!("{name}.xml"));
    let tree = easbox::wbxml::parse(bytes, easbox::wbxml::Limits::DEFAULT)
        .unwrap_or_else(|e| panic!("{name}: our own output does not decode: {e}"));
    let xml = easbox::wbxml::to_xml(&tree);
    if std::env::var_os("EASBOX_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::fs::write(&bin, bytes).unwrap();
        std::fs::write(&xml_path, &xml).unwrap();
        eprintln!("{name}: golden files written; review them, then run without EASBOX_BLESS");
        return;
    }
    let want = std::fs::read(&bin).unwrap_or_else(|_| {
        panic!(
            "{name}: no golden file {}; write it with EASBOX_BLESS=1 and review it",
            bin.display()
        )
    });
    let want_xml = std::fs::read_to_string(&xml_path).unwrap_or_default();
    assert_eq!(
        xml, want_xml,
        "{name}: XML rendering differs from the golden file"
    );
    assert_eq!(
        bytes,
        want.as_slice(),
        "{name}: bytes differ from the golden file"
    );
}
