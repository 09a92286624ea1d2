//! The TUF client workflow ([`refresh`]), one function per step: prepare the private cache
//! folder, update the root chain, then timestamp, snapshot and targets, then the target files,
//! and last the metadata that names them. Only verified bytes are written, atomically.

use std::collections::BTreeSet;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::cache::{cached_target_path, load_cached_role, read_optional, walk_cached_roots};
use super::fetch::{Fetcher, fetch_listed_role};
use super::metadata::{
    Envelope, MetaFile, MetaSigned, RootSigned, TargetFile, TargetsSigned, check_expiry,
    check_target, parse_envelope, parse_self_signed_root, rotate, target_url_hash, verify_role,
};
use super::{Limits, MetadataProblem, SIGNING_CONFIG_TARGET, TRUSTED_ROOT_TARGET, TufError};
use crate::fsutil::private_dir;
use crate::fsutil::write_atomic;

/// What to refresh.
#[derive(Debug, Clone)]
pub struct RefreshOptions<'a> {
    /// The repository's base URL: metadata at `URL/N.root.json`, targets under `URL/targets/`.
    pub url: &'a str,
    /// The trust anchor: a TUF root JSON (the embedded one, or one given by the user).
    pub initial_root: &'a [u8],
    /// This repository's cache folder (see [`super::repo_cache_dir`]).
    pub cache_dir: &'a Path,
    pub now: DateTime<Utc>,
    pub limits: Limits,
}

/// One target file after a refresh.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TargetReport {
    pub name: String,
    pub length: u64,
    pub sha256: Option<String>,
    /// False when the cache already held these exact bytes.
    pub changed: bool,
}

/// What a refresh found and stored.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshReport {
    pub url: String,
    pub cache_dir: PathBuf,
    pub root_version_before: u64,
    pub root_version: u64,
    pub timestamp_version: u64,
    pub snapshot_version: u64,
    pub targets_version: u64,
    pub targets: Vec<TargetReport>,
}

/// Runs the TUF client workflow against `opts.url` and stores the verified metadata and the
/// `trusted_root.json` and (when listed) `signing_config.v0.2.json` targets in the cache.
pub fn refresh(opts: &RefreshOptions<'_>) -> Result<RefreshReport, TufError> {
    let run = Refresh::start(opts)?;
    let (root, root_version_before) = run.update_root(opts.initial_root)?;
    let (timestamp, snapshot_meta) = run.update_timestamp(&root)?;
    let snapshot = run.update_snapshot(&root, &snapshot_meta)?;
    let (targets, old_targets) = run.update_targets(&root, &snapshot)?;
    let mut reports = Vec::new();
    let mut keep = BTreeSet::new();
    for (name, required) in [(TRUSTED_ROOT_TARGET, true), (SIGNING_CONFIG_TARGET, false)] {
        let Some(file) = targets.signed.targets.get(name) else {
            if required {
                return Err(TufError::TargetMissing {
                    name: name.to_owned(),
                    targets_version: targets.version,
                });
            }
            continue;
        };
        let (report, cache_path) =
            run.update_target_file(&root, &targets, old_targets.as_ref(), name, file)?;
        keep.insert(cache_path);
        reports.push(report);
    }
    run.store_metadata(&snapshot, &targets, &timestamp, &keep)?;
    Ok(RefreshReport {
        url: run.base.to_owned(),
        cache_dir: run.dir.to_path_buf(),
        root_version_before,
        root_version: root.version,
        timestamp_version: timestamp.version,
        snapshot_version: snapshot.version,
        targets_version: targets.version,
        targets: reports,
    })
}

/// One refresh in progress: where it reads from and writes to.
struct Refresh<'a> {
    base: &'a str,
    dir: &'a Path,
    limits: &'a Limits,
    now: DateTime<Utc>,
    fetch: Fetcher,
}

