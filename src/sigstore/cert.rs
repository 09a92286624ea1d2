//! X.509 for Sigstore: parsing certificates, verifying a Fulcio leaf's chain to a trusted
//! certificate authority, leaf usage checks, embedded SCTs (RFC 6962 precertificate form),
//! subject alternative names and Fulcio's OIDC extensions (OIDs 1.3.6.1.4.1.57264.1.x).

use std::collections::BTreeMap;

use crate::crypto::Sha256;
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, Utf8StringRef};
use der::{Any, Decode as _, Encode as _, Tag, TagNumber, Tagged as _};
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName};

use super::error::{CertificateProblem, ChainProblem, SctProblem, SigstoreError};
use super::keys::{HashAlg, PublicKey};
use super::oid::{
    ECDSA_SHA256, ECDSA_SHA384, ECDSA_SHA512, ED25519, EKU_CODE_SIGNING, FULCIO_ARC, RSA_SHA256,
    RSA_SHA384, RSA_SHA512, SCT_LIST,
};
use super::trust::{CertificateAuthority, LogInstance, TrustedRoot};

/// A certificate together with the facts verification needs from it.
#[derive(Debug, Clone)]
pub struct ParsedCert {
    pub der: Vec<u8>,
    pub cert: Certificate,
    /// The exact TBSCertificate bytes as received (what the issuer signed).
    pub tbs_der: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
}

fn chain_err(problem: ChainProblem) -> SigstoreError {
    SigstoreError::BadCertificateChain { problem }
}

fn cert_err(problem: CertificateProblem) -> SigstoreError {
    SigstoreError::BadCertificate { problem }
}

