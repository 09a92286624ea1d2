#!/usr/bin/env bash
# Installs the real MCP servers the mcpsig tests talk to (idempotent; safe to re-run):
#   tests/servers/node/node_modules  @modelcontextprotocol/server-everything, server-memory (npm ci, lockfile committed)
#   tests/servers/conformance        @modelcontextprotocol/conformance 0.1.12 (npm ci, lockfile committed)
#   .venv-mcp/                       mcp-server-fetch, mcp-server-time and the Python MCP SDK (pinned versions)
# Needs: node + npm, python3 (>= 3.10) with venv. Network: the npm registry and PyPI only.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fetch_version="2026.10.24"
time_version="2026.10.19"
sdk_version="2.3.0"

echo "setup-mcp-servers: node servers in tests/servers/node" >&2
cd "$root/tests/servers/node"
if [ -f package-lock.json ]; then
  # The stamp is the lockfile a completed `npm ci` installed; anything else reinstalls.
  if [ ! -x node_modules/.bin/mcp-server-everything ] || [ ! -x node_modules/.bin/mcp-server-memory ] \
     || ! cmp -s package-lock.json node_modules/.mcpsig-installed-lock 2>/dev/null; then
    npm ci --no-audit --no-fund --ignore-scripts
    cp package-lock.json node_modules/.mcpsig-installed-lock
  fi
else
  npm install --no-audit --no-fund --ignore-scripts --save-exact
fi

echo "setup-mcp-servers: the MCP conformance suite in tests/servers/conformance" >&2
cd "$root/tests/servers/conformance"
if [ ! -x node_modules/.bin/conformance ] \
   || ! cmp -s package-lock.json node_modules/.mcpsig-installed-lock 2>/dev/null; then
  npm ci --no-audit --no-fund --ignore-scripts
  cp package-lock.json node_modules/.mcpsig-installed-lock
fi

echo "setup-mcp-servers: python servers in .venv-mcp" >&2
cd "$root"
venv="$root/.venv-mcp"
want="mcp==$sdk_version mcp-server-fetch==$fetch_version mcp-server-time==$time_version"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" - "$sdk_version" "$fetch_version" "$time_version" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("mcp"), version("mcp-server-fetch"), version("mcp-server-time")) == tuple(sys.argv[1:4]) else 1)
PY
then
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet $want
fi
test -x "$venv/bin/mcp-server-fetch" && test -x "$venv/bin/mcp-server-time"
echo "setup-mcp-servers: done" >&2
