//! The PKCS#7 inside a signature block: a CMS `ContentInfo` holding a detached `SignedData`
//! over `id-data`, with exactly one signer whose certificate travels in the block, signed
//! attributes carrying `contentType` and `messageDigest` (and optionally `signingTime`).
//! Parsed strictly (DER, nothing after it); everything verification needs is taken out here.
//!
//! The signed attributes and certificates are kept as the bytes that were signed: node-forge
//! writes the attributes in the order it was given, not DER's sorted order, and a decoder that
//! sorts them would re-encode other bytes than the signer signed.

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::{AssociatedOid as _, ObjectIdentifier};
use der::asn1::OctetString;
use der::{Any, Decode as _, Encode as _, Reader as _, SliceReader, Tag, TagNumber, Tagged as _};
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::time::Time;

use crate::sigstore::cert::ParsedCert;
use crate::sigstore::keys::HashAlg;
use crate::sigstore::oid::{CONTENT_TYPE, DATA, MESSAGE_DIGEST, SIGNED_DATA, SIGNING_TIME};
use crate::sigstore::signer_info::{self, SignerAlg};

/// Certificates a block may carry: the signer's and a few intermediates.
pub const MAX_CERTIFICATES: usize = 16;

/// Why the PKCS#7 of a block cannot be used.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Pkcs7Problem {
    #[error("the signature is not a DER CMS ContentInfo: {error}")]
    NotContentInfo { error: der::Error },
    #[error("the signature holds {content_type}, not SignedData")]
    NotSignedData { content_type: ObjectIdentifier },
    #[error("invalid SignedData: {error}")]
    SignedData { error: der::Error },
    #[error("the signed content type is {content_type}, not id-data")]
    NotData { content_type: ObjectIdentifier },
    #[error("the SignedData carries its content: a bundle signature is detached")]
    Attached,
    #[error("{count} signers: a bundle signature has exactly one")]
    SignerCount { count: usize },
    #[error("{count} certificates: at most {MAX_CERTIFICATES} are accepted")]
    TooManyCertificates { count: usize },
    #[error("certificate {index} of the signature cannot be read: {detail}")]
    Certificate { index: usize, detail: String },
    #[error("the signer's certificate is not among the signature's certificates")]
    SignerCertificateMissing,
    #[error("several different certificates match the signer")]
    SignerCertificateAmbiguous,
    #[error("unsupported digest algorithm {oid} (SHA-256, SHA-384 and SHA-512 are accepted)")]
    UnsupportedDigest { oid: ObjectIdentifier },
    #[error("unsupported signature algorithm {oid}")]
    UnsupportedSignature { oid: ObjectIdentifier },
    #[error("the signer has no signed attributes")]
    NoSignedAttributes,
    #[error("signed attribute {oid} appears {count} times, or with other than one value")]
    AttributeNotOnce { oid: ObjectIdentifier, count: usize },
    #[error("signed attribute {oid} cannot be read: {error}")]
    Attribute {
        oid: ObjectIdentifier,
        error: der::Error,
    },
    #[error("the contentType attribute is {content_type}, not id-data")]
    ContentTypeAttribute { content_type: ObjectIdentifier },
    #[error("the messageDigest attribute holds {len} bytes, not a digest of the named algorithm")]
    MessageDigestLength { len: usize },
    #[error("the signing time is out of range")]
    SigningTimeRange,
    #[error("the signer's key cannot make this kind of signature: {detail}")]
    SignerKey { detail: String },
}

/// What verification needs from a parsed signature.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub digest: HashAlg,
    /// The `messageDigest` attribute: the digest of the signed content.
    pub message_digest: Vec<u8>,
    /// The signed attributes as signed (RFC 5652 section 5.4: re-tagged as a SET).
    pub signed_attributes: Vec<u8>,
    pub alg: SignerAlg,
    pub signature: Vec<u8>,
    pub signer: ParsedCert,
    /// The other certificates of the block, candidate intermediates (never trusted as such).
    pub others: Vec<ParsedCert>,
    /// The `signingTime` attribute (Unix seconds): the signer's own claim.
    pub signing_time: Option<i64>,
}

