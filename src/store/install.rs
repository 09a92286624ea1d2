//! Package installs in the launch store (spec/launch-store.md, "Package installs"): a tree
//! written by an installer (`artifact`) from hash-checked archives, every file hashed as it was
//! written, sealed as `trees/<hex>` like any snapshot; and `installs/<key>.json`, which says
//! which sealed tree the install of `key` (a digest of the pins it was made from) is, with the
//! tree's entries and stat fingerprint. A relaunch reuses it after checking the fingerprint (or,
//! when that changed, re-hashing the tree): a file edited after install is found, never run.

use super::{Snapshot, Store, StoreError, check_sealed, remove_tree, rename_noreplace, seal};
use crate::digest::stat_print::{fingerprint_digest, is_racy, now_ns};
use crate::digest::tree::{self, Entry};
use crate::digest::{Algorithm, Digest};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Bound on an install record (it lists every installed file).
const MAX_INSTALL_RECORD: u64 = 256 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InstallRecord {
    key: Digest,
    tree: Digest,
    /// Absent while the tree is too fresh for its fingerprint to be trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fingerprint: Option<Digest>,
    snapshot_dev: u64,
    snapshot_ino: u64,
    entries: Vec<Entry>,
}

/// What the store holds for an install key.
#[derive(Debug)]
pub enum InstallState {
    /// Nothing (or a record whose tree is gone): install it.
    Missing,
    /// The install is there and unchanged.
    Ready(Snapshot),
    /// The installed tree no longer is what was written: `expected` was installed, `found` is
    /// there now.
    Changed {
        path: PathBuf,
        expected: Vec<Entry>,
        found: Vec<Entry>,
    },
}

/// A tree being installed: a fresh folder in the store, removed unless [`Store::seal_install`]
/// takes it.
pub struct InstallBuild {
    dir: PathBuf,
    done: bool,
}

impl InstallBuild {
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for InstallBuild {
    fn drop(&mut self) {
        if !self.done {
            let _ = remove_tree(&self.dir);
        }
    }
}

impl Store {
    fn install_record_path(&self, key: &Digest) -> PathBuf {
        self.root
            .join("installs")
            .join(format!("{}.json", key.hex()))
    }

    /// The install of `key`, checked: its record, its sealed tree (the same folder the record
    /// names), and the tree unchanged (same stat fingerprint, else re-hashed to the same digest).
    pub fn installed(&self, key: &Digest) -> Result<InstallState, StoreError> {
        let path = self.install_record_path(key);
        let Ok(bytes) = crate::fsutil::read_limited(&path, MAX_INSTALL_RECORD) else {
            return Ok(InstallState::Missing);
        };
        let Ok(rec) = crate::json::from_slice::<InstallRecord>(&bytes) else {
            return Ok(InstallState::Missing);
        };
        if &rec.key != key {
            return Ok(InstallState::Missing);
        }
        let target = self.tree_path(&rec.tree);
        let id = match check_sealed(&target) {
            Ok(id) => id,
            Err(None) => return Ok(InstallState::Missing),
            Err(Some(problem)) => {
                return Err(StoreError::Damaged {
                    path: target,
                    problem,
                });
            }
        };
        let ready = |how| {
            Ok(InstallState::Ready(Snapshot {
                digest: rec.tree.clone(),
                path: target.clone(),
                how,
            }))
        };
        if id == (rec.snapshot_dev, rec.snapshot_ino)
            && let Some(fp) = &rec.fingerprint
            && let Ok(mut prints) = tree::stat_tree(&target, &[])
            && &fingerprint_digest(&mut prints) == fp
        {
            return ready(super::How::Reused);
        }
        let walk_start = now_ns();
        let walked = match tree::hash_tree_stats(&target, &[], Algorithm::Sha256, None) {
            Ok(w) => w,
            Err(source) => {
                return Err(StoreError::Tree {
                    dir: target,
                    source,
                });
            }
        };
        if tree::tree_digest(&walked.entries) != rec.tree {
            return Ok(InstallState::Changed {
                path: target,
                expected: rec.entries,
                found: walked.entries,
            });
        }
        if !is_racy(&walked.stats, walk_start) {
            let mut stats = walked.stats;
            let updated = InstallRecord {
                fingerprint: Some(fingerprint_digest(&mut stats)),
                snapshot_dev: id.0,
                snapshot_ino: id.1,
                ..rec
            };
            let _ = self.write_install_record(&updated);
            return Ok(InstallState::Ready(Snapshot {
                digest: updated.tree,
                path: target,
                how: super::How::Existing,
            }));
        }
        ready(super::How::Existing)
    }

