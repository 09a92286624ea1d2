//! OCI registries (distribution spec 1.1; spec/oci.md): resolving a tag to the digest of the
//! image manifest it names, checking that a manifest exists at a digest, attaching a Sigstore
//! bundle to an image as an OCI 1.1 referrer, and finding the bundles attached to one.
//!
//! Uploads (blobs, manifests) and the registry's token exchange go through `oci-client`.
//! Everything read back is read here ([`fetch`]): bounded in size, hashed from the bytes
//! received (a `Docker-Content-Digest` header is never taken on trust), and with a registry
//! that answers the referrers API told apart from one that does not (oci-client reads bodies
//! whole and folds the tag-schema fallback into its answer). The clients are async: each
//! [`Registry`] drives them on its own current-thread runtime, so the rest of the library stays
//! synchronous.

mod auth;
mod fetch;
mod referrers;

pub use auth::{CredentialError, CredentialSource, Credentials};
pub use referrers::{Attached, Discovery, Referrer, ReferrerProblem, Via, fallback_tag};

use crate::digest::{Algorithm, Digest};
use crate::manifest::packages::{ArtifactRef, OciTarget, RefError, valid_oci_name};
use std::time::Duration;

/// The media type of a Sigstore bundle, as artifact type and layer type of an attachment.
pub const BUNDLE_MEDIA_TYPE: &str = crate::sigstore::bundle::MEDIA_TYPE_V0_3_NEW;
pub const IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const IMAGE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// What an image reference may name: an image manifest or an index of them, OCI or Docker.
const IMAGE_MEDIA_TYPES: &[&str] = &[
    IMAGE_MANIFEST,
    IMAGE_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

/// Largest manifest or referrers index read (the distribution spec asks registries to take
/// manifests of at least 4 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Largest bundle blob read.
pub const MAX_BUNDLE_BYTES: u64 = 16 * 1024 * 1024;
/// At most this many attached bundles are read for one image.
pub const MAX_REFERRERS: usize = 64;

/// How registries are reached.
#[derive(Debug, Clone)]
pub struct Options {
    /// Speak plain HTTP to a registry that is not on loopback (without it: HTTPS).
    pub insecure: bool,
    /// Bound on each operation as a whole (connecting, sending, reading every answer).
    pub timeout: Duration,
    pub credentials: CredentialSource,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            insecure: false,
            timeout: Duration::from_secs(60),
            credentials: CredentialSource::Ambient,
        }
    }
}

/// A repository `REGISTRY/PATH` (spec/manifest-v1.md, `oci` artifacts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    name: String,
    slash: usize,
}

impl Repository {
    pub fn parse(name: &str) -> Option<Repository> {
        if !valid_oci_name(name) {
            return None;
        }
        let slash = name.find('/')?;
        Some(Repository {
            name: name.to_owned(),
            slash,
        })
    }
    /// `REGISTRY/PATH`, as a manifest's `oci` artifact names it.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// `HOST[:PORT]`.
    pub fn registry(&self) -> &str {
        &self.name[..self.slash]
    }
    /// The repository path within the registry.
    pub fn path(&self) -> &str {
        &self.name[self.slash + 1..]
    }
}

/// An image reference, `oci://REGISTRY/REPO:TAG` or `oci://REGISTRY/REPO@sha256:HEX` (the
/// artifact reference grammar of spec/manifest-v1.md, with `oci:` or `oci://`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repository: Repository,
    pub target: OciTarget,
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<ImageRef, RefError> {
        if !s.starts_with("oci:") {
            return Err(RefError::Kind(crate::text::one_line(s, 200)));
        }
        match ArtifactRef::parse(s)? {
            ArtifactRef::Oci { name, target } => Ok(ImageRef {
                repository: Repository::parse(&name)
                    .ok_or_else(|| RefError::Kind(crate::text::one_line(s, 200)))?,
                target,
            }),
            _ => Err(RefError::Kind(crate::text::one_line(s, 200))),
        }
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.target {
            OciTarget::Tag(t) => write!(f, "{}:{t}", self.repository.name),
            OciTarget::Digest(d) => write!(f, "{}@{d}", self.repository.name),
        }
    }
}

/// A manifest as a descriptor names it: what an attachment's `subject` is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// Why a registry could not be asked or its answer not used (could not decide).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    #[error("cannot start the asynchronous runtime for registry requests")]
    Runtime(#[source] std::io::Error),
    #[error("cannot set up an HTTP client for registry `{registry}`")]
    Client {
        registry: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("credentials for registry `{registry}`")]
    Credentials {
        registry: String,
        #[source]
        source: CredentialError,
    },
    #[error("registry `{registry}` did not finish within {} s", after.as_secs())]
    Timeout { registry: String, after: Duration },
    #[error("request to {url} failed")]
    Transport {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{url} answered {status}{}", excerpt_suffix(body))]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url} refused the credentials (401)")]
    Unauthorized { url: String },
    #[error("{url}: no such manifest")]
    ManifestUnknown { url: String },
    #[error("{url} answered more than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{url} sent bytes whose digest is {actual}, not the {expected} asked for")]
    DigestMismatch {
        url: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("{url} answered media type `{media_type}`, not an image manifest or index")]
    NotAnImage { url: String, media_type: String },
    #[error("{url} is not a manifest of the expected shape")]
    Malformed {
        url: String,
        #[source]
        source: crate::json::JsonError,
    },
    #[error("the referrers fallback tag `{tag}` names something other than an image index")]
    FallbackNotIndex { tag: String },
    #[error("pushing to {what} failed")]
    Push {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn excerpt_suffix(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(
            ": {}",
            crate::text::one_line(&crate::text::excerpt(body), 300)
        )
    }
}

