//! One pin record: what the store keeps for one server name, and its file format
//! (spec/pin-store.md, "Record file").

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::manifest::pins::{ItemKind, ToolPins};
use crate::manifest::{ServerName, Timestamp, Version};
use crate::tools::diff::DiffCode;
use crate::verify::SignerSummary;

/// The only `schemaVersion` of a record file this code reads and writes.
pub const RECORD_SCHEMA_VERSION: u32 = 1;
/// Largest record file read: the bound of every JSON document (a record holds one manifest's
/// tool pins, which that bound already limits).
pub const MAX_RECORD_BYTES: u64 = crate::json::MAX_DOCUMENT_BYTES as u64;
/// Approvals kept per record, newest last; older ones are dropped.
pub const MAX_APPROVALS: usize = 64;

/// Who signed the pinned release, as the store compares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum PinnedSigner {
    /// A key, by its id (sha256 of the SPKI DER, hex).
    #[serde(rename_all = "camelCase")]
    Key { key_id: String },
    /// A keyless certificate: its OIDC issuer and its identity (SAN), the latter without the
    /// `@refs/...` suffix a CI workflow identity carries (see [`workflow_identity`]).
    #[serde(rename_all = "camelCase")]
    Certificate {
        issuer: Option<String>,
        identity: String,
    },
}

impl PinnedSigner {
    /// The signer a verification established, in the form the store pins.
    pub fn from_summary(s: &SignerSummary) -> PinnedSigner {
        match s {
            SignerSummary::Key { key_id } => PinnedSigner::Key {
                key_id: key_id.clone(),
            },
            SignerSummary::Certificate {
                identity, issuer, ..
            } => PinnedSigner::Certificate {
                issuer: issuer.clone(),
                identity: workflow_identity(identity).to_owned(),
            },
        }
    }
}

/// An identity or issuer for a message: control characters (a newline that would forge a line
/// of a report) written as `\u{..}`. JSON keeps the exact value.
fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

impl std::fmt::Display for PinnedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PinnedSigner::Key { key_id } => write!(f, "key {}", escaped(key_id)),
            PinnedSigner::Certificate {
                issuer: Some(i),
                identity,
            } => write!(f, "{} (issuer {})", escaped(identity), escaped(i)),
            PinnedSigner::Certificate {
                issuer: None,
                identity,
            } => write!(f, "{} (no issuer)", escaped(identity)),
        }
    }
}

/// A CI workflow identity names the git ref it ran for (`https://github.com/o/r/.github/
/// workflows/rel.yml@refs/tags/v1.2`), which changes with every release: the pin keeps the
/// identity up to `@refs/`, so the same workflow of the same repository signing the next tag is
/// the same signer. Other identities (emails, URIs without a ref) are kept whole.
pub fn workflow_identity(san: &str) -> &str {
    match san.rfind("@refs/") {
        Some(i) => &san[..i],
        None => san,
    }
}

/// One change in an approval: which definition, and how it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeSummary {
    pub kind: ItemKind,
    pub name: String,
    pub code: DiffCode,
}

/// A release whose permission changes the user approved (`--accept`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approval {
    pub version: Version,
    pub manifest_digest: Digest,
    pub approved_at: Timestamp,
    /// The changes that needed the approval.
    pub changes: Vec<ChangeSummary>,
    /// Environment variables the release newly takes from the caller's environment
    /// (its launch's `envNames`), approved with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_names: Vec<String>,
}

/// What the store keeps for one server name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PinRecord {
    pub schema_version: u32,
    pub server: ServerName,
    pub signer: PinnedSigner,
    /// The highest version admitted.
    pub version: Version,
    /// `Manifest::digest()` of that release.
    pub manifest_digest: Digest,
    /// That release's tool pins, in full (a later release is compared with them).
    pub tools: Option<ToolPins>,
    /// That release's launch `envNames`, sorted: the variables it takes from the caller's
    /// environment (they may carry secrets). A later release asking for another needs approval.
    /// Absent in records written before this field existed: read as none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_names: Vec<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub approvals: Vec<Approval>,
}

/// Why a record file cannot be used. The file is left as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CorruptProblem {
    #[error("it is not a regular file")]
    NotAFile,
    #[error("it is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("it is not a valid pin record")]
    Json(#[source] crate::json::JsonError),
    #[error(
        "its schemaVersion is {found}; this mcpsig reads version {RECORD_SCHEMA_VERSION} (written by a newer mcpsig?)"
    )]
    Version { found: u64 },
    #[error("it holds the record of `{server}`, which belongs in another file")]
    Misplaced { server: ServerName },
    #[error("its signer key id `{key_id}` is not 64 lowercase hex digits")]
    KeyId { key_id: String },
    #[error("its tool pins are inconsistent")]
    Pins(#[source] crate::manifest::pins::PinsError),
}

