//! The revocation list (spec/policy.md, "Revocation"): key ids, keyless identities and manifest
//! digests that no longer verify, with the list's own issue and expiry times. It travels as a
//! Sigstore bundle signed exactly like a manifest (a DSSE in-toto Statement, its own predicate
//! type), by the signers the policy's `[revocation]` section names. A list that cannot be read,
//! fetched, verified or is outside its validity window is an error the caller turns into
//! `revocation-stale`: it never fails open.

use super::TrustedSigner;
use crate::digest::Digest;
use crate::fsutil::{ReadError, read_limited};
use crate::manifest::Timestamp;
use crate::sigstore::bundle::Bundle;
use crate::sigstore::trust::TrustedRoot;
use crate::statement::{STATEMENT_TYPE, Statement, Subject};
use crate::verify::{CLOCK_SKEW, Problem, SignerSummary, Trust, verify_signed_statement};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The in-toto predicate type of a revocation list.
pub const PREDICATE_TYPE: &str = "https://mcpsig.dev/revocations/v1";

/// The one statement subject: the list itself, by the digest of its RFC 8785 form.
pub const SUBJECT_NAME: &str = "revocations";

/// Where the list is and who signs it (the policy's `[revocation]` section).
#[derive(Debug, Clone)]
pub struct RevocationSource {
    pub location: RevocationLocation,
    /// Never empty.
    pub signers: Vec<TrustedSigner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationLocation {
    /// A bundle file (relative paths in a policy are relative to the policy file).
    File(PathBuf),
    /// An `https://` URL (plain `http://` only on loopback), fetched without redirects.
    Url(String),
}

impl std::fmt::Display for RevocationLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RevocationLocation::File(p) => write!(f, "`{}`", p.display()),
            RevocationLocation::Url(u) => f.write_str(u),
        }
    }
}

/// Bounds on fetching the list.
#[derive(Debug, Clone)]
pub struct RevocationOptions {
    /// The whole download: connect, send, read.
    pub timeout: Duration,
    /// The largest bundle accepted, file or download.
    pub max_bytes: u64,
}

impl Default for RevocationOptions {
    fn default() -> RevocationOptions {
        RevocationOptions {
            timeout: Duration::from_secs(10),
            max_bytes: 4 * 1024 * 1024,
        }
    }
}

/// The signed list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RevocationList {
    /// Always 1.
    pub schema_version: u32,
    pub issued_at: Timestamp,
    /// Past this time the list is stale, and every verification under it is rejected.
    pub expires_at: Timestamp,
    /// Revoked keys, by key id (lowercase hex of the SHA-256 of the SPKI DER).
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub identities: Vec<RevokedIdentity>,
    /// Revoked manifests, by the digest a later release's `previous` names them by.
    #[serde(default)]
    pub manifests: Vec<Digest>,
}

/// A keyless identity: the certificate's OIDC issuer and subject alternative name, exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RevokedIdentity {
    pub issuer: String,
    pub identity: String,
}

/// Why a revocation list is not usable: the evaluation reports it as `revocation-stale`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    #[error("cannot read revocation list")]
    Read(#[source] ReadError),
    #[error("cannot fetch revocation list {url}")]
    Fetch {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("revocation list {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("revocation list {origin} is larger than {limit} bytes")]
    TooLarge { origin: String, limit: u64 },
    #[error("revocation list {origin} is not signed by a [revocation] signer: [{}] {}", problem.reason, problem.message)]
    Signature {
        origin: String,
        problem: Box<Problem>,
    },
    #[error(
        "revocation list {origin} carries predicate type `{found}`, expected `{PREDICATE_TYPE}`"
    )]
    PredicateType { origin: String, found: String },
    #[error(
        "revocation list {origin}: the statement's subject must be `{SUBJECT_NAME}` with the sha256 of the list's RFC 8785 form"
    )]
    Subject { origin: String },
    #[error("revocation list {origin} is malformed")]
    Malformed {
        origin: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("revocation list {origin}: {problem}")]
    Invalid {
        origin: String,
        problem: ListProblem,
    },
    #[error("revocation list {origin} expired at {expires_at}")]
    Expired {
        origin: String,
        expires_at: Timestamp,
    },
    #[error("revocation list {origin} is issued at {issued_at}, in the future")]
    NotYetValid {
        origin: String,
        issued_at: Timestamp,
    },
}

