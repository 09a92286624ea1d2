//! The real binaries, end to end: key files and modes, refusals to overwrite, exit codes, JSON
//! errors, openssl-made keys, encrypted keys, canonicalize.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_ok, bin, root, run};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn demo_dir(at: &Path) {
    std::fs::create_dir_all(at.join("dist")).unwrap();
    std::fs::write(at.join("dist/index.js"), "console.log('hi')\n").unwrap();
    std::fs::write(at.join("package.json"), "{\"name\":\"demo\"}\n").unwrap();
}

/// `mcp-sign init` of a demo directory into `manifest`, which must succeed.
fn init_demo(dir: &Path, manifest: &Path) {
    let out = run(
        "mcp-sign",
        &[
            "init",
            "--name",
            "io.github.acme/demo",
            "--version",
            "1",
            "--dir",
            s(dir),
            "-o",
            s(manifest),
        ],
    );
    assert_ok(&out);
}

/// Scenario cli-output-dash-refused.
#[test]
fn a_dash_output_is_refused_not_a_file_named_dash() {
    let t = tempfile::tempdir().unwrap();
    for args in [
        &["keygen", "--out", "-"][..],
        &["keygen", "--out", "-", "--force"][..],
    ] {
        let out = Command::new(bin("mcp-sign"))
            .args(args)
            .current_dir(t.path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(expected_exit("cli-output-dash-refused")),
            "{args:?}"
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("not an output here"));
        assert!(!t.path().join("-").exists(), "{args:?}");
    }
}

/// Scenario cli-force-replaces-files-only.
#[test]
fn force_replaces_files_only_never_a_device_link() {
    let t = tempfile::tempdir().unwrap();
    let link = t.path().join("out");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    let dir = t.path().join("dir");
    std::fs::create_dir(&dir).unwrap();
    for target in [&link, &dir] {
        let out = run("mcp-sign", &["keygen", "--out", s(target), "--force"]);
        assert_eq!(
            out.status.code(),
            Some(expected_exit("cli-force-replaces-files-only")),
            "{}",
            target.display()
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
    }
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(dir.is_dir());
}

#[test]
fn keygen_writes_0600_key_and_refuses_to_overwrite() {
    let t = tempfile::tempdir().unwrap();
    let key = t.path().join("k.key");
    let out = run("mcp-sign", &["keygen", "--out", s(&key)]);
    assert_ok(&out);
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let key_id = String::from_utf8(out.stdout).unwrap();
    assert_eq!(key_id.trim().len(), 64);
    let before = std::fs::read(&key).unwrap();
    let again = run("mcp-sign", &["keygen", "--out", s(&key)]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
    assert_eq!(
        std::fs::read(&key).unwrap(),
        before,
        "existing key must be untouched"
    );
    assert!(
        run("mcp-sign", &["keygen", "--out", s(&key), "--force"])
            .status
            .success()
    );
    assert_ne!(std::fs::read(&key).unwrap(), before);
}

#[test]
fn sign_verify_tamper_round_trip_with_exit_codes() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("server");
    demo_dir(&dir);
    let key = t.path().join("k.key");
    let manifest = t.path().join("mcp-manifest.json");
    assert!(
        run("mcp-sign", &["keygen", "--out", s(&key)])
            .status
            .success()
    );
    let init = run(
        "mcp-sign",
        &[
            "init",
            "--name",
            "io.github.acme/demo",
            "--version",
            "1.0.0",
            "--dir",
            s(&dir),
            "--launch",
            "node dist/index.js",
            "-o",
            s(&manifest),
        ],
    );
    assert_ok(&init);
    let sign = run("mcp-sign", &["sign", "--key", s(&key), s(&manifest)]);
    assert_ok(&sign);
    let bundle = t.path().join("mcp-manifest.sigstore.json");
    assert!(
        bundle.exists(),
        "default bundle name is the manifest stem + .sigstore.json"
    );
    // Signing again refuses to overwrite the bundle.
    assert_eq!(
        run("mcp-sign", &["sign", "--key", s(&key), s(&manifest)])
            .status
            .code(),
        Some(2)
    );

    let pubkey = format!("{}.pub", key.display());
    let ok = run(
        "mcp-verify",
        &[s(&bundle), "--key", &pubkey, "--dir", s(&dir), "--json"],
    );
    assert_ok(&ok);
    let report: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(report["verified"], true);
    assert_eq!(report["server"]["name"], "io.github.acme/demo");
    assert_eq!(report["signer"]["keyId"].as_str().unwrap().len(), 64);

    std::fs::write(dir.join("dist/index.js"), "steal()\n").unwrap();
    let bad = run(
        "mcp-verify",
        &[s(&bundle), "--key", &pubkey, "--dir", s(&dir)],
    );
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(
        text.contains("REJECTED")
            && text.contains("dist/index.js")
            && text.contains("artifact-mismatch"),
        "{text}"
    );
}

#[test]
fn manifest_inside_the_pinned_directory_does_not_pin_itself() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("server");
    demo_dir(&dir);
    let key = t.path().join("k.key");
    let manifest = dir.join("mcp-manifest.json");
    assert!(
        run("mcp-sign", &["keygen", "--out", s(&key)])
            .status
            .success()
    );
    init_demo(&dir, &manifest);
    assert!(
        run("mcp-sign", &["sign", "--key", s(&key), s(&manifest)])
            .status
            .success()
    );
    let v = run(
        "mcp-verify",
        &[
            s(&dir.join("mcp-manifest.sigstore.json")),
            "--key",
            &format!("{}.pub", key.display()),
            "--dir",
            s(&dir),
        ],
    );
    assert_ok(&v);
}

