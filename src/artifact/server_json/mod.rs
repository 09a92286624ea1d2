//! The MCP registry's `server.json` (its published schema is copied in testdata/server-json/;
//! the mapping is spec/server-json.md): the document read strictly, and the `packages[]` entry
//! model that importing (`import`: entries into pins and a launch) and exporting (`export`: pins
//! into entries) share.

pub mod export;
pub mod import;

use crate::json::JsonError;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The schema version this code reads and writes.
pub const SCHEMA_URL: &str =
    "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";

/// Why a document is not a `server.json` this code can read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    #[error("not valid JSON")]
    Json(#[source] JsonError),
    #[error("not a server.json: {0}")]
    Shape(String),
}

/// A `server.json`: the fields mcpsig reads, and the whole document (kept for merging, every
/// field it does not know left as it was).
#[derive(Debug, Clone)]
pub struct ServerJson {
    pub name: Option<String>,
    pub version: Option<String>,
    pub packages: Vec<PackageEntry>,
    /// How many `remotes` it lists: remote servers have no code to pin.
    pub remotes: usize,
    document: Map<String, Value>,
}

/// One `packages[]` entry: what mcpsig reads of it. Fields it does not know are allowed (the
/// schema allows them) and ignored; a known field of the wrong type is an error.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageEntry {
    pub registry_type: String,
    #[serde(default)]
    pub registry_base_url: Option<String>,
    pub identifier: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub file_sha256: Option<String>,
    pub transport: Transport,
    #[serde(default)]
    pub runtime_arguments: Vec<Argument>,
    #[serde(default)]
    pub package_arguments: Vec<Argument>,
    #[serde(default)]
    pub environment_variables: Vec<KeyValueInput>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Transport {
    /// `stdio`, `streamable-http` or `sse`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArgumentKind {
    Positional,
    Named,
}

/// A `packageArguments` (or `runtimeArguments`) item.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Argument {
    #[serde(rename = "type")]
    pub kind: ArgumentKind,
    /// A named argument's flag, leading dashes included.
    #[serde(default)]
    pub name: Option<String>,
    /// A fixed value; `{curly_braces}` in it stand for values the user supplies.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub value_hint: Option<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, Value>,
}

/// An `environmentVariables` item.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyValueInput {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub is_secret: bool,
    #[serde(default)]
    pub variables: BTreeMap<String, Value>,
}

