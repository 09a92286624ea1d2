//! spec/manifest-v1.schema.json (with tool-pins.schema.json) agrees with the code: every manifest
//! the code accepts validates, and manifests the code rejects for a schema-expressible reason do
//! not. Checked with the reference `jsonschema` implementation (scripts/setup-spec.sh).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use common::{root, run, text};
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

/// Runs tests/support/validate_schema.py on the documents (against `schema`, default the
/// manifest's) and returns its output.
fn validate(
    python: &std::path::Path,
    schema: Option<&str>,
    accept: &serde_json::Map<String, Value>,
    reject: &serde_json::Map<String, Value>,
) -> std::process::Output {
    let mut cmd = Command::new(python);
    cmd.arg(root().join("tests/support/validate_schema.py"))
        .arg(root().join("spec"));
    if let Some(s) = schema {
        cmd.arg(s);
    }
    let mut child = cmd
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
    child.wait_with_output().unwrap()
}

fn spec_python() -> Option<std::path::PathBuf> {
    let python = root().join(".venv-spec/bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        common::skip_external(),
        "{} is missing: run scripts/setup-spec.sh",
        python.display()
    );
    None
}

/// spec/revocations-v1.schema.json and spec/pin-record-v1.schema.json agree with what the code
/// writes (a list signed by `mcp-sign revoke`, a record the pin store wrote for a real release)
/// and refuse what the code refuses.
#[test]
fn revocation_and_pin_record_schemas_agree_with_the_code() {
    let Some(python) = spec_python() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let p = |name: &str| t.path().join(name).display().to_string();
    assert!(
        run("mcp-sign", &["keygen", "--out", &p("k.key")])
            .status
            .success()
    );
    let list = p("revocations.sigstore.json");
    let out = run(
        "mcp-sign",
        &[
            "revoke",
            "--key",
            &p("k.key"),
            "--revoke-key",
            &p("k.key.pub"),
            "--revoke-identity",
            "https://token.actions.githubusercontent.com=https://github.com/a/b/.github/workflows/r.yml@refs/tags/v1",
            "--revoke-manifest",
            &format!("sha256:{}", "ab".repeat(32)),
            "-o",
            &list,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = predicate_of(std::path::Path::new(&list));
    let mut accept = serde_json::Map::new();
    let mut reject = serde_json::Map::new();
    accept.insert("mcp-sign-revoke".into(), doc.clone());
    let mut unknown = doc.clone();
    unknown["revokedBy"] = json!("x");
    reject.insert("unknown-field".into(), unknown);
    let mut upper = doc.clone();
    upper["manifests"] = json!(["sha256:ABC"]);
    reject.insert("bad-digest".into(), upper);
    let mut no_expiry = doc;
    no_expiry.as_object_mut().unwrap().remove("expiresAt");
    reject.insert("no-expiry".into(), no_expiry);
    let out = validate(
        &python,
        Some("revocations-v1.schema.json"),
        &accept,
        &reject,
    );
    assert!(
        out.status.success(),
        "revocation schema disagrees with the code:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A pin record, as the store writes it for a real release (with tools and env names).
    let srv = t.path().join("srv");
    std::fs::create_dir(&srv).unwrap();
    std::fs::copy(
        root().join("tests/servers/drift-server.py"),
        srv.join("drift-server.py"),
    )
    .unwrap();
    let manifest = p("srv/mcp-manifest.json");
    for args in [
        vec![
            "init",
            "--name",
            "io.github.acme/drift",
            "--version",
            "1.0.0",
            "--dir",
            srv.to_str().unwrap(),
            "--launch",
            "python3 drift-server.py",
            "--env-name",
            "DRIFT",
            "-o",
            &manifest,
        ],
        vec![
            "tools",
            &manifest,
            "--dir",
            srv.to_str().unwrap(),
            "--env",
            "DRIFT=",
        ],
        vec!["sign", "--key", &p("k.key"), &manifest],
    ] {
        let out = common::run_in("mcp-sign", &args, t.path(), &[("DRIFT", "")]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let trust = mcpsig::verify::Trust::Key {
        key: mcpsig::sigstore::keys::PublicKey::from_pem(
            &std::fs::read_to_string(p("k.key.pub")).unwrap(),
        )
        .unwrap(),
        trusted_root: mcpsig::sigstore::trust::TrustedRoot::production().unwrap(),
    };
    let report = mcpsig::verify::verify(&mcpsig::verify::Request {
        bundle: &std::fs::read(p("srv/mcp-manifest.sigstore.json")).unwrap(),
        trust: &trust,
        now: mcpsig::chrono::Utc::now(),
        checks: mcpsig::verify::Checks {
            base: Some(srv.clone()),
            ..Default::default()
        },
    })
    .unwrap();
    let (Some(manifest), Some(signer)) = (report.manifest, report.signer) else {
        panic!("not verified: {:?}", report.problems);
    };
    let store = mcpsig::pin_store::PinStore::open(t.path().join("pins"));
    let admitted = store
        .admit(&mcpsig::pin_store::AdmitRequest {
            manifest: &manifest,
            signer: &signer,
            require_chain: false,
            accept: false,
            now: mcpsig::chrono::Utc::now(),
        })
        .unwrap();
    assert!(admitted.admitted);
    let record_path = store.record_path(&manifest.server.name);
    let record: Value = serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    assert_eq!(record["envNames"], json!(["DRIFT"]), "{record}");
    let mut accept = serde_json::Map::new();
    let mut reject = serde_json::Map::new();
    accept.insert("first-use-record".into(), record.clone());
    let mut approved = record.clone();
    approved["approvals"] = json!([{"version": "1.1.0", "manifestDigest": record["manifestDigest"],
        "approvedAt": record["lastSeen"], "changes": [{"kind": "tool", "name": "x", "code": "added"}],
        "envNames": ["TOKEN"]}]);
    accept.insert("with-approval".into(), approved);
    let mut unknown = record.clone();
    unknown["trusted"] = json!(true);
    reject.insert("unknown-field".into(), unknown);
    let mut bad_signer = record;
    bad_signer["signer"] = json!({"kind": "key", "keyId": "XYZ"});
    reject.insert("bad-key-id".into(), bad_signer);
    let out = validate(&python, Some("pin-record-v1.schema.json"), &accept, &reject);
    assert!(
        out.status.success(),
        "pin record schema disagrees with the code:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
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
            "too-many-exclude-rules-in-manifest",
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
    // A remote server's manifest written by the binary: no artifacts, a URL and a TLS identity.
    let m3 = t.path().join("m3.json");
    let ca = root().join("testdata/tls/test-ca.pem");
    let spki = std::fs::read_to_string(root().join("testdata/tls/server.spki")).unwrap();
    let out = run(
        "mcp-sign",
        &[
            "init",
            "--name",
            "io.github.acme/remote",
            "--version",
            "1",
            "--url",
            "https://mcp.example.com/mcp",
            "--tls-ca",
            ca.to_str().unwrap(),
            "--tls-spki",
            spki.trim(),
            "-o",
            m3.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let remote: Value = serde_json::from_slice(&std::fs::read(&m3).unwrap()).unwrap();
    accept.insert("init-output-remote".into(), remote.clone());
    let mut plain = remote.clone();
    plain["launch"] = json!({"transport": "streamable-http", "url": "http://mcp.example.com/mcp"});
    reject.insert("remote-plain-http-off-loopback".into(), plain);
    let mut empty_tls = remote;
    empty_tls["launch"]["tls"] = json!({});
    reject.insert("remote-empty-tls".into(), empty_tls);

    let out = validate(&python, None, &accept, &reject);
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

/// The package artifact kinds (npm, pypi, oci, mcpb): what the code accepts the schema accepts,
/// and each malformed variant is refused by both.
#[test]
fn package_artifact_kinds_agree_with_the_code() {
    let Some(python) = spec_python() else {
        return;
    };
    let sri = |b: u8| {
        format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode([b; 64])
        )
    };
    let h = |c: char| format!("sha256:{}", c.to_string().repeat(64));
    let file_entry = json!({"path": "manifest.json", "type": "file", "digest": h('1'), "size": 2, "executable": false});
    let tree = {
        let e: Vec<mcpsig::digest::tree::Entry> =
            serde_json::from_value(json!([file_entry.clone()])).unwrap();
        mcpsig::digest::tree::tree_digest(&e).to_string()
    };
    let base = |artifact: Value| {
        json!({
            "schemaVersion": 1,
            "server": {"name": "io.github.acme/pkg", "version": "1.0.0"},
            "issuedAt": "2026-12-01T00:00:00Z",
            "artifacts": [artifact],
        })
    };
    let npm = json!({"kind": "npm", "name": "@acme/server", "version": "1.2.3", "digest": h('a'),
    "integrity": sri(1), "dependencies": [
        {"path": "node_modules/@acme/server/node_modules/zod", "name": "zod", "version": "3.25.76", "integrity": sri(2)},
        {"path": "node_modules/fsevents", "name": "fsevents", "version": "2.3.3", "integrity": sri(3), "os": ["darwin"], "cpu": ["!ia32"]},
    ]});
    let pypi = json!({"kind": "pypi", "name": "mcp-server-time", "version": "2026.10.19",
    "file": "mcp_server_time-2026.10.19-py3-none-any.whl", "digest": h('b'), "dependencies": [
        {"name": "pydantic_core", "version": "2.33.2", "file": "pydantic_core-2.33.2-cp311-cp311-manylinux_2_17_x86_64.whl", "digest": h('c')},
    ]});
    let oci = json!({"kind": "oci", "name": "ghcr.io/acme/server", "digest": h('d'), "tag": "v1"});
    let mcpb = json!({"kind": "mcpb", "name": "server.mcpb", "digest": h('e'), "size": 10, "tree": tree, "entries": [file_entry]});
    let mut accept = serde_json::Map::new();
    let mut reject = serde_json::Map::new();
    for (name, a) in [
        ("npm", &npm),
        ("pypi", &pypi),
        ("oci", &oci),
        ("mcpb", &mcpb),
    ] {
        let doc = base(a.clone());
        mcpsig::manifest::Manifest::from_value(doc.clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        accept.insert(name.into(), doc);
    }
    let mut variants: Vec<(&str, Value)> = Vec::new();
    let mut v = npm.clone();
    v["integrity"] = json!(format!("sha1-{}", "A".repeat(27) + "="));
    variants.push(("npm-sha1-integrity", v));
    let mut v = npm.clone();
    v["dependencies"][0]["extra"] = json!(true);
    variants.push(("npm-dependency-unknown-field", v));
    let mut v = npm.clone();
    v["name"] = json!("Acme");
    variants.push(("npm-uppercase-name", v));
    let mut v = pypi.clone();
    v["file"] = json!("mcp-server-time-2026.10.19.tar.gz");
    variants.push(("pypi-sdist", v));
    let mut v = oci.clone();
    v["name"] = json!("ghcr.io/Acme/server");
    variants.push(("oci-uppercase-repository", v));
    let mut v = mcpb.clone();
    v["entries"][0] = json!({"path": "link", "type": "symlink", "target": "manifest.json"});
    variants.push(("mcpb-symlink", v));
    let mut v = mcpb.clone();
    v["digest"] = json!(format!("sha512:{}", "f".repeat(128)));
    variants.push(("mcpb-sha512-digest", v));
    for (name, a) in variants {
        let doc = base(a);
        assert!(
            mcpsig::manifest::Manifest::from_value(doc.clone()).is_err(),
            "the code accepts {name}"
        );
        reject.insert(name.into(), doc);
    }
    let out = validate(&python, None, &accept, &reject);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
