//! `mcp-verify run`: decide from the policy whether the server may start, start exactly the
//! verified bytes, and guard it while it runs. Every decision is `mcpsig::launch::decide`'s and
//! `mcpsig::guard`'s; this file parses, renders on stderr (stdout carries only the MCP stream)
//! and forwards signals.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use cli::{EXIT_ERROR, EXIT_REJECTED, errln, one_line};
use mcpsig::guard::{ForwardSignal, GuardRequest};
use mcpsig::launch::{Decision, RunRequest};
use mcpsig::mcp::env::EnvArg;
use mcpsig::pin_store::{Outcome, PinStore};
use mcpsig::policy::RevocationOptions;
use mcpsig::store::Store;
use mcpsig::verify::LocalArtifact;

use super::trust_args::TrustArgs;

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  mcp-verify run mcp-manifest.sigstore.json --key release.key.pub
  mcp-verify run weather.sigstore.json --policy ~/.config/mcpsig/policy.toml --dir ./weather \\
      --env WEATHER_API_KEY --audit-log ~/mcp-audit.jsonl
  mcp-verify run weather.sigstore.json --key release.key.pub --accept   # approve new tools
  # a server pinned as an npm or PyPI package (`mcp-sign add-artifact`): installed from its
  # pinned, hash-checked archives into the store, then started from there
  mcp-verify run memory.sigstore.json --key release.key.pub
  # in an MCP client's configuration (see `mcp-verify config --wrap`):
  mcp-verify run /srv/wx/mcp-manifest.sigstore.json --key /srv/wx/release.key.pub \\
      -- python3 /srv/wx/server.py

Before anything starts: the signature and the policy (signer, version, age, revocation), every
pinned file re-hashed as it is copied into a private read-only snapshot, the command after `--`
held to the signed launch, and the pin store (rollback, signer change, new permissions). The
server then runs from the snapshot with a clean environment, behind a guard that hides and
refuses any tool, prompt or resource template that does not match its pin.

stdout carries only the MCP stream; our messages go to stderr (and to --audit-log as JSON lines).
Exit codes: the server's own exit status once it ran; 1 rejected (nothing was started, the
reasons are printed as [reason]); 2 could not decide (usage, unreadable files, store errors).")]
pub struct RunArgs {
    /// The bundle to verify (`*.sigstore.json`).
    bundle: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
    /// Decide by a trust policy file (spec/policy.md) instead of --key or --certificate-*.
    #[arg(long, value_name = "FILE", help_heading = "Trust")]
    policy: Option<PathBuf>,
    /// The server's directory (default: the bundle's directory); it must match the pinned tree.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// A file artifact's local copy, `NAME=PATH` (default: DIR/NAME).
    #[arg(long, value_name = "[NAME=]PATH")]
    file: Vec<String>,
    /// Approve the permission changes of a newer release (new or removed tools, changed
    /// schemas or annotations) and record them in the pin store.
    #[arg(long)]
    accept: bool,
    /// Pass a variable to the server: `NAME=VALUE`, or `NAME` to pass this process's value.
    #[arg(long = "env", value_name = "NAME[=VALUE]", value_parser = super::tools_cmd::parse_env)]
    env: Vec<EnvArg>,
    /// Append what the guard hid or refused, and why, to FILE as JSON lines (created 0600).
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
    /// Print only problems and refusals on stderr, not the verification summary.
    #[arg(long, short)]
    quiet: bool,
    /// Never touch the network: a package (npm, PyPI) starts only from an install already in
    /// the launch store, or from archives already downloaded there.
    #[arg(long)]
    offline: bool,
    /// The command the client launches; it must be the manifest's signed launch command
    /// (paths inside DIR may be given absolute). Default: the manifest's launch.
    #[arg(last = true, value_name = "CMD ARGS")]
    command: Vec<String>,
}

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let (policy, trusted_root) = args.trust.to_policy(args.policy.as_deref())?;
    let bundle = mcpsig::verify::read_bundle_file(&args.bundle)?;
    let store = Store::open_default().context("cannot open the launch store")?;
    let pin_store = PinStore::open_default().context("cannot open the pin store")?;
    let decision = mcpsig::launch::decide(RunRequest {
        packages: mcpsig::artifact::PackageChecks {
            registries: mcpsig::registry::Registries::from_env(),
            install: true,
        },
        offline: args.offline,
        bundle: &bundle,
        bundle_path: &args.bundle,
        policy: &policy,
        trusted_root: &trusted_root,
        revocation: &RevocationOptions::default(),
        dir: args.dir.as_deref(),
        files: args
            .file
            .iter()
            .map(|f| LocalArtifact::parse_file(f))
            .collect(),
        store,
        pin_store: &pin_store,
        accept: args.accept,
        user_env: &args.env,
        command: &args.command,
        now: mcpsig::chrono::Utc::now(),
    })?;
    let who = super::tools_cmd::who(&decision.report, &args.bundle);
    let who = one_line(&who);
    print_admission(&decision, args.quiet);
    let Some(ready) = decision.ready else {
        return Ok(print_rejection(
            &decision,
            &who,
            "the server was not started",
        ));
    };
    for w in &decision.warnings {
        errln!("warning: {}", one_line(&w.to_string()));
    }
    if !args.quiet {
        errln!(
            "mcp-verify: verified {who}; starting it from {}",
            ready.snapshot.display()
        );
    }
    let guard = mcpsig::guard::Guard::start(GuardRequest {
        server: ready.launch,
        pins: ready.pins,
        audit_log: args.audit_log.clone(),
        limits: Default::default(),
    })
    .context("cannot start the server")?;
    forward_signals(guard.server())?;
    let quiet = args.quiet;
    let exit = guard.run(std::io::stdin(), std::io::stdout(), move |event| {
        use mcpsig::guard::GuardEvent;
        let routine = matches!(
            event,
            GuardEvent::Started { .. }
                | GuardEvent::Rechecking { .. }
                | GuardEvent::ListChanged { .. }
                | GuardEvent::ServerExited { .. }
        );
        if quiet && routine {
            return;
        }
        errln!("mcp-verify: {}", one_line(&event.to_string()));
    })?;
    Ok(exit_code(exit.status))
}

