#!/usr/bin/env python3
"""Builds a TUF repository with python-tuf (the reference implementation), for mcpsig's TUF client
tests. Usage: make_repo.py OUT CASE TARGET_FILE

Writes OUT/1.root.json (the client's trust anchor) and OUT/repo/ (what the loopback HTTP server
serves): 1.root.json and a rotated 2.root.json (new root keys, threshold 2, signed by the old and
the new keys), timestamp.json, N.snapshot.json, N.targets.json (consistent snapshots) and
targets/<sha256>.trusted_root.json + targets/<sha256>.signing_config.v0.2.json. Root keys are
ECDSA P-256 (as Sigstore's), timestamp and snapshot keys Ed25519, so both key types are used.

CASE is `accept` or the property a case breaks (see testdata/scenarios/tuf-*/README.md). For
`version-rollback`, OUT/repo-next/ holds the repository a second refresh sees.
Fresh keys every run; expiry is relative to the current time.
"""
import copy
import hashlib
import os
import shutil
import sys
from datetime import datetime, timedelta, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    MetaFile,
    Metadata,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

NOW = datetime.now(timezone.utc).replace(microsecond=0)
SER = JSONSerializer(compact=False)


def expiry(days):
    return NOW + timedelta(days=days)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def signed_bytes(signed, signers):
    md = Metadata(signed)
    for s in signers:
        md.sign(s, append=True)
    return md.to_bytes(SER)


def flip_signature(raw):
    """Corrupts the first signature's last byte, keeping it valid hex."""
    md = Metadata.from_bytes(raw)
    keyid, sig = next(iter(md.signatures.items()))
    last = sig.signature[-1]
    sig.signature = sig.signature[:-1] + ("0" if last != "0" else "1")
    return md.to_bytes(SER)


