//! The one error type of the `sigstore` module: every check that can reject a bundle has its own
//! variant, and every variant maps to a stable kebab-case reason code for reports.
//!
//! Longer than 600 lines on purpose: the error and all its problem enums stay together so that
//! [`SigstoreError::reason_code`] is one exhaustive match a reviewer can check against the
//! reason-code table; about 165 lines are the unit tests.

use std::path::PathBuf;
use std::sync::Arc;

use const_oid::ObjectIdentifier;
use x509_cert::name::Name;

use super::name::rfc4514;

use super::verify::TimeSource;

/// Why a bundle, key, trusted root or verification was rejected.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SigstoreError {
    /// The bundle JSON does not parse or breaks the bundle format.
    #[error("malformed bundle: {problem}")]
    MalformedBundle { problem: BundleProblem },
    /// The bundle's media type is not one this verifier knows.
    #[error("unsupported bundle media type `{media_type}`")]
    UnsupportedMediaType { media_type: String },
    /// A public key could not be parsed.
    #[error("malformed public key: {problem}")]
    MalformedKey { problem: KeyProblem },
    /// A key algorithm (or curve) that is not Ed25519, ECDSA P-256 or ECDSA P-384.
    #[error("unsupported key algorithm {algorithm}")]
    UnsupportedKeyAlgorithm { algorithm: KeyAlgorithm },
    /// A signature did not verify.
    #[error("bad signature: {what}")]
    BadSignature { what: SignatureCheck },
    /// The signer is not the one the caller trusts (key or certificate authority).
    #[error("untrusted signer: {problem}")]
    UntrustedSigner { problem: SignerProblem },
    /// The certificate identity does not match the caller's policy.
    #[error("identity mismatch for {field}: expected {expected}, got {actual}")]
    IdentityMismatch {
        /// `certificate identity`, `oidc issuer`, or a Fulcio extension's name.
        field: &'static str,
        expected: String,
        actual: String,
    },
    /// The certificate chain does not lead to a trusted certificate authority.
    #[error("bad certificate chain: {problem}")]
    BadCertificateChain { problem: ChainProblem },
    /// The leaf certificate is unusable (key usage, extended key usage, encoding).
    #[error("bad certificate: {problem}")]
    BadCertificate { problem: CertificateProblem },
    /// The embedded signed certificate timestamp is missing or does not verify.
    #[error("bad signed certificate timestamp: {problem}")]
    BadSct { problem: SctProblem },
    /// The Rekor signed entry timestamp (inclusion promise) is missing or does not verify.
    #[error("bad signed entry timestamp: {problem}")]
    BadSet { problem: SetProblem },
    /// The Merkle inclusion proof does not lead to the claimed root hash.
    #[error("bad inclusion proof: {problem}")]
    BadInclusionProof { problem: InclusionProofProblem },
    /// The checkpoint (signed note) is malformed, unsigned, or does not match the proof.
    #[error("bad checkpoint: {problem}")]
    BadCheckpoint { problem: CheckpointProblem },
    /// An RFC 3161 timestamp is malformed, untrusted or does not cover the signature.
    #[error("bad timestamp: {problem}")]
    BadTimestamp { problem: TimestampProblem },
    /// A time source places signing outside a validity window.
    #[error(
        "expired: signing time {at} ({from:?}) outside certificate validity {not_before}..={not_after}"
    )]
    Expired {
        /// The verified signing time (Unix seconds).
        at: i64,
        /// What vouched for that time.
        from: TimeSource,
        not_before: i64,
        not_after: i64,
    },
    /// The artifact does not match what was signed.
    #[error("artifact mismatch: expected {expected}, got {actual}")]
    ArtifactMismatch { expected: String, actual: String },
    /// A transparency log entry does not describe this bundle's signature.
    #[error("log entry mismatch: {problem}")]
    LogEntryMismatch { problem: EntryMismatch },
    /// A log entry names a log the trusted root does not hold (or not at that time).
    #[error("untrusted transparency log: {problem}")]
    UntrustedLog { problem: UntrustedLogProblem },
    /// No signed evidence gives a time at which a key's validity can be judged: a Rekor v1
    /// entry's integratedTime counts only under its signed entry timestamp, a checkpoint signs
    /// no time, so without either an RFC 3161 timestamp is needed.
    #[error(
        "no signed time for the key of log {} (entry {log_index}): {}",
        hex::encode(log_id),
        if *rekor_v2 {
            "a Rekor v2 entry has no integrated time, and the bundle has no RFC 3161 timestamp"
        } else {
            "the entry has no signed entry timestamp (its integratedTime is unsigned), and the bundle has no RFC 3161 timestamp"
        }
    )]
    NoSignedTime {
        log_id: Vec<u8>,
        log_index: i64,
        rekor_v2: bool,
    },
    /// Transparency was required but no verified time source or log entry was present.
    #[error("missing transparency evidence: {missing}")]
    MissingTransparency { missing: MissingEvidence },
    /// The trusted root JSON does not parse or breaks the format.
    #[error("malformed trusted root: {problem}")]
    MalformedTrustedRoot { problem: TrustedRootProblem },
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

    pub(crate) fn malformed(problem: BundleProblem) -> Self {
        Self::MalformedBundle { problem }
    }
}

