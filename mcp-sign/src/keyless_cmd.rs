//! Keyless options for `mcp-sign sign --keyless`, and the Sigstore conformance `sign-bundle`
//! contract. Parsing only: the signing itself is `mcpsig::sign::keyless`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use mcpsig::sign::keyless::{
    KeylessOptions, KeylessSigner, ShowLoginUrl, Zeroizing, sign_bundle_file,
};

// Where to sign keylessly and as whom (a plain comment: a doc comment would replace the about of
// the subcommands it is flattened into). No `Debug`: it holds the identity token.
#[derive(Clone, clap::Args)]
pub struct KeylessArgs {
    /// Use Sigstore's staging instance instead of the public-good (production) instance.
    #[arg(long)]
    pub staging: bool,
    /// Signing config (v0.2) or ClientTrustConfig naming the Fulcio and Rekor to use.
    #[arg(long, value_name = "FILE")]
    pub signing_config: Option<PathBuf>,
    /// Trusted root each new bundle is checked against (default: the instance's embedded root).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// OIDC identity token (default: SIGSTORE_ID_TOKEN, GitHub Actions' ambient token, or an
    /// interactive browser login). A command line is visible to other users of the machine
    /// (ps, /proc): prefer --identity-token-file or SIGSTORE_ID_TOKEN.
    #[arg(long, value_name = "TOKEN", hide_env_values = true)]
    pub identity_token: Option<String>,
    /// Read the OIDC identity token from FILE, or from standard input with `-` (at most 64 KiB,
    /// surrounding whitespace ignored): keeps the token off the command line.
    #[arg(long, value_name = "FILE|-", conflicts_with = "identity_token")]
    pub identity_token_file: Option<PathBuf>,
    /// Never open an interactive login.
    #[arg(long)]
    pub no_interactive: bool,
    /// Seconds to wait for each Sigstore service.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
}

impl KeylessArgs {
    pub fn options(&self) -> KeylessOptions {
        KeylessOptions {
            staging: self.staging,
            signing_config: self.signing_config.clone(),
            trusted_root: self.trusted_root.clone(),
            identity_token: self.identity_token.clone().map(Zeroizing::new),
            identity_token_file: self.identity_token_file.clone(),
            interactive_login: (!self.no_interactive).then(show_login_url),
            timeout: Some(Duration::from_secs(self.timeout)),
        }
    }
}

/// Prints the interactive login's URL on stderr, on one line and terminal-safe: it came from
/// the OIDC provider's discovery document.
fn show_login_url() -> ShowLoginUrl {
    Arc::new(|url: &str| {
        cli::errln!(
            "Open this URL in a browser to sign in:\n\n  {}\n",
            cli::one_line(url)
        );
    })
}

/// A signer for `mcp-sign sign --keyless`; says on stderr who is about to sign.
pub fn keyless_signer(args: &KeylessArgs) -> anyhow::Result<KeylessSigner> {
    let signer =
        KeylessSigner::from_options(&args.options()).context("cannot set up keyless signing")?;
    cli::errln!(
        "signing keylessly as {} (issuer {})",
        signer.expected_identity(),
        signer.issuer()
    );
    Ok(signer)
}

// The conformance contract (a plain comment: a doc comment would replace the subcommand's
// about, as the subcommands are built deferred):
// `sign-bundle [--staging] [--in-toto] --identity-token TOKEN --bundle FILE [--trusted-root F]
// [--signing-config F] FILE`, plus `--identity-token-file` in place of `--identity-token` and
// `--force` to replace an existing bundle.
#[derive(Clone, clap::Args)]
pub struct SignBundleArgs {
    /// Use Sigstore's staging instance instead of production.
    #[arg(long)]
    pub staging: bool,
    /// FILE is an in-toto statement, signed as a DSSE envelope (else FILE is signed as is).
    #[arg(long)]
    pub in_toto: bool,
    /// OIDC identity token (audience `sigstore`). Visible to other users of the machine on a
    /// command line: prefer --identity-token-file.
    #[arg(
        long,
        value_name = "TOKEN",
        required_unless_present = "identity_token_file"
    )]
    pub identity_token: Option<String>,
    /// Read the identity token from FILE, or from standard input with `-`.
    #[arg(long, value_name = "FILE|-", conflicts_with = "identity_token")]
    pub identity_token_file: Option<PathBuf>,
    /// Where to write the bundle.
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// Replace an existing bundle.
    #[arg(long)]
    pub force: bool,
    /// Trusted root the new bundle is checked against before it is written.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Signing config (v0.2) or ClientTrustConfig naming the services to use.
    #[arg(long, value_name = "FILE")]
    pub signing_config: Option<PathBuf>,
    /// The file (or, with --in-toto, the statement) to sign.
    pub file: PathBuf,
}

pub fn sign_bundle(args: &SignBundleArgs) -> anyhow::Result<()> {
    let opts = KeylessOptions {
        staging: args.staging,
        signing_config: args.signing_config.clone(),
        trusted_root: args.trusted_root.clone(),
        identity_token: args.identity_token.clone().map(Zeroizing::new),
        identity_token_file: args.identity_token_file.clone(),
        interactive_login: None,
        timeout: Some(Duration::from_secs(60)),
    };
    let timings = sign_bundle_file(&opts, args.in_toto, &args.file, &args.bundle, args.force)
        .with_context(|| format!("cannot sign `{}`", args.file.display()))?;
    crate::emit(
        "",
        serde_json::json!({
            "bundle": args.bundle.display().to_string(),
            "content": if args.in_toto { "dsseEnvelope" } else { "messageSignature" },
            "milliseconds": timings.total.as_secs_f64() * 1000.0,
        }),
    );
    Ok(())
}
