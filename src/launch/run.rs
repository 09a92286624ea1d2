//! What `mcp-verify run` decides before anything starts, in the order of DESIGN.md's launch flow:
//! the policy (signer, version, age, revocation) over a bundle whose every artifact is re-hashed
//! into the launch store, the command the client asked for held to the signed launch, the
//! launch built from the snapshot, then the pin store (rollback, signer change, permission
//! changes), last, so that a release that cannot start is never recorded. Nothing is started
//! here; a [`Ready`] is what the guard starts.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{LaunchError, prepare};
use crate::manifest::pins::ToolPins;
use crate::manifest::{Launch as ManifestLaunch, Manifest};
use crate::mcp::StdioLaunch;
use crate::pin_store::{Admission, AdmitRequest, PinStore, PinStoreError};
use crate::policy::{MatchedRule, Policy, PolicyRequest, RevocationOptions};
use crate::reason::Reason;
use crate::relpath::RelPath;
use crate::server_env::EnvArg;
use crate::sigstore::trust::TrustedRoot;
use crate::store::Store;
use crate::verify::{Checks, LocalArtifact, Problem, Report, Verified, VerifyError};

/// Everything `run` decides from.
#[derive(Debug)]
pub struct RunRequest<'a> {
    pub bundle: &'a [u8],
    /// Where the bundle was read from: the server's directory defaults to its folder.
    pub bundle_path: &'a Path,
    /// The trust policy; command-line trust options are `Policy::single`.
    pub policy: &'a Policy,
    pub trusted_root: &'a TrustedRoot,
    pub revocation: &'a RevocationOptions,
    /// The server's directory (`--dir`), else the bundle's folder.
    pub dir: Option<&'a Path>,
    /// File artifacts checked at other paths (`--file NAME=PATH`).
    pub files: Vec<LocalArtifact>,
    pub store: Store,
    /// Where package artifacts (npm, PyPI) are fetched from, and whether the network may be
    /// used; they are installed into `store` (a relaunch reuses the checked install).
    pub packages: crate::artifact::PackageChecks,
    /// Ask no registry: packages start only from what the store holds, pinned images are
    /// unchecked.
    pub offline: bool,
    pub pin_store: &'a PinStore,
    /// Approve permission changes of a newer release (`--accept`).
    pub accept: bool,
    pub user_env: &'a [EnvArg],
    /// The command the client configured (`-- CMD ARGS`), empty when none was given.
    pub command: &'a [String],
    pub now: DateTime<Utc>,
}

/// A server that may start: the launch (from the snapshot, clean environment) and the pins the
/// guard holds it to.
#[derive(Debug)]
pub struct Ready {
    pub launch: StdioLaunch,
    pub pins: ToolPins,
    pub snapshot: PathBuf,
    pub manifest: Verified<Manifest>,
}

/// Programs that fetch code when they start (`npx pkg`, `uvx pkg`, `docker run image`): a
/// signed launch through one of them pins the command's words, not the code it will fetch.
pub const PACKAGE_RUNNERS: &[&str] = &[
    "npx", "npm", "pnpx", "pnpm", "yarn", "bunx", "bun", "uvx", "uv", "pipx", "docker", "podman",
];

/// The package runner a command names (by its file name), if it is one.
pub fn package_runner(command: &str) -> Option<String> {
    let name = Path::new(command).file_name()?.to_str()?;
    PACKAGE_RUNNERS.contains(&name).then(|| name.to_owned())
}

/// What the user should know about a launch that may proceed: what runs is not entirely the
/// verified snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunWarning {
    #[error(
        "the signed launch starts `{runner}`, which fetches code when it starts: the signature \
         covers the command's words and the pinned files, not what `{runner}` downloads"
    )]
    PackageRunner { runner: String },
    #[error(
        "the manifest signs no launch command: the command given after `--` runs (from the \
         verified snapshot), but the publisher did not sign it"
    )]
    CommandNotSigned,
}

/// The decision. `ready` is `Some` exactly when `report.verified` is true.
#[derive(Debug)]
pub struct Decision {
    /// Signature, artifacts and policy, plus any refusal of the command or the pin store.
    pub report: Report,
    /// The policy rule that decided, when one named the server.
    pub rule: Option<MatchedRule>,
    /// What the pin store said, once the policy held.
    pub admission: Option<Admission>,
    pub ready: Option<Ready>,
    /// Said before the server starts; they do not stop it.
    pub warnings: Vec<RunWarning>,
}

