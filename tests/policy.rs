//! The trust policy (spec/policy.md) through its public API, on real signed bundles: each
//! `testdata/scenarios/policy-*` directory is one case, run by the test that names it.
//!
//! A scenario holds `policy.toml` (key paths `server.pub`, `other.pub`, `revocation.pub` are the
//! fixture's fresh keys; `{url}` is the loopback revocation URL), `case` (`key = value` lines,
//! below) and `expected`: `accept`, `reject REASON`, or `error LINE` for a policy file refused at
//! that line. `case` keys, all optional:
//! - `server`, `version`: the manifest's (default `io.github.acme/weather`, `1.2.0`);
//! - `issued-days-ago` (default 1);
//! - `signed-by`: `server` (default), `other`, or `keyless` (the loopback Sigstore instance, as
//!   `https://example.com/publisher` from `https://issuer.example`);
//! - `list`: where the revocation list is: `file` (beside the policy, `revocations.json`),
//!   `http` (served once on loopback), `unreachable` (a closed loopback port), `missing`;
//! - `list-signed-by`: `revocation` (default) or `other`;
//! - `list-expires-in-days` (default 7; 0 or less: already expired), `list-issued-days-ago`
//!   (default 0; negative: in the future);
//! - `list-content`: `list` (default), `manifest` (a manifest bundle signed by the list's
//!   signer), `garbage`, `huge` (2 MiB);
//! - `revoke-key` (`server`), `revoke-identity` (`keyless`), `revoke-manifest` (`yes`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

// Both helpers include tests/common/skip.rs; each is needed (binaries, the Sigstore instance).
#[allow(clippy::duplicate_mod)]
mod common;
mod keyless_common;

use chrono::{DateTime, Duration, Utc};
use common::{bin, root, serve_once};
use mcpsig::digest::{Algorithm, tree};
use mcpsig::keys::PrivateKey;
use mcpsig::manifest::{Artifact, Launch, Manifest, ServerId, ServerName, Timestamp, Version};
use mcpsig::policy::revocation::{RevocationList, RevokedIdentity, sign_list};
use mcpsig::policy::{Policy, PolicyFileError, PolicyOutcome, PolicyRequest, RevocationOptions};
use mcpsig::sign::{KeySigner, Signer, sign_manifest};
use mcpsig::sigstore::trust::TrustedRoot;
use mcpsig::verify::Checks;
use std::collections::BTreeMap;

use std::path::{Path, PathBuf};

const ISSUER: &str = "https://issuer.example";
const SUBJECT: &str = "https://example.com/publisher";

fn scenario_dir(name: &str) -> PathBuf {
    root().join("testdata/scenarios").join(name)
}

/// A workspace: a server tree, three fresh keys, and (for keyless cases) a Sigstore instance.
struct Fixture {
    dir: tempfile::TempDir,
    server: PrivateKey,
    other: PrivateKey,
    revocation: PrivateKey,
    instance: Option<keyless_common::Instance>,
}

