//! The launch store: private, read-only, content-addressed snapshots of directory trees, written
//! from the very bytes that are hashed, so that what a server runs is what was verified, with no
//! window between the check and the execution (spec/launch-store.md).
//!
//! Layout under `fsutil::data_dir()/store` (a private folder): `trees/<hex of tree digest>/` is a
//! sealed snapshot (files 0444 or 0555, folders 0555); `trees/.tmp-*` are snapshots being built;
//! `sources/<key>.json` remembers, per source folder and tree digest, the stat fingerprint of the
//! source when it was last hashed, so that an unchanged source is not hashed again.

mod install;
mod record;

pub use install::{InstallBuild, InstallState};

use crate::digest::glob::Pattern;
use crate::digest::stat_print::{StatPrint, fingerprint_digest, is_racy, now_ns};
use crate::digest::tree::{self, Entry, TreeError};
use crate::digest::{Algorithm, Digest};
use crate::fsutil::private_dir::{self, PrivateDirError};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// The store's folder under the data directory.
pub const STORE_DIR: &str = "store";

/// A launch store whose folder was checked to be private when it was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    root: PathBuf,
}

/// How a ready snapshot came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    /// The source's fingerprint was unchanged since it was last hashed: nothing was read.
    Reused,
    /// The source was hashed and copied into a new snapshot.
    Copied,
    /// The source was hashed; a snapshot of that digest was already in the store.
    Existing,
}

/// A sealed snapshot holding exactly the tree with `digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub digest: Digest,
    pub path: PathBuf,
    pub how: How,
}

/// What snapshotting a source found.
#[derive(Debug)]
pub enum Outcome {
    /// The source's tree has the expected digest; its snapshot is ready.
    Ready(Snapshot),
    /// The source's tree is not the expected one: nothing was stored. `entries` is what was
    /// found, for naming the changes (with `pinned` given, files that could not match were not
    /// read: their digests are zero, see `tree::hash_tree_against`, and so `digest` is no
    /// tree's digest).
    Mismatch { entries: Vec<Entry>, digest: Digest },
}

/// Why a snapshot already at its final name cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotProblem {
    #[error("is not a directory")]
    NotADirectory,
    #[error("is owned by uid {owner}, not us (uid {us})")]
    ForeignOwner { owner: u32, us: u32 },
    #[error("is writable (mode {mode:04o}); a sealed snapshot is read-only")]
    Writable { mode: u32 },
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("no data directory: set MCPSIG_DATA_DIR, XDG_DATA_HOME or HOME")]
    NoDataDir,
    #[error("the launch store cannot be trusted")]
    Private(#[from] PrivateDirError),
    #[error("cannot snapshot directory `{}`", dir.display())]
    Tree {
        dir: PathBuf,
        #[source]
        source: TreeError,
    },
    #[error("cannot write the launch store at `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("snapshot `{}` {problem}", path.display())]
    Damaged {
        path: PathBuf,
        problem: SnapshotProblem,
    },
}

impl StoreError {
    /// What the user can do about it, when there is one thing to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            StoreError::Damaged { path, .. } => Some(format!(
                "remove it (`chmod -R u+w '{0}' && rm -rf '{0}'`); the next launch rebuilds it",
                path.display()
            )),
            StoreError::Private(_) => {
                Some("make the folder and its parents writable by you alone (chmod go-w)".into())
            }
            _ => None,
        }
    }
}

/// What building a new snapshot did.
enum Built {
    Sealed { how: How, stats: Vec<StatPrint> },
    Mismatch(Outcome),
}

impl Store {
    /// The store under [`crate::fsutil::data_dir`], created private if missing.
    pub fn open_default() -> Result<Store, StoreError> {
        let data = crate::fsutil::data_dir().ok_or(StoreError::NoDataDir)?;
        Store::open(&data.join(STORE_DIR))
    }

    /// The store at `root`, created (mode 0700) if missing. It, its subfolders and its
    /// ancestors must pass the private-folder rule (`fsutil::private_dir`).
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        private_dir::ensure_dir(root)?;
        for sub in ["trees", "sources", "installs", "blobs"] {
            private_dir::ensure_dir(&root.join(sub))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the snapshot of the tree with `digest` is (or would be).
    pub fn tree_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("trees").join(digest.hex())
    }

