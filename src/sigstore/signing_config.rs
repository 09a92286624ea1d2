//! Sigstore signing configuration (`application/vnd.dev.sigstore.signingconfig.v0.2+json`):
//! where an instance's Fulcio, Rekor, TSA and OIDC services live, and which of them a signer
//! picks at a given time. The public-good (default) and staging configs are embedded; tests point
//! the same code at a loopback instance by passing its config file.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::trust::MAX_TRUST_FILE_BYTES;
use crate::fsutil::{ReadError, read_limited};

/// The only signing-config media type we read.
pub const MEDIA_TYPE_V0_2: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";
/// Media type of a ClientTrustConfig (trusted root + signing config in one file).
pub const CLIENT_TRUST_CONFIG_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

const PRODUCTION_JSON: &str = include_str!("signing_config/production.json");
const STAGING_JSON: &str = include_str!("signing_config/staging.json");

/// Fulcio API major versions this client speaks (`/api/v2/signingCert` is Fulcio's "v1" service).
pub const SUPPORTED_CA_VERSIONS: &[u32] = &[1];
/// Rekor API major versions this client can write to (v2 needs a TSA for the time).
pub const SUPPORTED_REKOR_VERSIONS: &[u32] = &[1, 2];
/// TSA API major versions this client can use.
pub const SUPPORTED_TSA_VERSIONS: &[u32] = &[1];

/// Why a signing config could not be read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningConfigError {
    #[error("cannot read signing config `{path}`")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("signing config `{path}` is larger than {limit} bytes")]
    TooLarge { path: String, limit: u64 },
    #[error("invalid signing config json in `{origin}`: {problem}")]
    Json {
        origin: String,
        problem: JsonProblem,
    },
    #[error(
        "unsupported signing config media type `{actual}` in `{origin}`: expected `{MEDIA_TYPE_V0_2}`"
    )]
    MediaType { origin: String, actual: String },
    #[error(
        "invalid url `{url}` in signing config `{origin}`: only https (or http on 127.0.0.1/localhost) is allowed"
    )]
    BadUrl { origin: String, url: String },
    #[error(
        "signing config `{origin}` has no {service} service valid at {at} with a supported api version ({supported:?})"
    )]
    NoService {
        origin: String,
        service: &'static str,
        at: DateTime<Utc>,
        supported: &'static [u32],
    },
    #[error("signing config `{origin}`: selector `{selector}` for {service} is not supported")]
    Selector {
        origin: String,
        service: &'static str,
        selector: String,
    },
}

impl SigningConfigError {
    /// A stable kebab-case code for reports and scenario files.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Read { .. } => "io",
            Self::Json { .. } | Self::TooLarge { .. } => "signing-config-malformed",
            Self::MediaType { .. } => "signing-config-media-type",
            Self::BadUrl { .. } => "signing-config-insecure-url",
            Self::NoService { .. } => "signing-config-no-service",
            Self::Selector { .. } => "signing-config-selector",
        }
    }
}

/// Which services to use among the valid ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    /// Every valid service.
    All,
    /// One valid service (the first, in config order after sorting by version).
    Any,
    /// Exactly `count` services.
    Exact(u32),
}

/// One service endpoint with its validity window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub url: String,
    pub major_api_version: u32,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    pub operator: String,
}

impl Service {
    fn valid_at(&self, at: DateTime<Utc>) -> bool {
        self.valid_from <= at && self.valid_until.is_none_or(|end| at < end)
    }
}

/// A parsed signing config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningConfig {
    /// Where the config came from (a path, or `embedded:production`), for error messages.
    pub origin: String,
    pub ca_urls: Vec<Service>,
    pub oidc_urls: Vec<Service>,
    pub rekor_tlog_urls: Vec<Service>,
    pub tsa_urls: Vec<Service>,
    pub rekor_selector: Selector,
    pub tsa_selector: Selector,
}

