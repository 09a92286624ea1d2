#!/usr/bin/env python3
"""Builds the fuzz seed corpora from testdata/ (nothing is copied into the repository).

Usage: fuzz/seeds.py CORPUS_DIR   -> CORPUS_DIR/<target>/<name>, one file per seed.
Standard library only. Idempotent: files are named after their content's sha256.
"""

import base64
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_SEED = 64 * 1024


def td(*parts):
    return os.path.join(ROOT, "testdata", *parts)


def write(out, target, data):
    if len(data) > MAX_SEED:
        return
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha256(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def load_json(path):
    try:
        return json.loads(read(path))
    except (ValueError, OSError):
        return None


def b64(s):
    try:
        return base64.b64decode(s)
    except (ValueError, TypeError):
        return None


def bundles():
    for path in sorted(glob.glob(td("**", "*.sigstore.json"), recursive=True)):
        yield path, read(path), load_json(path)


def seed_bundles_and_parts(out):
    for _, raw, b in bundles():
        write(out, "bundle", raw)
        if not isinstance(b, dict):
            continue
        vm = b.get("verificationMaterial") or {}
        certs = []
        if isinstance(vm.get("certificate"), dict):
            certs.append(vm["certificate"].get("rawBytes"))
        for c in (vm.get("x509CertificateChain") or {}).get("certificates") or []:
            certs.append(c.get("rawBytes"))
        for c in certs:
            der = b64(c)
            if der:
                write(out, "certificate", der)
        for e in vm.get("tlogEntries") or []:
            cp = ((e.get("inclusionProof") or {}).get("checkpoint") or {}).get("envelope")
            if isinstance(cp, str):
                write(out, "checkpoint", cp.encode())
        sig = None
        if isinstance(b.get("messageSignature"), dict):
            sig = b64(b["messageSignature"].get("signature"))
        elif isinstance(b.get("dsseEnvelope"), dict):
            sigs = b["dsseEnvelope"].get("signatures") or [{}]
            sig = b64(sigs[0].get("sig"))
            payload = b64(b["dsseEnvelope"].get("payload"))
            statement = None
            if payload:
                try:
                    statement = json.loads(payload)
                except ValueError:
                    pass
            if isinstance(statement, dict) and isinstance(statement.get("predicate"), dict):
                write(out, "manifest", json.dumps(statement["predicate"], indent=2).encode())
        tsd = (vm.get("timestampVerificationData") or {}).get("rfc3161Timestamps") or []
        for t in tsd:
            token = b64(t.get("signedTimestamp"))
            if token and sig is not None and len(sig) < 65536:
                write(out, "tsa_response", len(sig).to_bytes(2, "big") + sig + token)


def seed_trusted_roots(out):
    for path in sorted(glob.glob(td("**", "*trusted_root*.json"), recursive=True)):
        root = load_json(path)
        if not isinstance(root, dict):
            continue
        for key in ("certificateAuthorities", "timestampAuthorities"):
            for ca in root.get(key) or []:
                for c in (ca.get("certChain") or {}).get("certificates") or []:
                    der = b64(c.get("rawBytes"))
                    if der:
                        write(out, "certificate", der)


def seed_json(out):
    paths = glob.glob(td("jcs", "input", "*.json")) + glob.glob(td("mcp-tools", "**", "*.json"), recursive=True)
    paths += glob.glob(td("scenarios", "*", "*.json"))
    for path in sorted(paths):
        raw = read(path)
        write(out, "json_strict", raw)
        write(out, "canonical", raw)
    # Shapes the files above lack: numbers at the edges of doubles, escapes, duplicate keys.
    for text in [
        '[1e308, -0, 0.1, 1E-7, 123456789012345678901234567890, 9007199254740993, 5e-324]',
        '{"a": "\\u0000\\u001f\\ud83d\\ude00\\u2028", "b": [true, false, null]}',
        '{"a": 1, "a": 2}',
        '{"\\u00e9": 1, "e\\u0301": 2, "\\ud800\\udc00": 3, "\\uffff": 4}',
    ]:
        write(out, "json_strict", text.encode())
        write(out, "canonical", text.encode())


def seed_manifests(out):
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "**", "*manifest*.json"), recursive=True)):
        write(out, "manifest", read(path))


def seed_server_json(out):
    paths = glob.glob(td("server-json", "examples", "*.json")) + glob.glob(td("scenarios", "server-json-*", "server.json"))
    for path in sorted(paths):
        raw = read(path)
        write(out, "server_json", raw)
        # The fuzz target's manifest describes io.github.acme/weather: merge into its documents.
        doc = load_json(path)
        if isinstance(doc, dict):
            doc["name"] = "io.github.acme/weather"
            write(out, "server_json", json.dumps(doc, indent=2).encode())


