//! Hostile and broken servers: every wait ends, every error says what happened,
//! and the server's processes never outlive the client.

#![allow(clippy::expect_used)] // test helpers outside #[test] functions

mod mcp_support;

use std::path::Path;
use std::time::{Duration, Instant};

use mcp_support::*;
use mcpsig::mcp::{self, Capability, ClientOptions, Launch, McpError, Root, StdioLaunch};

fn quick() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(2),
        ..ClientOptions::default()
    }
}

fn sh(script: &str) -> Launch {
    Launch::Stdio(StdioLaunch::new("sh", ["-c", script]))
}

/// True while `pid` names a live (not reaped, not zombie) process.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3 is the state; `Z` is a zombie, `X` dead.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn read_pids(path: &Path) -> Vec<u32> {
    std::fs::read_to_string(path)
        .expect("the server wrote its pids")
        .split_whitespace()
        .map(|p| p.parse().expect("a pid"))
        .collect()
}

#[test]
fn hung_server_times_out_and_its_process_group_is_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pids = dir.path().join("pids");
    // The shell starts a grandchild in the same group, records both pids and hangs.
    let script = format!("sleep 1000 & echo $$ $! > '{}'; wait", pids.display());
    let err = mcp::list_server(&sh(&script), &quick()).expect_err("a hung server must not succeed");
    assert!(matches!(err, McpError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    let pids = read_pids(&pids);
    assert_eq!(pids.len(), 2);
    for pid in pids {
        // SIGKILL is delivered at once but teardown is asynchronous: poll briefly.
        let until = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(pid), "process {pid} of the hung server survived");
    }
}

#[test]
fn plain_sleep_as_server_times_out() {
    let launch = Launch::Stdio(StdioLaunch::new("sleep", ["1000"]));
    let err = mcp::list_server(&launch, &quick()).expect_err("sleep is no server");
    assert!(matches!(err, McpError::Timeout { .. }), "{err}");
}

#[test]
fn server_hanging_mid_session_times_out() {
    let err = mcp::list_server(&drift(&[("DRIFT_MISBEHAVE", "hang")]), &quick())
        .expect_err("hangs on tools/list");
    match &err {
        McpError::Timeout { method, .. } => assert_eq!(method, "tools/list"),
        other => panic!("expected a timeout, got {other}"),
    }
}

#[test]
fn crashing_server_reports_its_stderr_and_exit_status() {
    let err =
        mcp::list_server(&drift(&[("DRIFT_MISBEHAVE", "crash")]), &options()).expect_err("crashes");
    let msg = err.to_string();
    assert!(matches!(err, McpError::Closed { .. }), "{msg}");
    assert!(
        msg.contains("simulated crash while listing tools"),
        "no stderr tail in: {msg}"
    );
    assert!(msg.contains("exit status: 3"), "no exit status in: {msg}");
}

#[test]
fn server_dying_at_start_reports_its_stderr() {
    let err = mcp::list_server(&sh("echo 'boom: missing config' >&2; exit 7"), &options())
        .expect_err("dies");
    let msg = err.to_string();
    assert!(
        matches!(err, McpError::Closed { .. } | McpError::Write { .. }),
        "{msg}"
    );
    assert!(
        msg.contains("boom: missing config"),
        "no stderr tail in: {msg}"
    );
}

#[test]
fn garbage_output_is_a_clear_error() {
    let err = mcp::list_server(&drift(&[("DRIFT_MISBEHAVE", "garbage")]), &options())
        .expect_err("garbage");
    let msg = err.to_string();
    assert!(matches!(err, McpError::Garbage { .. }), "{msg}");
    assert!(msg.contains("hello, this is not JSON-RPC"), "{msg}");

    let err = mcp::list_server(
        &sh("echo '<html>not an MCP server</html>'; sleep 5"),
        &options(),
    )
    .expect_err("html");
    assert!(matches!(err, McpError::Garbage { .. }), "{err}");

    let err = mcp::list_server(&drift(&[("DRIFT_MISBEHAVE", "not-object")]), &options())
        .expect_err("array");
    assert!(matches!(err, McpError::Garbage { .. }), "{err}");
}

