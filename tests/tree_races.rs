//! Path races while a tree is hashed: a directory (or a file) of the tree is exchanged, again and
//! again from another thread, with a symlink to an outside copy holding the same names but other
//! content. Every hash must either fail or equal the genuine tree; none may ever hold a digest of
//! the outside content.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mcpsig::digest::tree::{self, Entry, EntryKind};
use mcpsig::digest::{Algorithm, Digest};
use rustix::fs::{CWD, RenameFlags, renameat_with};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Hashes taken while the swapping runs.
const HASHES: usize = 300;
const FILES: usize = 48;

fn genuine(i: usize) -> Vec<u8> {
    format!("genuine file {i}\n").repeat(50).into_bytes()
}

fn evil(i: usize) -> Vec<u8> {
    format!("outside file {i}\n").repeat(50).into_bytes()
}

/// Exchanges `a` and `b` (atomically: each name always exists) until `stop` is set.
struct Swapper {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
    a: PathBuf,
    b: PathBuf,
}

impl Swapper {
    fn start(a: &Path, b: &Path) -> Swapper {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, swaps, a, b) = (stop.clone(), swaps.clone(), a.to_owned(), b.to_owned());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    renameat_with(CWD, &a, CWD, &b, RenameFlags::EXCHANGE).unwrap();
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        // Hashing starts only once the swapping is under way.
        while swaps.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        Swapper {
            stop,
            swaps,
            thread: Some(thread),
            a: a.to_owned(),
            b: b.to_owned(),
        }
    }

    /// Stops swapping, puts the genuine object back in place and returns the number of swaps.
    fn finish(mut self) -> u64 {
        self.stop_thread();
        let n = self.swaps.load(Ordering::Relaxed);
        if n % 2 == 1 {
            renameat_with(CWD, &self.a, CWD, &self.b, RenameFlags::EXCHANGE).unwrap();
        }
        n
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// A failed assertion stops the swapping before the temporary directories go away.
impl Drop for Swapper {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// Hashes `root` HASHES times while `swapper` runs; checks every outcome.
fn hash_during_swaps(root: &Path, swapper: Swapper, pinned: &[Entry], outside: &BTreeSet<Digest>) {
    let mut ok = 0;
    let mut refused = 0;
    for _ in 0..HASHES {
        match tree::hash_tree(root, &[], Algorithm::Sha256) {
            Ok(entries) => {
                for e in &entries {
                    if let EntryKind::File { digest, .. } = &e.kind {
                        assert!(
                            !outside.contains(digest),
                            "`{}` was hashed from outside the tree",
                            e.path
                        );
                    }
                }
                assert_eq!(entries, pinned, "a hash that succeeds is the genuine tree");
                ok += 1;
            }
            Err(_) => refused += 1,
        }
    }
    let swaps = swapper.finish();
    assert_eq!(ok + refused, HASHES);
    assert!(swaps > 0);
    // Once the swapping stopped, the genuine tree hashes as before.
    assert_eq!(
        tree::hash_tree(root, &[], Algorithm::Sha256).unwrap(),
        pinned
    );
    eprintln!("{HASHES} hashes during {swaps} swaps: {ok} genuine, {refused} refused");
}

#[test]
fn a_directory_swapped_for_a_symlink_never_redirects_the_walk() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("tree");
    let outside = base.path().join("outside");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root.join("top.txt"), b"top").unwrap();
    let mut outside_digests = BTreeSet::new();
    for i in 0..FILES {
        std::fs::write(root.join(format!("sub/f{i}")), genuine(i)).unwrap();
        std::fs::write(outside.join(format!("f{i}")), evil(i)).unwrap();
        outside_digests.insert(Digest::sha256_of(&evil(i)));
    }
    let pinned = tree::hash_tree(&root, &[], Algorithm::Sha256).unwrap();
    assert_eq!(pinned.len(), FILES + 1);
    // The other side of the exchange lives outside the tree: `tree/sub` is always either the
    // genuine directory or a symlink to `outside`.
    let swap = base.path().join("swap");
    std::os::unix::fs::symlink(&outside, &swap).unwrap();
    let swapper = Swapper::start(&root.join("sub"), &swap);
    hash_during_swaps(&root, swapper, &pinned, &outside_digests);
}

#[test]
fn a_file_swapped_for_a_symlink_is_never_read() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("tree");
    let outside = base.path().join("outside");
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let mut outside_digests = BTreeSet::new();
    for i in 0..FILES {
        std::fs::write(root.join(format!("d/f{i}")), genuine(i)).unwrap();
        outside_digests.insert(Digest::sha256_of(&evil(i)));
    }
    std::fs::write(outside.join("f0"), evil(0)).unwrap();
    let pinned = tree::hash_tree(&root, &[], Algorithm::Sha256).unwrap();
    let swap = base.path().join("swap");
    std::os::unix::fs::symlink(outside.join("f0"), &swap).unwrap();
    let swapper = Swapper::start(&root.join("d/f0"), &swap);
    hash_during_swaps(&root, swapper, &pinned, &outside_digests);
}
