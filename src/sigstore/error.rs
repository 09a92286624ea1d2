//! The one error type of the `sigstore` module: every check that can reject a bundle has its own
//! variant, and every variant maps to a stable kebab-case reason code for reports.

use std::path::PathBuf;

/// Why a bundle, key, trusted root or verification was rejected.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SigstoreError {
    /// The bundle JSON does not parse or breaks the bundle format.
    #[error("malformed bundle: {reason}")]
    MalformedBundle { reason: String },
    /// The bundle's media type is not one this verifier knows.
    #[error("unsupported bundle media type `{media_type}`")]
    UnsupportedMediaType { media_type: String },
    /// A public key could not be parsed.
    #[error("malformed public key: {reason}")]
    MalformedKey { reason: String },
    /// A key algorithm (or curve) that is not Ed25519, ECDSA P-256 or ECDSA P-384.
    #[error("unsupported key algorithm {algorithm}")]
    UnsupportedKeyAlgorithm { algorithm: String },
    /// A signature did not verify.
    #[error("bad signature: {what}")]
    BadSignature { what: String },
    /// The signer is not the one the caller trusts (key or certificate authority).
    #[error("untrusted signer: {reason}")]
    UntrustedSigner { reason: String },
    /// The certificate identity does not match the caller's policy.
    #[error("identity mismatch for {field}: expected {expected}, got {actual}")]
    IdentityMismatch {
        field: String,
        expected: String,
        actual: String,
    },
    /// The certificate chain does not lead to a trusted certificate authority.
    #[error("bad certificate chain: {reason}")]
    BadCertificateChain { reason: String },
    /// The leaf certificate is unusable (key usage, extended key usage, encoding).
    #[error("bad certificate: {reason}")]
    BadCertificate { reason: String },
    /// The embedded signed certificate timestamp is missing or does not verify.
    #[error("bad signed certificate timestamp: {reason}")]
    BadSct { reason: String },
    /// The Rekor signed entry timestamp (inclusion promise) is missing or does not verify.
    #[error("bad signed entry timestamp: {reason}")]
    BadSet { reason: String },
    /// The Merkle inclusion proof does not lead to the claimed root hash.
    #[error("bad inclusion proof: {reason}")]
    BadInclusionProof { reason: String },
    /// The checkpoint (signed note) is malformed, unsigned, or does not match the proof.
    #[error("bad checkpoint: {reason}")]
    BadCheckpoint { reason: String },
    /// An RFC 3161 timestamp is malformed, untrusted or does not cover the signature.
    #[error("bad timestamp: {reason}")]
    BadTimestamp { reason: String },
    /// A time source places signing outside a validity window.
    #[error("expired: {reason}")]
    Expired { reason: String },
    /// The artifact does not match what was signed.
    #[error("artifact mismatch: expected {expected}, got {actual}")]
    ArtifactMismatch { expected: String, actual: String },
    /// A transparency log entry does not describe this bundle's signature.
    #[error("log entry mismatch: {reason}")]
    LogEntryMismatch { reason: String },
    /// A log entry names a log the trusted root does not hold (or not at that time).
    #[error("untrusted transparency log: {reason}")]
    UntrustedLog { reason: String },
    /// No signed evidence gives a time at which a key's validity can be judged: a Rekor v1
    /// entry's integratedTime counts only under its signed entry timestamp, a checkpoint signs
    /// no time, so without either an RFC 3161 timestamp is needed.
    #[error("no signed time for {what}: {reason}")]
    NoSignedTime { what: String, reason: String },
    /// Transparency was required but no verified time source or log entry was present.
    #[error("missing transparency evidence: {reason}")]
    MissingTransparency { reason: String },
    /// The trusted root JSON does not parse or breaks the format.
    #[error("malformed trusted root: {reason}")]
    MalformedTrustedRoot { reason: String },
    /// A file could not be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SigstoreError {
    /// A stable, kebab-case reason code for reports and exit-code documentation.
    pub fn reason_code(&self) -> crate::reason::Reason {
        use crate::reason::Reason;
        match self {
            Self::MalformedBundle { .. } | Self::UnsupportedMediaType { .. } => {
                Reason::MalformedBundle
            }
            Self::MalformedKey { .. } | Self::UnsupportedKeyAlgorithm { .. } => {
                Reason::MalformedKey
            }
            Self::BadSignature { .. } => Reason::BadSignature,
            Self::UntrustedSigner { .. } => Reason::UntrustedSigner,
            Self::IdentityMismatch { .. } => Reason::IdentityMismatch,
            Self::BadCertificateChain { .. } => Reason::BadCertificateChain,
            Self::BadCertificate { .. } => Reason::BadCertificate,
            Self::BadSct { .. } => Reason::BadSct,
            Self::BadSet { .. } => Reason::BadSet,
            Self::BadInclusionProof { .. } => Reason::BadInclusionProof,
            Self::BadCheckpoint { .. } => Reason::BadCheckpoint,
            Self::BadTimestamp { .. } => Reason::BadTimestamp,
            Self::Expired { .. } => Reason::CertificateExpired,
            Self::ArtifactMismatch { .. } => Reason::ArtifactMismatch,
            Self::LogEntryMismatch { .. } => Reason::LogEntryMismatch,
            Self::UntrustedLog { .. } => Reason::UntrustedLog,
            Self::MissingTransparency { .. } => Reason::MissingTransparency,
            Self::NoSignedTime { .. } => Reason::NoSignedTime,
            Self::MalformedTrustedRoot { .. } => Reason::MalformedTrustedRoot,
            Self::Io { .. } => Reason::Io,
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        Self::MalformedBundle {
            reason: reason.into(),
        }
    }
}
