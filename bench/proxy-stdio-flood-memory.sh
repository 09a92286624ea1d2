#!/usr/bin/env bash
# Memory of `mcp-verify proxy --stdio` when its client stops reading and the endpoint floods:
# a Streamable HTTP server (Python, below) whose GET stream sends 8 MiB notifications as fast as
# it can; the client sends initialize and notifications/initialized, then never reads stdout.
# Prints the proxy's RSS and VmHWM over 15 s: flat when the queues are bounded in bytes.
# Usage: bench/proxy-stdio-flood-memory.sh [MCP_VERIFY]   (default: target/release/mcp-verify)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet -p mcp-sign -p mcp-verify
sign=$(realpath target/release/mcp-sign)
verify=$(realpath "${1:-target/release/mcp-verify}")
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
cat > "$work/server.py" <<'PY'
import http.server, json, sys
BIG = "x" * (8 << 20)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        m = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        if "id" not in m:
            self.send_response(202); self.send_header("content-length", "0"); self.end_headers()
            return
        r = {}
        if m["method"] == "initialize":
            r = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                 "serverInfo": {"name": "flood", "version": "1"}}
        elif m["method"] == "tools/list":
            r = {"tools": [{"name": "t", "description": "d", "inputSchema": {"type": "object"}}]}
        body = json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": r}).encode()
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("mcp-session-id", "s1")
        self.send_header("content-length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self.send_response(200); self.send_header("content-type", "text/event-stream")
        self.end_headers()
        ev = ("data: " + json.dumps({"jsonrpc": "2.0", "method": "notifications/message",
              "params": {"level": "info", "data": BIG}}) + "\n\n").encode()
        try:
            while True:
                self.wfile.write(ev)
        except OSError:
            pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$work/server.py" "$port" &
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
cd "$work"
export HOME=$work
"$sign" keygen --out k > /dev/null 2>&1
"$sign" init --name io.github.acme/flood --version 1.0.0 --url "http://127.0.0.1:$port/mcp" \
  -o m.json > /dev/null 2>&1
"$sign" tools m.json > /dev/null 2>&1
"$sign" sign m.json --key k > /dev/null 2>&1
mkfifo in out
exec 7<>out   # the fifo stays open for writing; nobody reads it once its 64 KiB are full
(printf '%s\n' \
  '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}' \
  '{"jsonrpc":"2.0","method":"notifications/initialized"}'; sleep 30) > in &
"$verify" proxy m.sigstore.json --key k.pub --stdio < in > out 2> err &
proxy=$!
for t in 2 5 10 15; do
  sleep $(( t == 2 ? 2 : t == 5 ? 3 : 5 ))
  echo "t=${t}s  RSS $(awk '/VmRSS/ { printf "%.0f MB", $2 / 1024 }' /proc/$proxy/status)  peak $(awk '/VmHWM/ { printf "%.0f MB", $2 / 1024 }' /proc/$proxy/status)"
done
