//! Servers distributed as packages, end to end through the real binaries: real npm and PyPI
//! packages (recorded from the public registries by scripts/setup-registries.sh) served on
//! loopback by tests/support/registries/serve.py, resolved by the real npm and pip, pinned with
//! `mcp-sign init --artifact`, their tools captured from the installed package, signed, and
//! launched by `mcp-verify run` from the launch store. Substitutions are served from an overlay
//! folder that takes precedence over the recorded data. Each test names its scenario under
//! testdata/scenarios/package-*. The binaries must be built first (`cargo build --workspace`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::registries::{Registry, WAIT, Ws, data, index, wait_bounded};
use common::{assert_ok, root, text};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

const NPM_SERVER: &str = "@modelcontextprotocol/server-memory";
const NPM_VERSION: &str = "2026.8.31";
const PYPI_SERVER: &str = "mcp-server-time";
const PYPI_VERSION: &str = "2026.10.19";

/// A recorded npm package of the server's tree: (name, tarball path relative to the data).
fn npm_tarball(name: &str) -> String {
    let tree = index()["npm"]["trees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == format!("{NPM_SERVER}@{NPM_VERSION}"))
        .unwrap();
    if name == NPM_SERVER {
        let rec = index()["npm"]["trees"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|t| t["packages"].as_array().unwrap())
            .find(|p| p["name"] == name && p["version"] == NPM_VERSION);
        if let Some(p) = rec {
            return p["tarball"].as_str().unwrap().to_owned();
        }
    }
    tree["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not recorded"))["tarball"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A recorded wheel of the PyPI server's set: its record in index.json.
fn wheel(name: &str) -> Value {
    index()["pypi"]["roots"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["files"].as_array().unwrap())
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not recorded"))
        .clone()
}

impl Ws {
    /// A signed release of `reference` (manifest `NAME.json`, bundle `NAME.sigstore.json`):
    /// pinned, its tools captured from the installed package, signed with `k.key`.
    fn release(&self, name: &str, reference: &str, args: &[&str], reg: &Registry) -> PathBuf {
        let manifest = format!("{name}.json");
        let mut init = vec![
            "init",
            "--name",
            "io.github.acme/packaged",
            "--version",
            "1.0.0",
            "--artifact",
            reference,
            "-o",
            &manifest,
        ];
        // The package's launch takes these arguments (given before its tools are captured).
        if !args.is_empty() {
            init.push("--");
            init.extend(args);
        }
        assert_ok(&self.run("mcp-sign", &init, Some(reg)));
        assert_ok(&self.run("mcp-sign", &["tools", &manifest], Some(reg)));
        assert_ok(&self.run(
            "mcp-sign",
            &["sign", "--key", "k.key", &manifest],
            Some(reg),
        ));
        self.path().join(format!("{name}.sigstore.json"))
    }

    /// `mcp-verify run BUNDLE --key k.key.pub ARGS`, as a client: initialize, initialized,
    /// tools/list, then input closed.
    fn session(&self, bundle: &Path, args: &[&str], reg: Option<&Registry>) -> Output {
        let bundle = bundle.display().to_string();
        let mut all = vec!["run", bundle.as_str(), "--key", "k.key.pub"];
        all.extend(args);
        let mut cmd = self.command("mcp-verify", &all, reg);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let hello = [
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "packages-test", "version": "1"}}}),
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        ];
        for m in hello {
            // A rejected launch never reads its input: a broken pipe is expected then.
            let _ = writeln!(stdin, "{m}");
        }
        let _ = stdin.flush();
        // Input stays open until the tools/list answer (or the end of output): a server may
        // stop at end of input without finishing what it was asked, as a real client's never
        // ends mid-session.
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + WAIT;
        let mut lines = Vec::new();
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            let done = serde_json::from_str::<Value>(&line).is_ok_and(|v| v["id"] == 2);
            lines.push(line);
            if done {
                break;
            }
        }
        drop(stdin);
        let mut output = wait_bounded(child);
        lines.extend(rx.try_iter());
        output.stdout = lines.join("\n").into_bytes();
        output
    }
}

