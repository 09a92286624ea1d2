//! A real OCI registry on loopback for tests: Debian's `docker-registry` (CNCF distribution
//! 2.8, installed by scripts/setup-oci.sh), started on 127.0.0.1 with a port of its choosing
//! and killed when the guard drops (a panicking test included). Images are built and pushed
//! here with oci-client; `ReferrersProxy` adds the OCI 1.1 referrers API, which this registry
//! lacks, in front of it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::Digest as _;

pub struct LoopbackRegistry {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl LoopbackRegistry {
    /// Anonymous push and pull.
    pub fn start() -> LoopbackRegistry {
        LoopbackRegistry::start_with(None)
    }

    /// Every request needs basic credentials `user`:`password` (an htpasswd file, bcrypt, as
    /// the registry requires; written by apache2-utils' `htpasswd`).
    pub fn start_with_password(user: &str, password: &str) -> LoopbackRegistry {
        LoopbackRegistry::start_with(Some((user, password)))
    }

    fn start_with(login: Option<(&str, &str)>) -> LoopbackRegistry {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
             delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = login {
            let file = dir.path().join("htpasswd");
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd (run scripts/setup-oci.sh)");
            assert!(out.status.success());
            std::fs::write(&file, &out.stdout).unwrap();
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: mcpsig-test\n    path: {}\n",
                file.display()
            ));
        }
        std::fs::write(&config, yaml).unwrap();
        let log = dir.path().join("registry.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .env_remove("REGISTRY_HTTP_ADDR")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("docker-registry (run scripts/setup-oci.sh)");
        let mut guard = LoopbackRegistry {
            child,
            port: 0,
            dir,
        };
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(port) = text
                .split("listening on 127.0.0.1:")
                .nth(1)
                .and_then(|rest| {
                    rest.chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                        .parse()
                        .ok()
                })
            {
                guard.port = port;
                return guard;
            }
            if let Ok(Some(status)) = guard.child.try_wait() {
                panic!("docker-registry exited ({status}): {text}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "docker-registry did not start: {text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Where the registry keeps a blob's bytes (to alter them as a compromised registry would).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for LoopbackRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

fn runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// How the helpers log in: `None` for anonymous, else basic `(user, password)`.
pub type Login<'a> = Option<(&'a str, &'a str)>;

fn client(host: &str, login: Login) -> oci_client::Client {
    let client = oci_client::Client::try_from(oci_client::client::ClientConfig {
        protocol: oci_client::client::ClientProtocol::Http,
        ..Default::default()
    })
    .unwrap();
    let auth = match login {
        None => oci_client::secrets::RegistryAuth::Anonymous,
        Some((u, p)) => oci_client::secrets::RegistryAuth::Basic(u.to_owned(), p.to_owned()),
    };
    runtime().block_on(client.store_auth_if_needed(host, &auth));
    client
}

/// Pushes a blob to `host/repo`.
pub fn push_blob(host: &str, repo: &str, data: &[u8]) -> String {
    push_blob_as(host, repo, data, None)
}

pub fn push_blob_as(host: &str, repo: &str, data: &[u8], login: Login) -> String {
    let digest = sha256(data);
    let reference =
        oci_client::Reference::with_digest(host.to_owned(), repo.to_owned(), digest.clone());
    runtime()
        .block_on(client(host, login).push_blob(&reference, data.to_vec(), &digest))
        .unwrap();
    digest
}

/// Pushes manifest bytes under `tag` (or its digest when `tag` is None); returns its digest.
pub fn push_manifest(
    host: &str,
    repo: &str,
    tag: Option<&str>,
    bytes: &[u8],
    media_type: &'static str,
) -> String {
    push_manifest_as(host, repo, tag, bytes, media_type, None)
}

pub fn push_manifest_as(
    host: &str,
    repo: &str,
    tag: Option<&str>,
    bytes: &[u8],
    media_type: &'static str,
    login: Login,
) -> String {
    let digest = sha256(bytes);
    let reference = match tag {
        Some(t) => oci_client::Reference::with_tag(host.to_owned(), repo.to_owned(), t.to_owned()),
        None => {
            oci_client::Reference::with_digest(host.to_owned(), repo.to_owned(), digest.clone())
        }
    };
    runtime()
        .block_on(client(host, login).push_manifest_raw(
            &reference,
            bytes.to_vec(),
            reqwest::header::HeaderValue::from_static(media_type),
        ))
        .unwrap();
    digest
}

/// A minimal OCI image of our own: one layer (a tar of `server.py` saying `marker`) and its
/// config, pushed as `host/repo:tag`. Returns the manifest's digest.
pub fn push_image(host: &str, repo: &str, tag: &str, marker: &str) -> String {
    push_image_as(host, repo, tag, marker, None)
}

pub fn push_image_as(host: &str, repo: &str, tag: &str, marker: &str, login: Login) -> String {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("server.py"),
        format!("print({marker:?})\n"),
    )
    .unwrap();
    let tar = work.path().join("layer.tar");
    let st = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(work.path())
        .arg("server.py")
        .status()
        .unwrap();
    assert!(st.success());
    let layer = std::fs::read(&tar).unwrap();
    let layer_digest = push_blob_as(host, repo, &layer, login);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Cmd": ["python3", "/server.py"] },
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
    }))
    .unwrap();
    let config_digest = push_blob_as(host, repo, &config, login);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest,
            "size": layer.len(),
        }],
    }))
    .unwrap();
    push_manifest_as(
        host,
        repo,
        Some(tag),
        &manifest,
        "application/vnd.oci.image.manifest.v1+json",
        login,
    )
}

