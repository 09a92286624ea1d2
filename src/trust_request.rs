//! What a verifier trusts, from a [`TrustRequest`] (the trust options of `mcp-verify`): which
//! trusted root applies (an explicit file, a TUF repository's verified cache, the default
//! instance's cache, the embedded root), the `~` regular-expression convention of the CI fields,
//! and the identity policy. Warnings come back as values; nothing is printed.
//!
//! [`conformance`] holds the same decisions for `sigstore verify-bundle`, the conformance
//! suite's contract (no TUF cache, an exact identity).
//!
//! Over 600 lines only with its unit tests (about 190 lines: root precedence and each refusal).

pub mod conformance;

use crate::fsutil::{ReadError, read_limited};
use crate::keys::KeyError;
use crate::sigstore::SigstoreError;
use crate::sigstore::keys::PublicKey;
use crate::sigstore::policy::{FulcioExtension, IdentityPolicy, Matcher, MatcherChoiceError};
use crate::sigstore::trust::TrustedRoot;
use crate::sigstore::tuf::{self, CacheLookup, CacheWarning, TufError};
use crate::verify::Trust;
use chrono::{DateTime, Utc};
use std::fmt;
use std::path::{Path, PathBuf};

/// The trust options, as given (strings, paths, switches); [`resolve_trust`] decides.
#[derive(Debug, Clone)]
pub struct TrustRequest {
    /// A trusted public key (SPKI PEM); excludes every keyless option.
    pub key: Option<PathBuf>,
    /// Keyless: the exact certificate identity, or a regular expression for all of it.
    pub certificate_identity: Option<String>,
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: the exact OIDC issuer, or a regular expression for all of it.
    pub certificate_oidc_issuer: Option<String>,
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Keyless CI fields: exact, or a regular expression when they start with `~`.
    pub source_repository: Option<String>,
    pub source_ref: Option<String>,
    pub workflow: Option<String>,
    pub runner_environment: Option<String>,
    /// Any Fulcio extension: `NAME=VALUE`, or `NAME~=REGEX`.
    pub extensions: Vec<String>,
    /// A trusted root file; wins over every other root option.
    pub trusted_root: Option<PathBuf>,
    /// The staging instance instead of production (its cache, else its embedded root).
    pub staging: bool,
    /// Another TUF repository's cached root, checked from `tuf_root`; the two go together.
    pub tuf_url: Option<String>,
    pub tuf_root: Option<PathBuf>,
    /// Where `trust refresh` caches live; `None`: [`tuf::cache_root`] from the environment.
    pub cache_dir: Option<PathBuf>,
    /// The time cached TUF metadata is judged at.
    pub now: DateTime<Utc>,
}

impl Default for TrustRequest {
    fn default() -> TrustRequest {
        TrustRequest {
            key: None,
            certificate_identity: None,
            certificate_identity_regexp: None,
            certificate_oidc_issuer: None,
            certificate_oidc_issuer_regexp: None,
            source_repository: None,
            source_ref: None,
            workflow: None,
            runner_environment: None,
            extensions: Vec::new(),
            trusted_root: None,
            staging: false,
            tuf_url: None,
            tuf_root: None,
            cache_dir: None,
            now: Utc::now(),
        }
    }
}

/// Where the trusted root came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RootSource {
    /// The file the request named.
    File(PathBuf),
    /// A `trust refresh` cache, verified from the repository's TUF root.
    Cache { url: String, path: PathBuf },
    /// The root built into this program.
    Embedded { staging: bool },
}

/// Something to tell the user; verification goes on.
#[derive(Debug)]
#[non_exhaustive]
pub enum TrustWarning {
    /// The cache was used, with a remark (its metadata has expired).
    Cache(CacheWarning),
    /// The default instance's cache did not verify; the embedded root is used.
    CacheIgnored { url: String, warning: CacheWarning },
    /// The default instance's cached trusted root verified but does not parse; the embedded
    /// root is used.
    CachedRootUnreadable { path: PathBuf, error: SigstoreError },
}

