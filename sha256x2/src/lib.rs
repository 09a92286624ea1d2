//! SHA-256 of two independent byte streams at once.
//!
//! One SHA-256 stream is a chain of dependent rounds: with x86_64's SHA extensions each
//! `sha256rnds2` waits for the result of the one before, and the SHA unit idles in between.
//! Stepping a second, independent stream through the same rounds fills those gaps. On the
//! project's machines (AMD EPYC, 2 cores) two streams together hash about 1.65x as many bytes
//! per second on one core as one stream does (`examples/sha256_pair_speed.rs`). mcpsig's tree
//! digests hash the files of a tree two at a time with [`update_pair`].
//!
//! The digests are SHA-256's, bit for bit: [`Sha256`] is checked against the `sha2` crate by the
//! tests here and by the `sha256_pair` fuzz target (any two inputs, cut anywhere). Blocks of one
//! stream alone, and both streams on a CPU without the SHA extensions, go through `sha2`.
//!
//! This crate holds the workspace's only unsafe code: one call into the kernel (a
//! `#[target_feature]` function), made after the CPU was found to have those features. The
//! kernel itself is safe Rust: its intrinsics take and return values, never pointers.

#![deny(unsafe_code)]

use sha2::block_api::compress256;

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// An incremental SHA-256 hash, fed alone with [`Sha256::update`] or next to another with
/// [`update_pair`].
#[derive(Clone)]
pub struct Sha256 {
    state: [u32; 8],
    /// The bytes of a block not yet complete (`pending` of them).
    block: [u8; 64],
    pending: usize,
    /// Bytes hashed so far.
    len: u64,
}

impl Default for Sha256 {
    fn default() -> Sha256 {
        Sha256::new()
    }
}

impl std::fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sha256").field("len", &self.len).finish()
    }
}

impl Sha256 {
    pub fn new() -> Sha256 {
        Sha256 {
            state: IV,
            block: [0; 64],
            pending: 0,
            len: 0,
        }
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn update(&mut self, data: &[u8]) {
        let rest = self.complete_pending(data);
        let (blocks, tail) = rest.as_chunks::<64>();
        if !blocks.is_empty() {
            compress256(&mut self.state, blocks);
        }
        self.keep(tail);
    }

    /// The digest: SHA-256 of every byte given, in order.
    pub fn finalize(self) -> [u8; 32] {
        let Sha256 {
            mut state,
            mut block,
            pending,
            len,
        } = self;
        block[pending..].fill(0);
        block[pending] = 0x80;
        if pending >= 56 {
            compress256(&mut state, &[block]);
            block = [0; 64];
        }
        // The message length in bits, modulo 2^64 as the standard has it.
        block[56..].copy_from_slice(&len.wrapping_mul(8).to_be_bytes());
        compress256(&mut state, &[block]);
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// Counts `data`, and completes the pending block from its first bytes if one is pending.
    /// Returns what is left: nothing if the pending block is still incomplete, and otherwise
    /// bytes to hash from a block boundary (nothing pending any more).
    fn complete_pending<'d>(&mut self, data: &'d [u8]) -> &'d [u8] {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.pending == 0 {
            return data;
        }
        let take = (64 - self.pending).min(data.len());
        let (head, rest) = data.split_at(take);
        self.block[self.pending..self.pending + take].copy_from_slice(head);
        self.pending += take;
        if self.pending == 64 {
            compress256(&mut self.state, &[self.block]);
            self.pending = 0;
        }
        rest
    }

    /// Keeps the bytes after the last whole block (fewer than 64) for later.
    fn keep(&mut self, tail: &[u8]) {
        if !tail.is_empty() {
            // Only reached after `complete_pending` left bytes, so nothing is pending.
            self.block[..tail.len()].copy_from_slice(tail);
            self.pending = tail.len();
        }
    }
}

