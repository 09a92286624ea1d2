#!/usr/bin/env bash
# A/B of two `mcp-verify` builds as the guard proxy, in one run: both proxy one server-everything
# (scripts/setup-mcp-servers.sh) and examples/http_load.rs alternates calls between them, so a
# change to the proxy is measured against the build before it under the same load (this
# machine's noise between separate runs is larger than most changes). `added_us` is B minus A.
# Usage: A=/path/to/old/mcp-verify B=/path/to/new/mcp-verify bench/proxy-ab.sh
#   (build both first, e.g. copy target/release/mcp-verify aside before and after the change)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${A:?set A to the first mcp-verify}" "${B:?set B to the second mcp-verify}"
cargo build --release --locked --quiet -p mcp-sign
cargo build --release --locked --quiet -p mcpsig --example http_load
. bench/proxy-setup.sh
start() { "$1" proxy "$work/m.sigstore.json" --key "$work/k.pub" --listen 127.0.0.1:0 -q > "$work/$2.out" 2>/dev/null &
  for _ in $(seq 50); do [ -s "$work/$2.out" ] && break; sleep 0.1; done; }
start "$A" a; start "$B" b
a=$(head -n1 "$work/a.out"); b=$(head -n1 "$work/b.out")
"$t/examples/http_load" "$a" "$b" 1000 4 echo '{"message":"hi"}' > /dev/null
for r in 1 2 3 4; do
  echo "A=direct-slot B=proxy-slot: $("$t/examples/http_load" "$a" "$b" 2000 4 echo '{"message":"hi"}')"
  echo "direct vs A: $("$t/examples/http_load" "$url" "$a" 2000 1 echo '{"message":"hi"}')"
done
