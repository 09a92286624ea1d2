//! Writing outputs safely: atomically (a temporary file in the same directory, fsynced, then
//! renamed), never over an existing file unless asked, and with the mode set before any byte of
//! a secret is written.

pub mod private_dir;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A per-user folder: `$OVERRIDE` when set, else `$XDG_VAR/mcpsig`, else `~/HOME_SUBDIR/mcpsig`;
/// `None` when none of them is set (no `HOME`). Empty variables count as unset.
pub fn user_dir(override_var: &str, xdg_var: &str, home_subdir: &str) -> Option<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = nonempty(override_var) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = nonempty(xdg_var) {
        return Some(PathBuf::from(d).join("mcpsig"));
    }
    nonempty("HOME").map(|h| PathBuf::from(h).join(home_subdir).join("mcpsig"))
}

/// `$HOME`, when set and not empty.
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Where mcpsig keeps what it must not lose (the pin store, the launch store):
/// `$MCPSIG_DATA_DIR`, else `$XDG_DATA_HOME/mcpsig`, else `~/.local/share/mcpsig`.
pub fn data_dir() -> Option<PathBuf> {
    user_dir("MCPSIG_DATA_DIR", "XDG_DATA_HOME", ".local/share")
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    #[error("refusing to overwrite `{}` (use --force to replace it)", path.display())]
    Exists { path: PathBuf },
    /// `--force` replaces files: not a device, a pipe or a directory, nor a link to one
    /// (`-o /dev/stdout` replaced the system's link to the terminal with a file).
    #[error(
        "refusing to replace `{}`: it is not a regular file (a device, a pipe or a directory, or a link to one); --force replaces files only",
        path.display()
    )]
    NotAFile { path: PathBuf },
    /// `-o -`: read as standard output by most tools, here it would name a file `-`.
    #[error(
        "`-` is not an output here: give a file name (a file named `-` is `./-`); standard output is not written"
    )]
    Dash,
    #[error("cannot write `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The overwrite policy of every output: without `overwrite`, anything already at `path` (a
/// file, a directory, a symlink, even a dangling one) is refused. Commands call it before any
/// costly or logged work (hashing a tree, asking a signing service), and [`write_atomic`] again.
/// With `overwrite`, what is there must be a file (or a link to one, or a dangling link).
pub fn refuse_existing(path: &Path, overwrite: bool) -> Result<(), WriteError> {
    if path.as_os_str() == "-" {
        return Err(WriteError::Dash);
    }
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    if !overwrite {
        return Err(WriteError::Exists {
            path: path.to_path_buf(),
        });
    }
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(WriteError::NotAFile {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Writes `data` to `path` atomically with permission bits `mode`. Without `overwrite`, an
/// existing file is left untouched and `WriteError::Exists` returned.
pub fn write_atomic(
    path: &Path,
    data: &[u8],
    mode: u32,
    overwrite: bool,
) -> Result<(), WriteError> {
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    refuse_existing(path, overwrite)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".mcpsig-")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(io)?;
    // The umask may have narrowed the mode at creation; set it exactly before writing.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io)?;
    tmp.write_all(data).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    if overwrite {
        tmp.persist(path).map_err(|e| io(e.error))?;
    } else {
        // persist_noclobber closes the race between the check above and the rename.
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                WriteError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                io(e.error)
            }
        })?;
    }
    Ok(())
}

/// At most `limit + 1` bytes of `file`, which says it has `len`: room for that and one byte
/// more, so it is read in one call and its end seen in the next (without it, ten reads of
/// doubling size for a 10 KB file).
pub fn read_within(file: std::fs::File, len: u64, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let room = usize::try_from(len.min(limit)).unwrap_or(0);
    let mut data = Vec::with_capacity(room.saturating_add(1));
    file.take(limit.saturating_add(1)).read_to_end(&mut data)?;
    Ok(data)
}

/// Reads a file of at most `limit` bytes, naming the path in errors.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    // A file that says it is too large (a sparse file of gigabytes) is refused unread.
    let len = file.metadata().map_err(io)?.len();
    if len > limit {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    let data = read_within(file, len, limit).map_err(io)?;
    if data.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(data)
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is larger than {limit} bytes", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scenario cli-force-replaces-files-only, with tests/cli.rs (`-o /dev/stdout --force`
    /// as root replaced the system's `/dev/stdout` link with a file).
    #[test]
    fn force_replaces_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let to_device = dir.path().join("stdout");
        std::os::unix::fs::symlink("/dev/null", &to_device).unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        for p in [&to_device, &sub, &PathBuf::from("/dev/null")] {
            let err = write_atomic(p, b"x", 0o644, true).unwrap_err();
            assert!(
                matches!(err, WriteError::NotAFile { .. }),
                "{}: {err}",
                p.display()
            );
        }
        assert!(
            std::fs::symlink_metadata(&to_device)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // `-` is not taken for a file name (most tools read it as standard output).
        let err = write_atomic(Path::new("-"), b"x", 0o644, true).unwrap_err();
        assert!(matches!(err, WriteError::Dash), "{err}");
        assert!(refuse_existing(Path::new("-"), false).is_err());
        // A file, a link to one and a dangling link are still replaced.
        let file = dir.path().join("file");
        std::fs::write(&file, b"old").unwrap();
        let to_file = dir.path().join("to-file");
        std::os::unix::fs::symlink(&file, &to_file).unwrap();
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("none"), &dangling).unwrap();
        for p in [&file, &to_file, &dangling] {
            write_atomic(p, b"new", 0o644, true).unwrap();
            assert_eq!(std::fs::read(p).unwrap(), b"new");
        }
    }

    #[test]
    fn refuses_to_overwrite_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key");
        write_atomic(&p, b"one", 0o600, false).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(matches!(
            write_atomic(&p, b"two", 0o600, false),
            Err(WriteError::Exists { .. })
        ));
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"two", 0o644, true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn anything_at_the_path_is_refused_without_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let free = dir.path().join("free");
        refuse_existing(&free, false).unwrap();
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink("nowhere", &dangling).unwrap();
        for taken in [dangling.as_path(), dir.path()] {
            assert!(matches!(
                refuse_existing(taken, false),
                Err(WriteError::Exists { .. })
            ));
        }
        // With overwrite, a dangling link may be replaced; a directory never.
        refuse_existing(&dangling, true).unwrap();
        assert!(matches!(
            refuse_existing(dir.path(), true),
            Err(WriteError::NotAFile { .. })
        ));
    }
}
