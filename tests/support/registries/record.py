#!/usr/bin/env python3
"""Records real npm and PyPI packages, with their whole resolved dependency trees, for serve.py.

The tests pin and install real packages without internet: this script, run by
scripts/setup-registries.sh, fetches once from the public registries what serve.py later serves on
127.0.0.1. The trees are resolved by the real clients (`npm install --package-lock-only`,
`pip install --dry-run --report`), every tarball and wheel is checked against the digest the
registry publishes for it, and every file is written atomically (temporary name, then rename).
A stamp file makes a second run with the same inputs a no-op. The layout is documented in serve.py;
SOURCE.md says what is trimmed. Python 3 standard library only.
"""

import argparse
import base64
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

NPM_REGISTRY = "https://registry.npmjs.org/"
PYPI_INDEX = "https://pypi.org/simple/"
PYPI_JSON = "https://pypi.org/pypi/"
PYPI_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
FORMAT = 1
TIMEOUT = 60
ATTEMPTS = 4
WORKERS = 8


def log(msg):
    print(f"record: {msg}", file=sys.stderr, flush=True)


class NotFound(Exception):
    pass


def fetch(url, accept=None):
    """GET with a timeout and retries on transient failures; a 404 raises NotFound at once."""
    headers = {"User-Agent": "mcpsig-test-recorder/1"}
    if accept:
        headers["Accept"] = accept
    delay = 1.0
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT) as r:
                return r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            if e.code == 404 or (400 <= e.code < 500 and e.code not in (408, 429)):
                raise NotFound(f"{url}: HTTP {e.code}") from None
            err = f"HTTP {e.code}"
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
            err = str(e)
        if attempt == ATTEMPTS:
            raise RuntimeError(f"GET {url} failed after {ATTEMPTS} attempts: {err}")
        log(f"GET {url}: {err}; retrying in {delay:.0f}s")
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


