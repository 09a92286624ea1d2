//! Refreshing Sigstore trust material over TUF: a minimal client for the TUF 1.0 client
//! workflow, limited to what Sigstore's repositories use (top-level roles only; delegated
//! targets are not followed because `trusted_root.json` and `signing_config.v0.2.json` are
//! top-level targets), and the on-disk cache verification reads from without any network.
//!
//! Workflow ([`refresh`]): start from the trust anchor (embedded, or given) and the cached root
//! versions that chain from it; walk `N+1.root.json` until the repository has no next version,
//! each step signed by a threshold of the old root's root keys and of its own; refuse an
//! expired final root; then timestamp, snapshot and targets, each checked for signatures,
//! version, expiry and rollback; then the wanted target files, checked for length and every
//! listed hash. Only verified bytes are written to the cache, atomically.
//!
//! Reading the cache ([`VerifiedCache::open`]) repeats those checks offline from the anchor, in
//! a folder only we (or root) can write; a cache that fails is never used.

pub mod olpc;
mod private_dir;

pub use private_dir::PathProblem;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256, Sha512};

use super::keys::PublicKey;
use crate::fsutil::{WriteError, write_atomic};

/// The public-good instance's TUF repository.
pub const PRODUCTION_URL: &str = "https://tuf-repo-cdn.sigstore.dev";
/// The staging instance's TUF repository.
pub const STAGING_URL: &str = "https://tuf-repo-cdn.sigstage.dev";
/// The target holding the instance's trusted root.
pub const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";
/// The target holding the instance's signing configuration (optional in a repository).
pub const SIGNING_CONFIG_TARGET: &str = "signing_config.v0.2.json";

static PRODUCTION_ROOT: &[u8] =
    include_bytes!("../../testdata/sigstore-trust/production.tuf-root.json");
static STAGING_ROOT: &[u8] = include_bytes!("../../testdata/sigstore-trust/staging.tuf-root.json");

/// The embedded TUF root of the production instance (the trust anchor for [`PRODUCTION_URL`]).
pub fn production_root() -> &'static [u8] {
    PRODUCTION_ROOT
}

/// The embedded TUF root of the staging instance (the trust anchor for [`STAGING_URL`]).
pub fn staging_root() -> &'static [u8] {
    STAGING_ROOT
}

/// Bounds on everything fetched. The metadata defaults are python-tuf's.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub root_bytes: u64,
    pub timestamp_bytes: u64,
    pub snapshot_bytes: u64,
    pub targets_bytes: u64,
    pub target_file_bytes: u64,
    /// How many `N+1.root.json` steps one refresh may take.
    pub max_root_rotations: u64,
    /// Whole-request timeout for each download.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            root_bytes: 512_000,
            timestamp_bytes: 16_384,
            snapshot_bytes: 2_000_000,
            targets_bytes: 5_000_000,
            target_file_bytes: super::trust::MAX_TRUST_FILE_BYTES,
            max_root_rotations: 1024,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Why a refresh or a cached read failed. `url` fields hold the URL or cache path read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TufError {
    #[error("cannot fetch {role} from {url}: {reason}")]
    Fetch {
        role: String,
        url: String,
        reason: String,
    },
    #[error("{url} answered http {status} for {role}")]
    Status {
        role: String,
        url: String,
        status: u16,
    },
    #[error("{role} from {url} is larger than the {limit}-byte limit")]
    TooLarge {
        role: String,
        url: String,
        limit: u64,
    },
    #[error("malformed {role} from {url}: {reason}")]
    Malformed {
        role: String,
        url: String,
        reason: String,
    },
    #[error(
        "{role} v{version} from {url}: {valid} valid signature(s) by {signer} keys, {threshold} required; {bad} signature(s) by its keys failed to verify"
    )]
    BadSignature {
        role: String,
        version: u64,
        url: String,
        signer: String,
        valid: usize,
        threshold: u64,
        bad: usize,
    },
    #[error(
        "{role} v{version} from {url}: {valid} valid signature(s) by {signer} keys, {threshold} required"
    )]
    BelowThreshold {
        role: String,
        version: u64,
        url: String,
        signer: String,
        valid: usize,
        threshold: u64,
    },
    #[error("{role} from {url}: expected version {expected}, got {actual}")]
    VersionMismatch {
        role: String,
        url: String,
        expected: u64,
        actual: u64,
    },
    #[error("{role} rollback from {url}: trusted version {trusted}, offered {offered}")]
    Rollback {
        role: String,
        url: String,
        trusted: u64,
        offered: u64,
    },
    #[error("{role} v{version} from {url} expired at {expires}")]
    Expired {
        role: String,
        version: u64,
        url: String,
        expires: String,
    },
    #[error("{role} from {url}: {what} mismatch, expected {expected}, got {actual}")]
    MetaMismatch {
        role: String,
        url: String,
        what: String,
        expected: String,
        actual: String,
    },
    #[error("target `{name}` from {url}: length mismatch, expected {expected}, got {actual}")]
    TargetLength {
        name: String,
        url: String,
        expected: u64,
        actual: u64,
    },
    #[error("target `{name}` from {url}: {algorithm} mismatch, expected {expected}, got {actual}")]
    TargetHash {
        name: String,
        url: String,
        algorithm: String,
        expected: String,
        actual: String,
    },
    #[error("target `{name}` is not listed in targets v{targets_version}")]
    TargetMissing { name: String, targets_version: u64 },
    #[error("more than {limit} root versions after the trusted one at {url}")]
    TooManyRootRotations { url: String, limit: u64 },
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the TUF cache")]
    Write(#[from] WriteError),
    #[error("unsafe TUF cache: `{}` {problem}", path.display())]
    UnsafeCache { path: PathBuf, problem: PathProblem },
    #[error(
        "cached `{}` (root v{claimed}) is not the end of the root chain verified from the trust anchor (v{verified})",
        path.display()
    )]
    RootChainBroken {
        path: PathBuf,
        claimed: u64,
        verified: u64,
    },
}

