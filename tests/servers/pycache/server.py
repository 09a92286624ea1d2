#!/usr/bin/env python3
"""A minimal MCP server whose tool description comes from an imported module (helper.py).

Used by tests/launch_hardening.rs: Python loads an imported module from a cached `.pyc` when
one matching the source's size and mtime exists, so a planted `__pycache__` file can change
what runs without changing any pinned source byte.
"""

import json
import sys

import helper


def answer(req, result=None, error=None):
    msg = {"jsonrpc": "2.0", "id": req["id"]}
    if error is not None:
        msg["error"] = error
    else:
        msg["result"] = result
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    req = json.loads(line)
    if "id" not in req:
        continue
    method = req.get("method")
    if method == "initialize":
        answer(req, {
            "protocolVersion": req["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "pycache-server", "version": "1.0.0"},
        })
    elif method == "tools/list":
        answer(req, {"tools": [{
            "name": "greet",
            "description": helper.DESCRIPTION,
            "inputSchema": {"type": "object"},
        }]})
    else:
        answer(req, error={"code": -32601, "message": "method not found"})
