#!/usr/bin/env bash
# Offline verification of one Sigstore bundle as a whole process: mcp-verify side by side with
# sigstore-python (the .venv-sigstore that scripts/setup-sigstore.sh installs), same bundle,
# same trusted root, same run. The in-process figure comes from `cargo bench --bench sigstore_verify`.
# Usage: bench/verify-vs-sigstore-python.sh [RUNS]   (default 20 mcp-verify runs, 5 sigstore-python runs)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
bash scripts/setup-sigstore.sh > /dev/null
cargo build --release --locked --quiet -p mcp-verify
case_dir=testdata/sigstore-conformance/bundle-verify/happy-path-v0.3-new-mediaType
[ -d "$case_dir" ] || case_dir=testdata/sigstore-conformance/bundle-verify/happy-path-intoto-in-dsse-v3
bundle=$case_dir/bundle.sigstore.json
artifact=testdata/sigstore-conformance/a.txt
[ -f "$case_dir/artifact" ] && artifact=$case_dir/artifact
root=testdata/sigstore-trust/production.trusted_root.json
[ -f "$case_dir/trusted_root.json" ] && root=$case_dir/trusted_root.json
id="https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
[ -f "$case_dir/identity" ] && id=$(cat "$case_dir/identity")
iss="https://token.actions.githubusercontent.com"
[ -f "$case_dir/issuer" ] && iss=$(cat "$case_dir/issuer")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 - "$root" testdata/sigstore-trust/production.signing_config.v0.2.json > "$tmp/ctc.json" <<'PY'
import json, sys
print(json.dumps({"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                  "trustedRoot": json.load(open(sys.argv[1])),
                  "signingConfig": json.load(open(sys.argv[2]))}))
PY
ours() { target/release/mcp-verify sigstore verify-bundle --bundle "$bundle" --certificate-identity "$id" \
  --certificate-oidc-issuer "$iss" --trusted-root "$root" "$artifact" > /dev/null; }
theirs() { .venv-sigstore/bin/sigstore --trust-config "$tmp/ctc.json" verify identity --offline \
  --bundle "$bundle" --cert-identity "$id" --cert-oidc-issuer "$iss" "$artifact" > /dev/null 2>&1; }
ours && theirs || { echo "a verifier rejected the benchmark bundle" >&2; exit 1; }
time_it() {  # mean wall-clock seconds of N runs of a function
  local n=$1 f=$2 t0 t1
  t0=$(date +%s.%N); for _ in $(seq "$n"); do "$f"; done; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { print (b - a) / n }'
}
py_runs=$(( runs / 4 > 0 ? runs / 4 : 1 ))
t_ours=$(time_it "$runs" ours)
t_py=$(time_it "$py_runs" theirs)
echo "bundle: $bundle"
awk -v o="$t_ours" -v p="$t_py" -v n="$runs" -v m="$py_runs" 'BEGIN {
  printf "  mcp-verify sigstore verify-bundle  %8.2f ms/process (mean of %d)\n", o * 1000, n
  printf "  sigstore-python verify --offline   %8.2f ms/process (mean of %d)\n", p * 1000, m
  printf "  ratio                              %8.1fx faster\n", p / o }'
