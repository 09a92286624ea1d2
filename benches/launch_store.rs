//! The launch store on a node_modules-like tree of 20,000 files (about 110 MB, sizes log-uniform
//! from 100 B to 32 KB, in 400 packages): time from start to the snapshot being ready, for a
//! first launch (hash and copy into an empty store), a relaunch of the unchanged tree (stat
//! fingerprint only), a relaunch after one file was touched (hash only: the snapshot exists),
//! and, for scale, hashing the tree in place as `mcp-verify --dir` does. Warm page cache.
//!
//! `cargo bench --bench launch_store [-- WORKDIR]` (default target/bench-launch-store), or
//! bench/launch-store.sh. Prints medians; no assertions.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark driver, not library code

use mcpsig::digest::tree::{hash_tree, tree_digest};
use mcpsig::digest::{Algorithm, Digest};
use mcpsig::store::{How, Outcome, Store};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FILES: usize = 20_000;

/// A small deterministic generator (xorshift), so every run builds the same tree.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn make_tree(tree: &Path) {
    let done = tree.with_extension("done");
    if done.exists() {
        return;
    }
    let _ = std::fs::remove_dir_all(tree);
    let mut rng = Rng(8785);
    let pool: Vec<u8> = (0..65_536).map(|_| rng.next() as u8).collect();
    let (lo, hi) = (100f64.ln(), 32_768f64.ln());
    for i in 0..FILES {
        let u = (rng.next() % 1_000_000) as f64 / 1_000_000.0;
        let size = (lo + u * (hi - lo)).exp() as usize;
        let dir =
            tree.join(format!("pkg{:03}", i % 400))
                .join(if i % 3 == 0 { "dist" } else { "lib" });
        std::fs::create_dir_all(&dir).unwrap();
        let off = (rng.next() as usize) % (pool.len() - size);
        std::fs::write(dir.join(format!("f{i}.js")), &pool[off..off + size]).unwrap();
    }
    std::fs::write(&done, b"").unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn snapshot(store_dir: &Path, tree: &Path, digest: &Digest, want: How) -> Duration {
    let start = Instant::now();
    let store = Store::open(store_dir).unwrap();
    let Outcome::Ready(s) = store
        .snapshot(tree, &[], Algorithm::Sha256, digest, None)
        .unwrap()
    else {
        panic!("the tree does not match its own digest");
    };
    let took = start.elapsed();
    assert_eq!(s.how, want, "unexpected path through the store");
    took
}

fn main() {
    let work = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-launch-store")
        });
    std::fs::create_dir_all(&work).unwrap();
    std::fs::set_permissions(&work, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let tree = work.join("tree");
    make_tree(&tree);
    // Fingerprints of entries changed within the racy margin are not recorded: let it pass.
    std::thread::sleep(Duration::from_nanos(
        mcpsig::digest::stat_print::RACY_MARGIN_NS as u64 + 200_000_000,
    ));
    let entries = hash_tree(&tree, &[], Algorithm::Sha256).unwrap(); // also warms the cache
    let digest = tree_digest(&entries);
    let bytes: u64 = mcpsig::digest::tree::total_size(&entries);
    println!(
        "tree: {} files, {:.1} MB, {} ",
        entries.len(),
        bytes as f64 / 1e6,
        tree.display()
    );

    let in_place: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            hash_tree(&tree, &[], Algorithm::Sha256).unwrap();
            t.elapsed()
        })
        .collect();

    let store_dir = work.join("store");
    let wipe = |store: &Path| {
        if store.exists() {
            Store::open(store)
                .unwrap()
                .remove_snapshot(&digest)
                .unwrap();
            std::fs::remove_dir_all(store).unwrap();
        }
    };
    let mut first = Vec::new();
    for _ in 0..5 {
        wipe(&store_dir);
        first.push(snapshot(&store_dir, &tree, &digest, How::Copied));
    }
    let relaunch: Vec<Duration> = (0..30)
        .map(|_| snapshot(&store_dir, &tree, &digest, How::Reused))
        .collect();
    // One file touched (same bytes): its ctime moves, so the tree is hashed again, not copied.
    let touched_file = entries[FILES / 2].path.as_str().to_owned();
    let touched: Vec<Duration> = (0..5)
        .map(|_| {
            let p = tree.join(&touched_file);
            let data = std::fs::read(&p).unwrap();
            std::fs::write(&p, data).unwrap();
            snapshot(&store_dir, &tree, &digest, How::Existing)
        })
        .collect();
    wipe(&store_dir);

    println!(
        "hash in place (mcp-verify --dir) : {}",
        ms(median(in_place))
    );
    println!("first launch (hash + copy)       : {}", ms(median(first)));
    println!(
        "relaunch, unchanged (stat only)  : {}",
        ms(median(relaunch))
    );
    println!("relaunch, one file touched       : {}", ms(median(touched)));
}
