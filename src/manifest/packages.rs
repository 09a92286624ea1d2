//! The package artifact kinds of spec/manifest-v1.md (`npm`, `pypi`, `oci`, `mcpb`): their
//! names, versions and file names, how a manifest's package pins must be shaped, and the
//! artifact reference grammar of `mcp-sign add-artifact` (`npm:NAME@VERSION`, ...). Pure: what
//! resolves a reference against a registry lives in `artifact`.

use crate::digest::{Algorithm, Digest};
use crate::relpath::RelPath;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An npm tarball's integrity in npm's own spelling, `sha512-<base64>` (Subresource Integrity).
/// Only sha512 is accepted: it is what the registry publishes for every package, and the older
/// sha1 form is not a pin.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Integrity(Digest);

impl Integrity {
    pub fn parse(s: &str) -> Option<Integrity> {
        let b64 = s.strip_prefix("sha512-")?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        let digest = Digest::from_bytes(Algorithm::Sha512, &bytes)?;
        let i = Integrity(digest);
        // One spelling per digest: padding and alphabet exactly as encoded.
        (i.to_string() == s).then_some(i)
    }
    pub fn of(digest: Digest) -> Option<Integrity> {
        (digest.algorithm() == Algorithm::Sha512).then_some(Integrity(digest))
    }
    pub fn digest(&self) -> &Digest {
        &self.0
    }
}

impl fmt::Display for Integrity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.0.as_bytes());
        write!(f, "sha512-{b64}")
    }
}

impl fmt::Debug for Integrity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Integrity({self})")
    }
}

impl Serialize for Integrity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Integrity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Integrity::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "integrity `{}` is not `sha512-` followed by the base64 of 64 bytes",
                crate::text::one_line(&s, 100)
            ))
        })
    }
}

/// One package of an npm artifact's resolved dependency tree, as a lockfile names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NpmDependency {
    /// Where it is installed: `node_modules/NAME`, nested as `node_modules/A/node_modules/B`.
    pub path: RelPath,
    pub name: String,
    pub version: String,
    pub integrity: Integrity,
    /// Platforms it is for (npm's `os`, e.g. `linux`, `!win32`); empty = every platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub os: Vec<String>,
    /// CPUs it is for (npm's `cpu`, e.g. `x64`); empty = every CPU.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpu: Vec<String>,
}

/// One wheel of a PyPI artifact's resolved set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Wheel {
    pub name: String,
    pub version: String,
    /// The wheel's file name, as the index lists it.
    pub file: String,
    /// sha256 of the wheel file.
    pub digest: Digest,
}

/// Why a package artifact's pins are not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PackageProblem {
    #[error("`{0}` is not a valid npm package name")]
    NpmName(String),
    #[error("`{0}` is not a valid PyPI project name")]
    PypiName(String),
    #[error("version `{0}` is not valid here")]
    Version(String),
    #[error("dependency path `{path}` is not `node_modules/{name}` under another package's folder")]
    DependencyPath { path: String, name: String },
    #[error("dependency `{0}` is listed twice or out of order (sorted by path bytes)")]
    UnsortedDependencies(String),
    #[error("dependency `{0}` is the artifact's own package")]
    DependencyIsMain(String),
    #[error("`{0}` is not an npm platform or CPU name")]
    Platform(String),
    #[error("wheel file `{file}` is not a wheel of {name} {version}")]
    WheelFile {
        file: String,
        name: String,
        version: String,
    },
    #[error("wheel `{0}` is listed twice or out of order (sorted by normalized name)")]
    UnsortedWheels(String),
    #[error("digest {0} must be sha256")]
    NotSha256(Digest),
    #[error("`{0}` is not an OCI repository `REGISTRY/REPOSITORY`")]
    OciName(String),
    #[error("`{0}` is not an OCI tag")]
    OciTag(String),
    #[error("bundle entry `{0}` is a symlink: an MCP bundle pins regular files only")]
    McpbSymlink(String),
    #[error("bundle entries are listed twice or out of order at `{0}` (sorted by path bytes)")]
    UnsortedEntries(String),
    #[error("bundle contents digest {declared} is not that of its entries ({computed})")]
    McpbTree { declared: Digest, computed: Digest },
}

