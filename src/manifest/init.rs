//! A new manifest from an [`InitRequest`] (what `mcp-sign init` is asked): the default and
//! self-excludes, the exclude-code lint, chaining to the previous release, expiry, the artifact's
//! default name, and where the manifest and its bundle are written. The CLI only maps its flags.

use super::{
    Artifact, Launch, Manifest, ManifestError, SCHEMA_VERSION, ServerId, ServerName,
    ServerNameError, Timestamp, Version, VersionError,
};
use crate::digest::Algorithm;
use crate::digest::excluded::{ExcludedCode, excluded_code};
use crate::digest::glob::{Pattern, PatternError};
use crate::digest::tree::{self, Progress, TreeError};
use crate::fsutil::{ReadError, WriteError, read_limited, refuse_existing, write_atomic};
use crate::mcp::env::EnvError;
use std::fmt;
use std::path::{Path, PathBuf};

/// Excluded from every pinned directory, whatever the request says: version-control state.
pub const DEFAULT_EXCLUDES: &[&str] = &[".git"];
/// The directory artifact's name when the request gives none and the directory has no name.
pub const DEFAULT_ARTIFACT_NAME: &str = "server";
/// What a bundle's file name ends with, after the manifest's stem.
pub const BUNDLE_SUFFIX: &str = ".sigstore.json";

/// Where a manifest's bundle goes by default: beside it, `<stem>.sigstore.json`
/// (`dir/name.json` -> `dir/name.sigstore.json`).
pub fn bundle_path(manifest: &Path) -> PathBuf {
    let stem = manifest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "manifest".into());
    manifest.with_file_name(format!("{stem}{BUNDLE_SUFFIX}"))
}

/// What to pin and how, as `mcp-sign init` takes it: strings as given, parsed by [`build`].
#[derive(Debug, Clone)]
pub struct InitRequest {
    /// Server name, reverse-DNS (`io.github.owner/name`).
    pub name: String,
    pub version: String,
    /// The server's directory to pin.
    pub dir: PathBuf,
    /// Launch command line, split like a shell would (nothing is expanded).
    pub launch: Option<String>,
    /// Environment variable names the server needs at launch; needs `launch`.
    pub env_names: Vec<String>,
    /// Exclude globs, on top of [`DEFAULT_EXCLUDES`].
    pub excludes: Vec<String>,
    /// The directory artifact's name (default: the directory's own name).
    pub artifact_name: Option<String>,
    /// Expire the manifest this many days after `issued_at`.
    pub expires_in_days: Option<u32>,
    /// The previous release's manifest, whose digest is pinned.
    pub previous: Option<PathBuf>,
    /// Where the manifest is written; it and its default bundle are excluded when inside `dir`.
    pub output: PathBuf,
    /// Replace an existing output file.
    pub force: bool,
    /// Refuse when an exclude rule leaves out code (else it is a warning).
    pub strict: bool,
    pub issued_at: Timestamp,
}

impl InitRequest {
    /// A request with the defaults `mcp-sign init` has: no launch, no extra excludes, no
    /// expiry, no previous release, output [`super::DEFAULT_FILE_NAME`], issued now.
    pub fn new(name: &str, version: &str, dir: &Path) -> InitRequest {
        InitRequest {
            name: name.to_owned(),
            version: version.to_owned(),
            dir: dir.to_path_buf(),
            launch: None,
            env_names: Vec::new(),
            excludes: Vec::new(),
            artifact_name: None,
            expires_in_days: None,
            previous: None,
            output: PathBuf::from(super::DEFAULT_FILE_NAME),
            force: false,
            strict: false,
            issued_at: Timestamp::now(),
        }
    }
}

/// Something the caller should tell the user; the manifest was still built.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitWarning {
    /// Exclude rules leave out files a runtime loads as code ([`crate::digest::excluded`]).
    ExcludedCode(ExcludedCode),
}

impl fmt::Display for InitWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExcludedCode(hidden) => f.write_str(&describe_excluded(hidden)),
        }
    }
}

fn describe_excluded(hidden: &ExcludedCode) -> String {
    format!(
        "exclude rules leave out {} file(s) that a runtime loads as code, which verification \
         will never check: {}{}",
        hidden.count,
        hidden.examples.join(", "),
        if hidden.count > hidden.examples.len() {
            ", ..."
        } else {
            ""
        }
    )
}

