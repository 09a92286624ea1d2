//! Keyless sign -> bundle -> offline verify with our own verifier, against the loopback Sigstore
//! instance, and the rejections that must follow each mutation. Each case's expected outcome is
//! read from testdata/scenarios/keyless-<property>/expected; the bundles are regenerated here since
//! they depend on the instance's fresh keys.

mod keyless_common;

use std::time::Duration;

use keyless_common::{Instance, TestResult, expected, outcome, token};
use mcpsig::sign::keyless::{KeylessError, KeylessSigner};
use mcpsig::sign::oidc::IdentityToken;
use mcpsig::sigstore::bundle::{Bundle, Content, SignerMaterial, TransparencyLogEntry};
use mcpsig::sigstore::policy::IdentityPolicy;
use mcpsig::sigstore::rekor_client::RekorV2Client;
use mcpsig::sigstore::signing_config::SigningConfig;
use mcpsig::sigstore::trust::TrustedRoot;
use mcpsig::sigstore::{ArtifactRef, SignerPolicy, VerifyOptions, verify_bundle};
use sha2::{Digest as _, Sha256};

const ISSUER: &str = "https://issuer.example";
const SUBJECT: &str = "https://example.com/publisher";
const ARTIFACT: &[u8] = b"the server's code";

fn statement() -> Vec<u8> {
    serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "server.tgz", "digest": {"sha256": hex::encode(Sha256::digest(ARTIFACT))}}],
        "predicateType": "https://mcpsig.dev/manifest/v1",
        "predicate": {"server": "example"},
    })
    .to_string()
    .into_bytes()
}

fn sign(instance: &Instance) -> Result<Bundle, Box<dyn std::error::Error>> {
    let token = IdentityToken::parse(&token(ISSUER, SUBJECT, &[]), "test")?;
    let config = SigningConfig::from_file(&instance.signing_config())?;
    let signer = KeylessSigner::new(token, &config, Duration::from_secs(30))?;
    let (bundle, _) = signer.sign_dsse_bundle("application/vnd.in-toto+json", &statement())?;
    // What we wrote must read back identically (zero values included).
    let reparsed = Bundle::from_json(&bundle.to_json_pretty())?;
    assert_eq!(reparsed, bundle);
    Ok(bundle)
}

fn verify(
    bundle: &Bundle,
    root: &TrustedRoot,
    identity: &str,
    issuer: &str,
) -> Result<mcpsig::sigstore::VerifiedBundle, mcpsig::sigstore::SigstoreError> {
    let opts = VerifyOptions {
        trusted_root: Some(root),
        signer: SignerPolicy::Identity(IdentityPolicy::exact(identity, issuer)),
        require_transparency: true,
    };
    verify_bundle(bundle, Some(ArtifactRef::Bytes(ARTIFACT)), &opts)
}

fn check(scenario: &str, got: String) -> TestResult {
    assert_eq!(got, expected(scenario)?, "scenario {scenario}");
    Ok(())
}

