//! `mcp-sign server-json`: a manifest's package pins as `packages[]` entries, each with the
//! `fileSha256` of the file it pins (an image: its digest in the identifier), merged into an
//! existing `server.json` when one is given.

use super::{OciIdentifier, PackageEntry, SCHEMA_URL, ServerJson};
use crate::manifest::Artifact;
use crate::manifest::Manifest;
use crate::manifest::packages::normalize_pypi_name;
use serde_json::{Map, Value, json};
use std::fmt;

/// What exporting produced.
#[derive(Debug)]
pub struct Exported {
    /// The entries for the manifest's package artifacts, in its order (an MCP bundle only when
    /// the document gives its download URL).
    pub packages: Vec<Value>,
    /// The whole document with them merged in, when one was given.
    pub document: Option<Value>,
    pub notes: Vec<Note>,
}

/// Something the caller should tell the user; the entries were still written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Note {
    /// An artifact kind that is no package of the registry (a directory, a file).
    NotAPackage { kind: &'static str, name: String },
    /// An MCP bundle whose download URL the manifest does not hold and no entry gives.
    BundleWithoutUrl { name: String },
    /// An entry of the document no pinned artifact matches, kept as it was.
    Unpinned { entry: String },
    /// A field of the document replaced by the pinned value.
    Changed {
        what: String,
        from: String,
        to: String,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::NotAPackage { kind, name } => {
                write!(
                    f,
                    "{kind} artifact `{name}` is not a registry package: not listed"
                )
            }
            Note::BundleWithoutUrl { name } => write!(
                f,
                "MCP bundle `{name}`: no download URL (give --from a server.json whose mcpb entry \
                 names it): not listed"
            ),
            Note::Unpinned { entry } => {
                write!(f, "{entry} is not pinned by the manifest: kept as it was")
            }
            Note::Changed { what, from, to } => write!(f, "{what}: {from} -> {to}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error(
        "the server.json describes `{document}`, the manifest `{manifest}`: they are not the same server"
    )]
    OtherServer { manifest: String, document: String },
    #[error("the manifest pins no npm, pypi, oci or mcpb package")]
    NoPackages,
}

