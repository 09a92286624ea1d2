//! The guard between a client and a real server (tests/servers/drift-server.py, the npm
//! server-everything): driven through its public API with pipes as the client, as an MCP
//! client would (initialize, tools/list, tools/call). Each test names its scenario under
//! testdata/scenarios/guard-*.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mcp_support;

use std::io::{BufRead, BufReader, PipeWriter, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use mcp_support::*;
use mcpsig::guard::{
    self, ClientProblem, CutOffProblem, GuardEnd, GuardError, GuardEvent, GuardExit, GuardLimits,
    GuardRequest, HideReason, LineProblem, RefuseReason,
};
use mcpsig::manifest::pins::{ItemKind, Pinned, ToolPins};
use mcpsig::mcp::{Launch, StdioLaunch};
use mcpsig::tools;
use serde_json::{Value, json};

/// The longest any single answer may take before the test fails (never a timing assertion:
/// only a bound so that a broken guard fails instead of hanging).
const WAIT: Duration = Duration::from_secs(60);

fn stdio(launch: Launch) -> StdioLaunch {
    match launch {
        Launch::Stdio(s) => s,
        Launch::Http(_) => panic!("a stdio launch"),
    }
}

/// Pins of the drift server as it starts without any drift.
fn drift_pins() -> ToolPins {
    tools::capture(&drift(&[]), &options()).expect("capture drift-server")
}

struct Session {
    input: Option<PipeWriter>,
    lines: Receiver<Vec<u8>>,
    events: Receiver<GuardEvent>,
    guard: Option<JoinHandle<Result<GuardExit, GuardError>>>,
}

fn start(
    server: StdioLaunch,
    pins: ToolPins,
    limits: GuardLimits,
    audit: Option<PathBuf>,
) -> Session {
    let (client_in, input) = std::io::pipe().unwrap();
    let (from_guard, client_out) = std::io::pipe().unwrap();
    let (event_tx, events) = mpsc::channel();
    let request = GuardRequest {
        server,
        pins,
        audit_log: audit,
        limits,
    };
    let guard = thread::spawn(move || {
        guard::run(request, client_in, client_out, move |e| {
            let _ = event_tx.send(e);
        })
    });
    let (line_tx, lines) = mpsc::channel();
    thread::spawn(move || {
        let mut r = BufReader::new(from_guard);
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if line_tx.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
    Session {
        input: Some(input),
        lines,
        events,
        guard: Some(guard),
    }
}

impl Session {
    fn send(&mut self, line: &str) {
        let w = self.input.as_mut().expect("input open");
        w.write_all(line.as_bytes()).unwrap();
        w.write_all(b"\n").unwrap();
    }

    fn next(&self) -> Vec<u8> {
        self.lines
            .recv_timeout(WAIT)
            .expect("a line from the guard in time")
    }

    /// The next message answering `id` (notifications and server requests in between are
    /// skipped), with its raw line.
    fn answer(&self, id: &Value) -> (Value, Vec<u8>) {
        for _ in 0..10_000 {
            let raw = self.next();
            let v: Value = serde_json::from_slice(&raw).expect("the guard writes JSON");
            if v.get("id") == Some(id) && v.get("method").is_none() {
                return (v, raw);
            }
        }
        panic!("no answer to {id}");
    }

    fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        self.answer(&json!(id)).0
    }

    fn handshake(&mut self) {
        let init = self.request(
            0,
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "guard-test", "version": "1"}}),
        );
        assert!(init.get("result").is_some(), "{init}");
        self.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    }

    fn finish(mut self) -> (GuardExit, Vec<GuardEvent>) {
        drop(self.input.take());
        let exit = self
            .guard
            .take()
            .unwrap()
            .join()
            .expect("the guard thread")
            .expect("the guard ran");
        (exit, self.events.try_iter().collect())
    }
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list["result"][key]
        .as_array()
        .unwrap_or_else(|| panic!("a {key} list: {list}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

fn refusal_reason(answer: &Value) -> &str {
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    answer["error"]["data"]["reason"].as_str().unwrap()
}

/// The lines the drift server received (`in`) or sent (`out`), from its wire log.
fn wire(log: &Path, dir: &str) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["dir"] == dir)
        .map(|v| v["line"].as_str().unwrap().to_owned())
        .collect()
}