/// The tools/list answer a session printed, if any.
fn listed_tools(out: &Output) -> Option<Vec<String>> {
    text(&out.stdout).lines().find_map(|l| {
        let v: Value = serde_json::from_str(l).ok()?;
        (v["id"] == 2).then(|| {
            v["result"]["tools"]
                .as_array()
                .unwrap_or_else(|| panic!("tools/list answered {v}"))
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect()
        })
    })
}

/// Asserts a rejection: exit 1, the reason code printed, and (for a launch) nothing started.
fn assert_rejected(out: &Output, reason: &str) {
    // `mcp-verify` prints its report on stdout, `mcp-verify run` on stderr.
    let err = format!("{}{}", text(&out.stderr), text(&out.stdout));
    assert_eq!(out.status.code(), Some(1), "expected rejection: {err}");
    assert!(
        err.contains(&format!("[{reason}]")),
        "no [{reason}] in: {err}"
    );
    assert!(
        listed_tools(out).is_none(),
        "a rejected server answered: {}",
        text(&out.stdout)
    );
}

/// Every npm release in these tests is the same pins; resolved once (npm's resolution is the
/// slow part), then copied into each test's folder. Returns the manifest file's bytes with
/// its tools captured, unsigned.
fn npm_manifest() -> &'static [u8] {
    static M: OnceLock<Vec<u8>> = OnceLock::new();
    M.get_or_init(|| {
        let reg = Registry::start();
        let ws = Ws::new();
        ws.release("npm", &format!("npm:{NPM_SERVER}@{NPM_VERSION}"), &[], &reg);
        std::fs::read(ws.path().join("npm.json")).unwrap()
    })
}

fn pypi_manifest() -> &'static [u8] {
    static M: OnceLock<Vec<u8>> = OnceLock::new();
    M.get_or_init(|| {
        let reg = Registry::start();
        let ws = Ws::new();
        ws.release(
            "py",
            &format!("pypi:{PYPI_SERVER}=={PYPI_VERSION}"),
            &["--local-timezone", "UTC"],
            &reg,
        );
        std::fs::read(ws.path().join("py.json")).unwrap()
    })
}

impl Ws {
    /// Signs a copy of a prepared manifest here; returns the bundle.
    fn sign_copy(&self, name: &str, manifest: &[u8]) -> PathBuf {
        let file = format!("{name}.json");
        std::fs::write(self.path().join(&file), manifest).unwrap();
        assert_ok(&self.run("mcp-sign", &["sign", "--key", "k.key", &file], None));
        self.path().join(format!("{name}.sigstore.json"))
    }
}

/// Scenario package-npm-server-launches-verified.
#[test]
fn an_npm_server_is_pinned_installed_and_launched_then_relaunched_offline() {
    let m: Value = serde_json::from_slice(npm_manifest()).unwrap();
    assert_eq!(m["artifacts"][0]["kind"], "npm");
    assert!(m["artifacts"][0]["dependencies"].as_array().unwrap().len() > 50);
    assert_eq!(m["launch"]["command"], "node");
    assert!(m["tools"]["tools"].as_array().unwrap().len() > 3);
    let reg = Registry::start();
    let ws = Ws::new();
    let bundle = ws.sign_copy("npm", npm_manifest());
    let out = ws.session(&bundle, &[], Some(&reg));
    assert_ok(&out);
    let tools = listed_tools(&out).expect("the guarded server listed its tools");
    assert!(tools.contains(&"create_entities".to_owned()), "{tools:?}");
    // The relaunch needs no registry: the install is reused after its unchanged-check.
    let again = ws.session(&bundle, &[], None);
    assert_ok(&again);
    assert_eq!(listed_tools(&again), Some(tools));
    // The live tools of the installed package match the pins.
    let live = ws.run(
        "mcp-verify",
        &["tools", "npm.sigstore.json", "--key", "k.key.pub"],
        Some(&reg),
    );
    assert_ok(&live);
    // Verification against the registry alone (no install) agrees.
    let verified = ws.run(
        "mcp-verify",
        &["npm.sigstore.json", "--key", "k.key.pub"],
        Some(&reg),
    );
    assert_ok(&verified);
    assert!(
        text(&verified.stderr).contains("npm registry")
            || text(&verified.stdout).contains("npm registry")
    );
}

