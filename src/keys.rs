//! Local signing keys: Ed25519 private keys in PKCS#8 PEM (optionally passphrase-encrypted with
//! PBES2/scrypt), public keys in SPKI PEM, compatible with `openssl genpkey -algorithm ed25519`.
//! Key files are read with a size bound, and a private key file others can read is refused.
//! A key id is the sha256 of the SPKI DER. Secrets zeroize on drop and never print.

use crate::sigstore::keys::PublicKey;
use ed25519_dalek::Signer as _;
use pkcs8::LineEnding;
use sha2::Digest as _;
use std::fmt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Upper bound for a key file: a PEM Ed25519 or ECDSA key is well under 1 KiB.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Environment variable holding a key passphrase for non-interactive use. Never passed to a
/// launched server (`mcp::env::NEVER_PASSED`).
pub use crate::server_env::PASSPHRASE_ENV;

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
        "private key is encrypted and no passphrase was given (set {PASSPHRASE_ENV} or run in a terminal)"
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
    #[error("cannot read key `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key file `{}` is larger than {limit} bytes; a PEM key is under 1 KiB", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("key file `{}` is not text (expected PEM)", path.display())]
    NotText { path: PathBuf },
    #[error(
        "private key `{}` is accessible by group or others (mode {mode:04o}); refusing to use it",
        path.display()
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error(
        "`{}` is a private key: give the public key (`mcp-sign keygen` wrote it as `{}.pub`)",
        path.display(),
        path.display()
    )]
    PrivateNotPublic { path: PathBuf },
}

impl KeyError {
    /// What the user can do about it, when there is one thing to do.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Permissions { path, .. } => Some(format!("chmod 600 {}", path.display())),
            _ => None,
        }
    }
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

    /// Reads a PEM private key, PKCS#8 v1 or v2. `passphrase` is asked only if the key is
    /// encrypted. Decoded key material lives only in buffers wiped on drop.
    pub fn from_pem(
        pem: &str,
        passphrase: impl FnOnce() -> Option<Zeroizing<String>>,
    ) -> Result<PrivateKey, KeyError> {
        let pem = pem.trim();
        let encrypted = pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----");
        if !encrypted && !pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            return Err(KeyError::NotPem);
        }
        let unsupported = |e: &dyn fmt::Display| KeyError::Unsupported(e.to_string());
        let (_, doc) = pkcs8::SecretDocument::from_pem(pem).map_err(|e| unsupported(&e))?;
        let der = if encrypted {
            let pass = passphrase().ok_or(KeyError::PassphraseRequired)?;
            pkcs8::EncryptedPrivateKeyInfoRef::try_from(doc.as_bytes())
                .map_err(|e| unsupported(&e))?
                .decrypt(pass.as_bytes())
                .map_err(|e| match e {
                    // Asn1: the padding check passed by chance (about one time in 256) and the
                    // "plaintext" is noise that does not parse: a wrong passphrase too.
                    pkcs8::Error::EncryptedPrivateKey(_) | pkcs8::Error::Asn1(_) => {
                        KeyError::BadPassphrase
                    }
                    other => unsupported(&other),
                })?
        } else {
            doc
        };
        let inner = signing_key_from_pkcs8(der.as_bytes()).map_err(|e| {
            // A wrong passphrase usually fails the CBC padding check, but about one time in
            // 256 the padding happens to be valid and the "plaintext" is noise: that too is a
            // wrong passphrase, not a malformed key.
            if encrypted {
                KeyError::BadPassphrase
            } else {
                e
            }
        })?;
        Ok(PrivateKey { inner })
    }

    /// Reads a private key file: refused when group or others have any access to it (as ssh
    /// does) or when it is larger than [`MAX_KEY_FILE_BYTES`]; the bytes read are wiped after
    /// parsing. `passphrase` is asked only if the key is encrypted.
    pub fn from_file(
        path: &Path,
        passphrase: impl FnOnce() -> Option<Zeroizing<String>>,
    ) -> Result<PrivateKey, KeyError> {
        let pem = read_key_file(path, true)?;
        let text = std::str::from_utf8(&pem).map_err(|_| KeyError::NotText {
            path: path.to_owned(),
        })?;
        PrivateKey::from_pem(text, passphrase)
    }

    /// PKCS#8 v1 PEM (RFC 5208: the seed only, no public key), what `openssl genpkey -algorithm
    /// ed25519` writes and what openssl, Python `cryptography` and Go read; encrypted (PBES2:
    /// scrypt with OpenSSL-compatible parameters + AES-256-CBC) when a passphrase is given.
    pub fn to_pem(&self, passphrase: Option<&str>) -> Result<Zeroizing<String>, KeyError> {
        let encode = |e: &dyn fmt::Display| KeyError::Encode(e.to_string());
        // CurvePrivateKey ::= OCTET STRING (the 32-byte seed), itself inside privateKey.
        let mut inner = Zeroizing::new([0u8; 34]);
        inner[0] = 0x04;
        inner[1] = 0x20;
        inner[2..].copy_from_slice(self.inner.as_bytes());
        // v1: no public key; v2 (RFC 5958) would add it, which those tools refuse.
        let info = pkcs8::PrivateKeyInfoRef {
            algorithm: pkcs8::AlgorithmIdentifierRef {
                oid: const_oid::db::rfc8410::ID_ED_25519,
                parameters: None,
            },
            private_key: der::asn1::OctetStringRef::new(&inner[..]).map_err(|e| encode(&e))?,
            public_key: None,
        };
        let (doc, label) = match passphrase {
            None => (
                pkcs8::SecretDocument::encode_msg(&info).map_err(|e| encode(&e))?,
                "PRIVATE KEY",
            ),
            Some(p) => (
                info.encrypt(p.as_bytes()).map_err(|e| encode(&e))?,
                "ENCRYPTED PRIVATE KEY",
            ),
        };
        doc.to_pem(label, LineEnding::LF).map_err(|e| encode(&e))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey::from(self.inner.verifying_key())
    }

    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.public_key())
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.inner.sign(message).to_bytes().to_vec()
    }
}

