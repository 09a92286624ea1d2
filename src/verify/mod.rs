//! Verification, from bundle bytes to a report: the signature is checked first, and only then
//! is the statement read and a `Verified<Manifest>` made (nothing else can make one). Then the
//! statement's subjects, the manifest's validity window and, when asked, the pinned directory
//! trees on disk are checked. Every problem found is reported with a stable reason code.

use crate::digest::Digest;
use crate::digest::tree::TreeError;
use crate::keys::KeyId;
use crate::manifest::{Artifact, Manifest, PREDICATE_TYPE, ServerId};
use crate::reason::Reason;
use crate::sigstore::bundle::{Bundle, Content, SignerMaterial};
use crate::sigstore::keys::PublicKey;
use crate::sigstore::policy::{FulcioExtension, IdentityPolicy};
use crate::sigstore::trust::TrustedRoot;
use crate::sigstore::{SignerInfo, SignerPolicy, VerifyOptions, verify_bundle};
use crate::statement::{PAYLOAD_TYPE, STATEMENT_TYPE, Statement};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod artifacts;
mod live;
pub mod oci;
mod packages;
mod registry_checks;

use artifacts::{check_dir, check_file, find_artifact};
pub use live::check_live_tools;

/// How far in the future `issuedAt` may lie before a manifest counts as not yet valid.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// A value that passed signature verification. Only this module can construct one.
#[derive(Debug, Clone)]
pub struct Verified<T>(T);

impl<T> Verified<T> {
    pub fn get(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// What the verifier trusts.
#[derive(Debug, Clone)]
pub enum Trust {
    /// A public key (Ed25519, ECDSA P-256 or P-384). Log entries a key bundle carries are
    /// verified against `trusted_root`; none are required.
    Key {
        key: PublicKey,
        trusted_root: TrustedRoot,
    },
    /// A keyless identity: a Fulcio certificate chaining to `trusted_root`, logged in its
    /// transparency log, whose identity and issuer match `policy`.
    Identity {
        trusted_root: TrustedRoot,
        policy: IdentityPolicy,
    },
}

/// A local copy of a pinned artifact to re-check: a directory tree (`--dir`) or a single file
/// (`--file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalArtifact {
    /// The artifact's name; `None` means "the only artifact of this kind".
    pub artifact: Option<String>,
    pub path: PathBuf,
}

impl LocalArtifact {
    /// Reads a `--dir` argument: `NAME=DIR` names a directory artifact (a directory artifact's
    /// name holds no `/`), anything else is a path for the manifest's only directory artifact.
    pub fn parse_dir(arg: &str) -> LocalArtifact {
        match arg.split_once('=') {
            Some((name, path)) if !name.is_empty() && !name.contains('/') => LocalArtifact {
                artifact: Some(name.to_owned()),
                path: PathBuf::from(path),
            },
            _ => LocalArtifact {
                artifact: None,
                path: PathBuf::from(arg),
            },
        }
    }

    /// Reads a `--file` argument: `NAME=PATH` when the text before the first `=` is a safe
    /// relative path (file artifacts are named by one), else a path for the only file artifact.
    pub fn parse_file(arg: &str) -> LocalArtifact {
        match arg.split_once('=') {
            Some((name, path)) if crate::relpath::RelPath::parse(name).is_ok() => LocalArtifact {
                artifact: Some(name.to_owned()),
                path: PathBuf::from(path),
            },
            _ => LocalArtifact {
                artifact: None,
                path: PathBuf::from(arg),
            },
        }
    }
}

/// The local artifacts to re-check, and whether the caller asked for the signature alone.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    pub dirs: Vec<LocalArtifact>,
    pub files: Vec<LocalArtifact>,
    /// Where artifacts that `dirs` and `files` do not name are looked for: the manifest's only
    /// directory artifact is this directory itself, a file artifact is `base/NAME`. A launch
    /// sets it to the directory it starts the server in, so that all it runs is checked.
    pub base: Option<PathBuf>,
    /// Check the signature, statement and validity window only: the report then says that no
    /// artifact was checked, and carries no `Verified<Manifest>`.
    pub signature_only: bool,
    /// Check directory artifacts by snapshotting them into this launch store (hashed while
    /// copied; see `store`) instead of hashing them in place: the report then names each
    /// matching tree's snapshot, which is what a launch runs.
    pub snapshot: Option<crate::store::Store>,
    /// Check package artifacts (npm, PyPI) against their registries; with `snapshot`, also
    /// install them there (or reuse an unchanged install) and report the install as the
    /// snapshot. `None`: they are left unchecked.
    pub packages: Option<crate::artifact::PackageChecks>,
    /// Ask no registry (no network): pinned packages and images are then reported unchecked.
    pub offline: bool,
    /// How OCI registries are reached when a pinned image is checked.
    pub oci: crate::registry::oci::Options,
}

