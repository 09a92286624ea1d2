//! The Sigstore bundle (protobuf-specs `dev.sigstore.bundle.v1.Bundle`, versions 0.1 to 0.3) in
//! its protobuf-JSON form: camelCase names, `bytes` as base64, `int64` as strings. Writing always
//! emits zero values (`"logIndex": "0"`, `"hashes": []`), since some clients reject bundles that
//! omit them. Parsing checks the structure only; `verify` decides whether to trust it.

use serde::{Deserialize, Serialize};

use super::dsse::Envelope;
use super::error::{BundleProblem, SigstoreError};
use super::serde_pb::{b64, b64_vec, i64_str};

pub const MEDIA_TYPE_V0_1: &str = "application/vnd.dev.sigstore.bundle+json;version=0.1";
pub const MEDIA_TYPE_V0_2: &str = "application/vnd.dev.sigstore.bundle+json;version=0.2";
pub const MEDIA_TYPE_V0_3: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";
/// The v0.3 media type in its newer spelling, which new bundles use.
pub const MEDIA_TYPE_V0_3_NEW: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Bundle format versions, as told by the media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BundleVersion {
    V0_1,
    V0_2,
    V0_3,
}

/// A parsed Sigstore bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawBundle", into = "RawBundle")]
pub struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    pub content: Content,
}

/// What was signed: a DSSE envelope or a plain message signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    DsseEnvelope(Envelope),
    MessageSignature(MessageSignature),
}

/// Signature over a message (artifact) whose digest may be carried along.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSignature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_digest: Option<HashOutput>,
    #[serde(with = "b64")]
    pub signature: Vec<u8>,
}

/// A digest with its algorithm name as protobuf-specs spells it (`SHA2_256`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HashOutput {
    pub algorithm: String,
    #[serde(with = "b64")]
    pub digest: Vec<u8>,
}

/// Everything a verifier needs besides the content: signer material, log entries, timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationMaterial {
    pub signer: SignerMaterial,
    pub tlog_entries: Vec<TransparencyLogEntry>,
    pub timestamp_verification_data: Option<TimestampVerificationData>,
}

/// Who signed: a single leaf certificate (v0.3), a chain (v0.1/v0.2), or a key hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerMaterial {
    /// DER of the leaf certificate.
    Certificate(Vec<u8>),
    /// DER certificates, leaf first.
    X509CertificateChain(Vec<Vec<u8>>),
    /// A hint naming the managed public key; the key itself comes from the caller.
    PublicKey { hint: String },
}

impl SignerMaterial {
    /// The leaf certificate's DER, if the signer is a certificate.
    pub fn leaf_certificate(&self) -> Option<&[u8]> {
        match self {
            Self::Certificate(c) => Some(c),
            Self::X509CertificateChain(chain) => chain.first().map(Vec::as_slice),
            Self::PublicKey { .. } => None,
        }
    }
}

/// RFC 3161 timestamps over the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimestampVerificationData {
    #[serde(default)]
    pub rfc3161_timestamps: Vec<Rfc3161Timestamp>,
}

/// One DER-encoded RFC 3161 `TimeStampToken` (a CMS SignedData).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rfc3161Timestamp {
    #[serde(with = "b64")]
    pub signed_timestamp: Vec<u8>,
}

/// A Rekor log entry as carried in a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransparencyLogEntry {
    #[serde(with = "i64_str", default)]
    pub log_index: i64,
    pub log_id: LogId,
    pub kind_version: KindVersion,
    #[serde(with = "i64_str", default)]
    pub integrated_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_promise: Option<InclusionPromise>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProof>,
    #[serde(with = "b64", default)]
    pub canonicalized_body: Vec<u8>,
}

/// A log's id: SHA-256 of its public key's SPKI DER (Rekor v1), or the checkpoint key id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogId {
    #[serde(with = "b64")]
    pub key_id: Vec<u8>,
}

/// The Rekor entry type and its schema version (`hashedrekord` 0.0.1, `dsse` 0.0.2, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindVersion {
    pub kind: String,
    pub version: String,
}

/// Rekor v1's signed entry timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionPromise {
    #[serde(with = "b64")]
    pub signed_entry_timestamp: Vec<u8>,
}

/// A Merkle inclusion proof with the checkpoint that signs its root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    #[serde(with = "i64_str", default)]
    pub log_index: i64,
    #[serde(with = "b64")]
    pub root_hash: Vec<u8>,
    #[serde(with = "i64_str", default)]
    pub tree_size: i64,
    #[serde(with = "b64_vec", default)]
    pub hashes: Vec<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

