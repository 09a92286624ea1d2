//! `mcp-verify proxy`: decide from the policy whether a remote server may be used, then serve a
//! local Streamable HTTP endpoint that forwards to the pinned URL and holds the server to its
//! signed tool pins. Every decision is `mcpsig::launch::decide_remote`'s and
//! `mcpsig::remote::proxy`'s; this file parses and renders.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use cli::{EXIT_ERROR, EXIT_OK, errln, one_line, outln};
use mcpsig::launch::RemoteRequest;
use mcpsig::pin_store::PinStore;
use mcpsig::policy::RevocationOptions;
use mcpsig::remote::{Proxy, ProxyConfig, ProxyLimits, StdioBridge};

use super::trust_args::TrustArgs;

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  mcp-verify proxy weather.sigstore.json --key release.key.pub --listen 127.0.0.1:8808
  mcp-verify proxy weather.sigstore.json --policy ~/.config/mcpsig/policy.toml \\
      --listen 127.0.0.1:8808 --audit-log ~/mcp-audit.jsonl
  # then configure the MCP client with http://127.0.0.1:8808/mcp instead of the remote URL
  mcp-verify proxy weather.sigstore.json --key release.key.pub --stdio \
      --header-env Authorization=WEATHER_AUTH
  # a stdio server for clients that start commands only (`mcp-verify config --wrap` writes this);
  # WEATHER_AUTH holds the whole header value, e.g. Bearer <token>

