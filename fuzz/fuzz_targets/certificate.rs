//! X.509 certificates and their embedded SCT lists, read as the verifier reads a Fulcio leaf:
//! no panic in parsing, identity extraction, key usage, chain or SCT checks.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mcpsig::sigstore::cert::{
    ParsedCert, check_leaf_usage, verify_embedded_scts, verify_signed_by,
};
use mcpsig::sigstore::trust::TrustedRoot;

static ROOT: LazyLock<TrustedRoot> =
    LazyLock::new(|| TrustedRoot::production().expect("the embedded root parses"));

fuzz_target!(|data: &[u8]| {
    let Ok(cert) = ParsedCert::from_der(data) else {
        return;
    };
    let _ = cert.subject_alt_names();
    let _ = cert.fulcio_extensions();
    let _ = cert.public_key();
    let _ = cert.spki_der();
    let _ = cert.is_self_signed();
    let _ = check_leaf_usage(&cert);
    let _ = verify_signed_by(&cert, &cert);
    let _ = verify_embedded_scts(&cert, &cert, &ROOT);
});
