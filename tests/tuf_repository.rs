//! The TUF client against real repositories made by an independent implementation: python-tuf
//! (installed by scripts/setup-tuf.sh) generates each case of testdata/scenarios/tuf-*/, and
//! Python's http.server serves it on 127.0.0.1. Each scenario's `expected` file says `accept` or
//! `reject <reason-code>`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mcpsig::sigstore::tuf::{
    self, Limits, RefreshOptions, RefreshReport, TRUSTED_ROOT_TARGET, TufError,
};

const SETUP_HINT: &str = "run scripts/setup-tuf.sh to install python-tuf into .venv-tuf (or set MCPSIG_SKIP_EXTERNAL=1 to skip)";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's Python, or `None` (skip) when it is missing and MCPSIG_SKIP_EXTERNAL=1.
fn venv_python() -> Option<PathBuf> {
    let py = root().join(".venv-tuf/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import tuf.api.metadata"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(py);
    }
    if common::skip_external() {
        eprintln!("skipping: python-tuf is missing and MCPSIG_SKIP_EXTERNAL=1");
        return None;
    }
    panic!("python-tuf is not installed: {SETUP_HINT}");
}

/// The Sigstore trusted root the generated repositories publish as their target.
fn published_target() -> PathBuf {
    root().join("testdata/sigstore-trust/staging.trusted_root.json")
}

/// Generates case `case` into a fresh temporary directory.
fn generate(py: &Path, case: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(py)
        .arg(root().join("testdata/tuf/make_repo.py"))
        .arg(out.path())
        .arg(case)
        .arg(published_target())
        .status()
        .expect("run make_repo.py");
    assert!(status.success(), "make_repo.py {case} failed");
    out
}

/// `python3 -m http.server` on 127.0.0.1, port chosen by the OS; killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(py: &Path, dir: &Path) -> Self {
        let mut child = Command::new(py)
            .args([
                "-u",
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "0",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start http.server");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("http.server did not announce its port within 20 s");
            }
        };
        let port = line
            .split(" port ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("unexpected http.server banner: {line:?}");
        };
        Self { child, port }
    }

    fn url(&self, sub: &str) -> String {
        format!("http://127.0.0.1:{}/{sub}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn test_limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(20),
        ..Limits::default()
    }
}

fn refresh_with(
    url: &str,
    anchor: &[u8],
    cache: &Path,
    limits: Limits,
) -> Result<RefreshReport, TufError> {
    tuf::refresh(&RefreshOptions {
        url,
        initial_root: anchor,
        cache_dir: cache,
        now: mcpsig::chrono::Utc::now(),
        limits,
    })
}

fn refresh(url: &str, anchor: &[u8], cache: &Path) -> Result<RefreshReport, TufError> {
    refresh_with(url, anchor, cache, test_limits())
}

