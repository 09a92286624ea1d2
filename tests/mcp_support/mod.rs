//! Shared setup for the MCP integration tests: where the real servers are,
//! and how to launch our rug-pull server.
#![allow(dead_code, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use mcpsig::mcp::{ClientOptions, Launch, StdioLaunch};

pub const SETUP_HINT: &str =
    "run scripts/setup-mcp-servers.sh to install it (or set MCPSIG_SKIP_EXTERNAL=1 to skip)";

/// The helpers every test file shares (binaries, the repository root, the skip switch).
#[path = "../common/mod.rs"]
pub mod common;
#[allow(unused_imports)]
pub use common::{root as repo, skip_external};

/// The path of an installed external program, `None` when it is missing and
/// skipping was asked for; a missing program otherwise fails the test.
pub fn external(rel: &str) -> Option<PathBuf> {
    let path = repo().join(rel);
    if path.exists() {
        return Some(path);
    }
    assert!(skip_external(), "missing {}: {SETUP_HINT}", path.display());
    eprintln!(
        "skipping: {} is missing and MCPSIG_SKIP_EXTERNAL=1",
        path.display()
    );
    None
}

pub fn everything() -> Option<Launch> {
    let bin = external("tests/servers/node/node_modules/.bin/mcp-server-everything")?;
    Some(Launch::Stdio(StdioLaunch::new(
        bin.to_string_lossy(),
        ["stdio"],
    )))
}

pub fn memory(dir: &Path) -> Option<Launch> {
    let bin = external("tests/servers/node/node_modules/.bin/mcp-server-memory")?;
    let mut l = StdioLaunch::new(bin.to_string_lossy(), Vec::<String>::new());
    l.env.push((
        "MEMORY_FILE_PATH".into(),
        dir.join("memory.jsonl").to_string_lossy().into_owned(),
    ));
    Some(Launch::Stdio(l))
}

pub fn fetch() -> Option<Launch> {
    let bin = external(".venv-mcp/bin/mcp-server-fetch")?;
    Some(Launch::Stdio(StdioLaunch::new(
        bin.to_string_lossy(),
        Vec::<String>::new(),
    )))
}

pub fn time(args: &[&str], env: &[(&str, &str)]) -> Option<Launch> {
    let bin = external(".venv-mcp/bin/mcp-server-time")?;
    let mut l = StdioLaunch::new(bin.to_string_lossy(), args.iter().copied());
    l.env = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Some(Launch::Stdio(l))
}

/// The environment names every drift-server launch sets, so that profiles agree.
pub const DRIFT_VARS: [&str; 3] = ["DRIFT", "DRIFT_PAGE_SIZE", "DRIFT_STATELESS"];

/// Our rug-pull server, launched as `python3 tests/servers/drift-server.py`
/// from the repository root, with `vars` overriding the defaults.
pub fn drift(vars: &[(&str, &str)]) -> Launch {
    let mut l = StdioLaunch::new("python3", ["tests/servers/drift-server.py"]);
    l.cwd = Some(repo());
    for name in DRIFT_VARS {
        let value = vars.iter().find(|(k, _)| *k == name).map_or("", |(_, v)| v);
        l.env.push((name.to_owned(), value.to_owned()));
    }
    for (k, v) in vars {
        if !DRIFT_VARS.contains(k) {
            l.env.push(((*k).to_owned(), (*v).to_owned()));
        }
    }
    Launch::Stdio(l)
}

pub fn options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(20),
        ..ClientOptions::default()
    }
}

pub fn read_json(rel: &str) -> serde_json::Value {
    let path = repo().join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}
