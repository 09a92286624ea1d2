//! Rekor transparency log entries in a bundle: the signed entry timestamp (v1), the Merkle
//! inclusion proof with its checkpoint (v1 and v2), and whether the logged body describes the
//! bundle's own signature, signer and content.

use crate::crypto::Sha256;
use serde_json::Value;

use super::bundle::{BundleVersion, TransparencyLogEntry};
use super::checkpoint::Checkpoint;
use super::error::{
    CheckpointProblem, EntryMismatch, InclusionProofProblem, SetProblem, SigstoreError,
    UntrustedLogProblem,
};
use super::keys::PublicKey;
use super::merkle;
use super::serde_pb::{decode_b64, encode_b64};
use super::trust::{LogInstance, TrustedRoot};

/// Who the bundle says signed: a certificate (DER) or a managed key.
#[derive(Debug, Clone, Copy)]
pub enum SignerRef<'a> {
    Certificate(&'a [u8]),
    Key(&'a PublicKey),
}

/// What the bundle signed, as far as a log body can confirm it.
#[derive(Debug, Clone, Copy)]
pub enum ContentRef<'a> {
    /// A message signature over an artifact with this SHA-256 digest.
    Message {
        digest: &'a [u8; 32],
        signature: &'a [u8],
    },
    /// A DSSE envelope with one signature.
    Dsse {
        payload_type: &'a str,
        payload: &'a [u8],
        signature: &'a [u8],
    },
}

/// The outcome of verifying one entry.
#[derive(Debug, Clone)]
pub struct VerifiedEntry {
    pub log_index: i64,
    pub log_url: String,
    /// The integrated time, present only when a signed entry timestamp vouched for it.
    pub integrated_time: Option<i64>,
    /// True for Rekor v2 entries (no integrated time; a TSA must supply the time).
    pub v2: bool,
}

fn mismatch(problem: EntryMismatch) -> SigstoreError {
    SigstoreError::LogEntryMismatch { problem }
}

/// The one signature a `kind` entry lists: a body with another count is not our envelope's.
fn only_signature<'a>(list: &'a Value, kind: &'static str) -> Result<&'a Value, SigstoreError> {
    let sigs = list
        .as_array()
        .ok_or_else(|| mismatch(EntryMismatch::SignaturesNotAList { kind }))?;
    match sigs.as_slice() {
        [only] => Ok(only),
        _ => Err(mismatch(EntryMismatch::SignatureCount {
            kind,
            count: sigs.len(),
        })),
    }
}

fn is_v2(entry: &TransparencyLogEntry) -> bool {
    entry.kind_version.version == "0.0.2"
        && matches!(entry.kind_version.kind.as_str(), "hashedrekord" | "dsse")
}

