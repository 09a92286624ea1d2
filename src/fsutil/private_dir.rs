//! Who may write a folder whose contents we trust (the TUF cache, the pin store, the launch
//! store): a folder another user can write to (or owns) could hold anything, so it is refused
//! before a byte of it is read. The rule is OpenSSH's `StrictModes` for `~/.ssh`: the folder,
//! each file in it and every ancestor up to `$HOME` (or `/`) must be owned by us or root and not
//! writable by group or others; an ancestor with the sticky bit (like `/tmp`) may be
//! world-writable, because others cannot rename or remove our entries in it.

use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

/// Why a private folder or a file in it cannot be trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrivateDirError {
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` {problem}", path.display())]
    Unsafe { path: PathBuf, problem: PathProblem },
}

impl PrivateDirError {
    /// True when the path simply does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// What makes a path unsafe to trust.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathProblem {
    #[error("is writable by {who} (mode {mode:04o})")]
    Writable { who: &'static str, mode: u32 },
    #[error("is owned by uid {owner}, neither us (uid {us}) nor root")]
    ForeignOwner { owner: u32, us: u32 },
}

/// Where a path sits relative to the private folder: its own entries get no exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The private folder, a folder inside it, or a file read from it.
    Inside,
    /// A folder above the private folder.
    Ancestor,
}

const STICKY: u32 = 0o1000;

/// The rule, on plain numbers so it can be tested for any owner and mode.
pub(crate) fn judge(owner: u32, mode: u32, us: u32, place: Place) -> Result<(), PathProblem> {
    if owner != us && owner != 0 {
        return Err(PathProblem::ForeignOwner { owner, us });
    }
    if place == Place::Ancestor && mode & STICKY != 0 {
        return Ok(());
    }
    let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => "group and others",
        (true, false) => "its group",
        (false, true) => "others",
        (false, false) => return Ok(()),
    };
    Err(PathProblem::Writable {
        who,
        mode: mode & 0o7777,
    })
}

/// Creates `dir` (and missing parents) with mode 0700 if it does not exist, then checks it as
/// [`check_dir`] does.
pub fn ensure_dir(dir: &Path) -> Result<(), PrivateDirError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| PrivateDirError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    check_dir(dir)
}

fn us() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Checks one path (following symlinks: what counts is what would be read).
pub fn check_path(path: &Path, place: Place) -> Result<(), PrivateDirError> {
    let meta = std::fs::metadata(path).map_err(|source| PrivateDirError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    judge(meta.uid(), meta.mode(), us(), place).map_err(|problem| PrivateDirError::Unsafe {
        path: path.to_path_buf(),
        problem,
    })
}

/// Checks the private folder `dir` and every ancestor up to and including `$HOME` when `dir` is
/// under it, else up to `/`. Symlinks in the path are resolved first, so the folders checked are
/// the ones actually holding the files.
pub fn check_dir(dir: &Path) -> Result<(), PrivateDirError> {
    let real = std::fs::canonicalize(dir).map_err(|source| PrivateDirError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .and_then(|h| std::fs::canonicalize(h).ok());
    check_path(&real, Place::Inside)?;
    for ancestor in real.ancestors().skip(1) {
        check_path(ancestor, Place::Ancestor)?;
        if home.as_deref() == Some(ancestor) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_and_mode_rules() {
        let me = 1000;
        assert_eq!(judge(me, 0o40700, me, Place::Inside), Ok(()));
        assert_eq!(judge(0, 0o40755, me, Place::Ancestor), Ok(()));
        assert_eq!(
            judge(1001, 0o40700, me, Place::Inside),
            Err(PathProblem::ForeignOwner {
                owner: 1001,
                us: me
            })
        );
        assert_eq!(
            judge(1001, 0o40755, me, Place::Ancestor),
            Err(PathProblem::ForeignOwner {
                owner: 1001,
                us: me
            })
        );
        assert_eq!(
            judge(me, 0o40777, me, Place::Inside),
            Err(PathProblem::Writable {
                who: "group and others",
                mode: 0o777
            })
        );
        assert_eq!(
            judge(me, 0o100664, me, Place::Inside),
            Err(PathProblem::Writable {
                who: "its group",
                mode: 0o664
            })
        );
        assert_eq!(
            judge(me, 0o40757, me, Place::Ancestor),
            Err(PathProblem::Writable {
                who: "others",
                mode: 0o757
            })
        );
        // /tmp: world-writable but sticky, owned by root. Fine above the cache, never for it.
        assert_eq!(judge(0, 0o41777, me, Place::Ancestor), Ok(()));
        assert!(judge(me, 0o41777, me, Place::Inside).is_err());
        assert_eq!(judge(me, 0o41770, me, Place::Ancestor), Ok(()));
        // Sticky does not excuse another owner.
        assert!(judge(1001, 0o41777, me, Place::Ancestor).is_err());
    }
}
