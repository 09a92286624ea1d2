//! Load for bench/proxy.sh: initializes one MCP session at URL, then calls TOOL with ARGS (a
//! JSON object) N times in a row on one connection (latency), then from CLIENTS sessions at once
//! (throughput), and prints `median_us P50 p90_us P90 rps R` on one line.
//!
//! Usage: http_load URL N CLIENTS TOOL ARGS

use std::time::{Duration, Instant};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn post(
    agent: &ureq::Agent,
    url: &str,
    session: Option<&str>,
    body: &str,
    method: &str,
) -> Option<String> {
    let mut req = agent
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-method", method)
        .header("mcp-protocol-version", "2025-06-18");
    if let Some(s) = session {
        req = req.header("mcp-session-id", s);
    }
    let mut resp = req.send(body).ok()?;
    let sid = resp
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = resp.body_mut().read_to_string().ok()?;
    sid.or_else(|| session.map(str::to_owned))
}

fn session(agent: &ureq::Agent, url: &str) -> String {
    let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"load","version":"1"}}}"#;
    let sid = post(agent, url, None, init, "initialize").unwrap_or_default();
    post(
        agent,
        url,
        Some(&sid),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "notifications/initialized",
    );
    post(
        agent,
        url,
        Some(&sid),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        "tools/list",
    );
    sid
}

fn call(i: u64, tool: &str, args: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":{},"arguments":{args}}}}}"#,
        serde_json::Value::from(tool)
    )
}

fn median_p90(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p) as usize];
    (pct(0.5), pct(0.9))
}

/// Requests per second from `clients` sessions of `per` calls each at `url`.
fn throughput(url: &str, clients: u64, per: u64, tool: &str, targs: &str) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for c in 0..clients {
            s.spawn(move || {
                let a = agent();
                let sid = session(&a, url);
                for i in 0..per {
                    let body = call(1_000_000 * (c + 1) + i, tool, targs);
                    post(&a, url, Some(&sid), &body, "tools/call");
                }
            });
        }
    });
    (clients * per) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(direct), Some(proxied), Some(n), Some(clients), Some(tool), Some(targs)) = (
        args.get(1),
        args.get(2),
        args.get(3).and_then(|n| n.parse::<u64>().ok()),
        args.get(4).and_then(|n| n.parse::<u64>().ok()),
        args.get(5),
        args.get(6),
    ) else {
        eprintln!("usage: http_load DIRECT_URL PROXIED_URL N CLIENTS TOOL ARGS_JSON");
        std::process::exit(2);
    };
    // Latency: one session each, calls alternating between the two, so both see the same load.
    let a = agent();
    let b = agent();
    let sa = session(&a, direct);
    let sb = session(&b, proxied);
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for i in 0..n {
        let t = Instant::now();
        post(
            &a,
            direct,
            Some(&sa),
            &call(10 + i, tool, targs),
            "tools/call",
        );
        ta.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        post(
            &b,
            proxied,
            Some(&sb),
            &call(10 + i, tool, targs),
            "tools/call",
        );
        tb.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let (da, d90) = median_p90(ta);
    let (pa, p90) = median_p90(tb);
    let rd = throughput(direct, clients, n, tool, targs);
    let rp = throughput(proxied, clients, n, tool, targs);
    println!(
        "direct median_us {da:.0} p90_us {d90:.0} rps {rd:.0} | proxy median_us {pa:.0} p90_us {p90:.0} rps {rp:.0} | added_us {:.0} throughput_pct {:.0}",
        pa - da,
        100.0 * rp / rd
    );
}
