//! The on-disk TUF cache: where each repository's folder is, reading files only from a folder
//! nobody else can write, and [`VerifiedCache`], which re-checks the cached metadata offline from
//! the trust anchor before a target is read (no network).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};

use super::metadata::{
    Envelope, Header, MetaFile, MetaSigned, RootSigned, TargetFile, TargetsSigned, check_meta_file,
    check_target, parse_envelope, parse_self_signed_root, rotate, target_url_hash, verify_role,
};
use super::{Limits, MetadataProblem, TRUSTED_ROOT_TARGET, TufError};
use crate::fsutil::private_dir;

/// The cache root: `$MCPSIG_CACHE_DIR`, else `$XDG_CACHE_HOME/mcpsig`, else `~/.cache/mcpsig`.
pub fn cache_root() -> Option<PathBuf> {
    crate::fsutil::user_dir("MCPSIG_CACHE_DIR", "XDG_CACHE_HOME", ".cache")
}

/// The cache folder of one repository: `tuf/<host>-<16 hex of sha256(url)>` under `root`, so
/// two repositories never share state and the folder name still says which one it is.
pub fn repo_cache_dir(root: &Path, url: &str) -> PathBuf {
    let url = url.trim_end_matches('/');
    let host: String = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let tag = hex::encode(&Sha256::digest(url.as_bytes())[..8]);
    root.join("tuf").join(format!("{host}-{tag}"))
}

