//! Keyless signing through Sigstore: an ephemeral P-256 key, a Fulcio certificate binding it to
//! the signer's OIDC identity, RFC 3161 timestamps when the signing config names a TSA, a Rekor
//! (v1, or v2 with a TSA; v2 logs every signature as a `hashedrekord`) entry for the signature, all assembled into a bundle v0.3
//! (`certificate`, `tlogEntries` with inclusion promise and proof, zero values written).
//! Production (public-good) is the default; `--staging` or a signing-config file point the same
//! code elsewhere, a loopback instance in tests.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use ecdsa::signature::Signer as _;
use ecdsa::signature::hazmat::PrehashSigner as _;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest as _, Sha256};
use spki::EncodePublicKey as _;
/// Re-exported so callers can fill [`KeylessOptions::identity_token`] without a zeroize dependency.
pub use zeroize::Zeroizing;

use super::instance::{client_trust_config_root, public_instance};
pub use super::oidc::ShowLoginUrl;
use super::oidc::{IdentityToken, OidcError, TokenOptions, obtain_token};
use crate::sigstore::bundle::{
    Bundle, Checkpoint, Content, HashOutput, InclusionPromise, InclusionProof, KindVersion, LogId,
    MEDIA_TYPE_V0_3_NEW, MessageSignature, Rfc3161Timestamp, SignerMaterial,
    TimestampVerificationData, TransparencyLogEntry, VerificationMaterial,
};
use crate::sigstore::dsse::{self, Envelope};
use crate::sigstore::fulcio::{FulcioClient, FulcioError, IssuedCertificate, certificate_request};
use crate::sigstore::policy::{IdentityPolicy, Matcher};
use crate::sigstore::rekor_client::{RekorClient, RekorEntry, RekorError, RekorV2Client};
use crate::sigstore::signing_config::{SigningConfig, SigningConfigError};
use crate::sigstore::trust::TrustedRoot;
use crate::sigstore::tsa_client::{TsaClient, TsaError};
use crate::sigstore::{SignerPolicy, SigstoreError, VerifyOptions, verify_bundle};

/// Why keyless signing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeylessError {
    #[error(transparent)]
    Config(#[from] SigningConfigError),
    #[error(transparent)]
    Token(#[from] OidcError),
    #[error("certificate from fulcio")]
    Fulcio(#[from] FulcioError),
    #[error("transparency log entry from rekor")]
    Rekor(#[from] RekorError),
    #[error("the signing config selects the rekor v2 log {log} but no timestamp authority")]
    RekorV2WithoutTsa { log: String },
    #[error(transparent)]
    Timestamp(crate::sigstore::tsa_client::TsaError),
    #[error("ephemeral key: {problem}")]
    Key { problem: EphemeralKeyProblem },
    #[error("cannot load the trusted root")]
    TrustedRoot(#[source] SigstoreError),
    #[error("the bundle just signed does not verify against the trusted root; refusing it")]
    SelfCheck(#[source] SigstoreError),
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] crate::fsutil::WriteError),
    #[error("`{}` is not an in-toto statement: {problem}", path.display())]
    NotAStatement {
        path: PathBuf,
        problem: StatementProblem,
    },
}

impl KeylessError {
    /// A stable kebab-case code for reports and scenario files; a failed self-check reports the
    /// verifier's code.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Config(e) => e.reason_code(),
            Self::Token(e) => e.reason_code(),
            Self::Fulcio(FulcioError::KeyMismatch { .. }) => "fulcio-key-mismatch",
            Self::Fulcio(FulcioError::Answer { .. }) => "fulcio-bad-answer",
            Self::Fulcio(_) => "fulcio-request-failed",
            Self::Rekor(RekorError::Mismatch { .. }) => "rekor-entry-mismatch",
            Self::Rekor(RekorError::Answer { .. }) => "rekor-bad-answer",
            Self::Rekor(_) => "rekor-request-failed",
            Self::Key { .. } => "key",
            Self::Timestamp(_) => "tsa-request-failed",
            Self::RekorV2WithoutTsa { .. } => "signing-config-no-service",
            Self::TrustedRoot(e) | Self::SelfCheck(e) => e.reason_code().as_str(),
            Self::Write(crate::fsutil::WriteError::Exists { .. }) => "output-exists",
            Self::Read { .. } | Self::Write(_) => "io",
            Self::NotAStatement { .. } => "not-a-statement",
        }
    }
}

/// DSSE payload type of in-toto statements.
pub use crate::sigstore::dsse::IN_TOTO_PAYLOAD_TYPE;

pub use super::bundle_file::{StatementProblem, sign_bundle_file};

/// What went wrong with the ephemeral signing key.
#[derive(Debug)]
#[non_exhaustive]
pub enum EphemeralKeyProblem {
    NoRandomness(getrandom::Error),
    NoValidScalar,
    PublicKey(spki::Error),
    CertificateRequest(der::Error),
    Sign(p256::ecdsa::Error),
    Envelope(serde_json::Error),
}

impl std::fmt::Display for EphemeralKeyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoRandomness(e) => write!(f, "no randomness: {e}"),
            Self::NoValidScalar => f.write_str("could not draw a valid p-256 scalar"),
            Self::PublicKey(e) => write!(f, "encoding the public key: {e}"),
            Self::CertificateRequest(e) => write!(f, "building the certificate request: {e}"),
            Self::Sign(e) => write!(f, "signing the digest: {e}"),
            Self::Envelope(e) => write!(f, "cannot serialize envelope: {e}"),
        }
    }
}

