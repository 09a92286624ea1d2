#!/usr/bin/env bash
# Installs what the keyless-signing tests need, idempotently (CI runs it on a fresh machine):
#   - tests/support/sigstore-instance/node_modules: @sigstore/mock (pinned in package-lock.json),
#     the Fulcio/Rekor/TSA implementation our loopback Sigstore instance serves;
#   - .venv-sigstore/: a Python venv with sigstore-python, the independent client our bundles are
#     checked against.
# Work already done is skipped: the npm step when node_modules matches the lock file, the venv
# step when it already holds the pinned version.
set -euo pipefail

SIGSTORE_PY_VERSION="4.5.1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
instance="$root/tests/support/sigstore-instance"
venv="$root/.venv-sigstore"

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "setup-sigstore: '$1' is required but not installed ($2)" >&2; exit 2; }
}
need node "Debian: apt-get install nodejs npm"
need npm "Debian: apt-get install npm"
need python3 "Debian: apt-get install python3 python3-venv"

# npm: `npm ci` installs exactly the lock file; its copy of the lock in node_modules tells us
# whether a previous install is still current.
if [ -f "$instance/node_modules/.package-lock.json" ] &&
   [ -d "$instance/node_modules/@sigstore/mock" ] &&
   [ "$instance/node_modules/.package-lock.json" -nt "$instance/package-lock.json" ]; then
  echo "setup-sigstore: @sigstore/mock already installed"
else
  echo "setup-sigstore: installing @sigstore/mock (npm ci)"
  (cd "$instance" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ -x "$venv/bin/sigstore" ] &&
   [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("sigstore"))' 2>/dev/null)" = "$SIGSTORE_PY_VERSION" ]; then
  echo "setup-sigstore: sigstore-python $SIGSTORE_PY_VERSION already installed in .venv-sigstore"
else
  echo "setup-sigstore: creating .venv-sigstore with sigstore==$SIGSTORE_PY_VERSION"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "sigstore==$SIGSTORE_PY_VERSION"
fi

"$venv/bin/sigstore" --version
node -e "console.log('@sigstore/mock ' + require('$instance/node_modules/@sigstore/mock/package.json').version)"
