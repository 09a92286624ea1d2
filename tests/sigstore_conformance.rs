//! Runs every sigstore-conformance bundle-verify case (testdata/sigstore-conformance) through
//! `verify_bundle`, twice: with the artifact's bytes and with only its SHA-256 digest.
//! A case named `*_fail` must be rejected; every other case must verify.

mod common;

use std::path::{Path, PathBuf};

use common::sigstore_case::{io, verify_case};
use mcpsig::sigstore::SigstoreError;
use mcpsig::sigstore::trust::TrustedRoot;

fn root_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sigstore-conformance")
}

/// Runs one case in one mode; `Ok(())` means the bundle verified.
fn run_case(dir: &Path, by_digest: bool) -> Result<(), SigstoreError> {
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
    verify_case(dir, &root, &artifact, by_digest)
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
