//! Resolving an artifact reference (`npm:NAME@VERSION`, `pypi:NAME==VERSION`, `mcpb:PATH`)
//! into the pins a manifest holds, and the launch a package's own metadata suggests (its `bin`,
//! or its console script).

use super::unpack;
use crate::digest::tree::{Entry, EntryKind};
use crate::digest::{Algorithm, Digest, Hasher};
use crate::manifest::packages::{
    ArtifactRef, Integrity, NpmDependency, Wheel, normalize_pypi_name,
};
use crate::manifest::{Artifact, Launch};
use crate::registry::npm::ResolveError;
use crate::registry::{self, Registries, RegistryError};
use crate::relpath::RelPath;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

/// What to resolve.
#[derive(Debug, Clone)]
pub struct ResolveRequest<'a> {
    pub reference: &'a ArtifactRef,
    pub registries: &'a Registries,
    /// Pin this local archive (an `npm pack` tarball, a built wheel, the `.mcpb`) instead of
    /// the registry's copy; its dependencies are still resolved from the registry.
    pub file: Option<&'a Path>,
    /// How OCI registries are reached (credentials, `--insecure`).
    pub oci: crate::registry::oci::Options,
}

/// An artifact, and the launch its package declares (when it declares exactly one way to
/// start it, or one named like the package).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub artifact: Artifact,
    pub launch: Option<Launch>,
    /// How many packages (npm) or wheels (PyPI) the pins hold, the artifact's own included.
    pub packages: usize,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveArtifactError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{what} is not on the registry ({url})")]
    NotFound { what: String, url: String },
    #[error("cannot read `{}`", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: the registry lists {listed}, the bytes fetched hash to {found}")]
    Mismatch {
        what: String,
        listed: String,
        found: String,
    },
    #[error("the resolved tree has a package npm pinned without a sha512 integrity: {0}")]
    WeakIntegrity(String),
    #[error("the resolved pins are not valid")]
    Pins(#[source] crate::manifest::packages::PackageProblem),
    #[error("the bundle cannot be pinned")]
    Bundle(#[source] unpack::UnpackError),
    #[error("cannot resolve image `{image}` in its registry")]
    Oci {
        image: String,
        #[source]
        source: Box<crate::registry::oci::OciError>,
    },
}

impl ResolveArtifactError {
    /// The reference or what it names was refused (exit 1), rather than the work failing to
    /// run (exit 2: network, a resolver that failed, local I/O).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ResolveArtifactError::Mismatch { .. }
                | ResolveArtifactError::WeakIntegrity(_)
                | ResolveArtifactError::Pins(_)
                | ResolveArtifactError::Bundle(_)
                | ResolveArtifactError::NotFound { .. }
        )
    }
}

/// Resolves one reference.
pub fn resolve(req: &ResolveRequest) -> Result<Resolved, ResolveArtifactError> {
    match req.reference {
        ArtifactRef::Npm { name, version } => npm(req, name, version),
        ArtifactRef::Pypi { name, version } => pypi(req, name, version),
        ArtifactRef::Mcpb { path } => mcpb(Path::new(path)),
        ArtifactRef::Oci { name, target } => oci(req, name, target),
    }
}

/// An image: a tag resolved to its manifest digest, a digest checked to exist (the bytes the
/// registry serves hash to it); pinned by that digest, the tag kept as information.
fn oci(
    req: &ResolveRequest,
    name: &str,
    target: &crate::manifest::packages::OciTarget,
) -> Result<Resolved, ResolveArtifactError> {
    use crate::manifest::packages::OciTarget;
    use crate::registry::oci::{ImageRef, Registry, Repository};
    let image = ImageRef {
        repository: Repository::parse(name).ok_or_else(|| {
            ResolveArtifactError::Pins(crate::manifest::packages::PackageProblem::OciName(
                name.to_owned(),
            ))
        })?,
        target: target.clone(),
    };
    let err = |source| ResolveArtifactError::Oci {
        image: image.to_string(),
        source: Box::new(source),
    };
    let registry = Registry::connect(image.repository.registry(), &req.oci).map_err(err)?;
    let descriptor = crate::registry::oci::resolve(&registry, &image).map_err(err)?;
    Ok(Resolved {
        artifact: Artifact::Oci {
            name: name.to_owned(),
            digest: descriptor.digest,
            tag: match target {
                OciTarget::Tag(t) => Some(t.clone()),
                OciTarget::Digest(_) => None,
            },
        },
        launch: None,
        packages: 1,
    })
}