#[test]
fn duplicate_json_keys_are_refused() {
    // Parsers disagree on which duplicate wins; a pin must not depend on that.
    let script = r#"read line; echo '{"jsonrpc":"2.0","id":1,"id":1,"result":{}}'; sleep 5"#;
    let err = mcp::list_server(&sh(script), &options()).expect_err("duplicate keys");
    assert!(matches!(err, McpError::Garbage { .. }), "{err}");
    assert!(
        err.to_string().contains("duplicate object key `id`"),
        "{err}"
    );
}

#[test]
fn oversized_message_is_refused() {
    let mut opts = options();
    opts.max_message_bytes = 1024 * 1024;
    let err =
        mcp::list_server(&drift(&[("DRIFT_MISBEHAVE", "huge")]), &opts).expect_err("huge line");
    assert!(
        matches!(err, McpError::MessageTooLarge { limit: 1048576, .. }),
        "{err}"
    );
}

#[test]
fn duplicate_tool_names_are_refused() {
    let err = mcp::list_server(&drift(&[("DRIFT_MISBEHAVE", "dup")]), &options()).expect_err("dup");
    assert!(
        matches!(err, McpError::DuplicateName { ref name, .. } if name == "read_note"),
        "{err}"
    );
}

#[test]
fn endless_pagination_is_refused() {
    let err = mcp::list_server(&drift(&[("DRIFT_MISBEHAVE", "loop-cursor")]), &options())
        .expect_err("loop");
    assert!(matches!(err, McpError::Pagination { .. }), "{err}");
}

#[test]
fn request_flood_from_a_server_that_never_reads_is_refused() {
    // Neither the flood nor the unread answers may block the client or grow
    // memory without bound; it ends with its own error, not the timeout.
    let err = mcp::list_server(&drift(&[("DRIFT_MISBEHAVE", "ping-flood")]), &options())
        .expect_err("flood");
    assert!(
        matches!(err, McpError::BadResult { .. } | McpError::Write { .. }),
        "{err}"
    );
}

