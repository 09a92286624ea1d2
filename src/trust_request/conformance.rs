//! `mcp-verify sigstore verify-bundle`, the sigstore-conformance client contract, as one typed
//! request: which trusted root applies (the file given, else the embedded root of production or
//! staging; never a TUF cache, so a run depends on its arguments alone), the signer (a managed
//! key, or an exact identity and issuer), and the artifact (a file, or `sha256:<hex>`).

use std::path::PathBuf;

use crate::fsutil::{ReadError, read_limited};
use crate::keys::KeyError;
use crate::sigstore::policy::IdentityPolicy;
use crate::sigstore::trust::{MAX_TRUST_FILE_BYTES, TrustedRoot};
use crate::sigstore::{
    ArtifactRef, Bundle, SignerPolicy, SigstoreError, VerifyOptions, verify_bundle,
};

/// The `verify-bundle` arguments, as given.
#[derive(Debug, Clone, Default)]
pub struct BundleRequest {
    /// The Sigstore bundle to verify.
    pub bundle: PathBuf,
    /// The artifact: a path, or `sha256:<64 hex>`.
    pub artifact: String,
    /// A managed public key (PEM); else `certificate_identity` and `certificate_oidc_issuer`.
    pub key: Option<PathBuf>,
    pub certificate_identity: Option<String>,
    pub certificate_oidc_issuer: Option<String>,
    /// A trusted root file; without one, the embedded root of the chosen instance.
    pub trusted_root: Option<PathBuf>,
    /// The staging instance's embedded root instead of production's.
    pub staging: bool,
}

/// Why a bundle was not verified. [`BundleError::rejection`] tells a refusal (the bundle, key
/// or root failed a check) from a request that could not be carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The bundle (or the key, or the trusted root) was refused.
    #[error(transparent)]
    Rejected(SigstoreError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Key(KeyError),
    #[error("give either --key, or both --certificate-identity and --certificate-oidc-issuer")]
    NoSigner,
    #[error("invalid digest `{input}`")]
    Digest { input: String },
    #[error("cannot read `{}`", path.display())]
    Artifact {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl BundleError {
    /// The verification error when the bundle was refused (exit 1), `None` when the request
    /// could not be carried out (exit 2).
    pub fn rejection(&self) -> Option<&SigstoreError> {
        match self {
            Self::Rejected(e) => Some(e),
            _ => None,
        }
    }
}

/// The trusted root a `verify-bundle` run checks against: `file` when given (a file too large
/// to read is a read error, not a malformed root), else the embedded root of staging or
/// production.
pub fn conformance_root(
    file: Option<&std::path::Path>,
    staging: bool,
) -> Result<TrustedRoot, BundleError> {
    match file {
        Some(p) => TrustedRoot::from_json(&read_limited(p, MAX_TRUST_FILE_BYTES)?),
        None if staging => TrustedRoot::staging(),
        None => TrustedRoot::production(),
    }
    .map_err(BundleError::Rejected)
}

/// Verifies the bundle of `req` against its artifact, signer and trusted root, with the
/// transparency log required.
pub fn verify_bundle_request(req: &BundleRequest) -> Result<(), BundleError> {
    let root = conformance_root(req.trusted_root.as_deref(), req.staging)?;
    // Bounded like every bundle read: an oversized one is a malformed bundle.
    let bundle_bytes = crate::verify::read_bundle_file(&req.bundle)?;
    let bundle = Bundle::from_json(&bundle_bytes).map_err(BundleError::Rejected)?;
    let signer = match (
        &req.key,
        &req.certificate_identity,
        &req.certificate_oidc_issuer,
    ) {
        (Some(k), _, _) => SignerPolicy::Key(match crate::keys::public_key_from_file(k) {
            Ok(key) => key,
            Err(KeyError::Public(e)) => return Err(BundleError::Rejected(e)),
            Err(e) => return Err(BundleError::Key(e)),
        }),
        (None, Some(id), Some(iss)) => SignerPolicy::Identity(IdentityPolicy::exact(id, iss)),
        _ => return Err(BundleError::NoSigner),
    };
    let bytes;
    let artifact = if req.artifact.starts_with("sha256:") {
        ArtifactRef::Sha256(
            sha256_digest(&req.artifact).ok_or_else(|| BundleError::Digest {
                input: req.artifact.clone(),
            })?,
        )
    } else {
        let path = PathBuf::from(&req.artifact);
        bytes = std::fs::read(&path).map_err(|source| BundleError::Artifact { path, source })?;
        ArtifactRef::Bytes(&bytes)
    };
    let opts = VerifyOptions {
        trusted_root: Some(&root),
        signer,
        require_transparency: true,
    };
    verify_bundle(&bundle, Some(artifact), &opts)
        .map(|_| ())
        .map_err(BundleError::Rejected)
}

/// A `sha256:<hex>` artifact digest, parsed by the library's one digest parser.
fn sha256_digest(s: &str) -> Option<[u8; 32]> {
    let d: crate::digest::Digest = s.parse().ok()?;
    match d.algorithm() {
        crate::digest::Algorithm::Sha256 => d.as_bytes().try_into().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_file_given_else_the_embedded_one_of_the_instance() {
        let dir = tempfile::tempdir().unwrap();
        let prod = TrustedRoot::production().unwrap();
        let staging = TrustedRoot::staging().unwrap();
        let ids = |r: &TrustedRoot| format!("{:?}", r.tlogs);
        assert_eq!(ids(&conformance_root(None, false).unwrap()), ids(&prod));
        assert_eq!(ids(&conformance_root(None, true).unwrap()), ids(&staging));
        let file = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/sigstore-trust/staging.trusted_root.json"
        );
        let from_file = conformance_root(Some(file.as_ref()), false).unwrap();
        assert_eq!(ids(&from_file), ids(&staging));
        // Unreadable: could not decide; unparseable: refused.
        let missing = conformance_root(Some(&dir.path().join("absent.json")), false);
        assert!(matches!(missing, Err(BundleError::Read(_))));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, b"{}").unwrap();
        let refused = conformance_root(Some(&bad), false).unwrap_err();
        assert!(refused.rejection().is_some());
    }

    #[test]
    fn a_signer_and_a_well_formed_digest_are_required() {
        let bundle = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/sigstore-conformance/bundle-verify/happy-path-v0.2/bundle.sigstore.json"
        );
        let mut req = BundleRequest {
            bundle: bundle.into(),
            artifact: format!("sha256:{}", "00".repeat(32)),
            ..BundleRequest::default()
        };
        assert!(matches!(
            verify_bundle_request(&req),
            Err(BundleError::NoSigner)
        ));
        req.certificate_identity = Some("me".into());
        req.certificate_oidc_issuer = Some("https://issuer.example".into());
        req.artifact = "sha256:zz".into();
        assert!(matches!(
            verify_bundle_request(&req),
            Err(BundleError::Digest { .. })
        ));
    }
}
