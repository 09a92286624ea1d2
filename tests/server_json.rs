//! The MCP registry's server.json both ways, through the real binary: `mcp-sign init
//! --from-server-json` pins the packages a document lists (real npm and PyPI packages served on
//! loopback by tests/support/registries/serve.py), `mcp-sign server-json` writes a manifest's
//! pins back as `packages[]` entries, validated against the registry's published schema
//! (testdata/server-json/server.schema.json) by the reference Python `jsonschema`.
//!
//! The `server-json-*` scenarios (testdata/scenarios/) hold:
//! - `server.json`: the document (`{registry}` is the loopback registry's URL, started only
//!   when it is named or `overlay/` exists; `overlay/` is served by it under the same paths);
//! - `manifest.json` (export scenarios): `mcp-sign server-json manifest.json [--from
//!   server.json]` runs, else `mcp-sign init --from-server-json server.json -o m.json`;
//! - `args`: extra arguments, one per line (`{work}`: the scratch folder); `setup.sh`: run with
//!   the scratch folder as `$1` first;
//! - `expected`: `accept`, `reject` (exit 1) or `error` (exit 2); `stderr`: text stderr must
//!   contain (required unless `accept`); `unexpected`: text it must not contain;
//! - `test`: the test below that runs the scenario with checks of its own (the generic runner
//!   leaves it out).
//!
//! The configured registries (MCPSIG_NPM_REGISTRY, MCPSIG_PYPI_INDEX) refuse connections unless
//! a test says otherwise: what resolves comes from the entry's registryBaseUrl. The binaries
//! must be built first (`cargo build --workspace`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::registries::{Registry, Ws, data, index};
use common::{assert_ok, root, text};
use serde_json::{Map, Value, json};
use sha2::Digest as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The registry's published schema, as copied.
fn schema() -> PathBuf {
    root().join("testdata/server-json/server.schema.json")
}

fn scenario(name: &str) -> PathBuf {
    root().join("testdata/scenarios").join(name)
}

fn read(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name)).ok()
}

/// Validates documents against the schema with tests/support/validate_schema.py: `accept` must
/// validate, `reject` must not. `None` when the validator is not installed and external tools
/// may be skipped.
fn validate(accept: &[(&str, &Value)], reject: &[(&str, &Value)]) -> Option<Result<(), String>> {
    let python = root().join(".venv-spec/bin/python");
    if !python.exists() {
        assert!(
            common::skip_external(),
            "{} is missing: run scripts/setup-spec.sh",
            python.display()
        );
        return None;
    }
    let mut child = Command::new(python)
        .arg(root().join("tests/support/validate_schema.py"))
        .arg(root().join("spec"))
        .arg(schema())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let map = |docs: &[(&str, &Value)]| -> Map<String, Value> {
        docs.iter()
            .map(|(n, d)| ((*n).to_owned(), (*d).clone()))
            .collect()
    };
    let input = json!({"accept": map(accept), "reject": map(reject)});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", text(&out.stdout), text(&out.stderr)))
    })
}

fn assert_valid(name: &str, doc: &Value) {
    if let Some(r) = validate(&[(name, doc)], &[]) {
        r.unwrap_or_else(|e| panic!("{name} is not valid against the registry's schema: {e}"));
    }
}

/// A server.json around bare `packages[]` entries, so they are validated where the schema
/// puts them.
fn around(packages: &Value) -> Value {
    json!({"name": "io.github.acme/x", "description": "x", "version": "1.0.0", "packages": packages})
}

/// The scenario's server.json with `{registry}` filled in.
fn document(dir: &Path, reg: Option<&Registry>) -> Option<String> {
    let doc = read(dir, "server.json")?;
    Some(match reg {
        Some(r) => doc.replace("{registry}", &r.url),
        None => doc,
    })
}