impl fmt::Display for TrustWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cache(w) => write!(f, "{w}"),
            Self::CacheIgnored { url, warning } => write!(
                f,
                "ignoring the trusted root cached from {url}: {warning}; using the embedded one"
            ),
            Self::CachedRootUnreadable { path, error } => write!(
                f,
                "ignoring cached trusted root `{}`: {error}; using the embedded one",
                path.display()
            ),
        }
    }
}

/// What the verifier trusts, where its root came from, and what to tell the user.
#[derive(Debug)]
pub struct ResolvedTrust {
    pub trust: Trust,
    pub root_source: RootSource,
    pub warnings: Vec<TrustWarning>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    #[error("{first} and {second} cannot be combined")]
    Conflict {
        first: &'static str,
        second: &'static str,
    },
    #[error("--tuf-url and --tuf-root go together: the cache is checked from that root")]
    TufPairIncomplete,
    #[error("cannot load trusted root `{}`", path.display())]
    TrustedRootFile {
        path: PathBuf,
        #[source]
        source: Box<SigstoreError>,
    },
    #[error(transparent)]
    TufRoot(#[from] ReadError),
    #[error("the cached trusted root for {url} is not usable ({})", source.reason_code())]
    CacheUnusable {
        url: String,
        #[source]
        source: Box<TufError>,
    },
    #[error(
        "no trusted root cached for {url}: run `mcp-verify trust refresh --tuf-url {url} --tuf-root ROOT.json` first"
    )]
    NotCached { url: String },
    #[error("cannot load cached trusted root `{}`", path.display())]
    CachedRoot {
        path: PathBuf,
        #[source]
        source: Box<SigstoreError>,
    },
    #[error("cannot load the embedded trusted root")]
    EmbeddedRoot(#[source] Box<SigstoreError>),
    /// A private key where a public key belongs: says so in one line, with the path to use.
    #[error("--key: {0}")]
    PrivateKeyGiven(Box<KeyError>),
    #[error("cannot load public key `{}`", path.display())]
    Key {
        path: PathBuf,
        #[source]
        source: Box<KeyError>,
    },
    #[error(
        "no trust given: pass --key PUB, or --certificate-identity (or --certificate-identity-regexp) with --certificate-oidc-issuer"
    )]
    NoTrust,
    #[error(
        "a keyless identity needs --certificate-oidc-issuer (or --certificate-oidc-issuer-regexp)"
    )]
    NoIssuer,
    #[error("invalid regular expression `{pattern}` for {field}")]
    Regex {
        field: &'static str,
        pattern: String,
        #[source]
        source: regex_lite::Error,
    },
    #[error("--certificate-extension takes NAME=VALUE or NAME~=REGEX, got `{spec}`")]
    ExtensionSpec { spec: String },
    #[error("unknown certificate extension `{name}` (known: {known})")]
    UnknownExtension { name: String, known: String },
}

/// Decides what to trust. Key or identity: a key excludes every keyless option, an identity needs
/// an issuer, exact or regular-expression forms of one field exclude each other. Trusted root, in
/// order: `trusted_root`; else the cache of `tuf_url` checked from `tuf_root` (an error when it is
/// missing or does not verify: a named repository has no embedded fallback); else the cache of the
/// default instance (production, or staging with `staging`) checked from its embedded TUF root,
/// a cache that fails being a warning; else the embedded trusted root.
pub fn resolve_trust(req: &TrustRequest) -> Result<ResolvedTrust, TrustError> {
    let keyless = keyless_options_given(req);
    if let (Some(_), Some(first)) = (&req.key, keyless) {
        return Err(TrustError::Conflict {
            first: "--key",
            second: first,
        });
    }
    let mut warnings = Vec::new();
    let (trusted_root, root_source) = trusted_root(req, &mut warnings)?;
    let trust = match &req.key {
        Some(path) => Trust::Key {
            key: public_key(path)?,
            trusted_root,
        },
        None => Trust::Identity {
            trusted_root,
            policy: identity_policy(req)?,
        },
    };
    Ok(ResolvedTrust {
        trust,
        root_source,
        warnings,
    })
}