/// Scenario package-npm-substituted-tarball-rejected.
#[test]
fn a_substituted_npm_tarball_is_rejected() {
    let reg = Registry::start();
    let ws = Ws::new();
    let bundle = ws.sign_copy("npm", npm_manifest());
    // Another real package's bytes where the server's tarball should be.
    let other = std::fs::read(data().join(npm_tarball("zod"))).unwrap();
    reg.substitute(&npm_tarball(NPM_SERVER), &other);
    let out = ws.run(
        "mcp-verify",
        &["npm.sigstore.json", "--key", "k.key.pub"],
        Some(&reg),
    );
    assert_rejected(&out, "artifact-mismatch");
    assert!(
        text(&out.stdout).contains(NPM_SERVER),
        "{}",
        text(&out.stdout)
    );
    let run = ws.session(&bundle, &[], Some(&reg));
    assert_rejected(&run, "artifact-mismatch");
    // Nothing of the substituted bytes is kept.
    assert_eq!(
        std::fs::read_dir(ws.store().join("installs"))
            .unwrap()
            .count(),
        0
    );
}

/// Scenario package-npm-changed-dependency-rejected.
#[test]
fn a_changed_npm_dependency_is_rejected() {
    let reg = Registry::start();
    let ws = Ws::new();
    let bundle = ws.sign_copy("npm", npm_manifest());
    let rel = npm_tarball("zod");
    let mut bytes = std::fs::read(data().join(&rel)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    reg.substitute(&rel, &bytes);
    let run = ws.session(&bundle, &[], Some(&reg));
    assert_rejected(&run, "artifact-mismatch");
    assert!(text(&run.stderr).contains("zod@"), "{}", text(&run.stderr));
}

/// Scenario package-npm-installed-file-edited-rejected.
#[test]
fn an_installed_file_edited_after_install_is_found_and_refused() {
    let reg = Registry::start();
    let ws = Ws::new();
    let bundle = ws.sign_copy("npm", npm_manifest());
    assert_ok(&ws.session(&bundle, &[], Some(&reg)));
    let trees = ws.store().join("trees");
    let tree = std::fs::read_dir(&trees)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .unwrap();
    let file = tree.join(format!("node_modules/{NPM_SERVER}/package.json"));
    let folder = file.parent().unwrap().to_path_buf();
    Command::new("chmod")
        .arg("u+w")
        .arg(&folder)
        .arg(&file)
        .status()
        .unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    f.write_all(b"\n").unwrap();
    let run = ws.session(&bundle, &[], Some(&reg));
    assert_rejected(&run, "artifact-mismatch");
    let err = text(&run.stderr);
    assert!(err.contains("changed after it was installed"), "{err}");
    assert!(err.contains("package.json"), "{err}");
}

/// Scenario package-npm-tarball-path-escape-rejected.
#[test]
fn a_pinned_tarball_escaping_its_folder_is_refused_at_install() {
    let reg = Registry::start();
    let ws = Ws::new();
    // A tarball whose digest the publisher signed, but which writes outside its package folder.
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, body) in [
        ("package/package.json", &b"{}"[..]),
        ("package/../../../escaped.js", &b"pwned"[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, body).unwrap();
    }
    let evil = b.into_inner().unwrap().finish().unwrap();
    reg.substitute(&npm_tarball(NPM_SERVER), &evil);
    let mut m: Value = serde_json::from_slice(npm_manifest()).unwrap();
    use base64::Engine as _;
    use sha2::Digest as _;
    m["artifacts"][0]["digest"] = json!(format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(&evil))
    ));
    m["artifacts"][0]["integrity"] = json!(format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&evil))
    ));
    let bundle = ws.sign_copy("evil", &serde_json::to_vec_pretty(&m).unwrap());
    let run = ws.session(&bundle, &[], Some(&reg));
    assert_rejected(&run, "unsafe-path");
    assert!(!ws.store().join("escaped.js").exists());
    assert!(!ws.path().join("escaped.js").exists());
}