fn calls_received(log: &Path, tool: &str) -> usize {
    wire(log, "in")
        .iter()
        .filter(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["method"] == "tools/call" && v["params"]["name"] == tool
        })
        .count()
}

fn drift_with_log(vars: &[(&str, &str)], log: &Path) -> StdioLaunch {
    let log = log.display().to_string();
    let mut all: Vec<(&str, &str)> = vars.to_vec();
    all.push(("DRIFT_WIRE_LOG", &log));
    stdio(drift(&all))
}

/// Scenario guard-unpinned-tool-hidden.
#[test]
fn an_unpinned_tool_is_hidden_and_its_call_never_reaches_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("wire.jsonl");
    let audit = dir.path().join("audit.jsonl");
    let mut s = start(
        drift_with_log(&[("DRIFT", "add-tool")], &log),
        drift_pins(),
        GuardLimits::default(),
        Some(audit.clone()),
    );
    s.handshake();
    let list = s.request(1, "tools/list", json!({}));
    assert_eq!(
        names(&list, "tools"),
        ["read_note", "write_note", "search_notes"]
    );
    let refused = s.request(
        2,
        "tools/call",
        json!({"name": "export_notes", "arguments": {"url": "https://evil.example"}}),
    );
    assert_eq!(refusal_reason(&refused), "unpinned");
    let ok = s.request(
        3,
        "tools/call",
        json!({"name": "read_note", "arguments": {"id": "1"}}),
    );
    assert!(ok.get("result").is_some(), "{ok}");
    let (exit, events) = s.finish();
    assert_eq!(exit.end, GuardEnd::ClientClosed);
    assert_eq!(
        calls_received(&log, "export_notes"),
        0,
        "the refused call reached the server"
    );
    assert_eq!(calls_received(&log, "read_note"), 1);
    assert!(events.iter().any(|e| matches!(e, GuardEvent::Hidden { name, reason: HideReason::Unpinned, .. } if name == "export_notes")), "{events:?}");
    let refused = events
        .iter()
        .find(|e| matches!(e, GuardEvent::Refused { name, reason: RefuseReason::Unpinned, .. } if name == "export_notes"))
        .expect("a refusal event");
    assert_eq!(
        refused.to_string(),
        "guard: refused tool `export_notes` (request 2): it is not pinned in the signed manifest"
    );
    // The audit log: JSON lines, private, naming what was hidden and refused and why.
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|l| l["event"] == "hidden"
        && l["name"] == "export_notes"
        && l["reason"] == "unpinned"
        && l["kind"] == "tool"));
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "refused" && l["name"] == "export_notes" && l["id"] == 2)
    );
    assert!(lines.iter().all(|l| l["time"].is_string()));
    assert_eq!(lines[0]["event"], "started");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&audit).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A second session appends to the same log; nothing earlier is lost.
    let s = start(
        stdio(drift(&[])),
        drift_pins(),
        GuardLimits::default(),
        Some(audit.clone()),
    );
    s.finish();
    let again = std::fs::read_to_string(&audit).unwrap();
    assert!(again.starts_with(&text) && again.len() > text.len());
}

