//! Public keys Sigstore signs with: Ed25519, ECDSA P-256 with SHA-256 and ECDSA P-384 with
//! SHA-384 (signatures DER-encoded). Parsing from SPKI DER/PEM, key ids (SHA-256 of the SPKI
//! DER), and verification over messages or precomputed digests. The arithmetic is the process's
//! [`crate::crypto`] provider's; a key is parsed by it once and reused for every signature.

use std::sync::Arc;

use crate::crypto::Sha256;
use const_oid::ObjectIdentifier;
use der::Decode as _;
use der::Encode as _;
use spki::SubjectPublicKeyInfoRef;

use crate::crypto::{self, VerifyingKey};
pub use crate::crypto::{HashAlg, KeyKind};

use super::error::{KeyAlgorithm, KeyProblem, SignatureCheck, SigstoreError};
use super::oid::{EC_PUBLIC_KEY, ED25519, SECP256R1, SECP384R1};

/// A verification key: its kind, its public encoding (the 32 Ed25519 bytes, or the uncompressed
/// SEC1 point), and the provider's parsed form. Equal when kind and encoding are.
#[derive(Clone)]
pub struct PublicKey {
    kind: KeyKind,
    raw: Arc<[u8]>,
    verifier: Arc<dyn VerifyingKey>,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.raw == other.raw
    }
}

impl Eq for PublicKey {}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({:?}, {})", self.kind, hex::encode(&self.raw))
    }
}

fn malformed(problem: KeyProblem) -> SigstoreError {
    SigstoreError::MalformedKey { problem }
}

impl PublicKey {
    /// A key from its kind and raw public encoding (32 bytes for Ed25519, a SEC1 point,
    /// compressed or not, for ECDSA), parsed by the process's provider.
    pub fn from_raw(kind: KeyKind, raw: &[u8]) -> Result<Self, SigstoreError> {
        let raw: Arc<[u8]> = match (kind, raw.first()) {
            // Compressed points are stored uncompressed, so equal keys compare (and hash) equal.
            (KeyKind::P256, Some(2 | 3)) => p256::ecdsa::VerifyingKey::from_sec1_bytes(raw)
                .map(|k| Arc::from(k.to_sec1_point(false).as_bytes()))
                .map_err(|_| malformed(KeyProblem::NotOnCurve { kind }))?,
            (KeyKind::P384, Some(2 | 3)) => p384::ecdsa::VerifyingKey::from_sec1_bytes(raw)
                .map(|k| Arc::from(k.to_sec1_point(false).as_bytes()))
                .map_err(|_| malformed(KeyProblem::NotOnCurve { kind }))?,
            _ => Arc::from(raw),
        };
        let verifier = crypto::provider()
            .parse_key(kind, &raw)
            .map_err(|error| malformed(KeyProblem::Rejected { error }))?;
        Ok(Self {
            kind,
            raw,
            verifier,
        })
    }

