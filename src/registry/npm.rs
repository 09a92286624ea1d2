//! The npm registry: where a tarball is, and a package's whole dependency tree as npm itself
//! resolves it (a lockfile made by `npm install --package-lock-only --ignore-scripts`, so the
//! tree is exactly the one `npm ci` would install and no package script ever runs).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long npm may take to resolve a tree.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(600);
/// Bound on a lockfile npm writes.
const MAX_LOCKFILE: u64 = 64 * 1024 * 1024;

/// Where the registry at `base` (ending with `/`) serves `name@version`'s tarball, in the
/// layout every npm registry uses: `BASE/NAME/-/BASENAME-VERSION.tgz`.
pub fn tarball_url(base: &str, name: &str, version: &str) -> String {
    let basename = name.rsplit('/').next().unwrap_or(name);
    format!("{base}{name}/-/{basename}-{version}.tgz")
}

/// One installed package of a resolved tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    /// `node_modules/...`, as in the lockfile.
    pub path: String,
    pub name: String,
    pub version: String,
    /// npm's `integrity` (`sha512-...`).
    pub integrity: String,
    pub os: Vec<String>,
    pub cpu: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    #[error("cannot run `{program}` (is it installed and on PATH?)")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot prepare a folder to resolve in")]
    Temp(#[source] std::io::Error),
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("`{command}` took more than {} s and was stopped", timeout.as_secs())]
    Timeout { command: String, timeout: Duration },
    #[error("the lockfile npm wrote cannot be read")]
    Lockfile(#[source] crate::fsutil::ReadError),
    #[error("the lockfile npm wrote is not JSON")]
    LockJson(#[source] crate::json::JsonError),
    #[error("lockfile entry `{path}`: {what}")]
    LockEntry { path: String, what: &'static str },
    #[error("the lockfile does not hold {name}@{version} at node_modules/{name}")]
    NotInLock { name: String, version: String },
    #[error("the resolver's report cannot be read")]
    Report(#[source] crate::fsutil::ReadError),
    #[error("the resolver's report is not JSON")]
    ReportJson(#[source] crate::json::JsonError),
    #[error("the resolver's report entry {index}: {what}")]
    ReportEntry { index: usize, what: &'static str },
}

/// Runs `cmd` in `dir` to completion within `timeout` (stdout discarded, stderr kept for the
/// error), killing it when it overstays.
pub(crate) fn run_resolver(
    mut cmd: Command,
    shown: String,
    timeout: Duration,
) -> Result<(), ResolveError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    // The resolver needs the user's own registry configuration, never our secrets.
    for name in crate::server_env::NEVER_PASSED {
        cmd.env_remove(name);
    }
    let stderr_file = tempfile::tempfile().map_err(ResolveError::Temp)?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr_file.try_clone().map_err(ResolveError::Temp)?)
        .spawn()
        .map_err(|source| ResolveError::Spawn { program, source })?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(ResolveError::Temp)? {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ResolveError::Timeout {
                command: shown,
                timeout,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if status.success() {
        return Ok(());
    }
    use std::io::{Read, Seek};
    let mut f = stderr_file;
    let mut text = String::new();
    let _ = f.seek(std::io::SeekFrom::Start(0));
    let _ = f.take(64 * 1024).read_to_string(&mut text);
    let tail: Vec<&str> = text.lines().rev().take(8).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(ResolveError::Failed {
        command: shown,
        status: status.to_string(),
        stderr: crate::text::one_line(&tail.join(" | "), 1500),
    })
}

/// The whole tree npm installs for `name@version` from the registry at `base`, without the
/// package itself (which is returned first) and without bundled packages (their bytes are in
/// their parent's tarball). Runs `npm` (or `$MCPSIG_NPM`) with scripts disabled.
pub fn resolve_tree(
    base: &str,
    name: &str,
    version: &str,
) -> Result<(LockedPackage, Vec<LockedPackage>), ResolveError> {
    resolve_tree_of(base, &format!("{name}@{version}"), name, version)
}

/// [`resolve_tree`] of what npm's install `spec` names (`NAME@VERSION`, or a local tarball's
/// absolute path), which must install `name` at `version`.
pub fn resolve_tree_of(
    base: &str,
    spec: &str,
    name: &str,
    version: &str,
) -> Result<(LockedPackage, Vec<LockedPackage>), ResolveError> {
    let dir = tempfile::tempdir().map_err(ResolveError::Temp)?;
    std::fs::write(
        dir.path().join("package.json"),
        br#"{"name":"mcpsig-resolve","version":"0.0.0","private":true}"#,
    )
    .map_err(ResolveError::Temp)?;
    let npm = std::env::var("MCPSIG_NPM").unwrap_or_else(|_| "npm".to_owned());
    let mut cmd = Command::new(&npm);
    cmd.current_dir(dir.path())
        .args([
            "install",
            "--package-lock-only",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--save-exact",
            "--registry",
            base,
        ])
        .arg(spec)
        .env("npm_config_update_notifier", "false");
    let shown =
        format!("{npm} install --package-lock-only --ignore-scripts --registry {base} {spec}");
    run_resolver(cmd, shown, RESOLVE_TIMEOUT)?;
    read_lock(&dir.path().join("package-lock.json"), name, version)
}

/// Reads a lockfile (versions 2 and 3) into the package at `node_modules/NAME` and the rest.
pub fn read_lock(
    path: &Path,
    name: &str,
    version: &str,
) -> Result<(LockedPackage, Vec<LockedPackage>), ResolveError> {
    let bytes = crate::fsutil::read_limited(path, MAX_LOCKFILE).map_err(ResolveError::Lockfile)?;
    let lock = crate::json::parse_value(&bytes).map_err(ResolveError::LockJson)?;
    let packages =
        lock.get("packages")
            .and_then(|p| p.as_object())
            .ok_or(ResolveError::LockEntry {
                path: String::new(),
                what: "no `packages` map (lockfile version 2 or 3 expected)",
            })?;
    let mut main = None;
    let mut deps = Vec::new();
    for (path, entry) in packages {
        if path.is_empty() {
            continue;
        }
        let bad = |what| ResolveError::LockEntry {
            path: path.clone(),
            what,
        };
        let flag = |k: &str| entry.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
        if flag("inBundle") {
            continue;
        }
        if flag("link") {
            return Err(bad("is a link to a folder, which cannot be pinned"));
        }
        if flag("dev") {
            continue;
        }
        let text = |k: &str| entry.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let pkg_name = path
            .rsplit_once("node_modules/")
            .map(|(_, n)| n.to_owned())
            .ok_or_else(|| bad("is not under node_modules"))?;
        if let Some(real) = text("name")
            && real != pkg_name
        {
            return Err(bad(
                "installs an aliased package (npm:OTHER@...), which is not supported",
            ));
        }
        let version = text("version").ok_or_else(|| bad("has no version"))?;
        let integrity = text("integrity").ok_or_else(|| bad("has no integrity"))?;
        let list = |k: &str| -> Vec<String> {
            entry
                .get(k)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let pkg = LockedPackage {
            path: path.clone(),
            name: pkg_name,
            version,
            integrity,
            os: list("os"),
            cpu: list("cpu"),
        };
        if path == &format!("node_modules/{name}") {
            main = Some(pkg);
        } else {
            deps.push(pkg);
        }
    }
    let main = main
        .filter(|m| m.version == version)
        .ok_or_else(|| ResolveError::NotInLock {
            name: name.to_owned(),
            version: version.to_owned(),
        })?;
    deps.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok((main, deps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarball_urls() {
        assert_eq!(
            tarball_url("https://registry.npmjs.org/", "@scope/pkg", "1.0.0"),
            "https://registry.npmjs.org/@scope/pkg/-/pkg-1.0.0.tgz"
        );
        assert_eq!(
            tarball_url("http://127.0.0.1:9/", "zod", "3.25.76"),
            "http://127.0.0.1:9/zod/-/zod-3.25.76.tgz"
        );
    }

    #[test]
    fn lockfiles_are_read_strictly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("package-lock.json");
        let i = "sha512-".to_owned() + &"A".repeat(86) + "==";
        std::fs::write(
            &p,
            serde_json::json!({"lockfileVersion": 3, "packages": {
                "": {"dependencies": {"a": "1.0.0"}},
                "node_modules/a": {"version": "1.0.0", "integrity": i},
                "node_modules/a/node_modules/b": {"version": "2.0.0", "integrity": i, "os": ["linux"]},
                "node_modules/a/node_modules/c": {"version": "2.0.0", "inBundle": true},
                "node_modules/d": {"version": "1.0.0", "integrity": i, "dev": true},
            }})
            .to_string(),
        )
        .unwrap();
        let (main, deps) = read_lock(&p, "a", "1.0.0").unwrap();
        assert_eq!(main.path, "node_modules/a");
        assert_eq!(deps.len(), 1);
        assert_eq!(deps[0].name, "b");
        assert_eq!(deps[0].os, vec!["linux".to_owned()]);
        assert!(matches!(
            read_lock(&p, "a", "1.0.1"),
            Err(ResolveError::NotInLock { .. })
        ));
        std::fs::write(
            &p,
            r#"{"packages": {"node_modules/a": {"version": "1.0.0", "link": true}}}"#,
        )
        .unwrap();
        assert!(matches!(
            read_lock(&p, "a", "1.0.0"),
            Err(ResolveError::LockEntry { .. })
        ));
    }
}
