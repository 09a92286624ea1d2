//! The pure-Rust provider: the RustCrypto crates `p256`, `p384`, `ed25519-dalek` and `rsa`.

use std::sync::Arc;

use ecdsa::signature::hazmat::PrehashVerifier as _;

use super::{BadSignature, CryptoProvider, HashAlg, KeyKind, KeyRejected, RSA_BITS, VerifyingKey};

/// The RustCrypto provider.
pub static RUST_CRYPTO: RustCrypto = RustCrypto;

/// See [`RUST_CRYPTO`].
#[derive(Debug)]
pub struct RustCrypto;

const NAME: &str = "rustcrypto";

#[derive(Debug)]
enum Key {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl VerifyingKey for Key {
    fn verify(&self, hash: HashAlg, msg: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        match self {
            Self::Ed25519(k) => {
                let arr: &[u8; 64] = sig.try_into().map_err(|_| BadSignature)?;
                k.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(arr))
                    .map_err(|_| BadSignature)
            }
            _ => self.verify_prehash(&hash.digest(msg), sig),
        }
    }

    fn verify_prehash(&self, digest: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        // The same digest sizes aws-lc takes.
        HashAlg::from_len(digest.len()).ok_or(BadSignature)?;
        match self {
            Self::Ed25519(_) => Err(BadSignature),
            Self::P256(k) => {
                let s = p256::ecdsa::Signature::from_der(sig).map_err(|_| BadSignature)?;
                k.verify_prehash(digest, &s).map_err(|_| BadSignature)
            }
            Self::P384(k) => {
                let s = p384::ecdsa::Signature::from_der(sig).map_err(|_| BadSignature)?;
                k.verify_prehash(digest, &s).map_err(|_| BadSignature)
            }
        }
    }
}

impl CryptoProvider for RustCrypto {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parse_key(&self, kind: KeyKind, raw: &[u8]) -> Result<Arc<dyn VerifyingKey>, KeyRejected> {
        let rejected = |reason| KeyRejected {
            kind,
            provider: NAME,
            reason,
        };
        let key = match kind {
            KeyKind::Ed25519 => Key::Ed25519(super::ed25519_key_ok(raw).map_err(rejected)?),
            KeyKind::P256 => Key::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(raw)
                    .map_err(|_| rejected("not a point on the curve"))?,
            ),
            KeyKind::P384 => Key::P384(
                p384::ecdsa::VerifyingKey::from_sec1_bytes(raw)
                    .map_err(|_| rejected("not a point on the curve"))?,
            ),
        };
        Ok(Arc::new(key))
    }

    fn verify_rsa_pkcs1(
        &self,
        spki_der: &[u8],
        hash: HashAlg,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), BadSignature> {
        use der::Decode as _;
        use rsa::pkcs1v15::{Signature, VerifyingKey as RsaKey};
        use rsa::signature::Verifier as _;
        use rsa::traits::PublicKeyParts as _;
        let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| BadSignature)?;
        let key = rsa::PublicKey::try_from(spki).map_err(|_| BadSignature)?;
        if !usize::try_from(key.n().bit_width()).is_ok_and(|b| RSA_BITS.contains(&b)) {
            return Err(BadSignature);
        }
        let sig = Signature::try_from(sig).map_err(|_| BadSignature)?;
        let ok = match hash {
            HashAlg::Sha256 => RsaKey::<sha2::Sha256>::new(key).verify(msg, &sig),
            HashAlg::Sha384 => RsaKey::<sha2::Sha384>::new(key).verify(msg, &sig),
            HashAlg::Sha512 => RsaKey::<sha2::Sha512>::new(key).verify(msg, &sig),
        };
        ok.map_err(|_| BadSignature)
    }
}
