//! Which configured servers a signed manifest covers: an entry already launched through
//! `mcp-verify run` names its bundle; any other local entry is matched against the signed
//! `launch` of the bundles in a folder. Bundles are read for matching WITHOUT trusting them:
//! `run` verifies at launch. With trust options, each candidate's signature is checked too.

use super::{ClientConfig, ClientKind, ConfigError, EntryLaunch, StdioEntry};
use crate::manifest::{Launch, Manifest, PREDICATE_TYPE, ServerId, Timestamp};
use crate::reason::Reason;
use crate::sigstore::bundle::{Bundle, Content};
use crate::statement::{PAYLOAD_TYPE, Statement};
use crate::trust_request::{TrustRequest, resolve_trust};
use crate::verify::{Checks, Problem, Request, SignerSummary, Trust};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// How deep below `--bundles DIR` bundles are looked for, and how many entries are visited.
pub const MAX_SEARCH_DEPTH: usize = 4;
pub const MAX_SEARCH_ENTRIES: usize = 10_000;

/// Commands that fetch the code they run when they start: the signed manifest pins their
/// words, not what they download.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub config: PathBuf,
    /// Overrides detection by file name.
    pub kind: Option<ClientKind>,
    /// Where to look for `*.sigstore.json` bundles.
    pub bundles: Option<PathBuf>,
    /// Trust options: when given, a candidate bundle covers an entry only if its signature
    /// verifies.
    pub trust: Option<TrustRequest>,
    pub now: DateTime<Utc>,
}

/// Where a configured server stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// It already launches through `mcp-verify run BUNDLE`.
    Wrapped,
    /// A bundle's signed launch matches it: `--wrap` rewrites it.
    Covered,
    /// No signed manifest covers it (reason `not-covered`).
    NotCovered,
    /// A server reached over HTTP: nothing local to verify (reason `remote-server`).
    Remote,
}

/// Something worth telling about an entry that does not change its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "note", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Note {
    /// The command fetches code when it starts (npx, uvx, docker, ...).
    PackageRunner { runner: String },
    /// A wrapped entry's bundle cannot be read.
    BundleMissing,
    /// A wrapped entry's command after `--` is not the bundle's signed launch.
    CommandNotSigned,
    /// A wrapped entry's bundle is not an mcpsig bundle.
    BundleUnreadable { problem: String },
    /// A wrapped entry runs the manifest's own command: `--unwrap` cannot restore it.
    NoOriginalCommand,
    /// VS Code's `envFile`: its variables cannot be passed through `run`, so it is not wrapped.
    EnvFile,
    /// An `env` name `run` refuses to pass (a credential, reserved or invalid name).
    EnvName { name: String },
    /// A wrapped entry passes `--accept` on every launch: it is not covered.
    AcceptsEveryChange,
    /// A remote entry whose URL a signed manifest pins: `--wrap` makes the client start
    /// `mcp-verify proxy BUNDLE --stdio` for it.
    RemotePinned { bundle: String },
    /// A remote entry of the older HTTP+SSE transport (`type` `sse`): the proxy speaks
    /// Streamable HTTP, so it is not wrapped.
    LegacySse,
    /// A proxied entry's `--url` is not the endpoint its bundle signs.
    UrlNotSigned,
    /// A wrapped or proxied entry names its bundle by a relative path, which the client resolves
    /// against a folder this report cannot know.
    BundleRelative,
    /// A remote entry's header that `mcp-verify proxy --stdio` could not send (not a valid name
    /// or value, or one the proxy sets itself): wrapping it would break it.
    HeaderUnusable { name: String },
    /// The entry has both `command` and `url` (and no `type`): a client may use either, so no
    /// command of it covers it.
    CommandAndUrl,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::PackageRunner { runner } => write!(
                f,
                "`{runner}` fetches code when it starts: the signature covers the command's words, \
                 the pinned artifacts cover only what they list"
            ),
            Note::BundleMissing => f.write_str("the bundle it names cannot be read"),
            Note::CommandNotSigned => {
                f.write_str("the command after `--` is not the launch its bundle signs")
            }
            Note::BundleUnreadable { problem } => {
                write!(f, "the bundle it names is not an mcpsig bundle: {problem}")
            }
            Note::NoOriginalCommand => f.write_str(
                "it runs the manifest's own command (nothing after `--`): --unwrap leaves it",
            ),
            Note::EnvFile => f.write_str(
                "it reads variables from an `envFile`, which `run` cannot pass on: not wrapped",
            ),
            Note::AcceptsEveryChange => f.write_str(
                "it passes `--accept` to `run` on every launch, which approves every permission \
                 change of a new release unseen: remove `--accept` (approve a release once, by \
                 hand)",
            ),
            Note::EnvName { name } => write!(
                f,
                "`run` refuses to pass the variable `{name}` to a server: not wrapped"
            ),
            Note::RemotePinned { bundle } => write!(
                f,
                "the manifest of `{bundle}` pins this endpoint: --wrap makes the client start \
                 `mcp-verify proxy {bundle} ... --stdio` for it (or run `mcp-verify proxy \
                 {bundle} (TRUST | --policy FILE) --listen 127.0.0.1:PORT` and set this entry's \
                 url to http://127.0.0.1:PORT/mcp)"
            ),
            Note::LegacySse => f.write_str(
                "its `type` is `sse` (the older HTTP+SSE transport); the proxy speaks Streamable \
                 HTTP: not wrapped",
            ),
            Note::UrlNotSigned => f.write_str("its --url is not the endpoint its bundle signs"),
            Note::HeaderUnusable { name } => write!(
                f,
                "its header `{name}` cannot be sent by `mcp-verify proxy --stdio` (not a valid \
                 header, or one the proxy sets itself): not wrapped"
            ),
            Note::CommandAndUrl => f.write_str(
                "it has both `command` and `url`: a client may reach the url instead of starting \
                 the command, so nothing covers it; remove one",
            ),
            Note::BundleRelative => f.write_str(
                "it names its bundle by a relative path, which the client resolves against its \
                 own folder: give the bundle's absolute path",
            ),
        }
    }
}

