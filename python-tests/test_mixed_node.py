"""A default node's storages side by side through the command and the
module: local-lvm (lvmthin), local-zfs (zfspool), an lvm volume group on an
iSCSI LUN (a SAN setup, `base`) and a kernel RBD pool of the test cluster.
A Windows guest with one disk on each starts as a dry run: every volume is
planned with the commands the real start would run, and only reading
commands run (the node's tools are fake-node under a test root, the
cluster is real); `status` and `list` answer for every storage."""
import json
import os
import shutil
import subprocess

import pytest

import pvestorage
from node_root import FAKE as FAKE_NODE, make_root

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT_DIR, "build", "pvestorage")
FAKE_RBD = os.path.join(ROOT_DIR, "build", "core", "tests", "fake-rbd")
TARGET = "iqn.2003-01.org.example:san1"
LUN = "0.0.1.scsi-36001405aaaaaaaaaaaaaaaaaaaaaaaa"

pytestmark = [
    pytest.mark.skipif(not all(os.access(p, os.X_OK) for p in (CLI, FAKE_NODE, FAKE_RBD)),
                       reason="SKIP: the command, fake-node or fake-rbd is not built (run scripts/build.sh)"),
    pytest.mark.skipif(not os.environ.get("PVS_TEST_CEPH_ENV") and not shutil.which("ceph-mon"),
                       reason="SKIP: ceph-mon/ceph-osd are not installed (run scripts/install-deps.sh)"),
]

STORAGE_CFG = f"""dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup

lvmthin: local-lvm
\tthinpool data
\tvgname pve
\tcontent rootdir,images

zfspool: local-zfs
\tpool rpool/data
\tsparse 1
\tcontent images,rootdir

iscsi: san
\tportal 10.0.0.1
\ttarget {TARGET}
\tcontent none

lvm: san-lvm
\tvgname san
\tbase san:{LUN}
\tcontent images
\tshared 1

rbd: ceph
\tpool rbd
\tkrbd 1
\tcontent images
"""

RESPONSES = [
    {"cmd": "vgs", "out": "  pve:107374182400:1073741824:6\n  san:53687091200:21474836480:4\n"},
    {"cmd": "lvs", "out": "  pve:data:64424509440:twi-aotz--::12.50:1.20::p1::1073741824:1700000000\n"
                          "  pve:vm-100-disk-0:34359738368:Vwi---tz--:data:20.00:::t1:::1700000000\n"
                          "  san:vm-100-disk-2:4294967296:-wi-------::::u2:::1700000000\n"},
    {"cmd": "zpool", "has": ["list"], "out": "rpool\n"},
    {"cmd": "zfs", "has": ["available,used"], "out": "107374182400\n32212254720\n"},
    {"cmd": "zfs", "has": ["list"], "out": "rpool/data\t-\t-\tfilesystem\tnone\n"
                                           "rpool/data/vm-100-disk-1\t8589934592\t-\tvolume\t-\n"},
    {"cmd": "iscsiadm", "has": ["--mode", "session"], "out": f"tcp: [1] 10.0.0.1:3260,1 {TARGET} (non-flash)\n"},
    {"cmd": "iscsiadm", "has": ["--mode", "node"], "out": f"10.0.0.1:3260,1 {TARGET}\n"},
]


@pytest.fixture(scope="module")
def node(ceph, tmp_path_factory):
    root = make_root(tmp_path_factory.mktemp("mixed"), {
        "responses": RESPONSES, "dirs": ["/etc/pve/priv/ceph", "/etc/pve/qemu-server", "/var/run"],
        "files": {"/sys/class/iscsi_session/session1/state": "LOGGED_IN\n",
                  "/sys/class/iscsi_session/session1/targetname": TARGET + "\n"}})
    shutil.copy(ceph["CEPH_TEST_CONF"], root / "etc/pve/ceph.conf")
    shutil.copy(ceph["CEPH_TEST_KEYRING"], root / "etc/pve/priv/ceph/ceph.keyring")
    (root / "etc/pve/storage.cfg").write_text(STORAGE_CFG)
    image = f"vm-{700 + os.getpid() % 100}-disk-3"
    (root / "etc/pve/qemu-server/100.conf").write_text(
        "ostype: win11\nscsi0: local-lvm:vm-100-disk-0,size=32G\nscsi1: local-zfs:vm-100-disk-1,size=8G\n"
        f"scsi2: san-lvm:vm-100-disk-2,size=4G\nscsi3: ceph:{image},size=8M\n")
    rbd = ["rbd", "-c", f"{root}/etc/pve/ceph.conf", "--keyring", f"{root}/etc/pve/priv/ceph/ceph.keyring"]
    subprocess.run(rbd + ["create", "--size", "8M", "--image-feature", "layering", f"rbd/{image}"], check=True)
    env = {"FAKE_NODE_CASE": str(root / "responses.json"), "FAKE_NODE_LOG": str(root / "node.log"),
           "FAKE_RBD_ROOT": str(root), "FAKE_RBD_FSID": ceph["CEPH_TEST_FSID"], "FAKE_RBD_LOG": str(root / "rbd.log")}
    yield {"root": root, "image": image, "env": env, "fsid": ceph["CEPH_TEST_FSID"]}
    subprocess.run(rbd + ["rm", "--no-progress", f"rbd/{image}"], check=False, capture_output=True)