impl Fixture {
    fn new(keyless: bool) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("srv")).unwrap();
        std::fs::write(dir.path().join("srv/server.py"), "print('hello')\n").unwrap();
        let f = Fixture {
            server: PrivateKey::generate().unwrap(),
            other: PrivateKey::generate().unwrap(),
            revocation: PrivateKey::generate().unwrap(),
            instance: keyless.then(|| {
                keyless_common::Instance::start(&[])
                    .unwrap()
                    .expect("the loopback Sigstore instance (keyless policy cases need it)")
            }),
            dir,
        };
        for (name, key) in [
            ("server", &f.server),
            ("other", &f.other),
            ("revocation", &f.revocation),
        ] {
            let pem = mcpsig::keys::PrivateKey::public_key(key);
            std::fs::write(
                f.path().join(format!("{name}.pub")),
                pem.to_pem().as_bytes(),
            )
            .unwrap();
        }
        f
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn trusted_root(&self) -> TrustedRoot {
        match &self.instance {
            Some(i) => TrustedRoot::from_file(&i.trusted_root()).unwrap(),
            None => TrustedRoot::production().unwrap(),
        }
    }

    fn manifest(&self, name: &str, version: &str, issued_at: DateTime<Utc>) -> Manifest {
        let entries = tree::hash_tree(&self.path().join("srv"), &[], Algorithm::Sha256).unwrap();
        Manifest {
            schema_version: 1,
            server: ServerId {
                name: ServerName::parse(name).unwrap(),
                version: Version::parse(version).unwrap(),
            },
            issued_at: Timestamp(DateTime::from_timestamp(issued_at.timestamp(), 0).unwrap()),
            expires_at: None,
            previous: None,
            launch: Some(Launch::stdio_from_command_line("python3 server.py").unwrap()),
            artifacts: vec![Artifact::directory("srv".into(), vec![], entries)],
            tools: None,
        }
    }

    fn keyless_signer(&self) -> mcpsig::sign::keyless::KeylessSigner {
        let instance = self
            .instance
            .as_ref()
            .expect("keyless case without instance");
        let token = mcpsig::sign::oidc::IdentityToken::parse(
            &keyless_common::token(ISSUER, SUBJECT, &[]),
            "test",
        )
        .unwrap();
        let config =
            mcpsig::sigstore::signing_config::SigningConfig::from_file(&instance.signing_config())
                .unwrap();
        mcpsig::sign::keyless::KeylessSigner::new(
            token,
            &config,
            std::time::Duration::from_secs(30),
        )
        .unwrap()
    }

    fn sign(&self, m: &Manifest, by: &str) -> Vec<u8> {
        let bundle = match by {
            "server" => sign_manifest(m, &KeySigner::new(&self.server)),
            "other" => sign_manifest(m, &KeySigner::new(&self.other)),
            "keyless" => sign_manifest(m, &self.keyless_signer() as &dyn Signer),
            other => panic!("signed-by {other}?"),
        };
        bundle.unwrap().to_json_pretty()
    }

    fn evaluate(&self, policy: &Policy, bundle: &[u8], now: DateTime<Utc>) -> PolicyOutcome {
        let root = self.trusted_root();
        mcpsig::policy::verify(&PolicyRequest {
            policy,
            bundle,
            trusted_root: &root,
            checks: Checks {
                base: Some(self.path().join("srv")),
                ..Checks::default()
            },
            now,
            revocation: &RevocationOptions {
                timeout: std::time::Duration::from_secs(10),
                max_bytes: 1024 * 1024,
            },
        })
        .unwrap()
    }
}

/// A loopback URL nothing listens on.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/revocations.json")
}

fn read_case(dir: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join("case")).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("case lines are `key = value`");
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

