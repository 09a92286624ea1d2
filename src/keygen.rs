//! A new signing key written as files: the private key at PATH (PKCS#8 PEM, mode 0600, optionally
//! passphrase-encrypted) and its public key beside it at `PATH.pub` (SPKI PEM, mode 0644).

use crate::fsutil::{WriteError, refuse_existing, write_atomic};
use crate::keys::{KeyError, KeyId, PASSPHRASE_ENV, PrivateKey};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Where the public key of the private key file `private` goes: `PATH.pub`.
pub fn public_key_path(private: &Path) -> PathBuf {
    let mut s = private.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// What `mcp-sign keygen` is asked to do.
#[derive(Debug, Clone)]
pub struct KeygenRequest {
    /// The private key file; the public key goes to [`public_key_path`] of it.
    pub out: PathBuf,
    /// Encrypt the private key with a passphrase.
    pub encrypt: bool,
    /// Replace existing key files.
    pub force: bool,
}

/// The key pair written.
#[derive(Debug, Clone)]
pub struct KeygenOutcome {
    pub key_id: KeyId,
    pub private_key: PathBuf,
    pub public_key: PathBuf,
    pub encrypted: bool,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeygenError {
    #[error("--encrypt needs a passphrase: set {PASSPHRASE_ENV} or run in a terminal")]
    NoPassphrase,
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Generates a key and writes both files atomically. Existing files are refused (unless
/// `force`) before a key is made or `passphrase` is asked; `passphrase` is asked only with
/// `encrypt`, and an empty or missing one is refused.
pub fn keygen(
    req: &KeygenRequest,
    passphrase: impl FnOnce() -> Option<Zeroizing<String>>,
) -> Result<KeygenOutcome, KeygenError> {
    let public_path = public_key_path(&req.out);
    refuse_existing(&req.out, req.force)?;
    refuse_existing(&public_path, req.force)?;
    let key = PrivateKey::generate()?;
    let pass = if req.encrypt {
        match passphrase() {
            None => return Err(KeygenError::NoPassphrase),
            Some(p) if p.is_empty() => return Err(KeygenError::EmptyPassphrase),
            Some(p) => Some(p),
        }
    } else {
        None
    };
    let pem = key.to_pem(pass.as_ref().map(|p| p.as_str()))?;
    write_atomic(&req.out, pem.as_bytes(), 0o600, req.force)?;
    write_atomic(
        &public_path,
        key.public_key().to_pem().as_bytes(),
        0o644,
        req.force,
    )?;
    Ok(KeygenOutcome {
        key_id: key.key_id(),
        private_key: req.out.clone(),
        public_key: public_path,
        encrypted: pass.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(out: &Path, encrypt: bool, force: bool) -> KeygenRequest {
        KeygenRequest {
            out: out.to_path_buf(),
            encrypt,
            force,
        }
    }

    #[test]
    fn public_key_goes_beside_the_private_key() {
        assert_eq!(
            public_key_path(Path::new("keys/release.key")),
            Path::new("keys/release.key.pub")
        );
    }

    #[test]
    fn existing_files_are_refused_before_a_passphrase_is_asked() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("k.key");
        std::fs::write(public_key_path(&out), "old").unwrap();
        let mut asked = false;
        let err = keygen(&request(&out, true, false), || {
            asked = true;
            Some(Zeroizing::new("pw".into()))
        })
        .unwrap_err();
        assert!(matches!(err, KeygenError::Write(WriteError::Exists { .. })));
        assert!(!asked, "no prompt for a key that will not be written");
        assert!(!out.exists());
        let done = keygen(&request(&out, false, true), || None).unwrap();
        assert_eq!(done.public_key, public_key_path(&out));
        assert!(!done.encrypted);
    }

    #[test]
    fn encryption_without_a_usable_passphrase_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("k.key");
        assert!(matches!(
            keygen(&request(&out, true, false), || None),
            Err(KeygenError::NoPassphrase)
        ));
        assert!(matches!(
            keygen(&request(&out, true, false), || Some(Zeroizing::new(
                String::new()
            ))),
            Err(KeygenError::EmptyPassphrase)
        ));
        assert!(!out.exists());
        let done = keygen(&request(&out, true, false), || {
            Some(Zeroizing::new("pw".into()))
        })
        .unwrap();
        assert!(done.encrypted);
        let pem = std::fs::read_to_string(&out).unwrap();
        assert!(pem.contains("ENCRYPTED PRIVATE KEY"));
    }
}