/// A list that parses but says something impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListProblem {
    #[error("schemaVersion must be 1, got {0}")]
    SchemaVersion(u32),
    #[error("expiresAt {expires_at} is not after issuedAt {issued_at}")]
    Window {
        issued_at: Timestamp,
        expires_at: Timestamp,
    },
    #[error("`{0}` is not a key id (64 lowercase hex digits)")]
    KeyId(String),
}

impl RevocationList {
    /// A list valid from `issued_at` to `expires_at`, revoking nothing yet.
    pub fn new(issued_at: Timestamp, expires_at: Timestamp) -> RevocationList {
        RevocationList {
            schema_version: 1,
            issued_at,
            expires_at,
            keys: Vec::new(),
            identities: Vec::new(),
            manifests: Vec::new(),
        }
    }

    /// The rules a list obeys whatever the time.
    pub fn check(&self) -> Result<(), ListProblem> {
        if self.schema_version != 1 {
            return Err(ListProblem::SchemaVersion(self.schema_version));
        }
        if self.expires_at <= self.issued_at {
            return Err(ListProblem::Window {
                issued_at: self.issued_at,
                expires_at: self.expires_at,
            });
        }
        if let Some(bad) = self.keys.iter().find(|k| {
            k.len() != 64
                || !k
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }) {
            return Err(ListProblem::KeyId(bad.escape_debug().to_string()));
        }
        Ok(())
    }

    /// Why the list revokes this signer or manifest, if it does.
    pub fn revokes(&self, signer: &SignerSummary, manifest: &Digest) -> Option<String> {
        match signer {
            SignerSummary::Key { key_id } if self.keys.contains(key_id) => {
                return Some(format!("signing key {key_id} is revoked"));
            }
            SignerSummary::Certificate {
                identity,
                issuer: Some(issuer),
                ..
            } if self
                .identities
                .iter()
                .any(|r| &r.identity == identity && &r.issuer == issuer) =>
            {
                return Some(format!(
                    "signing identity `{identity}` (issuer `{issuer}`) is revoked"
                ));
            }
            _ => {}
        }
        self.manifests
            .contains(manifest)
            .then(|| format!("manifest {manifest} is revoked"))
    }

    /// The RFC 8785 bytes of the list: what its statement's subject digest covers.
    fn canonical_bytes(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        crate::canonical::to_vec(&value).unwrap_or_default()
    }
}

/// Why a list could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignListError {
    #[error("revocation list is invalid: {0}")]
    Invalid(ListProblem),
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
}

/// Checks the list and signs its statement into a bundle, as manifests are signed.
pub fn sign_list(
    list: &RevocationList,
    signer: &dyn crate::sign::Signer,
) -> Result<Bundle, SignListError> {
    list.check().map_err(SignListError::Invalid)?;
    let statement = Statement {
        type_: STATEMENT_TYPE.to_owned(),
        subject: vec![Subject::new(
            SUBJECT_NAME,
            &Digest::sha256_of(&list.canonical_bytes()),
        )],
        predicate_type: PREDICATE_TYPE.to_owned(),
        predicate: serde_json::to_value(list).unwrap_or(serde_json::Value::Null),
    };
    Ok(signer.sign_dsse(
        crate::statement::PAYLOAD_TYPE,
        &statement.to_canonical_bytes(),
    )?)
}

