#!/usr/bin/env bash
# A server installed as an npm package, started two ways in the same run against the same
# loopback registry (tests/support/registries/serve.py, real tarballs recorded from npmjs.org):
#   npx -y @modelcontextprotocol/server-memory@2026.8.31   (what client configurations do today)
#   mcp-verify run memory.sigstore.json --key ...           (the pinned tree, verified, guarded)
# Each is timed from spawning the command to the answer to `tools/list` (initialize first), as
# a first start (empty npm cache / empty launch store: everything downloaded) and as a relaunch
# (warm cache / store), interleaved, RUNS times each; medians reported. Also: hashing the
# installed node_modules of the real servers (mcp-sign init --dir) next to `sha256sum` of the
# same files.
# Usage: bench/package-launch.sh [RUNS]   (default 7). Do not run it under flock: the registry
# it starts would inherit the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
bash scripts/setup-registries.sh >/dev/null
cargo build --release --locked --quiet -p mcp-sign -p mcp-verify
bin=$PWD/target/release
work=$PWD/target/bench-package-launch
rm -rf "$work" && mkdir -p "$work" && chmod 700 "$work"
python3 tests/support/registries/serve.py --data tests/support/registries/data --ignore-stdin \
  >"$work/serve.out" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^listening on ' "$work/serve.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
[ -n "$url" ] || { echo "the loopback registry did not start" >&2; exit 1; }
export HOME=$work/home MCPSIG_NPM_REGISTRY=$url npm_config_registry=$url npm_config_update_notifier=false
mkdir -p "$HOME"
pkg=@modelcontextprotocol/server-memory@2026.8.31
(cd "$work" && "$bin/mcp-sign" keygen --out k.key >/dev/null &&
  MCPSIG_DATA_DIR=$work/sign-data "$bin/mcp-sign" init --name io.github.bench/memory --version 1.0.0 \
    --artifact "npm:$pkg" -o memory.json >/dev/null 2>&1 &&
  MCPSIG_DATA_DIR=$work/sign-data "$bin/mcp-sign" tools memory.json >/dev/null 2>&1 &&
  "$bin/mcp-sign" sign --key k.key memory.json >/dev/null 2>&1)
python3 - "$work" "$bin" "$pkg" "$runs" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time
work, bin, pkg, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
hello = "".join(json.dumps(m) + "\n" for m in [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
     "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}])

def session(argv, env):
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env=env, cwd=work, text=True)
    p.stdin.write(hello); p.stdin.flush()
    for line in p.stdout:
        if '"id":2' in line.replace(" ", ""):
            dt = time.perf_counter() - t0
            break
    else:
        raise SystemExit(f"no tools/list answer from {argv}")
    p.stdin.close(); p.wait(timeout=30)
    return dt

base = dict(os.environ)
def npx(cache):
    env = dict(base, npm_config_cache=cache)
    return session(["npx", "-y", pkg], env)
def run(data):
    env = dict(base, MCPSIG_DATA_DIR=data)
    return session([f"{bin}/mcp-verify", "run", "memory.sigstore.json", "--key", "k.key.pub", "-q"], env)

rows = {k: [] for k in ["npx first", "npx relaunch", "run first", "run relaunch"]}
for i in range(runs):
    for d in ["npx-cache", "data"]:
        shutil.rmtree(os.path.join(work, d), ignore_errors=True)
        os.makedirs(os.path.join(work, d), mode=0o700)
    rows["npx first"].append(npx(os.path.join(work, "npx-cache")))
    rows["run first"].append(run(os.path.join(work, "data")))
    rows["npx relaunch"].append(npx(os.path.join(work, "npx-cache")))
    rows["run relaunch"].append(run(os.path.join(work, "data")))
print(f"start to tools/list answer, median of {runs} (min..max), loopback registry:")
for k, v in rows.items():
    print(f"  {k:14s} {statistics.median(v)*1000:7.0f} ms  ({min(v)*1000:.0f}..{max(v)*1000:.0f})")
for a, b in [("run first", "npx first"), ("run relaunch", "npx relaunch")]:
    print(f"  {a} / {b}: {statistics.median(rows[a]) / statistics.median(rows[b]):.2f}x")
PY
nm=tests/servers/node/node_modules
if [ -d "$nm" ]; then
  python3 - "$bin" "$nm" "$work" <<'PY'
import statistics, subprocess, sys, time, os
bin, nm, work = sys.argv[1:4]
files = sum(len(f) for _, _, f in os.walk(nm))
def t(argv, shell=False):
    t0 = time.perf_counter()
    subprocess.run(argv, shell=shell, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0
init = [bin + "/mcp-sign", "init", "--name", "io.github.bench/nm", "--version", "1.0.0", "--dir", nm,
        "-o", work + "/nm.json", "--force"]
peer = f"find {nm} -type f -print0 | xargs -0 sha256sum"
t(init); t(peer, True)  # warm the page cache for both
a, b = [], []
for _ in range(5):
    a.append(t(init)); b.append(t(peer, True))
ma, mb = statistics.median(a), statistics.median(b)
print(f"hashing {nm} ({files} files), warm cache, median of 5: mcp-sign init {ma*1000:.0f} ms, "
      f"find|xargs sha256sum {mb*1000:.0f} ms (mcp-sign takes {ma/mb:.2f}x the peer's time)")
PY
fi