/// The trusted root alone, chosen as [`resolve_trust`] chooses it: for a trust policy, whose
/// signers come from the policy file. Any key or keyless option given is a conflict.
pub fn resolve_root(
    req: &TrustRequest,
) -> Result<(TrustedRoot, RootSource, Vec<TrustWarning>), TrustError> {
    if let Some(first) = req
        .key
        .as_ref()
        .map(|_| "--key")
        .or(keyless_options_given(req))
    {
        return Err(TrustError::Conflict {
            first: "--policy",
            second: first,
        });
    }
    let mut warnings = Vec::new();
    let (root, source) = trusted_root(req, &mut warnings)?;
    Ok((root, source, warnings))
}

/// The first keyless option given, by its flag.
fn keyless_options_given(req: &TrustRequest) -> Option<&'static str> {
    let given = [
        ("--certificate-identity", req.certificate_identity.is_some()),
        (
            "--certificate-identity-regexp",
            req.certificate_identity_regexp.is_some(),
        ),
        (
            "--certificate-oidc-issuer",
            req.certificate_oidc_issuer.is_some(),
        ),
        (
            "--certificate-oidc-issuer-regexp",
            req.certificate_oidc_issuer_regexp.is_some(),
        ),
        ("--source-repository", req.source_repository.is_some()),
        ("--source-ref", req.source_ref.is_some()),
        ("--workflow", req.workflow.is_some()),
        ("--runner-environment", req.runner_environment.is_some()),
        ("--certificate-extension", !req.extensions.is_empty()),
    ];
    given.iter().find(|(_, on)| *on).map(|(flag, _)| *flag)
}

fn public_key(path: &Path) -> Result<PublicKey, TrustError> {
    crate::keys::public_key_from_file(path).map_err(|e| match e {
        KeyError::PrivateNotPublic { .. } => TrustError::PrivateKeyGiven(Box::new(e)),
        source => TrustError::Key {
            path: path.to_path_buf(),
            source: Box::new(source),
        },
    })
}

fn trusted_root(
    req: &TrustRequest,
    warnings: &mut Vec<TrustWarning>,
) -> Result<(TrustedRoot, RootSource), TrustError> {
    if let Some(path) = &req.trusted_root {
        let root = TrustedRoot::from_file(path).map_err(|source| TrustError::TrustedRootFile {
            path: path.clone(),
            source: Box::new(source),
        })?;
        return Ok((root, RootSource::File(path.clone())));
    }
    let cache_dir = req.cache_dir.clone().or_else(tuf::cache_root);
    match (&req.tuf_url, &req.tuf_root) {
        (Some(url), Some(tuf_root)) => {
            let anchor = read_limited(tuf_root, tuf::Limits::default().root_bytes)?;
            let (target, warning) =
                match tuf::cached_trusted_root(cache_dir.as_deref(), url, &anchor, req.now) {
                    CacheLookup::Found { target, warning } => (target, warning),
                    CacheLookup::Absent => {
                        return Err(TrustError::NotCached { url: url.clone() });
                    }
                    CacheLookup::Unusable { error, .. } => {
                        return Err(TrustError::CacheUnusable {
                            url: url.clone(),
                            source: Box::new(error),
                        });
                    }
                };
            warnings.extend(warning.map(TrustWarning::Cache));
            let root =
                TrustedRoot::from_json(&target.bytes).map_err(|source| TrustError::CachedRoot {
                    path: target.path.clone(),
                    source: Box::new(source),
                })?;
            return Ok((
                root,
                RootSource::Cache {
                    url: url.clone(),
                    path: target.path,
                },
            ));
        }
        (Some(_), None) | (None, Some(_)) => return Err(TrustError::TufPairIncomplete),
        (None, None) => {}
    }
    let (url, anchor) = if req.staging {
        (tuf::STAGING_URL, tuf::staging_root())
    } else {
        (tuf::PRODUCTION_URL, tuf::production_root())
    };
    match tuf::cached_trusted_root(cache_dir.as_deref(), url, anchor, req.now) {
        CacheLookup::Found { target, warning } => {
            warnings.extend(warning.map(TrustWarning::Cache));
            match TrustedRoot::from_json(&target.bytes) {
                Ok(root) => {
                    return Ok((
                        root,
                        RootSource::Cache {
                            url: url.to_owned(),
                            path: target.path,
                        },
                    ));
                }
                Err(error) => warnings.push(TrustWarning::CachedRootUnreadable {
                    path: target.path,
                    error,
                }),
            }
        }
        CacheLookup::Absent => {}
        CacheLookup::Unusable { dir, error } => warnings.push(TrustWarning::CacheIgnored {
            url: url.to_owned(),
            warning: CacheWarning::Ignored { dir, error },
        }),
    }
    let root = if req.staging {
        TrustedRoot::staging()
    } else {
        TrustedRoot::production()
    }
    .map_err(|e| TrustError::EmbeddedRoot(Box::new(e)))?;
    Ok((
        root,
        RootSource::Embedded {
            staging: req.staging,
        },
    ))
}

