//! Validates what easbox sends against Microsoft's published EAS schemas: the response schemas
//! of [MS-ASCMD] section 6 and the item schemas they refer to ([MS-ASCNTC], [MS-ASCAL],
//! [MS-ASTASK], [MS-ASAIRS]), as shipped in `shared/fixtures/ms-eas-xsd` (see its README.md).
//!
//! Each golden response (a `tests/golden/**/*.wbxml` written by `common::golden` whose name has
//! the word `response` and not `request`, plus the paths listed in
//! `tests/golden/xsd-responses.txt`) is decoded with [`easbox::wbxml::parse`], written as XML
//! with every element in the namespace named by its code page ([MS-ASWBXML] 2.1.2.1: the
//! schemas' targetNamespaces are those page names), and checked by `tests/tools/xsd_validate.py`
//! (Python `xmlschema`, which honours element order, types and facets). Golden items
//! (`tests/golden/items/**/*.wbxml`, an `AirSync:ApplicationData` each) are checked inside a
//! minimal Sync response, the only place the schemas declare ApplicationData.
//!
//! `EASBOX_XSD_GOLDEN=<dir>` points the golden walk at another tree's golden files.
//!
//! The validator runs under `$EASBOX_PYTHON`, else the venv `target/py` that `tests/run.sh`
//! creates, else `python3`. If none of them can import `xmlschema` the tests FAIL (never skip):
//! a missing tool must not pass for valid output.

use base64::Engine;
use easbox::wbxml::{
    self, Element, Encoder, Limits, Node, OwnedElement, OwnedNode, Tag, airnotify, airsync,
    folder_hierarchy, notes, provision,
};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The XML namespace of each code page, by page number: the `targetNamespace`s of Microsoft's
/// schemas. Kept here rather than taken from `wbxml::page_name` so that a renamed page in the
/// code page table shows up as a validation failure instead of silently following along.
const NAMESPACES: [&str; 26] = [
    "AirSync",
    "Contacts",
    "Email",
    "AirNotify",
    "Calendar",
    "Move",
    "GetItemEstimate",
    "FolderHierarchy",
    "MeetingResponse",
    "Tasks",
    "ResolveRecipients",
    "ValidateCert",
    "Contacts2",
    "Ping",
    "Provision",
    "Search",
    "GAL",
    "AirSyncBase",
    "Settings",
    "DocumentLibrary",
    "ItemOperations",
    "ComposeMail",
    "Email2",
    "Notes",
    "RightsManagement",
    "Find",
];

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// Namespaced XML renderer
// ---------------------------------------------------------------------------------------------

/// The prefix declared for a page: its namespace in lower case (`airsyncbase`).
fn prefix(page: u8) -> String {
    NAMESPACES
        .get(usize::from(page))
        .map_or_else(|| format!("page{page}"), |ns| ns.to_ascii_lowercase())
}

/// `Name` for the root's page (the default namespace), `prefix:Name` for the others. A token
/// the code page table lacks becomes `x0A`, which no schema declares, so it is reported.
fn qname(tag: Tag, root_page: u8) -> String {
    let local = tag
        .name()
        .map_or_else(|| format!("x{:02X}", tag.token), str::to_owned);
    if tag.page == root_page {
        local
    } else {
        format!("{}:{local}", prefix(tag.page))
    }
}

