//! `mcp-verify config`: which servers of an MCP client's configuration a signed manifest
//! covers, and `--wrap` / `--unwrap` to launch them through `mcp-verify run`. Decisions live in
//! `mcpsig::client_config`.

use std::path::PathBuf;

use clap::Args;
use cli::{EXIT_ERROR, EXIT_OK, EXIT_REJECTED, one_line, outln, print_error_as};
use mcpsig::client_config::{
    ClientKind, ConfigError, ConfigReport, EntryChange, ReportRequest, ServerReport, Status,
    WrapMode, WrapOutcome, WrapRequest,
};

use super::trust_args::TrustArgs;

#[derive(Args)]
#[command(after_help = "\
Examples:
  mcp-verify config ~/.config/Claude/claude_desktop_config.json --bundles ~/mcp-bundles
  mcp-verify config .vscode/mcp.json --bundles bundles --key release.key.pub --json
  mcp-verify config --wrap .mcp.json --bundles bundles --key release.key.pub --dry-run
  mcp-verify config --unwrap ~/.cursor/mcp.json

Files: claude_desktop_config.json (Claude Desktop), mcp.json (Cursor), .vscode/mcp.json
(VS Code), .mcp.json (Claude Code); --format names another. Bundles are matched by their
signed launch command; without trust options their signatures are checked only at launch.
Exit codes: 0 every server is covered (with --wrap: every server now launches through
`mcp-verify run`, or `mcp-verify proxy --stdio` for a remote one a bundle pins; --unwrap: done), 1 some are not (`not-covered`, `remote-server`, or covered
but left unwrapped), 2 could not decide (unreadable or malformed configuration, backup kept).
See spec/client-config.md.")]
pub struct ConfigArgs {
    /// The client configuration file.
    file: PathBuf,
    /// The client the file belongs to, when its name does not tell: claude-desktop, cursor,
    /// vscode, claude-code.
    #[arg(long, value_name = "CLIENT", value_parser = parse_kind)]
    format: Option<ClientKind>,
    /// Look for `*.sigstore.json` bundles here (and below) whose signed launch matches an entry.
    #[arg(long, value_name = "DIR")]
    bundles: Option<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
    /// With --wrap: the policy file `mcp-verify run` verifies with.
    #[arg(long, value_name = "FILE", requires = "wrap")]
    policy: Option<PathBuf>,
    /// Rewrite each covered entry to launch through `mcp-verify run`, and each pinned remote entry
    /// through `mcp-verify proxy --stdio` (backup: FILE.mcpsig-backup).
    #[arg(long, conflicts_with = "unwrap")]
    wrap: bool,
    /// Restore each wrapped entry to the command after its `--` (a proxied one to its URL).
    #[arg(long)]
    unwrap: bool,
    /// With --wrap or --unwrap: print the changes, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// With --wrap: replace an existing backup.
    #[arg(long)]
    force: bool,
    /// Print the result as JSON on stdout (errors too).
    #[arg(long)]
    pub json: bool,
}

fn parse_kind(s: &str) -> Result<ClientKind, String> {
    ClientKind::parse(s).ok_or_else(|| {
        let names: Vec<&str> = ClientKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("one of {}", names.join(", "))
    })
}

pub fn run(args: ConfigArgs) -> u8 {
    match run_inner(&args) {
        Ok(code) => code,
        Err(e) => {
            let hint = e.hint();
            print_error_as(&e, "error", hint.as_deref(), args.json, false);
            EXIT_ERROR
        }
    }
}

fn run_inner(args: &ConfigArgs) -> Result<u8, ConfigError> {
    let now = mcpsig::chrono::Utc::now();
    let trust = Some(args.trust.request());
    if !args.wrap && !args.unwrap {
        let report = mcpsig::client_config::report(&ReportRequest {
            config: args.file.clone(),
            kind: args.format,
            bundles: args.bundles.clone(),
            trust,
            now,
        })?;
        if args.json {
            cli::rawln!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        } else {
            print_report(&report);
        }
        return Ok(if report.covered {
            EXIT_OK
        } else {
            EXIT_REJECTED
        });
    }
    let mode = if args.wrap {
        WrapMode::Wrap
    } else {
        WrapMode::Unwrap
    };
    let exe = std::env::current_exe().map_err(ConfigError::ProgramPath)?;
    let outcome = mcpsig::client_config::wrap(&WrapRequest {
        config: args.file.clone(),
        kind: args.format,
        bundles: args.bundles.clone(),
        trust,
        policy: args.policy.clone(),
        mcp_verify: exe,
        mode,
        dry_run: args.dry_run,
        force: args.force,
        now,
    })?;
    if args.json {
        cli::rawln!(
            "{}",
            serde_json::to_string_pretty(&outcome).unwrap_or_default()
        );
    } else {
        print_outcome(&outcome);
    }
    Ok(match mode {
        WrapMode::Wrap if !outcome.all_wrapped => EXIT_REJECTED,
        _ => EXIT_OK,
    })
}