pub(super) fn read_optional(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, TufError> {
    match crate::fsutil::read_limited(path, limit) {
        Ok(b) => Ok(Some(b)),
        Err(crate::fsutil::ReadError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(crate::fsutil::ReadError::Io { source, .. }) => Err(TufError::Io {
            path: path.to_path_buf(),
            source,
        }),
        Err(crate::fsutil::ReadError::TooLarge { limit, .. }) => Err(TufError::TooLarge {
            role: "cached file".into(),
            url: path.display().to_string(),
            limit,
        }),
    }
}

/// Where a verified target lives in the cache: named by its hash, so a target and the targets
/// metadata describing it can be replaced in either order without ever pairing wrongly.
pub(super) fn cached_target_path(dir: &Path, name: &str, file: &TargetFile) -> Option<PathBuf> {
    let (alg, hash) = target_url_hash(file)?;
    Some(dir.join("targets").join(format!("{alg}-{hash}.{name}")))
}

/// Reads a file from the cache after checking that nobody but us (or root) can have written
/// it; `Ok(None)` when it does not exist.
fn read_cache_file(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, TufError> {
    match private_dir::check_path(path, private_dir::Place::Inside) {
        Err(e) if e.is_not_found() => return Ok(None),
        other => other?,
    }
    read_optional(path, limit)
}

/// Loads a cached metadata file if it exists and is signed by a threshold of `root`'s keys for
/// its role. Its expiry is not checked: it only serves as the floor for rollback checks.
pub(super) fn load_cached_role<T: DeserializeOwned + Header>(
    dir: &Path,
    role: &str,
    root: &Envelope<RootSigned>,
    limit: u64,
) -> Result<Option<Envelope<T>>, TufError> {
    let path = dir.join(format!("{role}.json"));
    let Some(raw) = read_cache_file(&path, limit)? else {
        return Ok(None);
    };
    // A cached file the current root no longer vouches for (keys rotated, file damaged) is
    // simply not a reference any more.
    let Ok(env) = parse_envelope::<T>(raw, role, &path.display().to_string()) else {
        return Ok(None);
    };
    Ok(verify_role(&env, root, role).is_ok().then_some(env))
}

/// Follows the cached `N.root.json` files from `start`, each a verified rotation step. Returns
/// the last root reached and, when the walk stopped at a file that is present but failed
/// (unreadable, malformed, badly signed, wrong version) or at the step limit, why.
pub(super) fn walk_cached_roots(
    dir: &Path,
    start: Envelope<RootSigned>,
    limits: &Limits,
) -> (Envelope<RootSigned>, Option<TufError>) {
    let mut root = start;
    for _ in 0..limits.max_root_rotations {
        let path = dir.join(format!("{}.root.json", root.version.saturating_add(1)));
        let raw = match read_cache_file(&path, limits.root_bytes) {
            Ok(Some(raw)) => raw,
            Ok(None) => return (root, None),
            Err(e) => return (root, Some(e)),
        };
        let step = parse_envelope(raw, "root", &path.display().to_string())
            .and_then(|new| rotate(&root, new));
        match step {
            Ok(new) => root = new,
            Err(e) => return (root, Some(e)),
        }
    }
    let limit = limits.max_root_rotations;
    let url = dir.display().to_string();
    (root, Some(TufError::TooManyRootRotations { url, limit }))
}

/// Cached metadata whose expiry has passed. It is still used (see [`VerifiedCache::open`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredRole {
    pub role: String,
    pub version: u64,
    pub expires: DateTime<Utc>,
}

/// A repository cache whose metadata verified offline, exactly as a refresh checks it: the root
/// chain from the trust anchor through every cached `N.root.json`, then timestamp, snapshot and
/// targets. Only [`VerifiedCache::open`] builds one, so a target can only be read through
/// metadata that passed every check.
#[derive(Debug)]
pub struct VerifiedCache {
    dir: PathBuf,
    root_version: u64,
    targets: Envelope<TargetsSigned>,
    expired: Vec<ExpiredRole>,
}

impl VerifiedCache {
    /// Opens the cache folder of one repository. `anchor` is the TUF root trusted as shipped
    /// (embedded) or as given by the user; the cache is used only when its roots chain from it.
    ///
    /// `Ok(None)` when there is no usable cache and nothing is wrong: no folder, no refresh
    /// completed yet (no `root.json` or no `timestamp.json`), or a cache that predates the
    /// anchor. Anything else that does not verify is
    /// an error, and the caller must not use the cache:
    /// - the folder, an ancestor or a file is writable by others or owned by another user
    ///   (`unsafe-cache`);
    /// - a cached root fails its rotation step (`below-threshold`, `bad-signature`, ...), or
    ///   `root.json` names a version the verified chain does not reach (`root-chain-broken`);
    /// - timestamp, snapshot or targets are not signed by the verified root, or do not match
    ///   the version, length and hashes that the role above them lists.
    ///
    /// Expiry is not a reason to refuse: verification works offline, and an expired but
    /// verified cache is still newer than the embedded root it replaces. Each expired role is
    /// reported in [`VerifiedCache::expired`]; refresh refuses expired metadata.
    pub fn open(dir: &Path, anchor: &[u8], now: DateTime<Utc>) -> Result<Option<Self>, TufError> {
        let limits = Limits::default();
        match std::fs::symlink_metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(TufError::Io {
                    path: dir.to_path_buf(),
                    source,
                });
            }
            Ok(_) => {}
        }
        // Permissions first: nothing is read from a folder someone else could have written.
        private_dir::check_dir(dir)?;
        let anchor = parse_self_signed_root(anchor.to_vec(), "the trust anchor")?;
        let head_path = dir.join("root.json");
        let Some(raw) = read_cache_file(&head_path, limits.root_bytes)? else {
            return Ok(None);
        };
        // Not trusted: only says where the refresh that wrote it ended.
        let head: Envelope<RootSigned> =
            parse_envelope(raw, "root", &head_path.display().to_string())?;
        if head.version < anchor.version {
            return Ok(None);
        }
        let (root, stopped) = walk_cached_roots(dir, anchor, &limits);
        if let Some(e) = stopped {
            return Err(e);
        }
        if head.version != root.version || head.canonical != root.canonical {
            return Err(TufError::RootChainBroken {
                path: head_path,
                claimed: head.version,
                verified: root.version,
            });
        }

        let mut expired = Vec::new();
        let mut note = |role: &str, version: u64, expires: DateTime<Utc>| {
            if expires <= now {
                expired.push(ExpiredRole {
                    role: role.to_owned(),
                    version,
                    expires,
                });
            }
        };
        note("root", root.version, root.expires);

        // Written last by a refresh: without it, no refresh has completed.
        if !dir.join("timestamp.json").exists() {
            return Ok(None);
        }
        let ts: Envelope<MetaSigned> =
            read_cached_role(dir, "timestamp", None, limits.timestamp_bytes)?;
        verify_role(&ts, &root, "timestamp")?;
        note("timestamp", ts.version, ts.expires);
        let snap_meta = listed_meta(&ts, "snapshot.json")?;
        let snap: Envelope<MetaSigned> =
            read_cached_role(dir, "snapshot", Some(snap_meta), limits.snapshot_bytes)?;
        verify_role(&snap, &root, "snapshot")?;
        note("snapshot", snap.version, snap.expires);
        let targets_meta = listed_meta(&snap, "targets.json")?;
        let targets: Envelope<TargetsSigned> =
            read_cached_role(dir, "targets", Some(targets_meta), limits.targets_bytes)?;
        verify_role(&targets, &root, "targets")?;
        note("targets", targets.version, targets.expires);

        Ok(Some(Self {
            dir: dir.to_path_buf(),
            root_version: root.version,
            targets,
            expired,
        }))
    }

    /// The cached roles whose expiry had passed at the `now` given to [`VerifiedCache::open`].
    pub fn expired(&self) -> &[ExpiredRole] {
        &self.expired
    }

    /// Reads target `name`, checked for the length and every hash the verified targets
    /// metadata lists.
    pub fn target(&self, name: &str) -> Result<CachedTarget, TufError> {
        let limits = Limits::default();
        let targets = &self.targets;
        let file = targets
            .signed
            .targets
            .get(name)
            .ok_or_else(|| TufError::TargetMissing {
                name: name.to_owned(),
                targets_version: targets.version,
            })?;
        let path =
            cached_target_path(&self.dir, name, file).ok_or_else(|| TufError::Malformed {
                role: "targets".into(),
                url: targets.url.clone(),
                problem: MetadataProblem::TargetNoNamingHash {
                    name: name.to_owned(),
                },
            })?;
        private_dir::check_path(&self.dir.join("targets"), private_dir::Place::Inside)?;
        let bytes =
            read_cache_file(&path, limits.target_file_bytes)?.ok_or_else(|| TufError::Io {
                path: path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "cached target missing"),
            })?;
        check_target(name, &path.display().to_string(), file, &bytes)?;
        Ok(CachedTarget {
            bytes,
            root_version: self.root_version,
            targets_version: targets.version,
            targets_expires: targets.expires,
            expired: self.expired.clone(),
            path,
        })
    }
}