    /// Parses a DER `SubjectPublicKeyInfo`.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, SigstoreError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|error| malformed(KeyProblem::Spki { error }))?;
        Self::from_spki(&spki)
    }

    /// Parses a parsed `SubjectPublicKeyInfo` (as found in a certificate).
    pub fn from_spki(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<Self, SigstoreError> {
        let key_bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| malformed(KeyProblem::UnusedBits))?;
        let alg = spki.algorithm.oid;
        if alg == ED25519 {
            if spki.algorithm.parameters.is_some() {
                return Err(malformed(KeyProblem::Ed25519Parameters));
            }
            if key_bytes.len() != 32 {
                return Err(malformed(KeyProblem::Ed25519Length {
                    len: key_bytes.len(),
                }));
            }
            return Self::from_raw(KeyKind::Ed25519, key_bytes);
        }
        if alg == EC_PUBLIC_KEY {
            let curve: ObjectIdentifier = spki
                .algorithm
                .parameters
                .as_ref()
                .ok_or_else(|| malformed(KeyProblem::NoCurve))?
                .decode_as()
                .map_err(|error| malformed(KeyProblem::CurveNotOid { error }))?;
            if curve == SECP256R1 {
                return Self::from_raw(KeyKind::P256, key_bytes);
            }
            if curve == SECP384R1 {
                return Self::from_raw(KeyKind::P384, key_bytes);
            }
            return Err(SigstoreError::UnsupportedKeyAlgorithm {
                algorithm: KeyAlgorithm::EcCurve(curve),
            });
        }
        Err(SigstoreError::UnsupportedKeyAlgorithm {
            algorithm: KeyAlgorithm::Oid(alg),
        })
    }

    /// Parses a PEM `PUBLIC KEY` block.
    pub fn from_pem(pem: &str) -> Result<Self, SigstoreError> {
        let (label, der) = der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|error| malformed(KeyProblem::Pem { error }))?;
        if label != "PUBLIC KEY" {
            return Err(malformed(KeyProblem::PemLabel {
                label: label.to_owned(),
            }));
        }
        Self::from_spki_der(&der)
    }

    /// What kind of key this is.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The raw public encoding (32 Ed25519 bytes, or the uncompressed SEC1 point).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The key as SPKI DER.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let (oid, curve) = match self.kind {
            KeyKind::Ed25519 => (ED25519, None),
            KeyKind::P256 => (EC_PUBLIC_KEY, Some(SECP256R1)),
            KeyKind::P384 => (EC_PUBLIC_KEY, Some(SECP384R1)),
        };
        // Encoding a valid in-memory key cannot fail; an empty result would only make ids differ.
        let Ok(bits) = der::asn1::BitStringRef::from_bytes(&self.raw) else {
            return Vec::new();
        };
        let spki = spki::SubjectPublicKeyInfo {
            algorithm: spki::AlgorithmIdentifier {
                oid,
                parameters: curve,
            },
            subject_public_key: bits,
        };
        spki.to_der().unwrap_or_default()
    }

    /// The key as a PEM `PUBLIC KEY` block.
    pub fn to_pem(&self) -> String {
        der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, &self.to_spki_der())
            .unwrap_or_default()
    }

    /// SHA-256 of the SPKI DER: the key id used by mcpsig and by Rekor v1 log ids.
    pub fn key_id(&self) -> [u8; 32] {
        Sha256::digest(self.to_spki_der())
    }

    /// The hash Sigstore pairs with this key: SHA-256 for P-256, SHA-384 for P-384.
    pub fn default_hash(&self) -> Option<HashAlg> {
        match self.kind {
            KeyKind::Ed25519 => None,
            KeyKind::P256 => Some(HashAlg::Sha256),
            KeyKind::P384 => Some(HashAlg::Sha384),
        }
    }

    /// Verifies `sig` over `msg` (ECDSA: DER signature over the curve's default hash).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), SigstoreError> {
        self.verify_with_hash(msg, sig, self.default_hash().unwrap_or(HashAlg::Sha512))
    }

    /// Verifies with an explicit hash (certificates name theirs, e.g. ecdsa-with-SHA384).
    /// Ed25519 ignores `hash`: it hashes internally.
    pub fn verify_with_hash(
        &self,
        msg: &[u8],
        sig: &[u8],
        hash: HashAlg,
    ) -> Result<(), SigstoreError> {
        let what = match self.kind {
            KeyKind::Ed25519 => SignatureCheck::Ed25519,
            _ => SignatureCheck::Ecdsa,
        };
        self.verifier
            .verify(hash, msg, sig)
            .map_err(|_| SigstoreError::BadSignature { what })
    }

    /// Verifies a DER ECDSA signature over a digest computed elsewhere. Ed25519 signs the whole
    /// message and cannot be checked from a digest, so it is refused.
    pub fn verify_prehash(&self, digest: &[u8], sig: &[u8]) -> Result<(), SigstoreError> {
        if self.kind == KeyKind::Ed25519 {
            return Err(SigstoreError::BadSignature {
                what: SignatureCheck::Ed25519FromDigest,
            });
        }
        self.verifier
            .verify_prehash(digest, sig)
            .map_err(|_| SigstoreError::BadSignature {
                what: SignatureCheck::Ecdsa,
            })
    }
}

impl From<ed25519_dalek::VerifyingKey> for PublicKey {
    /// Panics never: a dalek key that decoded is a valid point; a weak one is still refused
    /// by verification (it then fails every signature).
    fn from(key: ed25519_dalek::VerifyingKey) -> Self {
        Self::from_raw(KeyKind::Ed25519, key.as_bytes()).unwrap_or_else(|_| Self {
            kind: KeyKind::Ed25519,
            raw: Arc::from(&key.as_bytes()[..]),
            verifier: Arc::new(Refusing),
        })
    }
}

