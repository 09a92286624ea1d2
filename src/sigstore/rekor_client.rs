//! Rekor clients. v1 (`POST /api/v1/log/entries`): logs a DSSE envelope (kind `dsse` 0.0.1) or
//! a message signature (kind `hashedrekord` 0.0.1) and returns the entry with its signed entry
//! timestamp and inclusion proof. v2 (`POST /api/v2/log/entries`): kind `hashedrekord` 0.0.2 (for
//! a DSSE envelope, over sha256 of its PAE) or `dsse` 0.0.2, answered with a bundle-ready
//! `TransparencyLogEntry` (inclusion proof and checkpoint, no time of its own). Before returning,
//! it checks that the body the log stored is the one we proposed (same hashes, signature and
//! certificate), so a log answering for something else is refused here rather than later by a
//! verifier.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::bundle::TransparencyLogEntry;
use super::dsse::Envelope;
use crate::http::{Redirects, agent, post_json};
use crate::text::excerpt;

/// Why an entry could not be logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RekorError {
    #[error("request to {url} failed: {problem}")]
    Http {
        url: String,
        problem: crate::http::PostError,
    },
    #[error("{url} answered http {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("unexpected answer from {url}: {problem}")]
    Answer { url: String, problem: AnswerProblem },
    #[error("entry logged by {url} does not match what we proposed: {what}")]
    Mismatch { url: String, what: Mismatch },
}

/// What was wrong with a log's answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnswerProblem {
    NotAnEntryMap(serde_json::Error),
    EntryCount(usize),
    NoEntry,
    MalformedEntry(serde_json::Error),
    BodyNotBase64(base64::DecodeError),
    BodyNotJson(serde_json::Error),
    NoKind(serde_json::Error),
    LogIdNotHex(hex::FromHexError),
    NoVerification,
    NoSignedEntryTimestamp,
    SignedEntryTimestampNotBase64(base64::DecodeError),
    RootHashNotHex(hex::FromHexError),
    ProofHashNotHex(hex::FromHexError),
    NotATransparencyLogEntry(serde_json::Error),
    NoInclusionProof,
}

impl std::fmt::Display for AnswerProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAnEntryMap(e) => write!(f, "not a log entry map: {e}"),
            Self::EntryCount(n) => write!(f, "expected one entry, got {n}"),
            Self::NoEntry => f.write_str("no entry"),
            Self::MalformedEntry(e) => write!(f, "malformed entry: {e}"),
            Self::BodyNotBase64(e) => write!(f, "entry body is not base64: {e}"),
            Self::BodyNotJson(e) => write!(f, "entry body is not json: {e}"),
            Self::NoKind(e) => write!(f, "entry body has no kind/apiVersion: {e}"),
            Self::LogIdNotHex(e) => write!(f, "logID is not hex: {e}"),
            Self::NoVerification => {
                f.write_str("entry has no verification (signed entry timestamp)")
            }
            Self::NoSignedEntryTimestamp => f.write_str("entry has no signed entry timestamp"),
            Self::SignedEntryTimestampNotBase64(e) => {
                write!(f, "signed entry timestamp is not base64: {e}")
            }
            Self::RootHashNotHex(e) => write!(f, "rootHash is not hex: {e}"),
            Self::ProofHashNotHex(e) => write!(f, "proof hash is not hex: {e}"),
            Self::NotATransparencyLogEntry(e) => write!(f, "not a TransparencyLogEntry: {e}"),
            Self::NoInclusionProof => f.write_str("entry has no inclusion proof"),
        }
    }
}

