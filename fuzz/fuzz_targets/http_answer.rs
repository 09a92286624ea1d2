//! The guard proxy's reader of its endpoint's answers (`remote::upstream`): head, framing and
//! body. Input: a few cut points, then what the endpoint sends before it closes the connection.
//! Properties: no panic; the same answer (or the same refusal) whether the bytes come at once,
//! in a few reads cut anywhere, or a byte at a time (an answer that reads differently depending
//! on how the network cut it would let an endpoint show the guard one body and a client
//! another); a final status, never an interim one; no more body than was sent; a connection
//! kept for another request when read whole is kept however the bytes are cut.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [a, b, c, wire @ ..] = data else {
        return;
    };
    let len = wire.len().max(1);
    let cuts = [
        usize::from(*a) % len,
        usize::from(*b) * 7 % len,
        usize::from(*c) * 13 % len,
    ];
    let whole = mcpsig::fuzzing::http_answer(wire, &[]);
    let cut = mcpsig::fuzzing::http_answer(wire, &cuts);
    let bytes: Vec<usize> = (1..wire.len()).collect();
    let bytewise = mcpsig::fuzzing::http_answer(wire, &bytes);
    // Whether the connection could be kept depends on the cuts: bytes after the body's end
    // that arrive with it are seen at once, later ones by the check before the next request.
    // Read whole, every byte is seen at once: kept then, kept however it is cut.
    let answer = |r: &Result<(u16, Vec<u8>, bool), String>| r.clone().map(|(s, b, _)| (s, b));
    assert_eq!(answer(&whole), answer(&cut));
    assert_eq!(answer(&whole), answer(&bytewise));
    if let Ok((status, body, kept)) = &whole {
        assert!((200..=999).contains(status));
        assert!(body.len() <= wire.len());
        if *kept {
            assert!(matches!(cut, Ok((_, _, true))) && matches!(bytewise, Ok((_, _, true))));
        }
    }
});
