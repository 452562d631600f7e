"""Helpers of the real-kernel suite: the real rbd command and pvestorage."""
import os
import subprocess

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT_DIR, "build", "pvestorage")


def rbd(ceph, *args, check=True):
    return subprocess.run(["rbd", "-c", ceph["CEPH_TEST_CONF"], "--keyring", ceph["CEPH_TEST_KEYRING"], *args],
                          check=check, capture_output=True, text=True)


def cli(*args, check=None, env=None):
    r = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **(env or {})))
    if check is not None:
        assert r.returncode == check, (args, r.returncode, r.stdout, r.stderr)
    return r
