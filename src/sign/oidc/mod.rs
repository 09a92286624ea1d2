//! OIDC identity tokens for keyless signing: where a token comes from (an explicit value,
//! `SIGSTORE_ID_TOKEN`, GitHub Actions' ambient credentials, or an interactive browser login with
//! PKCE on a loopback redirect) and what it claims. The token is a bearer secret: it is never
//! logged, `Debug` redacts it, and its memory is wiped on drop. Its signature is not checked here:
//! Fulcio checks it, and the certificate Fulcio returns is what verifiers trust.
//!
//! This module is the public surface (the error, the options and [`obtain_token`]); each source
//! lives in its own file: `claims` (parsing), `token_file`, `ambient` (CI credentials) and
//! `interactive` (PKCE and the loopback listener).

mod ambient;
mod claims;
pub mod interactive;
mod token_file;

use std::fmt;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

pub use ambient::github_actions_token;
pub use claims::{Claims, IdentityToken};
pub use interactive::{interactive_token, pkce_challenge, wait_for_redirect};
pub use token_file::{MAX_TOKEN_FILE_BYTES, read_token_file};

/// The audience Fulcio requires.
pub const SIGSTORE_AUDIENCE: &str = "sigstore";
/// The issuer of GitHub Actions workflow tokens.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// Upper bound for reading a token or an OIDC provider's answer.
const MAX_RESPONSE: u64 = 1024 * 1024;

/// What is wrong with an identity token's form (its contents are never quoted: it is a secret).
#[derive(Debug)]
#[non_exhaustive]
pub enum TokenProblem {
    NotThreeParts,
    PayloadNotBase64,
    PayloadNotClaims(serde_json::Error),
    ExpiryNotATime,
    NotUtf8,
    /// GitHub Actions answered without `{"value": ...}`.
    NoValue(serde_json::Error),
}

impl std::fmt::Display for TokenProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenProblem::NotThreeParts => f.write_str("expected three dot-separated parts"),
            TokenProblem::PayloadNotBase64 => f.write_str("payload is not base64url"),
            TokenProblem::PayloadNotClaims(e) => {
                write!(f, "payload is not a json claims object: {e}")
            }
            TokenProblem::ExpiryNotATime => f.write_str("`exp` is not a valid time"),
            TokenProblem::NotUtf8 => f.write_str("not utf-8 text"),
            TokenProblem::NoValue(e) => write!(f, "answer is not {{\"value\": ...}}: {e}"),
        }
    }
}

/// Why no usable identity token could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    #[error("identity token from {source_name} is not a jwt: {problem}")]
    Malformed {
        source_name: &'static str,
        problem: TokenProblem,
    },
    #[error("identity token from {source_name} lacks the `{claim}` claim")]
    MissingClaim {
        source_name: &'static str,
        claim: &'static str,
    },
    #[error(
        "identity token from {source_name} is for audience {actual:?}, not `{SIGSTORE_AUDIENCE}`"
    )]
    Audience {
        source_name: &'static str,
        actual: Vec<String>,
    },
    #[error("identity token from {source_name} expired at {expired_at} (now {now})")]
    Expired {
        source_name: &'static str,
        expired_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error(
        "no identity token: pass --identity-token-file, set SIGSTORE_ID_TOKEN, run in GitHub Actions with `id-token: write`, or run interactively"
    )]
    NoSource,
    #[error("request to {url} failed")]
    Http {
        url: String,
        #[source]
        source: ureq::Error,
    },
    #[error("request to {url} failed: reading the answer")]
    ReadAnswer {
        url: String,
        #[source]
        source: ureq::Error,
    },
    #[error("{url} answered http {status}: {body}")]
    HttpStatus {
        url: String,
        status: u16,
        body: String,
    },
    #[error("interactive login failed: {problem}")]
    Interactive {
        problem: interactive::InteractiveProblem,
    },
    #[error("cannot read the identity token from {from}")]
    TokenFile {
        from: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the identity token in {from} is larger than {limit} bytes")]
    TokenFileTooLarge { from: String, limit: u64 },
    #[error("{from} holds no identity token")]
    TokenFileEmpty { from: String },
    #[error("two identity tokens given (--identity-token and --identity-token-file); give one")]
    TwoTokens,
}

impl OidcError {
    /// A stable kebab-case code for reports and scenario files.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "token-malformed",
            Self::MissingClaim { .. } => "token-missing-claim",
            Self::Audience { .. } => "token-audience",
            Self::Expired { .. } => "token-expired",
            Self::NoSource => "no-token",
            Self::Http { .. } | Self::ReadAnswer { .. } | Self::HttpStatus { .. } => {
                "token-request-failed"
            }
            Self::Interactive { .. } => "interactive-login-failed",
            Self::TokenFile { .. } => "token-file-unreadable",
            Self::TokenFileTooLarge { .. } => "token-file-too-large",
            Self::TokenFileEmpty { .. } => "token-file-empty",
            Self::TwoTokens => "token-conflict",
        }
    }
}

/// Shows the interactive login's URL to the user (the binary prints it, terminal-safe); the
/// library itself never prints.
pub type ShowLoginUrl = Arc<dyn Fn(&str) + Send + Sync>;