/// Scenario package-pypi-server-launches-verified.
#[test]
fn a_pypi_server_is_pinned_installed_and_launched() {
    let m: Value = serde_json::from_slice(pypi_manifest()).unwrap();
    assert_eq!(m["artifacts"][0]["kind"], "pypi");
    assert!(m["artifacts"][0]["dependencies"].as_array().unwrap().len() > 20);
    assert_eq!(
        m["launch"]["args"],
        json!(["-I", "-B", "bin/mcp-server-time", "--local-timezone", "UTC"])
    );
    let reg = Registry::start();
    let ws = Ws::new();
    let bundle = ws.sign_copy("py", pypi_manifest());
    let out = ws.session(&bundle, &[], Some(&reg));
    assert_ok(&out);
    let tools = listed_tools(&out).expect("the guarded server listed its tools");
    assert!(tools.contains(&"get_current_time".to_owned()), "{tools:?}");
    assert_ok(&ws.session(&bundle, &[], None));
}

/// Scenario package-pypi-wrong-wheel-rejected.
#[test]
fn a_wrong_wheel_is_rejected() {
    let reg = Registry::start();
    let ws = Ws::new();
    let bundle = ws.sign_copy("py", pypi_manifest());
    // The index still lists the pinned hash, but serves another real wheel's bytes.
    let anyio = wheel("anyio");
    let other = std::fs::read(data().join(wheel("idna")["file"].as_str().unwrap())).unwrap();
    reg.substitute(anyio["file"].as_str().unwrap(), &other);
    let run = ws.session(&bundle, &[], Some(&reg));
    assert_rejected(&run, "artifact-mismatch");
    assert!(text(&run.stderr).contains("anyio"), "{}", text(&run.stderr));
}

/// Scenario package-pypi-index-lists-other-hash-rejected.
#[test]
fn an_index_listing_another_hash_is_rejected_before_download() {
    let reg = Registry::start();
    let ws = Ws::new();
    ws.sign_copy("py", pypi_manifest());
    let w = wheel(PYPI_SERVER);
    let page_rel = w["simple"].as_str().unwrap();
    let mut page: Value =
        serde_json::from_slice(&std::fs::read(data().join(page_rel)).unwrap()).unwrap();
    for f in page["files"].as_array_mut().unwrap() {
        f["hashes"]["sha256"] = json!("0".repeat(64));
    }
    reg.substitute(page_rel, &serde_json::to_vec(&page).unwrap());
    let out = ws.run(
        "mcp-verify",
        &["py.sigstore.json", "--key", "k.key.pub"],
        Some(&reg),
    );
    assert_rejected(&out, "artifact-mismatch");
}

/// Scenario package-offline-unchecked.
#[test]
fn offline_checks_only_what_the_store_holds() {
    let reg = Registry::start();
    let ws = Ws::new();
    let bundle = ws.sign_copy("npm", npm_manifest());
    // Nothing in the store: offline cannot check, so nothing starts.
    let out = ws.session(&bundle, &["--offline"], Some(&reg));
    assert_rejected(&out, "artifact-unchecked");
    assert!(
        text(&out.stderr).contains("offline"),
        "{}",
        text(&out.stderr)
    );
    let verify = ws.run(
        "mcp-verify",
        &["npm.sigstore.json", "--key", "k.key.pub", "--offline"],
        Some(&reg),
    );
    assert_rejected(&verify, "artifact-unchecked");
    // Installed once (online), it starts offline, with no registry at all.
    assert_ok(&ws.session(&bundle, &[], Some(&reg)));
    assert_ok(&ws.session(&bundle, &["--offline"], None));
}

