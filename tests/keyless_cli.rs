//! The real binaries, keylessly, against the loopback Sigstore instance: `mcp-sign sign --keyless`
//! then `mcp-verify` with an identity policy, and the conformance contract pair
//! `mcp-sign sigstore sign-bundle` / `mcp-verify sigstore verify-bundle`.

mod keyless_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use keyless_common::{Instance, TestResult, run, token, write};

const ISSUER: &str = "https://issuer.example";
const SUBJECT: &str = "https://example.com/publisher";

/// A workspace binary beside the test executable (target/debug).
fn bin(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("no target directory")?;
    let p = dir.join(name);
    if p.exists() {
        Ok(p)
    } else {
        Err(format!(
            "{} is missing: build the binaries first (`cargo build --workspace`, which scripts/test.sh does)",
            p.display()
        ))
    }
}

fn cli(name: &str, args: &[&str]) -> Result<(bool, String), String> {
    run(
        Command::new(bin(name)?)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("SIGSTORE_ID_TOKEN")
            .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL"),
        Duration::from_secs(120),
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
    let server = work.path().join("server");
    std::fs::create_dir_all(&server)?;
    write(&server.join("index.js"), b"console.log('hello');\n")?;
    let manifest = work.path().join("mcp-manifest.json");
    let (ok, out) = cli(
        "mcp-sign",
        &[
            "init",
            "--name",
            "io.github.acme/weather",
            "--version",
            "1.0.0",
            "--dir",
            s(&server),
            "--launch",
            "node index.js",
            "-o",
            s(&manifest),
        ],
    )?;
    assert!(ok, "init failed:\n{out}");

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

    let verify = |identity: &str, issuer: &str| {
        cli(
            "mcp-verify",
            &[
                s(&bundle),
                "--certificate-identity",
                identity,
                "--certificate-oidc-issuer",
                issuer,
                "--trusted-root",
                s(&instance.trusted_root()),
                "--dir",
                s(&server),
            ],
        )
    };
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
    let server = work.path().join("server");
    std::fs::create_dir_all(&server)?;
    write(&server.join("index.js"), b"1\n")?;
    let manifest = work.path().join("mcp-manifest.json");
    let (ok, out) = cli(
        "mcp-sign",
        &[
            "init",
            "--name",
            "io.github.acme/weather",
            "--version",
            "1.0.0",
            "--dir",
            s(&server),
            "-o",
            s(&manifest),
        ],
    )?;
    assert!(ok, "init failed:\n{out}");
    let sign = |env_token: Option<&str>| {
        let mut cmd = Command::new(bin("mcp-sign")?);
        cmd.args([
            "sign",
            "--keyless",
            "--no-interactive",
            "--force",
            "--signing-config",
        ])
        .arg(instance.trust_config())
        .arg(&manifest)
        .env("NO_COLOR", "1")
        .env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL");
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