/// Scenario guard-byte-faithful.
#[test]
fn passed_through_messages_are_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("wire.jsonl");
    let mut s = start(
        drift_with_log(&[], &log),
        drift_pins(),
        GuardLimits::default(),
        None,
    );
    s.handshake();
    let list = s.request(1, "tools/list", json!({}));
    assert_eq!(names(&list, "tools").len(), 3);
    // Odd spacing, key order and escapes: a re-encoding proxy would change them.
    let call = r#"{ "params" : {"arguments": {"id": "n\u00e9\/1"}, "name": "read_note"},"method":"tools\/call", "jsonrpc":"2.0","id" :  "call-7" }"#;
    s.send(call);
    let (answer, raw) = s.answer(&json!("call-7"));
    assert!(answer.get("result").is_some(), "{answer}");
    let received = wire(&log, "in");
    assert!(
        received.iter().any(|l| l == call),
        "the server got {received:?}"
    );
    let sent = wire(&log, "out");
    let raw = String::from_utf8(raw).unwrap();
    assert!(raw.contains("\\u00e9") && raw.contains("\": "), "{raw}");
    assert!(
        sent.iter().any(|l| format!("{l}\n") == raw),
        "{raw} is not what the server sent"
    );
    // An unfiltered list result passes as sent, too.
    let (_, raw_list) = {
        s.send(r#"{"jsonrpc":"2.0","id":9,"method":"tools/list"}"#);
        s.answer(&json!(9))
    };
    let raw_list = String::from_utf8(raw_list).unwrap();
    assert!(
        wire(&log, "out")
            .iter()
            .any(|l| format!("{l}\n") == raw_list)
    );
    s.finish();
}

/// Scenario guard-call-before-list-rechecked.
#[test]
fn a_call_before_any_list_is_held_until_the_guard_has_checked() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("wire.jsonl");
    let mut s = start(
        drift_with_log(&[], &log),
        drift_pins(),
        GuardLimits::default(),
        None,
    );
    s.handshake();
    let ok = s.request(
        1,
        "tools/call",
        json!({"name": "read_note", "arguments": {"id": "1"}}),
    );
    assert!(ok.get("result").is_some(), "{ok}");
    let (_, events) = s.finish();
    let received = wire(&log, "in");
    let own = received
        .iter()
        .position(|l| l.contains("\"mcpsig-guard/1\"") && l.contains("tools/list"));
    let call = received.iter().position(|l| l.contains("tools/call"));
    assert!(own.is_some() && own < call, "{received:?}");
    assert!(events.iter().any(|e| matches!(
        e,
        GuardEvent::Rechecking {
            kind: ItemKind::Tool
        }
    )));
}

/// Scenario guard-changed-tool-refused-before-list.
#[test]
fn a_changed_tool_is_refused_even_before_the_client_lists() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("wire.jsonl");
    let mut s = start(
        drift_with_log(&[("DRIFT", "schema,prompt")], &log),
        drift_pins(),
        GuardLimits::default(),
        None,
    );
    s.handshake();
    let refused = s.request(
        1,
        "tools/call",
        json!({"name": "read_note", "arguments": {"id": "1"}}),
    );
    assert_eq!(refusal_reason(&refused), "changed");
    let ok = s.request(
        2,
        "tools/call",
        json!({"name": "write_note", "arguments": {"id": "1", "text": "x"}}),
    );
    assert!(ok.get("result").is_some(), "{ok}");
    // prompts/get likewise.
    let refused = s.request(
        3,
        "prompts/get",
        json!({"name": "summarise", "arguments": {"query": "q"}}),
    );
    assert_eq!(refusal_reason(&refused), "changed");
    let prompts = s.request(4, "prompts/list", json!({}));
    assert!(names(&prompts, "prompts").is_empty(), "{prompts}");
    let templates = s.request(5, "resources/templates/list", json!({}));
    assert_eq!(names(&templates, "resourceTemplates"), ["note"]);
    let (_, events) = s.finish();
    assert_eq!(calls_received(&log, "read_note"), 0);
    assert!(!wire(&log, "in").iter().any(|l| l.contains("prompts/get")));
    assert!(events.iter().any(|e| matches!(e, GuardEvent::Hidden { name, reason: HideReason::Changed, pinned: Some(_), live: Some(_), .. } if name == "summarise")));
}

