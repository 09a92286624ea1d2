//! `mcp-verify`: verify a signed MCP server manifest before launch. Argument parsing and output
//! only; every decision is made by `mcpsig::verify`.

mod catalog_cmd;
mod config_cmd;
mod mcpb_cmd;
mod oci_cmd;
mod pins_cmd;
mod proxy_cmd;
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
use std::borrow::Cow;
use std::ffi::OsString;
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
#[command(defer = true)]
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
    /// Verify a remote server's bundle, then serve a local Streamable HTTP endpoint that
    /// forwards to its pinned URL behind the guard (its TLS identity and tool pins held).
    Proxy(Box<proxy_cmd::ProxyArgs>),
    /// Check the signature an MCP bundle (`.mcpb`) carries itself: absent, malformed, invalid,
    /// untrusted or valid.
    #[command(after_help = mcpb_cmd::AFTER_HELP)]
    Mcpb(mcpb_cmd::McpbArgs),
    /// Verify every bundle of a catalog (files, directories, JSON-lines lists) in parallel:
    /// signatures, signers and policy, not artifacts; one line per bundle and a summary.
    #[command(after_help = catalog_cmd::AFTER_HELP)]
    Catalog(Box<catalog_cmd::CatalogArgs>),
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
enum SigstoreCmd {
    /// Verify a Sigstore bundle over a file or a `sha256:<hex>` digest.
    #[command(
        after_help = "Examples:\n  mcp-verify sigstore verify-bundle --bundle a.txt.sigstore.json \\\n      --certificate-identity me@example.com --certificate-oidc-issuer https://accounts.google.com a.txt\n  mcp-verify sigstore verify-bundle --bundle b.json --key key.pub sha256:<hex>"
    )]
    VerifyBundle(sigstore_cmd::VerifyBundleArgs),
}

#[derive(Args, Debug)]
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

/// What the command line asks for.
enum Invocation {
    /// `mcp-verify BUNDLE ...`
    Verify(Box<VerifyArgs>),
    Sub(Cmd),
}

/// Parses the command line. clap builds a command's arguments (with their help text) before it
/// parses; subcommands are deferred, so only the one in use is built, but the top level still
/// carries every argument of the default verification (0.1 M instructions, 1.3% of a whole
/// `sigstore verify-bundle`, measured with callgrind against the full parser alone). A plain use
/// of `sigstore`, `run`, `catalog` or of the default verification is therefore parsed with only
/// that part built; anything else (help, version, a usage error, any other subcommand) goes to
/// the full parser, which says exactly what it always says. The test `fast_and_full_parsers_agree`
/// holds the two to the same result.
fn parse_invocation(args: &[std::ffi::OsString]) -> Invocation {
    let args = &*json_after_subcommand(args);
    fast_parse(args).unwrap_or_else(|| {
        let cli: Cli = cli::parse_args(args, true);
        match cli.cmd {
            Some(cmd) => Invocation::Sub(cmd),
            None => Invocation::Verify(Box::new(cli.verify)),
        }
    })
}

/// `mcp-verify --json SUBCOMMAND... ARGS` as `mcp-verify SUBCOMMAND... --json ARGS`: `--json`
/// belongs to each (innermost) subcommand, and before one clap takes it for the default
/// verification's and refuses the pair with a message that names neither. A subcommand without
/// `--json` then says so.
fn json_after_subcommand(args: &[OsString]) -> Cow<'_, [OsString]> {
    use clap::{CommandFactory as _, Subcommand as _};
    if args.len() < 3 || args[1] != "--json" || !args[2].to_str().is_some_and(Cmd::has_subcommand) {
        // The usual case: the command line as it is, not copied.
        return Cow::Borrowed(args);
    }
    let mut args = args.to_vec();
    // Only here is the whole command tree built: to find where the subcommands end.
    let top = Cli::command();
    let mut cmd = &top;
    let mut end = 2;
    while let Some(sub) = args
        .get(end)
        .and_then(|w| w.to_str())
        .and_then(|w| cmd.find_subcommand(w))
    {
        cmd = sub;
        end += 1;
    }
    let json = args.remove(1);
    args.insert(end - 1, json);
    Cow::Owned(args)
}

