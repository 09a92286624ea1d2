#!/usr/bin/env bash
# Every speed figure side by side with its peers, in one run, closing with one table:
#   (1) in-process Sigstore bundle verification (parse + verify per bundle, trusted root parsed
#       once): examples/verify_loop.rs against the `sigstore-verify` crate 0.15.1
#       (bench/sigstore-verify-adapter), on four happy-path bundles of the conformance suite;
#   (2) one verification as a whole process: `mcp-verify sigstore verify-bundle`, the adapter's
#       `verify-bundle` (same conformance-contract arguments), and sigstore-python 4.5.1
#       (.venv-sigstore, made by scripts/setup-sigstore.sh), plus callgrind instruction counts
#       of ours and the adapter's, which stay repeatable when the machine is noisy;
#   (3) start-up: `mcp-verify --version` against `sigstore-verify-adapter --version`;
#   (4) hashing: bench/digest.sh (one 1 GiB file and a 20,000-file tree) against openssl and
#       sha256sum;
#   (5) catalog throughput: bench/catalog.sh, when it exists.
# Times are medians of repeated runs, each peer interleaved with ours so both see the same load.
# Ratio = peer time / our time: above 1 we are faster.
#
# Usage: bench/speed.sh
#   RUNS=300 PY_RUNS=5 ITER=500 ROUNDS=3  process runs (each of ours next to one of the peer); sigstore-python runs; in-process
#                                          iterations per round, rounds (median of round medians)
#   SKIP_DIGEST=1                          skip (4), which writes ~1.6 GB under target/bench-digest
#   CARGO_TARGET_DIR, PEER_TARGET_DIR      where ours and the adapter build (the adapter defaults
#                                          to bench/sigstore-verify-adapter/target)
#   CARGO_LOCK=FILE                        hold `flock FILE` around each build
# Needs: cargo, python3, valgrind; node/npm for scripts/setup-sigstore.sh; the network on first
# run (crates.io for the adapter, PyPI for sigstore-python).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
runs=${RUNS:-300}
py_runs=${PY_RUNS:-5}
iter=${ITER:-500}
rounds=${ROUNDS:-3}
main_target=${CARGO_TARGET_DIR:-target}
peer_target=${PEER_TARGET_DIR:-bench/sigstore-verify-adapter/target}
work=target/bench-speed
mkdir -p "$work/bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

locked() { if [ -n "${CARGO_LOCK:-}" ]; then flock "$CARGO_LOCK" "$@"; else "$@"; fi; }

# Build, then copy the binaries out of the (possibly shared) target directories at once, under
# the same lock, so that nothing else rebuilding there changes what is timed.
echo "building (release) ..." >&2
locked bash -c '
  set -e
  cargo build --release --locked --quiet -p mcp-verify -p mcp-sign
  cargo build --release --locked --quiet -p mcpsig --example verify_loop
  cargo build --release --locked --quiet -p mcpsig-sha256x2 --example sha256_pair_speed
  cp "$1/release/mcp-verify" "$1/release/mcp-sign" "$1/release/examples/verify_loop" \
    "$1/release/examples/sha256_pair_speed" "$3/"
  CARGO_TARGET_DIR="$2" cargo build --release --locked --quiet \
    --manifest-path bench/sigstore-verify-adapter/Cargo.toml
  cp "$2/release/sigstore-verify-adapter" "$3/"
' build "$main_target" "$peer_target" "$work/bin"
bin=$work/bin
ours=$bin/mcp-verify
loop=$bin/verify_loop
peer=$bin/sigstore-verify-adapter

py=.venv-sigstore/bin/sigstore
if ! bash scripts/setup-sigstore.sh > "$tmp/setup.log" 2>&1; then
  echo "warning: scripts/setup-sigstore.sh failed, sigstore-python is left out:" >&2
  tail -n 5 "$tmp/setup.log" >&2
  py=
fi

# --- helpers -------------------------------------------------------------------------------
# Wall-clock microseconds of one run of "$@" (bash's own clock: no extra process per sample).
us_of() {
  local t0 t1
  t0=${EPOCHREALTIME/./}
  "$@" > /dev/null 2>&1 || return 1
  t1=${EPOCHREALTIME/./}
  echo $((t1 - t0))
}
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "nan" }'; }
# Runs N rounds of every command given as a function name, interleaved; writes the samples of
# function F to $tmp/F.samples.
interleave() {
  local n=$1 f; shift
  for f in "$@"; do : > "$tmp/$f.samples"; done
  for _ in $(seq "$n"); do
    for f in "$@"; do us_of "$f" >> "$tmp/$f.samples"; done
  done
}
med_of() { median < "$tmp/$1.samples"; }
ms() { awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }
ratio() { awk -v p="$1" -v o="$2" 'BEGIN { if (o > 0 && p > 0) printf "%.2fx", p / o; else print "-" }'; }
# A value of the `key=value` line the verify_loop / adapter bench modes print.
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p"; }