/// Reads (or fetches) the list, verifies it with the source's signers and checks that it is
/// valid at `now`.
pub fn load(
    source: &RevocationSource,
    trusted_root: &TrustedRoot,
    now: DateTime<Utc>,
    opts: &RevocationOptions,
) -> Result<RevocationList, RevocationError> {
    let origin = source.location.to_string();
    let bytes = match &source.location {
        RevocationLocation::File(path) => {
            read_limited(path, opts.max_bytes).map_err(RevocationError::Read)?
        }
        RevocationLocation::Url(url) => fetch(url, opts)?,
    };
    let list = verify_list(&bytes, &source.signers, trusted_root, &origin)?;
    if now >= list.expires_at.0 {
        return Err(RevocationError::Expired {
            origin,
            expires_at: list.expires_at,
        });
    }
    if list.issued_at.0 > now + CLOCK_SKEW {
        return Err(RevocationError::NotYetValid {
            origin,
            issued_at: list.issued_at,
        });
    }
    Ok(list)
}

fn fetch(url: &str, opts: &RevocationOptions) -> Result<Vec<u8>, RevocationError> {
    // No redirects: the policy's URL was checked for https (or loopback), a redirect's is not.
    let agent = crate::http::agent(opts.timeout, crate::http::Redirects::Refuse);
    let mut resp = agent.get(url).call().map_err(|e| RevocationError::Fetch {
        url: url.to_owned(),
        source: Box::new(e),
    })?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(RevocationError::Status {
            url: url.to_owned(),
            status,
        });
    }
    match resp
        .body_mut()
        .with_config()
        .limit(opts.max_bytes)
        .read_to_vec()
    {
        Ok(body) => Ok(body),
        Err(ureq::Error::BodyExceedsLimit(_)) => Err(RevocationError::TooLarge {
            origin: url.to_owned(),
            limit: opts.max_bytes,
        }),
        Err(e) => Err(RevocationError::Fetch {
            url: url.to_owned(),
            source: Box::new(e),
        }),
    }
}

/// The first signer whose verification holds decides; with none, the first one's problem is
/// reported.
fn verify_list(
    bytes: &[u8],
    signers: &[TrustedSigner],
    trusted_root: &TrustedRoot,
    origin: &str,
) -> Result<RevocationList, RevocationError> {
    if bytes.len() > crate::json::MAX_DOCUMENT_BYTES {
        return Err(RevocationError::TooLarge {
            origin: origin.to_owned(),
            limit: crate::json::MAX_DOCUMENT_BYTES as u64,
        });
    }
    let mut first_problem = None;
    let mut statement = None;
    for signer in signers {
        let trust = signer.trust(trusted_root);
        match verify_signed_statement(bytes, &trust) {
            Ok((_, s)) => {
                statement = Some(s);
                break;
            }
            Err(p) => {
                first_problem.get_or_insert(p);
            }
        }
    }
    let Some(statement) = statement else {
        return Err(RevocationError::Signature {
            origin: origin.to_owned(),
            problem: Box::new(first_problem.unwrap_or_else(|| {
                Problem::new(
                    crate::reason::Reason::UntrustedSigner,
                    "no signer is trusted",
                )
            })),
        });
    };
    if statement.predicate_type != PREDICATE_TYPE {
        return Err(RevocationError::PredicateType {
            origin: origin.to_owned(),
            found: statement.predicate_type,
        });
    }
    let signed_digest =
        Digest::sha256_of(&crate::canonical::to_vec(&statement.predicate).unwrap_or_default());
    if statement.subject != [Subject::new(SUBJECT_NAME, &signed_digest)] {
        return Err(RevocationError::Subject {
            origin: origin.to_owned(),
        });
    }
    let list: RevocationList = serde_json::from_value(statement.predicate).map_err(|source| {
        RevocationError::Malformed {
            origin: origin.to_owned(),
            source,
        }
    })?;
    list.check().map_err(|problem| RevocationError::Invalid {
        origin: origin.to_owned(),
        problem,
    })?;
    Ok(list)
}

