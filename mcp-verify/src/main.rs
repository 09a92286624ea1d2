//! `mcp-verify`: verify a signed MCP server manifest before launch. Argument parsing and output
//! only; every decision is made by `mcpsig::verify`.

mod catalog_cmd;
mod config_cmd;
mod mcpb_cmd;
mod oci_cmd;
mod pins_cmd;
mod run_cmd;
mod sigstore_cmd;
mod trust_args;
mod trust_cmd;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use cli::one_line;
use cli::outln;
use cli::{EXIT_ERROR, EXIT_OK, EXIT_REJECTED, print_error};
use mcpsig::verify::{Checks, LocalArtifact, Report, Request, SignerSummary};
use std::path::PathBuf;
use std::process::ExitCode;
use trust_args::TrustArgs;

mod tools_cmd;

const AFTER_HELP: &str = "\
Examples:
  mcp-verify mcp-manifest.sigstore.json --key release.key.pub --dir ./server
  mcp-verify mcp-manifest.sigstore.json --key release.key.pub --dir server=./server \\
      --file dist/server.tgz=./server.tgz --json
  mcp-verify mcp-manifest.sigstore.json --key release.key.pub --signature-only
  mcp-verify oci://ghcr.io/acme/weather:1.2.0 --key release.key.pub
  mcp-verify oci://127.0.0.1:5000/acme/weather@sha256:<hex> --policy trust.toml --json
  mcp-verify mcp-manifest.sigstore.json \\
      --certificate-identity https://github.com/acme/wx/.github/workflows/rel.yml@refs/tags/v1.2 \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com
  mcp-verify mcp-manifest.sigstore.json \\
      --certificate-identity-regexp 'https://github.com/acme/weather/.+@refs/tags/v.+' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com \\
      --source-repository https://github.com/acme/weather --runner-environment github-hosted

An `oci://` image is resolved to its manifest digest, and every Sigstore bundle attached to it
in its registry is verified; one must pin that image at that digest (spec/oci.md). Registry
credentials: MCPSIG_REGISTRY_TOKEN, or MCPSIG_REGISTRY_USERNAME and MCPSIG_REGISTRY_PASSWORD,
else ~/.docker/config.json. Plain HTTP only to a registry on loopback, unless --insecure.

Exit codes: 0 verified, 1 rejected (the report names each reason; `unsigned` when no bundle is
attached to an image), 2 could not decide (usage, unreadable files, registry unreachable). See
spec/cli.md for the reason codes and the --json shape.";

#[derive(Parser)]
#[command(
    name = "mcp-verify",
    version,
    about = "Verify a signed MCP server manifest before launch",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    verify: VerifyArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Verify any Sigstore bundle (the Sigstore conformance CLI contract).
    #[command(subcommand)]
    Sigstore(SigstoreCmd),
    /// Verify the bundle, launch the server under the pinned profile, compare its live tools.
    Tools(Box<tools_cmd::ToolsArgs>),
    /// Trusted-root maintenance: `trust refresh` fetches the Sigstore trusted root over TUF.
    #[command(subcommand)]
    Trust(trust_cmd::TrustCmd),
    /// The pin store (trust on first use): `pins list`, `pins show NAME`, `pins forget NAME`.
    #[command(subcommand, after_help = pins_cmd::AFTER_HELP)]
    Pins(pins_cmd::PinsCmd),
    /// Which servers of an MCP client's configuration a signed manifest covers; --wrap makes
    /// them launch through `mcp-verify run`.
    Config(Box<config_cmd::ConfigArgs>),
    /// Verify the bundle against a policy and the pin store, then start the server from a
    /// verified snapshot behind a guard that holds it to its signed tool pins.
    Run(Box<run_cmd::RunArgs>),
    /// Check the signature an MCP bundle (`.mcpb`) carries itself: absent, malformed, invalid,
    /// untrusted or valid.
    #[command(after_help = mcpb_cmd::AFTER_HELP)]
    Mcpb(mcpb_cmd::McpbArgs),
    /// Verify every bundle of a catalog (files, directories, JSON-lines lists) in parallel:
    /// signatures, signers and policy, not artifacts; one line per bundle and a summary.
    #[command(after_help = catalog_cmd::AFTER_HELP)]
    Catalog(Box<catalog_cmd::CatalogArgs>),
}