impl<'a> Refresh<'a> {
    /// Makes the cache folder, private from the start (umask only removes bits): verification
    /// refuses a cache folder others can write, so one must never be made here.
    fn start(opts: &'a RefreshOptions<'a>) -> Result<Self, TufError> {
        let dir = opts.cache_dir;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir.join("targets"))
            .map_err(|source| TufError::Io {
                path: dir.join("targets"),
                source,
            })?;
        private_dir::check_dir(dir)?;
        private_dir::check_path(&dir.join("targets"), private_dir::Place::Inside)?;
        Ok(Self {
            base: opts.url.trim_end_matches('/'),
            dir,
            limits: &opts.limits,
            now: opts.now,
            fetch: Fetcher::new(opts.limits.timeout),
        })
    }

    fn write(&self, name: &str, data: &[u8]) -> Result<(), TufError> {
        write_atomic(&self.dir.join(name), data, 0o644, true)?;
        Ok(())
    }

    /// The trusted root: the anchor, then every cached root version that verifies from it (a
    /// refresh never trusts a cached root on its own signatures), then each `N+1.root.json` the
    /// repository has, signed by a threshold of the old root and of itself. Where the cached
    /// chain stops, for whatever reason, the repository is asked for the next version. The
    /// final root must not have expired. Returns it and the version the chain started from.
    fn update_root(&self, anchor: &[u8]) -> Result<(Envelope<RootSigned>, u64), TufError> {
        let limits = self.limits;
        let anchor = parse_self_signed_root(anchor.to_vec(), "the initial trusted root")?;
        let (mut root, _) = walk_cached_roots(self.dir, anchor, limits);
        let root_version_before = root.version;
        let mut reached_end = false;
        for _ in 0..limits.max_root_rotations {
            let next = root.version.saturating_add(1);
            let url = format!("{}/{next}.root.json", self.base);
            let Some(raw) = self.fetch.get(&url, "root", limits.root_bytes)? else {
                reached_end = true;
                break;
            };
            let new = rotate(&root, parse_envelope(raw, "root", &url)?)?;
            // Persist each step, the chain link before the head: a later failure must not undo
            // a verified rotation, and `root.json` never names a version the chain cannot reach.
            self.write(&format!("{next}.root.json"), &new.raw)?;
            self.write("root.json", &new.raw)?;
            root = new;
        }
        if !reached_end {
            return Err(TufError::TooManyRootRotations {
                url: self.base.to_owned(),
                limit: limits.max_root_rotations,
            });
        }
        check_expiry(&root, "root", self.now)?;
        // A damaged or oversized `root.json` is simply replaced.
        let head = read_optional(&self.dir.join("root.json"), limits.root_bytes)
            .ok()
            .flatten();
        if head.as_deref() != Some(&root.raw[..]) {
            self.write("root.json", &root.raw)?;
        }
        Ok((root, root_version_before))
    }

    /// The timestamp: signed by the root's timestamp keys, neither it nor the snapshot version
    /// it lists older than the cached one, not expired. Returns it and its snapshot entry.
    fn update_timestamp(
        &self,
        root: &Envelope<RootSigned>,
    ) -> Result<(Envelope<MetaSigned>, MetaFile), TufError> {
        let limits = self.limits;
        let old: Option<Envelope<MetaSigned>> =
            load_cached_role(self.dir, "timestamp", root, limits.timestamp_bytes)?;
        let url = format!("{}/timestamp.json", self.base);
        let raw = self
            .fetch
            .get_required(&url, "timestamp", limits.timestamp_bytes)?;
        let ts: Envelope<MetaSigned> = parse_envelope(raw, "timestamp", &url)?;
        verify_role(&ts, root, "timestamp")?;
        let snap_meta = ts
            .signed
            .meta
            .get("snapshot.json")
            .ok_or_else(|| TufError::Malformed {
                role: "timestamp".into(),
                url: url.clone(),
                problem: MetadataProblem::NotInMeta {
                    name: "snapshot.json".into(),
                },
            })?
            .clone();
        if let Some(old) = &old {
            if ts.version < old.version {
                return Err(TufError::Rollback {
                    role: "timestamp".into(),
                    url,
                    trusted: old.version,
                    offered: ts.version,
                });
            }
            if let Some(old_snap) = old.signed.meta.get("snapshot.json")
                && snap_meta.version < old_snap.version
            {
                return Err(TufError::Rollback {
                    role: "snapshot".into(),
                    url,
                    trusted: old_snap.version,
                    offered: snap_meta.version,
                });
            }
        }
        check_expiry(&ts, "timestamp", self.now)?;
        Ok((ts, snap_meta))
    }

    /// The snapshot: its bytes must match what the timestamp lists before they are even
    /// parsed; no file it lists may be older than in the cached snapshot; not expired.
    fn update_snapshot(
        &self,
        root: &Envelope<RootSigned>,
        listed: &MetaFile,
    ) -> Result<Envelope<MetaSigned>, TufError> {
        let limits = self.limits;
        let old: Option<Envelope<MetaSigned>> =
            load_cached_role(self.dir, "snapshot", root, limits.snapshot_bytes)?;
        let (snap, url): (Envelope<MetaSigned>, String) = fetch_listed_role(
            &self.fetch,
            self.base,
            root,
            "snapshot",
            listed,
            limits.snapshot_bytes,
        )?;
        if let Some(old) = &old {
            for (name, old_meta) in &old.signed.meta {
                let offered = snap.signed.meta.get(name).map_or(0, |m| m.version);
                if offered < old_meta.version {
                    return Err(TufError::Rollback {
                        role: name.trim_end_matches(".json").to_owned(),
                        url,
                        trusted: old_meta.version,
                        offered,
                    });
                }
            }
        }
        check_expiry(&snap, "snapshot", self.now)?;
        Ok(snap)
    }

    /// The targets metadata the snapshot lists, not expired; with the cached one (if it still
    /// verifies), to tell which target files changed.
    #[allow(clippy::type_complexity)]
    fn update_targets(
        &self,
        root: &Envelope<RootSigned>,
        snapshot: &Envelope<MetaSigned>,
    ) -> Result<(Envelope<TargetsSigned>, Option<Envelope<TargetsSigned>>), TufError> {
        let limits = self.limits;
        let listed =
            snapshot
                .signed
                .meta
                .get("targets.json")
                .ok_or_else(|| TufError::Malformed {
                    role: "snapshot".into(),
                    url: snapshot.url.clone(),
                    problem: MetadataProblem::NotInMeta {
                        name: "targets.json".into(),
                    },
                })?;
        let old: Option<Envelope<TargetsSigned>> =
            load_cached_role(self.dir, "targets", root, limits.targets_bytes)?;
        let (targets, _): (Envelope<TargetsSigned>, String) = fetch_listed_role(
            &self.fetch,
            self.base,
            root,
            "targets",
            listed,
            limits.targets_bytes,
        )?;
        check_expiry(&targets, "targets", self.now)?;
        Ok((targets, old))
    }

    /// One target file: reused from the cache when the cached bytes match the length and every
    /// hash listed, else downloaded (bounded by the listed length), checked, and stored under
    /// its hash. Returns its report line and its cache path.
    fn update_target_file(
        &self,
        root: &Envelope<RootSigned>,
        targets: &Envelope<TargetsSigned>,
        old_targets: Option<&Envelope<TargetsSigned>>,
        name: &str,
        file: &TargetFile,
    ) -> Result<(TargetReport, PathBuf), TufError> {
        let limits = self.limits;
        let (alg, hash) = target_url_hash(file).ok_or_else(|| TufError::Malformed {
            role: "targets".into(),
            url: targets.url.clone(),
            problem: MetadataProblem::TargetNoNamingHash {
                name: name.to_owned(),
            },
        })?;
        let cache_path =
            cached_target_path(self.dir, name, file).ok_or_else(|| TufError::Malformed {
                role: "targets".into(),
                url: targets.url.clone(),
                problem: MetadataProblem::TargetNoUsableHash {
                    name: name.to_owned(),
                },
            })?;
        let previous = old_targets
            .and_then(|t| t.signed.targets.get(name))
            .and_then(|f| target_url_hash(f).map(|(a, h)| (a, h.to_owned())));
        let cached = read_optional(&cache_path, limits.target_file_bytes)?
            .filter(|d| check_target(name, &cache_path.display().to_string(), file, d).is_ok());
        if cached.is_none() {
            let url = if root.signed.consistent_snapshot {
                format!("{}/targets/{hash}.{name}", self.base)
            } else {
                format!("{}/targets/{name}", self.base)
            };
            let data = self.download_target(&url, name, file)?;
            let rel = cache_path
                .strip_prefix(self.dir)
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| cache_path.clone());
            self.write(&rel.to_string_lossy(), &data)?;
        }
        let report = TargetReport {
            name: name.to_owned(),
            length: file.length,
            sha256: file.hashes.get("sha256").cloned(),
            changed: previous
                .as_ref()
                .is_none_or(|(a, h)| *a != alg || h != hash),
        };
        Ok((report, cache_path))
    }

    /// Downloads target `name` from `url`, refusing more than the listed length (and the
    /// limit), and checks it against the length and every listed hash.
    fn download_target(
        &self,
        url: &str,
        name: &str,
        file: &TargetFile,
    ) -> Result<Vec<u8>, TufError> {
        let limit = self.limits.target_file_bytes;
        if file.length > limit {
            return Err(TufError::TooLarge {
                role: format!("target `{name}`"),
                url: url.to_owned(),
                limit,
            });
        }
        // One byte more than announced, so a longer file is reported as a length mismatch.
        let data = self
            .fetch
            .get(url, &format!("target `{name}`"), file.length + 1)
            .map_err(|e| match e {
                TufError::TooLarge { .. } => TufError::TargetLength {
                    name: name.to_owned(),
                    url: url.to_owned(),
                    expected: file.length,
                    actual: file.length + 1,
                },
                other => other,
            })?
            .ok_or_else(|| TufError::Status {
                role: format!("target `{name}`"),
                url: url.to_owned(),
                status: 404,
            })?;
        check_target(name, url, file, &data)?;
        Ok(data)
    }

    /// Metadata last, so the cached targets metadata never names a file not yet stored; then
    /// target files no longer named are removed.
    fn store_metadata(
        &self,
        snapshot: &Envelope<MetaSigned>,
        targets: &Envelope<TargetsSigned>,
        timestamp: &Envelope<MetaSigned>,
        keep: &BTreeSet<PathBuf>,
    ) -> Result<(), TufError> {
        self.write("snapshot.json", &snapshot.raw)?;
        self.write("targets.json", &targets.raw)?;
        self.write("timestamp.json", &timestamp.raw)?;
        remove_unreferenced_targets(&self.dir.join("targets"), keep);
        Ok(())
    }
}

/// Best effort: old target files only take space, they are never read without a hash match.
fn remove_unreferenced_targets(dir: &Path, keep: &BTreeSet<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if !keep.contains(&p) && p.is_file() {
            let _ = std::fs::remove_file(&p);
        }
    }
}