#[test]
fn keyless_round_trip_and_rejections() -> TestResult {
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let root = TrustedRoot::from_file(&instance.trusted_root())?;
    let bundle = sign(&instance)?;

    let json: serde_json::Value = serde_json::from_slice(&bundle.to_json_pretty())?;
    let vm = &json["verificationMaterial"];
    assert_eq!(
        json["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert!(
        vm["certificate"]["rawBytes"].is_string(),
        "v0.3 uses `certificate`"
    );
    assert!(vm.get("x509CertificateChain").is_none());
    let entry = &vm["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "dsse");
    assert!(entry["inclusionPromise"]["signedEntryTimestamp"].is_string());
    assert!(
        entry["inclusionProof"]["hashes"].is_array(),
        "zero values are written"
    );
    assert!(entry["inclusionProof"]["logIndex"].is_string());
    assert!(entry["canonicalizedBody"].is_string());

    let ok = verify(&bundle, &root, SUBJECT, ISSUER);
    check("keyless-roundtrip", outcome(&ok))?;
    if let Ok(v) = ok {
        assert_eq!(v.payload.as_deref(), Some(statement().as_slice()));
    }

    check(
        "keyless-wrong-identity",
        outcome(&verify(
            &bundle,
            &root,
            "https://example.com/someone-else",
            ISSUER,
        )),
    )?;
    check(
        "keyless-wrong-issuer",
        outcome(&verify(&bundle, &root, SUBJECT, "https://accounts.example")),
    )?;

    let mut tampered = bundle.clone();
    if let Content::DsseEnvelope(env) = &mut tampered.content {
        let last = env.payload.len() - 2;
        env.payload[last] ^= 0x01;
    }
    check(
        "keyless-tampered-payload",
        outcome(&verify(&tampered, &root, SUBJECT, ISSUER)),
    )?;

    let production = TrustedRoot::production()?;
    check(
        "keyless-foreign-trusted-root",
        outcome(&verify(&bundle, &production, SUBJECT, ISSUER)),
    )?;
    Ok(())
}

#[test]
fn certificate_expired_at_log_time_is_rejected() -> TestResult {
    let Some(instance) = Instance::start(&["--rekor-time-offset", "3600"])? else {
        return Ok(());
    };
    let root = TrustedRoot::from_file(&instance.trusted_root())?;
    let bundle = sign(&instance)?;
    check(
        "keyless-cert-expired-at-log-time",
        outcome(&verify(&bundle, &root, SUBJECT, ISSUER)),
    )?;
    // With the trusted root at hand, the signer itself refuses to hand out such a bundle.
    let got = signer(&instance)?
        .with_trusted_root(root)
        .sign_dsse_bundle("application/vnd.in-toto+json", &statement());
    check("keyless-cert-expired-at-log-time", self_check_outcome(got))
}

fn signer(instance: &Instance) -> Result<KeylessSigner, Box<dyn std::error::Error>> {
    let token = IdentityToken::parse(&token(ISSUER, SUBJECT, &[]), "test")?;
    let config = SigningConfig::from_file(&instance.signing_config())?;
    Ok(KeylessSigner::new(token, &config, Duration::from_secs(30))?)
}

/// A signing result in the scenarios' vocabulary: the self-check's verifier reason code.
fn self_check_outcome<T>(r: Result<T, KeylessError>) -> String {
    match r {
        Ok(_) => "accept".to_owned(),
        Err(KeylessError::SelfCheck(e)) => format!("reject {}", e.reason_code()),
        Err(e) => format!("error {e}"),
    }
}

#[test]
fn signer_refuses_bundles_its_trusted_root_does_not_vouch_for() -> TestResult {
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let ok = signer(&instance)?
        .with_trusted_root(TrustedRoot::from_file(&instance.trusted_root())?)
        .sign_dsse_bundle("application/vnd.in-toto+json", &statement());
    check("keyless-roundtrip", self_check_outcome(ok))?;
    let foreign = signer(&instance)?
        .with_trusted_root(TrustedRoot::production()?)
        .sign_dsse_bundle("application/vnd.in-toto+json", &statement());
    check("keyless-foreign-trusted-root", self_check_outcome(foreign))
}

#[test]
fn keyless_signer_through_the_signer_trait() -> TestResult {
    use mcpsig::sign::Signer as _;
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let root = TrustedRoot::from_file(&instance.trusted_root())?;
    let token = IdentityToken::parse(&token(ISSUER, SUBJECT, &[]), "test")?;
    let config = SigningConfig::from_file(&instance.signing_config())?;
    let signer = KeylessSigner::new(token, &config, Duration::from_secs(30))?;
    let bundle = signer.sign_dsse("application/vnd.in-toto+json", &statement())?;
    assert!(verify(&bundle, &root, SUBJECT, ISSUER).is_ok());
    Ok(())
}

#[test]
fn unreachable_instance_error_names_the_url() -> TestResult {
    // A config whose services listen nowhere: the error must name Fulcio's URL.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    let cfg = format!(
        r#"{{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls":[{{"url":"http://127.0.0.1:{port}","majorApiVersion":1,"validFor":{{"start":"2020-01-01T00:00:00Z"}}}}],
        "rekorTlogUrls":[{{"url":"http://127.0.0.1:{port}","majorApiVersion":1,"validFor":{{"start":"2020-01-01T00:00:00Z"}}}}]}}"#
    );
    let config = SigningConfig::from_json(cfg.as_bytes(), "test")?;
    let token = IdentityToken::parse(&token(ISSUER, SUBJECT, &[]), "test")?;
    let signer = KeylessSigner::new(token, &config, Duration::from_secs(5))?;
    let err = signer
        .sign_dsse_bundle("application/vnd.in-toto+json", &statement())
        .err()
        .ok_or("signing against nothing succeeded")?;
    let chain = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(
        chain.contains(&format!("http://127.0.0.1:{port}/api/v2/signingCert")),
        "{chain}"
    );
    Ok(())
}

