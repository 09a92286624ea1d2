//! A new manifest from an [`InitRequest`] (what `mcp-sign init` is asked): the default and
//! self-excludes, the exclude-code lint, chaining to the previous release, expiry, the artifact's
//! default name, and where the manifest and its bundle are written. The CLI only maps its flags.
//!
//! Over 600 lines only with its unit tests (about 240 lines: each default and refusal).

use super::{
    Artifact, Launch, Manifest, ManifestError, SCHEMA_VERSION, ServerId, ServerName,
    ServerNameError, Timestamp, Version, VersionError,
};
use crate::digest::Algorithm;
use crate::digest::excluded::{ExcludedCode, excluded_code};
use crate::digest::glob::{Pattern, PatternError};
use crate::digest::tree::{self, Progress, TreeError};
use crate::fsutil::{ReadError, WriteError, read_limited, refuse_existing, write_atomic};
use crate::server_env::EnvError;
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
    /// The server's directory to pin; `None` for a server that is only packages or an image
    /// (`artifacts` must then hold them).
    pub dir: Option<PathBuf>,
    /// Artifacts pinned besides the directory (resolved packages, images, bundles: see
    /// `artifact::resolve`).
    pub artifacts: Vec<Artifact>,
    /// The launch to use when `launch` is not given (a package's own, from its resolution).
    pub default_launch: Option<Launch>,
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
            dir: Some(dir.to_path_buf()),
            artifacts: Vec::new(),
            default_launch: None,
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
    #[error("invalid launch command `{line}`: {problem}")]
    Launch {
        line: String,
        problem: super::CommandLineError,
    },
    #[error(transparent)]
    EnvName(#[from] EnvError),
    #[error("--env-name needs --launch: variable names belong to a launch configuration")]
    EnvNamesWithoutLaunch,
    #[error(
        "nothing to pin: give the server's directory (--dir), a package (--artifact REF) or a \
         remote server's endpoint (--url)"
    )]
    NothingToPin,
    #[error(transparent)]
    Exclude(#[from] PatternError),
    #[error(
        "the output `{path}` lies in the directory, and an exclude rule naming it would read its \
         `*` or `?` as a wildcard and leave out other files"
    )]
    OutputNameIsAGlob { path: String },
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("previous manifest `{}`", path.display())]
    Previous {
        path: PathBuf,
        #[source]
        source: Box<ManifestError>,
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
        source: Box<TreeError>,
    },
    #[error(transparent)]
    Invalid(Box<ManifestError>),
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
            | Self::NothingToPin
            | Self::Exclude(_)
            | Self::OutputNameIsAGlob { .. }
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
            Self::OutputNameIsAGlob { .. } => Some(
                "name the output without `*` or `?`, or write it outside the directory".to_owned(),
            ),
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
                source: Box::new(source),
            })?;
            Some(prev.digest())
        }
        None => None,
    };
    let mut warnings = Vec::new();
    let mut artifacts = Vec::new();
    let (mut files, mut bytes) = (0, 0);
    if let Some(dir) = &req.dir {
        // Excluded bytes are never verified: code among them could run unseen.
        let hidden =
            excluded_code(dir, &patterns, tree::MAX_ENTRIES).map_err(|source| InitError::Scan {
                dir: dir.clone(),
                source,
            })?;
        if hidden.count > 0 {
            if req.strict {
                return Err(InitError::ExcludedCode(hidden));
            }
            warnings.push(InitWarning::ExcludedCode(hidden));
        }
        let entries = tree::hash_tree_with_progress(dir, &patterns, Algorithm::Sha256, progress)
            .map_err(|source| InitError::Tree {
                dir: dir.clone(),
                source: Box::new(source),
            })?;
        let artifact_name = match &req.artifact_name {
            Some(n) => n.clone(),
            None => default_artifact_name(dir),
        };
        (files, bytes) = (entries.len(), tree::total_size(&entries));
        artifacts.push(Artifact::directory(artifact_name, patterns, entries));
    }
    artifacts.extend(req.artifacts.iter().cloned());
    let launch = launch.or_else(|| req.default_launch.clone());
    // A remote server has no code to pin: its endpoint (and tools) are what the manifest holds.
    if artifacts.is_empty() && !matches!(launch, Some(Launch::StreamableHttp { .. })) {
        return Err(InitError::NothingToPin);
    }
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        server: ServerId { name, version },
        issued_at: req.issued_at,
        expires_at,
        previous,
        launch,
        artifacts,
        tools: None,
    };
    manifest
        .check()
        .map_err(|e| InitError::Invalid(Box::new(e)))?;
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
    let mut launch =
        Launch::stdio_from_command_line(line).map_err(|problem| InitError::Launch {
            line: line.clone(),
            problem,
        })?;
    match &mut launch {
        Launch::Stdio { env_names, .. } => {
            for n in &req.env_names {
                crate::server_env::check_name(n)?;
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
    let Some(dir) = &req.dir else {
        return Ok(patterns);
    };
    for own in own_outputs_inside(dir, &req.output) {
        // Exclude rules have no escape: a name with a wildcard would exclude more than itself.
        if own.contains(['*', '?']) {
            return Err(InitError::OutputNameIsAGlob { path: own });
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn issued() -> Timestamp {
        Timestamp("2026-11-24T12:00:00Z".parse().unwrap())
    }

    /// A workspace with a server directory `server/` holding `index.js` and a `.git` folder.
    fn workspace() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("server");
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        std::fs::write(dir.join(".git/HEAD"), "ref: main").unwrap();
        std::fs::write(dir.join("index.js"), "console.log(1)").unwrap();
        (t, dir)
    }

    fn request(dir: &Path, output: PathBuf) -> InitRequest {
        InitRequest {
            output,
            issued_at: issued(),
            ..InitRequest::new("io.github.acme/demo", "1.0.0", dir)
        }
    }

    fn dir_parts(m: &Manifest) -> (&str, Vec<&str>, Vec<&str>) {
        match &m.artifacts[0] {
            Artifact::Directory {
                name,
                exclude,
                entries,
                ..
            } => (
                name,
                exclude.iter().map(Pattern::as_str).collect(),
                entries.iter().map(|e| e.path.as_str()).collect(),
            ),
            other => panic!("not a directory artifact: {other:?}"),
        }
    }

    #[test]
    fn defaults_pin_the_directory_under_its_own_name_without_git() {
        let req = InitRequest::new("io.github.acme/demo", "1.0.0", Path::new("srv"));
        assert_eq!(req.output, Path::new(crate::manifest::DEFAULT_FILE_NAME));
        assert!(req.excludes.is_empty() && !req.force && !req.strict);
        assert!(req.expires_in_days.is_none() && req.previous.is_none());

        let (t, dir) = workspace();
        let done = build(&request(&dir, t.path().join("m.json")), None).unwrap();
        let m = &done.manifest;
        assert_eq!(m.schema_version, SCHEMA_VERSION);
        assert_eq!(m.issued_at, issued());
        assert!(m.expires_at.is_none() && m.previous.is_none() && m.launch.is_none());
        let (name, exclude, entries) = dir_parts(m);
        assert_eq!(name, "server");
        assert_eq!(exclude, DEFAULT_EXCLUDES);
        assert_eq!(entries, ["index.js"]);
        assert_eq!((done.entries, done.bytes), (1, 14));
        assert!(done.warnings.is_empty());
        assert!(!t.path().join("m.json").exists(), "build writes nothing");
    }

    /// Scenario init-output-name-is-a-glob.
    #[test]
    fn an_output_in_the_directory_whose_name_is_a_glob_is_refused() {
        let (_t, dir) = workspace();
        std::fs::create_dir_all(dir.join("m")).unwrap();
        std::fs::write(dir.join("m/x.py"), "code").unwrap();
        for name in ["m*", "m?.json"] {
            let req = request(&dir, dir.join(name));
            let err = build(&req, None).unwrap_err();
            assert!(
                matches!(&err, InitError::OutputNameIsAGlob { path } if path == name),
                "{err}"
            );
            assert!(err.is_refusal());
            assert!(!dir.join(name).exists());
        }
        // Outside the directory, the name is no exclude rule: fine.
        let outside = dir.parent().unwrap().join("m*.json");
        build(&request(&dir, outside), None).unwrap();
    }

    #[test]
    fn a_manifest_written_inside_the_directory_does_not_pin_itself_or_its_bundle() {
        let (_t, dir) = workspace();
        let out = dir.join("release/m.json");
        std::fs::create_dir_all(dir.join("release")).unwrap();
        std::fs::write(dir.join("release/m.sigstore.json"), "{}").unwrap();
        let mut req = request(&dir, out.clone());
        req.excludes = vec!["release/m.json".into()];
        let done = init(&req, None).unwrap();
        let (_, exclude, entries) = dir_parts(&done.manifest);
        // Given once even when the request already excludes it.
        assert_eq!(
            exclude,
            [".git", "release/m.json", "release/m.sigstore.json"]
        );
        assert_eq!(entries, ["index.js"]);
        assert!(out.exists());
        // A second run sees its own output on disk and still leaves it out.
        req.force = true;
        let again = init(&req, None).unwrap();
        assert_eq!(dir_parts(&again.manifest).2, ["index.js"]);
        // Outside the directory: nothing more is excluded.
        let (t, dir) = workspace();
        let done = build(&request(&dir, t.path().join("m.json")), None).unwrap();
        assert_eq!(dir_parts(&done.manifest).1, [".git"]);
    }

    #[test]
    fn expiry_counts_days_from_issue_and_refuses_what_it_cannot_represent() {
        let (t, dir) = workspace();
        let mut req = request(&dir, t.path().join("m.json"));
        req.expires_in_days = Some(30);
        let m = build(&req, None).unwrap().manifest;
        assert_eq!(
            m.expires_at,
            Some(Timestamp("2026-12-24T12:00:00Z".parse().unwrap()))
        );
        req.expires_in_days = Some(0);
        let err = build(&req, None).unwrap_err();
        assert!(
            matches!(&err, InitError::Invalid(e) if matches!(**e, ManifestError::ExpiryBeforeIssue { .. })),
            "{err:?}"
        );
        assert!(err.is_refusal());
        req.expires_in_days = Some(u32::MAX);
        let err = build(&req, None).unwrap_err();
        assert!(
            matches!(err, InitError::ExpiryOutOfRange { days: u32::MAX }),
            "{err:?}"
        );
        assert!(err.is_refusal());
    }

    #[test]
    fn previous_release_is_chained_by_digest_and_must_be_a_manifest() {
        let (t, dir) = workspace();
        let first = t.path().join("m1.json");
        let one = init(&request(&dir, first.clone()), None).unwrap().manifest;
        let mut req = request(&dir, t.path().join("m2.json"));
        req.version = "2.0.0".into();
        req.previous = Some(first);
        let two = build(&req, None).unwrap().manifest;
        assert_eq!(two.previous, Some(one.digest()));

        let bogus = t.path().join("bogus.json");
        std::fs::write(&bogus, r#"{"schemaVersion": 1}"#).unwrap();
        req.previous = Some(bogus);
        let err = build(&req, None).unwrap_err();
        assert!(matches!(err, InitError::Previous { .. }), "{err:?}");
        assert!(err.is_refusal());
        req.previous = Some(t.path().join("missing.json"));
        let err = build(&req, None).unwrap_err();
        assert!(matches!(err, InitError::Read(_)), "{err:?}");
        assert!(!err.is_refusal());
    }

    #[test]
    fn launch_and_environment_names_are_checked() {
        let (t, dir) = workspace();
        let mut req = request(&dir, t.path().join("m.json"));
        req.env_names = vec!["API_TOKEN".into()];
        assert!(matches!(
            build(&req, None),
            Err(InitError::EnvNamesWithoutLaunch)
        ));
        req.launch = Some("node 'dist/index.js'".into());
        let m = build(&req, None).unwrap().manifest;
        match m.launch {
            Some(Launch::Stdio {
                command,
                args,
                env_names,
                ..
            }) => {
                assert_eq!(command, "node");
                assert_eq!(args, ["dist/index.js"]);
                assert_eq!(env_names, ["API_TOKEN"]);
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            crate::server_env::PASSPHRASE_ENV,
            "1X",
            "PYTHONPYCACHEPREFIX",
        ] {
            req.env_names = vec![bad.into()];
            let err = build(&req, None).unwrap_err();
            assert!(matches!(err, InitError::EnvName(_)), "{bad}: {err:?}");
        }
        req.env_names.clear();
        req.launch = Some("node 'unterminated".into());
        assert!(matches!(build(&req, None), Err(InitError::Launch { .. })));
    }

    #[test]
    fn excluded_code_is_a_warning_and_a_refusal_under_strict() {
        let (t, dir) = workspace();
        std::fs::create_dir_all(dir.join("__pycache__")).unwrap();
        std::fs::write(dir.join("__pycache__/x.cpython-311.pyc"), "x").unwrap();
        let mut req = request(&dir, t.path().join("m.json"));
        req.excludes = vec!["**/__pycache__".into()];
        let done = build(&req, None).unwrap();
        assert_eq!(done.warnings.len(), 1);
        let shown = done.warnings[0].to_string();
        assert!(
            shown.starts_with("exclude rules leave out 1 file(s)")
                && shown.ends_with("__pycache__/x.cpython-311.pyc"),
            "{shown}"
        );
        req.strict = true;
        let err = init(&req, None).unwrap_err();
        assert!(matches!(err, InitError::ExcludedCode(_)), "{err:?}");
        assert!(err.is_refusal() && err.hint().is_some());
        assert!(!req.output.exists());
    }

    #[test]
    fn an_existing_output_is_refused_before_the_tree_is_read() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("m.json");
        std::fs::write(&out, "keep").unwrap();
        // The directory does not even exist: the output is what is refused.
        let err = init(&request(&t.path().join("absent"), out.clone()), None).unwrap_err();
        assert!(
            matches!(err, InitError::Write(WriteError::Exists { .. })),
            "{err:?}"
        );
        assert!(!err.is_refusal());
        assert_eq!(std::fs::read(&out).unwrap(), b"keep");
    }

    #[test]
    fn progress_counts_what_was_pinned() {
        let (t, dir) = workspace();
        let progress = Progress::default();
        let done = build(&request(&dir, t.path().join("m.json")), Some(&progress)).unwrap();
        use std::sync::atomic::Ordering::Relaxed;
        assert_eq!(progress.files_done.load(Relaxed), 1);
        assert_eq!(progress.bytes_done.load(Relaxed), done.bytes);
    }

    #[test]
    fn bundles_go_beside_their_manifest() {
        assert_eq!(
            bundle_path(Path::new("out/mcp-manifest.json")),
            Path::new("out/mcp-manifest.sigstore.json")
        );
        assert_eq!(
            bundle_path(Path::new("release")),
            Path::new("release.sigstore.json")
        );
    }
}
