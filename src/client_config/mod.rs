//! MCP client configurations (Claude Desktop, Cursor, VS Code, Claude Code): reading the servers
//! they launch, telling which ones a signed manifest covers ([`cover`]), and rewriting covered
//! entries to launch through `mcp-verify run` and back ([`wrap`]). The file formats and the rules
//! are in spec/client-config.md.

pub mod cover;
pub mod wrap;

use crate::fsutil::{ReadError, read_limited};
use crate::json::JsonError;
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub use cover::{ConfigReport, Note, ReportRequest, ServerReport, Status, report};
pub use wrap::{EntryChange, WrapMode, WrapOutcome, WrapRequest, backup_path, wrap};

/// Largest configuration file read: client configurations are a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// Which client a configuration file belongs to: it decides where the servers are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    /// `claude_desktop_config.json`, servers under `mcpServers`.
    ClaudeDesktop,
    /// `mcp.json` (`~/.cursor/mcp.json`, `.cursor/mcp.json`), servers under `mcpServers`.
    Cursor,
    /// `.vscode/mcp.json`, servers under `servers`.
    #[serde(rename = "vscode")]
    VsCode,
    /// `.mcp.json` at a project's root, servers under `mcpServers`.
    ClaudeCode,
}

impl ClientKind {
    pub const ALL: &'static [ClientKind] = &[
        ClientKind::ClaudeDesktop,
        ClientKind::Cursor,
        ClientKind::VsCode,
        ClientKind::ClaudeCode,
    ];

    /// The `--format` name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::ClaudeDesktop => "claude-desktop",
            ClientKind::Cursor => "cursor",
            ClientKind::VsCode => "vscode",
            ClientKind::ClaudeCode => "claude-code",
        }
    }

    pub fn parse(name: &str) -> Option<ClientKind> {
        ClientKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }

    /// The top-level key whose object maps server names to their entries.
    pub fn servers_key(self) -> &'static str {
        match self {
            ClientKind::VsCode => "servers",
            _ => "mcpServers",
        }
    }

    /// The client a file belongs to, from its name: `claude_desktop_config.json`, `.mcp.json`,
    /// `mcp.json` in a `.vscode` folder (VS Code) or elsewhere (Cursor).
    pub fn detect(path: &Path) -> Option<ClientKind> {
        let name = path.file_name()?.to_str()?;
        match name {
            "claude_desktop_config.json" => Some(ClientKind::ClaudeDesktop),
            ".mcp.json" => Some(ClientKind::ClaudeCode),
            "mcp.json" => {
                let in_vscode = path
                    .parent()
                    .and_then(Path::file_name)
                    .is_some_and(|d| d == ".vscode");
                Some(if in_vscode {
                    ClientKind::VsCode
                } else {
                    ClientKind::Cursor
                })
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for ClientKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a configuration could not be read, judged or rewritten (exit 2); the file is never
/// written when one of these is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read client configuration `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: ReadError,
    },
    #[error(
        "cannot tell which client `{}` is for: its name is not claude_desktop_config.json, mcp.json, .vscode/mcp.json or .mcp.json",
        path.display()
    )]
    UnknownKind { path: PathBuf },
    #[error("`{}` is not strict JSON (comments, trailing commas and duplicate keys are refused)", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: JsonError,
    },
    #[error("`{}`: the document is not a JSON object", path.display())]
    NotAnObject { path: PathBuf },
    #[error("`{}`: `{key}` is not a JSON object of servers", path.display())]
    ServersNotAnObject { path: PathBuf, key: &'static str },
    #[error("`{}`: server `{name}`: {problem}", path.display())]
    Entry {
        path: PathBuf,
        name: String,
        problem: EntryProblem,
    },
    #[error("cannot search the bundle folder `{}`", path.display())]
    BundleDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the bundle folder `{}` holds more than {limit} entries", path.display())]
    TooManyBundleEntries { path: PathBuf, limit: usize },
    #[error("the trust options cannot be used")]
    Trust(#[source] crate::trust_request::TrustError),
    #[error(
        "wrapping needs the trust options (--key, --certificate-identity ...) or the --policy that `mcp-verify run` will verify with"
    )]
    NoTrust,
    #[error("cannot find the path of the running program")]
    ProgramPath(#[source] std::io::Error),
    #[error("`{}` is not UTF-8: a JSON configuration cannot name it", path.display())]
    NotUtf8 { path: PathBuf },
    #[error("cannot make `{}` an absolute path", path.display())]
    Absolute {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is a symbolic link (to `{}`): it is not rewritten", path.display(), target.display())]
    Symlink { path: PathBuf, target: PathBuf },
    #[error("`{}` is read-only: it is not rewritten", path.display())]
    ReadOnly { path: PathBuf },
    #[error("`{}` changed while it was being rewritten: nothing was written", path.display())]
    Changed { path: PathBuf },
    #[error("cannot serialize the rewritten configuration")]
    Serialize(#[source] serde_json::Error),
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: crate::fsutil::WriteError,
    },
}

impl ConfigError {
    /// What the user can do about it, when there is one thing to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            ConfigError::UnknownKind { .. } => Some(format!(
                "name the client with --format ({})",
                ClientKind::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            ConfigError::Symlink { target, .. } => Some(format!(
                "rewrite the file it points to: `{}`",
                target.display()
            )),
            ConfigError::ReadOnly { path } => Some(format!(
                "make it writable (chmod u+w {}) if it should be rewritten",
                path.display()
            )),
            ConfigError::Write {
                source: crate::fsutil::WriteError::Exists { .. },
                ..
            } => Some("an earlier backup is kept: move it away, or pass --force".to_owned()),
            _ => None,
        }
    }
}

