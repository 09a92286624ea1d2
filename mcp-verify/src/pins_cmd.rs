//! `mcp-verify pins list|show NAME|forget NAME`: look at and manage the pin store
//! (`mcpsig::pin_store`, spec/pin-store.md). Argument parsing and output only.

use clap::{Args, Subcommand};
use cli::{EXIT_ERROR, EXIT_OK, one_line, outln, print_error_as};
use mcpsig::manifest::ServerName;
use mcpsig::pin_store::{PinRecord, PinStore, PinStoreError};
use serde_json::json;

pub const AFTER_HELP: &str = "\
Examples:
  mcp-verify pins list
  mcp-verify pins show io.github.acme/weather --json
  mcp-verify pins forget io.github.acme/weather

The store is $MCPSIG_DATA_DIR/pins, else $XDG_DATA_HOME/mcpsig/pins, else
~/.local/share/mcpsig/pins. A server is pinned the first time it is admitted; forgetting it
lets its next release be pinned anew (the only way past `signer-changed`).
Exit codes: 0 done, 2 could not decide (unknown name, corrupt or unsafe store, I/O).";

#[derive(Subcommand)]
#[command(defer = true)]
pub enum PinsCmd {
    /// List the pinned servers: name, version, signer, manifest digest, last seen.
    #[command(after_help = AFTER_HELP)]
    List(JsonArg),
    /// Show one server's pin: signer, version, digest, times, tools by name, approvals.
    #[command(after_help = AFTER_HELP)]
    Show(NameArgs),
    /// Remove one server's pin (under the store's lock).
    #[command(after_help = AFTER_HELP)]
    Forget(NameArgs),
}

#[derive(Args)]
pub struct JsonArg {
    /// Print the result as JSON on stdout (errors too).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct NameArgs {
    /// The server name (`io.github.owner/server`).
    #[arg(value_parser = parse_name)]
    name: ServerName,
    /// Print the result as JSON on stdout (errors too).
    #[arg(long)]
    json: bool,
}

fn parse_name(s: &str) -> Result<ServerName, String> {
    ServerName::parse(s).map_err(|e| e.to_string())
}

pub fn run(cmd: PinsCmd) -> u8 {
    let json = match &cmd {
        PinsCmd::List(a) => a.json,
        PinsCmd::Show(a) | PinsCmd::Forget(a) => a.json,
    };
    match execute(cmd) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            print_error_as(&e, e.reason().as_str(), e.hint().as_deref(), json, false);
            EXIT_ERROR
        }
    }
}

fn execute(cmd: PinsCmd) -> Result<(), PinStoreError> {
    let store = PinStore::open_default()?;
    match cmd {
        PinsCmd::List(a) => {
            let records = store.list()?;
            if a.json {
                let pins: Vec<serde_json::Value> = records.iter().map(summary).collect();
                print_json(&json!({ "store": store.dir(), "pins": pins }));
            } else if records.is_empty() {
                outln!("no pins in {}", store.dir().display());
            } else {
                for r in &records {
                    outln!(
                        "{}  {}  {}  {}  last seen {}",
                        r.server,
                        one_line(r.version.as_str()),
                        one_line(&r.signer.to_string()),
                        r.manifest_digest.short(),
                        r.last_seen
                    );
                }
            }
        }
        PinsCmd::Show(a) => {
            let r = store.show(&a.name)?;
            if a.json {
                print_json(&serde_json::to_value(&r).unwrap_or_default());
            } else {
                show_human(&r);
            }
        }
        PinsCmd::Forget(a) => {
            let f = store.forget(&a.name)?;
            if a.json {
                print_json(&json!({
                    "forgotten": f.name,
                    "path": f.path,
                    "record": f.record.as_ref().map(summary),
                }));
            } else {
                match &f.record {
                    Some(r) => outln!(
                        "forgot {} (version {}, {})",
                        f.name,
                        one_line(r.version.as_str()),
                        one_line(&r.signer.to_string())
                    ),
                    None => outln!("forgot {} (its record was unreadable)", f.name),
                }
            }
        }
    }
    Ok(())
}

fn print_json(v: &serde_json::Value) {
    cli::rawln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// One line of `pins list --json`.
fn summary(r: &PinRecord) -> serde_json::Value {
    let count = |f: fn(&mcpsig::manifest::pins::ToolPins) -> usize| r.tools.as_ref().map(f);
    json!({
        "server": r.server,
        "version": r.version,
        "signer": r.signer,
        "manifestDigest": r.manifest_digest,
        "firstSeen": r.first_seen,
        "lastSeen": r.last_seen,
        "tools": count(|p| p.tools.len()),
        "prompts": count(|p| p.prompts.len()),
        "resourceTemplates": count(|p| p.resource_templates.len()),
        "approvals": r.approvals.len(),
    })
}

fn show_human(r: &PinRecord) {
    outln!("{}", r.server);
    outln!("  version:    {}", one_line(r.version.as_str()));
    outln!("  signer:     {}", one_line(&r.signer.to_string()));
    outln!("  manifest:   {}", r.manifest_digest);
    outln!("  first seen: {}", r.first_seen);
    outln!("  last seen:  {}", r.last_seen);
    match &r.tools {
        None => outln!("  tools:      none pinned"),
        Some(p) => {
            for (kind, items) in p.sections() {
                for item in items {
                    outln!("  {kind}: {} {}", one_line(&item.name), item.digest.short());
                }
            }
            if let Some(i) = &p.instructions {
                outln!("  instructions: {}", i.digest.short());
            }
        }
    }
    for a in &r.approvals {
        let changes: Vec<String> = a
            .changes
            .iter()
            .map(|c| format!("{} `{}` {}", c.kind, one_line(&c.name), c.code.as_str()))
            .collect();
        outln!(
            "  approved {} at {}: {}",
            one_line(a.version.as_str()),
            a.approved_at,
            changes.join(", ")
        );
    }
}
