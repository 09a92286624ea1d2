//! Fulcio client (`POST /api/v2/signingCert`): trades an OIDC identity token plus a certificate
//! signing request (proof of possession of an ephemeral key) for a short-lived code-signing
//! certificate with an embedded SCT, and the PKCS#10 request for a P-256 key that proves it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::{Decode as _, Encode as _};
use serde::Deserialize;
use x509_cert::Certificate;

use crate::http::{Redirects, agent, post_json};
use crate::text::excerpt;

/// Why a certificate could not be obtained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FulcioError {
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
    #[error("certificate from {url} certifies a different public key than the one we sent")]
    KeyMismatch { url: String },
}

/// What was wrong with Fulcio's answer (or with our request before it was sent).
#[derive(Debug)]
#[non_exhaustive]
pub enum AnswerProblem {
    EncodeRequest(der::pem::Error),
    NotAnAnswer(serde_json::Error),
    DetachedSct,
    NoCertificate,
    Pem(PemProblem),
    EmptyChain,
    LeafNotDer(der::Error),
    LeafPublicKey(der::Error),
}

impl std::fmt::Display for AnswerProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EncodeRequest(e) => write!(f, "cannot encode our certificate request: {e}"),
            Self::NotAnAnswer(e) => write!(f, "not a signingCert answer: {e}"),
            Self::DetachedSct => {
                f.write_str("certificate has a detached sct; only embedded scts are supported")
            }
            Self::NoCertificate => f.write_str("answer holds no certificate"),
            Self::Pem(p) => write!(f, "{p}"),
            Self::EmptyChain => f.write_str("certificate chain is empty"),
            Self::LeafNotDer(e) => write!(f, "leaf certificate is not valid der: {e}"),
            Self::LeafPublicKey(e) => write!(f, "leaf public key: {e}"),
        }
    }
}

/// Why a PEM certificate in a chain could not be decoded.
#[derive(Debug)]
#[non_exhaustive]
pub enum PemProblem {
    NotOneCertificate,
    NotBase64(base64::DecodeError),
}

impl std::fmt::Display for PemProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotOneCertificate => f.write_str("chain entry is not one pem certificate"),
            Self::NotBase64(e) => write!(f, "certificate pem is not base64: {e}"),
        }
    }
}

/// A certificate Fulcio issued: the leaf, then the rest of the chain it sent (intermediates and
/// root), all DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    pub leaf_der: Vec<u8>,
    pub chain_der: Vec<Vec<u8>>,
}

impl IssuedCertificate {
    /// The leaf in PEM, as Rekor wants it.
    pub fn leaf_pem(&self) -> String {
        der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &self.leaf_der)
            .unwrap_or_default()
    }
}

/// A Fulcio instance.
pub struct FulcioClient {
    base_url: String,
    agent: ureq::Agent,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SigningCertAnswer {
    signed_certificate_embedded_sct: Option<ChainHolder>,
    signed_certificate_detached_sct: Option<ChainHolder>,
}

#[derive(Deserialize)]
struct ChainHolder {
    chain: Chain,
}

#[derive(Deserialize)]
struct Chain {
    certificates: Vec<String>,
}

impl FulcioClient {
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            agent: agent(timeout, Redirects::Refuse),
        }
    }

    pub fn signing_cert_url(&self) -> String {
        format!("{}/api/v2/signingCert", self.base_url)
    }

    /// Requests a certificate for the key in `csr_der` (a PKCS#10 request signed by that key,
    /// which is the proof of possession). `public_key_spki_der` is that key, which the returned
    /// certificate must certify. The token goes only in the Authorization header.
    pub fn request_certificate(
        &self,
        token: &str,
        csr_der: &[u8],
        public_key_spki_der: &[u8],
    ) -> Result<IssuedCertificate, FulcioError> {
        let url = self.signing_cert_url();
        let pem = der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, csr_der)
            .map_err(|e| FulcioError::Answer {
                url: url.clone(),
                problem: AnswerProblem::EncodeRequest(e),
            })?;
        // protobuf `bytes` in JSON: base64 of the PEM text, as Fulcio's v2 API expects.
        let body = serde_json::json!({ "certificateSigningRequest": STANDARD.encode(pem) });
        let reply = post_json(&self.agent, &url, Some(token), &body).map_err(|problem| {
            FulcioError::Http {
                url: url.clone(),
                problem,
            }
        })?;
        if !(200..300).contains(&reply.status) {
            // An error page could quote the request; never let the token reach a message.
            let body = if token.is_empty() {
                excerpt(&reply.body)
            } else {
                excerpt(&reply.body.replace(token, "<redacted>"))
            };
            return Err(FulcioError::Status {
                url,
                status: reply.status,
                body,
            });
        }
        let issued = parse_answer(&url, &reply.body)?;
        let leaf = Certificate::from_der(&issued.leaf_der).map_err(|e| FulcioError::Answer {
            url: url.clone(),
            problem: AnswerProblem::LeafNotDer(e),
        })?;
        let leaf_spki = leaf
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| FulcioError::Answer {
                url: url.clone(),
                problem: AnswerProblem::LeafPublicKey(e),
            })?;
        // Fail closed: a certificate for another key would make our signature unverifiable, or
        // worse, bind our identity to someone else's key.
        if leaf_spki != public_key_spki_der {
            return Err(FulcioError::KeyMismatch { url });
        }
        Ok(issued)
    }
}