class Repo:
    def __init__(self, out, target_file, case):
        self.out = out
        self.case = case
        self.root_v1_signers = [CryptoSigner.generate_ecdsa() for _ in range(2)]
        self.root_v2_signers = [CryptoSigner.generate_ecdsa() for _ in range(3)]
        self.ts_signer = CryptoSigner.generate_ed25519()
        self.snap_signer = CryptoSigner.generate_ed25519()
        self.targets_signers = [CryptoSigner.generate_ecdsa() for _ in range(2)]
        with open(target_file, "rb") as f:
            self.trusted_root = f.read()
        self.signing_config = b'{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json"}\n'

    def root(self, version, root_signers, root_threshold):
        r = Root(version=version, expires=expiry(365), consistent_snapshot=True)
        for s in root_signers:
            r.add_key(s.public_key, "root")
        r.roles["root"].threshold = root_threshold
        r.add_key(self.ts_signer.public_key, "timestamp")
        r.add_key(self.snap_signer.public_key, "snapshot")
        for s in self.targets_signers:
            r.add_key(s.public_key, "targets")
        # Two targets keys, threshold 2: lets a case sign with one only.
        r.roles["targets"].threshold = 2
        if self.case == "expired-root" and version == 2:
            r.expires = NOW - timedelta(days=1)
        return r

    def build(self, dest, version=1):
        """Writes one complete repository into dest; `version` numbers timestamp/snapshot/targets."""
        case = self.case
        shutil.rmtree(dest, ignore_errors=True)
        # Roots.
        root1 = self.root(1, self.root_v1_signers, 1)
        raw1 = signed_bytes(root1, self.root_v1_signers)
        write(os.path.join(self.out, "1.root.json"), raw1)
        write(os.path.join(dest, "1.root.json"), raw1)
        root2 = self.root(2, self.root_v2_signers, 2)
        if case == "root-rotation-new-keys-only":
            signers2 = self.root_v2_signers
        else:
            signers2 = self.root_v1_signers + self.root_v2_signers
        write(os.path.join(dest, "2.root.json"), signed_bytes(root2, signers2))
        if case == "root-rotation-limit":
            # A valid third root: the client is run with a limit of one rotation step.
            root3 = self.root(3, self.root_v2_signers, 2)
            write(os.path.join(dest, "3.root.json"), signed_bytes(root3, self.root_v2_signers))

        # Targets files.
        trusted_root = self.trusted_root
        tr = TargetFile.from_data("trusted_root.json", trusted_root, ["sha256", "sha512"])
        sc = TargetFile.from_data("signing_config.v0.2.json", self.signing_config, ["sha256"])
        served_root = trusted_root
        if case == "target-hash-mismatch":
            # Same length, one byte changed after signing.
            served_root = trusted_root[:-2] + (b"X" if trusted_root[-2:-1] != b"X" else b"Y") + trusted_root[-1:]
        elif case == "target-length-mismatch":
            served_root = trusted_root + b"\n"
        write(os.path.join(dest, "targets", f"{tr.hashes['sha256']}.trusted_root.json"), served_root)
        write(os.path.join(dest, "targets", f"{sc.hashes['sha256']}.signing_config.v0.2.json"),
              self.signing_config)

        listed = {"trusted_root.json": tr, "signing_config.v0.2.json": sc}
        if case == "target-missing":
            del listed["trusted_root.json"]
        targets = Targets(version=version, expires=expiry(90), targets=listed)
        t_signers = self.targets_signers[:1] if case == "below-threshold" else self.targets_signers
        raw_targets = signed_bytes(targets, t_signers)
        write(os.path.join(dest, f"{version}.targets.json"), raw_targets)

        # Snapshot version as written inside the file; the timestamp names `version`.
        inner = version + 1 if case == "snapshot-version-mismatch" else version
        snapshot = Snapshot(version=inner, expires=expiry(30),
                            meta={"targets.json": MetaFile(version)})
        raw_snapshot = signed_bytes(snapshot, [self.snap_signer])
        listed_snapshot = raw_snapshot
        if case == "snapshot-hash-mismatch":
            # Validly signed, but not the snapshot the timestamp lists (re-signed with another
            # expiry after the timestamp took its hash).
            snapshot.expires = expiry(29)
            raw_snapshot = signed_bytes(snapshot, [self.snap_signer])
        write(os.path.join(dest, f"{version}.snapshot.json"), raw_snapshot)

        ts = Timestamp(version=version, expires=expiry(1),
                       snapshot_meta=MetaFile.from_data(version, listed_snapshot, ["sha256"]))
        ts.snapshot_meta.length = len(listed_snapshot)
        if case == "expired-timestamp":
            ts.expires = NOW - timedelta(hours=1)
        if case == "oversized-metadata":
            # Validly signed, but larger than any timestamp needs to be (16 KiB limit).
            ts.unrecognized_fields["x-padding"] = "A" * 20000
        raw_ts = signed_bytes(ts, [self.ts_signer])
        if case == "bad-signature":
            raw_ts = flip_signature(raw_ts)
        if case == "duplicate-json-key":
            # Parsers disagree on which duplicate wins; the signature covers the last one here.
            raw_ts = raw_ts.replace(b'"_type": "timestamp"', b'"_type": "root",\n  "_type": "timestamp"', 1)
            assert b'"_type": "root"' in raw_ts
        write(os.path.join(dest, "timestamp.json"), raw_ts)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    out, case, target_file = sys.argv[1:]
    os.makedirs(out, exist_ok=True)
    repo = Repo(out, target_file, case)
    if case == "version-rollback":
        # First refresh sees version 3; the second sees an older, validly signed version 2.
        repo.build(os.path.join(out, "repo"), version=3)
        repo.build(os.path.join(out, "repo-next"), version=2)
    else:
        repo.build(os.path.join(out, "repo"))
        if case == "accept":
            # A later state of the same repository: new versions, a changed trusted root.
            repo.trusted_root = repo.trusted_root + b"\n"
            repo.build(os.path.join(out, "repo-next"), version=2)


if __name__ == "__main__":
    main()