/// Why a Rekor signed entry timestamp (SET) was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetProblem {
    /// Rekor v2 signs no entry timestamps: one present was put there by someone else.
    #[error("a Rekor v2 entry cannot carry a signed entry timestamp")]
    OnRekorV2Entry,
    /// A v0.1 bundle has no inclusion proof to fall back on.
    #[error("a v0.1 bundle's log entry needs a signed entry timestamp")]
    MissingInV01Bundle,
    /// The log's key does not verify the SET over this entry.
    #[error("signed entry timestamp of log index {log_index} does not verify")]
    DoesNotVerify { log_index: i64 },
}

/// Why a transparency log entry's log is not trusted.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UntrustedLogProblem {
    /// No log of the trusted root has this id.
    #[error("log id {} is not in the trusted root", hex::encode(log_id))]
    NotInTrustedRoot { log_id: Vec<u8> },
    /// Logs with this id exist, but none was trusted at every signed time.
    #[error(
        "log {} was not trusted at {times:?} (from the {time_source})",
        hex::encode(log_id)
    )]
    NotTrustedAt {
        log_id: Vec<u8>,
        /// The signed times (Unix seconds) the key was judged at.
        times: Vec<i64>,
        /// What signed those times.
        time_source: &'static str,
    },
    /// The trusted root holds the log, but with a key this verifier cannot use.
    #[error("log key unsupported")]
    KeyUnsupported { log_id: Vec<u8> },
}

/// The transparency evidence a bundle lacked.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MissingEvidence {
    #[error("the bundle has no transparency log entry")]
    NoLogEntry,
    #[error("no verified time (signed entry timestamp or RFC 3161 timestamp) for the certificate")]
    NoVerifiedTime,
}

/// Why a Merkle inclusion proof was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InclusionProofProblem {
    /// The entry needs a proof (Rekor v2, or a bundle newer than v0.1) and has none.
    #[error("log entry without an inclusion proof")]
    Missing,
    #[error("negative index")]
    Negative { log_index: i64, tree_size: i64 },
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("proof has {hashes} hashes, a leaf at {index} in a tree of {size} needs {needed}")]
    WrongLength {
        hashes: usize,
        index: u64,
        size: u64,
        needed: usize,
    },
    #[error("proof hash {position} is {len} bytes, not 32")]
    HashLength { position: usize, len: usize },
    #[error(
        "computed root {} does not match proof root {}",
        hex::encode(computed),
        hex::encode(claimed)
    )]
    RootMismatch {
        computed: [u8; 32],
        claimed: Vec<u8>,
    },
}

