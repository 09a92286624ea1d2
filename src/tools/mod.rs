//! Tool-definition pins: what a server listed (tools, prompts, resource
//! templates), each kept as the raw JSON object it sent plus the sha256 of its
//! RFC 8785 form, and the profile it was captured under. Also capture from a
//! live server, comparison ([`diff`]) and warnings about suspicious text ([`lint`]).
//!
//! Specified in spec/tools.md.

pub mod diff;
pub mod lint;
pub mod run;

use serde_json::{Map, Value};

pub use crate::manifest::pins::{
    CaptureProfile, ItemKind, Pinned, PinnedText, PinsError, ToolPins, TransportKind,
    definition_digest,
};
use crate::mcp::{self, Capability, ClientOptions, Launch, Listing, McpError, ProtocolChoice};

pub use diff::{DiffCode, ToolDiff, ValueChange, diff, line_diff};
pub use lint::{Lint, LintCode, lint};

/// The reason code for any difference between pinned and live definitions.
pub const REASON_TOOL_DRIFT: crate::reason::Reason = crate::reason::Reason::ToolDrift;
/// Pins that fail their own checks (a digest that does not recompute, ...).
pub const REASON_INVALID_PINS: crate::reason::Reason = crate::reason::Reason::InvalidToolPins;
/// A verified manifest without pins, when tools were to be checked.
pub const REASON_NO_PINS: crate::reason::Reason = crate::reason::Reason::NoToolPins;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolsError {
    #[error(transparent)]
    Mcp(#[from] McpError),
    #[error(transparent)]
    Pins(#[from] PinsError),
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
    #[error("package artifact `{name}` cannot be installed")]
    Package {
        name: String,
        #[source]
        source: Box<crate::artifact::ArtifactError>,
    },
    #[error("package artifact `{name}` is not what its pins say: {first}")]
    PackageRejected { name: String, first: String },
    #[error(
        "package artifact `{name}` was not checked: offline, and its archives are not in the launch store"
    )]
    PackageOffline { name: String },
    #[error("cannot open the launch store")]
    Store(#[source] Box<crate::store::StoreError>),
    #[error("cannot hash `{}`", dir.display())]
    Tree {
        dir: std::path::PathBuf,
        #[source]
        source: crate::digest::tree::TreeError,
    },
    #[error("cannot read manifest `{}`", path.display())]
    ReadManifest {
        path: std::path::PathBuf,
        #[source]
        source: crate::fsutil::ReadError,
    },
    #[error("manifest `{}` is not valid JSON", path.display())]
    ManifestJson {
        path: std::path::PathBuf,
        #[source]
        source: crate::json::JsonError,
    },
    #[error("manifest `{}`: `{member}` does not follow spec/manifest-v1", path.display())]
    ManifestMember {
        path: std::path::PathBuf,
        member: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("manifest `{}` is not a JSON object", path.display())]
    NotAnObject { path: std::path::PathBuf },
    #[error("cannot write manifest `{}`", path.display())]
    WriteManifest {
        path: std::path::PathBuf,
        #[source]
        source: crate::fsutil::WriteError,
    },
}

impl ToolsError {
    /// What the user can do about it, when there is one thing to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            ToolsError::MissingEnv { name } => Some(format!(
                "set `{name}` in this environment (its value is passed to the server), or pass `--env {name}=VALUE`"
            )),
            ToolsError::NoLaunch => {
                Some("give the server command after `--`, or `--launch` at `mcp-sign init`".into())
            }
            ToolsError::NoPins => Some("run `mcp-sign tools MANIFEST` before signing".into()),
            _ => None,
        }
    }

    /// The reason code when this error means "reject" rather than "could not decide".
    pub fn reason(&self) -> Option<crate::reason::Reason> {
        match self {
            ToolsError::Pins(_) => Some(REASON_INVALID_PINS),
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
            let whole_hex = crate::digest::Digest::sha256_of(&whole).hex();
            if let Some(exp) = meta.get("canonical_sha256").and_then(Value::as_str) {
                assert_eq!(whole_hex, exp, "{name}");
            }
        }
    }
}
