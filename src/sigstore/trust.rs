//! Trusted roots (protobuf-specs `dev.sigstore.trustroot.v1.TrustedRoot`): which Fulcio CAs,
//! Rekor logs, CT logs and timestamp authorities are trusted, and when. The production and
//! staging roots of the public Sigstore instances are embedded so verification works offline.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::crypto::Sha256;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::cert::{ParsedCert, verify_signed_by};
use super::error::{AuthorityChainProblem, SigstoreError, TrustEntry, TrustedRootProblem};
use super::keys::{KeyKind, PublicKey};
use super::serde_pb::b64;
use crate::fsutil::{ReadError, read_limited};

/// The largest trusted root, signing config or ClientTrustConfig file read from disk (the real
/// ones are tens of kilobytes); a larger file is refused before it is loaded.
pub const MAX_TRUST_FILE_BYTES: u64 = 16 << 20;

/// Media type of the trusted root format this module reads.
pub const TRUSTED_ROOT_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
/// The same format under its newer media type name.
pub const TRUSTED_ROOT_MEDIA_TYPE_V0_1_NEW: &str =
    "application/vnd.dev.sigstore.trustedroot.v0.1+json";

static PRODUCTION: &[u8] =
    include_bytes!("../../testdata/sigstore-trust/production.trusted_root.json");
static STAGING: &[u8] = include_bytes!("../../testdata/sigstore-trust/staging.trusted_root.json");

/// A closed interval of Unix seconds; `start` is required, `end` is inclusive when present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: i64,
    pub end: Option<i64>,
}

impl TimeRange {
    pub fn contains(&self, t: i64) -> bool {
        t >= self.start && self.end.is_none_or(|e| t <= e)
    }
}

/// A transparency log (Rekor or CT) and its key.
#[derive(Debug, Clone)]
pub struct LogInstance {
    pub base_url: String,
    /// Log id as the trusted root states it (Rekor v1: SHA-256 of the key's SPKI DER).
    pub log_id: Vec<u8>,
    /// `None` when the key type is not one this verifier supports (e.g. RSA CT logs): such a
    /// log can never verify anything, but it does not make the whole root unusable.
    pub key: Option<PublicKey>,
    pub key_details: String,
    pub valid_for: TimeRange,
}

/// A certificate authority (Fulcio) or timestamp authority: a chain, leaf-most first.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    pub uri: String,
    /// DER certificates, the issuing (intermediate) certificate first, the root last.
    pub cert_chain: Vec<Vec<u8>>,
    pub valid_for: TimeRange,
    /// The parsed chain, computed once: a trusted root's own certificates do not change
    /// between verifications, so only the leaf is checked each time.
    parsed: OnceLock<Result<Vec<ParsedCert>, AuthorityChainProblem>>,
    /// The chain's internal links verified, computed once and only for an authority that
    /// actually issued something being verified (a root lists several).
    linked: OnceLock<Result<(), AuthorityChainProblem>>,
}

impl CertificateAuthority {
    pub fn new(uri: String, cert_chain: Vec<Vec<u8>>, valid_for: TimeRange) -> Self {
        Self {
            uri,
            cert_chain,
            valid_for,
            parsed: OnceLock::new(),
            linked: OnceLock::new(),
        }
    }

    /// The chain parsed, first certificate first; its links not checked yet.
    pub(crate) fn parsed_chain(&self) -> Result<&[ParsedCert], AuthorityChainProblem> {
        self.parsed
            .get_or_init(|| {
                let chain = self
                    .cert_chain
                    .iter()
                    .map(|d| ParsedCert::from_der(d))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| AuthorityChainProblem::Unreadable {
                        authority: self.uri.clone(),
                        error: Arc::new(e),
                    })?;
                if chain.is_empty() {
                    return Err(AuthorityChainProblem::Empty {
                        authority: self.uri.clone(),
                    });
                }
                Ok(chain)
            })
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }

    /// The chain parsed, first certificate first, each signed by the next.
    pub(crate) fn checked_chain(&self) -> Result<&[ParsedCert], AuthorityChainProblem> {
        let chain = self.parsed_chain()?;
        self.linked
            .get_or_init(|| {
                for (i, pair) in chain.windows(2).enumerate() {
                    if is_known_link(&self.cert_chain[i], &self.cert_chain[i + 1]) {
                        continue;
                    }
                    verify_signed_by(&pair[0], &pair[1]).map_err(|e| {
                        AuthorityChainProblem::Broken {
                            authority: self.uri.clone(),
                            error: Arc::new(e),
                        }
                    })?;
                }
                Ok(())
            })
            .clone()?;
        Ok(chain)
    }
}

