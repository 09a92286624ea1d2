//! Signing: a `Signer` turns a DSSE payload into a Sigstore bundle. Backends: a local Ed25519
//! key (here) and keyless Sigstore (`keyless`). `sign_manifest` wraps a manifest into an in-toto
//! statement first, so every backend signs the same bytes.

pub mod attach;
mod bundle_file;
mod instance;
pub mod keyless;
pub mod oidc;

use crate::keys::PrivateKey;
use crate::manifest::{Manifest, PREDICATE_TYPE};
use crate::sigstore::bundle::{
    Bundle, Content, MEDIA_TYPE_V0_3_NEW, SignerMaterial, VerificationMaterial,
};
use crate::sigstore::dsse::{self, Envelope};
use crate::statement::{PAYLOAD_TYPE, STATEMENT_TYPE, Statement, Subject};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    #[error("manifest cannot be signed")]
    Manifest(#[source] crate::manifest::ManifestError),
    #[error("signing failed: {0}")]
    Backend(String),
}

/// Something that signs a DSSE payload and returns a complete bundle.
pub trait Signer {
    fn sign_dsse(&self, payload_type: &str, payload: &[u8]) -> Result<Bundle, SignError>;
}

/// Signs with a local key. The bundle names the key by its id (`publicKey.hint`); it carries no
/// transparency-log entry, so verifiers must be given the public key.
pub struct KeySigner<'a> {
    key: &'a PrivateKey,
}

impl<'a> KeySigner<'a> {
    pub fn new(key: &'a PrivateKey) -> KeySigner<'a> {
        KeySigner { key }
    }
}

impl Signer for KeySigner<'_> {
    fn sign_dsse(&self, payload_type: &str, payload: &[u8]) -> Result<Bundle, SignError> {
        let sig = self.key.sign(&dsse::pae(payload_type, payload));
        let key_id = self.key.key_id().hex();
        Ok(Bundle {
            media_type: MEDIA_TYPE_V0_3_NEW.to_owned(),
            verification_material: VerificationMaterial {
                signer: SignerMaterial::PublicKey {
                    hint: key_id.clone(),
                },
                tlog_entries: Vec::new(),
                timestamp_verification_data: None,
            },
            content: Content::DsseEnvelope(Envelope {
                payload: payload.to_vec(),
                payload_type: payload_type.to_owned(),
                signatures: vec![dsse::Signature { sig, keyid: key_id }],
            }),
        })
    }
}

/// The in-toto statement for a manifest: one subject per artifact.
pub fn statement_for(manifest: &Manifest) -> Statement {
    Statement {
        type_: STATEMENT_TYPE.to_owned(),
        subject: manifest
            .subjects()
            .iter()
            .map(|(name, d)| Subject::new(name, d))
            .collect(),
        predicate_type: PREDICATE_TYPE.to_owned(),
        predicate: serde_json::to_value(manifest).unwrap_or(serde_json::Value::Null),
    }
}

/// Checks the manifest and signs its statement (RFC 8785 bytes) with `signer`.
pub fn sign_manifest(manifest: &Manifest, signer: &dyn Signer) -> Result<Bundle, SignError> {
    manifest.check().map_err(SignError::Manifest)?;
    let payload = statement_for(manifest).to_canonical_bytes();
    signer.sign_dsse(PAYLOAD_TYPE, &payload)
}
