//! Tool diffs: two tool lists (JSON arrays, separated by a 0xFF byte, which JSON text cannot
//! hold) are pinned and compared. The diff and its rendering never panic; a list compared with
//! itself has no difference; lists that differ in any digest have one.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use mcpsig::tools::{CaptureProfile, Pinned, ToolPins, TransportKind, diff};
use serde_json::Value;

fn pins(json: &[u8]) -> Option<ToolPins> {
    let Value::Array(items) = mcpsig::json::parse_value(json).ok()? else {
        return None;
    };
    let mut tools: Vec<Pinned> = Vec::new();
    for item in items {
        let Value::Object(definition) = item else {
            return None;
        };
        let pinned = Pinned::new(definition).ok()?;
        if tools.iter().any(|t| t.name == pinned.name) {
            return None;
        }
        tools.push(pinned);
    }
    Some(ToolPins {
        profile: CaptureProfile {
            transport: TransportKind::Stdio,
            protocol_version: "2025-11-25".into(),
            client_capabilities: Vec::new(),
            argv: vec!["server".into()],
            env_names: Vec::new(),
            url: None,
        },
        tools,
        prompts: Vec::new(),
        resource_templates: Vec::new(),
        instructions: None,
    })
}

fn digests(p: &ToolPins) -> BTreeMap<&str, &mcpsig::digest::Digest> {
    p.tools
        .iter()
        .map(|t| (t.name.as_str(), &t.digest))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0xff).unwrap_or(data.len());
    let (left, right) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let (Some(a), Some(b)) = (pins(left), pins(right)) else {
        return;
    };
    assert!(diff(&a, &a).is_empty(), "a list differs from itself");
    assert!(diff(&b, &b).is_empty(), "a list differs from itself");
    let d = diff(&a, &b);
    for entry in &d {
        let _ = entry.to_string();
    }
    let _ = serde_json::to_string(&d).expect("a diff serializes");
    assert_eq!(
        d.is_empty(),
        digests(&a) == digests(&b),
        "drift is decided by digests"
    );
});
