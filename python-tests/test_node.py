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
import warnings

import pytest

import pvestorage
from node_root import FAKE, make_root

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT_DIR, "core", "tests", "data")
PORTAL = ("127.0.0.1", 13260)

with open(os.path.join(DATA, "node_cases.json"), encoding="utf-8") as f:
    SPEC = json.load(f)
with open(os.path.join(DATA, "node_cases.upstream.json"), encoding="utf-8") as f:
    GOLD = json.load(f)["cases"]


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
    # an inactive storage's sizes mean nothing (as upstream's storage_info takes them)
    r.update({k: s[k] for k in ("total", "used", "avail") if k in s and s["active"]})
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
    # split as a whole, as upstream's are: a warning may end in an empty line
    lines = "".join(str(w.message) + "\n" for w in caught).split("\n")
    while lines and not lines[-1]:
        lines.pop()
    assert commands == gold["commands"]
    assert result == gold["result"]
    assert error == gold["error"]
    assert lines == gold["warnings"]


def run_rooted(tmp_path, monkeypatch, case, fn):
    """fn(cfg) under a test root made for case; its result and the argv run"""
    root = make_root(tmp_path, case)
    monkeypatch.setenv("FAKE_NODE_CASE", str(root / "responses.json"))
    monkeypatch.setenv("FAKE_NODE_LOG", str(root / "log"))
    pvestorage.configure(root=str(root))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(pvestorage.parse_config(SPEC["storage_cfg"]))
    finally:
        pvestorage.configure(root="/")
    log = root / "log"
    return result, [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.skipif(not os.access(FAKE, os.X_OK), reason=f"SKIP: {FAKE} is not built (run scripts/build.sh)")
def test_iscsidirect_sizes_are_whole_bytes(tmp_path, monkeypatch):
    """on purpose unlike upstream: a LUN of 10.3M is 10800332 bytes, not
    upstream's product 10800332.8"""
    case = {"responses": [{"cmd": "iscsi-ls", "out": "Lun:0    Type:DIRECT_ACCESS (Size:10.3M)\n"}]}
    listed, _ = run_rooted(tmp_path, monkeypatch, case, lambda cfg: pvestorage.list_volumes(cfg, "direct"))
    assert [(v["volid"], v["size"]) for v in listed] == [("direct:lun0", 10800332)]
    assert isinstance(listed[0]["size"], int)


@pytest.mark.skipif(not os.access(FAKE, os.X_OK), reason=f"SKIP: {FAKE} is not built (run scripts/build.sh)")
def test_iscsi_dry_run_lists_the_login_without_running_it(tmp_path, monkeypatch):
    """a dry run asks iscsiadm and udevadm (they only read) and lists the
    discovery, the retry setting and the login it would run"""
    target = "iqn.2003-01.org.example:up"
    case = {
        "responses": [{"cmd": "udevadm", "out": "/devices/platform/host3/session1/target3:0:0/3:0:0:1/block/sdb\n"},
                      {"cmd": "iscsiadm", "has": ["--mode", "session"], "err": "iscsiadm: No active sessions.\n",
                       "exit": 21},
                      {"cmd": "iscsiadm", "has": ["--mode", "node"], "out": f"127.0.0.1:13260,1 {target}\n"}],
        "files": {"/sys/class/iscsi_session/session1/targetname": target + "\n"},
        "links": {"/dev/disk/by-id/scsi-3600140511": "../../sdb"},
        "devices": ["/dev/sdb"],
    }
    report, ran = run_rooted(tmp_path, monkeypatch, case, lambda cfg: pvestorage.activate_volumes_report(
        cfg, ["san-up:0.0.1.scsi-3600140511"], dry_run=True))
    assert [r["volid"] for r in report] == ["san-up:0.0.1.scsi-3600140511"]
    listed = [c[1:] for c in report[0]["commands"]]
    assert ["--mode", "node", "--targetname", target, "--login"] in listed
    assert ["--mode", "discovery", "--type", "sendtargets", "--portal", "127.0.0.1:13260"] in listed
    assert not [c for c in ran if "--login" in c or "discovery" in c or "update" in c]
    assert ["udevadm", "info", "--query=path", "/dev/sdb"] in ran


SESSION_UP = {
    "responses": [{"cmd": "iscsiadm", "has": ["--mode", "session"],
                   "out": "tcp: [1] 10.0.0.1:3260,1 iqn.2003-01.org.example:san1 (non-flash)\n"},
                  {"cmd": "iscsiadm", "has": ["--mode", "node"], "out": "10.0.0.1:3260,1 iqn.2003-01.org.example:san1\n"}],
    "files": {"/sys/class/iscsi_session/session1/state": "LOGGED_IN\n"},
    "dirs": ["/var/run"],
}


@pytest.mark.skipif(not os.access(FAKE, os.X_OK), reason=f"SKIP: {FAKE} is not built (run scripts/build.sh)")
def test_iscsi_rescan_at_most_every_ten_seconds(tmp_path, monkeypatch):
    """the first activation rescans the session and leaves the stamp; the
    next one right after does not rescan"""
    def twice(cfg):
        pvestorage.activate_storage(cfg, "san1")
        pvestorage.activate_storage(cfg, "san1")
    _, ran = run_rooted(tmp_path, monkeypatch, SESSION_UP, twice)
    assert [c for c in ran if "--rescan" in c] == [["/usr/bin/iscsiadm", "--mode", "session", "--sid", "1", "--rescan"]]
    assert (tmp_path / "var" / "run" / "pve-iscsi-rescan.lock").exists()


@pytest.mark.skipif(not os.access(FAKE, os.X_OK), reason=f"SKIP: {FAKE} is not built (run scripts/build.sh)")
def test_iscsi_status_says_why_it_is_not_active(tmp_path, monkeypatch):
    """on purpose beside upstream (which only says active 0): the reason"""
    case = {"responses": [{"cmd": "iscsiadm", "err": "iscsiadm: No active sessions.\n", "exit": 21}]}
    status, _ = run_rooted(tmp_path, monkeypatch, case, pvestorage.storage_status)
    s = {e["storage"]: e for e in status}
    assert s["san1"]["active"] is False
    assert s["san1"]["reason"] == "no iSCSI session to target 'iqn.2003-01.org.example:san1'"
    assert s["direct"]["active"] is True
