//! `mcp-verify sigstore verify-bundle`: the sigstore-conformance CLI contract over the
//! library's `verify_bundle`.
//!
//! ```text
//! verify-bundle --bundle FILE --certificate-identity ID --certificate-oidc-issuer URL [--trusted-root FILE] FILE_OR_DIGEST
//! verify-bundle --bundle FILE --key PEM [--trusted-root FILE] FILE_OR_DIGEST
//! ```
//! `FILE_OR_DIGEST` is a path or `sha256:<64 hex>`. Without `--trusted-root` the embedded
//! production root is used (`--staging` picks the embedded staging root).
//! Exit codes: 0 verified, 1 rejected (reason code on stderr), 2 usage or I/O error.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use mcpsig::sigstore::keys::PublicKey;
use mcpsig::sigstore::policy::IdentityPolicy;
use mcpsig::sigstore::trust::TrustedRoot;
use mcpsig::sigstore::{
    ArtifactRef, Bundle, SignerPolicy, SigstoreError, VerifyOptions, verify_bundle,
};

struct Args {
    bundle: PathBuf,
    identity: Option<String>,
    issuer: Option<String>,
    key: Option<PathBuf>,
    trusted_root: Option<PathBuf>,
    staging: bool,
    input: String,
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    eprintln!(
        "usage: verify-bundle --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL | --key PEM) [--trusted-root FILE | --staging] FILE_OR_DIGEST"
    );
    ExitCode::from(2)
}

fn parse(args: &[OsString]) -> Result<Args, String> {
    let mut it = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .peekable();
    if it.peek().map(String::as_str) == Some("verify-bundle") {
        it.next();
    }
    let (mut bundle, mut identity, mut issuer, mut key, mut trusted_root) =
        (None, None, None, None, None);
    let mut staging = false;
    let mut input = None;
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--bundle" => bundle = Some(PathBuf::from(value("--bundle")?)),
            "--certificate-identity" => identity = Some(value("--certificate-identity")?),
            "--certificate-oidc-issuer" => issuer = Some(value("--certificate-oidc-issuer")?),
            "--key" => key = Some(PathBuf::from(value("--key")?)),
            "--trusted-root" => trusted_root = Some(PathBuf::from(value("--trusted-root")?)),
            "--staging" => staging = true,
            s if s.starts_with("--") => return Err(format!("unknown option `{s}`")),
            s => {
                if input.replace(s.to_owned()).is_some() {
                    return Err("more than one FILE_OR_DIGEST given".into());
                }
            }
        }
    }
    let bundle = bundle.ok_or("--bundle is required")?;
    let input = input.ok_or("FILE_OR_DIGEST is required")?;
    match (&key, &identity, &issuer) {
        (Some(_), None, None) | (None, Some(_), Some(_)) => {}
        _ => {
            return Err(
                "give either --key, or both --certificate-identity and --certificate-oidc-issuer"
                    .into(),
            );
        }
    }
    Ok(Args {
        bundle,
        identity,
        issuer,
        key,
        trusted_root,
        staging,
        input,
    })
}

fn parse_digest(s: &str) -> Option<[u8; 32]> {
    let hex_part = s.strip_prefix("sha256:")?.as_bytes();
    if hex_part.len() != 64 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, pair) in hex_part.chunks(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

enum Failure {
    Rejected(SigstoreError),
    Io(String),
}

fn run(a: &Args) -> Result<(), Failure> {
    let read = |p: &PathBuf| {
        std::fs::read(p).map_err(|e| Failure::Io(format!("cannot read `{}`: {e}", p.display())))
    };
    let root = match &a.trusted_root {
        Some(p) => TrustedRoot::from_json(&read(p)?),
        None if a.staging => TrustedRoot::staging(),
        None => TrustedRoot::production(),
    }
    .map_err(Failure::Rejected)?;
    let bundle = Bundle::from_json(&read(&a.bundle)?).map_err(Failure::Rejected)?;
    let signer = match (&a.key, &a.identity, &a.issuer) {
        (Some(k), _, _) => {
            let pem = String::from_utf8_lossy(&read(k)?).into_owned();
            SignerPolicy::Key(PublicKey::from_pem(&pem).map_err(Failure::Rejected)?)
        }
        (None, Some(id), Some(iss)) => SignerPolicy::Identity(IdentityPolicy::exact(id, iss)),
        _ => return Err(Failure::Io("no signer policy".into())),
    };
    let bytes;
    let artifact = if a.input.starts_with("sha256:") {
        ArtifactRef::Sha256(
            parse_digest(&a.input)
                .ok_or_else(|| Failure::Io(format!("invalid digest `{}`", a.input)))?,
        )
    } else {
        bytes = read(&PathBuf::from(&a.input))?;
        ArtifactRef::Bytes(&bytes)
    };
    let opts = VerifyOptions {
        trusted_root: Some(&root),
        signer,
        require_transparency: true,
    };
    verify_bundle(&bundle, Some(artifact), &opts)
        .map(|_| ())
        .map_err(Failure::Rejected)
}

/// Runs `verify-bundle` with the arguments after the subcommand name (a leading
/// `verify-bundle` is skipped if present).
pub fn verify_bundle_cmd(args: &[OsString]) -> ExitCode {
    let a = match parse(args) {
        Ok(a) => a,
        Err(msg) => return usage(&msg),
    };
    match run(&a) {
        Ok(()) => {
            println!("OK: {}", a.bundle.display());
            ExitCode::SUCCESS
        }
        Err(Failure::Rejected(e)) => {
            eprintln!("error: bundle rejected ({}): {e}", e.reason_code());
            ExitCode::from(1)
        }
        Err(Failure::Io(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}