/// Character data. XML 1.0 cannot carry C0 controls other than tab, LF and CR at all (not
/// even as references); they become U+FFFD, which no EAS schema restricts, so a stray control
/// character is not reported here (the WBXML layer's own tests own that question).
fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // A literal CR would be normalised to LF by the XML parser.
            '\r' => out.push_str("&#xD;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Renders a decoded document as namespaced XML: the root in the default namespace of its
/// page, prefixes declared on the root for all 26 pages, opaque data as base64 text.
fn render(root: &Element<'_>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let page = root.tag.page;
    let _ = write!(out, "<{}", qname(root.tag, page));
    let default_ns = NAMESPACES
        .get(usize::from(page))
        .copied()
        .unwrap_or("Unknown");
    let _ = write!(out, " xmlns=\"{default_ns}\"");
    for ns in NAMESPACES {
        let _ = write!(out, "\n    xmlns:{}=\"{ns}\"", ns.to_ascii_lowercase());
    }
    render_content(&mut out, root, page, 0);
    out
}

/// Writes the rest of the start tag (`>` or `/>`), the content and the end tag.
fn render_content(out: &mut String, e: &Element<'_>, root_page: u8, depth: usize) {
    let name = qname(e.tag, root_page);
    match e.children.as_slice() {
        [] => out.push_str("/>\n"),
        [Node::Text(s)] => {
            out.push('>');
            escape(out, s);
            let _ = writeln!(out, "</{name}>");
        }
        [Node::Opaque(b)] => {
            let _ = writeln!(
                out,
                ">{}</{name}>",
                base64::engine::general_purpose::STANDARD.encode(b)
            );
        }
        children => {
            out.push_str(">\n");
            let indent = "  ".repeat(depth + 1);
            for c in children {
                out.push_str(&indent);
                match c {
                    Node::Element(c) => {
                        let _ = write!(out, "<{}", qname(c.tag, root_page));
                        render_content(out, c, root_page, depth + 1);
                    }
                    Node::Text(s) => {
                        escape(out, s);
                        out.push('\n');
                    }
                    Node::Opaque(b) => {
                        out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
                        out.push('\n');
                    }
                }
            }
            let _ = writeln!(out, "{}</{name}>", "  ".repeat(depth));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running the validator
// ---------------------------------------------------------------------------------------------

const HINT: &str = "run `bash tests/run.sh` once: it creates the venv target/py with \
                    tests/tools/requirements.txt (or set EASBOX_PYTHON to a Python that can \
                    `import xmlschema`)";

/// The Python to run the validator with; panics (a test failure, not a skip) when there is
/// none that can import xmlschema.
fn python() -> PathBuf {
    let mut tried = Vec::new();
    let candidates: Vec<PathBuf> = match std::env::var_os("EASBOX_PYTHON") {
        // An explicit choice is the only candidate: falling back would hide a broken setup.
        Some(p) => vec![PathBuf::from(p)],
        None => vec![
            crate_root().join("target/py/bin/python"),
            PathBuf::from("python3"),
        ],
    };
    for py in candidates {
        let ok = Command::new(&py)
            .args(["-c", "import xmlschema"])
            .output()
            .map(|o| o.status.success());
        match ok {
            Ok(true) => return py,
            Ok(false) => tried.push(format!("{}: cannot import xmlschema", py.display())),
            Err(e) => tried.push(format!("{}: {e}", py.display())),
        }
    }
    panic!(
        "XSD validation FAILED to run: no Python with xmlschema ({}); {HINT}",
        tried.join("; ")
    );
}

/// A fresh directory under Cargo's scratch space for one batch of documents.
fn scratch_dir(label: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "xsd-{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Validates the documents in one run of the validator (loading the schemas takes seconds).
/// `Ok(())` when all are valid; `Err(report)` with one `file: path: reason` line per error.
/// Anything other than "valid" or "invalid" (a crash, schemas not found) panics.
fn validate(label: &str, docs: &[(String, String)]) -> Result<(), String> {
    assert!(!docs.is_empty(), "{label}: nothing to validate");
    let dir = scratch_dir(label);
    let mut files = Vec::new();
    for (name, xml) in docs {
        let file = dir.join(format!("{}.xml", name.replace(['/', '\\'], "__")));
        std::fs::write(&file, xml).expect("write scratch XML");
        files.push(file);
    }
    let script = crate_root().join("tests/tools/xsd_validate.py");
    let out = Command::new(python())
        .arg(&script)
        .arg("--quiet")
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {HINT}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        }
        // Errors name the scratch files; the file name alone is the golden file's path.
        Some(1) => Err(format!(
            "{}(rendered XML kept in {})",
            stdout.replace(&format!("{}/", dir.display()), ""),
            dir.display()
        )),
        _ => panic!(
            "XSD validator FAILED to run ({}): {stderr}{stdout}; {HINT}",
            out.status
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Golden files
// ---------------------------------------------------------------------------------------------

/// tests/golden, or `$EASBOX_XSD_GOLDEN` to check golden files from elsewhere (e.g. another
/// branch's) without copying them into this tree.
fn golden_dir() -> PathBuf {
    std::env::var_os("EASBOX_XSD_GOLDEN")
        .map_or_else(|| crate_root().join("tests/golden"), PathBuf::from)
}

/// Every `.wbxml` under `dir` that `common::golden` wrote, i.e. with its `.xml` beside it:
/// third-party vectors kept for decoding tests (e.g. commands/libwbxml/) have none and are
/// not our output.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|x| x == "wbxml")
            && path.with_extension("xml").is_file()
        {
            out.push(path);
        }
    }
}

/// Whether a golden file's name says it is a response: one of the words of its stem (split at
/// anything not a letter or digit) is `response` and none is `request`. That takes
/// `sync_response_14_1`, `sync-response-14.1`, `ping/response_changes` and
/// `meeting_response/response_14_1`, and leaves `meeting_response_request_14_1`.
fn is_response_name(p: &Path) -> bool {
    let stem = p
        .file_stem()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let words: Vec<&str> = stem.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    words.contains(&"response") && !words.contains(&"request")
}

/// Golden responses: files named as responses (see [`is_response_name`]) anywhere under
/// tests/golden except items/, plus the paths (relative to tests/golden, `#` comments) in
/// tests/golden/xsd-responses.txt for responses whose name does not say so.
fn golden_responses(golden: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    walk(golden, &mut all);
    let items = golden.join("items");
    let mut picked: Vec<PathBuf> = all
        .into_iter()
        .filter(|p| !p.starts_with(&items) && is_response_name(p))
        .collect();
    if let Ok(list) = std::fs::read_to_string(golden.join("xsd-responses.txt")) {
        for line in list.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let p = golden.join(line);
            assert!(
                p.is_file(),
                "tests/golden/xsd-responses.txt lists {line}, which does not exist"
            );
            picked.push(p);
        }
    }
    picked.sort();
    picked.dedup();
    picked
}

fn golden_items(golden: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    walk(&golden.join("items"), &mut all);
    all.sort();
    all
}

#[test]
fn response_names() {
    for yes in [
        "commands/sync_response_14_1.wbxml",
        "commands/sync-response-14.1.wbxml",
        "commands/ping/response_changes.wbxml",
        "commands/meeting_response/response_14_1.wbxml",
        "commands/itemops_response_status_2.wbxml",
    ] {
        assert!(is_response_name(Path::new(yes)), "{yes}");
    }
    for no in [
        "commands/meeting_response/request_14_1.wbxml",
        "commands/meeting_response_request_14_1.wbxml",
        "commands/meetingresponse_request.wbxml",
        "commands/sync_request_initial_12_1.wbxml",
        "commands/responsesize.wbxml",
    ] {
        assert!(!is_response_name(Path::new(no)), "{no}");
    }
}

fn rel_name(golden: &Path, p: &Path) -> String {
    p.strip_prefix(golden)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// Decodes a golden file; a file that does not decode is a failure of its own.
fn read_doc(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn decode<'a>(name: &str, bytes: &'a [u8]) -> Element<'a> {
    wbxml::parse(bytes, Limits::DEFAULT).unwrap_or_else(|e| panic!("{name}: does not decode: {e}"))
}

/// Puts an item into the smallest Sync response the schema allows around ApplicationData:
/// Sync/Collections/Collection(SyncKey, CollectionId, Status, Commands/Add(ServerId,
/// ApplicationData)) (SyncResponse.xsd; Add takes no Class in a response).
fn wrap_item(item: &Element<'_>) -> OwnedElement {
    let data = if item.tag == airsync::APPLICATION_DATA {
        item.to_owned_element()
    } else {
        OwnedElement::new(airsync::APPLICATION_DATA).with(item.to_owned_element())
    };
    OwnedElement::new(airsync::SYNC).with(
        OwnedElement::new(airsync::COLLECTIONS).with(
            OwnedElement::new(airsync::COLLECTION)
                .with(OwnedElement::leaf(airsync::SYNC_KEY, "2"))
                .with(OwnedElement::leaf(airsync::COLLECTION_ID, "1"))
                .with(OwnedElement::leaf(airsync::STATUS, "1"))
                .with(
                    OwnedElement::new(airsync::COMMANDS).with(
                        OwnedElement::new(airsync::ADD)
                            .with(OwnedElement::leaf(airsync::SERVER_ID, "1:1"))
                            .with(data),
                    ),
                ),
        ),
    )
}

/// Encodes an owned tree to WBXML and renders it the way golden files are rendered, so that
/// hand-built documents take the same path (bytes, decoder, renderer) as real output.
fn render_owned(e: &OwnedElement) -> String {
    let mut buf = Vec::new();
    let mut enc = Encoder::new(&mut buf, 1 << 20).expect("encoder");
    enc.owned(e).expect("encode");
    enc.finish().expect("finish");
    render(&decode("hand-built", &buf))
}

#[test]
fn golden_responses_are_schema_valid() {
    let golden = golden_dir();
    let files = golden_responses(&golden);
    if files.is_empty() {
        eprintln!(
            "xsd: no golden responses under tests/golden yet (names with the word `response`)"
        );
        return;
    }
    let docs: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let name = rel_name(&golden, p);
            let bytes = read_doc(p);
            let xml = render(&decode(&name, &bytes));
            (name, xml)
        })
        .collect();
    eprintln!("xsd: validating {} golden responses", docs.len());
    if let Err(report) = validate("responses", &docs) {
        panic!("golden responses break Microsoft's EAS schemas:\n{report}");
    }
}

#[test]
fn golden_items_are_schema_valid_inside_sync() {
    let golden = golden_dir();
    let files = golden_items(&golden);
    if files.is_empty() {
        eprintln!("xsd: no golden items under tests/golden/items yet");
        return;
    }
    let docs: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let name = rel_name(&golden, p);
            let bytes = read_doc(p);
            let xml = render_owned(&wrap_item(&decode(&name, &bytes)));
            (name, xml)
        })
        .collect();
    eprintln!("xsd: validating {} golden items", docs.len());
    if let Err(report) = validate("items", &docs) {
        panic!("golden items break Microsoft's EAS schemas (inside a Sync Add):\n{report}");
    }
}

