"""Make the extension importable from the build tree without installing."""
import os
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "bindings", "python")
if BUILD not in sys.path:
    sys.path.insert(0, BUILD)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (skipped under valgrind)")


@pytest.fixture(scope="module")
def ceph():
    """The shared cluster of scripts/test.sh, or one of our own."""
    envfile = os.environ.get("PVS_TEST_CEPH_ENV")
    own = None
    if not envfile or not os.path.isfile(envfile):
        own = tempfile.mkdtemp(prefix="pvs-py-ceph-")
        os.rmdir(own)
        envfile = subprocess.run(["bash", f"{ROOT}/scripts/ceph-fixture.sh", "start", own],
                                 check=True, capture_output=True, text=True).stdout.strip()
    env = {}
    with open(envfile) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            env[k] = v.strip("'")
    yield env
    if own:
        subprocess.run(["bash", f"{ROOT}/scripts/ceph-fixture.sh", "stop", own], check=True)
