//! MCP bundle signatures (spec/mcpb.md): the PKCS#7 block that the `mcpb` tool appends to a
//! `.mcpb` zip, checked over the bytes before it and against trust anchors, with one outcome
//! each for absent, malformed, invalid, untrusted and valid. Upstream reports "unsigned" for
//! every failure; here each has its own outcome and reason code.
//!
//! The file is read twice through one descriptor: its end (at most [`block::TAIL`] bytes) to
//! find and parse the block, then the bytes before the block, streamed through the digest.

pub mod anchors;
pub mod block;
pub mod chain;
pub mod pkcs7;

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::Digest as _;

use crate::digest::{Algorithm, Digest, Hasher};
use crate::reason::Reason;
use crate::sigstore::SigstoreError;
use crate::sigstore::cert::{ParsedCert, check_leaf_usage};
use crate::sigstore::keys::HashAlg;
use crate::sigstore::signer_info;
pub use anchors::{AnchorError, AnchorSource, Anchors};
use block::{Block, BlockProblem, Located};
use pkcs7::{Parsed, Pkcs7Problem};

/// One `mcp-verify mcpb` request.
#[derive(Debug, Clone)]
pub struct Request {
    pub file: PathBuf,
    pub anchors: AnchorSource,
    pub now: DateTime<Utc>,
    /// Also require the signed zip's SHA-256 to be this.
    pub expected_sha256: Option<Digest>,
}

/// The five outcomes (spec/mcpb.md, "Outcomes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// No signature block.
    Absent,
    /// Markers without a usable block or PKCS#7.
    Malformed,
    /// The signature or the signed digest does not match.
    Invalid,
    /// A correct signature by a certificate that is not trusted (no path to an anchor, expired,
    /// not for code signing).
    Untrusted,
    Valid,
}

/// Which bytes the signature covers (spec/mcpb.md, "What is signed").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignedContent {
    /// Everything before `MCPB_SIG_V1`, as is.
    Prefix,
    /// Everything before `MCPB_SIG_V1`, with the zip comment length as it was before the block
    /// was counted in it.
    PrefixEocdRestored,
}

/// A certificate as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    /// SHA-256 of the certificate's DER (hex).
    pub sha256: String,
    pub not_before: String,
    pub not_after: String,
}

impl CertSummary {
    fn of(c: &ParsedCert) -> Self {
        let tbs = c.cert.tbs_certificate();
        CertSummary {
            subject: crate::sigstore::name::rfc4514(tbs.subject()),
            issuer: crate::sigstore::name::rfc4514(tbs.issuer()),
            serial: tbs.serial_number().to_string(),
            sha256: hex::encode(sha2::Sha256::digest(&c.der)),
            not_before: rfc3339(c.not_before),
            not_after: rfc3339(c.not_after),
        }
    }
}

fn rfc3339(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| t.to_string())
}

/// Why a bundle's signature is not accepted.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum Rejection {
    #[error("no signature block: the file does not end with MCPB_SIG_END")]
    Absent,
    #[error("malformed signature block: {0}")]
    Block(#[from] BlockProblem),
    #[error("malformed signature: {0}")]
    Pkcs7(#[from] Pkcs7Problem),
    #[error("the signature does not verify over its signed attributes with the signer's key")]
    SignatureDoesNotVerify,
    #[error(
        "the signed digest does not match the bundle: the bytes before the signature block were changed after signing"
    )]
    DigestMismatch,
    #[error("the signer's certificate does not chain to {anchors}{}", detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    NoPath {
        anchors: String,
        detail: Option<String>,
    },
    #[error(
        "certificate `{subject}` is not valid {when} ({at}; valid {not_before} to {not_after})"
    )]
    CertificateExpired {
        subject: String,
        when: &'static str,
        at: String,
        not_before: String,
        not_after: String,
    },
    #[error("the signer's certificate is not a code-signing certificate: {detail}")]
    NotCodeSigning { detail: String },
    #[error("the signed zip's digest is {found}, not the expected {expected}")]
    ZipDigest { expected: Digest, found: Digest },
}

