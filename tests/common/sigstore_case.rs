//! One bundle-verification case folder, laid out as the sigstore-conformance suite does it (and
//! our `sigstore-*` scenarios after it): `bundle.sigstore.json`, and `key.pub` or
//! `identity`/`issuer` (default: the conformance beacon's workflow on GitHub Actions).

use std::path::Path;

use mcpsig::sigstore::keys::PublicKey;
use mcpsig::sigstore::policy::IdentityPolicy;
use mcpsig::sigstore::trust::TrustedRoot;
use mcpsig::sigstore::{
    ArtifactRef, Bundle, SignerPolicy, SigstoreError, VerifyOptions, verify_bundle,
};
use sha2::{Digest as _, Sha256};

pub const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
pub const GITHUB: &str = "https://token.actions.githubusercontent.com";

pub fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned())
}

/// An I/O failure on `path` as the library's error, so a case reads as one `Result`.
pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SigstoreError + '_ {
    move |source| SigstoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Verifies the case's bundle against `root`, with the artifact's bytes or, `by_digest`, only its
/// SHA-256, and the transparency log required; `Ok(())` means it verified.
pub fn verify_case(
    dir: &Path,
    root: &TrustedRoot,
    artifact: &[u8],
    by_digest: bool,
) -> Result<(), SigstoreError> {
    let bundle_path = dir.join("bundle.sigstore.json");
    let bundle = Bundle::from_json(&std::fs::read(&bundle_path).map_err(io(&bundle_path))?)?;
    let signer = match read_trim(&dir.join("key.pub")) {
        Some(pem) => SignerPolicy::Key(PublicKey::from_pem(&pem)?),
        None => SignerPolicy::Identity(IdentityPolicy::exact(
            &read_trim(&dir.join("identity")).unwrap_or_else(|| BEACON.to_owned()),
            &read_trim(&dir.join("issuer")).unwrap_or_else(|| GITHUB.to_owned()),
        )),
    };
    let opts = VerifyOptions {
        trusted_root: Some(root),
        signer,
        require_transparency: true,
    };
    let digest: [u8; 32] = Sha256::digest(artifact).into();
    let art = if by_digest {
        ArtifactRef::Sha256(digest)
    } else {
        ArtifactRef::Bytes(artifact)
    };
    verify_bundle(&bundle, Some(art), &opts).map(|_| ())
}