/// A candidate bundle whose signature did not verify with the trust given.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedBundle {
    pub bundle: String,
    pub problems: Vec<Problem>,
}

/// One configured server in the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerReport {
    pub name: String,
    pub status: Status,
    /// `not-covered` or `remote-server` when the status is one of those.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The command and its arguments (local servers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The URL (remote servers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The covering bundle (absolute path), or the one a wrapped entry names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// The server and version the bundle's manifest names: read without verification unless
    /// `signer` is present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerId>,
    /// Present when trust options were given and the bundle's signature verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<SignerSummary>,
    /// Bundles whose launch matched but whose signature failed with the trust given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<RejectedBundle>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// The directory the match was computed against (`--dir` of the wrap).
    #[serde(skip)]
    pub base: Option<PathBuf>,
}

/// A bundle in the folder that could not be read as an mcpsig bundle.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoredBundle {
    pub path: String,
    pub problem: String,
}

/// What `mcp-verify config` reports.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigReport {
    pub config: String,
    pub format: ClientKind,
    /// True when every server is wrapped or covered (exit 0).
    pub covered: bool,
    /// False: bundles were matched without checking their signatures (no trust options).
    pub signatures_checked: bool,
    pub servers: Vec<ServerReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored_bundles: Vec<IgnoredBundle>,
    /// Warnings about the trust material (a cache ignored or getting old).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A bundle's manifest as read for matching: NOT verified.
#[derive(Debug, Clone)]
struct Candidate {
    path: PathBuf,
    bytes: Vec<u8>,
    server: ServerId,
    issued_at: Timestamp,
    launch: Option<Launch>,
}

/// Reads the configuration and reports, for every server, whether a signed manifest covers it.
pub fn report(req: &ReportRequest) -> Result<ConfigReport, ConfigError> {
    let config = ClientConfig::read(&req.config, req.kind)?;
    report_on(&config, req)
}

pub(super) fn report_on(
    config: &ClientConfig,
    req: &ReportRequest,
) -> Result<ConfigReport, ConfigError> {
    let (trust, warnings) = match &req.trust {
        Some(t) if trust_given(t) => {
            let resolved = resolve_trust(t).map_err(ConfigError::Trust)?;
            let warnings = resolved.warnings.iter().map(|w| w.to_string()).collect();
            (Some(resolved.trust), warnings)
        }
        _ => (None, Vec::new()),
    };
    let (candidates, ignored_bundles) = match &req.bundles {
        Some(dir) => find_bundles(dir)?,
        None => (Vec::new(), Vec::new()),
    };
    let servers: Vec<ServerReport> = config
        .servers
        .iter()
        .map(|entry| {
            judge(
                &entry.name,
                &entry.launch,
                &candidates,
                trust.as_ref(),
                req.now,
            )
        })
        .collect();
    Ok(ConfigReport {
        config: config.path.display().to_string(),
        format: config.kind,
        covered: servers
            .iter()
            .all(|s| matches!(s.status, Status::Wrapped | Status::Covered)),
        signatures_checked: trust.is_some(),
        servers,
        ignored_bundles,
        warnings,
    })
}

