//! Interop with sigstore-python 4.5.1 against the loopback Sigstore instance: it verifies,
//! offline, the bundles we sign keylessly (DSSE and message signatures, through Rekor v1 and
//! Rekor v2), and refuses them for a wrong identity; we verify what it signs.

mod keyless_common;

use std::process::Command;
use std::time::Duration;

use keyless_common::{Instance, TestResult, expected, outcome, run, sigstore_python, token, write};
use mcpsig::sign::keyless::{KeylessOptions, KeylessSigner, sign_bundle_file};
use mcpsig::sign::oidc::IdentityToken;
use mcpsig::sigstore::bundle::Bundle;
use mcpsig::sigstore::policy::IdentityPolicy;
use mcpsig::sigstore::signing_config::SigningConfig;
use mcpsig::sigstore::trust::TrustedRoot;
use mcpsig::sigstore::{
    ArtifactRef, SignerPolicy, SigstoreError, VerifiedBundle, VerifyOptions, verify_bundle,
};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

const ISSUER: &str = "https://issuer.example";
const SUBJECT: &str = "https://example.com/publisher";

fn statement_for(name: &str, bytes: &[u8]) -> Vec<u8> {
    serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": hex::encode(Sha256::digest(bytes))}}],
        "predicateType": "https://mcpsig.dev/manifest/v1",
        "predicate": {"server": "example"},
    })
    .to_string()
    .into_bytes()
}

fn signer(instance: &Instance) -> Result<KeylessSigner, Box<dyn std::error::Error>> {
    let token = IdentityToken::parse(&token(ISSUER, SUBJECT, &[]), "test")?;
    let config = SigningConfig::from_file(&instance.signing_config())?;
    Ok(KeylessSigner::new(token, &config, Duration::from_secs(30))?)
}

/// sigstore-python, pointed at the instance.
fn python(py: &std::path::Path, instance: &Instance) -> Command {
    let mut cmd = Command::new(py);
    cmd.arg("--trust-config").arg(instance.trust_config());
    cmd
}

fn python_verify(
    py: &std::path::Path,
    instance: &Instance,
    bundle: &std::path::Path,
    identity: &str,
    artifact: &std::path::Path,
) -> Result<(bool, String), String> {
    run(
        python(py, instance)
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(bundle)
            .args(["--cert-identity", identity, "--cert-oidc-issuer", ISSUER])
            .arg(artifact),
        Duration::from_secs(120),
    )
}

/// sigstore-python signs `artifact` into `bundle` against the instance, as SUBJECT.
fn python_sign(
    py: &std::path::Path,
    instance: &Instance,
    bundle: &std::path::Path,
    artifact: &std::path::Path,
) -> Result<(bool, String), String> {
    run(
        python(py, instance)
            .args([
                "sign",
                "--identity-token",
                &token(ISSUER, SUBJECT, &[]),
                "--bundle",
            ])
            .arg(bundle)
            .arg(artifact),
        Duration::from_secs(120),
    )
}

/// Verifies `bundle` as we do, for SUBJECT from ISSUER against the instance's trusted root.
fn verify_as_subject(
    root: &TrustedRoot,
    bundle: &Bundle,
    artifact: &[u8],
) -> Result<VerifiedBundle, SigstoreError> {
    let opts = VerifyOptions {
        trusted_root: Some(root),
        signer: SignerPolicy::Identity(IdentityPolicy::exact(SUBJECT, ISSUER)),
        require_transparency: true,
    };
    verify_bundle(bundle, Some(ArtifactRef::Bytes(artifact)), &opts)
}

/// Rekor v1: our DSSE bundle (a `dsse` 0.0.1 entry). Rekor v2 is in
/// `rekor_v2_bundles_interoperate_both_ways`.
#[test]
fn sigstore_python_verifies_our_dsse_bundle() -> TestResult {
    let Some(py) = sigstore_python()? else {
        return Ok(());
    };
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let work = tempfile::tempdir()?;
    let artifact = work.path().join("server.tgz");
    write(&artifact, b"the server's code")?;
    let (bundle, _t) = signer(&instance)?.sign_dsse_bundle(
        "application/vnd.in-toto+json",
        &statement_for("server.tgz", b"the server's code"),
    )?;
    let bundle_path = work.path().join("server.sigstore.json");
    write(&bundle_path, &bundle.to_json_pretty())?;

    let (ok, out) = python_verify(&py, &instance, &bundle_path, SUBJECT, &artifact)?;
    assert!(ok, "sigstore-python refused our dsse bundle:\n{out}");

    let (ok, out) = python_verify(
        &py,
        &instance,
        &bundle_path,
        "https://example.com/someone-else",
        &artifact,
    )?;
    assert!(!ok, "sigstore-python accepted a wrong identity:\n{out}");
    Ok(())
}

