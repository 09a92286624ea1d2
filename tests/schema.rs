//! spec/manifest-v1.schema.json (with tool-pins.schema.json) agrees with the code: every manifest
//! the code accepts validates, and manifests the code rejects for a schema-expressible reason do
//! not. Checked with the reference `jsonschema` implementation (scripts/setup-spec.sh).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use common::{root, run};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

fn predicate_of(bundle: &std::path::Path) -> Value {
    try_predicate_of(bundle).expect("bundle holds a JSON statement")
}

/// The signed predicate, or `None` when the bundle (a malformed scenario) holds none.
fn try_predicate_of(bundle: &std::path::Path) -> Option<Value> {
    let b: Value = serde_json::from_slice(&std::fs::read(bundle).ok()?).ok()?;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(b["dsseEnvelope"]["payload"].as_str()?)
        .ok()?;
    let st: Value = serde_json::from_slice(&payload).ok()?;
    Some(st["predicate"].clone())
}

#[test]
fn schema_agrees_with_the_code() {
    let python = root().join(".venv-spec/bin/python");
    if !python.exists() {
        if common::skip_external() {
            return;
        }
        panic!("{} is missing: run scripts/setup-spec.sh", python.display());
    }
    let scen = root().join("testdata/scenarios");
    let mut accept = serde_json::Map::new();
    let mut reject = serde_json::Map::new();
    for e in std::fs::read_dir(&scen).unwrap() {
        let dir = e.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(expected) = std::fs::read_to_string(dir.join("expected")) else {
            continue;
        };
        if name.starts_with("sigstore-")
            || name.starts_with("keyless-")
            || !dir.join("bundle.sigstore.json").exists()
        {
            continue;
        }
        let schema_expressible = [
            "unknown-field-in-signed-manifest",
            "unknown-artifact-kind",
            "path-traversal-in-manifest",
            "absolute-path-in-manifest",
        ];
        if expected.trim() == "accept" || !expected.contains("malformed") {
            if let Some(v) = try_predicate_of(&dir.join("bundle.sigstore.json"))
                && v.is_object()
                && expected.trim() != "reject malformed-statement"
            {
                accept.insert(name.clone(), v);
            }
        } else if schema_expressible.contains(&name.as_str()) {
            reject.insert(
                name.clone(),
                predicate_of(&dir.join("bundle.sigstore.json")),
            );
        }
    }
    // A manifest written by the real binary, with launch, env names, excludes, expiry and previous.
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("server");
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("bin/run"), "x").unwrap();
    std::os::unix::fs::symlink("bin/run", dir.join("run")).unwrap();
    let m1 = t.path().join("m1.json");
    let m2 = t.path().join("m2.json");
    assert!(
        run(
            "mcp-sign",
            &[
                "init",
                "--name",
                "io.github.acme/x",
                "--version",
                "1",
                "--dir",
                dir.to_str().unwrap(),
                "-o",
                m1.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let out = run(
        "mcp-sign",
        &[
            "init",
            "--name",
            "io.github.acme/x",
            "--version",
            "2",
            "--dir",
            dir.to_str().unwrap(),
            "--launch",
            "node 'a b.js'",
            "--env-name",
            "API_TOKEN",
            "--exclude",
            "**/*.log",
            "--expires-in-days",
            "30",
            "--previous",
            m1.to_str().unwrap(),
            "-o",
            m2.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut m2v: Value = serde_json::from_slice(&std::fs::read(&m2).unwrap()).unwrap();
    accept.insert("init-output".into(), m2v.clone());
    // The same manifest with tool pins captured from a real server (the tool-* scenarios' pins).
    let pins: Value =
        serde_json::from_slice(&std::fs::read(scen.join("tool-unchanged/pins.json")).unwrap())
            .unwrap();
    m2v["tools"] = pins;
    accept.insert("init-output-with-tools".into(), m2v.clone());
    let mut bad_pins = m2v.clone();
    bad_pins["tools"]["profile"]["secretValues"] = json!({"API_TOKEN": "x"});
    reject.insert("tools-profile-unknown-field".into(), bad_pins);
    let mut bad_digest = m2v;
    bad_digest["previous"] = json!("sha256:ABC");
    reject.insert("uppercase-digest".into(), bad_digest);

    let mut child = Command::new(&python)
        .arg(root().join("tests/support/validate_schema.py"))
        .arg(root().join("spec"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let docs = json!({"accept": accept, "reject": reject});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(docs.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        accept.len() >= 10 && reject.len() >= 5,
        "too few documents: {} / {}",
        accept.len(),
        reject.len()
    );
    assert!(
        out.status.success(),
        "schema disagrees with the code:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
