//! The API paths the rest of mcpsig builds on: local-key DSSE bundles without a log entry,
//! verification without an artifact (payload returned), and the identity facts reported.

use std::path::Path;

use ed25519_dalek::Signer as _;
use mcpsig::sigstore::bundle::{
    Content, MEDIA_TYPE_V0_3_NEW, SignerMaterial, VerificationMaterial,
};
use mcpsig::sigstore::dsse::{Envelope, Signature, pae};
use mcpsig::sigstore::keys::PublicKey;
use mcpsig::sigstore::policy::IdentityPolicy;
use mcpsig::sigstore::trust::TrustedRoot;
use mcpsig::sigstore::{
    ArtifactRef, Bundle, SignerInfo, SignerPolicy, SigstoreError, VerifyOptions, verify_bundle,
};
use sha2::{Digest as _, Sha256};

const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GITHUB: &str = "https://token.actions.githubusercontent.com";

fn local_key_bundle(sk: &ed25519_dalek::SigningKey, artifact_digest: [u8; 32]) -> Bundle {
    let statement = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"a","digest":{{"sha256":"{}"}}}}],"predicateType":"https://example.com/p","predicate":{{}}}}"#,
        hex::encode(artifact_digest)
    );
    let payload_type = "application/vnd.in-toto+json";
    let sig = sk.sign(&pae(payload_type, statement.as_bytes()));
    Bundle {
        media_type: MEDIA_TYPE_V0_3_NEW.to_owned(),
        verification_material: VerificationMaterial {
            signer: SignerMaterial::PublicKey {
                hint: "local".into(),
            },
            tlog_entries: vec![],
            timestamp_verification_data: None,
        },
        content: Content::DsseEnvelope(Envelope {
            payload: statement.into_bytes(),
            payload_type: payload_type.into(),
            signatures: vec![Signature {
                sig: sig.to_bytes().to_vec(),
                keyid: String::new(),
            }],
        }),
    }
}

#[test]
fn local_key_bundle_round_trips_and_verifies_without_log() -> Result<(), SigstoreError> {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[11u8; 32]);
    let key = PublicKey::from(sk.verifying_key());
    let digest: [u8; 32] = Sha256::digest(b"artifact").into();
    let bundle = Bundle::from_json(&local_key_bundle(&sk, digest).to_json_pretty())?;
    let opts = VerifyOptions {
        trusted_root: None,
        signer: SignerPolicy::Key(key.clone()),
        require_transparency: false,
    };
    let v = verify_bundle(&bundle, None, &opts)?;
    assert_eq!(
        v.payload_type.as_deref(),
        Some("application/vnd.in-toto+json")
    );
    assert!(v.payload.is_some_and(|p| !p.is_empty()));
    assert_eq!(
        v.signer,
        SignerInfo::Key {
            key_id: key.key_id()
        }
    );
    verify_bundle(&bundle, Some(ArtifactRef::Bytes(b"artifact")), &opts)?;
    verify_bundle(&bundle, Some(ArtifactRef::Sha256(digest)), &opts)?;

    let err = verify_bundle(&bundle, Some(ArtifactRef::Bytes(b"other")), &opts).err();
    assert_eq!(
        err.map(|e| e.reason_code().as_str()),
        Some("artifact-mismatch")
    );

    let strict = VerifyOptions {
        require_transparency: true,
        ..opts.clone()
    };
    let err = verify_bundle(&bundle, None, &strict).err();
    assert_eq!(
        err.map(|e| e.reason_code().as_str()),
        Some("missing-transparency")
    );

    let other = PublicKey::from(ed25519_dalek::SigningKey::from_bytes(&[12u8; 32]).verifying_key());
    let wrong = VerifyOptions {
        signer: SignerPolicy::Key(other),
        ..opts
    };
    let err = verify_bundle(&bundle, None, &wrong).err();
    assert_eq!(err.map(|e| e.reason_code().as_str()), Some("bad-signature"));
    Ok(())
}

#[test]
fn keyless_dsse_without_artifact_returns_payload_and_identity() -> Result<(), SigstoreError> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/sigstore-conformance/bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json");
    let bundle = Bundle::from_json(&std::fs::read(&p).map_err(|source| SigstoreError::Io {
        path: p.clone(),
        source,
    })?)?;
    let root = TrustedRoot::production()?;
    let opts = VerifyOptions {
        trusted_root: Some(&root),
        signer: SignerPolicy::Identity(IdentityPolicy::exact(BEACON, GITHUB)),
        require_transparency: true,
    };
    let v = verify_bundle(&bundle, None, &opts)?;
    assert!(v.payload.is_some());
    assert_eq!(v.times.len(), 1);
    match v.signer {
        SignerInfo::Certificate {
            san,
            issuer,
            extensions,
            ..
        } => {
            assert_eq!(san, BEACON);
            assert_eq!(issuer.as_deref(), Some(GITHUB));
            assert_eq!(
                extensions.get(&14).map(String::as_str),
                Some("refs/heads/main")
            );
        }
        other => panic!("expected a certificate signer, got {other:?}"),
    }
    Ok(())
}

/// A trusted root whose authority chain is not internally linked (its intermediate paired with
/// another authority's root) is refused, even though the leaf verifies against the intermediate:
/// the links are checked lazily, for the issuing authority only, but they are checked.
#[test]
fn authority_chain_with_a_foreign_root_is_refused() -> Result<(), SigstoreError> {
    use mcpsig::sigstore::cert::{ParsedCert, verify_chain};
    use mcpsig::sigstore::trust::CertificateAuthority;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let json = std::fs::read(dir.join(
        "testdata/sigstore-conformance/bundle-verify/happy-path-v0.3-new-mediaType/bundle.sigstore.json",
    ))
    .map_err(|e| panic!("{e}"))?;
    let bundle = Bundle::from_json(&json)?;
    let leaf = ParsedCert::from_der(
        bundle
            .verification_material
            .signer
            .leaf_certificate()
            .unwrap_or_else(|| panic!("no leaf")),
    )?;
    let root = TrustedRoot::production()?;
    let issuing = verify_chain(&leaf, &root.certificate_authorities)?.authority;
    assert!(
        issuing.cert_chain.len() >= 2,
        "the issuing authority has an intermediate"
    );
    let foreign_root = root
        .certificate_authorities
        .iter()
        .filter_map(|ca| ca.cert_chain.last())
        .find(|r| Some(*r) != issuing.cert_chain.last())
        .unwrap_or_else(|| panic!("the production root lists one authority root only"))
        .clone();
    let mut chain = issuing.cert_chain.clone();
    let last = chain.len() - 1;
    chain[last] = foreign_root;
    let broken = CertificateAuthority::new(issuing.uri.clone(), chain, issuing.valid_for);
    let err = verify_chain(&leaf, std::slice::from_ref(&broken))
        .err()
        .unwrap_or_else(|| panic!("a chain with a foreign root was accepted"));
    let text = err.to_string();
    assert!(
        text.contains("chain of authority") && text.contains("CN=sigstore-intermediate"),
        "{text}"
    );
    Ok(())
}