impl OciError {
    /// What the user can do about it, when there is one thing to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            OciError::Transport { url, .. } if url.starts_with("https://") => Some(
                "a registry that serves plain HTTP is spoken to over HTTPS unless it is on \
                 loopback: pass --insecure to allow plain HTTP to it"
                    .to_owned(),
            ),
            OciError::Unauthorized { .. } => Some(format!(
                "set {} (or {} and {}), or log in with `docker login`",
                auth::TOKEN_VAR,
                auth::USERNAME_VAR,
                auth::PASSWORD_VAR
            )),
            _ => None,
        }
    }
}

/// Whether a registry `HOST[:PORT]` is on loopback (the rule of every plain-HTTP client here).
pub fn is_loopback(registry: &str) -> bool {
    crate::http::loopback_authority(registry)
}

/// A session with one registry: its clients, credentials and runtime.
pub struct Registry {
    registry: String,
    scheme: &'static str,
    timeout: Duration,
    connect_timeout: Duration,
    runtime: tokio::runtime::Runtime,
    /// Built on first use: reads need it only for a token exchange.
    client: std::sync::OnceLock<oci_client::Client>,
    http: reqwest::Client,
    auth: oci_client::secrets::RegistryAuth,
    credentials: Credentials,
    /// What reads of each repository present, once the registry asked (see `fetch`).
    read_auth: std::sync::Mutex<std::collections::HashMap<String, fetch::ReadAuth>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registry({}://{})", self.scheme, self.registry)
    }
}

