//! Verification, from bundle bytes to a report: the signature is checked first, and only then
//! is the statement read and a `Verified<Manifest>` made (nothing else can make one). Then the
//! statement's subjects, the manifest's validity window and, when asked, the pinned directory
//! trees on disk are checked. Every problem found is reported with a stable reason code.

use crate::digest::tree::{self, TreeError};
use crate::digest::{Algorithm, Digest};
use crate::keys::KeyId;
use crate::manifest::{Artifact, Manifest, PREDICATE_TYPE, ServerId};
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

/// A directory on disk to compare with a pinned directory artifact.
#[derive(Debug, Clone)]
pub struct DirCheck {
    /// The artifact's name; `None` means "the only directory artifact".
    pub artifact: Option<String>,
    pub path: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub bundle: &'a [u8],
    pub trust: &'a Trust,
    pub now: DateTime<Utc>,
    pub dirs: Vec<DirCheck>,
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
    /// Stable kebab-case reason code (spec/cli.md).
    pub reason: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Problem {
    fn new(reason: &'static str, message: impl Into<String>) -> Problem {
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
    pub problems: Vec<Problem>,
    #[serde(skip)]
    pub manifest: Option<Verified<Manifest>>,
}

impl Report {
    fn rejected(problem: Problem) -> Report {
        Report {
            verified: false,
            server: None,
            signer: None,
            issued_at: None,
            expires_at: None,
            artifacts: Vec::new(),
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
    #[error("`--dir {0}` names no directory artifact of this manifest (it pins: {1})")]
    NoSuchArtifact(String, String),
    #[error("the manifest pins {0} directory artifacts; name one with `--dir NAME=PATH`")]
    AmbiguousDir(usize),
}

/// Verifies a bundle. `Err` means the answer could not be decided; a `Report` with
/// `verified: false` means the bundle was rejected.
pub fn verify(req: &Request) -> Result<Report, VerifyError> {
    let (signer, payload) = match check_signature(req.bundle, req.trust) {
        Ok(ok) => ok,
        Err(problem) => return Ok(Report::rejected(problem)),
    };
    let manifest = match read_statement(&payload) {
        Ok(m) => Verified(m),
        Err(problem) => {
            let mut r = Report::rejected(problem);
            r.signer = Some(signer);
            return Ok(r);
        }
    };
    let mut problems = Vec::new();
    check_validity(&manifest, req.now, &mut problems);
    let mut artifacts: Vec<ArtifactReport> = manifest
        .artifacts
        .iter()
        .map(|a| ArtifactReport {
            name: a.name().to_owned(),
            digest: a.digest().clone(),
            checked: None,
        })
        .collect();
    for dir in &req.dirs {
        let (index, artifact) = find_dir_artifact(&manifest, dir.artifact.as_deref())?;
        check_dir(artifact, &dir.path, &mut problems)?;
        artifacts[index].checked = Some(dir.path.display().to_string());
    }
    Ok(Report {
        verified: problems.is_empty(),
        server: Some(manifest.server.clone()),
        signer: Some(signer),
        issued_at: Some(manifest.issued_at.to_string()),
        expires_at: manifest.expires_at.map(|t| t.to_string()),
        artifacts,
        problems,
        manifest: Some(manifest),
    })
}

/// Checks the bundle's signature against the trust given; returns the signer and the payload.
fn check_signature(
    bundle_bytes: &[u8],
    trust: &Trust,
) -> Result<(SignerSummary, Vec<u8>), Problem> {
    // Strict parse first: a bundle with duplicate keys means different things to different readers.
    crate::json::parse_value(bundle_bytes).map_err(|e| {
        Problem::new(
            "malformed-bundle",
            format!("bundle is not valid JSON: {}", crate::error_chain(&e)),
        )
    })?;
    let bundle = Bundle::from_json(bundle_bytes)
        .map_err(|e| Problem::new("malformed-bundle", crate::error_chain(&e)))?;
    let Content::DsseEnvelope(env) = &bundle.content else {
        return Err(Problem::new(
            "malformed-bundle",
            "bundle holds a plain message signature, not a DSSE envelope with an mcpsig statement",
        ));
    };
    if env.signatures.is_empty() {
        return Err(Problem::new(
            "unsigned",
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
                        "untrusted-signer",
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
        verify_bundle(&bundle, None, &opts).map_err(|e| match (&other_key_hint, &e) {
            (Some(msg), crate::sigstore::SigstoreError::BadSignature { .. }) => {
                Problem::new("untrusted-signer", msg.clone())
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
            "malformed-statement",
            format!(
                "payload type is `{}`, expected `{PAYLOAD_TYPE}`",
                env.payload_type
            ),
        ));
    }
    let payload = verified.payload.ok_or_else(|| {
        Problem::new(
            "malformed-bundle",
            "verified bundle carries no DSSE payload",
        )
    })?;
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
    Ok((signer, payload))
}

/// Reads the signed statement and its manifest, and checks that the subjects are exactly the
/// manifest's artifacts.
fn read_statement(payload: &[u8]) -> Result<Manifest, Problem> {
    let statement: Statement = crate::json::from_slice(payload).map_err(|e| {
        Problem::new(
            "malformed-statement",
            format!("signed statement is invalid: {}", crate::error_chain(&e)),
        )
    })?;
    if statement.type_ != STATEMENT_TYPE {
        return Err(Problem::new(
            "malformed-statement",
            format!(
                "statement type is `{}`, expected `{STATEMENT_TYPE}`",
                statement.type_
            ),
        ));
    }
    if statement.predicate_type != PREDICATE_TYPE {
        return Err(Problem::new(
            "wrong-predicate-type",
            format!(
                "predicate type is `{}`, expected `{PREDICATE_TYPE}`",
                statement.predicate_type
            ),
        ));
    }
    let manifest = Manifest::from_value(statement.predicate.clone()).map_err(|e| {
        let reason = match &e {
            crate::manifest::ManifestError::UnsafeTree {
                source: TreeError::SymlinkEscapes { .. },
                ..
            } => "unsafe-symlink",
            _ => "malformed-manifest",
        };
        Problem::new(reason, crate::error_chain(&e))
    })?;
    let mut signed = BTreeSet::new();
    for s in &statement.subject {
        let digests = s.digests().map_err(|e| {
            Problem::new(
                "subject-mismatch",
                format!("subject `{}` has an invalid digest: {e}", s.name),
            )
        })?;
        if digests.is_empty() {
            return Err(Problem::new(
                "subject-mismatch",
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
            "subject-mismatch",
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
            "expired",
            format!("manifest expired at {exp}"),
        ));
    }
    if m.issued_at.0 > now + CLOCK_SKEW {
        problems.push(Problem::new(
            "not-yet-valid",
            format!("manifest is issued at {}, in the future", m.issued_at),
        ));
    }
}

fn find_dir_artifact<'m>(
    m: &'m Manifest,
    name: Option<&str>,
) -> Result<(usize, &'m Artifact), VerifyError> {
    let dirs: Vec<(usize, &Artifact)> = m
        .artifacts
        .iter()
        .enumerate()
        .filter(|(_, a)| matches!(a, Artifact::Directory { .. }))
        .collect();
    match name {
        Some(n) => dirs
            .into_iter()
            .find(|(_, a)| a.name() == n)
            .ok_or_else(|| {
                let names: Vec<&str> = m.artifacts.iter().map(Artifact::name).collect();
                VerifyError::NoSuchArtifact(n.to_owned(), names.join(", "))
            }),
        None if dirs.len() == 1 => Ok(dirs[0]),
        None if dirs.is_empty() => Err(VerifyError::NoSuchArtifact(
            "(directory)".into(),
            m.artifacts
                .iter()
                .map(Artifact::name)
                .collect::<Vec<_>>()
                .join(", "),
        )),
        None => Err(VerifyError::AmbiguousDir(dirs.len())),
    }
}

/// Re-hashes a directory under the artifact's signed exclude rules and names every change.
fn check_dir(
    artifact: &Artifact,
    path: &Path,
    problems: &mut Vec<Problem>,
) -> Result<(), VerifyError> {
    let Artifact::Directory {
        exclude, entries, ..
    } = artifact
    else {
        return Ok(());
    };
    let alg = entries
        .iter()
        .find_map(|e| match &e.kind {
            tree::EntryKind::File { digest, .. } => Some(digest.algorithm()),
            tree::EntryKind::Symlink { .. } => None,
        })
        .unwrap_or(Algorithm::Sha256);
    let actual = match tree::hash_tree(path, exclude, alg) {
        Ok(a) => a,
        // What the directory holds is itself a reason to reject: the pinned tree cannot hold it.
        Err(
            e @ (TreeError::SymlinkEscapes { .. }
            | TreeError::SpecialFile { .. }
            | TreeError::NonUtf8Name { .. }
            | TreeError::UnsafePath(_)
            | TreeError::TooManyEntries),
        ) => {
            let reason = match e {
                TreeError::SymlinkEscapes { .. } => "unsafe-symlink",
                TreeError::SpecialFile { .. } => "special-file",
                TreeError::TooManyEntries => "too-many-entries",
                _ => "unsafe-path",
            };
            problems.push(Problem::new(reason, e.to_string()));
            return Ok(());
        }
        Err(source) => {
            return Err(VerifyError::Dir {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    for change in tree::compare(entries, &actual) {
        problems.push(Problem {
            reason: "artifact-mismatch",
            message: change.to_string(),
            path: Some(change.path().to_string()),
        });
    }
    Ok(())
}

/// Reads a bundle file for [`verify`]: at most one byte more than the JSON size limit, so an
/// oversized bundle is a rejection (`malformed-bundle`), not an I/O error or a memory blow-up.
pub fn read_bundle_file(path: &Path) -> Result<Vec<u8>, crate::fsutil::ReadError> {
    use std::io::Read;
    let io = |source| crate::fsutil::ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut data = Vec::new();
    file.take(crate::json::MAX_DOCUMENT_BYTES as u64 + 1)
        .read_to_end(&mut data)
        .map_err(io)?;
    Ok(data)
}
