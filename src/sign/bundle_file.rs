//! The Sigstore conformance `sign-bundle` contract over [`KeylessSigner`]: a file signed as a
//! message signature (hashed as a stream), or an in-toto statement (checked to be one) signed as
//! a DSSE envelope, and the bundle written atomically.

use sha2::{Digest as _, Sha256};

use super::keyless::{
    IN_TOTO_PAYLOAD_TYPE, KeylessError, KeylessOptions, KeylessSigner, SignTimings,
};

/// The Sigstore conformance `sign-bundle` contract: signs `input` (a file as a message
/// signature, or with `in_toto` an in-toto statement as a DSSE envelope) and writes the bundle
/// to `bundle_out` atomically; an existing file is replaced only with `overwrite`.
pub fn sign_bundle_file(
    opts: &KeylessOptions,
    in_toto: bool,
    input: &std::path::Path,
    bundle_out: &std::path::Path,
    overwrite: bool,
) -> Result<SignTimings, KeylessError> {
    let read_err = |source| KeylessError::Read {
        path: input.to_owned(),
        source,
    };
    // Checked before signing too, so a refusal does not cost a log entry.
    if !overwrite && std::fs::symlink_metadata(bundle_out).is_ok() {
        return Err(crate::fsutil::WriteError::Exists {
            path: bundle_out.to_owned(),
        }
        .into());
    }
    let (bundle, timings) = if in_toto {
        let bytes = crate::fsutil::read_limited(input, crate::json::MAX_DOCUMENT_BYTES as u64)
            .map_err(|e| KeylessError::NotAStatement {
                path: input.to_owned(),
                problem: StatementProblem::Unreadable(e),
            })?;
        check_statement(input, &bytes)?;
        let signer = KeylessSigner::from_options(opts)?;
        signer.sign_dsse_bundle(IN_TOTO_PAYLOAD_TYPE, &bytes)?
    } else {
        // Artifacts can be large: hash as a stream, sign the digest.
        let mut file = std::fs::File::open(input).map_err(read_err)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match std::io::Read::read(&mut file, &mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_err(e)),
            };
            hasher.update(&buf[..n]);
        }
        let digest: [u8; 32] = hasher.finalize().into();
        let signer = KeylessSigner::from_options(opts)?;
        signer.sign_digest_bundle(&digest)?
    };
    crate::fsutil::write_atomic(bundle_out, &bundle.to_json_pretty(), 0o644, overwrite)?;
    Ok(timings)
}

/// Why a file given to `sign-bundle --in-toto` is not an in-toto statement.
#[derive(Debug)]
#[non_exhaustive]
pub enum StatementProblem {
    Unreadable(crate::fsutil::ReadError),
    NotJson(serde_json::Error),
    Type { found: String },
    NoSubjects,
}

impl std::fmt::Display for StatementProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(e) => write!(f, "{e}"),
            Self::NotJson(e) => write!(f, "not json: {e}"),
            Self::Type { found } => write!(f, "`_type` is `{found}`"),
            Self::NoSubjects => f.write_str("no `subject` list"),
        }
    }
}

/// Refuses to sign something that is not an in-toto statement under the in-toto payload type:
/// verifiers would read it as one.
fn check_statement(path: &std::path::Path, bytes: &[u8]) -> Result<(), KeylessError> {
    let bad = |problem: StatementProblem| KeylessError::NotAStatement {
        path: path.to_owned(),
        problem,
    };
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(StatementProblem::NotJson(e)))?;
    let ty = v.get("_type").and_then(|t| t.as_str()).unwrap_or_default();
    if !ty.starts_with("https://in-toto.io/Statement/") {
        return Err(bad(StatementProblem::Type {
            found: ty.to_owned(),
        }));
    }
    if !v.get("subject").is_some_and(|s| s.is_array()) {
        return Err(bad(StatementProblem::NoSubjects));
    }
    Ok(())
}