/// How a logged entry differs from the one we proposed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Mismatch {
    /// Our own envelope was not JSON, or would not serialize (so nothing could be compared).
    EnvelopeNotJson(serde_json::Error),
    EnvelopeNotSerializable(serde_json::Error),
    Kind {
        found: String,
        found_version: Option<String>,
        expected: &'static str,
        expected_version: Option<&'static str>,
    },
    HashedRekord,
    PayloadHash,
    Digest,
    SignatureCount {
        logged: usize,
        ours: usize,
    },
    Signature,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EnvelopeNotJson(e) => write!(f, "our envelope is not json: {e}"),
            Self::EnvelopeNotSerializable(e) => write!(f, "our envelope does not serialize: {e}"),
            Self::Kind {
                found,
                found_version: Some(fv),
                expected,
                expected_version: Some(ev),
            } => write!(f, "kind {found} {fv}, expected {expected} {ev}"),
            Self::Kind {
                found, expected, ..
            } => write!(f, "kind `{found}`, expected `{expected}`"),
            Self::HashedRekord => {
                f.write_str("hashedrekord digest, signature or certificate differ")
            }
            Self::PayloadHash => f.write_str("payload hash differs"),
            Self::Digest => f.write_str("digest differs"),
            Self::SignatureCount { .. } => f.write_str("number of signatures differs"),
            Self::Signature => f.write_str("signature or verifier differs"),
        }
    }
}

/// A logged entry, as Rekor v1 returns it (decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekorEntry {
    /// The 80-hex (or 64-hex) entry UUID.
    pub uuid: String,
    pub log_index: i64,
    /// SHA-256 of the log's public key.
    pub log_id: Vec<u8>,
    pub kind: String,
    pub api_version: String,
    pub integrated_time: i64,
    /// The canonicalized entry body the log committed to.
    pub body: Vec<u8>,
    pub signed_entry_timestamp: Vec<u8>,
    pub inclusion_proof: Option<RekorInclusionProof>,
}

/// A Merkle inclusion proof and the checkpoint over its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekorInclusionProof {
    pub log_index: i64,
    pub tree_size: i64,
    pub root_hash: Vec<u8>,
    pub hashes: Vec<Vec<u8>>,
    pub checkpoint: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    body: String,
    integrated_time: i64,
    #[serde(rename = "logID")]
    log_id: String,
    log_index: i64,
    verification: Option<RawVerification>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawVerification {
    signed_entry_timestamp: Option<String>,
    inclusion_proof: Option<RawProof>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProof {
    log_index: i64,
    tree_size: i64,
    root_hash: String,
    #[serde(default)]
    hashes: Vec<String>,
    #[serde(default)]
    checkpoint: String,
}

/// A Rekor v1 instance.
pub struct RekorClient {
    base_url: String,
    agent: ureq::Agent,
}

impl RekorClient {
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            agent: agent(timeout, Redirects::Refuse),
        }
    }

    pub fn entries_url(&self) -> String {
        format!("{}/api/v1/log/entries", self.base_url)
    }

    /// Logs a signed DSSE envelope. `envelope_json` is the envelope exactly as the bundle will
    /// carry it; `cert_pem` the signing certificate.
    pub fn log_dsse(&self, envelope_json: &str, cert_pem: &str) -> Result<RekorEntry, RekorError> {
        let proposed = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": { "proposedContent": {
                "envelope": envelope_json,
                "verifiers": [STANDARD.encode(cert_pem.as_bytes())],
            }}
        });
        let entry = self.create(&proposed)?;
        let url = self.entries_url();
        let envelope: serde_json::Value =
            serde_json::from_str(envelope_json).map_err(|e| RekorError::Mismatch {
                url: url.clone(),
                what: Mismatch::EnvelopeNotJson(e),
            })?;
        let payload = envelope
            .get("payload")
            .and_then(|p| p.as_str())
            .and_then(|p| STANDARD.decode(p).ok())
            .unwrap_or_default();
        let expect_payload_hash = hex::encode(Sha256::digest(&payload));
        let sigs: Vec<&str> = envelope
            .get("signatures")
            .and_then(|s| s.as_array())
            .map(|a| a.iter().filter_map(|s| s.get("sig")?.as_str()).collect())
            .unwrap_or_default();
        check_dsse_body(&url, &entry, &expect_payload_hash, &sigs, cert_pem)?;
        Ok(entry)
    }

    /// Logs a signature over an artifact's SHA-256 digest (hashedrekord).
    pub fn log_hashedrekord(
        &self,
        sha256_digest: &[u8],
        signature: &[u8],
        cert_pem: &str,
    ) -> Result<RekorEntry, RekorError> {
        let proposed = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": { "hash": { "algorithm": "sha256", "value": hex::encode(sha256_digest) } },
                "signature": {
                    "content": STANDARD.encode(signature),
                    "publicKey": { "content": STANDARD.encode(cert_pem.as_bytes()) },
                },
            }
        });
        let entry = self.create(&proposed)?;
        check_hashedrekord_body(
            &self.entries_url(),
            &entry,
            sha256_digest,
            signature,
            cert_pem,
        )?;
        Ok(entry)
    }

    fn create(&self, proposed: &serde_json::Value) -> Result<RekorEntry, RekorError> {
        let url = self.entries_url();
        let body = post_entry(&self.agent, &url, proposed)?;
        parse_answer(&url, &body)
    }
}

