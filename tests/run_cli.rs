//! `mcp-verify run` end to end through the real binaries: a release of our drift server is
//! signed with `mcp-sign`, then run as an MCP client would launch it (stdin/stdout pipes). Each
//! refusal proves the server never started: the server writes its environment to a marker file
//! the moment it starts (`DRIFT_ENV_DUMP`). Each test names its scenario under
//! testdata/scenarios/run-*. The binaries must be built first (`cargo build --workspace`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use common::{assert_ok, bin, root, run_in, text};
use serde_json::{Value, json};

const NAME: &str = "io.github.acme/drift";
/// Every answer we wait for arrives within this, or the test fails (never hangs).
const WAIT: Duration = Duration::from_secs(30);

/// A scratch folder with a data folder of its own (pin store, launch store) and a cache.
struct Ws {
    dir: tempfile::TempDir,
}

impl Drop for Ws {
    /// Snapshots are read-only: make them removable so the temporary folder goes away.
    fn drop(&mut self) {
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(self.dir.path())
            .status();
    }
}

impl Ws {
    fn new() -> Ws {
        let dir = tempfile::tempdir().unwrap();
        for k in ["a.key", "b.key"] {
            assert_ok(&run_in(
                "mcp-sign",
                &["keygen", "--out", k],
                dir.path(),
                &[],
            ));
        }
        Ws { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "MCPSIG_DATA_DIR",
                self.path().join("data").display().to_string(),
            ),
            (
                "MCPSIG_CACHE_DIR",
                self.path().join("cache").display().to_string(),
            ),
        ]
    }

    fn marker(&self) -> PathBuf {
        self.path().join("started.json")
    }

    /// A release `rel/<version>-<tag>/`: the drift server (with `extra` bytes appended to make
    /// another digest), its manifest chained to `previous` (a manifest path) and pinned with the
    /// server's tools under `drift` (DRIFT modes), signed with `key`. Returns the bundle path.
    fn release(
        &self,
        version: &str,
        tag: &str,
        previous: Option<&Path>,
        drift: &str,
        key: &str,
        extra: &str,
    ) -> PathBuf {
        self.release_with(version, tag, previous, drift, key, extra, &[])
    }

    /// [`Ws::release`] whose launch configuration also names `env_names` (`envNames`: the
    /// caller's values are passed); the tools are captured with each set to `x`.
    #[allow(clippy::too_many_arguments)]
    fn release_with(
        &self,
        version: &str,
        tag: &str,
        previous: Option<&Path>,
        drift: &str,
        key: &str,
        extra: &str,
        env_names: &[&str],
    ) -> PathBuf {
        // The bundle sits in the server's folder, as published: `run`'s default directory.
        let rel = self.path().join("rel").join(format!("{version}-{tag}"));
        std::fs::create_dir_all(&rel).unwrap();
        let mut server = std::fs::read(root().join("tests/servers/drift-server.py")).unwrap();
        server.extend_from_slice(extra.as_bytes());
        std::fs::write(rel.join("drift-server.py"), server).unwrap();
        let mut args = vec![
            "init",
            "--name",
            NAME,
            "--version",
            version,
            "--dir",
            ".",
            "--artifact-name",
            "srv",
            "--launch",
            "python3 drift-server.py",
            "-o",
            "mcp-manifest.json",
        ];
        let prev = previous.map(|p| p.display().to_string());
        if let Some(p) = &prev {
            args.extend(["--previous", p]);
        }
        for n in env_names {
            args.extend(["--env-name", n]);
        }
        assert_ok(&run_in("mcp-sign", &args, &rel, &[]));
        let drift_env = format!("DRIFT={drift}");
        let captured: Vec<(&str, &str)> = env_names.iter().map(|n| (*n, "x")).collect();
        assert_ok(&run_in(
            "mcp-sign",
            &[
                "tools",
                "mcp-manifest.json",
                "--dir",
                ".",
                "--env",
                &drift_env,
            ],
            &rel,
            &captured,
        ));
        let key = self.path().join(key).display().to_string();
        assert_ok(&run_in(
            "mcp-sign",
            &["sign", "--key", &key, "mcp-manifest.json"],
            &rel,
            &[],
        ));
        rel.join("mcp-manifest.sigstore.json")
    }

    /// Writes `policy.toml` (key paths relative to the scratch folder) and returns its path.
    fn policy(&self, body: &str) -> String {
        let path = self.path().join("policy.toml");
        std::fs::write(&path, format!("schema-version = 1\n{body}")).unwrap();
        path.display().to_string()
    }

    fn pub_key(&self, key: &str) -> String {
        self.path().join(format!("{key}.pub")).display().to_string()
    }

    /// `mcp-verify run BUNDLE ARGS...` with the server's stderr and ours captured; the server
    /// gets `DRIFT_ENV_DUMP` (the start marker) and `extra_env` through `--env`.
    fn spawn_run(&self, bundle: &Path, args: &[&str], server_env: &[&str]) -> Client {
        let mut cmd = Command::new(bin("mcp-verify"));
        cmd.arg("run").arg(bundle);
        cmd.arg("--env")
            .arg(format!("DRIFT_ENV_DUMP={}", self.marker().display()));
        for e in server_env {
            cmd.arg("--env").arg(e);
        }
        cmd.args(args);
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        Client::spawn(cmd)
    }

    /// Runs `mcp-verify run` with nothing to say to the server (stdin closed at once).
    fn run_and_close(&self, bundle: &Path, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new(bin("mcp-verify"));
        cmd.arg("run").arg(bundle);
        cmd.arg("--env")
            .arg(format!("DRIFT_ENV_DUMP={}", self.marker().display()));
        cmd.args(args);
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null());
        run_bounded(cmd)
    }
}

