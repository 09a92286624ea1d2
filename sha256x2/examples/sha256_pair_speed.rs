//! Bytes per second on one core, in the cache: one stream through `sha2`, one through
//! [`mcpsig_sha256x2::Sha256`], and two side by side through `update_pair`. A benchmark, run by
//! bench/digest.sh; not a test.
//!
//! Usage: cargo run --release -p mcpsig-sha256x2 --example sha256_pair_speed [MIB]

use mcpsig_sha256x2::{Sha256, update_pair};
use sha2::Digest as _;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(512);
    // 256 KiB buffers, hashed over and over (mcpsig reads a tree's files 128 KiB at a time).
    let a: Vec<u8> = (0..256 * 1024)
        .map(|i: usize| (i * 7 + i / 251) as u8)
        .collect();
    let b: Vec<u8> = (0..256 * 1024)
        .map(|i: usize| (i * 13 + i / 241) as u8)
        .collect();
    let reps = mib * 4;
    let gb = (reps * a.len()) as f64 / 1e9;
    let rate = |secs: f64| gb / secs;

    let t = Instant::now();
    let mut h = sha2::Sha256::new();
    for _ in 0..reps {
        h.update(black_box(&a));
    }
    black_box(h.finalize());
    let sha2_one = rate(t.elapsed().as_secs_f64());

    let t = Instant::now();
    let mut h = Sha256::new();
    for _ in 0..reps {
        h.update(black_box(&a));
    }
    black_box(h.finalize());
    let ours_one = rate(t.elapsed().as_secs_f64());

    let t = Instant::now();
    let (mut ha, mut hb) = (Sha256::new(), Sha256::new());
    for _ in 0..reps / 2 {
        update_pair(&mut ha, black_box(&a), &mut hb, black_box(&b));
    }
    black_box((ha.finalize(), hb.finalize()));
    let pair = rate(t.elapsed().as_secs_f64());

    println!(
        "one core, {mib} MiB each: sha2 one stream {sha2_one:.2} GB/s; one stream {ours_one:.2} GB/s; \
         two streams side by side {pair:.2} GB/s ({:.2}x sha2; pairs in hardware: {})",
        pair / sha2_one,
        mcpsig_sha256x2::pairs_in_hardware()
    );
}