const IMPLICIT_0: Tag = Tag::ContextSpecific {
    constructed: true,
    number: TagNumber(0),
};

/// The TLVs inside a constructed value.
fn elements(value: &[u8]) -> der::Result<Vec<Any>> {
    let mut reader = SliceReader::new(value)?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(Any::decode(&mut reader)?);
    }
    Ok(out)
}

fn sd_err(error: der::Error) -> Pkcs7Problem {
    Pkcs7Problem::SignedData { error }
}

/// Parses the DER of a signature block.
pub fn parse(der: &[u8]) -> Result<Parsed, Pkcs7Problem> {
    let ci = ContentInfo::from_der(der).map_err(|error| Pkcs7Problem::NotContentInfo { error })?;
    if ci.content_type != SIGNED_DATA {
        return Err(Pkcs7Problem::NotSignedData {
            content_type: ci.content_type,
        });
    }
    let sd: SignedData = ci.content.decode_as().map_err(sd_err)?;
    if sd.encap_content_info.econtent_type != DATA {
        return Err(Pkcs7Problem::NotData {
            content_type: sd.encap_content_info.econtent_type,
        });
    }
    if sd.encap_content_info.econtent.is_some() {
        return Err(Pkcs7Problem::Attached);
    }
    let [si] = sd.signer_infos.0.as_slice() else {
        return Err(Pkcs7Problem::SignerCount {
            count: sd.signer_infos.0.len(),
        });
    };

    // The same SignedData, field by field as received, for the bytes that were signed.
    let fields = ci.content.decode_as::<Vec<Any>>().map_err(sd_err)?;
    let certs = raw_certificates(&fields)?;
    let signed_attributes = raw_signed_attributes(&fields)?;

    let digest =
        signer_info::digest_alg(&si.digest_alg.oid).ok_or(Pkcs7Problem::UnsupportedDigest {
            oid: si.digest_alg.oid,
        })?;
    let alg = signer_info::signer_alg(&si.signature_algorithm.oid, digest).ok_or(
        Pkcs7Problem::UnsupportedSignature {
            oid: si.signature_algorithm.oid,
        },
    )?;
    let (message_digest, signing_time) = attributes(si, digest)?;
    let (signer, others) = split_signer(si, certs)?;
    Ok(Parsed {
        digest,
        message_digest,
        signed_attributes,
        alg,
        signature: si.signature.as_bytes().to_vec(),
        signer,
        others,
        signing_time,
    })
}

fn raw_certificates(fields: &[Any]) -> Result<Vec<ParsedCert>, Pkcs7Problem> {
    let Some(set) = fields.iter().find(|f| f.tag() == IMPLICIT_0) else {
        return Ok(Vec::new());
    };
    let raw = elements(set.value()).map_err(sd_err)?;
    if raw.len() > MAX_CERTIFICATES {
        return Err(Pkcs7Problem::TooManyCertificates { count: raw.len() });
    }
    raw.iter()
        .enumerate()
        .map(|(index, c)| {
            let der = c.to_der().map_err(sd_err)?;
            ParsedCert::from_der(&der).map_err(|e| Pkcs7Problem::Certificate {
                index,
                detail: e.to_string(),
            })
        })
        .collect()
}

/// The one SignerInfo's `[0] IMPLICIT` signed attributes, re-tagged as the SET they are signed as.
fn raw_signed_attributes(fields: &[Any]) -> Result<Vec<u8>, Pkcs7Problem> {
    let infos = fields
        .last()
        .ok_or(Pkcs7Problem::SignerCount { count: 0 })?;
    let infos = elements(infos.value()).map_err(sd_err)?;
    let [info] = infos.as_slice() else {
        return Err(Pkcs7Problem::SignerCount { count: infos.len() });
    };
    let info_fields = info.decode_as::<Vec<Any>>().map_err(sd_err)?;
    let attrs = info_fields
        .iter()
        .find(|f| f.tag() == IMPLICIT_0)
        .ok_or(Pkcs7Problem::NoSignedAttributes)?;
    Any::new(Tag::Set, attrs.value())
        .and_then(|set| set.to_der())
        .map_err(sd_err)
}