/// Whether any trust option was given (a partial set is `resolve_trust`'s to refuse).
pub(super) fn trust_given(t: &TrustRequest) -> bool {
    t.key.is_some()
        || t.certificate_identity.is_some()
        || t.certificate_identity_regexp.is_some()
        || t.certificate_oidc_issuer.is_some()
        || t.certificate_oidc_issuer_regexp.is_some()
        || t.source_repository.is_some()
        || t.source_ref.is_some()
        || t.workflow.is_some()
        || t.runner_environment.is_some()
        || !t.extensions.is_empty()
}

fn judge(
    name: &str,
    launch: &EntryLaunch,
    candidates: &[Candidate],
    trust: Option<&Trust>,
    now: DateTime<Utc>,
) -> ServerReport {
    let mut r = ServerReport {
        name: name.to_owned(),
        status: Status::NotCovered,
        reason: Some(Reason::NotCovered),
        command: None,
        url: None,
        bundle: None,
        server: None,
        signer: None,
        rejected: Vec::new(),
        notes: Vec::new(),
        base: None,
    };
    let entry = match launch {
        EntryLaunch::Remote(remote) => {
            r.status = Status::Remote;
            r.reason = Some(Reason::RemoteServer);
            r.url = remote.url.clone();
            if let Some(url) = &remote.url {
                judge_remote(&mut r, url, candidates, trust, now);
                if r.bundle.is_some() && remote.transport.as_deref() == Some("sse") {
                    r.notes.push(Note::LegacySse);
                }
                if r.bundle.is_some() {
                    for (name, value) in &remote.headers {
                        if crate::remote::bridge::header(name, value).is_none() {
                            r.notes.push(Note::HeaderUnusable { name: name.clone() });
                        }
                    }
                }
            }
            return r;
        }
        EntryLaunch::Stdio(e) => e,
    };
    r.command = Some(entry.argv());
    if entry.url.is_some() {
        r.url.clone_from(&entry.url);
        r.notes.push(Note::CommandAndUrl);
        return r;
    }
    if let Some(p) = entry.proxied() {
        judge_proxied(&mut r, &p, trust, now);
        return r;
    }
    if let Some(w) = entry.wrapped() {
        judge_wrapped(&mut r, entry, &w, trust, now);
        return r;
    }
    if let Some(runner) = package_runner(&entry.command) {
        r.notes.push(Note::PackageRunner { runner });
    }
    if entry.env_file {
        r.notes.push(Note::EnvFile);
    }
    for (k, _) in &entry.env {
        if crate::server_env::check_name(k).is_err() {
            r.notes.push(Note::EnvName { name: k.clone() });
        }
    }
    // The newest matching manifest first (by its claimed issue time; `run` checks rollback).
    let mut matching: Vec<(&Candidate, PathBuf)> = candidates
        .iter()
        .filter_map(|c| {
            let base = base_for(entry, &c.path)?;
            c.launch
                .as_ref()
                .is_some_and(|l| matches(entry, &base, l))
                .then_some((c, base))
        })
        .collect();
    matching.sort_by(|(a, _), (b, _)| b.issued_at.cmp(&a.issued_at).then(a.path.cmp(&b.path)));
    if let Some(((c, base), signer)) = first_trusted(&mut r, matching, |(c, _)| c, trust, now) {
        r.status = Status::Covered;
        r.reason = None;
        r.bundle = Some(c.path.display().to_string());
        r.server = Some(c.server.clone());
        r.signer = signer;
        r.base = Some(base);
    }
    r
}

/// The first of `matching` (newest first) whose signature verifies with `trust` (any, without
/// trust), and its signer; the others tried are recorded in `r.rejected`.
fn first_trusted<'c, T>(
    r: &mut ServerReport,
    matching: Vec<T>,
    candidate: impl Fn(&T) -> &'c Candidate,
    trust: Option<&Trust>,
    now: DateTime<Utc>,
) -> Option<(T, Option<SignerSummary>)> {
    for m in matching {
        let c = candidate(&m);
        let Some(trust) = trust else {
            return Some((m, None));
        };
        match check_signature(c, trust, now) {
            Ok(s) => return Some((m, Some(s))),
            Err(problems) => r.rejected.push(RejectedBundle {
                bundle: c.path.display().to_string(),
                problems,
            }),
        }
    }
    None
}

