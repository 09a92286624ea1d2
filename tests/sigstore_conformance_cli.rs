//! The Sigstore conformance cases through the real binary, as the suite drives a client:
//! `mcp-verify sigstore verify-bundle ...`, once with the artifact's path and once with its
//! `sha256:<hex>` digest. A case named `*_fail` must exit non-zero, every other case 0.
//! Everything runs once per crypto provider of the build (`MCPSIG_CRYPTO_PROVIDER`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::sigstore_case::{BEACON, GITHUB as ISSUER};
use common::{bin, root};
use sha2::Digest as _;
use std::process::Command;

#[test]
fn every_conformance_case_through_the_binary() {
    for provider in mcpsig::crypto::names() {
        every_case_with(provider);
    }
}

#[test]
fn an_unknown_crypto_provider_is_a_usage_error() {
    let out = Command::new(bin("mcp-verify"))
        .args([
            "sigstore",
            "verify-bundle",
            "--bundle",
            "b.json",
            "--key",
            "k.pub",
            "a.txt",
        ])
        .env("MCPSIG_CRYPTO_PROVIDER", "openssl")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MCPSIG_CRYPTO_PROVIDER=openssl"), "{err}");
}

fn every_case_with(provider: &str) {
    let base = root().join("testdata/sigstore-conformance");
    let prod = root().join("testdata/sigstore-trust/production.trusted_root.json");
    let mut wrong = Vec::new();
    let mut runs = 0;
    let mut cases: Vec<_> = std::fs::read_dir(base.join("bundle-verify"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let artifact = if case.join("artifact").exists() {
            case.join("artifact")
        } else {
            base.join("a.txt")
        };
        let read = |f: &str, default: &str| {
            std::fs::read_to_string(case.join(f))
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| default.to_owned())
        };
        let root_file = if case.join("trusted_root.json").exists() {
            case.join("trusted_root.json")
        } else {
            prod.clone()
        };
        let digest = format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(std::fs::read(&artifact).unwrap()))
        );
        for input in [artifact.display().to_string(), digest] {
            let mut cmd = Command::new(bin("mcp-verify"));
            cmd.env("MCPSIG_CRYPTO_PROVIDER", provider);
            cmd.args(["sigstore", "verify-bundle", "--bundle"])
                .arg(case.join("bundle.sigstore.json"));
            if case.join("key.pub").exists() {
                cmd.arg("--key").arg(case.join("key.pub"));
            } else {
                cmd.args([
                    "--certificate-identity",
                    &read("identity", BEACON),
                    "--certificate-oidc-issuer",
                    &read("issuer", ISSUER),
                ]);
            }
            cmd.arg("--trusted-root").arg(&root_file).arg(&input);
            let out = cmd.output().unwrap();
            runs += 1;
            let want_ok = !name.ends_with("_fail");
            if out.status.success() != want_ok {
                wrong.push(format!(
                    "{provider}: {name} [{input}]: exit {:?}: {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            // Rejections are exit 1 (not a crash or usage error).
            if !want_ok && out.status.code() != Some(1) {
                wrong.push(format!(
                    "{provider}: {name} [{input}]: rejected with exit {:?}, want 1",
                    out.status.code()
                ));
            }
        }
    }
    assert_eq!(runs, 94, "expected 47 cases x 2");
    assert!(
        wrong.is_empty(),
        "{} of {runs} runs wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