/// Verifies one log entry: trusted log, SET (v1), inclusion proof and checkpoint, body match.
/// `tsa_times` are the verified RFC 3161 times; the log key's validity window is judged at them
/// unless a signed entry timestamp vouches for the entry's integratedTime (spec:
/// sigstore-verification.md, "Times").
pub fn verify_entry(
    entry: &TransparencyLogEntry,
    version: BundleVersion,
    root: &TrustedRoot,
    signer: SignerRef<'_>,
    content: ContentRef<'_>,
    tsa_times: &[i64],
) -> Result<VerifiedEntry, SigstoreError> {
    let v2 = is_v2(entry);
    let logs: Vec<&LogInstance> = root
        .tlogs_by_id(&entry.log_id.key_id)
        .filter(|l| l.key.is_some())
        .collect();
    if logs.is_empty() {
        return Err(SigstoreError::UntrustedLog {
            problem: UntrustedLogProblem::NotInTrustedRoot {
                log_id: entry.log_id.key_id.clone(),
            },
        });
    }
    match (v2, &entry.inclusion_promise) {
        (true, Some(_)) => {
            return Err(SigstoreError::BadSet {
                problem: SetProblem::OnRekorV2Entry,
            });
        }
        (false, None) if version == BundleVersion::V0_1 => {
            return Err(SigstoreError::BadSet {
                problem: SetProblem::MissingInV01Bundle,
            });
        }
        _ => {}
    }
    // The times at which the log's key must have been valid, each vouched for by a signature:
    // a v1 integratedTime by the SET (verified below with the key chosen here, so a time that
    // was edited fails there), otherwise the RFC 3161 timestamps. integratedTime without a SET
    // is an unsigned number anyone can change, and a checkpoint signs no time at all.
    let (times, source): (Vec<i64>, &'static str) = match (v2, &entry.inclusion_promise) {
        (false, Some(_)) => (vec![entry.integrated_time], "signed entry timestamp"),
        _ => (tsa_times.to_vec(), "RFC 3161 timestamps"),
    };
    if times.is_empty() {
        return Err(SigstoreError::NoSignedTime {
            log_id: entry.log_id.key_id.clone(),
            log_index: entry.log_index,
            rekor_v2: v2,
        });
    }
    let log = logs
        .iter()
        .copied()
        .find(|l| times.iter().all(|t| l.valid_for.contains(*t)))
        .ok_or_else(|| SigstoreError::UntrustedLog {
            problem: UntrustedLogProblem::NotTrustedAt {
                log_id: entry.log_id.key_id.clone(),
                times: times.clone(),
                time_source: source,
            },
        })?;
    let key = log
        .key
        .as_ref()
        .ok_or_else(|| SigstoreError::UntrustedLog {
            problem: UntrustedLogProblem::KeyUnsupported {
                log_id: entry.log_id.key_id.clone(),
            },
        })?;

    // The SET: v1 only (refused on v2 above); without one, integratedTime stays unverified.
    let mut integrated_time = None;
    if let (false, Some(promise)) = (v2, &entry.inclusion_promise) {
        verify_set(entry, key, &promise.signed_entry_timestamp)?;
        integrated_time = Some(entry.integrated_time);
    }

    match &entry.inclusion_proof {
        Some(proof) => {
            let leaf = merkle::leaf_hash(&entry.canonicalized_body);
            let (Ok(index), Ok(size)) = (
                u64::try_from(proof.log_index),
                u64::try_from(proof.tree_size),
            ) else {
                return Err(SigstoreError::BadInclusionProof {
                    problem: InclusionProofProblem::Negative {
                        log_index: proof.log_index,
                        tree_size: proof.tree_size,
                    },
                });
            };
            merkle::verify_inclusion(index, size, &leaf, &proof.hashes, &proof.root_hash)?;
            match &proof.checkpoint {
                Some(cp) => {
                    let cp = Checkpoint::parse(&cp.envelope)?;
                    let mut hint = [0u8; 4];
                    hint.copy_from_slice(log.log_id.get(..4).unwrap_or(&[0; 4]));
                    cp.verify(hint, key)?;
                    if cp.size != size || cp.root_hash.as_slice() != proof.root_hash.as_slice() {
                        return Err(SigstoreError::BadCheckpoint {
                            problem: CheckpointProblem::ProofMismatch {
                                checkpoint_size: cp.size,
                                checkpoint_root: cp.root_hash,
                                proof_size: size,
                                proof_root: proof.root_hash.clone(),
                            },
                        });
                    }
                }
                None if version == BundleVersion::V0_1 && !v2 => {}
                None => {
                    return Err(SigstoreError::BadCheckpoint {
                        problem: CheckpointProblem::Missing,
                    });
                }
            }
        }
        None if version == BundleVersion::V0_1 && !v2 => {}
        None => {
            return Err(SigstoreError::BadInclusionProof {
                problem: InclusionProofProblem::Missing,
            });
        }
    }

    check_body(entry, signer, content)?;
    Ok(VerifiedEntry {
        log_index: entry.log_index,
        log_url: log.base_url.clone(),
        integrated_time,
        v2,
    })
}

/// Rekor v1's signed entry timestamp: a signature over the canonical JSON of
/// `{body, integratedTime, logID, logIndex}` (keys sorted, no spaces).
fn verify_set(
    entry: &TransparencyLogEntry,
    key: &PublicKey,
    set: &[u8],
) -> Result<(), SigstoreError> {
    let payload = format!(
        r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
        encode_b64(&entry.canonicalized_body),
        entry.integrated_time,
        hex::encode(&entry.log_id.key_id),
        entry.log_index
    );
    key.verify(payload.as_bytes(), set)
        .map_err(|_| SigstoreError::BadSet {
            problem: SetProblem::DoesNotVerify {
                log_index: entry.log_index,
            },
        })
}

