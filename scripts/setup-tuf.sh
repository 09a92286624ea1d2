#!/usr/bin/env bash
# Installs what the TUF tests need, idempotently: .venv-tuf/, a Python venv holding python-tuf
# (the reference TUF implementation), which tests/tuf_*.rs use to build and serve a real TUF
# repository on 127.0.0.1. Skipped when the venv already holds the pinned version.
set -euo pipefail

TUF_VERSION="7.0.1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-tuf"

command -v python3 >/dev/null 2>&1 || {
  echo "setup-tuf: 'python3' is required but not installed (Debian: apt-get install python3 python3-venv)" >&2
  exit 2
}

if [ -x "$venv/bin/python" ] &&
   [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("tuf"))' 2>/dev/null)" = "$TUF_VERSION" ]; then
  echo "setup-tuf: python-tuf $TUF_VERSION already installed in .venv-tuf"
else
  echo "setup-tuf: creating .venv-tuf with tuf==$TUF_VERSION"
  python3 -m venv "$venv"
  # securesystemslib[crypto] brings the `cryptography` signers the repository generator uses.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "tuf==$TUF_VERSION" "securesystemslib[crypto]"
fi
"$venv/bin/python" -c 'import tuf, securesystemslib; print("python-tuf", tuf.__version__, "securesystemslib", securesystemslib.__version__)'