/// What is wrong with one server entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryProblem {
    #[error("the entry is not a JSON object")]
    NotAnObject,
    #[error("`{key}` is not a string")]
    NotAString { key: &'static str },
    #[error("`args` is not an array of strings")]
    BadArgs,
    #[error("`env` is not an object of string values")]
    BadEnv,
    #[error("`headers` is not an object of string values")]
    BadHeaders,
    #[error("the entry has neither `command` nor `url`")]
    NoCommand,
    #[error("`type` is `{0}`, not stdio, http or sse")]
    UnknownType(String),
}

/// One configured server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEntry {
    /// Its key in the servers object.
    pub name: String,
    pub launch: EntryLaunch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryLaunch {
    /// A process the client starts.
    Stdio(StdioEntry),
    /// A server the client reaches over HTTP (`url`, or `type` http or sse): nothing local to
    /// verify.
    Remote(RemoteEntry),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEntry {
    pub url: Option<String>,
    /// The entry's `type`, when it has one (`http`, `sse`, `streamable-http`).
    pub transport: Option<String>,
    /// The entry's `headers`, in file order (values as written, placeholders unexpanded).
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StdioEntry {
    pub command: String,
    pub args: Vec<String>,
    /// The entry's `env`, in file order.
    pub env: Vec<(String, String)>,
    /// The entry's `cwd`, when it has one.
    pub cwd: Option<String>,
    /// VS Code's `envFile`: variables the client sets that the entry does not list.
    pub env_file: bool,
    /// A `url` the entry has besides its `command` (and no `type`): which one a client uses is
    /// the client's choice.
    pub url: Option<String>,
}

impl StdioEntry {
    /// The command and its arguments.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.command.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// Whether the entry starts a program named `mcp-verify` with `subcommand` first.
    fn runs_mcp_verify(&self, subcommand: &str) -> bool {
        Path::new(&self.command).file_name() == Some(std::ffi::OsStr::new("mcp-verify"))
            && self.args.first().map(String::as_str) == Some(subcommand)
    }

    /// The entry as `mcp-verify proxy --stdio` serves it, if it does: `command` is a program
    /// named `mcp-verify`, and `args` are `proxy BUNDLE ... --stdio ...`.
    pub fn proxied(&self) -> Option<Proxied> {
        if !self.runs_mcp_verify("proxy") {
            return None;
        }
        // The options as the CLI reads them: `--flag=value` is `--flag value`. A `--` or a
        // repeated `--url` is read differently by the CLI (or refused): not a form judged here.
        let mut words: Vec<&str> = Vec::new();
        for a in &self.args {
            match a.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => words.extend([flag, value]),
                _ => words.push(a),
            }
        }
        let count = |flag: &str| words.iter().filter(|w| **w == flag).count();
        if words.contains(&"--") || count("--url") > 1 || count("--stdio") != 1 {
            return None;
        }
        let bundle = words
            .get(1)
            .filter(|b| !b.is_empty() && !b.starts_with('-'))?;
        let value_of = |flag: &str| {
            words
                .iter()
                .position(|a| *a == flag)
                .and_then(|i| words.get(i + 1))
                .map(|v| (*v).to_owned())
        };
        let header_env = words
            .windows(2)
            .filter(|w| w[0] == "--header-env")
            .filter_map(|w| {
                w[1].split_once('=')
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
            })
            .collect();
        Some(Proxied {
            bundle: PathBuf::from(bundle),
            url: value_of("--url"),
            header_env,
            accept: words.contains(&"--accept"),
        })
    }

    /// The entry as `mcp-verify run` launches it, if it does: `command` is a program named
    /// `mcp-verify`, and `args` are `run BUNDLE ...`.
    pub fn wrapped(&self) -> Option<Wrapped> {
        if !self.runs_mcp_verify("run") {
            return None;
        }
        let bundle = self
            .args
            .get(1)
            .filter(|b| !b.is_empty() && !b.starts_with('-'))?;
        let split = self.args.iter().position(|a| a == "--");
        let options = &self.args[..split.unwrap_or(self.args.len())];
        let original = split
            .map(|i| self.args[i + 1..].to_vec())
            .filter(|o| !o.is_empty());
        let dir = options
            .iter()
            .position(|a| a == "--dir")
            .and_then(|i| options.get(i + 1))
            .map(PathBuf::from);
        Some(Wrapped {
            bundle: PathBuf::from(bundle),
            dir,
            original,
            accept: options.iter().any(|a| a == "--accept"),
        })
    }
}

/// An entry that reaches a remote server through `mcp-verify proxy BUNDLE ... --stdio`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxied {
    pub bundle: PathBuf,
    /// Its `--url`: the entry's URL before wrapping, which `--unwrap` restores.
    pub url: Option<String>,
    /// Its `--header-env NAME=VAR` pairs.
    pub header_env: Vec<(String, String)>,
    /// It passes `--accept`.
    pub accept: bool,
}

