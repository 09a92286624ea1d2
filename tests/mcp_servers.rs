//! Capture from the real reference servers (installed by scripts/setup-mcp-servers.sh):
//! the digests must equal those recorded by an independent capture, and be stable.

#![allow(clippy::expect_used)] // test helpers outside #[test] functions

mod mcp_support;

use std::collections::BTreeMap;

use mcp_support::*;
use mcpsig::mcp::{self, Capability, ProtocolChoice};
use mcpsig::tools::{self, ToolPins};
use serde_json::Value;

/// name -> hex digest, from a `*.meta.json` capture record.
fn recorded(meta_rel: &str) -> BTreeMap<String, String> {
    let meta = read_json(meta_rel);
    meta["per_tool_canonical_sha256"]
        .as_object()
        .expect("per-tool digests recorded")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("hex").to_owned()))
        .collect()
}

fn digests(pins: &ToolPins) -> BTreeMap<String, String> {
    pins.tools
        .iter()
        .map(|p| (p.name.clone(), p.digest.hex()))
        .collect()
}

#[test]
fn everything_without_capabilities_lists_13_tools_as_recorded() {
    let Some(launch) = everything() else { return };
    let pins = tools::capture(&launch, &options()).expect("capture server-everything");
    assert_eq!(pins.tools.len(), 13);
    assert_eq!(
        digests(&pins),
        recorded("testdata/mcp-tools/server-everything.meta.json")
    );
    assert_eq!(pins.profile.protocol_version, "2025-11-25");
    assert!(pins.profile.client_capabilities.is_empty());
    assert!(!pins.prompts.is_empty(), "server-everything has prompts");
    assert!(
        !pins.resource_templates.is_empty(),
        "server-everything has resource templates"
    );
    pins.validate().expect("fresh pins validate");
}

#[test]
fn everything_with_capabilities_lists_16_tools_as_recorded() {
    let Some(launch) = everything() else { return };
    let mut opts = options();
    opts.capabilities = vec![
        Capability::Sampling,
        Capability::Roots,
        Capability::Elicitation,
    ];
    let pins = tools::capture(&launch, &opts).expect("capture server-everything with capabilities");
    assert_eq!(pins.tools.len(), 16);
    assert_eq!(
        digests(&pins),
        recorded("testdata/mcp-tools/variants/everything-fullcaps.meta.json")
    );
    assert_eq!(
        pins.profile.client_capabilities,
        vec![
            Capability::Elicitation,
            Capability::Roots,
            Capability::Sampling
        ]
    );
}

#[test]
fn everything_capture_is_stable_and_self_consistent() {
    let Some(launch) = everything() else { return };
    let a = tools::capture(&launch, &options()).expect("first capture");
    let b = tools::capture(&launch, &options()).expect("second capture");
    assert_eq!(a, b, "two captures of the same server differ");
    let drift = tools::check_live(&a, &launch, &options()).expect("verify against the live server");
    assert!(drift.is_empty(), "unexpected drift: {drift:?}");
}

#[test]
fn pins_under_one_profile_drift_under_another() {
    // Pinned without capabilities, but the pin's profile is replayed: no drift.
    // Pinning with capabilities and comparing to a capture without them is drift.
    let Some(launch) = everything() else { return };
    let mut opts = options();
    opts.capabilities = vec![
        Capability::Roots,
        Capability::Sampling,
        Capability::Elicitation,
    ];
    let full = tools::capture(&launch, &opts).expect("capture with capabilities");
    let bare = tools::capture(&launch, &options()).expect("capture without");
    let d = tools::diff(&full, &bare);
    let removed: Vec<&str> = d
        .iter()
        .filter(|x| x.code == tools::DiffCode::Removed)
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(
        removed,
        [
            "get-roots-list",
            "trigger-elicitation-request",
            "trigger-sampling-request"
        ]
    );
    assert!(
        d.iter()
            .any(|x| x.code == tools::DiffCode::ProfileChanged && x.name == "clientCapabilities")
    );
    assert!(
        tools::check_live(&full, &launch, &options())
            .expect("replayed profile")
            .is_empty()
    );
}