/// Exact, or a regular expression (matched against the whole value) when `exact` is absent.
fn exact_or_regex(
    exact: &Option<String>,
    regex: &Option<String>,
    names: (&'static str, &'static str),
) -> Result<Option<Matcher>, TrustError> {
    Matcher::exact_or_regex(exact.as_deref(), regex.as_deref())
        .map_err(|e| choice_error(e, names.0, names.1))
}

fn compile(field: &'static str, pattern: &str) -> Result<Matcher, TrustError> {
    Matcher::regex(pattern).map_err(|source| TrustError::Regex {
        field,
        pattern: pattern.to_owned(),
        source,
    })
}

/// A CI field's value: a regular expression when it starts with `~`, else exact.
fn tilde_matcher(field: &'static str, value: &str) -> Result<Matcher, TrustError> {
    Matcher::tilde(value).map_err(|e| choice_error(e, field, field))
}

fn choice_error(e: MatcherChoiceError, exact: &'static str, regex: &'static str) -> TrustError {
    match e {
        MatcherChoiceError::Both => TrustError::Conflict {
            first: exact,
            second: regex,
        },
        MatcherChoiceError::Regex { pattern, source } => TrustError::Regex {
            field: regex,
            pattern,
            source,
        },
    }
}

fn identity_policy(req: &TrustRequest) -> Result<IdentityPolicy, TrustError> {
    let identity = exact_or_regex(
        &req.certificate_identity,
        &req.certificate_identity_regexp,
        ("--certificate-identity", "--certificate-identity-regexp"),
    )?
    .ok_or(TrustError::NoTrust)?;
    let issuer = exact_or_regex(
        &req.certificate_oidc_issuer,
        &req.certificate_oidc_issuer_regexp,
        (
            "--certificate-oidc-issuer",
            "--certificate-oidc-issuer-regexp",
        ),
    )?
    .ok_or(TrustError::NoIssuer)?;
    let mut extensions = Vec::new();
    let named = [
        (
            FulcioExtension::SourceRepositoryUri,
            "--source-repository",
            &req.source_repository,
        ),
        (
            FulcioExtension::SourceRepositoryRef,
            "--source-ref",
            &req.source_ref,
        ),
        (FulcioExtension::BuildSignerUri, "--workflow", &req.workflow),
        (
            FulcioExtension::RunnerEnvironment,
            "--runner-environment",
            &req.runner_environment,
        ),
    ];
    for (ext, field, value) in named {
        if let Some(v) = value {
            extensions.push((ext, tilde_matcher(field, v)?));
        }
    }
    for spec in &req.extensions {
        extensions.push(extension(spec)?);
    }
    Ok(IdentityPolicy {
        identity,
        issuer,
        extensions,
    })
}