impl ParsedCert {
    /// Parses one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, SigstoreError> {
        let cert = Certificate::from_der(der)
            .map_err(|error| cert_err(CertificateProblem::Undecodable { error }))?;
        // Keep the signed bytes verbatim instead of trusting a re-encoding to reproduce them.
        let outer = Vec::<Any>::from_der(der)
            .map_err(|error| cert_err(CertificateProblem::Undecodable { error }))?;
        let tbs_der = outer
            .first()
            .ok_or_else(|| cert_err(CertificateProblem::Empty))?
            .to_der()
            .map_err(|error| cert_err(CertificateProblem::TbsUnencodable { error }))?;
        let v = cert.tbs_certificate().validity();
        let not_before = secs(v.not_before.to_unix_duration().as_secs())?;
        let not_after = secs(v.not_after.to_unix_duration().as_secs())?;
        Ok(Self {
            der: der.to_vec(),
            cert,
            tbs_der,
            not_before,
            not_after,
        })
    }

    /// The subject public key.
    pub fn public_key(&self) -> Result<PublicKey, SigstoreError> {
        let spki = self.spki_der()?;
        PublicKey::from_spki_der(&spki)
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Result<Vec<u8>, SigstoreError> {
        self.cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|error| cert_err(CertificateProblem::PublicKeyUnencodable { error }))
    }

    /// True when `t` (Unix seconds) lies within notBefore..=notAfter.
    pub fn valid_at(&self, t: i64) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    /// True for a self-issued certificate whose own key verifies its signature.
    pub fn is_self_signed(&self) -> bool {
        let tbs = self.cert.tbs_certificate();
        tbs.issuer() == tbs.subject() && verify_signed_by(self, self).is_ok()
    }

    /// True when basicConstraints says this is a CA.
    pub fn is_ca(&self) -> bool {
        matches!(
            self.cert
                .tbs_certificate()
                .get_extension::<BasicConstraints>(),
            Ok(Some((_, BasicConstraints { ca: true, .. })))
        )
    }

    /// Subject alternative names rendered as strings (URI, email, or UTF-8 otherName).
    pub fn subject_alt_names(&self) -> Result<Vec<String>, SigstoreError> {
        let Some((_, san)) = self
            .cert
            .tbs_certificate()
            .get_extension::<SubjectAltName>()
            .map_err(|error| cert_err(CertificateProblem::SubjectAltNameUndecodable { error }))?
        else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for name in san.0 {
            match name {
                GeneralName::UniformResourceIdentifier(s)
                | GeneralName::Rfc822Name(s)
                | GeneralName::DnsName(s) => out.push(s.as_str().to_owned()),
                GeneralName::OtherName(o) => {
                    if let Ok(s) = o.value.decode_as::<String>() {
                        out.push(s);
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Fulcio extensions by their last OID arc (`1` = issuer v1, `8` = issuer v2, ...).
    /// Arcs 1 to 6 hold raw strings, later ones DER UTF8String.
    pub fn fulcio_extensions(&self) -> Result<BTreeMap<u32, String>, SigstoreError> {
        let mut out = BTreeMap::new();
        let Some(exts) = self.cert.tbs_certificate().extensions() else {
            return Ok(out);
        };
        for ext in exts {
            let oid = ext.extn_id;
            let Some(arc) = oid
                .to_string()
                .strip_prefix(FULCIO_ARC)
                .and_then(|a| a.parse::<u32>().ok())
            else {
                continue;
            };
            let raw = ext.extn_value.as_bytes();
            let value = if arc <= 6 {
                String::from_utf8(raw.to_vec())
                    .map_err(|_| cert_err(CertificateProblem::FulcioExtensionNotUtf8 { oid }))?
            } else {
                Utf8StringRef::from_der(raw)
                    .map_err(|error| {
                        cert_err(CertificateProblem::FulcioExtensionNotUtf8String { oid, error })
                    })?
                    .as_str()
                    .to_owned()
            };
            if out.insert(arc, value).is_some() {
                return Err(cert_err(CertificateProblem::FulcioExtensionRepeated {
                    oid,
                }));
            }
        }
        Ok(out)
    }
}

fn secs(s: u64) -> Result<i64, SigstoreError> {
    i64::try_from(s).map_err(|_| cert_err(CertificateProblem::TimeOutOfRange { seconds: s }))
}

/// The hash a certificate signature algorithm names (`None` for Ed25519).
fn signature_hash(alg: &ObjectIdentifier) -> Result<Option<HashAlg>, SigstoreError> {
    match *alg {
        ECDSA_SHA256 => Ok(Some(HashAlg::Sha256)),
        ECDSA_SHA384 => Ok(Some(HashAlg::Sha384)),
        ECDSA_SHA512 => Ok(Some(HashAlg::Sha512)),
        ED25519 => Ok(None),
        other => Err(chain_err(ChainProblem::UnsupportedSignatureAlgorithm {
            oid: other,
        })),
    }
}

/// Checks that `issuer` issued `child`: names chain and the issuer's key verifies the signature.
pub fn verify_signed_by(child: &ParsedCert, issuer: &ParsedCert) -> Result<(), SigstoreError> {
    if child.cert.tbs_certificate().issuer() != issuer.cert.tbs_certificate().subject() {
        return Err(chain_err(ChainProblem::IssuerMismatch {
            issuer: child.cert.tbs_certificate().issuer().clone(),
            expected: issuer.cert.tbs_certificate().subject().clone(),
        }));
    }
    let sig = child
        .cert
        .signature()
        .as_bytes()
        .ok_or_else(|| chain_err(ChainProblem::SignatureUnusedBits))?;
    let alg = child.cert.signature_algorithm().oid;
    if matches!(alg, RSA_SHA256 | RSA_SHA384 | RSA_SHA512) {
        // Some private Fulcio deployments run RSA CAs; RSA is accepted for CA signatures only.
        let hash = match alg {
            RSA_SHA256 => HashAlg::Sha256,
            RSA_SHA384 => HashAlg::Sha384,
            _ => HashAlg::Sha512,
        };
        return verify_rsa(&issuer.spki_der()?, hash, &child.tbs_der, sig).map_err(|_| {
            chain_err(ChainProblem::RsaSignatureDoesNotVerify {
                subject: child.cert.tbs_certificate().subject().clone(),
                issuer: issuer.cert.tbs_certificate().subject().clone(),
            })
        });
    }
    let key = issuer.public_key()?;
    let result = match signature_hash(&alg)? {
        Some(h) => key.verify_with_hash(&child.tbs_der, sig, h),
        None => key.verify(&child.tbs_der, sig),
    };
    result.map_err(|_| {
        chain_err(ChainProblem::SignatureDoesNotVerify {
            subject: child.cert.tbs_certificate().subject().clone(),
            issuer: issuer.cert.tbs_certificate().subject().clone(),
        })
    })
}

/// RSA PKCS#1 v1.5 verification, for CA and timestamp authority keys only.
pub(crate) fn verify_rsa(spki: &[u8], hash: HashAlg, msg: &[u8], sig: &[u8]) -> Result<(), ()> {
    crate::crypto::provider()
        .verify_rsa_pkcs1(spki, hash, msg, sig)
        .map_err(|_| ())
}

/// A verified path from a leaf to a trusted certificate authority.
#[derive(Debug)]
pub struct VerifiedChain<'r> {
    pub authority: &'r CertificateAuthority,
    /// The certificate that signed the leaf.
    pub issuer: ParsedCert,
}

/// Finds a trusted certificate authority (valid when the leaf was issued) whose chain
/// verifies the leaf, link by link up to the authority's root.
pub fn verify_chain<'r>(
    leaf: &ParsedCert,
    authorities: &'r [CertificateAuthority],
) -> Result<VerifiedChain<'r>, SigstoreError> {
    let mut last = chain_err(ChainProblem::NoAuthority {
        issuer: leaf.cert.tbs_certificate().issuer().clone(),
    });
    for ca in authorities {
        match verify_chain_to(leaf, ca) {
            Ok(issuer) => {
                return Ok(VerifiedChain {
                    authority: ca,
                    issuer,
                });
            }
            Err(e @ SigstoreError::BadCertificateChain { .. }) => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

fn verify_chain_to(
    leaf: &ParsedCert,
    ca: &CertificateAuthority,
) -> Result<ParsedCert, SigstoreError> {
    // The leaf against the authority's first certificate before the authority's own links:
    // of the several authorities a root lists, only the issuing one is checked.
    let first = ca
        .parsed_chain()
        .map_err(|p| chain_err(ChainProblem::Authority(p)))?
        .first()
        .ok_or_else(|| chain_err(ChainProblem::EmptyTrustedChain))?;
    verify_signed_by(leaf, first)?;
    let chain = ca
        .checked_chain()
        .map_err(|p| chain_err(ChainProblem::Authority(p)))?;
    if !ca.valid_for.contains(leaf.not_before) {
        return Err(chain_err(ChainProblem::OutsideAuthorityValidity {
            issued_at: leaf.not_before,
            authority: ca.uri.clone(),
        }));
    }
    for c in chain {
        if !c.is_ca() {
            return Err(chain_err(ChainProblem::ChainCertificateNotCa {
                subject: c.cert.tbs_certificate().subject().clone(),
            }));
        }
        if !c.valid_at(leaf.not_before) {
            return Err(chain_err(ChainProblem::ChainCertificateNotValid {
                subject: c.cert.tbs_certificate().subject().clone(),
                issued_at: leaf.not_before,
            }));
        }
    }
    Ok(first.clone())
}

/// Checks that a leaf may sign code: not a CA, digitalSignature usage, codeSigning EKU.
pub fn check_leaf_usage(leaf: &ParsedCert) -> Result<(), SigstoreError> {
    let tbs = leaf.cert.tbs_certificate();
    if leaf.is_ca() {
        return Err(cert_err(CertificateProblem::LeafIsCa));
    }
    let ku = tbs
        .get_extension::<KeyUsage>()
        .map_err(|error| cert_err(CertificateProblem::KeyUsageUndecodable { error }))?
        .ok_or_else(|| cert_err(CertificateProblem::NoKeyUsage))?;
    if !ku.1.digital_signature() {
        return Err(cert_err(CertificateProblem::NoDigitalSignature));
    }
    let eku = tbs
        .get_extension::<ExtendedKeyUsage>()
        .map_err(|error| cert_err(CertificateProblem::ExtendedKeyUsageUndecodable { error }))?
        .ok_or_else(|| cert_err(CertificateProblem::NoExtendedKeyUsage))?;
    if !eku.1.0.contains(&EKU_CODE_SIGNING) {
        return Err(cert_err(CertificateProblem::NoCodeSigning));
    }
    Ok(())
}

fn sct_err(problem: SctProblem) -> SigstoreError {
    SigstoreError::BadSct { problem }
}

fn precert_err(step: &'static str, error: der::Error) -> SigstoreError {
    sct_err(SctProblem::PrecertificateDer { step, error })
}

/// One embedded signed certificate timestamp.
#[derive(Debug, Clone)]
struct Sct<'a> {
    log_id: &'a [u8],
    timestamp_ms: u64,
    extensions: &'a [u8],
    hash_alg: u8,
    signature: &'a [u8],
}

/// A tiny reader for the TLS presentation language.
struct Tls<'a>(&'a [u8]);

impl<'a> Tls<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SigstoreError> {
        if self.0.len() < n {
            return Err(sct_err(SctProblem::Truncated));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn uint(&mut self, n: usize) -> Result<u64, SigstoreError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }
    fn vec16(&mut self) -> Result<&'a [u8], SigstoreError> {
        let n = self.uint(2)? as usize;
        self.take(n)
    }
}

