//! The object identifiers Sigstore verification compares against, each named once here. The
//! values come from const-oid's database (the RFC that assigns each is the module it is read
//! from); only Fulcio's own arc is ours.

use const_oid::ObjectIdentifier;
use const_oid::db::{rfc3161, rfc5280, rfc5911, rfc5912, rfc6962, rfc8410};

// Digests.
pub(crate) const SHA256: ObjectIdentifier = rfc5912::ID_SHA_256;
pub(crate) const SHA384: ObjectIdentifier = rfc5912::ID_SHA_384;
pub(crate) const SHA512: ObjectIdentifier = rfc5912::ID_SHA_512;

// Keys and signature algorithms.
pub(crate) const ED25519: ObjectIdentifier = rfc8410::ID_ED_25519;
pub(crate) const EC_PUBLIC_KEY: ObjectIdentifier = rfc5912::ID_EC_PUBLIC_KEY;
pub(crate) const SECP256R1: ObjectIdentifier = rfc5912::SECP_256_R_1;
pub(crate) const SECP384R1: ObjectIdentifier = rfc5912::SECP_384_R_1;
pub(crate) const ECDSA_SHA256: ObjectIdentifier = rfc5912::ECDSA_WITH_SHA_256;
pub(crate) const ECDSA_SHA384: ObjectIdentifier = rfc5912::ECDSA_WITH_SHA_384;
pub(crate) const ECDSA_SHA512: ObjectIdentifier = rfc5912::ECDSA_WITH_SHA_512;
pub(crate) const RSA_ENCRYPTION: ObjectIdentifier = rfc5912::RSA_ENCRYPTION;
pub(crate) const RSA_SHA256: ObjectIdentifier = rfc5912::SHA_256_WITH_RSA_ENCRYPTION;
pub(crate) const RSA_SHA384: ObjectIdentifier = rfc5912::SHA_384_WITH_RSA_ENCRYPTION;
pub(crate) const RSA_SHA512: ObjectIdentifier = rfc5912::SHA_512_WITH_RSA_ENCRYPTION;

// Certificate extensions and key purposes.
pub(crate) const EKU_CODE_SIGNING: ObjectIdentifier = rfc5912::ID_KP_CODE_SIGNING;
pub(crate) const EKU_TIME_STAMPING: ObjectIdentifier = rfc5912::ID_KP_TIME_STAMPING;
pub(crate) const EKU_ANY: ObjectIdentifier = rfc5280::ANY_EXTENDED_KEY_USAGE;
/// Embedded SCT list (RFC 6962 section 3.3).
pub(crate) const SCT_LIST: ObjectIdentifier = rfc6962::CT_PRECERT_SCTS;
/// Arc of Fulcio's certificate extensions (`1.3.6.1.4.1.57264.1.N`), as a dotted prefix.
pub(crate) const FULCIO_ARC: &str = "1.3.6.1.4.1.57264.1.";

// CMS and RFC 3161 timestamps.
pub(crate) const SIGNED_DATA: ObjectIdentifier = rfc5911::ID_SIGNED_DATA;
pub(crate) const DATA: ObjectIdentifier = rfc5911::ID_DATA;
pub(crate) const SIGNING_TIME: ObjectIdentifier = rfc5911::ID_SIGNING_TIME;
pub(crate) const CT_TSTINFO: ObjectIdentifier = rfc3161::ID_CT_TST_INFO;
pub(crate) const CONTENT_TYPE: ObjectIdentifier = rfc5911::ID_CONTENT_TYPE;
pub(crate) const MESSAGE_DIGEST: ObjectIdentifier = rfc5911::ID_MESSAGE_DIGEST;

#[cfg(test)]
mod tests {
    use super::*;

    /// The database's values are the ones the specifications assign (a guard against a renamed
    /// constant pointing elsewhere after a const-oid upgrade).
    #[test]
    fn values_are_the_assigned_ones() {
        let expected = [
            (SHA256, "2.16.840.1.101.3.4.2.1"),
            (SHA384, "2.16.840.1.101.3.4.2.2"),
            (SHA512, "2.16.840.1.101.3.4.2.3"),
            (ED25519, "1.3.101.112"),
            (EC_PUBLIC_KEY, "1.2.840.10045.2.1"),
            (SECP256R1, "1.2.840.10045.3.1.7"),
            (SECP384R1, "1.3.132.0.34"),
            (ECDSA_SHA256, "1.2.840.10045.4.3.2"),
            (ECDSA_SHA384, "1.2.840.10045.4.3.3"),
            (ECDSA_SHA512, "1.2.840.10045.4.3.4"),
            (RSA_ENCRYPTION, "1.2.840.113549.1.1.1"),
            (RSA_SHA256, "1.2.840.113549.1.1.11"),
            (RSA_SHA384, "1.2.840.113549.1.1.12"),
            (RSA_SHA512, "1.2.840.113549.1.1.13"),
            (EKU_CODE_SIGNING, "1.3.6.1.5.5.7.3.3"),
            (EKU_TIME_STAMPING, "1.3.6.1.5.5.7.3.8"),
            (EKU_ANY, "2.5.29.37.0"),
            (SCT_LIST, "1.3.6.1.4.1.11129.2.4.2"),
            (SIGNED_DATA, "1.2.840.113549.1.7.2"),
            (DATA, "1.2.840.113549.1.7.1"),
            (SIGNING_TIME, "1.2.840.113549.1.9.5"),
            (CT_TSTINFO, "1.2.840.113549.1.9.16.1.4"),
            (CONTENT_TYPE, "1.2.840.113549.1.9.3"),
            (MESSAGE_DIGEST, "1.2.840.113549.1.9.4"),
        ];
        for (oid, dotted) in expected {
            assert_eq!(oid.to_string(), dotted);
        }
    }
}