/// Measurement, not a test: `cargo test --release --test keyless_roundtrip -- --ignored
/// --nocapture measure` prints how long one keyless signature takes against the loopback
/// instance (with its TSA), part by part (median of 20).
#[test]
#[ignore = "measurement; run explicitly"]
fn measure_keyless_sign() -> TestResult {
    let Some(instance) = Instance::start(&["--tsa"])? else {
        return Ok(());
    };
    let root = TrustedRoot::from_file(&instance.trusted_root())?;
    let signer = signer(&instance)?.with_trusted_root(root);
    let mut runs = Vec::new();
    for _ in 0..20 {
        let (_, t) = signer.sign_dsse_bundle("application/vnd.in-toto+json", &statement())?;
        runs.push(t);
    }
    let median = |f: &dyn Fn(&mcpsig::sign::keyless::SignTimings) -> Duration| {
        let mut v: Vec<Duration> = runs.iter().map(f).collect();
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "keyless sign with TSA (median of {}): total {:?} = keygen {:?} + fulcio {:?} + sign {:?} + tsa {:?} + rekor {:?} + self-check {:?}",
        runs.len(),
        median(&|t| t.total),
        median(&|t| t.keygen),
        median(&|t| t.fulcio),
        median(&|t| t.sign),
        median(&|t| t.tsa),
        median(&|t| t.rekor),
        median(&|t| t.self_check),
    );
    Ok(())
}

#[test]
fn timestamp_authority_in_the_signing_config_adds_a_verified_timestamp() -> TestResult {
    use mcpsig::sigstore::verify::TimeSource;
    let Some(instance) = Instance::start(&["--tsa"])? else {
        return Ok(());
    };
    let root = TrustedRoot::from_file(&instance.trusted_root())?;
    let (bundle, t) = signer(&instance)?
        .with_trusted_root(root.clone())
        .sign_dsse_bundle("application/vnd.in-toto+json", &statement())?;
    let tvd = bundle
        .verification_material
        .timestamp_verification_data
        .as_ref()
        .ok_or("no timestampVerificationData")?;
    assert_eq!(tvd.rfc3161_timestamps.len(), 1);
    assert!(t.tsa > Duration::ZERO);
    let v = verify(&bundle, &root, SUBJECT, ISSUER)?;
    assert!(
        v.times
            .iter()
            .any(|t| matches!(t.source, TimeSource::Timestamp { .. })),
        "{:?}",
        v.times
    );
    Ok(())
}

#[test]
fn every_log_the_selector_asks_for_gets_an_entry() -> TestResult {
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let root = TrustedRoot::from_file(&instance.trusted_root())?;
    // Two log services (the same loopback log under two names) and selector ALL.
    let url = &instance.url;
    let cfg = format!(
        r#"{{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls":[{{"url":"{url}","majorApiVersion":1,"validFor":{{"start":"2020-01-01T00:00:00Z"}}}}],
        "rekorTlogUrls":[{{"url":"{url}","majorApiVersion":1,"validFor":{{"start":"2020-01-01T00:00:00Z"}}}},
                         {{"url":"{url}/","majorApiVersion":1,"validFor":{{"start":"2020-01-01T00:00:00Z"}}}}],
        "rekorTlogConfig":{{"selector":"ALL"}}}}"#
    );
    let config = SigningConfig::from_json(cfg.as_bytes(), "test")?;
    let token = IdentityToken::parse(&token(ISSUER, SUBJECT, &[]), "test")?;
    let (bundle, _) = KeylessSigner::new(token, &config, Duration::from_secs(30))?
        .with_trusted_root(root.clone())
        .sign_dsse_bundle("application/vnd.in-toto+json", &statement())?;
    assert_eq!(bundle.verification_material.tlog_entries.len(), 2);
    let v = verify(&bundle, &root, SUBJECT, ISSUER)?;
    assert_eq!(v.tlog_entries.len(), 2);
    Ok(())
}