fn parse_scts(list: &[u8]) -> Result<Vec<Sct<'_>>, SigstoreError> {
    let mut outer = Tls(list);
    let mut items = Tls(outer.vec16()?);
    if !outer.0.is_empty() {
        return Err(sct_err(SctProblem::TrailingAfterList));
    }
    let mut out = Vec::new();
    while !items.0.is_empty() {
        let mut s = Tls(items.vec16()?);
        let version = s.uint(1)?;
        if version != 0 {
            return Err(sct_err(SctProblem::UnsupportedVersion { version }));
        }
        let log_id = s.take(32)?;
        let timestamp_ms = s.uint(8)?;
        let extensions = s.vec16()?;
        let hash_alg = s.uint(1)? as u8;
        let _sig_alg = s.uint(1)?;
        let signature = s.vec16()?;
        if !s.0.is_empty() {
            return Err(sct_err(SctProblem::TrailingInSct));
        }
        out.push(Sct {
            log_id,
            timestamp_ms,
            extensions,
            hash_alg,
            signature,
        });
    }
    Ok(out)
}

/// The leaf's TBSCertificate with the SCT list extension removed: what the CT log signed.
fn precert_tbs(leaf: &ParsedCert) -> Result<Vec<u8>, SigstoreError> {
    let mut fields = Vec::<Any>::from_der(&leaf.tbs_der)
        .map_err(|error| precert_err("cannot parse TBSCertificate", error))?;
    let ext_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(3),
    };
    let slot = fields
        .iter_mut()
        .find(|f| f.tag() == ext_tag)
        .ok_or_else(|| sct_err(SctProblem::NoExtensions))?;
    let exts = Vec::<Extension>::from_der(slot.value())
        .map_err(|error| precert_err("cannot parse extensions", error))?;
    let kept: Vec<Extension> = exts.into_iter().filter(|e| e.extn_id != SCT_LIST).collect();
    let enc = kept
        .to_der()
        .map_err(|error| precert_err("cannot encode extensions", error))?;
    *slot = Any::new(ext_tag, enc)
        .map_err(|error| precert_err("cannot rebuild the extensions field", error))?;
    fields
        .to_der()
        .map_err(|error| precert_err("cannot encode TBSCertificate", error))
}