/// The internal links of the public-good instances' authority chains (the embedded production
/// and staging roots): each is the SHA-256 of a certificate's DER followed by its issuer's DER.
/// A chain link whose exact bytes are listed here is not verified again at run time: the test
/// `known_links_are_exactly_the_embedded_roots_verified_links` verifies every link of the
/// embedded roots with [`verify_signed_by`] and fails unless this list is exactly those, so the
/// list can only ever name links that verify. Every other link is verified, once per process.
/// (Saves one P-384 signature check, a quarter of a whole `verify-bundle` process.)
const KNOWN_LINKS: &[&str] = &[
    "1a945df7c681d2d5caf5bbf08212874674b6e9c63c3e9074b2fe5efcfe924bab",
    "a220e5040f76ead579ae545184bb0d2ce2cb0a6e1318bfa93f657395befa5e1f",
    "ab0cf070e217c96aae5642a3f58f23620e874c74745dd20d83aee416c197789f",
    "cf5f49145cc815a8dfe06f9eee5e464e15497852d92cd994192b983f234e3bf6",
];

fn link_digest(child_der: &[u8], issuer_der: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(child_der);
    h.update(issuer_der);
    h.finalize()
}

fn is_known_link(child_der: &[u8], issuer_der: &[u8]) -> bool {
    let d = hex::encode(link_digest(child_der, issuer_der));
    KNOWN_LINKS.contains(&d.as_str())
}

/// The trust anchors for verifying Sigstore bundles.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub tlogs: Vec<LogInstance>,
    pub ctlogs: Vec<LogInstance>,
    pub certificate_authorities: Vec<CertificateAuthority>,
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

impl TrustedRoot {
    /// The public-good (production) instance's root, as embedded at build time.
    pub fn production() -> Result<Self, SigstoreError> {
        Self::from_json(PRODUCTION)
    }

    /// The staging instance's root, as embedded at build time.
    pub fn staging() -> Result<Self, SigstoreError> {
        Self::from_json(STAGING)
    }

    /// Reads a trusted root JSON file of at most [`MAX_TRUST_FILE_BYTES`].
    pub fn from_file(path: &Path) -> Result<Self, SigstoreError> {
        let bytes = read_limited(path, MAX_TRUST_FILE_BYTES).map_err(|e| match e {
            ReadError::Io { path, source } => SigstoreError::Io { path, source },
            ReadError::TooLarge { path, limit } => {
                malformed(TrustedRootProblem::TooLarge { path, limit })
            }
        })?;
        Self::from_json(&bytes)
    }

    /// Parses a trusted root JSON document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, SigstoreError> {
        let raw: RawTrustedRoot = crate::json::from_slice(bytes)
            .map_err(|error| malformed(TrustedRootProblem::Json { error }))?;
        if raw.media_type != TRUSTED_ROOT_MEDIA_TYPE
            && raw.media_type != TRUSTED_ROOT_MEDIA_TYPE_V0_1_NEW
        {
            return Err(malformed(TrustedRootProblem::MediaType {
                media_type: raw.media_type,
            }));
        }
        Ok(Self {
            tlogs: raw
                .tlogs
                .into_iter()
                .map(LogInstance::try_from)
                .collect::<Result<_, _>>()?,
            ctlogs: raw
                .ctlogs
                .into_iter()
                .map(LogInstance::try_from)
                .collect::<Result<_, _>>()?,
            certificate_authorities: raw
                .certificate_authorities
                .into_iter()
                .map(CertificateAuthority::try_from)
                .collect::<Result<_, _>>()?,
            timestamp_authorities: raw
                .timestamp_authorities
                .into_iter()
                .map(CertificateAuthority::try_from)
                .collect::<Result<_, _>>()?,
        })
    }

    /// The Rekor logs whose id is `log_id`.
    pub fn tlogs_by_id<'a>(&'a self, log_id: &'a [u8]) -> impl Iterator<Item = &'a LogInstance> {
        self.tlogs.iter().filter(move |l| l.log_id == log_id)
    }

    /// The CT logs whose id is `log_id`.
    pub fn ctlogs_by_id<'a>(&'a self, log_id: &'a [u8]) -> impl Iterator<Item = &'a LogInstance> {
        self.ctlogs.iter().filter(move |l| l.log_id == log_id)
    }
}