fn body_json(url: &str, entry: &RekorEntry) -> Result<serde_json::Value, RekorError> {
    serde_json::from_slice(&entry.body).map_err(|e| RekorError::Answer {
        url: url.to_owned(),
        problem: AnswerProblem::BodyNotJson(e),
    })
}

/// Whether a PEM certificate the log stored is ours. Compared as DER, since a log re-encodes the
/// PEM it was given (line length, line endings).
fn same_certificate(logged_pem: &[u8], ours_pem: &str) -> bool {
    let decode = |pem: &[u8]| {
        std::str::from_utf8(pem)
            .ok()
            .and_then(|p| super::fulcio::certificate_pem_to_der(p).ok())
    };
    match (decode(logged_pem), decode(ours_pem.as_bytes())) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn check_hashedrekord_body(
    url: &str,
    entry: &RekorEntry,
    sha256_digest: &[u8],
    signature: &[u8],
    cert_pem: &str,
) -> Result<(), RekorError> {
    let body = body_json(url, entry)?;
    let spec = &body["spec"];
    let same = spec["data"]["hash"]["algorithm"].as_str() == Some("sha256")
        && spec["data"]["hash"]["value"].as_str() == Some(&hex::encode(sha256_digest))
        && spec["signature"]["content"].as_str() == Some(&STANDARD.encode(signature))
        && spec["signature"]["publicKey"]["content"]
            .as_str()
            .and_then(|c| STANDARD.decode(c).ok())
            .is_some_and(|c| same_certificate(&c, cert_pem));
    if entry.kind != "hashedrekord" || !same {
        return Err(RekorError::Mismatch {
            url: url.to_owned(),
            what: Mismatch::HashedRekord,
        });
    }
    Ok(())
}

fn check_dsse_body(
    url: &str,
    entry: &RekorEntry,
    payload_hash_hex: &str,
    sigs: &[&str],
    cert_pem: &str,
) -> Result<(), RekorError> {
    let mismatch = |what: Mismatch| RekorError::Mismatch {
        url: url.to_owned(),
        what,
    };
    if entry.kind != "dsse" {
        return Err(mismatch(Mismatch::Kind {
            found: entry.kind.clone(),
            found_version: None,
            expected: "dsse",
            expected_version: None,
        }));
    }
    let body = body_json(url, entry)?;
    let spec = &body["spec"];
    if spec["payloadHash"]["algorithm"].as_str() != Some("sha256")
        || spec["payloadHash"]["value"].as_str() != Some(payload_hash_hex)
    {
        return Err(mismatch(Mismatch::PayloadHash));
    }
    let logged = spec["signatures"].as_array().cloned().unwrap_or_default();
    if logged.len() != sigs.len() {
        return Err(mismatch(Mismatch::SignatureCount {
            logged: logged.len(),
            ours: sigs.len(),
        }));
    }
    for item in &logged {
        let sig_ok = item["signature"]
            .as_str()
            .is_some_and(|s| sigs.contains(&s));
        let key_ok = item["verifier"]
            .as_str()
            .and_then(|v| STANDARD.decode(v).ok())
            .is_some_and(|v| same_certificate(&v, cert_pem));
        if !sig_ok || !key_ok {
            return Err(mismatch(Mismatch::Signature));
        }
    }
    Ok(())
}

fn parse_answer(url: &str, body: &str) -> Result<RekorEntry, RekorError> {
    let bad = |problem: AnswerProblem| RekorError::Answer {
        url: url.to_owned(),
        problem,
    };
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(body).map_err(|e| bad(AnswerProblem::NotAnEntryMap(e)))?;
    if map.len() != 1 {
        return Err(bad(AnswerProblem::EntryCount(map.len())));
    }
    let Some((uuid, value)) = map.into_iter().next() else {
        return Err(bad(AnswerProblem::NoEntry));
    };
    let raw: RawEntry =
        serde_json::from_value(value).map_err(|e| bad(AnswerProblem::MalformedEntry(e)))?;
    let body = STANDARD
        .decode(&raw.body)
        .map_err(|e| bad(AnswerProblem::BodyNotBase64(e)))?;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct KindOnly {
        kind: String,
        api_version: String,
    }
    let kind: KindOnly =
        serde_json::from_slice(&body).map_err(|e| bad(AnswerProblem::NoKind(e)))?;
    let log_id = hex::decode(&raw.log_id).map_err(|e| bad(AnswerProblem::LogIdNotHex(e)))?;
    let verification = raw
        .verification
        .ok_or_else(|| bad(AnswerProblem::NoVerification))?;
    let set = verification
        .signed_entry_timestamp
        .ok_or_else(|| bad(AnswerProblem::NoSignedEntryTimestamp))?;
    let signed_entry_timestamp = STANDARD
        .decode(set)
        .map_err(|e| bad(AnswerProblem::SignedEntryTimestampNotBase64(e)))?;
    let inclusion_proof = verification
        .inclusion_proof
        .map(|p| -> Result<RekorInclusionProof, RekorError> {
            Ok(RekorInclusionProof {
                log_index: p.log_index,
                tree_size: p.tree_size,
                root_hash: hex::decode(&p.root_hash)
                    .map_err(|e| bad(AnswerProblem::RootHashNotHex(e)))?,
                hashes: p
                    .hashes
                    .iter()
                    .map(|h| hex::decode(h).map_err(|e| bad(AnswerProblem::ProofHashNotHex(e))))
                    .collect::<Result<_, _>>()?,
                checkpoint: p.checkpoint,
            })
        })
        .transpose()?;
    Ok(RekorEntry {
        uuid,
        log_index: raw.log_index,
        log_id,
        kind: kind.kind,
        api_version: kind.api_version,
        integrated_time: raw.integrated_time,
        body,
        signed_entry_timestamp,
        inclusion_proof,
    })
}

/// Proposes an entry to a log (v1 or v2 API) and returns the answer's body; any status other
/// than 2xx is an error quoting the body's start.
fn post_entry(
    agent: &ureq::Agent,
    url: &str,
    body: &serde_json::Value,
) -> Result<String, RekorError> {
    let reply = post_json(agent, url, None, body).map_err(|problem| RekorError::Http {
        url: url.to_owned(),
        problem,
    })?;
    if !(200..300).contains(&reply.status) {
        return Err(RekorError::Status {
            url: url.to_owned(),
            status: reply.status,
            body: excerpt(&reply.body),
        });
    }
    Ok(reply.body)
}

/// A Rekor v2 instance.
pub struct RekorV2Client {
    base_url: String,
    agent: ureq::Agent,
}

/// The `verifier` of a v2 request or entry: our leaf certificate, ECDSA P-256 with SHA-256.
fn v2_verifier(cert_der: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "x509Certificate": { "rawBytes": STANDARD.encode(cert_der) },
        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
    })
}