#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub bundle: &'a [u8],
    pub trust: &'a Trust,
    pub now: DateTime<Utc>,
    pub checks: Checks,
}

/// Who signed, as far as the verifier established it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SignerSummary {
    #[serde(rename_all = "camelCase")]
    Key { key_id: String },
    #[serde(rename_all = "camelCase")]
    Certificate {
        identity: String,
        issuer: Option<String>,
        /// Fulcio extensions present in the certificate, by kebab-case name.
        extensions: std::collections::BTreeMap<String, String>,
        /// The earliest verified time (transparency log or timestamp authority).
        #[serde(skip_serializing_if = "Option::is_none")]
        log_time: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Stable reason code (spec/cli.md), written as its kebab-case text.
    pub reason: Reason,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Problem {
    pub fn new(reason: Reason, message: impl Into<String>) -> Problem {
        Problem {
            reason,
            message: message.into(),
            path: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactReport {
    pub name: String,
    pub digest: Digest,
    /// The local path it was compared with, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked: Option<String>,
    /// The store snapshot made of it, when it was checked by snapshotting and matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<PathBuf>,
}

/// The outcome of a verification that could be decided.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<SignerSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub artifacts: Vec<ArtifactReport>,
    /// True when only the signature was asked for: no artifact was re-checked.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub signature_only: bool,
    pub problems: Vec<Problem>,
    /// The verified manifest: present only when `verified` is true and every artifact was
    /// re-checked (never with `signature_only`).
    #[serde(skip)]
    pub manifest: Option<Verified<Manifest>>,
}

impl Report {
    /// A report of one problem found before anything was established (no server, no signer).
    pub fn rejected(problem: Problem) -> Report {
        Report {
            verified: false,
            server: None,
            signer: None,
            issued_at: None,
            expires_at: None,
            artifacts: Vec::new(),
            signature_only: false,
            problems: vec![problem],
            manifest: None,
        }
    }
}

/// Verification could not be decided (exit code 2): the inputs could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("cannot read directory `{}`", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: TreeError,
    },
    #[error("cannot read file `{}`", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: crate::digest::HashError,
    },
    #[error("`{name}` names no {kind} artifact of this manifest (it pins: {pinned})")]
    NoSuchArtifact {
        name: String,
        kind: &'static str,
        /// Every artifact, with its kind.
        pinned: String,
        /// The names of the artifacts of `kind` (empty when there are none).
        candidates: String,
    },
    #[error("the manifest pins {count} {kind} artifacts; name one with `--{kind} NAME=PATH`")]
    AmbiguousArtifact { count: usize, kind: &'static str },
    #[error("{kind} artifact `{name}` is given twice")]
    CheckedTwice { name: String, kind: &'static str },
    #[error("cannot check package artifact `{name}`")]
    Package {
        name: String,
        #[source]
        source: Box<crate::artifact::ArtifactError>,
    },
    #[error("cannot check `{image}` against its registry")]
    Registry {
        image: String,
        #[source]
        source: Box<crate::registry::oci::OciError>,
    },
    #[error("cannot snapshot directory `{}` into the launch store", path.display())]
    Store {
        path: PathBuf,
        #[source]
        source: Box<crate::store::StoreError>,
    },
}

impl VerifyError {
    /// What the user can do about it, when there is one thing to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            VerifyError::NoSuchArtifact {
                kind, candidates, ..
            } => Some(if candidates.is_empty() {
                // The other option checks the other kind of artifact on disk.
                let (other, option) = if *kind == "directory" {
                    ("file", "file")
                } else {
                    ("directory", "dir")
                };
                format!(
                    "this manifest pins no {kind} artifact; a {other} artifact is checked with `--{option} NAME=PATH`"
                )
            } else {
                format!(
                    "name a pinned {kind} artifact: {candidates} (`--{} NAME=PATH`)",
                    if *kind == "directory" { "dir" } else { "file" }
                )
            }),
            VerifyError::AmbiguousArtifact { kind, .. } => {
                Some(format!("give one `--{kind} NAME=PATH` per {kind} artifact"))
            }
            VerifyError::CheckedTwice { kind, .. } => {
                Some(format!("give each artifact one `--{kind}`"))
            }
            VerifyError::Store { source, .. } => source.hint(),
            VerifyError::Package { source, .. } => match source.as_ref() {
                crate::artifact::ArtifactError::Store(e) => e.hint(),
                _ => None,
            },
            VerifyError::Registry { source, .. } => source.hint(),
            VerifyError::Dir { .. } | VerifyError::File { .. } => None,
        }
    }
}

