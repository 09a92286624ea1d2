//! Shared setup for the keyless tests: the loopback Sigstore instance (a spawned
//! `node tests/support/sigstore-instance/server.mjs`, killed on drop), sigstore-python from
//! `.venv-sigstore`, and unsigned identity tokens (the instance does not check signatures; real
//! Fulcio would).
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub const SETUP_HINT: &str = "run scripts/setup-sigstore.sh to install it";

/// The helpers every test file shares (binaries, the repository root, the skip switch).
#[path = "../common/mod.rs"]
pub mod common;
#[allow(unused_imports)]
pub use common::{root, skip_external};

/// A running loopback Sigstore instance with its trust material in a temporary directory.
pub struct Instance {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Instance {
    /// Starts an instance; `Ok(None)` when its programs are missing and MCPSIG_SKIP_EXTERNAL=1.
    pub fn start(extra_args: &[&str]) -> Result<Option<Self>, String> {
        let server = root().join("tests/support/sigstore-instance/server.mjs");
        let mock = root().join("tests/support/sigstore-instance/node_modules/@sigstore/mock");
        let node_ok = Command::new("node")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !node_ok || !mock.is_dir() {
            if skip_external() {
                eprintln!("skipping: node or @sigstore/mock missing (MCPSIG_SKIP_EXTERNAL=1)");
                return Ok(None);
            }
            return Err(format!(
                "the loopback Sigstore instance needs node and {}: {SETUP_HINT}",
                mock.display()
            ));
        }
        // Node has, once in many CI runs, started but never printed its URL; a second process
        // is cheap and makes that a delay instead of a failure. A real fault fails both tries.
        let mut last_error = String::new();
        for _attempt in 0..2 {
            match Self::spawn(&server, extra_args) {
                Ok(instance) => return Ok(Some(instance)),
                Err(e) => {
                    eprintln!("loopback Sigstore instance: {e}; retrying once");
                    last_error = e;
                }
            }
        }
        Err(last_error)
    }

    fn spawn(server: &std::path::Path, extra_args: &[&str]) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let mut child = Command::new("node")
            .arg(server)
            .arg(dir.path())
            .args(extra_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start node {}: {e}", server.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let got = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send(got);
            // Keep draining, so the instance never writes into a closed pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        // Dropping `instance` on an error path kills and reaps the process.
        let mut instance = Instance {
            child,
            url: String::new(),
            dir,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(line)) if line.starts_with("http://127.0.0.1:") => {
                instance.url = line.trim().to_owned();
                Ok(instance)
            }
            Ok(Ok(line)) => Err(format!("instance printed {line:?} instead of its url")),
            Ok(Err(e)) => Err(format!("reading the instance's url: {e}")),
            Err(_) => Err("the instance did not start within 30s".to_owned()),
        }
    }

    pub fn trusted_root(&self) -> PathBuf {
        self.dir.path().join("trusted_root.json")
    }

    pub fn signing_config(&self) -> PathBuf {
        self.dir.path().join("signing_config.json")
    }

    pub fn trust_config(&self) -> PathBuf {
        self.dir.path().join("trust_config.json")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An unsigned JWT with the claims Fulcio reads (`alg: none`; the instance does not verify it).
pub fn token(issuer: &str, subject: &str, extra: &[(&str, &str)]) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = serde_json::json!({
        "iss": issuer, "sub": subject, "aud": "sigstore",
        "iat": now, "nbf": now, "exp": now + 600,
    });
    for (k, v) in extra {
        claims[*k] = (*v).into();
    }
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// sigstore-python's CLI, or `Ok(None)` when missing and MCPSIG_SKIP_EXTERNAL=1.
pub fn sigstore_python() -> Result<Option<PathBuf>, String> {
    let bin = root().join(".venv-sigstore/bin/sigstore");
    if bin.is_file() {
        return Ok(Some(bin));
    }
    if skip_external() {
        eprintln!("skipping: sigstore-python missing (MCPSIG_SKIP_EXTERNAL=1)");
        return Ok(None);
    }
    Err(format!(
        "sigstore-python is missing at {}: {SETUP_HINT}",
        bin.display()
    ))
}

/// Runs a command with a time bound; returns (success, stdout+stderr).
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<(bool, String), String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(_) => break,
            None if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{cmd:?} did not finish within {timeout:?}"));
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

pub fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("write {}: {e}", path.display()))
}

/// The outcome a scenario directory expects: `accept`, or `reject <reason-code>`.
pub fn expected(scenario: &str) -> Result<String, String> {
    let path = root()
        .join("testdata/scenarios")
        .join(scenario)
        .join("expected");
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| format!("read {}: {e}", path.display()))
}

/// Our verifier's outcome in the scenarios' vocabulary.
pub fn outcome<T>(r: &Result<T, mcpsig::sigstore::SigstoreError>) -> String {
    match r {
        Ok(_) => "accept".to_owned(),
        Err(e) => format!("reject {}", e.reason_code()),
    }
}

/// A loopback HTTP server that answers every request (up to `max`) with `status` and `body`,
/// whatever was asked: a misbehaving service for rejection tests. Stops when dropped.
pub struct Replay {
    pub url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Replay {
    pub fn start(status: &'static str, body: String, max: usize) -> Result<Self, String> {
        use std::io::{Read as _, Write as _};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let url = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().map_err(|e| e.to_string())?.port()
        );
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(120);
            let mut served = 0;
            while served < max
                && !stop2.load(Ordering::Relaxed)
                && std::time::Instant::now() < deadline
            {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                served += 1;
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                // Read the request head and its body (by Content-Length) before answering.
                let mut req = Vec::new();
                let mut buf = [0u8; 16384];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    req.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&req).to_ascii_lowercase();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let len = text[..head_end]
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if req.len() >= head_end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Ok(Self {
            url,
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A signing config naming `ca` for Fulcio and `rekor` for Rekor v1.
pub fn signing_config_json(ca: &str, rekor: &str) -> String {
    format!(
        r#"{{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls":[{{"url":"{ca}","majorApiVersion":1,"validFor":{{"start":"2020-01-01T00:00:00Z"}}}}],
        "rekorTlogUrls":[{{"url":"{rekor}","majorApiVersion":1,"validFor":{{"start":"2020-01-01T00:00:00Z"}}}}]}}"#
    )
}
