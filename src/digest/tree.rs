//! Directory-tree digests. A tree is the sorted list of its entries; each entry records its path
//! and its content digest as separate fields (no path/content concatenation ambiguity), the
//! executable bit, and symlinks as links with their target (never followed, and refused when the
//! target leaves the tree: see [`super::links`]). Devices, sockets and fifos are refused. The walk
//! goes through directory descriptors, and files are hashed in parallel.
//!
//! The tree digest is sha256 over the RFC 8785 form of the entry list (spec/manifest-v1.md).
//!
//! Over 600 lines only with its unit tests (about 230 lines: the tree rules, each made to
//! reject), kept beside the walk they check.

pub use super::links::{LinkProblem, MAX_LINK_DEPTH, check_links};
pub use super::tree_diff::{Change, compare};

use super::glob::Pattern;
use super::stat_print::StatPrint;
use super::{Algorithm, Digest};
use crate::relpath::RelPath;
use rayon::prelude::*;
use rustix::fs::{
    AtFlags, CWD, FileType, Mode, OFlags, RawDir, fchmod, fstat, mkdirat, openat, readlinkat,
    statat, symlinkat,
};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Upper bound on entries in one tree (files, symlinks and directories), so a hostile directory
/// can neither exhaust memory nor keep the walk busy forever.
pub const MAX_ENTRIES: usize = 1_000_000;

/// Upper bound on the length of a path in a tree (relative to its root), the system's own
/// `PATH_MAX`: a deeper tree is refused. Each entry's path is built and checked from its
/// parent's, so a chain of nested directories would otherwise cost the square of its depth
/// (80,000 levels took 42 s).
pub const MAX_PATH_BYTES: usize = 4096;

/// One pinned entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawEntry")]
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
#[derive(Deserialize)]
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

/// The same JSON shape, written from a borrowed entry (a tree's entries are serialized without
/// being cloned).
#[derive(Serialize)]
struct RawEntryRef<'a> {
    path: &'a RelPath,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<&'a Digest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    executable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
}

impl Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = match &self.kind {
            EntryKind::File {
                digest,
                size,
                executable,
            } => RawEntryRef {
                path: &self.path,
                kind: "file",
                digest: Some(digest),
                size: Some(*size),
                executable: Some(*executable),
                target: None,
            },
            EntryKind::Symlink { target } => RawEntryRef {
                path: &self.path,
                kind: "symlink",
                digest: None,
                size: None,
                executable: None,
                target: Some(target),
            },
        };
        raw.serialize(s)
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
    #[error("unsafe symlink `{path}` -> `{target}`: {why}")]
    SymlinkEscapes {
        path: String,
        target: String,
        why: LinkProblem,
    },
    #[error("`{path}` lies beneath `{parent}`, which is not a directory")]
    NotBeneathDirectory { path: String, parent: String },
    #[error("file name `{path}` is not valid UTF-8")]
    NonUtf8Name { path: String },
    #[error(transparent)]
    UnsafePath(#[from] crate::relpath::RelPathError),
    #[error("`{path}` changed while it was hashed: {why}")]
    Changed { path: String, why: String },
    #[error("tree has more than {MAX_ENTRIES} entries (files, symlinks and directories together)")]
    TooManyEntries,
    #[error("{}", if *symlink {
        format!("`{path}` is a symlink: a tree's root is not followed through one (name the directory it leads to)")
    } else {
        format!("`{path}` is not a directory")
    })]
    NotADirectory { path: String, symlink: bool },
    #[error("a path in the tree is longer than {MAX_PATH_BYTES} bytes: `{shown}`")]
    PathTooLong { shown: String },
    #[error("cannot write the copy of `{path}`")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Checks, lexically, that a symlink at `link` with `target` stays inside the tree. This is the
/// per-entry part of the rule; [`check_links`] also follows the other links of the tree.
pub fn check_link_target(link: &RelPath, target: &str) -> Result<(), TreeError> {
    let refuse = |why| TreeError::SymlinkEscapes {
        path: link.to_string(),
        target: target.to_owned(),
        why,
    };
    if target.is_empty() || target.starts_with('/') || target.contains('\0') {
        return Err(refuse(LinkProblem::NotRelative));
    }
    let mut stack: Vec<&str> = link.components().collect();
    stack.pop(); // the link's own name; resolution starts in its directory
    for comp in target.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return Err(refuse(LinkProblem::AboveRoot));
                }
            }
            c => stack.push(c),
        }
    }
    // A link resolving to the root itself would let `link/..` style tricks reach the parent.
    if stack.is_empty() {
        return Err(refuse(LinkProblem::Root));
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

/// [`hash_tree`] to compare with `pinned` (the entries a manifest pins for `root`): a file that
/// cannot match, its path not pinned as a file or its size another than the pinned one, is not
/// read (a sparse file of a terabyte costs nothing to make and hours to hash). Its entry has the
/// size found and a digest of zero bytes, never a real digest: these entries are for
/// [`super::tree_diff::compare`] with `pinned` only, never to pin or to digest.
pub fn hash_tree_against(
    root: &Path,
    excludes: &[Pattern],
    alg: Algorithm,
    pinned: &[Entry],
) -> Result<Vec<Entry>, TreeError> {
    walk(
        root,
        excludes,
        alg,
        None,
        MAX_ENTRIES,
        Sink::Hash { stats: false },
        Some(pinned),
    )
    .map(|w| w.entries)
}

/// Pinned files' sizes by path.
fn pinned_sizes(pinned: &[Entry]) -> HashMap<&str, u64> {
    pinned
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::File { size, .. } => Some((e.path.as_str(), *size)),
            EntryKind::Symlink { .. } => None,
        })
        .collect()
}

/// Counters a caller can watch while a tree is hashed (from another thread).
#[derive(Debug, Default)]
pub struct Progress {
    /// Files found so far (the walk runs alongside the hashing).
    pub files_total: AtomicU64,
    pub files_done: AtomicU64,
    pub bytes_done: AtomicU64,
}

