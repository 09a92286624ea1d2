//! Hostile bytes never panic the parsers that read outside input, and canonical JSON is a fixed
//! point: canonicalizing canonical bytes changes nothing. Inputs are mutations of real documents
//! (the committed manifests, statements and vectors), from a fixed-seed generator so failures
//! reproduce.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Rng, root};
use mcpsig::manifest::Manifest;

const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"1e999",
    b"-0",
    b"\\ud800",
    b"\"..\"",
    b"\"/etc\"",
    b"\xff",
    b"\x00",
    b"\"schemaVersion\":2,",
    b"\"a\":1,\"a\":2",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(4) {
            0 if !v.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(v.len());
                v.drain(at.min(v.len())..end);
            }
            1 => {
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(at..at, piece.iter().copied());
            }
            2 if at < v.len() => v[at] ^= 1 << rng.below(8),
            _ => v.truncate(at),
        }
    }
    v
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let scen = root().join("testdata/scenarios");
    for name in [
        "valid-bundle-accepted",
        "expired-manifest",
        "unknown-field-in-signed-manifest",
    ] {
        let b: serde_json::Value = serde_json::from_slice(
            &std::fs::read(scen.join(name).join("bundle.sigstore.json")).unwrap(),
        )
        .unwrap();
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::STANDARD
            .decode(b["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        out.push(serde_json::to_vec_pretty(&st["predicate"]).unwrap());
        out.push(payload);
    }
    for e in std::fs::read_dir(root().join("testdata/jcs/input")).unwrap() {
        out.push(std::fs::read(e.unwrap().path()).unwrap());
    }
    out
}

#[test]
fn mutated_documents_never_panic_and_canonical_form_is_a_fixed_point() {
    let seeds = seeds();
    let mut rng = Rng(0x6d63_7073_6967_2021);
    let (mut parsed, mut manifests) = (0, 0);
    for _ in 0..20_000 {
        let pick = rng.below(seeds.len());
        let input = mutate(&mut rng, &seeds[pick]);
        if let Ok(canon) = mcpsig::canonical::canonicalize(&input) {
            parsed += 1;
            let again = mcpsig::canonical::canonicalize(&canon).expect("canonical output parses");
            assert_eq!(
                again,
                canon,
                "canonical form is not a fixed point for {:?}",
                String::from_utf8_lossy(&input)
            );
        }
        if let Ok(m) = Manifest::from_json(&input) {
            manifests += 1;
            // Whatever parses must survive its own round trip unchanged.
            let back = Manifest::from_json(&m.to_json_pretty()).expect("re-read");
            assert_eq!(back, m);
        }
        let _ = mcpsig::sigstore::Bundle::from_json(&input);
        let _ = serde_json::from_slice::<mcpsig::statement::Statement>(&input);
    }
    // The generator must reach the interesting paths, not only syntax errors.
    assert!(parsed > 2_000, "only {parsed} mutated inputs parsed");
    assert!(manifests > 20, "only {manifests} mutated manifests parsed");
}

#[test]
fn hostile_names_and_patterns_never_panic() {
    let mut rng = Rng(42);
    let alphabet: Vec<char> = "ab./\\*?\u{0}\n \u{202e}\u{e9}-_".chars().collect();
    for _ in 0..20_000 {
        let s: String = (0..rng.below(24))
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        let _ = mcpsig::relpath::RelPath::parse(&s);
        let _ = mcpsig::manifest::ServerName::parse(&s);
        let _ = mcpsig::manifest::Version::parse(&s);
        let _ = mcpsig::manifest::Launch::stdio_from_command_line(&s);
        if let Ok(p) = mcpsig::digest::glob::Pattern::parse(&s) {
            let comps: Vec<&str> = s.split('/').collect();
            let _ = p.matches(&comps);
        }
        if let Ok(r) = mcpsig::relpath::RelPath::parse(&s) {
            assert!(
                !r.components()
                    .any(|c| c == ".." || c == "." || c.is_empty()),
                "{s:?}"
            );
            let _ = mcpsig::digest::tree::check_link_target(&r, &s);
        }
    }
}