fn get<'v>(v: &'v Value, path: &[&str]) -> Result<&'v Value, SigstoreError> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p).ok_or_else(|| {
            mismatch(EntryMismatch::MissingField {
                field: path.join("."),
            })
        })?;
    }
    Ok(cur)
}

fn get_str<'v>(v: &'v Value, path: &[&str]) -> Result<&'v str, SigstoreError> {
    get(v, path)?.as_str().ok_or_else(|| {
        mismatch(EntryMismatch::NotAString {
            field: path.join("."),
        })
    })
}

fn get_b64(v: &Value, path: &[&str]) -> Result<Vec<u8>, SigstoreError> {
    decode_b64(get_str(v, path)?).map_err(|_| {
        mismatch(EntryMismatch::NotBase64 {
            field: path.join("."),
        })
    })
}

/// Compares a PEM (certificate or public key) from a v1 body with the bundle's signer.
fn check_pem_signer(pem: &[u8], signer: SignerRef<'_>) -> Result<(), SigstoreError> {
    let (label, der) = super::keys::pem_decode(pem)
        .map_err(|error| mismatch(EntryMismatch::VerifierNotPem { error }))?;
    match (label.as_str(), signer) {
        ("CERTIFICATE", SignerRef::Certificate(c)) if der == c => Ok(()),
        ("PUBLIC KEY", SignerRef::Key(k))
            if PublicKey::from_spki_der(&der).ok().as_ref() == Some(k) =>
        {
            Ok(())
        }
        _ => Err(mismatch(EntryMismatch::DifferentSigner)),
    }
}

/// Compares a v2 body's verifier (`x509Certificate` or `publicKey` raw bytes) with the signer.
fn check_v2_verifier(verifier: &Value, signer: SignerRef<'_>) -> Result<(), SigstoreError> {
    if let Some(c) = verifier.get("x509Certificate") {
        let der = get_b64(c, &["rawBytes"])?;
        if matches!(signer, SignerRef::Certificate(s) if s == der) {
            return Ok(());
        }
    } else if let Some(k) = verifier.get("publicKey") {
        let der = get_b64(k, &["rawBytes"])?;
        if matches!(signer, SignerRef::Key(s) if PublicKey::from_spki_der(&der).ok().as_ref() == Some(s))
        {
            return Ok(());
        }
    }
    Err(mismatch(EntryMismatch::DifferentSigner))
}

fn check_sha256_hex(v: &Value, path: &[&str], want: &[u8]) -> Result<(), SigstoreError> {
    let alg = get_str(v, &[path, &["algorithm"]].concat())?;
    let value = get_str(v, &[path, &["value"]].concat())?;
    if alg != "sha256" || !value.eq_ignore_ascii_case(&hex::encode(want)) {
        return Err(mismatch(EntryMismatch::HexDigestMismatch {
            field: path.join("."),
            algorithm: alg.to_owned(),
            value: value.to_owned(),
            expected: want.to_vec(),
        }));
    }
    Ok(())
}

fn check_v2_digest(v: &Value, want: &[u8]) -> Result<(), SigstoreError> {
    let alg = get_str(v, &["algorithm"])?;
    let digest = get_b64(v, &["digest"])?;
    if alg != "SHA2_256" || digest != want {
        return Err(mismatch(EntryMismatch::DigestMismatch {
            algorithm: alg.to_owned(),
            actual: digest,
            expected: want.to_vec(),
        }));
    }
    Ok(())
}

fn check_sig(got: &[u8], want: &[u8]) -> Result<(), SigstoreError> {
    if got != want {
        return Err(mismatch(EntryMismatch::SignatureDiffers));
    }
    Ok(())
}