The bundle must pin a streamable-http launch (its URL, optionally the TLS identity the endpoint
must present) and its tool definitions. Before anything is forwarded: the signature, the policy
and the pin store, as for `run`. Then every request goes to the pinned URL only (certificate
checked against the system's roots, or the pinned CA / key; redirects never followed), and every
answer, JSON or event stream, passes the same guard as `run`'s: unpinned or changed tools hidden,
calls to them refused, a `list_changed` re-checked. Authorization and other headers pass through
to the pinned origin; none is ever logged.

The first line on stdout is the local URL to configure (useful with --listen 127.0.0.1:0).
With --stdio nothing listens: JSON-RPC messages are read from stdin and answered on stdout, one
per line, through the same guard; --header-env sends a header read from the environment with
every request (header values never appear in arguments or logs).
Exit codes: 1 rejected (nothing was served), 2 could not decide or could not listen.")]
pub struct ProxyArgs {
    /// The bundle to verify (`*.sigstore.json`).
    bundle: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
    /// Decide by a trust policy file (spec/policy.md) instead of --key or --certificate-*.
    #[arg(long, value_name = "FILE", help_heading = "Trust")]
    policy: Option<PathBuf>,
    /// Where to listen: loopback only, unless --allow-remote-clients.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8808")]
    listen: SocketAddr,
    /// Serve one client on stdin/stdout instead of listening (for clients that only start
    /// stdio servers).
    #[arg(long, conflicts_with_all = ["allow_remote_clients", "listen"])]
    stdio: bool,
    /// With --stdio: send header NAME, its value read from environment variable VAR, with every
    /// request to the endpoint (repeatable).
    #[arg(long, value_name = "NAME=VAR", requires = "stdio")]
    header_env: Vec<String>,
    /// With --stdio: the URL the client entry had; refused (launch-mismatch) unless the bundle
    /// pins it (written by `mcp-verify config --wrap`, and what `--unwrap` restores).
    #[arg(long, value_name = "URL", requires = "stdio")]
    url: Option<String>,
    /// Allow --listen on an address other hosts can reach (the proxy carries the client's
    /// credentials to the server: think twice).
    #[arg(long)]
    allow_remote_clients: bool,
    /// Approve the permission changes of a newer release and record them in the pin store.
    #[arg(long)]
    accept: bool,
    /// Append what the guard hid or refused, and why, to FILE as JSON lines (created 0600).
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
    /// Seconds to wait for the endpoint's answer to begin.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    upstream_timeout: u64,
    /// Print only problems and refusals on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// The headers of `--header-env NAME=VAR`, read from the environment; a missing variable is a
/// usage error naming the variable (never a value).
fn env_headers(specs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    for spec in specs {
        let (name, var) = spec
            .split_once('=')
            .with_context(|| format!("--header-env {}: expected NAME=VAR", one_line(spec)))?;
        let value = std::env::var_os(var)
            .with_context(|| {
                format!(
                    "--header-env {}: environment variable {} is not set",
                    one_line(name),
                    one_line(var)
                )
            })?
            .into_string()
            .map_err(|_| {
                anyhow::anyhow!(
                    "--header-env {}: the value of {} is not UTF-8",
                    one_line(name),
                    one_line(var)
                )
            })?;
        headers.push((name.to_owned(), value));
    }
    Ok(headers)
}

pub fn run(args: ProxyArgs) -> anyhow::Result<u8> {
    let (policy, trusted_root) = args.trust.to_policy(args.policy.as_deref())?;
    let headers = env_headers(&args.header_env)?;
    let bundle = mcpsig::verify::read_bundle_file(&args.bundle)?;
    let pin_store = PinStore::open_default().context("cannot open the pin store")?;
    let remote = mcpsig::launch::decide_remote(RemoteRequest {
        bundle: &bundle,
        policy: &policy,
        trusted_root: &trusted_root,
        revocation: &RevocationOptions::default(),
        pin_store: &pin_store,
        accept: args.accept,
        expected_url: args.url.as_deref(),
        now: mcpsig::chrono::Utc::now(),
    })?;
    let decision = remote.decision;
    let who = super::tools_cmd::who(&decision.report, &args.bundle);
    let who = one_line(&who);
    super::run_cmd::print_admission(&decision, args.quiet);
    let Some(ready) = remote.ready else {
        return Ok(super::run_cmd::print_rejection(
            &decision,
            &who,
            "nothing is served",
        ));
    };
    let upstream = mcpsig::manifest::remote::check_url(&ready.url)
        .context("the pinned endpoint cannot be used")?;
    let limits = ProxyLimits {
        response_timeout: Duration::from_secs(args.upstream_timeout.max(1)),
        ..ProxyLimits::default()
    };
    let config = ProxyConfig {
        upstream: upstream.clone(),
        tls: ready.tls.clone(),
        pins: ready.pins,
        limits,
        audit_log: args.audit_log.clone(),
    };
    if args.stdio {
        let bridge = StdioBridge::new(config, &headers)?;
        if !args.quiet {
            errln!(
                "mcp-verify: verified {who}; serving stdio -> {}{}",
                one_line(upstream.as_str()),
                identity(ready.tls.as_ref(), upstream.as_str())
            );
        }
        bridge.serve(
            std::io::stdin(),
            std::io::stdout(),
            move |e: &mcpsig::guard::GuardEvent| print_event(e, args.quiet),
        )?;
        return Ok(EXIT_OK);
    }
    let proxy = Proxy::bind(config, args.listen, args.allow_remote_clients)?;
    let local = proxy
        .local_addr()
        .context("cannot read the bound address")?;
    outln!("http://{local}/mcp");
    if !args.quiet {
        errln!(
            "mcp-verify: verified {who}; proxying http://{local}/mcp -> {}{}",
            one_line(upstream.as_str()),
            identity(ready.tls.as_ref(), upstream.as_str())
        );
    }
    proxy.serve(move |e: &mcpsig::guard::GuardEvent| print_event(e, args.quiet))?;
    Ok(EXIT_ERROR)
}

/// A guard event on stderr (with --quiet, only problems and refusals).
fn print_event(event: &mcpsig::guard::GuardEvent, quiet: bool) {
    use mcpsig::guard::GuardEvent;
    let routine = matches!(
        event,
        GuardEvent::Rechecking { .. } | GuardEvent::ListChanged { .. }
    );
    if !(quiet && routine) {
        errln!("mcp-verify: {}", one_line(&event.to_string()));
    }
}

fn identity(tls: Option<&mcpsig::manifest::remote::TlsIdentity>, upstream: &str) -> &'static str {
    match tls {
        Some(t) if !t.spki_digests.is_empty() => " (pinned key)",
        Some(_) => " (pinned CA)",
        None if upstream.starts_with("https:") => " (system roots)",
        None => " (loopback, plain http)",
    }
}
