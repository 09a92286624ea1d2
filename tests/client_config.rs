//! `mcp-verify config`: client configurations of the four kinds (testdata/client-configs/),
//! coverage by a really signed bundle, `--wrap` / `--unwrap`, and the refusals. Every
//! testdata/scenarios/config-* directory is run here (see `SCENARIOS`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bin, copy_tree, root};
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mcp(name: &str, args: &[&str], cwd: &Path) -> Output {
    Command::new(bin(name))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("MCPSIG_KEY_PASSPHRASE")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A workspace: `srv/` holds tests/servers/drift-server.py, pinned with the launch
/// `python3 drift-server.py` and signed with `k.key` (bundle `srv/mcp-manifest.sigstore.json`);
/// `other.key` is a second key that signed nothing.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("srv")).unwrap();
        std::fs::copy(
            root().join("tests/servers/drift-server.py"),
            d.join("srv/drift-server.py"),
        )
        .unwrap();
        ok(&mcp(
            "mcp-sign",
            &[
                "init",
                "--name",
                "io.github.acme/drift",
                "--version",
                "1.0.0",
                "--dir",
                "srv",
                "--launch",
                "python3 drift-server.py",
                "-o",
                "srv/mcp-manifest.json",
            ],
            d,
        ));
        ok(&mcp("mcp-sign", &["keygen", "--out", "k.key"], d));
        ok(&mcp("mcp-sign", &["keygen", "--out", "other.key"], d));
        ok(&mcp(
            "mcp-sign",
            &["sign", "--key", "k.key", "srv/mcp-manifest.json"],
            d,
        ));
        Workspace { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn server(&self) -> PathBuf {
        self.path().join("srv")
    }
    fn bundle(&self) -> String {
        self.server()
            .join("mcp-manifest.sigstore.json")
            .display()
            .to_string()
    }
    fn key(&self) -> String {
        self.path().join("k.key.pub").display().to_string()
    }
    /// `mcp-verify config ARGS...`
    fn config(&self, args: &[&str]) -> Output {
        let mut all = vec!["config"];
        all.extend(args);
        mcp("mcp-verify", &all, self.path())
    }
    /// Copies a fixture of testdata/client-configs/ into the workspace with `{server}` filled
    /// in; returns the configuration's path.
    fn fixture(&self, kind: &str, rel: &str) -> PathBuf {
        let to = self.path().join(kind);
        copy_tree(&root().join("testdata/client-configs").join(kind), &to);
        let file = to.join(rel);
        let body = std::fs::read_to_string(&file)
            .unwrap()
            .replace("{server}", &self.server().display().to_string());
        std::fs::write(&file, body).unwrap();
        file
    }
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)))
}

