//! Launch-to-verified-tool-list against server-everything, next to a bare
//! minimal client in the same run (interleaved, so machine noise hits both).
//!
//! `cargo bench --bench mcp_capture` (after scripts/setup-mcp-servers.sh).
//! Prints medians; our overhead is ours minus bare. No assertions: numbers only.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark driver, not library code

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcpsig::mcp::{ClientOptions, Launch, ProtocolChoice, Session, StdioLaunch};
use mcpsig::tools::{self, Pinned};

const ROUNDS: usize = 25;

fn server() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/servers/node/node_modules/.bin/mcp-server-everything");
    assert!(
        p.exists(),
        "{} missing: run scripts/setup-mcp-servers.sh",
        p.display()
    );
    p
}

/// The least a client can do: spawn, pipeline initialize + initialized +
/// tools/list, read until the tools/list answer, parse it, kill.
fn bare(bin: &PathBuf) -> usize {
    let mut child = Command::new(bin)
        .arg("stdio")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(
            concat!(
                r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bare","version":"0"}}}"#,
                "\n",
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                "\n",
                r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
                "\n"
            )
            .as_bytes(),
        )
        .unwrap();
    stdin.flush().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let n = loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "server closed");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["id"] == 2 {
            break v["result"]["tools"].as_array().unwrap().len();
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    n
}

/// Ours, tools only, same protocol as the bare client: launch, handshake,
/// tools/list, pin (RFC 8785 + sha256 per tool), compare with the pins.
fn ours_tools_only(launch: &Launch, pinned: &[Pinned]) -> usize {
    let opts = ClientOptions {
        protocol: ProtocolChoice::Prefer("2025-11-25".into()),
        ..ClientOptions::default()
    };
    let mut s = Session::connect(launch, &opts).unwrap();
    let live: Vec<Pinned> = s
        .list_all("tools/list", "tools")
        .unwrap()
        .into_iter()
        .map(|d| Pinned::new(d).unwrap())
        .collect();
    assert_eq!(live, pinned, "drift in the benchmark server");
    live.len()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this too: keep that quick.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let bin = server();
    let launch = Launch::Stdio(StdioLaunch::new(bin.to_string_lossy(), ["stdio"]));
    let pins = tools::capture(&launch, &ClientOptions::default()).unwrap();

    // Warm the page cache and node's compile cache.
    for _ in 0..3 {
        bare(&bin);
        ours_tools_only(&launch, &pins.tools);
    }
    let (mut t_bare, mut t_tools, mut t_full) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Rotate the order so no case always follows the same predecessor.
        for case in 0..3 {
            match (case + round) % 3 {
                0 => {
                    let t = Instant::now();
                    assert_eq!(bare(&bin), 13);
                    t_bare.push(t.elapsed());
                }
                1 => {
                    let t = Instant::now();
                    assert_eq!(ours_tools_only(&launch, &pins.tools), 13);
                    t_tools.push(t.elapsed());
                }
                _ => {
                    // The whole `mcp-verify tools` comparison: the pinned protocol,
                    // tools + prompts + resource templates, digests, diff.
                    let t = Instant::now();
                    let d = tools::check_live(&pins, &launch, &ClientOptions::default()).unwrap();
                    assert!(d.is_empty());
                    t_full.push(t.elapsed());
                }
            }
        }
    }

    // In-process cost of pinning and comparing (no I/O).
    let defs: Vec<_> = pins.tools.iter().map(|p| p.definition.clone()).collect();
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        let live: Vec<Pinned> = defs
            .iter()
            .cloned()
            .map(|d| Pinned::new(d).unwrap())
            .collect();
        std::hint::black_box(live);
    }
    let pin_cost = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(tools::diff(&pins, &pins));
    }
    let diff_cost = t.elapsed() / n;

    let (b, o, f) = (
        median(&mut t_bare),
        median(&mut t_tools),
        median(&mut t_full),
    );
    println!("server-everything (13 tools), {ROUNDS} interleaved rounds, medians:");
    println!(
        "  bare client, launch -> tools/list parsed:          {:8.2} ms",
        ms(b)
    );
    println!(
        "  mcpsig, launch -> tools pinned and compared:       {:8.2} ms",
        ms(o)
    );
    println!(
        "  mcpsig check_live (tools+prompts+templates, diff):{:8.2} ms",
        ms(f)
    );
    println!(
        "  overhead, tools only (mcpsig - bare):              {:8.2} ms",
        ms(o) - ms(b)
    );
    println!(
        "  overhead, full check (mcpsig - bare):              {:8.2} ms",
        ms(f) - ms(b)
    );
    println!(
        "  in-process: pin 13 tools (RFC 8785 + sha256):     {:8.1} us",
        pin_cost.as_secs_f64() * 1e6
    );
    println!(
        "  in-process: diff of all pins (no drift):           {:8.1} us",
        diff_cost.as_secs_f64() * 1e6
    );
}
