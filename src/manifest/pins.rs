//! Tool-definition pins, as the manifest carries them (spec/tools.md): what a server listed
//! (tools, prompts, resource templates), each kept as the raw JSON object it sent plus the
//! sha256 of its RFC 8785 form, and the profile it was captured under. The types and their own
//! consistency checks live here, beside the manifest that signs them; capturing them from a
//! live server and comparing them is the `tools` module's work.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::digest::Digest;

/// A client capability a server may change its tool list for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    Elicitation,
    Roots,
    Sampling,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Elicitation => "elicitation",
            Capability::Roots => "roots",
            Capability::Sampling => "sampling",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "elicitation" => Some(Capability::Elicitation),
            "roots" => Some(Capability::Roots),
            "sampling" => Some(Capability::Sampling),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ItemKind {
    Tool,
    Prompt,
    ResourceTemplate,
    /// The server's `instructions` text.
    Instructions,
    /// The capture profile itself (protocol version, argv, ...).
    Profile,
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ItemKind::Tool => "tool",
            ItemKind::Prompt => "prompt",
            ItemKind::ResourceTemplate => "resource template",
            ItemKind::Instructions => "server",
            ItemKind::Profile => "profile",
        })
    }
}

/// What is inconsistent in a capture profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileProblem {
    #[error("clientCapabilities must be sorted without repeats")]
    CapabilitiesNotSorted,
    #[error("envNames must be sorted without repeats")]
    EnvNamesNotSorted,
    #[error("a stdio profile needs argv and no url")]
    StdioShape,
    #[error("a streamable-http profile needs a url and no argv")]
    HttpShape,
}

/// Pins that fail their own checks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinsError {
    #[error("a definition has no `name` string")]
    Unnamed,
    #[error("definition of `{name}` cannot be canonicalized")]
    Canonical {
        name: String,
        #[source]
        source: crate::canonical::CanonError,
    },
    #[error("pinned {kind} `{name}`: digest {pinned} does not match its definition ({computed})")]
    DigestMismatch {
        kind: ItemKind,
        name: String,
        pinned: Digest,
        computed: Digest,
    },
    #[error("pinned {kind} `{name}`: the definition's `name` is `{inner}`")]
    NameMismatch {
        kind: ItemKind,
        name: String,
        inner: String,
    },
    #[error("pinned {kind} `{name}` appears twice")]
    Duplicate { kind: ItemKind, name: String },
    #[error("capture profile: {problem}")]
    Profile { problem: ProfileProblem },
}

/// Everything a server offers to a model, pinned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolPins {
    pub profile: CaptureProfile,
    pub tools: Vec<Pinned>,
    pub prompts: Vec<Pinned>,
    pub resource_templates: Vec<Pinned>,
    /// The server's `instructions` (from `initialize` or `server/discover`):
    /// they reach the model's context like descriptions do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<PinnedText>,
}

/// A pinned text with the sha256 of its RFC 8785 form (the JSON string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PinnedText {
    pub digest: Digest,
    pub text: String,
}

impl PinnedText {
    pub fn new(text: String) -> Result<Self, PinsError> {
        let digest = text_digest(&text)?;
        Ok(Self { digest, text })
    }
}

fn text_digest(text: &str) -> Result<Digest, PinsError> {
    let bytes = crate::canonical::to_vec(&Value::String(text.to_owned())).map_err(|source| {
        PinsError::Canonical {
            name: "instructions".into(),
            source,
        }
    })?;
    Ok(Digest::sha256_of(&bytes))
}

/// How the definitions were obtained: a server may list different tools for
/// a different client, protocol version, command line or environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaptureProfile {
    pub transport: TransportKind,
    pub protocol_version: String,
    /// Declared client capabilities, sorted and without repeats.
    pub client_capabilities: Vec<Capability>,
    /// Program and arguments (stdio); empty for HTTP.
    pub argv: Vec<String>,
    /// Names of the environment variables set for the server, sorted; never values.
    pub env_names: Vec<String>,
    /// The endpoint (HTTP only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    Stdio,
    StreamableHttp,
}

