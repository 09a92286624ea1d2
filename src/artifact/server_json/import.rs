//! `mcp-sign init --from-server-json`: each `packages[]` entry turned into an artifact
//! reference and resolved into pins through [`crate::artifact::resolve`] (an MCP bundle first
//! downloaded and checked against its `fileSha256`), and the launch of a single stdio package
//! with the arguments and variables that map onto a manifest's launch.

use super::{Argument, ArgumentKind, PackageEntry, ServerJson, has_placeholder};
use crate::artifact::resolve::{ResolveArtifactError, ResolveRequest, Resolved, resolve};
use crate::digest::{Algorithm, Digest};
use crate::manifest::packages::{ArtifactRef, RefError};
use crate::manifest::{Artifact, Launch};
use crate::registry::{self, Registries, RegistryError};
use std::fmt;

/// The public registries' `registryBaseUrl`s: an entry naming one uses the registries this
/// user configured (a mirror serves the same bytes).
const NPM_PUBLIC: &str = "https://registry.npmjs.org";
const PYPI_PUBLIC: &str = "https://pypi.org";

#[derive(Debug, Clone)]
pub struct ImportRequest<'a> {
    pub document: &'a ServerJson,
    /// The registries configured for this user; an entry's `registryBaseUrl` replaces them
    /// when it names another registry.
    pub registries: &'a Registries,
    /// Leave out entries of a registry type mcpsig cannot pin (else they are refused).
    pub skip_unsupported: bool,
}

/// The pins of every entry, in order, and the launch when the document describes one.
#[derive(Debug)]
pub struct Imported {
    pub resolved: Vec<Resolved>,
    /// The package's own launch with the entry's arguments and variables, when exactly one
    /// npm or PyPI package was pinned and its transport is stdio.
    pub launch: Option<Launch>,
    pub notes: Vec<Note>,
}

/// Something of the document that was not carried into the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Note {
    /// An entry of a registry type mcpsig cannot pin, left out (`skip_unsupported`).
    Skipped { entry: String, kind: String },
    /// A field (or one item of it) with no place in the manifest.
    NotMapped {
        entry: String,
        field: String,
        why: &'static str,
    },
    /// An MCP bundle without `fileSha256`: pinned as downloaded.
    NoFileSha256 { entry: String },
    /// The document lists remote servers; they have no code to pin.
    Remotes(usize),
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Skipped { entry, kind } => write!(
                f,
                "{entry}: left out: registryType `{}` cannot be pinned",
                crate::text::one_line(kind, 40)
            ),
            Note::NotMapped { entry, field, why } => {
                write!(f, "{entry}: {field} not mapped: {why}")
            }
            Note::NoFileSha256 { entry } => write!(
                f,
                "{entry}: no fileSha256 to check the download against: pinned as downloaded"
            ),
            Note::Remotes(n) => write!(
                f,
                "{n} remote server(s) not mapped: a remote server has no code to pin"
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error(
        "{entry}: registryType `{kind}` cannot be pinned (mcpsig pins npm, pypi, oci and mcpb packages)"
    )]
    Unsupported { entry: String, kind: String },
    #[error("{entry}: not a valid {kind} package reference")]
    Reference {
        entry: String,
        kind: &'static str,
        #[source]
        source: RefError,
    },
    #[error("{entry}: {problem}")]
    Malformed { entry: String, problem: String },
    #[error("{entry}: `{url}` is neither https nor plain http on loopback")]
    Insecure { entry: String, url: String },
    #[error("{entry}: fileSha256 is {expected}, but the package file hashes to {found}")]
    FileSha256 {
        entry: String,
        expected: String,
        found: Digest,
    },
    #[error(
        "{entry}: the image is named by tag only and tags cannot be resolved here: give its digest (`{name}@sha256:...`)"
    )]
    OciTag { entry: String, name: String },
    #[error("{entry}: cannot pin it")]
    Resolve {
        entry: String,
        #[source]
        source: Box<ResolveArtifactError>,
    },
    #[error("{entry}: cannot download the bundle")]
    Download {
        entry: String,
        #[source]
        source: RegistryError,
    },
    #[error("{entry}: {url} is not served (HTTP 404)")]
    NotServed { entry: String, url: String },
    #[error("cannot keep the downloaded bundle in a temporary folder")]
    Temp(#[source] std::io::Error),
}