/// Runs a command to completion with a bound on its run time.
fn run_bounded(mut cmd: Command) -> std::process::Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    wait_bounded(cmd.spawn().unwrap())
}

/// Waits for a child whose stdout and stderr are piped, at most [`WAIT`].
fn wait_bounded(mut child: Child) -> std::process::Output {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("command did not finish: {}", text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An MCP client on the pipes of a spawned process.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Receiver<String>,
    next_id: i64,
}

impl Client {
    fn spawn(mut cmd: Command) -> Client {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take();
        let (tx, lines) = channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (etx, stderr) = channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if etx.send(line).is_err() {
                    break;
                }
            }
        });
        Client {
            child,
            stdin,
            lines,
            stderr,
            next_id: 0,
        }
    }

    fn send(&mut self, msg: &Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{msg}").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends a request and waits for its answer, skipping notifications and server requests.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let line = self
                .lines
                .recv_timeout(WAIT)
                .unwrap_or_else(|_| panic!("no answer to {method}: {}", self.stderr_text()));
            let msg: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout is not the MCP stream ({e}): {line}"));
            if msg.get("id") == Some(&json!(id)) && msg.get("method").is_none() {
                return msg;
            }
        }
    }

    fn initialize(&mut self) {
        let init = self.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "run-test", "version": "1"}}),
        );
        assert!(init.get("result").is_some(), "{init}");
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }

    fn tool_names(&mut self) -> Vec<String> {
        let list = self.request("tools/list", json!({}));
        let mut names: Vec<String> = list["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("tools/list failed: {list}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }

    fn call(&mut self, tool: &str) -> Value {
        self.request(
            "tools/call",
            json!({"name": tool, "arguments": {"id": "1", "query": "q", "text": "t"}}),
        )
    }

    /// Closes stdin and waits for the exit; returns (exit code, everything on stderr).
    fn finish(mut self) -> (Option<i32>, String) {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + WAIT;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "mcp-verify run did not end after stdin closed"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(50));
        (status.code(), self.stderr_text())
    }

    fn stderr_text(&self) -> String {
        let mut s = String::new();
        while let Ok(l) = self.stderr.try_recv() {
            s.push_str(&l);
            s.push('\n');
        }
        s
    }
}

/// A refusal: exit 1, the reason code on stderr, nothing on stdout, the server never started.
fn assert_refused(ws: &Ws, out: &std::process::Output, reason: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("[{reason}]")),
        "no [{reason}] in: {err}"
    );
    assert!(
        err.contains("the server was not started"),
        "no refusal line: {err}"
    );
    assert!(out.stdout.is_empty(), "stdout must carry only MCP: {out:?}");
    assert!(!ws.marker().exists(), "the server started");
}

