#!/bin/sh
set -eu
echo "{}" > "$1/server/m.sigstore.json"