/// How a transparency log entry's body fails to describe this bundle.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum EntryMismatch {
    /// The body is not JSON (or has duplicate keys); shown with its causes.
    #[error("log entry body is not JSON: {}", crate::error_chain(error))]
    BodyNotJson { error: crate::json::JsonError },
    /// `field` is a dotted path into the body.
    #[error("log entry body lacks `{field}`")]
    MissingField { field: String },
    #[error("log entry body field `{field}` is not a string")]
    NotAString { field: String },
    #[error("log entry body field `{field}` is not base64")]
    NotBase64 { field: String },
    #[error("body is {body_kind} {body_version} but the entry says {entry_kind} {entry_version}")]
    KindMismatch {
        body_kind: String,
        body_version: String,
        entry_kind: String,
        entry_version: String,
    },
    #[error("log entry kind {kind} {version} does not fit the bundle's content")]
    KindDoesNotFit { kind: String, version: String },
    #[error("log entry verifier is not PEM: {error}")]
    VerifierNotPem { error: super::keys::PemError },
    #[error("log entry names a different signer than the bundle")]
    DifferentSigner,
    #[error("log entry signature differs from the bundle's signature")]
    SignatureDiffers,
    /// A v1 body's hex digest at `field` differs from the bundle's.
    #[error(
        "log entry {field} is {algorithm}:{value}, expected sha256:{}",
        hex::encode(expected)
    )]
    HexDigestMismatch {
        field: String,
        algorithm: String,
        value: String,
        expected: Vec<u8>,
    },
    /// A v2 body's digest differs from the bundle's.
    #[error(
        "log entry digest {algorithm}:{} does not match sha256:{}",
        hex::encode(actual),
        hex::encode(expected)
    )]
    DigestMismatch {
        algorithm: String,
        actual: Vec<u8>,
        expected: Vec<u8>,
    },
    /// `kind` is `dsse` or `intoto`.
    #[error("{kind} signatures is not a list")]
    SignaturesNotAList { kind: &'static str },
    #[error("{kind} entry has {count} signatures, expected 1")]
    SignatureCount { kind: &'static str, count: usize },
    #[error("intoto entry payload type differs")]
    PayloadTypeDiffers,
    #[error("intoto entry payload differs from the envelope's")]
    PayloadDiffers,
}

/// Why a certificate does not chain to a trusted certificate authority.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChainProblem {
    /// No authority of the trusted root verified the leaf; the last authority's problem is
    /// reported instead when there was one.
    #[error("no trusted certificate authority issued the certificate (issuer `{}`)", rfc4514(.issuer))]
    NoAuthority { issuer: Name },
    #[error("bundle certificate chain contains a self-signed (root) certificate")]
    SelfSignedInBundle,
    #[error("unsupported certificate signature algorithm {oid}")]
    UnsupportedSignatureAlgorithm { oid: ObjectIdentifier },
    #[error("certificate issuer `{}` is not `{}`", rfc4514(.issuer), rfc4514(.expected))]
    IssuerMismatch { issuer: Name, expected: Name },
    #[error("certificate signature has unused bits")]
    SignatureUnusedBits,
    #[error("signature on certificate for `{}` does not verify with the key of `{}`", rfc4514(.subject), rfc4514(.issuer))]
    SignatureDoesNotVerify { subject: Name, issuer: Name },
    #[error(
        "RSA signature on certificate for `{}` does not verify with the key of `{}`", rfc4514(.subject), rfc4514(.issuer)
    )]
    RsaSignatureDoesNotVerify { subject: Name, issuer: Name },
    #[error("{0}")]
    Authority(AuthorityChainProblem),
    #[error("empty trusted chain")]
    EmptyTrustedChain,
    /// The leaf's notBefore (Unix seconds) is outside the authority's validFor.
    #[error("certificate issued at {issued_at} outside the validity of authority {authority}")]
    OutsideAuthorityValidity { issued_at: i64, authority: String },
    #[error("trusted chain certificate `{}` is not a CA", rfc4514(.subject))]
    ChainCertificateNotCa { subject: Name },
    #[error("chain certificate `{}` was not valid when the leaf was issued", rfc4514(.subject))]
    ChainCertificateNotValid { subject: Name, issued_at: i64 },
}

