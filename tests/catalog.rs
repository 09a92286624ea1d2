//! `mcp-verify catalog` through the real binary: a catalog of bundles signed in the test (the
//! key made by `mcp-sign keygen`, the manifest by `mcp-sign init`, one bundle by `mcp-sign
//! sign`, the others by the library with the same key), verified in parallel, one line (or JSON
//! object) per bundle, in input order, and a summary.
//!
//! The `catalog-*` scenarios (testdata/scenarios) are run by `every_catalog_scenario`: each adds
//! one odd entry to a catalog of signed bundles. `case` holds `key = value` lines:
//! - `odd`: `none`; `tampered` (a payload byte changed after signing); `other-key` (signed by
//!   another key); `truncated` (a signed bundle cut in half); `expired` (its manifest expired);
//!   `file` (the scenario's `bundle.sigstore.json`); `symlink-to-bundle` and `symlink-to-dir`
//!   (a link inside the catalog to a bundle, or to a folder holding one, outside it, signed by
//!   another key); `fifo` (a fifo named like a bundle); `missing` (a list entry naming no file); `bad-line` (a list line that is
//!   not a path); `unlisted-server` (a bundle for a server no policy rule names); `revoked` (its
//!   manifest on the policy's revocation list); `empty` (no bundle at all);
//! - `input`: `dir` (default: the catalog folder), `jsonl` (a list file naming each bundle,
//!   relative to it) or `stdin` (the same list on standard input, absolute paths);
//! - `trust`: `key` (default, `--key`) or `policy` (the scenario's `policy.toml`, whose key
//!   files `catalog.pub` and `revocation.pub` and list `revocations.json` the test writes;
//!   `{url}` in it is that list served on loopback for one request only).
//!
//! `expected`: `accept` (exit 0, all OK), `reject REASON` or `error REASON` (exit 1 or 2; the
//! odd entry is REJECTED or ERROR with that reason, every other one OK), `skip` (exit 0, the odd
//! entry SKIPPED, what it points at never reported), `reject-all REASON` (exit 1, every bundle
//! REJECTED with that reason) or `empty` (exit 2, no bundle found).

#![allow(clippy::unwrap_used, clippy::expect_used)]

// Both helpers include tests/common/skip.rs; each is needed (binaries, the Sigstore instance).
#[allow(clippy::duplicate_mod)]
mod common;
mod keyless_common;

use common::{bin, root, serve_once, text};
use mcpsig::keys::PrivateKey;
use mcpsig::manifest::{Manifest, ServerName, Timestamp, Version};
use mcpsig::sign::{KeySigner, sign_manifest};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Signed bundles in each scenario's catalog, beside its odd entry.
const SCENARIO_BUNDLES: usize = 12;

/// A work folder with a release key and another key (both from `mcp-sign keygen`) and a
/// manifest `mcp-sign init` made, to sign variants of.
struct Fixture {
    work: tempfile::TempDir,
    key: PrivateKey,
    other: PrivateKey,
    manifest: Manifest,
}