/// Scenario guard-list-changed-poisoned-description.
#[test]
fn a_list_changed_to_a_poisoned_description_withdraws_the_tool() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("wire.jsonl");
    let mut s = start(
        drift_with_log(&[("DRIFT_CHANGE_AFTER", "1")], &log),
        drift_pins(),
        GuardLimits::default(),
        None,
    );
    s.handshake();
    let list = s.request(1, "tools/list", json!({}));
    assert_eq!(
        names(&list, "tools"),
        ["read_note", "write_note", "search_notes"]
    );
    // The first call passes; the server then poisons read_note and says its list changed.
    let ok = s.request(
        2,
        "tools/call",
        json!({"name": "read_note", "arguments": {"id": "1"}}),
    );
    assert!(ok.get("result").is_some(), "{ok}");
    let mut notified = false;
    for _ in 0..100 {
        let v: Value = serde_json::from_slice(&s.next()).unwrap();
        if v["method"] == "notifications/tools/list_changed" {
            notified = true;
            break;
        }
    }
    assert!(notified, "the notification passes through");
    let refused = s.request(
        3,
        "tools/call",
        json!({"name": "read_note", "arguments": {"id": "1"}}),
    );
    assert_eq!(refusal_reason(&refused), "changed");
    let list = s.request(4, "tools/list", json!({}));
    assert_eq!(names(&list, "tools"), ["write_note", "search_notes"]);
    let ok = s.request(
        5,
        "tools/call",
        json!({"name": "search_notes", "arguments": {"query": "x"}}),
    );
    assert!(ok.get("result").is_some(), "{ok}");
    let (_, events) = s.finish();
    assert_eq!(
        calls_received(&log, "read_note"),
        1,
        "the call after the change reached the server"
    );
    assert!(events.iter().any(|e| matches!(
        e,
        GuardEvent::ListChanged {
            kind: ItemKind::Tool
        }
    )));
    assert!(events.iter().any(|e| matches!(e, GuardEvent::Hidden { name, reason: HideReason::Changed, .. } if name == "read_note")));
}

/// Scenario guard-stateless-era.
#[test]
fn the_stateless_era_is_guarded_and_rechecks_carry_the_callers_meta() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("wire.jsonl");
    let mut s = start(
        drift_with_log(
            &[
                ("DRIFT_STATELESS", "1"),
                ("DRIFT", "add-tool"),
                ("DRIFT_PAGE_SIZE", "1"),
            ],
            &log,
        ),
        drift_pins(),
        GuardLimits::default(),
        None,
    );
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    let discover = s.request(0, "server/discover", json!({"_meta": meta}));
    assert_eq!(
        discover["result"]["supportedVersions"][0], "2026-07-28",
        "{discover}"
    );
    // No initialize: a re-check without the caller's `_meta` would be refused by the server.
    // The guard follows four pages (one tool each) before it decides.
    let ok = s.request(
        1,
        "tools/call",
        json!({"name": "read_note", "arguments": {"id": "1"}, "_meta": meta}),
    );
    assert!(ok.get("result").is_some(), "{ok}");
    let refused = s.request(
        2,
        "tools/call",
        json!({"name": "export_notes", "arguments": {}, "_meta": meta}),
    );
    assert_eq!(refusal_reason(&refused), "unpinned");
    // A client's paginated listing: each page filtered.
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    for id in 10..20 {
        let mut params = json!({"_meta": meta});
        if let Some(c) = &cursor {
            params["cursor"] = json!(c);
        }
        let page = s.request(id, "tools/list", params);
        listed.extend(names(&page, "tools"));
        match page["result"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(listed, ["read_note", "write_note", "search_notes"]);
    s.finish();
    let own: Vec<String> = wire(&log, "in")
        .into_iter()
        .filter(|l| l.contains("mcpsig-guard/"))
        .collect();
    assert_eq!(own.len(), 4, "{own:?}");
    assert!(own.iter().all(|l| l.contains("2026-07-28")), "{own:?}");
}

/// Scenario guard-stateless-era, with the PyPI reference server mcp-server-fetch (it offers
/// `server/discover`).
#[test]
fn the_fetch_server_in_the_stateless_era_through_the_guard() {
    let Some(launch) = fetch() else { return };
    let mut pins = tools::capture(&launch, &options()).expect("capture mcp-server-fetch");
    assert_eq!(pins.profile.protocol_version, "2026-07-28");
    // Pinned without its prompt: the prompt is hidden and refused.
    pins.prompts.clear();
    let mut s = start(stdio(launch), pins, GuardLimits::default(), None);
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "guard-test", "version": "1"},
    });
    let discover = s.request(0, "server/discover", json!({"_meta": meta}));
    assert!(
        discover["result"]["supportedVersions"]
            .as_array()
            .is_some_and(|v| v.contains(&json!("2026-07-28"))),
        "{discover}"
    );
    let list = s.request(1, "tools/list", json!({"_meta": meta}));
    assert_eq!(names(&list, "tools"), ["fetch"]);
    let prompts = s.request(2, "prompts/list", json!({"_meta": meta}));
    assert!(names(&prompts, "prompts").is_empty(), "{prompts}");
    let refused = s.request(
        3,
        "prompts/get",
        json!({"name": "fetch", "arguments": {"url": "http://127.0.0.1:9/"}, "_meta": meta}),
    );
    assert_eq!(refusal_reason(&refused), "unpinned");
    let refused = s.request(
        4,
        "tools/call",
        json!({"name": "fetch_everything", "arguments": {}, "_meta": meta}),
    );
    assert_eq!(refusal_reason(&refused), "unpinned");
    let (exit, _) = s.finish();
    assert_eq!(exit.end, GuardEnd::ClientClosed);
}

