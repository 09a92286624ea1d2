//! `mcp-verify catalog`: verify every bundle of a catalog (files, directories, JSON-lines
//! lists) in parallel, one line or JSON object per bundle and a summary. Every decision is
//! `mcpsig::catalog`'s; this file parses the options and renders the results.

use anyhow::Context;
use clap::Args;
use cli::{EXIT_ERROR, EXIT_OK, EXIT_REJECTED, one_line};
use mcpsig::catalog::{CatalogRequest, CatalogTrust, Entry, Input, Outcome, Summary};
use mcpsig::policy::{Policy, RevocationOptions};
use mcpsig::verify::{Report, SignerSummary};
use std::io::{IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;

use super::trust_args::TrustArgs;

pub const AFTER_HELP: &str = "\
Examples:
  mcp-verify catalog bundles/ --key release.key.pub
  mcp-verify catalog bundles/ --policy registry-policy.toml --json > results.jsonl
  find /srv/registry -name '*.sigstore.json' | jq -R . | mcp-verify catalog - --key k.pub
  mcp-verify catalog list.jsonl a.sigstore.json --certificate-identity-regexp '.+' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com

PATH is a bundle file, a directory (every `*.sigstore.json` regular file below it, up to 32
levels; symbolic links inside it are never followed, and are reported as SKIPPED when named
like a bundle or pointing at a directory), or a JSON-lines list (`*.jsonl`, or `-` for stdin)
whose lines are \"path\" or {\"bundle\": \"path\"}, relative to the list's folder.

A catalog checks what a registry holds: each bundle's signature, signer (TRUST or --policy,
revocation list included), statement and validity window. Artifacts are NOT re-hashed (there is
no local copy to compare with): use `mcp-verify BUNDLE --dir DIR` for that.

One line per bundle, in input order: `OK PATH NAME VERSION SIGNER`, `REJECTED PATH REASON:
MESSAGE`, `ERROR PATH REASON: MESSAGE` (could not be read), `SKIPPED PATH: WHY`; the summary
goes to stderr. --json: one object per line, then {\"summary\": {...}}.

Exit codes: 0 every bundle verified; 1 any rejected; 2 none rejected but one could not be read,
no bundle found, or usage.

Examples:
  mcp-verify catalog registry/bundles/ --key publisher.pub
  mcp-verify catalog index.jsonl --policy policy.toml --json > report.jsonl
  find /srv -name '*.sigstore.json' | jq -R . | mcp-verify catalog - \\
      --certificate-identity-regexp '^https://github.com/acme/' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com";

#[derive(Args, Debug)]
pub struct CatalogArgs {
    /// Bundle files, directories to walk, JSON-lines lists (`*.jsonl`, `-` for stdin).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
    /// Decide by a trust policy file (spec/policy.md) instead of --key or --certificate-*:
    /// its revocation list is read once, for every bundle.
    #[arg(long, value_name = "FILE", help_heading = "Trust")]
    policy: Option<PathBuf>,
    /// Bundles verified at once (default: one per core).
    #[arg(long, short, value_name = "N")]
    jobs: Option<NonZeroUsize>,
    /// One JSON object per bundle and a final summary object, on stdout.
    #[arg(long)]
    json: bool,
}

impl CatalogArgs {
    pub fn json(&self) -> bool {
        self.json
    }
}

pub fn run(args: CatalogArgs) -> anyhow::Result<u8> {
    let trust = match &args.policy {
        Some(path) => CatalogTrust::Policy {
            policy: Policy::load(path)?,
            trusted_root: args.trust.to_root()?,
            revocation: RevocationOptions::default(),
        },
        None => CatalogTrust::Trust(args.trust.to_trust()?),
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN));
    let req = CatalogRequest {
        inputs: args.paths.iter().map(|p| Input::parse(p)).collect(),
        trust,
        jobs,
        now: mcpsig::chrono::Utc::now(),
    };
    let stdout = std::io::stdout();
    // Results stream as they are decided; off a terminal they are written in blocks.
    let flush_each = stdout.is_terminal();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary = mcpsig::catalog::run(&req, |entry| {
        if args.json {
            writeln!(out, "{}", json_line(entry))
        } else {
            writeln!(out, "{}", text_line(entry))
        }
        .map_err(cli::closed_stdout)?;
        if flush_each {
            out.flush().map_err(cli::closed_stdout)?;
        }
        Ok(())
    })?;
    let none = summary.bundles == 0;
    if args.json {
        writeln!(out, "{}", json_summary(&summary, none)).map_err(cli::closed_stdout)?;
    }
    out.flush()
        .map_err(cli::closed_stdout)
        .context("cannot write the results")?;
    if !args.json {
        cli::errln!("{}", text_summary(&summary));
        if none {
            cli::errln!("error: no bundle found in the inputs (nothing was verified)");
        }
    }
    Ok(if summary.rejected > 0 {
        EXIT_REJECTED
    } else if summary.undecided > 0 || none {
        EXIT_ERROR
    } else {
        EXIT_OK
    })
}

