#!/usr/bin/env bash
# `mcp-verify run` from start to the server's first answer, for a server whose tree holds 20,000
# files (a node_modules-like spread, about 110 MB), side by side in the same run with the same
# server started directly (the same python3, the same tree): a first launch (empty launch
# store: verify, hash + copy into the snapshot, pin store first use, guard), a relaunch of the
# unchanged tree (the stat-only check reuses the snapshot), and the direct start. The time is
# from spawning the command to reading the answer to `initialize`, so it includes python's own
# start-up in every row; the difference to the direct row is what mcpsig adds.
# Usage: bench/run-launch.sh [WORKDIR] [FILES]   (default: target/bench-run-launch, 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-target/bench-run-launch}
files=${2:-20000}
cargo build --release --locked --quiet -p mcp-sign -p mcp-verify
bin=$PWD/target/release
rm -rf "$work" && mkdir -p "$work" && chmod 700 "$work"
work=$(cd "$work" && pwd)
srv="$work/srv"
mkdir -p "$srv"
cp tests/servers/drift-server.py "$srv/"
python3 - "$srv" "$files" <<'PY'
import os, sys, random
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
for i in range(n):
    d = os.path.join(root, "node_modules", f"pkg{i // 50}", "lib")
    os.makedirs(d, exist_ok=True)
    size = int(rng.lognormvariate(8, 1.2))
    with open(os.path.join(d, f"f{i}.js"), "wb") as f:
        f.write(os.urandom(min(size, 1 << 20)))
PY
(cd "$srv" && "$bin/mcp-sign" keygen --out "$work/k.key" >/dev/null &&
  "$bin/mcp-sign" init --name io.github.bench/run --version 1.0.0 --dir . \
    --launch 'python3 drift-server.py' -o mcp-manifest.json >/dev/null &&
  "$bin/mcp-sign" tools mcp-manifest.json --dir . >/dev/null &&
  "$bin/mcp-sign" sign --key "$work/k.key" mcp-manifest.json >/dev/null)
export MCPSIG_DATA_DIR="$work/data" MCPSIG_CACHE_DIR="$work/cache"
# The stat fingerprint is not recorded for entries changed in the last 2 s (spec/launch-store.md).
sleep 2.5
python3 - "$bin/mcp-verify" "$srv" "$work/data" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time
verify, srv, data = sys.argv[1:4]
init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "bench", "version": "1"}}}) + "\n"

def first_answer(argv, cwd):
    start = time.perf_counter()
    p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    p.stdin.write(init.encode()); p.stdin.flush()
    line = p.stdout.readline()
    took = time.perf_counter() - start
    p.stdin.close(); p.wait(timeout=30)
    assert b'"result"' in line, line
    return took * 1000

run = [verify, "run", os.path.join(srv, "mcp-manifest.sigstore.json"), "--key",
       os.path.join(os.path.dirname(srv), "k.key.pub"), "-q"]
direct, first, again = [], [], []
for i in range(5):
    direct.append(first_answer(["python3", "drift-server.py"], srv))
    shutil.rmtree(data, ignore_errors=True)
    subprocess.run(["chmod", "-R", "u+w", os.path.dirname(data)], check=False)
    shutil.rmtree(data, ignore_errors=True)
    first.append(first_answer(run, srv))
    again.append(first_answer(run, srv))
    again.append(first_answer(run, srv))
m = statistics.median
print(f"tree: {sys.argv[2]}")
print(f"direct start (python3 drift-server.py)  : {m(direct):8.1f} ms")
print(f"mcp-verify run, first launch             : {m(first):8.1f} ms  (+{m(first) - m(direct):.1f} ms)")
print(f"mcp-verify run, relaunch (unchanged tree): {m(again):8.1f} ms  (+{m(again) - m(direct):.1f} ms)")
PY