/// GETs `url` over plain HTTP with an OCI `Accept`: (status, body).
pub fn get(url: &str, accept: &str) -> (u16, Vec<u8>) {
    runtime().block_on(async {
        let resp = reqwest::Client::new()
            .get(url)
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap().to_vec())
    })
}

/// The OCI 1.1 referrers API in front of the registry, which has none: a loopback HTTP proxy
/// that forwards every request to it, records each manifest pushed with a `subject` (as a
/// registry with the API indexes it), and answers `GET /v2/NAME/referrers/DIGEST` with an image
/// index of those records. A constructed exchange, not a registry: it is here because no
/// registry Debian ships implements the API.
pub struct ReferrersProxy {
    pub port: u16,
    pub referrers_asked: Arc<Mutex<usize>>,
}

type Records = Arc<Mutex<Vec<(String, String, serde_json::Value)>>>;

impl ReferrersProxy {
    pub fn start(backend: u16) -> ReferrersProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let records: Records = Arc::default();
        let asked: Arc<Mutex<usize>> = Arc::default();
        let asked2 = asked.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let records = records.clone();
                let asked = asked2.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, backend, &records, &asked);
                });
            }
        });
        ReferrersProxy {
            port,
            referrers_asked: asked,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn serve(
    mut conn: TcpStream,
    backend: u16,
    records: &Records,
    asked: &Mutex<usize>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 {
            return Ok(());
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body)?;
    let path = target.split('?').next().unwrap_or_default();
    if let Some((name, digest)) = path
        .strip_prefix("/v2/")
        .and_then(|p| p.split_once("/referrers/"))
    {
        *asked.lock().unwrap() += 1;
        let manifests: Vec<serde_json::Value> = records
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, s, _)| n == name && s == digest)
            .map(|(_, _, d)| d.clone())
            .collect();
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        }))
        .unwrap();
        write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            index.len()
        )?;
        conn.write_all(&index)?;
        return Ok(());
    }
    let mut up = TcpStream::connect(("127.0.0.1", backend))?;
    write!(up, "{request_line}\r\n")?;
    for (k, v) in &headers {
        if !k.eq_ignore_ascii_case("connection") {
            write!(up, "{k}: {v}\r\n")?;
        }
    }
    write!(up, "Connection: close\r\n\r\n")?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    if method == "PUT" && answer.starts_with(b"HTTP/1.1 201") {
        record(path, &body, records);
    }
    conn.write_all(&answer)?;
    Ok(())
}

/// A pushed manifest with a `subject`, as the referrers API lists it.
fn record(path: &str, body: &[u8], records: &Records) {
    let Some((name, _)) = path
        .strip_prefix("/v2/")
        .and_then(|p| p.split_once("/manifests/"))
    else {
        return;
    };
    let Ok(m) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let Some(subject) = m["subject"]["digest"].as_str() else {
        return;
    };
    let mut d = serde_json::json!({
        "mediaType": m["mediaType"],
        "digest": sha256(body),
        "size": body.len(),
    });
    if let Some(t) = m["artifactType"].as_str() {
        d["artifactType"] = t.into();
    }
    records
        .lock()
        .unwrap()
        .push((name.to_owned(), subject.to_owned(), d));
}

/// A loopback listener that answers nothing and records the first bytes of each connection:
/// what a client sends to a registry before anything comes back.
pub struct FirstBytes {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl FirstBytes {
    pub fn start() -> FirstBytes {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { break };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 16];
                let n = conn.read(&mut buf).unwrap_or(0);
                seen2.lock().unwrap().push(buf[..n].to_vec());
                // Dropped: the client sees the connection close.
            }
        });
        FirstBytes { port, seen }
    }
}

/// The path of `name` under `dir`, as a `&str`.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
