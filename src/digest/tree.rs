//! Directory-tree digests. A tree is the sorted list of its entries; each entry records its path
//! and its content digest as separate fields (no path/content concatenation ambiguity), the
//! executable bit, and symlinks as links with their target (never followed, and refused when the
//! target leaves the tree). Devices, sockets and fifos are refused. Files are hashed in parallel.
//!
//! The tree digest is sha256 over the RFC 8785 form of the entry list (spec/manifest-v1.md).

use super::glob::Pattern;
use super::{Algorithm, Digest, HashError};
use crate::relpath::RelPath;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bound on entries in one tree, so a hostile directory cannot exhaust memory.
pub const MAX_ENTRIES: usize = 1_000_000;

/// One pinned entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawEntry", into = "RawEntry")]
pub struct Entry {
    pub path: RelPath,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File {
        digest: Digest,
        size: u64,
        executable: bool,
    },
    Symlink {
        target: String,
    },
}

impl EntryKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            EntryKind::File { .. } => "file",
            EntryKind::Symlink { .. } => "symlink",
        }
    }
}

/// The JSON shape of an entry; turned into `Entry` only when it is consistent.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    path: RelPath,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    digest: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    executable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<String>,
}

impl TryFrom<RawEntry> for Entry {
    type Error = String;
    fn try_from(raw: RawEntry) -> Result<Entry, String> {
        let path = raw.path;
        let kind = match (
            raw.kind.as_str(),
            raw.digest,
            raw.size,
            raw.executable,
            raw.target,
        ) {
            ("file", Some(digest), Some(size), Some(executable), None) => EntryKind::File {
                digest,
                size,
                executable,
            },
            ("symlink", None, None, None, Some(target)) => {
                check_link_target(&path, &target).map_err(|e| e.to_string())?;
                EntryKind::Symlink { target }
            }
            ("file", ..) => {
                return Err(format!(
                    "file entry `{path}` needs exactly digest, size and executable"
                ));
            }
            ("symlink", ..) => {
                return Err(format!("symlink entry `{path}` needs exactly a target"));
            }
            (other, ..) => return Err(format!("entry `{path}` has unknown type `{other}`")),
        };
        Ok(Entry { path, kind })
    }
}