    /// Makes the snapshot of `source` under the exclude rules, if its tree digest (files hashed
    /// with `alg`) is `expected`. A source whose stat fingerprint is unchanged since it was last
    /// hashed reuses the snapshot unread; otherwise it is hashed, and copied from the same bytes
    /// into a temporary folder that is sealed and renamed into place only when complete and
    /// matching. A source that does not match leaves nothing in the store. `pinned`, the
    /// entries whose tree digest `expected` is: a file that cannot match them (its path or
    /// size) is neither read nor copied.
    pub fn snapshot(
        &self,
        source: &Path,
        excludes: &[Pattern],
        alg: Algorithm,
        expected: &Digest,
        pinned: Option<&[Entry]>,
    ) -> Result<Outcome, StoreError> {
        let tree_err = |source_err| StoreError::Tree {
            dir: source.to_path_buf(),
            source: source_err,
        };
        // The canonical path names the source in its record; the walks open `source` itself, as
        // a `--dir` check does (a symlink as the root is refused).
        let canonical = std::fs::canonicalize(source).map_err(|e| {
            tree_err(TreeError::Io {
                path: source.display().to_string(),
                source: e,
            })
        })?;
        let key = record::Key {
            source: &canonical,
            tree: expected,
            excludes,
            alg,
        };
        let target = self.tree_path(expected);
        let sealed = match check_sealed(&target) {
            Ok(id) => Some(id),
            Err(None) => None,
            Err(Some(problem)) => {
                return Err(StoreError::Damaged {
                    path: target,
                    problem,
                });
            }
        };
        if let Some(id) = sealed
            && let Some(rec) = record::read(&self.root, &key)
            && rec.snapshot == id
            && let Ok(mut prints) = tree::stat_tree(source, excludes)
            && fingerprint_digest(&mut prints) == rec.fingerprint
        {
            return Ok(Outcome::Ready(Snapshot {
                digest: expected.clone(),
                path: target,
                how: How::Reused,
            }));
        }
        let walk_start = now_ns();
        if let Some(id) = sealed {
            // The snapshot is there already: hash the source only, to know it is that tree.
            let walked = tree::hash_tree_stats(source, excludes, alg, pinned).map_err(tree_err)?;
            let digest = tree::tree_digest(&walked.entries);
            if &digest != expected {
                return Ok(Outcome::Mismatch {
                    entries: walked.entries,
                    digest,
                });
            }
            self.remember(&key, walked.stats, walk_start, id);
            return Ok(Outcome::Ready(Snapshot {
                digest,
                path: target,
                how: How::Existing,
            }));
        }
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempdir_in(self.root.join("trees"))
            .map_err(|e| self.io_err(&self.root.join("trees"), e))?
            .keep();
        let built = self.build(source, excludes, alg, expected, &tmp, pinned);
        if !matches!(
            built,
            Ok(Built::Sealed {
                how: How::Copied,
                ..
            })
        ) {
            // Whatever happened, nothing partial stays behind (a lost race leaves the winner's).
            let _ = remove_tree(&tmp);
        }
        let (how, stats) = match built? {
            Built::Mismatch(outcome) => return Ok(outcome),
            Built::Sealed { how, stats } => (how, stats),
        };
        let id = check_sealed(&target).map_err(|problem| match problem {
            Some(problem) => StoreError::Damaged {
                path: target.clone(),
                problem,
            },
            None => self.io_err(&target, std::io::ErrorKind::NotFound.into()),
        })?;
        self.remember(&key, stats, walk_start, id);
        Ok(Outcome::Ready(Snapshot {
            digest: expected.clone(),
            path: target,
            how,
        }))
    }

