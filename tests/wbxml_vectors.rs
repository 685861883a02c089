//! The WBXML codec against libwbxml: its ActiveSync test vectors and its tools.
//!
//! Vectors: every XML file in `../shared/fixtures/wbxml-libwbxml/` (libwbxml's own ActiveSync
//! and AirSync test inputs). Each element is mapped to a (code page, token) through its XML
//! namespace and name, using our code page tables ([MS-ASWBXML] 2.1.2.1) plus the written map
//! `tests/libwbxml/names.tsv` for the places where libwbxml spells things differently.
//!
//! For every vector:
//! 1. our [`Encoder`] writes it, our decoder reads it back, and the tree equals the XML's
//!    (same elements in order, same whitespace-trimmed text);
//! 2. libwbxml's `wbxml2xml` reads our bytes and yields the same elements and text, compared by
//!    (page, token) through the same map;
//! 3. libwbxml's `xml2wbxml` encodes the XML and our decoder reads those bytes to the same tree.
//!
//! A fourth check sweeps every token of every page through `wbxml2xml` (both its ActiveSync and
//! its SynCE namespaces) so that `names.tsv` and `tests/libwbxml/unknown-to-libwbxml.tsv` stay
//! true: a token libwbxml does not know is skipped only when that file lists it.
//!
//! How the libwbxml 0.11.8 tools (Debian package `libwbxml2-utils`) are driven:
//! - `wbxml2xml -l ACTIVESYNC -m 0 -k -o OUT IN`: `-l ACTIVESYNC` forces the ActiveSync tables
//!   with `Page:` namespaces (EAS bodies carry public id 1, "unknown", so without `-l` it fails
//!   with "Unknown Public ID"); `-l AIRSYNC` gives the same tables with SynCE namespace URLs.
//!   `-m 0` is compact output (the default `-m 1` indents, adding whitespace around elements);
//!   `-k` keeps text exactly (without it leading and trailing whitespace is trimmed).
//!   `OPAQUE` content comes out as base64 text. Unknown tokens come out as `<unknown/>`.
//! - `xml2wbxml -a -n -v 1.3 -o OUT IN`: `-a` writes public id 1 instead of the DOCTYPE's id
//!   in a string table; `-n` writes no string table at all (EAS uses none, and our decoder
//!   rejects one); `-v 1.3` is the version EAS uses. The language comes from the DOCTYPE.
//!   Ignorable whitespace is dropped (`-k` would keep it). Elements libwbxml knows to be binary
//!   (ComposeMail:MIME, Email2:ConversationId, …) are base64-decoded into `OPAQUE`.
//! - Both exit non-zero on failure and print a line on stderr either way.
//!
//! The tools are required: when `wbxml2xml` is missing the tests fail with the install command
//! (`tests/run.sh` installs it; CI runs that).

use base64::Engine;
use easbox::wbxml::{self, Element, Encoder, Limits, Node, Tag};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL_HINT: &str = "libwbxml's tools are required for the cross-checks: install them \
    with `apt-get update && apt-get install -y libwbxml2-utils` (tests/run.sh does this)";

/// Largest vector we encode; the biggest fixture is a few KB.
const OUT_CAP: usize = 1 << 20;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vectors_dir() -> PathBuf {
    manifest().join("../shared/fixtures/wbxml-libwbxml")
}

// ---------------------------------------------------------------------------------------------
// The written name map.

/// `tests/libwbxml/names.tsv` and `unknown-to-libwbxml.tsv`.
struct NameMap {
    /// Namespace → page, for namespaces that are not `"<our page name>:"`.
    ns: BTreeMap<String, u8>,
    /// (page, libwbxml name) → MS-ASWBXML name.
    lib_to_spec: BTreeMap<(u8, String), String>,
    /// (page, libwbxml name) → token, for tokens our tables leave out.
    legacy: BTreeMap<(u8, String), u8>,
    /// Tags whose content libwbxml treats as binary: `xml2wbxml` base64-decodes their text
    /// into `OPAQUE`, `wbxml2xml` shows their content, string or opaque, as base64.
    binary: BTreeSet<Tag>,
    /// Our tags libwbxml does not know.
    unknown: BTreeSet<Tag>,
}

fn parse_token(s: &str) -> u8 {
    let hex = s
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("token {s:?} is not 0xNN"));
    u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("token {s:?} is not 0xNN"))
}