/// Where to look for a token, in order: the first that yields one wins. `Debug` redacts the
/// explicit token.
#[derive(Clone)]
pub struct TokenOptions {
    /// `--identity-token` or the content of `--identity-token-file`: used as is.
    pub explicit: Option<Zeroizing<String>>,
    /// Where `explicit` came from, for messages.
    pub explicit_source: &'static str,
    /// Allows the interactive browser flow when nothing else gives a token and a terminal is
    /// present, showing the login URL through this. `None` never starts it. Needs
    /// `oidc_issuer`.
    pub interactive_login: Option<ShowLoginUrl>,
    /// The OIDC provider for the interactive flow (from the signing config's oidcUrls).
    pub oidc_issuer: Option<String>,
    /// OAuth client id for the interactive flow (`sigstore` on the public instance).
    pub client_id: String,
    /// Bound on every HTTP call and on waiting for the browser.
    pub timeout: Duration,
}

impl fmt::Debug for TokenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenOptions")
            .field("explicit", &self.explicit.as_ref().map(|_| "<redacted>"))
            .field("explicit_source", &self.explicit_source)
            .field("interactive_login", &self.interactive_login.is_some())
            .field("oidc_issuer", &self.oidc_issuer)
            .field("client_id", &self.client_id)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for TokenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenOptions {
    pub fn new() -> Self {
        Self {
            explicit: None,
            explicit_source: "--identity-token",
            interactive_login: None,
            oidc_issuer: None,
            client_id: "sigstore".to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Finds an identity token: explicit, then `SIGSTORE_ID_TOKEN`, then GitHub Actions' ambient
/// credentials, then (with a terminal) an interactive login.
pub fn obtain_token(opts: &TokenOptions) -> Result<IdentityToken, OidcError> {
    obtain_token_with_env(opts, &|k| std::env::var(k).ok())
}

/// [`obtain_token`] reading the environment through `env` (tests pass their own).
pub fn obtain_token_with_env(
    opts: &TokenOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<IdentityToken, OidcError> {
    if let Some(t) = &opts.explicit {
        return IdentityToken::parse(t, opts.explicit_source);
    }
    if let Some(t) = env("SIGSTORE_ID_TOKEN").map(Zeroizing::new)
        && !t.trim().is_empty()
    {
        return IdentityToken::parse(&t, "SIGSTORE_ID_TOKEN");
    }
    if let (Some(url), Some(bearer)) = (
        env("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env("ACTIONS_ID_TOKEN_REQUEST_TOKEN").map(Zeroizing::new),
    ) {
        return github_actions_token(&url, &bearer, opts.timeout);
    }
    if let Some(show_url) = &opts.interactive_login
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
    {
        let issuer = opts.oidc_issuer.as_deref().ok_or(OidcError::Interactive {
            problem: interactive::InteractiveProblem::NoProvider,
        })?;
        return interactive_token(issuer, &opts.client_id, opts.timeout, &mut |url| {
            show_url(url)
        });
    }
    Err(OidcError::NoSource)
}

/// The agent for OIDC endpoints. Providers may redirect (discovery behind a CDN); the bearer
/// credential never follows a redirect.
fn agent(timeout: Duration) -> ureq::Agent {
    crate::http::agent(timeout, crate::http::Redirects::Follow(10))
}

/// Reads an OIDC endpoint's answer (bounded), turning a failure or a non-2xx status into an
/// error naming `url`. The body is wiped on drop: a token endpoint's answer is a secret.
fn read_reply(
    url: &str,
    reply: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Zeroizing<String>, OidcError> {
    let mut resp = reply.map_err(|source| OidcError::Http {
        url: url.to_owned(),
        source,
    })?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE)
        .read_to_string()
        .map_err(|source| OidcError::ReadAnswer {
            url: url.to_owned(),
            source,
        })?;
    let body = Zeroizing::new(body);
    if !(200..300).contains(&status) {
        return Err(OidcError::HttpStatus {
            url: url.to_owned(),
            status,
            body: crate::text::excerpt(&body),
        });
    }
    Ok(body)
}

#[cfg(test)]
mod test_tokens {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    pub(super) fn jwt(claims: &serde_json::Value) -> String {
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    pub(super) fn good_claims() -> serde_json::Value {
        serde_json::json!({"iss":"https://issuer.example","sub":"https://example.com/me","aud":"sigstore","exp":4_000_000_000_i64})
    }
}

#[cfg(test)]
mod tests {
    use super::test_tokens::{good_claims, jwt};
    use super::*;

    #[test]
    fn debug_and_errors_never_show_the_token() -> Result<(), OidcError> {
        let raw = jwt(&good_claims());
        let mut opts = TokenOptions::new();
        opts.explicit = Some(Zeroizing::new(raw.clone()));
        assert!(!format!("{opts:?}").contains(&raw));
        let t = IdentityToken::parse(&raw, "test")?;
        let shown = format!("{t:?}");
        assert!(!shown.contains(&raw));
        assert!(!shown.contains(raw.split('.').nth(1).unwrap_or("x")));
        Ok(())
    }

    #[test]
    fn sources_in_order_explicit_then_env() -> Result<(), OidcError> {
        let explicit = jwt(&good_claims());
        let mut c = good_claims();
        c["sub"] = "env-subject".into();
        let from_env = jwt(&c);
        let env = |k: &str| (k == "SIGSTORE_ID_TOKEN").then(|| from_env.clone());
        let mut opts = TokenOptions::new();
        assert_eq!(
            obtain_token_with_env(&opts, &env)?.claims().subject,
            "env-subject"
        );
        opts.explicit = Some(Zeroizing::new(explicit));
        assert_eq!(
            obtain_token_with_env(&opts, &env)?.claims().subject,
            "https://example.com/me"
        );
        opts.explicit = None;
        assert!(matches!(
            obtain_token_with_env(&opts, &|_| None),
            Err(OidcError::NoSource)
        ));
        Ok(())
    }
}
