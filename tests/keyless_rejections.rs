//! Signing-side refusals: bad identity tokens, unusable signing configs, and Sigstore services
//! that answer for something else. Each case is a testdata/scenarios/keyless-<property>/ directory
//! with its inputs and an `expected` file (`reject <reason-code>`).

mod keyless_common;

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keyless_common::{Instance, Replay, TestResult, expected, root, signing_config_json, token};
use mcpsig::sign::keyless::{KeylessError, KeylessSigner};
use mcpsig::sign::oidc::IdentityToken;
use mcpsig::sigstore::bundle::{Bundle, SignerMaterial};
use mcpsig::sigstore::signing_config::SigningConfig;

const ISSUER: &str = "https://issuer.example";
const SUBJECT: &str = "https://example.com/publisher";
const STATEMENT: &[u8] = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}"#;

fn scenario(name: &str) -> PathBuf {
    root().join("testdata/scenarios").join(name)
}

fn code<T>(r: Result<T, KeylessError>) -> String {
    match r {
        Ok(_) => "accept".to_owned(),
        Err(e) => format!("reject {}", e.reason_code()),
    }
}

/// Parses the scenario's token and, if that works, tries to sign with it (against a config whose
/// services do not exist: every token case must be refused before any request).
fn sign_with_scenario_token(name: &str) -> Result<String, Box<dyn std::error::Error>> {
    let dir = scenario(name);
    let raw = if dir.join("token.txt").is_file() {
        std::fs::read_to_string(dir.join("token.txt"))?
    } else {
        let claims = std::fs::read(dir.join("claims.json"))?;
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(claims.trim_ascii())
        )
    };
    let result = IdentityToken::parse(&raw, "scenario")
        .map_err(KeylessError::from)
        .and_then(|t| {
            let cfg = SigningConfig::from_json(
                signing_config_json("http://127.0.0.1:9", "http://127.0.0.1:9").as_bytes(),
                "t",
            )?;
            KeylessSigner::new(t, &cfg, Duration::from_secs(2))?
                .sign_dsse_bundle("application/vnd.in-toto+json", STATEMENT)
        });
    Ok(code(result))
}

#[test]
fn bad_identity_tokens_are_refused() -> TestResult {
    for name in [
        "keyless-token-wrong-audience",
        "keyless-token-expired",
        "keyless-token-missing-subject",
        "keyless-token-not-a-jwt",
    ] {
        assert_eq!(sign_with_scenario_token(name)?, expected(name)?, "{name}");
    }
    Ok(())
}

#[test]
fn unusable_signing_configs_are_refused() -> TestResult {
    for name in [
        "keyless-signing-config-plain-http",
        "keyless-signing-config-only-rekor-v2",
        "keyless-signing-config-wrong-media-type",
    ] {
        let token = IdentityToken::parse(&token(ISSUER, SUBJECT, &[]), "test")?;
        let got = SigningConfig::from_file(&scenario(name).join("signing_config.json"))
            .map_err(KeylessError::from)
            .and_then(|cfg| KeylessSigner::new(token, &cfg, Duration::from_secs(2)));
        assert_eq!(code(got), expected(name)?, "{name}");
    }
    Ok(())
}

/// A genuine bundle from the instance, to replay parts of it.
fn genuine_bundle(instance: &Instance) -> Result<Bundle, Box<dyn std::error::Error>> {
    let token = IdentityToken::parse(&token(ISSUER, SUBJECT, &[]), "test")?;
    let cfg = SigningConfig::from_file(&instance.signing_config())?;
    let (bundle, _) = KeylessSigner::new(token, &cfg, Duration::from_secs(30))?.sign_dsse_bundle(
        "application/vnd.in-toto+json",
        b"{\"another\":\"envelope\"}",
    )?;
    Ok(bundle)
}

#[test]
fn certificate_for_another_key_is_refused() -> TestResult {
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let old = genuine_bundle(&instance)?;
    let SignerMaterial::Certificate(leaf) = &old.verification_material.signer else {
        return Err("expected a certificate".into());
    };
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        STANDARD.encode(leaf)
    );
    let answer =
        serde_json::json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [pem]}}});
    let fulcio = Replay::start("201 Created", answer.to_string(), 4)?;
    let cfg = SigningConfig::from_json(
        signing_config_json(&fulcio.url, &instance.url).as_bytes(),
        "t",
    )?;
    let token = IdentityToken::parse(&token(ISSUER, SUBJECT, &[]), "test")?;
    let got = KeylessSigner::new(token, &cfg, Duration::from_secs(10))?
        .sign_dsse_bundle("application/vnd.in-toto+json", STATEMENT);
    let name = "keyless-fulcio-key-mismatch";
    assert_eq!(code(got), expected(name)?, "{name}");
    Ok(())
}

