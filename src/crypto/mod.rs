//! Signature verification behind a small provider trait (the rustls model): the rest of the
//! crate parses keys and checks signatures only through [`CryptoProvider`], so the arithmetic
//! can come from a fast backend or from pure Rust without touching any verification logic.
//!
//! Two providers exist: [`AWS_LC`] (aws-lc-rs; the default when the `aws-lc` feature is on, which
//! it is by default) and [`RUST_CRYPTO`] (the RustCrypto crates `p256`, `p384`, `ed25519-dalek`
//! and `rsa`; always built, since signing uses those crates anyway). Both accept and refuse the
//! same inputs: DER ECDSA signatures (no raw `r||s`), Ed25519 keys that are not of small order,
//! RSA PKCS#1 v1.5 with moduli of 2048 to 8192 bits, prehashed ECDSA over SHA-256/384/512-sized
//! digests only. The conformance suite runs on each (tests/conformance.rs).
//!
//! The process-wide provider is chosen once: [`install_default`] before first use, or the
//! default. The command-line tools honour `MCPSIG_CRYPTO_PROVIDER=aws-lc|rustcrypto`.

use std::fmt;
use std::sync::{Arc, OnceLock};

#[cfg(feature = "aws-lc")]
mod aws_lc;
mod rust_crypto;

#[cfg(feature = "aws-lc")]
pub use aws_lc::AWS_LC;
pub use rust_crypto::RUST_CRYPTO;

/// Hash functions a signature can be computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// The digest of `msg` (aws-lc's where the build has it: see [`Sha256`]).
    pub fn digest(self, msg: &[u8]) -> Vec<u8> {
        #[cfg(feature = "aws-lc")]
        {
            use aws_lc_rs::digest::{SHA256, SHA384, SHA512, digest};
            let alg = match self {
                Self::Sha256 => &SHA256,
                Self::Sha384 => &SHA384,
                Self::Sha512 => &SHA512,
            };
            digest(alg, msg).as_ref().to_vec()
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            use sha2::Digest as _;
            match self {
                Self::Sha256 => sha2::Sha256::digest(msg).to_vec(),
                Self::Sha384 => sha2::Sha384::digest(msg).to_vec(),
                Self::Sha512 => sha2::Sha512::digest(msg).to_vec(),
            }
        }
    }

    /// The hash whose output has `len` bytes (how a prehashed digest names its function).
    pub fn from_len(len: usize) -> Option<Self> {
        match len {
            32 => Some(Self::Sha256),
            48 => Some(Self::Sha384),
            64 => Some(Self::Sha512),
            _ => None,
        }
    }
}

/// SHA-256 for the verification paths (artifact and payload digests, Rekor bodies, Merkle
/// proofs, key ids): aws-lc's where the build has it, else the `sha2` crate's. Both probe the
/// CPU once per process before their first use, and on a virtual machine every CPUID instruction
/// of a probe traps to the hypervisor: the `sha2` probe alone was 0.7% of a whole
/// `mcp-verify sigstore verify-bundle` process (perf, 400 runs), paid on top of aws-lc's, which
/// the signature checks need anyway. Tree digests keep their own two-lane hasher
/// (`mcpsig-sha256x2`).
pub struct Sha256(
    #[cfg(feature = "aws-lc")] aws_lc_rs::digest::Context,
    #[cfg(not(feature = "aws-lc"))] sha2::Sha256,
);

impl Sha256 {
    pub fn new() -> Self {
        #[cfg(feature = "aws-lc")]
        {
            Self(aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256))
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            Self(<sha2::Sha256 as sha2::Digest>::new())
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        #[cfg(feature = "aws-lc")]
        self.0.update(data);
        #[cfg(not(feature = "aws-lc"))]
        sha2::Digest::update(&mut self.0, data);
    }

    pub fn finalize(self) -> [u8; 32] {
        #[cfg(feature = "aws-lc")]
        {
            let d = self.0.finish();
            let mut out = [0u8; 32];
            out.copy_from_slice(d.as_ref());
            out
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            sha2::Digest::finalize(self.0).into()
        }
    }

    /// The digest of `data` in one call.
    pub fn digest(data: impl AsRef<[u8]>) -> [u8; 32] {
        let mut h = Self::new();
        h.update(data.as_ref());
        h.finalize()
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha256")
    }
}

/// The public key types Sigstore and mcpsig sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Ed25519,
    /// ECDSA over NIST P-256.
    P256,
    /// ECDSA over NIST P-384.
    P384,
}

