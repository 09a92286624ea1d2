//! mcpsig: sign and verify MCP servers. A manifest pins a server's code, launch configuration and
//! tool definitions; it is signed into a Sigstore bundle and verified before launch.
//!
//! Module map (dependencies point inward): `text`, `http`, `json`, `canonical`, `digest`,
//! `relpath` and `manifest` are leaves; `keys` and `sign` produce bundles; `verify` orchestrates.

pub mod canonical;
pub mod cli;
pub mod digest;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
mod http;
pub mod json;
pub mod keys;
pub mod manifest;
pub mod mcp;
pub mod reason;
pub mod relpath;
pub mod sign;
pub mod sigstore;
pub mod statement;
pub mod text;
pub mod tools;
pub mod verify;

/// Re-exported so callers name the same time types the library uses.
pub use chrono;

/// Kept here for callers that name `mcpsig::error_chain`.
pub use text::error_chain;
