//! The store's lock: an exclusive `flock` on `.lock` in the store folder, held from reading a
//! record to writing it, so concurrent processes (and threads, each with its own descriptor)
//! never lose an update. The wait is bounded; the lock goes with the descriptor.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, Mode, OFlags, flock};
use rustix::io::Errno;

/// The lock file's name inside the store folder.
pub const LOCK_FILE: &str = ".lock";

#[derive(Debug)]
pub(super) enum LockError {
    Io(PathBuf, std::io::Error),
    Timeout(PathBuf, Duration),
}

/// Held while it lives.
pub(super) struct StoreLock {
    _fd: OwnedFd,
}

impl StoreLock {
    pub(super) fn acquire(dir: &Path, wait: Duration) -> Result<StoreLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let fd = rustix::fs::open(
            &path,
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| LockError::Io(path.clone(), e.into()))?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            match flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(StoreLock { _fd: fd }),
                Err(e) if e == Errno::WOULDBLOCK || e == Errno::INTR => {
                    if start.elapsed() >= wait {
                        return Err(LockError::Timeout(path, wait));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => return Err(LockError::Io(path, e.into())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_times_out_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let held = StoreLock::acquire(dir.path(), Duration::from_secs(1)).unwrap();
        let second = StoreLock::acquire(dir.path(), Duration::from_millis(20));
        assert!(matches!(second, Err(LockError::Timeout(..))));
        drop(held);
        StoreLock::acquire(dir.path(), Duration::from_millis(20)).unwrap();
    }
}