/// npm's rules for a package name: at most 214 characters, lowercase, URL-safe, optionally
/// scoped (`@scope/name`), not starting with `.` or `_`.
pub fn valid_npm_name(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && !p.starts_with('_')
            && p.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'-' | b'.' | b'_' | b'~')
            })
    };
    if name.is_empty() || name.len() > 214 {
        return false;
    }
    match name.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('/') {
            Some((scope, n)) => part(scope) && part(n) && !n.contains('/'),
            None => false,
        },
        None => part(name) && name != "node_modules" && name != "favicon.ico",
    }
}

/// An npm version: strict semver (as the registry requires).
pub fn valid_npm_version(v: &str) -> bool {
    v.len() <= 256 && semver::Version::parse(v).is_ok()
}

/// PEP 508 project name: letters, digits, `.`, `_`, `-`, starting and ending alphanumeric.
pub fn valid_pypi_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 200
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// PEP 503 normalized form: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A PEP 440 version as found in wheel names and indexes: printable ASCII without whitespace,
/// `/` or `-` (a wheel's name uses `-` as its separator). Compared as written.
pub fn valid_pypi_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'!' | b'_' | b'*'))
}

/// Whether `file` is a wheel (`{dist}-{version}(-{build})?-{py}-{abi}-{platform}.whl`) of
/// project `name` at `version` (names compared in normalized form, as PEP 427 allows).
pub fn wheel_matches(file: &str, name: &str, version: &str) -> bool {
    let Some(stem) = file.strip_suffix(".whl") else {
        return false;
    };
    if file.contains('/') || file.contains('\\') || file.starts_with('.') {
        return false;
    }
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() != 5 && parts.len() != 6 {
        return false;
    }
    if parts.iter().any(|p| p.is_empty()) {
        return false;
    }
    normalize_pypi_name(parts[0]) == normalize_pypi_name(name)
        && normalize_version_for_wheel(parts[1]) == normalize_version_for_wheel(version)
}

fn normalize_version_for_wheel(v: &str) -> String {
    v.replace('-', "_").to_ascii_lowercase()
}

/// An OCI repository `REGISTRY/PATH`: the registry a host name (with optional port), the path
/// lowercase components per the distribution spec.
pub fn valid_oci_name(name: &str) -> bool {
    let Some((registry, repo)) = name.split_once('/') else {
        return false;
    };
    let host_ok = !registry.is_empty()
        && registry.len() <= 253
        && registry
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        && (registry.contains('.') || registry.contains(':') || registry == "localhost");
    let component_ok = |c: &str| {
        let b = c.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
            })
    };
    host_ok && repo.len() <= 255 && repo.split('/').all(component_ok)
}

/// An OCI tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn valid_oci_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Checks an npm artifact's own name and version and its dependency list: every path a chain
/// of `node_modules/NAME` ending in the dependency's name, sorted by path bytes, no duplicate,
/// none at the main package's own path.
pub fn check_npm(
    name: &str,
    version: &str,
    digest: &Digest,
    deps: &[NpmDependency],
) -> Result<(), PackageProblem> {
    if !valid_npm_name(name) {
        return Err(PackageProblem::NpmName(name.to_owned()));
    }
    if !valid_npm_version(version) {
        return Err(PackageProblem::Version(version.to_owned()));
    }
    if digest.algorithm() != Algorithm::Sha256 {
        return Err(PackageProblem::NotSha256(digest.clone()));
    }
    let main_path = format!("node_modules/{name}");
    for (i, d) in deps.iter().enumerate() {
        if !valid_npm_name(&d.name) {
            return Err(PackageProblem::NpmName(d.name.clone()));
        }
        if !valid_npm_version(&d.version) {
            return Err(PackageProblem::Version(d.version.clone()));
        }
        if !npm_path_ok(d.path.as_str(), &d.name) {
            return Err(PackageProblem::DependencyPath {
                path: d.path.to_string(),
                name: d.name.clone(),
            });
        }
        if d.path.as_str() == main_path {
            return Err(PackageProblem::DependencyIsMain(d.path.to_string()));
        }
        for p in d.os.iter().chain(&d.cpu) {
            let bare = p.strip_prefix('!').unwrap_or(p);
            if bare.is_empty()
                || bare.len() > 32
                || !bare.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(PackageProblem::Platform(p.clone()));
            }
        }
        if i > 0 && deps[i - 1].path.as_str().as_bytes() >= d.path.as_str().as_bytes() {
            return Err(PackageProblem::UnsortedDependencies(d.path.to_string()));
        }
    }
    Ok(())
}

