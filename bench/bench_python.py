#!/usr/bin/python3
"""verify_hints calls/s through the extension against jsonschema validating
the exported schema with a precompiled validator.
Run: bash scripts/build.sh && PYTHONPATH=build/bindings/python /usr/bin/python3 bench/bench_python.py"""
import sys
import timeit

import importlib.metadata

import jsonschema

import pvestorage

VALID = {"guest-is-windows": True, "plugin-may-deactivate-volume": True}
INVALID = {"guest-is-windows": "yes", "no-such-hint": 1}

validator = jsonschema.Draft202012Validator(pvestorage.hints_json_schema())


def ext_invalid():
    try:
        pvestorage.verify_hints(INVALID)
    except pvestorage.HintError:
        pass


def rate(stmt, n):
    best = min(timeit.repeat(stmt, number=n, repeat=5))
    return n / best


n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
rows = [
    ("valid 2 keys", rate(lambda: pvestorage.verify_hints(VALID), n),
     rate(lambda: validator.is_valid(VALID), n // 20)),
    ("invalid (raise/catch vs is_valid)", rate(ext_invalid, n // 2),
     rate(lambda: validator.is_valid(INVALID), n // 20)),
]
print(f"jsonschema {importlib.metadata.version('jsonschema')}, Python {sys.version.split()[0]}")
for name, ext, js in rows:
    print(f"verify_hints {name:36s} extension {ext:12,.0f}/s   jsonschema {js:10,.0f}/s   x{ext / js:.0f}")
# the conversion layer's cost: a valid 2-key verify_hints as a multiple of
# the binding's cheapest call, both through the same lambda, in one run
hs = rate(lambda: pvestorage.is_hint_supported("guest-is-windows"), n)
vh = rate(lambda: pvestorage.verify_hints(VALID), n)
print(f"is_hint_supported: {hs:,.0f}/s ({1e9 / hs:.0f} ns); verify_hints valid: {vh:,.0f}/s "
      f"({1e9 / vh:.0f} ns); ratio {hs / vh:.2f} (target <= 3.5)")

# activate_volumes of one volume: the cost must not depend on the size of
# the configuration (only the storages the volumes name are converted)
import os
import socket
import tempfile

d = tempfile.mkdtemp()
os.makedirs(f"{d}/images/100")
open(f"{d}/images/100/vm-100-disk-0.raw", "w").close()
node = socket.gethostname().split(".")[0]


def mkcfg(n):
    ids = {f"s{i}": {"type": "dir", "path": d if i == 1 else f"/nonexistent/{i}",
                     "content": {"images": 1, "iso": 1, "vztmpl": 1}, "shared": 0,
                     "nodes": {node: 1, **{f"node{k}": 1 for k in range(4)}}} for i in range(1, n + 1)}
    return {"ids": ids, "order": {k: i for i, k in enumerate(ids, 1)}}


one, many = mkcfg(1), mkcfg(1000)
r1 = rate(lambda: pvestorage.activate_volumes(one, ["s1:100/vm-100-disk-0.raw"]), 2000)
r1000 = rate(lambda: pvestorage.activate_volumes(many, ["s1:100/vm-100-disk-0.raw"]), 2000)
print(f"activate_volumes, 1 volume: {r1:,.0f}/s with 1 storage, {r1000:,.0f}/s with 1000; "
      f"cost ratio {r1 / r1000:.2f}")