/// `a.update(data_a); b.update(data_b)`, with the blocks the two have in common hashed side by
/// side. The more equal the lengths, the more is hashed two at a time.
pub fn update_pair(a: &mut Sha256, data_a: &[u8], b: &mut Sha256, data_b: &[u8]) {
    let rest_a = a.complete_pending(data_a);
    let rest_b = b.complete_pending(data_b);
    let (blocks_a, tail_a) = rest_a.as_chunks::<64>();
    let (blocks_b, tail_b) = rest_b.as_chunks::<64>();
    let both = blocks_a.len().min(blocks_b.len());
    let (pair_a, alone_a) = blocks_a.split_at(both);
    let (pair_b, alone_b) = blocks_b.split_at(both);
    compress_pair(&mut a.state, pair_a, &mut b.state, pair_b);
    if !alone_a.is_empty() {
        compress256(&mut a.state, alone_a);
    }
    if !alone_b.is_empty() {
        compress256(&mut b.state, alone_b);
    }
    a.keep(tail_a);
    b.keep(tail_b);
}

/// Whether this CPU hashes two streams at once (the x86_64 SHA extensions); otherwise
/// [`update_pair`] hashes one after the other, with the same results.
pub fn pairs_in_hardware() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        x86::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Compresses `blocks_a` into `a` and `blocks_b` into `b` (as many of each).
fn compress_pair(a: &mut [u32; 8], blocks_a: &[[u8; 64]], b: &mut [u32; 8], blocks_b: &[[u8; 64]]) {
    if blocks_a.is_empty() && blocks_b.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if blocks_a.len() == blocks_b.len() && x86::available() {
        #[allow(unsafe_code)]
        // SAFETY: the kernel needs the CPU features `sha`, `sse2`, `ssse3` and `sse4.1`, and
        // `x86::available()` has just found all four on this CPU. Nothing else is required of
        // the call: the kernel is otherwise safe code over slices and arrays.
        unsafe {
            x86::compress_pair(a, blocks_a, b, blocks_b);
        }
        return;
    }
    compress256(a, blocks_a);
    compress256(b, blocks_b);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_blend_epi16, _mm_extract_epi32, _mm_set_epi32,
        _mm_set_epi64x, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32,
        _mm_shuffle_epi8, _mm_shuffle_epi32,
    };

    /// SHA-256's round constants (FIPS 180-4, 4.2.2).
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse2")
            && std::arch::is_x86_feature_detected!("ssse3")
            && std::arch::is_x86_feature_detected!("sse4.1")
    }

    /// The state as the SHA instructions hold it: words A, B, E, F and C, D, G, H.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn split(s: &[u32; 8]) -> (__m128i, __m128i) {
        let w = |i: usize| s[i] as i32;
        let abcd = _mm_set_epi32(w(3), w(2), w(1), w(0));
        let efgh = _mm_set_epi32(w(7), w(6), w(5), w(4));
        let cdab = _mm_shuffle_epi32::<0xB1>(abcd);
        let hgfe = _mm_shuffle_epi32::<0x1B>(efgh);
        (
            _mm_alignr_epi8::<8>(cdab, hgfe),
            _mm_blend_epi16::<0xF0>(hgfe, cdab),
        )
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn join(abef: __m128i, cdgh: __m128i, s: &mut [u32; 8]) {
        let feba = _mm_shuffle_epi32::<0x1B>(abef);
        let dchg = _mm_shuffle_epi32::<0xB1>(cdgh);
        let abcd = _mm_blend_epi16::<0xF0>(feba, dchg);
        let efgh = _mm_alignr_epi8::<8>(dchg, feba);
        *s = [
            _mm_extract_epi32::<0>(abcd) as u32,
            _mm_extract_epi32::<1>(abcd) as u32,
            _mm_extract_epi32::<2>(abcd) as u32,
            _mm_extract_epi32::<3>(abcd) as u32,
            _mm_extract_epi32::<0>(efgh) as u32,
            _mm_extract_epi32::<1>(efgh) as u32,
            _mm_extract_epi32::<2>(efgh) as u32,
            _mm_extract_epi32::<3>(efgh) as u32,
        ];
    }

    /// Message words `4q..4q + 4` of `block`, as big-endian words.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn words(block: &[u8; 64], q: usize) -> __m128i {
        let half = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&block[at..at + 8]);
            i64::from_le_bytes(b)
        };
        let raw = _mm_set_epi64x(half(16 * q + 8), half(16 * q));
        // Reverses the bytes of each 32-bit word.
        let swap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
        _mm_shuffle_epi8(raw, swap)
    }

    /// Compresses `blocks_a` into `a` and `blocks_b` into `b`, one block of each at a time,
    /// their rounds interleaved. The slices are of equal length (the caller's check).
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn compress_pair(
        a: &mut [u32; 8],
        blocks_a: &[[u8; 64]],
        b: &mut [u32; 8],
        blocks_b: &[[u8; 64]],
    ) {
        let (abef_a, cdgh_a) = split(a);
        let (abef_b, cdgh_b) = split(b);
        let mut abef = [abef_a, abef_b];
        let mut cdgh = [cdgh_a, cdgh_b];
        for (block_a, block_b) in blocks_a.iter().zip(blocks_b) {
            let blocks = [block_a, block_b];
            let (abef0, cdgh0) = (abef, cdgh);
            // The last four quarters of the message schedule, in a ring: w0 holds words
            // 16j..16j+4 after quarter 4j, and so on.
            let mut w0 = [abef0[0]; 2];
            let mut w1 = w0;
            let mut w2 = w0;
            let mut w3 = w0;
            // Four rounds of each stream with the message words in `$w`.
            macro_rules! rounds {
                ($q:expr, $w:ident) => {{
                    let k = _mm_set_epi32(
                        K[4 * $q + 3] as i32,
                        K[4 * $q + 2] as i32,
                        K[4 * $q + 1] as i32,
                        K[4 * $q] as i32,
                    );
                    for l in 0..2 {
                        let wk = _mm_add_epi32($w[l], k);
                        cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], wk);
                        let wk_high = _mm_shuffle_epi32::<0x0E>(wk);
                        abef[l] = _mm_sha256rnds2_epu32(abef[l], cdgh[l], wk_high);
                    }
                }};
            }
            // Quarters 0-3: the block's own words.
            macro_rules! load {
                ($q:expr, $w:ident) => {{
                    for l in 0..2 {
                        $w[l] = words(blocks[l], $q);
                    }
                    rounds!($q, $w);
                }};
            }
            // Quarter q from quarters q-4 ($a, replaced), q-3, q-2 and q-1.
            macro_rules! schedule {
                ($q:expr, $a:ident, $b:ident, $c:ident, $d:ident) => {{
                    for l in 0..2 {
                        let s0 = _mm_sha256msg1_epu32($a[l], $b[l]);
                        let w7 = _mm_alignr_epi8::<4>($d[l], $c[l]);
                        $a[l] = _mm_sha256msg2_epu32(_mm_add_epi32(s0, w7), $d[l]);
                    }
                    rounds!($q, $a);
                }};
            }
            load!(0, w0);
            load!(1, w1);
            load!(2, w2);
            load!(3, w3);
            // Quarters 4-15, the ring turning once per quarter (the compiler unrolls it).
            for q in [4, 8, 12] {
                schedule!(q, w0, w1, w2, w3);
                schedule!(q + 1, w1, w2, w3, w0);
                schedule!(q + 2, w2, w3, w0, w1);
                schedule!(q + 3, w3, w0, w1, w2);
            }
            for l in 0..2 {
                abef[l] = _mm_add_epi32(abef[l], abef0[l]);
                cdgh[l] = _mm_add_epi32(cdgh[l], cdgh0[l]);
            }
        }
        join(abef[0], cdgh[0], a);
        join(abef[1], cdgh[1], b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    fn reference(data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(data).into()
    }

    fn bytes(n: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn known_answers() {
        // FIPS 180-4 examples (NIST's SHA256.pdf): "abc", the two-block message, and the empty
        // string.
        let hex = |d: [u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let one = |data: &[u8]| {
            let mut h = Sha256::new();
            h.update(data);
            hex(h.finalize())
        };
        assert_eq!(
            one(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            one(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            one(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // And the same two side by side.
        let (mut a, mut b) = (Sha256::new(), Sha256::new());
        update_pair(
            &mut a,
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            &mut b,
            b"abc",
        );
        assert_eq!(
            hex(a.finalize()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            hex(b.finalize()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn every_length_around_the_block_and_padding_edges() {
        for n in 0..=200 {
            let data = bytes(n, n as u32);
            let mut h = Sha256::new();
            h.update(&data);
            assert_eq!(h.len(), n as u64);
            assert_eq!(h.finalize(), reference(&data), "length {n}");
        }
    }

    #[test]
    fn pairs_of_every_length_match_two_single_hashes() {
        // Every combination of lengths 0..=160 (both streams at once, in one call each).
        for n in 0..=160 {
            let a = bytes(n, 7 + n as u32);
            for m in 0..=160 {
                let b = bytes(m, 9 + m as u32);
                let (mut ha, mut hb) = (Sha256::new(), Sha256::new());
                update_pair(&mut ha, &a, &mut hb, &b);
                assert_eq!(ha.finalize(), reference(&a), "{n} with {m}");
                assert_eq!(hb.finalize(), reference(&b), "{m} with {n}");
            }
        }
    }

    #[test]
    fn pairs_fed_in_uneven_pieces_match() {
        // Long streams fed in pieces whose cuts fall at different offsets of the block in the
        // two streams, with single updates in between: pending blocks on one side or both.
        let a = bytes(300_000, 1);
        let b = bytes(257_123, 2);
        let (mut ha, mut hb) = (Sha256::new(), Sha256::new());
        let (mut ia, mut ib, mut step) = (0usize, 0usize, 0usize);
        while ia < a.len() || ib < b.len() {
            step += 1;
            let na = (step * 7919 % 9000).min(a.len() - ia);
            let nb = (step * 104_729 % 12_000).min(b.len() - ib);
            if step % 5 == 0 {
                ha.update(&a[ia..ia + na]);
            } else {
                update_pair(&mut ha, &a[ia..ia + na], &mut hb, &b[ib..ib + nb]);
                ib += nb;
            }
            ia += na;
        }
        assert_eq!(ha.finalize(), reference(&a));
        assert_eq!(hb.finalize(), reference(&b));
    }

    #[test]
    fn the_kernel_agrees_with_one_stream_at_a_time() {
        // The kernel itself (not the dispatch, which falls back on CPUs without it) against
        // sha2's compression: many blocks, from states that are not the initial one, the same
        // block and state on both sides included.
        #[cfg(target_arch = "x86_64")]
        {
            if !x86::available() {
                // Nothing to run here: the kernel cannot execute on this CPU, and the test
                // below checks that this CPU really lacks the extensions.
                return;
            }
            let data_a = bytes(64 * 40, 3);
            let data_b = bytes(64 * 40, 4);
            let (blocks_a, _) = data_a.as_chunks::<64>();
            let (blocks_b, _) = data_b.as_chunks::<64>();
            let starts = [([1u32, 2, 3, 4, 5, 6, 7, 8], [u32::MAX; 8]), (IV, IV)];
            for (start_a, start_b) in starts {
                for n in [1, 2, 7, 40] {
                    let (mut a, mut b) = (start_a, start_b);
                    let (mut ra, mut rb) = (start_a, start_b);
                    #[allow(unsafe_code)]
                    // SAFETY: `x86::available()` found every feature the kernel needs.
                    unsafe {
                        x86::compress_pair(&mut a, &blocks_a[..n], &mut b, &blocks_b[..n]);
                    }
                    compress256(&mut ra, &blocks_a[..n]);
                    compress256(&mut rb, &blocks_b[..n]);
                    assert_eq!((a, b), (ra, rb), "{n} blocks");
                    // The same blocks on both sides.
                    let (mut a, mut b) = (start_a, start_a);
                    #[allow(unsafe_code)]
                    // SAFETY: as above.
                    unsafe {
                        x86::compress_pair(&mut a, &blocks_a[..n], &mut b, &blocks_a[..n]);
                    }
                    assert_eq!(a, b);
                    assert_eq!(a, ra);
                }
            }
        }
    }

    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    fn the_kernel_is_used_wherever_the_cpu_has_the_extensions() {
        // So that the kernel test above cannot pass by finding no kernel on a CPU that has one.
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
        let flags = cpuinfo
            .lines()
            .find(|l| l.starts_with("flags"))
            .unwrap_or_default();
        let has = |f: &str| flags.split_whitespace().any(|x| x == f);
        assert_eq!(
            pairs_in_hardware(),
            has("sha_ni") && has("sse4_1") && has("ssse3") && has("sse2"),
            "{flags}"
        );
    }
}
