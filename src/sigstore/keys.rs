//! Public keys Sigstore signs with: Ed25519 (strict verification), ECDSA P-256 with SHA-256 and
//! ECDSA P-384 with SHA-384 (signatures DER-encoded). Parsing from SPKI DER/PEM, key ids
//! (SHA-256 of the SPKI DER), and verification over messages or precomputed digests.

use const_oid::ObjectIdentifier;
use der::Decode as _;
use ecdsa::signature::hazmat::PrehashVerifier as _;
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use spki::{EncodePublicKey as _, SubjectPublicKeyInfoRef};

use super::error::{KeyAlgorithm, KeyProblem, SignatureCheck, SigstoreError};
use super::oid::{EC_PUBLIC_KEY, ED25519, SECP256R1, SECP384R1};

/// Hash functions an ECDSA signature can be computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub fn digest(self, msg: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(msg).to_vec(),
            Self::Sha384 => Sha384::digest(msg).to_vec(),
            Self::Sha512 => Sha512::digest(msg).to_vec(),
        }
    }
}

/// A verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

fn malformed(problem: KeyProblem) -> SigstoreError {
    SigstoreError::MalformedKey { problem }
}

impl PublicKey {
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
            let arr: &[u8; 32] = key_bytes.try_into().map_err(|_| {
                malformed(KeyProblem::Ed25519Length {
                    len: key_bytes.len(),
                })
            })?;
            let k = ed25519_dalek::VerifyingKey::from_bytes(arr)
                .map_err(|error| malformed(KeyProblem::Ed25519Point { error }))?;
            return Ok(Self::Ed25519(k));
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
                let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                    .map_err(|error| malformed(KeyProblem::P256Point { error }))?;
                return Ok(Self::P256(k));
            }
            if curve == SECP384R1 {
                let k = p384::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                    .map_err(|error| malformed(KeyProblem::P384Point { error }))?;
                return Ok(Self::P384(k));
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

    /// The key as SPKI DER.
    pub fn to_spki_der(&self) -> Vec<u8> {
        // Encoding a valid in-memory key cannot fail; an empty result would only make ids differ.
        let doc = match self {
            Self::Ed25519(k) => k.to_public_key_der(),
            Self::P256(k) => k.to_public_key_der(),
            Self::P384(k) => k.to_public_key_der(),
        };
        doc.map(|d| d.as_bytes().to_vec()).unwrap_or_default()
    }

    /// The key as a PEM `PUBLIC KEY` block.
    pub fn to_pem(&self) -> String {
        der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, &self.to_spki_der())
            .unwrap_or_default()
    }

    /// SHA-256 of the SPKI DER: the key id used by mcpsig and by Rekor v1 log ids.
    pub fn key_id(&self) -> [u8; 32] {
        Sha256::digest(self.to_spki_der()).into()
    }

    /// The hash Sigstore pairs with this key: SHA-256 for P-256, SHA-384 for P-384.
    pub fn default_hash(&self) -> Option<HashAlg> {
        match self {
            Self::Ed25519(_) => None,
            Self::P256(_) => Some(HashAlg::Sha256),
            Self::P384(_) => Some(HashAlg::Sha384),
        }
    }

    /// Verifies `sig` over `msg` (ECDSA: DER signature over the curve's default hash).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), SigstoreError> {
        match self.default_hash() {
            None => self.verify_ed25519(msg, sig),
            Some(h) => self.verify_prehash(&h.digest(msg), sig),
        }
    }

    /// Verifies with an explicit hash (certificates name theirs, e.g. ecdsa-with-SHA384).
    pub fn verify_with_hash(
        &self,
        msg: &[u8],
        sig: &[u8],
        hash: HashAlg,
    ) -> Result<(), SigstoreError> {
        match self {
            Self::Ed25519(_) => self.verify_ed25519(msg, sig),
            _ => self.verify_prehash(&hash.digest(msg), sig),
        }
    }

    /// Verifies a DER ECDSA signature over a digest computed elsewhere. Ed25519 signs the whole
    /// message and cannot be checked from a digest, so it is refused.
    pub fn verify_prehash(&self, digest: &[u8], sig: &[u8]) -> Result<(), SigstoreError> {
        let bad = || SigstoreError::BadSignature {
            what: SignatureCheck::Ecdsa,
        };
        match self {
            Self::Ed25519(_) => Err(SigstoreError::BadSignature {
                what: SignatureCheck::Ed25519FromDigest,
            }),
            Self::P256(k) => {
                let s = p256::ecdsa::Signature::from_der(sig).map_err(|_| bad())?;
                k.verify_prehash(digest, &s).map_err(|_| bad())
            }
            Self::P384(k) => {
                let s = p384::ecdsa::Signature::from_der(sig).map_err(|_| bad())?;
                k.verify_prehash(digest, &s).map_err(|_| bad())
            }
        }
    }

    fn verify_ed25519(&self, msg: &[u8], sig: &[u8]) -> Result<(), SigstoreError> {
        let bad = || SigstoreError::BadSignature {
            what: SignatureCheck::Ed25519,
        };
        let Self::Ed25519(k) = self else {
            return Err(bad());
        };
        let arr: &[u8; 64] = sig.try_into().map_err(|_| bad())?;
        let s = ed25519_dalek::Signature::from_bytes(arr);
        k.verify_strict(msg, &s).map_err(|_| bad())
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
        let pk = PublicKey::Ed25519(sk.verifying_key());
        let pem = pk.to_pem();
        let again = PublicKey::from_pem(&pem)?;
        assert_eq!(again, pk);
        assert_eq!(
            again.key_id(),
            <[u8; 32]>::from(Sha256::digest(pk.to_spki_der()))
        );
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
        let pk = PublicKey::from_spki_der(&PublicKey::P256(*sk.verifying_key()).to_spki_der())?;
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