#[test]
fn openssl_keys_work() {
    if Command::new("openssl").arg("version").output().is_err() {
        panic!("openssl is required for this test (Debian package openssl)");
    }
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("server");
    demo_dir(&dir);
    let key = t.path().join("o.key");
    let pubkey = t.path().join("o.pub");
    assert!(
        Command::new("openssl")
            .args(["genpkey", "-algorithm", "ed25519", "-out", s(&key)])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        Command::new("openssl")
            .args(["pkey", "-in", s(&key), "-pubout", "-out", s(&pubkey)])
            .status()
            .unwrap()
            .success()
    );
    let manifest = t.path().join("m.json");
    init_demo(&dir, &manifest);
    assert!(
        run("mcp-sign", &["sign", "--key", s(&key), s(&manifest)])
            .status
            .success()
    );
    let v = run(
        "mcp-verify",
        &[
            s(&t.path().join("m.sigstore.json")),
            "--key",
            s(&pubkey),
            "--dir",
            s(&dir),
        ],
    );
    assert_ok(&v);
}

#[test]
fn encrypted_keys_need_the_passphrase() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("server");
    demo_dir(&dir);
    let key = t.path().join("e.key");
    let keygen = Command::new(bin("mcp-sign"))
        .args(["keygen", "--encrypt", "--out", s(&key)])
        .env("MCPSIG_KEY_PASSPHRASE", "hunter2")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ok(&keygen);
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("ENCRYPTED PRIVATE KEY")
    );
    let manifest = t.path().join("m.json");
    init_demo(&dir, &manifest);
    let no_pass = Command::new(bin("mcp-sign"))
        .args(["sign", "--key", s(&key), s(&manifest)])
        .env_remove("MCPSIG_KEY_PASSPHRASE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(no_pass.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_pass.stderr).contains("passphrase"));
    let wrong = Command::new(bin("mcp-sign"))
        .args(["sign", "--key", s(&key), s(&manifest)])
        .env("MCPSIG_KEY_PASSPHRASE", "nope")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"));
    let right = Command::new(bin("mcp-sign"))
        .args(["sign", "--key", s(&key), s(&manifest)])
        .env("MCPSIG_KEY_PASSPHRASE", "hunter2")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ok(&right);
    // The passphrase never appears in any output.
    for o in [&no_pass, &wrong, &right] {
        assert!(!String::from_utf8_lossy(&o.stderr).contains("hunter2"));
        assert!(!String::from_utf8_lossy(&o.stdout).contains("hunter2"));
    }
}