fn expected(scenario: &str) -> String {
    let dir = root().join("testdata/scenarios").join(scenario);
    std::fs::read_to_string(dir.join("expected"))
        .unwrap_or_else(|e| panic!("{scenario}: {e}"))
        .trim()
        .to_owned()
}

/// Scenario run-guards-a-verified-server.
#[test]
fn a_verified_server_runs_behind_the_guard() {
    assert_eq!(expected("run-guards-a-verified-server"), "accept");
    let ws = Ws::new();
    let bundle = ws.release("1.0.0", "a", None, "", "a.key", "");
    let wire = ws.path().join("wire.jsonl");
    let audit = ws.path().join("audit.jsonl");
    let wire_env = format!("DRIFT_WIRE_LOG={}", wire.display());
    let audit_arg = audit.display().to_string();
    // The live server adds an unpinned tool (`export_notes`): hidden, and its call refused.
    let mut c = ws.spawn_run(
        &bundle,
        &["--key", &ws.pub_key("a.key"), "--audit-log", &audit_arg],
        &["DRIFT=add-tool", &wire_env],
    );
    c.initialize();
    assert_eq!(
        c.tool_names(),
        ["read_note", "search_notes", "write_note"],
        "only the pinned tools are listed"
    );
    let ok = c.call("read_note");
    assert_eq!(
        ok["result"]["content"][0]["text"], "called read_note é",
        "{ok}"
    );
    let refused = c.call("export_notes");
    assert!(refused.get("error").is_some(), "{refused}");
    let (code, err) = c.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("first use of io.github.acme/drift"), "{err}");
    assert!(
        err.contains("export_notes"),
        "the refusal is reported: {err}"
    );
    // It ran from the snapshot, with what `--env` gave it.
    let env: Value = serde_json::from_slice(&std::fs::read(ws.marker()).unwrap()).unwrap();
    assert_eq!(env["DRIFT"], "add-tool");
    let wire_text = std::fs::read_to_string(&wire).unwrap();
    assert!(wire_text.contains("read_note"));
    assert!(
        !wire_text.contains(r#"\"name\": \"export_notes\", \"arguments"#)
            && !wire_text
                .lines()
                .any(|l| l.contains(r#""dir": "in""#) && l.contains("export_notes")),
        "the refused call reached the server: {wire_text}"
    );
    let audit_text = std::fs::read_to_string(&audit).unwrap();
    assert!(
        audit_text
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );
    assert!(audit_text.contains("export_notes"), "{audit_text}");
    // A second launch of the same release is unchanged in the pin store and starts again.
    std::fs::remove_file(ws.marker()).unwrap();
    let mut again = ws.spawn_run(&bundle, &["--key", &ws.pub_key("a.key"), "-q"], &[]);
    again.initialize();
    assert_eq!(again.tool_names().len(), 3);
    let (code, _) = again.finish();
    assert_eq!(code, Some(0));
    assert!(ws.marker().exists());
}

/// Scenario run-list-changed-poisoned-withdrawn.
#[test]
fn a_tool_poisoned_mid_session_is_withdrawn() {
    assert_eq!(
        expected("run-list-changed-poisoned-withdrawn"),
        "reject tool"
    );
    let ws = Ws::new();
    let bundle = ws.release("1.0.0", "a", None, "", "a.key", "");
    let mut c = ws.spawn_run(
        &bundle,
        &["--key", &ws.pub_key("a.key")],
        &["DRIFT_CHANGE_AFTER=1"],
    );
    c.initialize();
    assert!(c.tool_names().contains(&"read_note".to_owned()));
    // The first call is answered; then the server poisons read_note and says list_changed.
    let first = c.call("read_note");
    assert!(first.get("result").is_some(), "{first}");
    std::thread::sleep(Duration::from_millis(300));
    let second = c.call("read_note");
    assert!(
        second.get("error").is_some(),
        "the poisoned tool was called: {second}"
    );
    assert!(!c.tool_names().contains(&"read_note".to_owned()));
    let (code, err) = c.finish();
    assert_eq!(code, Some(0), "{err}");
}

/// Scenario run-refuses-tampered-tree.
#[test]
fn a_tampered_tree_is_refused_and_never_started() {
    assert_eq!(
        expected("run-refuses-tampered-tree"),
        "reject artifact-mismatch"
    );
    let ws = Ws::new();
    let bundle = ws.release("1.0.0", "a", None, "", "a.key", "");
    let server = bundle.parent().unwrap().join("drift-server.py");
    let mut bytes = std::fs::read(&server).unwrap();
    bytes.extend_from_slice(b"\n# tampered\n");
    std::fs::write(&server, bytes).unwrap();
    let out = ws.run_and_close(&bundle, &["--key", &ws.pub_key("a.key")]);
    assert_refused(&ws, &out, "artifact-mismatch");
}

/// Scenario run-refuses-rollback.
#[test]
fn a_lower_version_is_a_rollback() {
    assert_eq!(expected("run-refuses-rollback"), "reject rollback");
    let ws = Ws::new();
    let v1 = ws.release("1.0.0", "a", None, "", "a.key", "");
    let v2 = ws.release(
        "1.1.0",
        "a",
        Some(&v1.parent().unwrap().join("mcp-manifest.json")),
        "",
        "a.key",
        "# 1.1\n",
    );
    let key = ws.pub_key("a.key");
    let out = ws.run_and_close(&v2, &["--key", &key]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    std::fs::remove_file(ws.marker()).unwrap();
    let out = ws.run_and_close(&v1, &["--key", &key]);
    assert_refused(&ws, &out, "rollback");
}

/// Scenario run-refuses-same-version-substitution.
#[test]
fn the_same_version_with_other_bytes_is_refused() {
    assert_eq!(
        expected("run-refuses-same-version-substitution"),
        "reject rollback"
    );
    let ws = Ws::new();
    let good = ws.release("1.0.0", "a", None, "", "a.key", "");
    let other = ws.release("1.0.0", "b", None, "", "a.key", "# substituted\n");
    let key = ws.pub_key("a.key");
    assert_eq!(
        ws.run_and_close(&good, &["--key", &key]).status.code(),
        Some(0)
    );
    std::fs::remove_file(ws.marker()).unwrap();
    let out = ws.run_and_close(&other, &["--key", &key]);
    assert_refused(&ws, &out, "rollback");
}

/// Scenario run-refuses-signer-change.
#[test]
fn a_new_signer_is_refused() {
    assert_eq!(
        expected("run-refuses-signer-change"),
        "reject signer-changed"
    );
    let ws = Ws::new();
    let v1 = ws.release("1.0.0", "a", None, "", "a.key", "");
    let v2 = ws.release(
        "1.1.0",
        "b",
        Some(&v1.parent().unwrap().join("mcp-manifest.json")),
        "",
        "b.key",
        "# by b\n",
    );
    assert_eq!(
        ws.run_and_close(&v1, &["--key", &ws.pub_key("a.key")])
            .status
            .code(),
        Some(0)
    );
    std::fs::remove_file(ws.marker()).unwrap();
    let out = ws.run_and_close(&v2, &["--key", &ws.pub_key("b.key")]);
    assert_refused(&ws, &out, "signer-changed");
}

/// Scenario run-refuses-broken-chain.
#[test]
fn a_broken_previous_chain_is_refused_when_the_policy_requires_it() {
    assert_eq!(expected("run-refuses-broken-chain"), "reject chain-broken");
    let ws = Ws::new();
    let v1 = ws.release("1.0.0", "a", None, "", "a.key", "");
    // 1.1.0 chains to another 1.0.0 than the one pinned.
    let stray = ws.release("1.0.0", "stray", None, "", "a.key", "# stray\n");
    let v2 = ws.release(
        "1.1.0",
        "a",
        Some(&stray.parent().unwrap().join("mcp-manifest.json")),
        "",
        "a.key",
        "# 1.1\n",
    );
    let policy = ws.policy(&format!(
        "[[server]]\nname = \"{NAME}\"\nrequire-chain = true\n\
             [[server.signer]]\nkey = \"a.key.pub\"\n"
    ));
    let p = policy;
    assert_eq!(
        ws.run_and_close(&v1, &["--policy", &p]).status.code(),
        Some(0)
    );
    std::fs::remove_file(ws.marker()).unwrap();
    let out = ws.run_and_close(&v2, &["--policy", &p]);
    assert_refused(&ws, &out, "chain-broken");
}

/// Scenario run-refuses-revoked-key.
#[test]
fn a_revoked_key_is_refused() {
    assert_eq!(expected("run-refuses-revoked-key"), "reject revoked");
    let ws = Ws::new();
    let v1 = ws.release("1.0.0", "a", None, "", "a.key", "");
    let list = ws.path().join("revocations.sigstore.json");
    assert_ok(&run_in(
        "mcp-sign",
        &[
            "revoke",
            "--key",
            "b.key",
            "--revoke-key",
            "a.key.pub",
            "-o",
            &list.display().to_string(),
        ],
        ws.path(),
        &[],
    ));
    let policy = ws.policy(&format!(
        "[[server]]\nname = \"{NAME}\"\n[[server.signer]]\n\
             key = \"a.key.pub\"\n[revocation]\nfile = \"revocations.sigstore.json\"\n\
             [[revocation.signer]]\nkey = \"b.key.pub\"\n"
    ));
    let out = ws.run_and_close(&v1, &["--policy", &policy]);
    assert_refused(&ws, &out, "revoked");
}

/// Scenario run-refuses-stale-revocation.
#[test]
fn an_unreachable_revocation_list_is_refused() {
    assert_eq!(
        expected("run-refuses-stale-revocation"),
        "reject revocation-stale"
    );
    let ws = Ws::new();
    let v1 = ws.release("1.0.0", "a", None, "", "a.key", "");
    // A port nothing listens on: the list cannot be fetched, which never fails open.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let policy = ws.policy(&format!(
        "[[server]]\nname = \"{NAME}\"\n[[server.signer]]\n\
             key = \"a.key.pub\"\n[revocation]\nurl = \"http://127.0.0.1:{port}/rev.json\"\n\
             [[revocation.signer]]\nkey = \"b.key.pub\"\n"
    ));
    let out = ws.run_and_close(&v1, &["--policy", &policy]);
    assert_refused(&ws, &out, "revocation-stale");
}

/// Scenario run-needs-approval-then-accept.
#[test]
fn new_permissions_need_approval_then_accept_records_them() {
    assert_eq!(
        expected("run-needs-approval-then-accept"),
        "reject needs-approval"
    );
    let ws = Ws::new();
    let v1 = ws.release("1.0.0", "a", None, "", "a.key", "");
    // 1.1.0 adds export_notes, signed and pinned by the same publisher.
    let v2 = ws.release(
        "1.1.0",
        "a",
        Some(&v1.parent().unwrap().join("mcp-manifest.json")),
        "add-tool",
        "a.key",
        "# 1.1\n",
    );
    let key = ws.pub_key("a.key");
    assert_eq!(
        ws.run_and_close(&v1, &["--key", &key]).status.code(),
        Some(0)
    );
    std::fs::remove_file(ws.marker()).unwrap();
    let out = ws.run_and_close(&v2, &["--key", &key]);
    assert_refused(&ws, &out, "needs-approval");
    let err = text(&out.stderr);
    assert!(
        err.contains("export_notes"),
        "the diff names the new tool: {err}"
    );
    assert!(err.contains("--accept"), "{err}");
    // Approved: it starts, and the guard lets the newly pinned tool through.
    let mut c = ws.spawn_run(&v2, &["--key", &key, "--accept"], &["DRIFT=add-tool"]);
    c.initialize();
    assert!(c.tool_names().contains(&"export_notes".to_owned()));
    let (code, err) = c.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("changes approved"), "{err}");
}

