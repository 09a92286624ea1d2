//! `mcp-sign add-artifact` and `init --artifact`: package references resolved by the library.

use super::{Failure, emit, refused};
use cli::EXIT_REJECTED;
use mcpsig::artifact::add::{AddError, AddRequest, add_artifact};
use mcpsig::artifact::resolve::{ResolveRequest, Resolved, resolve};
use mcpsig::manifest::packages::ArtifactRef;
use mcpsig::registry::Registries;
use std::path::PathBuf;

pub const AFTER_HELP: &str = "\
Examples:
  mcp-sign add-artifact mcp-manifest.json npm:@modelcontextprotocol/server-memory@2026.8.31
  mcp-sign add-artifact mcp-manifest.json pypi:mcp-server-time==2026.10.19 -- --local-timezone UTC
  mcp-sign add-artifact mcp-manifest.json npm:@acme/weather@1.2.0 --file ./acme-weather-1.2.0.tgz
  mcp-sign add-artifact mcp-manifest.json mcpb:./weather.mcpb

REF is npm:NAME@VERSION, pypi:NAME==VERSION, oci:REGISTRY/REPO:TAG (or @sha256:...) or
mcpb:PATH; versions are exact. npm packages are pinned with their whole dependency tree as
`npm install --package-lock-only --ignore-scripts` resolves it; PyPI projects with the whole set
of wheels `pip install --dry-run --only-binary=:all:` resolves for this Python and platform (npm
and python3 must be on PATH, or set MCPSIG_NPM / MCPSIG_PYTHON). No package script runs.

Registries: --registry, else MCPSIG_NPM_REGISTRY / MCPSIG_PYPI_INDEX, else npm's and pip's own
configuration (npm_config_registry, ~/.npmrc; PIP_INDEX_URL, pip.conf), else the public ones.
When the manifest has no launch and this is its only package, the launch becomes the package's
own executable run from the verified install (`node node_modules/PKG/BIN`,
`python3 -I -B bin/SCRIPT`), with the arguments after `--`.";

#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct AddArtifactArgs {
    /// The manifest to add the artifact to (rewritten in place).
    manifest: PathBuf,
    /// What to pin: npm:NAME@VERSION, pypi:NAME==VERSION, oci:REGISTRY/REPO:TAG, mcpb:PATH.
    #[arg(value_name = "REF")]
    reference: String,
    /// Pin this local archive (`npm pack` tarball, built wheel) instead of the registry's copy.
    #[arg(long, value_name = "LOCAL")]
    file: Option<PathBuf>,
    /// The registry (npm) or package index (PyPI, its /simple/ URL) to resolve from.
    #[arg(long, value_name = "URL")]
    registry: Option<String>,
    /// Replace an artifact of the same name.
    #[arg(long)]
    replace: bool,
    /// Arguments for the package's executable, when it becomes the manifest's launch.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

/// The registries, with `--registry` in place of the one `reference` uses.
pub fn registries(reference: &ArtifactRef, registry: Option<&str>) -> Registries {
    let mut r = Registries::from_env();
    if let Some(url) = registry {
        let url = if url.ends_with('/') {
            url.to_owned()
        } else {
            format!("{url}/")
        };
        match reference {
            ArtifactRef::Npm { .. } => r.npm = url,
            ArtifactRef::Pypi { .. } => r.pypi = url,
            _ => {}
        }
    }
    r
}

/// Exit 1 for a refused input, 2 for work that could not run.
fn failure(refusal: bool, err: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: if refusal {
            EXIT_REJECTED
        } else {
            cli::EXIT_ERROR
        },
        hint: None,
        err: err.into(),
    }
}

pub fn parse_ref(s: &str) -> Result<ArtifactRef, Failure> {
    ArtifactRef::parse(s).map_err(refused)
}

pub fn run(a: AddArtifactArgs) -> Result<(), Failure> {
    let reference = parse_ref(&a.reference)?;
    let registries = registries(&reference, a.registry.as_deref());
    registries.check().map_err(refused)?;
    cli::errln!("resolving {} ...", a.reference);
    let started = std::time::Instant::now();
    let out = add_artifact(&AddRequest {
        manifest: &a.manifest,
        reference: &reference,
        registries: &registries,
        file: a.file.as_deref(),
        args: &a.args,
        replace: a.replace,
    })
    .map_err(|e: AddError| failure(e.is_refusal(), e))?;
    cli::errln!(
        "{} {} artifact `{}` ({}{}) in {:.1} s",
        if out.replaced { "replaced" } else { "added" },
        out.artifact.kind(),
        out.artifact.name(),
        out.artifact.digest().short(),
        match out.packages {
            0 | 1 => String::new(),
            n => format!(", {n} packages pinned"),
        },
        started.elapsed().as_secs_f64()
    );
    if let Some(mcpsig::manifest::Launch::Stdio { command, args, .. }) = &out.launch_set {
        cli::errln!("launch set to: {command} {}", args.join(" "));
    }
    if out.launch_kept {
        cli::errln!("the manifest's launch was kept (the package's own was not used)");
    }
    emit(
        &out.artifact.digest().to_string(),
        serde_json::json!({
            "manifest": a.manifest.display().to_string(),
            "artifact": {"kind": out.artifact.kind(), "name": out.artifact.name(), "digest": out.artifact.digest()},
            "packages": out.packages,
            "replaced": out.replaced,
            "launch": out.launch_set,
        }),
    );
    Ok(())
}

/// `init --artifact REF`: each reference resolved, in order.
pub fn resolve_all(refs: &[String], registry: Option<&str>) -> Result<Vec<Resolved>, Failure> {
    let mut out = Vec::new();
    for r in refs {
        let reference = parse_ref(r)?;
        let registries = registries(&reference, registry);
        registries.check().map_err(refused)?;
        cli::errln!("resolving {r} ...");
        let resolved = resolve(&ResolveRequest {
            reference: &reference,
            registries: &registries,
            file: None,
            oci: Default::default(),
        })
        .map_err(|e| failure(e.is_refusal(), e))?;
        out.push(resolved);
    }
    Ok(out)
}