/// Why a trusted root's certificate authority (or timestamp authority) chain is unusable.
/// Cloneable because the checked chain is computed once and kept with the authority.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthorityChainProblem {
    #[error("certificate of authority {authority} unreadable: {error}")]
    Unreadable {
        authority: String,
        error: Arc<SigstoreError>,
    },
    #[error("authority {authority} has an empty chain")]
    Empty { authority: String },
    /// A certificate of the chain is not signed by the next.
    #[error("chain of authority {authority}: {error}")]
    Broken {
        authority: String,
        error: Arc<SigstoreError>,
    },
}

/// Why an RFC 3161 timestamp was refused.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TimestampProblem {
    /// The bytes are a `TimeStampResp` that yields no token.
    #[error("{0}")]
    Response(super::rfc3161::ResponseProblem),
    #[error("TimeStampToken content type {content_type} is not signedData")]
    NotSignedData { content_type: ObjectIdentifier },
    #[error("invalid SignedData: {error}")]
    SignedDataUndecodable { error: der::Error },
    #[error("SignedData does not hold a TSTInfo")]
    NotTstInfo { content_type: ObjectIdentifier },
    #[error("TSTInfo is absent")]
    TstInfoAbsent,
    #[error("invalid eContent: {error}")]
    EContentUndecodable { error: der::Error },
    #[error("invalid TSTInfo: {error}")]
    TstInfoUndecodable { error: der::Error },
    #[error("TSTInfo version {version}, expected 1")]
    TstInfoVersion { version: u8 },
    #[error("genTime is not a GeneralizedTime")]
    GenTimeNotGeneralized { tag: der::Tag },
    #[error("genTime is not ASCII")]
    GenTimeNotAscii,
    #[error("genTime `{value}` is not UTC")]
    GenTimeNotUtc { value: String },
    /// `value` is the genTime without its `Z`.
    #[error("malformed genTime `{value}`")]
    GenTimeMalformed { value: String },
    #[error("invalid genTime `{value}`: {error}")]
    GenTimeInvalid {
        value: String,
        error: chrono::ParseError,
    },
    #[error("unsupported digest algorithm {oid}")]
    UnsupportedDigestAlgorithm { oid: ObjectIdentifier },
    /// The TSTInfo's message imprint is not the digest of the bundle's signature.
    #[error("timestamp message imprint does not match the bundle's signature")]
    ImprintMismatch {
        imprint: Vec<u8>,
        signature_digest: Vec<u8>,
    },
    #[error("TimeStampToken has {count} signers, expected 1")]
    SignerCount { count: usize },
    #[error("signer has no signed attributes")]
    NoSignedAttributes,
    #[error("signed attribute {oid} must appear exactly once")]
    AttributeNotOnce { oid: ObjectIdentifier },
    #[error("signed attribute {oid} must have one value")]
    AttributeNotOneValue { oid: ObjectIdentifier },
    #[error("invalid content-type: {error}")]
    ContentTypeAttributeUndecodable { error: der::Error },
    #[error("signed content-type attribute is not TSTInfo")]
    ContentTypeAttributeNotTstInfo { content_type: ObjectIdentifier },
    #[error("invalid message-digest: {error}")]
    MessageDigestUndecodable { error: der::Error },
    #[error("message-digest attribute does not match the TSTInfo")]
    MessageDigestMismatch,
    #[error("cannot encode signed attributes: {error}")]
    SignedAttributesUnencodable { error: der::Error },
    #[error("unsupported timestamp signature algorithm {oid}")]
    UnsupportedSignatureAlgorithm { oid: ObjectIdentifier },
    /// No authority of the trusted root verified the token; the last authority's problem is
    /// reported instead when there was one.
    #[error("no trusted timestamp authority signed this timestamp")]
    NoTrustedAuthority,
    #[error("{0}")]
    Authority(AuthorityChainProblem),
    #[error("empty timestamp authority chain")]
    EmptyAuthorityChain,
    #[error("timestamp signature does not verify with authority {authority}")]
    SignatureDoesNotVerify { authority: String },
    /// `time` (genTime, Unix seconds) is outside the authority's validFor.
    #[error("timestamp time {time} outside the validity of authority {authority}")]
    OutsideAuthorityValidity { time: i64, authority: String },
    #[error("authority certificate `{}` was not valid at the timestamp time {time}", rfc4514(.subject))]
    AuthorityCertificateNotValid { subject: Name, time: i64 },
    #[error(
        "certificate of timestamp authority {authority} {problem} (RFC 3161 requires one critical extendedKeyUsage of only timeStamping)"
    )]
    ExtendedKeyUsage {
        authority: String,
        problem: EkuProblem,
    },
}

