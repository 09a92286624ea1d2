//! Manifests: parsing never panics, and a parsed manifest written out reads back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpsig::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = Manifest::from_json(data) else {
        return;
    };
    let again =
        Manifest::from_json(&manifest.to_json_pretty()).expect("a parsed manifest re-reads");
    assert_eq!(again, manifest);
    let _ = manifest.canonical_bytes();
    let _ = manifest.subjects();
});
