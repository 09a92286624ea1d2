//! The RFC 3161 structures a timestamp carries (`TimeStampResp`, `PKIStatusInfo`, `TSTInfo`,
//! `MessageImprint`, `Accuracy`) as typed DER, decoded field by field rather than by position.
//! RustCrypto's `x509-tsp` defines these, but its only release (0.1.0) is built on `der` 0.7 and
//! `cms` 0.2, not the `der` 0.8 / `cms` 0.3 / `x509-cert` 0.3 stack used here, so they are written
//! out from the RFC (section 2.4.2, PKIStatusInfo from RFC 4210 section 5.2.3).

use cms::content_info::ContentInfo;
use der::asn1::{Any, BitString, Int, ObjectIdentifier, OctetString};
use der::{Decode as _, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::name::GeneralName;

/// `PKIStatus` values that come with a token: granted (0) and grantedWithMods (1).
const GRANTED_WITH_MODS: u8 = 1;

/// ```text
/// TimeStampResp ::= SEQUENCE {
///    status          PKIStatusInfo,
///    timeStampToken  TimeStampToken  OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampResp {
    pub status: PkiStatusInfo,
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<ContentInfo>,
}

/// ```text
/// PKIStatusInfo ::= SEQUENCE {
///    status        PKIStatus,                 -- INTEGER
///    statusString  PKIFreeText     OPTIONAL,  -- SEQUENCE OF UTF8String
///    failInfo      PKIFailureInfo  OPTIONAL } -- BIT STRING
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct PkiStatusInfo {
    pub status: u8,
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

/// ```text
/// TSTInfo ::= SEQUENCE {
///    version         INTEGER { v1(1) },
///    policy          TSAPolicyId,
///    messageImprint  MessageImprint,
///    serialNumber    INTEGER,
///    genTime         GeneralizedTime,
///    accuracy        Accuracy                 OPTIONAL,
///    ordering        BOOLEAN                  DEFAULT FALSE,
///    nonce           INTEGER                  OPTIONAL,
///    tsa             [0] GeneralName          OPTIONAL,
///    extensions      [1] IMPLICIT Extensions  OPTIONAL }
/// ```
/// `genTime` is kept as its raw value: DER allows fractional seconds there, which `der`'s
/// `GeneralizedTime` refuses; the verifier reads it (see `tsa`).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    pub version: u8,
    pub policy: ObjectIdentifier,
    pub message_imprint: MessageImprint,
    pub serial_number: Int,
    pub gen_time: Any,
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// ```text
/// MessageImprint ::= SEQUENCE {
///    hashAlgorithm  AlgorithmIdentifier,
///    hashedMessage  OCTET STRING }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MessageImprint {
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub hashed_message: OctetString,
}

/// ```text
/// Accuracy ::= SEQUENCE {
///    seconds  INTEGER            OPTIONAL,
///    millis   [0] INTEGER (1..999) OPTIONAL,
///    micros   [1] INTEGER (1..999) OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Accuracy {
    #[asn1(optional = "true")]
    pub seconds: Option<u64>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<u16>,
}

impl TimeStampResp {
    /// Decodes a DER `TimeStampResp`; the error says what did not decode.
    pub fn from_der_bytes(der: &[u8]) -> Result<Self, ResponseProblem> {
        Self::from_der(der).map_err(|error| ResponseProblem::Undecodable { error })
    }

    /// The token of a granted response. Any status but granted or grantedWithMods carries no
    /// valid token, and a granted response must hold one.
    pub fn into_granted_token(self) -> Result<ContentInfo, ResponseProblem> {
        let status = self.status.status;
        if status > GRANTED_WITH_MODS {
            return Err(ResponseProblem::NotGranted { status });
        }
        self.time_stamp_token.ok_or(ResponseProblem::NoToken)
    }
}

/// Why a `TimeStampResp` yields no token.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseProblem {
    #[error("invalid TimeStampResp: {error}")]
    Undecodable { error: der::Error },
    #[error("timestamp response status {status} is not granted")]
    NotGranted { status: u8 },
    #[error("granted TimeStampResp without a TimeStampToken")]
    NoToken,
}

#[cfg(test)]
mod tests {
    use der::Encode as _;
    use der::asn1::Null;

    use super::*;

    fn response(status: u8, token: bool) -> Result<Vec<u8>, der::Error> {
        TimeStampResp {
            status: PkiStatusInfo {
                status,
                status_string: None,
                fail_info: None,
            },
            time_stamp_token: token
                .then(|| -> Result<ContentInfo, der::Error> {
                    Ok(ContentInfo {
                        content_type: crate::sigstore::oid::SIGNED_DATA,
                        content: Any::encode_from(&Null)?,
                    })
                })
                .transpose()?,
        }
        .to_der()
    }

    #[test]
    fn only_granted_responses_with_a_token_yield_one() -> Result<(), Box<dyn std::error::Error>> {
        for status in [0, 1] {
            let resp = TimeStampResp::from_der_bytes(&response(status, true)?)?;
            assert!(resp.into_granted_token().is_ok(), "status {status}");
        }
        let refused = TimeStampResp::from_der_bytes(&response(2, true)?)?;
        let err = refused
            .into_granted_token()
            .err()
            .ok_or("status 2 granted")?;
        assert_eq!(err, ResponseProblem::NotGranted { status: 2 });
        assert!(err.to_string().contains("status 2 is not granted"), "{err}");
        let empty = TimeStampResp::from_der_bytes(&response(0, false)?)?;
        let err = empty.into_granted_token().err().ok_or("no token granted")?;
        assert!(
            err.to_string().contains("without a TimeStampToken"),
            "{err}"
        );
        assert!(TimeStampResp::from_der_bytes(b"not der").is_err());
        Ok(())
    }

    #[test]
    fn the_status_text_and_failure_bits_decode() -> Result<(), Box<dyn std::error::Error>> {
        // SEQUENCE { SEQUENCE { INTEGER 2, SEQUENCE { UTF8String "no" }, BIT STRING 0x80 } }
        let der = [
            0x30, 0x0f, 0x30, 0x0d, 0x02, 0x01, 0x02, 0x30, 0x04, 0x0c, 0x02, b'n', b'o', 0x03,
            0x02, 0x07, 0x80,
        ];
        let resp = TimeStampResp::from_der_bytes(&der)?;
        assert_eq!(resp.status.status_string, Some(vec!["no".to_owned()]));
        assert!(resp.status.fail_info.is_some());
        Ok(())
    }
}