/// A refusal on stderr (why, each reason, how to approve a release); the exit code: 2 when it
/// could not be decided, else 1.
pub(crate) fn print_rejection(d: &Decision, who: &str, consequence: &str) -> u8 {
    errln!("mcp-verify: REJECTED: {who} ({consequence})");
    for p in &d.report.problems {
        errln!("  [{}] {}", p.reason, one_line(&p.message));
    }
    if d.report
        .problems
        .iter()
        .any(|p| p.reason == mcpsig::reason::Reason::NeedsApproval)
    {
        errln!("hint: review the changes above, then run again with --accept to approve them");
    }
    if d.undecided() {
        EXIT_ERROR
    } else {
        EXIT_REJECTED
    }
}

/// What the pin store said, on stderr: the first use, an upgrade, warnings, and the permission
/// diff of a newer release.
pub(crate) fn print_admission(d: &Decision, quiet: bool) {
    let Some(a) = &d.admission else { return };
    if !quiet {
        match a.outcome {
            Outcome::FirstUse => errln!(
                "mcp-verify: first use of {}: pinned signer, version {} and its tools",
                one_line(a.server.as_str()),
                one_line(a.version.as_str())
            ),
            Outcome::Upgraded | Outcome::Approved => errln!(
                "mcp-verify: {} upgraded to {}{}",
                one_line(a.server.as_str()),
                one_line(a.version.as_str()),
                if a.outcome == Outcome::Approved {
                    " (changes approved)"
                } else {
                    ""
                }
            ),
            _ => {}
        }
    }
    for w in &a.warnings {
        errln!("warning: [{}] {}", w.reason, one_line(&w.message));
    }
    for c in &a.changes {
        if quiet && !c.needs_approval {
            continue;
        }
        let mark = if c.needs_approval {
            "needs approval"
        } else {
            "changed"
        };
        errln!("mcp-verify: {mark}:");
        for line in c.diff.to_string().lines() {
            errln!("    {line}");
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP reach the server's process group; the guard then ends when the
/// server exits.
fn forward_signals(server: mcpsig::guard::ServerHandle) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for s in signals.forever() {
                let sig = match s {
                    SIGINT => ForwardSignal::Interrupt,
                    SIGTERM => ForwardSignal::Terminate,
                    _ => ForwardSignal::Hangup,
                };
                server.signal(sig);
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

/// The server's exit status as ours: its code, or 128 + the signal that ended it.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => u8::try_from(c).unwrap_or(EXIT_ERROR),
        (None, Some(s)) => u8::try_from(128 + s).unwrap_or(EXIT_ERROR),
        (None, None) => EXIT_ERROR,
    }
}