#[test]
fn rekor_v2_with_a_timestamp_authority_round_trip() -> TestResult {
    use mcpsig::sigstore::verify::TimeSource;
    let Some(instance) = Instance::start(&["--rekor-v2"])? else {
        return Ok(());
    };
    let root = TrustedRoot::from_file(&instance.trusted_root())?;
    let signer = signer(&instance)?.with_trusted_root(root.clone());
    let (bundle, _) = signer.sign_dsse_bundle("application/vnd.in-toto+json", &statement())?;
    let entry = bundle
        .verification_material
        .tlog_entries
        .first()
        .ok_or("no tlog entry")?;
    // A DSSE envelope goes into Rekor v2 as a hashedrekord over its PAE, as other clients log it.
    assert_eq!(
        (
            entry.kind_version.kind.as_str(),
            entry.kind_version.version.as_str()
        ),
        ("hashedrekord", "0.0.2")
    );
    let body: serde_json::Value = serde_json::from_slice(&entry.canonicalized_body)?;
    let Content::DsseEnvelope(env) = &bundle.content else {
        return Err("not a dsse bundle".into());
    };
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        body["spec"]["hashedRekordV002"]["data"]["digest"],
        b64.encode(Sha256::digest(env.pae()))
    );
    assert_eq!(
        body["spec"]["hashedRekordV002"]["signature"]["content"],
        b64.encode(&env.signatures[0].sig)
    );
    assert!(entry.inclusion_promise.is_none(), "v2 entries have no SET");
    let v = verify(&bundle, &root, SUBJECT, ISSUER);
    check("keyless-rekor2-roundtrip", outcome(&v))?;
    let v = v?;
    assert!(v.tlog_entries.iter().all(|e| e.v2));
    assert!(
        v.times
            .iter()
            .all(|t| matches!(t.source, TimeSource::Timestamp { .. }))
    );
    check(
        "keyless-wrong-identity",
        outcome(&verify(
            &bundle,
            &root,
            "https://example.com/someone-else",
            ISSUER,
        )),
    )?;
    // Message signatures go through v2 too.
    let (bundle, _) = signer.sign_artifact_bundle(ARTIFACT)?;
    assert_eq!(
        bundle.verification_material.tlog_entries[0]
            .kind_version
            .kind,
        "hashedrekord"
    );
    let opts = VerifyOptions {
        trusted_root: Some(&root),
        signer: SignerPolicy::Identity(IdentityPolicy::exact(SUBJECT, ISSUER)),
        require_transparency: true,
    };
    verify_bundle(&bundle, Some(ArtifactRef::Bytes(ARTIFACT)), &opts)?;
    Ok(())
}

/// A DSSE bundle signed through Rekor v2 with its log entry replaced by `entry`.
fn with_entry(bundle: &Bundle, entry: TransparencyLogEntry) -> Bundle {
    let mut b = bundle.clone();
    b.verification_material.tlog_entries = vec![entry];
    b
}

fn first_entry(bundle: &Bundle) -> Result<TransparencyLogEntry, Box<dyn std::error::Error>> {
    Ok(bundle
        .verification_material
        .tlog_entries
        .first()
        .ok_or("no tlog entry")?
        .clone())
}

#[test]
fn rekor_v2_entries_must_describe_the_envelope() -> TestResult {
    let Some(instance) = Instance::start(&["--rekor-v2"])? else {
        return Ok(());
    };
    let root = TrustedRoot::from_file(&instance.trusted_root())?;
    let ours = sign(&instance)?;
    check(
        "keyless-rekor2-roundtrip",
        outcome(&verify(&ours, &root, SUBJECT, ISSUER)),
    )?;

    // A genuine hashedrekord 0.0.2 entry of the same log, over another envelope's PAE.
    let (other, _) = signer(&instance)?.sign_dsse_bundle(
        "application/vnd.in-toto+json",
        b"{\"another\":\"envelope\"}",
    )?;
    let swapped = with_entry(&ours, first_entry(&other)?);
    check(
        "keyless-rekor2-hashedrekord-other-envelope",
        outcome(&verify(&swapped, &root, SUBJECT, ISSUER)),
    )?;

    // Over the very same PAE, but another signing of it (another key, another signature).
    let again = sign(&instance)?;
    let swapped = with_entry(&ours, first_entry(&again)?);
    check(
        "keyless-rekor2-hashedrekord-other-signature",
        outcome(&verify(&swapped, &root, SUBJECT, ISSUER)),
    )?;

    // A `dsse` 0.0.2 entry (what earlier clients logged) of the same envelope is still accepted.
    let SignerMaterial::Certificate(cert) = &ours.verification_material.signer else {
        return Err("expected a certificate".into());
    };
    let Content::DsseEnvelope(env) = &ours.content else {
        return Err("not a dsse bundle".into());
    };
    let log = RekorV2Client::new(&instance.url, Duration::from_secs(30));
    let dsse_entry = log.log_dsse(env, cert)?;
    assert_eq!(dsse_entry.kind_version.kind, "dsse");

    // The instance's v2 log, like Rekor v2, checks a hashedrekord's signature against its digest:
    // the envelope's signature over sha256 of the bare payload (not the PAE) is not logged.
    let wrong = log.log_hashedrekord(&Sha256::digest(&env.payload), &env.signatures[0].sig, cert);
    assert!(
        matches!(
            wrong,
            Err(mcpsig::sigstore::rekor_client::RekorError::Status { status: 400, .. })
        ),
        "{wrong:?}"
    );
    check(
        "keyless-rekor2-dsse-entry-accepted",
        outcome(&verify(
            &with_entry(&ours, dsse_entry),
            &root,
            SUBJECT,
            ISSUER,
        )),
    )?;
    Ok(())
}