#[test]
fn sigstore_python_verifies_our_bundle_with_an_rfc3161_timestamp() -> TestResult {
    let Some(py) = sigstore_python()? else {
        return Ok(());
    };
    let Some(instance) = Instance::start(&["--tsa"])? else {
        return Ok(());
    };
    let work = tempfile::tempdir()?;
    let artifact = work.path().join("server.tgz");
    write(&artifact, b"the server's code")?;
    let (bundle, _t) = signer(&instance)?.sign_dsse_bundle(
        "application/vnd.in-toto+json",
        &statement_for("server.tgz", b"the server's code"),
    )?;
    let n = bundle
        .verification_material
        .timestamp_verification_data
        .as_ref()
        .map_or(0, |t| t.rfc3161_timestamps.len());
    assert_eq!(n, 1, "the signing config names a TSA");
    let bundle_path = work.path().join("server.sigstore.json");
    write(&bundle_path, &bundle.to_json_pretty())?;
    let (ok, out) = python_verify(&py, &instance, &bundle_path, SUBJECT, &artifact)?;
    assert!(ok, "sigstore-python refused our timestamped bundle:\n{out}");
    Ok(())
}

#[test]
fn sigstore_python_verifies_our_message_signature_bundle() -> TestResult {
    let Some(py) = sigstore_python()? else {
        return Ok(());
    };
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let work = tempfile::tempdir()?;
    let artifact = work.path().join("a.txt");
    write(&artifact, b"hello sigstore\n")?;
    let (bundle, _t) = signer(&instance)?.sign_artifact_bundle(b"hello sigstore\n")?;
    let bundle_path = work.path().join("a.txt.sigstore.json");
    write(&bundle_path, &bundle.to_json_pretty())?;
    let (ok, out) = python_verify(&py, &instance, &bundle_path, SUBJECT, &artifact)?;
    assert!(
        ok,
        "sigstore-python refused our message-signature bundle:\n{out}"
    );
    Ok(())
}

#[test]
fn we_verify_a_bundle_sigstore_python_signed() -> TestResult {
    let Some(py) = sigstore_python()? else {
        return Ok(());
    };
    // With --tsa, sigstore-python also asks the instance's TSA for an RFC 3161 timestamp.
    let Some(instance) = Instance::start(&["--tsa"])? else {
        return Ok(());
    };
    let work = tempfile::tempdir()?;
    let artifact = work.path().join("a.txt");
    write(&artifact, b"signed by sigstore-python\n")?;
    let bundle_path = work.path().join("a.txt.sigstore.json");
    let (ok, out) = python_sign(&py, &instance, &bundle_path, &artifact)?;
    assert!(
        ok,
        "sigstore-python could not sign against the loopback instance:\n{out}"
    );

    let bundle = Bundle::from_json(&std::fs::read(&bundle_path)?)?;
    let root = TrustedRoot::from_file(&instance.trusted_root())?;
    let got = verify_as_subject(&root, &bundle, b"signed by sigstore-python\n");
    assert_eq!(outcome(&got), expected("keyless-python-signed")?);
    let n = bundle
        .verification_material
        .timestamp_verification_data
        .as_ref()
        .map_or(0, |t| t.rfc3161_timestamps.len());
    assert_eq!(
        n, 1,
        "sigstore-python's bundle should carry the TSA's timestamp"
    );
    if let Ok(v) = &got {
        assert!(
            v.times.iter().any(|t| matches!(
                t.source,
                mcpsig::sigstore::verify::TimeSource::Timestamp { .. }
            )),
            "{:?}",
            v.times
        );
    }
    let got = verify_as_subject(&root, &bundle, b"another file\n");
    assert_eq!(
        outcome(&got),
        expected("keyless-python-signed-wrong-artifact")?
    );
    Ok(())
}

