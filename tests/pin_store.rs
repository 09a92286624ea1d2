//! The pin store (spec/pin-store.md) through its public API and `mcp-verify pins`: real
//! manifests pinning the tools of tests/servers/drift-server.py (each DRIFT mode a release that
//! changes them), signed with a generated key and verified by `verify::verify`, then admitted.
//! Each test names its scenario under testdata/scenarios/pin-*, whose `expected` it checks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mcp_support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mcp_support::{drift, options, repo as root};
use mcpsig::chrono::Utc;
use mcpsig::digest::{Algorithm, tree};
use mcpsig::keys::PrivateKey;
use mcpsig::manifest::pins::ToolPins;
use mcpsig::manifest::{Artifact, Manifest, ServerId, ServerName, Timestamp, Version};
use mcpsig::pin_store::{Admission, AdmitRequest, Outcome, PinStore, PinStoreError};
use mcpsig::reason::Reason;
use mcpsig::sign::{KeySigner, sign_manifest};
use mcpsig::sigstore::trust::TrustedRoot;
use mcpsig::tools::{self, DiffCode};
use mcpsig::verify::{Checks, Request, SignerSummary, Trust, Verified, verify};

const NAME: &str = "io.github.acme/notes";

/// The tools of the drift server under `mode` (`""`: the honest server).
fn pins(mode: &str) -> ToolPins {
    tools::capture(&drift(&[("DRIFT", mode)]), &options()).expect("capture the drift server")
}

/// A scratch folder holding the server tree the manifests pin and the store.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tree")).unwrap();
        std::fs::copy(
            root().join("tests/servers/drift-server.py"),
            dir.path().join("tree/drift-server.py"),
        )
        .unwrap();
        Work { dir }
    }

    fn tree(&self) -> PathBuf {
        self.dir.path().join("tree")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn store(&self) -> PinStore {
        PinStore::open(self.data().join("pins"))
    }

    fn record(&self) -> PathBuf {
        self.store().record_path(&ServerName::parse(NAME).unwrap())
    }

    fn manifest(&self, version: &str, previous: Option<&Manifest>, pins: ToolPins) -> Manifest {
        manifest_of(&self.tree(), version, previous, pins)
    }
}

fn manifest_of(
    tree_dir: &Path,
    version: &str,
    previous: Option<&Manifest>,
    pins: ToolPins,
) -> Manifest {
    let entries = tree::hash_tree(tree_dir, &[], Algorithm::Sha256).unwrap();
    Manifest {
        schema_version: 1,
        server: ServerId {
            name: ServerName::parse(NAME).unwrap(),
            version: Version::parse(version).unwrap(),
        },
        issued_at: Timestamp::now(),
        expires_at: None,
        previous: previous.map(Manifest::digest),
        launch: None,
        artifacts: vec![Artifact::directory("server".into(), Vec::new(), entries)],
        tools: Some(pins),
    }
}

fn sign(m: &Manifest, key: &PrivateKey) -> Vec<u8> {
    sign_manifest(m, &KeySigner::new(key))
        .unwrap()
        .to_json_pretty()
}

/// Verifies a bundle with `key` trusted, every artifact re-hashed: the only way to a
/// `Verified<Manifest>`.
fn verified(
    bundle: &[u8],
    key: &PrivateKey,
    tree_dir: &Path,
) -> (Verified<Manifest>, SignerSummary) {
    let trust = Trust::Key {
        key: key.public_key(),
        trusted_root: TrustedRoot::production().unwrap(),
    };
    let report = verify(&Request {
        bundle,
        trust: &trust,
        now: Utc::now(),
        checks: Checks {
            base: Some(tree_dir.to_path_buf()),
            ..Checks::default()
        },
    })
    .unwrap();
    assert!(report.verified, "{:?}", report.problems);
    (report.manifest.unwrap(), report.signer.unwrap())
}

fn admit_in(
    store: &PinStore,
    tree_dir: &Path,
    bundle: &[u8],
    key: &PrivateKey,
    accept: bool,
    require_chain: bool,
) -> Result<Admission, PinStoreError> {
    let (manifest, signer) = verified(bundle, key, tree_dir);
    store.admit(&AdmitRequest {
        manifest: &manifest,
        signer: &signer,
        require_chain,
        accept,
        now: Utc::now(),
    })
}

