//! Package artifacts against their registries (spec/manifest-v1.md, spec/packages.md):
//! resolving a reference into pins (`resolve`), checking pins against what the registry serves
//! now, and installing exactly the pinned tree into the launch store (`check`), from archives
//! whose digests were checked, every file hashed as it is written. `server_json` maps the MCP
//! registry's `server.json` packages onto these pins and back.

pub mod add;
pub mod resolve;
pub mod server_json;
pub mod unpack;

use crate::digest::tree::Change;
use crate::digest::{Algorithm, Digest, Hasher};
use crate::manifest::Artifact;
use crate::manifest::packages::{Integrity, NpmDependency, Wheel, normalize_pypi_name};
use crate::registry::{self, Registries, RegistryError};
use crate::store::{InstallState, Store, StoreError};
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Downloads at once.
const PARALLEL: usize = 8;
/// The installer's version: part of every install key, so a changed layout never reuses an
/// older install.
const INSTALLER: &str = "mcpsig-install-v1";

/// How package artifacts are checked.
#[derive(Debug, Clone)]
pub struct PackageChecks {
    pub registries: Registries,
    /// When the caller gives no launch store, install into the default one
    /// (`Store::open_default`), opened only if a package is pinned.
    pub install: bool,
}

/// Why a package artifact is rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Finding {
    #[error("{what}: the registry serves {found}, the manifest pins {expected}")]
    Mismatch {
        what: String,
        expected: Digest,
        found: Digest,
    },
    #[error("{what}: the registry does not serve it ({url})")]
    NotServed { what: String, url: String },
    #[error("{0}")]
    Unsafe(#[source] unpack::UnpackError),
    #[error("the installed tree at `{}` was changed after it was installed: {}", path.display(), changes.first().map(ToString::to_string).unwrap_or_default())]
    InstalledChanged { path: PathBuf, changes: Vec<Change> },
    #[error("wheel {file}: {what}")]
    Launcher { file: String, what: &'static str },
}

/// What checking one package artifact found.
#[derive(Debug, Default)]
pub struct Checked {
    pub findings: Vec<Finding>,
    /// The sealed install, when one was asked for and everything matched.
    pub snapshot: Option<PathBuf>,
    /// Some archives were not in the store and `offline` forbade fetching them.
    pub offline_missing: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read archive `{}`", path.display())]
    Blob {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the install")]
    Write(#[source] unpack::UnpackError),
}

/// Where an archive is fetched from.
#[derive(Debug, Clone)]
enum Source {
    Url(String),
    /// A wheel: looked up by file name in the project's index page (PEP 691).
    Index {
        index: String,
        project: String,
        file: String,
    },
}

/// One archive to fetch: what it is, where, and what it must hash to.
#[derive(Debug, Clone)]
struct Archive {
    what: String,
    source: Source,
    /// The digest the store keeps it under (npm: the sha512 integrity; PyPI: the sha256).
    key: Digest,
    /// Also required (npm's main tarball: its sha256).
    also: Option<Digest>,
}

/// Where an archive is once fetched and checked.
enum Fetched {
    Path(PathBuf),
    /// Checked, not kept (no store).
    Checked,
    Mismatch(Finding),
    Offline,
}

/// Checks a package artifact (`npm` or `pypi`; other kinds return an empty result) against its
/// registry: every archive it pins is fetched (or found in the store) and its digest compared.
/// With `offline`, nothing is fetched: only archives already in the store count. With
/// `install`, the pinned tree is installed into `store` (or an install made earlier is
/// checked unchanged and reused without any network) and its snapshot returned.
pub fn check(
    artifact: &Artifact,
    checks: &PackageChecks,
    store: Option<&Store>,
    install: bool,
    offline: bool,
) -> Result<Checked, ArtifactError> {
    let plan = match plan(artifact, &checks.registries) {
        Some(p) => p,
        None => return Ok(Checked::default()),
    };
    let mut out = Checked::default();
    let key = install_key(artifact);
    if install && let Some(store) = store {
        match store.installed(&key)? {
            InstallState::Ready(s) => {
                out.snapshot = Some(s.path);
                return Ok(out);
            }
            InstallState::Changed {
                path,
                expected,
                found,
            } => {
                let changes = crate::digest::tree::compare(&expected, &found);
                out.findings
                    .push(Finding::InstalledChanged { path, changes });
                return Ok(out);
            }
            InstallState::Missing => {}
        }
    }
    let fetched = fetch_all(&plan.archives, store, offline)?;
    let mut paths = Vec::new();
    for (a, f) in plan.archives.iter().zip(fetched) {
        match f {
            Fetched::Path(p) => paths.push(Some(p)),
            Fetched::Checked => paths.push(None),
            Fetched::Mismatch(finding) => out.findings.push(finding),
            Fetched::Offline => out.offline_missing.push(a.what.clone()),
        }
    }
    if !out.findings.is_empty() || !out.offline_missing.is_empty() || !install {
        return Ok(out);
    }
    let Some(store) = store else {
        return Ok(out);
    };
    let build = store.begin_install()?;
    let mut w = unpack::Writer::new(build.path());
    let mut found = Vec::new();
    let mut scripts = Vec::new();
    for ((archive, path), target) in plan.archives.iter().zip(&paths).zip(&plan.targets) {
        let Some(path) = path else { continue };
        match install_one(&mut w, archive, path, target)? {
            Installed::Rejected(finding) => found.push(finding),
            Installed::Done(Some(info)) if matches!(target, Target::Wheel { file } if Some(file) == plan.main_wheel.as_ref()) =>
            {
                scripts = info.console_scripts;
            }
            Installed::Done(_) => {}
        }
    }
    if found.is_empty() {
        write_launchers(&mut w, &scripts).map_err(ArtifactError::Write)?;
    }
    if !found.is_empty() {
        out.findings = found;
        return Ok(out);
    }
    let snapshot = store.seal_install(&key, build, w.into_entries())?;
    out.snapshot = Some(snapshot.path);
    Ok(out)
}

/// Where each archive goes in the install.
#[derive(Debug, Clone)]
enum Target {
    /// An npm tarball unpacked at this `node_modules/...` path; skipped on other platforms.
    Npm { path: String, for_here: bool },
    /// A wheel unpacked into `site/`.
    Wheel { file: String },
}

struct Plan {
    archives: Vec<Archive>,
    targets: Vec<Target>,
    /// PyPI: the project whose console scripts get launchers.
    main_wheel: Option<String>,
}

fn plan(artifact: &Artifact, reg: &Registries) -> Option<Plan> {
    match artifact {
        Artifact::Npm {
            name,
            version,
            digest,
            integrity,
            dependencies,
        } => {
            let mut archives = vec![npm_archive(reg, name, version, integrity, Some(digest))];
            let mut targets = vec![Target::Npm {
                path: format!("node_modules/{name}"),
                for_here: true,
            }];
            for d in dependencies {
                archives.push(npm_archive(reg, &d.name, &d.version, &d.integrity, None));
                targets.push(Target::Npm {
                    path: d.path.to_string(),
                    for_here: for_this_platform(d),
                });
            }
            Some(Plan {
                archives,
                targets,
                main_wheel: None,
            })
        }
        Artifact::Pypi {
            name,
            version,
            file,
            digest,
            dependencies,
        } => {
            let main = Wheel {
                name: name.clone(),
                version: version.clone(),
                file: file.clone(),
                digest: digest.clone(),
            };
            let all: Vec<&Wheel> = std::iter::once(&main).chain(dependencies).collect();
            Some(Plan {
                archives: all
                    .iter()
                    .map(|w| Archive {
                        what: format!("wheel {}", w.file),
                        source: Source::Index {
                            index: reg.pypi.clone(),
                            project: w.name.clone(),
                            file: w.file.clone(),
                        },
                        key: w.digest.clone(),
                        also: None,
                    })
                    .collect(),
                targets: all
                    .iter()
                    .map(|w| Target::Wheel {
                        file: w.file.clone(),
                    })
                    .collect(),
                main_wheel: Some(file.clone()),
            })
        }
        _ => None,
    }
}

fn npm_archive(
    reg: &Registries,
    name: &str,
    version: &str,
    integrity: &Integrity,
    sha256: Option<&Digest>,
) -> Archive {
    Archive {
        what: format!("tarball of {name}@{version}"),
        source: Source::Url(registry::npm::tarball_url(&reg.npm, name, version)),
        key: integrity.digest().clone(),
        also: sha256.cloned(),
    }
}

/// npm's `os` / `cpu` rule for this machine: a list with plain names must name it, a `!name`
/// must not.
fn for_this_platform(d: &NpmDependency) -> bool {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        o => o,
    };
    let cpu = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        "x86" => "ia32",
        "powerpc64" => "ppc64",
        a => a,
    };
    let allows = |list: &[String], here: &str| {
        if list.iter().any(|x| x.strip_prefix('!') == Some(here)) {
            return false;
        }
        let plain: Vec<&String> = list.iter().filter(|x| !x.starts_with('!')).collect();
        plain.is_empty() || plain.iter().any(|x| *x == here)
    };
    allows(&d.os, os) && allows(&d.cpu, cpu)
}

/// The install of an artifact is named by its pins and the installer's version (and, for npm,
/// this platform, which decides the packages installed).
pub fn install_key(artifact: &Artifact) -> Digest {
    let mut h = Hasher::new(Algorithm::Sha256);
    h.update(INSTALLER.as_bytes());
    h.update(&[0]);
    h.update(std::env::consts::OS.as_bytes());
    h.update(&[0]);
    h.update(std::env::consts::ARCH.as_bytes());
    h.update(&[0]);
    h.update(&crate::canonical::to_vec_of(artifact).unwrap_or_default());
    h.finish()
}

fn fetch_all(
    archives: &[Archive],
    store: Option<&Store>,
    offline: bool,
) -> Result<Vec<Fetched>, ArtifactError> {
    let agent = registry::agent();
    let next = AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<Fetched, ArtifactError>>>> = archives
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|s| {
        for _ in 0..PARALLEL.min(archives.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(a) = archives.get(i) else { break };
                    let r = fetch_one(&agent, a, store, offline);
                    let failed = r.is_err();
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(r);
                    }
                    if failed {
                        // One failure decides; the others need not be fetched.
                        next.store(archives.len(), Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
    });
    let mut out = Vec::with_capacity(archives.len());
    for slot in results {
        match slot.into_inner().ok().flatten() {
            Some(r) => out.push(r?),
            None => out.push(Fetched::Offline),
        }
    }
    Ok(out)
}

fn fetch_one(
    agent: &ureq::Agent,
    a: &Archive,
    store: Option<&Store>,
    offline: bool,
) -> Result<Fetched, ArtifactError> {
    if let Some(store) = store {
        let p = store.blob_path(&a.key);
        if p.is_file() {
            return Ok(Fetched::Path(p));
        }
    }
    if offline {
        return Ok(Fetched::Offline);
    }
    let url = match &a.source {
        Source::Url(u) => u.clone(),
        Source::Index {
            index,
            project,
            file,
        } => match registry::pypi::find_file(agent, index, project, file)? {
            None => {
                return Ok(Fetched::Mismatch(Finding::NotServed {
                    what: a.what.clone(),
                    url: format!("{index}{}/", normalize_pypi_name(project)),
                }));
            }
            // The index's own listing already disagrees: no need to download.
            Some((_, Some(listed))) if listed != a.key => {
                return Ok(Fetched::Mismatch(Finding::Mismatch {
                    what: a.what.clone(),
                    expected: a.key.clone(),
                    found: listed,
                }));
            }
            Some((url, _)) => url,
        },
    };
    let mut tmp = match store {
        Some(s) => Some(s.blob_temp()?),
        None => None,
    };
    let mut sink: Box<dyn std::io::Write> = match tmp.as_mut() {
        Some(t) => Box::new(t.as_file_mut()),
        None => Box::new(std::io::sink()),
    };
    let got = registry::download(
        agent,
        &url,
        "application/octet-stream, */*",
        registry::MAX_ARCHIVE,
        &mut sink,
    )?;
    drop(sink);
    let Some(got) = got else {
        return Ok(Fetched::Mismatch(Finding::NotServed {
            what: a.what.clone(),
            url,
        }));
    };
    let pick = |d: &Digest| match d.algorithm() {
        Algorithm::Sha256 => got.sha256.clone(),
        Algorithm::Sha512 => got.sha512.clone(),
    };
    for want in std::iter::once(&a.key).chain(a.also.as_ref()) {
        let found = pick(want);
        if &found != want {
            return Ok(Fetched::Mismatch(Finding::Mismatch {
                what: a.what.clone(),
                expected: want.clone(),
                found,
            }));
        }
    }
    match (store, tmp) {
        (Some(store), Some(tmp)) => Ok(Fetched::Path(store.keep_blob(tmp, &a.key)?)),
        _ => Ok(Fetched::Checked),
    }
}

/// Unpacks one checked archive into the install, re-hashing it as it is read (a blob in the
/// store is hashed again: what is installed is what was checked).
fn install_one(
    w: &mut unpack::Writer,
    a: &Archive,
    path: &std::path::Path,
    target: &Target,
) -> Result<Installed, ArtifactError> {
    if let Target::Npm {
        for_here: false, ..
    } = target
    {
        return Ok(Installed::Done(None));
    }
    let file = std::fs::File::open(path).map_err(|source| ArtifactError::Blob {
        path: path.to_path_buf(),
        source,
    })?;
    let result = match target {
        Target::Npm { path: prefix, .. } => {
            let mut tee = HashingReader::new(file, a.key.algorithm());
            let r = unpack::npm_tarball(w, &a.what, prefix, &mut tee).map(|_| None);
            // Anything after the tar end marker still belongs to the archive's digest.
            let _ = std::io::copy(&mut tee, &mut std::io::sink());
            let found = tee.finish();
            if found != a.key {
                return Ok(Installed::Rejected(Finding::Mismatch {
                    what: format!("{} (in the store)", a.what),
                    expected: a.key.clone(),
                    found,
                }));
            }
            r
        }
        Target::Wheel { .. } => {
            let (found, _) =
                crate::digest::hash_reader(a.key.algorithm(), &file).map_err(|source| {
                    ArtifactError::Blob {
                        path: path.to_path_buf(),
                        source,
                    }
                })?;
            if found != a.key {
                return Ok(Installed::Rejected(Finding::Mismatch {
                    what: format!("{} (in the store)", a.what),
                    expected: a.key.clone(),
                    found,
                }));
            }
            // The zip reader seeks: the file is read again, by the same descriptor, unchanged
            // (store blobs are read-only and private).
            unpack::wheel(w, &a.what, "site", file).map(Some)
        }
    };
    match result {
        Ok(info) => Ok(Installed::Done(info)),
        Err(e) if e.is_archive_fault() => Ok(Installed::Rejected(Finding::Unsafe(e))),
        Err(e) => Err(ArtifactError::Write(e)),
    }
}

/// What installing one archive did.
enum Installed {
    Done(Option<unpack::WheelInfo>),
    Rejected(Finding),
}

struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R, alg: Algorithm) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(alg),
        }
    }
    fn finish(self) -> Digest {
        self.hasher.finish()
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A console script's launcher: `bin/NAME`, a Python file that puts the install's `site`
/// folder first on the import path and calls the entry point, as pip's generated scripts do,
/// but without a shebang naming an interpreter path (the launch names `python3`). Entry points
/// whose name or target is not plain identifiers get no launcher.
fn write_launchers(
    w: &mut unpack::Writer,
    scripts: &[(String, String)],
) -> Result<(), unpack::UnpackError> {
    for (name, target) in scripts {
        let Some(code) = launcher(name, target) else {
            continue;
        };
        let path = unpack::join("launcher", "bin", name)?;
        if w.has(path.as_str()) {
            continue;
        }
        w.file("launcher", &path, true, &mut code.as_bytes())?;
    }
    Ok(())
}

/// The launcher's source for `name = module:attr` (extras in brackets ignored).
pub fn launcher(name: &str, target: &str) -> Option<String> {
    let ident = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|p| {
                let mut c = p.chars();
                c.next()
                    .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
                    && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
            })
    };
    let name_ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    let target = target.split('[').next()?.trim();
    let (module, attr) = target.split_once(':')?;
    let (module, attr) = (module.trim(), attr.trim());
    if !name_ok || !ident(module) || !ident(attr) {
        return None;
    }
    Some(format!(
        "# Generated by mcpsig: console script `{name}` = {module}:{attr}.\n\
         import os, sys\n\
         sys.path[:0] = [os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), \"site\")]\n\
         import importlib\n\
         target = importlib.import_module(\"{module}\")\n\
         for part in \"{attr}\".split(\".\"):\n    target = getattr(target, part)\n\
         sys.exit(target())\n"
    ))
}