/// A remote entry: the newest bundle (whose signature verifies, when trust is given) that pins
/// the same endpoint is named, with how to guard it. It stays `remote`: nothing guards it until
/// the client talks to a proxy.
fn judge_remote(
    r: &mut ServerReport,
    url: &str,
    candidates: &[Candidate],
    trust: Option<&Trust>,
    now: DateTime<Utc>,
) {
    let mut matching: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| {
            matches!(&c.launch, Some(Launch::StreamableHttp { url: pinned, .. })
                if crate::manifest::remote::same_endpoint(pinned, url))
        })
        .collect();
    matching.sort_by(|a, b| b.issued_at.cmp(&a.issued_at).then(a.path.cmp(&b.path)));
    if let Some((c, signer)) = first_trusted(r, matching, |c| c, trust, now) {
        r.bundle = Some(c.path.display().to_string());
        r.server = Some(c.server.clone());
        r.signer = signer;
        r.notes.push(Note::RemotePinned {
            bundle: c.path.display().to_string(),
        });
    }
}

/// An entry that serves a remote server through `mcp-verify proxy BUNDLE ... --stdio`: wrapped
/// when BUNDLE is an mcpsig bundle pinning a Streamable HTTP endpoint (its signature verifying,
/// when trust is given) and the entry's `--url`, if any, is that endpoint.
fn judge_proxied(
    r: &mut ServerReport,
    p: &super::Proxied,
    trust: Option<&Trust>,
    now: DateTime<Utc>,
) {
    let Some(c) = named_bundle(r, &p.bundle) else {
        return;
    };
    let Some(Launch::StreamableHttp { url: pinned, .. }) = &c.launch else {
        r.notes.push(Note::UrlNotSigned);
        return;
    };
    r.url = Some(pinned.clone());
    if p.url
        .as_deref()
        .is_some_and(|u| !crate::manifest::remote::same_endpoint(u, pinned))
    {
        r.notes.push(Note::UrlNotSigned);
        return;
    }
    if p.accept {
        r.notes.push(Note::AcceptsEveryChange);
        return;
    }
    finish_wrapped(r, &c, trust, now);
}

/// The bundle a wrapped or proxied entry names, read for matching (not verified), with its path
/// and server in the report; `None` (with the note saying why) when it is named by a relative
/// path, cannot be read, or is not an mcpsig bundle.
fn named_bundle(r: &mut ServerReport, bundle: &Path) -> Option<Candidate> {
    r.bundle = Some(bundle.display().to_string());
    if !bundle.is_absolute() {
        r.notes.push(Note::BundleRelative);
        return None;
    }
    let Ok(bytes) = crate::verify::read_bundle_file(bundle) else {
        r.notes.push(Note::BundleMissing);
        return None;
    };
    match read_candidate(bundle, bytes) {
        Ok(c) => {
            r.server = Some(c.server.clone());
            Some(c)
        }
        Err(problem) => {
            r.notes.push(Note::BundleUnreadable { problem });
            None
        }
    }
}

/// The last step for an entry that names its bundle: `wrapped` unless, with trust given, the
/// bundle's signature fails (then it is listed under `rejected`).
fn finish_wrapped(r: &mut ServerReport, c: &Candidate, trust: Option<&Trust>, now: DateTime<Utc>) {
    if let Some(trust) = trust {
        match check_signature(c, trust, now) {
            Ok(signer) => r.signer = Some(signer),
            Err(problems) => {
                r.rejected.push(RejectedBundle {
                    bundle: c.path.display().to_string(),
                    problems,
                });
                return;
            }
        }
    }
    r.status = Status::Wrapped;
    r.reason = None;
}

/// An entry that launches `mcp-verify run BUNDLE`: covered when BUNDLE is an mcpsig bundle
/// (whose signature verifies, when trust is given) and the command after `--` is its signed
/// launch.
fn judge_wrapped(
    r: &mut ServerReport,
    entry: &StdioEntry,
    w: &super::Wrapped,
    trust: Option<&Trust>,
    now: DateTime<Utc>,
) {
    let Some(c) = named_bundle(r, &w.bundle) else {
        return;
    };
    if w.accept {
        r.notes.push(Note::AcceptsEveryChange);
        return;
    }
    match w.original.as_deref().and_then(<[String]>::split_first) {
        // `run` launches the words after `--`: they must be the signed launch.
        Some((command, args)) => {
            let unwrapped = StdioEntry {
                command: command.clone(),
                args: args.to_vec(),
                ..entry.clone()
            };
            let base = w.dir.clone().or_else(|| base_for(&unwrapped, &w.bundle));
            let signed = match (&base, &c.launch) {
                (Some(base), Some(launch)) => matches(&unwrapped, base, launch),
                _ => false,
            };
            if !signed {
                r.notes.push(Note::CommandNotSigned);
                return;
            }
        }
        None => r.notes.push(Note::NoOriginalCommand),
    }
    finish_wrapped(r, &c, trust, now);
}