/// `OK PATH NAME VERSION SIGNER`, `REJECTED PATH REASON: MESSAGE[; ...]`, `ERROR PATH REASON:
/// MESSAGE` or `SKIPPED PATH: WHY`, every value from outside escaped onto one line.
fn text_line(entry: &Entry) -> String {
    let path = one_line(&entry.path);
    match &entry.outcome {
        Outcome::Checked(r) if r.verified => format!("OK {path} {}", subject(r)),
        Outcome::Checked(r) => {
            let problems: Vec<String> = r
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.reason, one_line(&p.message)))
                .collect();
            format!("REJECTED {path} {}", problems.join("; "))
        }
        Outcome::Undecided { reason, message } => {
            format!("ERROR {path} {reason}: {}", one_line(message))
        }
        Outcome::Skipped { why } => format!("SKIPPED {path}: {why}"),
    }
}

/// What a verified bundle is: the server, its version and who signed it.
fn subject(r: &Report) -> String {
    let server = r
        .server
        .as_ref()
        .map(|s| {
            format!(
                "{} {}",
                one_line(s.name.as_str()),
                one_line(s.version.as_str())
            )
        })
        .unwrap_or_default();
    let signer = match &r.signer {
        Some(SignerSummary::Key { key_id }) => format!("key {key_id}"),
        Some(SignerSummary::Certificate {
            identity, issuer, ..
        }) => match issuer {
            Some(i) => format!("{} ({})", one_line(identity), one_line(i)),
            None => one_line(identity).into_owned(),
        },
        None => String::new(),
    };
    format!("{server} {signer}")
}

fn json_line(entry: &Entry) -> serde_json::Value {
    let doc = match &entry.outcome {
        Outcome::Checked(r) => serde_json::to_value(r).unwrap_or_default(),
        Outcome::Undecided { reason, message } => serde_json::json!({
            "verified": false,
            "error": { "reason": reason.as_str(), "message": message },
        }),
        Outcome::Skipped { why } => serde_json::json!({ "skipped": why }),
    };
    // `bundle` first, for a reader skimming the lines.
    let mut line = serde_json::Map::new();
    line.insert("bundle".into(), entry.path.clone().into());
    if let serde_json::Value::Object(rest) = doc {
        line.extend(rest);
    }
    serde_json::Value::Object(line)
}

fn json_summary(s: &Summary, none: bool) -> serde_json::Value {
    let mut doc = serde_json::json!({ "summary": {
        "bundles": s.bundles,
        "verified": s.verified,
        "rejected": s.rejected,
        "undecided": s.undecided,
        "skipped": s.skipped,
        "seconds": s.elapsed.as_secs_f64(),
        "bundlesPerSecond": s.per_second().round(),
    }});
    if none {
        doc["error"] = serde_json::json!({
            "reason": "error",
            "message": "no bundle found in the inputs (nothing was verified)",
        });
    }
    doc
}

fn text_summary(s: &Summary) -> String {
    let skipped = if s.skipped > 0 {
        format!(", {} skipped", s.skipped)
    } else {
        String::new()
    };
    format!(
        "catalog: {} bundles: {} verified, {} rejected, {} could not be read{skipped}; {:.2} s, {:.0} bundles/s",
        s.bundles,
        s.verified,
        s.rejected,
        s.undecided,
        s.elapsed.as_secs_f64(),
        s.per_second()
    )
}