/// Runs scenario `name` and returns its outcome (`Err` for a refused policy file) after checking
/// it against `expected`.
fn scenario(name: &str) -> Result<PolicyOutcome, PolicyFileError> {
    let dir = scenario_dir(name);
    let case = read_case(&dir);
    let get = |k: &str, default: &str| case.get(k).cloned().unwrap_or_else(|| default.to_owned());
    let expected = std::fs::read_to_string(dir.join("expected")).unwrap();
    let expected = expected.trim();
    let signed_by = get("signed-by", "server");
    let f = Fixture::new(signed_by == "keyless");
    let now = Utc::now();
    let days = |k: &str, d: &str| Duration::days(get(k, d).parse::<i64>().unwrap());

    // The revocation list, where the case puts it.
    let list_at = get("list", "none");
    let mut url = String::new();
    if list_at != "none" {
        let issued = now - days("list-issued-days-ago", "0");
        let expires = now + days("list-expires-in-days", "7");
        let mut list = RevocationList::new(
            Timestamp(DateTime::from_timestamp(issued.timestamp(), 0).unwrap()),
            Timestamp(DateTime::from_timestamp(expires.timestamp(), 0).unwrap()),
        );
        if get("revoke-key", "") == "server" {
            list.keys.push(f.server.key_id().hex());
        }
        if get("revoke-identity", "") == "keyless" {
            list.identities.push(RevokedIdentity {
                issuer: ISSUER.to_owned(),
                identity: SUBJECT.to_owned(),
            });
        }
        let manifest_for_digest = f.manifest(
            &get("server", "io.github.acme/weather"),
            &get("version", "1.2.0"),
            now - days("issued-days-ago", "1"),
        );
        if get("revoke-manifest", "") == "yes" {
            list.manifests.push(manifest_for_digest.digest());
        }
        // An impossible window cannot be signed; a stale one is signed with a valid window
        // in the past.
        if list.expires_at <= list.issued_at {
            list.issued_at = Timestamp(list.expires_at.0 - Duration::days(7));
        }
        let key = match get("list-signed-by", "revocation").as_str() {
            "revocation" => &f.revocation,
            "other" => &f.other,
            other => panic!("list-signed-by {other}?"),
        };
        let bundle = match get("list-content", "list").as_str() {
            "list" => sign_list(&list, &KeySigner::new(key))
                .unwrap()
                .to_json_pretty(),
            // A validly signed manifest is not a list.
            "manifest" => sign_manifest(&manifest_for_digest, &KeySigner::new(key))
                .unwrap()
                .to_json_pretty(),
            "garbage" => b"{\"not\": \"a bundle\"}".to_vec(),
            // Over the 1 MiB bound the test evaluates with.
            "huge" => vec![b' '; 2 * 1024 * 1024],
            other => panic!("list-content {other}?"),
        };
        match list_at.as_str() {
            "file" => std::fs::write(f.path().join("revocations.json"), &bundle).unwrap(),
            "http" => url = serve_once(bundle),
            "unreachable" => url = closed_port_url(),
            "missing" => {}
            other => panic!("list {other}?"),
        }
    }
    let policy_text = std::fs::read_to_string(dir.join("policy.toml"))
        .unwrap()
        .replace("{url}", &url);
    let policy_path = f.path().join("policy.toml");
    std::fs::write(&policy_path, policy_text).unwrap();
    let policy = match Policy::load(&policy_path) {
        Ok(p) => p,
        Err(e) => {
            let line = match &e {
                PolicyFileError::Syntax { line, .. }
                | PolicyFileError::Invalid { line, .. }
                | PolicyFileError::NotUtf8 { line, .. } => *line,
                other => panic!("{name}: {other}"),
            };
            let message = mcpsig::error_chain(&e);
            assert!(
                message.contains(&policy_path.display().to_string()),
                "{name}: the error names the file: {message}"
            );
            assert_eq!(
                expected,
                format!("error {line}"),
                "{name}: refused at line {line}: {message}"
            );
            return Err(e);
        }
    };
    let m = f.manifest(
        &get("server", "io.github.acme/weather"),
        &get("version", "1.2.0"),
        now - days("issued-days-ago", "1"),
    );
    let bundle = f.sign(&m, &signed_by);
    let out = f.evaluate(&policy, &bundle, now);
    let got = match out.report.problems.first() {
        None => "accept".to_owned(),
        Some(p) => format!("reject {}", p.reason),
    };
    assert_eq!(
        got,
        expected,
        "{name}: {:?}",
        out.report
            .problems
            .iter()
            .map(|p| format!("[{}] {}", p.reason, p.message))
            .collect::<Vec<_>>()
    );
    // A verified manifest only when everything held.
    assert_eq!(out.report.verified, expected == "accept", "{name}");
    assert_eq!(
        out.report.manifest.is_some(),
        expected == "accept",
        "{name}"
    );
    Ok(out)
}

