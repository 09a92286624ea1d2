//! The trust options every verifying command takes: a public key, or a keyless identity policy
//! (certificate identity, OIDC issuer, CI extensions) with a trusted root. Flags only: they map
//! into `mcpsig::trust_request::TrustRequest`.

use clap::Args;
use mcpsig::trust_request::{TrustError, TrustRequest, resolve_trust};
use mcpsig::verify::Trust;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct TrustArgs {
    /// Trusted public key (SPKI PEM: Ed25519, ECDSA P-256 or P-384).
    #[arg(long, value_name = "PUB", help_heading = "Trust")]
    pub key: Option<PathBuf>,
    /// Keyless: the exact certificate identity (e-mail or URI SAN) that must have signed.
    #[arg(
        long,
        value_name = "ID",
        help_heading = "Trust",
        conflicts_with = "key"
    )]
    pub certificate_identity: Option<String>,
    /// Keyless: a regular expression the whole certificate identity must match.
    #[arg(long, value_name = "RE", help_heading = "Trust", conflicts_with_all = ["key", "certificate_identity"])]
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: the exact OIDC issuer, e.g. https://token.actions.githubusercontent.com.
    #[arg(long, value_name = "URL", help_heading = "Trust")]
    pub certificate_oidc_issuer: Option<String>,
    /// Keyless: a regular expression the whole OIDC issuer must match.
    #[arg(
        long,
        value_name = "RE",
        help_heading = "Trust",
        conflicts_with = "certificate_oidc_issuer"
    )]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Keyless: required source repository URI (https://github.com/OWNER/REPO).
    #[arg(long, value_name = "URI", help_heading = "CI identity")]
    pub source_repository: Option<String>,
    /// Keyless: required source ref (refs/tags/v1.2.0); a regular expression when it starts with `~`.
    #[arg(long, value_name = "REF", help_heading = "CI identity")]
    pub source_ref: Option<String>,
    /// Keyless: required signing workflow (build signer URI); a regular expression when it starts with `~`.
    #[arg(long, value_name = "URI", help_heading = "CI identity")]
    pub workflow: Option<String>,
    /// Keyless: required runner environment (github-hosted or self-hosted).
    #[arg(long, value_name = "ENV", help_heading = "CI identity")]
    pub runner_environment: Option<String>,
    /// Keyless: any Fulcio extension by name, NAME=VALUE (NAME~=REGEX for a regular expression).
    #[arg(
        long = "certificate-extension",
        value_name = "NAME=VALUE",
        help_heading = "CI identity"
    )]
    pub extensions: Vec<String>,
    /// Sigstore trusted root (trusted_root.json); default: the embedded public-good root.
    #[arg(long, value_name = "FILE", help_heading = "Trust")]
    pub trusted_root: Option<PathBuf>,
    /// Use the Sigstore staging root (as refreshed by `trust refresh --staging`, else embedded).
    #[arg(long, help_heading = "Trust", conflicts_with = "trusted_root")]
    pub staging: bool,
    /// Use the trusted root cached from this TUF repository by `mcp-verify trust refresh
    /// --tuf-url URL` (no network access here; needs --tuf-root).
    #[arg(long, value_name = "URL", help_heading = "Trust", conflicts_with_all = ["trusted_root", "staging"], requires = "tuf_root")]
    pub tuf_url: Option<String>,
    /// The trusted TUF root (root.json) of --tuf-url, obtained out of band: the cached trusted
    /// root is used only when the cached roots chain from it.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Trust",
        requires = "tuf_url"
    )]
    pub tuf_root: Option<PathBuf>,
}

impl TrustArgs {
    /// The options as a library request; every decision is `mcpsig::trust_request`'s.
    pub fn request(&self) -> TrustRequest {
        TrustRequest {
            key: self.key.clone(),
            certificate_identity: self.certificate_identity.clone(),
            certificate_identity_regexp: self.certificate_identity_regexp.clone(),
            certificate_oidc_issuer: self.certificate_oidc_issuer.clone(),
            certificate_oidc_issuer_regexp: self.certificate_oidc_issuer_regexp.clone(),
            source_repository: self.source_repository.clone(),
            source_ref: self.source_ref.clone(),
            workflow: self.workflow.clone(),
            runner_environment: self.runner_environment.clone(),
            extensions: self.extensions.clone(),
            trusted_root: self.trusted_root.clone(),
            staging: self.staging,
            tuf_url: self.tuf_url.clone(),
            tuf_root: self.tuf_root.clone(),
            cache_dir: None,
            now: mcpsig::chrono::Utc::now(),
        }
    }

    /// The trusted root alone, for `--policy` (whose signers come from the policy file);
    /// a key or keyless option given with it is a conflict.
    pub fn to_root(&self) -> Result<mcpsig::sigstore::trust::TrustedRoot, TrustError> {
        let (root, _, warnings) = mcpsig::trust_request::resolve_root(&self.request())?;
        for w in &warnings {
            cli::errln!("warning: {w}");
        }
        Ok(root)
    }

    /// What the verifier trusts; warnings (a cache ignored or getting old) go to stderr.
    pub fn to_trust(&self) -> Result<Trust, TrustError> {
        let resolved = resolve_trust(&self.request())?;
        for w in &resolved.warnings {
            cli::errln!("warning: {w}");
        }
        Ok(resolved.trust)
    }

    /// The policy a launch decides by: `--policy FILE` with the trusted root, or these trust
    /// options as a one-rule policy (`run`, `proxy`). No trust at all is an error.
    pub fn to_policy(
        &self,
        policy: Option<&std::path::Path>,
    ) -> anyhow::Result<(mcpsig::policy::Policy, mcpsig::sigstore::trust::TrustedRoot)> {
        if let Some(path) = policy {
            return Ok((mcpsig::policy::Policy::load(path)?, self.to_root()?));
        }
        let req = self.request();
        if req.key.is_none()
            && req.certificate_identity.is_none()
            && req.certificate_identity_regexp.is_none()
        {
            anyhow::bail!(
                "no trust given: pass --policy FILE, --key PUB, or --certificate-identity \
                 (or --certificate-identity-regexp) with --certificate-oidc-issuer"
            );
        }
        let trust = self.to_trust()?;
        let root = match &trust {
            Trust::Key { trusted_root, .. } | Trust::Identity { trusted_root, .. } => {
                trusted_root.clone()
            }
        };
        Ok((mcpsig::policy::Policy::single(&trust), root))
    }
}
