//! `mcp-sign add-artifact`: resolve one reference and add its pins to a manifest file, setting
//! the manifest's launch to the package's own executable when it has none.

use super::resolve::{ResolveArtifactError, ResolveRequest, Resolved, resolve};
use crate::manifest::packages::ArtifactRef;
use crate::manifest::{Artifact, Launch, Manifest, ManifestError};
use crate::registry::Registries;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct AddRequest<'a> {
    pub manifest: &'a Path,
    pub reference: &'a ArtifactRef,
    pub registries: &'a Registries,
    /// Pin this local archive instead of the registry's copy.
    pub file: Option<&'a Path>,
    /// Arguments appended to the package's own launch when it becomes the manifest's.
    pub args: &'a [String],
    /// Replace an artifact of the same name (else it is refused).
    pub replace: bool,
}

#[derive(Debug)]
pub struct AddOutcome {
    pub artifact: Artifact,
    /// The launch set from the package, when the manifest had none.
    pub launch_set: Option<Launch>,
    /// The manifest had a launch and this package declares another: left as it was.
    pub launch_kept: bool,
    pub packages: usize,
    pub replaced: bool,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddError {
    #[error("cannot read manifest `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: crate::fsutil::ReadError,
    },
    #[error("manifest `{}`", path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: Box<ManifestError>,
    },
    #[error(transparent)]
    Resolve(#[from] Box<ResolveArtifactError>),
    #[error("the manifest already pins an artifact named `{0}` (pass --replace to replace it)")]
    Exists(String),
    #[error("cannot write manifest")]
    Write(#[from] crate::fsutil::WriteError),
}

impl AddError {
    /// The input was refused (exit 1), rather than the work failing (exit 2).
    pub fn is_refusal(&self) -> bool {
        matches!(self, AddError::Manifest { .. } | AddError::Exists(_))
            || matches!(self, AddError::Resolve(e) if e.is_refusal())
    }
}

/// Resolves `req.reference` and writes the manifest back with it (atomically).
pub fn add_artifact(req: &AddRequest) -> Result<AddOutcome, AddError> {
    let bytes = crate::fsutil::read_limited(req.manifest, crate::json::MAX_DOCUMENT_BYTES as u64)
        .map_err(|source| AddError::Read {
        path: req.manifest.to_path_buf(),
        source,
    })?;
    let mut manifest = Manifest::from_json(&bytes).map_err(|source| AddError::Manifest {
        path: req.manifest.to_path_buf(),
        source: Box::new(source),
    })?;
    let resolved = resolve(&ResolveRequest {
        reference: req.reference,
        registries: req.registries,
        file: req.file,
        oci: Default::default(),
    })
    .map_err(Box::new)?;
    let outcome = add_resolved(&mut manifest, resolved, req.args, req.replace)?;
    manifest.check().map_err(|source| AddError::Manifest {
        path: req.manifest.to_path_buf(),
        source: Box::new(source),
    })?;
    crate::fsutil::write_atomic(req.manifest, &manifest.to_json_pretty(), 0o644, true)?;
    Ok(outcome)
}

/// Adds a resolved artifact to `manifest` (see [`add_artifact`]).
pub fn add_resolved(
    manifest: &mut Manifest,
    resolved: Resolved,
    args: &[String],
    replace: bool,
) -> Result<AddOutcome, AddError> {
    let name = resolved.artifact.name().to_owned();
    let existing = manifest.artifacts.iter().position(|a| a.name() == name);
    let replaced = match existing {
        Some(_) if !replace => return Err(AddError::Exists(name)),
        Some(i) => {
            manifest.artifacts[i] = resolved.artifact.clone();
            true
        }
        None => {
            manifest.artifacts.push(resolved.artifact.clone());
            false
        }
    };
    let mut launch_set = None;
    let mut launch_kept = false;
    // The package's own executable becomes the launch only when it is what the server is: no
    // launch yet, and no directory artifact or other package to run instead.
    let runnable = manifest
        .artifacts
        .iter()
        .filter(|a| {
            matches!(
                a,
                Artifact::Directory { .. } | Artifact::Npm { .. } | Artifact::Pypi { .. }
            )
        })
        .count();
    match (&manifest.launch, resolved.launch) {
        (None, Some(mut launch)) if runnable == 1 => {
            if let Launch::Stdio { args: a, .. } = &mut launch {
                a.extend(args.iter().cloned());
            }
            manifest.launch = Some(launch.clone());
            launch_set = Some(launch);
        }
        (Some(_), Some(_)) => launch_kept = true,
        _ => {}
    }
    Ok(AddOutcome {
        artifact: resolved.artifact,
        launch_set,
        launch_kept,
        packages: resolved.packages,
        replaced,
    })
}