/// Signs `m` with `key`, verifies it and admits it.
fn admit(
    w: &Work,
    m: &Manifest,
    key: &PrivateKey,
    accept: bool,
    require_chain: bool,
) -> Result<Admission, PinStoreError> {
    admit_in(
        &w.store(),
        &w.tree(),
        &sign(m, key),
        key,
        accept,
        require_chain,
    )
}

fn reasons(a: &Admission) -> Vec<Reason> {
    a.problems.iter().map(|p| p.reason).collect()
}

/// Checks a result against testdata/scenarios/NAME/expected: `accept`, `reject REASON` or
/// `error REASON`.
fn expect(scenario: &str, result: &Result<Admission, PinStoreError>) {
    let path = root()
        .join("testdata/scenarios")
        .join(scenario)
        .join("expected");
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let expected = expected.trim();
    match (expected.split_once(' ').unwrap_or((expected, "")), result) {
        (("accept", _), Ok(a)) => {
            assert!(a.admitted, "{scenario}: expected accept, got {a:?}");
            assert!(a.problems.is_empty() && a.outcome != Outcome::Rejected);
        }
        (("reject", reason), Ok(a)) => {
            assert!(!a.admitted, "{scenario}: expected reject, got {a:?}");
            assert_eq!(a.outcome, Outcome::Rejected);
            assert!(
                a.problems.iter().any(|p| p.reason == reason),
                "{scenario}: expected {reason}, got {:?}",
                reasons(a)
            );
        }
        (("error", reason), Err(e)) => {
            assert_eq!(e.reason(), reason, "{scenario}: {e}");
            assert!(e.reason().is_undecided());
        }
        (_, other) => panic!("{scenario}: expected `{expected}`, got {other:?}"),
    }
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// Scenario pin-first-use-recorded.
#[test]
fn the_first_release_seen_is_recorded() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let v1 = w.manifest("1.0.0", None, pins(""));
    let got = admit(&w, &v1, &key, false, true);
    expect("pin-first-use-recorded", &got);
    let a = got.unwrap();
    assert_eq!(a.outcome, Outcome::FirstUse);
    assert!(a.pinned.is_none() && a.changes.is_empty());
    // The record: mode 0600 in a 0700 folder, holding what the spec lists.
    let rec_path = w.record();
    assert_eq!(
        std::fs::metadata(&rec_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(w.store().dir())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let rec = w.store().show(&ServerName::parse(NAME).unwrap()).unwrap();
    assert_eq!(rec.version.as_str(), "1.0.0");
    assert_eq!(rec.manifest_digest, v1.digest());
    assert_eq!(rec.tools.as_ref(), v1.tools.as_ref());
    assert_eq!(rec.first_seen, rec.last_seen);
    assert!(rec.approvals.is_empty());
    let json: serde_json::Value = serde_json::from_slice(&read(&rec_path)).unwrap();
    assert_eq!(json["schemaVersion"], 1);
    assert_eq!(json["server"], NAME);
    assert_eq!(json["signer"]["kind"], "key");
    assert_eq!(json["signer"]["keyId"], key.key_id().hex());
}

/// Scenario pin-same-release-unchanged.
#[test]
fn the_pinned_release_is_admitted_again() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let v1 = w.manifest("1.0.0", None, pins(""));
    let bundle = sign(&v1, &key);
    admit_in(&w.store(), &w.tree(), &bundle, &key, false, true).unwrap();
    let got = admit_in(&w.store(), &w.tree(), &bundle, &key, false, true);
    expect("pin-same-release-unchanged", &got);
    assert_eq!(got.unwrap().outcome, Outcome::Unchanged);
}

/// Scenario pin-upgrade-text-changes-listed.
#[test]
fn a_newer_release_that_changes_only_text_is_upgraded_and_listed() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let v1 = w.manifest("1.0.0", None, pins(""));
    admit(&w, &v1, &key, false, true).unwrap();
    let v2 = w.manifest(
        "1.1.0",
        Some(&v1),
        pins("description,title,prompt,instructions"),
    );
    let got = admit(&w, &v2, &key, false, true);
    expect("pin-upgrade-text-changes-listed", &got);
    let a = got.unwrap();
    assert_eq!(a.outcome, Outcome::Upgraded);
    let codes: Vec<(String, DiffCode, bool)> = a
        .changes
        .iter()
        .map(|c| (c.diff.name.clone(), c.diff.code, c.needs_approval))
        .collect();
    assert_eq!(
        codes,
        [
            ("read_note".into(), DiffCode::DescriptionChanged, false),
            ("write_note".into(), DiffCode::FieldChanged, false),
            ("summarise".into(), DiffCode::DescriptionChanged, false),
            ("instructions".into(), DiffCode::InstructionsChanged, false),
        ]
    );
    let pinned = a.pinned.unwrap();
    assert_eq!(pinned.version.as_str(), "1.0.0");
    let rec = w.store().show(&ServerName::parse(NAME).unwrap()).unwrap();
    assert_eq!(rec.version.as_str(), "1.1.0");
    assert_eq!(rec.manifest_digest, v2.digest());
    assert_eq!(rec.tools.as_ref(), v2.tools.as_ref());
}