/// Verifies a bundle. `Err` means the answer could not be decided; a `Report` with
/// `verified: false` means the bundle was rejected.
pub fn verify(req: &Request) -> Result<Report, VerifyError> {
    // Strict (duplicate keys refused) and parsed once: see `Bundle::from_json`.
    let bundle = match Bundle::from_json(req.bundle) {
        Ok(b) => b,
        Err(e) => {
            return Ok(Report::rejected(Problem::new(
                Reason::MalformedBundle,
                crate::error_chain(&e),
            )));
        }
    };
    Ok(verify_parsed(&bundle, None, req.trust, req.now, &req.checks)?.report)
}

/// A verification of a bundle already parsed, with the manifest its signed statement holds.
pub(crate) struct Signed {
    pub report: Report,
    /// The signed manifest when the report does not carry it as verified (an artifact or the
    /// validity window failed): what was signed, for a caller that judges it further. `None`
    /// when the signature or the statement failed, or when `report.manifest` holds it.
    pub unverified: Option<Manifest>,
}

/// [`verify`] over a parsed bundle. `statement` is the envelope's payload as the caller already
/// read it strictly (before the signature was checked), so that it is not read twice; it is
/// trusted only once the signature over that same payload held.
pub(crate) fn verify_parsed(
    bundle: &Bundle,
    statement: Option<Statement>,
    trust: &Trust,
    now: DateTime<Utc>,
    checks: &Checks,
) -> Result<Signed, VerifyError> {
    let signer = match check_signature(bundle, trust) {
        Ok(signer) => signer,
        Err(problem) => return Ok(unsigned(Report::rejected(problem))),
    };
    // Signed, but not yet verified: it becomes `Verified` only after the last check.
    let statement = match statement {
        Some(s) => check_statement_type(s),
        None => signed_payload(bundle).and_then(parse_statement),
    };
    let manifest = match statement.and_then(read_statement) {
        Ok(m) => m,
        Err(problem) => {
            let mut r = Report::rejected(problem);
            r.signer = Some(signer);
            return Ok(unsigned(r));
        }
    };
    let mut problems = Vec::new();
    check_validity(&manifest, now, &mut problems);
    let mut artifacts: Vec<ArtifactReport> = manifest
        .artifacts
        .iter()
        .map(|a| ArtifactReport {
            name: a.name().to_owned(),
            digest: a.digest().clone(),
            checked: None,
            snapshot: None,
        })
        .collect();
    let store = checks.snapshot.as_ref();
    for (kind, list) in [("dir", &checks.dirs), ("file", &checks.files)] {
        for local in list {
            let (index, artifact) = find_artifact(&manifest, kind, local.artifact.as_deref())?;
            if artifacts[index].checked.is_some() {
                return Err(VerifyError::CheckedTwice {
                    name: artifact.name().to_owned(),
                    kind,
                });
            }
            match artifact {
                Artifact::Directory { .. } => {
                    artifacts[index].snapshot =
                        check_dir(artifact, &local.path, store, &mut problems)?;
                }
                _ => check_file(artifact, &local.path, &mut problems)?,
            }
            artifacts[index].checked = Some(local.path.display().to_string());
        }
    }
    if let Some(base) = &checks.base {
        let dir_count = manifest
            .artifacts
            .iter()
            .filter(|a| matches!(a, Artifact::Directory { .. }))
            .count();
        for (artifact, report) in manifest.artifacts.iter().zip(artifacts.iter_mut()) {
            if report.checked.is_some() {
                continue;
            }
            let path = match artifact {
                Artifact::Directory { .. } if dir_count == 1 => {
                    report.snapshot = check_dir(artifact, base, store, &mut problems)?;
                    base.clone()
                }
                // Several trees: each must be named; left unchecked (and so rejected) here.
                Artifact::Directory { .. } => continue,
                // Packages and images are checked against their registries, not a folder.
                Artifact::Npm { .. } | Artifact::Pypi { .. } | Artifact::Oci { .. } => continue,
                Artifact::File { name, .. } | Artifact::Mcpb { name, .. } => {
                    let path = base.join(name.as_str());
                    check_file(artifact, &path, &mut problems)?;
                    path
                }
            };
            report.checked = Some(path.display().to_string());
        }
    }
    if let Some(packages) = &checks.packages {
        for (artifact, report) in manifest.artifacts.iter().zip(artifacts.iter_mut()) {
            if report.checked.is_none() {
                packages::check_package(
                    artifact,
                    packages,
                    store,
                    checks.offline,
                    report,
                    &mut problems,
                )?;
            }
        }
    }
    registry_checks::check_images(&manifest, &mut artifacts, checks, &mut problems)?;
    if !checks.signature_only {
        for a in artifacts.iter().filter(|a| a.checked.is_none()) {
            let pinned = manifest.artifacts.iter().find(|m| m.name() == a.name);
            // A package whose check could not run already says why (offline, unreachable).
            if checks.packages.is_some()
                && matches!(pinned, Some(Artifact::Npm { .. } | Artifact::Pypi { .. }))
                && problems
                    .iter()
                    .any(|p| p.path.as_deref() == Some(a.name.as_str()))
            {
                continue;
            }
            let how = match pinned {
                Some(Artifact::File { .. } | Artifact::Mcpb { .. }) => {
                    format!("pass `--file {}=PATH` to re-hash it", a.name)
                }
                Some(Artifact::Directory { .. }) | None => {
                    format!("pass `--dir {}=PATH` to re-hash it", a.name)
                }
                Some(Artifact::Npm { .. } | Artifact::Pypi { .. } | Artifact::Oci { .. })
                    if checks.offline =>
                {
                    "`--offline` was given, so its registry was not asked".to_owned()
                }
                Some(Artifact::Npm { .. } | Artifact::Pypi { .. } | Artifact::Oci { .. }) => {
                    "it is checked against its registry (without `--offline`)".to_owned()
                }
            };
            let kind = pinned.map_or("directory", Artifact::kind);
            problems.push(Problem {
                reason: Reason::ArtifactUnchecked,
                message: format!(
                    "{kind} artifact `{}` was not checked: {how}, or pass `--signature-only` to \
                     check the signature alone",
                    a.name
                ),
                path: None,
            });
        }
    }
    let verified = problems.is_empty();
    let mut report = Report {
        verified,
        server: Some(manifest.server.clone()),
        signer: Some(signer),
        issued_at: Some(manifest.issued_at.to_string()),
        expires_at: manifest.expires_at.map(|t| t.to_string()),
        artifacts,
        signature_only: checks.signature_only,
        problems,
        manifest: None,
    };
    // Only a manifest whose every check held, artifacts included, is handed out as verified.
    if verified && !checks.signature_only {
        report.manifest = Some(Verified(manifest));
        Ok(Signed {
            report,
            unverified: None,
        })
    } else {
        Ok(Signed {
            report,
            unverified: Some(manifest),
        })
    }
}