/// How a timestamp authority's extendedKeyUsage breaks RFC 3161 section 2.3.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EkuProblem {
    #[error("has no extendedKeyUsage")]
    Missing,
    #[error("has more than one extendedKeyUsage")]
    Repeated,
    #[error("has an undecodable extendedKeyUsage ({error})")]
    Undecodable { error: der::Error },
    #[error("has a non-critical extendedKeyUsage")]
    NotCritical,
    #[error(
        "has extendedKeyUsage [{}], not only timeStamping",
        purposes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    NotOnlyTimeStamping { purposes: Vec<ObjectIdentifier> },
}

/// Why a checkpoint (signed note) was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointProblem {
    #[error("no blank line between note body and signatures")]
    NoBlankLine,
    #[error("empty origin line")]
    EmptyOrigin,
    #[error("missing tree size line")]
    MissingSize,
    #[error("tree size `{line}` is not a decimal number")]
    SizeNotDecimal { line: String },
    #[error("tree size `{line}` out of range")]
    SizeOutOfRange { line: String },
    #[error("missing root hash line")]
    MissingRootHash,
    #[error("root hash `{line}` is not base64")]
    RootHashNotBase64 { line: String },
    #[error("root hash is {len} bytes, not 32")]
    RootHashLength { len: usize },
    #[error("empty line inside the note body")]
    EmptyBodyLine,
    #[error("signature block does not end with a newline")]
    NoFinalNewline,
    #[error("signature line `{line}` does not start with `\u{2014} `")]
    SignatureLinePrefix { line: String },
    #[error("signature line `{line}` has no signature")]
    SignatureLineNoSignature { line: String },
    #[error("signature line `{line}` has a bad key name")]
    SignatureLineKeyName { line: String },
    #[error("signature is not base64")]
    SignatureNotBase64,
    #[error("signature shorter than its key hint")]
    SignatureTooShort,
    #[error("checkpoint carries no signature")]
    Unsigned,
    #[error("no signature line with the log's key hint {}", hex::encode(key_hint))]
    NoLineForKeyHint { key_hint: [u8; 4] },
    #[error("the log's checkpoint signature does not verify")]
    SignatureDoesNotVerify,
    #[error("inclusion proof without a checkpoint")]
    Missing,
    #[error(
        "checkpoint (size {checkpoint_size}, root {}) does not match the proof (size {proof_size}, root {})",
        hex::encode(checkpoint_root),
        hex::encode(proof_root)
    )]
    ProofMismatch {
        checkpoint_size: u64,
        checkpoint_root: [u8; 32],
        proof_size: u64,
        proof_root: Vec<u8>,
    },
}

