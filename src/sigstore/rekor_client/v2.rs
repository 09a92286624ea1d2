//! Rekor v2 (`POST /api/v2/log/entries`): kinds `hashedrekord` and `dsse` 0.0.2, answered with a
//! bundle-ready `TransparencyLogEntry`, whose body is compared with what we proposed.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use super::{AnswerProblem, Mismatch, RekorError, post_entry};
use crate::http::{Redirects, agent};
use crate::sigstore::bundle::TransparencyLogEntry;
use crate::sigstore::dsse::Envelope;

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

    fn v2_entry(kind: &str, body: &serde_json::Value) -> TransparencyLogEntry {
        use crate::sigstore::bundle::{KindVersion, LogId};
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
