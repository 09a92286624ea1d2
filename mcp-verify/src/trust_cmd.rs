//! `mcp-verify trust refresh`: the only network step of trust handling. Runs the TUF client
//! (`mcpsig::sigstore::tuf::refresh`) against an instance's TUF repository and reports what
//! changed in the cache that verification commands read.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use cli::{EXIT_ERROR, EXIT_OK, EXIT_REJECTED, print_error};
use mcpsig::sigstore::tuf::{self, RefreshReport};

#[derive(Subcommand)]
#[command(defer = true)]
pub enum TrustCmd {
    /// Refresh the Sigstore trusted root (and signing config) over TUF into the local cache.
    #[command(after_help = "\
Examples:
  mcp-verify trust refresh
  mcp-verify trust refresh --staging --json
  mcp-verify trust refresh --tuf-url https://tuf.example.org --tuf-root root.json

The cache is $MCPSIG_CACHE_DIR, else $XDG_CACHE_HOME/mcpsig, else ~/.cache/mcpsig. Verification
never uses the network: it reads what the last refresh stored, else the embedded roots.
Exit codes: 0 refreshed, 1 the repository offered metadata or targets that failed verification,
2 could not decide (network, disk, usage).")]
    Refresh(RefreshArgs),
}

#[derive(Args)]
pub struct RefreshArgs {
    /// Refresh from the staging instance's repository (trust anchor: the embedded staging root).
    #[arg(long, conflicts_with = "tuf_url")]
    staging: bool,
    /// Another TUF repository's base URL (needs --tuf-root).
    #[arg(long, value_name = "URL", requires = "tuf_root")]
    tuf_url: Option<String>,
    /// The trusted TUF root (root.json) of --tuf-url, obtained out of band.
    #[arg(long, value_name = "FILE", requires = "tuf_url")]
    tuf_root: Option<PathBuf>,
    /// Print the result as JSON on stdout (errors too).
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: TrustCmd) -> u8 {
    let TrustCmd::Refresh(args) = cmd;
    match refresh(&args) {
        Ok(report) => {
            if args.json {
                cli::rawln!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print_human(&report);
            }
            EXIT_OK
        }
        Err(e) => {
            let tuf_err = e.downcast_ref::<tuf::TufError>();
            let reason = tuf_err.map_or("error", |t| t.reason_code().as_str());
            print_error(e.as_ref(), reason, None, args.json);
            if tuf_err.is_some_and(|t| t.is_rejection()) {
                EXIT_REJECTED
            } else {
                EXIT_ERROR
            }
        }
    }
}

fn refresh(args: &RefreshArgs) -> anyhow::Result<RefreshReport> {
    let req = tuf::RefreshRequest {
        url: args.tuf_url.clone(),
        anchor: args.tuf_root.clone(),
        staging: args.staging,
    };
    match tuf::refresh_request(&req, mcpsig::chrono::Utc::now()) {
        Ok(report) => Ok(report),
        // The TufError itself, so that its type decides the exit code.
        Err(tuf::RefreshRequestError::Tuf(e)) => Err((*e).into()),
        Err(e) => Err(e.into()),
    }
}

fn print_human(r: &RefreshReport) {
    cli::outln!("refreshed: {}", r.url);
    cli::outln!("  cache:     {}", r.cache_dir.display());
    if r.root_version == r.root_version_before {
        cli::outln!("  root:      v{} (unchanged)", r.root_version);
    } else {
        cli::outln!(
            "  root:      v{} -> v{}",
            r.root_version_before,
            r.root_version
        );
    }
    cli::outln!(
        "  timestamp: v{}  snapshot: v{}  targets: v{}",
        r.timestamp_version,
        r.snapshot_version,
        r.targets_version
    );
    for t in &r.targets {
        let state = if t.changed { "updated" } else { "unchanged" };
        let digest = t
            .sha256
            .as_deref()
            .map(|h| format!(" sha256:{h}"))
            .unwrap_or_default();
        cli::outln!("  {}: {state}{digest}", t.name);
    }
}
