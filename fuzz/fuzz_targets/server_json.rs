//! The MCP registry's server.json: parsing never panics, nor does reading an entry's image
//! reference; merging a manifest's pins into a parsed document never panics and yields a
//! document that reads back with every pinned entry in it.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mcpsig::artifact::server_json::export::export;
use mcpsig::artifact::server_json::{OciIdentifier, ServerJson};
use mcpsig::manifest::Manifest;

static MANIFEST: LazyLock<Manifest> = LazyLock::new(|| {
    let hex = "ab".repeat(32);
    Manifest::from_value(serde_json::json!({
        "schemaVersion": 1,
        "server": {"name": "io.github.acme/weather", "version": "1.4.0"},
        "issuedAt": "2026-11-24T12:00:00Z",
        "artifacts": [
            {"kind": "npm", "name": "@acme/weather", "version": "1.4.0",
             "digest": format!("sha256:{hex}"), "integrity": format!("sha512-{}==", "A".repeat(86))},
            {"kind": "oci", "name": "ghcr.io/acme/weather", "digest": format!("sha256:{hex}"),
             "tag": "1.4.0"}
        ]
    }))
    .expect("the fixed manifest is valid")
});

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = ServerJson::parse(data) else {
        return;
    };
    for e in &doc.packages {
        if let Ok(id) = OciIdentifier::parse(&e.identifier) {
            let again = OciIdentifier::parse(&id.to_string()).expect("an image reference re-reads");
            assert_eq!(again, id);
        }
    }
    // Another server's document is refused; that is all there is to check then.
    let Ok(out) = export(&MANIFEST, Some(&doc)) else {
        return;
    };
    let merged = out.document.expect("a merge yields the document");
    let bytes = serde_json::to_vec(&merged).expect("a value serializes");
    let again = ServerJson::parse(&bytes).expect("a merged document re-reads");
    assert!(again.packages.len() >= out.packages.len());
    assert_eq!(again.version.as_deref(), Some("1.4.0"));
});