#[test]
fn page_flood_is_refused_at_the_entry_limit() {
    // 4 pages of 150,000 tools: refused on the first page, before any entry is kept.
    let err = mcp::list_server(&drift(&[("DRIFT_MISBEHAVE", "flood-pages")]), &options())
        .expect_err("flood");
    match &err {
        McpError::TooManyEntries { method, limit, .. } => {
            assert_eq!((method.as_str(), *limit), ("tools/list", 10_000));
        }
        other => panic!("expected too many entries, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("drift-server.py"), "no server named in: {msg}");
    assert!(msg.contains("limit of 10000 entries"), "{msg}");
    assert_eq!(err.reason(), Some(mcp::REASON_SERVER_MISBEHAVED));
}

#[test]
fn page_flood_is_refused_at_the_byte_limit() {
    // Pages of 1,000 tools with 10 kB descriptions: few entries, but 10 MB a page.
    let flood = [
        ("DRIFT_MISBEHAVE", "flood-pages"),
        ("DRIFT_FLOOD_PAGES", "8"),
        ("DRIFT_FLOOD_TOOLS", "1000"),
        ("DRIFT_FLOOD_DESCRIPTION", "10000"),
    ];
    let err = mcp::list_server(&drift(&flood), &options()).expect_err("flood");
    match &err {
        McpError::ListingTooLarge { method, limit, .. } => {
            assert_eq!((method.as_str(), *limit), ("tools/list", 32 * 1024 * 1024));
        }
        other => panic!("expected a listing too large, got {other}"),
    }
    assert!(err.to_string().contains("all pages together"), "{err}");
    assert_eq!(err.reason(), Some(mcp::REASON_SERVER_MISBEHAVED));
    // The same server with fewer pages stays under both limits and is listed in full.
    let flood = [
        ("DRIFT_MISBEHAVE", "flood-pages"),
        ("DRIFT_FLOOD_PAGES", "3"),
        ("DRIFT_FLOOD_TOOLS", "1000"),
        ("DRIFT_FLOOD_DESCRIPTION", "10000"),
    ];
    let listing = mcp::list_server(&drift(&flood), &options()).expect("under the limits");
    assert_eq!(listing.tools.len(), 3000);
}

#[test]
fn listing_bounds_hold_exactly_at_their_limits() {
    // The drift server lists 3 tools, one per page here; each page is about 400 bytes.
    let paged = drift(&[("DRIFT_PAGE_SIZE", "1")]);
    let mut opts = options();
    opts.max_listing_entries = 3;
    let listing = mcp::list_server(&paged, &opts).expect("3 entries are within a limit of 3");
    assert_eq!(listing.tools.len(), 3);
    opts.max_listing_entries = 2;
    let err = mcp::list_server(&paged, &opts).expect_err("3 entries");
    assert!(
        matches!(err, McpError::TooManyEntries { limit: 2, ref method, .. } if method == "tools/list"),
        "{err}"
    );

    let mut opts = options();
    opts.max_listing_bytes = 500;
    let err = mcp::list_server(&paged, &opts).expect_err("3 pages of ~400 bytes");
    assert!(
        matches!(err, McpError::ListingTooLarge { limit: 500, ref method, .. } if method == "tools/list"),
        "{err}"
    );
    // Each list method has its own budget, and a listing under it is taken whole.
    opts.max_listing_bytes = 4096;
    let listing = mcp::list_server(&paged, &opts).expect("each listing is under 4 KiB");
    assert_eq!(
        (listing.prompts.len(), listing.resource_templates.len()),
        (1, 1)
    );
}

#[test]
fn endless_line_is_refused_at_the_default_limit() {
    // The server writes without a newline until we hang up: 16 MiB and no more.
    let err = mcp::list_server(&drift(&[("DRIFT_MISBEHAVE", "huge")]), &options())
        .expect_err("endless line");
    assert!(
        matches!(err, McpError::MessageTooLarge { limit, .. } if limit == 16 * 1024 * 1024),
        "{err}"
    );
    assert_eq!(err.reason(), Some(mcp::REASON_SERVER_MISBEHAVED));
}

#[test]
fn only_crossed_bounds_are_rejections() {
    let err = mcp::list_server(&drift(&[("DRIFT_MISBEHAVE", "loop-cursor")]), &options())
        .expect_err("loop");
    assert_eq!(err.reason(), Some(mcp::REASON_SERVER_MISBEHAVED), "{err}");
    // A crash or a hang may be a wrong command line or a slow machine: undecided.
    let err =
        mcp::list_server(&drift(&[("DRIFT_MISBEHAVE", "crash")]), &options()).expect_err("crash");
    assert_eq!(err.reason(), None, "{err}");
    let err = mcp::list_server(&drift(&[("DRIFT_MISBEHAVE", "hang")]), &quick()).expect_err("hang");
    assert_eq!(err.reason(), None, "{err}");
}

#[test]
fn missing_program_is_a_spawn_error() {
    let launch = Launch::Stdio(StdioLaunch::new(
        "/nonexistent/mcp-server",
        Vec::<String>::new(),
    ));
    let err = mcp::list_server(&launch, &options()).expect_err("no such program");
    assert!(matches!(err, McpError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/mcp-server"), "{err}");
}

#[test]
fn pagination_is_followed() {
    let listing =
        mcp::list_server(&drift(&[("DRIFT_PAGE_SIZE", "1")]), &options()).expect("paginated");
    let names: Vec<&str> = listing
        .tools
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["read_note", "write_note", "search_notes"]);
}

#[test]
fn server_requests_are_answered_during_the_session() {
    // The server pings, asks roots/list (answered with our roots) and asks
    // sampling (which we must refuse) before it answers tools/list.
    let mut opts = options();
    opts.capabilities = vec![Capability::Roots];
    opts.roots = vec![Root {
        uri: "file:///srv/project".into(),
        name: Some("project".into()),
    }];
    let listing =
        mcp::list_server(&drift(&[("DRIFT_ECHO_ROOTS", "1")]), &opts).expect("roots answered");
    let echo = listing
        .tools
        .iter()
        .find(|t| t["name"] == "roots-echo")
        .expect("the server saw our roots");
    assert_eq!(echo["description"], "Roots: file:///srv/project");
}

#[test]
fn stateless_path_is_used_where_offered() {
    let listing = mcp::list_server(
        &drift(&[("DRIFT_STATELESS", "1"), ("DRIFT_PAGE_SIZE", "1")]),
        &options(),
    )
    .expect("stateless, paginated: every page request carries the `_meta` keys");
    assert!(listing.stateless);
    assert_eq!(listing.protocol_version, "2026-07-28");
    assert_eq!(listing.tools.len(), 3);
    // Without it, the same server is reached through initialize.
    let listing = mcp::list_server(&drift(&[]), &options()).expect("handshake");
    assert!(!listing.stateless);
    assert_eq!(listing.protocol_version, "2025-11-25");
}