fn file_sha256(path: &Path) -> String {
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// Runs one scenario; `Err` says how it failed.
fn run_scenario(dir: &Path) -> Result<(), String> {
    let needs_registry = dir.join("overlay").is_dir()
        || read(dir, "server.json").is_some_and(|d| d.contains("{registry}"));
    let reg = needs_registry.then(Registry::start);
    if let Some(r) = &reg {
        copy_overlay(&dir.join("overlay"), &dir.join("overlay"), r);
    }
    let ws = Ws::new();
    let work = ws.path();
    if dir.join("setup.sh").exists() {
        let st = Command::new("sh")
            .arg(dir.join("setup.sh"))
            .arg(work)
            .status()
            .unwrap();
        if !st.success() {
            return Err("setup.sh failed".into());
        }
    }
    if let Some(doc) = document(dir, reg.as_ref()) {
        std::fs::write(work.join("server.json"), doc).unwrap();
    }
    let export = dir.join("manifest.json").exists();
    let mut argv: Vec<String> = if export {
        std::fs::copy(dir.join("manifest.json"), work.join("manifest.json")).unwrap();
        let mut a = vec!["server-json".to_owned(), "manifest.json".to_owned()];
        if work.join("server.json").exists() {
            a.extend(["--from".to_owned(), "server.json".to_owned()]);
        }
        a
    } else {
        ["init", "--from-server-json", "server.json", "-o", "m.json"]
            .map(str::to_owned)
            .to_vec()
    };
    argv.extend(
        read(dir, "args")
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.replace("{work}", &work.display().to_string())),
    );
    let before = std::fs::read(work.join("out.json")).ok();
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    // The configured registries refuse connections: only an entry's own URL may answer.
    let out = ws.run("mcp-sign", &args, None);
    judge(dir, &out)?;
    if !out.status.success() {
        if work.join("m.json").exists() {
            return Err("a refused import wrote a manifest".into());
        }
        if std::fs::read(work.join("out.json")).ok() != before {
            return Err("a refused export changed its output file".into());
        }
    } else if export {
        let written: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("stdout is not JSON ({e}): {}", text(&out.stdout)))?;
        let doc = if written.is_array() {
            around(&written)
        } else {
            written
        };
        if let Some(r) = validate(&[("output", &doc)], &[]) {
            r?;
        }
    }
    Ok(())
}

/// Serves every file under `dir` (relative to `base`) from the registry's overlay.
fn copy_overlay(base: &Path, dir: &Path, reg: &Registry) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            copy_overlay(base, &p, reg);
        } else {
            let rel = p.strip_prefix(base).unwrap().to_str().unwrap().to_owned();
            reg.substitute(&rel, &std::fs::read(&p).unwrap());
        }
    }
}

/// Compares the exit code and stderr with `expected`, `stderr` and `unexpected`.
fn judge(dir: &Path, out: &Output) -> Result<(), String> {
    let expected = read(dir, "expected").ok_or("no `expected` file")?;
    let want = match expected.trim() {
        "accept" => 0,
        "reject" => 1,
        "error" => 2,
        other => return Err(format!("unknown expectation `{other}`")),
    };
    let stderr = text(&out.stderr);
    if out.status.code() != Some(want) {
        return Err(format!(
            "expected exit {want}, got {:?}: {stderr}",
            out.status.code()
        ));
    }
    if let Some(t) = read(dir, "unexpected")
        && stderr.contains(t.trim())
    {
        return Err(format!("stderr has `{}`: {stderr}", t.trim()));
    }
    match read(dir, "stderr") {
        Some(t) if !stderr.contains(t.trim()) => {
            Err(format!("stderr lacks `{}`: {stderr}", t.trim()))
        }
        None if want != 0 => Err("no `stderr` file naming the refusal".into()),
        _ => Ok(()),
    }
}