fn unsigned(report: Report) -> Signed {
    Signed {
        report,
        unverified: None,
    }
}

/// The DSSE payload of a bundle whose signature [`check_signature`] accepted.
fn signed_payload(bundle: &Bundle) -> Result<&[u8], Problem> {
    match &bundle.content {
        Content::DsseEnvelope(env) => Ok(&env.payload),
        Content::MessageSignature(_) => Err(Problem::new(
            Reason::MalformedBundle,
            "verified bundle carries no DSSE payload",
        )),
    }
}

/// Checks the bundle's signature against the trust given; returns the signer. The payload it
/// was checked over is the envelope's (`signed_payload`).
pub(crate) fn check_signature(bundle: &Bundle, trust: &Trust) -> Result<SignerSummary, Problem> {
    let Content::DsseEnvelope(env) = &bundle.content else {
        return Err(Problem::new(
            Reason::MalformedBundle,
            "bundle holds a plain message signature, not a DSSE envelope with an mcpsig statement",
        ));
    };
    if env.signatures.is_empty() {
        return Err(Problem::new(
            Reason::Unsigned,
            "the DSSE envelope carries no signature",
        ));
    }
    // A key hint naming another key only explains a failure: the signature decides (other
    // Sigstore clients write hints in other forms).
    let mut other_key_hint: Option<String> = None;
    let opts = match trust {
        Trust::Key { key, trusted_root } => {
            let key_id = KeyId::of(key);
            match &bundle.verification_material.signer {
                SignerMaterial::PublicKey { hint } if !hint.is_empty() && hint != &key_id.hex() => {
                    other_key_hint = Some(format!(
                        "bundle was signed by key {hint}, not by the trusted key {key_id}"
                    ));
                }
                SignerMaterial::PublicKey { .. } => {}
                _ => {
                    return Err(Problem::new(
                        Reason::UntrustedSigner,
                        "bundle was signed with a certificate (keyless); verify it with \
                         --certificate-identity and --certificate-oidc-issuer",
                    ));
                }
            }
            VerifyOptions {
                trusted_root: Some(trusted_root),
                signer: SignerPolicy::Key(key.clone()),
                require_transparency: false,
            }
        }
        Trust::Identity {
            trusted_root,
            policy,
        } => VerifyOptions {
            trusted_root: Some(trusted_root),
            signer: SignerPolicy::Identity(policy.clone()),
            require_transparency: true,
        },
    };
    let verified =
        verify_bundle(bundle, None, &opts).map_err(|e| match (&other_key_hint, &e) {
            (Some(msg), crate::sigstore::SigstoreError::BadSignature { .. }) => {
                Problem::new(Reason::UntrustedSigner, msg.clone())
            }
            (_, crate::sigstore::SigstoreError::BadCertificateChain { .. }) => Problem::new(
                e.reason_code(),
                format!(
                    "{} (signed through another Sigstore instance? pass its --trusted-root, or --staging)",
                    crate::error_chain(&e)
                ),
            ),
            _ => Problem::new(e.reason_code(), crate::error_chain(&e)),
        })?;
    if env.payload_type != PAYLOAD_TYPE {
        return Err(Problem::new(
            Reason::MalformedStatement,
            format!(
                "payload type is `{}`, expected `{PAYLOAD_TYPE}`",
                env.payload_type
            ),
        ));
    }
    if verified.payload.is_none() {
        return Err(Problem::new(
            Reason::MalformedBundle,
            "verified bundle carries no DSSE payload",
        ));
    }
    let signer = match verified.signer {
        SignerInfo::Key { key_id } => SignerSummary::Key {
            key_id: hex::encode(key_id),
        },
        SignerInfo::Certificate {
            san,
            issuer,
            extensions,
            ..
        } => SignerSummary::Certificate {
            identity: san,
            issuer,
            extensions: FulcioExtension::ALL
                .iter()
                .filter_map(|x| {
                    extensions
                        .get(&x.arc())
                        .map(|v| (x.name().to_owned(), v.clone()))
                })
                .collect(),
            log_time: verified
                .times
                .iter()
                .map(|t| t.time)
                .min()
                .and_then(|t| DateTime::from_timestamp(t, 0))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        },
    };
    Ok(signer)
}

