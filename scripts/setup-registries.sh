#!/usr/bin/env bash
# Installs what the registry tests need, idempotently (a second run takes well under a second):
#   tests/support/registries/data/  real npm and PyPI packages with their whole dependency trees,
#                                   recorded once from the public registries by record.py and
#                                   served on 127.0.0.1 by serve.py (see SOURCE.md there)
#   docker-registry                 Debian's CNCF distribution registry, the loopback OCI registry
# Needs: node + npm, python3 with pip; root for apt-get. Network: npm, PyPI, Debian, only when
# something is missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
registries="$root/tests/support/registries"

for tool in python3 npm node; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "setup-registries: '$tool' is required but not installed" >&2
    exit 2
  }
done

# The versions recorded are the ones the tests already install: npm from the committed
# package.json of tests/servers/node, PyPI from scripts/setup-mcp-servers.sh.
npm_args=()
while IFS= read -r spec; do npm_args+=(--npm "$spec"); done < <(
  node -e 'const d = require(process.argv[1]).dependencies;
           for (const [n, v] of Object.entries(d)) console.log(`${n}@${v}`);' \
    "$root/tests/servers/node/package.json")
pypi_version() {
  sed -n "s/^$1_version=\"\([^\"]*\)\"$/\1/p" "$root/scripts/setup-mcp-servers.sh"
}
time_version="$(pypi_version time)"
fetch_version="$(pypi_version fetch)"
if [ -z "$time_version" ] || [ -z "$fetch_version" ] || [ "${#npm_args[@]}" -eq 0 ]; then
  echo "setup-registries: could not read the pinned versions" >&2
  exit 2
fi

python3 "$registries/record.py" --data "$registries/data" "${npm_args[@]}" \
  --npm-lock "tests-servers-node=$root/tests/servers/node/package-lock.json" \
  --pypi "mcp-server-time==$time_version" --pypi "mcp-server-fetch==$fetch_version"

if ! command -v docker-registry >/dev/null 2>&1; then
  echo "setup-registries: installing Debian's docker-registry" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-registries: docker-registry is missing and installing it needs root (apt-get install docker-registry)" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  # The package lists are refreshed only when the install cannot find the package without it.
  apt-get install -y -q docker-registry >/dev/null || {
    apt-get update -q >/dev/null
    apt-get install -y -q docker-registry >/dev/null
  }
fi
echo "setup-registries: $(docker-registry --version)" >&2