impl ImportError {
    /// The document was refused (exit 1), rather than the work failing to run (exit 2:
    /// network, a resolver that failed, local I/O).
    pub fn is_refusal(&self) -> bool {
        match self {
            ImportError::Unsupported { .. }
            | ImportError::Reference { .. }
            | ImportError::Malformed { .. }
            | ImportError::Insecure { .. }
            | ImportError::FileSha256 { .. }
            | ImportError::OciTag { .. }
            | ImportError::NotServed { .. } => true,
            ImportError::Resolve { source, .. } => source.is_refusal(),
            ImportError::Download { .. } | ImportError::Temp(_) => false,
        }
    }
}

/// Resolves every entry of the document, in order.
pub fn import(req: &ImportRequest) -> Result<Imported, ImportError> {
    let mut resolved = Vec::new();
    let mut notes = Vec::new();
    // (index in `resolved`, the entry it came from) for the packages a launch can come from.
    let mut runnable = Vec::new();
    for (i, entry) in req.document.packages.iter().enumerate() {
        let label = entry.label(i);
        let kind = entry.registry_type.as_str();
        if !matches!(kind, "npm" | "pypi" | "oci" | "mcpb") {
            if req.skip_unsupported {
                notes.push(Note::Skipped {
                    entry: label,
                    kind: kind.to_owned(),
                });
                continue;
            }
            return Err(ImportError::Unsupported {
                entry: label,
                kind: crate::text::one_line(kind, 40),
            });
        }
        let one = match kind {
            "npm" | "pypi" => package(entry, &label, req.registries)?,
            "oci" => oci(entry, &label, req.registries)?,
            _ => mcpb(entry, &label, &mut notes)?,
        };
        if matches!(one.artifact, Artifact::Npm { .. } | Artifact::Pypi { .. }) {
            runnable.push((resolved.len(), i));
        }
        resolved.push(one);
    }
    if req.document.remotes > 0 {
        notes.push(Note::Remotes(req.document.remotes));
    }
    let launch = match (runnable.as_slice(), resolved.len()) {
        ([(r, i)], 1) => {
            let entry = &req.document.packages[*i];
            resolved[*r]
                .launch
                .clone()
                .and_then(|l| launch(l, entry, &entry.label(*i), &mut notes))
        }
        _ => None,
    };
    Ok(Imported {
        resolved,
        launch,
        notes,
    })
}

/// An npm or PyPI entry: `npm:IDENTIFIER@VERSION` or `pypi:IDENTIFIER==VERSION`, resolved from
/// the entry's registry, its `fileSha256` (when given) checked against the pinned file.
fn package(
    entry: &PackageEntry,
    label: &str,
    configured: &Registries,
) -> Result<Resolved, ImportError> {
    let npm = entry.registry_type == "npm";
    let kind = if npm { "npm" } else { "pypi" };
    let Some(version) = &entry.version else {
        return Err(ImportError::Malformed {
            entry: label.to_owned(),
            problem: "no `version`: an npm or PyPI package is pinned at an exact version".into(),
        });
    };
    let text = if npm {
        format!("npm:{}@{version}", entry.identifier)
    } else {
        format!("pypi:{}=={version}", entry.identifier)
    };
    let reference = ArtifactRef::parse(&text).map_err(|source| ImportError::Reference {
        entry: label.to_owned(),
        kind,
        source,
    })?;
    let expected = file_sha256(entry, label)?;
    let registries = registries(entry, label, configured)?;
    let resolved = resolve(&ResolveRequest {
        reference: &reference,
        registries: &registries,
        file: None,
        oci: Default::default(),
    })
    .map_err(|source| ImportError::Resolve {
        entry: label.to_owned(),
        source: Box::new(source),
    })?;
    check_sha256(expected, resolved.artifact.digest(), label)?;
    Ok(resolved)
}

