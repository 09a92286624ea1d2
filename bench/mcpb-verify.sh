#!/usr/bin/env bash
# `mcp-verify mcpb` on a large signed bundle, side by side with `openssl cms -verify` over the
# same bytes (the signature and the zip before the block, split out beforehand) and upstream's
# `mcpb verify`, in one run. The bundle: a 256 MiB random file plus a manifest, packed and signed
# by the upstream CLI (scripts/setup-mcpb.sh) with an RSA certificate of a fresh test CA. Warm
# page cache; wall time and peak RSS per run from /usr/bin/time.
# Usage: bench/mcpb-verify.sh [RUNS] (default 5). MCP_VERIFY=PATH uses that binary instead of a
# fresh release build.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
bash scripts/setup-mcpb.sh > /dev/null
if [ -z "${MCP_VERIFY:-}" ]; then
  cargo build --release --locked --quiet -p mcp-verify
  MCP_VERIFY=target/release/mcp-verify
fi
verify=$(realpath "$MCP_VERIFY")
mcpb=$(realpath tests/support/mcpb-cli/node_modules/.bin/mcpb)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2> /dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=bench 2> /dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n' > leaf.ext
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 7 -days 1 -extfile leaf.ext -out leaf.pem 2> /dev/null
mkdir -p src/server
printf '%s' '{"manifest_version":"0.2","name":"bench","version":"1.0.0","description":"bench","author":{"name":"bench"},"server":{"type":"node","entry_point":"server/index.js","mcp_config":{"command":"node","args":["${__dirname}/server/index.js"]}}}' > src/manifest.json
echo 'console.log(1)' > src/server/index.js
head -c $((256 * 1024 * 1024)) /dev/urandom > src/server/blob.bin
"$mcpb" pack src big.mcpb > /dev/null
"$mcpb" sign big.mcpb --cert leaf.pem --key leaf.key --intermediate ca.pem > /dev/null
python3 - <<'PY'
d = open("big.mcpb", "rb").read()
h = d.rfind(b"MCPB_SIG_V1")
n = int.from_bytes(d[h + 11:h + 15], "little")
open("sig.der", "wb").write(d[h + 15:h + 15 + n])
open("content.bin", "wb").write(d[:h])
PY
cat big.mcpb content.bin > /dev/null
echo "bundle: $(stat -c %s big.mcpb) bytes, $runs runs each"
measure() {
  local name=$1; shift
  for _ in $(seq "$runs"); do
    /usr/bin/time -a -o "$name.times" -f "%e %M" "$@" > /dev/null 2>&1 || true
  done
  grep -E '^[0-9.]+ [0-9]+$' "$name.times" | sort -n | awk -v n="$name" '{ t[NR] = $1; m[NR] = $2 } END { printf "%-28s median %.2f s  min %.2f s  peak RSS %d MB\n", n, t[int((NR + 1) / 2)], t[1], m[NR] / 1024 }'
}
measure "mcp-verify mcpb" "$verify" mcpb big.mcpb --ca ca.pem
measure "openssl cms -verify" openssl cms -verify -binary -inform DER -in sig.der -content content.bin -CAfile ca.pem -purpose any -out /dev/null
measure "mcpb verify (upstream)" "$mcpb" verify big.mcpb
echo "(upstream's verify reports every signature as unsigned: node-forge cannot verify PKCS#7)"
