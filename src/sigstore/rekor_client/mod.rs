//! Rekor clients. v1 (`POST /api/v1/log/entries`): logs a DSSE envelope (kind `dsse` 0.0.1) or
//! a message signature (kind `hashedrekord` 0.0.1) and returns the entry with its signed entry
//! timestamp and inclusion proof. v2 (`POST /api/v2/log/entries`): kind `hashedrekord` 0.0.2 (for
//! a DSSE envelope, over sha256 of its PAE) or `dsse` 0.0.2, answered with a bundle-ready
//! `TransparencyLogEntry` (inclusion proof and checkpoint, no time of its own). Before returning,
//! it checks that the body the log stored is the one we proposed (same hashes, signature and
//! certificate), so a log answering for something else is refused here rather than later by a
//! verifier.
//!
//! Files: `v1` (the v1 API and its answer), `v2` (the v2 API); this file holds what both share:
//! the errors and proposing an entry.

mod v1;
mod v2;

pub use v1::{RekorClient, RekorEntry, RekorInclusionProof};
pub use v2::RekorV2Client;

use crate::http::post_json;
use crate::text::excerpt;

/// Why an entry could not be logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RekorError {
    #[error("request to {url} failed: {problem}")]
    Http {
        url: String,
        problem: crate::http::PostError,
    },
    #[error("{url} answered http {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("unexpected answer from {url}: {problem}")]
    Answer { url: String, problem: AnswerProblem },
    #[error("entry logged by {url} does not match what we proposed: {what}")]
    Mismatch { url: String, what: Mismatch },
}

/// What was wrong with a log's answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnswerProblem {
    NotAnEntryMap(serde_json::Error),
    EntryCount(usize),
    NoEntry,
    MalformedEntry(serde_json::Error),
    BodyNotBase64(base64::DecodeError),
    BodyNotJson(serde_json::Error),
    NoKind(serde_json::Error),
    LogIdNotHex(hex::FromHexError),
    NoVerification,
    NoSignedEntryTimestamp,
    SignedEntryTimestampNotBase64(base64::DecodeError),
    RootHashNotHex(hex::FromHexError),
    ProofHashNotHex(hex::FromHexError),
    NotATransparencyLogEntry(serde_json::Error),
    NoInclusionProof,
}

impl std::fmt::Display for AnswerProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAnEntryMap(e) => write!(f, "not a log entry map: {e}"),
            Self::EntryCount(n) => write!(f, "expected one entry, got {n}"),
            Self::NoEntry => f.write_str("no entry"),
            Self::MalformedEntry(e) => write!(f, "malformed entry: {e}"),
            Self::BodyNotBase64(e) => write!(f, "entry body is not base64: {e}"),
            Self::BodyNotJson(e) => write!(f, "entry body is not json: {e}"),
            Self::NoKind(e) => write!(f, "entry body has no kind/apiVersion: {e}"),
            Self::LogIdNotHex(e) => write!(f, "logID is not hex: {e}"),
            Self::NoVerification => {
                f.write_str("entry has no verification (signed entry timestamp)")
            }
            Self::NoSignedEntryTimestamp => f.write_str("entry has no signed entry timestamp"),
            Self::SignedEntryTimestampNotBase64(e) => {
                write!(f, "signed entry timestamp is not base64: {e}")
            }
            Self::RootHashNotHex(e) => write!(f, "rootHash is not hex: {e}"),
            Self::ProofHashNotHex(e) => write!(f, "proof hash is not hex: {e}"),
            Self::NotATransparencyLogEntry(e) => write!(f, "not a TransparencyLogEntry: {e}"),
            Self::NoInclusionProof => f.write_str("entry has no inclusion proof"),
        }
    }
}

/// How a logged entry differs from the one we proposed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Mismatch {
    /// Our own envelope was not JSON, or would not serialize (so nothing could be compared).
    EnvelopeNotJson(serde_json::Error),
    EnvelopeNotSerializable(serde_json::Error),
    Kind {
        found: String,
        found_version: Option<String>,
        expected: &'static str,
        expected_version: Option<&'static str>,
    },
    HashedRekord,
    PayloadHash,
    Digest,
    SignatureCount {
        logged: usize,
        ours: usize,
    },
    Signature,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EnvelopeNotJson(e) => write!(f, "our envelope is not json: {e}"),
            Self::EnvelopeNotSerializable(e) => write!(f, "our envelope does not serialize: {e}"),
            Self::Kind {
                found,
                found_version: Some(fv),
                expected,
                expected_version: Some(ev),
            } => write!(f, "kind {found} {fv}, expected {expected} {ev}"),
            Self::Kind {
                found, expected, ..
            } => write!(f, "kind `{found}`, expected `{expected}`"),
            Self::HashedRekord => {
                f.write_str("hashedrekord digest, signature or certificate differ")
            }
            Self::PayloadHash => f.write_str("payload hash differs"),
            Self::Digest => f.write_str("digest differs"),
            Self::SignatureCount { .. } => f.write_str("number of signatures differs"),
            Self::Signature => f.write_str("signature or verifier differs"),
        }
    }
}
/// Proposes an entry to a log (v1 or v2 API) and returns the answer's body; any status other
/// than 2xx is an error quoting the body's start.
fn post_entry(
    agent: &ureq::Agent,
    url: &str,
    body: &serde_json::Value,
) -> Result<String, RekorError> {
    let reply = post_json(agent, url, None, body).map_err(|problem| RekorError::Http {
        url: url.to_owned(),
        problem,
    })?;
    if !(200..300).contains(&reply.status) {
        return Err(RekorError::Status {
            url: url.to_owned(),
            status: reply.status,
            body: excerpt(&reply.body),
        });
    }
    Ok(reply.body)
}