/// [`hash_tree`], updating `progress` as files are found and hashed.
///
/// Directories are read and files hashed as tasks on one pool, so walking overlaps hashing and
/// both cores stay busy; entries are sorted by path at the end, so the result does not depend on
/// scheduling. The first error found stops further work and is returned.
///
/// Every directory, file and link is reached through the descriptor of the directory it was
/// listed in (`openat`/`readlinkat`, never following a symlink), so renaming or replacing a
/// directory during the walk can make it fail but cannot send it outside `root`.
pub fn hash_tree_with_progress(
    root: &Path,
    excludes: &[Pattern],
    alg: Algorithm,
    progress: Option<&Progress>,
) -> Result<Vec<Entry>, TreeError> {
    walk_tree(root, excludes, alg, progress, MAX_ENTRIES)
}

/// What a walk does with each entry besides listing it.
#[derive(Clone, Copy)]
enum Sink<'a> {
    /// Hash files; with `stats`, also fingerprint every file and symlink before reading it.
    Hash { stats: bool },
    /// Hash files, fingerprint entries, and write each file's bytes as they are hashed (and each
    /// symlink, and each directory) beneath this directory descriptor.
    Copy(&'a OwnedFd),
    /// Fingerprint entries only: no file is opened.
    StatOnly,
}

/// A walked tree: its entries and, when asked, the fingerprint of each file and symlink.
#[derive(Debug)]
pub struct Walked {
    pub entries: Vec<Entry>,
    pub stats: Vec<StatPrint>,
}

/// [`hash_tree`], also fingerprinting every file and symlink (each stat taken before its content
/// was read, so a later change shows in a later fingerprint). With `pinned`, files that cannot
/// match it are not read, as in [`hash_tree_against`].
pub fn hash_tree_stats(
    root: &Path,
    excludes: &[Pattern],
    alg: Algorithm,
    pinned: Option<&[Entry]>,
) -> Result<Walked, TreeError> {
    walk(
        root,
        excludes,
        alg,
        None,
        MAX_ENTRIES,
        Sink::Hash { stats: true },
        pinned,
    )
}

/// [`hash_tree_stats`], writing a copy of the tree into `dest` (an existing empty directory) from
/// the very bytes that are hashed: each file is read once, and every chunk goes to the hasher and
/// to the copy. Files are created with mode 0444 (0555 when executable), symlinks recreated with
/// their target, directories created 0700 (the caller seals them). Excluded paths are neither
/// hashed nor copied. On error the copy is left partial: the caller removes it.
pub fn copy_tree(
    root: &Path,
    excludes: &[Pattern],
    alg: Algorithm,
    dest: &Path,
    pinned: Option<&[Entry]>,
) -> Result<Walked, TreeError> {
    let dest_fd = openat(CWD, dest, dir_flags(), Mode::empty()).map_err(|e| TreeError::Write {
        path: dest.display().to_string(),
        source: e.into(),
    })?;
    walk(
        root,
        excludes,
        alg,
        None,
        MAX_ENTRIES,
        Sink::Copy(&dest_fd),
        pinned,
    )
}

/// Fingerprints every file and symlink of `root` without reading any: stat calls only.
pub fn stat_tree(root: &Path, excludes: &[Pattern]) -> Result<Vec<StatPrint>, TreeError> {
    walk(
        root,
        excludes,
        Algorithm::Sha256,
        None,
        MAX_ENTRIES,
        Sink::StatOnly,
        None,
    )
    .map(|w| w.stats)
}

fn walk_tree(
    root: &Path,
    excludes: &[Pattern],
    alg: Algorithm,
    progress: Option<&Progress>,
    max_entries: usize,
) -> Result<Vec<Entry>, TreeError> {
    walk(
        root,
        excludes,
        alg,
        progress,
        max_entries,
        Sink::Hash { stats: false },
        None,
    )
    .map(|w| w.entries)
}

fn walk(
    root: &Path,
    excludes: &[Pattern],
    alg: Algorithm,
    progress: Option<&Progress>,
    max_entries: usize,
    sink: Sink<'_>,
    pinned: Option<&[Entry]>,
) -> Result<Walked, TreeError> {
    // With the pinned entries, files that cannot match them are not read (`Walk::unread`).
    let sizes = pinned
        .filter(|_| !matches!(sink, Sink::StatOnly))
        .map(pinned_sizes);
    let named = named(root);
    let root_fd = openat(CWD, &named, dir_flags(), Mode::empty()).map_err(|e| match e {
        Errno::NOTDIR | Errno::LOOP => TreeError::NotADirectory {
            path: root.display().to_string(),
            // O_DIRECTORY with O_NOFOLLOW says ENOTDIR for a symlink, as for a file.
            symlink: statat(CWD, &named, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink),
        },
        e => TreeError::Io {
            path: root.display().to_string(),
            source: e.into(),
        },
    })?;
    let walk = Walk {
        root,
        excludes,
        alg,
        progress,
        max_entries,
        sink,
        entries: Mutex::new(Vec::new()),
        stats: Mutex::new(Vec::new()),
        error: Mutex::new(None),
        failed: AtomicBool::new(false),
        count: AtomicUsize::new(0),
        queue: (alg == Algorithm::Sha256 && matches!(sink, Sink::Hash { .. }))
            .then(|| Mutex::new(Vec::new())),
        sizes: sizes.as_ref(),
    };
    let dest_root = match sink {
        Sink::Copy(fd) => Some(Arc::new(rustix::io::dup(fd).map_err(|e| {
            TreeError::Write {
                path: ".".into(),
                source: e.into(),
            }
        })?)),
        Sink::Hash { .. } | Sink::StatOnly => None,
    };
    rayon::scope(|scope| {
        if let Err(e) = walk.read_dir(scope, None, Arc::new(root_fd), dest_root) {
            walk.fail(e);
        }
    });
    if let Some(e) = lock(&walk.error).take() {
        return Err(e);
    }
    let mut entries = std::mem::take(&mut *lock(&walk.entries));
    // Paths are unique, so an unstable sort gives the one order; on both cores, since nothing
    // else runs now.
    entries.par_sort_unstable_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
    if entries
        .iter()
        .any(|e| matches!(e.kind, EntryKind::Symlink { .. }))
    {
        check_links(&entries, excludes)?;
    }
    let stats = std::mem::take(&mut *lock(&walk.stats));
    Ok(Walked { entries, stats })
}