/// Scenario guard-instructions-changed.
#[test]
fn changed_instructions_are_removed_from_the_handshake() {
    let mut s = start(
        stdio(drift(&[("DRIFT", "instructions")])),
        drift_pins(),
        GuardLimits::default(),
        None,
    );
    let init = s.request(0, "initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}));
    assert!(init["result"]["serverInfo"].is_object(), "{init}");
    assert!(init["result"].get("instructions").is_none(), "{init}");
    let (_, events) = s.finish();
    assert!(events.iter().any(|e| matches!(
        e,
        GuardEvent::Hidden {
            kind: ItemKind::Instructions,
            reason: HideReason::Changed,
            ..
        }
    )));
    // Unchanged instructions pass.
    let mut s = start(
        stdio(drift(&[])),
        drift_pins(),
        GuardLimits::default(),
        None,
    );
    let init = s.request(0, "initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}));
    assert!(init["result"]["instructions"].is_string(), "{init}");
    s.finish();
}

/// Scenario guard-server-crash.
#[test]
fn a_crashing_server_fails_pending_requests_and_its_status_comes_back() {
    let mut s = start(
        stdio(drift(&[("DRIFT_MISBEHAVE", "crash")])),
        drift_pins(),
        GuardLimits::default(),
        None,
    );
    s.handshake();
    let answer = s.request(1, "tools/list", json!({}));
    assert_eq!(answer["error"]["code"], -32603, "{answer}");
    assert_eq!(answer["error"]["data"]["reason"], "server-gone");
    let exit = s.guard.take().unwrap().join().unwrap().unwrap();
    assert_eq!(exit.status.code(), Some(3));
    assert_eq!(exit.end, GuardEnd::ServerExited);
    let events: Vec<GuardEvent> = s.events.try_iter().collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, GuardEvent::ServerExited { .. }))
    );
}

/// Scenario guard-server-hang.
#[test]
fn a_hanging_server_does_not_hang_the_guard() {
    // Generous enough that the server's own start-up (python, on a loaded CI machine) never
    // counts as a hang; the hang itself is endless, so the outcome does not depend on them.
    let limits = GuardLimits {
        recheck_timeout: Duration::from_secs(4),
        request_timeout: Some(Duration::from_secs(4)),
        shutdown_grace: Duration::from_millis(500),
        ..GuardLimits::default()
    };
    let mut s = start(
        stdio(drift(&[("DRIFT_MISBEHAVE", "hang")])),
        drift_pins(),
        limits,
        None,
    );
    s.handshake();
    // Held for a re-check the server never answers: refused when the re-check times out.
    let refused = s.request(
        1,
        "tools/call",
        json!({"name": "read_note", "arguments": {"id": "1"}}),
    );
    assert_eq!(refusal_reason(&refused), "recheck-timed-out");
    // A plain request times out too, with an internal error.
    let timed_out = s.request(2, "ping", json!({}));
    assert_eq!(
        timed_out["error"]["data"]["reason"], "timed-out",
        "{timed_out}"
    );
    // The client leaves; the server, stuck, is stopped with SIGTERM.
    let (exit, events) = s.finish();
    assert_eq!(exit.end, GuardEnd::ClientClosed);
    assert_eq!(exit.status.signal(), Some(15), "{:?}", exit.status);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, GuardEvent::RequestTimedOut { .. }))
    );
}