    /// A fresh folder to install into.
    pub fn begin_install(&self) -> Result<InstallBuild, StoreError> {
        let trees = self.root.join("trees");
        let dir = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempdir_in(&trees)
            .map_err(|e| self.io_err(&trees, e))?
            .keep();
        Ok(InstallBuild { dir, done: false })
    }

    /// Seals a finished install whose files are `entries` (as hashed while written) and records
    /// it under `key`.
    pub fn seal_install(
        &self,
        key: &Digest,
        mut build: InstallBuild,
        mut entries: Vec<Entry>,
    ) -> Result<Snapshot, StoreError> {
        entries.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
        let digest = tree::tree_digest(&entries);
        let target = self.tree_path(&digest);
        seal(&build.dir, true).map_err(|e| self.io_err(&build.dir, e))?;
        let how = match rename_noreplace(&build.dir, &target) {
            Ok(()) => {
                build.done = true;
                super::How::Copied
            }
            // The same tree is there already (another install of the same bytes): use it.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOTEMPTY)) => {
                super::How::Existing
            }
            Err(e) => return Err(self.io_err(&target, e)),
        };
        drop(build);
        let id = check_sealed(&target).map_err(|problem| match problem {
            Some(problem) => StoreError::Damaged {
                path: target.clone(),
                problem,
            },
            None => self.io_err(&target, std::io::ErrorKind::NotFound.into()),
        })?;
        self.write_install_record(&InstallRecord {
            key: key.clone(),
            tree: digest.clone(),
            fingerprint: None,
            snapshot_dev: id.0,
            snapshot_ino: id.1,
            entries,
        })?;
        Ok(Snapshot {
            digest,
            path: target,
            how,
        })
    }

    fn write_install_record(&self, rec: &InstallRecord) -> Result<(), StoreError> {
        let path = self.install_record_path(&rec.key);
        let bytes = serde_json::to_vec(rec).map_err(|e| self.io_err(&path, e.into()))?;
        crate::fsutil::write_atomic(&path, &bytes, 0o600, true).map_err(|e| match e {
            crate::fsutil::WriteError::Io { path, source } => StoreError::Io { path, source },
            crate::fsutil::WriteError::Exists { path } => {
                self.io_err(&path, std::io::ErrorKind::AlreadyExists.into())
            }
            crate::fsutil::WriteError::NotAFile { path } => {
                self.io_err(&path, std::io::ErrorKind::InvalidInput.into())
            }
            crate::fsutil::WriteError::Dash => {
                self.io_err(Path::new("-"), std::io::ErrorKind::InvalidInput.into())
            }
        })
    }

    /// Where a downloaded archive with `digest` is kept (`blobs/<alg>-<hex>`).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(format!("{}-{}", digest.algorithm().name(), digest.hex()))
    }

    /// A temporary file beside the blobs, for a download that becomes one once checked.
    pub fn blob_temp(&self) -> Result<tempfile::NamedTempFile, StoreError> {
        let dir = self.root.join("blobs");
        tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(|e| self.io_err(&dir, e))
    }

    /// Keeps a checked download as the blob of `digest` (read-only).
    pub fn keep_blob(
        &self,
        tmp: tempfile::NamedTempFile,
        digest: &Digest,
    ) -> Result<PathBuf, StoreError> {
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.blob_path(digest);
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o444));
        tmp.persist(&path)
            .map_err(|e| self.io_err(&path, e.error))?;
        Ok(path)
    }
}
