//! Orchestration the CLIs call: turn a manifest's launch configuration into a
//! client launch, write pins into a manifest file, and check a verified
//! manifest's pins against the live server.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Lint, ToolDiff, ToolPins, ToolsError, capture, lint};
use crate::manifest::{Launch as ManifestLaunch, Manifest};
use crate::mcp::env::EnvArg;
use crate::mcp::{ClientOptions, HttpLaunch, Launch, StdioLaunch};

/// The client launch for a manifest's launch configuration. `base_dir` is
/// where the server's directory is (a `workdir` is relative to it). Variables
/// named in `envNames` are taken from this process's environment: the manifest
/// pins only their names.
pub fn launch_from_manifest(
    launch: &ManifestLaunch,
    base_dir: &Path,
    user_env: &[EnvArg],
) -> Result<Launch, ToolsError> {
    match launch {
        ManifestLaunch::Stdio {
            command,
            args,
            env,
            env_names,
            workdir,
        } => {
            let mut vars: Vec<(String, String)> =
                env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            for name in env_names {
                // A value the user passes (`--env NAME=VALUE`) is added below and wins anyway.
                if user_env.iter().any(|a| a.name() == name) {
                    continue;
                }
                let value = std::env::var(name)
                    .map_err(|_| ToolsError::MissingEnv { name: name.clone() })?;
                vars.push((name.clone(), value));
            }
            add_user_env(&mut vars, user_env)?;
            let cwd = match workdir {
                Some(w) => base_dir.join(w.as_str()),
                None => base_dir.to_path_buf(),
            };
            Ok(Launch::Stdio(StdioLaunch {
                program: command.clone(),
                args: args.clone(),
                env: vars,
                cwd: Some(cwd),
                bytecode: Default::default(),
            }))
        }
        ManifestLaunch::StreamableHttp { url, tls } => Ok(Launch::Http(HttpLaunch {
            url: url.clone(),
            headers: Vec::new(),
            tls: tls.clone(),
        })),
    }
}

/// A launch from a command line given after `--`, run in `cwd`.
pub fn launch_from_argv(
    argv: &[String],
    cwd: &Path,
    user_env: &[EnvArg],
) -> Result<Launch, ToolsError> {
    let (program, args) = argv.split_first().ok_or(ToolsError::NoLaunch)?;
    let mut env = Vec::new();
    add_user_env(&mut env, user_env)?;
    Ok(Launch::Stdio(StdioLaunch {
        program: program.clone(),
        args: args.to_vec(),
        env,
        cwd: Some(cwd.to_path_buf()),
        bytecode: Default::default(),
    }))
}

/// Adds the user's `--env` variables; a later value for the same name replaces an earlier one.
fn add_user_env(vars: &mut Vec<(String, String)>, user_env: &[EnvArg]) -> Result<(), ToolsError> {
    for arg in user_env {
        let (name, value) = arg.resolve().map_err(ToolsError::Env)?;
        vars.retain(|(k, _)| k != &name);
        vars.push((name, value));
    }
    Ok(())
}

/// What `pin_manifest_file` did.
#[derive(Debug)]
pub struct PinOutcome {
    pub pins: ToolPins,
    pub lints: Vec<Lint>,
    /// False when `strict` refused to write because of lints.
    pub written: bool,
}

/// Captures the server's definitions and writes them into the manifest at
/// `path` (its `tools` member), atomically. The server is `launch` if given,
/// else the manifest's own launch configuration relative to `base_dir`
/// (default: the manifest's directory). With `strict`, any lint refuses the write.
pub fn pin_manifest_file(
    path: &Path,
    launch: Option<Launch>,
    base_dir: Option<&Path>,
    user_env: &[EnvArg],
    options: &ClientOptions,
    strict: bool,
) -> Result<PinOutcome, ToolsError> {
    let bytes =
        crate::fsutil::read_limited(path, crate::json::MAX_DOCUMENT_BYTES as u64).map_err(|e| {
            ToolsError::ReadManifest {
                path: path.to_path_buf(),
                source: e,
            }
        })?;
    let mut doc = crate::json::parse_value(&bytes).map_err(|source| ToolsError::ManifestJson {
        path: path.to_path_buf(),
        source,
    })?;
    let base = match base_dir {
        Some(b) => b.to_path_buf(),
        None => match package_install(&doc)? {
            Some(install) => install,
            None => manifest_dir(path),
        },
    };
    // The pins must describe the code the manifest pins: the tree the server runs from is
    // re-hashed first, and a tree changed since `init` is refused. (An explicit command with
    // no directory runs wherever the author says; it is not the pinned launch.)
    if launch.is_none() || base_dir.is_some() {
        check_pinned_tree(&doc, &base)?;
    }
    let launch = match launch {
        Some(l) => l,
        None => {
            let raw = doc.get("launch").cloned().ok_or(ToolsError::NoLaunch)?;
            let parsed: ManifestLaunch =
                serde_json::from_value(raw).map_err(|source| ToolsError::ManifestMember {
                    path: path.to_path_buf(),
                    member: "launch",
                    source,
                })?;
            launch_from_manifest(&parsed, &base, user_env)?
        }
    };
    let pins = capture(&launch, options)?;
    let lints = lint(&pins);
    if strict && !lints.is_empty() {
        return Ok(PinOutcome {
            pins,
            lints,
            written: false,
        });
    }
    let Value::Object(map) = &mut doc else {
        return Err(ToolsError::NotAnObject {
            path: path.to_path_buf(),
        });
    };
    let value = serde_json::to_value(&pins).map_err(|source| ToolsError::ManifestMember {
        path: path.to_path_buf(),
        member: "tools",
        source,
    })?;
    map.insert("tools".into(), value);
    let mut out = serde_json::to_vec_pretty(&doc).map_err(|source| ToolsError::ManifestMember {
        path: path.to_path_buf(),
        member: "(whole document)",
        source,
    })?;
    out.push(b'\n');
    crate::fsutil::write_atomic(path, &out, 0o644, true).map_err(|source| {
        ToolsError::WriteManifest {
            path: path.to_path_buf(),
            source,
        }
    })?;
    Ok(PinOutcome {
        pins,
        lints,
        written: true,
    })
}