/// The signed note text of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub envelope: String,
}

impl Bundle {
    /// Parses a bundle from its JSON form, once: strictly (duplicate keys, trailing data and
    /// oversized input are refused before anything else), then into the model.
    pub fn from_json(bytes: &[u8]) -> Result<Self, SigstoreError> {
        crate::json::check(bytes)
            .map_err(|error| SigstoreError::malformed(BundleProblem::Json { error }))?;
        // Shape first, then structure outside serde, so a structural error keeps its type.
        let raw: RawBundle = serde_json::from_slice(bytes)
            .map_err(|error| SigstoreError::malformed(BundleProblem::Shape { error }))?;
        Self::try_from(raw)
    }

    /// Writes the bundle as pretty JSON, zero values included.
    pub fn to_json_pretty(&self) -> Vec<u8> {
        // Serializing plain structs and strings into a Vec cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// The format version named by the media type.
    pub fn version(&self) -> BundleVersion {
        // `from_json` rejects unknown media types, so only a hand-built bundle reaches `_`.
        match self.media_type.as_str() {
            MEDIA_TYPE_V0_1 => BundleVersion::V0_1,
            MEDIA_TYPE_V0_2 => BundleVersion::V0_2,
            _ => BundleVersion::V0_3,
        }
    }
}

fn parse_media_type(m: &str) -> Option<BundleVersion> {
    match m {
        MEDIA_TYPE_V0_1 => Some(BundleVersion::V0_1),
        MEDIA_TYPE_V0_2 => Some(BundleVersion::V0_2),
        MEDIA_TYPE_V0_3 | MEDIA_TYPE_V0_3_NEW => Some(BundleVersion::V0_3),
        _ => None,
    }
}

// ---- wire form -------------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    media_type: String,
    verification_material: RawVerificationMaterial,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dsse_envelope: Option<Envelope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_signature: Option<MessageSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawVerificationMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_key: Option<RawPublicKeyIdentifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x509_certificate_chain: Option<RawCertChain>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate: Option<RawCert>,
    #[serde(default)]
    tlog_entries: Vec<TransparencyLogEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timestamp_verification_data: Option<TimestampVerificationData>,
}

#[derive(Serialize, Deserialize)]
struct RawPublicKeyIdentifier {
    #[serde(default)]
    hint: String,
}

#[derive(Serialize, Deserialize)]
struct RawCertChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    #[serde(with = "b64")]
    raw_bytes: Vec<u8>,
}

impl TryFrom<RawBundle> for Bundle {
    type Error = SigstoreError;

    fn try_from(raw: RawBundle) -> Result<Self, Self::Error> {
        let version = parse_media_type(&raw.media_type).ok_or_else(|| {
            SigstoreError::UnsupportedMediaType {
                media_type: raw.media_type.clone(),
            }
        })?;
        let content = match (raw.dsse_envelope, raw.message_signature) {
            (Some(e), None) => Content::DsseEnvelope(e),
            (None, Some(m)) => Content::MessageSignature(m),
            (Some(_), Some(_)) => {
                return Err(SigstoreError::malformed(BundleProblem::BothContents));
            }
            (None, None) => {
                return Err(SigstoreError::malformed(BundleProblem::NoContent));
            }
        };
        let vm = raw.verification_material;
        let signer = match (vm.public_key, vm.x509_certificate_chain, vm.certificate) {
            (Some(k), None, None) => SignerMaterial::PublicKey { hint: k.hint },
            (None, Some(chain), None) => {
                if chain.certificates.is_empty() {
                    return Err(SigstoreError::malformed(BundleProblem::EmptyChain));
                }
                SignerMaterial::X509CertificateChain(
                    chain
                        .certificates
                        .into_iter()
                        .map(|c| c.raw_bytes)
                        .collect(),
                )
            }
            (None, None, Some(c)) => {
                if version < BundleVersion::V0_3 {
                    return Err(SigstoreError::malformed(
                        BundleProblem::SingleCertificateBeforeV03,
                    ));
                }
                SignerMaterial::Certificate(c.raw_bytes)
            }
            (None, None, None) => {
                return Err(SigstoreError::malformed(BundleProblem::NoSigner));
            }
            _ => {
                return Err(SigstoreError::malformed(BundleProblem::SeveralSigners));
            }
        };
        for e in &vm.tlog_entries {
            if e.log_index < 0 || e.integrated_time < 0 {
                return Err(SigstoreError::malformed(BundleProblem::NegativeEntry {
                    log_index: e.log_index,
                    integrated_time: e.integrated_time,
                }));
            }
            if let Some(p) = &e.inclusion_proof
                && (p.log_index < 0 || p.tree_size < 0)
            {
                return Err(SigstoreError::malformed(BundleProblem::NegativeProof {
                    log_index: p.log_index,
                    tree_size: p.tree_size,
                }));
            }
        }
        Ok(Bundle {
            media_type: raw.media_type,
            verification_material: VerificationMaterial {
                signer,
                tlog_entries: vm.tlog_entries,
                timestamp_verification_data: vm.timestamp_verification_data,
            },
            content,
        })
    }
}