/// One pinned definition: its name, the digest of its canonical form, and the
/// definition itself with every field the server sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pinned {
    pub name: String,
    pub digest: Digest,
    pub definition: Map<String, Value>,
}

impl Pinned {
    /// Pins a definition as received. It must carry a string `name`.
    pub fn new(definition: Map<String, Value>) -> Result<Self, PinsError> {
        let name = definition
            .get("name")
            .and_then(Value::as_str)
            .ok_or(PinsError::Unnamed)?
            .to_owned();
        let digest = definition_digest(&definition).map_err(|source| PinsError::Canonical {
            name: name.clone(),
            source,
        })?;
        Ok(Self {
            name,
            digest,
            definition,
        })
    }
}

/// sha256 over the RFC 8785 canonical form of one definition object.
pub fn definition_digest(
    definition: &Map<String, Value>,
) -> Result<Digest, crate::canonical::CanonError> {
    // Canonicalizing a Map needs a Value; the clone is cheap next to a process launch.
    let bytes = crate::canonical::to_vec(&Value::Object(definition.clone()))?;
    Ok(Digest::sha256_of(&bytes))
}

impl ToolPins {
    /// Checks what serde cannot: every digest matches its definition, names
    /// agree and are unique, the profile is in normal form. Call it on pins
    /// read from a file before trusting them.
    pub fn validate(&self) -> Result<(), PinsError> {
        for (kind, items) in self.sections() {
            let mut seen = HashSet::new();
            for p in items {
                let inner = p
                    .definition
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if inner != p.name {
                    return Err(PinsError::NameMismatch {
                        kind,
                        name: p.name.clone(),
                        inner: inner.to_owned(),
                    });
                }
                if !seen.insert(p.name.as_str()) {
                    return Err(PinsError::Duplicate {
                        kind,
                        name: p.name.clone(),
                    });
                }
                let computed =
                    definition_digest(&p.definition).map_err(|source| PinsError::Canonical {
                        name: p.name.clone(),
                        source,
                    })?;
                if computed != p.digest {
                    return Err(PinsError::DigestMismatch {
                        kind,
                        name: p.name.clone(),
                        pinned: p.digest.clone(),
                        computed,
                    });
                }
            }
        }
        if let Some(i) = &self.instructions {
            let computed = text_digest(&i.text)?;
            if computed != i.digest {
                return Err(PinsError::DigestMismatch {
                    kind: ItemKind::Instructions,
                    name: "instructions".into(),
                    pinned: i.digest.clone(),
                    computed,
                });
            }
        }
        self.profile.validate()
    }

    /// The three lists with their kinds, in a fixed order.
    pub fn sections(&self) -> [(ItemKind, &[Pinned]); 3] {
        [
            (ItemKind::Tool, &self.tools),
            (ItemKind::Prompt, &self.prompts),
            (ItemKind::ResourceTemplate, &self.resource_templates),
        ]
    }
}

impl CaptureProfile {
    pub fn validate(&self) -> Result<(), PinsError> {
        let bad = |problem| Err(PinsError::Profile { problem });
        if !self.client_capabilities.windows(2).all(|w| w[0] < w[1]) {
            return bad(ProfileProblem::CapabilitiesNotSorted);
        }
        if !self.env_names.windows(2).all(|w| w[0] < w[1]) {
            return bad(ProfileProblem::EnvNamesNotSorted);
        }
        match self.transport {
            TransportKind::Stdio if self.argv.is_empty() || self.url.is_some() => {
                bad(ProfileProblem::StdioShape)
            }
            TransportKind::StreamableHttp if self.url.is_none() || !self.argv.is_empty() => {
                bad(ProfileProblem::HttpShape)
            }
            _ => Ok(()),
        }
    }
}