/// A manifest that pins one npm or PyPI package and no directory runs from the package's
/// install: checked against its registry (configured as `Registries::from_env` says) and
/// installed into the launch store, or an unchanged earlier install reused.
fn package_install(doc: &Value) -> Result<Option<PathBuf>, ToolsError> {
    let Some(list) = doc.get("artifacts").and_then(Value::as_array) else {
        return Ok(None);
    };
    let kind = |a: &&Value| {
        a.get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if list.iter().any(|a| kind(&a) == "directory") {
        return Ok(None);
    }
    let packages: Vec<&Value> = list
        .iter()
        .filter(|a| matches!(kind(a).as_str(), "npm" | "pypi"))
        .collect();
    let [one] = packages.as_slice() else {
        return Ok(None);
    };
    let artifact: crate::manifest::Artifact =
        serde_json::from_value((*one).clone()).map_err(|source| ToolsError::ManifestMember {
            path: PathBuf::from("artifacts"),
            member: "artifacts",
            source,
        })?;
    let store = crate::store::Store::open_default().map_err(|e| ToolsError::Store(Box::new(e)))?;
    let checks = crate::artifact::PackageChecks {
        registries: crate::registry::Registries::from_env(),
        install: true,
    };
    let name = artifact.name().to_owned();
    let checked =
        crate::artifact::check(&artifact, &checks, Some(&store), true, false).map_err(|e| {
            ToolsError::Package {
                name: name.clone(),
                source: Box::new(e),
            }
        })?;
    if let Some(f) = checked.findings.first() {
        return Err(ToolsError::PackageRejected {
            name,
            first: crate::text::error_chain(f),
        });
    }
    match checked.snapshot {
        Some(s) => Ok(Some(s)),
        None => Err(ToolsError::PackageOffline { name }),
    }
}

/// When the manifest pins exactly one directory, `base` must hold that tree as pinned.
fn check_pinned_tree(doc: &Value, base: &Path) -> Result<(), ToolsError> {
    let dirs: Vec<&Value> = doc
        .get("artifacts")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|x| x.get("kind").and_then(Value::as_str) == Some("directory"))
                .collect()
        })
        .unwrap_or_default();
    let [dir] = dirs.as_slice() else {
        return Ok(());
    };
    let artifact: crate::manifest::Artifact =
        serde_json::from_value((*dir).clone()).map_err(|source| ToolsError::ManifestMember {
            path: base.to_path_buf(),
            member: "artifacts",
            source,
        })?;
    let crate::manifest::Artifact::Directory {
        exclude, entries, ..
    } = &artifact
    else {
        return Ok(());
    };
    let alg = entries
        .iter()
        .find_map(|e| match &e.kind {
            crate::digest::tree::EntryKind::File { digest, .. } => Some(digest.algorithm()),
            crate::digest::tree::EntryKind::Symlink { .. } => None,
        })
        .unwrap_or(crate::digest::Algorithm::Sha256);
    let actual =
        crate::digest::tree::hash_tree(base, exclude, alg).map_err(|source| ToolsError::Tree {
            dir: base.to_path_buf(),
            source,
        })?;
    let changes = crate::digest::tree::compare(entries, &actual);
    match changes.first() {
        None => Ok(()),
        Some(first) => Err(ToolsError::TreeChanged {
            dir: base.to_path_buf(),
            count: changes.len(),
            first: first.to_string(),
        }),
    }
}

fn manifest_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The directory a server is launched from: `dir` when given, else the directory of `beside`
/// (the manifest or the bundle), else the current directory.
pub fn launch_base(dir: Option<&Path>, beside: &Path) -> PathBuf {
    match dir {
        Some(d) => d.to_path_buf(),
        None => manifest_dir(beside),
    }
}

/// The pins inside a manifest (its `tools` member), checked, if it has any.
pub fn pins_of_manifest(manifest: &Manifest) -> Result<Option<ToolPins>, ToolsError> {
    // `Manifest::check` already validated them when the manifest was read.
    Ok(manifest.tools.clone())
}

/// The result of comparing a verified manifest's pins with the live server.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolsCheck {
    pub drift: Vec<ToolDiff>,
    /// Lints over the pinned definitions (reported, not decisive).
    pub lints: Vec<Lint>,
}

impl ToolsCheck {
    /// `Some("tool-drift")` when anything differs.
    pub fn reason(&self) -> Option<crate::reason::Reason> {
        (!self.drift.is_empty()).then_some(super::REASON_TOOL_DRIFT)
    }
}