impl From<Entry> for RawEntry {
    fn from(e: Entry) -> RawEntry {
        match e.kind {
            EntryKind::File {
                digest,
                size,
                executable,
            } => RawEntry {
                path: e.path,
                kind: "file".into(),
                digest: Some(digest),
                size: Some(size),
                executable: Some(executable),
                target: None,
            },
            EntryKind::Symlink { target } => RawEntry {
                path: e.path,
                kind: "symlink".into(),
                digest: None,
                size: None,
                executable: None,
                target: Some(target),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    #[error("cannot read `{path}`")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is a {kind}; only regular files, directories and symlinks can be pinned")]
    SpecialFile { path: String, kind: &'static str },
    #[error("symlink `{path}` points to `{target}`, outside the tree")]
    SymlinkEscapes { path: String, target: String },
    #[error("file name `{path}` is not valid UTF-8")]
    NonUtf8Name { path: String },
    #[error(transparent)]
    UnsafePath(#[from] crate::relpath::RelPathError),
    #[error("`{path}` changed while it was hashed: {why}")]
    Changed { path: String, why: String },
    #[error("tree has more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    #[error("`{path}` is not a directory")]
    NotADirectory { path: String },
}

/// What differs between a pinned tree and the one on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Modified {
        path: RelPath,
        expected: Digest,
        actual: Digest,
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

/// Checks, lexically, that a symlink at `link` with `target` stays inside the tree.
pub fn check_link_target(link: &RelPath, target: &str) -> Result<(), TreeError> {
    let escapes = || TreeError::SymlinkEscapes {
        path: link.to_string(),
        target: target.to_owned(),
    };
    if target.is_empty() || target.starts_with('/') || target.contains('\0') {
        return Err(escapes());
    }
    let mut stack: Vec<&str> = link.components().collect();
    stack.pop(); // the link's own name; resolution starts in its directory
    for comp in target.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return Err(escapes());
                }
            }
            c => stack.push(c),
        }
    }
    // A link resolving to the root itself would let `link/..` style tricks reach the parent.
    if stack.is_empty() {
        return Err(escapes());
    }
    Ok(())
}

/// Walks `root` (not following symlinks), skipping excluded paths, and hashes every file.
/// Entries come back sorted by path bytes.
pub fn hash_tree(
    root: &Path,
    excludes: &[Pattern],
    alg: Algorithm,
) -> Result<Vec<Entry>, TreeError> {
    hash_tree_with_progress(root, excludes, alg, None)
}

/// Counters a caller can watch while a tree is hashed (from another thread).
#[derive(Debug, Default)]
pub struct Progress {
    pub files_total: AtomicU64,
    pub bytes_total: AtomicU64,
    pub files_done: AtomicU64,
    pub bytes_done: AtomicU64,
}

/// [`hash_tree`], updating `progress` as files are hashed.
pub fn hash_tree_with_progress(
    root: &Path,
    excludes: &[Pattern],
    alg: Algorithm,
    progress: Option<&Progress>,
) -> Result<Vec<Entry>, TreeError> {
    let meta = std::fs::symlink_metadata(root).map_err(|source| TreeError::Io {
        path: root.display().to_string(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(TreeError::NotADirectory {
            path: root.display().to_string(),
        });
    }
    struct Pending {
        rel: RelPath,
        abs: PathBuf,
        executable: bool,
        size: u64,
    }
    let mut files: Vec<Pending> = Vec::new();
    let mut links: Vec<Entry> = Vec::new();
    // Iterative walk: depth is bounded by memory, not by the call stack.
    let mut dirs: Vec<(Option<RelPath>, PathBuf)> = vec![(None, root.to_path_buf())];
    while let Some((rel_dir, abs_dir)) = dirs.pop() {
        let read = std::fs::read_dir(&abs_dir).map_err(|source| TreeError::Io {
            path: abs_dir.display().to_string(),
            source,
        })?;
        for item in read {
            let item = item.map_err(|source| TreeError::Io {
                path: abs_dir.display().to_string(),
                source,
            })?;
            let abs = item.path();
            let name = item.file_name();
            let name = name.to_str().ok_or_else(|| TreeError::NonUtf8Name {
                path: abs.display().to_string(),
            })?;
            let rel = match &rel_dir {
                None => RelPath::parse(name)?,
                Some(d) => d.join(name)?,
            };
            let comps: Vec<&str> = rel.components().collect();
            if excludes.iter().any(|p| p.matches(&comps)) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&abs).map_err(|source| TreeError::Io {
                path: abs.display().to_string(),
                source,
            })?;
            let ft = meta.file_type();
            if files.len() + links.len() >= MAX_ENTRIES {
                return Err(TreeError::TooManyEntries);
            }
            if ft.is_dir() {
                dirs.push((Some(rel), abs));
            } else if ft.is_file() {
                let executable = meta.permissions().mode() & 0o111 != 0;
                files.push(Pending {
                    rel,
                    abs,
                    executable,
                    size: meta.len(),
                });
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&abs).map_err(|source| TreeError::Io {
                    path: abs.display().to_string(),
                    source,
                })?;
                let target = target.to_str().ok_or_else(|| TreeError::NonUtf8Name {
                    path: abs.display().to_string(),
                })?;
                check_link_target(&rel, target)?;
                links.push(Entry {
                    path: rel,
                    kind: EntryKind::Symlink {
                        target: target.to_owned(),
                    },
                });
            } else {
                let kind = if ft.is_fifo() {
                    "fifo"
                } else if ft.is_socket() {
                    "socket"
                } else if ft.is_block_device() {
                    "block device"
                } else if ft.is_char_device() {
                    "character device"
                } else {
                    "special file"
                };
                return Err(TreeError::SpecialFile {
                    path: rel.to_string(),
                    kind,
                });
            }
        }
    }
    // Largest files first so one big file does not start last and leave a core idle.
    files.sort_by_key(|p| std::cmp::Reverse(p.size));
    if let Some(pr) = progress {
        pr.files_total.store(files.len() as u64, Ordering::Relaxed);
        pr.bytes_total
            .store(files.iter().map(|f| f.size).sum(), Ordering::Relaxed);
    }
    let hashed: Vec<Entry> = files
        .into_par_iter()
        .map(|p| {
            let (digest, size) = super::hash_file(alg, &p.abs).map_err(|e| match e {
                HashError::Io { path, source } => TreeError::Io { path, source },
                HashError::NotAFile { .. } => TreeError::Changed {
                    path: p.rel.to_string(),
                    why: "no longer a regular file".into(),
                },
            })?;
            if let Some(pr) = progress {
                pr.files_done.fetch_add(1, Ordering::Relaxed);
                pr.bytes_done.fetch_add(size, Ordering::Relaxed);
            }
            Ok(Entry {
                path: p.rel,
                kind: EntryKind::File {
                    digest,
                    size,
                    executable: p.executable,
                },
            })
        })
        .collect::<Result<_, TreeError>>()?;
    let mut entries = hashed;
    entries.extend(links);
    entries.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
    Ok(entries)
}

/// The tree digest: sha256 of the canonical JSON of the sorted entry list.
pub fn tree_digest(entries: &[Entry]) -> Digest {
    let value = serde_json::to_value(entries).unwrap_or(serde_json::Value::Null);
    // Entries hold only strings, booleans and integers below 2^53 in practice; sizes beyond that
    // would still canonicalize (as doubles), so this cannot fail for values we produced.
    let bytes = crate::canonical::to_vec(&value).unwrap_or_default();
    Digest::sha256_of(&bytes)
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
                        ..
                    },
                    EntryKind::File {
                        digest: d2,
                        executable: x2,
                        ..
                    },
                ) => {
                    if d1 != d2 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn write(root: &Path, rel: &str, data: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    #[test]
    fn path_and_content_do_not_collide() {
        // SchemaPin's failure: file `a` holding "bc" and file `ab` holding "c" hashed alike.
        let t1 = tempfile::tempdir().unwrap();
        let t2 = tempfile::tempdir().unwrap();
        write(t1.path(), "a", b"bc");
        write(t2.path(), "ab", b"c");
        let e1 = hash_tree(t1.path(), &[], Algorithm::Sha256).unwrap();
        let e2 = hash_tree(t2.path(), &[], Algorithm::Sha256).unwrap();
        assert_ne!(tree_digest(&e1), tree_digest(&e2));
    }

    #[test]
    fn records_links_and_exec_bits_and_names_changes() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "bin/run.sh", b"#!/bin/sh\n");
        std::fs::set_permissions(
            t.path().join("bin/run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        write(t.path(), "lib/a.js", b"a");
        write(t.path(), ".git/HEAD", b"ref");
        symlink("../lib/a.js", t.path().join("bin/a.js")).unwrap();
        let ex = [Pattern::parse(".git").unwrap()];
        let pinned = hash_tree(t.path(), &ex, Algorithm::Sha256).unwrap();
        let paths: Vec<&str> = pinned.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["bin/a.js", "bin/run.sh", "lib/a.js"]);

        write(t.path(), "lib/a.js", b"evil");
        write(t.path(), "lib/new.js", b"n");
        std::fs::set_permissions(
            t.path().join("bin/run.sh"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let now = hash_tree(t.path(), &ex, Algorithm::Sha256).unwrap();
        let changes = compare(&pinned, &now);
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert!(matches!(changes[0], Change::ExecutableChanged { .. }));
        assert!(matches!(changes[1], Change::Modified { .. }));
        assert!(matches!(changes[2], Change::Added { .. }));
    }

    #[test]
    fn refuses_links_out_of_the_tree_and_special_files() {
        let t = tempfile::tempdir().unwrap();
        symlink("../../etc/passwd", t.path().join("x")).unwrap();
        assert!(matches!(
            hash_tree(t.path(), &[], Algorithm::Sha256),
            Err(TreeError::SymlinkEscapes { .. })
        ));
        let link = RelPath::parse("a/b").unwrap();
        for bad in ["/etc", "../..", "..", "../../x", ""] {
            assert!(check_link_target(&link, bad).is_err(), "{bad}");
        }
        for ok in ["c", "../d", "./c/../e"] {
            assert!(check_link_target(&link, ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn entry_json_is_strict() {
        let bad = [
            r#"{"path":"a","type":"file","digest":"sha256:00","size":1,"executable":false}"#,
            r#"{"path":"a","type":"file","size":1,"executable":false}"#,
            r#"{"path":"a","type":"symlink","target":"/etc/passwd"}"#,
            r#"{"path":"../a","type":"symlink","target":"b"}"#,
            r#"{"path":"a","type":"fifo"}"#,
        ];
        for doc in bad {
            assert!(serde_json::from_str::<Entry>(doc).is_err(), "{doc}");
        }
    }
}