/// Why a certificate's embedded signed certificate timestamps were refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SctProblem {
    #[error("certificate carries no embedded SCT")]
    None,
    #[error("SCT extension is not an OCTET STRING: {error}")]
    ExtensionNotOctetString { error: der::Error },
    #[error("truncated SCT")]
    Truncated,
    #[error("trailing bytes after SCT list")]
    TrailingAfterList,
    #[error("unsupported SCT version")]
    UnsupportedVersion { version: u64 },
    #[error("trailing bytes in SCT")]
    TrailingInSct,
    /// Rebuilding the TBSCertificate the CT log signed failed at `step`.
    #[error("{step}: {error}")]
    PrecertificateDer {
        step: &'static str,
        error: der::Error,
    },
    #[error("certificate has no extensions")]
    NoExtensions,
    #[error("TBSCertificate too large")]
    TbsTooLarge { len: usize },
    #[error("none of {count} embedded SCTs verifies with a trusted CT log key")]
    NoneVerifies { count: usize },
}

/// Why the bundle's signer is not one the caller's policy trusts.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerProblem {
    /// A check needs the trusted root and the caller gave none; `needed_for` says which.
    #[error("no trusted root given, but {needed_for}")]
    NoTrustedRoot { needed_for: &'static str },
    #[error("bundle is signed with a key, but a certificate identity is required")]
    KeyWhereIdentityRequired,
    #[error("bundle is signed with a certificate, but a managed key is required")]
    CertificateWhereKeyRequired,
}

/// Why a certificate is unreadable or unfit to sign.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateProblem {
    #[error("invalid certificate DER: {error}")]
    Undecodable { error: der::Error },
    #[error("empty certificate")]
    Empty,
    #[error("cannot re-encode TBSCertificate: {error}")]
    TbsUnencodable { error: der::Error },
    #[error("cannot encode public key: {error}")]
    PublicKeyUnencodable { error: der::Error },
    #[error("certificate time out of range")]
    TimeOutOfRange { seconds: u64 },
    #[error("invalid subjectAltName: {error}")]
    SubjectAltNameUndecodable { error: der::Error },
    #[error("Fulcio extension {oid} is not UTF-8")]
    FulcioExtensionNotUtf8 { oid: ObjectIdentifier },
    #[error("Fulcio extension {oid} is not a UTF8String: {error}")]
    FulcioExtensionNotUtf8String {
        oid: ObjectIdentifier,
        error: der::Error,
    },
    #[error("Fulcio extension {oid} appears twice")]
    FulcioExtensionRepeated { oid: ObjectIdentifier },
    #[error("signing certificate is a CA certificate")]
    LeafIsCa,
    #[error("invalid keyUsage: {error}")]
    KeyUsageUndecodable { error: der::Error },
    #[error("signing certificate has no keyUsage")]
    NoKeyUsage,
    #[error("keyUsage lacks digitalSignature")]
    NoDigitalSignature,
    #[error("invalid extendedKeyUsage: {error}")]
    ExtendedKeyUsageUndecodable { error: der::Error },
    #[error("signing certificate has no extendedKeyUsage")]
    NoExtendedKeyUsage,
    #[error("extendedKeyUsage lacks codeSigning")]
    NoCodeSigning,
}

/// Why a public key does not parse.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum KeyProblem {
    #[error("invalid PEM: {error}")]
    Pem { error: der::pem::Error },
    #[error("PEM label is `{label}`, expected `PUBLIC KEY`")]
    PemLabel { label: String },
    #[error("invalid SubjectPublicKeyInfo: {error}")]
    Spki { error: der::Error },
    #[error("public key bit string has unused bits")]
    UnusedBits,
    #[error("Ed25519 key with algorithm parameters")]
    Ed25519Parameters,
    #[error("Ed25519 key is {len} bytes, not 32")]
    Ed25519Length { len: usize },
    #[error("EC key without curve parameter")]
    NoCurve,
    #[error("EC curve parameter is not an OID: {error}")]
    CurveNotOid { error: der::Error },
    #[error("invalid {kind:?} point: not on the curve")]
    NotOnCurve { kind: crate::crypto::KeyKind },
    #[error("{error}")]
    Rejected { error: crate::crypto::KeyRejected },
}