/// Scenario pin-rollback-lower-version.
#[test]
fn a_lower_version_is_a_rollback_even_with_accept() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let honest = pins("");
    let v1 = w.manifest("1.0.0", None, honest.clone());
    let v2 = w.manifest("1.1.0", Some(&v1), honest);
    admit(&w, &v1, &key, false, true).unwrap();
    admit(&w, &v2, &key, false, true).unwrap();
    let before = read(&w.record());
    let got = admit(&w, &v1, &key, true, false);
    expect("pin-rollback-lower-version", &got);
    let a = got.unwrap();
    assert_eq!(reasons(&a), [Reason::Rollback]);
    assert!(
        a.problems[0]
            .message
            .contains("lower than the pinned version 1.1.0")
    );
    assert_eq!(read(&w.record()), before, "a refusal changed the store");
}

/// Scenario pin-same-version-substitution.
#[test]
fn the_same_version_with_another_manifest_is_a_rollback() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let v1 = w.manifest("1.0.0", None, pins(""));
    admit(&w, &v1, &key, false, true).unwrap();
    let before = read(&w.record());
    // Same version, same signer, the poisoned description: a substituted release.
    let swapped = w.manifest("1.0.0", None, pins("description"));
    let got = admit(&w, &swapped, &key, true, false);
    expect("pin-same-version-substitution", &got);
    let a = got.unwrap();
    assert_eq!(reasons(&a), [Reason::Rollback]);
    assert!(
        a.problems[0].message.contains("another manifest"),
        "{}",
        a.problems[0].message
    );
    assert_eq!(read(&w.record()), before);
}

/// Scenario pin-signer-changed.
#[test]
fn another_signer_is_refused_until_the_pin_is_forgotten() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let other = PrivateKey::generate().unwrap();
    let honest = pins("");
    let v1 = w.manifest("1.0.0", None, honest.clone());
    admit(&w, &v1, &key, false, true).unwrap();
    let before = read(&w.record());
    // A newer, chained release with the same tools, signed by another key: refused, accept or not.
    let v2 = w.manifest("1.1.0", Some(&v1), honest);
    let got = admit(&w, &v2, &other, true, false);
    expect("pin-signer-changed", &got);
    let a = got.unwrap();
    assert_eq!(reasons(&a), [Reason::SignerChanged]);
    assert!(a.problems[0].message.contains(&key.key_id().hex()));
    assert!(a.problems[0].message.contains(&other.key_id().hex()));
    assert_eq!(read(&w.record()), before);
    // Forgetting the pin is the way past it: the next release is pinned anew.
    let f = w.store().forget(&ServerName::parse(NAME).unwrap()).unwrap();
    assert_eq!(f.record.unwrap().version.as_str(), "1.0.0");
    assert!(!w.record().exists());
    let again = admit(&w, &v2, &other, false, true).unwrap();
    assert_eq!(again.outcome, Outcome::FirstUse);
}

