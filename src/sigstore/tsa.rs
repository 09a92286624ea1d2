//! RFC 3161 timestamps carried in a bundle: the TimeStampToken (CMS SignedData over a TSTInfo)
//! is checked against the timestamp authorities of the trusted root (certificates embedded in
//! the token are never trusted), and its message imprint must cover the bundle's signature.

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use const_oid::{AssociatedOid as _, ObjectIdentifier};
use der::asn1::OctetString;
use der::{Any, Decode as _, Encode as _, Tagged as _};
use x509_cert::ext::pkix::ExtendedKeyUsage;

use super::cert::ParsedCert;
use super::error::{EkuProblem, SigstoreError, TimestampProblem};
use super::keys::HashAlg;
use super::oid::{CONTENT_TYPE, CT_TSTINFO, EKU_TIME_STAMPING, MESSAGE_DIGEST, SIGNED_DATA};
use super::rfc3161::{TimeStampResp, TstInfo};
use super::signer_info::{self, SignerAlg};
use super::trust::CertificateAuthority;

fn bad(problem: TimestampProblem) -> SigstoreError {
    SigstoreError::BadTimestamp { problem }
}

fn digest_alg(oid: &ObjectIdentifier) -> Result<HashAlg, SigstoreError> {
    signer_info::digest_alg(oid)
        .ok_or_else(|| bad(TimestampProblem::UnsupportedDigestAlgorithm { oid: *oid }))
}

/// A verified timestamp.
#[derive(Debug, Clone)]
pub struct VerifiedTimestamp {
    /// genTime, Unix seconds (fractions dropped).
    pub time: i64,
    /// URI of the timestamp authority that signed it.
    pub authority: String,
}

/// Parses a DER GeneralizedTime value `YYYYMMDDHHMMSS[.fff]Z` into Unix seconds.
fn parse_generalized_time(v: &[u8]) -> Result<i64, SigstoreError> {
    let s = std::str::from_utf8(v).map_err(|_| bad(TimestampProblem::GenTimeNotAscii))?;
    let s = s.strip_suffix('Z').ok_or_else(|| {
        bad(TimestampProblem::GenTimeNotUtc {
            value: s.to_owned(),
        })
    })?;
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.len() != 14
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad(TimestampProblem::GenTimeMalformed {
            value: s.to_owned(),
        }));
    }
    let t = chrono::NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S").map_err(|error| {
        bad(TimestampProblem::GenTimeInvalid {
            value: s.to_owned(),
            error,
        })
    })?;
    Ok(t.and_utc().timestamp())
}

/// What verification needs from a TSTInfo.
struct Imprint {
    alg: HashAlg,
    hash: Vec<u8>,
    gen_time: i64,
}

fn parse_tst_info(der: &[u8]) -> Result<Imprint, SigstoreError> {
    let info = TstInfo::from_der(der)
        .map_err(|error| bad(TimestampProblem::TstInfoUndecodable { error }))?;
    if info.version != 1 {
        return Err(bad(TimestampProblem::TstInfoVersion {
            version: info.version,
        }));
    }
    if info.gen_time.tag() != der::Tag::GeneralizedTime {
        return Err(bad(TimestampProblem::GenTimeNotGeneralized {
            tag: info.gen_time.tag(),
        }));
    }
    Ok(Imprint {
        alg: digest_alg(&info.message_imprint.hash_algorithm.oid)?,
        hash: info.message_imprint.hashed_message.as_bytes().to_vec(),
        gen_time: parse_generalized_time(info.gen_time.value())?,
    })
}

/// Bundles carry either a bare TimeStampToken (a ContentInfo) or a whole `TimeStampResp`;
/// accept both, the latter only when it grants its token.
fn content_info(der: &[u8]) -> Result<ContentInfo, SigstoreError> {
    if let Ok(ci) = ContentInfo::from_der(der) {
        return Ok(ci);
    }
    TimeStampResp::from_der_bytes(der)
        .and_then(TimeStampResp::into_granted_token)
        .map_err(|p| bad(TimestampProblem::Response(p)))
}

