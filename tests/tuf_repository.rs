//! The TUF client against real repositories made by an independent implementation: python-tuf
//! (installed by scripts/setup-tuf.sh) generates each case of testdata/scenarios/tuf-*/, and
//! Python's http.server serves it on 127.0.0.1. Each scenario's `expected` file says `accept` or
//! `reject <reason-code>`. The tuf-cache-*/ scenarios instead change a verified cache on disk and
//! read it back as verification does (`accept`: the cache is used; `reject <code>`: ignored).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use std::os::unix::fs::PermissionsExt as _;

use mcpsig::chrono::{Duration as Days, Utc};
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

/// The scenario directories whose name starts with `prefix`, minus those starting with `except`.
fn scenario_dirs(prefix: &str, except: Option<&str>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("testdata/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && except.is_none_or(|x| !n.starts_with(x)))
        })
        .collect();
    dirs.sort();
    dirs
}

/// Reads the trusted root back from a cache as verification does.
fn load(cache: &Path, anchor: &[u8]) -> Result<Option<tuf::CachedTarget>, TufError> {
    tuf::load_cached_target(cache, TRUSTED_ROOT_TARGET, anchor, Utc::now())
}

#[test]
fn tuf_scenarios() {
    let Some(py) = venv_python() else { return };
    let dirs = scenario_dirs("tuf-", Some("tuf-cache-"));
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
        let cached = load(cache.path(), &anchor);
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
                let cached = load(cache.path(), &anchor).unwrap().unwrap();
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
    let cached = load(cache.path(), &anchor).unwrap().unwrap();
    let mut bytes = cached.bytes.clone();
    bytes[10] ^= 1;
    std::fs::write(&cached.path, &bytes).unwrap();
    let err = load(cache.path(), &anchor).unwrap_err();
    assert_eq!(err.reason_code(), "target-hash-mismatch");
    // A cache whose root is older than the anchor is ignored (the binary ships a newer root).
    std::fs::write(&cached.path, &cached.bytes).unwrap();
    let newer_anchor = std::fs::read(gen_dir.path().join("repo/2.root.json")).unwrap();
    std::fs::copy(
        gen_dir.path().join("1.root.json"),
        cache.path().join("root.json"),
    )
    .unwrap();
    assert!(matches!(load(cache.path(), &newer_anchor), Ok(None)));
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
    verify.extend([
        "--tuf-url".into(),
        url.clone(),
        "--tuf-root".into(),
        tuf_root.display().to_string(),
    ]);
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
    let anchor = std::fs::read(&tuf_root).unwrap();
    let cached = load(&tuf::repo_cache_dir(cache.path(), &url), &anchor)
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

/// Copies a cache folder, giving folders mode 0700 and files 0644 whatever the umask.
fn copy_cache(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_cache(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A refreshed cache of one generated repository.
struct Refreshed {
    gen_dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    anchor: Vec<u8>,
}

fn refreshed(py: &Path, sub: &str) -> Refreshed {
    let gen_dir = generate(py, "accept");
    let server = Server::start(py, gen_dir.path());
    let anchor = std::fs::read(gen_dir.path().join("1.root.json")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    refresh(&server.url(sub), &anchor, cache.path()).unwrap();
    Refreshed {
        gen_dir,
        cache,
        anchor,
    }
}

/// Every testdata/scenarios/tuf-cache-*/: a cache verified by a refresh, then changed on disk as
/// its README says, then read back as verification reads it (no network). `accept`: the cached
/// trusted root is returned; `reject <code>`: the read fails with that code, so callers ignore
/// the cache (and fall back to the embedded root, with a warning).
#[test]
fn tuf_cache_scenarios() {
    let Some(py) = venv_python() else { return };
    let dirs = scenario_dirs("tuf-cache-", None);
    assert!(dirs.len() >= 10, "tuf-cache scenarios missing");
    let good = refreshed(&py, "repo");
    // Fresh keys: what someone who can write the cache could put there, complete and
    // self-consistent, but not chained from our anchor.
    let forged = refreshed(&py, "repo");
    assert_ne!(good.anchor, forged.anchor);
    // A later state of the same repository (same keys), for mixing versions.
    let later = tempfile::tempdir().unwrap();
    {
        let server = Server::start(&py, good.gen_dir.path());
        copy_cache(good.cache.path(), later.path());
        refresh(&server.url("repo-next"), &good.anchor, later.path()).unwrap();
    }
    let we_are_root = rustix::process::geteuid().is_root();

    let mut failures = Vec::new();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let expected = std::fs::read_to_string(dir.join("expected")).unwrap();
        let expected = expected.trim();
        let parent = tempfile::tempdir().unwrap();
        let cache = parent.path().join("cache");
        copy_cache(good.cache.path(), &cache);
        let mut now = Utc::now();
        match name.strip_prefix("tuf-cache-").unwrap() {
            "valid-used" => {}
            "forged-repository-ignored" => {
                std::fs::remove_dir_all(&cache).unwrap();
                copy_cache(forged.cache.path(), &cache);
            }
            "forged-head-root-ignored" => {
                // The old hole: a root.json signed only by its own (foreign) keys.
                std::fs::copy(
                    forged.cache.path().join("2.root.json"),
                    cache.join("root.json"),
                )
                .unwrap();
            }
            "forged-timestamp-ignored" => {
                std::fs::copy(
                    forged.cache.path().join("timestamp.json"),
                    cache.join("timestamp.json"),
                )
                .unwrap();
            }
            "truncated-root-chain-ignored" => {
                std::fs::remove_file(cache.join("2.root.json")).unwrap();
            }
            "mixed-versions-ignored" => {
                std::fs::copy(
                    later.path().join("snapshot.json"),
                    cache.join("snapshot.json"),
                )
                .unwrap();
            }
            "target-edited-ignored" => {
                let t = load(&cache, &good.anchor).unwrap().unwrap();
                let mut bytes = t.bytes.clone();
                bytes[10] ^= 1;
                std::fs::write(&t.path, &bytes).unwrap();
            }
            "world-writable-ignored" => chmod(&cache, 0o777),
            "group-writable-file-ignored" => chmod(&cache.join("targets.json"), 0o664),
            "writable-parent-ignored" => chmod(parent.path(), 0o777),
            "foreign-owner-ignored" => {
                // Needs root to give a file away; the owner rule itself is also unit-tested
                // (src/sigstore/tuf/private_dir.rs).
                assert!(
                    we_are_root,
                    "{name}: run as root (chown is needed to make another user's cache)"
                );
                std::os::unix::fs::chown(&cache, Some(12345), None).unwrap();
            }
            "sparse-root-ignored" => {
                let f = std::fs::File::create(cache.join("root.json")).unwrap();
                f.set_len(3 << 30).unwrap();
            }
            "expired-used-with-warning" => now += Days::days(2),
            other => panic!("{name}: no cache change defined for `{other}`"),
        }
        let result = tuf::load_cached_target(&cache, TRUSTED_ROOT_TARGET, &good.anchor, now);
        let outcome = match &result {
            Ok(Some(_)) => "accept".to_owned(),
            Ok(None) => "none".to_owned(),
            Err(e) => format!("reject {}", e.reason_code()),
        };
        eprintln!(
            "{name}: {outcome} {:?}",
            result.as_ref().err().map(|e| e.to_string())
        );
        if outcome != expected {
            failures.push(format!(
                "{name}: expected `{expected}`, got `{outcome}` ({result:?})"
            ));
            continue;
        }
        if name == "tuf-cache-expired-used-with-warning" {
            let t = result.unwrap().unwrap();
            let roles: Vec<&str> = t.expired.iter().map(|r| r.role.as_str()).collect();
            assert_eq!(roles, ["timestamp"], "{name}");
        } else if let Ok(Some(t)) = result {
            assert!(t.expired.is_empty(), "{name}: {:?}", t.expired);
        }
        // Give the folder back so the temporary folder can be removed.
        if name == "tuf-cache-foreign-owner-ignored" {
            std::os::unix::fs::chown(&cache, Some(0), None).unwrap();
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A refresh into a cache folder others can write fails before fetching anything (exit 2:
/// a local problem, not something the repository offered), and the cache it would have made
/// is never private only by luck: new folders are created 0700.
#[test]
fn refresh_refuses_an_unsafe_cache_folder() {
    let parent = tempfile::tempdir().unwrap();
    let cache = parent.path().join("new").join("cache");
    // Nothing listens on port 9: the permission check must come first to be seen here.
    let err = refresh("http://127.0.0.1:9", tuf::staging_root(), &cache).unwrap_err();
    assert_eq!(err.reason_code(), "network", "{err}");
    for d in [
        parent.path().join("new"),
        cache.clone(),
        cache.join("targets"),
    ] {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
    }
    chmod(&cache, 0o777);
    let err = refresh("http://127.0.0.1:9", tuf::staging_root(), &cache).unwrap_err();
    assert_eq!(err.reason_code(), "unsafe-cache", "{err}");
    assert!(!err.is_rejection());
    assert!(
        err.to_string().contains("writable by group and others"),
        "{err}"
    );
}

/// Through the binary: a forged cache for the default repository is reported on stderr with its
/// reason and the embedded root is used; verification still succeeds.
#[test]
fn cli_ignores_a_world_writable_default_cache() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tuf::repo_cache_dir(cache.path(), tuf::PRODUCTION_URL);
    std::fs::create_dir_all(&dir).unwrap();
    chmod(&dir, 0o777);
    std::fs::write(dir.join("root.json"), tuf::production_root()).unwrap();
    let args = valid_bundle_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = mcp_verify(cache.path(), &args);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: ignoring the trusted root cached from")
            && err.contains("(unsafe-cache)")
            && err.contains("using the embedded one"),
        "{err}"
    );
}

/// `--tuf-url` names a repository the binary has no anchor for: verification needs its TUF root
/// too, or there would be nothing to check the cached roots against.
#[test]
fn cli_tuf_url_needs_tuf_root() {
    let cache = tempfile::tempdir().unwrap();
    let mut args = valid_bundle_args();
    args.extend(["--tuf-url".into(), "http://127.0.0.1:9".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = mcp_verify(cache.path(), &args);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tuf-root"), "{err}");
}