#[test]
fn log_entry_for_another_envelope_is_refused() -> TestResult {
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let old = genuine_bundle(&instance)?;
    let e = old
        .verification_material
        .tlog_entries
        .first()
        .ok_or("no tlog entry")?;
    let proof = e.inclusion_proof.as_ref().ok_or("no inclusion proof")?;
    let answer = serde_json::json!({ "24296fb24b8ad77a0000000000000000000000000000000000000000000000000000000000000000": {
        "body": STANDARD.encode(&e.canonicalized_body),
        "integratedTime": e.integrated_time,
        "logID": hex::encode(&e.log_id.key_id),
        "logIndex": e.log_index,
        "verification": {
            "signedEntryTimestamp": STANDARD.encode(
                &e.inclusion_promise.as_ref().ok_or("no set")?.signed_entry_timestamp),
            "inclusionProof": {
                "logIndex": proof.log_index, "treeSize": proof.tree_size,
                "rootHash": hex::encode(&proof.root_hash), "hashes": [],
                "checkpoint": proof.checkpoint.as_ref().map(|c| c.envelope.clone()).unwrap_or_default(),
            }
        }
    }});
    let rekor = Replay::start("201 Created", answer.to_string(), 4)?;
    let cfg = SigningConfig::from_json(
        signing_config_json(&instance.url, &rekor.url).as_bytes(),
        "t",
    )?;
    let token = IdentityToken::parse(&token(ISSUER, SUBJECT, &[]), "test")?;
    let got = KeylessSigner::new(token, &cfg, Duration::from_secs(10))?
        .sign_dsse_bundle("application/vnd.in-toto+json", STATEMENT);
    let name = "keyless-rekor-entry-mismatch";
    assert_eq!(code(got), expected(name)?, "{name}");
    Ok(())
}

#[test]
fn fulcio_refusal_names_url_and_status_but_never_the_token() -> TestResult {
    let tok = token(ISSUER, SUBJECT, &[]);
    let fulcio = Replay::start(
        "401 Unauthorized",
        format!("{{\"code\":16,\"message\":\"invalid token {tok}\"}}"),
        2,
    )?;
    let cfg = SigningConfig::from_json(
        signing_config_json(&fulcio.url, "http://127.0.0.1:9").as_bytes(),
        "t",
    )?;
    let signer = KeylessSigner::new(
        IdentityToken::parse(&tok, "test")?,
        &cfg,
        Duration::from_secs(10),
    )?;
    let err = signer
        .sign_dsse_bundle("application/vnd.in-toto+json", STATEMENT)
        .err()
        .ok_or("signing succeeded against a refusing fulcio")?;
    let mut msg = err.to_string();
    let mut cur = std::error::Error::source(&err);
    while let Some(c) = cur {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cur = c.source();
    }
    assert!(
        msg.contains(&format!("{}/api/v2/signingCert", fulcio.url)),
        "{msg}"
    );
    assert!(msg.contains("401"), "{msg}");
    assert!(msg.contains("invalid token <redacted>"), "{msg}");
    assert!(!msg.contains(&tok), "the token leaked into: {msg}");
    assert!(
        !format!("{err:?}").contains(&tok),
        "the token leaked into Debug"
    );
    Ok(())
}