/// The manifest built, and what to report about it.
#[derive(Debug)]
pub struct InitOutcome {
    pub manifest: Manifest,
    /// Where it was (or, from [`build`], would be) written.
    pub output: PathBuf,
    /// Entries pinned in the directory artifact, and their total size in bytes.
    pub entries: usize,
    pub bytes: u64,
    pub warnings: Vec<InitWarning>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    #[error(transparent)]
    Name(#[from] ServerNameError),
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error("invalid launch command `{line}`: {reason}")]
    Launch { line: String, reason: String },
    #[error(transparent)]
    EnvName(#[from] EnvError),
    #[error("--env-name needs --launch: variable names belong to a launch configuration")]
    EnvNamesWithoutLaunch,
    #[error(transparent)]
    Exclude(#[from] PatternError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("previous manifest `{}`", path.display())]
    Previous {
        path: PathBuf,
        #[source]
        source: ManifestError,
    },
    #[error("an expiry {days} days after issue is past the largest date this program can write")]
    ExpiryOutOfRange { days: u32 },
    #[error("refusing under --strict: {}", describe_excluded(.0))]
    ExcludedCode(ExcludedCode),
    #[error("cannot read directory `{}`", dir.display())]
    Scan {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot pin directory `{}`", dir.display())]
    Tree {
        dir: PathBuf,
        #[source]
        source: TreeError,
    },
    #[error(transparent)]
    Invalid(#[from] ManifestError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl InitError {
    /// Whether the input was refused (exit 1) rather than the work failing to run (exit 2:
    /// I/O, an unreadable or unsafe tree, an existing output).
    pub fn is_refusal(&self) -> bool {
        match self {
            Self::Name(_)
            | Self::Version(_)
            | Self::Launch { .. }
            | Self::EnvName(_)
            | Self::EnvNamesWithoutLaunch
            | Self::Exclude(_)
            | Self::Previous { .. }
            | Self::ExpiryOutOfRange { .. }
            | Self::ExcludedCode(_)
            | Self::Invalid(_) => true,
            Self::Read(_) | Self::Scan { .. } | Self::Tree { .. } | Self::Write(_) => false,
        }
    }

    /// What the user can do about it, when there is one thing to do.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::ExcludedCode(_) => {
                Some("narrow the --exclude rules so that no code is excluded".to_owned())
            }
            _ => None,
        }
    }
}

/// [`build`], then writes the manifest to `req.output` atomically. An existing output is refused
/// (unless `force`) before the tree is read.
pub fn init(req: &InitRequest, progress: Option<&Progress>) -> Result<InitOutcome, InitError> {
    refuse_existing(&req.output, req.force)?;
    let outcome = build(req, progress)?;
    write_atomic(
        &req.output,
        &outcome.manifest.to_json_pretty(),
        0o644,
        req.force,
    )?;
    Ok(outcome)
}

/// The manifest `req` describes, checked, without writing it. `progress` is updated while the
/// tree is hashed.
pub fn build(req: &InitRequest, progress: Option<&Progress>) -> Result<InitOutcome, InitError> {
    let name = ServerName::parse(&req.name)?;
    let version = Version::parse(&req.version)?;
    let launch = launch(req)?;
    let patterns = excludes(req)?;
    let expires_at = expiry(req.issued_at, req.expires_in_days)?;
    let previous = match &req.previous {
        Some(path) => {
            let bytes = read_limited(path, crate::json::MAX_DOCUMENT_BYTES as u64)?;
            let prev = Manifest::from_json(&bytes).map_err(|source| InitError::Previous {
                path: path.clone(),
                source,
            })?;
            Some(prev.digest())
        }
        None => None,
    };
    // Excluded bytes are never verified: code among them could run unseen.
    let hidden =
        excluded_code(&req.dir, &patterns, tree::MAX_ENTRIES).map_err(|source| {
            InitError::Scan {
                dir: req.dir.clone(),
                source,
            }
        })?;
    let mut warnings = Vec::new();
    if hidden.count > 0 {
        if req.strict {
            return Err(InitError::ExcludedCode(hidden));
        }
        warnings.push(InitWarning::ExcludedCode(hidden));
    }
    let entries = tree::hash_tree_with_progress(&req.dir, &patterns, Algorithm::Sha256, progress)
        .map_err(|source| InitError::Tree {
        dir: req.dir.clone(),
        source,
    })?;
    let artifact_name = match &req.artifact_name {
        Some(n) => n.clone(),
        None => default_artifact_name(&req.dir),
    };
    let (files, bytes) = (entries.len(), tree::total_size(&entries));
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        server: ServerId { name, version },
        issued_at: req.issued_at,
        expires_at,
        previous,
        launch,
        artifacts: vec![Artifact::directory(artifact_name, patterns, entries)],
        tools: None,
    };
    manifest.check()?;
    Ok(InitOutcome {
        manifest,
        output: req.output.clone(),
        entries: files,
        bytes,
        warnings,
    })
}