impl Decision {
    /// True when a problem means "could not decide" (exit 2) rather than "rejected".
    pub fn undecided(&self) -> bool {
        self.report.problems.iter().any(|p| p.reason.is_undecided())
    }
}

/// Why `run` could not decide (exit 2): a local file could not be read, the pin store or the
/// launch store could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error(transparent)]
    PinStore(#[from] PinStoreError),
    #[error("cannot build the server's launch")]
    Launch(#[from] LaunchError),
}

impl RunError {
    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::Verify(e) => e.hint(),
            RunError::PinStore(e) => e.hint(),
            RunError::Launch(_) => None,
        }
    }
}

/// Decides whether the bundle's server may start, and how. Every rejection is a report; `Err`
/// only when something could not be read or written.
pub fn decide(req: RunRequest) -> Result<Decision, RunError> {
    let base = crate::tools::run::launch_base(req.dir, req.bundle_path);
    let outcome = crate::policy::verify(&PolicyRequest {
        policy: req.policy,
        bundle: req.bundle,
        trusted_root: req.trusted_root,
        checks: Checks {
            base: Some(base.clone()),
            files: req.files,
            snapshot: Some(req.store),
            offline: req.offline,
            packages: Some(req.packages),
            ..Checks::default()
        },
        now: req.now,
        revocation: req.revocation,
    })?;
    let mut decision = Decision {
        report: outcome.report,
        rule: outcome.rule,
        admission: None,
        ready: None,
        warnings: Vec::new(),
    };
    let Some(manifest) = decision.report.manifest.clone() else {
        return Ok(decision);
    };
    let (Some(signer), Some(rule)) = (outcome.signer, decision.rule.clone()) else {
        return Ok(refuse(
            decision,
            Reason::UntrustedSigner,
            "the policy named no rule or signer for this server".to_owned(),
        ));
    };
    let Some(pins) = manifest.tools.clone() else {
        return Ok(refuse(
            decision,
            Reason::NoToolPins,
            "the manifest pins no tool definitions, so the guard would have nothing to hold the \
             server to (pin them with `mcp-sign tools`)"
                .to_owned(),
        ));
    };
    let Some(snapshot) = decision
        .report
        .artifacts
        .iter()
        .find_map(|a| a.snapshot.clone())
    else {
        return Ok(refuse(
            decision,
            Reason::LaunchMismatch,
            "the manifest pins no directory or package to launch the server from".to_owned(),
        ));
    };
    if !req.command.is_empty() {
        match &manifest.launch {
            Some(signed) if command_matches(signed, req.command, &base) => {}
            Some(_) => {
                return Ok(refuse(
                    decision,
                    Reason::LaunchMismatch,
                    format!(
                        "the command given (`{}`) is not the manifest's signed launch command",
                        req.command.join(" ")
                    ),
                ));
            }
            None => {}
        }
    }
    // Built before the pin store is written: a release that cannot start (a signed `envNames`
    // variable unset, a command leaving the snapshot) is never recorded, so it cannot hold the
    // user to its version.
    let launch = match &manifest.launch {
        Some(_) => prepare(&manifest, &snapshot, req.user_env)?,
        None => {
            decision.warnings.push(RunWarning::CommandNotSigned);
            from_command(req.command, &base, &snapshot, req.user_env)?
        }
    };
    if let Some(runner) = package_runner(&launch.program) {
        decision.warnings.push(RunWarning::PackageRunner { runner });
    }
    if !admit(
        &mut decision,
        req.pin_store,
        &manifest,
        &signer,
        &rule,
        req.accept,
        req.now,
    )? {
        return Ok(decision);
    }
    decision.ready = Some(Ready {
        launch,
        pins,
        snapshot,
        manifest,
    });
    Ok(decision)
}

/// The pin store's admission (rollback, signer change, permission changes), recorded in the
/// decision; false when it refuses (the report then says why and carries no manifest).
#[allow(clippy::too_many_arguments)]
fn admit(
    decision: &mut Decision,
    pin_store: &PinStore,
    manifest: &Verified<Manifest>,
    signer: &crate::verify::SignerSummary,
    rule: &MatchedRule,
    accept: bool,
    now: DateTime<Utc>,
) -> Result<bool, RunError> {
    let admission = pin_store.admit(&AdmitRequest {
        manifest,
        signer,
        require_chain: rule.require_chain,
        accept,
        now,
    })?;
    let admitted = admission.admitted;
    decision.report.problems.extend(admission.problems.clone());
    decision.admission = Some(admission);
    if !admitted {
        decision.report.verified = false;
        decision.report.manifest = None;
    }
    Ok(admitted)
}

