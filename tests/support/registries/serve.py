#!/usr/bin/env python3
"""Serves recorded npm and PyPI packages on 127.0.0.1, for tests that must not reach the internet.

Usage: python3 serve.py --data DIR [--overlay DIR] [--port 0] [--verbose] [--ignore-stdin]

Prints exactly one line, `listening on http://127.0.0.1:PORT/`, once the socket is bound, and
exits on SIGTERM, SIGINT, or when its standard input reaches end of file (so a test's child
never outlives the test; --ignore-stdin turns that off for use by hand). Every request reads its
file from disk, from the overlay first (tests put substituted tarballs, wheels or documents
there under the same relative path) and then from the data directory. Anything else is a 404.

Data layout (written by record.py; every path relative to DIR):
  index.json                                what was recorded (below)
  npm/packuments/<name>.json                the registry's packument, `/` in a scoped name as `%2f`
  npm/tarballs/<name>/<file>.tgz            the tarball, <name> escaped the same way
  npm/locks/<label>.package-lock.json       the lockfiles the trees came from
  pypi/simple/<norm>.json                   the PEP 691 JSON simple page (<norm>: PEP 503 name)
  pypi/project/<norm>.json                  the JSON API project document (/pypi/NAME/json)
  pypi/json/<norm>/<version>.json           the JSON API version document (/pypi/NAME/VERSION/json)
  pypi/files/<filename>                     the wheel (and <filename>.metadata, if one exists)
  pypi/reports/<norm>==<version>.json       pip's install report the set came from

index.json:
  {"format": 1, "recorded": "<UTC time>",
   "npm": {"registry", "npm_version", "trees": [{"id", "requested": ["name@version"], "lockfile",
           "packages": [{"name", "version", "path" (lockfile key), "integrity", "shasum",
                         "tarball", "size", "packument"}]}]},
   "pypi": {"index", "python", "roots": [{"requirement", "name", "version", "report", "environment",
            "pip_version", "files": [{"name", "version", "filename", "sha256", "norm", "file", "size",
                                      "simple", "project", "json", "json_source"}]}]}}
  Paths in it are relative to DIR.

Routes (URLs in every served document are rewritten to this server):
  GET /NAME, /@scope%2fname, /@scope/name   packument, every dist.tarball -> /NAME/-/FILE
  GET /NAME/-/FILE.tgz                      tarball
  GET /simple/ and /simple/NAME/            PEP 691 JSON if the Accept header prefers
                                            application/vnd.pypi.simple.v1+json, else PEP 503 HTML
  GET /pypi/NAME/json, /pypi/NAME/VERSION/json   JSON API documents, urls -> /files/FILENAME
  GET /files/FILENAME                       wheel
Python 3 standard library only.
"""

import argparse
import html
import json
import os
import re
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NPM_NAME = re.compile(r"^(?:@[A-Za-z0-9][A-Za-z0-9._~-]*/)?[A-Za-z0-9._~-]+$")
FILE_NAME = re.compile(r"^[A-Za-z0-9._~+!-][A-Za-z0-9._~+!%-]*$")
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
SIMPLE_HTML = "application/vnd.pypi.simple.v1+html"


def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def safe_name(name):
    return bool(FILE_NAME.match(name)) and name not in (".", "..")


def wants_json(accept):
    """True when the Accept header rates PEP 691 JSON at least as high as any HTML form."""
    best = {"json": 0.0, "html": 0.0}
    for part in (accept or "").split(","):
        fields = [f.strip() for f in part.split(";")]
        media, q = fields[0].lower(), 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = {SIMPLE_JSON: "json", "application/vnd.pypi.simple.latest+json": "json",
                SIMPLE_HTML: "html", "application/vnd.pypi.simple.latest+html": "html",
                "text/html": "html"}.get(media)
        if kind:
            best[kind] = max(best[kind], q)
    return best["json"] > 0 and best["json"] >= best["html"]