/// Why a trusted root document was refused.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TrustedRootProblem {
    #[error("`{}` is larger than {limit} bytes", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("invalid json: {}", crate::error_chain(error))]
    Json { error: crate::json::JsonError },
    #[error("unsupported media type `{media_type}`")]
    MediaType { media_type: String },
    #[error("invalid {entry} time `{value}`: {error}")]
    Time {
        entry: TrustEntry,
        value: String,
        error: chrono::ParseError,
    },
    #[error("{entry} has no validFor")]
    NoValidFor { entry: TrustEntry },
    /// A missing start must not be read as "valid since forever".
    #[error("{entry} validFor has no start")]
    NoStart { entry: TrustEntry },
    #[error("{entry} validFor ends before it starts")]
    EndsBeforeStart {
        entry: TrustEntry,
        start: i64,
        end: i64,
    },
    #[error("{entry} key does not match its keyDetails {key_details}")]
    KeyDetailsMismatch {
        entry: TrustEntry,
        key_details: String,
    },
    #[error("{entry} has an empty certificate chain")]
    EmptyChain { entry: TrustEntry },
}

/// The trusted root entry a problem is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustEntry {
    /// A transparency or CT log, by base URL.
    Log { base_url: String },
    /// A certificate or timestamp authority, by URI.
    Authority { uri: String },
}

impl std::fmt::Display for TrustEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Log { base_url } => write!(f, "log {base_url}"),
            Self::Authority { uri } => write!(f, "authority {uri}"),
        }
    }
}

/// Which signature check failed (never why: a wrong signature is just wrong).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureCheck {
    #[error("DSSE envelope signature")]
    DsseEnvelope,
    #[error("message signature")]
    Message,
    #[error("ecdsa signature")]
    Ecdsa,
    #[error("ed25519 signature")]
    Ed25519,
    /// Ed25519 signs the message itself, so a digest alone cannot be checked.
    #[error("an Ed25519 signature cannot be verified from a digest")]
    Ed25519FromDigest,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;

    /// The typed causes print the messages the free-text reasons used to, so reports, CLI
    /// output and scenario logs read as before; the reason code stays the variant's.
    #[test]
    fn typed_causes_keep_their_messages_and_codes() {
        let cases: Vec<(SigstoreError, &str, Reason)> = vec![
            (
                SigstoreError::Expired {
                    at: 5,
                    from: TimeSource::Tlog {
                        log_url: "u".into(),
                        log_index: 3,
                    },
                    not_before: 10,
                    not_after: 20,
                },
                "expired: signing time 5 (Tlog { log_url: \"u\", log_index: 3 }) outside certificate validity 10..=20",
                Reason::CertificateExpired,
            ),
            (
                SigstoreError::UntrustedLog {
                    problem: UntrustedLogProblem::NotTrustedAt {
                        log_id: vec![0xab, 0xcd],
                        times: vec![7, 8],
                        time_source: "signed entry timestamp",
                    },
                },
                "untrusted transparency log: log abcd was not trusted at [7, 8] (from the signed entry timestamp)",
                Reason::UntrustedLog,
            ),
            (
                SigstoreError::BadInclusionProof {
                    problem: InclusionProofProblem::RootMismatch {
                        computed: [0; 32],
                        claimed: vec![1],
                    },
                },
                "bad inclusion proof: computed root 0000000000000000000000000000000000000000000000000000000000000000 does not match proof root 01",
                Reason::BadInclusionProof,
            ),
            (
                SigstoreError::NoSignedTime {
                    log_id: vec![0xff],
                    log_index: 9,
                    rekor_v2: true,
                },
                "no signed time for the key of log ff (entry 9): a Rekor v2 entry has no integrated time, and the bundle has no RFC 3161 timestamp",
                Reason::NoSignedTime,
            ),
            (
                SigstoreError::BadCheckpoint {
                    problem: CheckpointProblem::SignatureLinePrefix { line: "x".into() },
                },
                "bad checkpoint: signature line `x` does not start with `\u{2014} `",
                Reason::BadCheckpoint,
            ),
            (
                SigstoreError::BadTimestamp {
                    problem: TimestampProblem::ExtendedKeyUsage {
                        authority: "tsa".into(),
                        problem: EkuProblem::NotOnlyTimeStamping {
                            purposes: vec![
                                ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8"),
                                ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3"),
                            ],
                        },
                    },
                },
                "bad timestamp: certificate of timestamp authority tsa has extendedKeyUsage [1.3.6.1.5.5.7.3.8, 1.3.6.1.5.5.7.3.3], not only timeStamping (RFC 3161 requires one critical extendedKeyUsage of only timeStamping)",
                Reason::BadTimestamp,
            ),
            (
                SigstoreError::LogEntryMismatch {
                    problem: EntryMismatch::HexDigestMismatch {
                        field: "spec.data.hash".into(),
                        algorithm: "sha256".into(),
                        value: "00".into(),
                        expected: vec![0x12],
                    },
                },
                "log entry mismatch: log entry spec.data.hash is sha256:00, expected sha256:12",
                Reason::LogEntryMismatch,
            ),
            (
                SigstoreError::MalformedTrustedRoot {
                    problem: TrustedRootProblem::NoStart {
                        entry: TrustEntry::Authority { uri: "ca".into() },
                    },
                },
                "malformed trusted root: authority ca validFor has no start",
                Reason::MalformedTrustedRoot,
            ),
            (
                SigstoreError::BadSignature {
                    what: SignatureCheck::Message,
                },
                "bad signature: message signature",
                Reason::BadSignature,
            ),
        ];
        for (e, message, code) in cases {
            assert_eq!(e.to_string(), message);
            assert_eq!(e.reason_code(), code, "{message}");
        }
    }
}

