//! The `easbox` command. This stage offers the protocol tools; the server (`easbox serve`)
//! arrives with the sync-server issue.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::process::ExitCode;

const USAGE: &str = "\
usage: easbox <command>

commands:
  decode [FILE]   decode an EAS WBXML body (FILE or standard input) and print it as XML
  version         print the version and the EAS protocol versions spoken
  help            this text
";

/// Largest body `decode` reads; larger input is refused rather than read into memory.
const MAX_DECODE_INPUT: u64 = 64 * 1024 * 1024;

fn decode(path: Option<&str>) -> Result<(), String> {
    let mut bytes = Vec::new();
    let read = match path {
        Some(p) => std::fs::File::open(p)
            .map_err(|e| format!("{p}: {e}"))?
            .take(MAX_DECODE_INPUT + 1)
            .read_to_end(&mut bytes),
        None => std::io::stdin()
            .take(MAX_DECODE_INPUT + 1)
            .read_to_end(&mut bytes),
    };
    read.map_err(|e| format!("read: {e}"))?;
    if bytes.len() as u64 > MAX_DECODE_INPUT {
        return Err(format!("input larger than {MAX_DECODE_INPUT} bytes"));
    }
    let tree = easbox::wbxml::parse(&bytes, easbox::wbxml::Limits::DEFAULT)
        .map_err(|e| format!("not EAS WBXML: {e}"))?;
    std::io::stdout()
        .write_all(easbox::wbxml::to_xml(&tree).as_bytes())
        .map_err(|e| format!("write: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("decode") if args.len() <= 2 => decode(args.get(1).map(String::as_str)),
        Some("version") | Some("--version") => {
            println!(
                "easbox {} (EAS {})",
                env!("CARGO_PKG_VERSION"),
                easbox::eas::ProtocolVersion::header_list()
            );
            Ok(())
        }
        Some("help") | Some("--help") | Some("-h") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("easbox: {e}");
            ExitCode::FAILURE
        }
    }
}
