# Sourced by bench/proxy.sh and bench/proxy-ab.sh (after their builds): server-everything
# (scripts/setup-mcp-servers.sh) in Streamable HTTP mode on loopback, and a manifest pinning it,
# signed with a throwaway key, in a temporary $work. Sets t, work, url; removes $work and stops
# every job at exit.
t=$(realpath "${CARGO_TARGET_DIR:-target}")/release
everything=$(realpath tests/servers/node/node_modules/.bin/mcp-server-everything)
[ -x "$everything" ] || { echo "run scripts/setup-mcp-servers.sh first" >&2; exit 2; }
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
export HOME=$work/home; mkdir -p "$HOME"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORT=$port "$everything" streamableHttp > /dev/null 2>&1 &
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
url=http://127.0.0.1:$port/mcp
(cd "$work" && "$t/mcp-sign" keygen --out k >/dev/null 2>&1 \
  && "$t/mcp-sign" init --name io.github.acme/bench --version 1.0.0 --url "$url" -o m.json >/dev/null 2>&1 \
  && "$t/mcp-sign" tools m.json >/dev/null 2>&1 && "$t/mcp-sign" sign m.json --key k >/dev/null 2>&1)
