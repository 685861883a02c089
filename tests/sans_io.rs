//! The protocol layer is sans-io (README, DESIGN.md): `src/wbxml`, `src/eas`, `src/model` and
//! `src/sync` (once it exists) must not name tokio, hyper or redb. This test reads every `.rs`
//! file under those directories and fails naming each file and line that uses one of those
//! crates as a path (`tokio::…`, `use hyper…`, `extern crate redb`, `#[tokio::test]`).
//!
//! Comments are skipped, so module docs may still say "no tokio here"; string literals are not
//! skipped (a string holding `tokio::spawn` is flagged, which is the cautious side).

use std::path::{Path, PathBuf};

/// Crates the protocol layer must not depend on. A name also matches its `name_…` family
/// (`tokio_util`, `hyper_util`), which would pull in the same runtime.
const FORBIDDEN: &[&str] = &["tokio", "hyper", "redb"];

/// Directories under `src/` that are sans-io. Missing ones (like `sync` before it is written)
/// are skipped; the first three must exist.
const SANS_IO_DIRS: &[(&str, bool)] = &[
    ("wbxml", true),
    ("eas", true),
    ("model", true),
    ("auth", true),
    ("sync", true),
];

/// Single sans-io files in directories that also hold I/O code: the CRM's wire protocol and
/// its record mapping (the client, pull and outbox beside them do I/O).
const SANS_IO_FILES: &[&str] = &["crm/wire.rs", "crm/map.rs"];

/// Removes `//` and `/* */` comments (nested block comments included), keeping newlines so
/// that line numbers stay right. String and char literals are copied as they are, so a `//`
/// inside a string does not start a comment and `'"'` does not open a string.
fn strip_comments(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let mut block_depth = 0u32;
    let mut in_str = false;
    while i < c.len() {
        let (ch, next) = (c[i], at(i + 1));
        if block_depth > 0 {
            if ch == '*' && next == '/' {
                block_depth -= 1;
                i += 2;
            } else if ch == '/' && next == '*' {
                block_depth += 1;
                i += 2;
            } else {
                if ch == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
            continue;
        }
        if in_str {
            if ch == '\\' {
                out.push(ch);
                out.push(next);
                i += 2;
                continue;
            }
            if ch == '"' {
                in_str = false;
            }
            out.push(ch);
            i += 1;
            continue;
        }
        match (ch, next) {
            ('/', '/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            ('/', '*') => {
                block_depth = 1;
                i += 2;
            }
            ('"', _) => {
                in_str = true;
                out.push('"');
                i += 1;
            }
            // Char literals ('"', '\'', '\\'); a lifetime has no closing quote.
            ('\'', '\\') if at(i + 3) == '\'' => {
                out.extend(&c[i..i + 4]);
                i += 4;
            }
            ('\'', _) if at(i + 2) == '\'' => {
                out.extend(&c[i..i + 3]);
                i += 3;
            }
            _ => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The forbidden crate names used as a path root or import on one (comment-free) line.
fn offending_uses(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !is_ident_byte(b[i]) || (i > 0 && is_ident_byte(b[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_ident_byte(b[i]) {
            i += 1;
        }
        let ident = &line[start..i];
        let Some(krate) = FORBIDDEN
            .iter()
            .find(|k| ident == **k || ident.strip_prefix(**k).is_some_and(|r| r.starts_with('_')))
        else {
            continue;
        };
        let before = line[..start].trim_end();
        let after = line[i..].trim_start();
        let as_path = after.starts_with("::");
        let imported = before.ends_with("use")
            || before.ends_with("extern crate")
            || before.ends_with("::")
            || before.ends_with('{') && before.contains("use ");
        if as_path || imported {
            found.push(format!("{krate} (`{ident}`)"));
        }
    }
    found
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn protocol_layer_names_no_io_crates() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for (dir, required) in SANS_IO_DIRS {
        let path = src.join(dir);
        if !path.is_dir() {
            assert!(
                !required,
                "src/{dir} is missing: the sans-io check expects it"
            );
            continue;
        }
        rs_files(&path, &mut files);
    }
    for f in SANS_IO_FILES {
        let path = src.join(f);
        assert!(
            path.is_file(),
            "src/{f} is missing: the sans-io check expects it"
        );
        files.push(path);
    }
    assert!(
        files.len() >= 10,
        "only {} .rs files found; is the layout still src/wbxml, src/eas, src/model?",
        files.len()
    );
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("source file is UTF-8");
        for (n, line) in strip_comments(&text).lines().enumerate() {
            for what in offending_uses(line) {
                let rel = file
                    .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .unwrap_or(file);
                offences.push(format!("{}:{}: uses {what}", rel.display(), n + 1));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the sans-io layer must not use tokio, hyper or redb:\n{}",
        offences.join("\n")
    );
}

/// The scanner itself: it must catch the usual spellings and leave prose and look-alikes alone.
#[test]
fn scanner_catches_uses_and_ignores_prose() {
    let flagged = [
        "use tokio::sync::mpsc;",
        "use tokio;",
        "    let x = tokio::spawn(f);",
        "#[tokio::test]",
        "use ::hyper::Body;",
        "use {std::io, hyper::Request};",
        "extern crate redb;",
        "fn f(db: &redb::Database) {}",
        "use tokio_util::codec::Framed;",
        "let h = hyper_util::rt::TokioIo::new(s);",
    ];
    for line in flagged {
        let stripped = strip_comments(line);
        assert!(
            !offending_uses(&stripped).is_empty(),
            "scanner misses: {line}"
        );
    }
    let clean = [
        "// no tokio::spawn here, this is a comment",
        "/* hyper::Body in a block comment */ let a = 1;",
        "//! Sans-io: no tokio, hyper or redb.",
        "let tokio_like = 3; let redbull = tokio_like;",
        "struct Hyperlink; let x = Hyperlink;",
        "let url = \"http://example.com\"; // tokio::x",
        "/* outer /* nested tokio::x */ still comment redb::y */",
    ];
    for line in clean {
        let stripped = strip_comments(line);
        assert!(
            offending_uses(&stripped).is_empty(),
            "scanner flags a clean line: {line} -> {:?}",
            offending_uses(&stripped)
        );
    }
}

#[test]
fn comment_stripping_keeps_line_numbers() {
    let src = "a\n/* x\ny\n*/ b\n// c\nd \"//e\" f\n";
    let s = strip_comments(src);
    assert_eq!(s.lines().count(), src.lines().count());
    assert_eq!(s.lines().nth(3), Some(" b"));
    assert_eq!(s.lines().nth(5), Some("d \"//e\" f"));
    let s = strip_comments("let q = '\"'; // tokio::x\nlet e = '\\\\'; /* redb::y */");
    assert_eq!(s, "let q = '\"'; \nlet e = '\\\\'; ");
}
