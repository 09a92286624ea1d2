//! Bundles as OCI 1.1 referrers (spec/oci.md): attaching one to an image (an artifact manifest
//! whose `subject` is the image, plus the referrers tag-schema index where the registry has no
//! referrers API), and finding those attached to an image, each read back and checked against
//! the descriptors that lead to it.

use super::{
    BUNDLE_MEDIA_TYPE, Descriptor, EMPTY_MEDIA_TYPE, IMAGE_INDEX, IMAGE_MANIFEST, MAX_BUNDLE_BYTES,
    MAX_MANIFEST_BYTES, MAX_REFERRERS, OciError, Registry, Repository, digest_of,
};
use crate::digest::Digest;
use serde::Deserialize;
use serde_json::{Value, json};

/// The empty config blob of an artifact manifest: `{}`.
const EMPTY_CONFIG: &[u8] = b"{}";

/// How the bundles attached to an image are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// The registry's `GET /v2/NAME/referrers/DIGEST`.
    ReferrersApi,
    /// The image index tagged `sha256-<hex of the subject digest>` (the referrers tag schema),
    /// for registries without the API.
    FallbackTag,
}

/// The tag of the referrers tag-schema index for `subject`: `ALG-HEX`.
pub fn fallback_tag(subject: &Digest) -> String {
    format!("{}-{}", subject.algorithm().name(), subject.hex())
}

/// A bundle attached by [`Registry::attach`].
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attached {
    /// The artifact manifest pushed.
    pub referrer: Descriptor,
    pub subject: Descriptor,
    pub via: Via,
    /// With [`Via::FallbackTag`]: the index tag, and whether it had to change (false when the
    /// referrer was listed already).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_tag: Option<String>,
    pub index_updated: bool,
}

/// The bundles found attached to an image.
#[derive(Debug)]
pub struct Discovery {
    pub via: Via,
    /// Referrers of the bundle artifact type, in the order the registry lists them (at most
    /// [`MAX_REFERRERS`]).
    pub referrers: Vec<Referrer>,
    /// Referrers of other artifact types, not read.
    pub other_artifacts: usize,
    /// Bundle referrers beyond [`MAX_REFERRERS`], not read.
    pub not_read: usize,
}

/// One attached bundle: the referrer manifest's digest as listed, and its bundle bytes unless
/// the registry answered with something other than what its descriptors name.
#[derive(Debug)]
pub struct Referrer {
    /// As the index lists it (escaped for display when it is not a digest).
    pub digest: String,
    pub bundle: Result<Vec<u8>, ReferrerProblem>,
}

/// Why an attached referrer yields no bundle: the registry answered, but not with what the
/// descriptors leading to it name (altered in the registry or on the way, or not a bundle).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferrerProblem {
    #[error("its descriptor's digest `{0}` is not a sha256 or sha512 digest")]
    BadDigest(String),
    #[error("the registry has no referrer manifest {0}")]
    ManifestMissing(Digest),
    #[error("referrer manifest {expected} was read back with digest {actual}")]
    ManifestDigest { expected: Digest, actual: Digest },
    #[error("referrer manifest {digest} is {actual} bytes, its descriptor says {expected}")]
    ManifestSize {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("referrer manifest {digest} is not an artifact manifest of one bundle layer: {what}")]
    NotABundleArtifact { digest: Digest, what: String },
    #[error("referrer manifest {digest} is attached to {actual}, not to {expected}")]
    OtherSubject {
        digest: Digest,
        expected: Digest,
        actual: String,
    },
    #[error("the registry has no bundle blob {0}")]
    BlobMissing(Digest),
    #[error("bundle blob {digest} is larger than {limit} bytes")]
    BlobTooLarge { digest: Digest, limit: u64 },
    #[error("bundle blob {expected} was read back with digest {actual}")]
    BlobDigest { expected: Digest, actual: Digest },
    #[error("bundle blob {digest} is {actual} bytes, its descriptor says {expected}")]
    BlobSize {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("bundle blob {digest} is longer than the {expected} bytes its descriptor says")]
    BlobLonger { digest: Digest, expected: u64 },
}

impl ReferrerProblem {
    /// True when the blob is refused for its size alone.
    pub fn is_too_large(&self) -> bool {
        matches!(self, ReferrerProblem::BlobTooLarge { .. })
    }
}

enum ManifestTarget<'a> {
    Tag(&'a str),
    Digest(&'a Digest),
}

/// A descriptor as an index or manifest lists it (the fields read here).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    artifact_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawIndex {
    #[serde(default)]
    media_type: Option<String>,
    manifests: Vec<RawDescriptor>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
    layers: Vec<RawDescriptor>,
    #[serde(default)]
    subject: Option<RawDescriptor>,
}