/// Scenario guard-server-oversized-line.
#[test]
fn a_server_line_over_the_limit_cuts_the_server_off() {
    let limits = GuardLimits {
        max_message_bytes: 1024 * 1024,
        ..GuardLimits::default()
    };
    let mut s = start(
        stdio(drift(&[("DRIFT_MISBEHAVE", "huge")])),
        drift_pins(),
        limits,
        None,
    );
    s.handshake();
    let answer = s.request(1, "tools/list", json!({}));
    assert_eq!(answer["error"]["data"]["reason"], "server-gone", "{answer}");
    let exit = s.guard.take().unwrap().join().unwrap().unwrap();
    assert_eq!(
        exit.end,
        GuardEnd::ServerCutOff(CutOffProblem::Line(LineProblem::TooLarge))
    );
}

/// Scenario guard-server-garbage.
#[test]
fn a_server_writing_garbage_is_cut_off() {
    for (mode, problem) in [
        ("garbage", LineProblem::NotJson),
        ("not-object", LineProblem::Batch),
    ] {
        let mut s = start(
            stdio(drift(&[("DRIFT_MISBEHAVE", mode)])),
            drift_pins(),
            GuardLimits::default(),
            None,
        );
        s.handshake();
        let answer = s.request(1, "tools/list", json!({}));
        assert_eq!(answer["error"]["code"], -32603, "{mode}: {answer}");
        let exit = s.guard.take().unwrap().join().unwrap().unwrap();
        assert_eq!(
            exit.end,
            GuardEnd::ServerCutOff(CutOffProblem::Line(problem)),
            "{mode}"
        );
    }
}

/// Scenario guard-server-smuggled-result.
#[test]
fn a_result_disguised_as_a_request_cuts_the_server_off() {
    let mut s = start(
        stdio(drift(&[("DRIFT_MISBEHAVE", "smuggle")])),
        drift_pins(),
        GuardLimits::default(),
        None,
    );
    s.handshake();
    let answer = s.request(1, "tools/list", json!({}));
    assert_eq!(answer["error"]["data"]["reason"], "server-gone", "{answer}");
    assert!(answer.get("result").is_none());
    let exit = s.guard.take().unwrap().join().unwrap().unwrap();
    assert_eq!(exit.end, GuardEnd::ServerCutOff(CutOffProblem::NotAMessage));
}

