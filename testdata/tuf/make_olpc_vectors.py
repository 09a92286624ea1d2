#!/usr/bin/env python3
"""Writes olpc-vectors.json: inputs and their canonical form as securesystemslib's
encode_canonical (the form TUF signatures cover) writes it. Run with .venv-tuf/bin/python."""
import json
import os

from securesystemslib.formats import encode_canonical

INPUTS = [
    {"b": 1, "a": 2, "B": 3, "_type": "root"},
    {"s": "quote \" backslash \\ slash / tab \t newline \n nul \u0000 del \u007f"},
    {"unicode": "é ü ∑ 😀 \u2028 \u2029", "ключ": "значение", "｡": "halfwidth", "é": "e-acute"},
    {"ints": [0, -1, 1, -9007199254740993, 9007199254740993, 18446744073709551615]},
    {"nested": {"z": [], "y": {}, "x": [{"b": None, "a": True}, False, ""]}},
    [],
    {},
    "top-level string",
    -42,
    {"keyval": {"public": "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"}},
]

here = os.path.dirname(os.path.abspath(__file__))
vectors = [{"input": v, "canonical": encode_canonical(v)} for v in INPUTS]
with open(os.path.join(here, "olpc-vectors.json"), "w", encoding="utf-8") as f:
    json.dump(vectors, f, ensure_ascii=True, indent=1)
    f.write("\n")