/// A local file, or a download into a temporary file; hashed with sha256 and sha512.
fn fetch_archive(
    url: &str,
    what: &str,
    file: Option<&Path>,
) -> Result<(std::fs::File, Digest, Digest), ResolveArtifactError> {
    if let Some(path) = file {
        let ferr = |source| ResolveArtifactError::File {
            path: path.to_path_buf(),
            source,
        };
        let mut f = std::fs::File::open(path).map_err(ferr)?;
        let mut h256 = Hasher::new(Algorithm::Sha256);
        let mut h512 = Hasher::new(Algorithm::Sha512);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf).map_err(ferr)?;
            if n == 0 {
                break;
            }
            h256.update(&buf[..n]);
            h512.update(&buf[..n]);
        }
        f.rewind().map_err(ferr)?;
        return Ok((f, h256.finish(), h512.finish()));
    }
    let mut tmp = tempfile::tempfile().map_err(|source| ResolveArtifactError::File {
        path: std::env::temp_dir(),
        source,
    })?;
    let got = registry::download(
        &registry::agent(),
        url,
        "application/octet-stream, */*",
        registry::MAX_ARCHIVE,
        &mut tmp,
    )?
    .ok_or_else(|| ResolveArtifactError::NotFound {
        what: what.to_owned(),
        url: url.to_owned(),
    })?;
    tmp.rewind().map_err(|source| ResolveArtifactError::File {
        path: std::env::temp_dir(),
        source,
    })?;
    Ok((tmp, got.sha256, got.sha512))
}

/// A local archive as the resolvers take it: its absolute path.
fn local_spec(local: &Path) -> Result<String, ResolveArtifactError> {
    std::fs::canonicalize(local)
        .map(|abs| abs.display().to_string())
        .map_err(|source| ResolveArtifactError::File {
            path: local.to_path_buf(),
            source,
        })
}

fn npm(req: &ResolveRequest, name: &str, version: &str) -> Result<Resolved, ResolveArtifactError> {
    let base = &req.registries.npm;
    let url = registry::npm::tarball_url(base, name, version);
    let what = format!("{name}@{version}");
    let (mut tarball, sha256, sha512) = fetch_archive(&url, &what, req.file)?;
    let (main, locked) = match req.file {
        Some(local) => registry::npm::resolve_tree_of(base, &local_spec(local)?, name, version)?,
        None => registry::npm::resolve_tree(base, name, version)?,
    };
    let integrity =
        Integrity::of(sha512).ok_or_else(|| ResolveArtifactError::WeakIntegrity(what.clone()))?;
    // npm's lock names the integrity it checked; the bytes we hashed must be those.
    if req.file.is_none() && main.integrity != integrity.to_string() {
        return Err(ResolveArtifactError::Mismatch {
            what,
            listed: main.integrity,
            found: integrity.to_string(),
        });
    }
    let mut dependencies = Vec::with_capacity(locked.len());
    for p in locked {
        let integrity = Integrity::parse(&p.integrity).ok_or_else(|| {
            ResolveArtifactError::WeakIntegrity(format!("{}@{}", p.name, p.version))
        })?;
        let path = RelPath::parse(&p.path).map_err(|_| {
            ResolveArtifactError::Pins(crate::manifest::packages::PackageProblem::DependencyPath {
                path: p.path.clone(),
                name: p.name.clone(),
            })
        })?;
        dependencies.push(NpmDependency {
            path,
            name: p.name,
            version: p.version,
            integrity,
            os: p.os,
            cpu: p.cpu,
        });
    }
    crate::manifest::packages::check_npm(name, version, &sha256, &dependencies)
        .map_err(ResolveArtifactError::Pins)?;
    // The launch: the package's `bin`, read from its own package.json.
    let dir = tempfile::tempdir().map_err(|source| ResolveArtifactError::File {
        path: std::env::temp_dir(),
        source,
    })?;
    let mut w = unpack::Writer::new(dir.path());
    let package_json = unpack::npm_tarball(&mut w, &what, "p", &mut tarball)
        .map_err(ResolveArtifactError::Bundle)?;
    let launch = package_json.and_then(|pj| npm_launch(name, &pj));
    let packages = dependencies.len() + 1;
    Ok(Resolved {
        artifact: Artifact::Npm {
            name: name.to_owned(),
            version: version.to_owned(),
            digest: sha256,
            integrity,
            dependencies,
        },
        launch,
        packages,
    })
}