def seed_tuf(out):
    for path in sorted(glob.glob(td("sigstore-trust", "*.tuf-root.json"))):
        write(out, "tuf_metadata", b"\x00" + read(path))
    # The other roles come from python-tuf, when its venv is installed (scripts/setup-tuf.sh).
    python = os.path.join(ROOT, ".venv-tuf", "bin", "python")
    if not os.path.exists(python):
        return
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "target.json")
        with open(target, "w") as f:
            f.write("{}")
        made = subprocess.run(
            [python, td("tuf", "make_repo.py"), tmp, "accept", target],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if made.returncode != 0:
            return
        roles = {"root": 0, "timestamp": 1, "snapshot": 2, "targets": 3}
        for path in sorted(glob.glob(os.path.join(tmp, "repo", "*.json"))):
            name = os.path.basename(path)
            for role, pick in roles.items():
                if name == f"{role}.json" or name.endswith(f".{role}.json"):
                    write(out, "tuf_metadata", bytes([pick]) + read(path))


def seed_framing(out):
    messages = [
        {"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}}}},
        {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "x"}},
        {"jsonrpc": "2.0", "id": 7, "method": "ping"},
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "bad"}},
        {"jsonrpc": "2.0", "id": 2, "result": {"tools": [{"name": "t", "inputSchema": {"type": "object"}}], "nextCursor": "1"}},
    ]
    lines = [json.dumps(m).encode() for m in messages]
    write(out, "mcp_framing", bytes([63, 255]) + b"\n".join(lines) + b"\n")
    write(out, "mcp_framing", bytes([3, 40]) + b"\r\n".join(lines) + b"\r\n\n  \n" + b"not json\n[1]")
    write(out, "mcp_framing", bytes([0, 2]) + lines[0] + b"\n" + b"x" * 100)
    # http_answer: three cut points, then an endpoint's answer: a length, chunks with an
    # extension and trailers, an interim answer first, an event stream until close.
    write(out, "http_answer", bytes([5, 9, 30]) + b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
    write(out, "http_answer", bytes([1, 2, 3]) + b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2;x=1\r\n{}\r\n0\r\nx-t: 1\r\n\r\n")
    write(out, "http_answer", bytes([40, 3, 8]) + b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\nevent: message\ndata: {}\n\n")
    # sse_stream: bound, three cut points, then a stream: LF, CRLF and lone-CR line ends, ids,
    # comments, typed events, multi-line data, an unended event.
    events = b"".join(b"id: %d\r\ndata: " % i + l + b"\r\n\r\n" for i, l in enumerate(lines[:3]))
    write(out, "sse_stream", bytes([255, 5, 9, 30]) + events)
    write(out, "sse_stream", bytes([64, 1, 2, 3])
          + b": hi\rid: 7\rdata: a\r\revent: x\ndata: b\n\ndata: c\ndata: d\n\nid: \x1b\ndata: e\r")



def seed_tool_diff(out):
    lists = []
    for path in sorted(glob.glob(td("mcp-tools", "**", "*.json"), recursive=True)):
        doc = load_json(path)
        if isinstance(doc, dict) and isinstance(doc.get("tools"), list):
            lists.append(json.dumps(doc["tools"]).encode())
    for path in sorted(glob.glob(td("scenarios", "tool-*", "pins.json"))):
        doc = load_json(path)
        if isinstance(doc, dict) and isinstance(doc.get("tools"), list):
            lists.append(json.dumps([t.get("definition") for t in doc["tools"]]).encode())
    for i, a in enumerate(lists):
        write(out, "tool_diff", a + b"\xff" + a)
        b = lists[(i + 1) % len(lists)]
        write(out, "tool_diff", a + b"\xff" + b)


def seed_client_configs(out):
    # os.walk, not glob: the files live in dot-folders (.vscode, .cursor) and dot-files (.mcp.json).
    roots = [td("client-configs")] + sorted(glob.glob(td("scenarios", "config-*")))
    for root in roots:
        for d, _, files in sorted(os.walk(root)):
            for f in sorted(files):
                if f.endswith(".json"):
                    write(out, "client_config", read(os.path.join(d, f)))


def seed_guard_sessions(out):
    # A client/server exchange: `c` prefixes client lines, `s` server lines.
    session = [
        b'c{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{}}}',
        b's{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":true}}}}',
        b'c{"jsonrpc":"2.0","id":2,"method":"tools/list"}',
        b's{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"read_note","inputSchema":{"type":"object"}},{"name":"export_notes","inputSchema":{"type":"object"}}]}}',
        b'c{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"export_notes","arguments":{}}}',
        b's{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}',
        b'c{"jsonrpc":"2.0","id":"4","method":"tools/call","params":{"name":"read_note","arguments":{"id":"1"}}}',
        b's{"jsonrpc":"2.0","id":"mcpsig-guard/1","result":{"tools":[]}}',
        b'c[{"jsonrpc":"2.0","id":5,"method":"ping"}]',
    ]
    write(out, "guard_lines", b"\n".join(session) + b"\n")
    write(out, "guard_lines", b"\n".join(session[:5]) + b"\n")


def seed_policies(out):
    for d in sorted(glob.glob(td("scenarios", "policy-*"))):
        f = os.path.join(d, "policy.toml")
        if os.path.exists(f):
            write(out, "policy_file", read(f))


def package_archive(out):
    """A real npm tarball's tar (kind 0) and real wheels (kind 1) from the recorded registry
    data, when scripts/setup-registries.sh has recorded it; small hostile ones always."""
    import gzip
    import io
    import tarfile
    import zipfile
    data = os.path.join(ROOT, "tests", "support", "registries", "data")
    for path in sorted(glob.glob(os.path.join(data, "npm", "tarballs", "*", "*.tgz")))[:6]:
        write(out, "package_archive", b"\x00" + gzip.decompress(read(path)))
    for path in sorted(glob.glob(os.path.join(data, "pypi", "files", "*.whl")))[:4]:
        write(out, "package_archive", b"\x01" + read(path))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, body in [("package/package.json", b"{}"), ("package/../x", b"x"), ("package/a/b", b"1")]:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
        link = tarfile.TarInfo("package/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        t.addfile(link)
    write(out, "package_archive", b"\x00" + buf.getvalue())
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as w:
        w.writestr("p-1.0.dist-info/RECORD", "p/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\np-1.0.dist-info/RECORD,,\n")
        w.writestr("p/__init__.py", "")
        w.writestr("p-1.0.dist-info/entry_points.txt", "[console_scripts]\np = p:main\n")
    write(out, "package_archive", b"\x01" + z.getvalue())
    write(out, "package_archive", b"\x02" + z.getvalue())


def seed_mcpb_signatures(out):
    """Signed bundles in the layouts spec/mcpb.md accepts, made with openssl (skipped without)."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("manifest.json", '{"name": "fuzz"}')
    plain = buf.getvalue()
    write(out, "mcpb_signature", plain)

    def block(der, padding=0):
        return b"MCPB_SIG_V1" + len(der).to_bytes(4, "little") + der + b"\0" * padding + b"MCPB_SIG_END"

    def comment_length(zip_bytes, value):
        at = zip_bytes.rindex(b"PK\x05\x06") + 20
        return zip_bytes[:at] + value.to_bytes(2, "little") + zip_bytes[at + 2:]

    with tempfile.TemporaryDirectory() as tmp:
        def run(*args):
            return subprocess.run(
                ["openssl", *args], cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            ).returncode == 0

        def sign(content):
            with open(os.path.join(tmp, "content"), "wb") as f:
                f.write(content)
            if not run("cms", "-sign", "-binary", "-in", "content", "-signer", "cert.pem",
                       "-inkey", "key.pem", "-outform", "DER", "-out", "sig.der"):
                return None
            return read(os.path.join(tmp, "sig.der"))

        try:
            made = run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                       "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1",
                       "-subj", "/CN=fuzz")
        except OSError:
            return
        if not made:
            return
        der = sign(plain)
        if der is None:
            return
        write(out, "mcpb_signature", plain + block(der))
        write(out, "mcpb_signature", plain + block(der, 40))
        raised = block(der)
        write(out, "mcpb_signature", comment_length(plain, len(raised)) + raised)
        prepared = comment_length(plain, 16384)
        der = sign(prepared)
        if der is not None:
            write(out, "mcpb_signature", prepared + block(der, 16384 - 27 - len(der)))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    seed_bundles_and_parts(out)
    seed_trusted_roots(out)
    seed_json(out)
    seed_manifests(out)
    seed_server_json(out)
    seed_tuf(out)
    seed_framing(out)
    seed_tool_diff(out)
    seed_client_configs(out)
    seed_policies(out)
    seed_guard_sessions(out)
    package_archive(out)
    seed_mcpb_signatures(out)
    for target in sorted(os.listdir(out)):
        print(f"{target}: {len(os.listdir(os.path.join(out, target)))} seeds")


if __name__ == "__main__":
    main()