/// `node_modules/A[/node_modules/B...]` whose last package is `name` (scoped names take two
/// components).
fn npm_path_ok(path: &str, name: &str) -> bool {
    let mut rest = path;
    let mut last = None;
    while !rest.is_empty() {
        let Some(after) = rest.strip_prefix("node_modules/") else {
            return false;
        };
        let (pkg, tail) = if after.starts_with('@') {
            match after.match_indices('/').nth(1) {
                Some((i, _)) => (&after[..i], &after[i + 1..]),
                None => (after, ""),
            }
        } else {
            match after.split_once('/') {
                Some((p, t)) => (p, t),
                None => (after, ""),
            }
        };
        if !valid_npm_name(pkg) {
            return false;
        }
        last = Some(pkg);
        rest = tail;
    }
    last == Some(name)
}

/// Checks a PyPI artifact: its name, version and wheel, and its resolved set sorted by
/// normalized name with no project twice (the main one included).
pub fn check_pypi(
    name: &str,
    version: &str,
    file: &str,
    digest: &Digest,
    deps: &[Wheel],
) -> Result<(), PackageProblem> {
    let one = |name: &str, version: &str, file: &str, digest: &Digest| {
        if !valid_pypi_name(name) {
            return Err(PackageProblem::PypiName(name.to_owned()));
        }
        if !valid_pypi_version(version) {
            return Err(PackageProblem::Version(version.to_owned()));
        }
        if !wheel_matches(file, name, version) {
            return Err(PackageProblem::WheelFile {
                file: file.to_owned(),
                name: name.to_owned(),
                version: version.to_owned(),
            });
        }
        if digest.algorithm() != Algorithm::Sha256 {
            return Err(PackageProblem::NotSha256(digest.clone()));
        }
        Ok(())
    };
    one(name, version, file, digest)?;
    let main = normalize_pypi_name(name);
    for (i, w) in deps.iter().enumerate() {
        one(&w.name, &w.version, &w.file, &w.digest)?;
        let norm = normalize_pypi_name(&w.name);
        if norm == main {
            return Err(PackageProblem::UnsortedWheels(w.name.clone()));
        }
        if i > 0 && normalize_pypi_name(&deps[i - 1].name) >= norm {
            return Err(PackageProblem::UnsortedWheels(w.name.clone()));
        }
    }
    Ok(())
}

/// Checks an OCI artifact's repository, digest and tag.
pub fn check_oci(name: &str, tag: Option<&str>) -> Result<(), PackageProblem> {
    if !valid_oci_name(name) {
        return Err(PackageProblem::OciName(name.to_owned()));
    }
    if let Some(t) = tag
        && !valid_oci_tag(t)
    {
        return Err(PackageProblem::OciTag(t.to_owned()));
    }
    Ok(())
}

/// Checks an MCP bundle's pinned contents: regular files only, sorted, with `tree` their tree
/// digest.
pub fn check_mcpb(
    digest: &Digest,
    tree: &Digest,
    entries: &[crate::digest::tree::Entry],
) -> Result<(), PackageProblem> {
    if digest.algorithm() != Algorithm::Sha256 {
        return Err(PackageProblem::NotSha256(digest.clone()));
    }
    for (i, e) in entries.iter().enumerate() {
        if matches!(e.kind, crate::digest::tree::EntryKind::Symlink { .. }) {
            return Err(PackageProblem::McpbSymlink(e.path.to_string()));
        }
        if i > 0 && entries[i - 1].path.as_str().as_bytes() >= e.path.as_str().as_bytes() {
            return Err(PackageProblem::UnsortedEntries(e.path.to_string()));
        }
        // A file may not also be a folder of another entry.
        if i > 0
            && e.path
                .as_str()
                .strip_prefix(entries[i - 1].path.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        {
            return Err(PackageProblem::UnsortedEntries(e.path.to_string()));
        }
    }
    let computed = crate::digest::tree::tree_digest(entries);
    if &computed != tree {
        return Err(PackageProblem::McpbTree {
            declared: tree.clone(),
            computed,
        });
    }
    Ok(())
}

/// An artifact reference as `mcp-sign add-artifact` takes it (spec/manifest-v1.md,
/// "Artifact references").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactRef {
    Npm { name: String, version: String },
    Pypi { name: String, version: String },
    Oci { name: String, target: OciTarget },
    Mcpb { path: String },
}

