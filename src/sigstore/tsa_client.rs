//! Client for a timestamp authority speaking the Sigstore TSA's JSON request form
//! (`POST <url>` with `{"artifactHash", "hashAlgorithm", "certificates", "nonce"}`), answered with
//! a DER `TimeStampResp`. Whether the token covers the signature and chains to a trusted
//! authority is the verifier's job (`tsa`); here the answer must only grant a token.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use super::rfc3161::{ResponseProblem, TimeStampResp};
use crate::http::{Redirects, agent};
use crate::text::excerpt;

/// Bound on a timestamp authority's answer (a response with its chain is a few KiB).
const MAX_RESPONSE: u64 = 1 << 20;

/// Why a timestamp could not be obtained.
#[derive(Debug, thiserror::Error)]
#[error("timestamp from {url}: {problem}")]
pub struct TsaError {
    pub url: String,
    pub problem: TsaProblem,
}

/// What went wrong asking a timestamp authority.
#[derive(Debug)]
#[non_exhaustive]
pub enum TsaProblem {
    NoRandomness(getrandom::Error),
    Send(ureq::Error),
    Read(ureq::Error),
    Status {
        status: u16,
        body: String,
    },
    /// The answer is not a granted RFC 3161 response.
    Response(ResponseProblem),
}

impl std::fmt::Display for TsaProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TsaProblem::NoRandomness(e) => write!(f, "no randomness: {e}"),
            TsaProblem::Send(e) => write!(f, "{e}"),
            TsaProblem::Read(e) => write!(f, "reading the answer: {e}"),
            TsaProblem::Status { status, body } => write!(f, "http {status}: {body}"),
            TsaProblem::Response(e) => write!(f, "{e}"),
        }
    }
}

/// One timestamp authority.
pub struct TsaClient {
    url: String,
    agent: ureq::Agent,
}

impl TsaClient {
    pub fn new(url: &str, timeout: Duration) -> Self {
        Self {
            url: url.to_owned(),
            agent: agent(timeout, Redirects::Refuse),
        }
    }

    /// A `TimeStampResp` (DER) over SHA-256 of `signature`, the form bundles carry.
    pub fn timestamp(&self, signature: &[u8]) -> Result<Vec<u8>, TsaError> {
        let fail = |problem: TsaProblem| TsaError {
            url: self.url.clone(),
            problem,
        };
        let mut nonce = [0u8; 4];
        getrandom::fill(&mut nonce).map_err(|e| fail(TsaProblem::NoRandomness(e)))?;
        // 31 bits keep the nonce a positive number for every JSON reader.
        let nonce = u32::from_be_bytes(nonce) >> 1;
        let body = serde_json::json!({
            "artifactHash": STANDARD.encode(Sha256::digest(signature)),
            "hashAlgorithm": "sha256",
            "certificates": true,
            "nonce": nonce,
        });
        let mut resp = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/timestamp-reply")
            .send_json(&body)
            .map_err(|e| fail(TsaProblem::Send(e)))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .map_err(|e| fail(TsaProblem::Read(e)))?;
        if !(200..300).contains(&status) {
            return Err(fail(TsaProblem::Status {
                status,
                body: excerpt(&String::from_utf8_lossy(&bytes)),
            }));
        }
        check_granted(&bytes).map_err(|e| fail(TsaProblem::Response(e)))?;
        Ok(bytes)
    }
}

/// Checks that a DER `TimeStampResp` grants a token.
fn check_granted(resp: &[u8]) -> Result<(), ResponseProblem> {
    TimeStampResp::from_der_bytes(resp)?.into_granted_token()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_responses_without_a_granted_token_are_refused() {
        // SEQUENCE { SEQUENCE { INTEGER 2 (rejection) } }
        assert!(check_granted(&[0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02]).is_err());
        // SEQUENCE { SEQUENCE { INTEGER 0 (granted) } } but no token
        assert!(check_granted(&[0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        // granted, with something that is not a ContentInfo
        assert!(check_granted(&[0x30, 0x07, 0x30, 0x03, 0x02, 0x01, 0x00, 0x30, 0x00]).is_err());
        assert!(check_granted(b"not der").is_err());
    }
}
