//! Sigstore: the bundle model, DSSE, keys, trusted roots, and our own verification of
//! certificates, SCTs, transparency log entries, inclusion proofs, checkpoints and timestamps.

pub mod bundle;
pub mod cert;
pub mod checkpoint;
pub mod dsse;
pub mod error;
pub mod fulcio;
pub mod keys;
pub mod merkle;
pub mod name;
pub(crate) mod oid;
pub mod policy;
pub mod rekor;
pub mod rekor_client;
pub mod rfc3161;
mod serde_pb;
pub mod signer_info;
pub mod signing_config;
pub mod trust;
pub mod tsa;
pub mod tsa_client;
pub mod tuf;
pub mod verify;

pub use bundle::Bundle;
pub use error::SigstoreError;
pub use verify::{
    ArtifactRef, SignerInfo, SignerPolicy, TimeSource, VerifiedBundle, VerifiedTime, VerifyOptions,
    verify_bundle,
};