/// Scenario run-refuses-command-mismatch.
#[test]
fn a_command_other_than_the_signed_launch_is_refused() {
    assert_eq!(
        expected("run-refuses-command-mismatch"),
        "reject launch-mismatch"
    );
    let ws = Ws::new();
    let v1 = ws.release("1.0.0", "a", None, "", "a.key", "");
    let out = ws.run_and_close(
        &v1,
        &[
            "--key",
            &ws.pub_key("a.key"),
            "--",
            "python3",
            "-c",
            "print('not the signed server')",
        ],
    );
    assert_refused(&ws, &out, "launch-mismatch");
    // The signed command, given with its path absolute under the server's folder, starts.
    let abs = v1
        .parent()
        .unwrap()
        .join("drift-server.py")
        .display()
        .to_string();
    let out = ws.run_and_close(&v1, &["--key", &ws.pub_key("a.key"), "--", "python3", &abs]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(ws.marker().exists());
}

/// Scenario run-concurrent-first-use.
#[test]
fn concurrent_runs_share_one_pin_store() {
    assert_eq!(expected("run-concurrent-first-use"), "accept");
    let ws = Ws::new();
    let v1 = ws.release("1.0.0", "a", None, "", "a.key", "");
    let key = ws.pub_key("a.key");
    let children: Vec<Client> = (0..4)
        .map(|_| {
            let mut cmd = Command::new(bin("mcp-verify"));
            cmd.arg("run").arg(&v1).args(["--key", &key]);
            for (k, v) in ws.env() {
                cmd.env(k, v);
            }
            Client::spawn(cmd)
        })
        .collect();
    for mut c in children {
        c.initialize();
        assert_eq!(c.tool_names().len(), 3);
        let (code, err) = c.finish();
        assert_eq!(code, Some(0), "{err}");
    }
    let mut cmd = Command::new(bin("mcp-verify"));
    cmd.args(["pins", "list", "--json"]);
    for (k, v) in ws.env() {
        cmd.env(k, v);
    }
    let out = run_bounded(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let records = doc
        .as_array()
        .or_else(|| doc["pins"].as_array())
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(records.len(), 1, "{doc}");
}

/// Scenario run-wrapped-config-launches.
#[test]
fn a_wrapped_client_configuration_still_launches_its_server() {
    assert_eq!(expected("run-wrapped-config-launches"), "accept");
    let ws = Ws::new();
    let v1 = ws.release("1.0.0", "a", None, "", "a.key", "");
    let srv = v1.parent().unwrap();
    let config = ws.path().join("claude_desktop_config.json");
    let entry = json!({"mcpServers": {"drift": {
        "command": "python3",
        "args": [srv.join("drift-server.py").display().to_string()],
        "env": {"DRIFT_ENV_DUMP": ws.marker().display().to_string()}
    }}});
    std::fs::write(&config, serde_json::to_vec_pretty(&entry).unwrap()).unwrap();
    let bundles = ws.path().join("rel").display().to_string();
    let key = ws.pub_key("a.key");
    let mut cmd = Command::new(bin("mcp-verify"));
    cmd.arg("config")
        .arg("--wrap")
        .arg(&config)
        .args(["--bundles", &bundles, "--key", &key]);
    let out = run_bounded(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let wrapped: Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    let e = &wrapped["mcpServers"]["drift"];
    assert_eq!(e["args"][0], "run", "{e}");
    // Launch the entry as the client would: its command, its args, its env on top of ours.
    let mut cmd = Command::new(e["command"].as_str().unwrap());
    for a in e["args"].as_array().unwrap() {
        cmd.arg(a.as_str().unwrap());
    }
    for (k, v) in e["env"].as_object().unwrap() {
        cmd.env(k, v.as_str().unwrap());
    }
    for (k, v) in ws.env() {
        cmd.env(k, v);
    }
    let mut c = Client::spawn(cmd);
    c.initialize();
    assert_eq!(c.tool_names().len(), 3);
    let (code, err) = c.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(ws.marker().exists(), "the entry's env reached the server");
}

/// Scenario run-answers-after-client-eof.
#[test]
fn a_client_closing_its_input_after_a_call_still_gets_the_answer() {
    assert_eq!(expected("run-answers-after-client-eof"), "accept");
    let ws = Ws::new();
    let v1 = ws.release("1.0.0", "a", None, "", "a.key", "");
    // Everything at once, then end of input: the call arrives before the guard has seen a list,
    // so it is held for a re-check, which must still happen after the client's input ended.
    let session = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": "read_note", "arguments": {"id": "1"}}}),
    ]
    .iter()
    .map(|m| format!("{m}\n"))
    .collect::<String>();
    let mut cmd = Command::new(bin("mcp-verify"));
    cmd.arg("run")
        .arg(&v1)
        .args(["--key", &ws.pub_key("a.key")]);
    for (k, v) in ws.env() {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(session.as_bytes())
        .unwrap();
    let out = wait_bounded(child);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let answer = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|m| m["id"] == 2)
        .unwrap_or_else(|| panic!("no answer to the call: {stdout}"));
    assert_eq!(
        answer["result"]["content"][0]["text"], "called read_note é",
        "{answer}"
    );
}

/// Scenario run-unstartable-release-not-pinned.
#[test]
fn a_release_that_cannot_start_is_not_pinned() {
    assert_eq!(
        expected("run-unstartable-release-not-pinned"),
        "error missing-env"
    );
    let ws = Ws::new();
    let v1 = ws.release_with("1.0.0", "a", None, "", "a.key", "", &["NEEDED_TOKEN"]);
    let key = ws.pub_key("a.key");
    // The signed launch names a variable this environment does not set: nothing starts (exit
    // 2), and the pin store must not hold the release the user could not run.
    let out = ws.run_and_close(&v1, &["--key", &key]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("NEEDED_TOKEN"), "{err}");
    assert!(out.stdout.is_empty(), "stdout must carry only MCP: {out:?}");
    assert!(!ws.marker().exists(), "the server started");
    let mut cmd = Command::new(bin("mcp-verify"));
    cmd.args(["pins", "list", "--json"]);
    for (k, v) in ws.env() {
        cmd.env(k, v);
    }
    let listed = run_bounded(cmd);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    let doc: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let records = doc
        .as_array()
        .or_else(|| doc["pins"].as_array())
        .unwrap_or_else(|| panic!("{doc}"));
    assert!(
        records.is_empty(),
        "a release that never started was pinned: {doc}"
    );
    // Given the variable as `--env NAME=VALUE` (what the hint says), the release starts and is
    // pinned.
    let out = ws.run_and_close(&v1, &["--key", &key, "--env", "NEEDED_TOKEN=x"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(ws.marker().exists());
}

/// Scenario run-unsigned-command-warned.
#[test]
fn a_manifest_without_a_launch_runs_the_given_command_with_a_warning() {
    assert_eq!(expected("run-unsigned-command-warned"), "accept");
    let ws = Ws::new();
    let rel = ws.path().join("rel/nolaunch");
    std::fs::create_dir_all(&rel).unwrap();
    std::fs::copy(
        root().join("tests/servers/drift-server.py"),
        rel.join("drift-server.py"),
    )
    .unwrap();
    for args in [
        &[
            "init",
            "--name",
            NAME,
            "--version",
            "1.0.0",
            "--dir",
            ".",
            "-o",
            "mcp-manifest.json",
        ][..],
        &[
            "tools",
            "mcp-manifest.json",
            "--dir",
            ".",
            "--",
            "python3",
            "drift-server.py",
        ],
        &["sign", "--key", "../../a.key", "mcp-manifest.json"],
    ] {
        assert_ok(&run_in("mcp-sign", args, &rel, &[]));
    }
    let bundle = rel.join("mcp-manifest.sigstore.json");
    // The absolute path of the server file is moved into the snapshot (unit-tested in
    // launch::run): the tree's own copy is never what runs.
    let abs = rel.join("drift-server.py").display().to_string();
    let mut c = ws.spawn_run(
        &bundle,
        &["--key", &ws.pub_key("a.key"), "--", "python3", &abs],
        &[],
    );
    c.initialize();
    assert_eq!(c.tool_names().len(), 3);
    let (code, err) = c.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("warning: the manifest signs no launch command"),
        "{err}"
    );
}

#[test]
fn every_run_scenario_is_run_here() {
    let me = std::fs::read_to_string(root().join("tests/run_cli.rs")).unwrap();
    for e in std::fs::read_dir(root().join("testdata/scenarios")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("run-") {
            assert!(
                me.contains(&format!("/// Scenario {name}.")),
                "{name} is not run by tests/run_cli.rs"
            );
        }
    }
}