impl From<Bundle> for RawBundle {
    fn from(b: Bundle) -> Self {
        let (dsse_envelope, message_signature) = match b.content {
            Content::DsseEnvelope(e) => (Some(e), None),
            Content::MessageSignature(m) => (None, Some(m)),
        };
        let vm = b.verification_material;
        let (public_key, x509_certificate_chain, certificate) = match vm.signer {
            SignerMaterial::PublicKey { hint } => {
                (Some(RawPublicKeyIdentifier { hint }), None, None)
            }
            SignerMaterial::X509CertificateChain(chain) => (
                None,
                Some(RawCertChain {
                    certificates: chain
                        .into_iter()
                        .map(|raw_bytes| RawCert { raw_bytes })
                        .collect(),
                }),
                None,
            ),
            SignerMaterial::Certificate(raw_bytes) => (None, None, Some(RawCert { raw_bytes })),
        };
        RawBundle {
            media_type: b.media_type,
            verification_material: RawVerificationMaterial {
                public_key,
                x509_certificate_chain,
                certificate,
                tlog_entries: vm.tlog_entries,
                timestamp_verification_data: vm.timestamp_verification_data,
            },
            dsse_envelope,
            message_signature,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_BUNDLE: &str = r#"{
      "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
      "verificationMaterial": {
        "publicKey": {"hint": "abc"},
        "tlogEntries": [{
          "logIndex": "0",
          "logId": {"keyId": "AAAA"},
          "kindVersion": {"kind": "dsse", "version": "0.0.1"},
          "integratedTime": 12,
          "inclusionProof": {"logIndex": "0", "rootHash": "AAAA", "treeSize": "1",
                             "checkpoint": {"envelope": "x\n1\nAAAA\n\n"}},
          "canonicalizedBody": "e30="
        }]
      },
      "dsseEnvelope": {"payload": "e30=", "payloadType": "application/vnd.in-toto+json",
                       "signatures": [{"sig": "AQID"}]}
    }"#;

    #[test]
    fn parses_and_writes_zero_values() -> Result<(), SigstoreError> {
        let b = Bundle::from_json(KEY_BUNDLE.as_bytes())?;
        assert_eq!(b.version(), BundleVersion::V0_3);
        assert_eq!(b.verification_material.tlog_entries[0].integrated_time, 12);
        let out = String::from_utf8_lossy(&b.to_json_pretty()).into_owned();
        assert!(out.contains(r#""logIndex": "0""#), "{out}");
        assert!(out.contains(r#""hashes": []"#), "{out}");
        assert!(out.contains(r#""integratedTime": "12""#), "{out}");
        assert!(out.contains(r#""keyid": """#), "{out}");
        let again = Bundle::from_json(out.as_bytes())?;
        assert_eq!(again, b);
        Ok(())
    }

    #[test]
    fn rejects_unknown_media_type() {
        let j = KEY_BUNDLE.replace("bundle.v0.3+json", "bundle.v9+json");
        assert!(matches!(
            Bundle::from_json(j.as_bytes()),
            Err(SigstoreError::UnsupportedMediaType { media_type }) if media_type.ends_with("v9+json")
        ));
    }

    #[test]
    fn rejects_negative_log_index() {
        let j = KEY_BUNDLE.replacen(r#""logIndex": "0""#, r#""logIndex": "-1""#, 1);
        assert!(matches!(
            Bundle::from_json(j.as_bytes()),
            Err(SigstoreError::MalformedBundle {
                problem: BundleProblem::NegativeEntry { log_index: -1, .. }
            })
        ));
    }

    #[test]
    fn rejects_two_contents() {
        let j = KEY_BUNDLE.replace(
            r#""dsseEnvelope""#,
            r#""messageSignature": {"signature": "AQID"}, "dsseEnvelope""#,
        );
        assert!(matches!(
            Bundle::from_json(j.as_bytes()),
            Err(SigstoreError::MalformedBundle {
                problem: BundleProblem::BothContents
            })
        ));
    }
}
