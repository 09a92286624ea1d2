//! The mcpsig manifest (spec/manifest-v1.md): what a signature pins about one release of an MCP
//! server. Parsing is strict: unknown fields are rejected at every level, names and paths are
//! validated newtypes, and the whole document is checked for internal consistency before any
//! caller sees it.

pub mod packages;
pub mod pins;
pub mod remote;

use crate::digest::glob::Pattern;
use crate::digest::tree::{self, Entry};
use crate::digest::{Algorithm, Digest};
use crate::relpath::RelPath;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub mod init;
pub use init::{InitRequest, bundle_path};

/// The in-toto predicate type of a manifest, version 1.
pub const PREDICATE_TYPE: &str = "https://mcpsig.dev/manifest/v1";
/// The only `schemaVersion` this code reads.
pub const SCHEMA_VERSION: u32 = 1;
/// Default file name written by `mcp-sign init`.
pub const DEFAULT_FILE_NAME: &str = "mcp-manifest.json";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("manifest is not valid JSON")]
    Json(#[source] crate::json::JsonError),
    #[error("manifest does not follow spec/manifest-v1")]
    Shape(#[source] crate::json::JsonError),
    #[error(
        "manifest schemaVersion {0} is not supported (this mcpsig reads version {SCHEMA_VERSION})"
    )]
    Version(u32),
    #[error("artifact name `{0}` appears more than once")]
    DuplicateArtifact(String),
    #[error(
        "directory artifact `{name}` declares digest {declared} but its entries digest to {computed}"
    )]
    TreeDigestMismatch {
        name: String,
        declared: Digest,
        computed: Digest,
    },
    #[error(
        "directory artifact `{name}` lists `{path}` twice or out of order (entries must be sorted by path bytes)"
    )]
    UnsortedEntries { name: String, path: String },
    #[error("expiresAt {expires} is not after issuedAt {issued}")]
    ExpiryBeforeIssue { issued: String, expires: String },
    #[error("manifest pins no artifacts")]
    NoArtifacts,
    #[error("the remote endpoint cannot be pinned")]
    Remote(#[source] remote::RemoteProblem),
    #[error("tool pins are inconsistent")]
    ToolPins(#[source] pins::PinsError),
    #[error("{kind} artifact `{name}` is not well formed")]
    Package {
        kind: &'static str,
        name: String,
        #[source]
        problem: packages::PackageProblem,
    },
    /// A symlink that leaves the tree, loops or passes through a file, or an entry beneath a
    /// file or symlink (spec/manifest-v1.md, "Symlink resolution").
    /// More exclude rules than [`MAX_EXCLUDES`], or one longer than a path can be: each rule is
    /// matched against every path of the tree, so their number bounds the cost of a check.
    #[error(
        "directory artifact `{name}` has {count} exclude rules (at most {MAX_EXCLUDES}, each at most {} bytes)",
        tree::MAX_PATH_BYTES
    )]
    TooManyExcludes { name: String, count: usize },
    #[error("directory artifact `{name}` pins an unsafe tree")]
    UnsafeTree {
        name: String,
        #[source]
        source: tree::TreeError,
    },
}

/// Exclude rules of one directory artifact, at most. Every rule is matched against every path
/// of the tree (and every symlink's target), so a signed list of a million rules took 30 s to
/// check against 2,000 files; a real manifest has a handful (`.git`, caches).
pub const MAX_EXCLUDES: usize = 256;

/// A server name in the MCP registry's reverse-DNS form: `io.github.owner/server-name`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid server name `{0}`: expected reverse-DNS `namespace/name` such as `io.github.owner/server` (letters, digits, `.`, `-`, `_`; at most 200 characters)"
)]
pub struct ServerNameError(pub String);

