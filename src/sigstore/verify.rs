//! Whole-bundle verification: signer (managed key, or Fulcio certificate with chain, SCT and
//! identity policy), the signature over the content and its binding to the artifact, RFC 3161
//! timestamps, transparency log entries, and the time rules tying them together.
//! spec/sigstore-verification.md lists the checks in the order they run here.

use std::collections::BTreeMap;

use crate::crypto::Sha256;
use serde_json::Value;

use super::bundle::{Bundle, Content, SignerMaterial};
use super::cert::{self, ParsedCert};
use super::error::{
    BundleProblem, ChainProblem, MissingEvidence, SignatureCheck, SignerProblem, SigstoreError,
};
use super::keys::PublicKey;
use super::policy::IdentityPolicy;
use super::rekor::{self, ContentRef, SignerRef, VerifiedEntry};
use super::trust::TrustedRoot;
use super::tsa;

/// The artifact a bundle is checked against: its bytes, or only its SHA-256 digest.
#[derive(Debug, Clone, Copy)]
pub enum ArtifactRef<'a> {
    Bytes(&'a [u8]),
    Sha256([u8; 32]),
}

impl ArtifactRef<'_> {
    fn sha256(&self) -> [u8; 32] {
        match self {
            Self::Bytes(b) => Sha256::digest(b),
            Self::Sha256(d) => *d,
        }
    }
}

/// Who the caller trusts to have signed.
#[derive(Debug, Clone)]
pub enum SignerPolicy {
    /// A managed key: the bundle must carry a public key hint, and this key must verify.
    Key(PublicKey),
    /// A keyless identity: a Fulcio certificate matching this policy.
    Identity(IdentityPolicy),
}

/// What verification needs besides the bundle.
#[derive(Debug, Clone)]
pub struct VerifyOptions<'a> {
    /// Needed for certificates, log entries and timestamps; may be `None` only for a
    /// managed-key bundle without any of these.
    pub trusted_root: Option<&'a TrustedRoot>,
    pub signer: SignerPolicy,
    /// When false (local-key bundles), a bundle without log entries is accepted; entries that
    /// are present are verified all the same.
    pub require_transparency: bool,
}

/// The signer a verified bundle was signed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerInfo {
    Key {
        key_id: [u8; 32],
    },
    Certificate {
        /// The subject alternative name that matched the policy.
        san: String,
        issuer: Option<String>,
        /// Fulcio extensions by last OID arc.
        extensions: BTreeMap<u32, String>,
        not_before: i64,
        not_after: i64,
        /// URI of the certificate authority the chain led to.
        authority: String,
    },
}

/// Where a verified time came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeSource {
    /// Integrated time of a Rekor v1 entry, vouched for by its signed entry timestamp.
    Tlog { log_url: String, log_index: i64 },
    /// An RFC 3161 timestamp from a trusted authority.
    Timestamp { authority: String },
}

/// A verified time (Unix seconds) and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTime {
    pub time: i64,
    pub source: TimeSource,
}

/// A bundle that passed every check. Only `verify_bundle` builds one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedBundle {
    pub payload_type: Option<String>,
    /// The DSSE payload, for DSSE bundles.
    pub payload: Option<Vec<u8>>,
    pub signer: SignerInfo,
    pub times: Vec<VerifiedTime>,
    pub tlog_entries: Vec<VerifiedEntry>,
}

fn malformed(problem: BundleProblem) -> SigstoreError {
    SigstoreError::malformed(problem)
}

fn need_root<'a>(
    opts: &VerifyOptions<'a>,
    needed_for: &'static str,
) -> Result<&'a TrustedRoot, SigstoreError> {
    opts.trusted_root.ok_or(SigstoreError::UntrustedSigner {
        problem: SignerProblem::NoTrustedRoot { needed_for },
    })
}

/// The verified facts about a certificate signer.
struct CertSigner {
    leaf: ParsedCert,
    key: PublicKey,
    info: SignerInfo,
}