#[test]
fn memory_server_tools_as_recorded() {
    let Some(dir) = tempfile::tempdir().ok() else {
        panic!("tempdir")
    };
    let Some(launch) = memory(dir.path()) else {
        return;
    };
    let pins = tools::capture(&launch, &options()).expect("capture server-memory");
    assert_eq!(
        digests(&pins),
        recorded("testdata/mcp-tools/server-memory.meta.json")
    );
    assert_eq!(pins.profile.env_names, ["MEMORY_FILE_PATH"]);
    let text = serde_json::to_string(&pins.profile).expect("profile serializes");
    assert!(
        !text.contains(&dir.path().to_string_lossy().to_string()),
        "an env value leaked into the profile"
    );
}

#[test]
fn fetch_server_uses_the_stateless_protocol() {
    let Some(launch) = fetch() else { return };
    let listing = mcp::list_server(&launch, &options()).expect("list mcp-server-fetch");
    assert!(
        listing.stateless,
        "server/discover was offered but not used"
    );
    assert_eq!(listing.protocol_version, "2026-07-28");
    let recorded = read_json("testdata/mcp-tools/protocol-2026-07-28/mcp-server-fetch.json");
    let live: Vec<Value> = listing.tools.iter().cloned().map(Value::Object).collect();
    let recorded_tools = recorded["tools"].as_array().expect("tools");
    let canon = |v: &Value| mcpsig::canonical::to_vec(v).expect("canonical");
    assert_eq!(
        canon(&Value::Array(live)),
        canon(&Value::Array(recorded_tools.clone()))
    );
}

#[test]
fn fetch_server_same_tools_through_the_handshake() {
    let Some(launch) = fetch() else { return };
    let stateless = tools::capture(&launch, &options()).expect("stateless capture");
    let mut opts = options();
    opts.protocol = ProtocolChoice::Prefer("2025-11-25".into());
    let handshake = tools::capture(&launch, &opts).expect("handshake capture");
    assert_eq!(handshake.profile.protocol_version, "2025-11-25");
    assert_eq!(digests(&stateless), digests(&handshake));
    // Same tools, but the pinned protocol differs: reported, not ignored.
    let d = tools::diff(&stateless, &handshake);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].name, "protocolVersion");
}

#[test]
fn time_server_descriptions_depend_on_the_host_and_the_profile_says_why() {
    let Some(utc) = time(&["--local-timezone", "UTC"], &[]) else {
        return;
    };
    let Some(paris) = time(&["--local-timezone", "Europe/Paris"], &[]) else {
        return;
    };
    let Some(tokyo) = time(&[], &[("TZ", "Asia/Tokyo")]) else {
        return;
    };
    let a = tools::capture(&utc, &options()).expect("time, UTC");
    let b = tools::capture(&paris, &options()).expect("time, Paris");
    let c = tools::capture(&tokyo, &options()).expect("time, TZ=Asia/Tokyo");
    assert_eq!(
        digests(&a),
        recorded("testdata/mcp-tools/mcp-server-time.meta.json")
    );
    assert_eq!(
        digests(&b),
        recorded("testdata/mcp-tools/variants/time-Europe_Paris.meta.json")
    );
    assert_eq!(
        digests(&c),
        recorded("testdata/mcp-tools/variants/time-TZenv-Tokyo.meta.json")
    );
    assert_eq!(c.profile.env_names, ["TZ"]);
    // Pinned under UTC, checked under Paris: the argv and the descriptions differ.
    let d = tools::diff(&a, &b);
    assert!(
        d.iter()
            .any(|x| x.name == "argv" && x.code == tools::DiffCode::ProfileChanged),
        "{d:?}"
    );
    let described: Vec<&str> = d
        .iter()
        .filter(|x| {
            x.code == tools::DiffCode::SchemaChanged
                || x.code == tools::DiffCode::DescriptionChanged
        })
        .map(|x| x.name.as_str())
        .collect();
    assert!(!described.is_empty(), "{d:?}");
}