/// The entry `name` of a timestamp's or snapshot's `meta`.
fn listed_meta<'a>(env: &'a Envelope<MetaSigned>, name: &str) -> Result<&'a MetaFile, TufError> {
    env.signed
        .meta
        .get(name)
        .ok_or_else(|| TufError::Malformed {
            role: env.signed.typ.clone(),
            url: env.url.clone(),
            problem: MetadataProblem::NotInMeta {
                name: name.to_owned(),
            },
        })
}

/// Reads the cached `<role>.json`, which must exist. With `listed` (what the role above lists
/// for it), the bytes must have the listed length and hashes before they are parsed, and the
/// version must be the listed one; signatures are the caller's to check.
fn read_cached_role<T: DeserializeOwned + Header>(
    dir: &Path,
    role: &str,
    listed: Option<&MetaFile>,
    limit: u64,
) -> Result<Envelope<T>, TufError> {
    let path = dir.join(format!("{role}.json"));
    let url = path.display().to_string();
    let raw = read_cache_file(&path, limit)?.ok_or_else(|| TufError::Io {
        path: path.clone(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "cached metadata missing"),
    })?;
    if let Some(meta) = listed {
        check_meta_file(role, &url, meta, &raw)?;
    }
    let env: Envelope<T> = parse_envelope(raw, role, &url)?;
    if let Some(meta) = listed
        && env.version != meta.version
    {
        return Err(TufError::VersionMismatch {
            role: role.to_owned(),
            url,
            expected: meta.version,
            actual: env.version,
        });
    }
    Ok(env)
}

