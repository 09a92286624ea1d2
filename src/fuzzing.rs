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

/// What unpacking a hostile archive did: the relative paths written, or the error's text.
/// `kind` 0 is an npm tarball (`data` is the tar; it is gzip'd here), 1 a wheel, 2 an MCP
/// bundle's listing. Every path written is checked to lie inside the install folder, and the
/// files on disk to be exactly those listed.
pub fn package_archive(kind: u8, data: &[u8]) -> Result<Vec<String>, String> {
    use crate::artifact::unpack::{self, Writer};
    use std::io::Write as _;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path().join("install");
    std::fs::create_dir(&root).map_err(|e| e.to_string())?;
    let mut w = Writer::new(&root);
    let result = match kind % 3 {
        0 => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(data).map_err(|e| e.to_string())?;
            let tgz = gz.finish().map_err(|e| e.to_string())?;
            unpack::npm_tarball(&mut w, "fuzz", "node_modules/p", &mut tgz.as_slice())
                .map(|_| ())
                .map_err(|e| crate::text::error_chain(&e))
        }
        1 => {
            let path = dir.path().join("w.whl");
            std::fs::write(&path, data).map_err(|e| e.to_string())?;
            let f = std::fs::File::open(&path).map_err(|e| e.to_string())?;
            unpack::wheel(&mut w, "fuzz", "site", f)
                .map(|_| ())
                .map_err(|e| crate::text::error_chain(&e))
        }
        _ => {
            let path = dir.path().join("b.mcpb");
            std::fs::write(&path, data).map_err(|e| e.to_string())?;
            return crate::artifact::resolve::mcpb_entries(&path)
                .map(|e| e.into_iter().map(|e| e.path.to_string()).collect())
                .map_err(|e| crate::text::error_chain(&e));
        }
    };
    let written: Vec<String> = w
        .into_entries()
        .into_iter()
        .map(|e| e.path.to_string())
        .collect();
    // Nothing outside the install folder, nothing there but what was listed.
    let mut on_disk = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| e.to_string())? {
            let e = e.map_err(|e| e.to_string())?;
            let t = e.file_type().map_err(|e| e.to_string())?;
            assert!(!t.is_symlink(), "a symlink was created");
            if t.is_dir() {
                stack.push(e.path());
            } else {
                let rel = e
                    .path()
                    .strip_prefix(&root)
                    .map_err(|e| e.to_string())?
                    .to_path_buf();
                on_disk.push(rel.display().to_string());
            }
        }
    }
    let outside: Vec<_> = std::fs::read_dir(dir.path())
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "install" && n != "w.whl")
        .collect();
    assert!(
        outside.is_empty(),
        "written outside the install: {outside:?}"
    );
    let mut listed = written.clone();
    listed.sort();
    on_disk.sort();
    if result.is_ok() {
        assert_eq!(listed, on_disk, "files on disk differ from what was listed");
    }
    result.map(|()| written)
}

/// One SSE event as `mcp::sse` reads it: its data and id.
pub type SseEvent = (Vec<u8>, Option<String>);

/// Reads an event stream with `mcp::sse` (one event at most `max` bytes; `strict` as captures
/// read), fed in chunks that end at each of `cuts` (offsets into `stream`, in any order;
/// out-of-range ones are ignored). `None` when the parser refused the stream.
pub fn sse_events(
    stream: &[u8],
    max: usize,
    strict: bool,
    cuts: &[usize],
) -> Option<Vec<SseEvent>> {
    let mut cuts: Vec<usize> = cuts.iter().copied().filter(|c| *c < stream.len()).collect();
    cuts.sort_unstable();
    cuts.push(stream.len());
    let mut parser = if strict {
        crate::mcp::sse::SseParser::strict(max)
    } else {
        crate::mcp::sse::SseParser::new(max)
    };
    let mut events = Vec::new();
    let mut at = 0;
    for cut in cuts {
        for e in parser.push(&stream[at..cut]).ok()? {
            events.push((e.data, e.id));
        }
        at = cut;
    }
    Some(events)
}

/// An answer of the guard proxy's endpoint read as `remote::upstream` reads it, from a
/// connection whose reads end at each of `cuts` (offsets into `wire`, in any order) and which
/// the endpoint closes after `wire`: its status, body and whether the connection could carry
/// another request, or why it was refused.
pub fn http_answer(wire: &[u8], cuts: &[usize]) -> Result<(u16, Vec<u8>, bool), String> {
    crate::remote::upstream::answer_from(wire, cuts)
}