fn malformed(problem: TrustedRootProblem) -> SigstoreError {
    SigstoreError::MalformedTrustedRoot { problem }
}

fn parse_time(s: &str, entry: &TrustEntry) -> Result<i64, SigstoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc).timestamp())
        .map_err(|error| {
            malformed(TrustedRootProblem::Time {
                entry: entry.clone(),
                value: s.to_owned(),
                error,
            })
        })
}

fn time_range(raw: Option<RawTimeRange>, entry: &TrustEntry) -> Result<TimeRange, SigstoreError> {
    let raw = raw.ok_or_else(|| {
        malformed(TrustedRootProblem::NoValidFor {
            entry: entry.clone(),
        })
    })?;
    // A missing start must not be read as "valid since forever".
    let start = raw.start.ok_or_else(|| {
        malformed(TrustedRootProblem::NoStart {
            entry: entry.clone(),
        })
    })?;
    let start = parse_time(&start, entry)?;
    let end = raw.end.map(|e| parse_time(&e, entry)).transpose()?;
    if let Some(end) = end
        && end < start
    {
        return Err(malformed(TrustedRootProblem::EndsBeforeStart {
            entry: entry.clone(),
            start,
            end,
        }));
    }
    Ok(TimeRange { start, end })
}

impl TryFrom<RawTlog> for LogInstance {
    type Error = SigstoreError;

    fn try_from(raw: RawTlog) -> Result<Self, Self::Error> {
        let entry = TrustEntry::Log {
            base_url: raw.base_url.clone(),
        };
        let valid_for = time_range(raw.public_key.valid_for, &entry)?;
        let key = match raw.public_key.key_details.as_str() {
            "PKIX_ED25519" | "PKIX_ECDSA_P256_SHA_256" | "PKIX_ECDSA_P384_SHA_384" => {
                let k = PublicKey::from_spki_der(&raw.public_key.raw_bytes)?;
                let matches = matches!(
                    (k.kind(), raw.public_key.key_details.as_str()),
                    (KeyKind::Ed25519, "PKIX_ED25519")
                        | (KeyKind::P256, "PKIX_ECDSA_P256_SHA_256")
                        | (KeyKind::P384, "PKIX_ECDSA_P384_SHA_384")
                );
                if !matches {
                    return Err(malformed(TrustedRootProblem::KeyDetailsMismatch {
                        entry,
                        key_details: raw.public_key.key_details,
                    }));
                }
                Some(k)
            }
            _ => None,
        };
        let log_id = match raw.log_id {
            Some(id) => id.key_id,
            None => Sha256::digest(&raw.public_key.raw_bytes).to_vec(),
        };
        Ok(Self {
            base_url: raw.base_url,
            log_id,
            key,
            key_details: raw.public_key.key_details,
            valid_for,
        })
    }
}

impl TryFrom<RawCa> for CertificateAuthority {
    type Error = SigstoreError;

