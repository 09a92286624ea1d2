//! Signing backends. (Placeholder holding only the keyless modules; the lead's `Signer` trait
//! and local-key signer live here on main.)

pub mod keyless;
pub mod oidc;