impl Fixture {
    fn new() -> Fixture {
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        std::fs::create_dir_all(w.join("srv/lib")).unwrap();
        std::fs::write(w.join("srv/server.py"), "print('hi')\n").unwrap();
        std::fs::write(w.join("srv/lib/util.py"), "X = 1\n").unwrap();
        for (name, out) in [("catalog", "catalog.key"), ("other", "other.key")] {
            let o = sign(&["keygen", "--out", s(&w.join(out))]);
            assert!(o.status.success(), "keygen {name}: {}", text(&o.stderr));
        }
        let manifest = w.join("m.json");
        let o = sign(&[
            "init",
            "--name",
            "io.example/catalog-base",
            "--version",
            "1.0.0",
            "--dir",
            s(&w.join("srv")),
            "--launch",
            "python3 server.py",
            "-o",
            s(&manifest),
        ]);
        assert!(o.status.success(), "init: {}", text(&o.stderr));
        let read_key = |name: &str| {
            PrivateKey::from_pem(&std::fs::read_to_string(w.join(name)).unwrap(), || None).unwrap()
        };
        Fixture {
            key: read_key("catalog.key"),
            other: read_key("other.key"),
            manifest: Manifest::from_json(&std::fs::read(&manifest).unwrap()).unwrap(),
            work,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.work.path().join(rel)
    }

    fn variant(&self, name: &str) -> Manifest {
        let mut m = self.manifest.clone();
        m.server.name = ServerName::parse(name).unwrap();
        m.server.version = Version::parse("1.0.0").unwrap();
        m
    }

    fn sign_with(&self, m: &Manifest, key: &PrivateKey) -> Vec<u8> {
        sign_manifest(m, &KeySigner::new(key))
            .unwrap()
            .to_json_pretty()
    }

    /// Bundle `i` of the catalog, for server `io.example/catalog-{i}`.
    fn bundle(&self, i: usize) -> Vec<u8> {
        self.sign_with(&self.variant(&format!("io.example/catalog-{i}")), &self.key)
    }

    /// `n` signed bundles in `dir`, spread over three sub-folders; bundle 0 is signed by
    /// `mcp-sign sign` itself. Returns their paths, in no particular order.
    fn catalog(&self, dir: &Path, n: usize) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        for i in 0..n {
            let sub = dir.join(format!("part{}", i % 3));
            std::fs::create_dir_all(&sub).unwrap();
            let path = sub.join(format!("b{i}.sigstore.json"));
            if i == 0 {
                let m = self.path("m0.json");
                std::fs::write(&m, self.variant("io.example/catalog-0").to_json_pretty()).unwrap();
                let o = sign(&[
                    "sign",
                    "--key",
                    s(&self.path("catalog.key")),
                    "-o",
                    s(&path),
                    s(&m),
                ]);
                assert!(o.status.success(), "sign: {}", text(&o.stderr));
            } else {
                std::fs::write(&path, self.bundle(i)).unwrap();
            }
            paths.push(path);
        }
        paths
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn sign(args: &[&str]) -> Output {
    Command::new(bin("mcp-sign"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("MCPSIG_KEY_PASSPHRASE")
        .output()
        .unwrap()
}

fn catalog(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(bin("mcp-verify"));
    cmd.arg("catalog")
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// The text report as (verdict, path, rest) per line.
fn lines(out: &Output) -> Vec<(String, String, String)> {
    text(&out.stdout)
        .lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let verdict = parts.next().unwrap().to_owned();
            let path = parts.next().unwrap_or("").trim_end_matches(':').to_owned();
            (verdict, path, parts.next().unwrap_or("").to_owned())
        })
        .collect()
}

/// The --json report: one object per entry (by `bundle`), and the summary.
fn json_lines(out: &Output) -> (Vec<Value>, Value) {
    let mut docs: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let summary = docs.pop().expect("a summary line");
    assert!(summary.get("summary").is_some(), "last line: {summary}");
    (docs, summary)
}

fn key_args(fx: &Fixture) -> Vec<String> {
    vec![
        "--key".into(),
        fx.path("catalog.key.pub").display().to_string(),
    ]
}

fn args<'a>(paths: &'a [&'a str], rest: &'a [String]) -> Vec<&'a str> {
    paths
        .iter()
        .copied()
        .chain(rest.iter().map(String::as_str))
        .collect()
}

#[test]
fn hundreds_of_bundles_verified_and_each_bad_one_rejected_with_its_reason() {
    let fx = Fixture::new();
    let dir = fx.path("catalog");
    let good = fx.catalog(&dir, 300);
    let out = catalog(&args(&[s(&dir)], &key_args(&fx)), None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let l = lines(&out);
    assert_eq!(l.len(), 300);
    assert!(l.iter().all(|(v, _, _)| v == "OK"), "{}", text(&out.stdout));
    let mut shown: Vec<&str> = l.iter().map(|(_, p, _)| p.as_str()).collect();
    shown.sort();
    let mut expected: Vec<&str> = good.iter().map(|p| s(p)).collect();
    expected.sort();
    assert_eq!(shown, expected, "every bundle reported once");
    let one = l
        .iter()
        .find(|(_, p, _)| p.ends_with("/b7.sigstore.json"))
        .unwrap();
    assert!(
        one.2.starts_with("io.example/catalog-7 1.0.0 key "),
        "{one:?}"
    );
    let summary = text(&out.stderr);
    assert!(
        summary.contains("300 bundles: 300 verified, 0 rejected"),
        "{summary}"
    );

    // Four bad ones among them: each rejected with its own reason, the others still OK.
    let sub = dir.join("part1");
    let mut tampered = fx.bundle(1000);
    tamper(&mut tampered);
    std::fs::write(sub.join("tampered.sigstore.json"), tampered).unwrap();
    let other = fx.sign_with(&fx.variant("io.example/other"), &fx.other);
    std::fs::write(sub.join("other-key.sigstore.json"), other).unwrap();
    std::fs::write(sub.join("malformed.sigstore.json"), "{\"mediaType\": ").unwrap();
    let whole = fx.bundle(1001);
    std::fs::write(
        sub.join("truncated.sigstore.json"),
        &whole[..whole.len() / 2],
    )
    .unwrap();
    let expected_reasons = [
        ("tampered", "bad-signature"),
        ("other-key", "untrusted-signer"),
        ("malformed", "malformed-bundle"),
        ("truncated", "malformed-bundle"),
    ];

    let out = catalog(&args(&[s(&dir)], &key_args(&fx)), None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let l = lines(&out);
    assert_eq!(l.len(), 304);
    for (name, reason) in expected_reasons {
        let line = l
            .iter()
            .find(|(_, p, _)| p.ends_with(&format!("/{name}.sigstore.json")))
            .unwrap_or_else(|| panic!("{name} not reported"));
        assert_eq!(line.0, "REJECTED", "{line:?}");
        assert!(line.2.starts_with(&format!("{reason}: ")), "{line:?}");
    }
    assert_eq!(l.iter().filter(|(v, _, _)| v == "OK").count(), 300);
    assert!(
        text(&out.stderr).contains("304 bundles: 300 verified, 4 rejected, 0 could not be read"),
        "{}",
        text(&out.stderr)
    );

    // The same as JSON lines, each parseable, with the report's shape and the bundle's path.
    let mut json_args = key_args(&fx);
    json_args.push("--json".into());
    let out = catalog(&args(&[s(&dir)], &json_args), None);
    assert_eq!(out.status.code(), Some(1));
    let (docs, summary) = json_lines(&out);
    assert_eq!(docs.len(), 304);
    for (name, reason) in expected_reasons {
        let doc = docs
            .iter()
            .find(|d| {
                d["bundle"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{name}.sigstore.json"))
            })
            .unwrap();
        assert_eq!(doc["verified"], false, "{doc}");
        assert_eq!(doc["problems"][0]["reason"], reason, "{doc}");
    }
    let ok = docs.iter().find(|d| d["verified"] == true).unwrap();
    assert_eq!(
        ok["signatureOnly"], true,
        "artifacts are not re-hashed: {ok}"
    );
    assert_eq!(ok["signer"]["kind"], "key");
    assert!(
        ok["server"]["name"]
            .as_str()
            .unwrap()
            .starts_with("io.example/catalog-")
    );
    let counts = &summary["summary"];
    assert_eq!(
        (
            &counts["bundles"],
            &counts["verified"],
            &counts["rejected"],
            &counts["undecided"]
        ),
        (
            &Value::from(304),
            &Value::from(300),
            &Value::from(4),
            &Value::from(0)
        )
    );
    assert!(counts["bundlesPerSecond"].as_f64().unwrap() > 0.0);
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));

    // One worker or several: the same report, line for line (input order).
    let one = catalog(&args(&[s(&dir), "--jobs", "1"], &key_args(&fx)), None);
    let four = catalog(&args(&[s(&dir), "--jobs", "4"], &key_args(&fx)), None);
    assert_eq!(text(&one.stdout), text(&four.stdout));
}

/// Changes one character of the DSSE payload (base64), after signing.
fn tamper(bundle: &mut Vec<u8>) {
    let mut v: Value = serde_json::from_slice(bundle).unwrap();
    let payload = v["dsseEnvelope"]["payload"].as_str().unwrap().to_owned();
    let mut chars: Vec<char> = payload.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    v["dsseEnvelope"]["payload"] = Value::from(chars.into_iter().collect::<String>());
    *bundle = serde_json::to_vec_pretty(&v).unwrap();
}

#[test]
fn lists_name_bundles_in_order_from_a_file_or_stdin() {
    let fx = Fixture::new();
    let dir = fx.path("catalog");
    let paths = fx.catalog(&dir, 30);
    // A file list: plain strings and objects, relative to the list's folder, blank lines
    // ignored; output in the list's order.
    let mut list = String::new();
    for (i, p) in paths.iter().enumerate().rev() {
        let rel = p
            .strip_prefix(fx.work.path())
            .unwrap()
            .display()
            .to_string();
        if i % 2 == 0 {
            list.push_str(&format!("{}\n\n", serde_json::to_string(&rel).unwrap()));
        } else {
            list.push_str(&format!(
                "{{\"bundle\": {}, \"note\": 1}}\n",
                serde_json::to_string(&rel).unwrap()
            ));
        }
    }
    std::fs::write(fx.path("list.jsonl"), &list).unwrap();
    let out = catalog(&args(&[s(&fx.path("list.jsonl"))], &key_args(&fx)), None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let shown: Vec<String> = lines(&out).into_iter().map(|(_, p, _)| p).collect();
    let wanted: Vec<String> = paths
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(shown, wanted, "in the list's order");

    // The same list on stdin, with absolute paths, then a bundle file and the list file again.
    let stdin: String = paths
        .iter()
        .map(|p| {
            format!(
                "{}\n",
                serde_json::to_string(&p.display().to_string()).unwrap()
            )
        })
        .collect();
    let out = catalog(
        &args(
            &["-", s(&paths[3]), s(&fx.path("list.jsonl"))],
            &key_args(&fx),
        ),
        Some(&stdin),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown: Vec<String> = lines(&out).into_iter().map(|(_, p, _)| p).collect();
    assert_eq!(shown.len(), 61);
    assert_eq!(shown[0], paths[0].display().to_string());
    assert_eq!(shown[30], paths[3].display().to_string());
    assert_eq!(shown[31], wanted[0]);
}

#[test]
fn symlinks_inside_a_directory_are_not_followed_but_a_named_one_is() {
    let fx = Fixture::new();
    let dir = fx.path("catalog");
    fx.catalog(&dir, 5);
    // Outside the catalog: a bundle another key signed, alone and in a folder.
    let outside = fx.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let foreign = outside.join("foreign.sigstore.json");
    std::fs::write(
        &foreign,
        fx.sign_with(&fx.variant("io.example/foreign"), &fx.other),
    )
    .unwrap();
    std::os::unix::fs::symlink(&foreign, dir.join("link.sigstore.json")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("part0/outside-dir")).unwrap();
    let out = catalog(&args(&[s(&dir)], &key_args(&fx)), None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report = text(&out.stdout);
    assert!(!report.contains("foreign"), "{report}");
    assert!(
        report.contains(&format!(
            "SKIPPED {}: symbolic link, not followed",
            s(&dir.join("link.sigstore.json"))
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "SKIPPED {}: symbolic link to a directory, not followed",
            s(&dir.join("part0/outside-dir"))
        )),
        "{report}"
    );
    assert!(
        text(&out.stderr)
            .contains("5 bundles: 5 verified, 0 rejected, 0 could not be read, 2 skipped")
    );

    // Named on the command line, the link is the user's choice: followed.
    let link = dir.join("link.sigstore.json");
    let out = catalog(&args(&[s(&link)], &key_args(&fx)), None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).starts_with(&format!("REJECTED {} untrusted-signer: ", s(&link))));
}

#[test]
fn a_file_name_cannot_forge_a_report_line() {
    let fx = Fixture::new();
    let dir = fx.path("catalog");
    std::fs::create_dir_all(&dir).unwrap();
    let name = "x\nOK forged\u{1b}[2K.sigstore.json";
    std::fs::write(dir.join(name), "not json").unwrap();
    let out = catalog(&args(&[s(&dir)], &key_args(&fx)), None);
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    assert_eq!(report.lines().count(), 1, "{report}");
    assert!(report.starts_with("REJECTED "), "{report}");
    assert!(report.contains("x\\u{a}OK forged\\u{1b}[2K"), "{report}");
    assert!(!report.contains('\u{1b}'));
}

#[test]
fn inputs_that_cannot_be_used_are_usage_errors() {
    let fx = Fixture::new();
    let dir = fx.path("catalog");
    fx.catalog(&dir, 2);
    let missing = fx.path("missing");
    let missing_list = fx.path("missing.jsonl");
    let cases: [(Vec<&str>, &str); 4] = [
        (vec![s(&missing)], "cannot read"),
        (
            vec!["-", "-"],
            "standard input (`-`) is given more than once",
        ),
        (vec![s(&dir), "--jobs", "0"], "--jobs"),
        (vec![s(&missing_list)], "cannot read"),
    ];
    for (a, expected) in cases {
        let out = catalog(&args(&a, &key_args(&fx)), None);
        assert_eq!(out.status.code(), Some(2), "{a:?}");
        assert!(out.stdout.is_empty(), "{a:?}: {}", text(&out.stdout));
        assert!(
            text(&out.stderr).contains(expected),
            "{a:?}: {}",
            text(&out.stderr)
        );
    }
    // No trust, or a key with a policy: exit 2 before anything is read.
    let out = catalog(&[s(&dir)], None);
    assert_eq!(out.status.code(), Some(2));
    let policy = fx.path("p.toml");
    std::fs::write(&policy, "schema-version = 1\n").unwrap();
    let out = catalog(
        &args(&[s(&dir), "--policy", s(&policy)], &key_args(&fx)),
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--policy"),
        "{}",
        text(&out.stderr)
    );
    // --json errors are JSON too.
    let out = catalog(&args(&[s(&missing), "--json"], &key_args(&fx)), None);
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot read")
    );
}

/// Keyless bundles from the loopback Sigstore instance, verified against an identity: the
/// trusted root and the identity policy are given once for the whole catalog.
#[test]
fn keyless_bundles_verify_against_an_identity() {
    const ISSUER: &str = "https://issuer.example";
    const SUBJECT: &str = "https://example.com/catalog-publisher";
    let Some(instance) = keyless_common::Instance::start(&[]).unwrap() else {
        return;
    };
    let fx = Fixture::new();
    let dir = fx.path("keyless");
    std::fs::create_dir_all(&dir).unwrap();
    let token = mcpsig::sign::oidc::IdentityToken::parse(
        &keyless_common::token(ISSUER, SUBJECT, &[]),
        "test",
    )
    .unwrap();
    let config =
        mcpsig::sigstore::signing_config::SigningConfig::from_file(&instance.signing_config())
            .unwrap();
    let signer = mcpsig::sign::keyless::KeylessSigner::new(
        token,
        &config,
        std::time::Duration::from_secs(30),
    )
    .unwrap();
    for i in 0..6 {
        let m = fx.variant(&format!("io.example/keyless-{i}"));
        let bundle = sign_manifest(&m, &signer as &dyn mcpsig::sign::Signer).unwrap();
        std::fs::write(
            dir.join(format!("k{i}.sigstore.json")),
            bundle.to_json_pretty(),
        )
        .unwrap();
    }
    std::fs::write(dir.join("key-signed.sigstore.json"), fx.bundle(1)).unwrap();
    let root = instance.trusted_root();
    let trust = [
        "--certificate-identity",
        SUBJECT,
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        s(&root),
    ];
    let out = catalog(&args(&[s(&dir)], &trust.map(String::from)), None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let l = lines(&out);
    assert_eq!(l.len(), 7, "{}", text(&out.stdout));
    for (verdict, path, rest) in &l {
        if path.ends_with("key-signed.sigstore.json") {
            assert_eq!(verdict, "REJECTED");
            assert!(rest.starts_with("untrusted-signer: "), "{rest}");
        } else {
            assert_eq!(verdict, "OK", "{path} {rest}");
            assert!(rest.ends_with(&format!("{SUBJECT} ({ISSUER})")), "{rest}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

#[test]
fn every_catalog_scenario() {
    let dir = root().join("testdata/scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("catalog-"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "catalog scenarios: {names:?}");
    let fx = Fixture::new();
    let mut failures = Vec::new();
    for name in &names {
        if let Err(e) = run_scenario(&fx, &dir.join(name), name) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn verdict_of(expected: &str) -> &str {
    expected.split(' ').next().unwrap_or("")
}

fn read_case(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(dir.join("case"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn run_scenario(fx: &Fixture, scenario: &Path, name: &str) -> Result<(), String> {
    let case = read_case(scenario);
    let get = |k: &str, default: &str| case.get(k).cloned().unwrap_or_else(|| default.to_owned());
    let expected = std::fs::read_to_string(scenario.join("expected"))
        .map_err(|e| format!("no expected file: {e}"))?;
    let expected = expected.trim().to_owned();
    let work = fx.path(name);
    let cat = work.join("catalog");
    std::fs::create_dir_all(&cat).unwrap();
    let odd = get("odd", "none");
    let mut bundles = if odd == "empty" {
        Vec::new()
    } else {
        fx.catalog(&cat, SCENARIO_BUNDLES)
    };
    // The odd entry: a path in the catalog (or a list entry), and what it must not reveal.
    let odd_path = cat.join(format!("odd-{odd}.sigstore.json"));
    let mut hidden: Option<&str> = None;
    let mut list_extra: Option<String> = None;
    let odd_manifest = fx.variant("io.example/odd");
    match odd.as_str() {
        "none" | "empty" => {}
        "tampered" => {
            let mut b = fx.sign_with(&odd_manifest, &fx.key);
            tamper(&mut b);
            std::fs::write(&odd_path, b).unwrap();
        }
        "other-key" => std::fs::write(&odd_path, fx.sign_with(&odd_manifest, &fx.other)).unwrap(),
        "truncated" => {
            let b = fx.sign_with(&odd_manifest, &fx.key);
            std::fs::write(&odd_path, &b[..b.len() / 2]).unwrap();
        }
        "expired" => {
            let mut m = odd_manifest.clone();
            m.issued_at = Timestamp("2020-01-01T00:00:00Z".parse().unwrap());
            m.expires_at = Some(Timestamp("2021-01-01T00:00:00Z".parse().unwrap()));
            std::fs::write(&odd_path, fx.sign_with(&m, &fx.key)).unwrap();
        }
        "unlisted-server" => {
            let m = fx.variant("io.other/unlisted");
            std::fs::write(&odd_path, fx.sign_with(&m, &fx.key)).unwrap();
        }
        "revoked" => std::fs::write(&odd_path, fx.sign_with(&odd_manifest, &fx.key)).unwrap(),
        "file" => {
            std::fs::copy(scenario.join("bundle.sigstore.json"), &odd_path).unwrap();
        }
        "symlink-to-bundle" | "symlink-to-dir" => {
            let outside = work.join("outside");
            std::fs::create_dir_all(&outside).unwrap();
            let foreign = outside.join("foreign.sigstore.json");
            let m = fx.variant("io.example/foreign");
            std::fs::write(&foreign, fx.sign_with(&m, &fx.other)).unwrap();
            let target = if odd == "symlink-to-dir" {
                outside
            } else {
                foreign
            };
            std::os::unix::fs::symlink(target, &odd_path).unwrap();
            hidden = Some("foreign");
        }
        "fifo" => {
            let st = Command::new("mkfifo").arg(&odd_path).status().unwrap();
            assert!(st.success());
        }
        "missing" => list_extra = Some(s(&odd_path).to_owned()),
        "bad-line" => list_extra = Some("{\"path\": 1}".to_owned()),
        other => return Err(format!("unknown odd entry `{other}`")),
    }
    if odd_path.exists() || odd_path.is_symlink() {
        bundles.push(odd_path.clone());
    }
    // The inputs.
    let input = get("input", "dir");
    let mut stdin = None;
    let list_lines = || {
        let mut lines: Vec<String> = bundles
            .iter()
            .map(|p| serde_json::to_string(&p.display().to_string()).unwrap())
            .collect();
        if let Some(extra) = &list_extra {
            let line = if extra.starts_with('{') {
                extra.clone()
            } else {
                serde_json::to_string(extra).unwrap()
            };
            lines.insert(lines.len() / 2, line);
        }
        lines.join("\n") + "\n"
    };
    let path_arg = match input.as_str() {
        "dir" => cat.display().to_string(),
        "jsonl" => {
            let list = work.join("bundles.jsonl");
            std::fs::write(&list, list_lines()).unwrap();
            list.display().to_string()
        }
        "stdin" => {
            stdin = Some(list_lines());
            "-".to_owned()
        }
        other => return Err(format!("unknown input `{other}`")),
    };
    // The trust.
    let mut trust: Vec<String> = match get("trust", "key").as_str() {
        "key" => key_args(fx),
        "policy" => {
            for f in ["catalog.key.pub", "other.key.pub"] {
                std::fs::copy(fx.path(f), work.join(f.replace(".key", ""))).unwrap();
            }
            let o = sign(&["keygen", "--out", s(&work.join("revocation.key"))]);
            assert!(o.status.success());
            std::fs::rename(work.join("revocation.key.pub"), work.join("revocation.pub")).unwrap();
            let digest = odd_manifest.digest().to_string();
            let o = sign(&[
                "revoke",
                "--key",
                s(&work.join("revocation.key")),
                "--revoke-manifest",
                &digest,
                "-o",
                s(&work.join("revocations.json")),
            ]);
            assert!(o.status.success(), "revoke: {}", text(&o.stderr));
            // `{url}`: the list served on loopback for ONE request only (one server per run
            // below), so a second fetch would make every later bundle `revocation-stale`.
            let policy = std::fs::read_to_string(scenario.join("policy.toml")).unwrap();
            for run in ["text", "json"] {
                let list = std::fs::read(work.join("revocations.json")).unwrap();
                let policy = policy.replace("{url}", &serve_once(list));
                std::fs::write(work.join(format!("policy-{run}.toml")), policy).unwrap();
            }
            vec![
                "--policy".into(),
                work.join("policy-text.toml").display().to_string(),
            ]
        }
        other => return Err(format!("unknown trust `{other}`")),
    };
    let mut all_args = vec![path_arg.clone()];
    all_args.append(&mut trust);
    let refs: Vec<&str> = all_args.iter().map(String::as_str).collect();
    let out = catalog(&refs, stdin.as_deref());
    let json_policy = work.join("policy-json.toml").display().to_string();
    let mut json_refs: Vec<&str> = refs
        .iter()
        .map(|a| {
            if a.ends_with("policy-text.toml") {
                json_policy.as_str()
            } else {
                a
            }
        })
        .collect();
    json_refs.push("--json");
    let json_out = catalog(&json_refs, stdin.as_deref());
    let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
    if out.status.code() != json_out.status.code() {
        return Err(format!("text and --json exit codes differ: {shown}"));
    }
    let (docs, summary) = json_lines(&json_out);
    let report = lines(&out);
    if report.len() != docs.len() {
        return Err(format!(
            "{} text lines, {} JSON objects",
            report.len(),
            docs.len()
        ));
    }
    if let Some(h) = hidden
        && shown.contains(h)
    {
        return Err(format!(
            "`{h}` was reached through a symbolic link: {shown}"
        ));
    }
    // Every entry but the odd one is OK (unless every one is to be rejected).
    let is_odd =
        |p: &str| p.contains("odd-") || p.contains("bundles.jsonl:") || p.starts_with("-:");
    let others_ok = report
        .iter()
        .filter(|(_, p, _)| !is_odd(p))
        .all(|(v, _, _)| v == "OK");
    let ok_count = report.iter().filter(|(v, _, _)| v == "OK").count();
    if !others_ok && verdict_of(&expected) != "reject-all" {
        return Err(format!("an ordinary bundle was not OK: {shown}"));
    }
    let odd_line = report.iter().find(|(_, p, _)| is_odd(p));
    let code = out.status.code().unwrap_or(-1);
    let (verdict, reason) = expected.split_once(' ').unwrap_or((expected.as_str(), ""));
    match verdict {
        "accept" => {
            if code != 0 || ok_count != report.len() || report.is_empty() {
                return Err(format!("expected accept (exit 0), got {code}: {shown}"));
            }
        }
        "reject" | "error" => {
            let (want_code, want_word) = if verdict == "reject" {
                (1, "REJECTED")
            } else {
                (2, "ERROR")
            };
            let Some((v, _, rest)) = odd_line else {
                return Err(format!("the odd entry is not reported: {shown}"));
            };
            if code != want_code || v != want_word || !rest.starts_with(&format!("{reason}: ")) {
                return Err(format!(
                    "expected {want_word} {reason} (exit {want_code}), got {code}: {shown}"
                ));
            }
            let doc = docs
                .iter()
                .find(|d| is_odd(d["bundle"].as_str().unwrap_or("")))
                .unwrap();
            let json_reason = if verdict == "reject" {
                doc["problems"][0]["reason"].clone()
            } else {
                doc["error"]["reason"].clone()
            };
            if json_reason != reason || doc["verified"] != false {
                return Err(format!("--json disagrees: {doc}"));
            }
        }
        "reject-all" => {
            let all = report
                .iter()
                .all(|(v, _, rest)| v == "REJECTED" && rest.starts_with(&format!("{reason}: ")));
            if code != 1 || report.is_empty() || !all {
                return Err(format!(
                    "expected every bundle REJECTED {reason} (exit 1), got {code}: {shown}"
                ));
            }
        }
        "skip" => {
            let Some((v, _, _)) = odd_line else {
                return Err(format!("the odd entry is not reported: {shown}"));
            };
            if code != 0 || v != "SKIPPED" || summary["summary"]["skipped"] != 1 {
                return Err(format!(
                    "expected the odd entry skipped (exit 0), got {code}: {shown}"
                ));
            }
        }
        "empty" => {
            if code != 2 || !report.is_empty() || !shown.contains("no bundle found") {
                return Err(format!("expected no bundle (exit 2), got {code}: {shown}"));
            }
            if summary["summary"]["bundles"] != 0 || summary["error"]["reason"] != "error" {
                return Err(format!("--json summary: {summary}"));
            }
        }
        other => return Err(format!("unknown expectation `{other}`")),
    }
    Ok(())
}