/// A target read back from the cache, re-checked against the verified targets metadata.
#[derive(Debug, Clone)]
pub struct CachedTarget {
    pub bytes: Vec<u8>,
    pub root_version: u64,
    pub targets_version: u64,
    pub targets_expires: DateTime<Utc>,
    /// Cached roles that had expired when the cache was opened (the target is still verified).
    pub expired: Vec<ExpiredRole>,
    pub path: PathBuf,
}

/// [`VerifiedCache::open`] then [`VerifiedCache::target`]: target `name` from a repository
/// cache folder, `Ok(None)` when there is no usable cache.
pub fn load_cached_target(
    cache_dir: &Path,
    name: &str,
    anchor: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<CachedTarget>, TufError> {
    match VerifiedCache::open(cache_dir, anchor, now)? {
        Some(cache) => cache.target(name).map(Some),
        None => Ok(None),
    }
}

/// Something the caller should tell the user about a cache; the library never prints.
#[derive(Debug)]
#[non_exhaustive]
pub enum CacheWarning {
    /// The cache did not verify and was not used.
    Ignored { dir: PathBuf, error: TufError },
    /// The cache was used, but these roles had expired: the last refresh is getting old.
    Expired {
        dir: PathBuf,
        roles: Vec<ExpiredRole>,
    },
}

impl std::fmt::Display for CacheWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ignored { dir, error } => write!(
                f,
                "the TUF cache `{}` did not verify ({}): {}",
                dir.display(),
                error.reason_code(),
                crate::error_chain(error)
            ),
            Self::Expired { dir, roles } => {
                let list: Vec<String> = roles
                    .iter()
                    .map(|r| format!("{} v{} at {}", r.role, r.version, r.expires.to_rfc3339()))
                    .collect();
                write!(
                    f,
                    "the TUF cache `{}` is still used, but some of it has expired ({}): refresh it",
                    dir.display(),
                    list.join(", ")
                )
            }
        }
    }
}

/// The outcome of looking for a cached trusted root.
#[derive(Debug)]
#[non_exhaustive]
pub enum CacheLookup {
    /// No cache folder to look in, or no cache in it.
    Absent,
    /// The target verified; `warning` says when some of its metadata has expired (the last
    /// refresh is getting old), which is no reason to refuse it.
    Found {
        target: CachedTarget,
        warning: Option<CacheWarning>,
    },
    /// The cache did not verify and must not be used.
    Unusable { dir: PathBuf, error: TufError },
}

/// The trusted root cached for repository `url` under `cache_root` (see [`cache_root`]; `None`
/// when there is no folder to look in), verified from `anchor` (see [`VerifiedCache::open`]).
pub fn cached_trusted_root(
    cache_root: Option<&Path>,
    url: &str,
    anchor: &[u8],
    now: DateTime<Utc>,
) -> CacheLookup {
    let Some(root) = cache_root else {
        return CacheLookup::Absent;
    };
    let dir = repo_cache_dir(root, url);
    match load_cached_target(&dir, TRUSTED_ROOT_TARGET, anchor, now) {
        Ok(Some(target)) => CacheLookup::Found {
            warning: (!target.expired.is_empty()).then(|| CacheWarning::Expired {
                dir,
                roles: target.expired.clone(),
            }),
            target,
        },
        Ok(None) => CacheLookup::Absent,
        Err(error) => CacheLookup::Unusable { dir, error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dirs_are_per_repository() {
        let r = Path::new("/c");
        let a = repo_cache_dir(r, "https://tuf-repo-cdn.sigstore.dev");
        assert_eq!(a, repo_cache_dir(r, "https://tuf-repo-cdn.sigstore.dev/"));
        assert_ne!(a, repo_cache_dir(r, "https://tuf-repo-cdn.sigstage.dev"));
        assert!(
            a.to_string_lossy()
                .starts_with("/c/tuf/tuf-repo-cdn.sigstore.dev-")
        );
    }
}