fn fast_parse(args: &[std::ffi::OsString]) -> Option<Invocation> {
    use clap::{Args as _, Command, FromArgMatches as _, Subcommand as _};
    let rest = args.get(1..)?;
    let words: Vec<&str> = rest.iter().map(|a| a.to_str()).collect::<Option<_>>()?;
    // Words after `--` are the server's own command line (`run`), not ours.
    let ours = words.split(|w| *w == "--").next().unwrap_or_default();
    if ours
        .iter()
        .any(|w| matches!(*w, "-h" | "--help" | "-V" | "--version" | "help"))
    {
        return None;
    }
    if let ["sigstore", "verify-bundle", rest @ ..] = words.as_slice() {
        // The conformance contract, run once per bundle: read without building clap's parser.
        if let Some(a) = sigstore_cmd::VerifyBundleArgs::from_plain_words(rest) {
            return Some(Invocation::Sub(Cmd::Sigstore(SigstoreCmd::VerifyBundle(a))));
        }
    }
    let top = Command::new("mcp-verify");
    let sub = match *words.first()? {
        "sigstore" => SigstoreCmd::augment_subcommands(Command::new("sigstore"))
            .subcommand_required(true)
            .arg_required_else_help(true),
        "run" => run_cmd::RunArgs::augment_args(Command::new("run")),
        "catalog" => catalog_cmd::CatalogArgs::augment_args(Command::new("catalog")),
        // The default verification: only when no word could be taken for a subcommand.
        _ if !ours.iter().any(|w| Cmd::has_subcommand(w)) => {
            let m = VerifyArgs::augment_args(top)
                .try_get_matches_from(args)
                .ok()?;
            return VerifyArgs::from_arg_matches(&m)
                .ok()
                .map(|v| Invocation::Verify(Box::new(v)));
        }
        _ => return None,
    };
    let m = top.subcommand(sub).try_get_matches_from(args).ok()?;
    Cmd::from_arg_matches(&m).ok().map(Invocation::Sub)
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let invocation = parse_invocation(&args);
    if let Err(code) = cli::select_crypto_provider() {
        return code;
    }
    let json = match &invocation {
        Invocation::Verify(v) => v.json,
        Invocation::Sub(Cmd::Tools(a)) => a.json,
        Invocation::Sub(Cmd::Catalog(a)) => a.json(),
        Invocation::Sub(_) => false,
    };
    let result = match invocation {
        Invocation::Verify(v) => verify_cmd(*v),
        Invocation::Sub(Cmd::Sigstore(SigstoreCmd::VerifyBundle(a))) => {
            return sigstore_cmd::verify_bundle_cmd(&a);
        }
        Invocation::Sub(Cmd::Tools(args)) => tools_cmd::run(*args),
        Invocation::Sub(Cmd::Trust(cmd)) => return ExitCode::from(trust_cmd::run(cmd)),
        Invocation::Sub(Cmd::Pins(cmd)) => return ExitCode::from(pins_cmd::run(cmd)),
        Invocation::Sub(Cmd::Config(args)) => return ExitCode::from(config_cmd::run(*args)),
        Invocation::Sub(Cmd::Run(args)) => run_cmd::run(*args),
        Invocation::Sub(Cmd::Proxy(args)) => proxy_cmd::run(*args),
        Invocation::Sub(Cmd::Mcpb(args)) => return ExitCode::from(mcpb_cmd::run(args)),
        Invocation::Sub(Cmd::Catalog(args)) => catalog_cmd::run(*args),
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
        cli::rawln!("{}", serde_json::to_string_pretty(report)?);
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
    if registry {
        return "network";
    }
    // A local file that could not be read (the bundle, a key, the trusted root, a catalog's
    // input, a file of a pinned tree). Named by type: an I/O error under a package check may be
    // a download's.
    let io_under_trust_file = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<mcpsig::trust_request::TrustError>(),
            Some(
                mcpsig::trust_request::TrustError::TrustedRootFile { .. }
                    | mcpsig::trust_request::TrustError::CachedRoot { .. }
            )
        )
    }) && e.chain().any(|c| c.is::<std::io::Error>());
    let local_io = io_under_trust_file
        || e.chain().any(|c| {
            matches!(
                c.downcast_ref::<mcpsig::fsutil::ReadError>(),
                Some(mcpsig::fsutil::ReadError::Io { .. })
            ) || matches!(
                c.downcast_ref::<mcpsig::digest::tree::TreeError>(),
                Some(mcpsig::digest::tree::TreeError::Io { .. })
            ) || matches!(
                c.downcast_ref::<mcpsig::keys::KeyError>().or_else(|| c
                    .downcast_ref::<Box<mcpsig::keys::KeyError>>()
                    .map(AsRef::as_ref)),
                Some(mcpsig::keys::KeyError::Read { .. })
            ) || matches!(
                c.downcast_ref::<mcpsig::catalog::CatalogError>(),
                Some(mcpsig::catalog::CatalogError::Input { .. })
            )
        });
    if local_io { "io" } else { "error" }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn describe(inv: &Invocation) -> String {
        match inv {
            Invocation::Verify(v) => format!("verify {v:?}"),
            Invocation::Sub(Cmd::Sigstore(c)) => format!("sigstore {c:?}"),
            Invocation::Sub(Cmd::Run(a)) => format!("run {a:?}"),
            Invocation::Sub(Cmd::Catalog(a)) => format!("catalog {a:?}"),
            Invocation::Sub(_) => "other".into(),
        }
    }

    fn full(words: &[&str]) -> Option<Invocation> {
        let cli = Cli::try_parse_from(words).ok()?;
        Some(match cli.cmd {
            Some(cmd) => Invocation::Sub(cmd),
            None => Invocation::Verify(Box::new(cli.verify)),
        })
    }

    fn fast(words: &[&str]) -> Option<Invocation> {
        let args: Vec<std::ffi::OsString> = words.iter().map(Into::into).collect();
        fast_parse(&args)
    }

    #[test]
    fn json_before_a_subcommand_is_the_subcommands() {
        let args: Vec<std::ffi::OsString> = ["mcp-verify", "--json", "catalog", "d", "--key", "k"]
            .iter()
            .map(Into::into)
            .collect();
        let inv = parse_invocation(&args);
        assert!(matches!(inv, Invocation::Sub(Cmd::Catalog(ref a)) if a.json()));
        // After the innermost subcommand: `pins list` takes it, `pins` does not.
        let args: Vec<std::ffi::OsString> = ["mcp-verify", "--json", "pins", "list"]
            .iter()
            .map(Into::into)
            .collect();
        let moved = json_after_subcommand(&args);
        assert_eq!(*moved, ["mcp-verify", "pins", "list", "--json"]);
        // Not when the word after it is a bundle: the default verification keeps its --json.
        let args: Vec<std::ffi::OsString> = ["mcp-verify", "--json", "b.json", "--key", "k"]
            .iter()
            .map(Into::into)
            .collect();
        assert!(matches!(parse_invocation(&args), Invocation::Verify(ref v) if v.json));
    }

    #[test]
    fn fast_and_full_parsers_agree() {
        Cli::command().debug_assert();
        let taken: &[&[&str]] = &[
            &[
                "mcp-verify",
                "sigstore",
                "verify-bundle",
                "--bundle",
                "b.json",
                "--certificate-identity",
                "me@example.com",
                "--certificate-oidc-issuer",
                "https://accounts.google.com",
                "--trusted-root",
                "root.json",
                "a.txt",
            ],
            &[
                "mcp-verify",
                "sigstore",
                "verify-bundle",
                "--bundle",
                "b.json",
                "--key",
                "k.pub",
                "--staging",
                "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ],
            &[
                "mcp-verify",
                "b.sigstore.json",
                "--key",
                "k.pub",
                "--dir",
                "srv=./srv",
                "--json",
            ],
            &[
                "mcp-verify",
                "--key",
                "k.pub",
                "b.sigstore.json",
                "--signature-only",
            ],
            &[
                "mcp-verify",
                "oci://127.0.0.1:5000/a/b:1",
                "--policy",
                "p.toml",
                "--offline",
            ],
            &[
                "mcp-verify",
                "b.json",
                "--certificate-identity-regexp",
                "^https://x/",
                "--certificate-oidc-issuer",
                "https://i",
            ],
            &[
                "mcp-verify",
                "run",
                "b.json",
                "--key",
                "k.pub",
                "--env",
                "A=1",
                "--env",
                "HOME",
                "-q",
                "--",
                "node",
                "server.js",
                "--help",
            ],
            &[
                "mcp-verify",
                "run",
                "b.json",
                "--policy",
                "p.toml",
                "--accept",
                "--audit-log",
                "a",
            ],
            &[
                "mcp-verify",
                "catalog",
                "dir/",
                "list.jsonl",
                "-",
                "--key",
                "k.pub",
                "-j",
                "3",
                "--json",
            ],
        ];
        for words in taken {
            let f = fast(words).unwrap_or_else(|| panic!("fast path not taken for {words:?}"));
            let g = full(words).unwrap_or_else(|| panic!("full parser refuses {words:?}"));
            assert_eq!(describe(&f), describe(&g), "{words:?}");
        }
        // Left to the full parser: help, version, usage errors, other subcommands, and anything
        // where a word could be a subcommand.
        let left: &[&[&str]] = &[
            &["mcp-verify"],
            &["mcp-verify", "--help"],
            &["mcp-verify", "-V"],
            &["mcp-verify", "sigstore"],
            &["mcp-verify", "sigstore", "verify-bundle", "-h"],
            &[
                "mcp-verify",
                "sigstore",
                "verify-bundle",
                "--bundle",
                "b",
                "--nope",
                "a",
            ],
            &["mcp-verify", "run", "--key", "k.pub"],
            &[
                "mcp-verify",
                "b.json",
                "--key",
                "k",
                "--certificate-identity",
                "x",
            ],
            &["mcp-verify", "--key", "k.pub", "run", "b.json"],
            &["mcp-verify", "b.json", "--dir", "catalog", "--key", "k.pub"],
            &["mcp-verify", "pins", "list"],
            &["mcp-verify", "tools", "b.json", "--key", "k.pub"],
            &["mcp-verify", "help", "run"],
        ];
        for words in left {
            assert!(fast(words).is_none(), "fast path taken for {words:?}");
        }
    }

    /// `sigstore verify-bundle` is read without clap (`VerifyBundleArgs::from_plain_words`):
    /// over every sequence of up to four words from a pool of options, values and traps, and
    /// every subset of the options with one word replaced, inserted or repeated, whatever that
    /// reader takes, clap takes the same way; what clap refuses, it leaves to clap. (That the contract's plain forms are taken is checked in
    /// `fast_and_full_parsers_agree`.)
    #[test]
    fn plain_verify_bundle_reader_agrees_with_clap() {
        let pool = [
            "--bundle",
            "--certificate-identity",
            "--certificate-oidc-issuer",
            "--key",
            "--trusted-root",
            "--staging",
            "b.json",
            "sha256:00",
            "",
            "-",
            "--",
            "-x",
            "--bundle=b",
            "--json",
            "-h",
        ];
        let mut checked = 0usize;
        let mut taken = 0usize;
        let mut check = |rest: &[&str]| {
            let mut words = vec!["mcp-verify", "sigstore", "verify-bundle"];
            words.extend_from_slice(rest);
            checked += 1;
            if let Some(f) = fast(&words) {
                taken += 1;
                let g = full(&words).unwrap_or_else(|| panic!("clap refuses {words:?}"));
                assert_eq!(describe(&f), describe(&g), "{words:?}");
            }
        };
        // Every sequence of up to 4 words (15^4 = 50,625 at length 4).
        let mut idx = Vec::new();
        for len in 0..=4usize {
            idx.clear();
            idx.resize(len, 0usize);
            loop {
                let rest: Vec<&str> = idx.iter().map(|&i| pool[i]).collect();
                check(&rest);
                // Next index vector (odometer).
                let mut k = 0;
                while k < len {
                    idx[k] += 1;
                    if idx[k] < pool.len() {
                        break;
                    }
                    idx[k] = 0;
                    k += 1;
                }
                if k == len {
                    break;
                }
            }
        }
        // Longer ones: every subset of the options, in two orders, with and without an
        // artifact; then each of those with one word replaced by, or one word inserted from, the
        // pool, and with one of its options given twice.
        let options: [&[&str]; 6] = [
            &["--bundle", "b.json"],
            &["--certificate-identity", "me"],
            &["--certificate-oidc-issuer", "https://i"],
            &["--key", "k.pub"],
            &["--trusted-root", "r.json"],
            &["--staging"],
        ];
        for subset in 0..64usize {
            for reversed in [false, true] {
                for artifact in [true, false] {
                    let mut chosen: Vec<&[&str]> = (0..6)
                        .filter(|i| subset & (1 << i) != 0)
                        .map(|i| options[i])
                        .collect();
                    if reversed {
                        chosen.reverse();
                    }
                    let mut words: Vec<&str> =
                        chosen.iter().flat_map(|o| o.iter().copied()).collect();
                    if artifact {
                        words.insert(words.len() / 2 / 2 * 2, "a.txt");
                    }
                    check(&words);
                    for o in &chosen {
                        let mut v = words.clone();
                        v.extend_from_slice(o);
                        check(&v);
                    }
                    for at in 0..=words.len() {
                        for w in pool {
                            let mut v = words.clone();
                            v.insert(at, w);
                            check(&v);
                            if at < words.len() {
                                v.remove(at + 1);
                                check(&v);
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 50_000, "{checked}");
        assert!(
            taken > 1000,
            "the plain reader took only {taken} of {checked}"
        );
    }
}