impl ServerName {
    pub fn parse(s: &str) -> Result<ServerName, ServerNameError> {
        let err = || ServerNameError(s.escape_debug().to_string());
        let (ns, name) = s.split_once('/').ok_or_else(err)?;
        let ns_ok = !ns.is_empty()
            && ns.contains('.')
            && !ns.starts_with(['.', '-'])
            && !ns.ends_with(['.', '-'])
            && !ns.contains("..")
            && ns
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        let name_ok = !name.is_empty()
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !ns_ok || !name_ok || s.len() > 200 {
            return Err(err());
        }
        Ok(ServerName(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A release version: printable, no whitespace, at most 128 characters. Printable excludes the
/// characters that render as nothing or reorder the text around them (bidi controls, zero-width
/// and other invisible formatting characters): a version is shown to users who approve it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid version `{0}`: 1 to 128 printable characters without spaces")]
pub struct VersionError(pub String);

impl Version {
    pub fn parse(s: &str) -> Result<Version, VersionError> {
        let unprintable = |c: char| {
            c.is_whitespace() || crate::text::is_invisible(c) || crate::text::is_bidi_control(c)
        };
        if s.is_empty() || s.len() > 128 || s.chars().any(unprintable) {
            return Err(VersionError(s.escape_debug().to_string()));
        }
        Ok(Version(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype_serde {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
string_newtype_serde!(ServerName);
string_newtype_serde!(Version);

/// A UTC instant written as RFC 3339 with second precision (`2026-11-24T15:00:00Z`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Timestamp {
        // Sub-second precision would only make manifests harder to compare by eye.
        let now = Utc::now();
        Timestamp(DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}
impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .map_err(|e| serde::de::Error::custom(format!("invalid RFC 3339 time `{s}`: {e}")))
    }
}

/// Who the server is and which release this is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerId {
    pub name: ServerName,
    pub version: Version,
}

/// How the server is started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "transport", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Launch {
    /// A local process speaking JSON-RPC on stdin/stdout.
    #[serde(rename_all = "camelCase")]
    Stdio {
        command: String,
        #[serde(default)]
        args: Vec<String>,
        /// Fixed environment values the server is launched with. Secrets do not belong here:
        /// they are supplied at launch and only their names are pinned (`envNames`).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        env: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        env_names: Vec<String>,
        /// Working directory relative to the pinned directory artifact.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workdir: Option<RelPath>,
    },
    /// A remote server reached over MCP Streamable HTTP: https (plain http only to loopback),
    /// optionally with the TLS identity its endpoint must present.
    StreamableHttp {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tls: Option<remote::TlsIdentity>,
    },
}

/// Why a launch command line could not be split into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandLineError {
    #[error("launch command is empty")]
    Empty,
    #[error("unterminated escape in launch command")]
    UnterminatedEscape,
    #[error("unterminated {quote} quote in launch command")]
    UnterminatedQuote { quote: char },
    #[error("trailing backslash in launch command")]
    TrailingBackslash,
}

impl Launch {
    /// Parses a shell-like command line (`node dist/index.js --flag`) into a stdio launch.
    /// Quotes group words; no variables, globs or other shell features are interpreted.
    pub fn stdio_from_command_line(line: &str) -> Result<Launch, CommandLineError> {
        let words = split_words(line)?;
        let (command, args) = words.split_first().ok_or(CommandLineError::Empty)?;
        Ok(Launch::Stdio {
            command: command.clone(),
            args: args.to_vec(),
            env: BTreeMap::new(),
            env_names: Vec::new(),
            workdir: None,
        })
    }
}

fn split_words(line: &str) -> Result<Vec<String>, CommandLineError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => match chars.next() {
                            Some(e) => cur.push(e),
                            None => return Err(CommandLineError::UnterminatedEscape),
                        },
                        Some(x) => cur.push(x),
                        None => return Err(CommandLineError::UnterminatedQuote { quote: c }),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().ok_or(CommandLineError::TrailingBackslash)?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// One pinned artifact. Each becomes a subject of the signed statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Artifact {
    /// A directory tree, every entry listed so a mismatch can name the file.
    Directory {
        name: String,
        digest: Digest,
        #[serde(default)]
        exclude: Vec<Pattern>,
        entries: Vec<Entry>,
    },
    /// One file, e.g. a release archive or a single-file server.
    File {
        name: RelPath,
        digest: Digest,
        size: u64,
    },
    /// An npm package: its tarball (sha256 and the registry's sha512 integrity) and its whole
    /// resolved dependency tree, as a lockfile would hold it.
    Npm {
        name: String,
        version: String,
        /// sha256 of the tarball.
        digest: Digest,
        integrity: packages::Integrity,
        #[serde(default)]
        dependencies: Vec<packages::NpmDependency>,
    },
    /// A PyPI project: its wheel and the whole resolved set of wheels it needs.
    Pypi {
        name: String,
        version: String,
        file: String,
        /// sha256 of the wheel.
        digest: Digest,
        #[serde(default)]
        dependencies: Vec<packages::Wheel>,
    },
    /// An OCI image by manifest digest (`name` is `REGISTRY/REPOSITORY`); `tag` says what it
    /// was resolved from and is never trusted.
    Oci {
        name: String,
        digest: Digest,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
    },
    /// An MCP bundle (`.mcpb`) file by digest, and the files it contains.
    Mcpb {
        name: RelPath,
        digest: Digest,
        size: u64,
        /// The tree digest of `entries`.
        tree: Digest,
        entries: Vec<Entry>,
    },
}

impl Artifact {
    pub fn name(&self) -> &str {
        match self {
            Artifact::Directory { name, .. } => name,
            Artifact::File { name, .. } | Artifact::Mcpb { name, .. } => name.as_str(),
            Artifact::Npm { name, .. }
            | Artifact::Pypi { name, .. }
            | Artifact::Oci { name, .. } => name,
        }
    }
    pub fn digest(&self) -> &Digest {
        match self {
            Artifact::Directory { digest, .. }
            | Artifact::File { digest, .. }
            | Artifact::Npm { digest, .. }
            | Artifact::Pypi { digest, .. }
            | Artifact::Oci { digest, .. }
            | Artifact::Mcpb { digest, .. } => digest,
        }
    }
    /// The kind's name as the manifest spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Artifact::Directory { .. } => "directory",
            Artifact::File { .. } => "file",
            Artifact::Npm { .. } => "npm",
            Artifact::Pypi { .. } => "pypi",
            Artifact::Oci { .. } => "oci",
            Artifact::Mcpb { .. } => "mcpb",
        }
    }
    /// Its package pins are well formed (spec/manifest-v1.md); directories and files are
    /// checked by [`Manifest::check`].
    fn check_package(&self) -> Result<(), packages::PackageProblem> {
        match self {
            Artifact::Directory { .. } | Artifact::File { .. } => Ok(()),
            Artifact::Npm {
                name,
                version,
                digest,
                dependencies,
                ..
            } => packages::check_npm(name, version, digest, dependencies),
            Artifact::Pypi {
                name,
                version,
                file,
                digest,
                dependencies,
            } => packages::check_pypi(name, version, file, digest, dependencies),
            Artifact::Oci { name, tag, .. } => packages::check_oci(name, tag.as_deref()),
            Artifact::Mcpb {
                digest,
                tree,
                entries,
                ..
            } => packages::check_mcpb(digest, tree, entries),
        }
    }

    /// A directory artifact built from hashed entries; its digest is computed here.
    pub fn directory(name: String, exclude: Vec<Pattern>, entries: Vec<Entry>) -> Artifact {
        let digest = tree::tree_digest(&entries);
        Artifact::Directory {
            name,
            digest,
            exclude,
            entries,
        }
    }
}

/// The manifest: the in-toto predicate of an mcpsig statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub schema_version: u32,
    pub server: ServerId,
    pub issued_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Digest of the previous release's manifest (sha256 of its RFC 8785 form): a chain that
    /// makes rollback and history rewrites visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<Launch>,
    pub artifacts: Vec<Artifact>,
    /// Tool, prompt and resource-template definitions pinned from the live server, with the
    /// profile they were captured under (spec/tools.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<pins::ToolPins>,
}

