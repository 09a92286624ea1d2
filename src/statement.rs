//! The in-toto Statement v1 that carries a manifest: subjects are the pinned artifacts, the
//! predicate is the manifest. Read strictly: our own statements have no room for extra fields.

use crate::digest::{Algorithm, Digest};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The DSSE payload type of a statement (defined once, beside DSSE).
pub use crate::sigstore::dsse::IN_TOTO_PAYLOAD_TYPE as PAYLOAD_TYPE;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    pub name: String,
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    pub fn new(name: &str, digest: &Digest) -> Subject {
        let mut map = BTreeMap::new();
        map.insert(digest.algorithm().name().to_owned(), digest.hex());
        Subject {
            name: name.to_owned(),
            digest: map,
        }
    }

    /// The subject's digests as `Digest` values; unknown algorithms are skipped, malformed hex is not.
    pub fn digests(&self) -> Result<Vec<Digest>, String> {
        let mut out = Vec::new();
        for (alg, hex) in &self.digest {
            if alg == Algorithm::Sha256.name() || alg == Algorithm::Sha512.name() {
                out.push(
                    format!("{alg}:{hex}")
                        .parse::<Digest>()
                        .map_err(|e| e.to_string())?,
                );
            }
        }
        Ok(out)
    }
}

impl Statement {
    /// The canonical (RFC 8785) bytes that become the DSSE payload.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        crate::canonical::to_vec(&value).unwrap_or_default()
    }
}