impl TufError {
    /// A stable kebab-case reason code for reports and scenario files.
    pub fn reason_code(&self) -> crate::reason::Reason {
        use crate::reason::Reason;
        match self {
            Self::Fetch { .. } | Self::Status { .. } => Reason::Network,
            Self::TooLarge { .. } => Reason::OversizedMetadata,
            Self::Malformed { .. } => Reason::MalformedMetadata,
            Self::BadSignature { .. } => Reason::BadSignature,
            Self::BelowThreshold { .. } => Reason::BelowThreshold,
            Self::VersionMismatch { .. } => Reason::VersionMismatch,
            Self::Rollback { .. } => Reason::Rollback,
            Self::Expired { .. } => Reason::MetadataExpired,
            Self::MetaMismatch { .. } => Reason::MetadataMismatch,
            Self::TargetLength { .. } => Reason::TargetLengthMismatch,
            Self::TargetHash { .. } => Reason::TargetHashMismatch,
            Self::TargetMissing { .. } => Reason::TargetMissing,
            Self::TooManyRootRotations { .. } => Reason::RootRotationLimit,
            Self::Io { .. } | Self::Write(_) => Reason::Io,
            Self::UnsafeCache { .. } => Reason::UnsafeCache,
            Self::RootChainBroken { .. } => Reason::RootChainBroken,
        }
    }

