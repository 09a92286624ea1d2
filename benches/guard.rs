//! The guard's cost: added latency per `tools/call` round trip (median, p99) and calls per
//! second, through the guard against the same server launched directly, in the same run.
//! Servers: a fast echo server of our own (this binary, re-run with `MCPSIG_BENCH_ECHO_SERVER=1`)
//! and the npm reference server-everything's `echo` tool. Not a test: it prints figures
//! (bench/guard.md records them).
//!
//! `cargo bench --bench guard` (`GUARD_BENCH_CALLS=N` for the number of timed round trips).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcpsig::guard::{Guard, GuardLimits, GuardRequest};
use mcpsig::mcp::{ClientOptions, Launch, StdioLaunch};
use serde_json::{Value, json};

const ECHO_ENV: &str = "MCPSIG_BENCH_ECHO_SERVER";

fn main() {
    if std::env::var_os(ECHO_ENV).is_some() {
        echo_server();
        return;
    }
    let calls: usize = std::env::var("GUARD_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let own = StdioLaunch {
        program: std::env::current_exe()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        args: Vec::new(),
        env: vec![(ECHO_ENV.into(), "1".into())],
        cwd: None,
        bytecode: Default::default(),
    };
    compare("own echo server (Rust)", &own, calls);
    let everything = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/servers/node/node_modules/.bin/mcp-server-everything");
    if everything.exists() {
        let launch = StdioLaunch::new(everything.to_string_lossy(), ["stdio"]);
        compare("server-everything (node)", &launch, calls.min(3000));
    } else {
        println!(
            "server-everything: not installed ({}), skipped",
            everything.display()
        );
    }
}

/// A line-oriented connection to a server: direct pipes or through the guard.
struct Conn {
    to: Box<dyn Write + Send>,
    from: BufReader<Box<dyn Read + Send>>,
    line: Vec<u8>,
}

impl Conn {
    fn send(&mut self, line: &[u8]) {
        self.to.write_all(line).unwrap();
        self.to.flush().unwrap();
    }

    /// Reads until the answer to `id` (skipping notifications and server requests).
    fn answer(&mut self, id: u64) {
        let needle = format!("\"id\":{id}");
        loop {
            self.line.clear();
            let n = self.from.read_until(b'\n', &mut self.line).unwrap();
            assert!(n > 0, "the server closed its output");
            // Cheap match on our own ids (all distinct numbers, written without spaces by
            // serde and by node; the echo server writes with serde).
            let text = std::str::from_utf8(&self.line).unwrap();
            let is_answer = text.match_indices(&needle).any(|(at, _)| {
                !text[at + needle.len()..].starts_with(|c: char| c.is_ascii_digit())
            });
            if is_answer && !text.contains("\"method\"") {
                return;
            }
        }
    }

    fn handshake(&mut self) {
        self.send(
            format!(
                "{}\n",
                json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                    "protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "guard-bench", "version": "1"}}})
            )
            .as_bytes(),
        );
        self.answer(0);
        self.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
        self.send(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}\n");
        self.answer(1);
    }
}

fn call_line(buf: &mut Vec<u8>, id: u64) {
    buf.clear();
    writeln!(
        buf,
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"echo\",\"arguments\":{{\"message\":\"hello {id}\"}}}}}}"
    )
    .unwrap();
}

struct Figures {
    median: Duration,
    p99: Duration,
    calls_per_second: f64,
}

/// One timed round trip.
fn round_trip(conn: &mut Conn, buf: &mut Vec<u8>, id: u64) -> Duration {
    call_line(buf, id);
    let t = Instant::now();
    conn.send(buf);
    conn.answer(id);
    t.elapsed()
}

/// `count` calls with a window of calls in flight, as a busy client would have; the time taken.
fn pipelined(conn: &mut Conn, buf: &mut Vec<u8>, first: u64, count: u64) -> Duration {
    const WINDOW: u64 = 32;
    let start = Instant::now();
    let last = first + count;
    let mut sent = first;
    while sent < first + WINDOW && sent < last {
        call_line(buf, sent);
        conn.send(buf);
        sent += 1;
    }
    for answered in first..last {
        conn.answer(answered);
        if sent < last {
            call_line(buf, sent);
            conn.send(buf);
            sent += 1;
        }
    }
    start.elapsed()
}

/// The set-ups are measured interleaved, call by call (latency) and batch by batch
/// (throughput), so that load from elsewhere on a shared machine falls on all of them alike.
fn measure(conns: &mut [&mut Conn], calls: usize) -> Vec<Figures> {
    let mut buf = Vec::with_capacity(256);
    let mut id = 10u64;
    let mut times: Vec<Vec<Duration>> = conns.iter().map(|_| Vec::with_capacity(calls)).collect();
    for round in 0..calls + calls / 10 {
        for (conn, t) in conns.iter_mut().zip(&mut times) {
            let d = round_trip(conn, &mut buf, id);
            // The first tenth warms up.
            if round >= calls / 10 {
                t.push(d);
            }
        }
        id += 1;
    }
    const BATCH: u64 = 1000;
    let batches = (calls as u64 / BATCH).max(1);
    let mut spent = vec![Duration::ZERO; conns.len()];
    for _ in 0..batches {
        for (conn, s) in conns.iter_mut().zip(&mut spent) {
            *s += pipelined(conn, &mut buf, id, BATCH);
        }
        id += BATCH;
    }
    times
        .into_iter()
        .zip(spent)
        .map(|(mut t, s)| {
            t.sort();
            Figures {
                median: t[t.len() / 2],
                p99: t[t.len() * 99 / 100],
                calls_per_second: (batches * BATCH) as f64 / s.as_secs_f64(),
            }
        })
        .collect()
}