/// Checks that the logged body is about this bundle: same kind/version as declared, same
/// signature, same signer, same digest.
fn check_body(
    entry: &TransparencyLogEntry,
    signer: SignerRef<'_>,
    content: ContentRef<'_>,
) -> Result<(), SigstoreError> {
    let body: Value = crate::json::parse_value(&entry.canonicalized_body)
        .map_err(|error| mismatch(EntryMismatch::BodyNotJson { error }))?;
    let kind = get_str(&body, &["kind"])?;
    let api = get_str(&body, &["apiVersion"])?;
    if kind != entry.kind_version.kind || api != entry.kind_version.version {
        return Err(mismatch(EntryMismatch::KindMismatch {
            body_kind: kind.to_owned(),
            body_version: api.to_owned(),
            entry_kind: entry.kind_version.kind.clone(),
            entry_version: entry.kind_version.version.clone(),
        }));
    }
    match (kind, api, content) {
        ("hashedrekord", "0.0.1", ContentRef::Message { digest, signature }) => {
            check_sha256_hex(&body, &["spec", "data", "hash"], digest)?;
            check_sig(
                &get_b64(&body, &["spec", "signature", "content"])?,
                signature,
            )?;
            check_pem_signer(
                &get_b64(&body, &["spec", "signature", "publicKey", "content"])?,
                signer,
            )
        }
        ("hashedrekord", "0.0.2", _) => {
            let spec = get(&body, &["spec", "hashedRekordV002"])?;
            let (digest, signature) = match content {
                ContentRef::Message { digest, signature } => (digest.to_vec(), signature),
                ContentRef::Dsse {
                    payload_type,
                    payload,
                    signature,
                } => (
                    Sha256::digest(super::dsse::pae(payload_type, payload)).to_vec(),
                    signature,
                ),
            };
            check_v2_digest(get(spec, &["data"])?, &digest)?;
            check_sig(&get_b64(spec, &["signature", "content"])?, signature)?;
            check_v2_verifier(get(spec, &["signature", "verifier"])?, signer)
        }
        (
            "dsse",
            "0.0.1",
            ContentRef::Dsse {
                payload, signature, ..
            },
        ) => {
            check_sha256_hex(&body, &["spec", "payloadHash"], &Sha256::digest(payload))?;
            let only = only_signature(get(&body, &["spec", "signatures"])?, "dsse")?;
            check_sig(&get_b64(only, &["signature"])?, signature)?;
            check_pem_signer(&get_b64(only, &["verifier"])?, signer)
        }
        (
            "dsse",
            "0.0.2",
            ContentRef::Dsse {
                payload, signature, ..
            },
        ) => {
            let spec = get(&body, &["spec", "dsseV002"])?;
            check_v2_digest(get(spec, &["payloadHash"])?, &Sha256::digest(payload))?;
            let only = only_signature(get(spec, &["signatures"])?, "dsse")?;
            check_sig(&get_b64(only, &["content"])?, signature)?;
            check_v2_verifier(get(only, &["verifier"])?, signer)
        }
        (
            "intoto",
            "0.0.2",
            ContentRef::Dsse {
                payload_type,
                payload,
                signature,
            },
        ) => {
            let content = get(&body, &["spec", "content"])?;
            check_sha256_hex(content, &["payloadHash"], &Sha256::digest(payload))?;
            if get_str(content, &["envelope", "payloadType"])? != payload_type {
                return Err(mismatch(EntryMismatch::PayloadTypeDiffers));
            }
            // Rekor stores the envelope's base64 fields base64-encoded once more.
            if let Some(p) = content.get("envelope").and_then(|e| e.get("payload")) {
                let inner = p
                    .as_str()
                    .and_then(|s| decode_b64(s).ok())
                    .unwrap_or_default();
                if inner != encode_b64(payload).as_bytes() {
                    return Err(mismatch(EntryMismatch::PayloadDiffers));
                }
            }
            let only = only_signature(get(content, &["envelope", "signatures"])?, "intoto")?;
            // The signature is the envelope's base64 text, base64-encoded again by Rekor.
            let sig_b64 = get_b64(only, &["sig"])?;
            let sig = std::str::from_utf8(&sig_b64)
                .ok()
                .and_then(|s| decode_b64(s).ok());
            check_sig(&sig.unwrap_or_default(), signature)?;
            check_pem_signer(&get_b64(only, &["publicKey"])?, signer)
        }
        (kind, api, _) => Err(mismatch(EntryMismatch::KindDoesNotFit {
            kind: kind.to_owned(),
            version: api.to_owned(),
        })),
    }
}
