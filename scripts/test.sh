#!/usr/bin/env bash
# The whole test suite. Installs what the tests need first (each scripts/setup-*.sh is
# idempotent: Node packages, Python venvs, the loopback Sigstore instance's dependencies), then
# builds everything once and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
for setup in scripts/setup-*.sh; do
  [ -e "$setup" ] || continue
  echo "==> $setup"
  bash "$setup"
done
echo "==> cargo build"
cargo build --workspace --all-targets --locked
echo "==> cargo test"
cargo test --workspace --locked --no-fail-fast