fn launch(req: &InitRequest) -> Result<Option<Launch>, InitError> {
    let Some(line) = &req.launch else {
        if req.env_names.is_empty() {
            return Ok(None);
        }
        return Err(InitError::EnvNamesWithoutLaunch);
    };
    let mut launch = Launch::stdio_from_command_line(line).map_err(|reason| InitError::Launch {
        line: line.clone(),
        reason,
    })?;
    match &mut launch {
        Launch::Stdio { env_names, .. } => {
            for n in &req.env_names {
                crate::mcp::env::check_name(n)?;
                env_names.push(n.clone());
            }
        }
        // A command line always makes a stdio launch; names are refused for any other.
        Launch::StreamableHttp { .. } if !req.env_names.is_empty() => {
            return Err(InitError::EnvNamesWithoutLaunch);
        }
        Launch::StreamableHttp { .. } => {}
    }
    Ok(Some(launch))
}

/// [`DEFAULT_EXCLUDES`], the request's own, then the output manifest and its default bundle when
/// they lie inside the directory: a manifest must not pin itself.
fn excludes(req: &InitRequest) -> Result<Vec<Pattern>, InitError> {
    let mut patterns = Vec::new();
    for ex in DEFAULT_EXCLUDES
        .iter()
        .copied()
        .chain(req.excludes.iter().map(String::as_str))
    {
        patterns.push(Pattern::parse(ex)?);
    }
    for own in own_outputs_inside(&req.dir, &req.output) {
        if !patterns.iter().any(|p| p.as_str() == own) {
            patterns.push(Pattern::parse(&own)?);
        }
    }
    Ok(patterns)
}

/// The output manifest's and its default bundle's paths relative to `dir`, when the manifest
/// lies inside it (compared after resolving both, so `./`, `..` and symlinked parents agree).
fn own_outputs_inside(dir: &Path, output: &Path) -> Vec<String> {
    let (Ok(dir), Some(parent)) = (std::fs::canonicalize(dir), output.parent()) else {
        return Vec::new();
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let (Ok(parent), Some(file)) = (std::fs::canonicalize(parent), output.file_name()) else {
        return Vec::new();
    };
    let Ok(rel) = parent.join(file).strip_prefix(&dir).map(Path::to_path_buf) else {
        return Vec::new();
    };
    let Some(rel) = rel.to_str().map(str::to_owned) else {
        return Vec::new();
    };
    let bundle = bundle_path(Path::new(&rel)).to_string_lossy().into_owned();
    vec![rel, bundle]
}

/// `issued_at` plus `days`, or `None` without an expiry; a date past what the calendar type holds
/// is an error, never a wrap or a panic.
fn expiry(issued_at: Timestamp, days: Option<u32>) -> Result<Option<Timestamp>, InitError> {
    let Some(days) = days else {
        return Ok(None);
    };
    chrono::Duration::try_days(i64::from(days))
        .and_then(|d| issued_at.0.checked_add_signed(d))
        .map(|t| Some(Timestamp(t)))
        .ok_or(InitError::ExpiryOutOfRange { days })
}

/// The directory's own name (after resolving `.` and symlinks), else [`DEFAULT_ARTIFACT_NAME`].
fn default_artifact_name(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| DEFAULT_ARTIFACT_NAME.into())
}
