//! `mcp-sign tools`: capture a server's tool, prompt and resource-template
//! definitions and pin them into the manifest. Decisions live in `mcpsig::tools`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use mcpsig::mcp::env::EnvArg;
use mcpsig::mcp::{Capability, ClientOptions};
use mcpsig::tools::run::{launch_from_argv, pin_manifest_file};

use super::{Failure, refused};

#[derive(Args)]
#[command(after_help = "\
Examples:
  mcp-sign tools mcp-manifest.json                      # launch as the manifest says
  mcp-sign tools mcp-manifest.json --capability roots -- node dist/index.js

The capture profile (protocol version, declared capabilities, argv, environment variable
NAMES) is pinned with the definitions; mcp-verify replays it. Lints (invisible or bidi
characters, look-alike names, text aimed at the model) are warnings, errors with --strict.")]
pub struct ToolsArgs {
    /// The manifest to pin the definitions into (rewritten atomically).
    manifest: PathBuf,
    /// Declare this client capability to the server (repeatable); some servers list more tools.
    #[arg(long = "capability", value_name = "roots|sampling|elicitation", value_parser = parse_capability)]
    capabilities: Vec<Capability>,
    /// Refuse to pin (exit 1) when any lint fires.
    #[arg(long)]
    strict: bool,
    /// Seconds to wait for each answer from the server.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
    /// Directory the server runs in (default: the manifest's directory).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Pass this variable to the server: `NAME` from this environment, or `NAME=VALUE`
    /// (repeatable). The server gets no other variable but a small base (PATH, HOME, locale,
    /// TMPDIR; spec/tools.md) and the manifest's launch configuration.
    #[arg(long = "env", value_name = "NAME[=VALUE]", value_parser = parse_env)]
    env: Vec<EnvArg>,
    /// The server command, instead of the manifest's `launch`.
    #[arg(last = true, value_name = "CMD ARGS")]
    command: Vec<String>,
}

fn parse_env(s: &str) -> Result<EnvArg, String> {
    EnvArg::parse(s).map_err(|e| e.to_string())
}

fn parse_capability(s: &str) -> Result<Capability, String> {
    Capability::parse(s)
        .ok_or_else(|| format!("unknown capability `{s}` (roots, sampling, elicitation)"))
}

pub fn run(args: ToolsArgs) -> Result<(), Failure> {
    let options = ClientOptions {
        timeout: Duration::from_secs(args.timeout.max(1)),
        capabilities: args.capabilities.clone(),
        ..ClientOptions::default()
    };
    let cwd = mcpsig::tools::run::launch_base(args.dir.as_deref(), &args.manifest);
    let launch = if args.command.is_empty() {
        None
    } else {
        Some(launch_from_argv(&args.command, &cwd, &args.env)?)
    };
    let outcome = pin_manifest_file(
        &args.manifest,
        launch,
        args.dir.as_deref(),
        &args.env,
        &options,
        args.strict,
    )
    .with_context(|| format!("cannot pin tools into `{}`", args.manifest.display()))?;
    let label = if args.strict { "error" } else { "warning" };
    for l in &outcome.lints {
        cli::errln!("{label}: {l}");
    }
    if !outcome.written {
        return Err(refused(anyhow::anyhow!(
            "{} lint(s) fired with --strict; `{}` was not changed",
            outcome.lints.len(),
            args.manifest.display()
        )));
    }
    let p = &outcome.pins;
    crate::emit(
        &format!(
            "pinned {} tools, {} prompts, {} resource templates (protocol {}) into {}",
            p.tools.len(),
            p.prompts.len(),
            p.resource_templates.len(),
            p.profile.protocol_version,
            args.manifest.display()
        ),
        serde_json::json!({
            "manifest": args.manifest.display().to_string(),
            "tools": p.tools.iter().map(|t| serde_json::json!({"name": t.name, "digest": t.digest})).collect::<Vec<_>>(),
            "prompts": p.prompts.len(),
            "resourceTemplates": p.resource_templates.len(),
            "profile": p.profile,
            "lints": outcome.lints.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
        }),
    );
    Ok(())
}
