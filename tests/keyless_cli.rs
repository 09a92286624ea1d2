//! The real binaries, keylessly, against the loopback Sigstore instance: `mcp-sign sign --keyless`
//! then `mcp-verify` with an identity policy, and the conformance contract pair
//! `mcp-sign sigstore sign-bundle` / `mcp-verify sigstore verify-bundle`.

mod keyless_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use keyless_common::{Instance, TestResult, common, run, token, write};

const ISSUER: &str = "https://issuer.example";
const SUBJECT: &str = "https://example.com/publisher";

/// Binary `name` with `args`, colour off and no ambient token source.
fn command(name: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(common::bin(name));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL");
    cmd
}

fn cli(name: &str, args: &[&str]) -> Result<(bool, String), String> {
    run(&mut command(name, args), Duration::from_secs(120))
}

/// `server/index.js` holding `code`, and `mcp-manifest.json` init'ed for it (with `extra` init
/// arguments); returns both paths.
fn init_server(work: &Path, code: &[u8], extra: &[&str]) -> Result<(PathBuf, PathBuf), String> {
    let server = work.join("server");
    std::fs::create_dir_all(&server).map_err(|e| e.to_string())?;
    write(&server.join("index.js"), code)?;
    let manifest = work.join("mcp-manifest.json");
    let mut args = vec![
        "init",
        "--name",
        "io.github.acme/weather",
        "--version",
        "1.0.0",
        "--dir",
        s(&server),
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-o", s(&manifest)]);
    let (ok, out) = cli("mcp-sign", &args)?;
    if !ok {
        return Err(format!("init failed:\n{out}"));
    }
    Ok((server, manifest))
}

/// `mcp-verify BUNDLE` with an identity policy, the instance's root, and the server's tree.
fn verify_manifest(
    bundle: &Path,
    identity: &str,
    issuer: &str,
    root: &Path,
    server: &Path,
) -> Result<(bool, String), String> {
    cli(
        "mcp-verify",
        &[
            s(bundle),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
            "--trusted-root",
            s(root),
            "--dir",
            s(server),
        ],
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

#[test]
fn sign_keyless_then_verify_manifest_with_identity() -> TestResult {
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let work = tempfile::tempdir()?;
    let (server, manifest) = init_server(
        work.path(),
        b"console.log('hello');\n",
        &["--launch", "node index.js"],
    )?;

    let tok = token(ISSUER, SUBJECT, &[]);
    let (ok, out) = cli(
        "mcp-sign",
        &[
            "sign",
            "--keyless",
            "--no-interactive",
            "--signing-config",
            s(&instance.trust_config()),
            "--identity-token",
            &tok,
            s(&manifest),
        ],
    )?;
    assert!(ok, "keyless sign failed:\n{out}");
    assert!(!out.contains(&tok), "the token must never be printed");
    let bundle = work.path().join("mcp-manifest.sigstore.json");
    assert!(bundle.is_file(), "no bundle written:\n{out}");

    let root = instance.trusted_root();
    let verify =
        |identity: &str, issuer: &str| verify_manifest(&bundle, identity, issuer, &root, &server);
    let (ok, out) = verify(SUBJECT, ISSUER)?;
    assert!(ok, "mcp-verify refused the keyless bundle:\n{out}");
    let (ok, out) = verify("https://example.com/someone-else", ISSUER)?;
    assert!(!ok, "mcp-verify accepted a wrong identity:\n{out}");
    let (ok, out) = verify(SUBJECT, "https://accounts.example")?;
    assert!(!ok, "mcp-verify accepted a wrong issuer:\n{out}");
    Ok(())
}

#[test]
fn sign_bundle_and_verify_bundle_contract() -> TestResult {
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let work = tempfile::tempdir()?;
    let artifact = work.path().join("a.txt");
    write(&artifact, b"hello\n")?;
    let bundle = work.path().join("a.txt.sigstore.json");
    let tok = token(ISSUER, SUBJECT, &[]);
    let (ok, out) = cli(
        "mcp-sign",
        &[
            "sigstore",
            "sign-bundle",
            "--identity-token",
            &tok,
            "--bundle",
            s(&bundle),
            "--signing-config",
            s(&instance.signing_config()),
            "--trusted-root",
            s(&instance.trusted_root()),
            s(&artifact),
        ],
    )?;
    assert!(ok, "sign-bundle failed:\n{out}");
    let (ok, out) = cli(
        "mcp-verify",
        &[
            "sigstore",
            "verify-bundle",
            "--bundle",
            s(&bundle),
            "--certificate-identity",
            SUBJECT,
            "--certificate-oidc-issuer",
            ISSUER,
            "--trusted-root",
            s(&instance.trusted_root()),
            s(&artifact),
        ],
    )?;
    assert!(ok, "verify-bundle refused our bundle:\n{out}");
    Ok(())
}

#[test]
fn keyless_sign_reads_sigstore_id_token_and_refuses_without_any_token() -> TestResult {
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let work = tempfile::tempdir()?;
    let (_server, manifest) = init_server(work.path(), b"1\n", &[])?;
    let config = instance.trust_config();
    let sign = |env_token: Option<&str>| {
        let mut cmd = command(
            "mcp-sign",
            &[
                "sign",
                "--keyless",
                "--no-interactive",
                "--force",
                "--signing-config",
                s(&config),
                s(&manifest),
            ],
        );
        if let Some(t) = env_token {
            cmd.env("SIGSTORE_ID_TOKEN", t);
        }
        run(&mut cmd, Duration::from_secs(120))
    };
    let tok = token(ISSUER, SUBJECT, &[]);
    let (ok, out) = sign(Some(&tok))?;
    assert!(ok, "keyless sign with SIGSTORE_ID_TOKEN failed:\n{out}");
    assert!(!out.contains(&tok), "the token must never be printed");
    let (ok, out) = sign(None)?;
    assert!(!ok, "keyless sign without any token succeeded:\n{out}");
    assert!(
        out.contains("SIGSTORE_ID_TOKEN"),
        "the error should name the token sources:\n{out}"
    );
    Ok(())
}

/// Runs `cmd` with `input` on its standard input; returns (exit code, stdout+stderr).
fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Result<(Option<i32>, String), String> {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    // A command that refuses before reading its input (an existing output) may already have
    // exited: its exit code and message are what the caller checks.
    match stdin.write_all(input) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.to_string()),
        _ => {}
    }
    // Closing it is the end of the token.
    drop(stdin);
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    Ok((
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

#[test]
fn identity_token_from_a_file_or_standard_input() -> TestResult {
    use std::os::unix::fs::PermissionsExt as _;
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let work = tempfile::tempdir()?;
    let (server, manifest) = init_server(work.path(), b"1\n", &[])?;
    let bundle = work.path().join("mcp-manifest.sigstore.json");
    let tok = token(ISSUER, SUBJECT, &[]);
    let token_file = work.path().join("token.jwt");
    write(&token_file, format!("{tok}\n").as_bytes())?;
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600))?;
    let config = instance.trust_config();
    let sign = |from: &str, extra: &[&str], stdin: &[u8]| {
        let mut args = vec![
            "sign",
            "--keyless",
            "--no-interactive",
            "--signing-config",
            s(&config),
            "--identity-token-file",
            from,
        ];
        args.extend_from_slice(extra);
        args.push(s(&manifest));
        let mut cmd = command("mcp-sign", &args);
        run_with_stdin(&mut cmd, stdin)
    };

    // From a file.
    let (code, out) = sign(s(&token_file), &[], b"")?;
    assert_eq!(code, Some(0), "--identity-token-file FILE failed:\n{out}");
    assert!(!out.contains(&tok), "the token must never be printed");
    let (ok, out) = verify_manifest(&bundle, SUBJECT, ISSUER, &instance.trusted_root(), &server)?;
    assert!(ok, "mcp-verify refused the bundle:\n{out}");

    // The bundle exists now: not replaced without --force, and nothing is signed.
    let before = std::fs::read(&bundle)?;
    let (code, out) = sign(s(&token_file), &[], b"")?;
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("refusing to overwrite"), "{out}");
    assert_eq!(std::fs::read(&bundle)?, before);

    // From standard input, with the newline a shell `echo` adds.
    let (code, out) = sign("-", &["--force"], format!("{tok}\n").as_bytes())?;
    assert_eq!(code, Some(0), "--identity-token-file - failed:\n{out}");
    assert!(!out.contains(&tok), "the token must never be printed");
    assert_ne!(
        std::fs::read(&bundle)?,
        before,
        "--force replaces the bundle"
    );

    // Nothing on standard input: refused, naming where it looked.
    let (code, out) = sign("-", &["--force"], b"  \n")?;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("standard input holds no identity token"),
        "{out}"
    );

    // Two tokens: a usage error before anything runs.
    let (code, out) = sign(s(&token_file), &["--force", "--identity-token", &tok], b"")?;
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("cannot be used with"), "{out}");
    Ok(())
}