/// Checks a bundle's signature against `trust` and reads its in-toto statement, whatever its
/// predicate type: for signed documents other than manifests (the trust policy's revocation
/// list), whose caller checks the predicate type and reads the predicate. The problem says
/// which check failed.
pub fn verify_signed_statement(
    bundle: &[u8],
    trust: &Trust,
) -> Result<(SignerSummary, Statement), Problem> {
    let bundle = Bundle::from_json(bundle)
        .map_err(|e| Problem::new(Reason::MalformedBundle, crate::error_chain(&e)))?;
    let signer = check_signature(&bundle, trust)?;
    Ok((signer, parse_statement(signed_payload(&bundle)?)?))
}

/// A strict in-toto Statement v1.
fn parse_statement(payload: &[u8]) -> Result<Statement, Problem> {
    let statement: Statement = crate::json::from_slice(payload).map_err(|e| {
        Problem::new(
            Reason::MalformedStatement,
            format!("signed statement is invalid: {}", crate::error_chain(&e)),
        )
    })?;
    check_statement_type(statement)
}

/// A statement read strictly, held to its type.
fn check_statement_type(statement: Statement) -> Result<Statement, Problem> {
    if statement.type_ != STATEMENT_TYPE {
        return Err(Problem::new(
            Reason::MalformedStatement,
            format!(
                "statement type is `{}`, expected `{STATEMENT_TYPE}`",
                statement.type_
            ),
        ));
    }
    Ok(statement)
}

