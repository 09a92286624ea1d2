//! Comparing two directory trees: every difference between a pinned entry list and the one on
//! disk, named ([`Change`]), for reports. Re-exported from [`super::tree`].

use super::Digest;
use super::tree::{Entry, EntryKind};
use crate::relpath::RelPath;

/// What differs between a pinned tree and the one on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Modified {
        path: RelPath,
        expected: Digest,
        actual: Digest,
    },
    /// A file of another size than the pinned one (its bytes need not be read to know).
    Resized {
        path: RelPath,
        expected: u64,
        actual: u64,
    },
    Added {
        path: RelPath,
        kind: &'static str,
    },
    Removed {
        path: RelPath,
        kind: &'static str,
    },
    Retyped {
        path: RelPath,
        expected: &'static str,
        actual: &'static str,
    },
    ExecutableChanged {
        path: RelPath,
        expected: bool,
    },
    LinkRetargeted {
        path: RelPath,
        expected: String,
        actual: String,
    },
}

impl Change {
    pub fn path(&self) -> &RelPath {
        match self {
            Change::Modified { path, .. }
            | Change::Resized { path, .. }
            | Change::Added { path, .. }
            | Change::Removed { path, .. }
            | Change::Retyped { path, .. }
            | Change::ExecutableChanged { path, .. }
            | Change::LinkRetargeted { path, .. } => path,
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Modified {
                path,
                expected,
                actual,
            } => write!(
                f,
                "`{path}` modified: expected {}, got {}",
                expected.short(),
                actual.short()
            ),
            Change::Resized {
                path,
                expected,
                actual,
            } => write!(
                f,
                "`{path}` modified: {actual} bytes, the manifest pins {expected}"
            ),
            Change::Added { path, kind } => {
                write!(f, "`{path}` added ({kind}), not in the manifest")
            }
            Change::Removed { path, kind } => {
                write!(f, "`{path}` removed ({kind} pinned by the manifest)")
            }
            Change::Retyped {
                path,
                expected,
                actual,
            } => {
                write!(f, "`{path}` is a {actual}, the manifest pins a {expected}")
            }
            Change::ExecutableChanged { path, expected } => write!(
                f,
                "`{path}` executable bit changed: pinned {}, found {}",
                expected, !expected
            ),
            Change::LinkRetargeted {
                path,
                expected,
                actual,
            } => {
                write!(
                    f,
                    "symlink `{path}` points to `{actual}`, pinned `{expected}`"
                )
            }
        }
    }
}

/// Compares a pinned entry list with an actual one (both sorted by path) and names every change.
pub fn compare(expected: &[Entry], actual: &[Entry]) -> Vec<Change> {
    use std::collections::BTreeMap;
    let exp: BTreeMap<&str, &Entry> = expected.iter().map(|e| (e.path.as_str(), e)).collect();
    let act: BTreeMap<&str, &Entry> = actual.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut changes = Vec::new();
    for (path, e) in &exp {
        match act.get(path) {
            None => changes.push(Change::Removed {
                path: e.path.clone(),
                kind: e.kind.type_name(),
            }),
            Some(a) => match (&e.kind, &a.kind) {
                (
                    EntryKind::File {
                        digest: d1,
                        executable: x1,
                        size: s1,
                    },
                    EntryKind::File {
                        digest: d2,
                        executable: x2,
                        size: s2,
                    },
                ) => {
                    if s1 != s2 {
                        changes.push(Change::Resized {
                            path: e.path.clone(),
                            expected: *s1,
                            actual: *s2,
                        });
                    } else if d1 != d2 {
                        changes.push(Change::Modified {
                            path: e.path.clone(),
                            expected: d1.clone(),
                            actual: d2.clone(),
                        });
                    } else if x1 != x2 {
                        changes.push(Change::ExecutableChanged {
                            path: e.path.clone(),
                            expected: *x1,
                        });
                    }
                }
                (EntryKind::Symlink { target: t1 }, EntryKind::Symlink { target: t2 }) => {
                    if t1 != t2 {
                        changes.push(Change::LinkRetargeted {
                            path: e.path.clone(),
                            expected: t1.clone(),
                            actual: t2.clone(),
                        });
                    }
                }
                (k1, k2) => changes.push(Change::Retyped {
                    path: e.path.clone(),
                    expected: k1.type_name(),
                    actual: k2.type_name(),
                }),
            },
        }
    }
    for (path, a) in &act {
        if !exp.contains_key(path) {
            changes.push(Change::Added {
                path: a.path.clone(),
                kind: a.kind.type_name(),
            });
        }
    }
    changes.sort_by(|a, b| a.path().cmp(b.path()));
    changes
}