def cli(n, *args):
    for log in ("node.log", "rbd.log"):
        (n["root"] / log).unlink(missing_ok=True)
    r = subprocess.run([CLI, "--root", str(n["root"]), "--rbd-command", FAKE_RBD, "--kernel-version", "6.1",
                        "--ceph-timeout", "20", "--json", *args],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, **n["env"]))
    ran = (n["root"] / "node.log").read_text().splitlines() if (n["root"] / "node.log").exists() else []
    return r, json.loads(r.stdout), [json.loads(line) for line in ran]


def test_vm_start_dry_run_plans_every_volume(node):
    r, out, ran = cli(node, "activate", "--vm", "100", "--dry-run")
    assert r.returncode == 0, r.stdout + r.stderr
    plan = {v["volid"]: v for v in out["volumes"]}
    image = node["image"]
    assert list(plan) == ["local-lvm:vm-100-disk-0", "local-zfs:vm-100-disk-1", "san-lvm:vm-100-disk-2",
                          f"ceph:{image}"]
    assert plan["local-lvm:vm-100-disk-0"]["path"] == "/dev/pve/vm-100-disk-0"
    assert ["lvchange", "-ay", "-K", "pve/vm-100-disk-0"] in plan["local-lvm:vm-100-disk-0"]["commands"]
    assert plan["local-zfs:vm-100-disk-1"]["path"] == "/dev/zvol/rpool/data/vm-100-disk-1"
    assert ["zfs", "mount", "-a"] in plan["local-zfs:vm-100-disk-1"]["commands"]
    san = plan["san-lvm:vm-100-disk-2"]["commands"]
    # the base LUN's storage first (its session rescanned), then the LV
    assert san.index(["/usr/bin/iscsiadm", "--mode", "session", "--sid", "1", "--rescan"]) < \
        san.index(["/sbin/lvchange", "-aey", "/dev/san/vm-100-disk-2"])
    assert plan["san-lvm:vm-100-disk-2"]["path"] == "/dev/san/vm-100-disk-2"
    rbdplan = plan[f"ceph:{image}"]
    assert rbdplan["action"] == "mapped"
    assert rbdplan["path"] == f"/dev/rbd-pve/{node['fsid']}/rbd/{image}"
    assert any("rxbounce" in " ".join(c) and "map" in c for c in rbdplan["commands"]), rbdplan["commands"]
    # a dry run only reads: no activation, rescan, mount or map ran
    changing = [c for c in ran if c[0].endswith(("lvchange", "vgscan")) or "--rescan" in c or "mount" in c]
    assert changing == []
    assert not (node["root"] / "rbd.log").exists() or "map" not in (node["root"] / "rbd.log").read_text()


def test_status_answers_for_every_storage(node):
    r, out, _ = cli(node, "status")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {s["storage"]: s for s in (out["storages"] if isinstance(out, dict) and "storages" in out else out)}
    assert set(rows) == {"local", "local-lvm", "local-zfs", "san", "san-lvm", "ceph"}
    assert rows["local-zfs"]["active"] and rows["local-zfs"]["total"] == 139586437120
    assert rows["san-lvm"]["active"] and rows["san-lvm"]["avail"] == 21474836480
    assert rows["local-lvm"]["active"] and rows["local-lvm"]["total"] == 64424509440
    assert rows["san"]["active"]
    assert rows["ceph"]["active"]


@pytest.mark.parametrize("storage,volid", [("local-lvm", "local-lvm:vm-100-disk-0"),
                                           ("local-zfs", "local-zfs:vm-100-disk-1"),
                                           ("san-lvm", "san-lvm:vm-100-disk-2")])
def test_list_answers_for_a_node_storage(node, storage, volid):
    r, out, _ = cli(node, "list", storage)
    assert r.returncode == 0, r.stdout + r.stderr
    vols = out["volumes"] if isinstance(out, dict) and "volumes" in out else out
    assert volid in [v["volid"] for v in vols]


def test_python_plans_the_same(node):
    """the module's VM-start dry run, over the same root, plans the same"""
    old = pvestorage.settings()
    os.environ.update(node["env"])
    pvestorage.configure(root=str(node["root"]), rbd_command=FAKE_RBD, kernel_version="6.1", ceph_timeout=20)
    try:
        cfg = pvestorage.parse_config(STORAGE_CFG)
        plan = pvestorage.activate_vm_volumes(cfg, 100, True, dry_run=True)
    finally:
        pvestorage.configure(**old)
    _, out, _ = cli(node, "activate", "--vm", "100", "--dry-run")
    assert [(v["volid"], v["path"], v.get("commands")) for v in plan] == \
        [(v["volid"], v["path"], v.get("commands")) for v in out["volumes"]]