/// Scenario package-registry-unreachable-undecided.
#[test]
fn an_unreachable_registry_cannot_decide() {
    let ws = Ws::new();
    let bundle = ws.sign_copy("npm", npm_manifest());
    let out = ws.session(&bundle, &[], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("[network]"),
        "{}",
        text(&out.stderr)
    );
    assert!(listed_tools(&out).is_none());
}

/// Scenario package-mcpb-path-escape-refused.
#[test]
fn an_mcp_bundle_with_an_escaping_path_cannot_be_pinned() {
    let ws = Ws::new();
    let mcpb = ws.path().join("evil.mcpb");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&mcpb).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    z.start_file("manifest.json", opts).unwrap();
    z.write_all(b"{}").unwrap();
    z.start_file("../outside.js", opts).unwrap();
    z.write_all(b"x").unwrap();
    z.finish().unwrap();
    let out = ws.run(
        "mcp-sign",
        &[
            "init",
            "--name",
            "io.github.acme/b",
            "--version",
            "1.0.0",
            "--artifact",
            "mcpb:evil.mcpb",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("unsafe path"),
        "{}",
        text(&out.stderr)
    );
    assert!(!ws.path().join("mcp-manifest.json").exists());
}

/// Scenario package-mcpb-substituted-rejected.
#[test]
fn an_mcp_bundle_is_pinned_by_digest_and_contents() {
    let ws = Ws::new();
    let write = |path: &Path, body: &[u8]| {
        let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        z.start_file("manifest.json", opts).unwrap();
        z.write_all(b"{\"name\":\"w\"}").unwrap();
        z.start_file("server/index.js", opts).unwrap();
        z.write_all(body).unwrap();
        z.finish().unwrap();
    };
    write(&ws.path().join("w.mcpb"), b"console.log(1)");
    assert_ok(&ws.run(
        "mcp-sign",
        &[
            "init",
            "--name",
            "io.github.acme/b",
            "--version",
            "1.0.0",
            "--artifact",
            "mcpb:w.mcpb",
        ],
        None,
    ));
    let m: Value =
        serde_json::from_slice(&std::fs::read(ws.path().join("mcp-manifest.json")).unwrap())
            .unwrap();
    let paths: Vec<&str> = m["artifacts"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["manifest.json", "server/index.js"]);
    assert_ok(&ws.run(
        "mcp-sign",
        &["sign", "--key", "k.key", "mcp-manifest.json"],
        None,
    ));
    let check = [
        "mcp-manifest.sigstore.json",
        "--key",
        "k.key.pub",
        "--file",
        "w.mcpb=w.mcpb",
    ];
    let ok = ws.run("mcp-verify", &check, None);
    assert_ok(&ok);
    write(&ws.path().join("w.mcpb"), b"console.log(2)");
    let bad = ws.run("mcp-verify", &check, None);
    assert_rejected(&bad, "artifact-mismatch");
}

#[test]
fn every_package_scenario_is_run_here() {
    let me = std::fs::read_to_string(root().join("tests/packages.rs")).unwrap();
    let mut n = 0;
    for e in std::fs::read_dir(root().join("testdata/scenarios")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("package-") {
            n += 1;
            assert!(
                me.contains(&format!("/// Scenario {name}.")),
                "{name} is not run by tests/packages.rs"
            );
        }
    }
    assert!(n >= 10, "only {n} package scenarios");
}

/// Scenario package-store-blob-swapped-rejected.
#[test]
fn an_archive_swapped_in_the_store_is_refused_at_install() {
    let reg = Registry::start();
    let ws = Ws::new();
    let bundle = ws.sign_copy("npm", npm_manifest());
    assert_ok(&ws.session(&bundle, &[], Some(&reg)));
    // The install goes away, and the kept tarball of the server is replaced with other bytes.
    let store = ws.store();
    Command::new("chmod")
        .arg("-R")
        .arg("u+w")
        .arg(&store)
        .status()
        .unwrap();
    std::fs::remove_dir_all(store.join("trees")).unwrap();
    std::fs::create_dir(store.join("trees")).unwrap();
    for e in std::fs::read_dir(store.join("installs")).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    let ours = std::fs::read(data().join(npm_tarball(NPM_SERVER))).unwrap();
    let blob = std::fs::read_dir(store.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read(p).is_ok_and(|b| b == ours))
        .expect("the server's tarball is kept in the store");
    std::fs::write(
        &blob,
        std::fs::read(data().join(npm_tarball("zod"))).unwrap(),
    )
    .unwrap();
    let run = ws.session(&bundle, &[], Some(&reg));
    assert_rejected(&run, "artifact-mismatch");
    assert!(
        text(&run.stderr).contains("in the store"),
        "{}",
        text(&run.stderr)
    );
}

