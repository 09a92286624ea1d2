//! Every provider accepts and refuses the same inputs.

use super::*;
use ed25519_dalek::Signer as _;

fn providers() -> Vec<&'static dyn CryptoProvider> {
    names().iter().filter_map(|n| by_name(n)).collect()
}

const MSG: &[u8] = b"mcpsig crypto provider vector";

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/testdata/crypto/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn both_providers_are_built_with_the_default_features() {
    assert_eq!(providers().len(), names().len());
    #[cfg(feature = "aws-lc")]
    assert_eq!(builtin_default().name(), "aws-lc");
}

#[test]
fn p256_accepts_its_signature_and_refuses_tampering() {
    let sk = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
    let sig: p256::ecdsa::Signature = sk.sign(MSG);
    let der = sig.to_der();
    let point = sk.verifying_key().to_sec1_point(false);
    let compressed = sk.verifying_key().to_sec1_point(true);
    let digest = HashAlg::Sha256.digest(MSG);
    for p in providers() {
        let name = p.name();
        for raw in [point.as_bytes(), compressed.as_bytes()] {
            let k = p.parse_key(KeyKind::P256, raw).unwrap();
            assert!(
                k.verify(HashAlg::Sha256, MSG, der.as_bytes()).is_ok(),
                "{name}"
            );
            assert!(k.verify_prehash(&digest, der.as_bytes()).is_ok(), "{name}");
            assert!(
                k.verify(HashAlg::Sha256, b"other", der.as_bytes()).is_err(),
                "{name}"
            );
            assert!(
                k.verify(HashAlg::Sha384, MSG, der.as_bytes()).is_err(),
                "{name}"
            );
            assert!(
                k.verify(HashAlg::Sha256, MSG, &sig.to_bytes()).is_err(),
                "{name}: raw r||s"
            );
            assert!(
                k.verify_prehash(&digest[..31], der.as_bytes()).is_err(),
                "{name}: short digest"
            );
            let mut bad = der.as_bytes().to_vec();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(
                k.verify(HashAlg::Sha256, MSG, &bad).is_err(),
                "{name}: flipped bit"
            );
            let mut trailing = der.as_bytes().to_vec();
            trailing.push(0);
            assert!(
                k.verify(HashAlg::Sha256, MSG, &trailing).is_err(),
                "{name}: trailing byte"
            );
        }
        let mut off = point.as_bytes().to_vec();
        off[40] ^= 1;
        assert!(
            p.parse_key(KeyKind::P256, &off).is_err(),
            "{name}: point off the curve"
        );
        assert!(
            p.parse_key(KeyKind::P384, point.as_bytes()).is_err(),
            "{name}: wrong curve"
        );
    }
}

#[test]
fn p384_with_sha384_and_sha256() {
    let sk = p384::ecdsa::SigningKey::from_slice(&[5u8; 48]).unwrap();
    let sig: p384::ecdsa::Signature = sk.sign(MSG);
    let der = sig.to_der();
    let point = sk.verifying_key().to_sec1_point(false);
    // A P-384 signature over a SHA-256 digest (as an ecdsa-with-SHA256 certificate would carry).
    let d256 = HashAlg::Sha256.digest(MSG);
    let sig256: p384::ecdsa::Signature =
        ecdsa::signature::hazmat::PrehashSigner::sign_prehash(&sk, &d256).unwrap();
    for p in providers() {
        let name = p.name();
        let k = p.parse_key(KeyKind::P384, point.as_bytes()).unwrap();
        assert!(
            k.verify(HashAlg::Sha384, MSG, der.as_bytes()).is_ok(),
            "{name}"
        );
        assert!(
            k.verify(HashAlg::Sha384, b"x", der.as_bytes()).is_err(),
            "{name}"
        );
        assert!(
            k.verify(HashAlg::Sha256, MSG, sig256.to_der().as_bytes())
                .is_ok(),
            "{name}"
        );
        assert!(
            k.verify(HashAlg::Sha384, MSG, sig256.to_der().as_bytes())
                .is_err(),
            "{name}"
        );
        assert!(
            k.verify_prehash(&d256, sig256.to_der().as_bytes()).is_ok(),
            "{name}"
        );
    }
}