fn scenario_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("testdata/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("tuf-"))
        })
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn tuf_scenarios() {
    let Some(py) = venv_python() else { return };
    let dirs = scenario_dirs();
    assert!(dirs.len() >= 15, "tuf scenarios missing");
    let target = std::fs::read(published_target()).unwrap();
    let mut failures = Vec::new();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let case = name.strip_prefix("tuf-").unwrap();
        let expected = std::fs::read_to_string(dir.join("expected")).unwrap();
        let expected = expected.trim();
        let gen_dir = generate(&py, case);
        let server = Server::start(&py, gen_dir.path());
        let anchor = std::fs::read(gen_dir.path().join("1.root.json")).unwrap();
        let cache = tempfile::tempdir().unwrap();

        let limits = if case == "root-rotation-limit" {
            Limits {
                max_root_rotations: 1,
                ..test_limits()
            }
        } else {
            test_limits()
        };
        let mut result = refresh_with(&server.url("repo"), &anchor, cache.path(), limits);
        if case == "version-rollback" {
            // The first refresh is good and sets the floor the second must not go under.
            assert!(result.is_ok(), "{name}: first refresh failed: {result:?}");
            result = refresh(&server.url("repo-next"), &anchor, cache.path());
        }
        let outcome = match &result {
            Ok(_) => "accept".to_owned(),
            Err(e) => format!("reject {}", e.reason_code()),
        };
        match &result {
            Ok(r) => eprintln!(
                "{name}: accept (root v{}, targets v{})",
                r.root_version, r.targets_version
            ),
            Err(e) => eprintln!("{name}: reject {}: {e}", e.reason_code()),
        }
        if outcome != expected {
            failures.push(format!(
                "{name}: expected `{expected}`, got `{outcome}` ({result:?})"
            ));
            continue;
        }
        let cached = tuf::load_cached_target(cache.path(), TRUSTED_ROOT_TARGET, None);
        match (case, result) {
            ("accept", Ok(report)) => {
                assert_eq!(report.root_version_before, 1);
                assert_eq!(report.root_version, 2, "{name}: root rotation not followed");
                assert_eq!(report.targets_version, 1);
                assert!(report.targets.iter().all(|t| t.changed));
                assert_eq!(report.targets.len(), 2);
                let cached = cached.unwrap().expect("cached trusted root");
                assert_eq!(cached.bytes, target);
                assert_eq!(cached.root_version, 2);
                // A later state of the repository: the cached root v2 is the starting point.
                let again = refresh(&server.url("repo-next"), &anchor, cache.path()).unwrap();
                assert_eq!(again.root_version_before, 2);
                assert_eq!(again.timestamp_version, 2);
                let changed: Vec<(&str, bool)> = again
                    .targets
                    .iter()
                    .map(|t| (t.name.as_str(), t.changed))
                    .collect();
                assert_eq!(
                    changed,
                    [
                        ("trusted_root.json", true),
                        ("signing_config.v0.2.json", false)
                    ]
                );
                let cached = tuf::load_cached_target(cache.path(), TRUSTED_ROOT_TARGET, None)
                    .unwrap()
                    .unwrap();
                assert_eq!(cached.bytes.len(), target.len() + 1);
                assert_eq!(cached.targets_version, 2);
                // Only the current target files are kept.
                let files = std::fs::read_dir(cache.path().join("targets"))
                    .unwrap()
                    .count();
                assert_eq!(files, 2);
            }
            ("version-rollback", Err(_)) => {
                // The rejected refresh left the earlier verified state in place.
                let cached = cached.unwrap().expect("state of the first refresh");
                assert_eq!(cached.targets_version, 3);
            }
            (_, Err(_)) => {
                // Nothing unverified reached the cache.
                assert!(
                    matches!(cached, Ok(None)),
                    "{name}: a rejected refresh left a usable target: {cached:?}"
                );
            }
            (_, Ok(_)) => unreachable!("accept handled above"),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A cached target edited on disk no longer matches the signed targets metadata: reading the
/// cache fails instead of returning it.
#[test]
fn tampered_cache_is_refused() {
    let Some(py) = venv_python() else { return };
    let gen_dir = generate(&py, "accept");
    let server = Server::start(&py, gen_dir.path());
    let anchor = std::fs::read(gen_dir.path().join("1.root.json")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    refresh(&server.url("repo"), &anchor, cache.path()).unwrap();
    drop(server);
    let cached = tuf::load_cached_target(cache.path(), TRUSTED_ROOT_TARGET, None)
        .unwrap()
        .unwrap();
    let mut bytes = cached.bytes.clone();
    bytes[10] ^= 1;
    std::fs::write(&cached.path, &bytes).unwrap();
    let err = tuf::load_cached_target(cache.path(), TRUSTED_ROOT_TARGET, None).unwrap_err();
    assert_eq!(err.reason_code(), "target-hash-mismatch");
    // A cache whose root is older than the anchor is ignored (the binary ships a newer root).
    std::fs::write(&cached.path, &cached.bytes).unwrap();
    let newer_anchor = std::fs::read(gen_dir.path().join("repo/2.root.json")).unwrap();
    std::fs::copy(
        gen_dir.path().join("1.root.json"),
        cache.path().join("root.json"),
    )
    .unwrap();
    assert!(matches!(
        tuf::load_cached_target(cache.path(), TRUSTED_ROOT_TARGET, Some(&newer_anchor)),
        Ok(None)
    ));
}

/// No network during verification: the refresh fails cleanly (exit-2 class) when nothing
/// listens, naming the URL and role.
#[test]
fn unreachable_repository_names_url_and_role() {
    let cache = tempfile::tempdir().unwrap();
    // Port 9 (discard) on loopback: nothing listens there in the test environment.
    let err = refresh("http://127.0.0.1:9", tuf::staging_root(), cache.path()).unwrap_err();
    assert!(!err.is_rejection(), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("http://127.0.0.1:9/15.root.json") && msg.contains("root"),
        "{msg}"
    );
}

fn mcp_verify(cache: &Path, args: &[&str]) -> std::process::Output {
    Command::new(common::bin("mcp-verify"))
        .args(args)
        .env("MCPSIG_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .output()
        .expect("run mcp-verify")
}

fn valid_bundle_args() -> Vec<String> {
    let s = root().join("testdata/scenarios");
    vec![
        s.join("valid-bundle-accepted/bundle.sigstore.json")
            .display()
            .to_string(),
        "--key".into(),
        s.join("_keys/scenario.pub").display().to_string(),
        "--signature-only".into(),
    ]
}

/// End to end through the binary: `trust refresh` from a loopback repository, then a
/// verification that reads the cached root (and refuses it once it is tampered with).
#[test]
fn cli_refresh_then_verify_with_cached_root() {
    let Some(py) = venv_python() else { return };
    let gen_dir = generate(&py, "accept");
    let server = Server::start(&py, gen_dir.path());
    let url = server.url("repo");
    let tuf_root = gen_dir.path().join("1.root.json");
    let cache = tempfile::tempdir().unwrap();
    let refresh_args = [
        "trust",
        "refresh",
        "--tuf-url",
        &url,
        "--tuf-root",
        tuf_root.to_str().unwrap(),
    ];
    let mut json_args = refresh_args.to_vec();
    json_args.push("--json");
    let out = mcp_verify(cache.path(), &json_args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["root_version_before"], 1);
    assert_eq!(report["root_version"], 2);
    assert_eq!(report["targets"][0]["name"], "trusted_root.json");
    assert_eq!(report["targets"][0]["changed"], true);

    // A second refresh changes nothing and says so.
    let out = mcp_verify(cache.path(), &refresh_args);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("root:      v2 (unchanged)"), "{text}");
    assert!(text.contains("trusted_root.json: unchanged"), "{text}");
    drop(server);

    // Verification with the cached root: the server is gone, so no network is involved.
    let mut verify: Vec<String> = valid_bundle_args();
    verify.extend(["--tuf-url".into(), url.clone()]);
    let verify: Vec<&str> = verify.iter().map(String::as_str).collect();
    let out = mcp_verify(cache.path(), &verify);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The cached trusted root edited on disk: refused, never used.
    let cached = tuf::load_cached_target(
        &tuf::repo_cache_dir(cache.path(), &url),
        TRUSTED_ROOT_TARGET,
        None,
    )
    .unwrap()
    .unwrap();
    let mut bytes = cached.bytes.clone();
    bytes[20] ^= 1;
    std::fs::write(&cached.path, &bytes).unwrap();
    let out = mcp_verify(cache.path(), &verify);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not usable") && err.contains("sha"), "{err}");

    // No cache at all for that repository: an error that says how to make one.
    let empty = tempfile::tempdir().unwrap();
    let out = mcp_verify(empty.path(), &verify);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mcp-verify trust refresh --tuf-url"), "{err}");
}

/// A repository that fails verification: exit 1 with the reason code in the JSON error.
#[test]
fn cli_refresh_rejection_exits_1() {
    let Some(py) = venv_python() else { return };
    let gen_dir = generate(&py, "bad-signature");
    let server = Server::start(&py, gen_dir.path());
    let url = server.url("repo");
    let tuf_root = gen_dir.path().join("1.root.json");
    let cache = tempfile::tempdir().unwrap();
    let out = mcp_verify(
        cache.path(),
        &[
            "trust",
            "refresh",
            "--tuf-url",
            &url,
            "--tuf-root",
            tuf_root.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["reason"], "bad-signature");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("timestamp")
    );
}

/// A damaged cache for the default (production) repository never blocks verification: it is
/// reported on stderr and the embedded root is used.
#[test]
fn damaged_default_cache_falls_back_to_embedded_root() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tuf::repo_cache_dir(cache.path(), tuf::PRODUCTION_URL);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("root.json"), b"{\"signed\": 1}").unwrap();
    let args = valid_bundle_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = mcp_verify(cache.path(), &args);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: ignoring the trusted root cached from"),
        "{err}"
    );
}
