//! The MCP stdio framing: a server's output split into bounded lines and each line classified.
//! Input: read-buffer size, line limit, then the output. Properties: no panic, no line over the
//! limit, and the lines are exactly the output split at `\n` (one trailing `\r` dropped), up to
//! the first overlong line.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The lines a reader must produce, and whether an overlong one ends them.
fn expected(output: &[u8], limit: usize) -> (Vec<&[u8]>, bool) {
    let mut lines = Vec::new();
    let mut rest = output;
    while !rest.is_empty() {
        let (segment, terminated, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], true, &rest[i + 1..]),
            None => (rest, false, &rest[rest.len()..]),
        };
        if segment.len() > limit {
            return (lines, true);
        }
        let line = match segment.strip_suffix(b"\r") {
            Some(stripped) if terminated => stripped,
            _ => segment,
        };
        lines.push(line);
        rest = next;
    }
    (lines, false)
}

fuzz_target!(|data: &[u8]| {
    let [capacity, limit, output @ ..] = data else {
        return;
    };
    let capacity = usize::from(*capacity % 64) + 1;
    let limit = usize::from(*limit) * 16;
    let events = mcpsig::fuzzing::mcp_stdio(output, capacity, limit);
    let (lines, overlong) = expected(output, limit);
    let too_large = events.last().is_some_and(|e| e.kind == "too-large");
    assert_eq!(too_large, overlong);
    let got: Vec<&[u8]> = events
        .iter()
        .filter(|e| e.kind != "too-large")
        .map(|e| e.line.as_slice())
        .collect();
    assert_eq!(got, lines);
    assert!(got.iter().all(|l| l.len() <= limit));
});
