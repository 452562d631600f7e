"""One side of bench/bench_ab.sh: calls/s of verify_hints and
activate_volumes through the pvestorage found on sys.path (PYTHONPATH of
one build), printed as "NAME RATE" lines."""
import os
import socket
import sys
import tempfile
import time

import pvestorage


def rate(fn, n):
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = max(best, n / (time.perf_counter() - t0))
    return best


n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
VALID = {"guest-is-windows": 1, "plugin-may-deactivate-volume": 1}
INVALID = {"guest-is-windows": "yes", "no-such-hint": 1}
d = tempfile.mkdtemp()
os.makedirs(f"{d}/images/100")
open(f"{d}/images/100/vm-100-disk-0.raw", "w").close()
node = socket.gethostname().split(".")[0]
cfg = {"ids": {"s1": {"type": "dir", "path": d, "content": {"images": 1}, "shared": 0, "nodes": {node: 1}}}}
vol = ["s1:100/vm-100-disk-0.raw"]

print(f"python_verify_hints_valid {rate(lambda: pvestorage.verify_hints(VALID), n):.0f}")
print(f"python_verify_hints_invalid {rate(lambda: pvestorage.verify_hints(INVALID, True), n):.0f}")
print(f"python_activate_volumes {rate(lambda: pvestorage.activate_volumes(cfg, vol), n // 100):.0f}")
print(f"python_activate_volumes_hints {rate(lambda: pvestorage.activate_volumes(cfg, vol, hints=VALID), n // 100):.0f}")
