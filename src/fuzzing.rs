//! Entry points for the fuzz targets in `fuzz/`: thin wrappers over parsers that are private to
//! their modules. Not a stable API; hidden from the documentation.

use std::io::BufReader;

use crate::mcp::stdio::{LineRead, read_line_bounded};

/// One event of the stdio reader: the line as read (without its newline) and what the client
/// makes of it (`blank`, `garbage`, `request`, `notification`, `response`,
/// `unidentified-error`, `neither`), or `too-large` (which ends the stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framed {
    pub line: Vec<u8>,
    pub kind: &'static str,
}

/// Frames a server's stdout as the stdio transport does, through a read buffer of `capacity`
/// bytes with lines of at most `limit` bytes, and classifies each line.
pub fn mcp_stdio(output: &[u8], capacity: usize, limit: usize) -> Vec<Framed> {
    let mut reader = BufReader::with_capacity(capacity.max(1), output);
    let mut line = Vec::new();
    let mut events = Vec::new();
    loop {
        match read_line_bounded(&mut reader, &mut line, limit) {
            Ok(LineRead::Line) => events.push(Framed {
                kind: crate::mcp::stdio::describe_line(&line),
                line: line.clone(),
            }),
            Ok(LineRead::TooLarge) => {
                events.push(Framed {
                    line: Vec::new(),
                    kind: "too-large",
                });
                return events;
            }
            // Reading a slice never fails.
            Ok(LineRead::Eof) | Err(_) => return events,
        }
    }
}

/// Parses a TUF metadata file of `role` as a refresh does, before signatures are checked.
pub fn tuf_metadata(role: &str, raw: &[u8]) -> Result<u64, crate::sigstore::tuf::TufError> {
    crate::sigstore::tuf::parse_role(role, raw)
}

/// Runs lines through the guard's decisions, each from the client (`true`) or the server
/// (`false`), with pins for the tools `a` and `b` and small bounds (3 requests in flight, 2
/// re-check pages). Returns every line the guard would write itself (answers, filtered results,
/// its own requests), and stops where it would cut the server off.
pub fn guard_lines(lines: &[(bool, &[u8])]) -> Vec<Vec<u8>> {
    use crate::guard::core::Core;
    use crate::manifest::pins::{CaptureProfile, Pinned, ToolPins, TransportKind};
    let pin = |name: &str| {
        let mut def = serde_json::Map::new();
        def.insert("name".into(), name.into());
        def.insert("description".into(), "d".into());
        Pinned::new(def).ok()
    };
    let pins = ToolPins {
        profile: CaptureProfile {
            transport: TransportKind::Stdio,
            protocol_version: "2025-11-25".into(),
            client_capabilities: Vec::new(),
            argv: vec!["server".into()],
            env_names: Vec::new(),
            url: None,
        },
        tools: [pin("a"), pin("b")].into_iter().flatten().collect(),
        prompts: Vec::new(),
        resource_templates: Vec::new(),
        instructions: None,
    };
    let limits = crate::guard::GuardLimits {
        max_pending: 3,
        max_pages: 2,
        ..crate::guard::GuardLimits::default()
    };
    let mut core = Core::new(&pins, limits);
    let now = std::time::Instant::now();
    let mut written = Vec::new();
    for (from_client, line) in lines {
        let out = if *from_client {
            core.client_line(line, now)
        } else {
            match core.server_line(line, now) {
                Ok(out) => out,
                Err(_) => break,
            }
        };
        written.extend(out.to_client);
        written.extend(out.to_server);
    }
    written.extend(core.server_gone().to_client);
    written
}