def write_atomic(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def json_bytes(doc):
    return (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode()


# ---------------------------------------------------------------------------------------------- npm

SRI_ALGS = {"sha512": hashlib.sha512, "sha384": hashlib.sha384, "sha256": hashlib.sha256, "sha1": hashlib.sha1}


def check_sri(data, integrity, shasum, what):
    """Every hash the registry states for a tarball (SRI `integrity`, hex `shasum`) must match."""
    checked = 0
    for item in (integrity or "").split():
        alg, _, b64 = item.partition("-")
        if alg in SRI_ALGS:
            if base64.b64encode(SRI_ALGS[alg](data).digest()).decode() != b64.split("?")[0]:
                raise RuntimeError(f"{what}: {alg} integrity mismatch")
            checked += 1
    if shasum:
        if hashlib.sha1(data).hexdigest() != shasum:
            raise RuntimeError(f"{what}: shasum mismatch")
        checked += 1
    if not checked:
        raise RuntimeError(f"{what}: the registry states no digest")


def npm_escape(name):
    return name.replace("/", "%2f")


SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def semver_key(v):
    m = SEMVER.match(v)
    if not m:
        return ((-1, -1, -1), 0, ())
    pre = m.group(4)
    # A release sorts above its prereleases; prerelease identifiers compare numerically when numeric.
    pre_key = () if pre is None else tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return ((int(m.group(1)), int(m.group(2)), int(m.group(3))), 1 if pre is None else 0, pre_key)


def trim_packument(doc, keep):
    """The registry's document with only the kept versions (and their times and tags)."""
    out = dict(doc)
    out["versions"] = {v: doc["versions"][v] for v in doc["versions"] if v in keep}
    if isinstance(doc.get("time"), dict):
        out["time"] = {k: t for k, t in doc["time"].items() if k in keep or k in ("created", "modified")}
    tags = {t: v for t, v in (doc.get("dist-tags") or {}).items() if v in keep}
    # npm takes `latest` when it satisfies a range, otherwise the highest match: keeping the
    # registry's own `latest` when it was kept resolves exactly as upstream did.
    if tags.get("latest") not in keep:
        tags["latest"] = max(keep, key=semver_key)
    out["dist-tags"] = tags
    return out


def lock_packages(lock):
    """(lock path, name, version, integrity) of every installed package in an npm v2/v3 lockfile."""
    out = []
    for path, entry in lock.get("packages", {}).items():
        if not path:
            continue
        if entry.get("link"):
            raise RuntimeError(f"lockfile entry {path} is a link; only registry packages can be recorded")
        name = entry.get("name") or path.rsplit("node_modules/", 1)[-1]
        if "version" not in entry:
            raise RuntimeError(f"lockfile entry {path} has no version")
        out.append((path, name, entry["version"], entry.get("integrity")))
    return out


def npm_resolve(spec, workdir):
    """The lockfile npm writes for `spec` alone, resolved against the public registry."""
    os.makedirs(workdir)
    with open(os.path.join(workdir, "package.json"), "w") as f:
        f.write('{"name": "mcpsig-recorded-tree", "private": true}\n')
    subprocess.run(
        ["npm", "install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund",
         "--save-exact", "--registry", NPM_REGISTRY, "--omit-lockfile-registry-resolved=false", spec],
        cwd=workdir, check=True, stdout=subprocess.DEVNULL,
    )
    with open(os.path.join(workdir, "package-lock.json"), "rb") as f:
        raw = f.read()
    return raw, json.loads(raw)


def record_npm(data, roots, extra_locks, pool, written):
    trees = []
    with tempfile.TemporaryDirectory(prefix="mcpsig-npm-") as tmp:
        for i, (name, version) in enumerate(roots):
            raw, lock = npm_resolve(f"{name}@{version}", os.path.join(tmp, str(i)))
            lock_rel = f"npm/locks/{npm_escape(name)}@{version}.package-lock.json"
            write_atomic(os.path.join(data, lock_rel), raw)
            written.add(lock_rel)
            trees.append({"id": f"{name}@{version}", "requested": [f"{name}@{version}"],
                          "lockfile": lock_rel, "lock": lock})
    for label, path in extra_locks:
        with open(path, "rb") as f:
            raw = f.read()
        lock = json.loads(raw)
        lock_rel = f"npm/locks/{label}.package-lock.json"
        write_atomic(os.path.join(data, lock_rel), raw)
        written.add(lock_rel)
        deps = lock.get("packages", {}).get("", {}).get("dependencies", {})
        trees.append({"id": label, "requested": [f"{n}@{v}" for n, v in sorted(deps.items())],
                      "lockfile": lock_rel, "lock": lock})

    wanted = {}  # name -> {version: integrity from a lockfile}
    for tree in trees:
        tree["entries"] = lock_packages(tree.pop("lock"))
        for _, name, version, integrity in tree["entries"]:
            seen = wanted.setdefault(name, {})
            if seen.get(version) and integrity and seen[version] != integrity:
                raise RuntimeError(f"{name}@{version}: lockfiles disagree on its integrity")
            seen[version] = seen.get(version) or integrity
    log(f"npm: {sum(len(v) for v in wanted.values())} package versions of {len(wanted)} names")

    def packument(name):
        body, _ = fetch(NPM_REGISTRY + npm_escape(name), accept="application/json")
        doc = json.loads(body)
        for version, lock_integrity in wanted[name].items():
            meta = doc.get("versions", {}).get(version)
            if meta is None:
                raise RuntimeError(f"{name}@{version} is not in the registry's packument")
            dist = meta.get("dist", {})
            if lock_integrity and dist.get("integrity") != lock_integrity:
                raise RuntimeError(f"{name}@{version}: lockfile integrity differs from the registry's")
        rel = f"npm/packuments/{npm_escape(name)}.json"
        write_atomic(os.path.join(data, rel), json_bytes(trim_packument(doc, set(wanted[name]))))
        return name, rel, {v: doc["versions"][v]["dist"] for v in wanted[name]}

    dists, packuments = {}, {}
    for name, rel, d in pool.map(packument, sorted(wanted)):
        packuments[name] = rel
        written.add(rel)
        for version, dist in d.items():
            dists[(name, version)] = dist

    def tarball(key):
        name, version = key
        dist = dists[key]
        file = urllib.parse.urlsplit(dist["tarball"]).path.rsplit("/", 1)[-1]
        rel = f"npm/tarballs/{npm_escape(name)}/{file}"
        path = os.path.join(data, rel)
        what = f"{name}@{version} ({file})"
        if os.path.exists(path):
            with open(path, "rb") as f:
                body = f.read()
            try:
                check_sri(body, dist.get("integrity"), dist.get("shasum"), what)
                return key, rel, len(body)
            except RuntimeError:
                pass
        body, _ = fetch(dist["tarball"])
        check_sri(body, dist.get("integrity"), dist.get("shasum"), what)
        write_atomic(path, body)
        return key, rel, len(body)

    tarballs = {}
    for key, rel, size in pool.map(tarball, sorted(dists)):
        tarballs[key] = (rel, size)
        written.add(rel)

    out = []
    for tree in trees:
        pkgs = []
        for lock_path, name, version, _ in tree.pop("entries"):
            dist = dists[(name, version)]
            pkgs.append({"name": name, "version": version, "path": lock_path,
                         "integrity": dist.get("integrity"), "shasum": dist.get("shasum"),
                         "tarball": tarballs[(name, version)][0], "size": tarballs[(name, version)][1],
                         "packument": packuments[name]})
        tree["packages"] = pkgs
        out.append(tree)
    return out


# --------------------------------------------------------------------------------------------- PyPI

def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_resolve(requirement):
    """pip's JSON install report for `requirement` alone, wheels only, for this interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CERT"}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    with tempfile.TemporaryDirectory(prefix="mcpsig-pip-") as tmp:
        report = os.path.join(tmp, "report.json")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--only-binary=:all:",
             "--quiet", "--index-url", PYPI_INDEX, "--report", report, requirement],
            check=True, env=env, stdout=subprocess.DEVNULL,
        )
        with open(report, "rb") as f:
            raw = f.read()
    return raw, json.loads(raw)


def report_files(report):
    out = []
    for item in report["install"]:
        info = item["download_info"]
        archive = info.get("archive_info", {})
        sha256 = archive.get("hashes", {}).get("sha256")
        if not sha256 and archive.get("hash", "").startswith("sha256="):
            sha256 = archive["hash"][len("sha256="):]
        url = info["url"]
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        if not sha256 or not filename.endswith(".whl"):
            raise RuntimeError(f"pip chose {filename} without a sha256 or not a wheel")
        out.append({"name": item["metadata"]["name"], "version": item["metadata"]["version"],
                    "filename": filename, "sha256": sha256, "url": url})
    return out


def record_pypi(data, requirements, pool, written):
    roots = []
    for requirement in requirements:
        raw, report = pip_resolve(requirement)
        name, _, version = requirement.partition("==")
        rel = f"pypi/reports/{pep503(name)}=={version}.json"
        write_atomic(os.path.join(data, rel), raw)
        written.add(rel)
        roots.append({"requirement": requirement, "name": name, "version": version, "report": rel,
                      "environment": report.get("environment", {}), "pip_version": report.get("pip_version"),
                      "files": report_files(report)})

    files = {}  # filename -> record
    projects = {}  # normalized name -> {version: set(filename)}
    for root in roots:
        for f in root["files"]:
            prev = files.setdefault(f["filename"], f)
            if prev["sha256"] != f["sha256"]:
                raise RuntimeError(f"{f['filename']}: two resolutions disagree on its sha256")
            projects.setdefault(pep503(f["name"]), {}).setdefault(f["version"], set()).add(f["filename"])
    log(f"pypi: {len(files)} wheels of {len(projects)} projects")

    def project(norm):
        keep = set().union(*projects[norm].values())
        body, ctype = fetch(f"{PYPI_INDEX}{norm}/", accept=PYPI_SIMPLE_JSON)
        if PYPI_SIMPLE_JSON not in ctype:
            raise RuntimeError(f"{PYPI_INDEX}{norm}/ answered {ctype!r}, not PEP 691 JSON")
        simple = json.loads(body)
        by_name = {f["filename"]: f for f in simple["files"]}
        for filename in keep:
            if filename not in by_name:
                raise RuntimeError(f"{filename} is not on the simple page of {norm}")
            if by_name[filename]["hashes"].get("sha256") != files[filename]["sha256"]:
                raise RuntimeError(f"{filename}: simple page sha256 differs from pip's report")
        simple["files"] = [f for f in simple["files"] if f["filename"] in keep]
        if "versions" in simple:
            simple["versions"] = [v for v in simple["versions"] if v in projects[norm]]
        out = {}
        for f in simple["files"]:
            # A page that announces PEP 658 metadata makes pip fetch <url>.metadata: record it.
            declared = f.get("core-metadata", f.get("dist-info-metadata"))
            if not declared:
                continue
            try:
                body, _ = fetch(f["url"] + ".metadata")
            except NotFound:
                log(f"pypi: {f['filename']}.metadata is announced but absent; announcement dropped")
                f.pop("core-metadata", None)
                f.pop("dist-info-metadata", None)
                continue
            want = declared.get("sha256") if isinstance(declared, dict) else None
            if want and hashlib.sha256(body).hexdigest() != want:
                raise RuntimeError(f"{f['filename']}.metadata: sha256 mismatch")
            rel = f"pypi/files/{f['filename']}.metadata"
            write_atomic(os.path.join(data, rel), body)
            out[rel] = None
        simple_rel = f"pypi/simple/{norm}.json"
        write_atomic(os.path.join(data, simple_rel), json_bytes(simple))
        out[simple_rel] = None

        # The project document; its `releases` and `urls` keep only the recorded files.
        body, _ = fetch(f"{PYPI_JSON}{norm}/json", accept="application/json")
        doc = json.loads(body)
        latest = doc["info"]["version"]
        doc["releases"] = {v: [f for f in fl if f["filename"] in keep]
                           for v, fl in doc.get("releases", {}).items() if v in projects[norm]}
        doc["urls"] = [f for f in doc.get("urls", []) if f["filename"] in keep]
        project_rel = f"pypi/project/{norm}.json"
        write_atomic(os.path.join(data, project_rel), json_bytes(doc))
        out[project_rel] = None

        sources = {}
        for version in projects[norm]:
            rel = f"pypi/json/{norm}/{version}.json"
            try:
                body, _ = fetch(f"{PYPI_JSON}{norm}/{version}/json", accept="application/json")
                vdoc = json.loads(body)
                vdoc["urls"] = [f for f in vdoc.get("urls", []) if f["filename"] in keep]
                sources[version] = "version-api"
            except NotFound:
                # Some PyPI front ends answer only the project document; for the version it
                # describes, it holds exactly the per-version document's fields.
                if version != latest:
                    log(f"pypi: no per-version JSON for {norm} {version} (and it is not the latest); skipped")
                    sources[version] = None
                    continue
                vdoc = {k: v for k, v in doc.items() if k != "releases"}
                vdoc["urls"] = [f for f in doc["releases"].get(version, [])]
                sources[version] = "project-api"
            write_atomic(os.path.join(data, rel), json_bytes(vdoc))
            out[rel] = None
        return norm, list(out), sources, {"simple": simple_rel, "project": project_rel}

    meta = {}
    for norm, rels, sources, paths in pool.map(project, sorted(projects)):
        written.update(rels)
        meta[norm] = (sources, paths)

    def wheel(filename):
        f = files[filename]
        rel = f"pypi/files/{filename}"
        path = os.path.join(data, rel)
        if os.path.exists(path):
            with open(path, "rb") as fh:
                body = fh.read()
            if hashlib.sha256(body).hexdigest() == f["sha256"]:
                return filename, rel, len(body)
        body, _ = fetch(f["url"])
        if hashlib.sha256(body).hexdigest() != f["sha256"]:
            raise RuntimeError(f"{filename}: sha256 mismatch")
        write_atomic(path, body)
        return filename, rel, len(body)

    stored = {}
    for filename, rel, size in pool.map(wheel, sorted(files)):
        stored[filename] = (rel, size)
        written.add(rel)

    for root in roots:
        for f in root["files"]:
            norm = pep503(f["name"])
            sources, paths = meta[norm]
            del f["url"]
            f.update({"norm": norm, "file": stored[f["filename"]][0], "size": stored[f["filename"]][1],
                      "simple": paths["simple"], "project": paths["project"],
                      "json": f"pypi/json/{norm}/{f['version']}.json" if sources[f["version"]] else None,
                      "json_source": sources[f["version"]]})
    return roots


# ---------------------------------------------------------------------------------------------- main

def prune(data, written):
    """Removes what an earlier recording left that this one did not write."""
    for top in ("npm", "pypi"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(data, top), topdown=False):
            for fn in filenames:
                rel = os.path.relpath(os.path.join(dirpath, fn), data).replace(os.sep, "/")
                if rel not in written:
                    os.unlink(os.path.join(dirpath, fn))
            if not os.listdir(dirpath):
                os.rmdir(dirpath)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="directory to record into")
    ap.add_argument("--npm", action="append", default=[], metavar="NAME@VERSION")
    ap.add_argument("--npm-lock", action="append", default=[], metavar="LABEL=PATH",
                    help="also record every package of an existing lockfile")
    ap.add_argument("--pypi", action="append", default=[], metavar="NAME==VERSION")
    ap.add_argument("--force", action="store_true", help="record even when the stamp matches")
    args = ap.parse_args()

    data = os.path.abspath(args.data)
    roots = [tuple(s.rsplit("@", 1)) for s in args.npm]
    locks = [tuple(s.split("=", 1)) for s in args.npm_lock]
    if any(len(r) != 2 or not r[0] for r in roots) or any(len(lk) != 2 for lk in locks) \
            or any("==" not in p for p in args.pypi):
        ap.error("expected --npm NAME@VERSION, --npm-lock LABEL=PATH, --pypi NAME==VERSION")
    with open(__file__, "rb") as f:
        recorder = hashlib.sha256(f.read()).hexdigest()
    lock_digests = {}
    for label, path in locks:
        with open(path, "rb") as f:
            lock_digests[label] = hashlib.sha256(f.read()).hexdigest()
    spec = {"format": FORMAT, "npm": args.npm, "npm_locks": lock_digests, "pypi": args.pypi,
            "python": platform.python_version(), "machine": platform.machine(), "system": platform.system(),
            "recorder": recorder}
    stamp_path = os.path.join(data, ".stamp")
    index_path = os.path.join(data, "index.json")
    if not args.force and os.path.exists(stamp_path) and os.path.exists(index_path):
        with open(stamp_path, "rb") as f:
            same = f.read() == json_bytes(spec)
        if same:
            with open(index_path, "rb") as f:
                index = json.load(f)
            listed = [p["tarball"] for t in index["npm"]["trees"] for p in t["packages"]]
            listed += [f["file"] for r in index["pypi"]["roots"] for f in r["files"]]
            if all(os.path.exists(os.path.join(data, p)) for p in listed):
                log(f"up to date ({len(listed)} files in {data})")
                return 0
    if os.path.exists(stamp_path):
        os.unlink(stamp_path)

    start = time.monotonic()
    written = set()
    with ThreadPoolExecutor(WORKERS) as pool:
        npm_trees = record_npm(data, roots, locks, pool, written)
        pypi_roots = record_pypi(data, args.pypi, pool, written)
    npm_version = subprocess.run(["npm", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    index = {
        "format": FORMAT,
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "npm": {"registry": NPM_REGISTRY, "npm_version": npm_version, "trees": npm_trees},
        "pypi": {"index": PYPI_INDEX, "python": platform.python_version(), "roots": pypi_roots},
    }
    prune(data, written)
    write_atomic(index_path, json_bytes(index))
    write_atomic(stamp_path, json_bytes(spec))
    size = sum(os.path.getsize(os.path.join(data, p)) for p in written)
    log(f"recorded {len(written)} files, {size / 1e6:.1f} MB, in {time.monotonic() - start:.1f}s into {data}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, NotFound, subprocess.CalledProcessError) as e:
        log(f"error: {e}")
        sys.exit(1)
