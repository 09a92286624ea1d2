//! Source records: per source folder, tree digest, exclude rules and file-digest algorithm, the
//! digest of the source's stat fingerprint when it was last hashed into a snapshot, and which
//! snapshot folder (device, inode) that was. A record that is missing, unreadable or for another
//! key is no record: the source is hashed again, which is always safe.

use crate::digest::glob::Pattern;
use crate::digest::{Algorithm, Digest, Hasher};
use serde::{Deserialize, Serialize};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

/// Records are small; anything larger is not one of ours.
const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// What a record is about.
pub(super) struct Key<'a> {
    /// The canonical source folder.
    pub source: &'a Path,
    pub tree: &'a Digest,
    pub excludes: &'a [Pattern],
    pub alg: Algorithm,
}

impl Key<'_> {
    /// The record's file name: sha256 over the key's fields, each NUL-terminated (none holds a
    /// NUL: paths, digests, patterns).
    fn file(&self, root: &Path) -> PathBuf {
        let mut h = Hasher::new(Algorithm::Sha256);
        for part in self.parts() {
            h.update(&part);
            h.update(&[0]);
        }
        root.join("sources")
            .join(format!("{}.json", h.finish().hex()))
    }

    fn parts(&self) -> Vec<Vec<u8>> {
        let mut parts = vec![
            self.source.as_os_str().as_bytes().to_vec(),
            self.tree.to_string().into_bytes(),
            self.alg.name().as_bytes().to_vec(),
        ];
        parts.extend(self.excludes.iter().map(|p| p.as_str().as_bytes().to_vec()));
        parts
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RecordFile {
    /// The key's fields, each as bytes in hex (a source path need not be UTF-8).
    key: Vec<String>,
    fingerprint: Digest,
    snapshot_dev: u64,
    snapshot_ino: u64,
}

/// A record read back.
pub(super) struct Record {
    pub fingerprint: Digest,
    /// The snapshot folder's (device, inode) when the record was written.
    pub snapshot: (u64, u64),
}

fn key_hex(key: &Key) -> Vec<String> {
    key.parts().iter().map(hex::encode).collect()
}

pub(super) fn read(root: &Path, key: &Key) -> Option<Record> {
    let bytes = crate::fsutil::read_limited(&key.file(root), MAX_RECORD_BYTES).ok()?;
    let file: RecordFile = crate::json::from_slice(&bytes).ok()?;
    (file.key == key_hex(key)).then_some(Record {
        fingerprint: file.fingerprint,
        snapshot: (file.snapshot_dev, file.snapshot_ino),
    })
}

pub(super) fn write(
    root: &Path,
    key: &Key,
    fingerprint: &Digest,
    snapshot: (u64, u64),
) -> Result<(), crate::fsutil::WriteError> {
    let file = RecordFile {
        key: key_hex(key),
        fingerprint: fingerprint.clone(),
        snapshot_dev: snapshot.0,
        snapshot_ino: snapshot.1,
    };
    let bytes = serde_json::to_vec(&file).map_err(|e| crate::fsutil::WriteError::Io {
        path: key.file(root),
        source: e.into(),
    })?;
    crate::fsutil::write_atomic(&key.file(root), &bytes, 0o600, true)
}

/// Drops the record (a racy fingerprint must not leave an older one in charge).
pub(super) fn forget(root: &Path, key: &Key) {
    let _ = std::fs::remove_file(key.file(root));
}