#[test]
fn sign_bundle_contract_output_verifies_in_sigstore_python() -> TestResult {
    let Some(py) = sigstore_python()? else {
        return Ok(());
    };
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let work = tempfile::tempdir()?;
    let artifact = work.path().join("server.tgz");
    write(&artifact, b"the server's code")?;
    let statement = work.path().join("statement.json");
    write(
        &statement,
        &statement_for("server.tgz", b"the server's code"),
    )?;
    let opts = KeylessOptions {
        signing_config: Some(instance.trust_config()),
        identity_token: Some(Zeroizing::new(token(ISSUER, SUBJECT, &[]))),
        ..KeylessOptions::default()
    };
    // --in-toto: the statement as a DSSE envelope; the verifier is given the subject artifact.
    let dsse_bundle = work.path().join("statement.sigstore.json");
    sign_bundle_file(&opts, true, &statement, &dsse_bundle, false)?;
    let (ok, out) = python_verify(&py, &instance, &dsse_bundle, SUBJECT, &artifact)?;
    assert!(ok, "sigstore-python refused the --in-toto bundle:\n{out}");
    // Plain: the file itself as a message signature.
    let msg_bundle = work.path().join("server.tgz.sigstore.json");
    sign_bundle_file(&opts, false, &artifact, &msg_bundle, false)?;
    let (ok, out) = python_verify(&py, &instance, &msg_bundle, SUBJECT, &artifact)?;
    assert!(
        ok,
        "sigstore-python refused the message-signature bundle:\n{out}"
    );
    // --in-toto on something that is not a statement is refused before anything is signed.
    assert!(sign_bundle_file(&opts, true, &artifact, &work.path().join("x.json"), false).is_err());
    Ok(())
}

#[test]
fn rekor_v2_bundles_interoperate_both_ways() -> TestResult {
    let Some(py) = sigstore_python()? else {
        return Ok(());
    };
    let Some(instance) = Instance::start(&["--rekor-v2"])? else {
        return Ok(());
    };
    let work = tempfile::tempdir()?;
    let artifact = work.path().join("server.tgz");
    write(&artifact, b"the server's code")?;

    // Ours, through Rekor v2 with a TSA timestamp, verified by sigstore-python: a DSSE bundle
    // (logged as a hashedrekord 0.0.2 over the envelope's PAE) and a message signature.
    let (dsse, _t) = signer(&instance)?.sign_dsse_bundle(
        "application/vnd.in-toto+json",
        &statement_for("server.tgz", b"the server's code"),
    )?;
    let (message, _t) = signer(&instance)?.sign_artifact_bundle(b"the server's code")?;
    for (what, bundle) in [("dsse", dsse), ("message-signature", message)] {
        let kv = &bundle.verification_material.tlog_entries[0].kind_version;
        assert_eq!(
            (kv.kind.as_str(), kv.version.as_str()),
            ("hashedrekord", "0.0.2")
        );
        let ours = work.path().join(format!("ours-{what}.sigstore.json"));
        write(&ours, &bundle.to_json_pretty())?;
        let (ok, out) = python_verify(&py, &instance, &ours, SUBJECT, &artifact)?;
        assert!(
            ok,
            "sigstore-python refused our rekor v2 {what} bundle:\n{out}"
        );
        let (ok, out) = python_verify(
            &py,
            &instance,
            &ours,
            "https://example.com/someone-else",
            &artifact,
        )?;
        assert!(!ok, "sigstore-python accepted a wrong identity:\n{out}");
    }

    // sigstore-python's, through the same v2 log, verified by us.
    let theirs = work.path().join("theirs.sigstore.json");
    let (ok, out) = python_sign(&py, &instance, &theirs, &artifact)?;
    assert!(
        ok,
        "sigstore-python could not sign through rekor v2:\n{out}"
    );
    let bundle = Bundle::from_json(&std::fs::read(&theirs)?)?;
    assert_eq!(
        bundle.verification_material.tlog_entries[0]
            .kind_version
            .version,
        "0.0.2"
    );
    let root = TrustedRoot::from_file(&instance.trusted_root())?;
    verify_as_subject(&root, &bundle, b"the server's code")?;
    Ok(())
}
