//! Sigstore bundles: parsing never panics, what parses re-serializes to the same bundle, and
//! verification against the production trusted root never panics either.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mcpsig::sigstore::policy::{IdentityPolicy, Matcher};
use mcpsig::sigstore::trust::TrustedRoot;
use mcpsig::sigstore::{Bundle, SignerPolicy, VerifyOptions, verify_bundle};

static ROOT: LazyLock<TrustedRoot> =
    LazyLock::new(|| TrustedRoot::production().expect("the embedded root parses"));

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = Bundle::from_json(data) else {
        return;
    };
    let again = Bundle::from_json(&bundle.to_json_pretty()).expect("a parsed bundle re-reads");
    assert_eq!(again, bundle);
    // Any identity, so that verification goes past the policy to the evidence.
    let any = || Matcher::regex(".*").expect("a valid pattern");
    let opts = VerifyOptions {
        trusted_root: Some(&ROOT),
        signer: SignerPolicy::Identity(IdentityPolicy {
            identity: any(),
            issuer: any(),
            extensions: Vec::new(),
        }),
        require_transparency: true,
    };
    let _ = verify_bundle(&bundle, None, &opts);
});
