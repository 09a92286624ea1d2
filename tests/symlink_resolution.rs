//! The symlink rule checked against the kernel: random small trees of files and links are built
//! on disk inside a directory that has look-alike names of its own; links the hash refuses are
//! removed until it accepts the tree, and then the kernel must resolve each remaining link to a
//! path strictly inside the tree, or find it dangling: never outside, never the root, never a
//! loop, never a file used as a directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Rng;
use mcpsig::digest::Algorithm;
use mcpsig::digest::tree::{self, EntryKind};
use std::path::Path;

const NAMES: [&str; 3] = ["a", "b", "c"];

/// Writes a random tree under `root`; creations that clash with earlier ones are skipped.
fn random_tree(rng: &mut Rng, root: &Path) {
    for _ in 0..(2 + rng.below(4)) {
        let depth = 1 + rng.below(3);
        let rel: Vec<&str> = (0..depth).map(|_| rng.pick(&NAMES)).collect();
        let path = root.join(rel.join("/"));
        let Some(parent) = path.parent() else {
            continue;
        };
        if std::fs::create_dir_all(parent).is_err() || path.symlink_metadata().is_ok() {
            continue;
        }
        if rng.below(3) == 0 {
            std::fs::write(&path, b"f").unwrap();
        } else {
            let len = 1 + rng.below(4);
            let target: Vec<&str> = (0..len)
                .map(|_| rng.pick(&["a", "b", "c", "a", "b", "c", "..", "."]))
                .collect();
            std::os::unix::fs::symlink(target.join("/"), &path).unwrap();
        }
    }
}

#[test]
fn every_accepted_link_resolves_inside_the_tree_for_the_kernel_too() {
    let mut rng = Rng(0x6d63_7073_6967_0001);
    let (mut accepted_links, mut refused_links) = (0, 0);
    for case in 0..2000 {
        let outer = tempfile::tempdir().unwrap();
        // Names beside the tree that an escaping link could reach.
        for name in ["a/b/c", "b/a", "c"] {
            std::fs::create_dir_all(outer.path().join(name)).unwrap();
        }
        let root = outer.path().join("a/tree");
        std::fs::create_dir_all(&root).unwrap();
        random_tree(&mut rng, &root);
        // Refused links are removed one by one until the rest of the tree is accepted.
        let entries = loop {
            match tree::hash_tree(&root, &[], Algorithm::Sha256) {
                Ok(e) => break e,
                Err(tree::TreeError::SymlinkEscapes { path, .. }) => {
                    refused_links += 1;
                    std::fs::remove_file(root.join(path)).unwrap();
                }
                Err(e) => panic!("case {case}: {e}"),
            }
        };
        let real_root = std::fs::canonicalize(&root).unwrap();
        for e in &entries {
            let EntryKind::Symlink { target } = &e.kind else {
                continue;
            };
            accepted_links += 1;
            match std::fs::canonicalize(root.join(e.path.as_str())) {
                Ok(p) => assert!(
                    p.starts_with(&real_root) && p != real_root,
                    "case {case}: `{}` -> `{target}` was accepted but resolves to {}",
                    e.path,
                    p.display()
                ),
                // Dangling inside the tree is allowed; anything else is not.
                Err(err) => assert_eq!(
                    err.kind(),
                    std::io::ErrorKind::NotFound,
                    "case {case}: `{}` -> `{target}` was accepted but the kernel says {err}",
                    e.path
                ),
            }
        }
    }
    // Both outcomes must be well represented, or the test proved nothing.
    eprintln!("{accepted_links} accepted links checked by the kernel; {refused_links} refused");
    assert!(accepted_links > 500, "only {accepted_links} links accepted");
    assert!(refused_links > 500, "only {refused_links} links refused");
}