#[test]
fn sign_bundle_reads_the_token_from_stdin_and_never_overwrites_silently() -> TestResult {
    let Some(instance) = Instance::start(&[])? else {
        return Ok(());
    };
    let work = tempfile::tempdir()?;
    let artifact = work.path().join("a.txt");
    write(&artifact, b"hello\n")?;
    let bundle = work.path().join("a.txt.sigstore.json");
    let tok = token(ISSUER, SUBJECT, &[]);
    let (config, root) = (instance.signing_config(), instance.trusted_root());
    let sign_bundle = |extra: &[&str]| -> Result<(Option<i32>, String), String> {
        let mut args = vec![
            "sigstore",
            "sign-bundle",
            "--identity-token-file",
            "-",
            "--bundle",
            s(&bundle),
            "--signing-config",
            s(&config),
            "--trusted-root",
            s(&root),
        ];
        args.extend_from_slice(extra);
        args.push(s(&artifact));
        let mut cmd = command("mcp-sign", &args);
        run_with_stdin(&mut cmd, tok.as_bytes())
    };
    let (code, out) = sign_bundle(&[])?;
    assert_eq!(code, Some(0), "sign-bundle failed:\n{out}");
    let before = std::fs::read(&bundle)?;
    let (code, out) = sign_bundle(&[])?;
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("refusing to overwrite"), "{out}");
    assert_eq!(std::fs::read(&bundle)?, before);
    let (code, out) = sign_bundle(&["--force"])?;
    assert_eq!(code, Some(0), "sign-bundle --force failed:\n{out}");
    // Only the bundle is left in the directory: no temporary file behind.
    let names: Vec<_> = std::fs::read_dir(work.path())?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    Ok(())
}