    /// Copies `source` into `tmp`, and when it matches, seals it and renames it to `target`.
    fn build(
        &self,
        source: &Path,
        excludes: &[Pattern],
        alg: Algorithm,
        expected: &Digest,
        tmp: &Path,
        pinned: Option<&[Entry]>,
    ) -> Result<Built, StoreError> {
        let target = &self.tree_path(expected);
        let walked =
            tree::copy_tree(source, excludes, alg, tmp, pinned).map_err(|e| StoreError::Tree {
                dir: source.to_path_buf(),
                source: e,
            })?;
        let digest = tree::tree_digest(&walked.entries);
        if &digest != expected {
            return Ok(Built::Mismatch(Outcome::Mismatch {
                entries: walked.entries,
                digest,
            }));
        }
        seal(tmp, true).map_err(|e| self.io_err(tmp, e))?;
        let how = match rename_noreplace(tmp, target) {
            Ok(()) => How::Copied,
            // Another launch sealed the same tree first: same bytes, use theirs.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOTEMPTY)) => {
                How::Existing
            }
            Err(e) => return Err(self.io_err(target, e)),
        };
        Ok(Built::Sealed {
            how,
            stats: walked.stats,
        })
    }

    /// Records the source's fingerprint for the next launch, unless a change could hide in it
    /// (see `stat_print::is_racy`). Failing to record only costs a re-hash next time.
    fn remember(
        &self,
        key: &record::Key,
        mut stats: Vec<StatPrint>,
        walk_start: i64,
        snapshot: (u64, u64),
    ) {
        if is_racy(&stats, walk_start) {
            record::forget(&self.root, key);
            return;
        }
        let fingerprint = fingerprint_digest(&mut stats);
        let _ = record::write(&self.root, key, &fingerprint, snapshot);
    }

    /// Removes the snapshot of `digest` (unsealing it first), if there is one.
    pub fn remove_snapshot(&self, digest: &Digest) -> Result<(), StoreError> {
        let path = self.tree_path(digest);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io_err(&path, e)),
            Ok(_) => remove_tree(&path).map_err(|e| self.io_err(&path, e)),
        }
    }

    fn io_err(&self, path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A sealed snapshot's identity (device, inode) if `path` is one: a directory of ours, not
/// writable. `Err(None)`: nothing there. The files inside are not walked: the store is private
/// to this user, and what runs as this user could replace mcpsig itself (spec/launch-store.md).
fn check_sealed(path: &Path) -> Result<(u64, u64), Option<SnapshotProblem>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(None),
        Err(_) => return Err(Some(SnapshotProblem::NotADirectory)),
    };
    if !meta.is_dir() {
        return Err(Some(SnapshotProblem::NotADirectory));
    }
    let us = rustix::process::geteuid().as_raw();
    if meta.uid() != us {
        return Err(Some(SnapshotProblem::ForeignOwner {
            owner: meta.uid(),
            us,
        }));
    }
    if meta.mode() & 0o222 != 0 {
        return Err(Some(SnapshotProblem::Writable {
            mode: meta.mode() & 0o7777,
        }));
    }
    Ok((meta.dev(), meta.ino()))
}

/// Seals a finished copy bottom-up: folders that hold nothing pinned are removed (the tree
/// digest does not cover them), the others made 0555. Returns whether `dir` holds anything.
fn seal(dir: &Path, is_root: bool) -> std::io::Result<bool> {
    let mut holds = false;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            if seal(&e.path(), false)? {
                holds = true;
            } else {
                std::fs::remove_dir(e.path())?;
            }
        } else {
            holds = true;
        }
    }
    if holds || is_root {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555))?;
    }
    Ok(holds)
}

/// Removes a (possibly sealed) tree: folders are made writable again first.
fn remove_tree(path: &Path) -> std::io::Result<()> {
    fn unseal(dir: &Path) -> std::io::Result<()> {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            if e.file_type()?.is_dir() {
                unseal(&e.path())?;
            }
        }
        Ok(())
    }
    unseal(path)?;
    std::fs::remove_dir_all(path)
}

/// Renames `from` to `to` unless something is at `to`. Both are in the same folder, so a sealed
/// (read-only) folder can be moved. Where the filesystem lacks RENAME_NOREPLACE, a plain rename
/// of a folder still refuses a non-empty target, and an empty target can only be an empty tree.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => std::fs::rename(from, to),
        Err(e) => Err(e.into()),
    }
}