impl Registry {
    /// Attaches `bundle` to `subject` in `repo`: pushes the empty config and the bundle as
    /// blobs and an artifact manifest (artifact type and single layer the bundle media type,
    /// `subject` the image), then, when the registry has no referrers API, adds the manifest to
    /// the referrers tag-schema index of the subject (read, modified, written back; existing
    /// entries kept). Attaching the same bundle twice pushes the same manifest and leaves the
    /// index as it is.
    pub fn attach(
        &self,
        repo: &Repository,
        subject: &Descriptor,
        bundle: &[u8],
    ) -> Result<Attached, OciError> {
        self.run(async {
            let bundle_digest = Digest::sha256_of(bundle);
            let config_digest = Digest::sha256_of(EMPTY_CONFIG);
            self.push_blob(repo, EMPTY_CONFIG, &config_digest).await?;
            self.push_blob(repo, bundle, &bundle_digest).await?;
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": IMAGE_MANIFEST,
                "artifactType": BUNDLE_MEDIA_TYPE,
                "config": {
                    "mediaType": EMPTY_MEDIA_TYPE,
                    "digest": config_digest,
                    "size": EMPTY_CONFIG.len(),
                    "data": "e30=",
                },
                "layers": [{
                    "mediaType": BUNDLE_MEDIA_TYPE,
                    "digest": bundle_digest,
                    "size": bundle.len(),
                }],
                "subject": {
                    "mediaType": subject.media_type,
                    "digest": subject.digest,
                    "size": subject.size,
                },
                "annotations": {
                    // As cosign labels its bundle attachments.
                    "dev.sigstore.bundle.content": "dsse-envelope",
                    "dev.sigstore.bundle.predicateType": crate::manifest::PREDICATE_TYPE,
                },
            });
            let bytes = serde_json::to_vec(&manifest).map_err(|e| OciError::Push {
                what: "the referrer manifest".to_owned(),
                source: Box::new(e),
            })?;
            let referrer = Descriptor {
                media_type: IMAGE_MANIFEST.to_owned(),
                digest: Digest::sha256_of(&bytes),
                size: bytes.len() as u64,
            };
            self.push_manifest(
                repo,
                &ManifestTarget::Digest(&referrer.digest),
                bytes,
                IMAGE_MANIFEST,
            )
            .await?;
            if self.referrers_api(repo, &subject.digest).await?.is_some() {
                return Ok(Attached {
                    referrer,
                    subject: subject.clone(),
                    via: Via::ReferrersApi,
                    fallback_tag: None,
                    index_updated: false,
                });
            }
            let tag = fallback_tag(&subject.digest);
            let index_updated = self.add_to_fallback_index(repo, &tag, &referrer).await?;
            Ok(Attached {
                referrer,
                subject: subject.clone(),
                via: Via::FallbackTag,
                fallback_tag: Some(tag),
                index_updated,
            })
        })
    }

    async fn push_blob(
        &self,
        repo: &Repository,
        data: &[u8],
        digest: &Digest,
    ) -> Result<(), OciError> {
        let reference = self.reference(repo, digest);
        let client = self.client()?;
        client
            .store_auth_if_needed(&self.registry, &self.auth)
            .await;
        client
            .push_blob(&reference, data.to_vec(), &digest.to_string())
            .await
            .map_err(|e| OciError::Push {
                what: format!("blob {digest} of {}", repo.name()),
                source: Box::new(e),
            })?;
        Ok(())
    }

    /// Pushes a manifest under `target`: a tag, or the manifest's own digest.
    async fn push_manifest(
        &self,
        repo: &Repository,
        target: &ManifestTarget<'_>,
        bytes: Vec<u8>,
        media_type: &'static str,
    ) -> Result<(), OciError> {
        let (reference, tag_or_digest) = match target {
            ManifestTarget::Digest(d) => (self.reference(repo, d), d.to_string()),
            ManifestTarget::Tag(t) => (
                oci_client::Reference::with_tag(
                    self.registry.clone(),
                    repo.path().to_owned(),
                    (*t).to_owned(),
                ),
                (*t).to_owned(),
            ),
        };
        let client = self.client()?;
        client
            .store_auth_if_needed(&self.registry, &self.auth)
            .await;
        client
            .push_manifest_raw(
                &reference,
                bytes,
                reqwest::header::HeaderValue::from_static(media_type),
            )
            .await
            .map_err(|e| OciError::Push {
                what: format!("manifest {tag_or_digest} of {}", repo.name()),
                source: Box::new(e),
            })?;
        Ok(())
    }

    /// The registry's referrers API answer for `subject`, or `None` when it has no such API:
    /// a 404 (what the distribution spec prescribes), a 400, 405 or 501 (what registries that
    /// predate it answer for an unknown endpoint), or an answer that is not an image index.
    async fn referrers_api(
        &self,
        repo: &Repository,
        subject: &Digest,
    ) -> Result<Option<RawIndex>, OciError> {
        let url = self.url(repo, &format!("referrers/{subject}"));
        let got = match self
            .get(repo, &url, &[IMAGE_INDEX], MAX_MANIFEST_BYTES)
            .await
        {
            Ok(Some(got)) => got,
            Ok(None)
            | Err(OciError::Status {
                status: 400 | 405 | 501,
                ..
            }) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(crate::json::from_slice::<RawIndex>(&got.body)
            .ok()
            .filter(|i| i.media_type.as_deref() == Some(IMAGE_INDEX)))
    }

    /// Adds `referrer` to the tag-schema index at `tag`, creating it if absent. Returns whether
    /// the index changed. Entries already there are kept exactly as they are.
    async fn add_to_fallback_index(
        &self,
        repo: &Repository,
        tag: &str,
        referrer: &Descriptor,
    ) -> Result<bool, OciError> {
        let url = self.url(repo, &format!("manifests/{tag}"));
        let mut index = match self
            .get(repo, &url, &[IMAGE_INDEX], MAX_MANIFEST_BYTES)
            .await?
        {
            None => json!({ "schemaVersion": 2, "mediaType": IMAGE_INDEX, "manifests": [] }),
            Some(got) => {
                let value = crate::json::parse_value(&got.body)
                    .map_err(|source| OciError::Malformed { url, source })?;
                if value.get("mediaType").and_then(Value::as_str) != Some(IMAGE_INDEX) {
                    return Err(OciError::FallbackNotIndex {
                        tag: tag.to_owned(),
                    });
                }
                value
            }
        };
        let Some(manifests) = index.get_mut("manifests").and_then(Value::as_array_mut) else {
            return Err(OciError::FallbackNotIndex {
                tag: tag.to_owned(),
            });
        };
        let digest = referrer.digest.to_string();
        if manifests
            .iter()
            .any(|m| m.get("digest").and_then(Value::as_str) == Some(digest.as_str()))
        {
            return Ok(false);
        }
        manifests.push(json!({
            "mediaType": referrer.media_type,
            "digest": digest,
            "size": referrer.size,
            "artifactType": BUNDLE_MEDIA_TYPE,
        }));
        let bytes = serde_json::to_vec(&index).map_err(|e| OciError::Push {
            what: format!("the referrers index `{tag}`"),
            source: Box::new(e),
        })?;
        self.push_manifest(repo, &ManifestTarget::Tag(tag), bytes, IMAGE_INDEX)
            .await?;
        Ok(true)
    }

    /// The bundles attached to `subject` in `repo`: listed by the referrers API where the
    /// registry has one, else by the tag-schema index; only referrers of the bundle artifact
    /// type are read, each manifest and blob bounded and checked against its descriptor.
    pub fn discover(&self, repo: &Repository, subject: &Digest) -> Result<Discovery, OciError> {
        self.run(async {
            let (via, listed) = match self.referrers_api(repo, subject).await? {
                Some(index) => (Via::ReferrersApi, index.manifests),
                None => {
                    let tag = fallback_tag(subject);
                    let url = self.url(repo, &format!("manifests/{tag}"));
                    let listed = match self
                        .get(repo, &url, &[IMAGE_INDEX], MAX_MANIFEST_BYTES)
                        .await?
                    {
                        None => Vec::new(),
                        Some(got) => {
                            let index: RawIndex = crate::json::from_slice(&got.body)
                                .map_err(|source| OciError::Malformed { url, source })?;
                            if index.media_type.as_deref() != Some(IMAGE_INDEX) {
                                return Err(OciError::FallbackNotIndex { tag });
                            }
                            index.manifests
                        }
                    };
                    (Via::FallbackTag, listed)
                }
            };
            let total = listed.len();
            let bundles: Vec<RawDescriptor> = listed
                .into_iter()
                .filter(|d| d.artifact_type.as_deref() == Some(BUNDLE_MEDIA_TYPE))
                .collect();
            let other_artifacts = total - bundles.len();
            let not_read = bundles.len().saturating_sub(MAX_REFERRERS);
            let mut referrers = Vec::new();
            for d in bundles.into_iter().take(MAX_REFERRERS) {
                referrers.push(self.read_referrer(repo, subject, &d).await?);
            }
            Ok(Discovery {
                via,
                referrers,
                other_artifacts,
                not_read,
            })
        })
    }

    /// Reads one listed referrer down to its bundle bytes. A registry that answers with
    /// something else than the descriptors name makes a [`ReferrerProblem`]; one that cannot be
    /// reached, an error.
    async fn read_referrer(
        &self,
        repo: &Repository,
        subject: &Digest,
        listed: &RawDescriptor,
    ) -> Result<Referrer, OciError> {
        let Ok(digest) = listed.digest.parse::<Digest>() else {
            let shown = crate::text::one_line(&listed.digest, 80);
            return Ok(Referrer {
                digest: shown.clone(),
                bundle: Err(ReferrerProblem::BadDigest(shown)),
            });
        };
        let bundle = self.read_bundle(repo, subject, &digest, listed).await?;
        Ok(Referrer {
            digest: digest.to_string(),
            bundle,
        })
    }

    async fn read_bundle(
        &self,
        repo: &Repository,
        subject: &Digest,
        digest: &Digest,
        listed: &RawDescriptor,
    ) -> Result<Result<Vec<u8>, ReferrerProblem>, OciError> {
        let url = self.url(repo, &format!("manifests/{digest}"));
        let body = match self
            .get(repo, &url, &[IMAGE_MANIFEST], MAX_MANIFEST_BYTES)
            .await
        {
            Ok(Some(got)) => got.body,
            Ok(None) => return Ok(Err(ReferrerProblem::ManifestMissing(digest.clone()))),
            Err(OciError::TooLarge { .. }) => {
                return Ok(Err(ReferrerProblem::NotABundleArtifact {
                    digest: digest.clone(),
                    what: format!("larger than {MAX_MANIFEST_BYTES} bytes"),
                }));
            }
            Err(e) => return Err(e),
        };
        let actual = digest_of(digest.algorithm(), &body);
        if &actual != digest {
            return Ok(Err(ReferrerProblem::ManifestDigest {
                expected: digest.clone(),
                actual,
            }));
        }
        if body.len() as u64 != listed.size {
            return Ok(Err(ReferrerProblem::ManifestSize {
                digest: digest.clone(),
                expected: listed.size,
                actual: body.len() as u64,
            }));
        }
        let not_bundle = |what: String| {
            Ok(Err(ReferrerProblem::NotABundleArtifact {
                digest: digest.clone(),
                what,
            }))
        };
        let manifest: RawManifest = match crate::json::from_slice(&body) {
            Ok(m) => m,
            Err(e) => return not_bundle(crate::error_chain(&e)),
        };
        if manifest.media_type.as_deref() != Some(IMAGE_MANIFEST) {
            return not_bundle("its media type is not an OCI image manifest's".to_owned());
        }
        if manifest.artifact_type.as_deref() != Some(BUNDLE_MEDIA_TYPE) {
            return not_bundle("its artifact type is not the bundle media type".to_owned());
        }
        match &manifest.subject {
            Some(s) if s.digest == subject.to_string() => {}
            other => {
                return Ok(Err(ReferrerProblem::OtherSubject {
                    digest: digest.clone(),
                    expected: subject.clone(),
                    actual: other.as_ref().map_or("nothing".to_owned(), |s| {
                        crate::text::one_line(&s.digest, 80)
                    }),
                }));
            }
        }
        let [layer] = manifest.layers.as_slice() else {
            return not_bundle(format!("it has {} layers", manifest.layers.len()));
        };
        if layer.media_type != BUNDLE_MEDIA_TYPE {
            return not_bundle("its layer is not of the bundle media type".to_owned());
        }
        let Ok(blob) = layer.digest.parse::<Digest>() else {
            return Ok(Err(ReferrerProblem::BadDigest(crate::text::one_line(
                &layer.digest,
                80,
            ))));
        };
        if layer.size > MAX_BUNDLE_BYTES {
            return Ok(Err(ReferrerProblem::BlobTooLarge {
                digest: blob,
                limit: MAX_BUNDLE_BYTES,
            }));
        }
        let url = self.url(repo, &format!("blobs/{blob}"));
        let bytes = match self.get(repo, &url, &[], layer.size).await {
            Ok(Some(got)) => got.body,
            Ok(None) => return Ok(Err(ReferrerProblem::BlobMissing(blob))),
            Err(OciError::TooLarge { .. }) => {
                return Ok(Err(ReferrerProblem::BlobLonger {
                    digest: blob,
                    expected: layer.size,
                }));
            }
            Err(e) => return Err(e),
        };
        if bytes.len() as u64 != layer.size {
            return Ok(Err(ReferrerProblem::BlobSize {
                digest: blob,
                expected: layer.size,
                actual: bytes.len() as u64,
            }));
        }
        let actual = digest_of(blob.algorithm(), &bytes);
        if actual != blob {
            return Ok(Err(ReferrerProblem::BlobDigest {
                expected: blob,
                actual,
            }));
        }
        Ok(Ok(bytes))
    }
}