/// Scenario guard-server-flood.
#[test]
fn a_flooding_server_is_passed_through_without_buffering() {
    let limits = GuardLimits {
        shutdown_grace: Duration::from_millis(200),
        ..GuardLimits::default()
    };
    let mut s = start(
        stdio(drift(&[("DRIFT_MISBEHAVE", "ping-flood")])),
        drift_pins(),
        limits,
        None,
    );
    s.handshake();
    s.send(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
    // 100,000 server requests, each passed on in order (the guard holds none of them back).
    let mut pings = 0;
    while pings < 100_000 {
        let v: Value = serde_json::from_slice(&s.next()).unwrap();
        assert_eq!(v["method"], "ping");
        assert_eq!(v["id"], pings);
        pings += 1;
    }
    let (exit, _) = s.finish();
    assert_eq!(exit.end, GuardEnd::ClientClosed);
}

/// Scenario guard-client-protocol-errors.
#[test]
fn client_lines_the_guard_cannot_decide_on_are_answered_not_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("wire.jsonl");
    let limits = GuardLimits {
        max_message_bytes: 4096,
        max_pending: 2,
        ..GuardLimits::default()
    };
    let mut s = start(
        drift_with_log(&[("DRIFT_MISBEHAVE", "hang")], &log),
        drift_pins(),
        limits,
        None,
    );
    s.handshake();
    let check = |s: &mut Session, line: &str, code: i64, reason: &str| {
        s.send(line);
        let v: Value = serde_json::from_slice(&s.next()).unwrap();
        assert_eq!(v["error"]["code"], code, "{line}: {v}");
        assert_eq!(v["error"]["data"]["reason"], reason, "{line}: {v}");
    };
    check(&mut s, "not json", -32700, "not-json");
    check(
        &mut s,
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
        -32600,
        "batch",
    );
    check(
        &mut s,
        &format!(
            r#"{{"id":1,"method":"ping","params":{{"x":"{}"}}}}"#,
            "a".repeat(5000)
        ),
        -32600,
        "too-large",
    );
    check(
        &mut s,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_note","name":"export_notes"}}"#,
        -32600,
        "not-json-rpc",
    );
    check(
        &mut s,
        r#"{"jsonrpc":"2.0","id":"mcpsig-guard/1","method":"ping"}"#,
        -32600,
        "reserved-id",
    );
    check(
        &mut s,
        r#"{"jsonrpc":"2.0","result":{}}"#,
        -32600,
        "not-a-message",
    );
    check(
        &mut s,
        r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"export_notes"}}"#,
        -32600,
        "call-without-id",
    );
    check(
        &mut s,
        r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"export_notes"}}"#,
        -32600,
        "call-without-id",
    );
    // The guard reads names as the server does: escapes decoded, positional params read.
    check(
        &mut s,
        r#"{"jsonrpc":"2.0","id":20,"method":"tools\/call","params":{"name":"export\u005fnotes"}}"#,
        -32602,
        "unpinned",
    );
    check(
        &mut s,
        r#"{"jsonrpc":"2.0","id":21,"method":"tools/call","params":["export_notes"]}"#,
        -32602,
        "unpinned",
    );
    // A byte-order mark, or a second message after a lone CR (a line break to a reader with
    // universal newlines), makes the line no JSON: refused whole, nothing forwarded.
    check(
        &mut s,
        "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":22,\"method\":\"tools/call\",\"params\":{\"name\":\"export_notes\"}}",
        -32700,
        "not-json",
    );
    check(
        &mut s,
        "{\"jsonrpc\":\"2.0\",\"id\":23,\"method\":\"ping\"}\r{\"jsonrpc\":\"2.0\",\"id\":24,\"method\":\"tools/call\",\"params\":{\"name\":\"export_notes\"}}",
        -32700,
        "not-json",
    );
    // The server hangs on tools/list: requests pile up to the bound.
    s.send(r#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#);
    check(
        &mut s,
        r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#,
        -32600,
        "duplicate-id",
    );
    s.send(r#"{"jsonrpc":"2.0","id":6,"method":"ping"}"#);
    check(
        &mut s,
        r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#,
        -32603,
        "too-many-pending",
    );
    let (_, events) = s.finish();
    assert!(events.iter().any(|e| matches!(
        e,
        GuardEvent::ClientRefused {
            problem: ClientProblem::Line(LineProblem::Batch),
            ..
        }
    )));
    let received = wire(&log, "in");
    assert!(
        !received.iter().any(|l| l.contains("export_notes")
            || l.contains("not json")
            || l.contains("\"id\":7")
            || l.contains("\"id\":23")),
        "{received:?}"
    );
}

/// Scenario guard-everything-server.
#[test]
fn server_everything_through_the_guard() {
    let Some(launch) = everything() else { return };
    let mut pins = tools::capture(&launch, &options()).expect("capture server-everything");
    // Pinned without `get-env`; `get-sum` pinned with another description than it has.
    pins.tools.retain(|p| p.name != "get-env");
    let sum = pins.tools.iter_mut().find(|p| p.name == "get-sum").unwrap();
    let mut def = sum.definition.clone();
    def.insert(
        "description".into(),
        json!("Adds two numbers (the reviewed text)"),
    );
    *sum = Pinned::new(def).unwrap();
    let mut s = start(stdio(launch), pins, GuardLimits::default(), None);
    s.handshake();
    let list = s.request(1, "tools/list", json!({}));
    let listed = names(&list, "tools");
    assert!(listed.contains(&"echo".to_owned()), "{listed:?}");
    assert!(
        !listed.contains(&"get-env".to_owned()) && !listed.contains(&"get-sum".to_owned()),
        "{listed:?}"
    );
    let echo = s.request(
        2,
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "hi"}}),
    );
    assert!(
        echo["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("hi"),
        "{echo}"
    );
    assert_eq!(
        refusal_reason(&s.request(3, "tools/call", json!({"name": "get-env", "arguments": {}}))),
        "unpinned"
    );
    assert_eq!(
        refusal_reason(&s.request(
            4,
            "tools/call",
            json!({"name": "get-sum", "arguments": {"a": 1, "b": 2}})
        )),
        "changed"
    );
    let prompts = s.request(5, "prompts/list", json!({}));
    assert!(!names(&prompts, "prompts").is_empty(), "{prompts}");
    let (exit, _) = s.finish();
    assert_eq!(exit.end, GuardEnd::ClientClosed);
}

