//! Clients of the registries that artifacts are published to: what a manifest's package pins
//! are resolved and re-checked against, and where signed bundles are attached.

pub mod oci;
