//! The guard's decisions over arbitrary client and server lines. Input: lines separated by
//! `\n`, each starting with `c` (from the client) or anything else (from the server).
//! Properties: no panic, and every line the guard writes itself is one JSON object with its
//! newline.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Each line with its newline, as the guard's reader hands it over.
    let lines: Vec<(bool, Vec<u8>)> = data
        .split(|&b| b == b'\n')
        .filter_map(|l| l.split_first())
        .map(|(side, line)| (*side == b'c', [line, b"\n"].concat()))
        .collect();
    let lines: Vec<(bool, &[u8])> = lines.iter().map(|(c, l)| (*c, l.as_slice())).collect();
    for written in mcpsig::fuzzing::guard_lines(&lines) {
        assert_eq!(written.last(), Some(&b'\n'));
        let value: serde_json::Value =
            serde_json::from_slice(&written).expect("the guard writes JSON");
        assert!(value.is_object());
    }
});
