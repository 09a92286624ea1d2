//! Clients of the registries that artifacts are published to: where npm and PyPI packages are
//! fetched from (configurable, the public registries by default, npm's and pip's own
//! configuration honoured) with bounded downloads hashed as they arrive (what a download must
//! hash to is decided by the caller, `artifact`), and OCI registries, where pinned images are
//! re-checked and signed bundles attached (`oci`).

pub mod npm;
pub mod oci;
pub mod pypi;

use crate::digest::{Algorithm, Digest, Hasher};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// The public npm registry.
pub const NPM_DEFAULT: &str = "https://registry.npmjs.org/";
/// The public Python package index (PEP 503 / 691 "simple" API).
pub const PYPI_DEFAULT: &str = "https://pypi.org/simple/";
/// How long one request may take, connection to last byte.
const TIMEOUT: Duration = Duration::from_secs(120);
/// Bound on one downloaded archive (a package tarball or a wheel).
pub const MAX_ARCHIVE: u64 = 512 * 1024 * 1024;
/// Bound on one metadata document.
pub const MAX_METADATA: u64 = 64 * 1024 * 1024;

/// Where packages come from. Base URLs end with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registries {
    pub npm: String,
    pub pypi: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error("registry URL `{url}` is neither https nor plain http on loopback")]
    Insecure { url: String },
    #[error("cannot fetch {url}")]
    Fetch {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} sent more than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("cannot read the answer of {url}")]
    Read {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the download of {url} to `{}`", path.display())]
    Write {
        url: String,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{url} did not answer JSON")]
    Json {
        url: String,
        #[source]
        source: crate::json::JsonError,
    },
    #[error("{url} answered without {what}")]
    Missing { url: String, what: &'static str },
}

impl Registries {
    /// The public registries.
    pub fn public() -> Registries {
        Registries {
            npm: NPM_DEFAULT.to_owned(),
            pypi: PYPI_DEFAULT.to_owned(),
        }
    }

    /// The registries configured for this user: for npm, `MCPSIG_NPM_REGISTRY`, else npm's
    /// own `npm_config_registry` variable, else `registry=` in `~/.npmrc`; for PyPI,
    /// `MCPSIG_PYPI_INDEX`, else pip's `PIP_INDEX_URL`, else `index-url` in pip's user
    /// configuration; else the public registries.
    pub fn from_env() -> Registries {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        let home = crate::fsutil::home_dir();
        let npm = var("MCPSIG_NPM_REGISTRY")
            .or_else(|| var("npm_config_registry"))
            .or_else(|| var("NPM_CONFIG_REGISTRY"))
            .or_else(|| {
                let rc = std::fs::read_to_string(home.as_ref()?.join(".npmrc")).ok()?;
                ini_value(&rc, None, "registry")
            })
            .unwrap_or_else(|| NPM_DEFAULT.to_owned());
        let pypi = var("MCPSIG_PYPI_INDEX")
            .or_else(|| var("PIP_INDEX_URL"))
            .or_else(|| {
                let home = home.as_ref()?;
                [".config/pip/pip.conf", ".pip/pip.conf"]
                    .iter()
                    .find_map(|f| std::fs::read_to_string(home.join(f)).ok())
                    .and_then(|conf| ini_value(&conf, Some("global"), "index-url"))
            })
            .unwrap_or_else(|| PYPI_DEFAULT.to_owned());
        Registries {
            npm: with_slash(npm.trim()),
            pypi: with_slash(pypi.trim()),
        }
    }

    /// Refuses a registry that is not https (or plain http on loopback).
    pub fn check(&self) -> Result<(), RegistryError> {
        for url in [&self.npm, &self.pypi] {
            if !crate::http::https_or_loopback(url) {
                return Err(RegistryError::Insecure { url: url.clone() });
            }
        }
        Ok(())
    }
}

fn with_slash(s: &str) -> String {
    if s.ends_with('/') {
        s.to_owned()
    } else {
        format!("{s}/")
    }
}

/// `key = value` in an ini-like file (npmrc, pip.conf), in `section` when given.
fn ini_value(text: &str, section: Option<&str>, key: &str) -> Option<String> {
    let mut current: Option<String> = None;
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(s.trim().to_owned());
            continue;
        }
        if section.is_some() && current.as_deref() != section {
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            found = Some(v.trim().to_owned());
        }
    }
    found
}