/// `node node_modules/NAME/BIN`: the package's only `bin`, or the one named like the package.
pub fn npm_launch(name: &str, package_json: &[u8]) -> Option<Launch> {
    let pj: serde_json::Value = serde_json::from_slice(package_json).ok()?;
    let basename = name.rsplit('/').next().unwrap_or(name);
    let file = match pj.get("bin")? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(map) => {
            let pick = if map.len() == 1 {
                map.values().next()
            } else {
                map.get(basename)
            };
            pick?.as_str()?.to_owned()
        }
        _ => return None,
    };
    let rel = RelPath::parse(file.trim_start_matches("./")).ok()?;
    Some(Launch::Stdio {
        command: "node".to_owned(),
        args: vec![format!("node_modules/{name}/{rel}")],
        env: Default::default(),
        env_names: Vec::new(),
        workdir: None,
    })
}

fn pypi(req: &ResolveRequest, name: &str, version: &str) -> Result<Resolved, ResolveArtifactError> {
    let index = &req.registries.pypi;
    let (main, rest) = match req.file {
        Some(local) => registry::pypi::resolve_set_of(index, &local_spec(local)?, name)?,
        None => registry::pypi::resolve_set(index, name, version)?,
    };
    let what = format!("{}=={}", main.name, main.version);
    if main.version != version {
        return Err(ResolveArtifactError::Resolve(ResolveError::ReportEntry {
            index: 0,
            what: "the project resolved to another version than the one asked for",
        }));
    }
    let (wheel, sha256, _) = fetch_archive(&main.url, &what, req.file)?;
    if req.file.is_none() && Some(&sha256) != main.sha256.as_ref() {
        return Err(ResolveArtifactError::Mismatch {
            what,
            listed: main.sha256.map(|d| d.to_string()).unwrap_or_default(),
            found: sha256.to_string(),
        });
    }
    let mut dependencies: Vec<Wheel> = Vec::with_capacity(rest.len());
    for w in rest {
        let digest = w.sha256.ok_or_else(|| {
            ResolveArtifactError::Resolve(ResolveError::ReportEntry {
                index: 0,
                what: "a dependency comes without a sha256",
            })
        })?;
        dependencies.push(Wheel {
            name: w.name,
            version: w.version,
            file: w.file,
            digest,
        });
    }
    crate::manifest::packages::check_pypi(
        &main.name,
        &main.version,
        &main.file,
        &sha256,
        &dependencies,
    )
    .map_err(ResolveArtifactError::Pins)?;
    let dir = tempfile::tempdir().map_err(|source| ResolveArtifactError::File {
        path: std::env::temp_dir(),
        source,
    })?;
    let mut w = unpack::Writer::new(dir.path());
    let info = unpack::wheel(&mut w, &what, "site", wheel).map_err(ResolveArtifactError::Bundle)?;
    let launch = pypi_launch(&main.name, &info.console_scripts);
    let packages = dependencies.len() + 1;
    Ok(Resolved {
        artifact: Artifact::Pypi {
            name: main.name,
            version: main.version,
            file: main.file,
            digest: sha256,
            dependencies,
        },
        launch,
        packages,
    })
}