/// Verifies one DER TimeStampToken over `signature` (the bundle's signature bytes).
pub fn verify_timestamp(
    token: &[u8],
    signature: &[u8],
    authorities: &[CertificateAuthority],
) -> Result<VerifiedTimestamp, SigstoreError> {
    let ci = content_info(token)?;
    if ci.content_type != SIGNED_DATA {
        return Err(bad(TimestampProblem::NotSignedData {
            content_type: ci.content_type,
        }));
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|error| bad(TimestampProblem::SignedDataUndecodable { error }))?;
    if sd.encap_content_info.econtent_type != CT_TSTINFO {
        return Err(bad(TimestampProblem::NotTstInfo {
            content_type: sd.encap_content_info.econtent_type,
        }));
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| bad(TimestampProblem::TstInfoAbsent))?;
    let tst_der: OctetString = econtent
        .decode_as()
        .map_err(|error| bad(TimestampProblem::EContentUndecodable { error }))?;
    let tst = parse_tst_info(tst_der.as_bytes())?;
    let signature_digest = tst.alg.digest(signature);
    if signature_digest != tst.hash {
        return Err(bad(TimestampProblem::ImprintMismatch {
            imprint: tst.hash,
            signature_digest,
        }));
    }
    let [si] = sd.signer_infos.0.as_slice() else {
        return Err(bad(TimestampProblem::SignerCount {
            count: sd.signer_infos.0.len(),
        }));
    };
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| bad(TimestampProblem::NoSignedAttributes))?;
    let attr = |oid: ObjectIdentifier| -> Result<&Any, SigstoreError> {
        let mut it = attrs.iter().filter(|a| a.oid == oid);
        let (Some(a), None) = (it.next(), it.next()) else {
            return Err(bad(TimestampProblem::AttributeNotOnce { oid }));
        };
        let mut vals = a.values.iter();
        match (vals.next(), vals.next()) {
            (Some(v), None) => Ok(v),
            _ => Err(bad(TimestampProblem::AttributeNotOneValue { oid })),
        }
    };
    let ct: ObjectIdentifier = attr(CONTENT_TYPE)?
        .decode_as()
        .map_err(|error| bad(TimestampProblem::ContentTypeAttributeUndecodable { error }))?;
    if ct != CT_TSTINFO {
        return Err(bad(TimestampProblem::ContentTypeAttributeNotTstInfo {
            content_type: ct,
        }));
    }
    let md: OctetString = attr(MESSAGE_DIGEST)?
        .decode_as()
        .map_err(|error| bad(TimestampProblem::MessageDigestUndecodable { error }))?;
    let dalg = digest_alg(&si.digest_alg.oid)?;
    if dalg.digest(tst_der.as_bytes()) != md.as_bytes() {
        return Err(bad(TimestampProblem::MessageDigestMismatch));
    }
    let signed = attrs
        .to_der()
        .map_err(|error| bad(TimestampProblem::SignedAttributesUnencodable { error }))?;
    let sig_alg = signer_info::signer_alg(&si.signature_algorithm.oid, dalg).ok_or_else(|| {
        bad(TimestampProblem::UnsupportedSignatureAlgorithm {
            oid: si.signature_algorithm.oid,
        })
    })?;
    let sig = si.signature.as_bytes();

    let mut last = bad(TimestampProblem::NoTrustedAuthority);
    for ca in authorities {
        match check_authority(ca, &signed, sig, sig_alg, tst.gen_time) {
            Ok(()) => {
                return Ok(VerifiedTimestamp {
                    time: tst.gen_time,
                    authority: ca.uri.clone(),
                });
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn check_authority(
    ca: &CertificateAuthority,
    signed: &[u8],
    sig: &[u8],
    sig_alg: SignerAlg,
    gen_time: i64,
) -> Result<(), SigstoreError> {
    let chain = ca
        .checked_chain()
        .map_err(|p| bad(TimestampProblem::Authority(p)))?;
    let leaf = chain
        .first()
        .ok_or_else(|| bad(TimestampProblem::EmptyAuthorityChain))?;
    if !signer_info::verify_signer(leaf, sig_alg, signed, sig)? {
        return Err(bad(TimestampProblem::SignatureDoesNotVerify {
            authority: ca.uri.clone(),
        }));
    }
    if !ca.valid_for.contains(gen_time) {
        return Err(bad(TimestampProblem::OutsideAuthorityValidity {
            time: gen_time,
            authority: ca.uri.clone(),
        }));
    }
    if let Some(c) = chain.iter().find(|c| !c.valid_at(gen_time)) {
        return Err(bad(TimestampProblem::AuthorityCertificateNotValid {
            subject: c.cert.tbs_certificate().subject().clone(),
            time: gen_time,
        }));
    }
    check_timestamping_eku(leaf, &ca.uri)
}

/// RFC 3161 section 2.3: the TSA's certificate has exactly one extendedKeyUsage extension, it is
/// critical, and timeStamping is its only purpose. Missing, repeated, undecodable, non-critical
/// or broader is refused: a certificate issued for something else must not make timestamps.
fn check_timestamping_eku(leaf: &ParsedCert, authority: &str) -> Result<(), SigstoreError> {
    let refuse = |problem: EkuProblem| {
        bad(TimestampProblem::ExtendedKeyUsage {
            authority: authority.to_owned(),
            problem,
        })
    };
    let mut ekus = leaf
        .cert
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .filter(|e| e.extn_id == ExtendedKeyUsage::OID);
    let ext = match (ekus.next(), ekus.next()) {
        (Some(ext), None) => ext,
        (None, _) => return Err(refuse(EkuProblem::Missing)),
        (Some(_), Some(_)) => return Err(refuse(EkuProblem::Repeated)),
    };
    let eku = ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
        .map_err(|error| refuse(EkuProblem::Undecodable { error }))?;
    if !ext.critical {
        return Err(refuse(EkuProblem::NotCritical));
    }
    match eku.0.as_slice() {
        [only] if *only == EKU_TIME_STAMPING => Ok(()),
        purposes => Err(refuse(EkuProblem::NotOnlyTimeStamping {
            purposes: purposes.to_vec(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use der::asn1::{Int, ObjectIdentifier as Oid};
    use spki::AlgorithmIdentifierOwned;

    use super::super::oid::SHA256;
    use super::super::rfc3161::MessageImprint;
    use super::*;

    fn tst_info(version: u8, gen_time: Any) -> Result<TstInfo, der::Error> {
        Ok(TstInfo {
            version,
            policy: Oid::new_unwrap("1.2.3.4"),
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifierOwned {
                    oid: SHA256,
                    parameters: None,
                },
                hashed_message: OctetString::new(vec![7u8; 32])?,
            },
            serial_number: Int::new(&[1])?,
            gen_time,
            accuracy: None,
            ordering: false,
            nonce: None,
            tsa: None,
            extensions: None,
        })
    }

    #[test]
    fn tst_info_is_read_field_by_field() -> Result<(), Box<dyn std::error::Error>> {
        let time = Any::new(der::Tag::GeneralizedTime, b"19700101000010Z".to_vec())?;
        let good = parse_tst_info(&tst_info(1, time.clone())?.to_der()?)?;
        assert_eq!((good.gen_time, good.hash.len()), (10, 32));
        assert!(matches!(good.alg, HashAlg::Sha256));

        let refused = |der: &[u8]| match parse_tst_info(der) {
            Err(e) => e.to_string(),
            Ok(_) => "accepted".to_owned(),
        };
        let v2 = refused(&tst_info(2, time.clone())?.to_der()?);
        assert!(v2.contains("TSTInfo version 2"), "{v2}");
        let utc = Any::new(der::Tag::UtcTime, b"700101000010Z".to_vec())?;
        let not_generalized = refused(&tst_info(1, utc)?.to_der()?);
        assert!(
            not_generalized.contains("not a GeneralizedTime"),
            "{not_generalized}"
        );
        // A TSTInfo cut before its serialNumber, and one whose serialNumber is not an INTEGER.
        let mut cut = tst_info(1, time.clone())?.to_der()?;
        let full = cut.clone();
        cut.truncate(full.len() - 20);
        assert!(refused(&cut).contains("invalid TSTInfo"));
        let fields = Vec::<Any>::from_der(&full)?;
        let mut mistyped = fields.clone();
        mistyped[3] = Any::new(der::Tag::OctetString, vec![1])?;
        assert!(refused(&mistyped.to_der()?).contains("invalid TSTInfo"));
        Ok(())
    }

    #[test]
    fn generalized_time_with_and_without_fraction() -> Result<(), SigstoreError> {
        assert_eq!(parse_generalized_time(b"19700101000010Z")?, 10);
        assert_eq!(parse_generalized_time(b"19700101000010.123Z")?, 10);
        assert!(parse_generalized_time(b"19700101000010").is_err());
        assert!(parse_generalized_time(b"1970010100001Z").is_err());
        Ok(())
    }
}
