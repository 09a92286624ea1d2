//! Verifying an image in a registry (`mcp-verify oci://REGISTRY/REPO:TAG|@DIGEST`,
//! spec/oci.md): the reference is resolved to a manifest digest, every Sigstore bundle attached
//! to that digest is read and verified by the caller's verification (a trust or a policy), and
//! a bundle counts only if its verified manifest pins this very image: an `oci` artifact named
//! `REGISTRY/REPO` with the resolved digest. A bundle attached to another digest, or an image
//! retagged under a signed bundle's feet, is `artifact-mismatch`.

use super::{Problem, Report, Verified, VerifyError};
use crate::digest::Digest;
use crate::manifest::{Artifact, Manifest};
use crate::reason::Reason;
use crate::registry::oci::{self, Descriptor, ImageRef, ReferrerProblem, Registry, Via};
use serde::Serialize;

/// An image to verify and how its registry is reached.
#[derive(Debug, Clone)]
pub struct ImageRequest<'a> {
    pub image: &'a ImageRef,
    pub options: &'a oci::Options,
}

/// One attached bundle and what its verification found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleOutcome {
    /// The digest of the referrer manifest that attaches it, as the registry lists it.
    pub referrer: String,
    #[serde(flatten)]
    pub report: Report,
}

/// The outcome of verifying an image.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReport {
    /// True exactly when one attached bundle verified and pins this image.
    pub verified: bool,
    /// `REGISTRY/REPO`.
    pub image: String,
    /// The tag given, resolved to `digest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The image manifest's digest (from the bytes the registry sent).
    pub digest: Digest,
    pub media_type: String,
    /// How the attached bundles were found.
    pub discovered_via: Via,
    pub bundles: Vec<BundleOutcome>,
    /// The referrer whose bundle satisfied the trust or policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfied_by: Option<String>,
    /// Why the image is rejected: `unsigned` when nothing is attached, else every bundle's
    /// problems. Empty when `verified`.
    pub problems: Vec<Problem>,
    /// Bundle referrers beyond the number read ([`oci::MAX_REFERRERS`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub not_read: usize,
    /// The manifest of the satisfying bundle.
    #[serde(skip)]
    pub manifest: Option<Verified<Manifest>>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Verifies the image `req` names: `verify_bundle` decides each attached bundle (a
/// [`super::verify`] with a trust, or a policy's verification). `Err` when the registry could
/// not be reached or answered nonsense, or a bundle's verification could not be decided.
pub fn verify_image(
    req: &ImageRequest,
    mut verify_bundle: impl FnMut(&[u8]) -> Result<Report, VerifyError>,
) -> Result<ImageReport, VerifyError> {
    let repo = &req.image.repository;
    let err = |source| VerifyError::Registry {
        image: req.image.to_string(),
        source: Box::new(source),
    };
    let registry = Registry::connect(repo.registry(), req.options).map_err(err)?;
    let subject: Descriptor = oci::resolve(&registry, req.image).map_err(err)?;
    let discovery = registry.discover(repo, &subject.digest).map_err(err)?;
    let mut bundles = Vec::new();
    for referrer in discovery.referrers {
        let report = match referrer.bundle {
            Err(problem) => Report::rejected(Problem::new(
                referrer_reason(&problem),
                format!("attached bundle not read: {problem}"),
            )),
            Ok(bytes) => {
                let report = verify_bundle(&bytes)?;
                require_pin(report, repo.name(), &subject.digest)
            }
        };
        bundles.push(BundleOutcome {
            referrer: referrer.digest,
            report,
        });
    }
    let satisfying = bundles.iter().position(|b| b.report.verified);
    let mut problems = Vec::new();
    if bundles.is_empty() {
        problems.push(Problem::new(
            Reason::Unsigned,
            format!(
                "no Sigstore bundle is attached to {}@{} (looked up through {})",
                repo.name(),
                subject.digest,
                via_text(discovery.via, &subject.digest)
            ),
        ));
    } else if satisfying.is_none() {
        for b in &bundles {
            for p in &b.report.problems {
                problems.push(Problem {
                    reason: p.reason,
                    message: format!("bundle {}: {}", short(&b.referrer), p.message),
                    path: p.path.clone(),
                });
            }
        }
    }
    let manifest = satisfying.and_then(|i| bundles[i].report.manifest.clone());
    Ok(ImageReport {
        verified: satisfying.is_some(),
        image: repo.name().to_owned(),
        tag: match &req.image.target {
            crate::manifest::packages::OciTarget::Tag(t) => Some(t.clone()),
            crate::manifest::packages::OciTarget::Digest(_) => None,
        },
        digest: subject.digest,
        media_type: subject.media_type,
        discovered_via: discovery.via,
        satisfied_by: satisfying.map(|i| bundles[i].referrer.clone()),
        bundles,
        problems,
        not_read: discovery.not_read,
        manifest,
    })
}

/// `sha256:` and 12 hex digits, for messages.
fn short(digest: &str) -> String {
    match digest.char_indices().nth(19) {
        Some((i, _)) => format!("{}...", &digest[..i]),
        None => digest.to_owned(),
    }
}

/// How a discovery path reads in a message.
pub fn via_text(via: Via, subject: &Digest) -> String {
    match via {
        Via::ReferrersApi => "the registry's referrers API".to_owned(),
        Via::FallbackTag => format!(
            "the referrers fallback tag `{}` (the registry has no referrers API)",
            oci::fallback_tag(subject)
        ),
    }
}

fn referrer_reason(p: &ReferrerProblem) -> Reason {
    if p.is_too_large() {
        Reason::MalformedBundle
    } else {
        Reason::ReferrerMismatch
    }
}

/// A verified report stands only if its manifest pins the image `name` at `digest`; otherwise
/// it is rejected (`artifact-mismatch`) and loses its verified manifest.
fn require_pin(mut report: Report, name: &str, digest: &Digest) -> Report {
    if !report.verified {
        return report;
    }
    let pinned = match &report.manifest {
        Some(m) => m.artifacts.iter().any(
            |a| matches!(a, Artifact::Oci { name: n, digest: d, .. } if n == name && d == digest),
        ),
        // Signature only: the signed subjects are all there is to compare.
        None => report
            .artifacts
            .iter()
            .any(|a| a.name == name && &a.digest == digest),
    };
    if pinned {
        return report;
    }
    let images: Vec<String> = match &report.manifest {
        Some(m) => m
            .artifacts
            .iter()
            .filter_map(|a| match a {
                Artifact::Oci { name, digest, .. } => Some(format!("{name}@{digest}")),
                _ => None,
            })
            .collect(),
        None => report
            .artifacts
            .iter()
            .map(|a| format!("{}@{}", a.name, a.digest))
            .collect(),
    };
    report.verified = false;
    report.manifest = None;
    report.problems.push(Problem::new(
        Reason::ArtifactMismatch,
        format!(
            "the signed manifest does not pin {name}@{digest} (it pins {}): a bundle for \
             another image or digest",
            if images.is_empty() {
                "no image".to_owned()
            } else {
                images.join(", ")
            }
        ),
    ));
    report
}
