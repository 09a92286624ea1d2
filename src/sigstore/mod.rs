//! Sigstore: the bundle model, DSSE, keys, trusted roots, and our own verification of
//! certificates, SCTs, transparency log entries, inclusion proofs, checkpoints and timestamps.

pub mod bundle;
pub mod dsse;
pub mod error;
pub mod keys;
mod serde_pb;

pub use bundle::Bundle;
pub use error::SigstoreError;
