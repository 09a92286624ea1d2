#!/usr/bin/env bash
# Installs what tests/oci.rs runs (idempotent): Debian's `docker-registry` (the CNCF
# distribution registry; it starts no daemon, the tests run it per test on loopback) and
# `htpasswd` (apache2-utils) for the password file of the registry that needs credentials.
set -euo pipefail
missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-oci: docker-registry and htpasswd already installed"
  exit 0
fi
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup-oci: installed ${missing[*]}"