fn verify_certificate_signer(
    material: &SignerMaterial,
    policy: &IdentityPolicy,
    root: &TrustedRoot,
) -> Result<CertSigner, SigstoreError> {
    let leaf_der = material
        .leaf_certificate()
        .ok_or(SigstoreError::UntrustedSigner {
            problem: SignerProblem::KeyWhereIdentityRequired,
        })?;
    if let SignerMaterial::X509CertificateChain(chain) = material {
        // A bundle must never bring its own trust anchor: the root comes from the trusted root.
        for der in chain {
            if ParsedCert::from_der(der)?.is_self_signed() {
                return Err(SigstoreError::BadCertificateChain {
                    problem: ChainProblem::SelfSignedInBundle,
                });
            }
        }
    }
    let leaf = ParsedCert::from_der(leaf_der)?;
    let chain = cert::verify_chain(&leaf, &root.certificate_authorities)?;
    cert::check_leaf_usage(&leaf)?;
    cert::verify_embedded_scts(&leaf, &chain.issuer, root)?;
    let sans = leaf.subject_alt_names()?;
    let extensions = leaf.fulcio_extensions()?;
    let issuer = extensions.get(&8).or_else(|| extensions.get(&1)).cloned();
    policy.check(&sans, issuer.as_deref(), &extensions)?;
    let san = sans
        .iter()
        .find(|s| policy.identity.matches(s))
        .cloned()
        .unwrap_or_default();
    let key = leaf.public_key()?;
    let info = SignerInfo::Certificate {
        san,
        issuer,
        extensions,
        not_before: leaf.not_before,
        not_after: leaf.not_after,
        authority: chain.authority.uri.clone(),
    };
    Ok(CertSigner { leaf, key, info })
}

/// Checks that an in-toto statement names the artifact's SHA-256 digest among its subjects.
fn check_statement_subject(payload: &[u8], digest: &[u8; 32]) -> Result<(), SigstoreError> {
    let statement: Value = crate::json::parse_value(payload)
        .map_err(|error| malformed(BundleProblem::StatementNotJson { error }))?;
    let subjects = statement
        .get("subject")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(BundleProblem::StatementNoSubjects))?;
    let want = hex::encode(digest);
    let found = subjects.iter().any(|s| {
        s.get("digest")
            .and_then(|d| d.get("sha256"))
            .and_then(Value::as_str)
            .is_some_and(|h| h.eq_ignore_ascii_case(&want))
    });
    if found {
        Ok(())
    } else {
        Err(SigstoreError::ArtifactMismatch {
            expected: "a subject of the in-toto statement".into(),
            actual: format!("sha256:{want}"),
        })
    }
}

