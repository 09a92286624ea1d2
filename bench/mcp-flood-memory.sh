#!/usr/bin/env bash
# Peak memory of `mcp-sign tools` against tests/servers/drift-server.py in flood-pages mode:
# the client's own VmHWM (polled from /proc every 5 ms; the server's memory is not counted)
# next to the bytes the server sent. Usage: bench/mcp-flood-memory.sh [MCP_SIGN]
# (default: target/debug/mcp-sign, built by this script).
set -euo pipefail
cd "$(dirname "$0")/.."
sign=${1:-}
if [ -z "$sign" ]; then
  cargo build --locked --quiet -p mcp-sign
  sign=target/debug/mcp-sign
fi
sign=$(realpath "$sign")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/srv"
cp tests/servers/drift-server.py "$work/srv/"
(cd "$work" && "$sign" init --name io.github.acme/flood --version 1.0.0 --dir srv \
  --launch 'python3 drift-server.py' > /dev/null 2>&1)
cp "$work/mcp-manifest.json" "$work/manifest.orig"

# PAGES TOOLS DESCRIPTION_BYTES
for case in "4 150000 8" "3 3333 3000" "1 10000 8"; do
  read -r pages tools desc <<< "$case"
  cp "$work/manifest.orig" "$work/mcp-manifest.json"
  DRIFT_MISBEHAVE=flood-pages DRIFT_FLOOD_PAGES=$pages DRIFT_FLOOD_TOOLS=$tools \
  DRIFT_FLOOD_DESCRIPTION=$desc python3 - "$sign" "$work" "$pages" "$tools" "$desc" <<'PY'
import json, subprocess, sys, time
sign, work, pages, tools, desc = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
sent = sum(
    len(json.dumps({"jsonrpc": "2.0", "id": 5, "result": {"tools": [
        {"name": f"flood_{p}_{i}", "description": "f" * desc, "inputSchema": {"type": "object"}}
        for i in range(tools)], "nextCursor": "1"}})) + 1
    for p in range(pages))
p = subprocess.Popen([sign, "tools", "mcp-manifest.json", "--dir", "srv"], cwd=work,
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
hwm = 0
while p.poll() is None:
    try:
        for line in open(f"/proc/{p.pid}/status"):
            if line.startswith("VmHWM:"):
                hwm = max(hwm, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.005)
err = p.stderr.read().decode().strip().splitlines()
outcome = "pinned" if p.returncode == 0 else (err[-1] if err else f"exit {p.returncode}")
print(f"{pages} x {tools} tools ({desc} B descriptions): server offers {sent / 1e6:.1f} MB; "
      f"mcp-sign peak {hwm / 1024:.0f} MiB; {outcome.strip()[:110]}")
PY
done
