#!/usr/bin/env bash
# Installs the upstream mcpb CLI (@anthropic-ai/mcpb, pinned in tests/support/mcpb-cli's
# package-lock.json) that tests/mcpb_signature.rs signs bundles with, so that the signature
# format is the real tool's. Idempotent: skipped when node_modules holds what the lock file names.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/tests/support/mcpb-cli"

command -v npm >/dev/null 2>&1 || { echo "setup-mcpb: npm is required (Debian: apt-get install nodejs npm)" >&2; exit 2; }
command -v openssl >/dev/null 2>&1 || { echo "setup-mcpb: openssl is required (Debian: apt-get install openssl)" >&2; exit 2; }

cd "$dir"
# The stamp is the lock file a completed `npm ci` installed; anything else reinstalls.
if [ -x node_modules/.bin/mcpb ] && cmp -s package-lock.json node_modules/.mcpsig-installed-lock 2>/dev/null; then
  echo "setup-mcpb: mcpb $(node_modules/.bin/mcpb --version) already installed"
else
  echo "setup-mcpb: installing the mcpb CLI (npm ci)"
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  cp package-lock.json node_modules/.mcpsig-installed-lock
  echo "setup-mcpb: mcpb $(node_modules/.bin/mcpb --version)"
fi
