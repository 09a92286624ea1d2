//! The TLS client configuration for a remote endpoint: the system's roots, or the manifest's
//! pinned CA certificates, and/or its pinned key digests (spec/manifest-v1.md, "Remote servers").

use std::sync::{Arc, Mutex};

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;

use crate::digest::Digest;
use crate::manifest::remote::{RemoteProblem, TlsIdentity, spki_digest};

/// Why the endpoint's certificate was refused, in our words (rustls' error says only
/// "application verification failure" for a key that is not pinned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsRefusal {
    /// The endpoint's key is none of the pinned digests.
    KeyNotPinned { presented: String },
    /// The chain or host name check failed (rustls' message).
    Certificate { why: String },
}

impl std::fmt::Display for TlsRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsRefusal::KeyNotPinned { presented } => write!(
                f,
                "the endpoint presented key {presented}, which is not one of the pinned spkiDigests"
            ),
            TlsRefusal::Certificate { why } => write!(f, "its certificate was refused: {why}"),
        }
    }
}

/// Verifies what a pinned TLS identity says; remembers the last refusal for the error report.
#[derive(Debug)]
pub struct PinnedVerifier {
    /// Chain and host name checks against the pinned CAs; `None` when only keys are pinned.
    chain: Option<Arc<WebPkiServerVerifier>>,
    spki: Vec<Digest>,
    provider: Arc<CryptoProvider>,
    last_refusal: Mutex<Option<TlsRefusal>>,
}

impl PinnedVerifier {
    fn refuse(&self, r: TlsRefusal) -> rustls::Error {
        if let Ok(mut last) = self.last_refusal.lock() {
            *last = Some(r.clone());
        }
        match r {
            TlsRefusal::KeyNotPinned { .. } => rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ),
            TlsRefusal::Certificate { why } => rustls::Error::General(why),
        }
    }

    /// The reason the last handshake was refused, if it was refused here; taken, so that a
    /// later failure is never explained by an old refusal.
    pub fn last_refusal(&self) -> Option<TlsRefusal> {
        self.last_refusal.lock().ok().and_then(|mut l| l.take())
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(chain) = &self.chain {
            chain
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|e| self.refuse(TlsRefusal::Certificate { why: e.to_string() }))?;
        }
        if !self.spki.is_empty() {
            let presented = spki_digest(end_entity.as_ref()).map_err(|why| {
                self.refuse(TlsRefusal::Certificate {
                    why: format!("unreadable certificate: {why}"),
                })
            })?;
            if !self.spki.contains(&presented) {
                return Err(self.refuse(TlsRefusal::KeyNotPinned {
                    presented: presented.to_string(),
                }));
            }
            if self.chain.is_none() {
                // The key is the identity (no chain, no host name: a private endpoint's
                // certificate may be self-issued); it must still be a certificate rustls reads.
                ParsedCertificate::try_from(end_entity)
                    .map_err(|e| self.refuse(TlsRefusal::Certificate { why: e.to_string() }))?;
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The rustls client configuration for an endpoint: the pinned identity when there is one,
/// else the platform's roots. Also returns the pinned verifier (to explain a refusal).
pub fn client_config(
    tls: Option<&TlsIdentity>,
) -> Result<(rustls::ClientConfig, Option<Arc<PinnedVerifier>>), RemoteProblem> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| RemoteProblem::Unparsable {
            url: String::new(),
            why: e.to_string(),
        })?;
    let Some(tls) = tls else {
        use rustls_platform_verifier::BuilderVerifierExt as _;
        let config = builder
            .with_platform_verifier()
            .map_err(|e| RemoteProblem::Unparsable {
                url: String::new(),
                why: format!("cannot load the system's roots: {e}"),
            })?
            .with_no_client_auth();
        return Ok((config, None));
    };
    let cas = tls.check()?;
    let chain = if cas.is_empty() {
        None
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for (index, der) in cas.into_iter().enumerate() {
            roots
                .add(CertificateDer::from(der))
                .map_err(|e| RemoteProblem::BadCaCertificate {
                    index,
                    why: e.to_string(),
                })?;
        }
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| RemoteProblem::BadCaCertificate {
                    index: 0,
                    why: e.to_string(),
                })?,
        )
    };
    let verifier = Arc::new(PinnedVerifier {
        chain,
        spki: tls.spki_digests.clone(),
        provider,
        last_refusal: Mutex::new(None),
    });
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    Ok((config, Some(verifier)))
}