rows=()
row() { rows+=("$(printf '%s\t%s\t%s\t%s' "$@")"); }

beacon="https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
github="https://token.actions.githubusercontent.com"
cases=testdata/sigstore-conformance/bundle-verify
artifact=testdata/sigstore-conformance/a.txt
prod_root=testdata/sigstore-trust/production.trusted_root.json
kinds=(
  "v0.3 message signature (Rekor v1)|happy-path-v0.3-new-mediaType"
  "DSSE in-toto (Rekor v1)|happy-path-intoto-in-dsse-v3"
  "DSSE (Rekor v2)|rekor2-dsse-happy-path"
  "message signature (Rekor v2, TSA)|rekor2-happy-path"
)
# Sets bundle, root and args (the conformance-contract arguments) for a case.
select_case() {
  bundle=$cases/$1/bundle.sigstore.json
  root=$prod_root
  [ -f "$cases/$1/trusted_root.json" ] && root=$cases/$1/trusted_root.json
  args=(--bundle "$bundle" --certificate-identity "$beacon" --certificate-oidc-issuer "$github"
    --trusted-root "$root")
}

echo "speed.sh: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with local changes)')"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(rustc --version)"
echo "peers: $("$peer" --version); ${py:+sigstore-python $("$py" --version 2>&1 | awk '{print $NF}'); }$(openssl version | cut -d' ' -f1-2); $(sha256sum --version | head -n 1)"

