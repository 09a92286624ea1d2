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