impl RekorV2Client {
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            agent: agent(timeout, Redirects::Refuse),
        }
    }

    pub fn entries_url(&self) -> String {
        format!("{}/api/v2/log/entries", self.base_url)
    }

    /// Logs a DSSE envelope signed by `cert_der`'s key as kind `dsse` 0.0.2. Our signer no longer
    /// writes these (it logs a `hashedrekord` over the PAE, as the other Sigstore clients do);
    /// kept so tests can obtain genuine `dsse` 0.0.2 entries, which verifiers still accept.
    pub fn log_dsse(
        &self,
        envelope: &Envelope,
        cert_der: &[u8],
    ) -> Result<TransparencyLogEntry, RekorError> {
        let url = self.entries_url();
        let env = serde_json::to_value(envelope).map_err(|e| RekorError::Mismatch {
            url: url.clone(),
            what: Mismatch::EnvelopeNotSerializable(e),
        })?;
        let request = serde_json::json!({ "dsseRequestV002": {
            "envelope": env,
            "verifiers": [v2_verifier(cert_der)],
        }});
        let entry = self.create(&request)?;
        let sigs: Vec<&[u8]> = envelope
            .signatures
            .iter()
            .map(|s| s.sig.as_slice())
            .collect();
        check_v2_body(
            &url,
            &entry,
            "dsse",
            &Sha256::digest(&envelope.payload),
            &sigs,
            cert_der,
        )?;
        Ok(entry)
    }

    /// Logs a signature over a SHA-256 digest (kind `hashedrekord` 0.0.2).
    pub fn log_hashedrekord(
        &self,
        sha256_digest: &[u8],
        signature: &[u8],
        cert_der: &[u8],
    ) -> Result<TransparencyLogEntry, RekorError> {
        let request = serde_json::json!({ "hashedRekordRequestV002": {
            "digest": STANDARD.encode(sha256_digest),
            "signature": { "content": STANDARD.encode(signature), "verifier": v2_verifier(cert_der) },
        }});
        let entry = self.create(&request)?;
        check_v2_body(
            &self.entries_url(),
            &entry,
            "hashedrekord",
            sha256_digest,
            &[signature],
            cert_der,
        )?;
        Ok(entry)
    }

    fn create(&self, request: &serde_json::Value) -> Result<TransparencyLogEntry, RekorError> {
        let url = self.entries_url();
        let body = post_entry(&self.agent, &url, request)?;
        let entry: TransparencyLogEntry =
            serde_json::from_str(&body).map_err(|e| RekorError::Answer {
                url: url.clone(),
                problem: AnswerProblem::NotATransparencyLogEntry(e),
            })?;
        if entry.inclusion_proof.is_none() {
            return Err(RekorError::Answer {
                url,
                problem: AnswerProblem::NoInclusionProof,
            });
        }
        Ok(entry)
    }
}