/// Why a bundle is malformed: unparseable, or parseable but inconsistent.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum BundleProblem {
    /// Not JSON, duplicate keys, or too large.
    #[error("invalid bundle json: {}", crate::error_chain(error))]
    Json { error: crate::json::JsonError },
    /// JSON of the wrong shape (serde's words: missing field, wrong type, bad base64).
    #[error("invalid bundle json: {error}")]
    Shape { error: serde_json::Error },
    #[error("bundle has both dsseEnvelope and messageSignature")]
    BothContents,
    #[error("bundle has neither dsseEnvelope nor messageSignature")]
    NoContent,
    #[error("x509CertificateChain is empty")]
    EmptyChain,
    #[error("a single certificate needs bundle version 0.3 or later")]
    SingleCertificateBeforeV03,
    #[error("verificationMaterial has no certificate, chain or public key")]
    NoSigner,
    #[error("verificationMaterial has more than one of certificate, chain, public key")]
    SeveralSigners,
    #[error("negative logIndex {log_index} or integratedTime {integrated_time}")]
    NegativeEntry {
        log_index: i64,
        integrated_time: i64,
    },
    #[error("negative inclusion proof logIndex {log_index} or treeSize {tree_size}")]
    NegativeProof { log_index: i64, tree_size: i64 },
    #[error("DSSE envelope has {count} signatures, expected exactly 1")]
    DsseSignatureCount { count: usize },
    #[error("unsupported message digest algorithm {algorithm}")]
    DigestAlgorithm { algorithm: String },
    #[error("message digest is not 32 bytes")]
    DigestLength { len: usize },
    #[error("message signature bundle without artifact or digest")]
    NoArtifactOrDigest,
    #[error("in-toto statement is not JSON: {}", crate::error_chain(error))]
    StatementNotJson { error: crate::json::JsonError },
    #[error("in-toto statement has no subject list")]
    StatementNoSubjects,
}

/// A key algorithm this verifier does not take.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyAlgorithm {
    /// The SubjectPublicKeyInfo algorithm OID.
    #[error("{0}")]
    Oid(ObjectIdentifier),
    /// An EC key on a curve other than P-256 and P-384.
    #[error("EC curve {0}")]
    EcCurve(ObjectIdentifier),
}
