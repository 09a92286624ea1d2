#!/usr/bin/env bash
# Digest throughput, side by side with openssl and sha256sum over the same bytes, in one run:
#   (a) one 1 GiB file;  (b) a node_modules-like tree of 20,000 files, about 500 MB,
#   sizes from 100 B to 1 MB. Warm page cache (each input is read once before timing).
# Usage: bench/digest.sh [WORKDIR]   (default: target/bench-digest; needs ~1.6 GB free)
#   MCP_SIGN=PATH        time that mcp-sign binary instead of building one (bench/speed.sh)
#   PAIR_SPEED=PATH      that sha256_pair_speed example, likewise
#   DIGEST_RESULTS=FILE  also write the timings there as `name seconds` lines
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-target/bench-digest}
mkdir -p "$work"
if [ -n "${MCP_SIGN:-}" ]; then
  sign=$MCP_SIGN
else
  cargo build --release --locked --quiet -p mcp-sign
  sign=${CARGO_TARGET_DIR:-target}/release/mcp-sign
fi

big=$work/big.bin
if [ ! -f "$big" ] || [ "$(stat -c %s "$big")" -ne 1073741824 ]; then
  head -c 1073741824 /dev/urandom > "$big"
fi
tree=$work/tree
if [ ! -f "$work/tree.done" ]; then
  rm -rf "$tree"
  python3 - "$tree" <<'PY'
import math, os, random, sys
root = sys.argv[1]
random.seed(8785)
buf = os.urandom(1 << 20)
# Log-uniform sizes between 100 B and 1 MB, scaled so the tree totals about 500 MB.
n, lo, hi, target = 20000, math.log(100), math.log(1 << 20), 500_000_000
raw = [math.exp(random.uniform(lo, hi)) for _ in range(n)]
scale = target / sum(raw)
for i, r in enumerate(raw):
    size = int(min(1 << 20, max(100, r * scale * 4 if r * scale < 100 else r * scale)))
    d = os.path.join(root, f"pkg{i % 400:03d}", "lib" if i % 3 else "dist")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.js"), "wb") as f:
        off = random.randrange(0, (1 << 20) - size + 1)
        f.write(buf[off:off + size])
PY
  touch "$work/tree.done"
fi
tree_bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
tree_files=$(find "$tree" -type f | wc -l)

# Warm the page cache.
cat "$big" > /dev/null
find "$tree" -type f -print0 | xargs -0 cat > /dev/null

now() { date +%s.%N; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f GB/s (%.3f s)", b / s / 1e9, s }'; }
best() {  # best of 3 wall-clock runs of "$@"
  local b=999999 t0 t1 d
  for _ in 1 2 3; do
    t0=$(now); "$@" > /dev/null 2>&1; t1=$(now)
    d=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    b=$(awk -v a="$b" -v d="$d" 'BEGIN { print (d < a) ? d : a }')
  done
  echo "$b"
}

echo "machine: $(nproc) cores; $(openssl version)"
echo
echo "(a) one file, $(stat -c %s "$big") bytes"
bytes=$(stat -c %s "$big")
t_ssl=$(best openssl dgst -sha256 "$big")
t_sum=$(best sha256sum "$big")
t_us=$(best "$sign" digest "$big")
echo "  openssl dgst -sha256   $(rate "$bytes" "$t_ssl")"
echo "  sha256sum              $(rate "$bytes" "$t_sum")"
echo "  mcp-sign digest        $(rate "$bytes" "$t_us")   = $(awk -v a="$t_ssl" -v b="$t_us" 'BEGIN { printf "%.2fx", a / b }') openssl"
echo
echo "(b) tree, $tree_files files, $tree_bytes bytes"
t_ssl_tree=$(best sh -c "find '$tree' -type f -print0 | xargs -0 openssl dgst -sha256")
t_sum_tree=$(best sh -c "find '$tree' -type f -print0 | xargs -0 sha256sum")
t_us_tree=$(best "$sign" digest "$tree")
echo "  openssl dgst (one stream)   $(rate "$tree_bytes" "$t_ssl_tree")"
echo "  sha256sum (one stream)      $(rate "$tree_bytes" "$t_sum_tree")"
echo "  mcp-sign digest (tree)      $(rate "$tree_bytes" "$t_us_tree")   = $(awk -v a="$t_ssl_tree" -v b="$t_us_tree" 'BEGIN { printf "%.2fx", a / b }') openssl on the tree, $(awk -v a="$t_ssl" -v b="$t_us_tree" -v x="$bytes" -v y="$tree_bytes" 'BEGIN { printf "%.2fx", (y / b) / (x / a) }') openssl single-stream rate"
echo
echo "(c) the hash alone, one core, in the cache (sha256x2/examples/sha256_pair_speed.rs)"
if [ -z "${PAIR_SPEED:-}" ]; then
  cargo build --release --locked --quiet -p mcpsig-sha256x2 --example sha256_pair_speed
fi
pair_speed=${PAIR_SPEED:-${CARGO_TARGET_DIR:-target}/release/examples/sha256_pair_speed}
if [ -x "$pair_speed" ]; then echo "  $("$pair_speed" 256)"; fi
if [ -n "${DIGEST_RESULTS:-}" ]; then
  printf '%s\n' "file_bytes $bytes" "file_openssl $t_ssl" "file_sha256sum $t_sum" "file_ours $t_us" \
    "tree_bytes $tree_bytes" "tree_files $tree_files" "tree_openssl $t_ssl_tree" \
    "tree_sha256sum $t_sum_tree" "tree_ours $t_us_tree" > "$DIGEST_RESULTS"
fi