/// What an OCI reference names in its repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciTarget {
    Tag(String),
    Digest(Digest),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefError {
    #[error(
        "`{0}` is not an artifact reference: use npm:NAME@VERSION, pypi:NAME==VERSION, \
         oci:REGISTRY/REPO:TAG, oci:REGISTRY/REPO@sha256:HEX or mcpb:PATH"
    )]
    Kind(String),
    #[error("`{0}` names no exact version: give NAME@VERSION (a version, not a range or tag)")]
    NpmVersion(String),
    #[error("`{0}` names no exact version: give NAME==VERSION")]
    PypiVersion(String),
    #[error("`{0}` names no tag or digest: give REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:HEX")]
    OciTarget(String),
    #[error(transparent)]
    Package(#[from] PackageProblem),
    #[error("`{0}` names no file")]
    McpbPath(String),
}

impl ArtifactRef {
    pub fn parse(s: &str) -> Result<ArtifactRef, RefError> {
        let shown = crate::text::one_line(s, 200);
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| RefError::Kind(shown.clone()))?;
        match kind {
            "npm" => {
                // The version follows the last `@` that is not the scope's.
                let at = rest
                    .char_indices()
                    .skip(1)
                    .filter(|&(_, c)| c == '@')
                    .map(|(i, _)| i)
                    .last()
                    .ok_or_else(|| RefError::NpmVersion(shown.clone()))?;
                let (name, version) = (&rest[..at], &rest[at + 1..]);
                if !valid_npm_name(name) {
                    return Err(PackageProblem::NpmName(crate::text::one_line(name, 200)).into());
                }
                if !valid_npm_version(version) {
                    return Err(RefError::NpmVersion(shown));
                }
                Ok(ArtifactRef::Npm {
                    name: name.to_owned(),
                    version: version.to_owned(),
                })
            }
            "pypi" => {
                let (name, version) = rest
                    .split_once("==")
                    .ok_or_else(|| RefError::PypiVersion(shown.clone()))?;
                if !valid_pypi_name(name) {
                    return Err(PackageProblem::PypiName(crate::text::one_line(name, 200)).into());
                }
                if !valid_pypi_version(version) || version.contains('*') {
                    return Err(RefError::PypiVersion(shown));
                }
                Ok(ArtifactRef::Pypi {
                    name: name.to_owned(),
                    version: version.to_owned(),
                })
            }
            "oci" => {
                let rest = rest.strip_prefix("//").unwrap_or(rest);
                let (name, target) = if let Some((name, digest)) = rest.split_once('@') {
                    let d: Digest = digest
                        .parse()
                        .map_err(|_| RefError::OciTarget(shown.clone()))?;
                    (name, OciTarget::Digest(d))
                } else {
                    // The tag follows the last `:` after the last `/` (a port has a `/` after it).
                    let slash = rest
                        .rfind('/')
                        .ok_or_else(|| RefError::OciTarget(shown.clone()))?;
                    let colon = rest[slash..]
                        .find(':')
                        .map(|i| slash + i)
                        .ok_or_else(|| RefError::OciTarget(shown.clone()))?;
                    let tag = &rest[colon + 1..];
                    if !valid_oci_tag(tag) {
                        return Err(PackageProblem::OciTag(crate::text::one_line(tag, 200)).into());
                    }
                    (&rest[..colon], OciTarget::Tag(tag.to_owned()))
                };
                if !valid_oci_name(name) {
                    return Err(PackageProblem::OciName(crate::text::one_line(name, 200)).into());
                }
                Ok(ArtifactRef::Oci {
                    name: name.to_owned(),
                    target,
                })
            }
            "mcpb" => {
                if rest.is_empty() {
                    return Err(RefError::McpbPath(shown));
                }
                Ok(ArtifactRef::Mcpb {
                    path: rest.to_owned(),
                })
            }
            _ => Err(RefError::Kind(shown)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_has_one_spelling() {
        let d = Digest::sha512_of(b"x");
        let i = Integrity::of(d.clone()).unwrap();
        let s = i.to_string();
        assert_eq!(Integrity::parse(&s), Some(i));
        assert!(Integrity::parse(&s.replace("sha512-", "sha1-")).is_none());
        assert!(Integrity::parse(s.trim_end_matches('=')).is_none());
        assert!(Integrity::parse("sha512-AAAA").is_none());
        assert!(Integrity::of(Digest::sha256_of(b"x")).is_none());
    }

    #[test]
    fn npm_names_and_paths() {
        for ok in ["a", "@scope/pkg", "left-pad", "a.b_c~d"] {
            assert!(valid_npm_name(ok), "{ok}");
        }
        for bad in [
            "",
            "A",
            "@scope",
            "@/x",
            "@s/",
            ".x",
            "_x",
            "a/b",
            "@s/a/b",
            "node_modules",
        ] {
            assert!(!valid_npm_name(bad), "{bad}");
        }
        assert!(npm_path_ok("node_modules/a", "a"));
        assert!(npm_path_ok("node_modules/@s/a/node_modules/b", "b"));
        assert!(npm_path_ok("node_modules/a/node_modules/@s/b", "@s/b"));
        for bad in [
            "node_modules/a/b",
            "lib/node_modules/a",
            "node_modules/b",
            "node_modules/@s",
            "node_modules",
        ] {
            assert!(!npm_path_ok(bad, "a"), "{bad}");
        }
    }

    #[test]
    fn pypi_names_and_wheels() {
        assert_eq!(normalize_pypi_name("Foo.Bar__baz"), "foo-bar-baz");
        assert!(wheel_matches(
            "mcp_server_time-2026.10.19-py3-none-any.whl",
            "mcp-server-time",
            "2026.10.19"
        ));
        assert!(wheel_matches(
            "pydantic_core-2.33.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "pydantic-core",
            "2.33.2"
        ));
        assert!(!wheel_matches("x-1.0.tar.gz", "x", "1.0"));
        assert!(!wheel_matches("x-1.1-py3-none-any.whl", "x", "1.0"));
        assert!(!wheel_matches("y-1.0-py3-none-any.whl", "x", "1.0"));
        assert!(!wheel_matches("../x-1.0-py3-none-any.whl", "x", "1.0"));
        assert!(!valid_pypi_name("-x"));
        assert!(!valid_pypi_version("1.0 "));
    }

    #[test]
    fn references_parse() {
        assert_eq!(
            ArtifactRef::parse("npm:@scope/pkg@1.2.3").unwrap(),
            ArtifactRef::Npm {
                name: "@scope/pkg".into(),
                version: "1.2.3".into()
            }
        );
        assert_eq!(
            ArtifactRef::parse("pypi:mcp-server-time==2026.10.19").unwrap(),
            ArtifactRef::Pypi {
                name: "mcp-server-time".into(),
                version: "2026.10.19".into()
            }
        );
        assert_eq!(
            ArtifactRef::parse("oci:127.0.0.1:5000/acme/server:v1").unwrap(),
            ArtifactRef::Oci {
                name: "127.0.0.1:5000/acme/server".into(),
                target: OciTarget::Tag("v1".into())
            }
        );
        let hex = "a".repeat(64);
        assert_eq!(
            ArtifactRef::parse(&format!("oci://ghcr.io/acme/server@sha256:{hex}")).unwrap(),
            ArtifactRef::Oci {
                name: "ghcr.io/acme/server".into(),
                target: OciTarget::Digest(format!("sha256:{hex}").parse().unwrap())
            }
        );
        for bad in [
            "npm:pkg",
            "npm:pkg@^1.0.0",
            "npm:pkg@latest",
            "npm:@scope/pkg",
            "pypi:x>=1",
            "pypi:x==1.*",
            "oci:ghcr.io/acme/server",
            "oci:127.0.0.1:5000/acme",
            "oci:ghcr.io/Acme/x:v1",
            "git:x",
            "mcpb:",
            "nothing",
        ] {
            assert!(ArtifactRef::parse(bad).is_err(), "{bad}");
        }
    }
}