/// `path` as it names its last component: without trailing separators and `.` components,
/// which would make the kernel resolve that component through a symlink (`link/` and `link/.`
/// open the symlink's target even with `O_NOFOLLOW`), so that a root that is a symlink is
/// refused however it is spelled.
fn named(path: &Path) -> PathBuf {
    path.components().collect()
}

/// Directories: opened only as directories, never through a symlink.
fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Files: never through a symlink, and never blocking on a fifo swapped in after the listing.
fn file_flags() -> OFlags {
    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC
}

/// Files of a copy: created only where nothing is, never through a symlink.
fn create_flags() -> OFlags {
    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Bytes of `getdents` output read at a time.
const DIR_BUF: usize = 32 * 1024;

/// A poisoned lock only means another task panicked; the data is still consistent for our use.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The last component of a path: the name to open relative to its directory's descriptor.
fn file_name(rel: &RelPath) -> &str {
    rel.as_str().rsplit('/').next().unwrap_or(rel.as_str())
}

/// State shared by the walking and hashing tasks of one tree.
struct Walk<'a> {
    root: &'a Path,
    excludes: &'a [Pattern],
    alg: Algorithm,
    progress: Option<&'a Progress>,
    max_entries: usize,
    sink: Sink<'a>,
    entries: Mutex<Vec<Entry>>,
    stats: Mutex<Vec<StatPrint>>,
    error: Mutex<Option<TreeError>>,
    failed: AtomicBool,
    count: AtomicUsize,
    /// Files listed and not yet taken by a hashing task, when files are hashed two at a time
    /// (SHA-256 without a copy; see [`super::pairs`]).
    queue: Option<Mutex<Vec<FileJob>>>,
    /// Pinned file sizes by path, when the tree is hashed to be compared with them: a file
    /// that cannot match is not read ([`hash_tree_against`]).
    sizes: Option<&'a HashMap<&'a str, u64>>,
}

/// A regular file to hash, named by its path and its directory's descriptor.
struct FileJob {
    rel: RelPath,
    dir: Arc<OwnedFd>,
}

impl<'a> Walk<'a> {
    /// Records the first error and stops the other tasks (they stop without an error of their
    /// own, so the one reported is the one that happened).
    fn fail(&self, e: TreeError) {
        let mut slot = lock(&self.error);
        if slot.is_none() {
            *slot = Some(e);
        }
        self.failed.store(true, Ordering::Relaxed);
    }

    fn push(&self, e: Entry) {
        lock(&self.entries).push(e);
    }

    fn push_stat(&self, rel: &RelPath, st: &rustix::fs::Stat) {
        let wanted = match self.sink {
            Sink::Hash { stats } => stats,
            Sink::Copy(_) | Sink::StatOnly => true,
        };
        if wanted {
            lock(&self.stats).push(StatPrint::from_stat(rel.clone(), st));
        }
    }

    fn write_err(&self, rel: &RelPath, e: impl Into<std::io::Error>) -> TreeError {
        TreeError::Write {
            path: rel.to_string(),
            source: e.into(),
        }
    }

    /// The path to name in errors about `rel`.
    fn shown(&self, rel: Option<&RelPath>) -> String {
        match rel {
            Some(r) => self.root.join(r.as_str()).display().to_string(),
            None => self.root.display().to_string(),
        }
    }

    fn io(&self, rel: Option<&RelPath>, e: Errno) -> TreeError {
        TreeError::Io {
            path: self.shown(rel),
            source: e.into(),
        }
    }

    /// Counts one more entry (directories included) against the cap.
    fn count_one(&self) -> Result<(), TreeError> {
        if self.count.fetch_add(1, Ordering::Relaxed) >= self.max_entries {
            return Err(TreeError::TooManyEntries);
        }
        Ok(())
    }