impl ServerJson {
    /// Reads a document: strict JSON (duplicate keys refused, size bounded), an object, and
    /// the fields mcpsig uses of the right types.
    pub fn parse(bytes: &[u8]) -> Result<ServerJson, DocumentError> {
        let value = crate::json::parse_value(bytes).map_err(DocumentError::Json)?;
        let Value::Object(document) = value else {
            return Err(DocumentError::Shape(
                "the document is not a JSON object".into(),
            ));
        };
        let text = |key: &str| match document.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(DocumentError::Shape(format!("`{key}` is not a string"))),
        };
        let (name, version) = (text("name")?, text("version")?);
        let packages = match document.get("packages") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    PackageEntry::deserialize(item).map_err(|e| {
                        DocumentError::Shape(format!(
                            "packages[{i}]: {}",
                            crate::text::one_line(&e.to_string(), 300)
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(DocumentError::Shape("`packages` is not an array".into())),
        };
        let remotes = match document.get("remotes") {
            None => 0,
            Some(Value::Array(items)) => items.len(),
            Some(_) => return Err(DocumentError::Shape("`remotes` is not an array".into())),
        };
        Ok(ServerJson {
            name,
            version,
            packages,
            remotes,
            document,
        })
    }

    /// The whole document as read.
    pub fn document(&self) -> &Map<String, Value> {
        &self.document
    }
}

impl PackageEntry {
    /// How messages name entry `index`: `packages[0] (npm @scope/name)`.
    pub fn label(&self, index: usize) -> String {
        format!(
            "packages[{index}] ({} {})",
            crate::text::one_line(&self.registry_type, 40),
            crate::text::one_line(&self.identifier, 200)
        )
    }
}

/// Whether `s` holds a `{curly_braces}` placeholder: a value the user supplies at install.
pub(crate) fn has_placeholder(s: &str) -> bool {
    s.find('{')
        .is_some_and(|open| s[open..].find('}').is_some_and(|close| close > 1))
}

/// An OCI identifier as the schema spells it, `[REGISTRY/]NAMESPACE/IMAGE[:TAG][@DIGEST]`, with
/// Docker Hub's defaults made explicit (`postgres` is `docker.io/library/postgres`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciIdentifier {
    /// `REGISTRY/REPOSITORY`, as a manifest's `oci` artifact names it.
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<crate::digest::Digest>,
}

impl OciIdentifier {
    pub fn parse(s: &str) -> Result<OciIdentifier, crate::manifest::packages::PackageProblem> {
        use crate::manifest::packages::{PackageProblem, valid_oci_name, valid_oci_tag};
        let shown = || crate::text::one_line(s, 200);
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => (
                rest,
                Some(d.parse().map_err(|_| PackageProblem::OciName(shown()))?),
            ),
            None => (s, None),
        };
        // The tag follows a `:` after the last `/` (a registry's port comes before one).
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repo, tag) = match rest[slash..].find(':') {
            Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag
            && !valid_oci_tag(t)
        {
            return Err(PackageProblem::OciTag(crate::text::one_line(t, 200)));
        }
        let first = repo.split('/').next().unwrap_or_default();
        let has_registry = repo.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost");
        let name = match (has_registry, repo.contains('/')) {
            (true, _) => repo.to_owned(),
            (false, true) => format!("docker.io/{repo}"),
            (false, false) => format!("docker.io/library/{repo}"),
        };
        if !valid_oci_name(&name) {
            return Err(PackageProblem::OciName(shown()));
        }
        Ok(OciIdentifier {
            name,
            tag: tag.map(str::to_owned),
            digest,
        })
    }
}

impl std::fmt::Display for OciIdentifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_read_strictly() {
        let ok = br#"{"name": "io.github.a/b", "version": "1.0.0", "extra": 1,
            "packages": [{"registryType": "npm", "identifier": "x", "version": "1.0.0",
                          "transport": {"type": "stdio"}, "unknownField": true}]}"#;
        let d = ServerJson::parse(ok).unwrap();
        assert_eq!(d.packages.len(), 1);
        assert_eq!(d.name.as_deref(), Some("io.github.a/b"));
        for bad in [
            &br#"{"name": "a", "name": "b"}"#[..],
            br#"[]"#,
            br#"{"packages": {}}"#,
            br#"{"packages": [{"registryType": "npm", "identifier": "x"}]}"#,
            br#"{"packages": [{"registryType": 1, "identifier": "x", "transport": {"type": "stdio"}}]}"#,
            br#"{"version": 1}"#,
        ] {
            assert!(ServerJson::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn oci_identifiers() {
        let hex = "a".repeat(64);
        let id = OciIdentifier::parse(&format!("ghcr.io/acme/w:v1@sha256:{hex}")).unwrap();
        assert_eq!(id.name, "ghcr.io/acme/w");
        assert_eq!(id.tag.as_deref(), Some("v1"));
        assert!(id.digest.is_some());
        assert_eq!(id.to_string(), format!("ghcr.io/acme/w:v1@sha256:{hex}"));
        assert_eq!(
            OciIdentifier::parse("postgres:16").unwrap().name,
            "docker.io/library/postgres"
        );
        assert_eq!(
            OciIdentifier::parse("127.0.0.1:5000/acme/w").unwrap(),
            OciIdentifier {
                name: "127.0.0.1:5000/acme/w".into(),
                tag: None,
                digest: None
            }
        );
        for bad in [
            "",
            "Acme/W:1",
            "ghcr.io/a/w@sha256:12",
            "ghcr.io/a/w:bad tag",
        ] {
            assert!(OciIdentifier::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn placeholders() {
        assert!(has_placeholder("--dir={path}"));
        assert!(!has_placeholder("plain"));
        assert!(!has_placeholder("{}"));
        assert!(!has_placeholder("}{"));
    }
}