/// Checks a v2 entry's body names our digest (payload hash or artifact digest), our signatures
/// and our certificate.
fn check_v2_body(
    url: &str,
    entry: &TransparencyLogEntry,
    kind: &'static str,
    digest: &[u8],
    sigs: &[&[u8]],
    cert_der: &[u8],
) -> Result<(), RekorError> {
    let mismatch = |what: Mismatch| RekorError::Mismatch {
        url: url.to_owned(),
        what,
    };
    if entry.kind_version.kind != kind || entry.kind_version.version != "0.0.2" {
        return Err(mismatch(Mismatch::Kind {
            found: entry.kind_version.kind.clone(),
            found_version: Some(entry.kind_version.version.clone()),
            expected: kind,
            expected_version: Some("0.0.2"),
        }));
    }
    let body: serde_json::Value =
        serde_json::from_slice(&entry.canonicalized_body).map_err(|e| RekorError::Answer {
            url: url.to_owned(),
            problem: AnswerProblem::BodyNotJson(e),
        })?;
    let b64_is = |v: &serde_json::Value, want: &[u8]| {
        v.as_str()
            .and_then(|s| STANDARD.decode(s).ok())
            .is_some_and(|d| d == want)
    };
    let (hash, logged_sigs) = if kind == "dsse" {
        let spec = &body["spec"]["dsseV002"];
        (
            &spec["payloadHash"],
            spec["signatures"].as_array().cloned().unwrap_or_default(),
        )
    } else {
        let spec = &body["spec"]["hashedRekordV002"];
        (&spec["data"], vec![spec["signature"].clone()])
    };
    if hash["algorithm"].as_str() != Some("SHA2_256") || !b64_is(&hash["digest"], digest) {
        return Err(mismatch(Mismatch::Digest));
    }
    if logged_sigs.len() != sigs.len() {
        return Err(mismatch(Mismatch::SignatureCount {
            logged: logged_sigs.len(),
            ours: sigs.len(),
        }));
    }
    for item in &logged_sigs {
        let sig_ok = sigs.iter().any(|s| b64_is(&item["content"], s));
        let cert_ok = b64_is(&item["verifier"]["x509Certificate"]["rawBytes"], cert_der);
        if !sig_ok || !cert_ok {
            return Err(mismatch(Mismatch::Signature));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nAQIDBA==\n-----END CERTIFICATE-----\n";
    /// The same DER in another PEM layout (CRLF, no final newline): still our certificate.
    const CERT_CRLF: &str =
        "-----BEGIN CERTIFICATE-----\r\nAQID\r\nBA==\r\n-----END CERTIFICATE-----";
    const OTHER: &str = "-----BEGIN CERTIFICATE-----\nBQYHCA==\n-----END CERTIFICATE-----\n";

    fn answer(body: &serde_json::Value) -> String {
        serde_json::json!({ "24296fb24b8ad77a": {
            "body": STANDARD.encode(body.to_string()),
            "integratedTime": 1_700_000_000,
            "logID": "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
            "logIndex": 7,
            "verification": {
                "signedEntryTimestamp": "MEUCIQ==",
                "inclusionProof": {"logIndex": 3, "treeSize": 4, "rootHash": "00ff", "hashes": ["aa", "bb"], "checkpoint": "c\n"}
            }
        }})
        .to_string()
    }

    fn dsse_body(payload_hash: &str, sig: &str, cert: &str) -> serde_json::Value {
        serde_json::json!({"apiVersion":"0.0.1","kind":"dsse","spec":{
            "envelopeHash":{"algorithm":"sha256","value":"00"},
            "payloadHash":{"algorithm":"sha256","value":payload_hash},
            "signatures":[{"signature":sig,"verifier":STANDARD.encode(cert)}]}})
    }

    #[test]
    fn parses_a_rekor_v1_answer() -> Result<(), RekorError> {
        let e = parse_answer("u", &answer(&dsse_body("ab", "c2ln", CERT)))?;
        assert_eq!(e.log_index, 7);
        assert_eq!(e.kind, "dsse");
        assert_eq!(e.api_version, "0.0.1");
        let p = e
            .inclusion_proof
            .as_ref()
            .map(|p| (p.log_index, p.hashes.len()));
        assert_eq!(p, Some((3, 2)));
        check_dsse_body("u", &e, "ab", &["c2ln"], CERT_CRLF)?;
        Ok(())
    }

    #[test]
    fn refuses_a_logged_body_that_is_not_ours() -> Result<(), RekorError> {
        let e = parse_answer("u", &answer(&dsse_body("ab", "c2ln", CERT)))?;
        for (hash, sig, cert) in [
            ("cd", "c2ln", CERT),
            ("ab", "b3RoZXI=", CERT),
            ("ab", "c2ln", OTHER),
        ] {
            assert!(matches!(
                check_dsse_body("u", &e, hash, &[sig], cert),
                Err(RekorError::Mismatch { .. })
            ));
        }
        Ok(())
    }

    #[test]
    fn refuses_a_hashedrekord_entry_that_is_not_ours() -> Result<(), RekorError> {
        let body = serde_json::json!({"apiVersion":"0.0.1","kind":"hashedrekord","spec":{
            "data":{"hash":{"algorithm":"sha256","value":"abcd"}},
            "signature":{"content":"c2ln","publicKey":{"content":STANDARD.encode(CERT)}}}});
        let e = parse_answer("u", &answer(&body))?;
        check_hashedrekord_body("u", &e, &[0xab, 0xcd], b"sig", CERT_CRLF)?;
        for (digest, sig, cert) in [
            (&[0xab, 0xce][..], &b"sig"[..], CERT),
            (&[0xab, 0xcd][..], &b"other"[..], CERT),
            (&[0xab, 0xcd][..], &b"sig"[..], OTHER),
        ] {
            assert!(matches!(
                check_hashedrekord_body("u", &e, digest, sig, cert),
                Err(RekorError::Mismatch { .. })
            ));
        }
        Ok(())
    }

    #[test]
    fn refuses_answers_without_set_or_with_several_entries() {
        let no_set = r#"{"x":{"body":"e30=","integratedTime":1,"logID":"00","logIndex":1}}"#;
        assert!(matches!(
            parse_answer("u", no_set),
            Err(RekorError::Answer { .. })
        ));
        let two = r#"{"x":{},"y":{}}"#;
        assert!(matches!(
            parse_answer("u", two),
            Err(RekorError::Answer { .. })
        ));
    }

    fn v2_entry(kind: &str, body: &serde_json::Value) -> TransparencyLogEntry {
        use super::super::bundle::{KindVersion, LogId};
        TransparencyLogEntry {
            log_index: 1,
            log_id: LogId {
                key_id: vec![0; 32],
            },
            kind_version: KindVersion {
                kind: kind.to_owned(),
                version: "0.0.2".to_owned(),
            },
            integrated_time: 0,
            inclusion_promise: None,
            inclusion_proof: None,
            canonicalized_body: body.to_string().into_bytes(),
        }
    }

    #[test]
    fn refuses_a_v2_entry_that_is_not_ours() -> Result<(), RekorError> {
        let verifier = v2_verifier(b"cert");
        let body = serde_json::json!({"apiVersion":"0.0.2","kind":"dsse","spec":{"dsseV002":{
            "payloadHash":{"algorithm":"SHA2_256","digest":STANDARD.encode([1u8, 2])},
            "signatures":[{"content":STANDARD.encode(b"sig"),"verifier":verifier}]}}});
        let e = v2_entry("dsse", &body);
        check_v2_body("u", &e, "dsse", &[1, 2], &[b"sig"], b"cert")?;
        for (digest, sig, cert) in [
            (&[1u8, 3][..], &b"sig"[..], &b"cert"[..]),
            (&[1u8, 2][..], &b"other"[..], &b"cert"[..]),
            (&[1u8, 2][..], &b"sig"[..], &b"other"[..]),
        ] {
            assert!(matches!(
                check_v2_body("u", &e, "dsse", digest, &[sig], cert),
                Err(RekorError::Mismatch { .. })
            ));
        }
        // The right body under another kind is not ours either.
        assert!(matches!(
            check_v2_body(
                "u",
                &v2_entry("hashedrekord", &body),
                "dsse",
                &[1, 2],
                &[b"sig"],
                b"cert"
            ),
            Err(RekorError::Mismatch { .. })
        ));
        let hashed = serde_json::json!({"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{
            "data":{"algorithm":"SHA2_256","digest":STANDARD.encode([9u8])},
            "signature":{"content":STANDARD.encode(b"sig"),"verifier":v2_verifier(b"cert")}}}});
        let e = v2_entry("hashedrekord", &hashed);
        check_v2_body("u", &e, "hashedrekord", &[9], &[b"sig"], b"cert")?;
        assert!(check_v2_body("u", &e, "hashedrekord", &[8], &[b"sig"], b"cert").is_err());
        Ok(())
    }
}