impl Rejection {
    pub fn outcome(&self) -> Outcome {
        match self {
            Rejection::Absent => Outcome::Absent,
            Rejection::Block(_) | Rejection::Pkcs7(_) => Outcome::Malformed,
            Rejection::SignatureDoesNotVerify | Rejection::DigestMismatch => Outcome::Invalid,
            Rejection::NoPath { .. }
            | Rejection::CertificateExpired { .. }
            | Rejection::NotCodeSigning { .. } => Outcome::Untrusted,
            // The signature itself held.
            Rejection::ZipDigest { .. } => Outcome::Valid,
        }
    }

    pub fn reason(&self) -> Reason {
        match self {
            Rejection::Absent => Reason::Unsigned,
            Rejection::Block(_) | Rejection::Pkcs7(_) => Reason::MalformedSignature,
            Rejection::SignatureDoesNotVerify | Rejection::DigestMismatch => Reason::BadSignature,
            Rejection::NoPath { .. } => Reason::UntrustedSigner,
            Rejection::CertificateExpired { .. } => Reason::CertificateExpired,
            Rejection::NotCodeSigning { .. } => Reason::BadCertificate,
            Rejection::ZipDigest { .. } => Reason::ArtifactMismatch,
        }
    }
}

/// One reason a bundle is rejected, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub reason: Reason,
    pub message: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// True exactly when the outcome is `valid` and nothing else was rejected.
    pub verified: bool,
    pub file: String,
    pub outcome: Outcome,
    /// The signer's certificate, once the signature could be read (whatever the outcome).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<CertSummary>,
    /// The verified path, signer first, trust anchor last (outcome `valid` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<CertSummary>,
    /// The anchors the signer was checked against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<String>,
    /// The signer's own `signingTime` claim (not a trusted timestamp).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_content: Option<SignedContent>,
    /// SHA-256 of the zip as signed (the whole file when unsigned); absent when the block is
    /// malformed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip_sha256: Option<Digest>,
    pub problems: Vec<Problem>,
    #[serde(skip)]
    rejection: Option<Rejection>,
}

impl Report {
    /// The rejection, when there is one.
    pub fn rejection(&self) -> Option<&Rejection> {
        self.rejection.as_ref()
    }

    fn new(file: &Path) -> Self {
        Report {
            verified: false,
            file: file.display().to_string(),
            outcome: Outcome::Absent,
            signer: None,
            chain: Vec::new(),
            trust: None,
            signing_time: None,
            signed_content: None,
            zip_sha256: None,
            problems: Vec::new(),
            rejection: None,
        }
    }

    fn reject(mut self, r: Rejection) -> Self {
        self.outcome = r.outcome();
        self.problems.push(Problem {
            reason: r.reason(),
            message: r.to_string(),
        });
        self.rejection = Some(r);
        self
    }
}

/// Why verification could not decide (exit 2).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum McpbSigError {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Anchors(#[from] AnchorError),
}

impl McpbSigError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            McpbSigError::Anchors(a) => a.hint(),
            McpbSigError::Read { .. } => None,
        }
    }
}

/// Verifies the signature block of `req.file`.
pub fn verify(req: &Request) -> Result<Report, McpbSigError> {
    let read = |source| McpbSigError::Read {
        path: req.file.clone(),
        source,
    };
    let mut file = std::fs::File::open(&req.file).map_err(read)?;
    let meta = file.metadata().map_err(read)?;
    if !meta.is_file() {
        return Err(read(std::io::ErrorKind::InvalidInput.into()));
    }
    let len = meta.len();
    let tail_len = len.min(block::TAIL as u64);
    file.seek(SeekFrom::Start(len - tail_len)).map_err(read)?;
    let mut tail = Vec::new();
    (&mut file)
        .take(tail_len)
        .read_to_end(&mut tail)
        .map_err(read)?;
    if tail.len() as u64 != tail_len {
        return Err(read(std::io::ErrorKind::UnexpectedEof.into()));
    }
    let report = Report::new(&req.file);
    let blk = match block::locate(&tail, len) {
        Ok(Located::Block(b)) => b,
        Ok(Located::Absent) => {
            let mut report = report;
            report.zip_sha256 =
                Some(hash_prefix(&mut file, len, &[], None).map_err(read)?.sha256[0].clone());
            return Ok(check_expected(report.reject(Rejection::Absent), req));
        }
        Err(p) => return Ok(report.reject(p.into())),
    };
    let tail_offset = len - tail_len;
    let der = &tail[(blk.der.start - tail_offset) as usize..(blk.der.end - tail_offset) as usize];
    let parsed = match pkcs7::parse(der) {
        Ok(p) => p,
        Err(p) => return Ok(report.reject(p.into())),
    };
    let eocd = block::eocd_before_block(&tail, len, &blk);
    decide(report, req, &mut file, &blk, eocd, &parsed).map_err(|e| match e {
        Decide::Io(source) => read(source),
        Decide::Anchors(a) => McpbSigError::Anchors(a),
    })
}