# --- (1) in process -------------------------------------------------------------------------
echo
echo "(1) in process, per bundle: read + parse + verify, trusted root parsed once; median of $rounds rounds x $iter iterations (min in brackets)"
for k in "${kinds[@]}"; do
  label=${k%%|*}; case_name=${k#*|}
  select_case "$case_name"
  : > "$tmp/o" ; : > "$tmp/p"
  for _ in $(seq "$rounds"); do
    "$loop" bench "${args[@]}" --iterations "$iter" "$artifact" >> "$tmp/o"
    "$peer" bench "${args[@]}" --iterations "$iter" "$artifact" >> "$tmp/p"
  done
  o=$(field median_us < "$tmp/o" | median); omin=$(field min_us < "$tmp/o" | sort -n | head -n 1)
  p=$(field median_us < "$tmp/p" | median); pmin=$(field min_us < "$tmp/p" | sort -n | head -n 1)
  printf '  %-36s ours %8.1f us [%6.1f]   sigstore-verify %8.1f us [%6.1f]   %s\n' \
    "$label" "$o" "$omin" "$p" "$pmin" "$(ratio "$p" "$o")"
  row "in process: $label" "$(printf '%.0f us' "$o")" "$(printf '%.0f us sigstore-verify' "$p")" "$(ratio "$p" "$o")"
done

# --- (2) whole process -----------------------------------------------------------------------
echo
echo "(2) one verification as a whole process, wall clock; median of $runs runs (sigstore-python: $py_runs)"
for k in "${kinds[@]}"; do
  label=${k%%|*}; case_name=${k#*|}
  select_case "$case_name"
  run_ours() { "$ours" sigstore verify-bundle "${args[@]}" "$artifact"; }
  run_peer() { "$peer" verify-bundle "${args[@]}" "$artifact"; }
  python3 - "$root" testdata/sigstore-trust/production.signing_config.v0.2.json > "$tmp/ctc.json" <<'PY'
import json, sys
print(json.dumps({"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                  "trustedRoot": json.load(open(sys.argv[1])),
                  "signingConfig": json.load(open(sys.argv[2]))}))
PY
  run_py() { "$py" --trust-config "$tmp/ctc.json" verify identity --offline --bundle "$bundle" \
    --cert-identity "$beacon" --cert-oidc-issuer "$github" "$artifact"; }
  run_ours > /dev/null 2>&1 || { echo "mcp-verify rejected $bundle" >&2; exit 1; }
  run_peer > /dev/null 2>&1 || { echo "sigstore-verify-adapter rejected $bundle" >&2; exit 1; }
  interleave "$runs" run_ours run_peer
  o=$(med_of run_ours); p=$(med_of run_peer)
  line=$(printf '  %-36s ours %s   sigstore-verify %s (%s)' "$label" "$(ms "$o")" "$(ms "$p")" "$(ratio "$p" "$o")")
  row "process: $label" "$(ms "$o")" "$(ms "$p") sigstore-verify" "$(ratio "$p" "$o")"
  if [ -z "$py" ]; then
    line+="   sigstore-python not installed"
  elif run_py > "$tmp/py.out" 2>&1; then
    interleave "$py_runs" run_py
    y=$(med_of run_py)
    line+=$(printf '   sigstore-python %s (%s)' "$(ms "$y")" "$(ratio "$y" "$o")")
    row "process: $label" "$(ms "$o")" "$(ms "$y") sigstore-python" "$(ratio "$y" "$o")"
  else
    line+="   sigstore-python rejects this bundle: $(tail -n 1 "$tmp/py.out" | cut -c1-80)"
    row "process: $label" "$(ms "$o")" "sigstore-python rejects it" "-"
  fi
  echo "$line"
done

echo
echo "    instructions executed by one whole process (valgrind --tool=callgrind --collect-atstart=yes)"
irs() {  # total instructions of one run of "$@" under callgrind
  valgrind --tool=callgrind --collect-atstart=yes --callgrind-out-file="$tmp/cg.out" "$@" \
    > /dev/null 2> "$tmp/cg.err" || { echo "callgrind run failed: $*" >&2; tail -n 3 "$tmp/cg.err" >&2; return 1; }
  awk '/^(summary|totals):/ { print $2; exit }' "$tmp/cg.out"
}
for k in "${kinds[@]}"; do
  label=${k%%|*}; case_name=${k#*|}
  select_case "$case_name"
  o=$(irs "$ours" sigstore verify-bundle "${args[@]}" "$artifact")
  p=$(irs "$peer" verify-bundle "${args[@]}" "$artifact")
  printf '  %-36s ours %6.1f M   sigstore-verify %6.1f M   %s\n' "$label" \
    "$(awk -v x="$o" 'BEGIN { print x / 1e6 }')" "$(awk -v x="$p" 'BEGIN { print x / 1e6 }')" "$(ratio "$p" "$o")"
  row "instructions: $label" "$(awk -v x="$o" 'BEGIN { printf "%.1f M", x / 1e6 }')" \
    "$(awk -v x="$p" 'BEGIN { printf "%.1f M sigstore-verify", x / 1e6 }')" "$(ratio "$p" "$o")"
done

# --- (3) start-up ---------------------------------------------------------------------------
echo
echo "(3) start-up: --version, median of $((runs * 2)) runs"
run_ours_v() { "$ours" --version; }
run_peer_v() { "$peer" --version; }
interleave $((runs * 2)) run_ours_v run_peer_v
o=$(med_of run_ours_v); p=$(med_of run_peer_v)
printf '  mcp-verify --version %s   sigstore-verify-adapter --version %s   (%s)\n' "$(ms "$o")" "$(ms "$p")" "$(ratio "$p" "$o")"
printf '  binary sizes: mcp-verify %s MB, adapter %s MB (both with line tables)\n' \
  "$(( $(stat -c %s "$ours") / 1000000 ))" "$(( $(stat -c %s "$peer") / 1000000 ))"
row "start-up: --version" "$(ms "$o")" "$(ms "$p") sigstore-verify-adapter" "$(ratio "$p" "$o")"

# --- (4) hashing ----------------------------------------------------------------------------
echo
echo "(4) hashing (bench/digest.sh, best of 3, warm cache)"
if [ -n "${SKIP_DIGEST:-}" ]; then
  echo "  skipped (SKIP_DIGEST)"
  row "hashing" "skipped" "-" "-"
else
  MCP_SIGN=$bin/mcp-sign PAIR_SPEED=$bin/sha256_pair_speed DIGEST_RESULTS=$tmp/digest bash bench/digest.sh | sed 's/^/  /'
  d() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/digest"; }
  gbs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f s (%.2f GB/s)", s, b / s / 1e9 }'; }
  for shape in file tree; do
    b=$(d ${shape}_bytes); o=$(d ${shape}_ours)
    name="hash one 1 GiB file"; [ $shape = tree ] && name="hash $(d tree_files)-file tree"
    row "$name" "$(gbs "$b" "$o")" "$(gbs "$b" "$(d ${shape}_openssl)") openssl" "$(ratio "$(d ${shape}_openssl)" "$o")"
    row "$name" "$(gbs "$b" "$o")" "$(gbs "$b" "$(d ${shape}_sha256sum)") sha256sum" "$(ratio "$(d ${shape}_sha256sum)" "$o")"
  done
fi

# --- (5) catalog ----------------------------------------------------------------------------
echo
echo "(5) catalog throughput (mcp-verify catalog)"
if [ -f bench/catalog.sh ]; then
  MCP_VERIFY=$ours bash bench/catalog.sh | sed 's/^/  /'
  row "catalog throughput" "see (5)" "see (5)" "-"
else
  echo "  not built yet (no bench/catalog.sh)"
  row "catalog throughput" "not built yet" "-" "-"
fi

# --- table ----------------------------------------------------------------------------------
echo
echo "figure | ours | peer | ratio (peer / ours, >1: we are faster)"
echo "--- | --- | --- | ---"
for r in "${rows[@]}"; do
  IFS=$'\t' read -r a b c e <<< "$r"
  echo "$a | $b | $c | $e"
done