/// Scenario pin-chain-broken-reported.
#[test]
fn a_broken_chain_is_reported_when_not_required() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let honest = pins("");
    let v1 = w.manifest("1.0.0", None, honest.clone());
    admit(&w, &v1, &key, false, false).unwrap();
    let v2 = w.manifest("1.1.0", None, honest);
    let got = admit(&w, &v2, &key, false, false);
    expect("pin-chain-broken-reported", &got);
    let a = got.unwrap();
    assert_eq!(a.outcome, Outcome::Upgraded);
    assert_eq!(a.warnings.len(), 1);
    assert_eq!(a.warnings[0].reason, Reason::ChainBroken);
    assert!(a.warnings[0].message.contains("names no previous release"));
}

/// Scenario pin-chain-broken-required.
#[test]
fn a_broken_chain_is_refused_when_required_even_with_accept() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let honest = pins("");
    let v1 = w.manifest("1.0.0", None, honest.clone());
    admit(&w, &v1, &key, false, true).unwrap();
    let before = read(&w.record());
    // `previous` names a release that is not the pinned one.
    let elsewhere = w.manifest("0.9.0", None, honest.clone());
    let v2 = w.manifest("1.1.0", Some(&elsewhere), honest);
    let got = admit(&w, &v2, &key, true, true);
    expect("pin-chain-broken-required", &got);
    let a = got.unwrap();
    assert_eq!(reasons(&a), [Reason::ChainBroken]);
    assert!(
        a.problems[0]
            .message
            .contains(&elsewhere.digest().to_string())
    );
    assert_eq!(read(&w.record()), before);
}

/// Scenario pin-unordered-versions-need-the-chain.
#[test]
fn versions_that_are_not_semver_follow_only_through_the_chain() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let honest = pins("");
    let v1 = w.manifest("2026.11", None, honest.clone());
    admit(&w, &v1, &key, false, false).unwrap();
    let unchained = w.manifest("2026.12", None, honest.clone());
    let got = admit(&w, &unchained, &key, true, false);
    expect("pin-unordered-versions-need-the-chain", &got);
    assert_eq!(reasons(&got.unwrap()), [Reason::Rollback]);
    let chained = w.manifest("2026.12", Some(&v1), honest);
    assert_eq!(
        admit(&w, &chained, &key, false, false).unwrap().outcome,
        Outcome::Upgraded
    );
}

/// Scenario pin-needs-approval.
#[test]
fn permission_changes_need_approval() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let v1 = w.manifest("1.0.0", None, pins(""));
    admit(&w, &v1, &key, false, true).unwrap();
    let before = read(&w.record());
    let cases = [
        ("add-tool", "export_notes", DiffCode::Added),
        ("remove-tool", "search_notes", DiffCode::Removed),
        ("schema", "read_note", DiffCode::SchemaChanged),
        ("output-schema", "search_notes", DiffCode::SchemaChanged),
        ("annotation", "write_note", DiffCode::AnnotationChanged),
        ("template", "note", DiffCode::FieldChanged),
    ];
    for (mode, name, code) in cases {
        let v2 = w.manifest("1.1.0", Some(&v1), pins(mode));
        let got = admit(&w, &v2, &key, false, true);
        expect("pin-needs-approval", &got);
        let a = got.unwrap();
        assert_eq!(reasons(&a), [Reason::NeedsApproval], "{mode}");
        let flagged: Vec<(&str, DiffCode)> = a
            .changes
            .iter()
            .filter(|c| c.needs_approval)
            .map(|c| (c.diff.name.as_str(), c.diff.code))
            .collect();
        assert_eq!(flagged, [(name, code)], "{mode}");
        assert!(a.problems[0].message.contains(name), "{mode}");
        // The JSON form a report carries: reason codes and the marked diff.
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["outcome"], "rejected");
        assert_eq!(json["admitted"], false);
        assert_eq!(json["problems"][0]["reason"], "needs-approval");
        assert_eq!(json["pinned"]["version"], "1.0.0");
        let marked: Vec<&serde_json::Value> = json["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["needsApproval"] == true)
            .collect();
        assert_eq!(marked.len(), 1, "{mode}");
        assert_eq!(marked[0]["name"], name);
        assert_eq!(marked[0]["code"], code.as_str());
        assert_eq!(
            read(&w.record()),
            before,
            "{mode}: a refusal changed the store"
        );
    }
}