/// The server as the guard starts it (the same clean environment, so that both run the same
/// way), without the guard.
fn spawn(launch: &StdioLaunch) -> std::process::Child {
    let cache = std::env::temp_dir().join(format!("mcpsig-bench-cache-{}", std::process::id()));
    Command::new(&launch.program)
        .args(&launch.args)
        .env_clear()
        .envs(mcpsig::server_env::base_from_current())
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .env("PYTHONPYCACHEPREFIX", cache)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NODE_DISABLE_COMPILE_CACHE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// What keeps a set-up alive while it is measured.
enum Running {
    Child(std::process::Child),
    Threads(Vec<std::thread::JoinHandle<()>>, std::process::Child),
    Guard(std::thread::JoinHandle<()>),
}

fn direct(launch: &StdioLaunch) -> (Conn, Running) {
    let mut child = spawn(launch);
    let conn = Conn {
        to: Box::new(child.stdin.take().unwrap()),
        from: BufReader::new(Box::new(child.stdout.take().unwrap())),
        line: Vec::new(),
    };
    (conn, Running::Child(child))
}

/// The floor for any stdio proxy laid out like the guard: two threads copying lines between
/// the client's pipes and the server's, deciding nothing.
fn relay(launch: &StdioLaunch) -> (Conn, Running) {
    let mut child = spawn(launch);
    let (client_in, to_relay) = std::io::pipe().unwrap();
    let (from_relay, client_out) = std::io::pipe().unwrap();
    fn copy_lines(from: impl Read, mut to: impl Write) {
        let mut r = BufReader::new(from);
        let mut line = Vec::new();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if to.write_all(&line).is_err() {
                        return;
                    }
                }
            }
        }
    }
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let up = std::thread::spawn(move || copy_lines(client_in, stdin));
    let down = std::thread::spawn(move || copy_lines(stdout, client_out));
    let conn = Conn {
        to: Box::new(to_relay),
        from: BufReader::new(Box::new(from_relay)),
        line: Vec::new(),
    };
    (conn, Running::Threads(vec![up, down], child))
}

fn guarded(launch: &StdioLaunch) -> (Conn, Running) {
    let pins = mcpsig::tools::capture(&Launch::Stdio(launch.clone()), &ClientOptions::default())
        .expect("capture the server's pins");
    let guard = Guard::start(GuardRequest {
        server: launch.clone(),
        pins,
        audit_log: None,
        limits: GuardLimits {
            shutdown_grace: Duration::from_millis(200),
            ..GuardLimits::default()
        },
    })
    .expect("start the guard");
    let (client_in, to_guard) = std::io::pipe().unwrap();
    let (from_guard, client_out) = std::io::pipe().unwrap();
    let running = std::thread::spawn(move || {
        let _ = guard.run(client_in, client_out, |_| {});
    });
    let conn = Conn {
        to: Box::new(to_guard),
        from: BufReader::new(Box::new(from_guard)),
        line: Vec::new(),
    };
    (conn, Running::Guard(running))
}

fn stop(conn: Conn, running: Running) {
    drop(conn);
    match running {
        Running::Child(mut c) => {
            let _ = c.kill();
            let _ = c.wait();
        }
        Running::Threads(threads, mut c) => {
            let _ = c.kill();
            let _ = c.wait();
            for t in threads {
                let _ = t.join();
            }
        }
        Running::Guard(t) => {
            let _ = t.join();
        }
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn compare(name: &str, launch: &StdioLaunch, calls: usize) {
    let (mut d, dr) = direct(launch);
    let (mut r, rr) = relay(launch);
    let (mut g, gr) = guarded(launch);
    for c in [&mut d, &mut r, &mut g] {
        c.handshake();
    }
    let figures = measure(&mut [&mut d, &mut r, &mut g], calls);
    stop(d, dr);
    stop(r, rr);
    stop(g, gr);
    println!(
        "{name}: {calls} timed round trips and {} pipelined calls per set-up, interleaved",
        (calls / 1000).max(1) * 1000
    );
    for (label, f) in ["direct", "relay", "guarded"].iter().zip(&figures) {
        println!(
            "  {label:8}: median {:8.1} us  p99 {:8.1} us  {:9.0} calls/s",
            micros(f.median),
            micros(f.p99),
            f.calls_per_second
        );
    }
    let base = &figures[0];
    for (label, f) in ["relay", "guarded"].iter().zip(&figures[1..]) {
        println!(
            "  {label} adds: median {:+8.1} us  p99 {:+8.1} us  throughput {:.1}% of direct",
            micros(f.median) - micros(base.median),
            micros(f.p99) - micros(base.p99),
            100.0 * f.calls_per_second / base.calls_per_second
        );
    }
}

/// A minimal MCP server with one `echo` tool, as fast as a stdio server gets.
fn echo_server() {
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let tool = json!({"name": "echo", "description": "Echoes the message.",
        "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}}});
    for line in stdin.lines() {
        let Ok(line) = line else { return };
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let Some(id) = msg.get("id") else { continue };
        let result = match msg.get("method").and_then(Value::as_str) {
            Some("initialize") => json!({"protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}}, "serverInfo": {"name": "echo", "version": "1"}}),
            Some("tools/list") => json!({"tools": [tool]}),
            Some("tools/call") => {
                let text = msg["params"]["arguments"]["message"].clone();
                json!({"content": [{"type": "text", "text": text}]})
            }
            _ => json!({}),
        };
        let response = json!({"jsonrpc": "2.0", "id": id, "result": result});
        if serde_json::to_writer(&mut out, &response).is_err()
            || out.write_all(b"\n").is_err()
            || out.flush().is_err()
        {
            return;
        }
    }
}
