//! Reading `text/event-stream` (Server-Sent Events) as MCP clients read it: one incremental
//! parser for every place that reads an endpoint's stream (the capture and drift transport in
//! `mcp::http`, the guard proxy and stdio bridge in `remote`). What the guard or a capture reads
//! must be exactly what a client reads, or an endpoint can show each a different stream.
//!
//! The rules, from the SSE specification (WHATWG HTML, "Server-sent events"), as the MCP SDKs'
//! parsers apply them (eventsource-parser in TypeScript, httpx-sse in Python):
//! - a line ends at CRLF, LF or a lone CR, a CRLF split across chunks included;
//! - a line starting with `:` is a comment; `field: value` loses one space after the colon; a
//!   line without a colon is a field with an empty value;
//! - `data` lines of one event are joined with LF; a blank line dispatches the event, when it
//!   had at least one `data` line;
//! - an event whose `event` type is set to anything but `message` is not a message: the SDKs
//!   hand only `message` events to the session, so it is dropped here too;
//! - the last `id` (kept across events) is the event's id. The proxy writes ids back to clients,
//!   so only an id of printable ASCII (0x20-0x7E), at most 256 bytes, is taken; any other is
//!   ignored (the specification ignores one with NUL). Python clients (httpx-sse 0.4) also end
//!   lines at U+2028, U+2029 and U+0085: an id holding one would start lines the guard never
//!   read;
//! - an event not ended by a blank line when the stream ends is discarded;
//! - an event whose data is empty is not dispatched: it can be no message, and a stream of them
//!   must not cost memory.
//!
//! Strict reading (captures, whose reading decides what is pinned) also refuses a stream that
//! clients read differently from each other: one starting with a byte-order mark (TypeScript
//! clients strip it, Python clients keep it in the first field's name) and one holding a line
//! separator only some clients end lines at (VT, FF, FS, GS, RS, U+0085, U+2028, U+2029, as
//! Python's `str.splitlines` does).

/// How much longer than one event's bound a line may be (its field name, one space).
const LINE_SLACK: usize = 1024;

/// One message event: its data lines joined, and the last event id.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub data: Vec<u8>,
    pub id: Option<String>,
}

/// Why the parser refused a stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SseRefusal {
    /// One event (or one line) longer than the parser's bound.
    TooLarge,
    /// (Strict reading) a byte-order mark at the start.
    ByteOrderMark,
    /// (Strict reading) a line separator only some clients end lines at.
    OtherLineEnd,
}

/// The longest id taken.
const MAX_ID: usize = 256;

/// An incremental parser with a bound on one event's data (and on an unfinished line).
pub(crate) struct SseParser {
    buf: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
    /// The event's type was set to something other than `message`.
    other_type: bool,
    id: Option<String>,
    max: usize,
    /// Bytes of `buf` already searched for a line end.
    scanned: usize,
    /// The last line ended with a CR at the end of a chunk: a LF that starts the next one
    /// belongs to it.
    after_cr: bool,
    /// Refuse what clients read differently (see the module's notes).
    strict: bool,
    /// Nothing read yet (for the byte-order mark).
    at_start: bool,
}

