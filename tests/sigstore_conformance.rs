//! Runs every sigstore-conformance bundle-verify case (testdata/sigstore-conformance) through
//! `verify_bundle`, twice: with the artifact's bytes and with only its SHA-256 digest.
//! A case named `*_fail` must be rejected; every other case must verify.

use std::path::{Path, PathBuf};

use mcpsig::sigstore::keys::PublicKey;
use mcpsig::sigstore::policy::IdentityPolicy;
use mcpsig::sigstore::trust::TrustedRoot;
use mcpsig::sigstore::{
    ArtifactRef, Bundle, SignerPolicy, SigstoreError, VerifyOptions, verify_bundle,
};
use sha2::{Digest as _, Sha256};

const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GITHUB: &str = "https://token.actions.githubusercontent.com";

fn root_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sigstore-conformance")
}

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned())
}

/// Runs one case in one mode; `Ok(())` means the bundle verified.
fn run_case(dir: &Path, by_digest: bool) -> Result<(), SigstoreError> {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SigstoreError + '_ {
        move |source| SigstoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    let art_path = if dir.join("artifact").exists() {
        dir.join("artifact")
    } else {
        root_dir().join("a.txt")
    };
    let artifact = std::fs::read(&art_path).map_err(io(&art_path))?;
    let root = match dir.join("trusted_root.json") {
        p if p.exists() => TrustedRoot::from_file(&p)?,
        _ => TrustedRoot::production()?,
    };
    let bundle_path = dir.join("bundle.sigstore.json");
    let bundle = Bundle::from_json(&std::fs::read(&bundle_path).map_err(io(&bundle_path))?)?;
    let signer = if dir.join("key.pub").exists() {
        let pem = read_trim(&dir.join("key.pub")).unwrap_or_default();
        SignerPolicy::Key(PublicKey::from_pem(&pem)?)
    } else {
        let id = read_trim(&dir.join("identity")).unwrap_or_else(|| BEACON.to_owned());
        let iss = read_trim(&dir.join("issuer")).unwrap_or_else(|| GITHUB.to_owned());
        SignerPolicy::Identity(IdentityPolicy::exact(&id, &iss))
    };
    let opts = VerifyOptions {
        trusted_root: Some(&root),
        signer,
        require_transparency: true,
    };
    let digest: [u8; 32] = Sha256::digest(&artifact).into();
    let art = if by_digest {
        ArtifactRef::Sha256(digest)
    } else {
        ArtifactRef::Bytes(&artifact)
    };
    verify_bundle(&bundle, Some(art), &opts).map(|_| ())
}

#[test]
fn conformance_cases_all_answered_correctly() -> Result<(), std::io::Error> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root_dir().join("bundle-verify"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 47, "expected the 47 copied cases");
    let (mut ok, mut wrong) = (0, Vec::new());
    for dir in &cases {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let want_pass = !name.ends_with("_fail");
        for by_digest in [false, true] {
            let mode = if by_digest { "DIGEST" } else { "PATH" };
            let got = run_case(dir, by_digest);
            match (&got, want_pass) {
                (Ok(()), true) => {
                    ok += 1;
                    println!("ok    {name} [{mode}]");
                }
                (Err(e), false) => {
                    ok += 1;
                    println!("ok    {name} [{mode}] rejected: {} ({e})", e.reason_code());
                }
                (Ok(()), false) => {
                    wrong.push(format!("{name} [{mode}]: accepted, must be rejected"))
                }
                (Err(e), true) => wrong.push(format!("{name} [{mode}]: rejected: {e}")),
            }
        }
    }
    for w in &wrong {
        println!("WRONG {w}");
    }
    assert!(
        wrong.is_empty(),
        "{} of {} runs wrong:\n{}",
        wrong.len(),
        ok + wrong.len(),
        wrong.join("\n")
    );
    Ok(())
}