// ---------------------------------------------------------------------------------------------
// The validator itself: it must accept what is right and reject what is wrong
// ---------------------------------------------------------------------------------------------

fn folder_sync() -> OwnedElement {
    use folder_hierarchy::*;
    let folder = |id: &str, name: &str, ty: &str| {
        OwnedElement::new(ADD)
            .with(OwnedElement::leaf(SERVER_ID, id))
            .with(OwnedElement::leaf(PARENT_ID, "0"))
            .with(OwnedElement::leaf(DISPLAY_NAME, name))
            .with(OwnedElement::leaf(TYPE, ty))
    };
    OwnedElement::new(FOLDER_SYNC)
        .with(OwnedElement::leaf(STATUS, "1"))
        .with(OwnedElement::leaf(SYNC_KEY, "1"))
        .with(
            OwnedElement::new(CHANGES)
                .with(OwnedElement::leaf(COUNT, "2"))
                .with(folder("c", "Contacts & People", "9"))
                .with(folder("t", "Tasks", "7")),
        )
}

fn provision(max_attachment_size: &str) -> OwnedElement {
    use provision::*;
    OwnedElement::new(PROVISION)
        .with(OwnedElement::leaf(STATUS, "1"))
        .with(
            OwnedElement::new(POLICIES).with(
                OwnedElement::new(POLICY)
                    .with(OwnedElement::leaf(POLICY_TYPE, "MS-EAS-Provisioning-WBXML"))
                    .with(OwnedElement::leaf(STATUS, "1"))
                    .with(OwnedElement::leaf(POLICY_KEY, "1307199584"))
                    .with(
                        OwnedElement::new(DATA).with(
                            OwnedElement::new(EAS_PROVISION_DOC)
                                .with(OwnedElement::leaf(DEVICE_PASSWORD_ENABLED, "0"))
                                .with(OwnedElement::leaf(MAX_ATTACHMENT_SIZE, max_attachment_size)),
                        ),
                    ),
            ),
        )
}