/// An Ed25519 key from a PKCS#8 `PrivateKeyInfo` (v1) or `OneAsymmetricKey` (v2) DER; a v2 key's
/// public key must be the one its seed derives.
fn signing_key_from_pkcs8(der: &[u8]) -> Result<ed25519_dalek::SigningKey, KeyError> {
    let info = pkcs8::PrivateKeyInfoRef::try_from(der)
        .map_err(|e| KeyError::Unsupported(e.to_string()))?;
    if info.algorithm.oid != const_oid::db::rfc8410::ID_ED_25519
        || info.algorithm.parameters.is_some()
    {
        return Err(KeyError::Unsupported(format!(
            "algorithm {} is not Ed25519",
            info.algorithm.oid
        )));
    }
    let seed: Zeroizing<[u8; 32]> = match info.private_key.as_bytes() {
        [0x04, 0x20, seed @ ..] => Zeroizing::new(seed.try_into().map_err(|_| {
            KeyError::Unsupported("the private key is not a 32-byte seed".to_owned())
        })?),
        _ => {
            return Err(KeyError::Unsupported(
                "the private key is not a 32-byte seed".to_owned(),
            ));
        }
    };
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    if let Some(public) = &info.public_key
        && public.as_bytes() != Some(key.verifying_key().as_bytes().as_slice())
    {
        return Err(KeyError::Unsupported(
            "the public key in the file is not the private key's".to_owned(),
        ));
    }
    Ok(key)
}

/// Reads a PEM public key (Ed25519, ECDSA P-256 or P-384 SPKI).
pub fn public_key_from_pem(pem: &str) -> Result<PublicKey, KeyError> {
    PublicKey::from_pem(pem).map_err(KeyError::Public)
}

/// Reads a PEM public key file of at most [`MAX_KEY_FILE_BYTES`]; a private key given in its
/// place is refused by name, so the mistake is not reported as a malformed key.
pub fn public_key_from_file(path: &Path) -> Result<PublicKey, KeyError> {
    let pem = read_key_file(path, false)?;
    let text = std::str::from_utf8(&pem).map_err(|_| KeyError::NotText {
        path: path.to_owned(),
    })?;
    if text.contains("PRIVATE KEY-----") {
        return Err(KeyError::PrivateNotPublic {
            path: path.to_owned(),
        });
    }
    public_key_from_pem(text)
}