impl SseParser {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            data: Vec::new(),
            has_data: false,
            other_type: false,
            id: None,
            max,
            scanned: 0,
            after_cr: false,
            strict: false,
            at_start: true,
        }
    }

    /// A parser that also refuses streams clients read differently (for captures).
    pub(crate) fn strict(max: usize) -> Self {
        Self {
            strict: true,
            ..Self::new(max)
        }
    }

    /// Whether an event has begun and not yet been dispatched (a `data` line read).
    #[cfg(test)]
    pub(crate) fn in_event(&self) -> bool {
        self.has_data
    }

    /// Feeds a chunk; returns the message events it completed.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseRefusal> {
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        if self.at_start
            && self.buf.is_empty()
            && !chunk.is_empty()
            && !BOM.starts_with(&chunk[..chunk.len().min(BOM.len())])
        {
            // The usual start: no mark, nothing held.
            self.at_start = false;
        }
        if self.at_start {
            // The stream's first bytes, held until they are known not to be a byte-order mark
            // (which the specification strips, and strict reading refuses).
            self.buf.extend_from_slice(chunk);
            if self.buf.len() < BOM.len() && BOM.starts_with(&self.buf) {
                return Ok(Vec::new());
            }
            self.at_start = false;
            let held = std::mem::take(&mut self.buf);
            let rest = match held.strip_prefix(BOM) {
                Some(_) if self.strict => return Err(SseRefusal::ByteOrderMark),
                Some(rest) => rest,
                None => &held[..],
            };
            return self.push(rest);
        }
        let chunk = if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            chunk.strip_prefix(b"\n").unwrap_or(chunk)
        } else {
            chunk
        };
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        let mut held_cr = false;
        // Only the new bytes are searched for a line end: a long line costs linear time.
        let mut from = self.scanned;
        while let Some(end) = memchr::memchr2(b'\n', b'\r', &self.buf[from..]) {
            let end = from + end;
            let mut next = end + 1;
            if self.buf[end] == b'\r' {
                match self.buf.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let (line_start, line_end) = (start, end);
            start = next;
            from = next;
            // A line over the bound is refused whether it came in one chunk or many.
            if line_end - line_start > self.max + LINE_SLACK {
                return Err(SseRefusal::TooLarge);
            }
            if line_start == line_end {
                if self.strict && self.after_cr {
                    // A blank line ended by a CR that is the last byte so far. TypeScript
                    // clients (eventsource-parser) hold such a CR back until the next byte
                    // says whether a LF follows, and never dispatch the event if the stream
                    // ends there; Python clients dispatch it at once. Strict reading waits for
                    // the next byte too, so a stream that ends here pins nothing.
                    self.after_cr = false;
                    start = line_start;
                    held_cr = true;
                    break;
                }
                self.dispatch(&mut events);
                continue;
            }
            let line = &self.buf[line_start..line_end];
            if self.strict && holds_other_line_end(line) {
                return Err(SseRefusal::OtherLineEnd);
            }
            if line[0] == b':' {
                continue;
            }
            let (field, value) = match line.iter().position(|b| *b == b':') {
                Some(i) => {
                    let v = &line[i + 1..];
                    (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
                }
                None => (line, &b""[..]),
            };
            match field {
                b"data" => {
                    if self.data.len() + usize::from(self.has_data) + value.len() > self.max {
                        return Err(SseRefusal::TooLarge);
                    }
                    if self.has_data {
                        self.data.push(b'\n');
                    }
                    self.data.extend_from_slice(value);
                    self.has_data = true;
                }
                b"event" => self.other_type = !(value.is_empty() || value == b"message"),
                b"id"
                    if value.len() <= MAX_ID && value.iter().all(|b| (0x20..0x7f).contains(b)) =>
                {
                    self.id = std::str::from_utf8(value).ok().map(str::to_owned);
                }
                _ => {}
            }
        }
        self.buf.drain(..start);
        // A held-back CR is searched again with the bytes after it.
        self.scanned = if held_cr { 0 } else { self.buf.len() };
        if self.buf.len() > self.max + LINE_SLACK {
            return Err(SseRefusal::TooLarge);
        }
        Ok(events)
    }

    /// A blank line: the event read so far, if it had data and is a message.
    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        if self.has_data && !self.other_type && !self.data.is_empty() {
            events.push(SseEvent {
                data: std::mem::take(&mut self.data),
                id: self.id.clone(),
            });
        }
        self.data.clear();
        self.has_data = false;
        self.other_type = false;
    }
}

/// Whether a line holds a separator some clients end lines at and others do not.
fn holds_other_line_end(line: &[u8]) -> bool {
    line.iter().enumerate().any(|(i, &b)| {
        matches!(b, 0x0b | 0x0c | 0x1c..=0x1e) || unicode_line_end(&line[i..]).is_some()
    })
}

/// The Unicode line separators Python clients also end lines at, with their JSON escapes:
/// U+0085 (C2 85), U+2028 (E2 80 A8), U+2029 (E2 80 A9).
const UNICODE_LINE_ENDS: [(&[u8], &[u8]); 3] = [
    (b"\xC2\x85", b"\\u0085"),
    (b"\xE2\x80\xA8", b"\\u2028"),
    (b"\xE2\x80\xA9", b"\\u2029"),
];