fn refuse(mut decision: Decision, reason: Reason, message: String) -> Decision {
    decision.report.verified = false;
    decision.report.manifest = None;
    decision.report.problems.push(Problem {
        reason,
        message,
        path: None,
    });
    decision
}

/// Whether a client's command line is the signed launch: as many words, each equal, or the
/// absolute path `base/WORD` (with the signed `workdir`) of a signed relative path WORD. Paths
/// are compared, never resolved: `..` or a symlink spelling does not match.
pub fn command_matches(signed: &ManifestLaunch, argv: &[String], base: &Path) -> bool {
    let ManifestLaunch::Stdio {
        command,
        args,
        workdir,
        ..
    } = signed
    else {
        return false;
    };
    let base = match workdir {
        Some(w) => base.join(w.as_str()),
        None => base.to_path_buf(),
    };
    let signed_words: Vec<&String> = std::iter::once(command).chain(args.iter()).collect();
    signed_words.len() == argv.len()
        && signed_words.iter().zip(argv).all(|(s, o)| {
            *s == o
                || (Path::new(o).is_absolute()
                    && RelPath::parse(s).is_ok()
                    && Path::new(o) == base.join(s.as_str()))
        })
}

/// A manifest without a launch configuration runs the client's command, from the snapshot:
/// an absolute word naming a path inside `base` is moved to the same path in the snapshot, so
/// what runs is the hashed copy, never the original tree.
fn from_command(
    argv: &[String],
    base: &Path,
    snapshot: &Path,
    user_env: &[EnvArg],
) -> Result<StdioLaunch, LaunchError> {
    let moved: Vec<String> = argv
        .iter()
        .map(|w| match Path::new(w).strip_prefix(base) {
            Ok(rel) if Path::new(w).is_absolute() => snapshot.join(rel).display().to_string(),
            _ => w.clone(),
        })
        .collect();
    match crate::tools::run::launch_from_argv(&moved, snapshot, user_env)
        .map_err(LaunchError::Launch)?
    {
        crate::mcp::Launch::Stdio(mut s) => {
            s.bytecode = crate::mcp::BytecodeCache::Interpreter;
            Ok(s)
        }
        crate::mcp::Launch::Http(h) => Err(LaunchError::NotLocal { url: h.url }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(argv: &[&str], workdir: Option<&str>) -> ManifestLaunch {
        ManifestLaunch::Stdio {
            command: argv[0].to_owned(),
            args: argv[1..].iter().map(|s| (*s).to_owned()).collect(),
            env: Default::default(),
            env_names: Vec::new(),
            workdir: workdir.map(|w| RelPath::parse(w).unwrap()),
        }
    }

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn an_unsigned_command_runs_the_snapshot_copies_of_paths_under_the_base() {
        let l = from_command(
            &words(&["python3", "/srv/wx/server.py", "/etc/hosts", "rel.py"]),
            Path::new("/srv/wx"),
            Path::new("/data/store/trees/ab"),
            &[],
        )
        .unwrap();
        assert_eq!(l.program, "python3");
        assert_eq!(
            l.args,
            ["/data/store/trees/ab/server.py", "/etc/hosts", "rel.py"]
        );
        assert_eq!(l.cwd.as_deref(), Some(Path::new("/data/store/trees/ab")));
    }

    #[test]
    fn package_runners_are_known_by_file_name() {
        assert_eq!(package_runner("/usr/bin/npx").as_deref(), Some("npx"));
        assert_eq!(package_runner("uvx").as_deref(), Some("uvx"));
        assert_eq!(package_runner("python3"), None);
    }

    #[test]
    fn a_command_matches_word_for_word_or_as_paths_under_the_base() {
        let base = Path::new("/srv/weather");
        let l = signed(&["python3", "server.py", "--stdio"], None);
        assert!(command_matches(
            &l,
            &words(&["python3", "server.py", "--stdio"]),
            base
        ));
        assert!(command_matches(
            &l,
            &words(&["python3", "/srv/weather/server.py", "--stdio"]),
            base
        ));
        for bad in [
            &["python3", "server.py"][..],
            &["python3", "evil.py", "--stdio"],
            &["python3", "/srv/other/server.py", "--stdio"],
            &["python3", "/srv/weather/../weather/server.py", "--stdio"],
            &["/usr/bin/python3", "server.py", "--stdio"],
        ] {
            assert!(!command_matches(&l, &words(bad), base), "{bad:?}");
        }
        let w = signed(&["node", "index.js"], Some("dist"));
        assert!(command_matches(
            &w,
            &words(&["node", "/srv/weather/dist/index.js"]),
            base
        ));
        assert!(!command_matches(
            &w,
            &words(&["node", "/srv/weather/index.js"]),
            base
        ));
    }
}

/// Everything `proxy` decides from: `run`'s request without the local parts.
#[derive(Debug)]
pub struct RemoteRequest<'a> {
    pub bundle: &'a [u8],
    pub policy: &'a Policy,
    pub trusted_root: &'a TrustedRoot,
    pub revocation: &'a RevocationOptions,
    pub pin_store: &'a PinStore,
    pub accept: bool,
    /// The URL the caller was configured with (a client entry's): unless it is the signed
    /// endpoint, the server is refused before anything is recorded.
    pub expected_url: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// A remote server that may be talked to: its pinned endpoint and the pins the proxy holds it
/// to.
#[derive(Debug)]
pub struct RemoteReady {
    pub url: String,
    pub tls: Option<crate::manifest::remote::TlsIdentity>,
    pub pins: ToolPins,
    pub manifest: Verified<Manifest>,
}

/// What `proxy` decided: as [`Decision`], with a remote endpoint instead of a local launch.
#[derive(Debug)]
pub struct RemoteDecision {
    pub decision: Decision,
    pub ready: Option<RemoteReady>,
}

/// Decides whether a remote server may be used: the signature and policy as for `run`, a
/// streamable-http launch, tool pins, and the pin store's admission (rollback, signer change,
/// new permissions).
pub fn decide_remote(req: RemoteRequest) -> Result<RemoteDecision, RunError> {
    let outcome = crate::policy::verify(&PolicyRequest {
        policy: req.policy,
        bundle: req.bundle,
        trusted_root: req.trusted_root,
        checks: Checks::default(),
        now: req.now,
        revocation: req.revocation,
    })?;
    let mut decision = Decision {
        report: outcome.report,
        rule: outcome.rule,
        admission: None,
        ready: None,
        warnings: Vec::new(),
    };
    let done = |decision| {
        Ok(RemoteDecision {
            decision,
            ready: None,
        })
    };
    let Some(manifest) = decision.report.manifest.clone() else {
        return done(decision);
    };
    let (Some(signer), Some(rule)) = (outcome.signer, decision.rule.clone()) else {
        return done(refuse(
            decision,
            Reason::UntrustedSigner,
            "the policy named no rule or signer for this server".to_owned(),
        ));
    };
    let Some(ManifestLaunch::StreamableHttp { url, tls }) = manifest.launch.clone() else {
        return done(refuse(
            decision,
            Reason::LaunchMismatch,
            "the manifest does not describe a remote (streamable-http) server: start a local \
             one with `mcp-verify run`"
                .to_owned(),
        ));
    };
    if let Some(expected) = req.expected_url
        && !crate::manifest::remote::same_endpoint(expected, &url)
    {
        return done(refuse(
            decision,
            Reason::LaunchMismatch,
            format!(
                "the manifest pins the endpoint `{}`, not `{}`",
                crate::text::one_line(&url, 300),
                crate::text::one_line(expected, 300)
            ),
        ));
    }
    let Some(pins) = manifest.tools.clone() else {
        return done(refuse(
            decision,
            Reason::NoToolPins,
            "the manifest pins no tool definitions, so the guard would have nothing to hold the \
             server to (pin them with `mcp-sign tools`)"
                .to_owned(),
        ));
    };
    if !admit(
        &mut decision,
        req.pin_store,
        &manifest,
        &signer,
        &rule,
        req.accept,
        req.now,
    )? {
        return done(decision);
    }
    Ok(RemoteDecision {
        decision,
        ready: Some(RemoteReady {
            url,
            tls,
            pins,
            manifest,
        }),
    })
}
