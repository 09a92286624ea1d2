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


# --- Minimal DER editing, for trusted-root certificates whose extensions are changed. The edited
# certificate's own signature no longer matches; it is used as a one-certificate chain, whose
# signature nothing checks (the trusted root itself is the trust anchor), so only the edited
# extension can make a difference. A `leaf-only` control without any edit is accepted.

def der_tlv(buf, i):
    """(tag, start of content, end of content) of the element at buf[i]."""
    tag, first = buf[i], buf[i + 1]
    if first < 0x80:
        return tag, i + 2, i + 2 + first
    n = first & 0x7F
    length = int.from_bytes(buf[i + 2:i + 2 + n], "big")
    return tag, i + 2 + n, i + 2 + n + length


def der_children(buf):
    """The raw encodings of the elements of a constructed value's content `buf`."""
    out, i = [], 0
    while i < len(buf):
        _, _, end = der_tlv(buf, i)
        out.append(buf[i:end])
        i = end
    return out


def der(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([tag, n])
    else:
        size = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([tag, 0x80 | len(size)]) + size
    return head + content


def content(elem):
    _, start, end = der_tlv(elem, 0)
    return elem[start:end]


EKU_OID = bytes.fromhex("0603551d25")  # 2.5.29.37
TIME_STAMPING = bytes.fromhex("06082b06010505070308")
CODE_SIGNING = bytes.fromhex("06082b06010505070303")
CRITICAL = bytes.fromhex("0101ff")


def edit_extensions(cert_der, edit):
    """Returns cert_der with its extension list replaced by edit(list of raw extensions)."""
    cert = der_children(content(cert_der))
    tbs = der_children(content(cert[0]))
    idx = next(i for i, e in enumerate(tbs) if e[0] == 0xA3)
    exts = der_children(content(content(tbs[idx])))
    tbs[idx] = der(0xA3, der(0x30, b"".join(edit(exts))))
    cert[0] = der(0x30, b"".join(tbs))
    return der(0x30, b"".join(cert))


def replace_eku(new_ext):
    def edit(exts):
        out = [e for e in exts if not content(e).startswith(EKU_OID)]
        assert len(out) == len(exts) - 1, "no extendedKeyUsage to replace"
        return out + ([new_ext] if new_ext is not None else [])
    return edit


def tsa_leaf_only_root(root, edit=None):
    """A copy of `root` whose (single) timestamp authority chain is just its leaf, edited."""
    root = copy.deepcopy(root)
    [tsa] = root["timestampAuthorities"]
    certs = tsa["certChain"]["certificates"]
    leaf = base64.b64decode(certs[0]["rawBytes"])
    if edit is not None:
        leaf = edit_extensions(leaf, edit)
    tsa["certChain"]["certificates"] = [{"rawBytes": base64.b64encode(leaf).decode()}]
    return root


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

    # rekor2-happy-path carries a whole TimeStampResp (status granted), not the bare token. It
    # counts only when its PKIStatus grants a token (0 granted, 1 grantedWithMods) and it holds
    # one, whatever the token inside would say on its own (RFC 3161 section 2.4.2).
    def timestamp_response(status, with_token=True):
        b = copy.deepcopy(r2)
        for t in b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]:
            resp = base64.b64decode(t["signedTimestamp"])
            _, start, end = der_tlv(resp, 0)
            [_, token] = der_children(resp[start:end])
            status_info = der(0x30, der(0x02, bytes([status])))
            resp = der(0x30, status_info + (token if with_token else b""))
            t["signedTimestamp"] = base64.b64encode(resp).decode()
        return b
    # The TSTInfo is decoded field by field: a serialNumber that is not an INTEGER is refused
    # (the tag byte is changed in place, lengths unchanged; the TSA signature over it breaks
    # too, but the decode comes first).
    def child_offsets(buf, i):
        _, start, end = der_tlv(buf, i)
        out, j = [], start
        while j < end:
            out.append(j)
            j = der_tlv(buf, j)[2]
        return out
    b = copy.deepcopy(r2)
    ts = b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
    resp = bytearray(base64.b64decode(ts["signedTimestamp"]))
    token = child_offsets(resp, 0)[1]                      # TimeStampResp.timeStampToken
    signed_data = child_offsets(resp, child_offsets(resp, token)[1])[0]  # [0] -> SignedData
    encap = child_offsets(resp, signed_data)[2]            # encapContentInfo
    octets = child_offsets(resp, child_offsets(resp, encap)[1])[0]       # [0] -> OCTET STRING
    _, tst_start, _ = der_tlv(resp, octets)
    serial = child_offsets(resp, tst_start)[3]             # TSTInfo.serialNumber
    assert resp[serial] == 0x02
    resp[serial] = 0x04
    ts["signedTimestamp"] = base64.b64encode(bytes(resp)).decode()
    write("timestamp-tstinfo-serial-not-an-integer", b, "reject bad-timestamp", root=r2root)

    write("timestamp-response-granted-with-mods-accept", timestamp_response(1), "accept",
          root=r2root)
    write("timestamp-response-not-granted", timestamp_response(2), "reject bad-timestamp",
          root=r2root)
    write("timestamp-response-without-token", timestamp_response(0, with_token=False),
          "reject bad-timestamp", root=r2root)

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

    # A TSA certificate that RFC 3161 does not allow to timestamp (rekor2-happy-path's TSA).
    write("tsa-leaf-only-chain-accept", r2, "accept", root=tsa_leaf_only_root(r2root))
    write("tsa-cert-without-eku", r2, "reject bad-timestamp",
          root=tsa_leaf_only_root(r2root, replace_eku(None)))
    write("tsa-cert-eku-not-critical", r2, "reject bad-timestamp",
          root=tsa_leaf_only_root(r2root, replace_eku(
              der(0x30, EKU_OID + der(0x04, der(0x30, TIME_STAMPING))))))
    write("tsa-cert-eku-undecodable", r2, "reject bad-timestamp",
          root=tsa_leaf_only_root(r2root, replace_eku(
              der(0x30, EKU_OID + CRITICAL + der(0x04, bytes.fromhex("3003020100"))))))
    write("tsa-cert-eku-not-only-timestamping", r2, "reject bad-timestamp",
          root=tsa_leaf_only_root(r2root, replace_eku(
              der(0x30, EKU_OID + CRITICAL + der(0x04, der(0x30, TIME_STAMPING + CODE_SIGNING))))))

    # Log key validity is judged at signed times only. managed-key-happy-path's entry (Rekor v1,
    # SET, inclusion proof with checkpoint) and RFC 3161 timestamp, with the SET removed.
    mk_entry = mk["verificationMaterial"]["tlogEntries"][0]
    b = copy.deepcopy(mk)
    del b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]
    write("set-less-entry-with-timestamp-accept", b, "accept", key=mk_key)

    # The log key's validity ends in 2022; the entry's integratedTime (unsigned without its SET)
    # is moved back into that window. Only the unsigned number says the key was valid.
    root = copy.deepcopy(prod)
    for t in root["tlogs"]:
        if t["logId"]["keyId"] == mk_entry["logId"]["keyId"]:
            t["publicKey"]["validFor"]["end"] = "2022-01-01T00:00:00Z"
    b = copy.deepcopy(mk)
    e = b["verificationMaterial"]["tlogEntries"][0]
    del e["inclusionPromise"]
    e["integratedTime"] = "1640000000"
    b["verificationMaterial"].pop("timestampVerificationData")
    write("integrated-time-unsigned", b, "reject no-signed-time", root=root, key=mk_key)

    # The same, with the RFC 3161 timestamp kept: the key is judged at its time (2025), when it
    # was no longer valid, whatever integratedTime says.
    b = copy.deepcopy(mk)
    e = b["verificationMaterial"]["tlogEntries"][0]
    del e["inclusionPromise"]
    e["integratedTime"] = "1640000000"
    write("set-less-entry-log-key-judged-at-timestamp", b, "reject untrusted-log", root=root,
          key=mk_key)

    # Rekor v2 has no integrated time at all: without an RFC 3161 timestamp, no signed time.
    b = copy.deepcopy(r2)
    b["verificationMaterial"].pop("timestampVerificationData")
    write("rekor2-without-timestamp", b, "reject no-signed-time", root=r2root)

    # A 3 GiB trusted root (made sparse by the test): refused from its size, never loaded.
    write("trusted-root-oversized", v3, "reject malformed-trusted-root")
    with open(os.path.join(SCEN, "sigstore-trusted-root-oversized", "trusted_root.sparse-bytes"),
              "w") as f:
        f.write(str(3 << 30) + "\n")


if __name__ == "__main__":
    main()
