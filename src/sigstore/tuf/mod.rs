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
//!
//! Files: `metadata` (the model and the checks on it), `fetch` (HTTP), `refresh` (the client
//! workflow, step by step), `cache` (the folder and its offline verification), `olpc` (the
//! canonical JSON signatures cover) and `fsutil::private_dir` (who may write the cache).

mod cache;
mod fetch;
mod metadata;
pub(crate) use metadata::parse_role;
pub mod olpc;
mod refresh;
mod request;

pub use crate::fsutil::private_dir::PathProblem;
pub use cache::{
    CacheLookup, CacheWarning, CachedTarget, ExpiredRole, VerifiedCache, cache_root,
    cached_trusted_root, load_cached_target, repo_cache_dir,
};
pub use metadata::verify_root_self_signed;
pub use olpc::OlpcError;
pub use refresh::{RefreshOptions, RefreshReport, TargetReport, refresh};
pub use request::{RefreshRequest, RefreshRequestError, refresh_request};

use std::path::PathBuf;
use std::time::Duration;

use crate::fsutil::WriteError;

/// The public-good instance's TUF repository.
pub const PRODUCTION_URL: &str = "https://tuf-repo-cdn.sigstore.dev";
/// The staging instance's TUF repository.
pub const STAGING_URL: &str = "https://tuf-repo-cdn.sigstage.dev";
/// The target holding the instance's trusted root.
pub const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";
/// The target holding the instance's signing configuration (optional in a repository).
pub const SIGNING_CONFIG_TARGET: &str = "signing_config.v0.2.json";

static PRODUCTION_ROOT: &[u8] =
    include_bytes!("../../../testdata/sigstore-trust/production.tuf-root.json");
static STAGING_ROOT: &[u8] =
    include_bytes!("../../../testdata/sigstore-trust/staging.tuf-root.json");

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
            target_file_bytes: crate::sigstore::trust::MAX_TRUST_FILE_BYTES,
            max_root_rotations: 1024,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Why a refresh or a cached read failed. `url` fields hold the URL or cache path read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TufError {
    #[error("cannot fetch {role} from {url}: {transport}")]
    Fetch {
        role: String,
        url: String,
        /// The transport's error, boxed: it is large and this error travels by value.
        transport: Box<ureq::Error>,
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
    #[error("malformed {role} from {url}: {problem}")]
    Malformed {
        role: String,
        url: String,
        problem: MetadataProblem,
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

/// What was malformed in a role's metadata (or in what it lists for a target).
#[derive(Debug)]
#[non_exhaustive]
pub enum MetadataProblem {
    Json(crate::json::JsonError),
    NotAnObject,
    NoSigned,
    NoSignatures,
    SignaturesNotAnArray,
    SignatureEntry(serde_json::Error),
    SignatureNotHex {
        keyid: String,
    },
    Canonical(olpc::OlpcError),
    Signed(serde_json::Error),
    Type {
        found: String,
        expected: String,
    },
    SpecVersion {
        found: String,
    },
    VersionZero,
    ExpiresNotUtc {
        value: String,
    },
    Expires {
        value: String,
        source: chrono::ParseError,
    },
    NoRole {
        role: String,
    },
    ZeroThreshold {
        role: String,
    },
    UnsupportedHash {
        algorithm: String,
    },
    NotInMeta {
        name: String,
    },
    TargetNoHashes {
        name: String,
    },
    TargetUnsupportedHash {
        name: String,
        algorithm: String,
    },
    /// Neither sha256 nor sha512: nothing to name the file by in a consistent-snapshot repository.
    TargetNoNamingHash {
        name: String,
    },
    TargetNoUsableHash {
        name: String,
    },
}

impl std::fmt::Display for MetadataProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Json(e) => f.write_str(&crate::error_chain(e)),
            Self::NotAnObject => f.write_str("not a JSON object"),
            Self::NoSigned => f.write_str("no `signed` member"),
            Self::NoSignatures => f.write_str("no `signatures` member"),
            Self::SignaturesNotAnArray => f.write_str("`signatures` is not an array"),
            Self::SignatureEntry(e) => write!(f, "invalid signature entry: {e}"),
            Self::SignatureNotHex { keyid } => write!(f, "signature by key {keyid} is not hex"),
            Self::Canonical(e) => write!(f, "{e}"),
            Self::Signed(e) => write!(f, "{e}"),
            Self::Type { found, expected } => {
                write!(f, "`_type` is `{found}`, expected `{expected}`")
            }
            Self::SpecVersion { found } => write!(f, "unsupported spec_version `{found}`"),
            Self::VersionZero => f.write_str("version 0 (versions start at 1)"),
            Self::ExpiresNotUtc { value } => {
                write!(f, "expires `{value}` is not a UTC time ending in Z")
            }
            Self::Expires { value, source } => write!(f, "invalid expires `{value}`: {source}"),
            Self::NoRole { role } => write!(f, "no `{role}` role"),
            Self::ZeroThreshold { role } => write!(f, "`{role}` role has threshold 0"),
            Self::UnsupportedHash { algorithm } => {
                write!(f, "unsupported hash algorithm `{algorithm}`")
            }
            Self::NotInMeta { name } => write!(f, "no `{name}` in meta"),
            Self::TargetNoHashes { name } => write!(f, "target `{name}` lists no hashes"),
            Self::TargetUnsupportedHash { name, algorithm } => write!(
                f,
                "target `{name}` uses unsupported hash algorithm `{algorithm}`"
            ),
            Self::TargetNoNamingHash { name } => {
                write!(
                    f,
                    "target `{name}` lists neither a sha256 nor a sha512 hash"
                )
            }
            Self::TargetNoUsableHash { name } => write!(f, "target `{name}` has no usable hash"),
        }
    }
}

impl From<crate::fsutil::private_dir::PrivateDirError> for TufError {
    fn from(e: crate::fsutil::private_dir::PrivateDirError) -> Self {
        use crate::fsutil::private_dir::PrivateDirError;
        match e {
            PrivateDirError::Io { path, source } => TufError::Io { path, source },
            PrivateDirError::Unsafe { path, problem } => TufError::UnsafeCache { path, problem },
        }
    }
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