    /// True when the repository offered something that failed verification (as opposed to the
    /// network or the local disk failing): the CLI exits 1 for these, 2 for the rest.
    pub fn is_rejection(&self) -> bool {
        !matches!(
            self,
            Self::Fetch { .. }
                | Self::Status { .. }
                | Self::Io { .. }
                | Self::Write(_)
                | Self::UnsafeCache { .. }
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Metadata model

#[derive(Debug, Clone, Deserialize)]
struct RawKey {
    keytype: String,
    scheme: String,
    keyval: RawKeyVal,
}

#[derive(Debug, Clone, Deserialize)]
struct RawKeyVal {
    public: String,
}

#[derive(Debug, Clone, Deserialize)]
struct RoleKeys {
    keyids: Vec<String>,
    threshold: u64,
}

#[derive(Debug, Clone, Deserialize)]
struct RootSigned {
    #[serde(rename = "_type")]
    typ: String,
    spec_version: String,
    version: u64,
    expires: String,
    keys: BTreeMap<String, RawKey>,
    roles: BTreeMap<String, RoleKeys>,
    #[serde(default)]
    consistent_snapshot: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct MetaFile {
    version: u64,
    #[serde(default)]
    length: Option<u64>,
    #[serde(default)]
    hashes: Option<BTreeMap<String, String>>,
}

/// Timestamp and snapshot share a shape: a `meta` map of file name to version.
#[derive(Debug, Clone, Deserialize)]
struct MetaSigned {
    #[serde(rename = "_type")]
    typ: String,
    spec_version: String,
    version: u64,
    expires: String,
    meta: BTreeMap<String, MetaFile>,
}

#[derive(Debug, Clone, Deserialize)]
struct TargetFile {
    length: u64,
    hashes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
struct TargetsSigned {
    #[serde(rename = "_type")]
    typ: String,
    spec_version: String,
    version: u64,
    expires: String,
    #[serde(default)]
    targets: BTreeMap<String, TargetFile>,
}

trait Header {
    fn header(&self) -> (&str, &str, u64, &str);
}

impl Header for RootSigned {
    fn header(&self) -> (&str, &str, u64, &str) {
        (&self.typ, &self.spec_version, self.version, &self.expires)
    }
}
impl Header for MetaSigned {
    fn header(&self) -> (&str, &str, u64, &str) {
        (&self.typ, &self.spec_version, self.version, &self.expires)
    }
}
impl Header for TargetsSigned {
    fn header(&self) -> (&str, &str, u64, &str) {
        (&self.typ, &self.spec_version, self.version, &self.expires)
    }
}

/// A parsed metadata file whose signatures are not yet checked.
#[derive(Debug, Clone)]
struct Envelope<T> {
    signed: T,
    version: u64,
    expires: DateTime<Utc>,
    /// The OLPC canonical bytes of `signed`: what the signatures cover.
    canonical: Vec<u8>,
    signatures: Vec<(String, Vec<u8>)>,
    /// The file as fetched, written to the cache unchanged.
    raw: Vec<u8>,
    url: String,
}

fn parse_envelope<T: DeserializeOwned + Header>(
    raw: Vec<u8>,
    role: &str,
    url: &str,
) -> Result<Envelope<T>, TufError> {
    let bad = |reason: String| TufError::Malformed {
        role: role.to_owned(),
        url: url.to_owned(),
        reason,
    };
    let value = crate::json::parse_value(&raw).map_err(|e| bad(crate::error_chain(&e)))?;
    let Value::Object(mut top) = value else {
        return Err(bad("not a JSON object".into()));
    };
    let signed_value = top
        .remove("signed")
        .ok_or_else(|| bad("no `signed` member".into()))?;
    let sigs = top
        .remove("signatures")
        .ok_or_else(|| bad("no `signatures` member".into()))?;
    let Value::Array(sigs) = sigs else {
        return Err(bad("`signatures` is not an array".into()));
    };
    let mut signatures = Vec::with_capacity(sigs.len());
    for s in sigs {
        #[derive(Deserialize)]
        struct RawSig {
            keyid: String,
            sig: String,
        }
        let s: RawSig =
            serde_json::from_value(s).map_err(|e| bad(format!("invalid signature entry: {e}")))?;
        let sig = hex::decode(&s.sig)
            .map_err(|_| bad(format!("signature by key {} is not hex", s.keyid)))?;
        signatures.push((s.keyid, sig));
    }
    let canonical = olpc::encode(&signed_value).map_err(|e| bad(e.to_string()))?;
    let signed: T = serde_json::from_value(signed_value).map_err(|e| bad(e.to_string()))?;
    let (typ, spec_version, version, expires) = signed.header();
    if typ != role {
        return Err(bad(format!("`_type` is `{typ}`, expected `{role}`")));
    }
    // Only major version 1 of the specification is understood.
    if spec_version.split('.').next() != Some("1") {
        return Err(bad(format!("unsupported spec_version `{spec_version}`")));
    }
    if version == 0 {
        return Err(bad("version 0 (versions start at 1)".into()));
    }
    let expires = parse_expires(expires).map_err(bad)?;
    Ok(Envelope {
        version,
        expires,
        signed,
        canonical,
        signatures,
        raw,
        url: url.to_owned(),
    })
}

fn parse_expires(s: &str) -> Result<DateTime<Utc>, String> {
    if !s.ends_with('Z') {
        return Err(format!("expires `{s}` is not a UTC time ending in Z"));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("invalid expires `{s}`: {e}"))
}

/// A key in one of the forms Sigstore's repositories use; `None` for any other (such a key can
/// never count towards a threshold).
fn parse_key(k: &RawKey) -> Option<PublicKey> {
    match (k.keytype.as_str(), k.scheme.as_str()) {
        ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
            match PublicKey::from_pem(&k.keyval.public).ok()? {
                key @ PublicKey::P256(_) => Some(key),
                _ => None,
            }
        }
        ("ecdsa" | "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384") => {
            match PublicKey::from_pem(&k.keyval.public).ok()? {
                key @ PublicKey::P384(_) => Some(key),
                _ => None,
            }
        }
        ("ed25519", "ed25519") => {
            let bytes: [u8; 32] = hex::decode(&k.keyval.public).ok()?.try_into().ok()?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .ok()
                .map(PublicKey::Ed25519)
        }
        _ => None,
    }
}

/// Checks that `env` carries valid signatures by at least `threshold` distinct keys that
/// `root` assigns to `role`.
fn verify_role<T>(
    env: &Envelope<T>,
    root: &Envelope<RootSigned>,
    role: &str,
) -> Result<(), TufError> {
    let signer = format!("root v{}", root.version);
    let keys = root
        .signed
        .roles
        .get(role)
        .ok_or_else(|| TufError::Malformed {
            role: "root".into(),
            url: root.url.clone(),
            reason: format!("no `{role}` role"),
        })?;
    if keys.threshold == 0 {
        return Err(TufError::Malformed {
            role: "root".into(),
            url: root.url.clone(),
            reason: format!("`{role}` role has threshold 0"),
        });
    }
    let mut valid = BTreeSet::new();
    let mut bad = 0usize;
    for (keyid, sig) in &env.signatures {
        if valid.contains(keyid) || !keys.keyids.iter().any(|k| k == keyid) {
            continue;
        }
        let Some(key) = root.signed.keys.get(keyid).and_then(parse_key) else {
            continue;
        };
        match key.verify(&env.canonical, sig) {
            Ok(()) => {
                valid.insert(keyid.clone());
            }
            Err(_) => bad += 1,
        }
    }
    if (valid.len() as u64) >= keys.threshold {
        return Ok(());
    }
    let role = role.to_owned();
    Err(if bad > 0 {
        TufError::BadSignature {
            role,
            version: env.version,
            url: env.url.clone(),
            signer,
            valid: valid.len(),
            threshold: keys.threshold,
            bad,
        }
    } else {
        TufError::BelowThreshold {
            role,
            version: env.version,
            url: env.url.clone(),
            signer,
            valid: valid.len(),
            threshold: keys.threshold,
        }
    })
}

fn check_expiry<T>(env: &Envelope<T>, role: &str, now: DateTime<Utc>) -> Result<(), TufError> {
    if env.expires <= now {
        return Err(TufError::Expired {
            role: role.to_owned(),
            version: env.version,
            url: env.url.clone(),
            expires: env.expires.to_rfc3339(),
        });
    }
    Ok(())
}

/// Hex digest of `data` with a TUF hash algorithm name, `None` for one we do not implement.
fn hash_hex(algorithm: &str, data: &[u8]) -> Option<String> {
    match algorithm {
        "sha256" => Some(hex::encode(Sha256::digest(data))),
        "sha512" => Some(hex::encode(Sha512::digest(data))),
        _ => None,
    }
}

/// Parses and self-verifies a root: a threshold of its own root keys must sign it. This is
/// how a trust anchor (embedded or cached) is checked before use.
fn parse_self_signed_root(raw: Vec<u8>, url: &str) -> Result<Envelope<RootSigned>, TufError> {
    let root: Envelope<RootSigned> = parse_envelope(raw, "root", url)?;
    verify_role(&root, &root, "root")?;
    Ok(root)
}

/// Parses a trusted TUF root and checks that a threshold of its own root keys signed it; returns
/// its version. Used on the embedded roots (a published test vector) and on `--tuf-root` files.
pub fn verify_root_self_signed(raw: &[u8], name: &str) -> Result<u64, TufError> {
    Ok(parse_self_signed_root(raw.to_vec(), name)?.version)
}

/// One root rotation step: `new` must be signed by a threshold of `trusted`'s root keys and of
/// its own, and be exactly the next version.
fn rotate(
    trusted: &Envelope<RootSigned>,
    new: Envelope<RootSigned>,
) -> Result<Envelope<RootSigned>, TufError> {
    verify_role(&new, trusted, "root")?;
    verify_role(&new, &new, "root")?;
    let next = trusted.version.saturating_add(1);
    if new.version != next {
        return Err(TufError::VersionMismatch {
            role: "root".into(),
            url: new.url.clone(),
            expected: next,
            actual: new.version,
        });
    }
    Ok(new)
}

/// Parses one metadata file of `role` (`root`, `timestamp`, `snapshot` or `targets`) as a
/// refresh does, before any signature check; returns its version. For the fuzz targets.
pub(crate) fn parse_role(role: &str, raw: &[u8]) -> Result<u64, TufError> {
    let url = "fuzz-input";
    let version = match role {
        "root" => parse_envelope::<RootSigned>(raw.to_vec(), role, url)?.version,
        "timestamp" | "snapshot" => parse_envelope::<MetaSigned>(raw.to_vec(), role, url)?.version,
        _ => parse_envelope::<TargetsSigned>(raw.to_vec(), "targets", url)?.version,
    };
    Ok(version)
}

// ---------------------------------------------------------------------------------------------
// Fetching

struct Fetcher {
    agent: ureq::Agent,
}

impl Fetcher {
    fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            // Everything fetched is verified, so following a CDN redirect is harmless; a bound
            // keeps a redirect loop finite.
            .max_redirects(3)
            .user_agent(concat!("mcpsig/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent }
    }

    /// `Ok(None)` when the server says the file does not exist (404, or 403 as S3 answers).
    fn get(&self, url: &str, role: &str, limit: u64) -> Result<Option<Vec<u8>>, TufError> {
        let mut resp = self.agent.get(url).call().map_err(|e| TufError::Fetch {
            role: role.to_owned(),
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        if status == 404 || status == 403 {
            return Ok(None);
        }
        if status != 200 {
            return Err(TufError::Status {
                role: role.to_owned(),
                url: url.to_owned(),
                status,
            });
        }
        match resp.body_mut().with_config().limit(limit).read_to_vec() {
            Ok(body) => Ok(Some(body)),
            Err(ureq::Error::BodyExceedsLimit(_)) => Err(TufError::TooLarge {
                role: role.to_owned(),
                url: url.to_owned(),
                limit,
            }),
            Err(e) => Err(TufError::Fetch {
                role: role.to_owned(),
                url: url.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    fn get_required(&self, url: &str, role: &str, limit: u64) -> Result<Vec<u8>, TufError> {
        self.get(url, role, limit)?.ok_or_else(|| TufError::Status {
            role: role.to_owned(),
            url: url.to_owned(),
            status: 404,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The cache

/// The cache root: `$MCPSIG_CACHE_DIR`, else `$XDG_CACHE_HOME/mcpsig`, else `~/.cache/mcpsig`.
pub fn cache_root() -> Option<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = nonempty("MCPSIG_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = nonempty("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("mcpsig"));
    }
    nonempty("HOME").map(|h| PathBuf::from(h).join(".cache").join("mcpsig"))
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

fn read_optional(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, TufError> {
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
fn cached_target_path(dir: &Path, name: &str, file: &TargetFile) -> Option<PathBuf> {
    let (alg, hash) = target_url_hash(file)?;
    Some(dir.join("targets").join(format!("{alg}-{hash}.{name}")))
}

/// The hash a consistent-snapshot repository prefixes target file names with.
fn target_url_hash(file: &TargetFile) -> Option<(&'static str, &str)> {
    if let Some(h) = file.hashes.get("sha256") {
        return Some(("sha256", h));
    }
    file.hashes.get("sha512").map(|h| ("sha512", h.as_str()))
}

fn check_target(name: &str, url: &str, file: &TargetFile, data: &[u8]) -> Result<(), TufError> {
    if data.len() as u64 != file.length {
        return Err(TufError::TargetLength {
            name: name.to_owned(),
            url: url.to_owned(),
            expected: file.length,
            actual: data.len() as u64,
        });
    }
    if file.hashes.is_empty() {
        return Err(TufError::Malformed {
            role: "targets".into(),
            url: url.to_owned(),
            reason: format!("target `{name}` lists no hashes"),
        });
    }
    for (alg, expected) in &file.hashes {
        // An algorithm we cannot compute is a hash we cannot check: refuse rather than skip it.
        let actual = hash_hex(alg, data).ok_or_else(|| TufError::Malformed {
            role: "targets".into(),
            url: url.to_owned(),
            reason: format!("target `{name}` uses unsupported hash algorithm `{alg}`"),
        })?;
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(TufError::TargetHash {
                name: name.to_owned(),
                url: url.to_owned(),
                algorithm: alg.clone(),
                expected: expected.clone(),
                actual,
            });
        }
    }
    Ok(())
}

/// Fetches a role that another role's `meta` lists (snapshot from timestamp, targets from
/// snapshot): by version under consistent snapshots, bytes checked against the listed length and
/// hashes before parsing, signatures by the root's threshold, version equal to the listed one.
fn fetch_listed_role<T: DeserializeOwned + Header>(
    fetch: &Fetcher,
    base: &str,
    root: &Envelope<RootSigned>,
    role: &str,
    meta: &MetaFile,
    max_bytes: u64,
) -> Result<(Envelope<T>, String), TufError> {
    let url = if root.signed.consistent_snapshot {
        format!("{base}/{}.{role}.json", meta.version)
    } else {
        format!("{base}/{role}.json")
    };
    let limit = meta.length.map_or(max_bytes, |l| l.min(max_bytes));
    let raw = fetch.get_required(&url, role, limit)?;
    check_meta_file(role, &url, meta, &raw)?;
    let env: Envelope<T> = parse_envelope(raw, role, &url)?;
    verify_role(&env, root, role)?;
    if env.version != meta.version {
        return Err(TufError::VersionMismatch {
            role: role.into(),
            url,
            expected: meta.version,
            actual: env.version,
        });
    }
    Ok((env, url))
}

fn check_meta_file(role: &str, url: &str, meta: &MetaFile, data: &[u8]) -> Result<(), TufError> {
    let mismatch = |what: String, expected: String, actual: String| TufError::MetaMismatch {
        role: role.to_owned(),
        url: url.to_owned(),
        what,
        expected,
        actual,
    };
    if let Some(len) = meta.length
        && len != data.len() as u64
    {
        return Err(mismatch(
            "length".into(),
            len.to_string(),
            data.len().to_string(),
        ));
    }
    for (alg, expected) in meta.hashes.iter().flatten() {
        let actual = hash_hex(alg, data).ok_or_else(|| TufError::Malformed {
            role: role.to_owned(),
            url: url.to_owned(),
            reason: format!("unsupported hash algorithm `{alg}`"),
        })?;
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(mismatch(format!("{alg} hash"), expected.clone(), actual));
        }
    }
    Ok(())
}

/// Loads a cached metadata file if it exists and is signed by a threshold of `root`'s keys for
/// its role. Its expiry is not checked: it only serves as the floor for rollback checks.
fn load_cached_role<T: DeserializeOwned + Header>(
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

// ---------------------------------------------------------------------------------------------
// Refresh

/// What to refresh.
#[derive(Debug, Clone)]
pub struct RefreshOptions<'a> {
    /// The repository's base URL: metadata at `URL/N.root.json`, targets under `URL/targets/`.
    pub url: &'a str,
    /// The trust anchor: a TUF root JSON (the embedded one, or one given by the user).
    pub initial_root: &'a [u8],
    /// This repository's cache folder (see [`repo_cache_dir`]).
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
    let base = opts.url.trim_end_matches('/');
    let dir = opts.cache_dir;
    let limits = &opts.limits;
    let fetch = Fetcher::new(limits.timeout);
    let write = |name: &str, data: &[u8]| -> Result<(), TufError> {
        write_atomic(&dir.join(name), data, 0o644, true)?;
        Ok(())
    };
    // Private from the start (umask only removes bits): verification refuses a cache folder
    // others can write, so one must never be made here.
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

    // 1. The trusted root: the anchor, then every cached root version that verifies from it
    //    (a refresh never trusts a cached root on its own signatures). Where the cached chain
    //    stops, for whatever reason, the repository is asked for the next version.
    let anchor = parse_self_signed_root(opts.initial_root.to_vec(), "the initial trusted root")?;
    let (mut root, _) = walk_cached_roots(dir, anchor, limits);
    let root_version_before = root.version;

    // 2. Root rotation: each N+1 is signed by a threshold of the old root and of itself.
    let mut reached_end = false;
    for _ in 0..limits.max_root_rotations {
        let next = root.version.saturating_add(1);
        let url = format!("{base}/{next}.root.json");
        let Some(raw) = fetch.get(&url, "root", limits.root_bytes)? else {
            reached_end = true;
            break;
        };
        let new = rotate(&root, parse_envelope(raw, "root", &url)?)?;
        // Persist each step, the chain link before the head: a later failure must not undo a
        // verified rotation, and `root.json` never names a version the chain cannot reach.
        write(&format!("{next}.root.json"), &new.raw)?;
        write("root.json", &new.raw)?;
        root = new;
    }
    if !reached_end {
        return Err(TufError::TooManyRootRotations {
            url: base.to_owned(),
            limit: limits.max_root_rotations,
        });
    }
    check_expiry(&root, "root", opts.now)?;
    let cache_root_path = dir.join("root.json");
    // A damaged or oversized `root.json` is simply replaced.
    let head = read_optional(&cache_root_path, limits.root_bytes)
        .ok()
        .flatten();
    if head.as_deref() != Some(&root.raw[..]) {
        write("root.json", &root.raw)?;
    }

    // 3. Timestamp.
    let old_ts: Option<Envelope<MetaSigned>> =
        load_cached_role(dir, "timestamp", &root, limits.timestamp_bytes)?;
    let url = format!("{base}/timestamp.json");
    let raw = fetch.get_required(&url, "timestamp", limits.timestamp_bytes)?;
    let ts: Envelope<MetaSigned> = parse_envelope(raw, "timestamp", &url)?;
    verify_role(&ts, &root, "timestamp")?;
    let snap_meta = ts
        .signed
        .meta
        .get("snapshot.json")
        .ok_or_else(|| TufError::Malformed {
            role: "timestamp".into(),
            url: url.clone(),
            reason: "no `snapshot.json` in meta".into(),
        })?
        .clone();
    if let Some(old) = &old_ts {
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
    check_expiry(&ts, "timestamp", opts.now)?;

    // 4. Snapshot: the bytes must match what the timestamp says before they are even parsed.
    let old_snap: Option<Envelope<MetaSigned>> =
        load_cached_role(dir, "snapshot", &root, limits.snapshot_bytes)?;
    let (snap, url): (Envelope<MetaSigned>, String) = fetch_listed_role(
        &fetch,
        base,
        &root,
        "snapshot",
        &snap_meta,
        limits.snapshot_bytes,
    )?;
    if let Some(old) = &old_snap {
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
    check_expiry(&snap, "snapshot", opts.now)?;

    // 5. Targets.
    let targets_meta = snap
        .signed
        .meta
        .get("targets.json")
        .ok_or_else(|| TufError::Malformed {
            role: "snapshot".into(),
            url: snap.url.clone(),
            reason: "no `targets.json` in meta".into(),
        })?
        .clone();
    let old_targets: Option<Envelope<TargetsSigned>> =
        load_cached_role(dir, "targets", &root, limits.targets_bytes)?;
    let (targets, _): (Envelope<TargetsSigned>, String) = fetch_listed_role(
        &fetch,
        base,
        &root,
        "targets",
        &targets_meta,
        limits.targets_bytes,
    )?;
    check_expiry(&targets, "targets", opts.now)?;

    // 6. Target files.
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
        let (alg, hash) = target_url_hash(file).ok_or_else(|| TufError::Malformed {
            role: "targets".into(),
            url: targets.url.clone(),
            reason: format!("target `{name}` lists neither a sha256 nor a sha512 hash"),
        })?;
        let cache_path =
            cached_target_path(dir, name, file).ok_or_else(|| TufError::Malformed {
                role: "targets".into(),
                url: targets.url.clone(),
                reason: format!("target `{name}` has no usable hash"),
            })?;
        let previous = old_targets
            .as_ref()
            .and_then(|t| t.signed.targets.get(name))
            .and_then(|f| target_url_hash(f).map(|(a, h)| (a, h.to_owned())));
        let cached = read_optional(&cache_path, limits.target_file_bytes)?
            .filter(|d| check_target(name, &cache_path.display().to_string(), file, d).is_ok());
        if cached.is_none() {
            let url = if root.signed.consistent_snapshot {
                format!("{base}/targets/{hash}.{name}")
            } else {
                format!("{base}/targets/{name}")
            };
            if file.length > limits.target_file_bytes {
                return Err(TufError::TooLarge {
                    role: format!("target `{name}`"),
                    url,
                    limit: limits.target_file_bytes,
                });
            }
            // One byte more than announced, so a longer file is reported as a length mismatch.
            let data = fetch
                .get(&url, &format!("target `{name}`"), file.length + 1)
                .map_err(|e| match e {
                    TufError::TooLarge { .. } => TufError::TargetLength {
                        name: name.to_owned(),
                        url: url.clone(),
                        expected: file.length,
                        actual: file.length + 1,
                    },
                    other => other,
                })?
                .ok_or_else(|| TufError::Status {
                    role: format!("target `{name}`"),
                    url: url.clone(),
                    status: 404,
                })?;
            check_target(name, &url, file, &data)?;
            let rel = cache_path
                .strip_prefix(dir)
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| cache_path.clone());
            write(&rel.to_string_lossy(), &data)?;
        }
        keep.insert(cache_path);
        reports.push(TargetReport {
            name: name.to_owned(),
            length: file.length,
            sha256: file.hashes.get("sha256").cloned(),
            changed: previous
                .as_ref()
                .is_none_or(|(a, h)| *a != alg || h != hash),
        });
    }

    // 7. Metadata last, so the cached targets metadata never names a file not yet stored.
    write("snapshot.json", &snap.raw)?;
    write("targets.json", &targets.raw)?;
    write("timestamp.json", &ts.raw)?;
    remove_unreferenced_targets(&dir.join("targets"), &keep);

    Ok(RefreshReport {
        url: base.to_owned(),
        cache_dir: dir.to_path_buf(),
        root_version_before,
        root_version: root.version,
        timestamp_version: ts.version,
        snapshot_version: snap.version,
        targets_version: targets.version,
        targets: reports,
    })
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

// ---------------------------------------------------------------------------------------------
// Reading the cache during verification (no network)

/// Reads a file from the cache after checking that nobody but us (or root) can have written
/// it; `Ok(None)` when it does not exist.
fn read_cache_file(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, TufError> {
    match private_dir::check_path(path, private_dir::Place::Inside) {
        Err(TufError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        other => other?,
    }
    read_optional(path, limit)
}

/// Follows the cached `N.root.json` files from `start`, each a verified rotation step. Returns
/// the last root reached and, when the walk stopped at a file that is present but failed
/// (unreadable, malformed, badly signed, wrong version) or at the step limit, why.
fn walk_cached_roots(
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
                reason: format!("target `{name}` lists neither a sha256 nor a sha512 hash"),
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
            reason: format!("no `{name}` in meta"),
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

/// The outcome of looking for a cached trusted root: the target when one verified, and what to
/// tell the user either way.
#[derive(Debug, Default)]
pub struct CacheLookup {
    pub target: Option<CachedTarget>,
    pub warnings: Vec<CacheWarning>,
}

/// The trusted root cached for repository `url` under [`cache_root`], verified from `anchor`
/// (see [`VerifiedCache::open`]). A cache that fails is returned as a warning, never as the
/// target; no cache (or no cache folder to name) is neither.
pub fn cached_trusted_root(url: &str, anchor: &[u8], now: DateTime<Utc>) -> CacheLookup {
    let Some(root) = cache_root() else {
        return CacheLookup::default();
    };
    let dir = repo_cache_dir(&root, url);
    match load_cached_target(&dir, TRUSTED_ROOT_TARGET, anchor, now) {
        Ok(Some(target)) => CacheLookup {
            warnings: if target.expired.is_empty() {
                Vec::new()
            } else {
                vec![CacheWarning::Expired {
                    dir,
                    roles: target.expired.clone(),
                }]
            },
            target: Some(target),
        },
        Ok(None) => CacheLookup::default(),
        Err(error) => CacheLookup {
            target: None,
            warnings: vec![CacheWarning::Ignored { dir, error }],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published vectors: the TUF roots Sigstore clients ship are signed by a threshold of
    /// their own root keys over the OLPC canonical form of `signed`.
    #[test]
    fn embedded_roots_verify_themselves() -> Result<(), TufError> {
        assert_eq!(
            verify_root_self_signed(production_root(), "production")?,
            15
        );
        assert_eq!(verify_root_self_signed(staging_root(), "staging")?, 14);
        Ok(())
    }

    #[test]
    fn a_changed_byte_breaks_the_threshold() -> Result<(), Box<dyn std::error::Error>> {
        let mut v: Value = serde_json::from_slice(production_root())?;
        v["signed"]["expires"] = Value::String("2099-01-01T00:00:00Z".into());
        let err = verify_root_self_signed(&serde_json::to_vec(&v)?, "edited")
            .err()
            .ok_or("edited root verified")?;
        assert_eq!(err.reason_code(), "bad-signature");
        // Signatures by keys that are not root keys do not count.
        let mut v: Value = serde_json::from_slice(production_root())?;
        v["signatures"] = Value::Array(vec![]);
        let err = verify_root_self_signed(&serde_json::to_vec(&v)?, "unsigned")
            .err()
            .ok_or("unsigned root verified")?;
        assert_eq!(err.reason_code(), "below-threshold");
        Ok(())
    }

    #[test]
    fn pretty_printing_does_not_matter() -> Result<(), Box<dyn std::error::Error>> {
        let v: Value = serde_json::from_slice(staging_root())?;
        verify_root_self_signed(&serde_json::to_vec(&v)?, "compact")?;
        Ok(())
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let raw = br#"{"signed":{"_type":"root","_type":"targets"},"signatures":[]}"#;
        let err = verify_root_self_signed(raw, "dup").err();
        assert_eq!(
            err.map(|e| e.reason_code().as_str()),
            Some("malformed-metadata")
        );
    }

    #[test]
    fn target_checks() {
        let data = b"hello";
        let file = TargetFile {
            length: 5,
            hashes: BTreeMap::from([("sha256".to_owned(), hex::encode(Sha256::digest(data)))]),
        };
        assert!(check_target("t", "u", &file, data).is_ok());
        let e = check_target("t", "u", &file, b"hellO").err();
        assert_eq!(
            e.map(|e| e.reason_code().as_str()),
            Some("target-hash-mismatch")
        );
        let e = check_target("t", "u", &file, b"hell").err();
        assert_eq!(
            e.map(|e| e.reason_code().as_str()),
            Some("target-length-mismatch")
        );
        let mut md5 = file.clone();
        md5.hashes.insert("md5".into(), "00".into());
        let e = check_target("t", "u", &md5, data).err();
        assert_eq!(
            e.map(|e| e.reason_code().as_str()),
            Some("malformed-metadata")
        );
    }

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
