//! The SSE reader shared by captures, drift checks, the guard proxy and the stdio bridge
//! (`mcp::sse`). Input: a bound, a few cut points, then the stream. Properties: no panic; the
//! same events (or the same refusal) whether the stream comes whole or in chunks cut anywhere,
//! a CRLF split between two chunks included; no event's data holds a CR and no id a control
//! byte (both would let an endpoint start a line the client reads and the guard did not), only
//! printable ASCII ids of at most 256 bytes; no event empty or over the bound; in strict reading
//! (the low bit of the bound byte) the same holds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [bound, a, b, c, stream @ ..] = data else {
        return;
    };
    let max = usize::from(*bound >> 1) * 8;
    // The low bit: read as captures do (refusing what clients read differently).
    let strict = bound & 1 == 1;
    let len = stream.len().max(1);
    let cuts = [
        usize::from(*a) % len,
        usize::from(*b) * 7 % len,
        usize::from(*c) * 13 % len,
    ];
    let whole = mcpsig::fuzzing::sse_events(stream, max, strict, &[]);
    let chunked = mcpsig::fuzzing::sse_events(stream, max, strict, &cuts);
    // One byte at a time: every CR at a chunk's end.
    let bytes: Vec<usize> = (1..stream.len()).collect();
    let bytewise = mcpsig::fuzzing::sse_events(stream, max, strict, &bytes);
    match (&whole, &chunked, &bytewise) {
        (Some(w), Some(c), Some(b)) => {
            assert_eq!(w, c);
            assert_eq!(w, b);
            for (data, id) in w {
                assert!(!data.contains(&b'\r'));
                assert!(data.len() <= max);
                assert!(!data.is_empty());
                assert!(
                    id.as_ref()
                        .is_none_or(|i| !i.bytes().any(|b| b.is_ascii_control()))
                );
            }
        }
        (None, None, None) => {}
        _ => panic!("whole {whole:?}, chunked {chunked:?}, bytewise {bytewise:?}"),
    }
});
