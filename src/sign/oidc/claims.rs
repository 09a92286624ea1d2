//! The claims of an OIDC identity token that signing needs, parsed from a compact JWT and
//! checked as far as a client can (audience, issuer, subject, expiry). The raw token stays a
//! secret: `Debug` redacts it and its memory is wiped on drop.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{GITHUB_ACTIONS_ISSUER, OidcError, SIGSTORE_AUDIENCE, TokenProblem};

/// The claims of an identity token that signing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub audience: Vec<String>,
    pub expires_at: DateTime<Utc>,
    /// GitHub Actions: `job_workflow_ref`, which Fulcio turns into the certificate's SAN.
    pub job_workflow_ref: Option<String>,
}

/// A parsed OIDC identity token. The raw token is reachable only through [`Self::secret`].
pub struct IdentityToken {
    raw: Zeroizing<String>,
    claims: Claims,
    source_name: &'static str,
}

impl fmt::Debug for IdentityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityToken")
            .field("token", &"<redacted>")
            .field("claims", &self.claims)
            .field("source", &self.source_name)
            .finish()
    }
}

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<String>,
    sub: Option<String>,
    email: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    exp: Option<i64>,
    job_workflow_ref: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl IdentityToken {
    /// Parses a compact JWT and checks what a client can check: the audience is `sigstore` and
    /// the token has an issuer, a subject and an expiry. `source_name` says where it came from,
    /// for error messages (the token itself never appears in one).
    pub fn parse(raw: &str, source_name: &'static str) -> Result<Self, OidcError> {
        let raw = Zeroizing::new(raw.trim().to_owned());
        let malformed = |problem: TokenProblem| OidcError::Malformed {
            source_name,
            problem,
        };
        let mut parts = raw.split('.');
        let (Some(_header), Some(payload), Some(_sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed(TokenProblem::NotThreeParts));
        };
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .or_else(|_| URL_SAFE.decode(payload))
            .map_err(|_| malformed(TokenProblem::PayloadNotBase64))?;
        let raw_claims: RawClaims = serde_json::from_slice(&payload)
            .map_err(|e| malformed(TokenProblem::PayloadNotClaims(e)))?;
        let missing = |claim| OidcError::MissingClaim { source_name, claim };
        let audience = match raw_claims.aud {
            Some(Audience::One(a)) => vec![a],
            Some(Audience::Many(a)) => a,
            None => return Err(missing("aud")),
        };
        if !audience.iter().any(|a| a == SIGSTORE_AUDIENCE) {
            return Err(OidcError::Audience {
                source_name,
                actual: audience,
            });
        }
        let exp = raw_claims.exp.ok_or_else(|| missing("exp"))?;
        let expires_at = DateTime::from_timestamp(exp, 0)
            .ok_or_else(|| malformed(TokenProblem::ExpiryNotATime))?;
        let claims = Claims {
            issuer: raw_claims
                .iss
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing("iss"))?,
            subject: raw_claims
                .sub
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing("sub"))?,
            email: raw_claims.email.filter(|s| !s.is_empty()),
            audience,
            expires_at,
            job_workflow_ref: raw_claims.job_workflow_ref,
        };
        Ok(Self {
            raw,
            claims,
            source_name,
        })
    }

    /// Fails if the token has expired at `now` (Fulcio would refuse it anyway, less clearly).
    pub fn check_unexpired(&self, now: DateTime<Utc>) -> Result<(), OidcError> {
        if self.claims.expires_at <= now {
            return Err(OidcError::Expired {
                source_name: self.source_name,
                expired_at: self.claims.expires_at,
                now,
            });
        }
        Ok(())
    }

    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Where the token came from (`--identity-token`, `SIGSTORE_ID_TOKEN`, ...).
    pub fn source_name(&self) -> &'static str {
        self.source_name
    }

    /// The identity Fulcio will most likely certify, for telling the user who they sign as:
    /// the email for email-based issuers, the workflow URI for GitHub Actions, else `sub`.
    /// Verification never relies on this guess; it reads the certificate.
    pub fn expected_identity(&self) -> String {
        if let Some(email) = &self.claims.email {
            return email.clone();
        }
        if self.claims.issuer == GITHUB_ACTIONS_ISSUER
            && let Some(r) = &self.claims.job_workflow_ref
        {
            return format!("https://github.com/{r}");
        }
        self.claims.subject.clone()
    }

    /// The raw bearer token, for the Fulcio request only.
    pub(crate) fn secret(&self) -> &str {
        &self.raw
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_tokens::{good_claims, jwt};
    use super::*;

    #[test]
    fn parses_claims_without_email() -> Result<(), OidcError> {
        let t = IdentityToken::parse(&jwt(&good_claims()), "test")?;
        assert_eq!(t.claims().issuer, "https://issuer.example");
        assert_eq!(t.expected_identity(), "https://example.com/me");
        Ok(())
    }

    #[test]
    fn email_is_the_identity_when_present() -> Result<(), OidcError> {
        let mut c = good_claims();
        c["email"] = "me@example.com".into();
        c["aud"] = serde_json::json!(["other", "sigstore"]);
        let t = IdentityToken::parse(&jwt(&c), "test")?;
        assert_eq!(t.expected_identity(), "me@example.com");
        Ok(())
    }

    #[test]
    fn github_actions_identity_is_the_workflow_uri() -> Result<(), OidcError> {
        let mut c = good_claims();
        c["iss"] = GITHUB_ACTIONS_ISSUER.into();
        c["sub"] = "repo:o/r:ref:refs/heads/main".into();
        c["job_workflow_ref"] = "o/r/.github/workflows/rel.yml@refs/heads/main".into();
        let t = IdentityToken::parse(&jwt(&c), "test")?;
        assert_eq!(
            t.expected_identity(),
            "https://github.com/o/r/.github/workflows/rel.yml@refs/heads/main"
        );
        Ok(())
    }

    #[test]
    fn rejects_wrong_audience_missing_claims_and_expiry() {
        let mut c = good_claims();
        c["aud"] = "not-sigstore".into();
        assert!(matches!(
            IdentityToken::parse(&jwt(&c), "t"),
            Err(OidcError::Audience { .. })
        ));
        for claim in ["iss", "sub", "exp", "aud"] {
            let mut c = good_claims();
            c.as_object_mut().map(|o| o.remove(claim));
            assert!(
                matches!(
                    IdentityToken::parse(&jwt(&c), "t"),
                    Err(OidcError::MissingClaim { .. })
                ),
                "{claim}"
            );
        }
        assert!(matches!(
            IdentityToken::parse("abc", "t"),
            Err(OidcError::Malformed { .. })
        ));
        let mut c = good_claims();
        c["exp"] = 1_000.into();
        let t = IdentityToken::parse(&jwt(&c), "t");
        assert!(matches!(
            t.map(|t| t.check_unexpired(Utc::now())),
            Ok(Err(OidcError::Expired { .. }))
        ));
    }
}
