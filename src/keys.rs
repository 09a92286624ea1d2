//! Local signing keys: Ed25519 private keys in PKCS#8 PEM (optionally passphrase-encrypted with
//! PBES2/scrypt), public keys in SPKI PEM, compatible with `openssl genpkey -algorithm ed25519`.
//! A key id is the sha256 of the SPKI DER. Secrets zeroize on drop and never print.

use crate::sigstore::keys::PublicKey;
use ed25519_dalek::Signer as _;
use pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use sha2::Digest as _;
use std::fmt;
use zeroize::Zeroizing;

/// sha256 of a public key's SPKI DER, written as lowercase hex.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 32]);

impl KeyId {
    pub fn of(key: &PublicKey) -> KeyId {
        KeyId(key.key_id())
    }
    pub fn of_spki_der(der: &[u8]) -> KeyId {
        KeyId(sha2::Sha256::digest(der).into())
    }
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}
impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.hex())
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error(
        "not a PEM private key (expected `-----BEGIN PRIVATE KEY-----` or `-----BEGIN ENCRYPTED PRIVATE KEY-----`)"
    )]
    NotPem,
    #[error("private key is not an Ed25519 PKCS#8 key: {0}")]
    Unsupported(String),
    #[error(
        "private key is encrypted and no passphrase was given (set MCPSIG_KEY_PASSPHRASE or run in a terminal)"
    )]
    PassphraseRequired,
    #[error("wrong passphrase, or the encrypted key is damaged")]
    BadPassphrase,
    #[error("cannot encode the key: {0}")]
    Encode(String),
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
    #[error("invalid public key")]
    Public(#[source] crate::sigstore::SigstoreError),
}

/// An Ed25519 signing key. The underlying key zeroizes its bytes on drop.
pub struct PrivateKey {
    inner: ed25519_dalek::SigningKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(ed25519, key id {})", self.key_id())
    }
}

impl PrivateKey {
    pub fn generate() -> Result<PrivateKey, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut seed[..]).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(PrivateKey {
            inner: ed25519_dalek::SigningKey::from_bytes(&seed),
        })
    }

    /// Reads a PEM private key. `passphrase` is asked only if the key is encrypted.
    pub fn from_pem(
        pem: &str,
        passphrase: impl FnOnce() -> Option<Zeroizing<String>>,
    ) -> Result<PrivateKey, KeyError> {
        let pem = pem.trim();
        if pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            let pass = passphrase().ok_or(KeyError::PassphraseRequired)?;
            let inner = ed25519_dalek::SigningKey::from_pkcs8_encrypted_pem(pem, pass.as_bytes())
                .map_err(|e| match e {
                pkcs8::Error::EncryptedPrivateKey(_) => KeyError::BadPassphrase,
                other => KeyError::Unsupported(other.to_string()),
            })?;
            return Ok(PrivateKey { inner });
        }
        if !pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            return Err(KeyError::NotPem);
        }
        let inner = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| KeyError::Unsupported(e.to_string()))?;
        Ok(PrivateKey { inner })
    }

    /// PKCS#8 PEM, encrypted (PBES2: scrypt + AES-256-CBC) when a passphrase is given.
    pub fn to_pem(&self, passphrase: Option<&str>) -> Result<Zeroizing<String>, KeyError> {
        match passphrase {
            None => self
                .inner
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| KeyError::Encode(e.to_string())),
            Some(p) => self
                .inner
                .to_pkcs8_encrypted_pem(p.as_bytes(), LineEnding::LF)
                .map_err(|e| KeyError::Encode(e.to_string())),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey::Ed25519(self.inner.verifying_key())
    }

    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.public_key())
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.inner.sign(message).to_bytes().to_vec()
    }
}

/// Reads a PEM public key (Ed25519, ECDSA P-256 or P-384 SPKI).
pub fn public_key_from_pem(pem: &str) -> Result<PublicKey, KeyError> {
    PublicKey::from_pem(pem).map_err(KeyError::Public)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_plain_and_encrypted() {
        let k = PrivateKey::generate().unwrap();
        let plain = k.to_pem(None).unwrap();
        let again = PrivateKey::from_pem(&plain, || None).unwrap();
        assert_eq!(again.key_id(), k.key_id());

        let enc = k.to_pem(Some("correct horse")).unwrap();
        assert!(enc.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        assert!(matches!(
            PrivateKey::from_pem(&enc, || None),
            Err(KeyError::PassphraseRequired)
        ));
        assert!(matches!(
            PrivateKey::from_pem(&enc, || Some(Zeroizing::new("wrong".into()))),
            Err(KeyError::BadPassphrase)
        ));
        let dec =
            PrivateKey::from_pem(&enc, || Some(Zeroizing::new("correct horse".into()))).unwrap();
        assert_eq!(dec.key_id(), k.key_id());
    }

    #[test]
    fn debug_never_prints_secret_bytes() {
        let k = PrivateKey::generate().unwrap();
        let dbg = format!("{k:?}");
        assert!(dbg.contains("key id"));
        assert!(!dbg.contains(&hex::encode(k.inner.to_bytes())));
    }

    #[test]
    fn signatures_verify_with_the_public_key() {
        let k = PrivateKey::generate().unwrap();
        let sig = k.sign(b"msg");
        let pk = public_key_from_pem(&k.public_key().to_pem()).unwrap();
        pk.verify(b"msg", &sig).unwrap();
        assert!(pk.verify(b"msh", &sig).is_err());
    }
}