/// Scenario pin-accept-records-approval.
#[test]
fn accept_approves_and_records_the_permission_changes() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let v1 = w.manifest("1.0.0", None, pins(""));
    admit(&w, &v1, &key, false, true).unwrap();
    let v2 = w.manifest("1.1.0", Some(&v1), pins("add-tool,description"));
    let bundle = sign(&v2, &key);
    let refused = admit_in(&w.store(), &w.tree(), &bundle, &key, false, true).unwrap();
    assert_eq!(reasons(&refused), [Reason::NeedsApproval]);
    let got = admit_in(&w.store(), &w.tree(), &bundle, &key, true, true);
    expect("pin-accept-records-approval", &got);
    let a = got.unwrap();
    assert_eq!(a.outcome, Outcome::Approved);
    // The description change is listed beside the approved addition, not approved itself.
    assert_eq!(a.changes.len(), 2);
    let rec = w.store().show(&ServerName::parse(NAME).unwrap()).unwrap();
    assert_eq!(rec.version.as_str(), "1.1.0");
    assert_eq!(rec.approvals.len(), 1);
    let approval = &rec.approvals[0];
    assert_eq!(approval.version.as_str(), "1.1.0");
    assert_eq!(approval.manifest_digest, v2.digest());
    assert_eq!(approval.changes.len(), 1);
    assert_eq!(approval.changes[0].name, "export_notes");
    assert_eq!(approval.changes[0].code, DiffCode::Added);
    // Approved once: the same release is simply the pinned one now.
    let again = admit_in(&w.store(), &w.tree(), &bundle, &key, false, true).unwrap();
    assert_eq!(again.outcome, Outcome::Unchanged);
}

/// `m` launched as the drift server, taking `names` from the caller's environment.
fn with_env_names(mut m: Manifest, names: &[&str]) -> Manifest {
    m.launch = Some(mcpsig::manifest::Launch::Stdio {
        command: "python3".into(),
        args: vec!["drift-server.py".into()],
        env: BTreeMap::new(),
        env_names: names.iter().map(|n| (*n).to_owned()).collect(),
        workdir: None,
    });
    m
}

/// Scenario pin-new-env-name-needs-approval.
#[test]
fn a_release_asking_for_a_new_variable_needs_approval() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let v1 = with_env_names(w.manifest("1.0.0", None, pins("")), &["NOTES_DIR"]);
    admit(&w, &v1, &key, false, true).unwrap();
    let before = read(&w.record());
    // Same tools, but the new release takes a token from the caller's environment.
    let v2 = with_env_names(
        w.manifest("1.1.0", Some(&v1), pins("")),
        &["NOTES_DIR", "GITHUB_TOKEN"],
    );
    let bundle = sign(&v2, &key);
    let got = admit_in(&w.store(), &w.tree(), &bundle, &key, false, true);
    expect("pin-new-env-name-needs-approval", &got);
    let a = got.unwrap();
    assert_eq!(reasons(&a), [Reason::NeedsApproval]);
    assert!(
        a.problems[0].message.contains("GITHUB_TOKEN"),
        "{:?}",
        a.problems
    );
    assert!(!a.problems[0].message.contains("NOTES_DIR"));
    assert_eq!(a.new_env_names, ["GITHUB_TOKEN"]);
    assert_eq!(read(&w.record()), before, "a refusal changed the store");
    // Approved: recorded with the approval, and the next release asking for the same is fine.
    let ok = admit_in(&w.store(), &w.tree(), &bundle, &key, true, true).unwrap();
    assert_eq!(ok.outcome, Outcome::Approved);
    let rec = w.store().show(&ServerName::parse(NAME).unwrap()).unwrap();
    assert_eq!(rec.env_names, ["GITHUB_TOKEN", "NOTES_DIR"]);
    assert_eq!(rec.approvals.last().unwrap().env_names, ["GITHUB_TOKEN"]);
    let v3 = with_env_names(w.manifest("1.2.0", Some(&v2), pins("")), &["GITHUB_TOKEN"]);
    let next = admit(&w, &v3, &key, false, true).unwrap();
    assert_eq!(next.outcome, Outcome::Upgraded, "{:?}", next.problems);
}

