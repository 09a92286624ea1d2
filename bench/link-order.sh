#!/usr/bin/env bash
# Writes mcp-verify/link-order.txt: the functions one whole `mcp-verify` process runs, in the
# order it first runs them (then those the guard proxy adds, for its calls), read with callgrind from the release binary itself (its symbol
# names depend on the release profile's settings, so no other build will do). mcp-verify/build.rs
# hands the list to the linker, which places those functions together: a verification then
# faults in about 15 pages of code instead of about 55 spread over 10 MB.
#
# Run it again after a dependency update or a large change (names the list has and the build
# does not are skipped, so a stale list costs speed, never correctness). Prints the page faults
# of one verification before and after.
#
# Usage: bench/link-order.sh            (needs valgrind, perf and scripts/setup-mcp-servers.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=mcp-verify/link-order.txt
bin=target/release/mcp-verify
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

beacon="https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
github="https://token.actions.githubusercontent.com"
cases=testdata/sigstore-conformance/bundle-verify
kinds=(happy-path-intoto-in-dsse-v3 happy-path-v0.3-new-mediaType rekor2-dsse-happy-path rekor2-happy-path)
args_of() {
  local root=testdata/sigstore-trust/production.trusted_root.json
  [ -f "$cases/$1/trusted_root.json" ] && root=$cases/$1/trusted_root.json
  echo "--bundle $cases/$1/bundle.sigstore.json --certificate-identity $beacon --certificate-oidc-issuer $github --trusted-root $root testdata/sigstore-conformance/a.txt"
}
faults() {  # page faults of one DSSE verification, median of 50
  # shellcheck disable=SC2046
  perf stat -r 50 -x, -e page-faults "$bin" sigstore verify-bundle $(args_of "${kinds[0]}") 2>&1 >/dev/null \
    | awk -F, '/page-faults/ {print $1}'
}

cargo build --release --locked -p mcp-verify
echo "page faults of one verification with the current list: $(faults)"
i=0
for k in "${kinds[@]}"; do
  i=$((i + 1))
  # shellcheck disable=SC2046
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$tmp/$i.cg" \
    "$bin" sigstore verify-bundle $(args_of "$k") > /dev/null 2> "$tmp/$i.err" \
    || { echo "callgrind run failed for $k" >&2; tail -n 3 "$tmp/$i.err" >&2; exit 1; }
done
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$tmp/v.cg" "$bin" --version \
  > /dev/null 2> "$tmp/v.err"
# The guard proxy's path, after the verification's: server-everything through `mcp-verify proxy`
# (scripts/setup-mcp-servers.sh), 200 calls of its echo tool.
cargo build --release --locked --quiet -p mcp-sign
cargo build --release --locked --quiet -p mcpsig --example http_load
home=$HOME
# shellcheck source=bench/proxy-setup.sh
. bench/proxy-setup.sh
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work" "$tmp"' EXIT
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$tmp/p.cg" "$bin" proxy \
  "$work/m.sigstore.json" --key "$work/k.pub" --listen 127.0.0.1:0 -q > "$work/proxy.out" 2> "$tmp/p.err" &
vp=$!
for _ in $(seq 300); do [ -s "$work/proxy.out" ] && break; sleep 0.1; done
proxy=$(head -n 1 "$work/proxy.out")
"$t/examples/http_load" "$proxy" "$proxy" 50 1 echo '{"message":"hi"}' > /dev/null
callgrind_control -d "$vp" > /dev/null
kill "$vp"; wait "$vp" 2>/dev/null || true
export HOME=$home  # proxy-setup.sh gave the proxy a HOME of its own; cargo needs the real one
nm "$bin" | awk 'NF == 3 {print $3}' | sort -u > "$tmp/symbols"
# First appearance across the runs (the DSSE case first, the proxy last), names of this binary
# only.
python3 - "$tmp/symbols" "$tmp"/{1,2,3,4,v}.cg "$tmp"/p.cg.* > "$tmp/order" <<'PY'
import re, sys
symbols = set(open(sys.argv[1]).read().split())
seen = set()
for path in sys.argv[2:]:
    for line in open(path):
        m = re.match(r"c?fn=\(\d+\) (.+)$", line.rstrip("\n"))
        if m and m.group(1) in symbols and m.group(1) not in seen:
            seen.add(m.group(1))
            print(m.group(1))
PY
# The first line names the Cargo.lock the list was made with: mangled names change with any
# dependency's version or features, and mcp-verify/build.rs warns when Cargo.lock has changed
# since (lld skips lines that start with `#`).
{
  echo "# Cargo.lock sha256 $(sha256sum Cargo.lock | cut -d' ' -f1) (bench/link-order.sh)"
  cat "$tmp/order"
} > "$out"
echo "$out: $(wc -l < "$out") functions"
cargo build --release --locked -p mcp-verify
echo "page faults of one verification with the new list: $(faults)"