fn package_runner(command: &str) -> Option<String> {
    crate::launch::package_runner(command)
}

/// The directory relative words of a signed launch are resolved against: the entry's `cwd`
/// when it is absolute, else the bundle's directory (where `run` launches by default). A
/// relative `cwd` depends on the client (VS Code: the workspace folder): no base then.
fn base_for(entry: &StdioEntry, bundle: &Path) -> Option<PathBuf> {
    match &entry.cwd {
        Some(cwd) if Path::new(cwd).is_absolute() => Some(PathBuf::from(cwd)),
        Some(_) => None,
        None => bundle.parent().map(Path::to_path_buf),
    }
}

/// Whether an entry launches what a signed launch says: its words are the signed command line
/// (`launch::command_matches`, the rule `mcp-verify run` applies), and no `env` value of the
/// entry contradicts a fixed value the manifest signs.
fn matches(entry: &StdioEntry, base: &Path, launch: &Launch) -> bool {
    let Launch::Stdio { env, .. } = launch else {
        return false;
    };
    let env_agrees = entry
        .env
        .iter()
        .all(|(k, v)| env.get(k).is_none_or(|signed| signed == v));
    env_agrees && crate::launch::command_matches(launch, &entry.argv(), base)
}

fn check_signature(
    c: &Candidate,
    trust: &Trust,
    now: DateTime<Utc>,
) -> Result<SignerSummary, Vec<Problem>> {
    let report = crate::verify::verify(&Request {
        bundle: &c.bytes,
        trust,
        now,
        checks: Checks {
            signature_only: true,
            ..Checks::default()
        },
    })
    .map_err(|e| {
        vec![Problem {
            reason: Reason::Error,
            message: crate::error_chain(&e),
            path: None,
        }]
    })?;
    match (report.verified, report.signer) {
        (true, Some(signer)) => Ok(signer),
        _ => Err(report.problems),
    }
}

