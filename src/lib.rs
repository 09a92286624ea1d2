//! mcpsig: sign and verify MCP servers. A manifest pins a server's code, launch configuration and
//! tool definitions; it is signed into a Sigstore bundle and verified before launch.
//!
//! Module map (dependencies point inward, checked by tests/layering.rs): `reason`, `text`,
//! `json`, `http`, `relpath`, `fsutil`, `canonical`, `digest` and `manifest` are the leaves;
//! `sigstore` and `statement` read and check bundles; `mcpb_sig` checks the signatures `.mcpb`
//! files carry themselves; `mcp` and `tools` talk to servers; `keys`
//! and `sign` produce bundles; `verify` orchestrates.
//!
//! The library decides and returns values; it never prints. Each command of the two binaries is
//! one typed request here (`manifest::init::InitRequest`, `keygen::KeygenRequest`,
//! `trust_request::TrustRequest`, `verify::Request`, ...), so a program using the crate gets
//! exactly what the command line does. Exit codes, error rendering, colour, prompts and progress
//! live in the binaries' internal `mcpsig-cli-support` crate.

pub mod artifact;
pub mod canonical;
/// Verifying many bundles at once, in parallel, with bounded memory (`mcp-verify catalog`).
pub mod catalog;
pub mod client_config;
/// Signature verification behind a provider trait (aws-lc-rs or pure Rust).
pub mod crypto;
pub mod digest;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
/// The stdio proxy that keeps a running server to its signed tool pins.
pub mod guard;
pub mod http;
pub mod json;
pub mod keygen;
pub mod keys;
/// Starting a verified server from its store snapshot.
pub mod launch;
pub mod manifest;
pub mod mcp;
/// The PKCS#7 signatures MCP bundles (`.mcpb`) carry themselves (spec/mcpb.md).
pub mod mcpb_sig;
/// Trust on first use: the pinned signer, version and tools per server name.
pub mod pin_store;
/// The trust policy: who may sign which servers, min version, max age, revocation.
pub mod policy;
pub mod reason;
/// Registry clients: npm, PyPI (packages and their trees) and OCI (attach and discover
/// bundles, check pinned images).
pub mod registry;
pub mod relpath;
pub mod remote;
pub mod server_env;
pub mod sign;
pub mod sigstore;
pub mod statement;
/// Private, read-only, content-addressed snapshots that servers are launched from.
pub mod store;
pub mod text;
pub mod tools;
/// What a verifier trusts, decided from the trust options (`TrustRequest` -> `Trust`).
pub mod trust_request;
pub mod verify;

/// Re-exported so callers name the same time types the library uses.
pub use chrono;

/// Kept here for callers that name `mcpsig::error_chain`.
pub use text::error_chain;
