//! `mcp-sign tools` and `mcp-verify tools` through the real binaries, against
//! our drift server. The binaries must be built first (`cargo build --workspace`).

#![allow(clippy::expect_used)] // test helpers outside #[test] functions

mod mcp_support;

use std::path::Path;

use mcp_support::common::{VERIFY_TOOLS, assert_ok, run_in as run, text};
use mcp_support::*;
use mcpsig::tools::ToolPins;

/// A working directory holding the drift server and an init'ed manifest.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = dir.path().join("srv");
    std::fs::create_dir(&srv).expect("mkdir");
    std::fs::copy(
        repo().join("tests/servers/drift-server.py"),
        srv.join("drift-server.py"),
    )
    .expect("copy");
    let out = run(
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
            "mcp-manifest.json",
        ],
        dir.path(),
        &[],
    );
    assert!(out.status.success(), "init failed: {}", text(&out.stderr));
    dir
}

/// Keys the workspace (`k.key`), pins its tools with `mcp-sign tools` and `tools_args` when
/// given, and signs its manifest, each step required to succeed.
fn sign_workspace(dir: &Path, tools_args: Option<&[&str]>) {
    assert_ok(&run("mcp-sign", &["keygen", "--out", "k.key"], dir, &[]));
    if let Some(extra) = tools_args {
        let mut args = vec!["tools", "mcp-manifest.json", "--dir", "srv"];
        args.extend_from_slice(extra);
        assert_ok(&run("mcp-sign", &args, dir, &[]));
    }
    let out = run(
        "mcp-sign",
        &["sign", "--key", "k.key", "mcp-manifest.json"],
        dir,
        &[],
    );
    assert_ok(&out);
}

fn pins_in(path: &Path) -> ToolPins {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("read manifest")).expect("json");
    let pins: ToolPins = serde_json::from_value(v["tools"].clone()).expect("tools member");
    pins.validate().expect("pins validate");
    pins
}

#[test]
fn sign_tools_pins_from_the_manifest_launch() {
    let ws = workspace();
    let out = run(
        "mcp-sign",
        &["tools", "mcp-manifest.json", "--dir", "srv"],
        ws.path(),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .starts_with("pinned 3 tools, 1 prompts, 1 resource templates (protocol 2025-11-25)")
    );
    let pins = pins_in(&ws.path().join("mcp-manifest.json"));
    assert_eq!(pins.profile.argv, ["python3", "drift-server.py"]);
}

#[test]
fn sign_tools_with_a_command_and_capabilities() {
    let ws = workspace();
    let args = [
        "tools",
        "mcp-manifest.json",
        "--capability",
        "sampling",
        "--capability",
        "roots",
        "--",
        "python3",
        "srv/drift-server.py",
    ];
    let out = run("mcp-sign", &args, ws.path(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pins = pins_in(&ws.path().join("mcp-manifest.json"));
    let caps: Vec<&str> = pins
        .profile
        .client_capabilities
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(caps, ["roots", "sampling"]);
    assert_eq!(pins.profile.argv, ["python3", "srv/drift-server.py"]);
}

#[test]
fn sign_tools_strict_refuses_poisoned_definitions() {
    let ws = workspace();
    let manifest = ws.path().join("mcp-manifest.json");
    let before = std::fs::read(&manifest).expect("read");
    let out = run(
        "mcp-sign",
        &[
            "tools",
            "mcp-manifest.json",
            "--dir",
            "srv",
            "--strict",
            "--env",
            "DRIFT",
        ],
        ws.path(),
        &[("DRIFT", "description")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("error: tool `read_note` at `/description`"),
        "{err}"
    );
    assert!(err.contains("[model-instruction]"), "{err}");
    assert_eq!(
        std::fs::read(&manifest).expect("read"),
        before,
        "strict mode changed the manifest"
    );
    // Without --strict the same lints are warnings and the pins are written.
    let out = run(
        "mcp-sign",
        &[
            "tools",
            "mcp-manifest.json",
            "--dir",
            "srv",
            "--env",
            "DRIFT",
        ],
        ws.path(),
        &[("DRIFT", "description")],
    );
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("warning: tool `read_note`"));
}

#[test]
fn sign_tools_reports_a_broken_server() {
    let ws = workspace();
    let out = run(
        "mcp-sign",
        &[
            "tools",
            "mcp-manifest.json",
            "--dir",
            "srv",
            "--timeout",
            "5",
            "--env",
            "DRIFT_MISBEHAVE",
        ],
        ws.path(),
        &[("DRIFT_MISBEHAVE", "crash")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("simulated crash"),
        "{}",
        text(&out.stderr)
    );
}

/// Signs the pinned manifest, then verifies against the honest and a drifted
/// server.
#[test]
fn verify_tools_detects_drift() {
    let ws = workspace();
    let dir = ws.path();
    // The variable is pinned by name (its value is the verifier's), so that the drifted run
    // below differs in definitions only.
    sign_workspace(dir, Some(&["--env", "DRIFT="]));
    let mut honest = VERIFY_TOOLS.to_vec();
    honest.extend(["--env", "DRIFT="]);
    assert_ok(&run("mcp-verify", &honest, dir, &[]));
    let mut json_args = VERIFY_TOOLS.to_vec();
    json_args.extend(["--env", "DRIFT=annotation", "--json"]);
    let out = run("mcp-verify", &json_args, dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(v["reason"], "tool-drift");
    assert_eq!(v["differences"][0]["code"], "annotation-changed");
    assert_eq!(
        v["differences"][0]["changes"][0]["pointer"],
        "/annotations/destructiveHint"
    );
}

#[test]
fn verify_tools_without_pins_is_rejected() {
    let ws = workspace();
    let dir = ws.path();
    sign_workspace(dir, None);
    let out = run("mcp-verify", &VERIFY_TOOLS, dir, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("[no-tool-pins]"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn verify_tools_human_output_shows_the_rug_pull() {
    let ws = workspace();
    let dir = ws.path();
    sign_workspace(dir, Some(&[]));
    let mut drift_args = VERIFY_TOOLS.to_vec();
    drift_args.extend(["--env", "DRIFT"]);
    let out = run("mcp-verify", &drift_args, dir, &[("DRIFT", "description")]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("REJECTED: io.github.acme/drift 1.0.0"),
        "{stdout}"
    );
    assert!(stdout.contains("[tool-drift]"), "{stdout}");
    assert!(
        stdout.contains("tool `read_note`: description changed [description-changed]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+<IMPORTANT>Before using this tool"),
        "{stdout}"
    );
    // A server that no longer starts is "could not decide", not "verified".
    let mut crash_args = VERIFY_TOOLS.to_vec();
    crash_args.extend(["--env", "DRIFT_MISBEHAVE=crash"]);
    let out = run("mcp-verify", &crash_args, dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    // A server flooding its listing past the bounds is rejected, not undecided.
    let mut flood_args = VERIFY_TOOLS.to_vec();
    flood_args.extend(["--env", "DRIFT_MISBEHAVE=flood-pages"]);
    let out = run("mcp-verify", &flood_args, dir, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("[server-misbehaved]"), "{stdout}");
    assert!(stdout.contains("10000 entries"), "{stdout}");
}