/// The `packages[]` entries of `manifest`, merged into `into` when given.
pub fn export(manifest: &Manifest, into: Option<&ServerJson>) -> Result<Exported, ExportError> {
    let mut notes = Vec::new();
    let name = manifest.server.name.as_str();
    if let Some(doc) = into
        && let Some(theirs) = &doc.name
        && theirs != name
    {
        return Err(ExportError::OtherServer {
            manifest: name.to_owned(),
            document: crate::text::one_line(theirs, 200),
        });
    }
    let existing: &[PackageEntry] = into.map(|d| d.packages.as_slice()).unwrap_or_default();
    let values: Vec<Value> = into
        .and_then(|d| d.document().get("packages"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut merged = values.clone();
    let mut matched = vec![false; existing.len()];
    let mut packages = Vec::new();
    let mut any_package = false;
    for a in &manifest.artifacts {
        if matches!(a, Artifact::Directory { .. } | Artifact::File { .. }) {
            notes.push(Note::NotAPackage {
                kind: a.kind(),
                name: a.name().to_owned(),
            });
            continue;
        }
        any_package = true;
        let found = existing
            .iter()
            .enumerate()
            .position(|(i, e)| !matched[i] && same_package(a, e));
        let mut entry = match found {
            Some(i) => match &merged[i] {
                Value::Object(m) => m.clone(),
                _ => Map::new(),
            },
            None => Map::new(),
        };
        let label = found.map(|i| existing[i].label(i));
        if !fill(&mut entry, a, label.as_deref(), &mut notes) {
            continue;
        }
        let value = Value::Object(entry);
        match found {
            Some(i) => {
                matched[i] = true;
                merged[i] = value.clone();
            }
            None => merged.push(value.clone()),
        }
        packages.push(value);
    }
    if !any_package {
        return Err(ExportError::NoPackages);
    }
    for (i, e) in existing.iter().enumerate() {
        if !matched[i] {
            notes.push(Note::Unpinned { entry: e.label(i) });
        }
    }
    let document = into.map(|doc| {
        let mut d = Map::new();
        if !doc.document().contains_key("$schema") {
            d.insert("$schema".into(), json!(SCHEMA_URL));
        }
        d.extend(doc.document().clone());
        let version = manifest.server.version.as_str();
        if let Some(old) = d.get("version").and_then(Value::as_str)
            && old != version
        {
            notes.push(Note::Changed {
                what: "version".into(),
                from: crate::text::one_line(old, 100),
                to: version.to_owned(),
            });
        }
        d.insert("name".into(), json!(name));
        d.insert("version".into(), json!(version));
        d.insert("packages".into(), Value::Array(merged));
        Value::Object(d)
    });
    Ok(Exported {
        packages,
        document,
        notes,
    })
}

/// Whether entry `e` describes artifact `a`: same registry type and the same package (an
/// image by repository, a bundle by its URL's file name).
fn same_package(a: &Artifact, e: &PackageEntry) -> bool {
    match (a, e.registry_type.as_str()) {
        (Artifact::Npm { name, .. }, "npm") => &e.identifier == name,
        (Artifact::Pypi { name, .. }, "pypi") => {
            normalize_pypi_name(&e.identifier) == normalize_pypi_name(name)
        }
        (Artifact::Oci { name, .. }, "oci") => {
            OciIdentifier::parse(&e.identifier).is_ok_and(|id| &id.name == name)
        }
        (Artifact::Mcpb { name, .. }, "mcpb") => bundle_file_name(&e.identifier) == name.as_str(),
        _ => false,
    }
}

fn bundle_file_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    path.rsplit('/').next().unwrap_or_default()
}

/// Writes the pinned fields of `a` into `entry` (an existing one keeps its other fields);
/// false when `a` cannot be listed.
fn fill(
    entry: &mut Map<String, Value>,
    a: &Artifact,
    label: Option<&str>,
    notes: &mut Vec<Note>,
) -> bool {
    let mut set = |entry: &mut Map<String, Value>, key: &str, value: Value| {
        if let (Some(label), Some(old)) = (label, entry.get(key))
            && old != &value
        {
            notes.push(Note::Changed {
                what: format!("{label} {key}"),
                from: crate::text::one_line(&old.to_string(), 100),
                to: value.to_string(),
            });
        }
        entry.insert(key.to_owned(), value);
    };
    match a {
        Artifact::Npm {
            name,
            version,
            digest,
            ..
        }
        | Artifact::Pypi {
            name,
            version,
            digest,
            ..
        } => {
            set(entry, "registryType", json!(a.kind()));
            set(entry, "identifier", json!(name));
            set(entry, "version", json!(version));
            set(entry, "fileSha256", json!(digest.hex()));
        }
        Artifact::Oci { name, digest, tag } => {
            let id = OciIdentifier {
                name: name.clone(),
                tag: tag.clone(),
                digest: Some(digest.clone()),
            };
            set(entry, "registryType", json!("oci"));
            // The digest is the pin; the identifier carries it (and the tag, informative).
            set(entry, "identifier", json!(id.to_string()));
            entry.remove("version");
            entry.remove("fileSha256");
        }
        Artifact::Mcpb { name, digest, .. } => {
            if label.is_none() {
                notes.push(Note::BundleWithoutUrl {
                    name: name.to_string(),
                });
                return false;
            }
            set(entry, "fileSha256", json!(digest.hex()));
        }
        Artifact::Directory { .. } | Artifact::File { .. } => return false,
    }
    if !entry.contains_key("transport") {
        entry.insert("transport".into(), json!({"type": "stdio"}));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let hex = "ab".repeat(32);
        let integrity = format!("sha512-{}", "A".repeat(86) + "==");
        Manifest::from_value(json!({
            "schemaVersion": 1,
            "server": {"name": "io.github.acme/w", "version": "2.0.0"},
            "issuedAt": "2026-11-24T12:00:00Z",
            "artifacts": [
                {"kind": "npm", "name": "@acme/w", "version": "2.0.0",
                 "digest": format!("sha256:{hex}"), "integrity": integrity},
                {"kind": "oci", "name": "ghcr.io/acme/w", "digest": format!("sha256:{hex}"),
                 "tag": "v2"},
                {"kind": "file", "name": "notes.txt", "digest": format!("sha256:{hex}"), "size": 1}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn entries_carry_the_pins() {
        let out = export(&manifest(), None).unwrap();
        let hex = "ab".repeat(32);
        assert_eq!(
            out.packages,
            [
                json!({"registryType": "npm", "identifier": "@acme/w", "version": "2.0.0",
                       "fileSha256": hex, "transport": {"type": "stdio"}}),
                json!({"registryType": "oci",
                       "identifier": format!("ghcr.io/acme/w:v2@sha256:{hex}"),
                       "transport": {"type": "stdio"}}),
            ]
        );
        assert!(out.document.is_none());
        assert_eq!(out.notes.len(), 1);
    }

    #[test]
    fn merging_keeps_what_the_document_says() {
        let doc = ServerJson::parse(
            br#"{"name": "io.github.acme/w", "description": "W", "version": "1.0.0",
                "packages": [
                  {"registryType": "nuget", "identifier": "Acme.W", "version": "1.0.0",
                   "transport": {"type": "stdio"}},
                  {"registryType": "npm", "identifier": "@acme/w", "version": "1.0.0",
                   "transport": {"type": "stdio"},
                   "environmentVariables": [{"name": "API_KEY", "isSecret": true}]}
                ]}"#,
        )
        .unwrap();
        let out = export(&manifest(), Some(&doc)).unwrap();
        let d = out.document.unwrap();
        assert_eq!(d["version"], "2.0.0");
        assert_eq!(d["$schema"], SCHEMA_URL);
        assert_eq!(d["packages"][0]["registryType"], "nuget");
        assert_eq!(d["packages"][1]["version"], "2.0.0");
        assert_eq!(
            d["packages"][1]["environmentVariables"][0]["name"],
            "API_KEY"
        );
        assert_eq!(d["packages"][2]["registryType"], "oci");
        assert!(out.notes.iter().any(|n| matches!(n, Note::Unpinned { .. })));
        let other = ServerJson::parse(br#"{"name": "io.github.other/w"}"#).unwrap();
        assert!(matches!(
            export(&manifest(), Some(&other)),
            Err(ExportError::OtherServer { .. })
        ));
    }
}