/// A key file's bytes, in a buffer that is wiped on drop and never reallocated (so no copy of
/// a secret is left behind). One open file is checked and read: its size first (a huge or
/// sparse file is refused without reading it), then, for a private key, its mode.
fn read_key_file(path: &Path, private: bool) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;
    let io = |source| KeyError::Read {
        path: path.to_owned(),
        source,
    };
    let too_large = || KeyError::TooLarge {
        path: path.to_owned(),
        limit: MAX_KEY_FILE_BYTES,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_file() && meta.len() > MAX_KEY_FILE_BYTES {
        return Err(too_large());
    }
    let mode = meta.permissions().mode();
    if private && mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_owned(),
            mode: mode & 0o7777,
        });
    }
    // Pipes and other non-regular files report no size: the read itself is bounded too.
    let cap = MAX_KEY_FILE_BYTES as usize + 1;
    let mut buf = Zeroizing::new(Vec::with_capacity(cap));
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(too_large());
    }
    Ok(buf)
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
    fn writes_pkcs8_v1_and_reads_v2() {
        use base64::Engine as _;
        let k = PrivateKey::generate().unwrap();
        let pem = k.to_pem(None).unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        // SEQUENCE { INTEGER 0 (v1), SEQUENCE { OID 1.3.101.112 }, OCTET STRING { seed } }:
        // 48 bytes, no public key.
        assert_eq!(der.len(), 48);
        assert_eq!(&der[..7], &[0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05]);

        let dir = env!("CARGO_MANIFEST_DIR");
        let v2 =
            std::fs::read_to_string(format!("{dir}/testdata/keys/ed25519-pkcs8-v2.key")).unwrap();
        let public =
            std::fs::read_to_string(format!("{dir}/testdata/keys/ed25519-pkcs8-v2.key.pub"))
                .unwrap();
        let k = PrivateKey::from_pem(&v2, || None).unwrap();
        assert_eq!(k.public_key(), public_key_from_pem(&public).unwrap());

        // A v2 key whose public key is not its seed's is refused, as is a key of another type.
        let engine = base64::engine::general_purpose::STANDARD;
        let b64: String = v2.lines().filter(|l| !l.starts_with("-----")).collect();
        let mut der = engine.decode(b64).unwrap();
        *der.last_mut().unwrap() ^= 1;
        let b64 = engine.encode(&der);
        let (a, b) = b64.split_at(64);
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{a}\n{b}\n-----END PRIVATE KEY-----\n");
        let got = PrivateKey::from_pem(&pem, || None);
        assert!(
            matches!(&got, Err(KeyError::Unsupported(m)) if m.contains("public key")),
            "{got:?}"
        );
        let p256 = "-----BEGIN PRIVATE KEY-----\n\
            MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXsT5UtSK7w2a/w08\n\
            6Oz69C0j6wjaADHr33fJKfSGHuGhRANCAATGGZLweH+CD0+7vA4xRCbB8UQ1TQ9i\n\
            BTchqT9U7eoNVq56rrciX4uLyOkBWGb1eq/kTtFjOoFKZeq6VUFZaXJx\n\
            -----END PRIVATE KEY-----\n";
        assert!(matches!(
            PrivateKey::from_pem(p256, || None),
            Err(KeyError::Unsupported(m)) if m.contains("not Ed25519")
        ));
    }

    #[test]
    fn key_files_are_bounded_and_private_ones_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let k = PrivateKey::generate().unwrap();
        let path = dir.path().join("k.key");
        std::fs::write(&path, k.to_pem(None).unwrap().as_bytes()).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = PrivateKey::from_file(&path, || None).unwrap_err();
            assert!(
                matches!(err, KeyError::Permissions { mode: m, .. } if m == mode),
                "{err}"
            );
            assert_eq!(err.hint(), Some(format!("chmod 600 {}", path.display())));
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            PrivateKey::from_file(&path, || None).unwrap().key_id(),
            k.key_id()
        );

        // A sparse 3 GiB file: refused from its size, before any byte is read.
        let huge = dir.path().join("huge.key");
        let f = std::fs::File::create(&huge).unwrap();
        f.set_len(3 << 30).unwrap();
        std::fs::set_permissions(&huge, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            PrivateKey::from_file(&huge, || None),
            Err(KeyError::TooLarge { .. })
        ));
        assert!(matches!(
            public_key_from_file(&huge),
            Err(KeyError::TooLarge { .. })
        ));

        let public = dir.path().join("k.pub");
        std::fs::write(&public, k.public_key().to_pem()).unwrap();
        assert_eq!(public_key_from_file(&public).unwrap(), k.public_key());
        assert!(matches!(
            public_key_from_file(&path),
            Err(KeyError::PrivateNotPublic { .. })
        ));
        std::fs::write(&public, [0xff, 0xfe]).unwrap();
        assert!(matches!(
            public_key_from_file(&public),
            Err(KeyError::NotText { .. })
        ));
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