fn parse_answer(url: &str, body: &str) -> Result<IssuedCertificate, FulcioError> {
    let bad = |problem: AnswerProblem| FulcioError::Answer {
        url: url.to_owned(),
        problem,
    };
    let answer: SigningCertAnswer =
        serde_json::from_str(body).map_err(|e| bad(AnswerProblem::NotAnAnswer(e)))?;
    let chain = match (
        answer.signed_certificate_embedded_sct,
        answer.signed_certificate_detached_sct,
    ) {
        (Some(c), _) => c.chain.certificates,
        // Bundles have no place for a detached SCT, and verifiers require an embedded one.
        (None, Some(_)) => {
            return Err(bad(AnswerProblem::DetachedSct));
        }
        (None, None) => return Err(bad(AnswerProblem::NoCertificate)),
    };
    let mut ders = Vec::with_capacity(chain.len());
    for pem in &chain {
        ders.push(certificate_pem_to_der(pem).map_err(|p| bad(AnswerProblem::Pem(p)))?);
    }
    let mut it = ders.into_iter();
    let leaf_der = it.next().ok_or_else(|| bad(AnswerProblem::EmptyChain))?;
    Ok(IssuedCertificate {
        leaf_der,
        chain_der: it.collect(),
    })
}

/// A PKCS#10 certificate request for `key`, signed with ECDSA P-256/SHA-256. Its subject is
/// empty: Fulcio takes the identity from the token, and uses the request only as proof that the
/// caller holds the key.
pub fn certificate_request(key: &p256::ecdsa::SigningKey) -> Result<Vec<u8>, der::Error> {
    use ecdsa::signature::Signer as _;
    use spki::EncodePublicKey as _;
    use x509_cert::request::{CertReq, CertReqInfo, Version};
    let spki_der = key
        .verifying_key()
        .to_public_key_der()
        .map_err(|_| der::Error::from(der::ErrorKind::Failed))?;
    let info = CertReqInfo {
        version: Version::V1,
        subject: x509_cert::name::Name::default(),
        public_key: spki::SubjectPublicKeyInfoOwned::from_der(spki_der.as_bytes())?,
        attributes: Default::default(),
    };
    let sig: p256::ecdsa::Signature = key.sign(&info.to_der()?);
    let req = CertReq {
        info,
        algorithm: spki::AlgorithmIdentifierOwned {
            oid: super::oid::ECDSA_SHA256,
            parameters: None,
        },
        signature: der::asn1::BitString::from_bytes(sig.to_der().as_bytes())?,
    };
    req.to_der()
}

/// Decodes one PEM certificate. Lenient about line length (some servers write the base64 on one
/// line, which strict RFC 7468 parsing refuses), strict about the label and the base64 itself.
pub(crate) fn certificate_pem_to_der(pem: &str) -> Result<Vec<u8>, PemProblem> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let trimmed = pem.trim();
    let inner = trimmed
        .strip_prefix(BEGIN)
        .and_then(|rest| rest.strip_suffix(END))
        .ok_or(PemProblem::NotOneCertificate)?;
    let b64: String = inner.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(b64).map_err(PemProblem::NotBase64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_request_is_self_signed_by_the_key() -> Result<(), Box<dyn std::error::Error>> {
        use ecdsa::signature::Verifier as _;
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32])?;
        let der = certificate_request(&key)?;
        let req = x509_cert::request::CertReq::from_der(&der)?;
        assert_eq!(req.algorithm.oid, crate::sigstore::oid::ECDSA_SHA256);
        let sig = p256::ecdsa::Signature::from_der(req.signature.raw_bytes())?;
        key.verifying_key().verify(&req.info.to_der()?, &sig)?;
        Ok(())
    }

    #[test]
    fn detached_sct_and_empty_answers_are_refused() {
        let detached = r#"{"signedCertificateDetachedSct":{"chain":{"certificates":[]},"signedCertificateTimestamp":"AA=="}}"#;
        assert!(matches!(
            parse_answer("u", detached),
            Err(FulcioError::Answer { .. })
        ));
        assert!(matches!(
            parse_answer("u", "{}"),
            Err(FulcioError::Answer { .. })
        ));
        let empty = r#"{"signedCertificateEmbeddedSct":{"chain":{"certificates":[]}}}"#;
        assert!(matches!(
            parse_answer("u", empty),
            Err(FulcioError::Answer { .. })
        ));
        let key = r#"{"signedCertificateEmbeddedSct":{"chain":{"certificates":["-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"]}}}"#;
        assert!(matches!(
            parse_answer("u", key),
            Err(FulcioError::Answer { .. })
        ));
    }

    #[test]
    fn unreachable_fulcio_names_the_url() {
        // Port 9 on loopback (discard) is closed here; the error must say where we tried.
        let c = FulcioClient::new("http://127.0.0.1:9", Duration::from_secs(5));
        let err = c.request_certificate("t", b"csr", b"k");
        match err {
            Err(FulcioError::Http { url, .. }) => {
                assert_eq!(url, "http://127.0.0.1:9/api/v2/signingCert");
            }
            Err(FulcioError::Answer { .. }) => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
}