/// Verifies a bundle. See the module documentation and spec/sigstore-verification.md.
pub fn verify_bundle(
    bundle: &Bundle,
    artifact: Option<ArtifactRef<'_>>,
    opts: &VerifyOptions<'_>,
) -> Result<VerifiedBundle, SigstoreError> {
    let vm = &bundle.verification_material;

    // 1. The signer.
    let (key, cert_signer) = match &opts.signer {
        SignerPolicy::Key(k) => {
            if !matches!(vm.signer, SignerMaterial::PublicKey { .. }) {
                return Err(SigstoreError::UntrustedSigner {
                    problem: SignerProblem::CertificateWhereKeyRequired,
                });
            }
            (k.clone(), None)
        }
        SignerPolicy::Identity(policy) => {
            let root = need_root(opts, "the bundle is signed with a certificate")?;
            let s = verify_certificate_signer(&vm.signer, policy, root)?;
            (s.key.clone(), Some(s))
        }
    };
    let signer_ref = match &cert_signer {
        Some(s) => SignerRef::Certificate(&s.leaf.der),
        None => SignerRef::Key(&key),
    };

    // 2. The signature over the content, and the content's binding to the artifact.
    let artifact_digest = artifact.map(|a| a.sha256());
    let (content_ref, signature, payload_type, payload, message_digest);
    match &bundle.content {
        Content::DsseEnvelope(env) => {
            let [sig] = env.signatures.as_slice() else {
                return Err(malformed(BundleProblem::DsseSignatureCount {
                    count: env.signatures.len(),
                }));
            };
            key.verify(&env.pae(), &sig.sig)
                .map_err(|_| SigstoreError::BadSignature {
                    what: SignatureCheck::DsseEnvelope,
                })?;
            if let Some(d) = &artifact_digest {
                if env.payload_type != super::dsse::IN_TOTO_PAYLOAD_TYPE {
                    return Err(SigstoreError::ArtifactMismatch {
                        expected: format!(
                            "an in-toto statement, got payload type {}",
                            env.payload_type
                        ),
                        actual: format!("sha256:{}", hex::encode(d)),
                    });
                }
                check_statement_subject(&env.payload, d)?;
            }
            signature = sig.sig.as_slice();
            payload_type = Some(env.payload_type.clone());
            payload = Some(env.payload.clone());
            content_ref = ContentRef::Dsse {
                payload_type: &env.payload_type,
                payload: &env.payload,
                signature,
            };
        }
        Content::MessageSignature(m) => {
            let hinted = match &m.message_digest {
                Some(h) => {
                    if h.algorithm != "SHA2_256" {
                        return Err(malformed(BundleProblem::DigestAlgorithm {
                            algorithm: h.algorithm.clone(),
                        }));
                    }
                    let d: [u8; 32] = h.digest.as_slice().try_into().map_err(|_| {
                        malformed(BundleProblem::DigestLength {
                            len: h.digest.len(),
                        })
                    })?;
                    Some(d)
                }
                None => None,
            };
            let digest = match (artifact_digest, hinted) {
                (Some(a), Some(h)) if a != h => {
                    return Err(SigstoreError::ArtifactMismatch {
                        expected: format!("sha256:{}", hex::encode(h)),
                        actual: format!("sha256:{}", hex::encode(a)),
                    });
                }
                (Some(a), _) => a,
                (None, Some(h)) => h,
                (None, None) => {
                    return Err(malformed(BundleProblem::NoArtifactOrDigest));
                }
            };
            let bad = |_| SigstoreError::BadSignature {
                what: SignatureCheck::Message,
            };
            match artifact {
                Some(ArtifactRef::Bytes(b)) => key.verify(b, &m.signature).map_err(bad)?,
                _ => key.verify_prehash(&digest, &m.signature).map_err(bad)?,
            }
            signature = m.signature.as_slice();
            payload_type = None;
            payload = None;
            message_digest = digest;
            content_ref = ContentRef::Message {
                digest: &message_digest,
                signature,
            };
        }
    }

    // 3. RFC 3161 timestamps over the signature: every one present must verify.
    let mut times = Vec::new();
    let mut tsa_times = Vec::new();
    if let Some(tvd) = &vm.timestamp_verification_data {
        for ts in &tvd.rfc3161_timestamps {
            let root = need_root(opts, "the bundle carries timestamps")?;
            let v = tsa::verify_timestamp(
                &ts.signed_timestamp,
                signature,
                &root.timestamp_authorities,
            )?;
            tsa_times.push(v.time);
            times.push(VerifiedTime {
                time: v.time,
                source: TimeSource::Timestamp {
                    authority: v.authority,
                },
            });
        }
    }

    // 4. Transparency log entries: every one present must verify and describe this bundle.
    let mut entries = Vec::new();
    for entry in &vm.tlog_entries {
        let root = need_root(opts, "the bundle carries transparency log entries")?;
        let v = rekor::verify_entry(
            entry,
            bundle.version(),
            root,
            signer_ref,
            content_ref,
            &tsa_times,
        )?;
        if let Some(t) = v.integrated_time {
            times.push(VerifiedTime {
                time: t,
                source: TimeSource::Tlog {
                    log_url: v.log_url.clone(),
                    log_index: v.log_index,
                },
            });
        }
        entries.push(v);
    }
    if opts.require_transparency && entries.is_empty() {
        return Err(SigstoreError::MissingTransparency {
            missing: MissingEvidence::NoLogEntry,
        });
    }

    // 5. Time: a certificate signer needs a verified time, and every verified time must fall
    //    within the certificate's validity.
    if let Some(s) = &cert_signer {
        if times.is_empty() {
            return Err(SigstoreError::MissingTransparency {
                missing: MissingEvidence::NoVerifiedTime,
            });
        }
        if let Some(t) = times.iter().find(|t| !s.leaf.valid_at(t.time)) {
            return Err(SigstoreError::Expired {
                at: t.time,
                from: t.source.clone(),
                not_before: s.leaf.not_before,
                not_after: s.leaf.not_after,
            });
        }
    }

    let signer = match cert_signer {
        Some(s) => s.info,
        None => SignerInfo::Key {
            key_id: key.key_id(),
        },
    };
    Ok(VerifiedBundle {
        payload_type,
        payload,
        signer,
        times,
        tlog_entries: entries,
    })
}
