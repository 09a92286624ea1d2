//! mcpsig
pub mod sigstore;