/// Scenario pin-store-corrupt-left-alone.
#[test]
fn a_corrupt_record_is_reported_and_left_alone() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let v1 = w.manifest("1.0.0", None, pins(""));
    admit(&w, &v1, &key, false, true).unwrap();
    let good = String::from_utf8(read(&w.record())).unwrap();
    let v2 = w.manifest("1.1.0", Some(&v1), v1.tools.clone().unwrap());
    let corruptions = [
        "{ not json".to_owned(),
        good[..good.len() / 2].to_owned(),
        // A duplicate key: readers could disagree on which one counts.
        good.replacen("\"version\":", "\"version\": \"9.9.9\",\n  \"version\":", 1),
        good.replacen("\"schemaVersion\": 1", "\"schemaVersion\": 2", 1),
        good.replacen("\"firstSeen\"", "\"unknownField\": 1,\n  \"firstSeen\"", 1),
        good.replacen(NAME, "io.github.acme/other", 1),
        good.replacen("\"kind\": \"key\"", "\"kind\": \"certificate\"", 1),
        String::new(),
    ];
    for bad in corruptions {
        std::fs::write(w.record(), &bad).unwrap();
        let got = admit(&w, &v2, &key, true, false);
        expect("pin-store-corrupt-left-alone", &got);
        let e = got.unwrap_err();
        assert!(
            e.to_string().contains(&w.record().display().to_string()),
            "the error names the file: {e}"
        );
        assert_eq!(
            read(&w.record()),
            bad.as_bytes(),
            "the corrupt record was rewritten"
        );
    }
    // A record that is not a regular file is corrupt too.
    std::fs::remove_file(w.record()).unwrap();
    std::fs::create_dir(w.record()).unwrap();
    let got = admit(&w, &v2, &key, true, false);
    expect("pin-store-corrupt-left-alone", &got);
    assert!(w.record().is_dir());
    // `pins show` and `pins list` say the same (exit 2, reason code in the JSON error).
    std::fs::remove_dir(w.record()).unwrap();
    std::fs::write(w.record(), "{}").unwrap();
    for args in [
        vec!["pins", "list", "--json"],
        vec!["pins", "show", NAME, "--json"],
    ] {
        let out = pins_cli(&w, &args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["error"]["reason"], "pin-store-corrupt");
        assert!(doc.get("verified").is_none());
    }
}

/// Scenario pin-store-writable-by-others.
#[test]
fn a_store_others_can_write_is_refused() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let v1 = w.manifest("1.0.0", None, pins(""));
    admit(&w, &v1, &key, false, true).unwrap();
    let before = read(&w.record());
    let dir = w.store().dir().to_path_buf();
    let chmod = |p: &Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    // The folder, then a record file, then the data folder above them.
    for (path, mode, restore) in [
        (dir.clone(), 0o770, 0o700),
        (w.record(), 0o620, 0o600),
        (w.data(), 0o707, 0o700),
    ] {
        chmod(&path, mode);
        let got = admit(&w, &v1, &key, false, true);
        expect("pin-store-writable-by-others", &got);
        let e = got.unwrap_err();
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        let out = pins_cli(&w, &["pins", "show", NAME, "--json"]);
        assert_eq!(out.status.code(), Some(2));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["error"]["reason"], "unsafe-pin-store");
        chmod(&path, restore);
        assert_eq!(read(&w.record()), before);
    }
    admit(&w, &v1, &key, false, true).unwrap();
}

/// The path of a workspace binary, built beside the test executable (target/debug).
/// (tests/common has the same helper, but it and mcp_support both load common/skip.rs.)
fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let p = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(
        p.exists(),
        "{} is missing: build the binaries first",
        p.display()
    );
    p
}

