#!/usr/bin/env bash
# Installs the OCI registry the tests start on loopback (idempotent): Debian's `docker-registry`
# (the CNCF distribution registry). It starts no daemon; tests/oci.rs runs it per test.
set -euo pipefail
if command -v docker-registry >/dev/null 2>&1; then
  echo "setup-oci: docker-registry already installed"
  exit 0
fi
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq docker-registry >/dev/null
echo "setup-oci: installed docker-registry"