/// SIGTERM passed on through the handle ends the server; its status comes back.
#[test]
fn signals_pass_on_to_the_server() {
    let request = GuardRequest {
        server: stdio(drift(&[])),
        pins: drift_pins(),
        audit_log: None,
        limits: GuardLimits::default(),
    };
    let g = guard::Guard::start(request).unwrap();
    let handle = g.server();
    assert!(handle.pid() > 0);
    let (client_in, input) = std::io::pipe().unwrap();
    let (_from_guard, client_out) = std::io::pipe().unwrap();
    let running = thread::spawn(move || g.run(client_in, client_out, |_| {}));
    assert!(handle.signal(guard::ForwardSignal::Terminate));
    let exit = running.join().unwrap().unwrap();
    assert_eq!(exit.status.signal(), Some(15));
    assert_eq!(exit.end, GuardEnd::ServerExited);
    assert!(
        !handle.signal(guard::ForwardSignal::Terminate),
        "nothing sent once reaped"
    );
    drop(input);
}

/// A failed start launches nothing: an audit log that cannot be opened (here a symlink).
#[test]
fn an_audit_log_that_cannot_be_opened_stops_the_launch() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started");
    let audit = dir.path().join("audit.jsonl");
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), &audit).unwrap();
    let mut server = stdio(drift(&[]));
    server
        .env
        .push(("DRIFT_ENV_DUMP".into(), marker.display().to_string()));
    let request = GuardRequest {
        server,
        pins: drift_pins(),
        audit_log: Some(audit),
        limits: GuardLimits::default(),
    };
    let err = guard::Guard::start(request).err().expect("refused");
    assert!(matches!(err, GuardError::AuditLog { .. }), "{err}");
    assert!(!marker.exists(), "the server started");
}

const SCENARIOS: &[&str] = &[
    "guard-unpinned-tool-hidden",
    "guard-byte-faithful",
    "guard-call-before-list-rechecked",
    "guard-changed-tool-refused-before-list",
    "guard-list-changed-poisoned-description",
    "guard-stateless-era",
    "guard-instructions-changed",
    "guard-server-crash",
    "guard-server-hang",
    "guard-server-oversized-line",
    "guard-server-garbage",
    "guard-server-smuggled-result",
    "guard-server-flood",
    "guard-client-protocol-errors",
    "guard-everything-server",
];

/// Every guard-* scenario directory is one of the tests above, and each has its `expected`.
#[test]
fn every_guard_scenario_is_run_here() {
    let mut seen = Vec::new();
    for e in std::fs::read_dir(repo().join("testdata/scenarios")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("guard-") {
            assert!(
                SCENARIOS.contains(&name.as_str()),
                "testdata/scenarios/{name} is run by no test"
            );
            assert!(
                repo()
                    .join("testdata/scenarios")
                    .join(&name)
                    .join("expected")
                    .exists(),
                "{name}: no expected file"
            );
            seen.push(name);
        }
    }
    assert_eq!(
        seen.len(),
        SCENARIOS.len(),
        "missing scenario directories: {seen:?}"
    );
}