#[test]
fn every_server_json_scenario_holds() {
    let me = std::fs::read_to_string(root().join("tests/server_json.rs")).unwrap();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("testdata/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("server-json-"))
        })
        .collect();
    dirs.sort();
    let mut failures = Vec::new();
    let mut ran = 0;
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(test) = read(dir, "test") {
            // Run by its own test, which must exist.
            if !me.contains(&format!("fn {}()", test.trim())) {
                failures.push(format!("{name}: no test `{}` here", test.trim()));
            }
            continue;
        }
        ran += 1;
        if let Err(e) = run_scenario(dir) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(ran >= 15, "only {ran} server-json scenarios ran");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A recorded npm tarball of `name@version`, relative to the data.
fn npm_tarball(name: &str, version: &str) -> PathBuf {
    let rel = index()["npm"]["trees"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["packages"].as_array().unwrap())
        .find(|p| p["name"] == name && p["version"] == version)
        .unwrap_or_else(|| panic!("{name}@{version} is not recorded"))["tarball"]
        .as_str()
        .unwrap()
        .to_owned();
    data().join(rel)
}

fn manifest(ws: &Ws, file: &str) -> Value {
    serde_json::from_slice(&std::fs::read(ws.path().join(file)).unwrap()).unwrap()
}

/// Scenario server-json-npm-imported-accepted.
#[test]
fn an_npm_server_json_is_pinned_then_written_back_schema_valid() {
    let dir = scenario("server-json-npm-imported-accepted");
    let reg = Registry::start();
    let ws = Ws::new();
    std::fs::write(
        ws.path().join("server.json"),
        document(&dir, Some(&reg)).unwrap(),
    )
    .unwrap();
    let init = ["init", "--from-server-json", "server.json", "-o", "m.json"];
    // No registry configured: the entry's registryBaseUrl is what answers.
    let out = ws.run("mcp-sign", &init, None);
    assert_ok(&out);
    let err = text(&out.stderr);
    assert!(err.contains("packageArguments[0] not mapped"), "{err}");
    let m = manifest(&ws, "m.json");
    assert_eq!(
        m["server"],
        json!({"name": "io.github.modelcontextprotocol/server-memory", "version": "2026.8.31"})
    );
    let a = &m["artifacts"][0];
    assert_eq!(
        (a["kind"].as_str(), a["name"].as_str()),
        (Some("npm"), Some("@modelcontextprotocol/server-memory"))
    );
    assert!(a["dependencies"].as_array().unwrap().len() > 50, "{a}");
    let tarball = npm_tarball("@modelcontextprotocol/server-memory", "2026.8.31");
    let sha = file_sha256(&tarball);
    assert_eq!(a["digest"], format!("sha256:{sha}"));
    assert_eq!(m["launch"]["command"], "node");
    assert_eq!(m["launch"]["env"], json!({"LOG_LEVEL": "warn"}));
    assert_eq!(m["launch"]["envNames"], json!(["MEMORY_FILE_PATH"]));

    // Back out: the bare entries, then merged into the document; both schema-valid.
    let out = ws.run("mcp-sign", &["server-json", "m.json"], None);
    assert_ok(&out);
    let packages: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        packages,
        json!([{"registryType": "npm", "identifier": "@modelcontextprotocol/server-memory",
                "version": "2026.8.31", "fileSha256": sha, "transport": {"type": "stdio"}}])
    );
    let merge = [
        "server-json",
        "m.json",
        "--from",
        "server.json",
        "-o",
        "out.json",
    ];
    assert_ok(&ws.run("mcp-sign", &merge, None));
    let merged = manifest(&ws, "out.json");
    assert_eq!(merged["packages"][0]["fileSha256"], sha);
    assert_eq!(
        merged["packages"][0]["environmentVariables"][0]["name"],
        "MEMORY_FILE_PATH"
    );
    assert_eq!(merged["packages"][0]["registryBaseUrl"], reg.url.as_str());
    // A document the schema refuses, so a passing validation means something.
    let mut broken = merged.clone();
    broken["packages"][0]["fileSha256"] = json!(sha.to_uppercase());
    if let Some(r) = validate(
        &[("entries", &around(&packages)), ("merged", &merged)],
        &[("uppercase fileSha256", &broken)],
    ) {
        r.unwrap();
    }
    // The output exists now: refused without --force (exit 2), replaced with it.
    let again = ws.run("mcp-sign", &merge, None);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    let mut forced = merge.to_vec();
    forced.push("--force");
    assert_ok(&ws.run("mcp-sign", &forced, None));
    // --json: the result as one document.
    let out = ws.run("mcp-sign", &["--json", "server-json", "m.json"], None);
    assert_ok(&out);
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["packages"], packages);
    assert_eq!(
        result["schema"],
        "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
    );
}

