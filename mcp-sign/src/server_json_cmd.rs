//! `mcp-sign server-json` and `init --from-server-json`: the MCP registry's server.json read
//! into pins, and pins written back as its `packages[]` entries (`mcpsig::artifact::server_json`).

use super::{Failure, emit, refused};
use anyhow::Context;
use cli::{EXIT_ERROR, EXIT_REJECTED};
use mcpsig::artifact::server_json::export::{ExportError, export};
use mcpsig::artifact::server_json::import::{ImportRequest, Imported, import};
use mcpsig::artifact::server_json::{SCHEMA_URL, ServerJson};
use mcpsig::fsutil::{read_limited, refuse_existing, write_atomic};
use mcpsig::manifest::Manifest;
use mcpsig::registry::Registries;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const AFTER_HELP: &str = "\
Examples:
  mcp-sign server-json mcp-manifest.json                      # the packages[] entries
  mcp-sign server-json mcp-manifest.json --from server.json -o server.json --force

Each npm, pypi, oci and mcpb artifact of the manifest becomes a packages[] entry of the MCP
registry's server.json (schema 2025-12-11): npm and PyPI entries with their exact version and
fileSha256 (the sha256 of the pinned tarball or wheel), images with their digest in the
identifier (`REGISTRY/REPO:TAG@sha256:...`). With --from, the entries are merged into that
document: an entry for the same package keeps its other fields (transport, arguments, variables),
an MCP bundle needs its entry there (the manifest does not hold its download URL), entries the
manifest does not pin are kept as they were, and the server's version becomes the manifest's.
See spec/server-json.md.";

#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct ServerJsonArgs {
    /// The manifest whose package pins are written.
    manifest: PathBuf,
    /// A server.json to merge the entries into (the whole document is written).
    #[arg(long, value_name = "SERVER_JSON")]
    from: Option<PathBuf>,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace an existing output file.
    #[arg(long, requires = "output")]
    force: bool,
}

/// Reads a server.json strictly; a document that is not one is refused.
fn read_document(path: &Path) -> Result<ServerJson, Failure> {
    let bytes = read_limited(path, mcpsig::json::MAX_DOCUMENT_BYTES as u64)?;
    ServerJson::parse(&bytes).map_err(|e| {
        refused(anyhow::Error::new(e).context(format!("server.json `{}`", path.display())))
    })
}

pub fn run(a: ServerJsonArgs) -> Result<(), Failure> {
    if let Some(out) = &a.output {
        refuse_existing(out, a.force)?;
    }
    let bytes = read_limited(&a.manifest, mcpsig::json::MAX_DOCUMENT_BYTES as u64)?;
    let manifest = Manifest::from_json(&bytes).map_err(|e| {
        refused(anyhow::Error::new(e).context(format!("manifest `{}`", a.manifest.display())))
    })?;
    let from = a.from.as_deref().map(read_document).transpose()?;
    let out = export(&manifest, from.as_ref()).map_err(|e: ExportError| refused(e))?;
    for n in &out.notes {
        cli::errln!("note: {n}");
    }
    let data = match &out.document {
        Some(d) => d.clone(),
        None => serde_json::Value::Array(out.packages.clone()),
    };
    let mut text = serde_json::to_vec_pretty(&data).context("cannot write JSON")?;
    text.push(b'\n');
    if let Some(path) = &a.output {
        write_atomic(path, &text, 0o644, a.force)?;
        cli::errln!(
            "wrote {} package entr{} to {}",
            out.packages.len(),
            if out.packages.len() == 1 { "y" } else { "ies" },
            path.display()
        );
    }
    if !super::cli_json() {
        if a.output.is_none() {
            // The document is data: written as it is, only escaped where a string would reach
            // the terminal raw (still the same JSON).
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(cli::json_safe(&String::from_utf8_lossy(&text)).as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(cli::closed_stdout)
                .context("cannot write to standard output")?;
        }
        return Ok(());
    }
    emit(
        "",
        serde_json::json!({
            "schema": SCHEMA_URL,
            "packages": out.packages,
            "document": out.document,
            "output": a.output.as_ref().map(|p| p.display().to_string()),
            "notes": out.notes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
    );
    Ok(())
}

/// `init --from-server-json FILE`: the document read and every package entry resolved.
pub fn import_for_init(
    path: &Path,
    skip_unsupported: bool,
) -> Result<(ServerJson, Imported), Failure> {
    let document = read_document(path)?;
    let registries = Registries::from_env();
    registries.check().map_err(refused)?;
    cli::errln!(
        "resolving {} package(s) of {} ...",
        document.packages.len(),
        path.display()
    );
    let imported = import(&ImportRequest {
        document: &document,
        registries: &registries,
        skip_unsupported,
    })
    .map_err(|e| Failure {
        code: if e.is_refusal() {
            EXIT_REJECTED
        } else {
            EXIT_ERROR
        },
        hint: None,
        err: anyhow::Error::new(e).context(format!("server.json `{}`", path.display())),
    })?;
    for n in &imported.notes {
        cli::errln!("note: {n}");
    }
    Ok((document, imported))
}
