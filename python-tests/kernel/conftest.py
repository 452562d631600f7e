"""The real-kernel suite: runs only inside the test guest (scripts/test-guest.sh),
where Linux's own rbd driver, udev and the real rbd command map images of the
test cluster.  Anywhere else every test skips, saying why."""
import os
import shutil
import subprocess

import pytest

from krbd_helpers import rbd

MARKER = "/run/pvestorage-test-guest"


def why_not():
    if not os.path.exists(MARKER):
        return f"SKIP: not in the test guest ({MARKER} is absent; scripts/test-kernel.sh runs this suite there)"
    if not os.path.isdir("/sys/bus/rbd"):
        return "SKIP: this kernel has no rbd driver (/sys/bus/rbd is absent)"
    if not os.environ.get("PVS_TEST_CEPH_ENV"):
        return "SKIP: PVS_TEST_CEPH_ENV names no test cluster"
    return None


def pytest_collection_modifyitems(config, items):
    reason = why_not()
    if reason:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def ceph():
    env = {}
    with open(os.environ["PVS_TEST_CEPH_ENV"]) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            env[k] = v.strip("'")
    return env


@pytest.fixture(scope="session")
def node(ceph):
    """The guest's own /etc/pve (the guest's writes stay in its overlay)."""
    os.makedirs("/etc/pve/priv/ceph", exist_ok=True)
    shutil.copy(ceph["CEPH_TEST_CONF"], "/etc/pve/ceph.conf")
    for s in ("ceph", "nsstore"):
        shutil.copy(ceph["CEPH_TEST_KEYRING"], f"/etc/pve/priv/ceph/{s}.keyring")
    with open("/etc/pve/storage.cfg", "w") as f:
        f.write("rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n\n"
                "rbd: nsstore\n\tpool rbd\n\tnamespace ns1\n\tkrbd 1\n\tcontent images\n")
    rbd(ceph, "namespace", "create", "rbd/ns1", check=False)
    return {"fsid": ceph["CEPH_TEST_FSID"], "conf": ceph["CEPH_TEST_CONF"]}