impl Manifest {
    /// Parses and checks a manifest: strict JSON, strict shape, internal consistency.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let value = crate::json::parse_value(bytes).map_err(ManifestError::Json)?;
        Manifest::from_value(value)
    }

    pub fn from_value(value: serde_json::Value) -> Result<Manifest, ManifestError> {
        // Read the version first so a newer manifest gets a clear error, not "unknown field".
        if let Some(v) = value.get("schemaVersion").and_then(|v| v.as_u64())
            && v != u64::from(SCHEMA_VERSION)
        {
            return Err(ManifestError::Version(u32::try_from(v).unwrap_or(u32::MAX)));
        }
        let m: Manifest = serde_json::from_value(value)
            .map_err(|e| ManifestError::Shape(crate::json::JsonError::Shape(e)))?;
        m.check()?;
        Ok(m)
    }

    /// Internal consistency: version, unique names, tree digests, sorted entries, expiry order.
    pub fn check(&self) -> Result<(), ManifestError> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(ManifestError::Version(self.schema_version));
        }
        // A remote server has nothing to hash: its manifest pins where it lives, how it proves
        // its identity and what its tools are.
        let remote = matches!(self.launch, Some(Launch::StreamableHttp { .. }));
        if self.artifacts.is_empty() && !remote {
            return Err(ManifestError::NoArtifacts);
        }
        if let Some(Launch::StreamableHttp { url, tls }) = &self.launch {
            remote::check_url(url).map_err(ManifestError::Remote)?;
            if let Some(tls) = tls {
                tls.check().map_err(ManifestError::Remote)?;
                if url.starts_with("http:") {
                    return Err(ManifestError::Remote(
                        remote::RemoteProblem::TlsWithoutHttps,
                    ));
                }
            }
        }
        let mut names = BTreeSet::new();
        for a in &self.artifacts {
            if !names.insert(a.name()) {
                return Err(ManifestError::DuplicateArtifact(a.name().to_owned()));
            }
            a.check_package()
                .map_err(|problem| ManifestError::Package {
                    kind: a.kind(),
                    name: a.name().to_owned(),
                    problem,
                })?;
            if let Artifact::Directory {
                name,
                digest,
                exclude,
                entries,
            } = a
            {
                if exclude.len() > MAX_EXCLUDES
                    || exclude
                        .iter()
                        .any(|p| p.as_str().len() > tree::MAX_PATH_BYTES)
                {
                    return Err(ManifestError::TooManyExcludes {
                        name: name.clone(),
                        count: exclude.len(),
                    });
                }
                for pair in entries.windows(2) {
                    if pair[0].path.as_str().as_bytes() >= pair[1].path.as_str().as_bytes() {
                        return Err(ManifestError::UnsortedEntries {
                            name: name.clone(),
                            path: pair[1].path.to_string(),
                        });
                    }
                }
                let computed = tree::tree_digest(entries);
                if &computed != digest {
                    return Err(ManifestError::TreeDigestMismatch {
                        name: name.clone(),
                        declared: digest.clone(),
                        computed,
                    });
                }
                tree::check_links(entries, exclude).map_err(|source| {
                    ManifestError::UnsafeTree {
                        name: name.clone(),
                        source,
                    }
                })?;
            }
        }
        if let Some(pins) = &self.tools {
            pins.validate().map_err(ManifestError::ToolPins)?;
        }
        if let Some(exp) = self.expires_at
            && exp <= self.issued_at
        {
            return Err(ManifestError::ExpiryBeforeIssue {
                issued: self.issued_at.to_string(),
                expires: exp.to_string(),
            });
        }
        Ok(())
    }

    /// Pretty JSON for the file on disk (the signature covers the canonical form).
    pub fn to_json_pretty(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// RFC 8785 bytes of the manifest.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        crate::canonical::to_vec_of(self).unwrap_or_else(|| {
            let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
            crate::canonical::to_vec(&value).unwrap_or_default()
        })
    }

    /// The digest another release's `previous` field names this manifest by.
    pub fn digest(&self) -> Digest {
        Digest::sha256_of(&self.canonical_bytes())
    }

    /// Statement subjects: one per artifact, sha256 digests only (other algorithms are
    /// re-expressed by the artifact itself).
    pub fn subjects(&self) -> Vec<(String, Digest)> {
        self.artifacts
            .iter()
            .map(|a| (a.name().to_owned(), a.digest().clone()))
            .filter(|(_, d)| {
                d.algorithm() == Algorithm::Sha256 || d.algorithm() == Algorithm::Sha512
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_printable() {
        for ok in [
            "1.0.0",
            "2026.10.19",
            "1.0.0-beta.1+build.5",
            "v1",
            "1.0-ünï",
        ] {
            assert!(Version::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1.0 .0",
            "1.0.0\u{202E}1-ateb",
            "1.0\u{200B}.0",
            "1.0.0\u{AD}",
            "1.0.0\u{FEFF}",
            "1.0.0\u{E0041}",
            "1.0.0\u{2066}",
            "1.0.0\u{1B}[2J",
            &"1".repeat(129),
        ] {
            assert!(Version::parse(bad).is_err(), "{}", bad.escape_debug());
        }
    }

    #[test]
    fn canonical_bytes_are_those_of_the_json_value() {
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "schemaVersion": 1,
            "server": {"name": "io.github.acme/wx", "version": "1.0.0"},
            "issuedAt": "2026-11-24T12:00:00Z",
            "artifacts": [{"kind": "file", "name": "a.tgz", "digest": format!("sha256:{}", "0".repeat(64)), "size": 1}],
        }))
        .unwrap();
        let entries = vec![
            tree::Entry {
                path: RelPath::parse("lib/a \"é\".js").unwrap(),
                kind: tree::EntryKind::File {
                    digest: Digest::sha256_of(b"a"),
                    size: 1,
                    executable: true,
                },
            },
            tree::Entry {
                path: RelPath::parse("lib/b.js").unwrap(),
                kind: tree::EntryKind::Symlink {
                    target: "a \"é\".js".to_owned(),
                },
            },
        ];
        m.artifacts
            .push(Artifact::directory("srv".to_owned(), Vec::new(), entries));
        let via_value = crate::canonical::to_vec(&serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(m.canonical_bytes(), via_value);
    }

    #[test]
    fn server_names() {
        for ok in [
            "io.github.user/server",
            "com.example/my_server-2",
            "io.modelcontextprotocol/everything",
        ] {
            assert!(ServerName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "server",
            "/x",
            "io.github/",
            "github/x",
            "io..x/y",
            "io.x/y/z",
            "io.x/ y",
            "io.x/.y",
            ".io.x/y",
        ] {
            assert!(ServerName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn command_lines_split_like_a_shell_without_expansion() {
        let Launch::Stdio { command, args, .. } =
            Launch::stdio_from_command_line(r#"node "dist/my server.js" --x='a b' \$HOME"#)
                .unwrap()
        else {
            panic!("stdio")
        };
        assert_eq!(command, "node");
        assert_eq!(args, ["dist/my server.js", "--x=a b", "$HOME"]);
        assert!(Launch::stdio_from_command_line("  ").is_err());
        assert!(Launch::stdio_from_command_line("node 'x").is_err());
    }
}
