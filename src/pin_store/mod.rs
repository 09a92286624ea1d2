//! The pin store (trust on first use, spec/pin-store.md): per server name, the signer, the
//! highest version admitted, its manifest digest and tool pins, and the approvals given. A
//! verified release is admitted or refused by one function, [`PinStore::admit`], which reads,
//! decides and writes under an exclusive lock, so concurrent launches never lose an update. A
//! record that cannot be read is an error naming its file, never reset.

mod lock;
mod record;
mod rules;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::fsutil::private_dir::{self, PathProblem, Place, PrivateDirError};
use crate::fsutil::{ReadError, WriteError};
use crate::manifest::{Manifest, ServerName, Timestamp};
use crate::reason::Reason;
use crate::verify::{SignerSummary, Verified};

pub use lock::LOCK_FILE;
pub use record::{
    Approval, ChangeSummary, CorruptProblem, MAX_APPROVALS, MAX_RECORD_BYTES, PinRecord,
    PinnedSigner, RECORD_SCHEMA_VERSION, file_name, workflow_identity,
};
pub use rules::{Admission, Change, Outcome, PinnedRelease};

/// The store folder's name inside the data folder.
pub const PINS_DIR: &str = "pins";
/// How long an admission waits for another process's lock before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// A release to admit: verified, with the signer verification established.
#[derive(Debug, Clone)]
pub struct AdmitRequest<'a> {
    pub manifest: &'a Verified<Manifest>,
    pub signer: &'a SignerSummary,
    /// Refuse a newer release whose `previous` does not name the pinned one (`chain-broken`);
    /// without it a broken chain is only a warning.
    pub require_chain: bool,
    /// Approve permission changes (`--accept`). It never overrides `rollback`,
    /// `signer-changed` or `chain-broken`.
    pub accept: bool,
    pub now: DateTime<Utc>,
}

/// The store could not answer (exit 2): nothing was admitted and nothing written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinStoreError {
    #[error(
        "no folder for the pin store: set MCPSIG_DATA_DIR (or XDG_DATA_HOME, or HOME for ~/.local/share/mcpsig)"
    )]
    NoDataDir,
    #[error("refusing the pin store: `{}` {problem}", path.display())]
    Unsafe { path: PathBuf, problem: PathProblem },
    #[error("pin store record `{}` is corrupt (left as it is)", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        problem: CorruptProblem,
    },
    #[error("cannot read pin store `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write pin store record")]
    Write(#[source] WriteError),
    #[error(
        "pin store lock `{}` still held by another process after {} s", path.display(), waited.as_secs()
    )]
    LockTimeout { path: PathBuf, waited: Duration },
    #[error("`{name}` has no pin in `{}`", dir.display())]
    NotPinned { name: ServerName, dir: PathBuf },
}

impl PinStoreError {
    /// The reason code a report names (all of them mean "could not decide", exit 2).
    pub fn reason(&self) -> Reason {
        match self {
            PinStoreError::Corrupt { .. } => Reason::PinStoreCorrupt,
            PinStoreError::Unsafe { .. } => Reason::UnsafePinStore,
            PinStoreError::Io { .. }
            | PinStoreError::Write(_)
            | PinStoreError::LockTimeout { .. } => Reason::Io,
            PinStoreError::NoDataDir | PinStoreError::NotPinned { .. } => Reason::Error,
        }
    }

    /// What the user can do about it, when there is one thing to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            PinStoreError::Corrupt { path, .. } => Some(format!(
                "inspect `{}`; move it away or run `mcp-verify pins forget NAME` to pin that server \
                 anew on its next launch",
                path.display()
            )),
            PinStoreError::Unsafe { path, .. } => Some(format!(
                "only you may write the pin store: check who changed `{}`, then `chmod go-w` it",
                path.display()
            )),
            PinStoreError::LockTimeout { .. } => {
                Some("another mcp-verify is updating the pin store; try again".into())
            }
            PinStoreError::NotPinned { .. } => Some("`mcp-verify pins list` shows the pins".into()),
            _ => None,
        }
    }
}

impl From<PrivateDirError> for PinStoreError {
    fn from(e: PrivateDirError) -> Self {
        match e {
            PrivateDirError::Unsafe { path, problem } => PinStoreError::Unsafe { path, problem },
            PrivateDirError::Io { path, source } => PinStoreError::Io { path, source },
        }
    }
}

impl From<lock::LockError> for PinStoreError {
    fn from(e: lock::LockError) -> Self {
        match e {
            lock::LockError::Io(path, source) => PinStoreError::Io { path, source },
            lock::LockError::Timeout(path, waited) => PinStoreError::LockTimeout { path, waited },
        }
    }
}

/// What `forget` removed.
#[derive(Debug, Clone)]
pub struct Forgotten {
    pub name: ServerName,
    pub path: PathBuf,
    /// The record removed, when it could be read (a corrupt one is removed too).
    pub record: Option<PinRecord>,
}

/// The pin store in one folder.
#[derive(Debug, Clone)]
pub struct PinStore {
    dir: PathBuf,
}