/// The registries an entry is resolved from: its own `registryBaseUrl` when it names one that
/// is not the public registry (which the user's configuration may mirror).
fn registries(
    entry: &PackageEntry,
    label: &str,
    configured: &Registries,
) -> Result<Registries, ImportError> {
    let Some(url) = &entry.registry_base_url else {
        return Ok(configured.clone());
    };
    if !crate::http::https_or_loopback(url) {
        return Err(ImportError::Insecure {
            entry: label.to_owned(),
            url: crate::text::one_line(url, 200),
        });
    }
    let base = url.trim_end_matches('/');
    let mut out = configured.clone();
    match entry.registry_type.as_str() {
        "npm" if base != NPM_PUBLIC => out.npm = format!("{base}/"),
        // The schema names PyPI by its site; packages are found under its simple index.
        "pypi" if base != PYPI_PUBLIC => {
            out.pypi = match base.strip_suffix("/simple") {
                Some(_) => format!("{base}/"),
                None => format!("{base}/simple/"),
            }
        }
        _ => {}
    }
    Ok(out)
}

/// The entry's `fileSha256`, when it has one: 64 lowercase hex digits, as the schema says.
fn file_sha256(entry: &PackageEntry, label: &str) -> Result<Option<Digest>, ImportError> {
    let Some(hex_digits) = &entry.file_sha256 else {
        return Ok(None);
    };
    let parsed = (hex_digits.len() == 64
        && hex_digits
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then(|| hex::decode(hex_digits).ok())
    .flatten()
    .and_then(|bytes| Digest::from_bytes(Algorithm::Sha256, &bytes));
    match parsed {
        Some(d) => Ok(Some(d)),
        None => Err(ImportError::Malformed {
            entry: label.to_owned(),
            problem: format!(
                "fileSha256 `{}` is not 64 lowercase hex digits",
                crate::text::one_line(hex_digits, 80)
            ),
        }),
    }
}

fn check_sha256(expected: Option<Digest>, found: &Digest, label: &str) -> Result<(), ImportError> {
    match expected {
        Some(want) if &want != found => Err(ImportError::FileSha256 {
            entry: label.to_owned(),
            expected: want.hex(),
            found: found.clone(),
        }),
        _ => Ok(()),
    }
}

/// An OCI entry: pinned by the digest its identifier names; a tag alone goes through the
/// resolver (which cannot resolve tags yet, and says so).
fn oci(entry: &PackageEntry, label: &str, _reg: &Registries) -> Result<Resolved, ImportError> {
    let mut id =
        super::OciIdentifier::parse(&entry.identifier).map_err(|p| ImportError::Reference {
            entry: label.to_owned(),
            kind: "oci",
            source: p.into(),
        })?;
    // Older documents give the tag as `version`.
    if id.tag.is_none()
        && let Some(v) = &entry.version
    {
        if !crate::manifest::packages::valid_oci_tag(v) {
            return Err(ImportError::Reference {
                entry: label.to_owned(),
                kind: "oci",
                source: crate::manifest::packages::PackageProblem::OciTag(crate::text::one_line(
                    v, 200,
                ))
                .into(),
            });
        }
        id.tag = Some(v.clone());
    }
    if let Some(digest) = id.digest {
        return Ok(Resolved {
            artifact: Artifact::Oci {
                name: id.name,
                digest,
                tag: id.tag,
            },
            launch: None,
            packages: 1,
        });
    }
    // A server.json names what users install: an image it lists by tag alone is refused (a
    // tag moves), with the `@sha256:` form to use instead.
    if id.tag.is_none() {
        return Err(ImportError::Malformed {
            entry: label.to_owned(),
            problem: "the image reference names neither a tag nor a digest".into(),
        });
    }
    Err(ImportError::OciTag {
        entry: label.to_owned(),
        name: id.name,
    })
}

/// An MCP bundle entry: the identifier is its download URL (https, or plain http on
/// loopback); the download is checked against `fileSha256` before it is pinned, under the
/// URL's file name.
fn mcpb(entry: &PackageEntry, label: &str, notes: &mut Vec<Note>) -> Result<Resolved, ImportError> {
    let url = entry.identifier.as_str();
    if !url.starts_with("https://") && !url.starts_with("http://") {
        return Err(ImportError::Malformed {
            entry: label.to_owned(),
            problem: "an mcpb identifier is the bundle's download URL".into(),
        });
    }
    if !crate::http::https_or_loopback(url) {
        return Err(ImportError::Insecure {
            entry: label.to_owned(),
            url: crate::text::one_line(url, 200),
        });
    }
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let file_name = path.rsplit('/').next().unwrap_or_default();
    let usable = !file_name.is_empty()
        && !file_name.starts_with('.')
        && file_name.len() <= 200
        && file_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'));
    if !usable {
        return Err(ImportError::Malformed {
            entry: label.to_owned(),
            problem: "the URL ends in no file name usable as the bundle's name \
                      (letters, digits, `.`, `_`, `-`, `+`)"
                .into(),
        });
    }
    let expected = file_sha256(entry, label)?;
    if expected.is_none() {
        notes.push(Note::NoFileSha256 {
            entry: label.to_owned(),
        });
    }
    let dir = tempfile::tempdir().map_err(ImportError::Temp)?;
    let local = dir.path().join(file_name);
    let mut file = std::fs::File::create(&local).map_err(ImportError::Temp)?;
    let got = registry::download(
        &registry::agent(),
        url,
        "application/octet-stream, */*",
        registry::MAX_ARCHIVE,
        &mut file,
    )
    .map_err(|source| ImportError::Download {
        entry: label.to_owned(),
        source,
    })?;
    drop(file);
    let Some(got) = got else {
        return Err(ImportError::NotServed {
            entry: label.to_owned(),
            url: crate::text::one_line(url, 200),
        });
    };
    // Checked before the bundle is opened: a substituted file is never read further.
    check_sha256(expected, &got.sha256, label)?;
    let reference = ArtifactRef::Mcpb {
        path: local.display().to_string(),
    };
    resolve(&ResolveRequest {
        reference: &reference,
        registries: &Registries::public(),
        file: None,
        oci: Default::default(),
    })
    .map_err(|source| ImportError::Resolve {
        entry: label.to_owned(),
        source: Box::new(source),
    })
}

/// The package's own launch, with what maps of the entry: fixed positional arguments and
/// `--flag=value` named ones appended; variables with a fixed, non-secret value set in `env`,
/// the others named in `envNames` (the user supplies them at launch). What does not map is
/// noted. `None` (noted) when the package does not speak stdio.
fn launch(
    mut launch: Launch,
    entry: &PackageEntry,
    label: &str,
    notes: &mut Vec<Note>,
) -> Option<Launch> {
    let note = |notes: &mut Vec<Note>, field: String, why: &'static str| {
        notes.push(Note::NotMapped {
            entry: label.to_owned(),
            field,
            why,
        })
    };
    if entry.transport.kind != "stdio" {
        note(
            notes,
            format!(
                "transport `{}`",
                crate::text::one_line(&entry.transport.kind, 40)
            ),
            "a manifest launches a package over stdio; give --launch",
        );
        return None;
    }
    if !entry.runtime_arguments.is_empty() {
        note(
            notes,
            "runtimeArguments".into(),
            "they are for npx, uvx or docker; the package runs from the verified install",
        );
    }
    let Launch::Stdio {
        args,
        env,
        env_names,
        ..
    } = &mut launch
    else {
        return Some(launch);
    };
    for (j, a) in entry.package_arguments.iter().enumerate() {
        let field = format!("packageArguments[{j}]");
        match argument(a) {
            Ok(word) => args.push(word),
            Err(why) => note(notes, field, why),
        }
    }
    for (j, v) in entry.environment_variables.iter().enumerate() {
        let field = format!(
            "environmentVariables[{j}] (`{}`)",
            crate::text::one_line(&v.name, 100)
        );
        if crate::server_env::check_name(&v.name).is_err() {
            note(notes, field, "not a variable a server may be given");
            continue;
        }
        match &v.value {
            Some(value) if !v.is_secret && !has_placeholder(value) && v.variables.is_empty() => {
                env.insert(v.name.clone(), value.clone());
            }
            _ => {
                if !env_names.contains(&v.name) {
                    env_names.push(v.name.clone());
                }
                if v.default.is_some() {
                    note(
                        notes,
                        format!("{field} default"),
                        "the user supplies the variable at launch; no default is pinned",
                    );
                }
            }
        }
    }
    Some(launch)
}