/// A key a provider refused to parse (not a point on the curve, wrong length, small order).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?} public key rejected by the {provider} provider: {reason}")]
pub struct KeyRejected {
    pub kind: KeyKind,
    pub provider: &'static str,
    pub reason: &'static str,
}

/// A signature that does not verify (or cannot be decoded). Deliberately carries nothing more:
/// callers say which signature it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify")]
pub struct BadSignature;

/// A parsed public key, ready to verify any number of signatures.
pub trait VerifyingKey: Send + Sync + fmt::Debug {
    /// Ed25519 (`hash` is ignored: Ed25519 hashes internally) or ECDSA with a DER signature over
    /// `hash(msg)`.
    fn verify(&self, hash: HashAlg, msg: &[u8], sig: &[u8]) -> Result<(), BadSignature>;
    /// ECDSA with a DER signature over a digest computed elsewhere (32, 48 or 64 bytes). Ed25519
    /// cannot be checked from a digest and always fails.
    fn verify_prehash(&self, digest: &[u8], sig: &[u8]) -> Result<(), BadSignature>;
}

/// A signature backend.
pub trait CryptoProvider: Send + Sync + fmt::Debug {
    /// A short name for reports (`aws-lc`, `rustcrypto`).
    fn name(&self) -> &'static str;
    /// Parses a public key: the 32-byte encoding for Ed25519, a SEC1 point (compressed or not)
    /// for ECDSA.
    fn parse_key(&self, kind: KeyKind, raw: &[u8]) -> Result<Arc<dyn VerifyingKey>, KeyRejected>;
    /// RSA PKCS#1 v1.5 over `hash(msg)`, the key given as SubjectPublicKeyInfo DER (2048 to
    /// 8192-bit moduli). Used for certificate authorities and timestamp authorities only.
    fn verify_rsa_pkcs1(
        &self,
        spki_der: &[u8],
        hash: HashAlg,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), BadSignature>;
}

/// Smallest and largest RSA modulus accepted, in bits (both providers).
pub const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

static PROVIDER: OnceLock<&'static dyn CryptoProvider> = OnceLock::new();

/// The provider used when none was installed: aws-lc with the `aws-lc` feature, else RustCrypto.
pub fn builtin_default() -> &'static dyn CryptoProvider {
    #[cfg(feature = "aws-lc")]
    {
        &AWS_LC
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        &RUST_CRYPTO
    }
}

/// The process-wide provider (installed, else the built-in default, fixed from then on).
pub fn provider() -> &'static dyn CryptoProvider {
    *PROVIDER.get_or_init(builtin_default)
}

/// Makes `provider` the process-wide provider. Fails, returning the one in use, once any key has
/// been parsed or another provider was installed.
pub fn install_default(
    provider: &'static dyn CryptoProvider,
) -> Result<(), &'static dyn CryptoProvider> {
    PROVIDER.set(provider).map_err(|_| self::provider())
}

/// The providers this build has, by name.
pub fn by_name(name: &str) -> Option<&'static dyn CryptoProvider> {
    match name {
        #[cfg(feature = "aws-lc")]
        "aws-lc" => Some(&AWS_LC),
        "rustcrypto" => Some(&RUST_CRYPTO),
        _ => None,
    }
}

/// A provider name this build does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a crypto provider of this build (have: {})", names().join(", "))]
pub struct UnknownProvider {
    pub name: String,
}

/// Installs the provider called `name` (see [`install_default`]; if a provider is already in
/// use, it stays). The command-line tools call this with `MCPSIG_CRYPTO_PROVIDER`.
pub fn install_named(name: &str) -> Result<(), UnknownProvider> {
    let p = by_name(name).ok_or_else(|| UnknownProvider {
        name: name.to_owned(),
    })?;
    // Before any key is parsed this cannot fail; afterwards the provider in use stays.
    let _ = install_default(p);
    Ok(())
}

/// Names accepted by [`by_name`], for error messages.
pub fn names() -> &'static [&'static str] {
    #[cfg(feature = "aws-lc")]
    {
        &["aws-lc", "rustcrypto"]
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        &["rustcrypto"]
    }
}

/// The 32-byte Ed25519 encoding as a point that is not of small order (the check
/// `verify_strict` makes), or why not. Shared so both providers refuse the same keys.
fn ed25519_key_ok(raw: &[u8]) -> Result<ed25519_dalek::VerifyingKey, &'static str> {
    let arr: &[u8; 32] = raw.try_into().map_err(|_| "not 32 bytes")?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(arr).map_err(|_| "not a curve point")?;
    if key.is_weak() {
        return Err("a point of small order (a weak key any signature can match)");
    }
    Ok(key)
}

#[cfg(test)]
mod tests;
