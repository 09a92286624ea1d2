//! Two streams hashed side by side (`mcpsig-sha256x2`, the tree digests' hashing). Input: a
//! split point, cut steps, then the bytes of both streams. Properties: no panic, and each
//! stream's digest is SHA-256's (the `sha2` crate's) however the two are cut into pieces and
//! whichever pieces go through `update_pair` or `update` alone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpsig_sha256x2::{Sha256, update_pair};
use sha2::Digest as _;

fuzz_target!(|data: &[u8]| {
    let [split_hi, split_lo, step_a, step_b, mode, bytes @ ..] = data else {
        return;
    };
    let split = (usize::from(*split_hi) << 8 | usize::from(*split_lo)) % (bytes.len() + 1);
    let (a, b) = bytes.split_at(split);
    // Piece sizes: from the input, at least 1, up to a few blocks and then some.
    let piece = |step: u8, i: usize| (usize::from(step) * (i + 1) * 37) % 331 + 1;
    let (mut ha, mut hb) = (Sha256::new(), Sha256::new());
    let (mut ia, mut ib, mut i) = (0usize, 0usize, 0usize);
    while ia < a.len() || ib < b.len() {
        let na = piece(*step_a, i).min(a.len() - ia);
        let nb = piece(*step_b, i).min(b.len() - ib);
        match (mode >> (i % 8)) & 1 {
            0 => update_pair(&mut ha, &a[ia..ia + na], &mut hb, &b[ib..ib + nb]),
            _ => {
                ha.update(&a[ia..ia + na]);
                hb.update(&b[ib..ib + nb]);
            }
        }
        ia += na;
        ib += nb;
        i += 1;
    }
    assert_eq!(ha.len(), a.len() as u64);
    assert_eq!(hb.len(), b.len() as u64);
    assert_eq!(ha.finalize(), <[u8; 32]>::from(sha2::Sha256::digest(a)));
    assert_eq!(hb.finalize(), <[u8; 32]>::from(sha2::Sha256::digest(b)));
});