#[test]
fn canonicalize_reads_files_and_stdin_and_refuses_bad_json() {
    let input = root().join("testdata/jcs/input/values.json");
    let want = std::fs::read(root().join("testdata/jcs/output/values.json")).unwrap();
    let out = run("mcp-sign", &["canonicalize", s(&input)]);
    assert!(out.status.success());
    assert_eq!(out.stdout, want);
    let mut child = Command::new(bin("mcp-sign"))
        .arg("canonicalize")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"b\":1,\"a\":[1.0,2e0]}")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.stdout, b"{\"a\":[1,2],\"b\":1}");
    let t = tempfile::tempdir().unwrap();
    let dup = t.path().join("dup.json");
    std::fs::write(&dup, "{\"a\":1,\"a\":2}").unwrap();
    let out = run("mcp-sign", &["canonicalize", s(&dup)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("duplicate object key `a`"));
    assert!(out.stdout.is_empty(), "no partial output on error");
}

#[test]
fn usage_and_io_errors_exit_2_with_json_errors() {
    let t = tempfile::tempdir().unwrap();
    let missing = t.path().join("nope.sigstore.json");
    let key = root().join("testdata/scenarios/_keys/scenario.pub");
    let out = run("mcp-verify", &[s(&missing), "--key", s(&key), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["verified"], false);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope.sigstore.json")
    );
    // A file that cannot be read is `io` (spec/cli.md), not the catch-all `error`.
    assert_eq!(doc["error"]["reason"], "io", "{doc}");
    // A mistake in the command line itself: under --json, a JSON error on stdout too (clap's
    // message on stderr), so a program reading the JSON is not left with nothing.
    for (cmd, args, verdict) in [
        ("mcp-verify", &["--frob", "b.json", "--json"][..], true),
        ("mcp-verify", &["catalog", "--json", "--frob"][..], true),
        ("mcp-sign", &["keygen", "--json", "--bogus"][..], false),
        // `--json=VALUE` is itself the mistake; a missing subcommand shows help, exit 2.
        ("mcp-sign", &["--json=true", "keygen"][..], false),
        ("mcp-sign", &["--json", "sigstore"][..], false),
    ] {
        let out = run(cmd, args);
        assert_eq!(out.status.code(), Some(2), "{cmd} {args:?}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{cmd} {args:?}: no JSON on stdout ({e})"));
        assert_eq!(doc["error"]["reason"], "error", "{doc}");
        assert!(
            !doc["error"]["message"].as_str().unwrap().is_empty(),
            "{doc}"
        );
        assert_eq!(doc.get("verified").is_some(), verdict, "{doc}");
        assert!(!out.stderr.is_empty(), "{cmd} {args:?}");
    }
    // `run` prints no JSON of its own: its standard output is the server's MCP stream.
    let out = run("mcp-verify", &["run", "b.json", "--env", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A key that cannot be read is `io` too.
    let bundle = root().join("testdata/scenarios/valid-bundle-accepted/bundle.sigstore.json");
    let out = run(
        "mcp-verify",
        &[
            s(&bundle),
            "--key",
            s(&t.path().join("nokey.pub")),
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["reason"], "io", "{doc}");
    // Without --json, stdout stays empty; help is not a mistake.
    assert!(run("mcp-verify", &["--frob"]).stdout.is_empty());
    let help = run("mcp-verify", &["--help", "--json"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(serde_json::from_slice::<serde_json::Value>(&help.stdout).is_err());
    assert_eq!(run("mcp-verify", &[]).status.code(), Some(2));
    assert_eq!(
        run("mcp-verify", &[s(&bundle)]).status.code(),
        Some(2),
        "no trust given"
    );
    let bad = run(
        "mcp-sign",
        &[
            "init",
            "--name",
            "not-reverse-dns",
            "--version",
            "1",
            "--dir",
            ".",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid server name"));
}

/// Scenario cli-output-reader-gone-exits-2. A reader that closed its end before the verdict
/// (`mcp-verify ... | head -n 0`) used to meet a panic (`failed printing to stdout`, exit 101);
/// the process now ends with exit 2 and no message, never 0 with the verdict lost.
#[test]
fn a_closed_standard_output_is_exit_2_not_a_panic() {
    let t = tempfile::tempdir().unwrap();
    let key = root().join("testdata/scenarios/_keys/scenario.pub");
    let missing = t.path().join("nope.sigstore.json");
    let dir = t.path().join("catalog");
    std::fs::create_dir(&dir).unwrap();
    // A catalog of one (malformed) bundle, whose line goes to standard output (the summary to
    // stderr); also a document for `canonicalize`.
    let listed = t.path().join("listed.json");
    std::fs::write(&listed, b"{\"a\": 1}").unwrap();
    for (cmd, args) in [
        ("mcp-verify", vec![s(&missing), "--key", s(&key), "--json"]),
        ("mcp-verify", vec![s(&missing), "--key", s(&key)]),
        (
            "mcp-verify",
            vec!["catalog", s(&dir), "--key", s(&key), "--json"],
        ),
        ("mcp-sign", vec!["keygen", "--json", "--bogus"]),
        ("mcp-verify", vec!["catalog", s(&listed), "--key", s(&key)]),
        ("mcp-sign", vec!["canonicalize", s(&listed)]),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(bin(cmd))
            .args(&args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{cmd} {args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{cmd} {args:?}: {stderr}");
        assert_eq!(
            out.status.code(),
            Some(expected_exit("cli-output-reader-gone-exits-2")),
            "{cmd} {args:?}: {stderr}"
        );
    }
    // `--json` before a subcommand is that subcommand's (it used to be a clap conflict).
    let out = run(
        "mcp-verify",
        &["--json", "catalog", s(&dir), "--key", s(&key)],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["bundles"], 0, "{doc}");
}

#[test]
fn init_refuses_trees_with_escaping_symlinks() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("server");
    demo_dir(&dir);
    std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd")).unwrap();
    let out = run(
        "mcp-sign",
        &[
            "init",
            "--name",
            "io.github.acme/demo",
            "--version",
            "1",
            "--dir",
            s(&dir),
            "-o",
            s(&t.path().join("m.json")),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside the tree"));
    assert!(!t.path().join("m.json").exists(), "no partial manifest");
}

#[test]
fn mcp_sign_json_output_and_json_errors() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("server");
    demo_dir(&dir);
    let key = t.path().join("k.key");
    let out = run("mcp-sign", &["keygen", "--out", s(&key), "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["keyId"].as_str().unwrap().len(), 64);
    let manifest = t.path().join("m.json");
    let out = run(
        "mcp-sign",
        &[
            "init",
            "--name",
            "io.github.acme/demo",
            "--version",
            "1",
            "--dir",
            s(&dir),
            "-o",
            s(&manifest),
            "--json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["server"]["name"], "io.github.acme/demo");
    assert_eq!(doc["entries"], 2);
    let out = run(
        "mcp-sign",
        &["sign", "--key", s(&key), s(&manifest), "--json"],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["signer"]["keyId"].as_str().unwrap().len(), 64);
    assert!(doc["bundle"].as_str().unwrap().ends_with("m.sigstore.json"));
    // Errors are JSON too, with the exit code unchanged.
    let out = run(
        "mcp-sign",
        &["sign", "--key", s(&key), s(&manifest), "--json"],
    );
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("refusing to overwrite")
    );
    assert!(doc.get("verified").is_none());
}

#[test]
fn a_private_key_given_as_trust_is_refused_with_a_hint() {
    let t = tempfile::tempdir().unwrap();
    let key = t.path().join("k.key");
    assert!(
        run("mcp-sign", &["keygen", "--out", s(&key)])
            .status
            .success()
    );
    let bundle = root().join("testdata/scenarios/valid-bundle-accepted/bundle.sigstore.json");
    let out = run("mcp-verify", &[s(&bundle), "--key", s(&key)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is a private key") && err.contains("k.key.pub"),
        "{err}"
    );
}

/// The exit code a key scenario's `expected` file asks for: accept 0, reject 1, error 2.
fn expected_exit(scenario: &str) -> i32 {
    let path = root()
        .join("testdata/scenarios")
        .join(scenario)
        .join("expected");
    let expected = std::fs::read_to_string(&path).unwrap();
    match expected.split_whitespace().next() {
        Some("accept") => 0,
        Some("reject") => 1,
        Some("error") => 2,
        other => panic!("{}: unknown expectation {other:?}", path.display()),
    }
}

fn openssl(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
        .expect("openssl is required for this test (Debian package openssl)")
}

#[test]
fn keygen_keys_are_read_by_openssl_and_python_cryptography() {
    let t = tempfile::tempdir().unwrap();
    let python = root().join(".venv-sigstore/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup-sigstore.sh",
        python.display()
    );
    for passphrase in [None, Some("correct horse battery")] {
        let key = t.path().join(if passphrase.is_some() {
            "e.key"
        } else {
            "p.key"
        });
        let mut cmd = Command::new(bin("mcp-sign"));
        cmd.args(["keygen", "--out", s(&key)]).stdin(Stdio::null());
        match passphrase {
            Some(p) => cmd.arg("--encrypt").env("MCPSIG_KEY_PASSPHRASE", p),
            None => cmd.env_remove("MCPSIG_KEY_PASSPHRASE"),
        };
        let out = cmd.output().unwrap();
        assert_ok(&out);
        let public = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();

        // openssl reads the key (with the passphrase when encrypted) and derives our public key.
        let pass_env = [("MCPSIG_TEST_PASS", passphrase.unwrap_or(""))];
        let mut args = vec!["pkey", "-in", s(&key)];
        if passphrase.is_some() {
            args.extend(["-passin", "env:MCPSIG_TEST_PASS"]);
        }
        let read = openssl(&[&args[..], &["-noout"]].concat(), &pass_env);
        assert!(
            read.status.success(),
            "openssl pkey refused our key: {}",
            String::from_utf8_lossy(&read.stderr)
        );
        let derived = openssl(&[&args[..], &["-pubout"]].concat(), &pass_env);
        assert!(derived.status.success());
        assert_eq!(String::from_utf8_lossy(&derived.stdout), public);
        if passphrase.is_some() {
            let wrong = openssl(
                &["pkey", "-in", s(&key), "-passin", "pass:wrong", "-noout"],
                &[],
            );
            assert!(!wrong.status.success(), "the key is really encrypted");
        }

        // So does Python `cryptography` (sigstore-python's crypto).
        let script = "import sys, os\n\
            from cryptography.hazmat.primitives import serialization as s\n\
            p = os.environb.get(b'MCPSIG_TEST_PASS') or None\n\
            k = s.load_pem_private_key(open(sys.argv[1], 'rb').read(), password=p)\n\
            sys.stdout.write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode())\n";
        let py = Command::new(&python)
            .args(["-c", script, s(&key)])
            .env("MCPSIG_TEST_PASS", passphrase.unwrap_or(""))
            .output()
            .unwrap();
        assert!(
            py.status.success(),
            "python cryptography refused our key: {}",
            String::from_utf8_lossy(&py.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&py.stdout), public);
    }
}

#[test]
fn private_keys_others_can_read_are_refused_with_a_hint() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("server");
    demo_dir(&dir);
    let manifest = t.path().join("m.json");
    init_demo(&dir, &manifest);
    let want = expected_exit("key-private-readable-by-others");
    for encrypted in [false, true] {
        let key = t.path().join(if encrypted { "e.key" } else { "p.key" });
        let mut keygen = Command::new(bin("mcp-sign"));
        keygen
            .args(["keygen", "--out", s(&key)])
            .env("MCPSIG_KEY_PASSPHRASE", "pw")
            .stdin(Stdio::null());
        if encrypted {
            keygen.arg("--encrypt");
        }
        assert!(keygen.status().unwrap().success());
        for mode in [0o644, 0o640] {
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
            let out = Command::new(bin("mcp-sign"))
                .args(["sign", "--key", s(&key), s(&manifest)])
                .env("MCPSIG_KEY_PASSPHRASE", "pw")
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(want), "{err}");
            assert!(err.contains("accessible by group or others"), "{err}");
            assert!(
                err.contains(&format!("hint: chmod 600 {}", key.display())),
                "{err}"
            );
            assert!(!t.path().join("m.sigstore.json").exists());
        }
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = Command::new(bin("mcp-sign"))
            .args(["sign", "--key", s(&key), s(&manifest)])
            .env("MCPSIG_KEY_PASSPHRASE", "pw")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_ok(&out);
        std::fs::remove_file(t.path().join("m.sigstore.json")).unwrap();
    }
}

#[test]
fn huge_key_files_are_refused_without_being_read() {
    let t = tempfile::tempdir().unwrap();
    let scenario = root().join("testdata/scenarios/key-file-sparse-3gib");
    let huge = t.path().join("huge.key");
    let made = Command::new("sh")
        .arg(scenario.join("make-key.sh"))
        .arg(&huge)
        .status()
        .unwrap();
    assert!(made.success());
    assert_eq!(std::fs::metadata(&huge).unwrap().len(), 3 << 30);
    let want = expected_exit("key-file-sparse-3gib");
    let dir = t.path().join("server");
    demo_dir(&dir);
    let manifest = t.path().join("m.json");
    init_demo(&dir, &manifest);
    let bundle = root().join("testdata/scenarios/valid-bundle-accepted/bundle.sigstore.json");
    let runs = [
        run("mcp-sign", &["sign", "--key", s(&huge), s(&manifest)]),
        run("mcp-verify", &[s(&bundle), "--key", s(&huge)]),
        run(
            "mcp-verify",
            &[
                "sigstore",
                "verify-bundle",
                "--bundle",
                s(&bundle),
                "--key",
                s(&huge),
                s(&manifest),
            ],
        ),
    ];
    for out in runs {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(want), "{err}");
        assert!(err.contains("larger than 65536 bytes"), "{err}");
    }
}

#[test]
fn pkcs8_v2_keys_from_earlier_versions_still_sign() {
    let t = tempfile::tempdir().unwrap();
    let key = t.path().join("v2.key");
    std::fs::copy(root().join("testdata/keys/ed25519-pkcs8-v2.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let dir = t.path().join("server");
    demo_dir(&dir);
    let manifest = t.path().join("m.json");
    init_demo(&dir, &manifest);
    let out = run("mcp-sign", &["sign", "--key", s(&key), s(&manifest)]);
    assert_ok(&out);
    let public = root().join("testdata/keys/ed25519-pkcs8-v2.key.pub");
    let v = run(
        "mcp-verify",
        &[
            s(&t.path().join("m.sigstore.json")),
            "--key",
            s(&public),
            "--dir",
            s(&dir),
        ],
    );
    assert_eq!(
        v.status.code(),
        Some(expected_exit("key-pkcs8-v2-accepted")),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
}

#[test]
fn verify_errors_carry_the_librarys_hint() {
    let s = root().join("testdata/scenarios");
    let bundle = s.join("valid-bundle-accepted/bundle.sigstore.json");
    let key = s.join("_keys/scenario.pub");
    let out = run(
        "mcp-verify",
        &[
            bundle.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--dir",
            "nosuch=/tmp",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hint: name a pinned directory artifact: server (`--dir NAME=PATH`)"),
        "{err}"
    );
    // A directory artifact named with --file: said to be a directory, and --dir suggested.
    let out = run(
        "mcp-verify",
        &[
            bundle.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--file",
            "server=/tmp",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("(it pins: directory `server`)")
            && err.contains("hint: this manifest pins no file artifact; a directory artifact is checked with `--dir NAME=PATH`"),
        "{err}"
    );
}

#[test]
fn digest_names_a_tree_or_a_file_and_refuses_bad_patterns() {
    let base = root().join("testdata/scenarios/_base");
    let tree = run("mcp-sign", &["digest", base.join("tree").to_str().unwrap()]);
    assert_eq!(tree.status.code(), Some(0));
    let file = run(
        "mcp-sign",
        &["digest", base.join("files/release.tgz").to_str().unwrap()],
    );
    assert_eq!(file.status.code(), Some(0));
    assert_ne!(tree.stdout, file.stdout);
    let bad = run(
        "mcp-sign",
        &[
            "digest",
            base.join("tree").to_str().unwrap(),
            "--exclude",
            "/abs",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    let missing = run("mcp-sign", &["digest", "/nonexistent/x"]);
    assert_eq!(missing.status.code(), Some(2));
}

/// The subcommands listed under `Commands:` in a help text.
fn listed_commands(help: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line == "Commands:" {
            inside = true;
        } else if inside && line.is_empty() {
            break;
        } else if inside && line.starts_with("  ") && !line.starts_with("   ") {
            let mut parts = line.trim().splitn(2, ' ');
            let name = parts.next().unwrap().to_string();
            let about = parts.next().unwrap_or("").trim().to_string();
            if name != "help" {
                out.push((name, about));
            }
        }
    }
    out
}

/// Every subcommand's own help (`X --help` and `help X`) opens with the summary its parent lists
/// for it, at every level of both binaries. The subcommands are built only when used (clap's
/// `defer`, for start-up time), and a doc comment on an argument struct would then silently
/// replace a subcommand's description: this walks the whole tree so that cannot come back.
#[test]
fn every_subcommand_help_opens_with_its_listed_summary() {
    for bin_name in ["mcp-sign", "mcp-verify"] {
        let mut queue: Vec<Vec<String>> = vec![vec![]];
        let mut checked = 0;
        while let Some(path) = queue.pop() {
            let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
            args.push("--help");
            let out = run(bin_name, &args);
            assert_ok(&out);
            let help = String::from_utf8(out.stdout).unwrap();
            for (name, about) in listed_commands(&help) {
                let mut sub = path.clone();
                sub.push(name.clone());
                // The listed summary may be wrapped: compare its first words.
                let head: String = about
                    .split_whitespace()
                    .take(4)
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut as_flag: Vec<&str> = sub.iter().map(String::as_str).collect();
                as_flag.push("--help");
                let mut as_help = vec!["help"];
                as_help.extend(sub.iter().map(String::as_str));
                for form in [as_flag, as_help] {
                    let out = run(bin_name, &form);
                    assert_ok(&out);
                    let text = String::from_utf8(out.stdout).unwrap();
                    let first = text.lines().next().unwrap_or("");
                    let first_words: String = first
                        .split_whitespace()
                        .take(4)
                        .collect::<Vec<_>>()
                        .join(" ");
                    assert_eq!(
                        first_words, head,
                        "{bin_name} {form:?}: help opens with {first:?}, parent lists {about:?}"
                    );
                }
                checked += 1;
                queue.push(sub);
            }
        }
        assert!(checked >= 8, "{bin_name}: only {checked} subcommands found");
    }
}

/// Help and version are output like any other: exit 0 only once written. To a full disk they
/// fail with a message and exit 2; to a pipe whose reader has gone, exit 2 without one (as every
/// other output does, `cli_support::write_out`). Before, clap dropped the write error and said 0.
#[test]
fn help_and_version_that_cannot_be_written_exit_2() {
    let cases: &[(&str, &[&str])] = &[
        ("mcp-verify", &["--help"]),
        ("mcp-verify", &["--version"]),
        ("mcp-verify", &["help", "run"]),
        ("mcp-verify", &["sigstore", "verify-bundle", "--help"]),
        ("mcp-sign", &["--help"]),
        ("mcp-sign", &["-V"]),
    ];
    for (prog, args) in cases {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = Command::new(bin(prog))
            .args(*args)
            .stdout(full)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{prog} {args:?} to /dev/full: {err}"
        );
        assert!(
            err.contains("cannot write to standard output"),
            "{prog} {args:?}: {err}"
        );

        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(bin(prog))
            .args(*args)
            .stdout(writer)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{prog} {args:?} to a closed pipe"
        );
        assert!(out.stderr.is_empty(), "{prog} {args:?}: {:?}", out.stderr);

        // And written, it is 0.
        let out = Command::new(bin(prog)).args(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{prog} {args:?}");
        assert!(!out.stdout.is_empty());
    }
}