impl PinStore {
    /// The store in `dir` (nothing is read or created yet).
    pub fn open(dir: impl Into<PathBuf>) -> PinStore {
        PinStore { dir: dir.into() }
    }

    /// The user's store: `fsutil::data_dir()/pins`.
    pub fn open_default() -> Result<PinStore, PinStoreError> {
        let data = crate::fsutil::data_dir().ok_or(PinStoreError::NoDataDir)?;
        Ok(PinStore::open(data.join(PINS_DIR)))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The record file of `name`.
    pub fn record_path(&self, name: &ServerName) -> PathBuf {
        self.dir.join(file_name(name))
    }

    /// Admits a verified release or refuses it (spec/pin-store.md, "Rules"). A refusal is an
    /// `Admission` with `admitted: false` and leaves the store unchanged; `Err` means the store
    /// could not be used.
    pub fn admit(&self, req: &AdmitRequest) -> Result<Admission, PinStoreError> {
        private_dir::ensure_dir(&self.dir)?;
        let _lock = lock::StoreLock::acquire(&self.dir, LOCK_WAIT)?;
        let m: &Manifest = req.manifest.get();
        let path = self.record_path(&m.server.name);
        let stored = self.read(&path)?;
        let now = DateTime::from_timestamp(req.now.timestamp(), 0).unwrap_or(req.now);
        let decision = rules::decide(
            stored.as_ref(),
            &rules::Input {
                manifest: m,
                signer: PinnedSigner::from_summary(req.signer),
                require_chain: req.require_chain,
                accept: req.accept,
                now: Timestamp(now),
            },
        );
        if let Some(record) = &decision.write {
            crate::fsutil::write_atomic(&path, &record.to_json(), 0o600, true)
                .map_err(PinStoreError::Write)?;
        }
        Ok(decision.admission)
    }

    /// The record of `name`, if there is one.
    pub fn get(&self, name: &ServerName) -> Result<Option<PinRecord>, PinStoreError> {
        if !self.exists()? {
            return Ok(None);
        }
        private_dir::check_dir(&self.dir)?;
        self.read(&self.record_path(name))
    }

    /// The record of `name`, or `NotPinned`.
    pub fn show(&self, name: &ServerName) -> Result<PinRecord, PinStoreError> {
        self.get(name)?.ok_or_else(|| PinStoreError::NotPinned {
            name: name.clone(),
            dir: self.dir.clone(),
        })
    }

    /// Every record, by server name. Readers take no lock: every write is an atomic rename.
    pub fn list(&self) -> Result<Vec<PinRecord>, PinStoreError> {
        if !self.exists()? {
            return Ok(Vec::new());
        }
        private_dir::check_dir(&self.dir)?;
        let io = |source| PinStoreError::Io {
            path: self.dir.clone(),
            source,
        };
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            if name.to_str().is_some_and(record::is_record_file_name)
                && let Some(r) = self.read(&entry.path())?
            {
                out.push(r);
            }
        }
        out.sort_by(|a, b| a.server.cmp(&b.server));
        Ok(out)
    }

    /// Removes the record of `name`, under the lock: the way past `signer-changed`, or a
    /// corrupt record, once the user has checked. The record is removed even when unreadable.
    pub fn forget(&self, name: &ServerName) -> Result<Forgotten, PinStoreError> {
        let not_pinned = || PinStoreError::NotPinned {
            name: name.clone(),
            dir: self.dir.clone(),
        };
        if !self.exists()? {
            return Err(not_pinned());
        }
        private_dir::check_dir(&self.dir)?;
        let _lock = lock::StoreLock::acquire(&self.dir, LOCK_WAIT)?;
        let path = self.record_path(name);
        if std::fs::symlink_metadata(&path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            return Err(not_pinned());
        }
        let record = self.read(&path).ok().flatten();
        std::fs::remove_file(&path).map_err(|source| PinStoreError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Forgotten {
            name: name.clone(),
            path,
            record,
        })
    }

    fn exists(&self) -> Result<bool, PinStoreError> {
        match std::fs::symlink_metadata(&self.dir) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(PinStoreError::Io {
                path: self.dir.clone(),
                source,
            }),
        }
    }

    /// Reads one record file; `None` when it does not exist.
    fn read(&self, path: &Path) -> Result<Option<PinRecord>, PinStoreError> {
        let corrupt = |problem| PinStoreError::Corrupt {
            path: path.to_path_buf(),
            problem,
        };
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(PinStoreError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
            Ok(meta) if !meta.is_file() => return Err(corrupt(CorruptProblem::NotAFile)),
            Ok(_) => {}
        }
        private_dir::check_path(path, Place::Inside)?;
        let bytes = crate::fsutil::read_limited(path, MAX_RECORD_BYTES).map_err(|e| match e {
            ReadError::TooLarge { limit, .. } => corrupt(CorruptProblem::TooLarge { limit }),
            ReadError::Io { path, source } => PinStoreError::Io { path, source },
        })?;
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default();
        PinRecord::parse(&bytes, file).map(Some).map_err(corrupt)
    }
}