/// Scenario server-json-pypi-imported-accepted.
#[test]
fn a_pypi_server_json_is_pinned_with_its_arguments() {
    let dir = scenario("server-json-pypi-imported-accepted");
    let reg = Registry::start();
    let ws = Ws::new();
    std::fs::write(
        ws.path().join("server.json"),
        document(&dir, Some(&reg)).unwrap(),
    )
    .unwrap();
    let init = ["init", "--from-server-json", "server.json", "-o", "m.json"];
    assert_ok(&ws.run("mcp-sign", &init, None));
    let m = manifest(&ws, "m.json");
    let a = &m["artifacts"][0];
    assert_eq!(a["kind"], "pypi");
    assert!(a["dependencies"].as_array().unwrap().len() > 20, "{a}");
    assert_eq!(
        m["launch"]["args"],
        json!(["-I", "-B", "bin/mcp-server-time", "--local-timezone=UTC"])
    );
    let wheel = index()["pypi"]["roots"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["files"].as_array().unwrap())
        .find(|f| f["name"] == "mcp-server-time")
        .unwrap()
        .clone();
    let sha = file_sha256(&data().join(wheel["file"].as_str().unwrap()));
    assert_eq!(wheel["sha256"], sha.as_str());
    assert_eq!(a["digest"], format!("sha256:{sha}"));
    // The mapped argument is one the server takes: its tools are captured from the install.
    assert_ok(&ws.run("mcp-sign", &["tools", "m.json"], Some(&reg)));
    let m = manifest(&ws, "m.json");
    let tools: Vec<&str> = m["tools"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(tools.contains(&"get_current_time"), "{tools:?}");
    let out = ws.run("mcp-sign", &["server-json", "m.json"], None);
    assert_ok(&out);
    let packages: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(packages[0]["fileSha256"], sha.as_str());
    assert_eq!(packages[0]["version"], "2026.10.19");
    assert_valid("pypi entries", &around(&packages));
}

#[test]
fn the_examples_are_valid_and_the_schema_refuses_what_it_should() {
    let examples = root().join("testdata/server-json/examples");
    let mut docs = Vec::new();
    for e in std::fs::read_dir(&examples).unwrap() {
        let p = e.unwrap().path();
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        docs.push((p.file_name().unwrap().to_string_lossy().into_owned(), v));
    }
    assert!(docs.len() >= 2);
    let entry = |extra: Value| {
        let mut e = json!({"registryType": "npm", "identifier": "x", "version": "1.0.0",
                           "transport": {"type": "stdio"}});
        e.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        around(&json!([e]))
    };
    let latest = entry(json!({"version": "latest"}));
    let short_sha = entry(json!({"fileSha256": "abc"}));
    let mut no_transport = entry(json!({}));
    no_transport["packages"][0]
        .as_object_mut()
        .unwrap()
        .remove("transport");
    let accept: Vec<(&str, &Value)> = docs.iter().map(|(n, v)| (n.as_str(), v)).collect();
    if let Some(r) = validate(
        &accept,
        &[
            ("version latest", &latest),
            ("short fileSha256", &short_sha),
            ("no transport", &no_transport),
        ],
    ) {
        r.unwrap();
    }
}
