#!/usr/bin/env bash
# Added latency and throughput of `mcp-verify proxy`, against the direct connection, in one run:
# the drift server (tests/servers/drift-server.py) in Streamable HTTP mode on loopback, once
# direct and once through the proxy; examples/http_load.rs sends N tools/call requests in a row
# (latency: median and p90) and then CLIENTS sessions at once (throughput). Rounds alternate.
# Usage: bench/proxy.sh [N] [CLIENTS] [ROUNDS]   (defaults 2000 4 3)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}; clients=${2:-4}; rounds=${3:-3}
cargo build --release --locked --quiet -p mcp-sign -p mcp-verify --example http_load
t=${CARGO_TARGET_DIR:-target}/release
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
export HOME=$work/home; mkdir -p "$HOME"
DRIFT_HTTP=1 python3 tests/servers/drift-server.py > "$work/drift.out" 2>/dev/null &
for _ in $(seq 50); do [ -s "$work/drift.out" ] && break; sleep 0.1; done
url=$(sed 's/^listening //' "$work/drift.out")
(cd "$work" && "$t/mcp-sign" keygen --out k >/dev/null 2>&1 \
  && "$t/mcp-sign" init --name io.github.acme/bench --version 1.0.0 --url "$url" -o m.json >/dev/null 2>&1 \
  && "$t/mcp-sign" tools m.json >/dev/null 2>&1 && "$t/mcp-sign" sign m.json --key k >/dev/null 2>&1)
"$t/mcp-verify" proxy "$work/m.sigstore.json" --key "$work/k.pub" --listen 127.0.0.1:0 -q \
  > "$work/proxy.out" 2>/dev/null &
for _ in $(seq 50); do [ -s "$work/proxy.out" ] && break; sleep 0.1; done
proxy=$(head -n 1 "$work/proxy.out")
echo "direct $url   proxy $proxy   ($n calls in a row, then $clients sessions x $n)"
for r in $(seq "$rounds"); do
  d=$("$t/examples/http_load" "$url" "$n" "$clients")
  p=$("$t/examples/http_load" "$proxy" "$n" "$clients")
  echo "round $r: direct: $d | proxy: $p" | tee -a "$work/rounds"
done
awk '{ for (i = 1; i <= NF; i++) { if ($i == "median_us") { if (++k % 2) dm[++a] = $(i+1); else pm[++b] = $(i+1) }
                                    if ($i == "rps") { if (++q % 2) dr[++c] = $(i+1); else pr[++e] = $(i+1) } } }
     END { for (i = 1; i <= a; i++) { add += pm[i] - dm[i]; ratio += pr[i] / dr[i] }
           printf "added median latency: %.0f us; throughput through the proxy: %.0f%% of direct (mean of %d rounds)\n", add / a, 100 * ratio / a, a }' "$work/rounds"
