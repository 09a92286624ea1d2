#!/usr/bin/env bash
# `mcp-verify catalog` over a catalog of signed bundles (default 10,000), release build: bundles
# verified per second, whole process, each bundle read from disk (page cache warm after the
# first run), signature + statement + validity window checked, one line written per bundle.
#
# The catalog is generated once and cached under target/bench-catalog: one key, one 40-file
# server tree pinned by `mcp-sign init`, VARIANTS distinct manifests (server name and version
# differ) each signed by `mcp-sign sign`, then copied round-robin into COUNT bundle files spread
# over 100 folders. The verifier keeps no cache between bundles, so a copy costs what a distinct
# bundle costs; VARIANTS=COUNT signs every one (about 17 ms each here).
#
# Usage: bench/catalog.sh [COUNT] [RUNS]    (env: VARIANTS=250, JOBS=<cores>, BIN=<binaries>)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
runs=${2:-5}
variants=${VARIANTS:-250}
target=${CARGO_TARGET_DIR:-target}
dir=$target/bench-catalog
mkdir -p "$dir"
# BIN=DIR: binaries built elsewhere (a target folder shared by several checkouts can hold
# another checkout's build).
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked --quiet -p mcp-sign -p mcp-verify
  BIN=$target/release
fi
sign="$BIN/mcp-sign"
verify="$BIN/mcp-verify"
cat_dir="$dir/catalog-$count-$variants"

if [ ! -f "$cat_dir/.done" ]; then
  echo "generating $count bundles ($variants signed variants) in $cat_dir" >&2
  t0=$(date +%s.%N)
  rm -rf "$dir/work" "$cat_dir"
  mkdir -p "$dir/work/srv/lib" "$dir/work/variants" "$cat_dir"
  for i in $(seq 1 40); do
    printf "x$i = %d  # module $i\n" $(seq 1 $((5 + i))) > "$dir/work/srv/lib/module$i.py"
  done
  printf 'print("hello")\n' > "$dir/work/srv/server.py"
  [ -f "$dir/release.key" ] || "$sign" keygen --out "$dir/release.key" > /dev/null 2>&1
  "$sign" init --name io.example/bench-0 --version 1.0.0 --dir "$dir/work/srv" \
    --launch 'python3 server.py' --expires-in-days 3650 -o "$dir/work/base.json" > /dev/null 2>&1
  seq 1 "$variants" | xargs -P "$(nproc)" -I{} sh -c '
    sed -e "s#io.example/bench-0#io.example/bench-{}#" -e "s#\"1.0.0\"#\"1.0.{}\"#" \
      "$1/work/base.json" > "$1/work/variants/m{}.json"
    "$2" sign --key "$1/release.key" "$1/work/variants/m{}.json" \
      -o "$1/work/variants/m{}.sigstore.json" > /dev/null 2>&1' _ "$dir" "$sign"
  for d in $(seq 0 99); do mkdir "$cat_dir/d$d"; done
  # One `tee` per variant writes all of its copies.
  for v in $(seq 1 "$variants"); do
    targets=()
    for ((i = v - 1; i < count; i += variants)); do targets+=("$cat_dir/d$((i % 100))/b$i.sigstore.json"); done
    [ ${#targets[@]} -eq 0 ] || tee "${targets[@]}" < "$dir/work/variants/m$v.sigstore.json" > /dev/null
  done
  touch "$cat_dir/.done"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "generated in %.1f s\n", b - a }' >&2
fi

size=$(stat -c %s "$cat_dir/d0/b0.sigstore.json")
jobs=${JOBS:-$(nproc)}
echo "catalog: $count bundles of $size bytes in $cat_dir; $jobs jobs on $(nproc) cores"
"$verify" catalog "$cat_dir" --key "$dir/release.key.pub" --jobs "$jobs" > /dev/null 2>&1  # warm-up
best=""
for r in $(seq 1 "$runs"); do
  t0=$(date +%s.%N)
  "$verify" catalog "$cat_dir" --key "$dir/release.key.pub" --jobs "$jobs" > "$dir/out.txt" \
    2> "$dir/summary.txt" || { cat "$dir/summary.txt" >&2; exit 1; }
  t1=$(date +%s.%N)
  ok=$(grep -c '^OK ' "$dir/out.txt")
  [ "$ok" -eq "$count" ] || { echo "only $ok of $count verified" >&2; exit 1; }
  rate=$(awk -v a="$t0" -v b="$t1" -v n="$count" 'BEGIN { printf "%.0f", n / (b - a) }')
  echo "  run $r: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s wall, $rate bundles/s (whole process); $(cat "$dir/summary.txt")"
  if [ -z "$best" ] || [ "$rate" -gt "$best" ]; then best=$rate; fi
done
echo "best: $best bundles/s (whole process, $count bundles, $jobs jobs)"