/// The Unicode line separator `bytes` starts with, if any: its length and its JSON escape.
pub(crate) fn unicode_line_end(bytes: &[u8]) -> Option<(usize, &'static [u8])> {
    UNICODE_LINE_ENDS
        .iter()
        .find(|(raw, _)| bytes.starts_with(raw))
        .map(|(raw, escape)| (raw.len(), *escape))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: &[u8], id: Option<&str>) -> SseEvent {
        SseEvent {
            data: data.to_vec(),
            id: id.map(str::to_owned),
        }
    }

    #[test]
    fn events_are_parsed_across_chunks_and_bounded() {
        let mut p = SseParser::new(100);
        assert!(
            p.push(b"id: 7\r\nevent: message\ndata: {\"a\"")
                .unwrap()
                .is_empty()
        );
        // The data line has not ended yet: no event has begun.
        assert!(!p.in_event());
        let ev = p
            .push(b":1}\n\n: keep-alive\n\ndata: x\ndata: y\n\n")
            .unwrap();
        assert_eq!(
            ev,
            vec![event(b"{\"a\":1}", Some("7")), event(b"x\ny", Some("7"))]
        );
        assert!(!p.in_event());
        let mut p = SseParser::new(10);
        assert_eq!(p.push(b"data: 0123456789abc\n"), Err(SseRefusal::TooLarge));
        let mut p = SseParser::new(10);
        assert_eq!(p.push(&[b'x'; 2000]), Err(SseRefusal::TooLarge));
        // Many data lines of one event are bounded together.
        let mut p = SseParser::new(10);
        assert_eq!(
            p.push(b"data: 0123\ndata: 4567\ndata: 89\n"),
            Err(SseRefusal::TooLarge)
        );
        // Exactly the bound is not over it; one byte more is.
        let mut p = SseParser::new(10);
        let ev = p.push(b"data: 0123\ndata: 4\ndata: 678\n\n").unwrap();
        assert_eq!(ev[0].data, b"0123\n4\n678");
        let mut p = SseParser::new(10);
        assert_eq!(
            p.push(b"data: 0123\ndata: 4\ndata: 6789\n\n"),
            Err(SseRefusal::TooLarge)
        );
    }

    #[test]
    fn lines_end_at_cr_lf_or_both_even_across_chunks() {
        // A lone CR ends a line: the event after it is an event, not part of the id.
        let mut p = SseParser::new(1000);
        let ev = p.push(b"id: 7\rdata: a\r\rdata: b\r\n\r\n").unwrap();
        assert_eq!(ev, vec![event(b"a", Some("7")), event(b"b", Some("7"))]);
        // CRLF split across chunks is one line end, not a line end and a blank line.
        let mut p = SseParser::new(1000);
        assert!(p.push(b"data: a\r").unwrap().is_empty());
        assert!(p.push(b"\n").unwrap().is_empty());
        assert!(p.push(b"data: b\r").unwrap().is_empty());
        assert_eq!(p.push(b"\n\n").unwrap(), vec![event(b"a\nb", None)]);
        // A CR at a chunk's end, then a line that is not its LF.
        let mut p = SseParser::new(1000);
        assert!(p.push(b"data: a\r").unwrap().is_empty());
        assert_eq!(p.push(b"\r").unwrap(), vec![event(b"a", None)]);
        // An id with a control byte is ignored (it would be written back to the client).
        let mut p = SseParser::new(1000);
        let ev = p.push(b"id: 1\x1b[2J\ndata: x\n\n").unwrap();
        assert_eq!(ev[0].id, None);
    }

    #[test]
    fn only_message_events_with_data_are_dispatched() {
        let mut p = SseParser::new(1000);
        let ev = p
            .push(
                b"event: endpoint\ndata: /elsewhere\n\n\
                  event:\ndata: a\n\n\
                  event: message\ndata: b\n\n\
                  event: ping\n\n\
                  data: c\n\n\
                  id: 3\n\n\
                  data\n\n",
            )
            .unwrap();
        assert_eq!(
            ev,
            vec![
                event(b"a", None),
                event(b"b", None),
                event(b"c", None),
                // `data` with no colon: one empty data line. Clients dispatch it empty; it can
                // be no message, so it is not dispatched here.
            ]
        );
        // The type is the event's own: the next one is a message again.
        let ev = p
            .push(b"id: 3\nevent: x\ndata: no\n\ndata: yes\n\n")
            .unwrap();
        assert_eq!(ev, vec![event(b"yes", Some("3"))]);
    }

    #[test]
    fn ids_are_printable_ascii_and_bounded() {
        let mut p = SseParser::new(1000);
        // U+2028 ends a line for Python clients; a long id would be copied into every event.
        let long = format!("id: {}\ndata: b\n\n", "9".repeat(257));
        let ev = p.push("id: 1\u{2028}x\ndata: a\n\n".as_bytes()).unwrap();
        assert_eq!(ev, vec![event(b"a", None)]);
        assert_eq!(p.push(long.as_bytes()).unwrap(), vec![event(b"b", None)]);
        let ok = format!("id: {}\ndata: c\n\n", "~".repeat(256));
        let ev = p.push(ok.as_bytes()).unwrap();
        assert_eq!(ev[0].id.as_deref().map(str::len), Some(256));
    }

    #[test]
    fn a_byte_order_mark_is_stripped_or_refused_when_strict() {
        let stream = b"\xEF\xBB\xBFdata: a\n\n";
        // The specification strips it, even split over chunks.
        let mut p = SseParser::new(1000);
        assert!(p.push(&stream[..1]).unwrap().is_empty());
        assert!(p.push(&stream[1..2]).unwrap().is_empty());
        assert_eq!(p.push(&stream[2..]).unwrap(), vec![event(b"a", None)]);
        // Only at the start.
        let mut p = SseParser::new(1000);
        let ev = p.push(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n").unwrap();
        assert_eq!(ev, vec![event(b"a", None)]);
        // Clients disagree on it, so a capture refuses it.
        let mut p = SseParser::strict(1000);
        assert!(p.push(&stream[..2]).unwrap().is_empty());
        assert_eq!(p.push(&stream[2..]), Err(SseRefusal::ByteOrderMark));
        let mut p = SseParser::strict(1000);
        assert_eq!(p.push(b"\xEF").unwrap(), vec![]);
        // Not a mark: the first field is named `\xEFdata`, and ignored.
        assert!(p.push(b"data: a\n\n").unwrap().is_empty());
    }

    #[test]
    fn strict_reading_dispatches_on_a_final_cr_only_when_more_follows() {
        // TypeScript clients never dispatch an event whose blank line is a CR at the very end
        // of the stream; strict reading waits for the byte after it as they do.
        let mut p = SseParser::strict(1000);
        assert!(p.push(b"data: a\n\r").unwrap().is_empty());
        assert!(p.push(b"").unwrap().is_empty());
        // What follows decides: a LF (one CRLF line end), or anything else (a CR line end).
        assert_eq!(p.push(b"\n").unwrap(), vec![event(b"a", None)]);
        let mut p = SseParser::strict(1000);
        assert!(p.push(b"data: a\r\r").unwrap().is_empty());
        assert_eq!(
            p.push(b"data: b\n\n").unwrap(),
            vec![event(b"a", None), event(b"b", None)]
        );
        // In the middle of a chunk a CR is a line end as before.
        let mut p = SseParser::strict(1000);
        assert_eq!(
            p.push(b"data: a\n\rdata: b\r\r\n").unwrap(),
            vec![event(b"a", None), event(b"b", None)]
        );
        // Read leniently (the proxy writes every event anew with LF), it is dispatched at once.
        let mut p = SseParser::new(1000);
        assert_eq!(p.push(b"data: a\n\r").unwrap(), vec![event(b"a", None)]);
    }

    #[test]
    fn strict_reading_refuses_line_ends_only_some_clients_see() {
        let seps: [&[u8]; 8] = [
            b"\x0b",
            b"\x0c",
            b"\x1c",
            b"\x1d",
            b"\x1e",
            "\u{85}".as_bytes(),
            "\u{2028}".as_bytes(),
            "\u{2029}".as_bytes(),
        ];
        for sep in seps {
            let stream = [b": x", sep, b"data: hidden", sep, sep, b"\ndata: a\n\n"].concat();
            let mut p = SseParser::strict(1000);
            assert_eq!(p.push(&stream), Err(SseRefusal::OtherLineEnd), "{sep:?}");
            // Read leniently (the proxy writes every event anew), it is one comment.
            let mut p = SseParser::new(1000);
            assert_eq!(p.push(&stream).unwrap(), vec![event(b"a", None)]);
        }
        // Other characters of those lead bytes pass.
        let mut p = SseParser::strict(1000);
        let ev = p
            .push("data: \u{a9}\u{2027}\u{202a}\n\n".as_bytes())
            .unwrap();
        assert_eq!(ev.len(), 1);
    }

    #[test]
    fn an_event_the_stream_did_not_end_is_not_dispatched() {
        let mut p = SseParser::new(1000);
        assert!(p.push(b"data: {}\n").unwrap().is_empty());
        assert!(p.in_event());
    }
}
