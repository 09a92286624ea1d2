#!/bin/sh
set -eu
ln -s "$2/mcp-manifest.sigstore.json" "$1/b/linked.sigstore.json"
