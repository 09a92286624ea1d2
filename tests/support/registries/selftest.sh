#!/usr/bin/env bash
# Proves the recorded registries work with the real clients, over loopback only: serve.py is
# started on 127.0.0.1 and npm and pip are pointed at it with empty caches.
#   npm: each recorded root resolves (npm install --package-lock-only) to exactly the recorded tree;
#        `npm ci` installs server-everything from that lockfile and the server answers initialize;
#        a substituted tarball in an --overlay makes `npm ci` fail on integrity.
#   pip: each recorded requirement resolves (pip install --dry-run --report) to exactly the
#        recorded wheels; `pip download --require-hashes` fetches one; a substituted wheel in an
#        --overlay makes it fail.
# Needs scripts/setup-registries.sh to have run. Prints timings; exits non-zero on any mismatch.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="$here/data"
[ -f "$data/index.json" ] || { echo "selftest: no $data/index.json; run scripts/setup-registries.sh" >&2; exit 2; }
tmp="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_server NAME [serve.py args...]: sets $base; the server's stdin is a fifo this script holds
# open, so it also ends when the script does.
start_server() {
  local name="$1"; shift
  mkfifo "$tmp/$name.stdin"
  exec {fd}<>"$tmp/$name.stdin"
  python3 "$here/serve.py" --data "$data" "$@" <"$tmp/$name.stdin" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=("$!")
  for _ in $(seq 100); do
    base="$(sed -n 's/^listening on //p' "$tmp/$name.out")"
    [ -n "$base" ] && return 0
    sleep 0.05
  done
  echo "selftest: serve.py did not start: $(cat "$tmp/$name.err")" >&2
  exit 1
}

step() { printf 'selftest: %-66s ' "$1" >&2; t0="$EPOCHREALTIME"; }
ok() { python3 -c 'import sys; print(f"ok ({float(sys.argv[2]) - float(sys.argv[1]):.1f}s)")' "$t0" "$EPOCHREALTIME" >&2; }

# Compare a lockfile's (name, version, integrity) set with a recorded tree's.
npm_same() {
  python3 - "$data/index.json" "$1" "$2" <<'PY'
import json, sys
index, tree_id, lockfile = sys.argv[1:4]
tree = next(t for t in json.load(open(index))["npm"]["trees"] if t["id"] == tree_id)
want = {(p["name"], p["version"], p["integrity"]) for p in tree["packages"]}
got = set()
for path, e in json.load(open(lockfile))["packages"].items():
    if path:
        got.add((e.get("name") or path.rsplit("node_modules/", 1)[-1], e["version"], e.get("integrity")))
if got != want:
    print(f"\n  missing: {sorted(want - got)}\n  extra: {sorted(got - want)}", file=sys.stderr)
    sys.exit(1)
print(f"{len(got)} packages ", end="", file=sys.stderr)
PY
}

# Compare pip's install report with a recorded root's (name, version, sha256) set.
pip_same() {
  python3 - "$data/index.json" "$1" "$2" <<'PY'
import json, re, sys
index, requirement, report = sys.argv[1:4]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
root = next(r for r in json.load(open(index))["pypi"]["roots"] if r["requirement"] == requirement)
want = {(norm(f["name"]), f["version"], f["sha256"]) for f in root["files"]}
got = set()
for item in json.load(open(report))["install"]:
    url = item["download_info"]["url"]
    if not url.startswith("http://127.0.0.1:"):
        sys.exit(f"\n  {url} is not on the loopback server")
    got.add((norm(item["metadata"]["name"]), item["metadata"]["version"],
             item["download_info"]["archive_info"]["hashes"]["sha256"]))
if got != want:
    print(f"\n  missing: {sorted(want - got)}\n  extra: {sorted(got - want)}", file=sys.stderr)
    sys.exit(1)
print(f"{len(got)} wheels ", end="", file=sys.stderr)
PY
}

start_server main
main_base="$base"
npm_flags=(--ignore-scripts --no-audit --no-fund --registry "$main_base")

