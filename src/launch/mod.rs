//! Starting a verified server from its snapshot: the manifest's launch configuration, run in the
//! store snapshot whose bytes were hashed as they were written (`store`), with the clean launch
//! environment (`server_env`). A command that names a file of the tree (`./server.py`) runs the
//! snapshot's copy; relative arguments resolve there too, since it is the working directory.

pub mod run;

pub use run::{
    Decision, PACKAGE_RUNNERS, Ready, RemoteDecision, RemoteReady, RemoteRequest, RunError,
    RunRequest, RunWarning, command_matches, decide, decide_remote, package_runner,
};

use crate::manifest::{Artifact, Launch as ManifestLaunch, Manifest};
use crate::mcp::{Launch, StdioLaunch};
use crate::server_env::EnvArg;
use crate::tools::ToolsError;
use crate::verify::Verified;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    #[error("the manifest has no launch configuration")]
    NoLaunch,
    #[error("the manifest describes a remote server (`{url}`); there is nothing to start")]
    NotLocal { url: String },
    #[error("`{}` is not the snapshot of a directory this manifest pins", snapshot.display())]
    NotThisManifest { snapshot: PathBuf },
    #[error("launch command `{program}` leaves the snapshot")]
    ProgramOutsideSnapshot { program: String },
    #[error("cannot build the launch")]
    Launch(#[from] ToolsError),
}

/// The launch of `manifest`'s server from `snapshot` (a store snapshot of one of its directory
/// artifacts, as `verify` reported it): the working directory is the snapshot (or the
/// configuration's `workdir` inside it), a relative command with a `/` is made absolute inside
/// the snapshot, and the environment is the launch configuration's variables plus `user_env`
/// (the child also gets the small base of `server_env` when it is spawned).
pub fn prepare(
    manifest: &Verified<Manifest>,
    snapshot: &Path,
    user_env: &[EnvArg],
) -> Result<StdioLaunch, LaunchError> {
    let config = match &manifest.launch {
        None => return Err(LaunchError::NoLaunch),
        Some(ManifestLaunch::StreamableHttp { url, .. }) => {
            return Err(LaunchError::NotLocal { url: url.clone() });
        }
        Some(c @ ManifestLaunch::Stdio { .. }) => c,
    };
    // Held to the manifest: a snapshot is named by the tree digest it holds.
    let name = snapshot.file_name().and_then(|n| n.to_str());
    // A package's install is named by the digest of the tree installed from its pins, which
    // only the store's install record holds: the caller passes the snapshot `verify` reported.
    let pinned = manifest.artifacts.iter().any(|a| match a {
        Artifact::Directory { digest, .. } => Some(digest.hex().as_str()) == name,
        Artifact::Npm { .. } | Artifact::Pypi { .. } => true,
        _ => false,
    });
    if !pinned {
        return Err(LaunchError::NotThisManifest {
            snapshot: snapshot.to_path_buf(),
        });
    }
    let mut launch = match crate::tools::run::launch_from_manifest(config, snapshot, user_env)? {
        Launch::Stdio(s) => s,
        Launch::Http(h) => return Err(LaunchError::NotLocal { url: h.url }),
    };
    // Every file under the snapshot was hashed as it was written, and nobody can write there:
    // Python may use its interpreter's bytecode (its own standard library's) instead of
    // compiling everything at each start.
    launch.bytecode = crate::mcp::BytecodeCache::Interpreter;
    let cwd = launch.cwd.clone().unwrap_or_else(|| snapshot.to_path_buf());
    if launch.program.contains('/') && !launch.program.starts_with('/') {
        launch.program = inside(snapshot, &cwd, &launch.program)
            .ok_or_else(|| LaunchError::ProgramOutsideSnapshot {
                program: launch.program.clone(),
            })?
            .display()
            .to_string();
    }
    Ok(launch)
}

/// `rel` resolved lexically from `cwd`, if the result stays inside `root` (and is not `root`).
fn inside(root: &Path, cwd: &Path, rel: &str) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    let from_root = cwd.strip_prefix(root).ok()?;
    for c in from_root.components().chain(Path::new(rel).components()) {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.iter().fold(root.to_path_buf(), |p, c| p.join(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_commands_stay_in_the_snapshot() {
        let root = Path::new("/s/trees/ab");
        assert_eq!(
            inside(root, root, "./server.py"),
            Some(PathBuf::from("/s/trees/ab/server.py"))
        );
        assert_eq!(
            inside(root, &root.join("sub"), "../bin/run"),
            Some(PathBuf::from("/s/trees/ab/bin/run"))
        );
        for bad in ["../x", "a/../../x", ".", "a/.."] {
            assert_eq!(inside(root, root, bad), None, "{bad}");
        }
    }
}