/// Every `*.sigstore.json` regular file under `dir` (to [`MAX_SEARCH_DEPTH`]), read for
/// matching. Symbolic links are not followed.
fn find_bundles(dir: &Path) -> Result<(Vec<Candidate>, Vec<IgnoredBundle>), ConfigError> {
    let root = std::path::absolute(dir).map_err(|source| ConfigError::Absolute {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut found = Vec::new();
    let mut ignored = Vec::new();
    let mut visited = 0usize;
    let mut stack = vec![(root.clone(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        let io = |source| ConfigError::BundleDir {
            path: d.clone(),
            source,
        };
        let mut entries: Vec<_> = std::fs::read_dir(&d)
            .map_err(io)?
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            visited += 1;
            if visited > MAX_SEARCH_ENTRIES {
                return Err(ConfigError::TooManyBundleEntries {
                    path: root,
                    limit: MAX_SEARCH_ENTRIES,
                });
            }
            let ft = e.file_type().map_err(io)?;
            let path = e.path();
            if ft.is_dir() {
                if depth < MAX_SEARCH_DEPTH {
                    stack.push((path, depth + 1));
                }
                continue;
            }
            let is_bundle = e
                .file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(".sigstore.json"));
            if !is_bundle {
                continue;
            }
            if path.to_str().is_none() {
                ignored.push(IgnoredBundle {
                    path: path.display().to_string(),
                    problem: "its path is not UTF-8".to_owned(),
                });
                continue;
            }
            if !ft.is_file() {
                ignored.push(IgnoredBundle {
                    path: path.display().to_string(),
                    problem: "not a regular file (symbolic links are not followed)".to_owned(),
                });
                continue;
            }
            let read = crate::verify::read_bundle_file(&path)
                .map_err(|e| crate::error_chain(&e))
                .and_then(|bytes| read_candidate(&path, bytes));
            match read {
                Ok(c) => found.push(c),
                Err(problem) => ignored.push(IgnoredBundle {
                    path: path.display().to_string(),
                    problem,
                }),
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    ignored.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((found, ignored))
}

/// Reads a bundle's manifest without checking its signature: for matching only.
fn read_candidate(path: &Path, bytes: Vec<u8>) -> Result<Candidate, String> {
    let bundle = Bundle::from_json(&bytes).map_err(|e| crate::error_chain(&e))?;
    let Content::DsseEnvelope(env) = &bundle.content else {
        return Err("not a DSSE bundle".to_owned());
    };
    if env.payload_type != PAYLOAD_TYPE {
        return Err(format!("payload type is not `{PAYLOAD_TYPE}`"));
    }
    let statement: Statement =
        crate::json::from_slice(&env.payload).map_err(|e| crate::error_chain(&e))?;
    if statement.predicate_type != PREDICATE_TYPE {
        return Err("not an mcpsig manifest".to_owned());
    }
    let manifest = Manifest::from_value(statement.predicate).map_err(|e| crate::error_chain(&e))?;
    Ok(Candidate {
        path: path.to_path_buf(),
        server: manifest.server,
        issued_at: manifest.issued_at,
        launch: manifest.launch,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relpath::RelPath;
    use std::collections::BTreeMap;

    fn entry(argv: &[&str], cwd: Option<&str>) -> StdioEntry {
        StdioEntry {
            command: argv[0].to_owned(),
            args: argv[1..].iter().map(|s| s.to_string()).collect(),
            env: vec![],
            cwd: cwd.map(str::to_owned),
            env_file: false,
            url: None,
        }
    }

    fn launch(argv: &[&str], env: &[(&str, &str)]) -> Launch {
        Launch::Stdio {
            command: argv[0].to_owned(),
            args: argv[1..].iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            env_names: vec![],
            workdir: None,
        }
    }

    #[test]
    fn words_match_literally_or_as_paths_under_the_base() {
        let base = Path::new("/srv/weather");
        let signed = launch(&["python3", "server.py", "--stdio"], &[]);
        assert!(matches(
            &entry(&["python3", "server.py", "--stdio"], None),
            base,
            &signed
        ));
        assert!(matches(
            &entry(&["python3", "/srv/weather/server.py", "--stdio"], None),
            base,
            &signed
        ));
        for other in [
            &["python3", "/srv/other/server.py", "--stdio"][..],
            &["python3", "server.py"],
            &["python3", "server.py", "--stdio", "--debug"],
            &["/usr/bin/python3", "server.py", "--stdio"],
            &["python3", "/srv/weather/../weather/server.py", "--stdio"],
        ] {
            assert!(!matches(&entry(other, None), base, &signed), "{other:?}");
        }
        // A package runner matches its exact words only.
        let npx = launch(&["npx", "-y", "@acme/weather@1.2.0"], &[]);
        assert!(matches(
            &entry(&["npx", "-y", "@acme/weather@1.2.0"], None),
            base,
            &npx
        ));
        assert!(!matches(
            &entry(&["npx", "-y", "@acme/weather"], None),
            base,
            &npx
        ));
    }

    #[test]
    fn a_signed_workdir_is_part_of_the_base() {
        let mut signed = launch(&["node", "dist/index.js"], &[]);
        if let Launch::Stdio { workdir, .. } = &mut signed {
            *workdir = Some(RelPath::parse("pkg").unwrap());
        }
        let base = Path::new("/s");
        assert!(matches(
            &entry(&["node", "/s/pkg/dist/index.js"], None),
            base,
            &signed
        ));
        assert!(!matches(
            &entry(&["node", "/s/dist/index.js"], None),
            base,
            &signed
        ));
    }

    #[test]
    fn an_entry_cannot_override_a_signed_env_value() {
        let base = Path::new("/s");
        let signed = launch(&["node", "i.js"], &[("NODE_ENV", "production")]);
        let mut e = entry(&["node", "i.js"], None);
        e.env = vec![("API_KEY".into(), "k".into())];
        assert!(matches(&e, base, &signed));
        e.env.push(("NODE_ENV".into(), "development".into()));
        assert!(!matches(&e, base, &signed));
    }

    #[test]
    fn the_base_is_an_absolute_cwd_or_the_bundle_folder() {
        let b = Path::new("/b/m.sigstore.json");
        assert_eq!(base_for(&entry(&["x"], None), b), Some(PathBuf::from("/b")));
        assert_eq!(
            base_for(&entry(&["x"], Some("/w")), b),
            Some(PathBuf::from("/w"))
        );
        assert_eq!(base_for(&entry(&["x"], Some("w")), b), None);
    }
}