fn servers_of(doc: &Value, key: &str) -> serde_json::Map<String, Value> {
    doc[key].as_object().unwrap().clone()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

const FIXTURES: [(&str, &str, &str); 4] = [
    ("claude-desktop", "claude_desktop_config.json", "mcpServers"),
    ("cursor", ".cursor/mcp.json", "mcpServers"),
    ("vscode", ".vscode/mcp.json", "servers"),
    ("claude-code", ".mcp.json", "mcpServers"),
];

/// Report, wrap, wrap again, unwrap, for each client's real-shaped configuration.
#[test]
fn each_client_configuration_is_reported_wrapped_and_unwrapped() {
    let ws = Workspace::new();
    let bundles = ws.server().display().to_string();
    for (kind, rel, key) in FIXTURES {
        let file = ws.fixture(kind, rel);
        let f = file.to_str().unwrap();
        let original_bytes = std::fs::read(&file).unwrap();
        let original = read_json(&file);

        // Report, human: the signed entry is covered, the others are not.
        let out = ws.config(&[f, "--bundles", &bundles]);
        assert_eq!(out.status.code(), Some(1), "{kind}: {}", text(&out.stderr));
        let human = text(&out.stdout);
        assert!(human.contains(&format!("({kind})")), "{human}");
        assert!(
            human.contains(&format!("drift: covered by {}", ws.bundle())),
            "{kind}: {human}"
        );
        assert!(human.contains("io.github.acme/drift 1.0.0"), "{human}");
        assert!(human.contains("verify at launch"), "{human}");
        assert!(human.contains("[not-covered]"), "{kind}: {human}");
        if kind != "claude-desktop" {
            assert!(human.contains("[remote-server]"), "{kind}: {human}");
        }

        // Report, JSON, with the signature checked.
        let out = ws.config(&[f, "--bundles", &bundles, "--key", &ws.key(), "--json"]);
        assert_eq!(out.status.code(), Some(1));
        let doc = json(&out);
        assert_eq!(doc["format"], kind);
        assert_eq!(doc["covered"], false);
        assert_eq!(doc["signaturesChecked"], true);
        let reported = doc["servers"].as_array().unwrap();
        assert_eq!(reported.len(), servers_of(&original, key).len());
        for s in reported {
            match s["name"].as_str().unwrap() {
                "drift" => {
                    assert_eq!(s["status"], "covered", "{s}");
                    assert_eq!(s["bundle"], ws.bundle().as_str());
                    assert_eq!(s["server"]["name"], "io.github.acme/drift");
                    assert_eq!(s["signer"]["kind"], "key");
                }
                _ if s["url"].is_string() => {
                    assert_eq!(s["status"], "remote");
                    assert_eq!(s["reason"], "remote-server");
                }
                _ => {
                    assert_eq!(s["status"], "not-covered", "{s}");
                    assert_eq!(s["reason"], "not-covered");
                }
            }
        }

        // Wrap: only the covered entry changes; everything else stays, in order.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let out = ws.config(&["--wrap", f, "--bundles", &bundles, "--key", &ws.key()]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("wrapped: drift"),
            "{}",
            text(&out.stdout)
        );
        let wrapped_bytes = std::fs::read(&file).unwrap();
        let wrapped = read_json(&file);
        let backup = PathBuf::from(format!("{f}.mcpsig-backup"));
        assert_eq!(std::fs::read(&backup).unwrap(), original_bytes);
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let entry = &wrapped[key]["drift"];
        assert_eq!(entry["command"], bin("mcp-verify").display().to_string());
        let args: Vec<&str> = entry["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let orig_entry = &original[key]["drift"];
        let mut want = vec![
            "run".to_owned(),
            ws.bundle(),
            "--dir".to_owned(),
            ws.server().display().to_string(),
            "--key".to_owned(),
            ws.key(),
        ];
        for name in orig_entry["env"].as_object().unwrap().keys() {
            want.extend(["--env".to_owned(), name.clone()]);
        }
        want.push("--".to_owned());
        want.push(orig_entry["command"].as_str().unwrap().to_owned());
        for a in orig_entry["args"].as_array().unwrap() {
            want.push(a.as_str().unwrap().to_owned());
        }
        assert_eq!(args, want, "{kind}");
        // The entry's env (and every other key of it) is kept as it was.
        for (k, v) in orig_entry.as_object().unwrap() {
            if k != "command" && k != "args" {
                assert_eq!(&entry[k], v, "{kind}: {k}");
            }
        }
        let mut rest_before = original.clone();
        let mut rest_after = wrapped.clone();
        rest_before[key].as_object_mut().unwrap().remove("drift");
        rest_after[key].as_object_mut().unwrap().remove("drift");
        assert_eq!(rest_before.to_string(), rest_after.to_string(), "{kind}");
        let keys_before: Vec<&String> = original.as_object().unwrap().keys().collect();
        let keys_after: Vec<&String> = wrapped.as_object().unwrap().keys().collect();
        assert_eq!(keys_before, keys_after);
        if kind == "vscode" {
            assert!(
                text(&wrapped_bytes).contains("\n\t\"servers\": {\n\t\t"),
                "tabs kept"
            );
        }

        // The report now names the wrap.
        let out = ws.config(&[f, "--json"]);
        let doc = json(&out);
        let drift = doc["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "drift")
            .unwrap();
        assert_eq!(drift["status"], "wrapped");
        assert_eq!(drift["bundle"], ws.bundle().as_str());

        // Wrapping again changes nothing, byte for byte, and touches no backup.
        std::fs::write(&backup, b"kept").unwrap();
        let out = ws.config(&["--wrap", f, "--bundles", &bundles, "--key", &ws.key()]);
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stdout).contains("nothing to change"));
        assert_eq!(std::fs::read(&file).unwrap(), wrapped_bytes);
        assert_eq!(std::fs::read(&backup).unwrap(), b"kept");

        // Unwrap restores each entry from its own arguments, without the backup.
        std::fs::remove_file(&backup).unwrap();
        let out = ws.config(&["--unwrap", f, "--dry-run"]);
        ok(&out);
        assert!(text(&out.stdout).contains("would have unwrapped: drift"));
        assert_eq!(std::fs::read(&file).unwrap(), wrapped_bytes);
        let out = ws.config(&["--unwrap", f]);
        ok(&out);
        let restored = read_json(&file);
        assert_eq!(restored, original, "{kind}");
        assert_eq!(
            restored.to_string(),
            original.to_string(),
            "{kind}: key order"
        );
        assert!(!backup.exists(), "unwrap writes no backup");
    }
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let ws = Workspace::new();
    let file = ws.fixture("claude-desktop", "claude_desktop_config.json");
    let f = file.to_str().unwrap();
    let before = std::fs::read(&file).unwrap();
    let bundles = ws.server().display().to_string();
    let out = ws.config(&[
        "--wrap",
        f,
        "--bundles",
        &bundles,
        "--key",
        &ws.key(),
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("~ drift"), "{stdout}");
    assert!(stdout.contains("-   \"command\": \"python3\""), "{stdout}");
    assert!(stdout.contains("+   \"command\": \""), "{stdout}");
    assert!(stdout.contains("would have wrapped: drift"), "{stdout}");
    assert!(stdout.contains("filesystem: [not-covered]"), "{stdout}");
    assert!(stdout.contains("note: `npx` fetches code"), "{stdout}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    assert!(!PathBuf::from(format!("{f}.mcpsig-backup")).exists());
    // The same as JSON.
    let out = ws.config(&[
        "--wrap",
        f,
        "--bundles",
        &bundles,
        "--key",
        &ws.key(),
        "--dry-run",
        "--json",
    ]);
    let doc = json(&out);
    assert_eq!(doc["dryRun"], true);
    assert_eq!(doc["written"], false);
    assert_eq!(doc["allWrapped"], false);
    assert_eq!(doc["changes"][0]["name"], "drift");
    assert_eq!(doc["changes"][0]["before"]["command"], "python3");
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn the_backup_is_kept_unless_forced() {
    let ws = Workspace::new();
    let file = ws.fixture("claude-code", ".mcp.json");
    let f = file.to_str().unwrap();
    let bundles = ws.server().display().to_string();
    let original = std::fs::read(&file).unwrap();
    let key = ws.key();
    let wrap = |extra: &[&str]| {
        let mut a = vec!["--wrap", f, "--bundles", &bundles, "--key", &key];
        a.extend(extra);
        ws.config(&a)
    };
    assert_eq!(wrap(&[]).status.code(), Some(1));
    let backup = PathBuf::from(format!("{f}.mcpsig-backup"));
    assert_eq!(std::fs::read(&backup).unwrap(), original);
    ok(&ws.config(&["--unwrap", f]));
    let unwrapped = std::fs::read(&file).unwrap();
    // A second wrap would replace the first backup: refused, nothing written.
    let out = wrap(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert!(err.contains("hint: an earlier backup is kept"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), unwrapped);
    assert_eq!(std::fs::read(&backup).unwrap(), original);
    // --force replaces it with the file as it was just before this wrap.
    assert_eq!(wrap(&["--force"]).status.code(), Some(1));
    assert_eq!(std::fs::read(&backup).unwrap(), unwrapped);
}

#[test]
fn a_bundle_signed_by_another_key_covers_nothing() {
    let ws = Workspace::new();
    let file = ws.fixture("cursor", ".cursor/mcp.json");
    let f = file.to_str().unwrap();
    let bundles = ws.server().display().to_string();
    let other = ws.path().join("other.key.pub").display().to_string();
    let before = std::fs::read(&file).unwrap();
    let out = ws.config(&[f, "--bundles", &bundles, "--key", &other, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    let drift = doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "drift")
        .unwrap()
        .clone();
    assert_eq!(drift["status"], "not-covered");
    assert_eq!(drift["rejected"][0]["bundle"], ws.bundle().as_str());
    assert_eq!(
        drift["rejected"][0]["problems"][0]["reason"],
        "untrusted-signer"
    );
    // And --wrap with that key wraps nothing.
    let out = ws.config(&["--wrap", f, "--bundles", &bundles, "--key", &other]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("nothing to change"));
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn a_symlinked_configuration_is_read_but_not_rewritten() {
    let ws = Workspace::new();
    let real = ws.fixture("claude-desktop", "claude_desktop_config.json");
    let dir = ws.path().join("linked");
    std::fs::create_dir(&dir).unwrap();
    let link = dir.join("claude_desktop_config.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let l = link.to_str().unwrap();
    let bundles = ws.server().display().to_string();
    let before = std::fs::read(&real).unwrap();
    let out = ws.config(&[l, "--bundles", &bundles]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("drift: covered by"));
    let out = ws.config(&["--wrap", l, "--bundles", &bundles, "--key", &ws.key()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("is a symbolic link"), "{err}");
    assert!(
        err.contains(&format!(
            "hint: rewrite the file it points to: `{}`",
            real.display()
        )),
        "{err}"
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&real).unwrap(), before);
    // The target itself can be wrapped.
    let r = real.to_str().unwrap();
    let out = ws.config(&["--wrap", r, "--bundles", &bundles, "--key", &ws.key()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_ne!(std::fs::read(&real).unwrap(), before);
}

#[test]
fn a_read_only_configuration_is_not_rewritten() {
    let ws = Workspace::new();
    let file = ws.fixture("vscode", ".vscode/mcp.json");
    let f = file.to_str().unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&file).unwrap();
    let bundles = ws.server().display().to_string();
    let out = ws.config(&["--wrap", f, "--bundles", &bundles, "--key", &ws.key()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("is read-only"), "{err}");
    assert!(err.contains("hint: make it writable"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o444
    );
    assert!(!PathBuf::from(format!("{f}.mcpsig-backup")).exists());
}

#[test]
fn malformed_configurations_are_errors_and_left_untouched() {
    let ws = Workspace::new();
    let bundles = ws.server().display().to_string();
    let huge = format!("{{\"a\": \"{}\"}}", "x".repeat(5 << 20));
    for (body, message) in [
        (
            r#"{"mcpServers": {"a": {"command": "x"}, "a": {"command": "y"}}}"#,
            "duplicate object key `a`",
        ),
        ("[]", "the document is not a JSON object"),
        (
            r#"{"mcpServers": "none"}"#,
            "`mcpServers` is not a JSON object",
        ),
        (
            r#"{"mcpServers": {"a": {"command": ["x"]}}}"#,
            "server `a`: `command` is not a string",
        ),
        (huge.as_str(), "larger than 4194304 bytes"),
    ] {
        let file = ws.path().join("claude_desktop_config.json");
        std::fs::write(&file, body).unwrap();
        let f = file.to_str().unwrap();
        for wrap in [false, true] {
            let key = ws.key();
            let mut args = vec![f, "--bundles", &bundles];
            if wrap {
                args.extend(["--wrap", "--key", &key]);
            }
            let out = ws.config(&args);
            assert_eq!(out.status.code(), Some(2), "{message}");
            let err = text(&out.stderr);
            assert!(err.contains(message), "{err}");
            assert_eq!(std::fs::read(&file).unwrap(), body.as_bytes());
            // The JSON form carries the same error.
            args.push("--json");
            let doc = json(&ws.config(&args));
            assert_eq!(doc["error"]["reason"], "error");
        }
    }
}

#[test]
fn wrapping_passes_the_policy_and_needs_trust_or_a_policy() {
    let ws = Workspace::new();
    let file = ws.fixture("claude-desktop", "claude_desktop_config.json");
    let f = file.to_str().unwrap();
    let bundles = ws.server().display().to_string();
    let out = ws.config(&["--wrap", f, "--bundles", &bundles]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("needs the trust options"));
    let policy = ws.path().join("policy.toml");
    let out = ws.config(&[
        "--wrap",
        f,
        "--bundles",
        &bundles,
        "--policy",
        "policy.toml",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing policy file is an error"
    );
    std::fs::write(&policy, "# policy\n").unwrap();
    let out = ws.config(&[
        "--wrap",
        f,
        "--bundles",
        &bundles,
        "--policy",
        "policy.toml",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let wrapped = read_json(&file);
    let args: Vec<&str> = wrapped["mcpServers"]["drift"]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let at = args.iter().position(|a| *a == "--policy").unwrap();
    assert_eq!(args[at + 1], policy.display().to_string());
    assert!(!args.contains(&"--key"));
}

#[test]
fn names_from_the_file_are_escaped_on_a_terminal_and_exact_in_json() {
    let ws = Workspace::new();
    let file = ws.path().join("claude_desktop_config.json");
    std::fs::write(
        &file,
        r#"{"mcpServers": {"evil\u001b[2J\u202e": {"command": "python3", "args": ["x\u001b]0;t\u0007"]}}}"#,
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = ws.config(&[f]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{202e}'),
        "{stdout:?}"
    );
    assert!(stdout.contains("evil\\u{1b}[2J"), "{stdout}");
    let doc = json(&ws.config(&[f, "--json"]));
    assert_eq!(doc["servers"][0]["name"], "evil\u{1b}[2J\u{202e}");
    assert_eq!(doc["servers"][0]["command"][1], "x\u{1b}]0;t\u{7}");
}

// ---- Scenarios ----

/// Every testdata/scenarios/config-* directory, each run by `config_scenarios` below.
const SCENARIOS: &[&str] = &[
    "config-bogus-bundle-ignored",
    "config-bundle-folder-too-large",
    "config-bundle-wrong-signer",
    "config-command-and-url",
    "config-comments-refused",
    "config-covered-entry-accepted",
    "config-duplicate-keys",
    "config-entry-malformed",
    "config-extra-argument",
    "config-huge-file",
    "config-not-an-object",
    "config-path-with-dot-dot",
    "config-remote-headers-malformed",
    "config-remote-server",
    "config-remote-server-pinned",
    "config-servers-not-an-object",
    "config-uncovered-entry",
    "config-unknown-file-name",
    "config-wrap-accepted",
    "config-wrap-backup-kept",
    "config-wrap-credential-env-left",
    "config-wrap-env-file-left",
    "config-wrap-read-only",
    "config-wrap-symlink",
    "config-wrap-without-trust",
    "config-wrapped-accepts-every-change",
    "config-wrapped-bundle-missing",
    "config-wrapped-command-not-signed",
    "config-wrapped-empty-bundle-not-covered",
];

/// Every file under `dir` (following nothing) and its bytes.
fn snapshot(dir: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            snapshot(&e.path(), out);
        } else if ft.is_symlink() {
            out.insert(e.path(), None);
        } else {
            out.insert(e.path(), Some(std::fs::read(e.path()).unwrap()));
        }
    }
}

/// A scenario holds the configuration file(s) under their client names (`{server}` in them is
/// the signed server's folder), `args` (one per line, after `mcp-verify config`; `{work}`: the
/// scenario's copy, `{server}`, `{keys}`: the folder of `k.key.pub` and `other.key.pub`),
/// optional `setup.sh` (run with the copy as `$1`, the signed server's folder as `$2`), `expected` (`accept`, `reject [REASON]` or
/// `error`) and optional `stdout` / `stderr` texts the output must contain. Anything but
/// `accept` must leave every file of the copy as it was.
fn run_scenario(ws: &Workspace, name: &str) -> Result<(), String> {
    let src = root().join("testdata/scenarios").join(name);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = ws.server().display().to_string();
    let subst = |s: &str| {
        s.replace("{work}", &w.display().to_string())
            .replace("{server}", &server)
            .replace("{keys}", &ws.path().display().to_string())
    };
    let special = [
        "README.md",
        "args",
        "expected",
        "setup.sh",
        "stdout",
        "stderr",
    ];
    copy_tree(&src, w);
    for f in special {
        let _ = std::fs::remove_file(w.join(f));
    }
    let mut files = BTreeMap::new();
    snapshot(w, &mut files);
    for p in files.keys() {
        let body = std::fs::read_to_string(p).unwrap();
        std::fs::write(p, subst(&body)).unwrap();
    }
    if src.join("setup.sh").exists() {
        let st = Command::new("sh")
            .arg(src.join("setup.sh"))
            .arg(w)
            .arg(ws.server())
            .status()
            .unwrap();
        if !st.success() {
            return Err("setup.sh failed".into());
        }
    }
    let mut before = BTreeMap::new();
    snapshot(w, &mut before);
    let args: Vec<String> = std::fs::read_to_string(src.join("args"))
        .map_err(|e| format!("args: {e}"))?
        .lines()
        .filter(|l| !l.is_empty())
        .map(subst)
        .collect();
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ws.config(&arg_refs);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let expected = std::fs::read_to_string(src.join("expected")).map_err(|e| format!("{e}"))?;
    let mut words = expected.split_whitespace();
    let verdict = words.next().unwrap_or("");
    let code = out.status.code();
    let want = match verdict {
        "accept" => 0,
        "reject" => 1,
        "error" => 2,
        other => return Err(format!("unknown expected verdict `{other}`")),
    };
    if code != Some(want) {
        return Err(format!("exit {code:?}, expected {want}\n{stdout}{stderr}"));
    }
    if let Some(reason) = words.next()
        && !stdout.contains(&format!("[{reason}]"))
    {
        return Err(format!("no [{reason}] in\n{stdout}"));
    }
    for (file, got) in [("stdout", &stdout), ("stderr", &stderr)] {
        if let Ok(want) = std::fs::read_to_string(src.join(file))
            && !got.contains(want.trim())
        {
            return Err(format!("{file} lacks `{}`:\n{got}", want.trim()));
        }
    }
    if verdict != "accept" {
        let mut after = BTreeMap::new();
        snapshot(w, &mut after);
        if after != before {
            return Err("files changed".into());
        }
    }
    Ok(())
}

#[test]
fn config_scenarios() {
    let ws = Workspace::new();
    let mut on_disk: Vec<String> = std::fs::read_dir(root().join("testdata/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("config-"))
        .collect();
    on_disk.sort();
    assert_eq!(
        on_disk, SCENARIOS,
        "SCENARIOS must name every config-* directory"
    );
    let failures: Vec<String> = SCENARIOS
        .iter()
        .filter_map(|name| {
            run_scenario(&ws, name)
                .err()
                .map(|e| format!("{name}: {e}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