enum Decide {
    Io(std::io::Error),
    Anchors(AnchorError),
}

fn check_expected(mut report: Report, req: &Request) -> Report {
    if let (Some(expected), Some(found)) = (&req.expected_sha256, &report.zip_sha256)
        && expected != found
    {
        let r = Rejection::ZipDigest {
            expected: expected.clone(),
            found: found.clone(),
        };
        report.problems.push(Problem {
            reason: r.reason(),
            message: r.to_string(),
        });
        report.rejection.get_or_insert(r);
        report.verified = false;
    }
    report
}

fn decide(
    mut report: Report,
    req: &Request,
    file: &mut std::fs::File,
    blk: &Block,
    eocd: Option<(u64, [u8; 2])>,
    parsed: &Parsed,
) -> Result<Report, Decide> {
    report.signer = Some(CertSummary::of(&parsed.signer));
    report.signing_time = parsed.signing_time.map(rfc3339);
    let patches: Vec<Option<(u64, [u8; 2])>> =
        std::iter::once(None).chain(eocd.map(Some)).collect();
    let hashed = hash_prefix(file, blk.start, &patches, Some(parsed.digest)).map_err(Decide::Io)?;
    report.zip_sha256 = Some(hashed.sha256[0].clone());

    match signer_info::verify_signer(
        &parsed.signer,
        parsed.alg,
        &parsed.signed_attributes,
        &parsed.signature,
    ) {
        Ok(true) => {}
        Ok(false) => return Ok(report.reject(Rejection::SignatureDoesNotVerify)),
        // An ECDSA or Ed25519 signature from a key of another kind, or of an unsupported curve.
        Err(e) => {
            let detail = e.to_string();
            return Ok(report.reject(Pkcs7Problem::SignerKey { detail }.into()));
        }
    }
    let Some(form) = hashed
        .signed
        .iter()
        .position(|d| *d == parsed.message_digest)
    else {
        return Ok(report.reject(Rejection::DigestMismatch));
    };
    report.signed_content = Some(if form == 0 {
        SignedContent::Prefix
    } else {
        SignedContent::PrefixEocdRestored
    });
    report.zip_sha256 = Some(hashed.sha256[form].clone());

    let anchors = Anchors::load(&req.anchors).map_err(Decide::Anchors)?;
    report.trust = Some(anchors.describe());
    let now = req.now.timestamp();
    let path = match chain::find_path(&parsed.signer, &parsed.others, &anchors.certs, now) {
        chain::Found::Path(p) => p,
        chain::Found::ExpiredIssuer(c) => return Ok(report.reject(expired(c, "now", now))),
        chain::Found::None(detail) => {
            let detail = detail.unwrap_or_else(|| {
                format!(
                    "nothing in the block leads from its issuer `{}` to an anchor",
                    crate::sigstore::name::rfc4514(parsed.signer.cert.tbs_certificate().issuer())
                )
            });
            return Ok(report.reject(Rejection::NoPath {
                anchors: anchors.describe(),
                detail: Some(detail),
            }));
        }
    };
    if !parsed.signer.valid_at(now) {
        return Ok(report.reject(expired(&parsed.signer, "now", now)));
    }
    if let Some(t) = parsed.signing_time
        && !parsed.signer.valid_at(t)
    {
        return Ok(report.reject(expired(&parsed.signer, "at its signing time", t)));
    }
    let usage = check_leaf_usage(&parsed.signer)
        .map_err(|e| match e {
            SigstoreError::BadCertificate { problem } => problem.to_string(),
            other => other.to_string(),
        })
        .and_then(|()| match chain::unknown_critical(&parsed.signer) {
            Some(oid) => Err(format!("critical extension {oid} not understood")),
            None => Ok(()),
        });
    if let Err(detail) = usage {
        return Ok(report.reject(Rejection::NotCodeSigning { detail }));
    }
    report.chain = path.iter().map(|c| CertSummary::of(c)).collect();
    report.outcome = Outcome::Valid;
    report.verified = true;
    Ok(check_expected(report, req))
}

