#!/usr/bin/env bash
# Keyless signing of one file as a whole process against the loopback Sigstore instance
# (Fulcio + Rekor v1 + TSA from tests/support/sigstore-instance): `mcp-sign sigstore sign-bundle`
# side by side with `sigstore sign` (sigstore-python from .venv-sigstore), same instance, same run.
# The per-part split (keygen, Fulcio, TSA, Rekor, self-check) comes from
# `cargo test --release --test keyless_roundtrip -- --ignored --nocapture measure`.
# Usage: bench/keyless-sign-vs-sigstore-python.sh [RUNS]   (default 20 mcp-sign runs, 5 sigstore-python runs)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
bash scripts/setup-sigstore.sh > /dev/null
cargo build --release --locked --quiet -p mcp-sign
tmp=$(mktemp -d)
# The instance exits when its stdin closes: keep a pipe open, close it on exit.
mkfifo "$tmp/in"
node tests/support/sigstore-instance/server.mjs "$tmp/inst" --tsa < "$tmp/in" > "$tmp/url" &
exec 3> "$tmp/in"
trap 'exec 3>&-; wait; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
echo hello > "$tmp/a.txt"
token() {
  python3 - <<'PY'
import base64, json, time
e = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
now = int(time.time())
print(e({"alg": "none"}) + "." + e({"iss": "https://issuer.example", "sub": "https://example.com/bench",
                                   "aud": "sigstore", "iat": now, "exp": now + 600}) + ".")
PY
}
tok=$(token)
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for _ in $(seq "$runs"); do
  t0=$(date +%s%N)
  target/release/mcp-sign sigstore sign-bundle --identity-token "$tok" --bundle "$tmp/a.mcp.json" \
    --signing-config "$tmp/inst/trust_config.json" "$tmp/a.txt"
  t1=$(date +%s%N)
  ms "$t0" "$t1"
done | median > "$tmp/ours"
for _ in $(seq 5); do
  t0=$(date +%s%N)
  .venv-sigstore/bin/sigstore --trust-config "$tmp/inst/trust_config.json" sign --overwrite \
    --identity-token "$tok" --bundle "$tmp/a.py.json" "$tmp/a.txt" > /dev/null 2>&1
  t1=$(date +%s%N)
  ms "$t0" "$t1"
done | median > "$tmp/theirs"
echo "keyless sign, one file, loopback instance with TSA (median wall time):"
echo "  mcp-sign sigstore sign-bundle: $(cat "$tmp/ours") ms ($runs runs)"
echo "  sigstore-python 4.5.1 sign:    $(cat "$tmp/theirs") ms (5 runs)"
