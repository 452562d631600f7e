"""A node's own storages (lvm, lvmthin ...) from Python against upstream: each
case of core/tests/data/node_cases.json runs through the pvestorage module
with the node's tools answering as the case says (fake-node under a test
root), and every argv run, the result, the error and the warnings must be
what upstream's storage layer did with the same answers
(core/tests/data/node_cases.upstream.json, from upstream's own code)."""
import json
import os
import socket
import threading
import time
import warnings

import pytest

import pvestorage

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE = os.path.join(ROOT_DIR, "build", "core", "tests", "fake-node")
DATA = os.path.join(ROOT_DIR, "core", "tests", "data")
TOOLS = ["vgs", "lvs", "lvchange", "vgscan", "vgchange", "udevadm", "zpool", "zfs", "iscsiadm", "blockdev",
         "iscsi-ls"]
PORTAL = ("127.0.0.1", 13260)

with open(os.path.join(DATA, "node_cases.json"), encoding="utf-8") as f:
    SPEC = json.load(f)
with open(os.path.join(DATA, "node_cases.upstream.json"), encoding="utf-8") as f:
    GOLD = json.load(f)["cases"]


def make_root(tmp_path, case):
    (tmp_path / "sbin").mkdir()
    for t in TOOLS:
        os.symlink(FAKE, tmp_path / "sbin" / t)
    (tmp_path / "responses.json").write_text(json.dumps({"responses": case["responses"]}))
    for dev in case.get("devices", []):
        if os.geteuid() != 0:
            pytest.skip(f"SKIP: {case['name']}: needs root (mknod of its block devices)")
        node = tmp_path / dev.lstrip("/")
        node.parent.mkdir(parents=True, exist_ok=True)
        os.mknod(node, 0o600 | 0o060000, os.makedev(7, 200))
    case_files(tmp_path, case)
    return tmp_path


def case_files(root, case):
    """iscsiadm, iscsi-ls (unless absent), the case's dirs, files, links and aged files"""
    for b in ("/usr/bin/iscsiadm", "/usr/bin/iscsi-ls"):
        (root / "usr" / "bin").mkdir(parents=True, exist_ok=True)
        if b not in case.get("absent", []):
            os.symlink(FAKE, root / b.lstrip("/"))
    for d in case.get("dirs", []):
        (root / d.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for path, text in case.get("files", {}).items():
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / path.lstrip("/")).write_text(text)
    for path, dest in case.get("links", {}).items():
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(dest, root / path.lstrip("/"))
    for path in case.get("aged", []):
        then = time.time() - 3600
        os.utime(root / path.lstrip("/"), (then, then))


@pytest.fixture(scope="module", autouse=True)
def portal():
    """the answering iSCSI portal the golden file's run had (another test's
    listener on the port serves as well); the client closes first, so no
    TIME_WAIT holds the port afterwards"""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        s.bind(PORTAL)
        s.listen(64)
    except OSError:
        s.close()
        yield
        return

    def serve():
        while True:
            try:
                c = s.accept()[0]
            except OSError:
                return
            while c.recv(64):
                pass
            c.close()

    threading.Thread(target=serve, daemon=True).start()
    yield
    s.shutdown(socket.SHUT_RDWR)
    s.close()


def status_of(cfg, sid):
    one = {"ids": {sid: cfg["ids"][sid]}, "order": {sid: 1}}
    s = next(s for s in pvestorage.storage_status(one) if s["storage"] == sid)
    r = {"active": 1 if s["active"] else 0}
    r.update({k: s[k] for k in ("total", "used", "avail") if k in s})
    return r


def run_call(cfg, c):
    op, snap = c["op"], c.get("snapname")
    if op == "activate":
        return pvestorage.activate_volumes(cfg, c["volids"], snap)
    if op == "deactivate":
        return pvestorage.deactivate_volumes(cfg, c["volids"], snap)
    if op == "activate_storage":
        return pvestorage.activate_storage(cfg, c["storeid"])
    if op == "deactivate_storage":
        return pvestorage.deactivate_storage(cfg, c["storeid"])
    if op == "path":
        return pvestorage.path(cfg, c["volid"], snap)
    if op == "status":
        return status_of(cfg, c["storeid"])
    if op == "list":
        return pvestorage.list_volumes(cfg, c["storeid"], c.get("vmid"))
    raise AssertionError(f"unknown op {op}")


@pytest.mark.skipif(not os.access(FAKE, os.X_OK), reason=f"SKIP: {FAKE} is not built (run scripts/build.sh)")
@pytest.mark.parametrize("i", range(len(SPEC["cases"])), ids=[c["name"] for c in SPEC["cases"]])
def test_case_agrees_with_upstream(i, tmp_path, monkeypatch):
    case, gold = SPEC["cases"][i], GOLD[i]
    assert case["name"] == gold["name"]
    root = make_root(tmp_path, case)
    monkeypatch.setenv("FAKE_NODE_CASE", str(root / "responses.json"))
    monkeypatch.setenv("FAKE_NODE_LOG", str(root / "log"))
    pvestorage.configure(root=str(root))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cfg = pvestorage.parse_config(SPEC["storage_cfg"])
            error = None
            try:
                result = run_call(cfg, case["call"])
            except pvestorage.Error as e:
                result, error = None, str(e) + "\n"
    finally:
        pvestorage.configure(root="/")
    log = root / "log"
    commands = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    lines = [line for w in caught for line in str(w.message).split("\n")]
    assert commands == gold["commands"]
    assert result == gold["result"]
    assert error == gold["error"]
    assert lines == gold["warnings"]
