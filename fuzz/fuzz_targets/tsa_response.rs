//! RFC 3161 timestamp tokens and responses. Input: a 2-byte big-endian length, the signature the
//! token must cover, then the token (so that seeds built from real bundles reach past the
//! message imprint). Checked against the production and staging timestamp authorities.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mcpsig::sigstore::trust::{CertificateAuthority, TrustedRoot};
use mcpsig::sigstore::tsa::verify_timestamp;

static AUTHORITIES: LazyLock<Vec<CertificateAuthority>> = LazyLock::new(|| {
    let mut all = Vec::new();
    for root in [TrustedRoot::production(), TrustedRoot::staging()] {
        all.extend(
            root.expect("the embedded roots parse")
                .timestamp_authorities,
        );
    }
    all
});

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let len = usize::from(u16::from_be_bytes(*len));
    if rest.len() < len {
        return;
    }
    let (signature, token) = rest.split_at(len);
    let _ = verify_timestamp(token, signature, &AUTHORITIES);
});