/// One agent for registry requests: bounded time, a few redirects (registries send files
/// through CDNs), our user agent.
pub(crate) fn agent() -> ureq::Agent {
    crate::http::agent(TIMEOUT, crate::http::Redirects::Follow(5))
}

/// GETs `url` (which must be https or loopback http), refusing an answer over `limit` bytes.
/// `Ok(None)` for a 404.
pub(crate) fn get_bytes(
    agent: &ureq::Agent,
    url: &str,
    accept: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, RegistryError> {
    let mut out = Vec::new();
    match download(agent, url, accept, limit, &mut out)? {
        None => Ok(None),
        Some(_) => Ok(Some(out)),
    }
}

/// Streams `url` into `sink`, hashing it with sha256 and sha512 as it arrives. `Ok(None)` for
/// a 404. The sink receives at most `limit` bytes; the download fails beyond.
pub(crate) fn download(
    agent: &ureq::Agent,
    url: &str,
    accept: &str,
    limit: u64,
    sink: &mut dyn Write,
) -> Result<Option<Downloaded>, RegistryError> {
    if !crate::http::https_or_loopback(url) {
        return Err(RegistryError::Insecure {
            url: url.to_owned(),
        });
    }
    let resp = agent
        .get(url)
        .header("Accept", accept)
        .call()
        .map_err(|e| RegistryError::Fetch {
            url: url.to_owned(),
            source: Box::new(e),
        })?;
    let status = resp.status().as_u16();
    if status == 404 {
        return Ok(None);
    }
    if status != 200 {
        return Err(RegistryError::Status {
            url: url.to_owned(),
            status,
        });
    }
    let mut body = resp.into_body();
    let mut reader = body.as_reader().take(limit.saturating_add(1));
    let mut sha256 = Hasher::new(Algorithm::Sha256);
    let mut sha512 = Hasher::new(Algorithm::Sha512);
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|e| RegistryError::Read {
            url: url.to_owned(),
            source: e,
        })?;
        if n == 0 {
            break;
        }
        size += n as u64;
        if size > limit {
            return Err(RegistryError::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        sha256.update(&buf[..n]);
        sha512.update(&buf[..n]);
        sink.write_all(&buf[..n])
            .map_err(|e| RegistryError::Write {
                url: url.to_owned(),
                path: Path::new("-").to_path_buf(),
                source: e,
            })?;
    }
    Ok(Some(Downloaded {
        size,
        sha256: sha256.finish(),
        sha512: sha512.finish(),
    }))
}

/// What a download hashed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub size: u64,
    pub sha256: Digest,
    pub sha512: Digest,
}

/// Reads a JSON document strictly (duplicate keys refused) from `url`.
pub(crate) fn get_json(
    agent: &ureq::Agent,
    url: &str,
    accept: &str,
) -> Result<Option<serde_json::Value>, RegistryError> {
    let Some(bytes) = get_bytes(agent, url, accept, MAX_METADATA)? else {
        return Ok(None);
    };
    crate::json::parse_value(&bytes)
        .map(Some)
        .map_err(|source| RegistryError::Json {
            url: url.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_values() {
        let npmrc = "# comment\nregistry = http://127.0.0.1:4873/\n//registry:_authToken=x\n";
        assert_eq!(
            ini_value(npmrc, None, "registry").as_deref(),
            Some("http://127.0.0.1:4873/")
        );
        let pip =
            "[install]\nindex-url = wrong\n[global]\nindex-url = https://example.org/simple\n";
        assert_eq!(
            ini_value(pip, Some("global"), "index-url").as_deref(),
            Some("https://example.org/simple")
        );
        assert_eq!(with_slash("http://x"), "http://x/");
    }
}