/// The launch word for a package argument, or why it has none: only values fixed by the
/// document are pinned; a value the user supplies has no place in a signed launch.
fn argument(a: &Argument) -> Result<String, &'static str> {
    let Some(value) = &a.value else {
        return Err("its value is supplied by the user; append it to the launch by hand");
    };
    if has_placeholder(value) || !a.variables.is_empty() {
        return Err("its value holds variables the user supplies");
    }
    match a.kind {
        ArgumentKind::Positional => Ok(value.clone()),
        ArgumentKind::Named => match &a.name {
            Some(name) if name.starts_with("--") && name.len() > 2 && !name.contains('=') => {
                Ok(format!("{name}={value}"))
            }
            _ => Err("only a `--flag` with a fixed value maps (as `--flag=value`)"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: serde_json::Value) -> PackageEntry {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn arguments_and_variables_map_when_fixed() {
        let e = entry(serde_json::json!({
            "registryType": "npm", "identifier": "x", "version": "1.0.0",
            "transport": {"type": "stdio"},
            "packageArguments": [
                {"type": "positional", "value": "serve"},
                {"type": "named", "name": "--mode", "value": "local"},
                {"type": "positional", "valueHint": "target_dir"},
                {"type": "named", "name": "-p", "value": "1"},
                {"type": "named", "name": "--dir", "value": "{path}"}
            ],
            "environmentVariables": [
                {"name": "LOG_LEVEL", "value": "info"},
                {"name": "API_KEY", "isSecret": true},
                {"name": "REGION", "default": "eu"},
                {"name": "SIGSTORE_ID_TOKEN"}
            ]
        }));
        let base = Launch::stdio_from_command_line("node node_modules/x/index.js").unwrap();
        let mut notes = Vec::new();
        let Some(Launch::Stdio {
            args,
            env,
            env_names,
            ..
        }) = launch(base, &e, "packages[0]", &mut notes)
        else {
            panic!("stdio launch")
        };
        assert_eq!(args, ["node_modules/x/index.js", "serve", "--mode=local"]);
        assert_eq!(env.get("LOG_LEVEL").map(String::as_str), Some("info"));
        assert_eq!(env_names, ["API_KEY", "REGION"]);
        // target_dir, -p, --dir, REGION's default, SIGSTORE_ID_TOKEN.
        assert_eq!(notes.len(), 5, "{notes:?}");
    }

    #[test]
    fn a_package_over_http_gets_no_launch() {
        let e = entry(serde_json::json!({
            "registryType": "npm", "identifier": "x", "version": "1.0.0",
            "transport": {"type": "streamable-http", "url": "http://127.0.0.1:3000/mcp"}
        }));
        let base = Launch::stdio_from_command_line("node x.js").unwrap();
        let mut notes = Vec::new();
        assert!(launch(base, &e, "packages[0]", &mut notes).is_none());
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn file_sha256_is_lowercase_hex() {
        let mut e = entry(serde_json::json!({
            "registryType": "mcpb", "identifier": "https://x/y.mcpb",
            "transport": {"type": "stdio"}, "fileSha256": "AB".repeat(32)
        }));
        assert!(file_sha256(&e, "p").is_err());
        e.file_sha256 = Some("ab".repeat(32));
        assert!(file_sha256(&e, "p").unwrap().is_some());
    }

    #[test]
    fn registry_base_urls() {
        let configured = Registries {
            npm: "https://mirror.example/npm/".into(),
            pypi: "https://mirror.example/pypi/simple/".into(),
        };
        let mut e = entry(serde_json::json!({
            "registryType": "pypi", "identifier": "x", "version": "1",
            "transport": {"type": "stdio"}, "registryBaseUrl": "https://pypi.org"
        }));
        assert_eq!(registries(&e, "p", &configured).unwrap(), configured);
        e.registry_base_url = Some("http://127.0.0.1:8080/".into());
        assert_eq!(
            registries(&e, "p", &configured).unwrap().pypi,
            "http://127.0.0.1:8080/simple/"
        );
        e.registry_base_url = Some("http://example.org".into());
        assert!(matches!(
            registries(&e, "p", &configured),
            Err(ImportError::Insecure { .. })
        ));
    }
}