/// Verifies that at least one embedded SCT is signed by a CT log of the trusted root that was
/// valid at the SCT's time. Returns the verified SCT times (Unix seconds).
pub fn verify_embedded_scts(
    leaf: &ParsedCert,
    issuer: &ParsedCert,
    root: &TrustedRoot,
) -> Result<Vec<i64>, SigstoreError> {
    let ext = leaf
        .cert
        .tbs_certificate()
        .extensions()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == SCT_LIST))
        .ok_or_else(|| sct_err(SctProblem::None))?;
    let list = OctetString::from_der(ext.extn_value.as_bytes())
        .map_err(|error| sct_err(SctProblem::ExtensionNotOctetString { error }))?;
    let scts = parse_scts(list.as_bytes())?;
    let tbs = precert_tbs(leaf)?;
    let tbs_len = u32::try_from(tbs.len()).ok().filter(|n| *n < (1 << 24));
    let tbs_len = tbs_len.ok_or_else(|| sct_err(SctProblem::TbsTooLarge { len: tbs.len() }))?;
    let issuer_key_hash: [u8; 32] = Sha256::digest(issuer.spki_der()?);
    let mut verified = Vec::new();
    for sct in &scts {
        let mut signed = Vec::with_capacity(tbs.len() + 64);
        signed.extend_from_slice(&[0, 0]); // v1, certificate_timestamp
        signed.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
        signed.extend_from_slice(&[0, 1]); // precert_entry
        signed.extend_from_slice(&issuer_key_hash);
        signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
        signed.extend_from_slice(&tbs);
        signed.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
        signed.extend_from_slice(sct.extensions);
        let hash = match sct.hash_alg {
            4 => HashAlg::Sha256,
            5 => HashAlg::Sha384,
            6 => HashAlg::Sha512,
            _ => continue,
        };
        let t = i64::try_from(sct.timestamp_ms / 1000).unwrap_or(i64::MAX);
        let ok = root.ctlogs_by_id(sct.log_id).any(|log: &LogInstance| {
            log.valid_for.contains(t)
                && log
                    .key
                    .as_ref()
                    .is_some_and(|k| k.verify_with_hash(&signed, sct.signature, hash).is_ok())
        });
        if ok {
            verified.push(t);
        }
    }
    if verified.is_empty() {
        return Err(sct_err(SctProblem::NoneVerifies { count: scts.len() }));
    }
    Ok(verified)
}
