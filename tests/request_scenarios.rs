//! The `init-*` and `trust-*` scenarios under testdata/scenarios/: what `mcp-sign init` (an
//! `InitRequest`) and `mcp-verify`'s trust options (a `TrustRequest`) refuse or accept, through
//! the real binaries. A scenario holds:
//! - `args` (optional): arguments, one per line; `{work}` is the scenario's scratch folder,
//!   `{testdata}` the testdata folder. `init-*` runs `mcp-sign init` with `--name`, `--version`,
//!   `--dir {work}/server` and `-o {work}/m.json` unless `args` gives them; `{work}/server` holds
//!   `index.js` and `.git/HEAD`. `trust-*` runs `mcp-verify` on the valid-bundle-accepted bundle,
//!   with an empty trusted-root cache;
//! - `setup.sh` (optional): run with `{work}` as `$1` first;
//! - `expected`: `accept`, `reject` (exit 1) or `error` (exit 2);
//! - `stderr`: text the human output on stderr must contain (required unless `accept`), so a
//!   scenario cannot pass for another reason; `unexpected`: text it must not contain;
//! - `pinned` (`init-*`, optional): the paths the directory artifact must pin, one per line.
//!
//! A refused `init` leaves `-o`'s file as it was.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bin, root};
use mcpsig::manifest::Artifact;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scenarios(prefix: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("testdata/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    dirs.sort();
    dirs
}

fn read(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name)).ok()
}

/// `args` with its placeholders filled in.
fn args(dir: &Path, work: &Path) -> Vec<String> {
    let testdata = root().join("testdata");
    read(dir, "args")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.replace("{work}", &work.display().to_string())
                .replace("{testdata}", &testdata.display().to_string())
        })
        .collect()
}

/// `env`: `NAME=VALUE` lines set for the command.
fn env(dir: &Path) -> Vec<(String, String)> {
    read(dir, "env")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn setup(dir: &Path, work: &Path) -> Result<(), String> {
    if dir.join("setup.sh").exists() {
        let st = Command::new("sh")
            .arg(dir.join("setup.sh"))
            .arg(work)
            .status()
            .unwrap();
        if !st.success() {
            return Err("setup.sh failed".into());
        }
    }
    Ok(())
}

/// Compares the exit code and stderr with `expected` and `stderr`.
fn judge(dir: &Path, out: &Output) -> Result<(), String> {
    let expected = read(dir, "expected").ok_or("no `expected` file")?;
    let want = match expected.trim() {
        "accept" => 0,
        "reject" => 1,
        "error" => 2,
        other => return Err(format!("unknown expectation `{other}`")),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(want) {
        return Err(format!(
            "expected exit {want}, got {:?}: {stderr}",
            out.status.code()
        ));
    }
    if let Some(text) = read(dir, "unexpected")
        && stderr.contains(text.trim())
    {
        return Err(format!("stderr has `{}`: {stderr}", text.trim()));
    }
    match read(dir, "stderr") {
        Some(text) if !stderr.contains(text.trim()) => {
            Err(format!("stderr lacks `{}`: {stderr}", text.trim()))
        }
        None if want != 0 => Err("no `stderr` file naming the refusal".into()),
        _ => Ok(()),
    }
}

fn run_init_scenario(dir: &Path) -> Result<(), String> {
    let work = tempfile::tempdir().unwrap();
    let server = work.path().join("server");
    std::fs::create_dir_all(server.join(".git")).unwrap();
    std::fs::write(server.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(server.join("index.js"), "console.log(1)\n").unwrap();
    setup(dir, work.path())?;
    let extra = args(dir, work.path());
    let has = |flag: &str| extra.iter().any(|a| a == flag);
    let mut argv: Vec<String> = vec!["init".into()];
    let output = match extra.iter().position(|a| a == "-o" || a == "--output") {
        Some(i) => PathBuf::from(extra.get(i + 1).ok_or("-o without a path")?),
        None => {
            let o = work.path().join("m.json");
            argv.extend(["-o".into(), o.display().to_string()]);
            o
        }
    };
    for (flag, default) in [
        ("--name", "io.github.acme/demo".to_owned()),
        ("--version", "1.0.0".to_owned()),
        ("--dir", server.display().to_string()),
    ] {
        if !has(flag) {
            argv.extend([flag.to_owned(), default]);
        }
    }
    argv.extend(extra);
    let before = std::fs::read(&output).ok();
    let out = Command::new(bin("mcp-sign"))
        .args(&argv)
        .env("NO_COLOR", "1")
        .env_remove("MCPSIG_KEY_PASSPHRASE")
        .output()
        .unwrap();
    judge(dir, &out)?;
    let after = std::fs::read(&output).ok();
    if out.status.success() {
        let bytes = after.ok_or("no manifest written")?;
        let manifest = mcpsig::manifest::Manifest::from_json(&bytes)
            .map_err(|e| format!("the manifest written does not parse: {e}"))?;
        if let Some(want) = read(dir, "pinned") {
            let want: Vec<&str> = want.lines().filter(|l| !l.is_empty()).collect();
            let pinned: Vec<&str> = match &manifest.artifacts[..] {
                [Artifact::Directory { entries, .. }] => {
                    entries.iter().map(|e| e.path.as_str()).collect()
                }
                other => return Err(format!("not one directory artifact: {other:?}")),
            };
            if pinned != want {
                return Err(format!("pinned {pinned:?}, expected {want:?}"));
            }
        }
    } else if after != before {
        return Err(format!("`{}` changed on a refusal", output.display()));
    }
    Ok(())
}

fn run_trust_scenario(dir: &Path) -> Result<(), String> {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    setup(dir, work.path())?;
    let bundle = root().join("testdata/scenarios/valid-bundle-accepted/bundle.sigstore.json");
    let out = Command::new(bin("mcp-verify"))
        .arg(&bundle)
        .args(args(dir, work.path()))
        .env("NO_COLOR", "1")
        .env("MCPSIG_CACHE_DIR", &cache)
        .envs(env(dir))
        .output()
        .unwrap();
    judge(dir, &out)
}

fn run_all(prefix: &str, at_least: usize, run: fn(&Path) -> Result<(), String>) {
    let dirs = scenarios(prefix);
    assert!(
        dirs.len() >= at_least,
        "expected at least {at_least} {prefix}* scenarios, found {}",
        dirs.len()
    );
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| {
            run(d)
                .err()
                .map(|e| format!("{}: {e}", d.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "scenarios failed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_init_scenario_has_its_expected_outcome() {
    run_all("init-", 8, run_init_scenario);
}

#[test]
fn every_trust_scenario_has_its_expected_outcome() {
    run_all("trust-", 8, run_trust_scenario);
}