/// `NAME=VALUE` (exact) or `NAME~=REGEX`, NAME one of [`FulcioExtension::ALL`].
fn extension(spec: &str) -> Result<(FulcioExtension, Matcher), TrustError> {
    let (name, matcher) = if let Some((n, re)) = spec.split_once("~=") {
        (n, compile("--certificate-extension", re)?)
    } else if let Some((n, v)) = spec.split_once('=') {
        (n, Matcher::Exact(v.to_owned()))
    } else {
        return Err(TrustError::ExtensionSpec {
            spec: spec.to_owned(),
        });
    };
    let ext = FulcioExtension::ALL
        .iter()
        .copied()
        .find(|x| x.name() == name)
        .ok_or_else(|| TrustError::UnknownExtension {
            name: name.to_owned(),
            known: FulcioExtension::ALL
                .iter()
                .map(|x| x.name())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    Ok((ext, matcher))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT_FILE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/sigstore-trust/staging.trusted_root.json"
    );

    /// A request that looks in `cache` (an empty folder unless a test fills it).
    fn request(cache: &Path) -> TrustRequest {
        TrustRequest {
            certificate_identity: Some("me@example.com".into()),
            certificate_oidc_issuer: Some("https://issuer.example".into()),
            cache_dir: Some(cache.to_path_buf()),
            ..TrustRequest::default()
        }
    }

    fn policy(r: &ResolvedTrust) -> &IdentityPolicy {
        match &r.trust {
            Trust::Identity { policy, .. } => policy,
            other => panic!("not an identity: {other:?}"),
        }
    }

    #[test]
    fn an_explicit_trusted_root_wins_over_every_cache() {
        let cache = tempfile::tempdir().unwrap();
        let mut req = request(cache.path());
        req.trusted_root = Some(ROOT_FILE.into());
        req.staging = true;
        req.tuf_url = Some("http://127.0.0.1:9".into());
        let r = resolve_trust(&req).unwrap();
        assert_eq!(r.root_source, RootSource::File(ROOT_FILE.into()));
        assert!(r.warnings.is_empty());
        req.trusted_root = Some(cache.path().join("absent.json"));
        assert!(matches!(
            resolve_trust(&req),
            Err(TrustError::TrustedRootFile { .. })
        ));
    }

    #[test]
    fn without_a_cache_the_embedded_root_of_the_chosen_instance_is_used() {
        let cache = tempfile::tempdir().unwrap();
        let mut req = request(cache.path());
        let r = resolve_trust(&req).unwrap();
        assert_eq!(r.root_source, RootSource::Embedded { staging: false });
        req.staging = true;
        let r = resolve_trust(&req).unwrap();
        assert_eq!(r.root_source, RootSource::Embedded { staging: true });
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn a_damaged_default_cache_is_a_warning_and_the_embedded_root_is_used() {
        let cache = tempfile::tempdir().unwrap();
        let dir = tuf::repo_cache_dir(cache.path(), tuf::PRODUCTION_URL);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("root.json"), b"{\"signed\": 1}").unwrap();
        let r = resolve_trust(&request(cache.path())).unwrap();
        assert_eq!(r.root_source, RootSource::Embedded { staging: false });
        assert_eq!(r.warnings.len(), 1);
        assert!(matches!(&r.warnings[0], TrustWarning::CacheIgnored { .. }));
        let shown = r.warnings[0].to_string();
        assert!(
            shown.starts_with("ignoring the trusted root cached from https://")
                && shown.ends_with("using the embedded one"),
            "{shown}"
        );
    }

    #[test]
    fn a_named_tuf_repository_needs_its_root_and_a_usable_cache() {
        let cache = tempfile::tempdir().unwrap();
        let url = "http://127.0.0.1:9/repo";
        let mut req = request(cache.path());
        req.tuf_url = Some(url.into());
        assert!(matches!(
            resolve_trust(&req),
            Err(TrustError::TufPairIncomplete)
        ));
        let anchor = cache.path().join("1.root.json");
        std::fs::write(&anchor, tuf::staging_root()).unwrap();
        req.tuf_root = Some(anchor);
        assert!(matches!(
            resolve_trust(&req),
            Err(TrustError::NotCached { .. })
        ));
        // A cache that does not verify is an error here, never a fallback to the embedded root.
        let dir = tuf::repo_cache_dir(cache.path(), url);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("root.json"), b"{\"signed\": 1}").unwrap();
        let err = resolve_trust(&req).unwrap_err();
        assert!(matches!(err, TrustError::CacheUnusable { .. }), "{err:?}");
        req.tuf_url = None;
        assert!(matches!(
            resolve_trust(&req),
            Err(TrustError::TufPairIncomplete)
        ));
    }

    #[test]
    fn key_or_identity_never_both_and_an_identity_needs_an_issuer() {
        let cache = tempfile::tempdir().unwrap();
        let key = cache.path().join("k.pub");
        let mut req = request(cache.path());
        req.key = Some(key.clone());
        assert!(matches!(
            resolve_trust(&req),
            Err(TrustError::Conflict {
                first: "--key",
                second: "--certificate-identity"
            })
        ));
        let mut req = request(cache.path());
        req.certificate_identity_regexp = Some(".*".into());
        assert!(matches!(
            resolve_trust(&req),
            Err(TrustError::Conflict { .. })
        ));
        let mut req = request(cache.path());
        req.certificate_oidc_issuer = None;
        assert!(matches!(resolve_trust(&req), Err(TrustError::NoIssuer)));
        let req = TrustRequest {
            cache_dir: Some(cache.path().to_path_buf()),
            ..TrustRequest::default()
        };
        assert!(matches!(resolve_trust(&req), Err(TrustError::NoTrust)));
        // A private key given where the public key belongs names the file to use instead.
        let private = crate::keys::PrivateKey::generate().unwrap();
        let pem = private.to_pem(None).unwrap();
        std::fs::write(&key, pem.as_bytes()).unwrap();
        let req = TrustRequest {
            key: Some(key),
            cache_dir: Some(cache.path().to_path_buf()),
            ..TrustRequest::default()
        };
        assert!(matches!(
            resolve_trust(&req),
            Err(TrustError::PrivateKeyGiven(_))
        ));
    }

    #[test]
    fn ci_fields_are_exact_unless_they_start_with_a_tilde() {
        let cache = tempfile::tempdir().unwrap();
        let mut req = request(cache.path());
        req.source_ref = Some("~refs/tags/v.+".into());
        req.workflow = Some("~https://x".into());
        req.runner_environment = Some("github-hosted".into());
        req.extensions = vec![
            "source-repository-uri=https://github.com/acme/wx".into(),
            "build-signer-digest~=[0-9a-f]{40}".into(),
        ];
        let r = resolve_trust(&req).unwrap();
        let ext = |e: FulcioExtension| {
            policy(&r)
                .extensions
                .iter()
                .find(|(x, _)| *x == e)
                .map(|(_, m)| m)
                .unwrap()
        };
        let source_ref = ext(FulcioExtension::SourceRepositoryRef);
        assert!(source_ref.matches("refs/tags/v1.2") && !source_ref.matches("~refs/tags/v1.2"));
        // Anchored: a regular expression matches the whole value.
        assert!(!ext(FulcioExtension::BuildSignerUri).matches("https://x/y"));
        let runner = ext(FulcioExtension::RunnerEnvironment);
        assert!(runner.matches("github-hosted") && !runner.matches("github-hostedX"));
        assert!(ext(FulcioExtension::SourceRepositoryUri).matches("https://github.com/acme/wx"));
        assert!(ext(FulcioExtension::BuildSignerDigest).matches(&"a".repeat(40)));
        assert_eq!(policy(&r).extensions.len(), 5);

        req.source_ref = Some("~(".into());
        assert!(matches!(
            resolve_trust(&req),
            Err(TrustError::Regex {
                field: "--source-ref",
                ..
            })
        ));
        req.source_ref = None;
        for (spec, want_unknown) in [("runner-environment", false), ("no-such=1", true)] {
            req.extensions = vec![spec.into()];
            match resolve_trust(&req) {
                Err(TrustError::UnknownExtension { .. }) if want_unknown => {}
                Err(TrustError::ExtensionSpec { .. }) if !want_unknown => {}
                other => panic!("{spec}: {other:?}"),
            }
        }
    }
}