class Store:
    """Files under the overlay, then the data directory; relative paths only, never `..`."""

    def __init__(self, data, overlay):
        self.roots = [r for r in (overlay, data) if r]

    def read(self, rel):
        parts = rel.split("/")
        if any(p in ("", ".", "..") for p in parts):
            return None
        for root in self.roots:
            path = os.path.join(root, *parts)
            try:
                with open(path, "rb") as f:
                    return f.read()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                continue
        return None

    def listdir(self, rel):
        names = set()
        for root in self.roots:
            try:
                names.update(os.listdir(os.path.join(root, rel)))
            except (FileNotFoundError, NotADirectoryError):
                pass
        return sorted(names)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mcpsig-test-registry/1"
    store = None
    base = ""
    verbose = False

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("serve: %s %s\n" % (self.address_string(), fmt % args))

    def do_HEAD(self):
        self.dispatch(head=True)

    def do_GET(self):
        self.dispatch(head=False)

    def send(self, status, body, ctype, head=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def not_found(self, head, what=None):
        self.send(404, f"not found: {what or self.path}\n".encode(), "text/plain; charset=utf-8", head)

    def dispatch(self, head):
        path = urllib.parse.urlsplit(self.path).path
        try:
            # Unquoting once makes `@scope%2fname` and `@scope/name` the same path.
            path = urllib.parse.unquote(path, errors="strict")
        except UnicodeDecodeError:
            return self.not_found(head)
        if "\x00" in path or "\\" in path:
            return self.not_found(head)
        if path.startswith("/simple/") or path == "/simple":
            return self.simple(path[len("/simple/"):].strip("/"), head)
        if path.startswith("/pypi/"):
            return self.pypi_json(path[len("/pypi/"):].strip("/").split("/"), head)
        if path.startswith("/files/"):
            return self.pypi_file(path[len("/files/"):], head)
        return self.npm(path.lstrip("/"), head)

    # npm ----------------------------------------------------------------------------------------

    def npm(self, path, head):
        name, sep, file = path.partition("/-/")
        name = name.rstrip("/")
        if not NPM_NAME.match(name) or name.startswith((".", "_")):
            return self.not_found(head)
        escaped = name.replace("/", "%2f")
        if sep:
            if not safe_name(file):
                return self.not_found(head)
            body = self.store.read(f"npm/tarballs/{escaped}/{file}")
            if body is None:
                return self.not_found(head)
            return self.send(200, body, "application/octet-stream", head)
        raw = self.store.read(f"npm/packuments/{escaped}.json")
        if raw is None:
            return self.not_found(head)
        doc = json.loads(raw)
        for meta in (doc.get("versions") or {}).values():
            dist = meta.get("dist") if isinstance(meta, dict) else None
            if isinstance(dist, dict) and isinstance(dist.get("tarball"), str):
                file = urllib.parse.urlsplit(dist["tarball"]).path.rsplit("/", 1)[-1]
                dist["tarball"] = f"{self.base}{name}/-/{file}"
        # The full document answers the abbreviated (corgi) Accept type too; npm accepts that.
        self.send(200, json.dumps(doc).encode(), "application/json", head)

    # PyPI ---------------------------------------------------------------------------------------

    def file_url(self, filename):
        return f"{self.base}files/{urllib.parse.quote(filename)}"

    def simple(self, name, head):
        as_json = wants_json(self.headers.get("Accept"))
        if not name:
            projects = [n[:-len(".json")] for n in self.store.listdir("pypi/simple") if n.endswith(".json")]
            if as_json:
                doc = {"meta": {"api-version": "1.1"}, "projects": [{"name": p} for p in projects]}
                return self.send(200, json.dumps(doc).encode(), SIMPLE_JSON, head)
            links = "".join(f'<a href="{html.escape(p)}/">{html.escape(p)}</a><br/>\n' for p in projects)
            page = f"<!DOCTYPE html>\n<html><head><title>Simple index</title></head><body>\n{links}</body></html>\n"
            return self.send(200, page.encode(), "text/html; charset=utf-8", head)
        if "/" in name:
            return self.not_found(head)
        norm = pep503(name)
        raw = self.store.read(f"pypi/simple/{norm}.json") if safe_name(norm) else None
        if raw is None:
            return self.not_found(head)
        doc = json.loads(raw)
        for f in doc.get("files", []):
            f["url"] = self.file_url(f["filename"])
        if as_json:
            return self.send(200, json.dumps(doc).encode(), SIMPLE_JSON, head)
        self.send(200, simple_html(doc).encode(), "text/html; charset=utf-8", head)

    def pypi_json(self, parts, head):
        if len(parts) == 2 and parts[1] == "json":
            rel = f"pypi/project/{pep503(parts[0])}.json"
        elif len(parts) == 3 and parts[2] == "json" and safe_name(parts[1]):
            rel = f"pypi/json/{pep503(parts[0])}/{parts[1]}.json"
        else:
            return self.not_found(head)
        raw = self.store.read(rel) if safe_name(pep503(parts[0])) else None
        if raw is None:
            return self.not_found(head)
        doc = json.loads(raw)
        files = list(doc.get("urls") or [])
        for release in (doc.get("releases") or {}).values():
            files.extend(release)
        for f in files:
            f["url"] = self.file_url(f["filename"])
        self.send(200, json.dumps(doc).encode(), "application/json", head)

    def pypi_file(self, filename, head):
        if not safe_name(filename):
            return self.not_found(head)
        body = self.store.read(f"pypi/files/{filename}")
        if body is None:
            return self.not_found(head)
        self.send(200, body, "application/octet-stream", head)


def simple_html(doc):
    """PEP 503 page from a PEP 691 document, carrying the same hashes and attributes."""
    name = html.escape(doc.get("name", ""))
    rows = []
    for f in doc.get("files", []):
        href = f["url"]
        sha = (f.get("hashes") or {}).get("sha256")
        if sha:
            href += f"#sha256={sha}"
        attrs = [f'href="{html.escape(href)}"']
        if f.get("requires-python"):
            attrs.append(f'data-requires-python="{html.escape(f["requires-python"])}"')
        yanked = f.get("yanked")
        if yanked:
            attrs.append(f'data-yanked="{html.escape(yanked if isinstance(yanked, str) else "")}"')
        meta = f.get("core-metadata", f.get("dist-info-metadata"))
        if meta:
            value = "true"
            if isinstance(meta, dict) and meta.get("sha256"):
                value = f"sha256={meta['sha256']}"
            attrs.append(f'data-dist-info-metadata="{value}" data-core-metadata="{value}"')
        rows.append(f'<a {" ".join(attrs)}>{html.escape(f["filename"])}</a><br/>\n')
    return (f'<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
            f"<title>Links for {name}</title></head><body>\n<h1>Links for {name}</h1>\n"
            f'{"".join(rows)}</body></html>\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the recorded data directory")
    ap.add_argument("--overlay", help="a directory whose files take precedence over --data")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    ap.add_argument("--ignore-stdin", action="store_true", help="do not exit when stdin reaches EOF")
    args = ap.parse_args()
    if not os.path.isdir(args.data):
        ap.error(f"--data {args.data}: not a directory")
    if args.overlay and not os.path.isdir(args.overlay):
        ap.error(f"--overlay {args.overlay}: not a directory")

    Handler.store = Store(os.path.abspath(args.data), args.overlay and os.path.abspath(args.overlay))
    Handler.verbose = args.verbose
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    Handler.base = f"http://127.0.0.1:{port}/"

    def stop(*_):
        # Nothing is held that needs cleaning up; leave at once, whatever the handlers are doing.
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not args.ignore_stdin:
        def watch_stdin():
            try:
                while sys.stdin.buffer.read(65536):
                    pass
            except OSError:
                pass
            stop()
        threading.Thread(target=watch_stdin, daemon=True).start()

    print(f"listening on {Handler.base}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
