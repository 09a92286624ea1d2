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

use std::path::PathBuf;
use std::process::ExitCode;

use mcpsig::error_chain;
use mcpsig::fsutil::read_limited;
use mcpsig::sigstore::policy::IdentityPolicy;
use mcpsig::sigstore::trust::{MAX_TRUST_FILE_BYTES, TrustedRoot};
use mcpsig::sigstore::{
    ArtifactRef, Bundle, SignerPolicy, SigstoreError, VerifyOptions, verify_bundle,
};

/// `verify-bundle` arguments, in the conformance contract's spelling.
#[derive(clap::Args, Debug)]
pub struct VerifyBundleArgs {
    /// The Sigstore bundle to verify.
    #[arg(long)]
    bundle: PathBuf,
    /// Exact certificate identity (SAN) that must have signed.
    #[arg(long, requires = "issuer", conflicts_with = "key")]
    certificate_identity: Option<String>,
    /// Exact OIDC issuer of the certificate.
    #[arg(long = "certificate-oidc-issuer", id = "issuer")]
    certificate_oidc_issuer: Option<String>,
    /// A managed public key (PEM) instead of a certificate identity.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Trusted root (default: the embedded public-good root).
    #[arg(long)]
    trusted_root: Option<PathBuf>,
    /// Use the embedded staging root.
    #[arg(long, conflicts_with = "trusted_root")]
    staging: bool,
    /// The artifact: a path, or `sha256:<64 hex>`.
    #[arg(value_name = "FILE_OR_DIGEST")]
    input: String,
}

/// A `sha256:<hex>` artifact digest, parsed by the library's one digest parser.
fn parse_digest(s: &str) -> Option<[u8; 32]> {
    let d: mcpsig::digest::Digest = s.parse().ok()?;
    match d.algorithm() {
        mcpsig::digest::Algorithm::Sha256 => d.as_bytes().try_into().ok(),
        _ => None,
    }
}

enum Failure {
    Rejected(SigstoreError),
    Io(String),
}

fn run(a: &VerifyBundleArgs) -> Result<(), Failure> {
    let read = |p: &PathBuf| {
        std::fs::read(p).map_err(|e| Failure::Io(format!("cannot read `{}`: {e}", p.display())))
    };
    let root = match &a.trusted_root {
        Some(p) => TrustedRoot::from_json(
            &read_limited(p, MAX_TRUST_FILE_BYTES).map_err(|e| Failure::Io(error_chain(&e)))?,
        ),
        None if a.staging => TrustedRoot::staging(),
        None => TrustedRoot::production(),
    }
    .map_err(Failure::Rejected)?;
    // Bounded like every bundle read: an oversized one is a malformed bundle.
    let bundle_bytes =
        mcpsig::verify::read_bundle_file(&a.bundle).map_err(|e| Failure::Io(error_chain(&e)))?;
    let bundle = Bundle::from_json(&bundle_bytes).map_err(Failure::Rejected)?;
    let signer = match (&a.key, &a.certificate_identity, &a.certificate_oidc_issuer) {
        (Some(k), _, _) => SignerPolicy::Key(match mcpsig::keys::public_key_from_file(k) {
            Ok(key) => key,
            Err(mcpsig::keys::KeyError::Public(e)) => return Err(Failure::Rejected(e)),
            Err(e) => return Err(Failure::Io(mcpsig::error_chain(&e))),
        }),
        (None, Some(id), Some(iss)) => SignerPolicy::Identity(IdentityPolicy::exact(id, iss)),
        _ => {
            return Err(Failure::Io(
                "give either --key, or both --certificate-identity and --certificate-oidc-issuer"
                    .into(),
            ));
        }
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

/// Runs `verify-bundle`.
pub fn verify_bundle_cmd(a: &VerifyBundleArgs) -> ExitCode {
    match run(a) {
        Ok(()) => {
            cli::outln!("OK: {}", a.bundle.display());
            ExitCode::SUCCESS
        }
        Err(Failure::Rejected(e)) => {
            cli::errln!("error: bundle rejected ({}): {e}", e.reason_code());
            ExitCode::from(1)
        }
        Err(Failure::Io(msg)) => {
            cli::errln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}