fn note() -> OwnedElement {
    OwnedElement::new(airsync::APPLICATION_DATA)
        .with(OwnedElement::leaf(notes::SUBJECT, "shopping list"))
}

/// A Sync response around one Add of `add`'s children (no Class: responses carry none).
fn sync_with_add(add: OwnedElement) -> OwnedElement {
    OwnedElement::new(airsync::SYNC).with(
        OwnedElement::new(airsync::COLLECTIONS).with(
            OwnedElement::new(airsync::COLLECTION)
                .with(OwnedElement::leaf(airsync::SYNC_KEY, "2"))
                .with(OwnedElement::leaf(airsync::COLLECTION_ID, "1"))
                .with(OwnedElement::leaf(airsync::STATUS, "1"))
                .with(OwnedElement::new(airsync::COMMANDS).with(add)),
        ),
    )
}

/// Every hand-built document, valid ones named `valid-*`. They are validated in ONE run (the
/// schemas take seconds to load) and each test below reads its documents' lines.
fn hand_built() -> Vec<(String, OwnedElement)> {
    // FolderSyncResponse.xsd: Status comes before SyncKey.
    let mut fs_order = folder_sync();
    fs_order.children.swap(0, 1);
    // Same local name, wrong page: AirSync:Status where FolderHierarchy:Status belongs.
    let mut fs_page = folder_sync();
    if let Some(first) = fs_page.children.first_mut() {
        *first = OwnedNode::Element(OwnedElement::leaf(airsync::STATUS, "1"));
    }
    vec![
        ("valid-folder-sync".into(), folder_sync()),
        ("valid-provision".into(), provision("10485760")),
        ("valid-sync".into(), wrap_item(&note().as_element())),
        ("order-folder-sync".into(), fs_order),
        // SyncResponse.xsd: an Add is ServerId, then ApplicationData.
        (
            "order-sync".into(),
            sync_with_add(
                OwnedElement::new(airsync::ADD)
                    .with(note())
                    .with(OwnedElement::leaf(airsync::SERVER_ID, "1:1")),
            ),
        ),
        // Z-Push sends -1; ProvisionResponse.xsd types MaxAttachmentSize as xs:unsignedInt.
        ("facet-provision".into(), provision("-1")),
        ("page-folder-sync".into(), fs_page),
        // Page 3 (AirNotify) has no schema at all.
        ("root-notify".into(), OwnedElement::new(airnotify::NOTIFY)),
    ]
}