    fn try_from(raw: RawCa) -> Result<Self, Self::Error> {
        let entry = TrustEntry::Authority {
            uri: raw.uri.clone(),
        };
        let valid_for = time_range(raw.valid_for, &entry)?;
        let cert_chain: Vec<Vec<u8>> = raw
            .cert_chain
            .certificates
            .into_iter()
            .map(|c| c.raw_bytes)
            .collect();
        if cert_chain.is_empty() {
            return Err(malformed(TrustedRootProblem::EmptyChain { entry }));
        }
        Ok(Self::new(raw.uri, cert_chain, valid_for))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTrustedRoot {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<RawTlog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
    #[serde(default)]
    ctlogs: Vec<RawTlog>,
    #[serde(default)]
    timestamp_authorities: Vec<RawCa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlog {
    #[serde(default)]
    base_url: String,
    public_key: RawPublicKey,
    #[serde(default)]
    log_id: Option<RawLogId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublicKey {
    #[serde(with = "b64", default)]
    raw_bytes: Vec<u8>,
    #[serde(default)]
    key_details: String,
    #[serde(default)]
    valid_for: Option<RawTimeRange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    #[serde(with = "b64")]
    key_id: Vec<u8>,
}

#[derive(Deserialize)]
struct RawTimeRange {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCa {
    #[serde(default)]
    uri: String,
    cert_chain: RawCertChain,
    #[serde(default)]
    valid_for: Option<RawTimeRange>,
}

#[derive(Deserialize)]
struct RawCertChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    #[serde(with = "b64")]
    raw_bytes: Vec<u8>,
}

#[cfg(test)]
mod tests {
    /// Every link of the embedded roots' authority chains, verified, as [`KNOWN_LINKS`] holds
    /// them; a broken link fails here.
    fn embedded_links_verified() -> Vec<String> {
        let mut out = Vec::new();
        for root in [
            super::TrustedRoot::production(),
            super::TrustedRoot::staging(),
        ] {
            let root = root.expect("embedded root");
            for ca in root
                .certificate_authorities
                .iter()
                .chain(&root.timestamp_authorities)
            {
                let chain = ca.parsed_chain().expect("embedded chain parses");
                for (i, pair) in chain.windows(2).enumerate() {
                    super::verify_signed_by(&pair[0], &pair[1])
                        .unwrap_or_else(|e| panic!("{}: link {i} does not verify: {e}", ca.uri));
                    out.push(hex::encode(super::link_digest(
                        &ca.cert_chain[i],
                        &ca.cert_chain[i + 1],
                    )));
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn known_links_are_exactly_the_embedded_roots_verified_links() {
        let verified = embedded_links_verified();
        let mut known: Vec<String> = super::KNOWN_LINKS.iter().map(|s| s.to_string()).collect();
        known.sort();
        assert_eq!(
            known, verified,
            "KNOWN_LINKS must list exactly the verified links of the embedded roots"
        );
    }

    #[test]
    fn an_unknown_link_is_verified_and_a_broken_one_refused() {
        // The production root's Fulcio chain with its intermediate's signature bit-flipped: not
        // a known link, so it is verified, and refused.
        let root = super::TrustedRoot::production().unwrap();
        let ca = root
            .certificate_authorities
            .iter()
            .find(|c| c.cert_chain.len() >= 2)
            .expect("a chain with an intermediate");
        let mut chain = ca.cert_chain.clone();
        let last = chain[0].len() - 1;
        chain[0][last] ^= 1;
        assert!(!super::is_known_link(&chain[0], &chain[1]));
        let forged = super::CertificateAuthority::new(ca.uri.clone(), chain, ca.valid_for);
        assert!(forged.parsed_chain().is_ok());
        assert!(matches!(
            forged.checked_chain(),
            Err(super::AuthorityChainProblem::Broken { .. })
        ));
        assert!(super::is_known_link(&ca.cert_chain[0], &ca.cert_chain[1]));
        assert!(ca.checked_chain().is_ok());
    }

    use super::*;

    #[test]
    fn embedded_roots_parse() -> Result<(), Box<dyn std::error::Error>> {
        let p = TrustedRoot::production()?;
        assert!(!p.tlogs.is_empty() && !p.certificate_authorities.is_empty());
        // Rekor v1 log ids are the SHA-256 of the key's SPKI DER.
        let v1 = p
            .tlogs
            .iter()
            .find(|l| l.key.as_ref().is_some_and(|k| k.kind() == KeyKind::P256));
        let v1 = v1.ok_or("no p256")?;
        assert_eq!(
            v1.key.as_ref().map(|k| k.key_id().to_vec()),
            Some(v1.log_id.clone())
        );
        TrustedRoot::staging()?;
        Ok(())
    }

    #[test]
    fn end_is_inclusive_and_start_required() {
        let r = TimeRange {
            start: 10,
            end: Some(20),
        };
        assert!(r.contains(10) && r.contains(20) && !r.contains(21) && !r.contains(9));
        let j = br#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1",
          "tlogs":[{"baseUrl":"x","publicKey":{"rawBytes":"","keyDetails":"X","validFor":{}}}]}"#;
        assert!(matches!(
            TrustedRoot::from_json(j),
            Err(SigstoreError::MalformedTrustedRoot { .. })
        ));
    }
}