/// Reads the signed statement and its manifest, and checks that the subjects are exactly the
/// manifest's artifacts.
fn read_statement(statement: Statement) -> Result<Manifest, Problem> {
    if statement.predicate_type != PREDICATE_TYPE {
        return Err(Problem::new(
            Reason::WrongPredicateType,
            format!(
                "predicate type is `{}`, expected `{PREDICATE_TYPE}`",
                statement.predicate_type
            ),
        ));
    }
    let manifest = Manifest::from_value(statement.predicate).map_err(|e| {
        let reason = match &e {
            crate::manifest::ManifestError::UnsafeTree {
                source: TreeError::SymlinkEscapes { .. },
                ..
            } => Reason::UnsafeSymlink,
            _ => Reason::MalformedManifest,
        };
        Problem::new(reason, crate::error_chain(&e))
    })?;
    let mut signed = BTreeSet::new();
    for s in &statement.subject {
        let digests = s.digests().map_err(|e| {
            Problem::new(
                Reason::SubjectMismatch,
                format!("subject `{}` has an invalid digest: {e}", s.name),
            )
        })?;
        if digests.is_empty() {
            return Err(Problem::new(
                Reason::SubjectMismatch,
                format!("subject `{}` has no sha256 or sha512 digest", s.name),
            ));
        }
        for d in digests {
            signed.insert((s.name.clone(), d));
        }
    }
    let pinned: BTreeSet<(String, Digest)> = manifest.subjects().into_iter().collect();
    if signed != pinned {
        let missing: Vec<String> = pinned
            .difference(&signed)
            .map(|(n, d)| format!("{n} {d}"))
            .collect();
        let extra: Vec<String> = signed
            .difference(&pinned)
            .map(|(n, d)| format!("{n} {d}"))
            .collect();
        return Err(Problem::new(
            Reason::SubjectMismatch,
            format!(
                "statement subjects disagree with the manifest's artifacts (missing: [{}]; unexpected: [{}])",
                missing.join(", "),
                extra.join(", ")
            ),
        ));
    }
    Ok(manifest)
}

fn check_validity(m: &Manifest, now: DateTime<Utc>, problems: &mut Vec<Problem>) {
    if let Some(exp) = m.expires_at
        && now >= exp.0
    {
        problems.push(Problem::new(
            Reason::Expired,
            format!("manifest expired at {exp}"),
        ));
    }
    if m.issued_at.0 > now + CLOCK_SKEW {
        problems.push(Problem::new(
            Reason::NotYetValid,
            format!("manifest is issued at {}, in the future", m.issued_at),
        ));
    }
}

/// Reads a bundle file for [`verify`]: at most one byte more than the JSON size limit, so an
/// oversized bundle is a rejection (`malformed-bundle`), not an I/O error or a memory blow-up.
pub fn read_bundle_file(path: &Path) -> Result<Vec<u8>, crate::fsutil::ReadError> {
    let file = std::fs::File::open(path).map_err(|source| crate::fsutil::ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_bundle(file, path)
}

/// [`read_bundle_file`] from a file the caller opened (`path` names it in errors): with the
/// same bound, for callers that open it their own way (through a directory descriptor, without
/// following symbolic links).
pub fn read_bundle(file: std::fs::File, path: &Path) -> Result<Vec<u8>, crate::fsutil::ReadError> {
    let limit = crate::json::MAX_DOCUMENT_BYTES as u64;
    let said = file.metadata().map_or(0, |m| m.len());
    crate::fsutil::read_within(file, said, limit).map_err(|source| crate::fsutil::ReadError::Io {
        path: path.to_path_buf(),
        source,
    })
}