mapfile -t roots < <(python3 -c '
import json, sys
for t in json.load(open(sys.argv[1]))["npm"]["trees"]:
    if len(t["requested"]) == 1 and t["id"] == t["requested"][0]:
        print(t["id"])' "$data/index.json")
for spec in "${roots[@]}"; do
  dir="$tmp/npm-${spec//[@\/]/_}"
  mkdir -p "$dir" && echo '{"name": "selftest", "private": true}' >"$dir/package.json"
  step "npm resolves $spec"
  (cd "$dir" && npm install --package-lock-only "${npm_flags[@]}" --cache "$dir.cache" --save-exact "$spec" >/dev/null)
  npm_same "$spec" "$dir/package-lock.json"
  ok
done

everything="$(printf '%s\n' "${roots[@]}" | grep '^@modelcontextprotocol/server-everything@')"
dir="$tmp/npm-${everything//[@\/]/_}"
step "npm ci of that lockfile"
(cd "$dir" && npm ci "${npm_flags[@]}" --cache "$tmp/ci.cache" >/dev/null)
ok
step "server-everything answers initialize over stdio"
python3 - "$dir/node_modules/@modelcontextprotocol/server-everything/dist/index.js" <<'PY'
import json, select, subprocess, sys
p = subprocess.Popen(["node", sys.argv[1], "stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL)
req = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
       "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                  "clientInfo": {"name": "registries-selftest", "version": "1"}}}
p.stdin.write((json.dumps(req) + "\n").encode()); p.stdin.flush()
ready, _, _ = select.select([p.stdout], [], [], 30)
line = p.stdout.readline() if ready else b""
p.kill(); p.wait()
reply = json.loads(line) if line else {}
if reply.get("id") != 1 or "result" not in reply:
    sys.exit(f"\n  no initialize reply: {line[:200]!r}")
print(f"{reply['result']['serverInfo']['name']} {reply['result']['serverInfo'].get('version')} ", end="", file=sys.stderr)
PY
ok

committed="$here/../../servers/node"
step "npm ci of tests/servers/node's committed lockfile"
mkdir -p "$tmp/committed"
cp "$committed/package.json" "$committed/package-lock.json" "$tmp/committed/"
(cd "$tmp/committed" && npm ci "${npm_flags[@]}" --cache "$tmp/ci-committed.cache" >/dev/null)
test -x "$tmp/committed/node_modules/.bin/mcp-server-memory"
ok

# A tarball substituted through an overlay must fail npm's integrity check.
tarball="$(python3 -c '
import json, sys
t = next(t for t in json.load(open(sys.argv[1]))["npm"]["trees"] if t["id"] == sys.argv[2])
print(next(p["tarball"] for p in t["packages"] if p["name"] == "@modelcontextprotocol/server-everything"))' \
  "$data/index.json" "$everything")"
mkdir -p "$tmp/overlay/$(dirname "$tarball")"
cp "$data/$tarball" "$tmp/overlay/$tarball"
printf 'x' >>"$tmp/overlay/$tarball"
start_server overlay --overlay "$tmp/overlay"
step "npm ci rejects a substituted tarball (EINTEGRITY)"
rm -rf "$dir/node_modules"
if (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --registry "$base" --cache "$tmp/ci2.cache" --fetch-retries 0 \
      >"$tmp/npm-bad.out" 2>&1); then
  echo "npm ci accepted a substituted tarball" >&2; exit 1
fi
grep -q EINTEGRITY "$tmp/npm-bad.out" || { cat "$tmp/npm-bad.out" >&2; exit 1; }
ok

pip=(python3 -m pip --isolated --no-cache-dir --disable-pip-version-check)
mapfile -t requirements < <(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["pypi"]["roots"]: print(r["requirement"])' "$data/index.json")
for requirement in "${requirements[@]}"; do
  step "pip resolves $requirement"
  "${pip[@]}" install --dry-run --ignore-installed --only-binary=:all: --quiet --report - \
    --index-url "${main_base}simple/" "$requirement" >"$tmp/report.json"
  pip_same "$requirement" "$tmp/report.json"
  ok
done

python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))["pypi"]["roots"][0]["files"]
f = next((x for x in f if x["name"].lower().replace("_", "-") == "pydantic-core"), f[0])
print(f["name"] + "==" + f["version"] + " --hash=sha256:" + f["sha256"])
print(f["file"])' "$data/index.json" >"$tmp/pick"
head -1 "$tmp/pick" >"$tmp/requirements.txt"
wheel="$(sed -n 2p "$tmp/pick")"
step "pip download --require-hashes $(cut -d' ' -f1 "$tmp/requirements.txt")"
"${pip[@]}" download --no-deps --require-hashes --only-binary=:all: --quiet -d "$tmp/dl" \
  --index-url "${main_base}simple/" -r "$tmp/requirements.txt"
cmp "$tmp/dl/$(basename "$wheel")" "$data/$wheel"
ok

mkdir -p "$tmp/overlay/pypi/files"
cp "$data/$wheel" "$tmp/overlay/$wheel"
printf 'x' >>"$tmp/overlay/$wheel"
step "pip download --require-hashes rejects a substituted wheel"
if "${pip[@]}" download --no-deps --require-hashes --only-binary=:all: -d "$tmp/dl2" \
     --index-url "${base}simple/" -r "$tmp/requirements.txt" >"$tmp/pip-bad.out" 2>&1; then
  echo "pip accepted a substituted wheel" >&2; exit 1
fi
grep -q "DO NOT MATCH THE HASHES" "$tmp/pip-bad.out" || { cat "$tmp/pip-bad.out" >&2; exit 1; }
ok
echo "selftest: all passed" >&2