#[test]
fn ed25519_strict_enough_on_every_provider() {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
    let sig = sk.sign(MSG).to_bytes();
    let pk = sk.verifying_key().to_bytes();
    for p in providers() {
        let name = p.name();
        let k = p.parse_key(KeyKind::Ed25519, &pk).unwrap();
        assert!(k.verify(HashAlg::Sha512, MSG, &sig).is_ok(), "{name}");
        assert!(k.verify(HashAlg::Sha512, b"other", &sig).is_err(), "{name}");
        assert!(
            k.verify(HashAlg::Sha512, MSG, &sig[..63]).is_err(),
            "{name}"
        );
        assert!(
            k.verify_prehash(&[0; 64], &sig).is_err(),
            "{name}: no prehash for Ed25519"
        );
        // S + L: the same signature with a non-canonical scalar must be refused.
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut s_plus_l = sig;
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(s_plus_l[32 + i]) + u16::from(l[i]) + carry;
            s_plus_l[32 + i] = (v & 0xff) as u8;
            carry = v >> 8;
        }
        if carry == 0 {
            assert!(
                k.verify(HashAlg::Sha512, MSG, &s_plus_l).is_err(),
                "{name}: S >= L"
            );
        }
        // The identity point (small order) is refused as a key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(
            p.parse_key(KeyKind::Ed25519, &identity).is_err(),
            "{name}: weak key"
        );
        assert!(
            p.parse_key(KeyKind::Ed25519, &pk[..31]).is_err(),
            "{name}: short key"
        );
    }
}

#[test]
fn rsa_pkcs1_2048_accepted_1024_refused() {
    let spki = vector("rsa2048.spki.der");
    let s256 = vector("rsa2048-sha256.sig");
    let s384 = vector("rsa2048-sha384.sig");
    assert_eq!(vector("message.txt"), MSG);
    for p in providers() {
        let name = p.name();
        assert!(
            p.verify_rsa_pkcs1(&spki, HashAlg::Sha256, MSG, &s256)
                .is_ok(),
            "{name}"
        );
        assert!(
            p.verify_rsa_pkcs1(&spki, HashAlg::Sha384, MSG, &s384)
                .is_ok(),
            "{name}"
        );
        assert!(
            p.verify_rsa_pkcs1(&spki, HashAlg::Sha384, MSG, &s256)
                .is_err(),
            "{name}"
        );
        assert!(
            p.verify_rsa_pkcs1(&spki, HashAlg::Sha256, b"x", &s256)
                .is_err(),
            "{name}"
        );
        assert!(
            p.verify_rsa_pkcs1(&spki[1..], HashAlg::Sha256, MSG, &s256)
                .is_err(),
            "{name}"
        );
        let small = vector("rsa1024.spki.der");
        let small_sig = vector("rsa1024-sha256.sig");
        assert!(
            p.verify_rsa_pkcs1(&small, HashAlg::Sha256, MSG, &small_sig)
                .is_err(),
            "{name}: 1024-bit modulus"
        );
    }
}

#[test]
fn install_default_is_fixed_once_used() {
    let current = provider();
    assert!(install_default(&RUST_CRYPTO).is_err() || current.name() == "rustcrypto");
    assert_eq!(provider().name(), current.name());
    assert!(by_name("openssl").is_none());
}

/// The verification paths' SHA-256 (aws-lc's in this build, `sha2`'s without the feature) gives
/// the FIPS 180-2 digests, fed whole or in pieces, and agrees with the `sha2` crate on every
/// length around the block boundaries; `HashAlg::digest` likewise for all three functions.
#[test]
fn sha256_and_hash_alg_digests_are_the_standard_ones() {
    use sha2::Digest as _;
    let vectors: [(&[u8], &str); 3] = [
        (
            b"",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            b"abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
    ];
    for (msg, want) in vectors {
        assert_eq!(hex::encode(Sha256::digest(msg)), want);
        let mut h = Sha256::new();
        for piece in msg.chunks(5) {
            h.update(piece);
        }
        assert_eq!(hex::encode(h.finalize()), want);
        assert_eq!(hex::encode(HashAlg::Sha256.digest(msg)), want);
    }
    let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
    for len in 0..data.len() {
        let m = &data[..len];
        assert_eq!(
            Sha256::digest(m),
            <[u8; 32]>::from(sha2::Sha256::digest(m)),
            "{len}"
        );
        assert_eq!(
            HashAlg::Sha384.digest(m),
            sha2::Sha384::digest(m).to_vec(),
            "{len}"
        );
        assert_eq!(
            HashAlg::Sha512.digest(m),
            sha2::Sha512::digest(m).to_vec(),
            "{len}"
        );
    }
    assert_eq!(
        hex::encode(HashAlg::Sha384.digest(b"abc")),
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
         8086072ba1e7cc2358baeca134c825a7"
    );
    assert_eq!(
        hex::encode(HashAlg::Sha512.digest(b"abc")),
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
         2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    );
}
