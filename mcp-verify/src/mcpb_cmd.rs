//! `mcp-verify mcpb FILE [--ca CA.pem] [--sha256 HEX] [--json]`: the signature an MCP bundle
//! carries itself (spec/mcpb.md), over `mcpsig::mcpb_sig::verify`.

use std::path::PathBuf;
use std::str::FromStr as _;

use anyhow::Context as _;
use clap::Args;
use cli::{EXIT_ERROR, EXIT_OK, EXIT_REJECTED, one_line, outln, print_error};
use mcpsig::digest::Digest;
use mcpsig::mcpb_sig::{self, AnchorSource, Outcome, Report, Request};

pub const AFTER_HELP: &str = "\
Examples:
  mcp-verify mcpb weather.mcpb --ca publisher-ca.pem
  mcp-verify mcpb weather.mcpb --json
  mcp-verify mcpb weather.mcpb --ca publisher-ca.pem --sha256 9f86d081884c7d65...

Outcomes: valid, absent, malformed, invalid, untrusted (spec/mcpb.md).
Exit codes: 0 valid, 1 rejected (absent, malformed, invalid, untrusted, or --sha256 differs;
the report names the reason code), 2 could not decide (unreadable file or trust anchors).";

#[derive(Args)]
pub struct McpbArgs {
    /// The MCP bundle (`.mcpb`).
    file: PathBuf,
    /// Trust these CA certificates (PEM) instead of the system's roots (SSL_CERT_FILE, else
    /// /etc/ssl/certs/ca-certificates.crt and the other usual places).
    #[arg(long, value_name = "CA.pem")]
    ca: Option<PathBuf>,
    /// Also require the signed zip (the bytes before the signature block) to have this SHA-256
    /// (hex, or `sha256:HEX`).
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// Print the report as JSON on stdout (errors too).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: McpbArgs) -> u8 {
    match verify(&args) {
        Ok(report) => {
            if args.json {
                cli::rawln!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print_human(&report);
            }
            if report.verified {
                EXIT_OK
            } else {
                EXIT_REJECTED
            }
        }
        Err(e) => {
            let hint = e
                .chain()
                .find_map(|c| c.downcast_ref::<mcpb_sig::McpbSigError>())
                .and_then(|m| m.hint());
            let reason = if e
                .chain()
                .any(|c| c.downcast_ref::<std::io::Error>().is_some())
            {
                "io"
            } else {
                "error"
            };
            print_error(e.as_ref(), reason, hint, args.json);
            EXIT_ERROR
        }
    }
}

fn verify(args: &McpbArgs) -> anyhow::Result<Report> {
    let expected_sha256 = args
        .sha256
        .as_deref()
        .map(|h| {
            let h = h.strip_prefix("sha256:").unwrap_or(h);
            Digest::from_str(&format!("sha256:{}", h.to_ascii_lowercase()))
                .with_context(|| format!("--sha256 `{}` is not 64 hex characters", one_line(h)))
        })
        .transpose()?;
    let req = Request {
        file: args.file.clone(),
        anchors: match &args.ca {
            Some(ca) => AnchorSource::File(ca.clone()),
            None => AnchorSource::System,
        },
        now: mcpsig::chrono::Utc::now(),
        expected_sha256,
    };
    Ok(mcpb_sig::verify(&req)?)
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Absent => "absent",
        Outcome::Malformed => "malformed",
        Outcome::Invalid => "invalid",
        Outcome::Untrusted => "untrusted",
        Outcome::Valid => "valid",
    }
}

fn print_human(r: &Report) {
    let file = one_line(&r.file);
    if r.verified {
        outln!("verified: {file}");
    } else {
        outln!("REJECTED: {file} (signature {})", outcome_word(r.outcome));
    }
    if let Some(s) = &r.signer {
        outln!("  signer:   {}", one_line(&s.subject));
        outln!("  issuer:   {}", one_line(&s.issuer));
        outln!(
            "  valid:    {} to {} (serial {}, sha256 {})",
            s.not_before,
            s.not_after,
            s.serial,
            s.sha256
        );
    }
    for (i, c) in r.chain.iter().enumerate().skip(1) {
        let role = if i + 1 == r.chain.len() {
            "anchor"
        } else {
            "via"
        };
        outln!("  {role}:   {}", one_line(&c.subject));
    }
    if let Some(t) = &r.trust {
        outln!("  trust:    {}", one_line(t));
    }
    if let Some(t) = &r.signing_time {
        outln!("  signed:   {t} (the signer's claim)");
    }
    if let Some(d) = &r.zip_sha256 {
        let what = match r.signed_content {
            Some(mcpb_sig::SignedContent::PrefixEocdRestored) => {
                " (zip comment length restored as signed)"
            }
            _ => "",
        };
        outln!("  zip:      {d}{what}");
    }
    for p in &r.problems {
        outln!("  [{}] {}", p.reason, p.message);
    }
}
