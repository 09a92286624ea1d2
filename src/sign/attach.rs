//! Attaching a signed bundle to the image its manifest pins, in the image's registry, as an
//! OCI 1.1 referrer (`mcp-sign attach`, spec/oci.md). The bundle is read first, unverified:
//! one whose statement does not name the image at its digest is refused before anything is
//! pushed, since verifying the image would reject it.

use crate::digest::Digest;
use crate::manifest::packages::OciTarget;
use crate::registry::oci::{self, Attached, ImageRef, OciError, Registry};
use crate::sigstore::bundle::{Bundle, Content};
use crate::statement::Statement;

/// What to attach where.
#[derive(Debug, Clone)]
pub struct AttachRequest<'a> {
    /// The bundle file's bytes, pushed exactly as they are.
    pub bundle: &'a [u8],
    pub image: &'a ImageRef,
    pub options: &'a oci::Options,
}

/// What was pushed.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachOutcome {
    /// `REGISTRY/REPO`.
    pub image: String,
    /// The tag given, which was resolved to the subject's digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(flatten)]
    pub attached: Attached,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    #[error("not a Sigstore bundle")]
    NotABundle(#[source] crate::sigstore::SigstoreError),
    #[error("the bundle signs a plain message, not an in-toto statement")]
    NotAStatement,
    #[error("the bundle's in-toto statement cannot be read")]
    Statement(#[source] crate::json::JsonError),
    #[error(
        "the bundle's statement does not name {image}@{digest} (its subjects: {subjects}): \
         verifying the image would reject it (artifact-mismatch)"
    )]
    NotForImage {
        image: String,
        digest: Digest,
        subjects: String,
    },
    #[error(transparent)]
    Registry(#[from] OciError),
}

impl AttachError {
    /// True when the input is refused (exit 1), false when the registry could not be used.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, AttachError::Registry(_))
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            AttachError::NotForImage { .. } => Some(
                "pin the image in the manifest (`oci:REGISTRY/REPO@DIGEST` artifact) and sign it \
                 again, or attach the bundle to the image it pins"
                    .to_owned(),
            ),
            AttachError::Registry(e) => e.hint(),
            _ => None,
        }
    }
}

/// Resolves the image (a tag to its manifest digest), checks that the bundle's statement names
/// it, and attaches the bundle.
pub fn attach_bundle(req: &AttachRequest) -> Result<AttachOutcome, AttachError> {
    let bundle = Bundle::from_json(req.bundle).map_err(AttachError::NotABundle)?;
    let Content::DsseEnvelope(env) = &bundle.content else {
        return Err(AttachError::NotAStatement);
    };
    let statement: Statement =
        crate::json::from_slice(&env.payload).map_err(AttachError::Statement)?;
    let repo = &req.image.repository;
    let registry = Registry::connect(repo.registry(), req.options)?;
    let subject = oci::resolve(&registry, req.image)?;
    let named = statement
        .subject
        .iter()
        .any(|s| s.name == repo.name() && s.digests().is_ok_and(|d| d.contains(&subject.digest)));
    if !named {
        return Err(AttachError::NotForImage {
            image: repo.name().to_owned(),
            digest: subject.digest,
            subjects: statement
                .subject
                .iter()
                .map(|s| crate::text::one_line(&s.name, 100))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let attached = registry.attach(repo, &subject, req.bundle)?;
    Ok(AttachOutcome {
        image: repo.name().to_owned(),
        tag: match &req.image.target {
            OciTarget::Tag(t) => Some(t.clone()),
            OciTarget::Digest(_) => None,
        },
        attached,
    })
}
