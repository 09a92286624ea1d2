//! The library's modules form layers (DESIGN.md, "Library modules"): a module may use only the
//! modules below it, never one above it, so dependencies point one way and there are no cycles.
//! This test reads every `crate::NAME` path in src/ and fails on an upward one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

/// From the leaves up. `lib.rs` (re-exports) and `fuzzing` (entry points for the fuzz
/// targets) sit above everything.
const LAYERS: &[&str] = &[
    "reason",
    "text",
    "json",
    "http",
    "relpath",
    "fsutil",
    "crypto",
    "server_env",
    "canonical",
    "digest",
    "store",
    "manifest",
    "sigstore",
    "mcpb_sig",
    "statement",
    "keys",
    "keygen",
    "registry",
    "artifact",
    "mcp",
    "tools",
    "sign",
    "verify",
    "trust_request",
    "pin_store",
    "policy",
    "catalog",
    "launch",
    "guard",
    "remote",
    "client_config",
    "fuzzing",
];

/// Names at the crate root that are not modules (re-exported items).
const ROOT_ITEMS: &[&str] = &["chrono", "error_chain"];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every `crate::NAME` in `text`, NAME being the first path segment.
fn crate_refs(text: &str) -> Vec<String> {
    let mut refs = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            refs.push(name);
        }
        rest = after;
    }
    // `use crate::{a, b::c}` groups.
    let mut rest = text;
    while let Some(i) = rest.find("crate::{") {
        let after = &rest[i + "crate::{".len()..];
        let group = &after[..after.find('}').unwrap_or(after.len())];
        for part in group.split(',') {
            let name: String = part
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                refs.push(name);
            }
        }
        rest = after;
    }
    refs
}

#[test]
fn modules_only_use_modules_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut unknown = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" {
            continue;
        }
        let Some(level) = LAYERS.iter().position(|m| *m == module) else {
            unknown.push(module);
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for used in crate_refs(&text) {
            if used == module || used == "self" || ROOT_ITEMS.contains(&used.as_str()) {
                continue;
            }
            match LAYERS.iter().position(|m| *m == used) {
                Some(l) if l < level => {}
                Some(_) => violations.push(format!(
                    "{}: `{module}` uses `{used}`, a module at or above it",
                    rel.display()
                )),
                None => unknown.push(used),
            }
        }
    }
    unknown.sort();
    unknown.dedup();
    assert!(
        unknown.is_empty(),
        "modules missing from LAYERS (place them in DESIGN.md's order): {unknown:?}"
    );
    assert!(
        violations.is_empty(),
        "upward imports:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_check_sees_upward_imports() {
    assert_eq!(
        crate_refs("use crate::verify::Verified;\nuse crate::{json, digest::Digest};"),
        ["verify", "json", "digest"]
    );
}