/// `mcp-verify pins ...` with the store of `w` (through MCPSIG_DATA_DIR).
fn pins_cli(w: &Work, args: &[&str]) -> Output {
    Command::new(bin("mcp-verify"))
        .args(args)
        .env("MCPSIG_DATA_DIR", w.data())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Scenario pin-forget-through-the-cli.
#[test]
fn pins_list_show_and_forget() {
    let w = Work::new();
    let key = PrivateKey::generate().unwrap();
    let empty = pins_cli(&w, &["pins", "list"]);
    assert_eq!(empty.status.code(), Some(0));
    assert!(text(&empty.stdout).contains("no pins in"));
    let v1 = w.manifest("1.0.0", None, pins(""));
    let v2 = w.manifest("1.1.0", Some(&v1), pins("add-tool"));
    admit(&w, &v1, &key, false, true).unwrap();
    admit(&w, &v2, &key, true, true).unwrap();

    let list = pins_cli(&w, &["pins", "list", "--json"]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let pins = doc["pins"].as_array().unwrap();
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0]["server"], NAME);
    assert_eq!(pins[0]["version"], "1.1.0");
    assert_eq!(pins[0]["signer"]["keyId"], key.key_id().hex());
    assert_eq!(pins[0]["manifestDigest"], v2.digest().to_string());
    assert_eq!(pins[0]["tools"], 4);
    assert_eq!(pins[0]["approvals"], 1);
    let human = pins_cli(&w, &["pins", "list"]);
    let line = text(&human.stdout);
    assert!(
        line.starts_with(&format!("{NAME}  1.1.0  key {}", key.key_id().hex())),
        "{line}"
    );

    let show = pins_cli(&w, &["pins", "show", NAME]);
    assert_eq!(show.status.code(), Some(0));
    let shown = text(&show.stdout);
    for tool in [
        "read_note",
        "write_note",
        "search_notes",
        "export_notes",
        "summarise",
    ] {
        assert!(shown.contains(tool), "{shown}");
    }
    assert!(shown.contains("approved 1.1.0"), "{shown}");
    // --json is the record as stored.
    let show = pins_cli(&w, &["pins", "show", NAME, "--json"]);
    let stored: serde_json::Value = serde_json::from_slice(&read(&w.record())).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&show.stdout).unwrap(),
        stored
    );

    let forget = pins_cli(&w, &["pins", "forget", NAME, "--json"]);
    assert_eq!(forget.status.code(), Some(0), "{}", text(&forget.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&forget.stdout).unwrap();
    assert_eq!(doc["forgotten"], NAME);
    assert_eq!(doc["record"]["version"], "1.1.0");
    assert!(!w.record().exists());
    for args in [["pins", "show", NAME], ["pins", "forget", NAME]] {
        let out = pins_cli(&w, &args);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("has no pin"),
            "{}",
            text(&out.stderr)
        );
    }
    let bad = pins_cli(&w, &["pins", "show", "not-a-name"]);
    assert_eq!(bad.status.code(), Some(2));
    // The next release seen is pinned anew.
    let again = admit(&w, &v2, &key, false, true).unwrap();
    assert_eq!(again.outcome, Outcome::FirstUse);
    let expected = std::fs::read_to_string(
        root().join("testdata/scenarios/pin-forget-through-the-cli/expected"),
    )
    .unwrap();
    assert_eq!(expected.trim(), "accept");
}

// ---------------------------------------------------------------------------------------------
// Concurrency: threads and processes admitting the same releases at once.

const RELEASES: usize = 8;

fn release_version(k: usize) -> String {
    format!("1.{k}.0")
}

/// What one worker saw, one outcome per release in order.
fn worker(dir: &Path) -> Vec<String> {
    let key = PrivateKey::from_pem(
        &std::fs::read_to_string(dir.join("key.pem")).unwrap(),
        || None,
    )
    .unwrap();
    let store = PinStore::open(dir.join("data/pins"));
    (1..=RELEASES)
        .map(|k| {
            let bundle = read(&dir.join(format!("v{k}.sigstore.json")));
            match admit_in(&store, &dir.join("tree"), &bundle, &key, true, true) {
                Ok(a) if a.admitted => serde_json::to_value(a.outcome)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
                Ok(a) => format!("rejected {:?}", reasons(&a)),
                Err(e) => format!("error {e}"),
            }
        })
        .collect()
}

/// The body of a child process of `concurrent_admits_lose_no_update` (run only by it).
#[test]
#[ignore = "a child process of concurrent_admits_lose_no_update"]
fn concurrent_child() {
    let dir = PathBuf::from(std::env::var_os("PIN_STORE_CHILD_DIR").expect("run by the parent"));
    let out = std::env::var_os("PIN_STORE_CHILD_OUT").expect("run by the parent");
    std::fs::write(out, worker(&dir).join("\n")).unwrap();
}

