//! The Streamable HTTP transport against real servers on 127.0.0.1: our drift
//! server (JSON answers, SSE answers, stateless) and server-everything.

#![allow(clippy::expect_used)] // test helpers outside #[test] functions

mod mcp_support;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcp_support::*;
use mcpsig::mcp::{self, HttpLaunch, Launch, McpError};
use mcpsig::tools;

/// A server process this test started; killed (by its own id) and reaped on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http(url: &str) -> Launch {
    Launch::Http(HttpLaunch {
        url: url.to_owned(),
        headers: vec![("x-test".into(), "mcpsig".into())],
        tls: None,
    })
}

/// Starts the drift server in HTTP mode and returns it with its URL.
fn drift_http(vars: &[(&str, &str)]) -> (Running, String) {
    let mut cmd = Command::new("python3");
    cmd.arg("tests/servers/drift-server.py")
        .current_dir(repo())
        .env("DRIFT_HTTP", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("python3 is needed for the drift server");
    let stdout = child.stdout.take().expect("piped stdout");
    let running = Running(child);
    let mut line = String::new();
    // The server prints its address as soon as it listens (or dies, giving EOF).
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the server's address");
    let url = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("unexpected first line from the drift server: {line:?}"))
        .to_owned();
    (running, url)
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn wait_for_port(port: u16) {
    let until = Instant::now() + Duration::from_secs(15);
    while Instant::now() < until {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server on port {port} did not start listening within 15 s");
}

#[test]
fn json_answers_with_a_session() {
    // The drift server answers 404 to a request without its session id and 406
    // without both Accept types, so success proves both headers are sent.
    let (_server, url) = drift_http(&[]);
    let listing = mcp::list_server(&http(&url), &options()).expect("list over HTTP");
    assert!(!listing.stateless);
    assert_eq!(listing.protocol_version, "2025-11-25");
    let names: Vec<&str> = listing
        .tools
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["read_note", "write_note", "search_notes"]);
}

#[test]
fn event_stream_answers() {
    let (_server, url) = drift_http(&[("DRIFT_HTTP_SSE", "1")]);
    let listing = mcp::list_server(&http(&url), &options()).expect("list over SSE");
    assert_eq!(listing.tools.len(), 3);
    assert_eq!(listing.prompts.len(), 1);
}

#[test]
fn stateless_over_http() {
    let (_server, url) = drift_http(&[("DRIFT_STATELESS", "1"), ("DRIFT_HTTP_SSE", "1")]);
    let listing = mcp::list_server(&http(&url), &options()).expect("stateless over HTTP");
    assert!(listing.stateless);
    assert_eq!(listing.protocol_version, "2026-07-28");
}

#[test]
fn same_definitions_over_http_and_stdio() {
    let (_server, url) = drift_http(&[("DRIFT", "annotation")]);
    let over_http = tools::capture(&http(&url), &options()).expect("http capture");
    let over_stdio =
        tools::capture(&drift(&[("DRIFT", "annotation")]), &options()).expect("stdio capture");
    assert_eq!(over_http.tools, over_stdio.tools);
    assert_eq!(over_http.profile.url.as_deref(), Some(url.as_str()));
    // Transport and url differ: reported as profile drift.
    let d = tools::diff(&over_stdio, &over_http);
    assert!(
        d.iter().all(|x| x.code == tools::DiffCode::ProfileChanged),
        "{d:?}"
    );
}

#[test]
fn everything_over_streamable_http_matches_its_stdio_capture() {
    let Some(bin) = external("tests/servers/node/node_modules/.bin/mcp-server-everything") else {
        return;
    };
    let port = free_port();
    let child = Command::new(bin)
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server-everything");
    let _server = Running(child);
    wait_for_port(port);
    let url = format!("http://127.0.0.1:{port}/mcp");
    let pins = tools::capture(&http(&url), &options()).expect("capture over streamable HTTP");
    let meta = read_json("testdata/mcp-tools/server-everything.meta.json");
    let recorded = meta["per_tool_canonical_sha256"]
        .as_object()
        .expect("digests");
    assert_eq!(pins.tools.len(), 13);
    for p in &pins.tools {
        assert_eq!(
            Some(p.digest.hex().as_str()),
            recorded[&p.name].as_str(),
            "{}",
            p.name
        );
    }
}

#[test]
fn http_errors_name_the_url() {
    let port = free_port();
    let closed = format!("http://127.0.0.1:{port}/mcp");
    let err = mcp::list_server(&http(&closed), &options()).expect_err("nothing listens");
    assert!(matches!(err, McpError::Http { .. }), "{err}");
    assert!(err.to_string().contains(&closed), "{err}");

    let err = mcp::list_server(&http("ftp://127.0.0.1/mcp"), &options()).expect_err("bad scheme");
    assert!(matches!(err, McpError::InvalidLaunch { .. }), "{err}");
}