/// How to reach Sigstore and who signs. `Debug` redacts the token.
#[derive(Default)]
pub struct KeylessOptions {
    /// Use the staging instance instead of production.
    pub staging: bool,
    /// A signing config (or ClientTrustConfig) file; overrides `staging`.
    pub signing_config: Option<PathBuf>,
    /// The trusted root every new bundle is checked against before it is returned. Defaults:
    /// the embedded production or staging root, or the one inside a ClientTrustConfig file; a
    /// bare signing-config file without this gets no check.
    pub trusted_root: Option<PathBuf>,
    /// `--identity-token`.
    pub identity_token: Option<Zeroizing<String>>,
    /// `--identity-token-file`: a file holding the token, or `-` for standard input.
    pub identity_token_file: Option<PathBuf>,
    /// Allows the interactive browser login as a last resort, showing its URL through this
    /// (the caller prints it); `None` never starts one.
    pub interactive_login: Option<ShowLoginUrl>,
    /// Bound on each network call; default 60 s.
    pub timeout: Option<Duration>,
}

impl std::fmt::Debug for KeylessOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeylessOptions")
            .field("staging", &self.staging)
            .field("signing_config", &self.signing_config)
            .field("trusted_root", &self.trusted_root)
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .field("identity_token_file", &self.identity_token_file)
            .field("interactive_login", &self.interactive_login.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Time spent in each part of one signing operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignTimings {
    pub keygen: Duration,
    pub fulcio: Duration,
    pub sign: Duration,
    pub rekor: Duration,
    /// Asking the timestamp authorities (zero when the config names none).
    pub tsa: Duration,
    /// Verifying the new bundle against the trusted root (zero without one).
    pub self_check: Duration,
    pub total: Duration,
}

/// Signs with an identity token through one Fulcio and one Rekor.
pub struct KeylessSigner {
    token: IdentityToken,
    fulcio: FulcioClient,
    /// RFC 3161 timestamp authorities to ask, when the signing config names any.
    tsa: Vec<TsaClient>,
    rekor: Vec<Log>,
    trusted_root: Option<TrustedRoot>,
}

impl std::fmt::Debug for KeylessSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeylessSigner")
            .field("token", &self.token)
            .field("fulcio", &self.fulcio.signing_cert_url())
            .field(
                "rekor",
                &self.rekor.iter().map(Log::entries_url).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeylessSigner {
    /// Resolves the signing config (file, staging or production), picks services valid now and
    /// obtains an identity token from the sources `opts` allows.
    pub fn from_options(opts: &KeylessOptions) -> Result<Self, KeylessError> {
        let public = match &opts.signing_config {
            Some(_) => None,
            None => Some(public_instance(
                opts.staging,
                crate::sigstore::tuf::cache_root(),
            )?),
        };
        let config = match (&opts.signing_config, &public) {
            (Some(path), _) => SigningConfig::from_file(path)?,
            (None, Some((config, _))) => config.clone(),
            (None, None) => SigningConfig::production()?,
        };
        let timeout = opts.timeout.unwrap_or(Duration::from_secs(60));
        let selected = config.select(Utc::now())?;
        let mut token_opts = TokenOptions::new();
        match (&opts.identity_token, &opts.identity_token_file) {
            (Some(_), Some(_)) => return Err(OidcError::TwoTokens.into()),
            (Some(t), None) => token_opts.explicit = Some(t.clone()),
            (None, Some(path)) => {
                token_opts.explicit = Some(super::oidc::read_token_file(path)?);
                token_opts.explicit_source = "--identity-token-file";
            }
            (None, None) => {}
        }
        token_opts.interactive_login = opts.interactive_login.clone();
        token_opts.oidc_issuer = selected.oidc.as_ref().map(|s| s.url.clone());
        token_opts.timeout = timeout;
        let token = obtain_token(&token_opts)?;
        // Fail before announcing who signs, not after the first network call.
        token.check_unexpired(Utc::now())?;
        let root = match (&opts.trusted_root, &opts.signing_config, public) {
            (Some(path), _, _) => Some(TrustedRoot::from_file(path)),
            (None, Some(path), _) => client_trust_config_root(path),
            (None, None, Some((_, root))) => Some(Ok(root)),
            (None, None, None) => Some(TrustedRoot::production()),
        }
        .transpose()
        .map_err(KeylessError::TrustedRoot)?;
        let signer = Self::new(token, &config, timeout)?;
        Ok(match root {
            Some(root) => signer.with_trusted_root(root),
            None => signer,
        })
    }

    /// Checks every bundle against `root` before returning it, so a bundle that verifiers would
    /// refuse (untrusted CA, bad SCT, SET or inclusion proof) is never handed out.
    pub fn with_trusted_root(mut self, root: TrustedRoot) -> Self {
        self.trusted_root = Some(root);
        self
    }

    fn self_check(&self, bundle: Bundle) -> Result<Bundle, KeylessError> {
        let Some(root) = &self.trusted_root else {
            return Ok(bundle);
        };
        // Any identity and issuer: Fulcio decides those (a federated issuer may differ from the
        // token's `iss`); this check is about the cryptographic evidence.
        let any = || Matcher::regex(".*").unwrap_or_else(|_| unreachable!());
        let opts = VerifyOptions {
            trusted_root: Some(root),
            signer: SignerPolicy::Identity(IdentityPolicy {
                identity: any(),
                issuer: any(),
                extensions: Vec::new(),
            }),
            require_transparency: true,
        };
        verify_bundle(&bundle, None, &opts).map_err(KeylessError::SelfCheck)?;
        Ok(bundle)
    }

    /// A signer for `token` against the services `config` selects now.
    pub fn new(
        token: IdentityToken,
        config: &SigningConfig,
        timeout: Duration,
    ) -> Result<Self, KeylessError> {
        let selected = config.select(Utc::now())?;
        // A v2 entry carries no time; without a timestamp the certificate could not be checked.
        if selected.tsa.is_empty()
            && let Some(v2) = selected.rekor.iter().find(|s| s.major_api_version == 2)
        {
            return Err(KeylessError::RekorV2WithoutTsa {
                log: v2.url.clone(),
            });
        }
        Ok(Self {
            token,
            fulcio: FulcioClient::new(&selected.ca.url, timeout),
            tsa: selected
                .tsa
                .iter()
                .map(|s| TsaClient::new(&s.url, timeout))
                .collect(),
            // Every log the selector asks for gets the entry (`select` never returns none).
            rekor: selected
                .rekor
                .iter()
                .map(|s| {
                    if s.major_api_version == 2 {
                        Log::V2(RekorV2Client::new(&s.url, timeout))
                    } else {
                        Log::V1(RekorClient::new(&s.url, timeout))
                    }
                })
                .collect(),
            trusted_root: None,
        })
    }

    /// Who the certificate will most likely name (for telling the user).
    pub fn expected_identity(&self) -> String {
        self.token.expected_identity()
    }

    pub fn issuer(&self) -> &str {
        &self.token.claims().issuer
    }

    /// Signs `payload` as a DSSE envelope and logs it: Rekor v1 kind `dsse` 0.0.1; Rekor v2 kind
    /// `hashedrekord` 0.0.2 over sha256 of the envelope's PAE, with the envelope's signature.
    pub fn sign_dsse_bundle(
        &self,
        payload_type: &str,
        payload: &[u8],
    ) -> Result<(Bundle, SignTimings), KeylessError> {
        let start = Instant::now();
        let (key, cert, mut t) = self.certify()?;
        let t_sign = Instant::now();
        let pae = dsse::pae(payload_type, payload);
        let sig: Signature = key.sign(&pae);
        // Rekor v2 logs a DSSE envelope as a hashedrekord over the PAE digest (rekor-v2 spec
        // 6.1.4), as cosign, sigstore-go, sigstore-python and sigstore-js do.
        let pae_digest: [u8; 32] = Sha256::digest(&pae).into();
        let envelope = Envelope {
            payload: payload.to_vec(),
            payload_type: payload_type.to_owned(),
            signatures: vec![dsse::Signature {
                sig: sig.to_der().as_bytes().to_vec(),
                keyid: String::new(),
            }],
        };
        // Rekor hashes exactly the envelope string it is given; give it the bundle's own form.
        let envelope_json = serde_json::to_string(&envelope).map_err(|e| KeylessError::Key {
            problem: EphemeralKeyProblem::Envelope(e),
        })?;
        t.sign = t_sign.elapsed();
        let t_tsa = Instant::now();
        let timestamps = self.timestamps(sig.to_der().as_bytes())?;
        t.tsa = t_tsa.elapsed();
        let t_rekor = Instant::now();
        let entries = self
            .rekor
            .iter()
            .map(|log| match log {
                Log::V1(r) => r.log_dsse(&envelope_json, &cert.leaf_pem()).map(tlog_entry),
                Log::V2(r) => {
                    r.log_hashedrekord(&pae_digest, sig.to_der().as_bytes(), &cert.leaf_der)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        t.rekor = t_rekor.elapsed();
        let t_check = Instant::now();
        let bundle = self.self_check(assemble(
            &cert,
            entries,
            timestamps,
            Content::DsseEnvelope(envelope),
        ))?;
        t.self_check = t_check.elapsed();
        t.total = start.elapsed();
        Ok((bundle, t))
    }

    /// Signs an artifact's bytes as a message signature (Rekor kind `hashedrekord`).
    pub fn sign_artifact_bundle(
        &self,
        artifact: &[u8],
    ) -> Result<(Bundle, SignTimings), KeylessError> {
        let digest: [u8; 32] = Sha256::digest(artifact).into();
        self.sign_digest_bundle(&digest)
    }

    /// Signs a precomputed SHA-256 digest as a message signature.
    pub fn sign_digest_bundle(
        &self,
        sha256: &[u8; 32],
    ) -> Result<(Bundle, SignTimings), KeylessError> {
        let start = Instant::now();
        let (key, cert, mut t) = self.certify()?;
        let t_sign = Instant::now();
        let sig: Signature = key.sign_prehash(sha256).map_err(|e| KeylessError::Key {
            problem: EphemeralKeyProblem::Sign(e),
        })?;
        let sig = sig.to_der().as_bytes().to_vec();
        t.sign = t_sign.elapsed();
        let t_tsa = Instant::now();
        let timestamps = self.timestamps(&sig)?;
        t.tsa = t_tsa.elapsed();
        let t_rekor = Instant::now();
        let entries = self
            .rekor
            .iter()
            .map(|log| match log {
                Log::V1(r) => r
                    .log_hashedrekord(sha256, &sig, &cert.leaf_pem())
                    .map(tlog_entry),
                Log::V2(r) => r.log_hashedrekord(sha256, &sig, &cert.leaf_der),
            })
            .collect::<Result<Vec<_>, _>>()?;
        t.rekor = t_rekor.elapsed();
        let content = Content::MessageSignature(MessageSignature {
            message_digest: Some(HashOutput {
                algorithm: "SHA2_256".to_owned(),
                digest: sha256.to_vec(),
            }),
            signature: sig,
        });
        let t_check = Instant::now();
        let bundle = self.self_check(assemble(&cert, entries, timestamps, content))?;
        t.self_check = t_check.elapsed();
        t.total = start.elapsed();
        Ok((bundle, t))
    }

    /// RFC 3161 timestamps over `signature` from every selected authority. A configured
    /// authority that fails makes signing fail: the caller asked for its evidence.
    fn timestamps(&self, signature: &[u8]) -> Result<Vec<Vec<u8>>, KeylessError> {
        self.tsa
            .iter()
            .map(|c| c.timestamp(signature).map_err(KeylessError::from))
            .collect()
    }

    /// A fresh key and a certificate for it. The key lives only for this one signature.
    fn certify(&self) -> Result<(SigningKey, IssuedCertificate, SignTimings), KeylessError> {
        self.token.check_unexpired(Utc::now())?;
        let mut t = SignTimings::default();
        let t_key = Instant::now();
        let key = ephemeral_key()?;
        let spki = key
            .verifying_key()
            .to_public_key_der()
            .map_err(|e| KeylessError::Key {
                problem: EphemeralKeyProblem::PublicKey(e),
            })?;
        let csr = certificate_request(&key).map_err(|e| KeylessError::Key {
            problem: EphemeralKeyProblem::CertificateRequest(e),
        })?;
        t.keygen = t_key.elapsed();
        let t_fulcio = Instant::now();
        let cert = self
            .fulcio
            .request_certificate(self.token.secret(), &csr, spki.as_bytes())?;
        t.fulcio = t_fulcio.elapsed();
        Ok((key, cert, t))
    }
}

impl super::Signer for KeylessSigner {
    fn sign_dsse(&self, payload_type: &str, payload: &[u8]) -> Result<Bundle, super::SignError> {
        self.sign_dsse_bundle(payload_type, payload)
            .map(|(bundle, _)| bundle)
            .map_err(|e| super::SignError::Backend(crate::error_chain(&e)))
    }
}

/// A transparency log, by API version.
enum Log {
    V1(RekorClient),
    V2(RekorV2Client),
}

impl Log {
    fn entries_url(&self) -> String {
        match self {
            Self::V1(r) => r.entries_url(),
            Self::V2(r) => r.entries_url(),
        }
    }
}

impl From<TsaError> for KeylessError {
    fn from(e: TsaError) -> Self {
        KeylessError::Timestamp(e)
    }
}

fn ephemeral_key() -> Result<SigningKey, KeylessError> {
    // A uniformly random 32-byte string is a valid P-256 scalar except with negligible
    // probability; retry a few times rather than loop without bound.
    for _ in 0..8 {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut()).map_err(|e| KeylessError::Key {
            problem: EphemeralKeyProblem::NoRandomness(e),
        })?;
        if let Ok(key) = SigningKey::from_slice(bytes.as_ref()) {
            return Ok(key);
        }
    }
    Err(KeylessError::Key {
        problem: EphemeralKeyProblem::NoValidScalar,
    })
}

/// The bundle v0.3 for a certificate, log entries, timestamps and the signed content.
fn assemble(
    cert: &IssuedCertificate,
    entries: Vec<TransparencyLogEntry>,
    timestamps: Vec<Vec<u8>>,
    content: Content,
) -> Bundle {
    Bundle {
        media_type: MEDIA_TYPE_V0_3_NEW.to_owned(),
        verification_material: VerificationMaterial {
            signer: SignerMaterial::Certificate(cert.leaf_der.clone()),
            tlog_entries: entries,
            timestamp_verification_data: Some(TimestampVerificationData {
                rfc3161_timestamps: timestamps
                    .into_iter()
                    .map(|signed_timestamp| Rfc3161Timestamp { signed_timestamp })
                    .collect(),
            }),
        },
        content,
    }
}

fn tlog_entry(entry: RekorEntry) -> TransparencyLogEntry {
    TransparencyLogEntry {
        log_index: entry.log_index,
        log_id: LogId {
            key_id: entry.log_id,
        },
        kind_version: KindVersion {
            kind: entry.kind,
            version: entry.api_version,
        },
        integrated_time: entry.integrated_time,
        inclusion_promise: Some(InclusionPromise {
            signed_entry_timestamp: entry.signed_entry_timestamp,
        }),
        inclusion_proof: entry.inclusion_proof.map(|p| InclusionProof {
            log_index: p.log_index,
            root_hash: p.root_hash,
            tree_size: p.tree_size,
            hashes: p.hashes,
            checkpoint: Some(Checkpoint {
                envelope: p.checkpoint,
            }),
        }),
        canonicalized_body: entry.body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_debug_redacts_the_token() {
        let opts = KeylessOptions {
            identity_token: Some(Zeroizing::new("secret.token.value".to_owned())),
            ..KeylessOptions::default()
        };
        let shown = format!("{opts:?}");
        assert!(!shown.contains("secret.token.value"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn ephemeral_keys_differ() -> Result<(), KeylessError> {
        let a = ephemeral_key()?;
        let b = ephemeral_key()?;
        assert_ne!(a.verifying_key(), b.verifying_key());
        Ok(())
    }
}