/// An entry that launches through `mcp-verify run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    pub bundle: PathBuf,
    /// The `--dir` it passes to `run`, if any.
    pub dir: Option<PathBuf>,
    /// The command after `--`, which `run` launches and `--unwrap` restores; `None` when `run`
    /// launches the manifest's own command.
    pub original: Option<Vec<String>>,
    /// It passes `--accept`: every release's permission changes are approved unseen.
    pub accept: bool,
}

/// A client configuration as read: its servers, and the document they came from (kept whole,
/// so that a rewrite changes nothing else).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub path: PathBuf,
    pub kind: ClientKind,
    pub servers: Vec<ServerEntry>,
    bytes: Vec<u8>,
    doc: Map<String, Value>,
}

impl ClientConfig {
    /// Reads `path` (at most [`MAX_CONFIG_BYTES`], strict JSON). `kind` overrides detection
    /// by file name. A document without the servers key lists no server.
    pub fn read(path: &Path, kind: Option<ClientKind>) -> Result<ClientConfig, ConfigError> {
        let kind = match kind {
            Some(k) => k,
            None => ClientKind::detect(path).ok_or_else(|| ConfigError::UnknownKind {
                path: path.to_path_buf(),
            })?,
        };
        let bytes = read_limited(path, MAX_CONFIG_BYTES).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        ClientConfig::parse(path, kind, bytes)
    }

