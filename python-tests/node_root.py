"""A test root whose node tools (lvm2, zfs, iscsiadm ...) are fake-node,
answering as a case says: its responses, block devices, files, directories,
links and aged files."""
import json
import os
import time

import pytest

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE = os.path.join(ROOT_DIR, "build", "core", "tests", "fake-node")
TOOLS = ["vgs", "lvs", "lvchange", "vgscan", "vgchange", "udevadm", "zpool", "zfs", "iscsiadm", "blockdev",
         "iscsi-ls"]


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