/// Reads `messageDigest` and `signingTime`, and checks `contentType`.
fn attributes(si: &SignerInfo, digest: HashAlg) -> Result<(Vec<u8>, Option<i64>), Pkcs7Problem> {
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or(Pkcs7Problem::NoSignedAttributes)?;
    let values = |oid: ObjectIdentifier| -> Vec<&Any> {
        attrs
            .iter()
            .filter(|a| a.oid == oid)
            .flat_map(|a| a.values.iter())
            .collect()
    };
    let once = |oid: ObjectIdentifier| -> Result<Option<&Any>, Pkcs7Problem> {
        let count = attrs.iter().filter(|a| a.oid == oid).count();
        let vals = values(oid);
        match (count, vals.as_slice()) {
            (0, _) => Ok(None),
            (1, [v]) => Ok(Some(*v)),
            _ => Err(Pkcs7Problem::AttributeNotOnce { oid, count }),
        }
    };
    let required = |oid| once(oid)?.ok_or(Pkcs7Problem::AttributeNotOnce { oid, count: 0 });
    let attr_err = |oid| move |error| Pkcs7Problem::Attribute { oid, error };

    let content_type: ObjectIdentifier = required(CONTENT_TYPE)?
        .decode_as()
        .map_err(attr_err(CONTENT_TYPE))?;
    if content_type != DATA {
        return Err(Pkcs7Problem::ContentTypeAttribute { content_type });
    }
    let md: OctetString = required(MESSAGE_DIGEST)?
        .decode_as()
        .map_err(attr_err(MESSAGE_DIGEST))?;
    let md = md.as_bytes().to_vec();
    if md.len() != digest.digest(b"").len() {
        return Err(Pkcs7Problem::MessageDigestLength { len: md.len() });
    }
    let signing_time = match once(SIGNING_TIME)? {
        None => None,
        Some(v) => {
            let t: Time = v.decode_as().map_err(attr_err(SIGNING_TIME))?;
            let secs = i64::try_from(t.to_unix_duration().as_secs())
                .map_err(|_| Pkcs7Problem::SigningTimeRange)?;
            Some(secs)
        }
    };
    Ok((md, signing_time))
}

/// Picks the signer's certificate (by issuer and serial number, or subject key identifier).
fn split_signer(
    si: &SignerInfo,
    certs: Vec<ParsedCert>,
) -> Result<(ParsedCert, Vec<ParsedCert>), Pkcs7Problem> {
    let is_signer = |c: &ParsedCert| -> bool {
        let tbs = c.cert.tbs_certificate();
        match &si.sid {
            SignerIdentifier::IssuerAndSerialNumber(ias) => {
                tbs.issuer() == &ias.issuer && tbs.serial_number() == &ias.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => tbs
                .extensions()
                .into_iter()
                .flatten()
                .filter(|e| e.extn_id == SubjectKeyIdentifier::OID)
                .any(|e| {
                    SubjectKeyIdentifier::from_der(e.extn_value.as_bytes())
                        .is_ok_and(|own| own == *ski)
                }),
        }
    };
    let (mut signers, others): (Vec<ParsedCert>, Vec<ParsedCert>) =
        certs.into_iter().partition(|c| is_signer(c));
    let Some(first) = signers.first() else {
        return Err(Pkcs7Problem::SignerCertificateMissing);
    };
    if signers.iter().any(|c| c.der != first.der) {
        return Err(Pkcs7Problem::SignerCertificateAmbiguous);
    }
    Ok((signers.swap_remove(0), others))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_signed_data_is_refused() {
        let e = parse(b"\x30\x00").err();
        assert!(
            matches!(e, Some(Pkcs7Problem::NotContentInfo { .. })),
            "{e:?}"
        );
        // ContentInfo { id-data, [0] OCTET STRING "" }
        let data = [
            0x30, 0x0f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0,
            0x02, 0x04, 0x00,
        ];
        let e = parse(&data).err();
        assert!(
            matches!(e, Some(Pkcs7Problem::NotSignedData { .. })),
            "{e:?}"
        );
        // The same with a byte after it.
        let e = parse(&[data.as_slice(), &[0]].concat()).err();
        assert!(
            matches!(e, Some(Pkcs7Problem::NotContentInfo { .. })),
            "{e:?}"
        );
    }
}
