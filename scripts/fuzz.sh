#!/usr/bin/env bash
# Fuzzing: installs cargo-fuzz if missing, builds every target in fuzz/ once, builds the seed
# corpora from testdata/ (fuzz/seeds.py) and runs each target for SECONDS (default 20). Fails if
# any target crashes (panics, trips an assertion, times out or runs out of memory); the input
# that did it is left in fuzz/artifacts/<target>/. New corpus entries stay in fuzz/corpus/.
#
# Usage: scripts/fuzz.sh [SECONDS]. With CARGO_LOCK=FILE, cargo commands run under
# `flock FILE` (never the fuzzing itself). Stable Rust is enough: RUSTC_BOOTSTRAP=1 lets
# cargo-fuzz pass its instrumentation flags.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
lock=()
if [ -n "${CARGO_LOCK:-}" ]; then lock=(flock "$CARGO_LOCK"); fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "==> cargo install cargo-fuzz"
  "${lock[@]}" cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
# Safe Rust only (the one unsafe call, into sha256x2's kernel, passes values, never pointers),
# so no sanitizer; debug assertions turn integer overflow into a crash.
flags=(--sanitizer none --debug-assertions)
echo "==> cargo fuzz build"
start=$SECONDS
"${lock[@]}" cargo fuzz build "${flags[@]}"
echo "built in $((SECONDS - start))s"

target_dir="${CARGO_TARGET_DIR:-fuzz/target}"
host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="$target_dir/$host/release"

python3 fuzz/seeds.py fuzz/corpus

failed=()
for target in $(cargo fuzz list); do
  echo "==> fuzz $target for ${seconds}s"
  mkdir -p "fuzz/artifacts/$target" "fuzz/corpus/$target"
  if ! "$bin_dir/$target" "fuzz/corpus/$target" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="fuzz/artifacts/$target/" -print_final_stats=1 2> "fuzz/artifacts/$target.log"; then
    tail -n 40 "fuzz/artifacts/$target.log"
    failed+=("$target")
  else
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "fuzz/artifacts/$target.log" || true
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzzing: no crash in $seconds s per target"
