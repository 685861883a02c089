//! An XML rendering of a decoded document, for logs, golden files and comparisons with
//! libwbxml's `wbxml2xml`. Each element carries its code page as the namespace prefix
//! (`<AirSync:Sync>`); opaque data is written as base64 in an `opaque` wrapper.

use super::{Element, Node, codepages};
use base64::Engine;
use core::fmt::Write;

/// Renders `e` as indented XML, one element per line.
pub fn to_xml(e: &Element<'_>) -> String {
    let mut out = String::new();
    write_element(&mut out, e, 0);
    out
}

fn name(e: &Element<'_>) -> String {
    let page = codepages::page_name(e.tag.page).unwrap_or("Unknown");
    match e.tag.name() {
        Some(n) => format!("{page}:{n}"),
        None => format!("{page}:x{:02X}", e.tag.token),
    }
}

fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
            c => out.push(c),
        }
    }
}

fn write_element(out: &mut String, e: &Element<'_>, depth: usize) {
    let indent = "  ".repeat(depth);
    let n = name(e);
    match e.children.as_slice() {
        [] => {
            let _ = writeln!(out, "{indent}<{n}/>");
        }
        [Node::Text(s)] => {
            let _ = write!(out, "{indent}<{n}>");
            escape(out, s);
            let _ = writeln!(out, "</{n}>");
        }
        [Node::Opaque(b)] => {
            let _ = writeln!(
                out,
                "{indent}<{n}><opaque>{}</opaque></{n}>",
                base64::engine::general_purpose::STANDARD.encode(b)
            );
        }
        children => {
            let _ = writeln!(out, "{indent}<{n}>");
            for c in children {
                match c {
                    Node::Element(c) => write_element(out, c, depth + 1),
                    Node::Text(s) => {
                        out.push_str(&indent);
                        out.push_str("  ");
                        escape(out, s);
                        out.push('\n');
                    }
                    Node::Opaque(b) => {
                        let _ = writeln!(
                            out,
                            "{indent}  <opaque>{}</opaque>",
                            base64::engine::general_purpose::STANDARD.encode(b)
                        );
                    }
                }
            }
            let _ = writeln!(out, "{indent}</{n}>");
        }
    }
}
