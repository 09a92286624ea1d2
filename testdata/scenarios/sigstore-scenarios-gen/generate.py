#!/usr/bin/env python3
"""Builds the testdata/scenarios/sigstore-<property>/ directories from the conformance vectors.

Each scenario is a real bundle with one targeted change, plus the inputs (artifact, trusted
root, identity/issuer or key.pub) and an `expected` file: `accept` or `reject <reason-code>`.
Run from anywhere: python3 generate.py. Deterministic; re-running rewrites the same files.
"""
import base64
import copy
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
SCEN = os.path.dirname(HERE)
CONF = os.path.join(SCEN, "..", "sigstore-conformance")
CASES = os.path.join(CONF, "bundle-verify")
PROD = os.path.join(SCEN, "..", "sigstore-trust", "production.trusted_root.json")


def load(case, name="bundle.sigstore.json"):
    with open(os.path.join(CASES, case, name)) as f:
        return json.load(f)


def flip_b64(s, index=-6):
    raw = bytearray(base64.b64decode(s))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def write(name, bundle, expected, artifact=None, root=None, key=None, identity=None, issuer=None,
          raw_bundle=None):
    d = os.path.join(SCEN, "sigstore-" + name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    with open(os.path.join(d, "bundle.sigstore.json"), "w") as f:
        if raw_bundle is not None:
            f.write(raw_bundle)
        else:
            json.dump(bundle, f, indent=1)
    shutil.copy(artifact or os.path.join(CONF, "a.txt"), os.path.join(d, "artifact"))
    if root is not None:
        with open(os.path.join(d, "trusted_root.json"), "w") as f:
            json.dump(root, f, indent=1)
    if key is not None:
        shutil.copy(key, os.path.join(d, "key.pub"))
    if identity is not None:
        with open(os.path.join(d, "identity"), "w") as f:
            f.write(identity)
    if issuer is not None:
        with open(os.path.join(d, "issuer"), "w") as f:
            f.write(issuer)
    with open(os.path.join(d, "expected"), "w") as f:
        f.write(expected + "\n")


def main():
    with open(PROD) as f:
        prod = json.load(f)
    v3 = load("happy-path-v0.3-new-mediaType")
    v2 = load("happy-path-v0.2")
    dsse = load("happy-path-intoto-in-dsse-v3")
    r2 = load("rekor2-happy-path")
    r2root = load("rekor2-happy-path", "trusted_root.json")
    mk = load("managed-key-happy-path")
    mk_key = os.path.join(CASES, "managed-key-happy-path", "key.pub")
    other_key = os.path.join(HERE, "other-p256.pub")  # a fresh, unrelated P-256 public key

    write("happy-path-accept", v3, "accept")
    write("rekor2-happy-path-accept", r2, "accept", root=r2root)

    b = copy.deepcopy(v3)
    p = b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    p["hashes"][0] = flip_b64(p["hashes"][0], 0)
    write("inclusion-proof-hash-flipped", b, "reject bad-inclusion-proof")

    b = copy.deepcopy(v3)
    p = b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    p["hashes"] = p["hashes"][:-1]
    write("inclusion-proof-truncated", b, "reject bad-inclusion-proof")

    b = copy.deepcopy(v3)
    b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"] = \
        v2["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]
    write("set-from-other-entry", b, "reject bad-set")

    b = copy.deepcopy(v3)
    b["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = str(
        int(b["verificationMaterial"]["tlogEntries"][0]["integratedTime"]) + 1)
    write("set-integrated-time-changed", b, "reject bad-set")

    b = copy.deepcopy(v3)
    b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"] = \
        v2["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
    write("checkpoint-from-other-tree", b, "reject bad-checkpoint")

    b = copy.deepcopy(v3)
    cp = b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
    head, sig = cp["envelope"].rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig.strip()))
    raw[0] ^= 0xFF
    cp["envelope"] = head + " " + base64.b64encode(bytes(raw)).decode() + "\n"
    write("checkpoint-wrong-key-hint", b, "reject bad-checkpoint")

    b = copy.deepcopy(r2)
    cp = b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
    body, sigs = cp["envelope"].split("\n\n", 1)
    cp["envelope"] = body + "\n\n" + "\u2014 witness.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    write("checkpoint-only-witness-signature", b, "reject bad-checkpoint", root=r2root)

    b = copy.deepcopy(r2)
    b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"] = \
        v3["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]
    write("rekor2-entry-with-set", b, "reject bad-set", root=r2root)

    b = copy.deepcopy(v3)
    b["verificationMaterial"]["tlogEntries"][0]["logId"]["keyId"] = base64.b64encode(b"\x01" * 32).decode()
    write("untrusted-log-id", b, "reject untrusted-log")

    root = copy.deepcopy(prod)
    for t in root["tlogs"]:
        if t["logId"]["keyId"] == v3["verificationMaterial"]["tlogEntries"][0]["logId"]["keyId"]:
            t["publicKey"]["validFor"]["end"] = "2021-01-13T00:00:00Z"
    write("log-key-expired-before-entry", v3, "reject untrusted-log", root=root)

    root = copy.deepcopy(prod)
    for ca in root["certificateAuthorities"]:
        ca["validFor"] = {"start": "2099-01-01T00:00:00Z"}
    write("certificate-authority-not-yet-valid", v3, "reject bad-certificate-chain", root=root)

    root = copy.deepcopy(prod)
    root["ctlogs"] = []
    write("sct-log-not-trusted", v3, "reject bad-sct", root=root)

    root = copy.deepcopy(r2root)
    root["timestampAuthorities"] = []
    write("timestamp-authority-not-trusted", r2, "reject bad-timestamp", root=root)

    b = copy.deepcopy(r2)
    ts = b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
    ts["signedTimestamp"] = flip_b64(ts["signedTimestamp"], -10)
    write("timestamp-signature-flipped", b, "reject bad-timestamp", root=r2root)

    b = copy.deepcopy(v3)
    b["messageSignature"]["signature"] = flip_b64(b["messageSignature"]["signature"], -3)
    write("message-signature-flipped", b, "reject bad-signature")

    b = copy.deepcopy(dsse)
    payload = bytearray(base64.b64decode(b["dsseEnvelope"]["payload"]))
    payload[-3] ^= 0x01
    b["dsseEnvelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    write("dsse-payload-tampered", b, "reject bad-signature")

    write("dsse-subject-mismatch", dsse, "reject artifact-mismatch",
          artifact=os.path.join(CASES, "wrong-material_fail", "bundle.sigstore.json"))

    write("identity-mismatch", v3, "reject identity-mismatch",
          identity="https://github.com/someone-else/repo/.github/workflows/x.yml@refs/heads/main")
    write("issuer-mismatch", v3, "reject identity-mismatch", issuer="https://accounts.google.com")

    b = copy.deepcopy(v3)
    b["verificationMaterial"]["tlogEntries"] = []
    write("no-transparency-log-entry", b, "reject missing-transparency")

    b = copy.deepcopy(v3)
    b["verificationMaterial"]["tlogEntries"][0]["kindVersion"] = {"kind": "dsse", "version": "0.0.1"}
    write("log-entry-kind-mismatch", b, "reject log-entry-mismatch")

    write("managed-key-bundle-under-identity-policy", mk, "reject untrusted-signer")
    write("certificate-bundle-under-key-policy", v3, "reject untrusted-signer", key=mk_key)
    write("managed-key-other-valid-key", mk, "reject bad-signature", key=other_key)

    b = copy.deepcopy(v3)
    b["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.9+json"
    write("unknown-media-type", b, "reject malformed-bundle")

    text = json.dumps(v3)
    dup = text.replace('"messageSignature": {', '"messageSignature": {"signature": "AAAA", ', 1)
    write("duplicate-json-key", None, "reject malformed-bundle", raw_bundle=dup)

    root = copy.deepcopy(prod)
    del root["certificateAuthorities"][0]["validFor"]["start"]
    write("trusted-root-ca-missing-start", v3, "reject malformed-trusted-root", root=root)


if __name__ == "__main__":
    main()
