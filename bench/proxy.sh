#!/usr/bin/env bash
# Added latency and throughput of `mcp-verify proxy` against the direct connection, in one run:
# server-everything (scripts/setup-mcp-servers.sh) in Streamable HTTP mode on loopback, reached
# directly and through the proxy (manifest pinned from it, signed with a throwaway key);
# examples/http_load.rs calls its `echo` tool N times, alternating direct and proxied (latency:
# median, p90) and then from CLIENTS sessions at once (throughput). Rounds alternate direct and
# proxied so both see the same load.
# Usage: bench/proxy.sh [N] [CLIENTS] [ROUNDS]   (defaults 2000 4 3)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}; clients=${2:-4}; rounds=${3:-3}
cargo build --release --locked --quiet -p mcp-sign -p mcp-verify
cargo build --release --locked --quiet -p mcpsig --example http_load --example tcp_relay
. bench/proxy-setup.sh
"$t/mcp-verify" proxy "$work/m.sigstore.json" --key "$work/k.pub" --listen 127.0.0.1:0 -q \
  > "$work/proxy.out" 2>/dev/null &
for _ in $(seq 50); do [ -s "$work/proxy.out" ] && break; sleep 0.1; done
proxy=$(head -n 1 "$work/proxy.out")
"$t/examples/tcp_relay" "127.0.0.1:$port" > "$work/relay.out" &
for _ in $(seq 50); do [ -s "$work/relay.out" ] && break; sleep 0.1; done
relay=http://$(head -n 1 "$work/relay.out")/mcp
load() { "$t/examples/http_load" "$url" "$1" "$n" "$clients" echo '{"message":"hi"}'; }
echo "server-everything direct $url; through the guard proxy $proxy; through a plain TCP relay $relay"
echo "$n calls alternating direct and the other, then $clients sessions x $n each"
load "$proxy" > /dev/null   # warm-up (node's JIT), not counted
for r in $(seq "$rounds"); do
  echo "round $r, proxy: $(load "$proxy")" | tee -a "$work/rounds.proxy"
  echo "round $r, relay: $(load "$relay")" | tee -a "$work/rounds.relay"
done
field() { awk -v f="$1" '{ for (i = 1; i <= NF; i++) if ($i == f) print $(i+1) }' "$2" | sort -n; }
med() { awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "added median latency per request: guard proxy $(field added_us "$work/rounds.proxy" | med) us (rounds: $(field added_us "$work/rounds.proxy" | tr '\n' ' ')), plain TCP relay $(field added_us "$work/rounds.relay" | med) us"
echo "throughput through the guard proxy: $(field throughput_pct "$work/rounds.proxy" | med)% of direct; through the relay: $(field throughput_pct "$work/rounds.relay" | med)%"
