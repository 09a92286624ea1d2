//! Tool-definition pins: what a server listed (tools, prompts, resource
//! templates), each kept as the raw JSON object it sent plus the sha256 of its
//! RFC 8785 form, and the profile it was captured under. Also capture from a
//! live server, comparison ([`diff`]) and warnings about suspicious text ([`lint`]).
//!
//! Specified in spec/tools.md.

pub mod diff;
pub mod lint;
pub mod run;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::digest::Digest;
use crate::mcp::{self, Capability, ClientOptions, Launch, Listing, McpError, ProtocolChoice};

pub use diff::{DiffCode, ItemKind, ToolDiff, ValueChange, diff, line_diff};
pub use lint::{Lint, LintCode, lint};

/// The reason code for any difference between pinned and live definitions.
pub const REASON_TOOL_DRIFT: crate::reason::Reason = crate::reason::Reason::ToolDrift;
/// Pins that fail their own checks (a digest that does not recompute, ...).
pub const REASON_INVALID_PINS: crate::reason::Reason = crate::reason::Reason::InvalidToolPins;
/// A verified manifest without pins, when tools were to be checked.
pub const REASON_NO_PINS: crate::reason::Reason = crate::reason::Reason::NoToolPins;

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
    pub fn new(text: String) -> Result<Self, ToolsError> {
        let digest = text_digest(&text)?;
        Ok(Self { digest, text })
    }
}

