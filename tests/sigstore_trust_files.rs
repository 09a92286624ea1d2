//! Trust material read from disk has a size bound: a trusted root or signing config given on the
//! command line (or found in the TUF cache, see tests/tuf_repository.rs) that is larger than
//! `MAX_TRUST_FILE_BYTES` is refused from its size, before it is read. Each case uses a 3 GiB
//! sparse file: loading it would take gigabytes of memory, refusing it takes none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use mcpsig::fsutil::{ReadError, read_limited};
use mcpsig::sigstore::SigstoreError;
use mcpsig::sigstore::signing_config::{SigningConfig, SigningConfigError};
use mcpsig::sigstore::trust::{MAX_TRUST_FILE_BYTES, TrustedRoot};

const SPARSE_BYTES: u64 = 3 << 30;

fn sparse(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(SPARSE_BYTES).unwrap();
    p
}

#[test]
fn oversized_trust_files_are_refused_by_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let p = sparse(dir.path(), "trusted_root.json");

    match read_limited(&p, MAX_TRUST_FILE_BYTES) {
        Err(ReadError::TooLarge { limit, .. }) => assert_eq!(limit, MAX_TRUST_FILE_BYTES),
        other => panic!("read_limited: {other:?}"),
    }
    match TrustedRoot::from_file(&p) {
        Err(e @ SigstoreError::MalformedTrustedRoot { .. }) => {
            assert_eq!(e.reason_code(), "malformed-trusted-root");
            assert!(
                e.to_string().contains("is larger than 16777216 bytes"),
                "{e}"
            );
        }
        other => panic!("TrustedRoot::from_file: {other:?}"),
    }
    match SigningConfig::from_file(&p) {
        Err(e @ SigningConfigError::TooLarge { .. }) => {
            assert_eq!(e.reason_code(), "signing-config-malformed");
            assert!(e.to_string().contains("larger than"), "{e}");
        }
        other => panic!("SigningConfig::from_file: {other:?}"),
    }
    // A file at the limit is read (and then judged on its content).
    let at_limit = dir.path().join("at-limit.json");
    std::fs::File::create(&at_limit)
        .unwrap()
        .set_len(MAX_TRUST_FILE_BYTES)
        .unwrap();
    assert_eq!(
        read_limited(&at_limit, MAX_TRUST_FILE_BYTES).unwrap().len() as u64,
        MAX_TRUST_FILE_BYTES
    );
}

fn valid_bundle_args() -> Vec<String> {
    let s = common::root().join("testdata/scenarios");
    vec![
        s.join("valid-bundle-accepted/bundle.sigstore.json")
            .display()
            .to_string(),
        "--key".into(),
        s.join("_keys/scenario.pub").display().to_string(),
    ]
}

/// Through both verifying entry points of the binary: exit 2 (could not decide), naming the
/// file and the limit.
#[test]
fn oversized_trusted_root_is_refused_by_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let p = sparse(dir.path(), "trusted_root.json");
    let p = p.to_str().unwrap();

    let mut args = valid_bundle_args();
    args.extend(["--trusted-root".into(), p.into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = common::run("mcp-verify", &args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(p) && err.contains("larger than"), "{err}");

    let conf = common::root().join("testdata/sigstore-conformance");
    let case = conf.join("bundle-verify/managed-key-happy-path");
    let out = common::run(
        "mcp-verify",
        &[
            "sigstore",
            "verify-bundle",
            "--bundle",
            case.join("bundle.sigstore.json").to_str().unwrap(),
            "--key",
            case.join("key.pub").to_str().unwrap(),
            "--trusted-root",
            p,
            conf.join("a.txt").to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(p) && err.contains("larger than"), "{err}");
}
