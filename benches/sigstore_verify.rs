//! Verification throughput: one happy-path bundle of each kind (parse + full verification) in
//! process, the trusted root parsed once. bench/speed.sh times the same loop (plus reading the
//! bundle file) with examples/verify_loop.rs, side by side with the `sigstore-verify` crate.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use mcpsig::sigstore::policy::IdentityPolicy;
use mcpsig::sigstore::trust::TrustedRoot;
use mcpsig::sigstore::{ArtifactRef, Bundle, SignerPolicy, VerifyOptions, verify_bundle};

const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GITHUB: &str = "https://token.actions.githubusercontent.com";

fn read(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("benchmark input {}: {e}", p.display()))
}

fn bench(c: &mut Criterion) {
    let artifact = read("testdata/sigstore-conformance/a.txt");
    let policy = SignerPolicy::Identity(IdentityPolicy::exact(BEACON, GITHUB));
    let cases = [
        ("rekor1-hashedrekord", "happy-path-v0.3-new-mediaType", None),
        ("rekor1-dsse", "happy-path-intoto-in-dsse-v3", None),
        (
            "rekor2-dsse",
            "rekor2-dsse-happy-path",
            Some("rekor2-dsse-happy-path"),
        ),
        (
            "rekor2-hashedrekord-tsa",
            "rekor2-happy-path",
            Some("rekor2-happy-path"),
        ),
    ];
    for (name, case, root_case) in cases {
        let bundle_json = read(&format!(
            "testdata/sigstore-conformance/bundle-verify/{case}/bundle.sigstore.json"
        ));
        let root = match root_case {
            Some(r) => TrustedRoot::from_json(&read(&format!(
                "testdata/sigstore-conformance/bundle-verify/{r}/trusted_root.json"
            ))),
            None => TrustedRoot::production(),
        }
        .unwrap_or_else(|e| panic!("trusted root: {e}"));
        let opts = VerifyOptions {
            trusted_root: Some(&root),
            signer: policy.clone(),
            require_transparency: true,
        };
        c.bench_function(&format!("verify_bundle/{name}"), |b| {
            b.iter(|| {
                let bundle =
                    Bundle::from_json(black_box(&bundle_json)).unwrap_or_else(|e| panic!("{e}"));
                verify_bundle(&bundle, Some(ArtifactRef::Bytes(&artifact)), &opts)
                    .unwrap_or_else(|e| panic!("{e}"))
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
