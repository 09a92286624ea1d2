//! The recorded npm and PyPI registries served on loopback (tests/support/registries/serve.py)
//! and a scratch workspace whose commands resolve from them: shared by tests/packages.rs and
//! tests/server_json.rs.

use super::{assert_ok, bin, root};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Any command here finishes within this, or the test fails (never hangs).
pub const WAIT: Duration = Duration::from_secs(180);

/// The recorded data (scripts/setup-registries.sh records it).
pub fn data() -> PathBuf {
    let d = root().join("tests/support/registries/data");
    assert!(
        d.join("index.json").is_file(),
        "no recorded registry data at {}: run scripts/setup-registries.sh (scripts/test.sh does)",
        d.display()
    );
    d
}

/// index.json of the recorded data.
pub fn index() -> &'static Value {
    static INDEX: OnceLock<Value> = OnceLock::new();
    INDEX.get_or_init(|| {
        serde_json::from_slice(&std::fs::read(data().join("index.json")).unwrap()).unwrap()
    })
}

/// serve.py on a random loopback port; stopped when dropped (and when its stdin closes).
pub struct Registry {
    child: Child,
    pub url: String,
    overlay: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let overlay = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(root().join("tests/support/registries/serve.py"))
            .arg("--data")
            .arg(data())
            .arg("--overlay")
            .arg(overlay.path())
            .arg("--port")
            .arg("0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("serve.py said {line:?}"))
            .to_owned();
        Registry {
            child,
            url,
            overlay,
        }
    }

    /// Serves `bytes` at `rel` (a path relative to the recorded data) instead of the recording.
    pub fn substitute(&self, rel: &str, bytes: &[u8]) {
        let p = self.overlay.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    /// The PyPI simple index it serves.
    pub fn pypi(&self) -> String {
        format!("{}simple/", self.url)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch folder: its own data folder (launch store, pin store), HOME (npm's cache and
/// configuration), and a signing key.
pub struct Ws {
    dir: tempfile::TempDir,
}

impl Drop for Ws {
    fn drop(&mut self) {
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(self.dir.path())
            .status();
    }
}

impl Ws {
    pub fn new() -> Ws {
        let ws = Ws {
            dir: tempfile::tempdir().unwrap(),
        };
        let out = ws.run("mcp-sign", &["keygen", "--out", "k.key"], None);
        assert_ok(&out);
        ws
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn store(&self) -> PathBuf {
        self.path().join("data/store")
    }

    pub fn command(&self, name: &str, args: &[&str], reg: Option<&Registry>) -> Command {
        let mut cmd = Command::new(bin(name));
        cmd.args(args)
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .env("HOME", self.path())
            .env("MCPSIG_DATA_DIR", self.path().join("data"))
            .env("MCPSIG_CACHE_DIR", self.path().join("cache"))
            .env("npm_config_cache", self.path().join("npm-cache"))
            .env_remove("npm_config_registry")
            .env_remove("NPM_CONFIG_REGISTRY");
        // pip's own settings of this machine (find-links, extra indexes) must not reach the
        // resolver: only the loopback index may answer.
        for (k, _) in std::env::vars() {
            if k.starts_with("PIP_") {
                cmd.env_remove(k);
            }
        }
        match reg {
            Some(r) => cmd
                .env("MCPSIG_NPM_REGISTRY", &r.url)
                .env("MCPSIG_PYPI_INDEX", r.pypi()),
            // A registry that refuses connections: nothing may need it.
            None => cmd
                .env("MCPSIG_NPM_REGISTRY", "http://127.0.0.1:9/")
                .env("MCPSIG_PYPI_INDEX", "http://127.0.0.1:9/simple/"),
        };
        cmd
    }

    pub fn run(&self, name: &str, args: &[&str], reg: Option<&Registry>) -> Output {
        let mut cmd = self.command(name, args, reg);
        cmd.stdin(Stdio::null());
        bounded(cmd)
    }
}

/// Runs `cmd` to completion within [`WAIT`], its output captured.
pub fn bounded(mut cmd: Command) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    wait_bounded(cmd.spawn().unwrap())
}

/// Waits for `child` within [`WAIT`], reading its output meanwhile.
pub fn wait_bounded(mut child: Child) -> Output {
    let deadline = Instant::now() + WAIT;
    // Read the pipes while waiting, so a chatty child never blocks on a full pipe.
    // (A pipe the caller already took is read by the caller.)
    let out = child.stdout.take();
    let err = child.stderr.take();
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(mut out) = out {
            let _ = std::io::Read::read_to_end(&mut out, &mut v);
        }
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(mut err) = err {
            let _ = std::io::Read::read_to_end(&mut err, &mut v);
        }
        v
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("command did not finish in {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
    }
}