fn problem_text(out: &PolicyOutcome) -> String {
    out.report
        .problems
        .iter()
        .map(|p| format!("[{}] {}", p.reason, p.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Scenario policy-exact-rule-accepted.
#[test]
fn an_exact_rule_with_the_signing_key_accepts() {
    let out = scenario("policy-exact-rule-accepted").unwrap();
    let rule = out.rule.unwrap();
    assert!(
        rule.require_chain,
        "require-chain is exposed to the pin store"
    );
    assert_eq!(rule.line, Some(3));
    assert!(matches!(
        out.signer,
        Some(mcpsig::verify::SignerSummary::Key { .. })
    ));
}

/// Scenario policy-glob-rule-accepted.
#[test]
fn a_glob_rule_accepts_a_server_it_matches() {
    scenario("policy-glob-rule-accepted").unwrap();
}

/// Scenario policy-most-specific-rule-decides.
#[test]
fn the_most_specific_rule_decides() {
    let out = scenario("policy-most-specific-rule-decides").unwrap();
    assert!(
        problem_text(&out).contains("not by the trusted key"),
        "{}",
        problem_text(&out)
    );
}

/// Scenario policy-no-rule-untrusted.
#[test]
fn a_server_no_rule_names_is_untrusted() {
    let out = scenario("policy-no-rule-untrusted").unwrap();
    assert!(out.rule.is_none());
    assert!(problem_text(&out).contains("io.github.other/thing"));
}

/// Scenario policy-default-rule-accepted.
#[test]
fn the_default_rule_covers_unnamed_servers() {
    let out = scenario("policy-default-rule-accepted").unwrap();
    assert_eq!(out.rule.unwrap().scope, mcpsig::policy::RuleScope::Default);
}

/// Scenario policy-wrong-key.
#[test]
fn a_key_the_rule_does_not_trust_is_refused() {
    scenario("policy-wrong-key").unwrap();
}

/// Scenario policy-keyless-required.
#[test]
fn a_key_bundle_under_keyless_required_is_refused() {
    scenario("policy-keyless-required").unwrap();
}

/// Scenario policy-version-too-low.
#[test]
fn a_version_below_min_version_is_refused() {
    let out = scenario("policy-version-too-low").unwrap();
    assert!(problem_text(&out).contains("1.1.9"));
}

/// Scenario policy-version-not-semver.
#[test]
fn a_non_semver_version_under_min_version_is_refused() {
    let out = scenario("policy-version-not-semver").unwrap();
    assert!(problem_text(&out).contains("not a semantic version"));
}

/// Scenario policy-manifest-too-old.
#[test]
fn a_manifest_older_than_max_age_is_refused() {
    scenario("policy-manifest-too-old").unwrap();
}

/// Scenario policy-revoked-key.
#[test]
fn a_revoked_key_is_refused() {
    scenario("policy-revoked-key").unwrap();
}

/// Scenario policy-revoked-manifest.
#[test]
fn a_revoked_manifest_digest_is_refused() {
    scenario("policy-revoked-manifest").unwrap();
}

/// Scenario policy-revocation-list-accepted.
#[test]
fn a_fresh_list_that_revokes_nothing_of_ours_accepts() {
    scenario("policy-revocation-list-accepted").unwrap();
}

/// Scenario policy-revocation-over-http-accepted.
#[test]
fn a_list_served_on_loopback_http_is_read() {
    scenario("policy-revocation-over-http-accepted").unwrap();
}

/// Scenario policy-revoked-key-over-http.
#[test]
fn a_key_revoked_by_a_served_list_is_refused() {
    scenario("policy-revoked-key-over-http").unwrap();
}

/// Scenario policy-revocation-stale.
#[test]
fn an_expired_list_is_stale() {
    let out = scenario("policy-revocation-stale").unwrap();
    assert!(
        problem_text(&out).contains("expired"),
        "{}",
        problem_text(&out)
    );
}

/// Scenario policy-revocation-not-yet-valid.
#[test]
fn a_list_issued_in_the_future_is_stale() {
    scenario("policy-revocation-not-yet-valid").unwrap();
}

/// Scenario policy-revocation-unreachable.
#[test]
fn an_unreachable_list_is_stale() {
    let out = scenario("policy-revocation-unreachable").unwrap();
    assert!(
        problem_text(&out).contains("http://127.0.0.1:"),
        "{}",
        problem_text(&out)
    );
}

/// Scenario policy-revocation-missing.
#[test]
fn a_missing_list_file_is_stale() {
    scenario("policy-revocation-missing").unwrap();
}

/// Scenario policy-revocation-badly-signed.
#[test]
fn a_list_signed_by_another_key_is_stale() {
    scenario("policy-revocation-badly-signed").unwrap();
}

/// Scenario policy-revocation-malformed.
#[test]
fn a_list_that_is_not_a_bundle_is_stale() {
    scenario("policy-revocation-malformed").unwrap();
}

/// Scenario policy-revocation-wrong-predicate.
#[test]
fn a_signed_manifest_in_place_of_the_list_is_stale() {
    let out = scenario("policy-revocation-wrong-predicate").unwrap();
    assert!(
        problem_text(&out).contains("predicate type"),
        "{}",
        problem_text(&out)
    );
}

/// Scenario policy-revocation-oversized.
#[test]
fn an_oversized_list_download_is_stale() {
    let out = scenario("policy-revocation-oversized").unwrap();
    assert!(
        problem_text(&out).contains("larger than"),
        "{}",
        problem_text(&out)
    );
}

/// Scenario policy-keyless-identity-accepted.
#[test]
fn a_keyless_identity_rule_accepts_its_identity() {
    let out = scenario("policy-keyless-identity-accepted").unwrap();
    assert!(matches!(
        out.signer,
        Some(mcpsig::verify::SignerSummary::Certificate { .. })
    ));
}

/// Scenario policy-keyless-wrong-identity.
#[test]
fn a_keyless_bundle_of_another_identity_is_refused() {
    scenario("policy-keyless-wrong-identity").unwrap();
}

/// Scenario policy-keyless-revoked-identity.
#[test]
fn a_revoked_keyless_identity_is_refused() {
    scenario("policy-keyless-revoked-identity").unwrap();
}

/// Scenario policy-keyless-bundle-under-key-rule.
#[test]
fn a_keyless_bundle_under_a_key_only_rule_is_refused() {
    scenario("policy-keyless-bundle-under-key-rule").unwrap();
}

/// Scenario policy-file-unknown-key.
#[test]
fn an_unknown_key_is_refused_at_its_line() {
    let e = scenario("policy-file-unknown-key").unwrap_err();
    assert!(mcpsig::error_chain(&e).contains("key-file"), "{e}");
}

/// Scenario policy-file-empty-trust.
#[test]
fn a_rule_without_signers_is_refused_at_its_line() {
    let e = scenario("policy-file-empty-trust").unwrap_err();
    assert!(mcpsig::error_chain(&e).contains("trusts no signer"), "{e}");
}

/// Scenario policy-file-bad-glob.
#[test]
fn a_bad_glob_is_refused_at_its_line() {
    scenario("policy-file-bad-glob").unwrap_err();
}

/// Scenario policy-file-bad-regex.
#[test]
fn a_bad_regex_is_refused_at_its_line() {
    let e = scenario("policy-file-bad-regex").unwrap_err();
    assert!(mcpsig::error_chain(&e).contains("identity-regexp"), "{e}");
}

/// Scenario policy-regex-closing-group-refused.
#[test]
fn a_pattern_that_closes_the_anchoring_group_is_refused() {
    let e = scenario("policy-regex-closing-group-refused").unwrap_err();
    let chain = mcpsig::error_chain(&e);
    assert!(chain.contains("identity-regexp"), "{chain}");
}

/// Scenario policy-regex-unicode-class-refused.
#[test]
fn a_unicode_class_in_an_identity_regex_is_refused() {
    let e = scenario("policy-regex-unicode-class-refused").unwrap_err();
    let chain = mcpsig::error_chain(&e);
    assert!(
        chain.contains("identity-regexp") && chain.contains("Unicode"),
        "{chain}"
    );
}

/// Scenario policy-file-unreadable-key.
#[test]
fn an_unreadable_key_file_is_refused_at_its_line() {
    let e = scenario("policy-file-unreadable-key").unwrap_err();
    assert!(mcpsig::error_chain(&e).contains("missing.pub"), "{e}");
}

/// Scenario policy-file-bad-min-version.
#[test]
fn a_bad_min_version_is_refused_at_its_line() {
    scenario("policy-file-bad-min-version").unwrap_err();
}

/// Scenario policy-file-plain-http-list.
#[test]
fn a_plain_http_list_url_off_loopback_is_refused() {
    scenario("policy-file-plain-http-list").unwrap_err();
}

/// Every policy-* scenario directory is named by a test above (none is left unrun).
#[test]
fn every_policy_scenario_is_run_here() {
    let this = std::fs::read_to_string(root().join("tests/policy.rs")).unwrap();
    let mut seen = 0;
    for e in std::fs::read_dir(root().join("testdata/scenarios")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("policy-") {
            seen += 1;
            assert!(
                this.contains(&format!("/// Scenario {name}.")),
                "testdata/scenarios/{name} is run by no test"
            );
        }
    }
    assert!(seen >= 20, "policy scenarios missing: found {seen}");
}

/// The command line's trust options are a one-server policy.
#[test]
fn command_line_trust_is_a_single_rule_policy() {
    let f = Fixture::new(false);
    let trust = mcpsig::verify::Trust::Key {
        key: f.server.public_key(),
        trusted_root: f.trusted_root(),
    };
    let policy = Policy::single(&trust);
    let now = Utc::now();
    let m = f.manifest("io.github.anyone/anything", "0.0.1-alpha", now);
    let out = f.evaluate(&policy, &f.sign(&m, "server"), now);
    assert!(out.report.verified, "{}", problem_text(&out));
    assert!(out.report.manifest.is_some());
    let out = f.evaluate(&policy, &f.sign(&m, "other"), now);
    assert_eq!(out.report.problems[0].reason, "untrusted-signer");
    assert!(out.report.manifest.is_none());
}

/// A tampered tree under an accepting policy: rejected by the artifact check, no manifest.
#[test]
fn artifacts_are_still_checked_under_a_policy() {
    let f = Fixture::new(false);
    std::fs::write(
        f.path().join("policy.toml"),
        "schema-version = 1\n[default]\n[[default.signer]]\nkey = \"server.pub\"\n",
    )
    .unwrap();
    let policy = Policy::load(&f.path().join("policy.toml")).unwrap();
    let now = Utc::now();
    let bundle = f.sign(
        &f.manifest("io.github.acme/weather", "1.0.0", now),
        "server",
    );
    std::fs::write(f.path().join("srv/server.py"), "import os\n").unwrap();
    let out = f.evaluate(&policy, &bundle, now);
    assert_eq!(out.report.problems[0].reason, "artifact-mismatch");
    assert!(!out.report.verified && out.report.manifest.is_none());
}

/// Several keys in one rule: the bundle's key hint picks its key, and without a matching hint
/// each key is tried.
#[test]
fn each_trusted_key_of_a_rule_is_tried() {
    let f = Fixture::new(false);
    std::fs::write(
        f.path().join("policy.toml"),
        "schema-version = 1\n[[server]]\nname = \"io.github.acme/*\"\n\
         [[server.signer]]\nkey = \"other.pub\"\n[[server.signer]]\nkey = \"server.pub\"\n",
    )
    .unwrap();
    let policy = Policy::load(&f.path().join("policy.toml")).unwrap();
    let now = Utc::now();
    let m = f.manifest("io.github.acme/weather", "1.0.0", now);
    let out = f.evaluate(&policy, &f.sign(&m, "server"), now);
    assert!(out.report.verified, "{}", problem_text(&out));
    // The hint blanked: both keys are tried, the second verifies.
    let mut value: serde_json::Value = serde_json::from_slice(&f.sign(&m, "server")).unwrap();
    value["verificationMaterial"]["publicKey"]["hint"] = "".into();
    let out = f.evaluate(&policy, value.to_string().as_bytes(), now);
    assert!(out.report.verified, "{}", problem_text(&out));
}

/// `mcp-sign revoke` writes a list the policy reads; revoking the key by its public key file.
#[test]
fn mcp_sign_revoke_writes_a_list_the_policy_honours() {
    let f = Fixture::new(false);
    std::fs::write(
        f.path().join("revocation.key"),
        f.revocation.to_pem(None).unwrap().as_bytes(),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            f.path().join("revocation.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let out = std::process::Command::new(bin("mcp-sign"))
        .current_dir(f.path())
        .env("NO_COLOR", "1")
        .args([
            "revoke",
            "--key",
            "revocation.key",
            "--revoke-key",
            "server.pub",
            "--revoke-identity",
            "https://issuer.example=someone@example.com",
            "--expires-in-days",
            "3",
            "-o",
            "revocations.json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 keys, 1 identities"));
    // Not overwritten without --force.
    let again = std::process::Command::new(bin("mcp-sign"))
        .current_dir(f.path())
        .args([
            "revoke",
            "--key",
            "revocation.key",
            "-o",
            "revocations.json",
        ])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    std::fs::write(
        f.path().join("policy.toml"),
        "schema-version = 1\n[default]\n[[default.signer]]\nkey = \"server.pub\"\n\
         [revocation]\nfile = \"revocations.json\"\n[[revocation.signer]]\nkey = \"revocation.pub\"\n",
    )
    .unwrap();
    let policy = Policy::load(&f.path().join("policy.toml")).unwrap();
    let now = Utc::now();
    let bundle = f.sign(
        &f.manifest("io.github.acme/weather", "1.0.0", now),
        "server",
    );
    let out = f.evaluate(&policy, &bundle, now);
    assert_eq!(
        out.report.problems[0].reason,
        "revoked",
        "{}",
        problem_text(&out)
    );
    // Four days later the three-day list is stale.
    let out = f.evaluate(&policy, &bundle, now + Duration::days(4));
    assert_eq!(
        out.report.problems[0].reason,
        "revocation-stale",
        "{}",
        problem_text(&out)
    );
}

/// `mcp-verify BUNDLE --policy FILE`: the policy decides, through the real binary.
#[test]
fn mcp_verify_with_a_policy_file() {
    let f = Fixture::new(false);
    let now = Utc::now();
    let bundle = f.sign(
        &f.manifest("io.github.acme/weather", "1.2.0", now),
        "server",
    );
    std::fs::write(f.path().join("b.sigstore.json"), bundle).unwrap();
    let verify = |policy: &str, extra: &[&str]| {
        std::fs::write(f.path().join("policy.toml"), policy).unwrap();
        let mut args = vec!["b.sigstore.json", "--policy", "policy.toml", "--dir", "srv"];
        args.extend(extra);
        let out = std::process::Command::new(bin("mcp-verify"))
            .current_dir(f.path())
            .env("NO_COLOR", "1")
            .env("MCPSIG_CACHE_DIR", f.path().join("cache"))
            .args(&args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let rule = "schema-version = 1\n\n[[server]]\nname = \"io.github.acme/*\"\n";
    let (code, text) = verify(
        &format!("{rule}min-version = \"1.0.0\"\n[[server.signer]]\nkey = \"server.pub\"\n"),
        &[],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("verified: io.github.acme/weather 1.2.0"),
        "{text}"
    );
    assert!(
        text.contains("policy:   rule io.github.acme/* (policy.toml:3)"),
        "{text}"
    );
    let (code, text) = verify(
        &format!("{rule}min-version = \"2.0.0\"\n[[server.signer]]\nkey = \"server.pub\"\n"),
        &[],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("[version-too-low]"), "{text}");
    // A broken policy is exit 2 naming file and line; nothing is verified.
    let (code, text) = verify(&format!("{rule}min-versoin = \"2.0.0\"\n"), &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("policy.toml:5"), "{text}");
    // The command line's trust options and a policy exclude each other.
    let (code, text) = verify(
        &format!("{rule}[[server.signer]]\nkey = \"server.pub\"\n"),
        &["--key", "server.pub"],
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("--policy and --key cannot be combined"),
        "{text}"
    );
}
