//! `mcp-verify sigstore verify-bundle`: the sigstore-conformance CLI contract over the
//! library's `trust_request::conformance::verify_bundle_request`.
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
use mcpsig::trust_request::conformance::{BundleRequest, verify_bundle_request};

// `verify-bundle` arguments, in the conformance contract's spelling. (A plain comment: a doc
// comment here would replace the subcommand's about, as the subcommands are built deferred.)
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

/// Runs `verify-bundle`.
pub fn verify_bundle_cmd(a: &VerifyBundleArgs) -> ExitCode {
    let req = BundleRequest {
        bundle: a.bundle.clone(),
        artifact: a.input.clone(),
        key: a.key.clone(),
        certificate_identity: a.certificate_identity.clone(),
        certificate_oidc_issuer: a.certificate_oidc_issuer.clone(),
        trusted_root: a.trusted_root.clone(),
        staging: a.staging,
    };
    match verify_bundle_request(&req) {
        Ok(()) => {
            cli::outln!("OK: {}", a.bundle.display());
            ExitCode::SUCCESS
        }
        Err(e) => match e.rejection() {
            Some(rejected) => {
                cli::errln!(
                    "error: bundle rejected ({}): {rejected}",
                    rejected.reason_code()
                );
                ExitCode::from(1)
            }
            None => {
                cli::errln!("error: {}", error_chain(&e));
                ExitCode::from(2)
            }
        },
    }
}

impl VerifyBundleArgs {
    /// The words after `sigstore verify-bundle` read without clap, when they are the plain form
    /// the contract uses: each option once as `--name VALUE` (a value neither empty nor starting
    /// with `-`), `--staging` at most once, one artifact, and none of the combinations clap
    /// refuses (an identity without an issuer, an identity beside a key, `--staging` beside a
    /// trusted root). Anything else, help, a `--name=value`, `--` or an unknown word, is `None`,
    /// and clap parses it and says what it always says. Building clap's parser for this command
    /// was about 0.2 M instructions and 2% of a whole verification process; the test
    /// `fast_and_full_parsers_agree` holds the two to the same result.
    pub fn from_plain_words(words: &[&str]) -> Option<Self> {
        let (mut bundle, mut identity, mut issuer, mut key, mut root) =
            (None, None, None, None, None);
        let (mut staging, mut input) = (false, None);
        let mut rest = words.iter();
        while let Some(&word) = rest.next() {
            let slot = match word {
                "--bundle" => &mut bundle,
                "--certificate-identity" => &mut identity,
                "--certificate-oidc-issuer" => &mut issuer,
                "--key" => &mut key,
                "--trusted-root" => &mut root,
                "--staging" if !staging => {
                    staging = true;
                    continue;
                }
                _ if word.is_empty() || word.starts_with('-') || input.is_some() => return None,
                _ => {
                    input = Some(word.to_owned());
                    continue;
                }
            };
            let value = *rest.next()?;
            if slot.is_some() || value.is_empty() || value.starts_with('-') {
                return None;
            }
            *slot = Some(value.to_owned());
        }
        if (identity.is_some() && (issuer.is_none() || key.is_some()))
            || (staging && root.is_some())
        {
            return None;
        }
        Some(Self {
            bundle: bundle?.into(),
            certificate_identity: identity,
            certificate_oidc_issuer: issuer,
            key: key.map(PathBuf::from),
            trusted_root: root.map(PathBuf::from),
            staging,
            input: input?,
        })
    }
}
