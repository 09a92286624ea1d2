//! Hostile-input robustness: thousands of single-byte corruptions of real bundles. Parsing and
//! verification must never panic, and a corruption of any signed or logged material must be
//! rejected. (RFC 3161 tokens are only checked for "no panic": their embedded certificates are
//! unsigned and deliberately ignored, so some flips there are harmless.)

mod common;

use std::path::Path;

use common::sigstore_case::{BEACON, GITHUB};
use mcpsig::sigstore::error::BundleProblem;
use mcpsig::sigstore::policy::IdentityPolicy;
use mcpsig::sigstore::trust::TrustedRoot;
use mcpsig::sigstore::{
    ArtifactRef, Bundle, SignerPolicy, SigstoreError, VerifyOptions, verify_bundle,
};
use serde_json::Value;

/// xorshift64: deterministic, so a failure is reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn read(rel: &str) -> Result<Vec<u8>, SigstoreError> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read(&p).map_err(|source| SigstoreError::Io { path: p, source })
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Paths (as JSON pointers) of base64 fields whose corruption must be rejected.
const SIGNED_FIELDS: &[&str] = &[
    "/verificationMaterial/certificate/rawBytes",
    "/verificationMaterial/tlogEntries/0/canonicalizedBody",
    "/verificationMaterial/tlogEntries/0/logId/keyId",
    "/verificationMaterial/tlogEntries/0/inclusionProof/rootHash",
    "/verificationMaterial/tlogEntries/0/inclusionProof/hashes/0",
    "/verificationMaterial/tlogEntries/0/inclusionPromise/signedEntryTimestamp",
    "/messageSignature/signature",
    "/messageSignature/messageDigest/digest",
    "/dsseEnvelope/payload",
    "/dsseEnvelope/signatures/0/sig",
];

fn check_case(
    case: &str,
    root: &TrustedRoot,
    artifact: &[u8],
    seed: u64,
) -> Result<(), SigstoreError> {
    use base64::Engine as _;
    let json = read(&format!(
        "testdata/sigstore-conformance/bundle-verify/{case}/bundle.sigstore.json"
    ))?;
    let opts = VerifyOptions {
        trusted_root: Some(root),
        signer: SignerPolicy::Identity(IdentityPolicy::exact(BEACON, GITHUB)),
        require_transparency: true,
    };
    let verify = |bytes: &[u8]| -> Result<(), SigstoreError> {
        let b = Bundle::from_json(bytes)?;
        verify_bundle(&b, Some(ArtifactRef::Bytes(artifact)), &opts).map(|_| ())
    };
    verify(&json)?;
    let original: Value =
        serde_json::from_slice(&json).map_err(|error| SigstoreError::MalformedBundle {
            problem: BundleProblem::Shape { error },
        })?;
    let mut rng = Rng(seed);

    // Raw text corruption: no panic, whatever the outcome.
    for _ in 0..120 {
        let mut m = json.clone();
        let i = rng.below(m.len());
        m[i] = (rng.next() & 0xff) as u8;
        let _ = verify(&m);
    }

    // Decoded-field corruption: must reject.
    for field in SIGNED_FIELDS.iter().chain(
        ["/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0/signedTimestamp"]
            .iter(),
    ) {
        let Some(Value::String(s)) = original.pointer(field) else {
            continue;
        };
        let Ok(raw) = b64().decode(s) else { continue };
        for _ in 0..24 {
            let mut bytes = raw.clone();
            let i = rng.below(bytes.len());
            bytes[i] ^= 1 << rng.below(8);
            let mut v = original.clone();
            if let Some(slot) = v.pointer_mut(field) {
                *slot = Value::String(b64().encode(&bytes));
            }
            let text = serde_json::to_vec(&v).map_err(|error| SigstoreError::MalformedBundle {
                problem: BundleProblem::Shape { error },
            })?;
            let outcome = verify(&text);
            if SIGNED_FIELDS.contains(field) {
                assert!(
                    outcome.is_err(),
                    "{case}: flipping byte {i} of {field} was accepted"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn corrupted_bundles_never_panic_and_signed_corruption_is_rejected() -> Result<(), SigstoreError> {
    let artifact = read("testdata/sigstore-conformance/a.txt")?;
    let prod = TrustedRoot::production()?;
    check_case(
        "happy-path-v0.3-new-mediaType",
        &prod,
        &artifact,
        0x9e3779b97f4a7c15,
    )?;
    check_case(
        "happy-path-intoto-in-dsse-v3",
        &prod,
        &artifact,
        0x1234_5678_9abc_def1,
    )?;
    let r2 = TrustedRoot::from_json(&read(
        "testdata/sigstore-conformance/bundle-verify/rekor2-happy-path/trusted_root.json",
    )?)?;
    check_case("rekor2-happy-path", &r2, &artifact, 0x0fed_cba9_8765_4321)?;
    Ok(())
}
