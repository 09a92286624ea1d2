#!/usr/bin/env bash
# Installs the JSON Schema validator the spec tests use (idempotent): .venv-spec/ with the
# reference Python implementation `jsonschema`, pinned.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-spec"
want="4.26.0"
if [ -x "$venv/bin/python" ] && [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("jsonschema"))' 2>/dev/null)" = "$want" ]; then
  echo "setup-spec: jsonschema $want already installed in .venv-spec"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "jsonschema==$want"
echo "setup-spec: installed jsonschema $want in .venv-spec"
