//! Package artifacts (npm, PyPI) checked against their registries, and installed into the
//! launch store when a launch asks: each finding becomes a problem with its reason code; a
//! registry that cannot be reached, or `--offline` with archives missing from the store, leaves
//! the artifact unchecked and says why.

use super::{ArtifactReport, Problem, VerifyError};
use crate::artifact::{ArtifactError, Finding, PackageChecks, unpack::UnpackError};
use crate::manifest::Artifact;
use crate::reason::Reason;
use crate::store::Store;

pub(super) fn check_package(
    artifact: &Artifact,
    checks: &PackageChecks,
    store: Option<&Store>,
    offline: bool,
    report: &mut ArtifactReport,
    problems: &mut Vec<Problem>,
) -> Result<(), VerifyError> {
    if !matches!(artifact, Artifact::Npm { .. } | Artifact::Pypi { .. }) {
        return Ok(());
    }
    let name = artifact.name().to_owned();
    let kind = artifact.kind();
    let opened;
    let store = match store {
        Some(s) => Some(s),
        None if checks.install => {
            opened = Store::open_default().map_err(|source| VerifyError::Store {
                path: crate::fsutil::data_dir().unwrap_or_default(),
                source: Box::new(source),
            })?;
            Some(&opened)
        }
        None => None,
    };
    let checked = match crate::artifact::check(artifact, checks, store, store.is_some(), offline) {
        Ok(c) => c,
        Err(ArtifactError::Registry(e)) => {
            problems.push(Problem {
                reason: Reason::Network,
                message: format!(
                    "{kind} artifact `{name}` could not be checked: {}",
                    crate::text::error_chain(&e)
                ),
                path: Some(name),
            });
            return Ok(());
        }
        Err(e) => {
            return Err(VerifyError::Package {
                name,
                source: Box::new(e),
            });
        }
    };
    if !checked.offline_missing.is_empty() {
        problems.push(Problem {
            reason: Reason::ArtifactUnchecked,
            message: format!(
                "{kind} artifact `{name}` was not checked: offline, and {} of its archives are \
                 not in the launch store (first: {})",
                checked.offline_missing.len(),
                checked.offline_missing[0]
            ),
            path: Some(name),
        });
        return Ok(());
    }
    report.checked = Some(match kind {
        "npm" => format!("{} (npm registry)", checks.registries.npm),
        _ => format!("{} (package index)", checks.registries.pypi),
    });
    report.snapshot = checked.snapshot;
    for f in checked.findings {
        let reason = match &f {
            Finding::Unsafe(UnpackError::UnsafePath { .. }) => Reason::UnsafePath,
            Finding::Unsafe(UnpackError::Kind { .. }) => Reason::SpecialFile,
            _ => Reason::ArtifactMismatch,
        };
        let message = match &f {
            Finding::InstalledChanged { path, changes } => format!(
                "{kind} artifact `{name}`: the install at `{}` was changed after it was \
                 installed ({} change{}: {}); remove it (`chmod -R u+w '{0}' && rm -rf '{0}'`) \
                 to install it again",
                path.display(),
                changes.len(),
                if changes.len() == 1 { "" } else { "s" },
                changes
                    .iter()
                    .take(3)
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            f => format!("{kind} artifact `{name}`: {}", crate::text::error_chain(f)),
        };
        problems.push(Problem {
            reason,
            message,
            path: Some(name.clone()),
        });
    }
    Ok(())
}