/// `python3 -I -B bin/SCRIPT`: the wheel's only console script, or the one named like the
/// project.
pub fn pypi_launch(name: &str, scripts: &[(String, String)]) -> Option<Launch> {
    let usable: Vec<&(String, String)> = scripts
        .iter()
        .filter(|(n, t)| super::launcher(n, t).is_some())
        .collect();
    let pick = if usable.len() == 1 {
        usable[0]
    } else {
        let norm = normalize_pypi_name(name);
        usable
            .iter()
            .find(|(n, _)| normalize_pypi_name(n) == norm)?
    };
    Some(Launch::Stdio {
        command: "python3".to_owned(),
        // -I: no PYTHON* variable, user site or current folder changes what is imported; -B:
        // nothing is written into the install (it is read-only, but not to root).
        args: vec!["-I".to_owned(), "-B".to_owned(), format!("bin/{}", pick.0)],
        env: Default::default(),
        env_names: Vec::new(),
        workdir: None,
    })
}

/// An MCP bundle: its file's digest and size, and every file it holds (each hashed; paths
/// checked as for a directory; symlinks and special entries refused).
fn mcpb(path: &Path) -> Result<Resolved, ResolveArtifactError> {
    let ferr = |source| ResolveArtifactError::File {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| RelPath::parse(n).ok())
        .ok_or_else(|| {
            ferr(std::io::Error::other(
                "its file name is not a safe relative path",
            ))
        })?;
    let (digest, size) =
        crate::digest::hash_file(Algorithm::Sha256, path).map_err(|e| match e {
            crate::digest::HashError::Io { source, .. } => ferr(source),
            crate::digest::HashError::NotAFile { .. } => {
                ferr(std::io::Error::other("not a regular file"))
            }
        })?;
    let entries = mcpb_entries(path).map_err(ResolveArtifactError::Bundle)?;
    let tree = crate::digest::tree::tree_digest(&entries);
    crate::manifest::packages::check_mcpb(&digest, &tree, &entries)
        .map_err(ResolveArtifactError::Pins)?;
    Ok(Resolved {
        artifact: Artifact::Mcpb {
            name,
            digest,
            size,
            tree,
            entries,
        },
        launch: None,
        packages: 1,
    })
}

/// The files of a `.mcpb` (a zip), sorted, each hashed; nothing is written.
pub fn mcpb_entries(path: &Path) -> Result<Vec<Entry>, unpack::UnpackError> {
    let archive = path.display().to_string();
    let arch_err = |source| unpack::UnpackError::Archive {
        archive: archive.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(arch_err)?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| arch_err(std::io::Error::other(e)))?;
    let mut entries = Vec::with_capacity(zip.len());
    let mut seen = std::collections::HashSet::new();
    for i in 0..zip.len() {
        let f = zip
            .by_index(i)
            .map_err(|e| arch_err(std::io::Error::other(e)))?;
        let name = f.name().to_owned();
        if f.is_dir() {
            continue;
        }
        if f.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(unpack::UnpackError::Kind {
                archive: archive.clone(),
                path: crate::text::one_line(&name, 300),
                kind: "symlink",
            });
        }
        let rel = unpack::join(&archive, "", &name)?;
        if !seen.insert(rel.as_str().to_owned()) {
            return Err(unpack::UnpackError::Duplicate {
                archive: archive.clone(),
                path: rel.to_string(),
            });
        }
        let executable = f.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let mut limited = f.take(1024 * 1024 * 1024);
        let (digest, size) =
            crate::digest::hash_reader(Algorithm::Sha256, &mut limited).map_err(arch_err)?;
        entries.push(Entry {
            path: rel,
            kind: EntryKind::File {
                digest,
                size,
                executable,
            },
        });
    }
    entries.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
    for pair in entries.windows(2) {
        if pair[1]
            .path
            .as_str()
            .strip_prefix(pair[0].path.as_str())
            .is_some_and(|r| r.starts_with('/'))
        {
            return Err(unpack::UnpackError::FileAndFolder {
                archive: archive.clone(),
                path: pair[0].path.to_string(),
            });
        }
    }
    Ok(entries)
}