fn expired(c: &ParsedCert, when: &'static str, at: i64) -> Rejection {
    Rejection::CertificateExpired {
        subject: crate::sigstore::name::rfc4514(c.cert.tbs_certificate().subject()),
        when,
        at: rfc3339(at),
        not_before: rfc3339(c.not_before),
        not_after: rfc3339(c.not_after),
    }
}

/// Streaming digests of one signed-content candidate each.
struct Hashed {
    /// With the signer's digest algorithm, per candidate (empty without one).
    signed: Vec<Vec<u8>>,
    /// SHA-256, per candidate.
    sha256: Vec<Digest>,
}

enum Running {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Running {
    fn new(alg: HashAlg) -> Self {
        match alg {
            HashAlg::Sha256 => Running::Sha256(sha2::Sha256::new()),
            HashAlg::Sha384 => Running::Sha384(sha2::Sha384::new()),
            HashAlg::Sha512 => Running::Sha512(sha2::Sha512::new()),
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Running::Sha256(h) => h.update(b),
            Running::Sha384(h) => h.update(b),
            Running::Sha512(h) => h.update(b),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Running::Sha256(h) => h.finalize().to_vec(),
            Running::Sha384(h) => h.finalize().to_vec(),
            Running::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// Hashes the file's first `end` bytes once per candidate: each candidate replaces two bytes
/// at an offset, or none. Without candidates, the bytes as they are.
fn hash_prefix(
    file: &mut std::fs::File,
    end: u64,
    patches: &[Option<(u64, [u8; 2])>],
    alg: Option<HashAlg>,
) -> std::io::Result<Hashed> {
    let patches: Vec<Option<(u64, [u8; 2])>> = if patches.is_empty() {
        vec![None]
    } else {
        patches.to_vec()
    };
    let mut sha: Vec<Hasher> = patches
        .iter()
        .map(|_| Hasher::new(Algorithm::Sha256))
        .collect();
    // The signer's algorithm, unless it is SHA-256 (then `sha` serves both).
    let mut other: Vec<Running> = match alg {
        Some(a) if a != HashAlg::Sha256 => patches.iter().map(|_| Running::new(a)).collect(),
        _ => Vec::new(),
    };
    file.seek(SeekFrom::Start(0))?;
    let mut reader = (&mut *file).take(end);
    let mut buf = vec![0u8; 256 * 1024];
    let mut off = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        for (i, patch) in patches.iter().enumerate() {
            let patched;
            let bytes = match patch {
                Some((at, two)) if *at + 2 > off && *at < off + n as u64 => {
                    let mut c = chunk.to_vec();
                    for (k, b) in two.iter().enumerate() {
                        if let Some(slot) = (at + k as u64)
                            .checked_sub(off)
                            .and_then(|j| c.get_mut(j as usize))
                        {
                            *slot = *b;
                        }
                    }
                    patched = c;
                    &patched[..]
                }
                _ => chunk,
            };
            sha[i].update(bytes);
            if let Some(h) = other.get_mut(i) {
                h.update(bytes);
            }
        }
        off += n as u64;
    }
    if off != end {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let sha256: Vec<Digest> = sha.into_iter().map(Hasher::finish).collect();
    let signed = match alg {
        None => Vec::new(),
        Some(HashAlg::Sha256) => sha256.iter().map(|d| d.as_bytes().to_vec()).collect(),
        Some(_) => other.into_iter().map(Running::finish).collect(),
    };
    Ok(Hashed { signed, sha256 })
}