/// The validator's error lines for one hand-built document (empty: valid).
fn errors_for(name: &str) -> Vec<String> {
    static REPORT: OnceLock<String> = OnceLock::new();
    let report = REPORT.get_or_init(|| {
        let docs: Vec<(String, String)> = hand_built()
            .iter()
            .map(|(n, e)| (n.clone(), render_owned(e)))
            .collect();
        validate("hand-built", &docs).err().unwrap_or_default()
    });
    assert!(
        hand_built().iter().any(|(n, _)| n == name),
        "no hand-built document {name}"
    );
    let tag = format!("{name}.xml: ");
    report
        .lines()
        .filter(|l| l.starts_with(&tag))
        .map(str::to_owned)
        .collect()
}

#[test]
fn accepts_hand_built_responses() {
    for name in ["valid-folder-sync", "valid-provision", "valid-sync"] {
        let errors = errors_for(name);
        assert!(errors.is_empty(), "{name} rejected:\n{}", errors.join("\n"));
    }
}

/// Asserts that `name` was rejected with an error line containing `needle`.
fn assert_rejected(name: &str, needle: &str) {
    let errors = errors_for(name);
    assert!(
        errors.iter().any(|l| l.contains(needle)),
        "{name} not rejected for {needle:?}; validator said:\n{}",
        errors.join("\n")
    );
}

#[test]
fn rejects_elements_in_the_wrong_order() {
    assert_rejected("order-folder-sync", "'{FolderHierarchy}SyncKey'");
    assert_rejected("order-sync", "'{AirSync}ApplicationData'");
}

#[test]
fn rejects_a_negative_max_attachment_size() {
    assert_rejected("facet-provision", "MaxAttachmentSize");
}

#[test]
fn rejects_an_element_on_the_wrong_code_page() {
    let docs = hand_built();
    let fs = docs.iter().find(|(n, _)| n == "page-folder-sync");
    let xml = render_owned(&fs.expect("page-folder-sync").1);
    assert!(xml.contains("<airsync:Status>1</airsync:Status>"), "{xml}");
    assert_rejected("page-folder-sync", "'{AirSync}Status'");
}

#[test]
fn rejects_a_root_no_schema_declares() {
    assert_rejected("root-notify", "declared by no schema");
}

// ---------------------------------------------------------------------------------------------
// The renderer
// ---------------------------------------------------------------------------------------------

#[test]
fn renderer_puts_each_page_in_its_namespace() {
    let e = OwnedElement::new(airsync::SYNC).with(
        OwnedElement::new(airsync::APPLICATION_DATA)
            .with(OwnedElement::leaf(Tag::new(17, 0x0A), "x"))
            .with(OwnedElement {
                tag: Tag::new(1, 0x3C),
                children: vec![OwnedNode::Opaque(vec![0xFF, 0x00, 0x01])],
            })
            .with(OwnedElement::leaf(Tag::new(2, 0x14), "a<b & c\r\n\u{1}")),
    );
    let xml = render_owned(&e);
    assert!(xml.contains("<Sync xmlns=\"AirSync\""), "{xml}");
    for (i, ns) in NAMESPACES.iter().enumerate() {
        assert!(
            xml.contains(&format!("xmlns:{}=\"{ns}\"", prefix(i as u8))),
            "page {i} undeclared:\n{xml}"
        );
    }
    assert!(xml.contains("<ApplicationData>"), "{xml}");
    assert!(xml.contains("<airsyncbase:"), "{xml}");
    assert!(xml.contains(">/wAB</contacts:"), "opaque as base64:\n{xml}");
    assert!(
        xml.contains(">a&lt;b &amp; c&#xD;\n\u{FFFD}</email:"),
        "{xml}"
    );
    assert!(xml.ends_with("</Sync>\n"), "{xml}");
}

#[test]
fn renderer_names_unknown_tokens_so_that_they_fail() {
    let e = OwnedElement::new(airsync::SYNC).with(OwnedElement::leaf(Tag::new(0, 0x3F), "1"));
    let xml = render_owned(&e);
    assert!(xml.contains("<x3F>1</x3F>"), "{xml}");
}
