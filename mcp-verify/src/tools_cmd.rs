//! `mcp-verify tools`: verify the bundle, then launch the server under the
//! pinned capture profile and compare its live definitions with the pins.
//! Decisions live in `mcpsig::verify` and `mcpsig::tools`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use cli::outln;
use cli::{EXIT_OK, EXIT_REJECTED};
use mcpsig::mcp::ClientOptions;
use mcpsig::mcp::env::EnvArg;
use mcpsig::tools::run::launch_from_argv;
use mcpsig::verify::{Checks, LocalArtifact, Request};

use super::trust_args::TrustArgs;

#[derive(Args)]
#[command(after_help = "\
Examples:
  mcp-verify tools mcp-manifest.sigstore.json --key release.key.pub
  mcp-verify tools mcp-manifest.sigstore.json --key release.key.pub --json -- node dist/index.js

Exit codes: 0 verified and no drift, 1 rejected (signature problems, or `tool-drift` when
the live definitions differ from the pinned ones), 2 could not decide.")]
pub struct ToolsArgs {
    /// The bundle to verify (`*.sigstore.json`).
    bundle: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
    /// Directory the server runs in (default: the bundle's directory). It is re-hashed and
    /// must be the pinned tree before anything is launched from it.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Where a pinned file artifact is (default: DIR/NAME); `NAME=PATH` picks one.
    #[arg(long, value_name = "[NAME=]PATH")]
    file: Vec<String>,
    /// Pass this variable to the server: `NAME` from this environment, or `NAME=VALUE`
    /// (repeatable). The server gets no other variable but a small base (PATH, HOME, locale,
    /// TMPDIR; spec/tools.md) and the manifest's launch configuration.
    #[arg(long = "env", value_name = "NAME[=VALUE]", value_parser = parse_env)]
    env: Vec<EnvArg>,
    /// Seconds to wait for each answer from the server.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// The server command, instead of the manifest's `launch`.
    #[arg(last = true, value_name = "CMD ARGS")]
    command: Vec<String>,
}

/// The server a report names (`NAME VERSION`), else the bundle's path.
pub(crate) fn who(report: &mcpsig::verify::Report, bundle: &std::path::Path) -> String {
    report
        .server
        .as_ref()
        .map(|s| format!("{} {}", s.name, s.version))
        .unwrap_or_else(|| bundle.display().to_string())
}

pub(crate) fn parse_env(s: &str) -> Result<EnvArg, String> {
    EnvArg::parse(s).map_err(|e| e.to_string())
}

pub fn run(args: ToolsArgs) -> anyhow::Result<u8> {
    let trust = args.trust.to_trust()?;
    let bundle = mcpsig::verify::read_bundle_file(&args.bundle)?;
    let base = mcpsig::tools::run::launch_base(args.dir.as_deref(), &args.bundle);
    // Everything the server is launched from is verified first: a tree that differs from the
    // pins is never run.
    let report = mcpsig::verify::verify(&Request {
        bundle: &bundle,
        trust: &trust,
        now: mcpsig::chrono::Utc::now(),
        checks: Checks {
            base: Some(base.clone()),
            files: args
                .file
                .iter()
                .map(|f| LocalArtifact::parse_file(f))
                .collect(),
            // A package is installed into the launch store, and the server started from there.
            packages: Some(mcpsig::artifact::PackageChecks {
                registries: mcpsig::registry::Registries::from_env(),
                install: true,
            }),
            ..Checks::default()
        },
    })?;
    let base = match report.artifacts.iter().find_map(|a| a.snapshot.clone()) {
        Some(install) if args.command.is_empty() => install,
        _ => base,
    };
    let manifest = match &report.manifest {
        Some(m) => m,
        None => {
            if args.json {
                cli::rawln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let who = who(&report, &args.bundle);
                outln!("REJECTED: {who} (the server was not started)");
                for p in &report.problems {
                    outln!("  [{}] {}", p.reason, p.message);
                }
            }
            return Ok(EXIT_REJECTED);
        }
    };
    let launch = if args.command.is_empty() {
        None
    } else {
        Some(launch_from_argv(&args.command, &base, &args.env)?)
    };
    let options = ClientOptions {
        timeout: Duration::from_secs(args.timeout.max(1)),
        ..ClientOptions::default()
    };
    let check = match mcpsig::verify::check_live_tools(manifest, launch, &base, &args.env, &options)
    {
        Ok(c) => c,
        Err(e) => match e.reason() {
            Some(reason) => {
                if args.json {
                    let doc = serde_json::json!({"verified": false, "server": report.server, "reason": reason, "message": e.to_string()});
                    cli::rawln!("{}", serde_json::to_string_pretty(&doc)?);
                } else {
                    outln!("REJECTED: {}", args.bundle.display());
                    outln!("  [{reason}] {e}");
                }
                return Ok(EXIT_REJECTED);
            }
            None => {
                return Err(anyhow::Error::new(e)
                    .context("cannot compare the pinned tools with the live server"));
            }
        },
    };
    let reason = check.reason();
    if args.json {
        let doc = serde_json::json!({
            "verified": reason.is_none(),
            "server": report.server,
            "reason": reason,
            "differences": check.drift,
            "lints": check.lints,
        });
        cli::rawln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let who = who(&report, &args.bundle);
        match reason {
            None => outln!("verified: {who} (live tools match the pins)"),
            Some(r) => {
                outln!("REJECTED: {who}");
                outln!("  [{r}] the live server's definitions differ from the signed pins:");
                for d in &check.drift {
                    for line in d.to_string().lines() {
                        outln!("    {line}");
                    }
                }
            }
        }
        for l in &check.lints {
            cli::errln!("warning: {l}");
        }
    }
    Ok(if reason.is_none() {
        EXIT_OK
    } else {
        EXIT_REJECTED
    })
}