    /// Parses configuration bytes as the file `path` of client `kind`.
    pub fn parse(
        path: &Path,
        kind: ClientKind,
        bytes: Vec<u8>,
    ) -> Result<ClientConfig, ConfigError> {
        let p = || path.to_path_buf();
        let value = crate::json::parse_value(&bytes)
            .map_err(|source| ConfigError::Json { path: p(), source })?;
        let Value::Object(doc) = value else {
            return Err(ConfigError::NotAnObject { path: p() });
        };
        let key = kind.servers_key();
        let servers = match doc.get(key) {
            None => Vec::new(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(name, entry)| {
                    parse_entry(entry)
                        .map(|launch| ServerEntry {
                            name: name.clone(),
                            launch,
                        })
                        .map_err(|problem| ConfigError::Entry {
                            path: p(),
                            name: name.clone(),
                            problem,
                        })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(ConfigError::ServersNotAnObject { path: p(), key }),
        };
        Ok(ClientConfig {
            path: p(),
            kind,
            servers,
            bytes,
            doc,
        })
    }

    /// The bytes the configuration was read from.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

fn string_field(
    obj: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, EntryProblem> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(EntryProblem::NotAString { key }),
    }
}

fn parse_entry(entry: &Value) -> Result<EntryLaunch, EntryProblem> {
    let Value::Object(obj) = entry else {
        return Err(EntryProblem::NotAnObject);
    };
    let transport = string_field(obj, "type")?;
    let url = string_field(obj, "url")?;
    let remote = match transport.as_deref() {
        None => url.is_some() && !obj.contains_key("command"),
        Some("stdio") => false,
        Some("http" | "sse" | "streamable-http") => true,
        Some(other) => return Err(EntryProblem::UnknownType(other.to_owned())),
    };
    if remote {
        let headers = match obj.get("headers") {
            None => Vec::new(),
            Some(Value::Object(h)) => h
                .iter()
                .map(|(k, v)| {
                    v.as_str()
                        .map(|v| (k.clone(), v.to_owned()))
                        .ok_or(EntryProblem::BadHeaders)
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(EntryProblem::BadHeaders),
        };
        return Ok(EntryLaunch::Remote(RemoteEntry {
            url,
            transport,
            headers,
        }));
    }
    let command = string_field(obj, "command")?.ok_or(EntryProblem::NoCommand)?;
    let args = match obj.get("args") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|a| a.as_str().map(str::to_owned).ok_or(EntryProblem::BadArgs))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(EntryProblem::BadArgs),
    };
    let env = match obj.get("env") {
        None => Vec::new(),
        Some(Value::Object(vars)) => vars
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|v| (k.clone(), v.to_owned()))
                    .ok_or(EntryProblem::BadEnv)
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(EntryProblem::BadEnv),
    };
    Ok(EntryLaunch::Stdio(StdioEntry {
        command,
        args,
        env,
        cwd: string_field(obj, "cwd")?,
        env_file: obj.contains_key("envFile"),
        url: if transport.is_none() { url } else { None },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_told_by_the_file_name() {
        for (p, k) in [
            (
                "/h/Library/Claude/claude_desktop_config.json",
                Some(ClientKind::ClaudeDesktop),
            ),
            ("/h/.cursor/mcp.json", Some(ClientKind::Cursor)),
            ("/p/.vscode/mcp.json", Some(ClientKind::VsCode)),
            ("/p/.mcp.json", Some(ClientKind::ClaudeCode)),
            ("/p/settings.json", None),
        ] {
            assert_eq!(ClientKind::detect(Path::new(p)), k, "{p}");
        }
        for k in ClientKind::ALL {
            assert_eq!(ClientKind::parse(k.as_str()), Some(*k));
        }
    }

    #[test]
    fn a_wrapped_entry_names_a_bundle() {
        let entry = |args: &[&str]| StdioEntry {
            command: "/usr/bin/mcp-verify".into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: Vec::new(),
            cwd: None,
            env_file: false,
            url: None,
        };
        assert!(
            entry(&["run", "b.sigstore.json", "--", "python3"])
                .wrapped()
                .is_some()
        );
        // Found by the client_config fuzz target: an empty bundle argument is no bundle.
        for args in [
            &["run", ""][..],
            &["run", "--key", "k"],
            &["run"],
            &["tools", "b"],
        ] {
            assert!(entry(args).wrapped().is_none(), "{args:?}");
        }
    }

    #[test]
    fn entries_are_read_strictly() {
        let p = Path::new("mcp.json");
        let read = |doc: &str| ClientConfig::parse(p, ClientKind::Cursor, doc.as_bytes().to_vec());
        let c = read(
            r#"{"mcpServers":{"a":{"command":"node","args":["x.js"],"env":{"K":"v"}},"r":{"url":"https://e.example/mcp"}}}"#,
        )
        .unwrap();
        assert_eq!(c.servers.len(), 2);
        assert!(matches!(
            &c.servers[1].launch,
            EntryLaunch::Remote(RemoteEntry { url: Some(_), .. })
        ));
        assert!(read(r#"{"other":1}"#).unwrap().servers.is_empty());
        for (doc, want) in [
            (
                r#"{"mcpServers":{"a":{"args":[]}}}"#,
                EntryProblem::NoCommand,
            ),
            (
                r#"{"mcpServers":{"a":{"command":"x","args":[1]}}}"#,
                EntryProblem::BadArgs,
            ),
            (
                r#"{"mcpServers":{"a":{"command":"x","env":{"K":1}}}}"#,
                EntryProblem::BadEnv,
            ),
            (
                r#"{"mcpServers":{"a":{"command":1}}}"#,
                EntryProblem::NotAString { key: "command" },
            ),
            (
                r#"{"mcpServers":{"a":{"type":"ws","url":"x"}}}"#,
                EntryProblem::UnknownType("ws".into()),
            ),
            (r#"{"mcpServers":{"a":[]}}"#, EntryProblem::NotAnObject),
        ] {
            match read(doc) {
                Err(ConfigError::Entry { problem, .. }) => assert_eq!(problem, want, "{doc}"),
                other => panic!("{doc}: {other:?}"),
            }
        }
        assert!(matches!(read("[]"), Err(ConfigError::NotAnObject { .. })));
        assert!(matches!(
            read(r#"{"mcpServers":[]}"#),
            Err(ConfigError::ServersNotAnObject { .. })
        ));
        assert!(matches!(
            read(r#"{"a":1,"a":2}"#),
            Err(ConfigError::Json { .. })
        ));
        assert!(matches!(
            read("{\"a\":1 // c\n}"),
            Err(ConfigError::Json { .. })
        ));
    }

    #[test]
    fn a_wrapped_entry_names_its_bundle_and_original_command() {
        let e = StdioEntry {
            command: "/usr/bin/mcp-verify".into(),
            args: [
                "run",
                "/b/x.sigstore.json",
                "--key",
                "/k.pub",
                "--",
                "node",
                "s.js",
            ]
            .map(String::from)
            .to_vec(),
            env: vec![],
            cwd: None,
            env_file: false,
            url: None,
        };
        let w = e.wrapped().unwrap();
        assert_eq!(w.bundle, PathBuf::from("/b/x.sigstore.json"));
        assert_eq!(w.original.unwrap(), ["node", "s.js"]);
        let mut other = e.clone();
        other.command = "node".into();
        assert!(other.wrapped().is_none());
    }
}
