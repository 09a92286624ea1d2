//! The trust options every verifying command takes: a public key, or a keyless identity policy
//! (certificate identity, OIDC issuer, CI extensions) with a trusted root.

use anyhow::{Context, bail};
use clap::Args;
use mcpsig::fsutil::read_limited;
use mcpsig::sigstore::policy::{FulcioExtension, IdentityPolicy, Matcher};
use mcpsig::sigstore::trust::TrustedRoot;
use mcpsig::sigstore::tuf;
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

fn matcher(value: &str) -> anyhow::Result<Matcher> {
    match value.strip_prefix('~') {
        Some(re) => {
            Matcher::regex(re).with_context(|| format!("invalid regular expression `{re}`"))
        }
        None => Ok(Matcher::Exact(value.to_owned())),
    }
}

impl TrustArgs {
    /// The trusted root: `--trusted-root FILE`; else the root cached by `trust refresh` for the
    /// chosen TUF repository when its metadata verifies from the trust anchor (spec/trust.md);
    /// else the embedded one. A cache that fails is reported on stderr and not used.
    pub fn trusted_root(&self) -> anyhow::Result<TrustedRoot> {
        let now = mcpsig::chrono::Utc::now();
        if let Some(path) = &self.trusted_root {
            return TrustedRoot::from_file(path)
                .with_context(|| format!("cannot load trusted root `{}`", path.display()));
        }
        if let (Some(_), None) | (None, Some(_)) = (&self.tuf_url, &self.tuf_root) {
            bail!("--tuf-url and --tuf-root go together: the cache is checked from that root");
        }
        if let (Some(url), Some(tuf_root)) = (&self.tuf_url, &self.tuf_root) {
            let anchor = read_limited(tuf_root, tuf::Limits::default().root_bytes)?;
            let lookup = tuf::cached_trusted_root(url, &anchor, now);
            for w in &lookup.warnings {
                if let tuf::CacheWarning::Ignored { error, .. } = w {
                    // A repository the user named has no embedded fallback.
                    return Err(anyhow::anyhow!("{w}")).with_context(|| {
                        format!(
                            "the cached trusted root for {url} is not usable ({})",
                            error.reason_code()
                        )
                    });
                }
                mcpsig::errln!("warning: {w}");
            }
            let cached = lookup.target.with_context(|| {
                format!(
                    "no trusted root cached for {url}: run `mcp-verify trust refresh --tuf-url {url} --tuf-root ROOT.json` first"
                )
            })?;
            return TrustedRoot::from_json(&cached.bytes).with_context(|| {
                format!(
                    "cannot load cached trusted root `{}`",
                    cached.path.display()
                )
            });
        }
        let (url, anchor) = if self.staging {
            (tuf::STAGING_URL, tuf::staging_root())
        } else {
            (tuf::PRODUCTION_URL, tuf::production_root())
        };
        let lookup = tuf::cached_trusted_root(url, anchor, now);
        for w in &lookup.warnings {
            match w {
                tuf::CacheWarning::Ignored { .. } => mcpsig::errln!(
                    "warning: ignoring the trusted root cached from {url}: {w}; using the embedded one"
                ),
                _ => mcpsig::errln!("warning: {w}"),
            }
        }
        if let Some(cached) = lookup.target {
            match TrustedRoot::from_json(&cached.bytes) {
                Ok(root) => return Ok(root),
                Err(e) => mcpsig::errln!(
                    "warning: ignoring cached trusted root `{}`: {e}; using the embedded one",
                    cached.path.display()
                ),
            }
        }
        Ok(if self.staging {
            TrustedRoot::staging()?
        } else {
            TrustedRoot::production()?
        })
    }

    /// Turns the options into what the verifier trusts, refusing incomplete policies.
    pub fn to_trust(&self) -> anyhow::Result<Trust> {
        let trusted_root = self.trusted_root()?;
        if let Some(key_path) = &self.key {
            let key = match mcpsig::keys::public_key_from_file(key_path) {
                // Says what is wrong in one line; no "cannot load" cause around it.
                Err(e @ mcpsig::keys::KeyError::PrivateNotPublic { .. }) => bail!("--key: {e}"),
                other => other
                    .with_context(|| format!("cannot load public key `{}`", key_path.display()))?,
            };
            return Ok(Trust::Key { key, trusted_root });
        }
        let identity = match (
            &self.certificate_identity,
            &self.certificate_identity_regexp,
        ) {
            (Some(id), None) => Matcher::Exact(id.clone()),
            (None, Some(re)) => Matcher::regex(re)
                .with_context(|| format!("invalid --certificate-identity-regexp `{re}`"))?,
            _ => bail!(
                "no trust given: pass --key PUB, or --certificate-identity (or --certificate-identity-regexp) with --certificate-oidc-issuer"
            ),
        };
        let issuer = match (
            &self.certificate_oidc_issuer,
            &self.certificate_oidc_issuer_regexp,
        ) {
            (Some(iss), None) => Matcher::Exact(iss.clone()),
            (None, Some(re)) => Matcher::regex(re)
                .with_context(|| format!("invalid --certificate-oidc-issuer-regexp `{re}`"))?,
            _ => bail!(
                "a keyless identity needs --certificate-oidc-issuer (or --certificate-oidc-issuer-regexp)"
            ),
        };
        let mut extensions = Vec::new();
        let named = [
            (
                FulcioExtension::SourceRepositoryUri,
                &self.source_repository,
            ),
            (FulcioExtension::SourceRepositoryRef, &self.source_ref),
            (FulcioExtension::BuildSignerUri, &self.workflow),
            (FulcioExtension::RunnerEnvironment, &self.runner_environment),
        ];
        for (ext, value) in named {
            if let Some(v) = value {
                extensions.push((ext, matcher(v)?));
            }
        }
        for spec in &self.extensions {
            let (name, m) = if let Some((n, re)) = spec.split_once("~=") {
                (
                    n,
                    Matcher::regex(re)
                        .with_context(|| format!("invalid regular expression in `{spec}`"))?,
                )
            } else if let Some((n, v)) = spec.split_once('=') {
                (n, Matcher::Exact(v.to_owned()))
            } else {
                bail!("--certificate-extension takes NAME=VALUE or NAME~=REGEX, got `{spec}`");
            };
            let ext = FulcioExtension::ALL
                .iter()
                .copied()
                .find(|x| x.name() == name)
                .with_context(|| {
                    let names: Vec<&str> = FulcioExtension::ALL.iter().map(|x| x.name()).collect();
                    format!(
                        "unknown certificate extension `{name}` (known: {})",
                        names.join(", ")
                    )
                })?;
            extensions.push((ext, m));
        }
        Ok(Trust::Identity {
            trusted_root,
            policy: IdentityPolicy {
                identity,
                issuer,
                extensions,
            },
        })
    }
}
