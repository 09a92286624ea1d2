//! Interop with sigstore-python 4.5.1 against the loopback Sigstore instance: it verifies,
//! offline, the bundles we sign keylessly (DSSE and message signatures), and refuses them for a
//! wrong identity.

mod keyless_common;

use std::process::Command;
use std::time::Duration;

use keyless_common::{Instance, TestResult, run, sigstore_python, token, write};
use mcpsig::sign::keyless::KeylessSigner;
use mcpsig::sign::oidc::IdentityToken;
use mcpsig::sigstore::signing_config::SigningConfig;
use sha2::{Digest as _, Sha256};

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

fn python_verify(
    py: &std::path::Path,
    instance: &Instance,
    bundle: &std::path::Path,
    identity: &str,
    artifact: &std::path::Path,
) -> Result<(bool, String), String> {
    run(
        Command::new(py)
            .arg("--trust-config")
            .arg(instance.trust_config())
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(bundle)
            .args(["--cert-identity", identity, "--cert-oidc-issuer", ISSUER])
            .arg(artifact),
        Duration::from_secs(120),
    )
}

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
