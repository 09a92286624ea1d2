//! mcpsig: sign and verify MCP servers. A manifest pins a server's code, launch configuration and
//! tool definitions; it is signed into a Sigstore bundle and verified before launch.
//!
//! Module map (dependencies point inward): `json`, `canonical`, `digest`, `relpath` and
//! `manifest` are leaves; `keys` and `sign` produce bundles; `verify` orchestrates.
//!
//! The library decides and returns values; it never prints. Each command of the two binaries is
//! one typed request here (`manifest::init::InitRequest`, `keygen::KeygenRequest`,
//! `trust_request::TrustRequest`, `verify::Request`, ...), so a program using the crate gets
//! exactly what the command line does. Exit codes, error rendering, colour, prompts and progress
//! live in the binaries' internal `mcpsig-cli-support` crate.

pub mod canonical;
mod cli;
pub mod digest;
pub mod fsutil;
pub mod json;
pub mod keygen;
pub mod keys;
pub mod manifest;
pub mod mcp;
pub mod reason;
pub mod relpath;
pub mod sign;
pub mod sigstore;
pub mod statement;
pub mod tools;
/// What a verifier trusts, decided from the trust options (`TrustRequest` -> `Trust`).
pub mod trust_request;
pub mod verify;

/// Re-exported so callers name the same time types the library uses.
pub use chrono;

/// An error and its causes on one line (`outer: cause: root cause`), for reports and for errors
/// that carry another error's text.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