#[derive(Subcommand)]
enum SigstoreCmd {
    /// Verify a Sigstore bundle over a file or a `sha256:<hex>` digest.
    #[command(
        after_help = "Examples:\n  mcp-verify sigstore verify-bundle --bundle a.txt.sigstore.json \\\n      --certificate-identity me@example.com --certificate-oidc-issuer https://accounts.google.com a.txt\n  mcp-verify sigstore verify-bundle --bundle b.json --key key.pub sha256:<hex>"
    )]
    VerifyBundle(sigstore_cmd::VerifyBundleArgs),
}

#[derive(Args)]
struct VerifyArgs {
    /// The bundle to verify (`*.sigstore.json`), or an image `oci://REGISTRY/REPO:TAG` or
    /// `oci://REGISTRY/REPO@sha256:HEX` whose attached bundles are verified.
    #[arg(required = true, value_name = "BUNDLE|oci://IMAGE")]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
    /// Decide by a trust policy file (spec/policy.md) instead of --key or --certificate-*
    /// options: the rule for the bundle's server names its signers, minimum version, maximum
    /// age and revocation list.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Re-hash this directory and compare it with the pinned tree; `NAME=DIR` picks an artifact.
    /// Every pinned artifact must be checked, else the result is `artifact-unchecked`.
    #[arg(long, value_name = "[NAME=]DIR")]
    dir: Vec<String>,
    /// Re-hash this file and compare it with a pinned file artifact; `NAME=PATH` picks one.
    #[arg(long, value_name = "[NAME=]PATH")]
    file: Vec<String>,
    /// Check the signature, statement and validity window only, not the artifacts on disk
    /// (the report says so).
    #[arg(long, conflicts_with_all = ["dir", "file"])]
    signature_only: bool,
    /// Ask no registry (no network): npm and PyPI artifacts are checked only against archives
    /// already in the launch store, pinned OCI images are reported unchecked.
    #[arg(long)]
    offline: bool,
    /// Allow plain HTTP to an OCI registry that is not on loopback.
    #[arg(long)]
    insecure: bool,
    /// Print the report as JSON on stdout (errors too).
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(code) = cli::select_crypto_provider() {
        return code;
    }
    let json = cli.verify.json
        || matches!(&cli.cmd, Some(Cmd::Tools(a)) if a.json)
        || matches!(&cli.cmd, Some(Cmd::Catalog(a)) if a.json());
    let result = match cli.cmd {
        None => verify_cmd(cli.verify),
        Some(Cmd::Sigstore(SigstoreCmd::VerifyBundle(a))) => {
            return sigstore_cmd::verify_bundle_cmd(&a);
        }
        Some(Cmd::Tools(args)) => tools_cmd::run(*args),
        Some(Cmd::Trust(cmd)) => return ExitCode::from(trust_cmd::run(cmd)),
        Some(Cmd::Pins(cmd)) => return ExitCode::from(pins_cmd::run(cmd)),
        Some(Cmd::Config(args)) => return ExitCode::from(config_cmd::run(*args)),
        Some(Cmd::Run(args)) => run_cmd::run(*args),
        Some(Cmd::Mcpb(args)) => return ExitCode::from(mcpb_cmd::run(args)),
        Some(Cmd::Catalog(args)) => catalog_cmd::run(*args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            print_error(e.as_ref(), reason_for(&e), hint_for(&e).as_deref(), json);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn verify_cmd(args: VerifyArgs) -> anyhow::Result<u8> {
    let bundle_path = args
        .bundle
        .clone()
        .context("a BUNDLE argument is required")?;
    if let Some(image) = bundle_path.to_str().filter(|p| p.starts_with("oci:")) {
        return oci_cmd::run(&args, image);
    }
    if args.policy.is_some() {
        return verify_with_policy(args, &bundle_path);
    }
    let trust = args.trust.to_trust()?;
    let bundle = mcpsig::verify::read_bundle_file(&bundle_path)?;
    let checks = checks(&args);
    let report = mcpsig::verify::verify(&Request {
        bundle: &bundle,
        trust: &trust,
        now: mcpsig::chrono::Utc::now(),
        checks,
    })?;
    finish_report(&report, &bundle_path, args.json, None)
}

pub(crate) fn checks(args: &VerifyArgs) -> Checks {
    Checks {
        dirs: args
            .dir
            .iter()
            .map(|d| LocalArtifact::parse_dir(d))
            .collect(),
        files: args
            .file
            .iter()
            .map(|f| LocalArtifact::parse_file(f))
            .collect(),
        base: None,
        signature_only: args.signature_only,
        snapshot: None,
        packages: (!args.signature_only).then(|| mcpsig::artifact::PackageChecks {
            registries: mcpsig::registry::Registries::from_env(),
            install: false,
        }),
        offline: args.offline,
        oci: mcpsig::registry::oci::Options {
            insecure: args.insecure,
            ..Default::default()
        },
    }
}

/// `--policy FILE`: the policy's rule for the bundle's server decides.
fn verify_with_policy(args: VerifyArgs, bundle_path: &std::path::Path) -> anyhow::Result<u8> {
    let policy_path = args.policy.clone().context("--policy FILE")?;
    let policy = mcpsig::policy::Policy::load(&policy_path)?;
    let trusted_root = args.trust.to_root()?;
    let bundle = mcpsig::verify::read_bundle_file(bundle_path)?;
    let outcome = mcpsig::policy::verify(&mcpsig::policy::PolicyRequest {
        policy: &policy,
        bundle: &bundle,
        trusted_root: &trusted_root,
        checks: checks(&args),
        now: mcpsig::chrono::Utc::now(),
        revocation: &mcpsig::policy::RevocationOptions::default(),
    })?;
    let rule = outcome.rule.map(|r| match r.line {
        Some(line) => format!("{} ({}:{line})", r.scope, policy_path.display()),
        None => r.scope.to_string(),
    });
    finish_report(&outcome.report, bundle_path, args.json, rule.as_deref())
}

fn finish_report(
    report: &Report,
    bundle_path: &std::path::Path,
    json: bool,
    rule: Option<&str>,
) -> anyhow::Result<u8> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print_human(report, bundle_path);
        if let Some(rule) = rule {
            outln!("  policy:   rule {}", one_line(rule));
        }
    }
    Ok(if report.verified {
        EXIT_OK
    } else {
        EXIT_REJECTED
    })
}

fn print_human(r: &Report, bundle: &std::path::Path) {
    print_report_lines(r, &tools_cmd::who(r, bundle), "");
}

/// A report as lines, each starting with `indent`.
pub(crate) fn print_report_lines(r: &Report, who: &str, indent: &str) {
    let who = one_line(who);
    match (r.verified, r.signature_only) {
        (true, false) => outln!("{indent}verified: {who}"),
        (true, true) => outln!("{indent}signature verified (artifacts NOT checked): {who}"),
        (false, _) => outln!("{indent}REJECTED: {who}"),
    }
    match &r.signer {
        Some(SignerSummary::Key { key_id }) => outln!("{indent}  signer:   key {key_id}"),
        Some(SignerSummary::Certificate {
            identity,
            issuer,
            extensions,
            log_time,
        }) => {
            outln!("{indent}  signer:   {}", one_line(identity));
            if let Some(i) = issuer {
                outln!("{indent}  issuer:   {}", one_line(i));
            }
            for name in [
                "source-repository-uri",
                "source-repository-ref",
                "build-signer-uri",
                "runner-environment",
            ] {
                if let Some(v) = extensions.get(name) {
                    outln!("{indent}  {name}: {}", one_line(v));
                }
            }
            if let Some(t) = log_time {
                outln!("{indent}  logged:   {t}");
            }
        }
        None => {}
    }
    if let Some(t) = &r.issued_at {
        let exp = r
            .expires_at
            .as_deref()
            .map(|e| format!(", expires {e}"))
            .unwrap_or_default();
        outln!("{indent}  issued:   {t}{exp}");
    }
    for a in &r.artifacts {
        let checked = match &a.checked {
            Some(p) => format!(" (compared with {})", one_line(p)),
            None if r.signature_only => " (not checked: --signature-only)".to_owned(),
            None => " (not checked)".to_owned(),
        };
        outln!(
            "{indent}  artifact: {} {}{checked}",
            one_line(&a.name),
            a.digest
        );
    }
    for p in &r.problems {
        outln!("{indent}  [{}] {}", p.reason, p.message);
    }
}

/// The reason code of an error: `network` when a registry could not be used.
fn reason_for(e: &anyhow::Error) -> &'static str {
    let registry = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<mcpsig::verify::VerifyError>(),
            Some(mcpsig::verify::VerifyError::Registry { .. })
        )
    });
    if registry { "network" } else { "error" }
}

/// The library's hint for the first error in the chain that has one.
fn hint_for(e: &anyhow::Error) -> Option<String> {
    e.chain().find_map(|c| {
        if let Some(v) = c.downcast_ref::<mcpsig::verify::VerifyError>() {
            v.hint()
        } else if let Some(t) = c.downcast_ref::<mcpsig::tools::ToolsError>() {
            t.hint()
        } else if let Some(k) = c.downcast_ref::<mcpsig::keys::KeyError>() {
            k.hint()
        } else {
            None
        }
    })
}