impl Registry {
    /// Sets up a session with `registry` (`HOST[:PORT]`): HTTPS, or plain HTTP when it is on
    /// loopback or `options.insecure` says so. Nothing is sent yet.
    pub fn connect(registry: &str, options: &Options) -> Result<Registry, OciError> {
        // reqwest is built without a default crypto provider: rustls' ring provider, which the
        // crate's other HTTP client uses too. Installing fails only when one is already set.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let credentials =
            options
                .credentials
                .resolve(registry)
                .map_err(|source| OciError::Credentials {
                    registry: registry.to_owned(),
                    source,
                })?;
        let plain = is_loopback(registry) || options.insecure;
        let scheme = if plain { "http" } else { "https" };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(OciError::Runtime)?;
        let connect_timeout = options.timeout.min(CONNECT_TIMEOUT);
        let http =
            crate::http::async_client(options.timeout, connect_timeout, plain).map_err(|e| {
                OciError::Client {
                    registry: registry.to_owned(),
                    source: Box::new(e),
                }
            })?;
        let auth = match &credentials {
            Credentials::Anonymous => oci_client::secrets::RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                oci_client::secrets::RegistryAuth::Basic(username.clone(), password.to_string())
            }
            Credentials::Bearer(t) => oci_client::secrets::RegistryAuth::Bearer(t.to_string()),
        };
        Ok(Registry {
            registry: registry.to_owned(),
            scheme,
            timeout: options.timeout,
            connect_timeout,
            runtime,
            client: std::sync::OnceLock::new(),
            http,
            auth,
            credentials,
            read_auth: Default::default(),
        })
    }

    /// The oci-client side of the session (uploads, token exchange).
    fn client(&self) -> Result<&oci_client::Client, OciError> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let config = oci_client::client::ClientConfig {
            protocol: if self.scheme == "http" {
                oci_client::client::ClientProtocol::Http
            } else {
                oci_client::client::ClientProtocol::Https
            },
            connect_timeout: Some(self.connect_timeout),
            read_timeout: Some(self.timeout),
            user_agent: crate::http::USER_AGENT,
            // An index is pinned as it is; no platform is ever chosen for the caller.
            platform_resolver: None,
            ..Default::default()
        };
        let client = oci_client::Client::try_from(config).map_err(|e| OciError::Client {
            registry: self.registry.clone(),
            source: Box::new(e),
        })?;
        Ok(self.client.get_or_init(|| client))
    }

    /// Runs one operation on the session's runtime, bounded by its timeout.
    fn run<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, OciError>>,
    ) -> Result<T, OciError> {
        self.runtime.block_on(async {
            tokio::time::timeout(self.timeout, op)
                .await
                .map_err(|_| OciError::Timeout {
                    registry: self.registry.clone(),
                    after: self.timeout,
                })?
        })
    }

    fn url(&self, repo: &Repository, rest: &str) -> String {
        // As oci-client addresses Docker Hub.
        let host = match self.registry.as_str() {
            "docker.io" => "index.docker.io",
            other => other,
        };
        format!("{}://{host}/v2/{}/{rest}", self.scheme, repo.path())
    }

    fn reference(&self, repo: &Repository, digest: &Digest) -> oci_client::Reference {
        oci_client::Reference::with_digest(
            self.registry.clone(),
            repo.path().to_owned(),
            digest.to_string(),
        )
    }

    /// The manifest `tag` names, as a descriptor whose digest is that of the bytes received.
    pub fn resolve_tag(&self, repo: &Repository, tag: &str) -> Result<Descriptor, OciError> {
        self.run(async {
            let url = self.url(repo, &format!("manifests/{tag}"));
            let got = self
                .get(repo, &url, IMAGE_MEDIA_TYPES, MAX_MANIFEST_BYTES)
                .await?
                .ok_or(OciError::ManifestUnknown { url: url.clone() })?;
            image_descriptor(&url, &got, Digest::sha256_of(&got.body))
        })
    }

    /// The manifest at `digest`, when the repository holds one whose bytes have that digest;
    /// `None` when it has none.
    pub fn manifest(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<Option<Descriptor>, OciError> {
        self.run(async { self.manifest_at(repo, digest).await })
    }

    async fn manifest_at(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<Option<Descriptor>, OciError> {
        let url = self.url(repo, &format!("manifests/{digest}"));
        let Some(got) = self
            .get(repo, &url, IMAGE_MEDIA_TYPES, MAX_MANIFEST_BYTES)
            .await?
        else {
            return Ok(None);
        };
        let actual = digest_of(digest.algorithm(), &got.body);
        if &actual != digest {
            return Err(OciError::DigestMismatch {
                url,
                expected: digest.clone(),
                actual,
            });
        }
        image_descriptor(&url, &got, actual).map(Some)
    }
}

/// The manifest an image reference names, as a descriptor (a tag resolved, a digest checked
/// against the bytes): what attachments name as their `subject`.
pub fn resolve(registry: &Registry, image: &ImageRef) -> Result<Descriptor, OciError> {
    match &image.target {
        OciTarget::Tag(tag) => registry.resolve_tag(&image.repository, tag),
        OciTarget::Digest(d) => {
            registry
                .manifest(&image.repository, d)?
                .ok_or_else(|| OciError::ManifestUnknown {
                    url: registry.url(&image.repository, &format!("manifests/{d}")),
                })
        }
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn digest_of(alg: Algorithm, bytes: &[u8]) -> Digest {
    match alg {
        Algorithm::Sha256 => Digest::sha256_of(bytes),
        Algorithm::Sha512 => Digest::sha512_of(bytes),
    }
}

/// A manifest answer as a descriptor: its media type from the document itself (else the
/// `Content-Type` header, as Docker manifests may omit it), which must be an image's.
fn image_descriptor(
    url: &str,
    got: &fetch::Fetched,
    digest: Digest,
) -> Result<Descriptor, OciError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Head {
        media_type: Option<String>,
    }
    let head: Head = crate::json::from_slice(&got.body).map_err(|source| OciError::Malformed {
        url: url.to_owned(),
        source,
    })?;
    let media_type = head
        .media_type
        .or_else(|| got.content_type.clone())
        .unwrap_or_default();
    if !IMAGE_MEDIA_TYPES.contains(&media_type.as_str()) {
        return Err(OciError::NotAnImage {
            url: url.to_owned(),
            media_type: crate::text::one_line(&media_type, 100),
        });
    }
    Ok(Descriptor {
        media_type,
        digest,
        size: got.body.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries() {
        for yes in [
            "127.0.0.1:5000",
            "127.9.8.7",
            "localhost",
            "localhost:5000",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "ghcr.io",
            "127.1:5000",
            "127.0.0.1.nip.io:5000",
            "10.0.0.1:5000",
            "localhost.example",
            "[::ffff:127.0.0.1]:5000",
            "0.0.0.0:5000",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }

    #[test]
    fn image_references() {
        let r = ImageRef::parse("oci://127.0.0.1:5000/acme/server:v1").unwrap();
        assert_eq!(r.repository.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository.path(), "acme/server");
        assert_eq!(r.target, OciTarget::Tag("v1".into()));
        assert_eq!(r.to_string(), "127.0.0.1:5000/acme/server:v1");
        let hex = "b".repeat(64);
        let r = ImageRef::parse(&format!("oci:ghcr.io/acme/server@sha256:{hex}")).unwrap();
        assert_eq!(r.to_string(), format!("ghcr.io/acme/server@sha256:{hex}"));
        for bad in [
            "ghcr.io/acme/server:v1",
            "npm:x@1.0.0",
            "oci://ghcr.io/acme/server",
            "oci://server:v1",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }
}
