#!/usr/bin/env bash
# `mcp-verify oci://127.0.0.1:PORT/acme/server:v1 --key ...` as a whole process against Debian's
# docker-registry on loopback (scripts/setup-oci.sh): resolve the tag, find the bundle through
# the referrers fallback tag, read it, verify it, check the pinned image. Beside it, the same
# bundle verified from its file (with the registry check of the pinned image, and with
# --signature-only, which asks no registry). Median of RUNS runs each.
# Usage: bench/oci-verify.sh [RUNS]   (default 20; CARGO_TARGET_DIR is honoured)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
target=${CARGO_TARGET_DIR:-target}
bash scripts/setup-oci.sh > /dev/null
cargo build --release --locked --quiet -p mcp-verify -p mcp-sign
verify=$target/release/mcp-verify
sign=$target/release/mcp-sign
tmp=$(mktemp -d)
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"; }
trap cleanup EXIT
cat > "$tmp/config.yml" <<YML
version: 0.1
log: { level: info }
storage:
  filesystem: { rootdirectory: $tmp/data }
http:
  addr: 127.0.0.1:0
YML
docker-registry serve "$tmp/config.yml" > "$tmp/log" 2>&1 &
pid=$!
port=""
for _ in $(seq 400); do
  port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$tmp/log" | head -1 | cut -d: -f2 || true)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "docker-registry did not start: $(cat "$tmp/log")" >&2; exit 1; }
host=127.0.0.1:$port
repo=acme/server

# A minimal image of our own, pushed with the distribution API (POST, then PUT ?digest=).
push_blob() {
  local file=$1 d loc sep
  d=sha256:$(sha256sum "$file" | cut -d' ' -f1)
  loc=$(curl -sSf -D - -o /dev/null -X POST "http://$host/v2/$repo/blobs/uploads/" \
    | tr -d '\r' | awk -F': ' 'tolower($1) == "location" { print $2 }')
  case $loc in http*) ;; *) loc=http://$host$loc ;; esac
  case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
  curl -sSf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$file" \
    "$loc${sep}digest=$d" > /dev/null
  echo "$d"
}
printf 'print("bench")\n' > "$tmp/server.py"
tar -cf "$tmp/layer.tar" -C "$tmp" server.py
layer=$(push_blob "$tmp/layer.tar")
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' "$layer" > "$tmp/config.json"
config=$(push_blob "$tmp/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}' \
  "$config" "$(stat -c %s "$tmp/config.json")" "$layer" "$(stat -c %s "$tmp/layer.tar")" > "$tmp/image.json"
curl -sSf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary @"$tmp/image.json" "http://$host/v2/$repo/manifests/v1" > /dev/null
image=sha256:$(sha256sum "$tmp/image.json" | cut -d' ' -f1)

"$sign" keygen --out "$tmp/k.key" > /dev/null 2>&1
printf '{"schemaVersion":1,"server":{"name":"io.github.acme/server","version":"1.0.0"},"issuedAt":"%s","artifacts":[{"kind":"oci","name":"%s/%s","digest":"%s","tag":"v1"}]}' \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$host" "$repo" "$image" > "$tmp/m.json"
"$sign" sign --key "$tmp/k.key" "$tmp/m.json" > /dev/null 2>&1
"$sign" attach "$tmp/m.sigstore.json" "oci://$host/$repo:v1" > /dev/null 2>&1

oci() { "$verify" "oci://$host/$repo:v1" --key "$tmp/k.key.pub" > /dev/null; }
file_checked() { "$verify" "$tmp/m.sigstore.json" --key "$tmp/k.key.pub" > /dev/null; }
file_signature() { "$verify" "$tmp/m.sigstore.json" --key "$tmp/k.key.pub" --signature-only > /dev/null; }
oci && file_checked && file_signature || { echo "a verification failed" >&2; exit 1; }
median_ms() {  # median wall-clock milliseconds of N runs of a function
  local n=$1 f=$2 t0 t1
  for _ in $(seq "$n"); do
    t0=$(date +%s%N); "$f"; t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 ))
  done | sort -n | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f", m / 1000 }'
}
echo "registry: docker-registry $(docker-registry --version | awk '{print $3}') on $host (no referrers API: fallback tag)"
echo "  mcp-verify oci://$host/$repo:v1 --key     $(median_ms "$runs" oci) ms (median of $runs)"
echo "  mcp-verify BUNDLE --key (image checked)   $(median_ms "$runs" file_checked) ms (median of $runs)"
echo "  mcp-verify BUNDLE --key --signature-only  $(median_ms "$runs" file_signature) ms (median of $runs)"
