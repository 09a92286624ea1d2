#!/usr/bin/env bash
# The launch store on a node_modules-like tree of 20,000 files (about 110 MB): time from start to
# the snapshot being ready for a first launch (hash + copy), a relaunch of the unchanged tree
# (stat fingerprint only; goal < 50 ms), a relaunch after one file was touched (hash only), and
# hashing in place for scale; then `cp -a` of the same tree, the plain copy a snapshot replaces,
# in the same run. Medians, warm page cache. See benches/launch_store.rs.
# Usage: bench/launch-store.sh [WORKDIR]   (default: target/bench-launch-store; needs ~250 MB;
# the folder and its parents must not be writable by others: the store refuses such a place)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-target/bench-launch-store}
cargo bench --locked --bench launch_store -- "$work"
rm -rf "$work/cp"
start=$(date +%s.%N)
cp -a "$work/tree" "$work/cp"
end=$(date +%s.%N)
rm -rf "$work/cp"
awk -v s="$start" -v e="$end" 'BEGIN { printf "cp -a of the same tree           : %.1f ms\n", (e - s) * 1000 }'
