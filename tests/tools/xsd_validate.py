#!/usr/bin/env python3
"""Validates EAS responses (as namespaced XML) against Microsoft's published schemas.

The schemas are [MS-ASCMD] section 6's response schemas and the shared item schemas, as
shipped in Microsoft's Interop-TestSuites (see the fixtures' README.md). Each targetNamespace
is the bare MS-ASWBXML code page name (`AirSync`, `FolderHierarchy`, `Provision`, ...).

The files are not a valid XSD 1.0 set as published: they use other namespaces without
`xs:import`, and split one namespace over several files without `xs:include` (.NET's
XmlSchemaSet tolerates both). So every file is loaded into ONE schema set, after adding the
missing `<xs:import namespace=".."/>` to each file's text in memory; the files on disk stay
as published.

Each document is validated against the global element declared for its root, whichever file
declares it (`{AirSync}Sync` from SyncResponse.xsd, `{FolderHierarchy}FolderSync` from
FolderSyncResponse.xsd, `{Provision}Provision` from ProvisionResponse.xsd, ...).

Usage:
    xsd_validate.py [--xsd-dir DIR] [--roots] [FILE ...]

FILE `-` or no FILE reads one document from stdin. Prints every error as
`FILE: PATH: REASON` and exits 1 if any document is invalid, 2 if the schemas or a document
cannot be loaded at all. `--roots` lists the global elements with the file declaring each.

The schema directory is --xsd-dir, else $EASBOX_XSD_DIR, else ../shared/fixtures/ms-eas-xsd
relative to the crate root (two levels above this script).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

try:
    import xmlschema
except ImportError:  # the Rust test turns this exit code into a loud failure with a hint
    print(
        "xsd_validate.py: the Python package `xmlschema` is missing; run `bash tests/run.sh` "
        "(it creates target/py with tests/tools/requirements.txt)",
        file=sys.stderr,
    )
    sys.exit(3)

XS = "http://www.w3.org/2001/XMLSchema"
CRATE_ROOT = Path(__file__).resolve().parents[2]


def default_xsd_dir() -> Path:
    env = os.environ.get("EASBOX_XSD_DIR")
    if env:
        return Path(env)
    return CRATE_ROOT.parent / "shared" / "fixtures" / "ms-eas-xsd"


def declared_namespaces(path: Path) -> set[str]:
    """Namespace URIs bound by xmlns declarations anywhere in the file (ElementTree drops them
    from the tree, so they are read from parse events)."""
    return {uri for _, (_, uri) in ET.iterparse(path, events=["start-ns"])}


def with_imports(text: str, namespaces: list[str]) -> str:
    """The schema text with `<xs:import namespace=..>` for each namespace, inserted as the
    first children of the root (XSD requires imports before any declaration)."""
    m = re.search(r"<(?:\w+:)?schema\b[^>]*>", text)
    if m is None:
        raise ValueError("no schema element")
    imports = "".join(f'<xs:import xmlns:xs="{XS}" namespace="{ns}"/>' for ns in namespaces)
    return text[: m.end()] + imports + text[m.end() :]


class SchemaSet:
    def __init__(self, xsd_dir: Path):
        files = sorted(xsd_dir.glob("*.xsd"))
        if not files:
            raise FileNotFoundError(f"no .xsd files in {xsd_dir}")
        targets = {}
        for f in files:
            targets[f] = ET.parse(f).getroot().get("targetNamespace")
        known = {ns for ns in targets.values() if ns}
        sources = []
        for f in files:
            own = targets[f]
            missing = sorted(ns for ns in declared_namespaces(f) & known if ns != own)
            sources.append(io.StringIO(with_imports(f.read_text(encoding="utf-8"), missing)))
        self.schema = xmlschema.XMLSchema(sources, base_url=str(xsd_dir))
        # Which file declares each global element, for messages and --roots.
        self.declared_in: dict[str, str] = {}
        for f in files:
            root = ET.parse(f).getroot()
            for child in root:
                if child.tag == f"{{{XS}}}element" and child.get("name"):
                    ns = targets[f]
                    key = f"{{{ns}}}{child.get('name')}" if ns else child.get("name")
                    self.declared_in[key] = f.name

    def validate(self, name: str, data: bytes) -> list[str]:
        """Error lines for one document; empty when it is valid."""
        try:
            root = ET.fromstring(data)
        except ET.ParseError as e:
            return [f"{name}: not well-formed XML: {e}"]
        if root.tag not in self.schema.maps.elements:
            return [f"{name}: /: root element {root.tag} is declared by no schema"]
        errors = []
        for err in self.schema.iter_errors(ET.ElementTree(root)):
            # `/{AirSync}Sync/{AirSync}Status` reads better as `/AirSync:Sync/AirSync:Status`.
            path = re.sub(r"\{([^}]*)\}", r"\1:", err.path or "/")
            reason = err.reason or err.message
            errors.append(f"{name}: {path}: {' '.join(str(reason).split())}")
        return errors


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xsd-dir", type=Path, default=None)
    ap.add_argument("--roots", action="store_true", help="list global elements and exit")
    ap.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args(argv)

    xsd_dir = args.xsd_dir or default_xsd_dir()
    try:
        schemas = SchemaSet(xsd_dir)
    except Exception as e:  # any load failure is fatal and must not look like "invalid"
        print(f"xsd_validate.py: cannot load schemas from {xsd_dir}: {e}", file=sys.stderr)
        return 2

    if args.roots:
        for key in sorted(schemas.declared_in):
            print(f"{key}\t{schemas.declared_in[key]}")
        return 0

    bad = 0
    for name in args.files or ["-"]:
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as e:
            print(f"xsd_validate.py: {name}: {e}", file=sys.stderr)
            return 2
        label = "<stdin>" if name == "-" else name
        errors = schemas.validate(label, data)
        if errors:
            bad += 1
            for line in errors:
                print(line)
        elif not args.quiet:
            root = ET.fromstring(data).tag
            print(f"{label}: valid ({root} from {schemas.declared_in.get(root, '?')})")
    if bad:
        print(f"xsd_validate.py: {bad} of {len(args.files) or 1} document(s) invalid")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