impl TrustedSigner {
    /// What `verify` checks a bundle against for this signer.
    pub fn trust(&self, trusted_root: &TrustedRoot) -> Trust {
        match self {
            TrustedSigner::Key(key) => Trust::Key {
                key: key.clone(),
                trusted_root: trusted_root.clone(),
            },
            TrustedSigner::Identity(policy) => Trust::Identity {
                trusted_root: trusted_root.clone(),
                policy: policy.clone(),
            },
        }
    }
}

/// `mcp-sign revoke`: what a new list revokes and how long it is valid, as given.
#[derive(Debug, Clone)]
pub struct RevokeRequest {
    pub issued_at: Timestamp,
    pub expires_in_days: u32,
    /// Key ids (64 hex digits) or public key files.
    pub keys: Vec<String>,
    /// `ISSUER=IDENTITY`, split at the first `=`.
    pub identities: Vec<String>,
    /// Manifest digests (`sha256:<hex>`) or manifest files.
    pub manifests: Vec<String>,
}

/// Why `mcp-sign revoke` cannot build its list.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevokeError {
    #[error("--expires-in-days must be between 1 and 3650, got {0}")]
    Expiry(u32),
    #[error("cannot load public key `{}` (give a key id, 64 hex digits, or a public key file)", path.display())]
    Key {
        path: PathBuf,
        #[source]
        source: Box<crate::keys::KeyError>,
    },
    #[error("--revoke-identity takes ISSUER=IDENTITY, got `{0}`")]
    Identity(String),
    #[error("cannot read manifest `{}` (give a manifest digest `sha256:<hex>` or a manifest file)", path.display())]
    ManifestFile {
        path: PathBuf,
        #[source]
        source: ReadError,
    },
    #[error("`{}` is not a valid manifest", path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: Box<crate::manifest::ManifestError>,
    },
    #[error("the list is invalid: {0}")]
    Invalid(ListProblem),
}

impl RevokeRequest {
    /// The list: valid from `issued_at` for `expires_in_days`.
    pub fn list(&self) -> Result<RevocationList, RevokeError> {
        if !(1..=3650).contains(&self.expires_in_days) {
            return Err(RevokeError::Expiry(self.expires_in_days));
        }
        let expires = self.issued_at.0 + chrono::Duration::days(i64::from(self.expires_in_days));
        let mut list = RevocationList::new(self.issued_at, Timestamp(expires));
        for k in &self.keys {
            let is_id = k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit());
            list.keys.push(if is_id {
                k.to_ascii_lowercase()
            } else {
                let path = PathBuf::from(k);
                let key =
                    crate::keys::public_key_from_file(&path).map_err(|e| RevokeError::Key {
                        path,
                        source: Box::new(e),
                    })?;
                crate::keys::KeyId::of(&key).hex()
            });
        }
        for i in &self.identities {
            match i.split_once('=') {
                Some((issuer, identity)) if !issuer.is_empty() && !identity.is_empty() => {
                    list.identities.push(RevokedIdentity {
                        issuer: issuer.to_owned(),
                        identity: identity.to_owned(),
                    });
                }
                _ => return Err(RevokeError::Identity(i.escape_debug().to_string())),
            }
        }
        for m in &self.manifests {
            let digest = match m.parse::<Digest>() {
                Ok(d) => d,
                Err(_) => {
                    let path = PathBuf::from(m);
                    let bytes = read_limited(&path, crate::json::MAX_DOCUMENT_BYTES as u64)
                        .map_err(|source| RevokeError::ManifestFile {
                            path: path.clone(),
                            source,
                        })?;
                    crate::manifest::Manifest::from_json(&bytes)
                        .map_err(|e| RevokeError::Manifest {
                            path,
                            source: Box::new(e),
                        })?
                        .digest()
                }
            };
            list.manifests.push(digest);
        }
        list.check().map_err(RevokeError::Invalid)?;
        Ok(list)
    }
}
