//! Certificate checks on small fixtures made by
//! testdata/scenarios/sigstore-scenarios-gen/gen-certs.sh: chain to a trusted authority,
//! authority validity, leaf usage (EKU, key usage, not a CA), missing SCT, SAN extraction.

use std::path::Path;

use mcpsig::sigstore::SigstoreError;
use mcpsig::sigstore::cert::{ParsedCert, check_leaf_usage, verify_chain, verify_embedded_scts};
use mcpsig::sigstore::trust::{CertificateAuthority, TimeRange, TrustedRoot};

fn cert(name: &str) -> Result<ParsedCert, SigstoreError> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/scenarios/sigstore-scenarios-gen/certs")
        .join(name);
    let der = std::fs::read(&p).map_err(|source| SigstoreError::Io {
        path: p.clone(),
        source,
    })?;
    ParsedCert::from_der(&der)
}

fn authority(root: &str, start: i64) -> Result<CertificateAuthority, SigstoreError> {
    Ok(CertificateAuthority::new(
        "https://ca.test".into(),
        vec![cert(root)?.der],
        TimeRange { start, end: None },
    ))
}

fn code(r: Result<impl Sized, SigstoreError>) -> &'static str {
    r.err().map_or("accept", |e| e.reason_code().as_str())
}

#[test]
fn good_leaf_chains_and_passes_usage_checks() -> Result<(), SigstoreError> {
    let leaf = cert("leaf-ok.der")?;
    let cas = [authority("root.der", 0)?];
    let chain = verify_chain(&leaf, &cas)?;
    check_leaf_usage(&leaf)?;
    assert_eq!(
        leaf.subject_alt_names()?,
        vec!["https://example.com/signer".to_owned()]
    );
    assert!(cert("root.der")?.is_self_signed());
    assert!(!leaf.is_self_signed());
    // No SCT embedded: rejected whatever the CT logs.
    let root = TrustedRoot::production()?;
    assert_eq!(
        code(verify_embedded_scts(&leaf, &chain.issuer, &root)),
        "bad-sct"
    );
    Ok(())
}

#[test]
fn chain_rejections() -> Result<(), SigstoreError> {
    let leaf = cert("leaf-ok.der")?;
    // Same subject name, different key: the name matches but the signature does not.
    assert_eq!(
        code(verify_chain(
            &leaf,
            &[authority("other-root-same-name.der", 0)?]
        )),
        "bad-certificate-chain"
    );
    // The authority only became trusted after the leaf was issued.
    let late = authority("root.der", leaf.not_before + 1)?;
    assert_eq!(code(verify_chain(&leaf, &[late])), "bad-certificate-chain");
    // No authorities at all.
    assert_eq!(code(verify_chain(&leaf, &[])), "bad-certificate-chain");
    Ok(())
}

#[test]
fn leaf_usage_rejections() -> Result<(), SigstoreError> {
    for name in [
        "leaf-no-eku.der",
        "leaf-wrong-eku.der",
        "leaf-no-digital-signature.der",
        "leaf-is-ca.der",
    ] {
        assert_eq!(
            code(check_leaf_usage(&cert(name)?)),
            "bad-certificate",
            "{name}"
        );
    }
    Ok(())
}
