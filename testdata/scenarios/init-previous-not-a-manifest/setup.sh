#!/bin/sh
set -eu
echo '{"schemaVersion": 1}' > "$1/prev.json"