fn parse_page(s: &str) -> u8 {
    let p: u8 = s.parse().unwrap_or_else(|_| panic!("page {s:?}"));
    assert!(wbxml::page_name(p).is_some(), "page {p} does not exist");
    p
}

fn data_lines(path: &Path) -> Vec<(usize, Vec<String>)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(n, l)| (n + 1, l.split('\t').map(str::to_owned).collect()))
        .collect()
}

impl NameMap {
    fn load() -> NameMap {
        let dir = manifest().join("tests/libwbxml");
        let mut m = NameMap {
            ns: BTreeMap::new(),
            lib_to_spec: BTreeMap::new(),
            legacy: BTreeMap::new(),
            binary: BTreeSet::new(),
            unknown: BTreeSet::new(),
        };
        for (n, f) in data_lines(&dir.join("names.tsv")) {
            let at = format!("names.tsv:{n}");
            match f.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
                ["ns", uri, page] => {
                    assert!(
                        m.ns.insert(uri.to_string(), parse_page(page)).is_none(),
                        "{at}: duplicate namespace"
                    );
                }
                ["name", page, lib, spec] => {
                    let p = parse_page(page);
                    assert!(
                        wbxml::tag_by_name(p, spec).is_some(),
                        "{at}: {spec} is not in our page {p}"
                    );
                    assert!(
                        wbxml::tag_by_name(p, lib).is_none(),
                        "{at}: {lib} is also a spec name in page {p}; the map would be ambiguous"
                    );
                    m.lib_to_spec.insert((p, lib.to_string()), spec.to_string());
                }
                ["legacy", page, token, lib] => {
                    let (p, t) = (parse_page(page), parse_token(token));
                    assert!(
                        Tag::new(p, t).name().is_none(),
                        "{at}: {p}/{token} is in our tables; no legacy line needed"
                    );
                    m.legacy.insert((p, lib.to_string()), t);
                }
                ["binary", page, lib] => {
                    let p = parse_page(page);
                    let tag = m
                        .lookup(p, lib)
                        .unwrap_or_else(|| panic!("{at}: {lib} is not in page {p}"));
                    m.binary.insert(tag);
                }
                other => panic!("{at}: cannot read {other:?}"),
            }
        }
        for (n, f) in data_lines(&dir.join("unknown-to-libwbxml.tsv")) {
            let at = format!("unknown-to-libwbxml.tsv:{n}");
            let [page, token, name] = f.as_slice() else {
                panic!("{at}: expected page, token, name");
            };
            let tag = Tag::new(parse_page(page), parse_token(token));
            assert_eq!(
                tag.name(),
                Some(name.as_str()),
                "{at}: our name for {page}/{token}"
            );
            m.unknown.insert(tag);
        }
        m
    }

    fn page_of_ns(&self, uri: &str) -> Option<u8> {
        if let Some(p) = self.ns.get(uri) {
            return Some(*p);
        }
        uri.strip_suffix(':').and_then(wbxml::page_by_name)
    }

    fn lookup(&self, page: u8, name: &str) -> Option<Tag> {
        if let Some(spec) = self.lib_to_spec.get(&(page, name.to_owned())) {
            return wbxml::tag_by_name(page, spec);
        }
        if let Some(t) = wbxml::tag_by_name(page, name) {
            return Some(t);
        }
        self.legacy
            .get(&(page, name.to_owned()))
            .map(|t| Tag::new(page, *t))
    }

    /// The tag of an XML element. Without a namespace (airsync-001.xml uses none), the name is
    /// looked up in the parent's page first and then in every page in order, which is what
    /// libwbxml's `xml2wbxml` does for that file.
    fn resolve(&self, node: roxmltree::Node<'_, '_>, parent_page: u8) -> Result<Tag, String> {
        let name = node.tag_name().name();
        match node.tag_name().namespace() {
            Some(uri) => {
                let page = self
                    .page_of_ns(uri)
                    .ok_or_else(|| format!("namespace {uri:?} is not in names.tsv"))?;
                self.lookup(page, name)
                    .ok_or_else(|| format!("{name} is not in page {page} nor in names.tsv"))
            }
            None => core::iter::once(parent_page)
                .chain(0..26)
                .find_map(|p| self.lookup(p, name))
                .ok_or_else(|| format!("{name} (no namespace) is in no page")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A comparable tree.

#[derive(Clone, Debug, PartialEq)]
enum Content {
    None,
    Text(String),
    Opaque(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq)]
struct Tree {
    tag: Tag,
    content: Content,
    children: Vec<Tree>,
}

/// The XML's tree: elements resolved to tags, comments dropped, whitespace-only text dropped,
/// other text trimmed. An element holding both text and elements is an error (EAS has no mixed
/// content). With `from_libwbxml`, `<unknown>` (how wbxml2xml shows a token it does not know)
/// becomes [`UNKNOWN_TO_LIBWBXML`].
fn xml_tree(
    map: &NameMap,
    node: roxmltree::Node<'_, '_>,
    parent_page: u8,
    from_libwbxml: bool,
) -> Result<Tree, String> {
    if from_libwbxml && node.tag_name().name() == "unknown" {
        return Ok(Tree {
            tag: UNKNOWN_TO_LIBWBXML,
            content: Content::None,
            children: Vec::new(),
        });
    }
    let tag = map.resolve(node, parent_page)?;
    let mut text = String::new();
    let mut children = Vec::new();
    for c in node.children() {
        if c.is_element() {
            children.push(xml_tree(map, c, tag.page, from_libwbxml)?);
        } else if c.is_text() {
            text.push_str(c.text().unwrap_or(""));
        }
    }
    let text = text.trim();
    if !text.is_empty() && !children.is_empty() {
        return Err(format!("{tag:?} holds text and elements"));
    }
    Ok(Tree {
        tag,
        content: if text.is_empty() {
            Content::None
        } else {
            Content::Text(text.to_owned())
        },
        children,
    })
}

/// `from_libwbxml`: see [`xml_tree`].
fn parse_xml(map: &NameMap, xml: &str, from_libwbxml: bool) -> Result<Tree, String> {
    let doc =
        roxmltree::Document::parse_with_options(xml, xml_options()).map_err(|e| e.to_string())?;
    xml_tree(map, doc.root_element(), 0, from_libwbxml)
}

/// The vectors and libwbxml's output carry a DOCTYPE.
fn xml_options<'a>() -> roxmltree::ParsingOptions<'a> {
    roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    }
}

/// Our decoded tree in the same shape.
fn our_tree(e: &Element<'_>) -> Tree {
    let mut text = String::new();
    let mut opaque: Option<Vec<u8>> = None;
    let mut children = Vec::new();
    for n in &e.children {
        match n {
            Node::Element(c) => children.push(our_tree(c)),
            Node::Text(s) => text.push_str(s),
            Node::Opaque(b) => opaque.get_or_insert_with(Vec::new).extend_from_slice(b),
        }
    }
    let content = match (opaque, text.is_empty()) {
        (Some(b), true) => Content::Opaque(b),
        (Some(_), false) => Content::Text(format!("<text and opaque mixed: {text}>")),
        (None, false) => Content::Text(text),
        (None, true) => Content::None,
    };
    Tree {
        tag: e.tag,
        content,
        children,
    }
}

/// Differences between an expected and an actual tree, with the path to each.
fn diff(want: &Tree, got: &Tree, path: &str, out: &mut Vec<String>) {
    let here = format!("{path}/{:?}", want.tag);
    if want.tag != got.tag {
        out.push(format!("{here}: element differs, got {:?}", got.tag));
        return;
    }
    if want.content != got.content {
        out.push(format!(
            "{here}: content differs\n  want {:?}\n  got  {:?}",
            want.content, got.content
        ));
    }
    if want.children.len() != got.children.len() {
        out.push(format!(
            "{here}: {} children expected, {} found: want {:?}, got {:?}",
            want.children.len(),
            got.children.len(),
            want.children.iter().map(|c| c.tag).collect::<Vec<_>>(),
            got.children.iter().map(|c| c.tag).collect::<Vec<_>>()
        ));
        return;
    }
    for (w, g) in want.children.iter().zip(&got.children) {
        diff(w, g, &here, out);
    }
}

/// What `wbxml2xml` shows for an element we wrote as text: base64 of the text for the elements
/// libwbxml treats as binary, the text itself otherwise.
fn as_wbxml2xml_shows(t: &mut Tree, binary: &BTreeSet<Tag>) {
    if binary.contains(&t.tag)
        && let Content::Text(s) = &t.content
    {
        t.content = Content::Text(base64::engine::general_purpose::STANDARD.encode(s));
    }
    for c in &mut t.children {
        as_wbxml2xml_shows(c, binary);
    }
}

/// What `xml2wbxml` writes for the XML's text: `OPAQUE` holding the decoded base64 (line
/// breaks and indentation ignored) for the elements libwbxml treats as binary.
fn as_xml2wbxml_writes(t: &mut Tree, binary: &BTreeSet<Tag>) {
    if binary.contains(&t.tag)
        && let Content::Text(s) = &t.content
    {
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .unwrap_or_else(|e| panic!("{:?} should hold base64: {e}", t.tag));
        t.content = Content::Opaque(bytes);
    }
    for c in &mut t.children {
        as_xml2wbxml_writes(c, binary);
    }
}

fn assert_same(what: &str, want: &Tree, got: &Tree) {
    let mut out = Vec::new();
    diff(want, got, "", &mut out);
    assert!(out.is_empty(), "{what}:\n{}", out.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Our encoder from an XML tree.

fn encode_tree(w: &mut Encoder<'_>, t: &Tree) -> Result<(), wbxml::Error> {
    w.start(t.tag)?;
    match &t.content {
        Content::None => {}
        Content::Text(s) => w.text(s)?,
        Content::Opaque(b) => w.opaque(b)?,
    }
    for c in &t.children {
        encode_tree(w, c)?;
    }
    w.end()
}

fn our_bytes(t: &Tree) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Encoder::new(&mut out, OUT_CAP).expect("header fits");
    encode_tree(&mut w, t).expect("the vector encodes");
    w.finish().expect("the document is complete");
    out
}

// ---------------------------------------------------------------------------------------------
// libwbxml's tools.

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wbxml_vectors");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir.join(name)
}

fn run_tool(tool: &str, args: &[&str]) {
    let out = match Command::new(tool).args(args).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{tool}` is not installed. {INSTALL_HINT}")
        }
        Err(e) => panic!("cannot run {tool}: {e}"),
    };
    assert!(
        out.status.success(),
        "{tool} {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `wbxml2xml` on `bytes`; `lang` is `ACTIVESYNC` or `AIRSYNC`.
fn wbxml2xml(name: &str, bytes: &[u8], lang: &str) -> String {
    let input = scratch(&format!("{name}.{lang}.wbxml"));
    let output = scratch(&format!("{name}.{lang}.xml"));
    std::fs::write(&input, bytes).expect("write scratch");
    let _ = std::fs::remove_file(&output);
    run_tool(
        "wbxml2xml",
        &[
            "-l",
            lang,
            "-m",
            "0",
            "-k",
            "-o",
            output.to_str().expect("UTF-8 path"),
            input.to_str().expect("UTF-8 path"),
        ],
    );
    std::fs::read_to_string(&output).expect("wbxml2xml wrote UTF-8 XML")
}

/// `xml2wbxml` on an XML file.
fn xml2wbxml(name: &str, xml: &Path) -> Vec<u8> {
    let output = scratch(&format!("{name}.libwbxml.wbxml"));
    let _ = std::fs::remove_file(&output);
    run_tool(
        "xml2wbxml",
        &[
            "-a",
            "-n",
            "-v",
            "1.3",
            "-o",
            output.to_str().expect("UTF-8 path"),
            xml.to_str().expect("UTF-8 path"),
        ],
    );
    std::fs::read(&output).expect("xml2wbxml wrote its output")
}

// ---------------------------------------------------------------------------------------------
// The checks.

fn vectors() -> Vec<PathBuf> {
    let dir = vectors_dir();
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the vectors in {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 18,
        "only {} vectors in {}; the fixture set has 18",
        v.len(),
        dir.display()
    );
    v
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .and_then(|s| s.to_str())
        .expect("UTF-8 file name")
        .to_owned()
}

/// Stands for an element libwbxml does not know, on both sides of a comparison, so that such
/// elements are skipped only where `unknown-to-libwbxml.tsv` says so: wbxml2xml shows one as
/// `<unknown>` (with its contents lost to us), and [`mask_unknown`] replaces the listed ones
/// in our tree. A tag outside every page.
const UNKNOWN_TO_LIBWBXML: Tag = Tag::new(0xFF, 0xFF);

fn mask_unknown(t: &mut Tree, unknown: &BTreeSet<Tag>) {
    if unknown.contains(&t.tag) {
        *t = Tree {
            tag: UNKNOWN_TO_LIBWBXML,
            content: Content::None,
            children: Vec::new(),
        };
        return;
    }
    for c in &mut t.children {
        mask_unknown(c, unknown);
    }
}

#[test]
fn vectors_round_trip_through_our_codec() {
    let map = NameMap::load();
    for path in vectors() {
        let name = stem(&path);
        let xml = std::fs::read_to_string(&path).expect("vector is UTF-8");
        let want = parse_xml(&map, &xml, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        let bytes = our_bytes(&want);
        let got = wbxml::parse(&bytes, Limits::DEFAULT)
            .unwrap_or_else(|e| panic!("{name}: our decoder rejects our bytes: {e}"));
        assert_same(&name, &want, &our_tree(&got));
    }
}

#[test]
fn libwbxml_reads_our_bytes_as_we_do() {
    let map = NameMap::load();
    for path in vectors() {
        let name = stem(&path);
        let xml = std::fs::read_to_string(&path).expect("vector is UTF-8");
        let mut want = parse_xml(&map, &xml, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        let bytes = our_bytes(&want);
        let lib_xml = wbxml2xml(&name, &bytes, "ACTIVESYNC");
        let got = parse_xml(&map, &lib_xml, true)
            .unwrap_or_else(|e| panic!("{name}: cannot map wbxml2xml's output: {e}\n{lib_xml}"));
        mask_unknown(&mut want, &map.unknown);
        as_wbxml2xml_shows(&mut want, &map.binary);
        assert_same(&format!("{name} via wbxml2xml"), &want, &got);
    }
}

#[test]
fn we_read_libwbxml_bytes_as_the_xml_says() {
    let map = NameMap::load();
    for path in vectors() {
        let name = stem(&path);
        let xml = std::fs::read_to_string(&path).expect("vector is UTF-8");
        let mut want = parse_xml(&map, &xml, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        as_xml2wbxml_writes(&mut want, &map.binary);
        let bytes = xml2wbxml(&name, &path);
        let got = wbxml::parse(&bytes, Limits::DEFAULT)
            .unwrap_or_else(|e| panic!("{name}: our decoder rejects xml2wbxml's bytes: {e}"));
        assert_same(&format!("{name} via xml2wbxml"), &want, &our_tree(&got));
    }
}

/// Every token 0x05–0x3F of every page through `wbxml2xml`, in both namespace conventions:
/// our name and libwbxml's must agree or be paired in names.tsv; a token only libwbxml knows
/// must be a `legacy` line; a token only we know must be in unknown-to-libwbxml.tsv; a token
/// whose text libwbxml shows as base64 must be a `binary` line; and every line of both files
/// must be needed.
#[test]
fn code_pages_agree_with_libwbxml() {
    const PROBE: &str = "AB";
    let probe_b64 = base64::engine::general_purpose::STANDARD.encode(PROBE);
    let map = NameMap::load();
    let mut used_names = BTreeSet::new();
    let mut used_legacy = BTreeSet::new();
    let mut used_unknown = BTreeSet::new();
    let mut used_binary = BTreeSet::new();
    let mut used_ns = BTreeSet::new();
    let mut problems = Vec::new();
    for page in 0..26u8 {
        // One document per page: an AirSync:Sync root holding every token with a short text.
        let mut bytes = Vec::new();
        let mut w = Encoder::new(&mut bytes, OUT_CAP).expect("header fits");
        w.start(Tag::new(0, 0x05)).expect("root");
        for token in Tag::MIN_TOKEN..=Tag::MAX_TOKEN {
            w.leaf(Tag::new(page, token), PROBE).expect("leaf");
        }
        w.end().expect("root end");
        w.finish().expect("complete");
        for lang in ["ACTIVESYNC", "AIRSYNC"] {
            let xml = wbxml2xml(&format!("page{page}"), &bytes, lang);
            let doc = roxmltree::Document::parse_with_options(&xml, xml_options())
                .unwrap_or_else(|e| panic!("page {page} {lang}: {e}\n{xml}"));
            let children: Vec<_> = doc
                .root_element()
                .children()
                .filter(|c| c.is_element())
                .collect();
            assert_eq!(
                children.len(),
                usize::from(Tag::MAX_TOKEN - Tag::MIN_TOKEN + 1),
                "page {page} {lang}: wbxml2xml lost elements"
            );
            for (node, token) in children.iter().zip(Tag::MIN_TOKEN..) {
                let tag = Tag::new(page, token);
                let at = format!("{lang} page {page} token 0x{token:02X}");
                let lib = node.tag_name().name();
                let ours = tag.name();
                if lib == "unknown" {
                    if ours.is_some() {
                        if map.unknown.contains(&tag) {
                            used_unknown.insert(tag);
                        } else {
                            problems.push(format!(
                                "{at}: libwbxml does not know our {tag:?}; list it in \
                                 unknown-to-libwbxml.tsv if that is expected"
                            ));
                        }
                    }
                    continue;
                }
                let uri = node.tag_name().namespace().unwrap_or("");
                match map.page_of_ns(uri) {
                    Some(p) if p == page => {
                        if map.ns.contains_key(uri) {
                            used_ns.insert(uri.to_owned());
                        }
                    }
                    other => problems.push(format!(
                        "{at}: namespace {uri:?} maps to page {other:?}, not {page}"
                    )),
                }
                match ours {
                    Some(spec) if spec == lib => {}
                    Some(spec) => {
                        let paired = map.lib_to_spec.get(&(page, lib.to_owned()));
                        if paired.map(String::as_str) == Some(spec) {
                            used_names.insert((page, lib.to_owned()));
                        } else {
                            problems.push(format!(
                                "{at}: libwbxml says {lib}, MS-ASWBXML (our table) says {spec}; \
                                 add `name\t{page}\t{lib}\t{spec}` to names.tsv if right"
                            ));
                        }
                    }
                    None => {
                        if map.legacy.get(&(page, lib.to_owned())) == Some(&token) {
                            used_legacy.insert((page, lib.to_owned()));
                        } else {
                            problems.push(format!(
                                "{at}: libwbxml knows {lib}, our table does not; add \
                                 `legacy\t{page}\t0x{token:02X}\t{lib}` to names.tsv if right"
                            ));
                        }
                    }
                }
                let text = node.text().unwrap_or("");
                if text == probe_b64 {
                    if map.binary.contains(&tag) {
                        used_binary.insert(tag);
                    } else {
                        problems.push(format!(
                            "{at}: libwbxml shows {lib}'s text as base64; add \
                             `binary\t{page}\t{lib}` to names.tsv if right"
                        ));
                    }
                } else if text != PROBE {
                    problems.push(format!("{at}: libwbxml shows {lib}'s text as {text:?}"));
                }
            }
        }
    }
    for k in map.lib_to_spec.keys().filter(|k| !used_names.contains(*k)) {
        problems.push(format!("names.tsv: `name` line {k:?} is never needed"));
    }
    for k in map.legacy.keys().filter(|k| !used_legacy.contains(*k)) {
        problems.push(format!("names.tsv: `legacy` line {k:?} is never needed"));
    }
    for t in map.binary.iter().filter(|t| !used_binary.contains(*t)) {
        problems.push(format!(
            "names.tsv: libwbxml does not treat {t:?} as binary"
        ));
    }
    for uri in map.ns.keys().filter(|k| !used_ns.contains(*k)) {
        problems.push(format!(
            "names.tsv: namespace {uri} is never written by libwbxml"
        ));
    }
    for t in map.unknown.iter().filter(|t| !used_unknown.contains(*t)) {
        problems.push(format!("unknown-to-libwbxml.tsv: libwbxml does know {t:?}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The comparison itself must be able to fail: a changed text, a missing element and a
/// wrong tag are all reported.
#[test]
fn tree_comparison_notices_differences() {
    let leaf = |token, text: &str| Tree {
        tag: Tag::new(0, token),
        content: Content::Text(text.to_owned()),
        children: Vec::new(),
    };
    let base = Tree {
        tag: Tag::new(0, 0x05),
        content: Content::None,
        children: vec![leaf(0x0B, "1"), leaf(0x0E, "2")],
    };
    let mut out = Vec::new();
    diff(&base, &base.clone(), "", &mut out);
    assert!(out.is_empty());
    let mut changed = base.clone();
    changed.children[1] = leaf(0x0E, "3");
    diff(&base, &changed, "", &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    let mut fewer = base.clone();
    fewer.children.pop();
    out.clear();
    diff(&base, &fewer, "", &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    let mut retagged = base.clone();
    retagged.children[0].tag = Tag::new(1, 0x0B);
    out.clear();
    diff(&base, &retagged, "", &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    // What libwbxml does with binary elements: base64 shown, base64 decoded.
    let binary: BTreeSet<Tag> = [Tag::new(0, 0x0B)].into();
    let mut shown = base.clone();
    as_wbxml2xml_shows(&mut shown, &binary);
    assert_eq!(shown.children[0].content, Content::Text("MQ==".into()));
    assert_eq!(shown.children[1], base.children[1]);
    let mut written = shown.clone();
    as_xml2wbxml_writes(&mut written, &binary);
    assert_eq!(written.children[0].content, Content::Opaque(b"1".to_vec()));
}
