//! Stat fingerprints of a tree: what `stat` says of each file and symlink (never its bytes), so a
//! later walk can tell cheaply that nothing changed since the tree was hashed. The launch store
//! uses it to decide whether a snapshot may be reused without re-hashing (spec/launch-store.md).
//!
//! `ctime` is the field that carries the weight: every change to a file's content, mode or name
//! sets it to the current time, and an unprivileged user cannot set it back.

use super::{Algorithm, Digest, Hasher};
use crate::relpath::RelPath;

/// How close to the start of a walk (in nanoseconds) an entry's ctime may be before its
/// fingerprint is "racy": a change made in the same timestamp tick as the stat would leave the
/// ctime unchanged. Two seconds covers filesystems with one-second timestamps.
pub const RACY_MARGIN_NS: i64 = 2_000_000_000;

/// One entry's fingerprint, taken before its content (or link target) was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatPrint {
    pub path: RelPath,
    pub symlink: bool,
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

impl StatPrint {
    // The stat field types differ between targets.
    #[allow(clippy::unnecessary_cast)]
    pub(crate) fn from_stat(path: RelPath, st: &rustix::fs::Stat) -> StatPrint {
        let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
        StatPrint {
            path,
            symlink: rustix::fs::FileType::from_raw_mode(st.st_mode)
                == rustix::fs::FileType::Symlink,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            mode: st.st_mode as u32,
            size: u64::try_from(st.st_size).unwrap_or(u64::MAX),
            mtime_ns: ns(st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime_ns: ns(st.st_ctime as i64, st.st_ctime_nsec as i64),
        }
    }
}

/// One digest over a whole fingerprint list, sorted by path: path bytes, a NUL (never inside a
/// path), then the fixed-width fields, so the encoding is unambiguous. Comparing two walks is
/// comparing two digests; nothing large is stored or parsed.
pub fn fingerprint_digest(prints: &mut [StatPrint]) -> Digest {
    prints.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
    let mut h = Hasher::new(Algorithm::Sha256);
    h.update(&(prints.len() as u64).to_le_bytes());
    for p in prints.iter() {
        h.update(p.path.as_str().as_bytes());
        h.update(&[0, u8::from(p.symlink)]);
        h.update(&p.dev.to_le_bytes());
        h.update(&p.ino.to_le_bytes());
        h.update(&p.mode.to_le_bytes());
        h.update(&p.size.to_le_bytes());
        h.update(&p.mtime_ns.to_le_bytes());
        h.update(&p.ctime_ns.to_le_bytes());
    }
    h.finish()
}

/// True when some entry changed so shortly before `walk_start_ns` (or after it) that a change in
/// the same timestamp tick could be invisible: such a fingerprint must not be trusted later.
pub fn is_racy(prints: &[StatPrint], walk_start_ns: i64) -> bool {
    let limit = walk_start_ns.saturating_sub(RACY_MARGIN_NS);
    prints.iter().any(|p| p.ctime_ns >= limit)
}

/// The current time in nanoseconds since the epoch, for [`is_racy`] (0 if the clock is before
/// 1970, which makes every fingerprint racy, hence never trusted).
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(path: &str, ctime_ns: i64) -> StatPrint {
        StatPrint {
            path: RelPath::parse(path).unwrap(),
            symlink: false,
            dev: 1,
            ino: 2,
            mode: 0o100644,
            size: 3,
            mtime_ns: 4,
            ctime_ns,
        }
    }

    #[test]
    fn digest_is_order_independent_and_field_sensitive() {
        let mut a = vec![print("a", 5), print("b", 6)];
        let mut b = vec![print("b", 6), print("a", 5)];
        assert_eq!(fingerprint_digest(&mut a), fingerprint_digest(&mut b));
        let mut c = vec![print("a", 5), print("b", 7)];
        assert_ne!(fingerprint_digest(&mut a), fingerprint_digest(&mut c));
        let mut d = vec![print("a", 5)];
        assert_ne!(fingerprint_digest(&mut a), fingerprint_digest(&mut d));
    }

    #[test]
    fn recent_changes_are_racy() {
        let now = 100 * RACY_MARGIN_NS;
        assert!(!is_racy(&[print("a", now - RACY_MARGIN_NS - 1)], now));
        assert!(is_racy(&[print("a", now - RACY_MARGIN_NS)], now));
        assert!(is_racy(&[print("a", now + 5)], now));
    }
}