/// Scenario package-wheel-record-mismatch-rejected.
#[test]
fn a_pinned_wheel_whose_files_differ_from_its_record_is_refused() {
    use sha2::Digest as _;
    let reg = Registry::start();
    let ws = Ws::new();
    // A wheel the publisher signed, whose RECORD lies about one of its files.
    let mut zip_bytes = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut zip_bytes);
        let opts = zip::write::SimpleFileOptions::default();
        z.start_file("mcp_server_time/__init__.py", opts).unwrap();
        z.write_all(b"def main():\n    return 0\n").unwrap();
        z.start_file("mcp_server_time-2026.10.19.dist-info/RECORD", opts)
            .unwrap();
        z.write_all(
            b"mcp_server_time/__init__.py,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,25\n\
              mcp_server_time-2026.10.19.dist-info/RECORD,,\n",
        )
        .unwrap();
        z.finish().unwrap();
    }
    let evil = zip_bytes.into_inner();
    let hex = hex::encode(sha2::Sha256::digest(&evil));
    let w = wheel(PYPI_SERVER);
    reg.substitute(w["file"].as_str().unwrap(), &evil);
    let page_rel = w["simple"].as_str().unwrap();
    let mut page: Value =
        serde_json::from_slice(&std::fs::read(data().join(page_rel)).unwrap()).unwrap();
    for f in page["files"].as_array_mut().unwrap() {
        f["hashes"]["sha256"] = json!(hex);
    }
    reg.substitute(page_rel, &serde_json::to_vec(&page).unwrap());
    let mut m: Value = serde_json::from_slice(pypi_manifest()).unwrap();
    m["artifacts"][0]["digest"] = json!(format!("sha256:{hex}"));
    let bundle = ws.sign_copy("evil", &serde_json::to_vec_pretty(&m).unwrap());
    let run = ws.session(&bundle, &[], Some(&reg));
    assert_rejected(&run, "artifact-mismatch");
    assert!(
        text(&run.stderr).contains("RECORD"),
        "{}",
        text(&run.stderr)
    );
}

/// Scenario package-resolver-gets-no-secrets.
#[test]
fn the_resolver_never_sees_our_secrets() {
    let reg = Registry::start();
    let ws = Ws::new();
    let dump = ws.path().join("resolver-env");
    let npm = ws.path().join("npm-wrapper.sh");
    std::fs::write(
        &npm,
        format!("#!/bin/sh\nenv > '{}'\nexec npm \"$@\"\n", dump.display()),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&npm).status().unwrap();
    let mut cmd = ws.command(
        "mcp-sign",
        &[
            "init",
            "--name",
            "io.github.acme/packaged",
            "--version",
            "1.0.0",
            "--artifact",
            &format!("npm:{NPM_SERVER}@{NPM_VERSION}"),
        ],
        Some(&reg),
    );
    cmd.env("MCPSIG_NPM", &npm)
        .env("SIGSTORE_ID_TOKEN", "secret-oidc-token")
        .env("MCPSIG_KEY_PASSPHRASE", "secret-passphrase")
        .stdin(Stdio::null());
    assert_ok(&common::registries::bounded(cmd));
    let env = std::fs::read_to_string(&dump).unwrap();
    assert!(env.contains("PATH="), "the wrapper ran: {env}");
    assert!(!env.contains("secret-"), "{env}");
}