    /// Opens the subdirectory `rel` through its parent's descriptor and walks it.
    /// With a copy, `dest_parent` is the copy of its parent, where its copy is made first.
    fn visit_subdir<'s>(
        &'s self,
        scope: &rayon::Scope<'s>,
        rel: RelPath,
        parent: Arc<OwnedFd>,
        dest_parent: Option<Arc<OwnedFd>>,
    ) where
        'a: 's,
    {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        let opened = openat(&*parent, file_name(&rel), dir_flags(), Mode::empty());
        drop(parent);
        let dest = match dest_parent.map(|p| self.copy_dir(&rel, &p)).transpose() {
            Ok(d) => d,
            Err(e) => return self.fail(e),
        };
        let result = match opened {
            Ok(fd) => self.read_dir(scope, Some(&rel), Arc::new(fd), dest),
            // Listed as a directory, now a symlink or something else: swapped during the walk.
            Err(Errno::LOOP | Errno::NOTDIR) => Err(TreeError::Changed {
                path: rel.to_string(),
                why: "no longer a directory".into(),
            }),
            Err(e) => Err(self.io(Some(&rel), e)),
        };
        if let Err(e) = result {
            self.fail(e);
        }
    }

    /// Creates the copy of directory `rel` in its parent's copy and opens it.
    fn copy_dir(&self, rel: &RelPath, dest_parent: &OwnedFd) -> Result<Arc<OwnedFd>, TreeError> {
        let name = file_name(rel);
        mkdirat(dest_parent, name, Mode::from_raw_mode(0o700))
            .map_err(|e| self.write_err(rel, e))?;
        let fd = openat(dest_parent, name, dir_flags(), Mode::empty())
            .map_err(|e| self.write_err(rel, e))?;
        Ok(Arc::new(fd))
    }

    fn read_dir<'s>(
        &'s self,
        scope: &rayon::Scope<'s>,
        rel_dir: Option<&RelPath>,
        fd: Arc<OwnedFd>,
        dest: Option<Arc<OwnedFd>>,
    ) -> Result<(), TreeError>
    where
        'a: 's,
    {
        let mut buf: Vec<u8> = Vec::with_capacity(DIR_BUF);
        let mut dir = RawDir::new(&*fd, buf.spare_capacity_mut());
        while let Some(item) = dir.next() {
            if self.failed.load(Ordering::Relaxed) {
                return Ok(());
            }
            let item = item.map_err(|e| self.io(rel_dir, e))?;
            let raw_name = item.file_name();
            if matches!(raw_name.to_bytes(), b"." | b"..") {
                continue;
            }
            let name = raw_name.to_str().map_err(|_| TreeError::NonUtf8Name {
                path: format!("{}/{}", self.shown(rel_dir), raw_name.to_string_lossy()),
            })?;
            if rel_dir.map_or(0, |d| d.as_str().len() + 1) + name.len() > MAX_PATH_BYTES {
                let path = match rel_dir {
                    Some(d) => format!("{}/{name}", d.as_str()),
                    None => name.to_owned(),
                };
                return Err(TreeError::PathTooLong {
                    shown: crate::text::one_line(&path, 200),
                });
            }
            let rel = match rel_dir {
                None => RelPath::parse(name)?,
                Some(d) => d.join(name)?,
            };
            if !self.excludes.is_empty() {
                let comps: Vec<&str> = rel.components().collect();
                if self.excludes.iter().any(|p| p.matches(&comps)) {
                    continue;
                }
            }
            // The type comes from the listing when the filesystem gives it; what is opened later
            // is checked again on its own descriptor, which is what closes the swap races.
            let kind = match item.file_type() {
                FileType::Unknown => {
                    let st = statat(&*fd, raw_name, AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(|e| self.io(Some(&rel), e))?;
                    FileType::from_raw_mode(st.st_mode)
                }
                known => known,
            };
            self.count_one()?;
            match kind {
                FileType::Directory => {
                    let parent = Arc::clone(&fd);
                    let dest_parent = dest.clone();
                    scope.spawn(move |s| self.visit_subdir(s, rel, parent, dest_parent));
                }
                FileType::RegularFile if matches!(self.sink, Sink::StatOnly) => {
                    let st = statat(&*fd, raw_name, AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(|e| self.io(Some(&rel), e))?;
                    self.push_stat(&rel, &st);
                }
                FileType::RegularFile => {
                    if let Some(pr) = self.progress {
                        pr.files_total.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(queue) = &self.queue {
                        // One task per file, as below; a task hashes whichever files are
                        // waiting, two at a time, so some find nothing left to do.
                        lock(queue).push(FileJob {
                            rel,
                            dir: Arc::clone(&fd),
                        });
                        scope.spawn(move |_| self.hash_queued());
                        continue;
                    }
                    let dir_fd = Arc::clone(&fd);
                    let dest_dir = dest.clone();
                    scope.spawn(move |_| {
                        if self.failed.load(Ordering::Relaxed) {
                            return;
                        }
                        match self.hash_one(rel, &dir_fd, dest_dir.as_deref()) {
                            Ok(entry) => self.push(entry),
                            Err(e) => self.fail(e),
                        }
                    });
                }
                FileType::Symlink => {
                    // Fingerprinted before the target is read: a link replaced in between shows
                    // as another inode later.
                    if !matches!(self.sink, Sink::Hash { stats: false }) {
                        let st = statat(&*fd, raw_name, AtFlags::SYMLINK_NOFOLLOW)
                            .map_err(|e| self.io(Some(&rel), e))?;
                        self.push_stat(&rel, &st);
                        if matches!(self.sink, Sink::StatOnly) {
                            continue;
                        }
                    }
                    let target = readlinkat(&*fd, raw_name, Vec::new()).map_err(|e| match e {
                        Errno::INVAL => TreeError::Changed {
                            path: rel.to_string(),
                            why: "no longer a symlink".into(),
                        },
                        e => self.io(Some(&rel), e),
                    })?;
                    let target = target.to_str().map_err(|_| TreeError::NonUtf8Name {
                        path: self.shown(Some(&rel)),
                    })?;
                    check_link_target(&rel, target)?;
                    if let Some(d) = &dest {
                        symlinkat(target, &**d, raw_name).map_err(|e| self.write_err(&rel, e))?;
                    }
                    self.push(Entry {
                        path: rel,
                        kind: EntryKind::Symlink {
                            target: target.to_owned(),
                        },
                    });
                }
                other => {
                    let kind = match other {
                        FileType::Fifo => "fifo",
                        FileType::Socket => "socket",
                        FileType::BlockDevice => "block device",
                        FileType::CharacterDevice => "character device",
                        _ => "special file",
                    };
                    return Err(TreeError::SpecialFile {
                        path: rel.to_string(),
                        kind,
                    });
                }
            }
        }
        Ok(())
    }

    /// Opens `rel` through its directory's descriptor and hashes it, if it is still a regular
    /// file (fstat on the opened descriptor: those are the bytes hashed).
    /// With `dest`, the bytes are also written, as they are hashed, to a new file of the same
    /// name there (mode 0444, or 0555 when executable).
    fn hash_one(
        &self,
        rel: RelPath,
        dir: &OwnedFd,
        dest: Option<&OwnedFd>,
    ) -> Result<Entry, TreeError> {
        let (fd, st) = self.open_regular(&rel, dir)?;
        // Not read, and not copied: the tree will not match.
        if let Some(entry) = self.unread(&rel, &st) {
            return Ok(entry);
        }
        let size_hint = u64::try_from(st.st_size).ok();
        let executable = st.st_mode & 0o111 != 0;
        let mut copy = match dest {
            Some(d) => {
                let out = openat(
                    d,
                    file_name(&rel),
                    create_flags(),
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| self.write_err(&rel, e))?;
                let mode = if executable { 0o555 } else { 0o444 };
                // Writing through the descriptor still works once the mode is read-only.
                fchmod(&out, Mode::from_raw_mode(mode)).map_err(|e| self.write_err(&rel, e))?;
                Some(std::fs::File::from(out))
            }
            None => None,
        };
        let tee = copy.as_mut().map(|f| f as &mut dyn std::io::Write);
        // One byte past the size it was opened with is enough to tell that it grew, and bounds
        // the read of a file that keeps growing.
        let limit = size_hint.unwrap_or(0).saturating_add(1);
        let reader = std::io::Read::take(std::fs::File::from(fd), limit);
        let (digest, size) =
            super::hash_tee(self.alg, reader, size_hint, tee).map_err(|e| match e {
                super::TeeError::Read(source) => TreeError::Io {
                    path: self.shown(Some(&rel)),
                    source,
                },
                super::TeeError::Write(source) => self.write_err(&rel, source),
            })?;
        self.same_size(&rel, &st, size)?;
        Ok(self.file_entry(rel, digest, size, executable))
    }

    /// Opens `rel` through its directory's descriptor, never through a symlink, and checks that
    /// it is still a regular file (fstat on the opened descriptor: those are the bytes hashed).
    fn open_regular(
        &self,
        rel: &RelPath,
        dir: &OwnedFd,
    ) -> Result<(OwnedFd, rustix::fs::Stat), TreeError> {
        let changed = |why: &str| TreeError::Changed {
            path: rel.to_string(),
            why: why.into(),
        };
        let fd = openat(dir, file_name(rel), file_flags(), Mode::empty()).map_err(|e| match e {
            Errno::LOOP => changed("replaced by a symlink"),
            e => self.io(Some(rel), e),
        })?;
        let st = fstat(&fd).map_err(|e| self.io(Some(rel), e))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(changed("no longer a regular file"));
        }
        self.push_stat(rel, &st);
        Ok((fd, st))
    }

    /// A file must be hashed at the size it was opened with: one that grew or shrank while it
    /// was read is being written to, and its digest would pin bytes that were never on disk
    /// together.
    fn same_size(&self, rel: &RelPath, st: &rustix::fs::Stat, read: u64) -> Result<(), TreeError> {
        let opened = u64::try_from(st.st_size).unwrap_or(0);
        if read == opened {
            return Ok(());
        }
        let how = if read > opened { "grew" } else { "shrank" };
        Err(TreeError::Changed {
            path: rel.to_string(),
            why: format!("it {how} as it was read ({opened} bytes when opened, {read} read)"),
        })
    }

    /// The entry of a file that cannot match the pinned tree (see [`hash_tree_against`]),
    /// without reading it; `None` when it has to be hashed.
    fn unread(&self, rel: &RelPath, st: &rustix::fs::Stat) -> Option<Entry> {
        let sizes = self.sizes?;
        let size = u64::try_from(st.st_size).unwrap_or(0);
        if sizes.get(rel.as_str()) == Some(&size) {
            return None;
        }
        let zero = Digest::from_bytes(self.alg, &vec![0; self.alg.len()])?;
        Some(self.file_entry(rel.clone(), zero, size, st.st_mode & 0o111 != 0))
    }

    /// The entry of a hashed file, counted as done.
    fn file_entry(&self, rel: RelPath, digest: Digest, size: u64, executable: bool) -> Entry {
        if let Some(pr) = self.progress {
            pr.files_done.fetch_add(1, Ordering::Relaxed);
            pr.bytes_done.fetch_add(size, Ordering::Relaxed);
        }
        Entry {
            path: rel,
            kind: EntryKind::File {
                digest,
                size,
                executable,
            },
        }
    }

    /// Hashes the files waiting in the queue, two at a time, until none is left (or the walk
    /// failed).
    fn hash_queued(&self) {
        let Some(queue) = &self.queue else { return };
        super::pairs::hash_in_pairs(
            || loop {
                let job = lock(queue).pop()?;
                match self.open_regular(&job.rel, &job.dir) {
                    Ok((_, st)) if let Some(entry) = self.unread(&job.rel, &st) => {
                        self.push(entry);
                    }
                    Ok((fd, st)) => {
                        return Some(super::pairs::PairFile {
                            tag: (job.rel, st),
                            file: std::fs::File::from(fd),
                            size: u64::try_from(st.st_size).ok(),
                        });
                    }
                    Err(e) => {
                        self.fail(e);
                        return None;
                    }
                }
            },
            |(rel, st), result| {
                let entry = result
                    .map_err(|source| TreeError::Io {
                        path: self.shown(Some(&rel)),
                        source,
                    })
                    .and_then(|(digest, size)| {
                        self.same_size(&rel, &st, size)?;
                        let executable = st.st_mode & 0o111 != 0;
                        Ok(self.file_entry(rel, digest, size, executable))
                    });
                match entry {
                    Ok(entry) => {
                        self.push(entry);
                        true
                    }
                    Err(e) => {
                        self.fail(e);
                        false
                    }
                }
            },
            || self.failed.load(Ordering::Relaxed),
        );
    }
}

/// Bytes in the tree's files (symlinks count as 0).
pub fn total_size(entries: &[Entry]) -> u64 {
    entries
        .iter()
        .map(|e| match &e.kind {
            EntryKind::File { size, .. } => *size,
            EntryKind::Symlink { .. } => 0,
        })
        .sum()
}

/// Entries whose canonical text one task writes when a tree digest is computed.
const DIGEST_CHUNK: usize = 2048;

/// The tree digest: sha256 of the RFC 8785 form of the sorted entry list. Written directly
/// (members in canonical order) rather than through a JSON value: for large trees this is the
/// difference between a few and a few dozen milliseconds. A test checks it against the generic
/// canonicalizer. The text of runs of entries is written on all cores, then hashed in order.
pub fn tree_digest(entries: &[Entry]) -> Digest {
    let parts: Vec<Vec<u8>> = entries
        .par_chunks(DIGEST_CHUNK)
        .enumerate()
        .map(|(n, chunk)| {
            let mut out = Vec::with_capacity(chunk.len() * 160);
            for (i, e) in chunk.iter().enumerate() {
                if n > 0 || i > 0 {
                    out.push(b',');
                }
                write_entry(e, &mut out);
            }
            out
        })
        .collect();
    let mut hasher = super::Hasher::new(Algorithm::Sha256);
    hasher.update(b"[");
    for part in &parts {
        hasher.update(part);
    }
    hasher.update(b"]");
    hasher.finish()
}

/// One entry's RFC 8785 form.
fn write_entry(e: &Entry, out: &mut Vec<u8>) {
    use crate::canonical::write_string;
    // Keys sorted by UTF-16 code units: digest < executable < path < size < type, and
    // path < target < type.
    match &e.kind {
        EntryKind::File {
            digest,
            size,
            executable,
        } => {
            // A digest's text (`sha256:` and lowercase hex) needs no escaping.
            out.extend_from_slice(b"{\"digest\":\"");
            digest.write_text(out);
            out.push(b'"');
            out.extend_from_slice(if *executable {
                b",\"executable\":true"
            } else {
                b",\"executable\":false"
            });
            out.extend_from_slice(b",\"path\":");
            write_string(e.path.as_str(), out);
            out.extend_from_slice(b",\"size\":");
            write_size(*size, out);
            out.extend_from_slice(b",\"type\":\"file\"}");
        }
        EntryKind::Symlink { target } => {
            out.extend_from_slice(b"{\"path\":");
            write_string(e.path.as_str(), out);
            out.extend_from_slice(b",\"target\":");
            write_string(target, out);
            out.extend_from_slice(b",\"type\":\"symlink\"}");
        }
    }
}

/// A size as JCS writes a JSON number: the double nearest to it, printed as ECMAScript does.
/// Up to 2^53 the double is the integer itself and ECMAScript prints its decimal digits.
fn write_size(size: u64, out: &mut Vec<u8>) {
    if size > 1 << 53 {
        // u64 -> f64 is exactly what JCS does with any JSON number; sizes are finite.
        let _ = crate::canonical::write_f64(size as f64, out);
        return;
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = size;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

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

        // Same size, other bytes (a file of another size is `Resized`, below).
        write(t.path(), "lib/a.js", b"e");
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
    fn links_on_disk_are_resolved_through_each_other() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "x/f", b"x");
        std::fs::create_dir_all(t.path().join("a/b")).unwrap();
        symlink("../../x", t.path().join("a/b/m")).unwrap();
        // Each link is lexically inside; through `m`, `l` climbs above the root.
        symlink("m/../..", t.path().join("a/b/l")).unwrap();
        assert!(matches!(
            hash_tree(t.path(), &[], Algorithm::Sha256),
            Err(TreeError::SymlinkEscapes {
                why: LinkProblem::AboveRoot,
                ..
            })
        ));
        std::fs::remove_file(t.path().join("a/b/l")).unwrap();
        symlink("m/f", t.path().join("a/b/l")).unwrap();
        assert_eq!(
            hash_tree(t.path(), &[], Algorithm::Sha256).unwrap().len(),
            3
        );
        // An excluded directory is not pinned, so a link may not lead into it.
        std::fs::create_dir(t.path().join(".git")).unwrap();
        symlink("/", t.path().join(".git/root")).unwrap();
        symlink("../../.git", t.path().join("a/b/git")).unwrap();
        let ex = [Pattern::parse(".git").unwrap()];
        assert!(matches!(
            hash_tree(t.path(), &ex, Algorithm::Sha256),
            Err(TreeError::SymlinkEscapes {
                why: LinkProblem::Excluded(_),
                ..
            })
        ));
    }

    #[test]
    fn directories_count_toward_the_entry_cap() {
        let t = tempfile::tempdir().unwrap();
        for i in 0..20 {
            std::fs::create_dir(t.path().join(format!("d{i}"))).unwrap();
        }
        std::fs::create_dir_all(t.path().join("n/n/n/n/n/n/n/n/n")).unwrap();
        // 20 empty directories and 9 nested ones: nothing to pin, but 29 entries to walk.
        assert!(matches!(
            walk_tree(t.path(), &[], Algorithm::Sha256, None, 28),
            Err(TreeError::TooManyEntries)
        ));
        assert_eq!(
            walk_tree(t.path(), &[], Algorithm::Sha256, None, 29).unwrap(),
            []
        );
    }

    #[test]
    fn deep_trees_are_walked_without_running_out_of_descriptors() {
        let t = tempfile::tempdir().unwrap();
        let deep = vec!["d"; 1500].join("/");
        write(t.path(), &format!("{deep}/f"), b"bottom");
        let entries = hash_tree(t.path(), &[], Algorithm::Sha256).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].path.as_str(), format!("{deep}/f"));
    }

    /// Scenario tree-path-longer-than-path-max.
    #[test]
    fn a_path_longer_than_path_max_is_refused() {
        // Made level by level (a path this long cannot be given to mkdir at once).
        let t = tempfile::tempdir().unwrap();
        let name = "d".repeat(200);
        let mut fd = openat(CWD, t.path(), dir_flags(), Mode::empty()).unwrap();
        let mut depth = 0;
        let mut deepen = |fd: &mut OwnedFd| {
            rustix::fs::mkdirat(&*fd, name.as_str(), Mode::from_raw_mode(0o755)).unwrap();
            *fd = openat(&*fd, name.as_str(), dir_flags(), Mode::empty()).unwrap();
            drop(openat(&*fd, "f", create_flags(), Mode::from_raw_mode(0o644)).unwrap());
            depth += 1;
        };
        // 20 levels: the deepest file's path is 4,021 bytes, within the bound.
        for _ in 0..20 {
            deepen(&mut fd);
        }
        let entries = hash_tree(t.path(), &[], Algorithm::Sha256).unwrap();
        assert_eq!(entries.len(), 20);
        assert!(entries.iter().any(|e| e.path.as_str().len() == 4021));
        // One level more: 4,222 bytes, refused with the path cut short.
        deepen(&mut fd);
        match hash_tree(t.path(), &[], Algorithm::Sha256) {
            Err(TreeError::PathTooLong { shown }) => {
                assert!(
                    shown.starts_with("ddd") && shown.ends_with("..."),
                    "{shown}"
                );
                assert!(shown.len() <= 203, "{shown}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(depth, 21);
    }

    #[test]
    fn the_root_must_be_a_directory_itself() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "real/f", b"f");
        write(t.path(), "file", b"f");
        symlink("real", t.path().join("link")).unwrap();
        // However the symlink is spelled: a trailing separator or `.` component makes the
        // kernel follow it despite O_NOFOLLOW.
        for name in ["link", "file", "link/", "link/.", "link/./", "link//"] {
            assert!(
                matches!(
                    hash_tree(&t.path().join(name), &[], Algorithm::Sha256),
                    Err(TreeError::NotADirectory { symlink, .. }) if symlink == name.starts_with("link")
                ),
                "{name}"
            );
        }
        assert_eq!(
            hash_tree(&t.path().join("real/."), &[], Algorithm::Sha256).unwrap(),
            hash_tree(&t.path().join("real"), &[], Algorithm::Sha256).unwrap()
        );
        assert!(matches!(
            hash_tree(&t.path().join("missing"), &[], Algorithm::Sha256),
            Err(TreeError::Io { .. })
        ));
    }

    #[test]
    fn direct_tree_digest_equals_generic_canonical_form() {
        let mk = |p: &str| RelPath::parse(p).unwrap();
        let entries = vec![
            Entry {
                path: mk("a \"q\" \u{e9}\u{1f600}"),
                kind: EntryKind::File {
                    digest: Digest::sha256_of(b"x"),
                    size: 0,
                    executable: true,
                },
            },
            Entry {
                path: mk("b/link"),
                kind: EntryKind::Symlink {
                    target: "../a \\ b\u{7f}".into(),
                },
            },
            Entry {
                path: mk("c"),
                kind: EntryKind::File {
                    digest: Digest::sha512_of(b"y"),
                    size: (1u64 << 53) + 1,
                    executable: false,
                },
            },
            Entry {
                path: mk("d"),
                kind: EntryKind::File {
                    digest: Digest::sha256_of(b"z"),
                    size: 1_000_000_000_000_000_000_000u128 as u64 % u64::MAX,
                    executable: false,
                },
            },
        ];
        let generic = crate::canonical::to_vec(&serde_json::to_value(&entries).unwrap()).unwrap();
        assert_eq!(tree_digest(&entries), Digest::sha256_of(&generic));
        // Sizes around each way of printing them, and enough entries to be written in parts.
        let sizes = [
            1,
            9,
            10,
            99,
            100,
            123_456_789,
            (1 << 53) - 1,
            1 << 53,
            u64::MAX,
        ];
        let many: Vec<Entry> = (0..3 * DIGEST_CHUNK + 7)
            .map(|i| Entry {
                path: mk(&format!("d/f{i:05}")),
                kind: EntryKind::File {
                    digest: Digest::sha256_of(&i.to_le_bytes()),
                    size: sizes[i % sizes.len()],
                    executable: i % 3 == 0,
                },
            })
            .collect();
        let generic = crate::canonical::to_vec(&serde_json::to_value(&many).unwrap()).unwrap();
        assert_eq!(tree_digest(&many), Digest::sha256_of(&generic));
        assert_eq!(tree_digest(&[]), Digest::sha256_of(b"[]"));
    }

    #[test]
    fn parallel_walk_is_deterministic_and_reports_errors() {
        let t = tempfile::tempdir().unwrap();
        for i in 0..300 {
            write(
                t.path(),
                &format!("d{}/e{}/f{i}.js", i % 7, i % 3),
                format!("{i}").as_bytes(),
            );
        }
        let a = hash_tree(t.path(), &[], Algorithm::Sha256).unwrap();
        let b = hash_tree(t.path(), &[], Algorithm::Sha256).unwrap();
        assert_eq!(a.len(), 300);
        assert_eq!(a, b);
        std::os::unix::net::UnixListener::bind(t.path().join("d3/sock")).unwrap();
        assert!(matches!(
            hash_tree(t.path(), &[], Algorithm::Sha256),
            Err(TreeError::SpecialFile { kind: "socket", .. })
        ));
    }

    #[test]
    fn files_hashed_two_at_a_time_get_the_digests_of_one_at_a_time() {
        // Sizes from empty to several read chunks, so files end at every point of each other's
        // chunks and blocks; each entry must carry the digest of its own bytes, hashed alone.
        let t = tempfile::tempdir().unwrap();
        let mut expected = std::collections::BTreeMap::new();
        for i in 0..120usize {
            let size = (i * i * 997) % 700_000 + i % 3;
            let data: Vec<u8> = (0..size)
                .map(|j| (j * 131 + i * 17 + j / 4099) as u8)
                .collect();
            let rel = format!("p{}/f{i}", i % 5);
            write(t.path(), &rel, &data);
            let (digest, _) = super::super::hash_reader(Algorithm::Sha256, &data[..]).unwrap();
            expected.insert(rel, (digest, size as u64));
        }
        let entries = hash_tree(t.path(), &[], Algorithm::Sha256).unwrap();
        assert_eq!(entries.len(), expected.len());
        for e in entries {
            let EntryKind::File { digest, size, .. } = e.kind else {
                panic!("{} is not a file", e.path.as_str());
            };
            assert_eq!(
                (digest, size),
                expected[e.path.as_str()],
                "{}",
                e.path.as_str()
            );
        }
    }

    /// Scenario tree-unmatchable-file-not-read.
    #[test]
    fn files_that_cannot_match_the_pinned_tree_are_not_read() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("a.txt"), b"hello").unwrap();
        std::fs::write(t.path().join("b.txt"), b"world").unwrap();
        let pinned = hash_tree(t.path(), &[], Algorithm::Sha256).unwrap();
        // A pinned file grown to a terabyte and a terabyte added, both sparse: read, they
        // would take hours; their sizes alone say they do not match.
        let tera = 1u64 << 40;
        let grown = std::fs::OpenOptions::new()
            .write(true)
            .open(t.path().join("a.txt"))
            .unwrap();
        grown.set_len(tera).unwrap();
        std::fs::File::create(t.path().join("big.bin"))
            .unwrap()
            .set_len(tera)
            .unwrap();
        std::fs::write(t.path().join("b.txt"), b"WORLD").unwrap();
        let now = hash_tree_against(t.path(), &[], Algorithm::Sha256, &pinned).unwrap();
        let zero = Digest::from_bytes(Algorithm::Sha256, &[0; 32]).unwrap();
        let unread: Vec<&str> = now
            .iter()
            .filter(|e| matches!(&e.kind, EntryKind::File { digest, .. } if *digest == zero))
            .map(|e| e.path.as_str())
            .collect();
        assert_eq!(unread, ["a.txt", "big.bin"]);
        let changes: Vec<String> = compare(&pinned, &now)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert_eq!(
            changes[0],
            "`a.txt` modified: 1099511627776 bytes, the manifest pins 5"
        );
        assert!(
            changes[1].starts_with("`b.txt` modified: expected"),
            "{changes:?}"
        );
        assert_eq!(changes[2], "`big.bin` added (file), not in the manifest");
    }

    /// Scenario tree-file-changed-while-hashed: a file rewritten while the tree is hashed (by a
    /// build still writing, or someone racing the check) is refused as changed, whichever way
    /// its files are hashed, rather than pinned as bytes that were never on disk together; and
    /// one that keeps growing cannot keep the walk reading.
    #[test]
    fn a_file_that_grows_or_shrinks_while_hashed_is_refused() {
        use std::io::Write;
        use std::sync::atomic::AtomicBool;
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "a.js", b"steady");
        write(t.path(), "b.bin", b"");
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let stop = Arc::clone(&stop);
            let path = t.path().join("b.bin");
            std::thread::spawn(move || {
                let chunk = vec![7u8; 64 * 1024];
                while !stop.load(Ordering::Relaxed) {
                    let mut f = std::fs::File::create(&path).unwrap();
                    for _ in 0..64 {
                        f.write_all(&chunk).unwrap();
                    }
                }
            })
        };
        // The writer at work first (the thread may start late on a busy machine); bounded.
        for _ in 0..10_000 {
            if std::fs::metadata(t.path().join("b.bin")).unwrap().len() > 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // Both ways of hashing: two files at a time (SHA-256), one at a time (SHA-512).
        let mut refused = std::collections::BTreeSet::new();
        for round in 0..20_000 {
            let alg = if round % 2 == 0 {
                Algorithm::Sha256
            } else {
                Algorithm::Sha512
            };
            match hash_tree(t.path(), &[], alg) {
                Err(TreeError::Changed { path, why }) => {
                    assert_eq!(path, "b.bin");
                    assert!(why.contains("as it was read"), "{why}");
                    refused.insert(alg.name());
                }
                // Read between two rewrites: its size is what it was opened with.
                Ok(entries) => {
                    for e in entries {
                        let EntryKind::File { size, .. } = e.kind else {
                            continue;
                        };
                        assert!(e.path.as_str() == "a.js" || size % (64 * 1024) == 0);
                    }
                }
                Err(e) => panic!("{e}"),
            }
            if refused.len() == 2 {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert_eq!(refused.len(), 2, "refused only with {refused:?}");
    }

    #[test]
    fn a_copy_holds_the_hashed_bytes_and_a_stat_walk_reads_nothing() {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        write(&src, "a/b.js", b"console.log(1)");
        write(&src, "run.sh", b"#!/bin/sh\n");
        std::fs::set_permissions(src.join("run.sh"), std::fs::Permissions::from_mode(0o750))
            .unwrap();
        write(&src, ".git/HEAD", b"ref");
        symlink("a/b.js", src.join("link")).unwrap();
        let dest = t.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        let ex = [Pattern::parse(".git").unwrap()];
        let copied = copy_tree(&src, &ex, Algorithm::Sha256, &dest, None).unwrap();
        assert_eq!(
            copied.entries,
            hash_tree(&src, &ex, Algorithm::Sha256).unwrap()
        );
        assert_eq!(
            copied.entries,
            hash_tree(&dest, &[], Algorithm::Sha256).unwrap()
        );
        assert_eq!(
            std::fs::read(dest.join("a/b.js")).unwrap(),
            b"console.log(1)"
        );
        let mode = |p: &str| std::fs::metadata(dest.join(p)).unwrap().mode() & 0o777;
        assert_eq!((mode("a/b.js"), mode("run.sh")), (0o444, 0o555));
        assert_eq!(
            std::fs::read_link(dest.join("link")).unwrap(),
            Path::new("a/b.js")
        );
        assert!(!dest.join(".git").exists());
        // The copy walk's fingerprints are the stat walk's: files and links, never the excluded.
        let mut a = copied.stats;
        let mut b = stat_tree(&src, &ex).unwrap();
        assert_eq!(a.len(), 3);
        use crate::digest::stat_print::fingerprint_digest;
        assert_eq!(fingerprint_digest(&mut a), fingerprint_digest(&mut b));
        // A copy never writes over anything: the same copy again fails.
        assert!(matches!(
            copy_tree(&src, &ex, Algorithm::Sha256, &dest, None),
            Err(TreeError::Write { .. })
        ));
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
