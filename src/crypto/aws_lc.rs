//! The aws-lc-rs provider: AWS-LC's assembly for P-256, P-384, Ed25519 and RSA.

use std::sync::{Arc, OnceLock};

use aws_lc_rs::digest::{Algorithm as DigestAlg, Digest, SHA256, SHA384, SHA512};
use aws_lc_rs::signature::{self as sig, EcdsaVerificationAlgorithm, ParsedPublicKey};

use super::{BadSignature, CryptoProvider, HashAlg, KeyKind, KeyRejected, VerifyingKey};

/// The aws-lc-rs provider.
pub static AWS_LC: AwsLc = AwsLc;

/// See [`AWS_LC`].
#[derive(Debug)]
pub struct AwsLc;

const NAME: &str = "aws-lc";

fn index(hash: HashAlg) -> usize {
    match hash {
        HashAlg::Sha256 => 0,
        HashAlg::Sha384 => 1,
        HashAlg::Sha512 => 2,
    }
}

fn digest_alg(hash: HashAlg) -> &'static DigestAlg {
    match hash {
        HashAlg::Sha256 => &SHA256,
        HashAlg::Sha384 => &SHA384,
        HashAlg::Sha512 => &SHA512,
    }
}

fn ecdsa_alg(kind: KeyKind, hash: HashAlg) -> &'static EcdsaVerificationAlgorithm {
    match (kind, hash) {
        (KeyKind::P384, HashAlg::Sha256) => &sig::ECDSA_P384_SHA256_ASN1,
        (KeyKind::P384, HashAlg::Sha384) => &sig::ECDSA_P384_SHA384_ASN1,
        (KeyKind::P384, HashAlg::Sha512) => &sig::ECDSA_P384_SHA512_ASN1,
        (_, HashAlg::Sha256) => &sig::ECDSA_P256_SHA256_ASN1,
        (_, HashAlg::Sha384) => &sig::ECDSA_P256_SHA384_ASN1,
        (_, HashAlg::Sha512) => &sig::ECDSA_P256_SHA512_ASN1,
    }
}

/// An ECDSA key: AWS-LC binds a parsed key to one hash, so one parse per hash used, made on
/// first use (almost always only the curve's own hash).
struct EcdsaKey {
    kind: KeyKind,
    raw: Box<[u8]>,
    parsed: [OnceLock<Option<ParsedPublicKey>>; 3],
}

impl std::fmt::Debug for EcdsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "aws-lc {:?} key {}", self.kind, hex::encode(&self.raw))
    }
}

impl EcdsaKey {
    fn for_hash(&self, hash: HashAlg) -> Result<&ParsedPublicKey, BadSignature> {
        self.parsed[index(hash)]
            .get_or_init(|| {
                sig::UnparsedPublicKey::new(ecdsa_alg(self.kind, hash), &self.raw[..])
                    .parse()
                    .ok()
            })
            .as_ref()
            .ok_or(BadSignature)
    }
}

impl VerifyingKey for EcdsaKey {
    fn verify(&self, hash: HashAlg, msg: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        self.for_hash(hash)?
            .verify_sig(msg, sig)
            .map_err(|_| BadSignature)
    }

    fn verify_prehash(&self, digest: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        let hash = HashAlg::from_len(digest.len()).ok_or(BadSignature)?;
        let digest =
            Digest::import_less_safe(digest, digest_alg(hash)).map_err(|_| BadSignature)?;
        self.for_hash(hash)?
            .verify_digest_sig(&digest, sig)
            .map_err(|_| BadSignature)
    }
}

struct Ed25519Key(ParsedPublicKey);

impl std::fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "aws-lc Ed25519 key {}", hex::encode(self.0.as_ref()))
    }
}

impl VerifyingKey for Ed25519Key {
    fn verify(&self, _hash: HashAlg, msg: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        self.0.verify_sig(msg, sig).map_err(|_| BadSignature)
    }

    fn verify_prehash(&self, _digest: &[u8], _sig: &[u8]) -> Result<(), BadSignature> {
        Err(BadSignature)
    }
}

impl CryptoProvider for AwsLc {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parse_key(&self, kind: KeyKind, raw: &[u8]) -> Result<Arc<dyn VerifyingKey>, KeyRejected> {
        let rejected = |reason| KeyRejected {
            kind,
            provider: NAME,
            reason,
        };
        match kind {
            KeyKind::Ed25519 => {
                super::ed25519_key_ok(raw).map_err(rejected)?;
                let parsed = sig::UnparsedPublicKey::new(&sig::ED25519, raw)
                    .parse()
                    .map_err(|_| rejected("not a valid Ed25519 key"))?;
                Ok(Arc::new(Ed25519Key(parsed)))
            }
            KeyKind::P256 | KeyKind::P384 => {
                let key = EcdsaKey {
                    kind,
                    raw: raw.into(),
                    parsed: Default::default(),
                };
                let own = if kind == KeyKind::P256 {
                    HashAlg::Sha256
                } else {
                    HashAlg::Sha384
                };
                // Parse (and so validate the point) now, with the curve's own hash.
                key.for_hash(own)
                    .map_err(|_| rejected("not a point on the curve"))?;
                Ok(Arc::new(key))
            }
        }
    }

    fn verify_rsa_pkcs1(
        &self,
        spki_der: &[u8],
        hash: HashAlg,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), BadSignature> {
        let params = match hash {
            HashAlg::Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            HashAlg::Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            HashAlg::Sha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        };
        // aws-lc-rs reads SubjectPublicKeyInfo as well as a bare RSAPublicKey; only the former
        // is ours to give, so insist on it.
        spki_rsa_check(spki_der)?;
        sig::UnparsedPublicKey::new(params, spki_der)
            .verify(msg, sig)
            .map_err(|_| BadSignature)
    }
}

/// The key is a SubjectPublicKeyInfo with the rsaEncryption algorithm.
fn spki_rsa_check(spki_der: &[u8]) -> Result<(), BadSignature> {
    use der::Decode as _;
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| BadSignature)?;
    if spki.algorithm.oid != const_oid::db::rfc5912::RSA_ENCRYPTION {
        return Err(BadSignature);
    }
    Ok(())
}
