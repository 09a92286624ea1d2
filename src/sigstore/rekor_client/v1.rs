//! Rekor v1 (`POST /api/v1/log/entries`): kinds `dsse` and `hashedrekord` 0.0.1, the answer
//! (entry, signed entry timestamp, inclusion proof) decoded, and the logged body compared with
//! what we proposed.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::{AnswerProblem, Mismatch, RekorError, post_entry};
use crate::http::{Redirects, agent};

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
            .and_then(|p| crate::sigstore::fulcio::certificate_pem_to_der(p).ok())
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
}