#[test]
fn rekor_v2_entry_for_another_envelope_is_refused() -> TestResult {
    let Some(instance) = Instance::start(&["--rekor-v2"])? else {
        return Ok(());
    };
    // A genuine v2 entry for another envelope, from the instance's own v2 log.
    let old = {
        let token = IdentityToken::parse(&token(ISSUER, SUBJECT, &[]), "test")?;
        let cfg = SigningConfig::from_file(&instance.signing_config())?;
        let (bundle, _) = KeylessSigner::new(token, &cfg, Duration::from_secs(30))?
            .sign_dsse_bundle(
                "application/vnd.in-toto+json",
                b"{\"another\":\"envelope\"}",
            )?;
        bundle
    };
    let entry = old
        .verification_material
        .tlog_entries
        .first()
        .ok_or("no tlog entry")?;
    assert_eq!(
        (
            entry.kind_version.kind.as_str(),
            entry.kind_version.version.as_str()
        ),
        ("hashedrekord", "0.0.2")
    );
    let rekor = Replay::start("201 Created", serde_json::to_string(entry)?, 4)?;
    let url = &instance.url;
    let cfg = format!(
        r#"{{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls":[{{"url":"{url}","majorApiVersion":1,"validFor":{{"start":"2020-01-01T00:00:00Z"}}}}],
        "rekorTlogUrls":[{{"url":"{}","majorApiVersion":2,"validFor":{{"start":"2020-01-01T00:00:00Z"}}}}],
        "tsaUrls":[{{"url":"{url}/api/v1/timestamp","majorApiVersion":1,"validFor":{{"start":"2020-01-01T00:00:00Z"}}}}]}}"#,
        rekor.url
    );
    let cfg = SigningConfig::from_json(cfg.as_bytes(), "t")?;
    let token = IdentityToken::parse(&token(ISSUER, SUBJECT, &[]), "test")?;
    let got = KeylessSigner::new(token, &cfg, Duration::from_secs(10))?
        .sign_dsse_bundle("application/vnd.in-toto+json", STATEMENT);
    let name = "keyless-rekor-entry-mismatch";
    assert_eq!(code(got), expected(name)?, "{name} (rekor v2)");
    Ok(())
}

/// Options naming services that do not exist: every case here must be refused before any request.
fn offline_options(
    dir: &std::path::Path,
) -> Result<mcpsig::sign::keyless::KeylessOptions, Box<dyn std::error::Error>> {
    let config = dir.join("signing_config.json");
    std::fs::write(
        &config,
        signing_config_json("http://127.0.0.1:9", "http://127.0.0.1:9"),
    )?;
    Ok(mcpsig::sign::keyless::KeylessOptions {
        signing_config: Some(config),
        interactive_login: None,
        timeout: Some(Duration::from_secs(2)),
        ..Default::default()
    })
}

#[test]
fn identity_token_files_without_a_usable_token_are_refused() -> TestResult {
    use mcpsig::sign::keyless::Zeroizing;
    let work = tempfile::tempdir()?;
    let too_large = work.path().join("too-large.jwt");
    std::fs::write(
        &too_large,
        vec![b'a'; mcpsig::sign::oidc::MAX_TOKEN_FILE_BYTES as usize + 1],
    )?;
    let cases = [
        (
            "keyless-token-file-empty",
            scenario("keyless-token-file-empty").join("token.jwt"),
            None,
        ),
        ("keyless-token-file-too-large", too_large, None),
        (
            "keyless-token-file-missing",
            scenario("keyless-token-file-missing").join("no-such-token.jwt"),
            None,
        ),
        (
            "keyless-token-two-sources",
            scenario("keyless-token-file-empty").join("token.jwt"),
            Some(token(ISSUER, SUBJECT, &[])),
        ),
    ];
    for (name, file, also) in cases {
        let mut opts = offline_options(work.path())?;
        opts.identity_token_file = Some(file);
        opts.identity_token = also.map(Zeroizing::new);
        let got = KeylessSigner::from_options(&opts);
        assert_eq!(code(got), expected(name)?, "{name}");
    }
    Ok(())
}

#[test]
fn an_existing_bundle_is_not_replaced_without_overwrite() -> TestResult {
    use mcpsig::sign::keyless::{Zeroizing, sign_bundle_file};
    let work = tempfile::tempdir()?;
    let mut opts = offline_options(work.path())?;
    opts.identity_token = Some(Zeroizing::new(token(ISSUER, SUBJECT, &[])));
    let input = work.path().join("a.txt");
    std::fs::write(&input, b"hello\n")?;
    let out = work.path().join("a.txt.sigstore.json");
    std::fs::write(&out, b"an earlier bundle")?;
    let name = "keyless-bundle-output-exists";
    // Refused before any service is asked (those in `opts` do not exist).
    let got = sign_bundle_file(&opts, false, &input, &out, false);
    assert_eq!(code(got), expected(name)?, "{name}");
    assert_eq!(std::fs::read(&out)?, b"an earlier bundle");
    Ok(())
}