fn text_digest(text: &str) -> Result<Digest, ToolsError> {
    let bytes = crate::canonical::to_vec(&Value::String(text.to_owned())).map_err(|e| {
        ToolsError::Canonical {
            name: "instructions".into(),
            reason: e.to_string(),
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
    pub fn new(definition: Map<String, Value>) -> Result<Self, ToolsError> {
        let name = definition
            .get("name")
            .and_then(Value::as_str)
            .ok_or(ToolsError::Unnamed)?
            .to_owned();
        let digest = definition_digest(&definition).map_err(|reason| ToolsError::Canonical {
            name: name.clone(),
            reason,
        })?;
        Ok(Self {
            name,
            digest,
            definition,
        })
    }
}

/// sha256 over the RFC 8785 canonical form of one definition object.
pub fn definition_digest(definition: &Map<String, Value>) -> Result<Digest, String> {
    // Canonicalizing a Map needs a Value; the clone is cheap next to a process launch.
    let bytes =
        crate::canonical::to_vec(&Value::Object(definition.clone())).map_err(|e| e.to_string())?;
    Ok(Digest::sha256_of(&bytes))
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolsError {
    #[error(transparent)]
    Mcp(#[from] McpError),
    #[error("a definition has no `name` string")]
    Unnamed,
    #[error("definition of `{name}` cannot be canonicalized: {reason}")]
    Canonical { name: String, reason: String },
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
    #[error("capture profile: {reason}")]
    Profile { reason: String },
    #[error(
        "no server to launch: the manifest has no `launch` and no command was given after `--`"
    )]
    NoLaunch,
    #[error("the manifest pins no tool definitions (run `mcp-sign tools` before signing)")]
    NoPins,
    #[error("environment variable `{name}` named by the manifest's `envNames` is not set")]
    MissingEnv { name: String },
    #[error("server environment")]
    Env(#[source] crate::mcp::env::EnvError),
    #[error(
        "`{}` is not the tree the manifest pins ({count} difference(s), first: {first}); pass `--dir` the pinned directory, or run `mcp-sign init` again if the code changed, so that the pins describe the pinned code",
        dir.display()
    )]
    TreeChanged {
        dir: std::path::PathBuf,
        count: usize,
        first: String,
    },
    #[error("cannot hash `{}`", dir.display())]
    Tree {
        dir: std::path::PathBuf,
        #[source]
        source: crate::digest::tree::TreeError,
    },
    #[error("manifest `{}`: {reason}", path.display())]
    Manifest {
        path: std::path::PathBuf,
        reason: String,
    },
}

impl ToolsError {
    /// The reason code when this error means "reject" rather than "could not decide".
    pub fn reason(&self) -> Option<crate::reason::Reason> {
        match self {
            ToolsError::DigestMismatch { .. }
            | ToolsError::NameMismatch { .. }
            | ToolsError::Duplicate { .. }
            | ToolsError::Profile { .. }
            | ToolsError::Canonical { .. }
            | ToolsError::Unnamed => Some(REASON_INVALID_PINS),
            ToolsError::NoPins => Some(REASON_NO_PINS),
            ToolsError::Mcp(e) => e.reason(),
            _ => None,
        }
    }
}

impl ToolPins {
    /// Builds pins from a listing and the launch it came from.
    pub fn from_listing(
        listing: Listing,
        launch: &Launch,
        capabilities: &[Capability],
    ) -> Result<Self, ToolsError> {
        let pin_all = |defs: Vec<Map<String, Value>>| {
            defs.into_iter()
                .map(Pinned::new)
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            profile: CaptureProfile::new(launch, capabilities, listing.protocol_version),
            tools: pin_all(listing.tools)?,
            prompts: pin_all(listing.prompts)?,
            resource_templates: pin_all(listing.resource_templates)?,
            instructions: listing.instructions.map(PinnedText::new).transpose()?,
        })
    }

    /// Checks what serde cannot: every digest matches its definition, names
    /// agree and are unique, the profile is in normal form. Call it on pins
    /// read from a file before trusting them.
    pub fn validate(&self) -> Result<(), ToolsError> {
        for (kind, items) in self.sections() {
            let mut seen = HashSet::new();
            for p in items {
                let inner = p
                    .definition
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if inner != p.name {
                    return Err(ToolsError::NameMismatch {
                        kind,
                        name: p.name.clone(),
                        inner: inner.to_owned(),
                    });
                }
                if !seen.insert(p.name.as_str()) {
                    return Err(ToolsError::Duplicate {
                        kind,
                        name: p.name.clone(),
                    });
                }
                let computed =
                    definition_digest(&p.definition).map_err(|reason| ToolsError::Canonical {
                        name: p.name.clone(),
                        reason,
                    })?;
                if computed != p.digest {
                    return Err(ToolsError::DigestMismatch {
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
                return Err(ToolsError::DigestMismatch {
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
    pub fn new(launch: &Launch, capabilities: &[Capability], protocol_version: String) -> Self {
        let mut caps = capabilities.to_vec();
        caps.sort();
        caps.dedup();
        match launch {
            Launch::Stdio(s) => {
                let mut env_names: Vec<String> = s.env.iter().map(|(k, _)| k.clone()).collect();
                env_names.sort();
                env_names.dedup();
                Self {
                    transport: TransportKind::Stdio,
                    protocol_version,
                    client_capabilities: caps,
                    argv: std::iter::once(s.program.clone())
                        .chain(s.args.iter().cloned())
                        .collect(),
                    env_names,
                    url: None,
                }
            }
            Launch::Http(h) => Self {
                transport: TransportKind::StreamableHttp,
                protocol_version,
                client_capabilities: caps,
                argv: Vec::new(),
                env_names: Vec::new(),
                url: Some(h.url.clone()),
            },
        }
    }

    fn validate(&self) -> Result<(), ToolsError> {
        let bad = |reason: &str| {
            Err(ToolsError::Profile {
                reason: reason.into(),
            })
        };
        if !self.client_capabilities.windows(2).all(|w| w[0] < w[1]) {
            return bad("clientCapabilities must be sorted without repeats");
        }
        if !self.env_names.windows(2).all(|w| w[0] < w[1]) {
            return bad("envNames must be sorted without repeats");
        }
        match self.transport {
            TransportKind::Stdio if self.argv.is_empty() || self.url.is_some() => {
                bad("a stdio profile needs argv and no url")
            }
            TransportKind::StreamableHttp if self.url.is_none() || !self.argv.is_empty() => {
                bad("a streamable-http profile needs a url and no argv")
            }
            _ => Ok(()),
        }
    }

    /// Client options that reproduce this profile (same capabilities, the
    /// pinned protocol version asked first).
    pub fn client_options(&self, base: &ClientOptions) -> ClientOptions {
        ClientOptions {
            capabilities: self.client_capabilities.clone(),
            protocol: ProtocolChoice::Prefer(self.protocol_version.clone()),
            ..base.clone()
        }
    }
}

/// Launches the server, lists everything, and pins it.
pub fn capture(launch: &Launch, options: &ClientOptions) -> Result<ToolPins, ToolsError> {
    let listing = mcp::list_server(launch, options)?;
    ToolPins::from_listing(listing, launch, &options.capabilities)
}

/// Captures the live server under the pinned profile and compares. An empty
/// result means no drift. Profile differences (another command line,
/// protocol version or capability set) are reported as drift too.
pub fn check_live(
    pinned: &ToolPins,
    launch: &Launch,
    base: &ClientOptions,
) -> Result<Vec<ToolDiff>, ToolsError> {
    pinned.validate()?;
    let options = pinned.profile.client_options(base);
    let live = capture(launch, &options)?;
    Ok(diff(pinned, &live))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-tool digests recorded when the captures were made (by another
    /// implementation) must be reproduced exactly.
    #[test]
    fn digests_match_recorded_captures() {
        for name in [
            "server-everything",
            "server-memory",
            "mcp-server-fetch",
            "mcp-server-time",
        ] {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/mcp-tools/");
            let tools =
                std::fs::read(format!("{dir}{name}.json")).expect("testdata file is checked in");
            let meta = std::fs::read(format!("{dir}{name}.meta.json"))
                .expect("testdata file is checked in");
            let tools: Value = serde_json::from_slice(&tools).expect("testdata is JSON");
            let meta: Value = serde_json::from_slice(&meta).expect("testdata is JSON");
            let list = tools
                .get("tools")
                .and_then(Value::as_array)
                .expect("a tools array");
            let expected = meta
                .get("per_tool_canonical_sha256")
                .and_then(Value::as_object);
            for t in list {
                let pinned =
                    Pinned::new(t.as_object().expect("a tool object").clone()).expect("pinnable");
                if let Some(exp) = expected
                    .and_then(|m| m.get(&pinned.name))
                    .and_then(Value::as_str)
                {
                    assert_eq!(pinned.digest.hex(), exp, "{name}/{}", pinned.name);
                }
            }
            // The whole-list digest in the meta covers the tools/list result.
            let whole = crate::canonical::to_vec(&tools).expect("canonical");
            let whole_hex = Digest::sha256_of(&whole).hex();
            if let Some(exp) = meta.get("canonical_sha256").and_then(Value::as_str) {
                assert_eq!(whole_hex, exp, "{name}");
            }
        }
    }
}