/// The verifier of a key no provider accepted: every signature fails.
#[derive(Debug)]
struct Refusing;

impl VerifyingKey for Refusing {
    fn verify(&self, _: HashAlg, _: &[u8], _: &[u8]) -> Result<(), crypto::BadSignature> {
        Err(crypto::BadSignature)
    }
    fn verify_prehash(&self, _: &[u8], _: &[u8]) -> Result<(), crypto::BadSignature> {
        Err(crypto::BadSignature)
    }
}

/// Decodes one PEM block, tolerating any line length and surrounding whitespace (Rekor and
/// other Sigstore tools write unwrapped base64). Returns the label and the DER bytes.
pub fn pem_decode(text: &[u8]) -> Result<(String, Vec<u8>), PemError> {
    let text = std::str::from_utf8(text).map_err(|_| PemError::NotUtf8)?;
    let start = text.find("-----BEGIN ").ok_or(PemError::NoBegin)?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----").ok_or(PemError::UnterminatedBegin)?;
    let label = &rest[..label_end];
    let body = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body.find(&end_marker).ok_or_else(|| PemError::NoEnd {
        label: label.to_owned(),
    })?;
    if !text[start + 11 + label_end + 5 + end + end_marker.len()..]
        .trim()
        .is_empty()
    {
        return Err(PemError::TrailingData);
    }
    let b64: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = super::serde_pb::decode_b64(&b64).map_err(|error| PemError::Base64 { error })?;
    Ok((label.to_owned(), der))
}

/// Why text is not one PEM block.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("PEM is not UTF-8")]
    NotUtf8,
    #[error("no PEM BEGIN line")]
    NoBegin,
    #[error("unterminated PEM BEGIN line")]
    UnterminatedBegin,
    #[error("no PEM END line for {label}")]
    NoEnd { label: String },
    #[error("data after the PEM block")]
    TrailingData,
    #[error("invalid PEM base64: {error}")]
    Base64 { error: base64::DecodeError },
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer as _;

    #[test]
    fn pem_decode_accepts_long_lines_and_rejects_junk() {
        let ok = "-----BEGIN X-----\nAQID\nBA==\n-----END X-----\n";
        assert_eq!(
            pem_decode(ok.as_bytes()),
            Ok(("X".into(), vec![1, 2, 3, 4]))
        );
        assert!(pem_decode(b"-----BEGIN X-----\nAQID\n-----END Y-----").is_err());
        assert!(pem_decode(b"-----BEGIN X-----\nAQ!D\n-----END X-----").is_err());
        assert!(pem_decode(b"-----BEGIN X-----\nAQID\n-----END X-----\ntrailing").is_err());
    }

    #[test]
    fn ed25519_round_trip_and_key_id() -> Result<(), SigstoreError> {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let pk = PublicKey::from(sk.verifying_key());
        let pem = pk.to_pem();
        let again = PublicKey::from_pem(&pem)?;
        assert_eq!(again, pk);
        assert_eq!(again.key_id(), Sha256::digest(pk.to_spki_der()));
        let sig = sk.sign(b"msg");
        pk.verify(b"msg", &sig.to_bytes())?;
        assert!(pk.verify(b"msh", &sig.to_bytes()).is_err());
        assert!(pk.verify_prehash(&[0; 32], &sig.to_bytes()).is_err());
        Ok(())
    }

    #[test]
    fn p256_verify_and_prehash() -> Result<(), Box<dyn std::error::Error>> {
        use p256::ecdsa::signature::Signer as _;
        let sk = p256::ecdsa::SigningKey::from_bytes(&[9u8; 32].into())?;
        let sig: p256::ecdsa::Signature = sk.sign(b"hello");
        let der = sig.to_der();
        let pk = PublicKey::from_spki_der(
            spki::EncodePublicKey::to_public_key_der(sk.verifying_key())?.as_bytes(),
        )?;
        pk.verify(b"hello", der.as_bytes())?;
        pk.verify_prehash(&Sha256::digest(b"hello"), der.as_bytes())?;
        assert!(pk.verify(b"hellO", der.as_bytes()).is_err());
        assert!(
            pk.verify(b"hello", &sig.to_bytes()).is_err(),
            "raw r||s must be refused"
        );
        Ok(())
    }
}