/// The services chosen for one signing operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedServices {
    pub ca: Service,
    pub rekor: Vec<Service>,
    pub tsa: Vec<Service>,
    pub oidc: Option<Service>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    media_type: String,
    #[serde(default)]
    ca_urls: Vec<RawService>,
    #[serde(default)]
    oidc_urls: Vec<RawService>,
    #[serde(default)]
    rekor_tlog_urls: Vec<RawService>,
    #[serde(default)]
    tsa_urls: Vec<RawService>,
    #[serde(default)]
    rekor_tlog_config: Option<RawServiceConfig>,
    #[serde(default)]
    tsa_config: Option<RawServiceConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawService {
    url: String,
    major_api_version: u32,
    valid_for: RawTimeRange,
    #[serde(default)]
    operator: String,
}

#[derive(Deserialize)]
struct RawTimeRange {
    start: DateTime<Utc>,
    #[serde(default)]
    end: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct RawServiceConfig {
    selector: String,
    #[serde(default)]
    count: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawClientTrustConfig {
    signing_config: serde_json::Value,
}

impl SigningConfig {
    /// The Sigstore public-good instance (the default).
    pub fn production() -> Result<Self, SigningConfigError> {
        Self::from_json(PRODUCTION_JSON.as_bytes(), "embedded:production")
    }

    /// The Sigstore staging instance (`--staging`).
    pub fn staging() -> Result<Self, SigningConfigError> {
        Self::from_json(STAGING_JSON.as_bytes(), "embedded:staging")
    }

    /// Reads a signing config file of at most [`MAX_TRUST_FILE_BYTES`]; a ClientTrustConfig file
    /// is accepted too (its signingConfig is used).
    pub fn from_file(path: &Path) -> Result<Self, SigningConfigError> {
        let bytes = read_limited(path, MAX_TRUST_FILE_BYTES).map_err(|e| match e {
            ReadError::Io { path, source } => SigningConfigError::Read {
                path: path.display().to_string(),
                source,
            },
            ReadError::TooLarge { path, limit } => SigningConfigError::TooLarge {
                path: path.display().to_string(),
                limit,
            },
        })?;
        Self::from_json(&bytes, &path.display().to_string())
    }

    /// Parses a signing config (or a ClientTrustConfig holding one). `origin` names the source
    /// in errors.
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Self, SigningConfigError> {
        let json_err = |e: serde_json::Error| SigningConfigError::Json {
            origin: origin.to_owned(),
            problem: JsonProblem::Shape(e),
        };
        let value: serde_json::Value =
            crate::json::parse_value(bytes).map_err(|e| SigningConfigError::Json {
                origin: origin.to_owned(),
                problem: JsonProblem::Strict(e),
            })?;
        let value = if value.get("mediaType").and_then(|m| m.as_str())
            == Some(CLIENT_TRUST_CONFIG_MEDIA_TYPE)
        {
            let ctc: RawClientTrustConfig = serde_json::from_value(value).map_err(json_err)?;
            ctc.signing_config
        } else {
            value
        };
        let raw: RawConfig = serde_json::from_value(value).map_err(json_err)?;
        if raw.media_type != MEDIA_TYPE_V0_2 {
            return Err(SigningConfigError::MediaType {
                origin: origin.to_owned(),
                actual: raw.media_type,
            });
        }
        let services = |list: Vec<RawService>| -> Result<Vec<Service>, SigningConfigError> {
            list.into_iter()
                .map(|s| {
                    check_url(&s.url, origin)?;
                    Ok(Service {
                        url: s.url.trim_end_matches('/').to_owned(),
                        major_api_version: s.major_api_version,
                        valid_from: s.valid_for.start,
                        valid_until: s.valid_for.end,
                        operator: s.operator,
                    })
                })
                .collect()
        };
        Ok(Self {
            origin: origin.to_owned(),
            ca_urls: services(raw.ca_urls)?,
            oidc_urls: services(raw.oidc_urls)?,
            rekor_tlog_urls: services(raw.rekor_tlog_urls)?,
            tsa_urls: services(raw.tsa_urls)?,
            rekor_selector: selector(raw.rekor_tlog_config, origin, "rekor")?,
            tsa_selector: selector(raw.tsa_config, origin, "tsa")?,
        })
    }

    /// Picks the services to sign with at `at`: one CA, the Rekor logs and TSAs the selectors ask
    /// for (among those whose API version we speak), and the OIDC provider if any.
    pub fn select(&self, at: DateTime<Utc>) -> Result<SelectedServices, SigningConfigError> {
        let ca = pick(&self.ca_urls, at, SUPPORTED_CA_VERSIONS)
            .into_iter()
            .next()
            .ok_or_else(|| self.no_service("ca (fulcio)", at, SUPPORTED_CA_VERSIONS))?;
        let rekor_valid = pick(&self.rekor_tlog_urls, at, SUPPORTED_REKOR_VERSIONS);
        let rekor = apply_selector(rekor_valid, self.rekor_selector);
        if rekor.is_empty() {
            return Err(self.no_service("rekor", at, SUPPORTED_REKOR_VERSIONS));
        }
        if let Selector::Exact(n) = self.rekor_selector
            && rekor.len() < n as usize
        {
            return Err(self.no_service("rekor", at, SUPPORTED_REKOR_VERSIONS));
        }
        // Timestamps are optional: Rekor v1 entries carry their own signed integrated time.
        let tsa = apply_selector(
            pick(&self.tsa_urls, at, SUPPORTED_TSA_VERSIONS),
            self.tsa_selector,
        );
        let oidc = pick(&self.oidc_urls, at, &[1]).into_iter().next();
        Ok(SelectedServices {
            ca,
            rekor,
            tsa,
            oidc,
        })
    }

    fn no_service(
        &self,
        service: &'static str,
        at: DateTime<Utc>,
        supported: &'static [u32],
    ) -> SigningConfigError {
        SigningConfigError::NoService {
            origin: self.origin.clone(),
            service,
            at,
            supported,
        }
    }
}

/// Services valid at `at` with a supported version, newest API version first, config order kept
/// otherwise (the spec lists preferred services first).
fn pick(list: &[Service], at: DateTime<Utc>, supported: &[u32]) -> Vec<Service> {
    let mut valid: Vec<Service> = list
        .iter()
        .filter(|s| s.valid_at(at) && supported.contains(&s.major_api_version))
        .cloned()
        .collect();
    valid.sort_by_key(|s| std::cmp::Reverse(s.major_api_version));
    valid
}

fn apply_selector(mut valid: Vec<Service>, selector: Selector) -> Vec<Service> {
    match selector {
        Selector::All => valid,
        Selector::Any => {
            valid.truncate(1);
            valid
        }
        Selector::Exact(n) => {
            valid.truncate(n as usize);
            valid
        }
    }
}

fn selector(
    raw: Option<RawServiceConfig>,
    origin: &str,
    service: &'static str,
) -> Result<Selector, SigningConfigError> {
    let Some(raw) = raw else {
        return Ok(Selector::Any);
    };
    match raw.selector.as_str() {
        "ALL" => Ok(Selector::All),
        "ANY" => Ok(Selector::Any),
        "EXACT" => match raw.count {
            Some(n) if n > 0 => Ok(Selector::Exact(n)),
            _ => Err(SigningConfigError::Selector {
                origin: origin.to_owned(),
                service,
                selector: "EXACT without a positive count".to_owned(),
            }),
        },
        other => Err(SigningConfigError::Selector {
            origin: origin.to_owned(),
            service,
            selector: other.to_owned(),
        }),
    }
}

/// Tokens and signatures travel to these URLs, so plain http is allowed only on loopback.
fn check_url(url: &str, origin: &str) -> Result<(), SigningConfigError> {
    let ok = crate::http::https_or_loopback(url);
    if ok {
        Ok(())
    } else {
        Err(SigningConfigError::BadUrl {
            origin: origin.to_owned(),
            url: url.to_owned(),
        })
    }
}

/// Why a signing config's JSON was refused: by the strict reader (duplicate keys, depth,
/// size), or by its shape.
#[derive(Debug)]
#[non_exhaustive]
pub enum JsonProblem {
    Strict(crate::json::JsonError),
    Shape(serde_json::Error),
}

impl std::fmt::Display for JsonProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonProblem::Strict(e) => f.write_str(&crate::error_chain(e)),
            JsonProblem::Shape(e) => write!(f, "{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn production_selects_public_good_v1_services() -> Result<(), SigningConfigError> {
        let sel = SigningConfig::production()?.select(at("2026-01-01T00:00:00Z"))?;
        assert_eq!(sel.ca.url, "https://fulcio.sigstore.dev");
        assert_eq!(sel.rekor.len(), 1);
        assert_eq!(sel.rekor[0].url, "https://rekor.sigstore.dev");
        assert_eq!(
            sel.tsa[0].url,
            "https://timestamp.sigstore.dev/api/v1/timestamp"
        );
        assert_eq!(
            sel.oidc.map(|s| s.url).as_deref(),
            Some("https://oauth2.sigstore.dev/auth")
        );
        Ok(())
    }

    #[test]
    fn staging_prefers_its_current_rekor_v2_log() -> Result<(), SigningConfigError> {
        let sel = SigningConfig::staging()?.select(at("2026-01-01T00:00:00Z"))?;
        assert_eq!(sel.ca.url, "https://fulcio.sigstage.dev");
        assert_eq!(sel.rekor.len(), 1);
        // Newest API first; the alpha1/alpha2 logs are no longer valid then.
        assert_eq!(
            sel.rekor[0].url,
            "https://log2025-alpha3.rekor.sigstage.dev"
        );
        assert_eq!(sel.rekor[0].major_api_version, 2);
        assert_eq!(sel.tsa.len(), 1);
        Ok(())
    }

    #[test]
    fn services_outside_their_validity_window_are_not_selected() -> Result<(), SigningConfigError> {
        // The production TSA starts in July 2025: before that, no TSA, and no CA before 2022.
        let cfg = SigningConfig::production()?;
        assert!(cfg.select(at("2025-01-01T00:00:00Z"))?.tsa.is_empty());
        let err = cfg.select(at("2020-01-01T00:00:00Z"));
        assert!(matches!(
            err,
            Err(SigningConfigError::NoService {
                service: "ca (fulcio)",
                ..
            })
        ));
        Ok(())
    }

    #[test]
    fn rejects_other_media_types_and_plain_http() {
        let other = br#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.1+json"}"#;
        assert!(matches!(
            SigningConfig::from_json(other, "t"),
            Err(SigningConfigError::MediaType { .. })
        ));
        let http = br#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls":[{"url":"http://fulcio.example","majorApiVersion":1,"validFor":{"start":"2020-01-01T00:00:00Z"}}]}"#;
        assert!(matches!(
            SigningConfig::from_json(http, "t"),
            Err(SigningConfigError::BadUrl { .. })
        ));
    }

    #[test]
    fn loopback_http_and_client_trust_config_are_accepted() -> Result<(), SigningConfigError> {
        let ctc = br#"{"mediaType":"application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot":{},
            "signingConfig":{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json",
              "caUrls":[{"url":"http://127.0.0.1:8080/","majorApiVersion":1,"validFor":{"start":"2020-01-01T00:00:00Z"}}],
              "rekorTlogUrls":[{"url":"http://127.0.0.1:8080","majorApiVersion":1,"validFor":{"start":"2020-01-01T00:00:00Z"}}],
              "rekorTlogConfig":{"selector":"EXACT","count":1}}}"#;
        let sel = SigningConfig::from_json(ctc, "t")?.select(at("2026-01-01T00:00:00Z"))?;
        assert_eq!(sel.ca.url, "http://127.0.0.1:8080");
        assert!(sel.tsa.is_empty());
        assert!(sel.oidc.is_none());
        Ok(())
    }

    #[test]
    fn exact_selector_needs_enough_logs() -> Result<(), SigningConfigError> {
        let cfg = br#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json",
              "caUrls":[{"url":"https://ca.example","majorApiVersion":1,"validFor":{"start":"2020-01-01T00:00:00Z"}}],
              "rekorTlogUrls":[{"url":"https://log.example","majorApiVersion":1,"validFor":{"start":"2020-01-01T00:00:00Z"}}],
              "rekorTlogConfig":{"selector":"EXACT","count":2}}"#;
        let err = SigningConfig::from_json(cfg, "t")?.select(at("2026-01-01T00:00:00Z"));
        assert!(matches!(
            err,
            Err(SigningConfigError::NoService {
                service: "rekor",
                ..
            })
        ));
        Ok(())
    }
}
