//! Re-checking pinned OCI images against their registries: the repository must hold a manifest
//! whose bytes have the pinned digest. With `Checks::offline` no registry is asked, and the
//! image is reported unchecked, saying so.

use super::{ArtifactReport, Checks, Problem, VerifyError};
use crate::manifest::{Artifact, Manifest};
use crate::reason::Reason;
use crate::registry::oci::{OciError, Registry, Repository};

/// Checks every `oci` artifact no local copy checked; a missing or different manifest is a
/// problem, a registry that cannot be asked an error.
pub(super) fn check_images(
    manifest: &Manifest,
    reports: &mut [ArtifactReport],
    checks: &Checks,
    problems: &mut Vec<Problem>,
) -> Result<(), VerifyError> {
    if checks.offline || checks.signature_only {
        return Ok(());
    }
    for (artifact, report) in manifest.artifacts.iter().zip(reports.iter_mut()) {
        let Artifact::Oci { name, digest, .. } = artifact else {
            continue;
        };
        if report.checked.is_some() {
            continue;
        }
        // A signed manifest's names were validated when it was read.
        let Some(repo) = Repository::parse(name) else {
            continue;
        };
        let err = |source| VerifyError::Registry {
            image: format!("{name}@{digest}"),
            source: Box::new(source),
        };
        let registry = Registry::connect(repo.registry(), &checks.oci).map_err(err)?;
        let mismatch = |message: String| Problem {
            reason: Reason::ArtifactMismatch,
            message,
            path: None,
        };
        match registry.manifest(&repo, digest) {
            Ok(Some(_)) => {}
            Ok(None) => problems.push(mismatch(format!(
                "oci artifact `{name}`: the registry holds no manifest {digest}"
            ))),
            Err(OciError::DigestMismatch { actual, .. }) => problems.push(mismatch(format!(
                "oci artifact `{name}`: the registry's manifest at {digest} has digest {actual}"
            ))),
            Err(e) => return Err(err(e)),
        }
        report.checked = Some(format!("oci://{name}@{digest}"));
    }
    Ok(())
}
