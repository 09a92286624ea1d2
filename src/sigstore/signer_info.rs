//! CMS (RFC 5652) signer signatures: which algorithm a `SignerInfo` names, and checking its
//! signature with a certificate's key. Shared by RFC 3161 timestamps (`tsa`) and MCP bundle
//! signatures (the `mcpb_sig` module), so both accept exactly the same algorithms.

use const_oid::ObjectIdentifier;

use super::cert::{ParsedCert, verify_rsa};
use super::error::SigstoreError;
use super::keys::HashAlg;
use super::oid::{
    EC_PUBLIC_KEY, ECDSA_SHA256, ECDSA_SHA384, ECDSA_SHA512, ED25519, RSA_ENCRYPTION, RSA_SHA256,
    RSA_SHA384, RSA_SHA512, SHA256, SHA384, SHA512,
};

/// How a signer's signed attributes are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerAlg {
    Ecdsa(HashAlg),
    Ed25519,
    /// RSA PKCS#1 v1.5.
    Rsa(HashAlg),
}

/// The digest a `DigestAlgorithmIdentifier` names: SHA-256, SHA-384 or SHA-512 only.
pub fn digest_alg(oid: &ObjectIdentifier) -> Option<HashAlg> {
    match *oid {
        SHA256 => Some(HashAlg::Sha256),
        SHA384 => Some(HashAlg::Sha384),
        SHA512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

/// The signature a `SignatureAlgorithmIdentifier` names. A bare key algorithm
/// (`rsaEncryption`, `id-ecPublicKey`, as node-forge and some TSAs write) signs with the
/// signer's digest algorithm.
pub fn signer_alg(oid: &ObjectIdentifier, digest: HashAlg) -> Option<SignerAlg> {
    Some(match *oid {
        ECDSA_SHA256 => SignerAlg::Ecdsa(HashAlg::Sha256),
        ECDSA_SHA384 => SignerAlg::Ecdsa(HashAlg::Sha384),
        ECDSA_SHA512 => SignerAlg::Ecdsa(HashAlg::Sha512),
        EC_PUBLIC_KEY => SignerAlg::Ecdsa(digest),
        ED25519 => SignerAlg::Ed25519,
        RSA_ENCRYPTION => SignerAlg::Rsa(digest),
        RSA_SHA256 => SignerAlg::Rsa(HashAlg::Sha256),
        RSA_SHA384 => SignerAlg::Rsa(HashAlg::Sha384),
        RSA_SHA512 => SignerAlg::Rsa(HashAlg::Sha512),
        _ => return None,
    })
}

/// Whether `cert`'s key made `sig` over `signed` (the DER signed attributes). An error only when
/// an ECDSA or Ed25519 signature meets a key that cannot be read as one.
pub fn verify_signer(
    cert: &ParsedCert,
    alg: SignerAlg,
    signed: &[u8],
    sig: &[u8],
) -> Result<bool, SigstoreError> {
    Ok(match alg {
        SignerAlg::Ecdsa(h) => cert.public_key()?.verify_with_hash(signed, sig, h).is_ok(),
        SignerAlg::Ed25519 => cert.public_key()?.verify(signed, sig).is_ok(),
        SignerAlg::Rsa(h) => verify_rsa(&cert.spki_der()?, h, signed, sig).is_ok(),
    })
}