/// The record file of a server name: the sha256 of the name, in hex, then `.json`. A hash keeps
/// names that differ only in case apart on case-insensitive file systems, and is a safe file name
/// whatever the name holds.
pub fn file_name(name: &ServerName) -> String {
    format!("{}.json", Digest::sha256_of(name.as_str().as_bytes()).hex())
}

/// Whether a directory entry is a record file (anything else in the store is not read).
pub fn is_record_file_name(name: &str) -> bool {
    name.strip_suffix(".json").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl PinRecord {
    /// Reads a record file's bytes strictly; `file` is the file's name, which must be the one
    /// [`file_name`] gives for the server the record names.
    pub fn parse(bytes: &[u8], file: &str) -> Result<PinRecord, CorruptProblem> {
        let value = crate::json::parse_value(bytes).map_err(CorruptProblem::Json)?;
        if let Some(v) = value.get("schemaVersion").and_then(|v| v.as_u64())
            && v != u64::from(RECORD_SCHEMA_VERSION)
        {
            return Err(CorruptProblem::Version { found: v });
        }
        let record: PinRecord = serde_json::from_value(value)
            .map_err(|e| CorruptProblem::Json(crate::json::JsonError::Shape(e)))?;
        if record.schema_version != RECORD_SCHEMA_VERSION {
            return Err(CorruptProblem::Version {
                found: u64::from(record.schema_version),
            });
        }
        if file_name(&record.server) != file {
            return Err(CorruptProblem::Misplaced {
                server: record.server,
            });
        }
        if let PinnedSigner::Key { key_id } = &record.signer
            && !(key_id.len() == 64
                && key_id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        {
            return Err(CorruptProblem::KeyId {
                key_id: key_id.clone(),
            });
        }
        if let Some(pins) = &record.tools {
            pins.validate().map_err(CorruptProblem::Pins)?;
        }
        Ok(record)
    }

    /// The file's bytes: pretty JSON and a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_identities_drop_the_ref() {
        assert_eq!(
            workflow_identity(
                "https://github.com/acme/wx/.github/workflows/rel.yml@refs/tags/v1.2"
            ),
            "https://github.com/acme/wx/.github/workflows/rel.yml"
        );
        assert_eq!(workflow_identity("me@example.com"), "me@example.com");
        let a = PinnedSigner::from_summary(&SignerSummary::Certificate {
            identity: "https://github.com/acme/wx/.github/workflows/rel.yml@refs/tags/v1".into(),
            issuer: Some("https://token.actions.githubusercontent.com".into()),
            extensions: Default::default(),
            log_time: None,
        });
        let b = PinnedSigner::from_summary(&SignerSummary::Certificate {
            identity: "https://github.com/acme/wx/.github/workflows/rel.yml@refs/tags/v2".into(),
            issuer: Some("https://token.actions.githubusercontent.com".into()),
            extensions: Default::default(),
            log_time: None,
        });
        assert_eq!(a, b);
        let other_repo = PinnedSigner::from_summary(&SignerSummary::Certificate {
            identity: "https://github.com/evil/wx/.github/workflows/rel.yml@refs/tags/v2".into(),
            issuer: Some("https://token.actions.githubusercontent.com".into()),
            extensions: Default::default(),
            log_time: None,
        });
        assert_ne!(a, other_repo);
        let forged = PinnedSigner::Certificate {
            issuer: None,
            identity: "me@example.com\n  [ok] verified".into(),
        };
        assert_eq!(
            forged.to_string(),
            "me@example.com\\u{a}  [ok] verified (no issuer)"
        );
    }

    #[test]
    fn record_file_names() {
        let n = ServerName::parse("io.github.acme/wx").unwrap();
        let f = file_name(&n);
        assert!(is_record_file_name(&f), "{f}");
        assert_ne!(
            f,
            file_name(&ServerName::parse("io.github.acme/WX").unwrap())
        );
        assert!(!is_record_file_name(".lock"));
        assert!(!is_record_file_name(".mcpsig-abc"));
        assert!(!is_record_file_name(&f.to_uppercase()));
    }
}
