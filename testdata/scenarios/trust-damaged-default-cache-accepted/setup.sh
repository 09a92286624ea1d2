#!/bin/sh
# A production cache that cannot verify (`root.json` is not a TUF root).
set -eu
d="$1/cache/tuf/tuf-repo-cdn.sigstore.dev-527c9e84bdb445b5"
mkdir -p "$d"
echo '{"signed": 1}' > "$d/root.json"