fn print_report(r: &ConfigReport) {
    outln!(
        "{} ({}): {} server{}",
        one_line(&r.config),
        r.format,
        r.servers.len(),
        if r.servers.len() == 1 { "" } else { "s" }
    );
    for s in &r.servers {
        print_server(s);
    }
    for b in &r.ignored_bundles {
        cli::errln!(
            "warning: ignored bundle {}: {}",
            one_line(&b.path),
            one_line(&b.problem)
        );
    }
    for w in &r.warnings {
        cli::errln!("warning: {w}");
    }
    let matched = r
        .servers
        .iter()
        .any(|s| matches!(s.status, Status::Wrapped | Status::Covered));
    if matched && !r.signatures_checked {
        outln!(
            "bundles were read without checking their signatures: `mcp-verify run` verifies them \
             at launch (give --key or --certificate-identity to check them now)"
        );
    }
    if r.covered {
        outln!("every server is covered by a signed manifest");
    }
}

fn print_server(s: &ServerReport) {
    let name = one_line(&s.name);
    let what = match (&s.command, &s.url) {
        (Some(argv), _) => one_line(&argv.join(" ")).into_owned(),
        (None, Some(url)) => one_line(url).into_owned(),
        (None, None) => String::new(),
    };
    let bundle = s.bundle.as_deref().map(one_line).unwrap_or_default();
    let server = s
        .server
        .as_ref()
        .map(|id| {
            format!(
                ", {} {}",
                one_line(id.name.as_str()),
                one_line(id.version.as_str())
            )
        })
        .unwrap_or_default();
    let checked = if s.signer.is_some() {
        "signature verified; artifacts verified at launch"
    } else {
        "verify at launch"
    };
    match s.status {
        // A proxied remote entry names the endpoint its bundle pins.
        Status::Wrapped => match &s.url {
            Some(url) => outln!(
                "  {name}: wrapped: mcp-verify proxy --stdio {bundle}{server} -> {} ({})",
                one_line(url),
                if s.signer.is_some() {
                    "signature verified; held to its pins while it runs"
                } else {
                    "verify at start"
                }
            ),
            None => outln!("  {name}: wrapped: mcp-verify run {bundle}{server} ({checked})"),
        },
        Status::Covered => outln!("  {name}: covered by {bundle}{server} ({checked})"),
        Status::NotCovered => {
            outln!("  {name}: [not-covered] {what}: no signed manifest covers it")
        }
        Status::Remote => {
            outln!("  {name}: [remote-server] {what}: reached over HTTP, nothing local to verify")
        }
    }
    for rej in &s.rejected {
        for p in &rej.problems {
            outln!(
                "    bundle {} refused: [{}] {}",
                one_line(&rej.bundle),
                p.reason,
                one_line(&p.message)
            );
        }
    }
    for n in &s.notes {
        outln!("    note: {}", one_line(&n.to_string()));
    }
}

fn print_outcome(o: &WrapOutcome) {
    let verb = match o.mode {
        WrapMode::Wrap => "wrapped",
        WrapMode::Unwrap => "unwrapped",
    };
    if o.dry_run {
        for c in &o.changes {
            print_diff(c);
        }
    }
    let names: Vec<String> = o
        .changes
        .iter()
        .map(|c| one_line(&c.name).into_owned())
        .collect();
    let prefix = if o.dry_run { "would have " } else { "" };
    if names.is_empty() {
        outln!("nothing to change: {}", one_line(&o.report.config));
    } else {
        outln!("{prefix}{verb}: {}", names.join(", "));
    }
    if let Some(b) = &o.backup {
        outln!("backup: {}", one_line(b));
    }
    if o.mode == WrapMode::Wrap {
        let left: Vec<&ServerReport> = o
            .report
            .servers
            .iter()
            .filter(|s| !matches!(s.status, Status::Wrapped))
            .collect();
        if !left.is_empty() {
            outln!("left as they are:");
            for s in left {
                print_server(s);
            }
        }
    }
}

/// The changed keys of one entry, `-` as it was and `+` as it is written.
fn print_diff(c: &EntryChange) {
    outln!("~ {}", one_line(&c.name));
    let (Some(before), Some(after)) = (c.before.as_object(), c.after.as_object()) else {
        return;
    };
    let keys = before
        .keys()
        .chain(after.keys().filter(|k| !before.contains_key(*k)));
    for k in keys {
        let (b, a) = (before.get(k), after.get(k));
        if b == a {
            continue;
        }
        if let Some(b) = b {
            outln!(
                "-   {}: {}",
                one_line(&to_json_line(k)),
                one_line(&b.to_string())
            );
        }
        if let Some(a) = a {
            outln!(
                "+   {}: {}",
                one_line(&to_json_line(k)),
                one_line(&a.to_string())
            );
        }
    }
}

fn to_json_line(k: &str) -> String {
    serde_json::Value::String(k.to_owned()).to_string()
}