/// Scenario pin-concurrent-admits.
#[test]
fn concurrent_admits_lose_no_update() {
    let w = Work::new();
    let dir = w.dir.path();
    let key = PrivateKey::generate().unwrap();
    std::fs::write(dir.join("key.pem"), key.to_pem(None).unwrap().as_bytes()).unwrap();
    // Releases 1..=8, chained, each adding or removing a tool: every upgrade needs (and gets)
    // an approval, so a lost update would show as a missing or doubled approval.
    let (honest, added) = (pins(""), pins("add-tool"));
    let mut manifests: Vec<Manifest> = Vec::new();
    for k in 1..=RELEASES {
        let tools = if k % 2 == 1 {
            honest.clone()
        } else {
            added.clone()
        };
        let m = w.manifest(&release_version(k), manifests.last(), tools);
        std::fs::write(dir.join(format!("v{k}.sigstore.json")), sign(&m, &key)).unwrap();
        manifests.push(m);
    }
    const PROCESSES: usize = 3;
    const THREADS: usize = 4;
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<(std::process::Child, PathBuf)> = (0..PROCESSES)
        .map(|i| {
            let out = dir.join(format!("child-{i}.txt"));
            let child = Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "concurrent_child",
                    "--test-threads=1",
                ])
                .env("PIN_STORE_CHILD_DIR", dir)
                .env("PIN_STORE_CHILD_OUT", &out)
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            (child, out)
        })
        .collect();
    let mut seen: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS).map(|_| s.spawn(|| worker(dir))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (child, out) in &mut children {
        let deadline = Instant::now() + Duration::from_secs(300);
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                panic!("a child process did not finish");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "a child process failed");
        let lines: Vec<String> = std::fs::read_to_string(out)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(lines.len(), RELEASES);
        seen.push(lines);
    }
    // Every release was admitted by exactly one worker (first use, then one approval each);
    // the others saw it pinned already, or a newer one (a rollback), never an error.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (k, _) in manifests.iter().enumerate() {
        for w in &seen {
            let o = &w[k];
            assert!(
                ["first-use", "approved", "unchanged", "rejected [Rollback]"].contains(&o.as_str()),
                "release {}: {o}",
                k + 1
            );
            if o == "first-use" || o == "approved" {
                *counts.entry(format!("{k}")).or_default() += 1;
            }
        }
    }
    assert_eq!(counts.len(), RELEASES, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    // The store holds the last release, with one approval per upgrade, in order.
    let rec = w.store().show(&ServerName::parse(NAME).unwrap()).unwrap();
    let last = manifests.last().unwrap();
    assert_eq!(rec.version, last.server.version);
    assert_eq!(rec.manifest_digest, last.digest());
    assert_eq!(rec.tools.as_ref(), last.tools.as_ref());
    let approved: Vec<String> = rec
        .approvals
        .iter()
        .map(|a| a.version.to_string())
        .collect();
    let expected: Vec<String> = (2..=RELEASES).map(release_version).collect();
    assert_eq!(approved, expected);
    // Nothing else was left in the store (no temporary files).
    let mut names: Vec<String> = std::fs::read_dir(w.store().dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let record = w
        .record()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(names, [".lock".to_owned(), record]);
    // And the last release is simply the pinned one.
    let last_bundle = read(&dir.join(format!("v{RELEASES}.sigstore.json")));
    let got = admit_in(&w.store(), &w.tree(), &last_bundle, &key, false, true);
    expect("pin-concurrent-admits", &got);
    assert_eq!(got.unwrap().outcome, Outcome::Unchanged);
}

/// Every pin-* scenario directory is one of the tests above (none is left unrun).
#[test]
fn every_pin_scenario_is_run_here() {
    let this = std::fs::read_to_string(root().join("tests/pin_store.rs")).unwrap();
    let mut seen = 0;
    for e in std::fs::read_dir(root().join("testdata/scenarios")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("pin-") {
            seen += 1;
            assert!(
                this.contains(&format!("/// Scenario {name}.")),
                "testdata/scenarios/{name} is run by no test"
            );
        }
    }
    assert!(seen >= 14, "pin scenarios missing: found {seen}");
}
