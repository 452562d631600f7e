"""storage.cfg parsed as upstream's own parser parses it.

core/tests/data holds a node's storage.cfg with every upstream storage type
and a file of bad values, each with what PVE::Storage::Plugin->parse_config
made of it (scripts/upstream-golden.sh).  Python warnings carry the message
without its final newline; the rest is the same text.
"""
import json
import pathlib
import warnings

import pytest

import pvestorage

DATA = pathlib.Path(__file__).resolve().parent.parent / "core" / "tests" / "data"


@pytest.mark.parametrize("name", ["node", "bad"])
def test_parsed_as_upstream(name):
    want = json.loads((DATA / f"{name}.upstream.json").read_text())
    text = (DATA / f"{name}.cfg").read_bytes()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        cfg = pvestorage.parse_config(text, "/etc/pve/storage.cfg")
    assert cfg == {"ids": want["ids"], "order": want["order"]}
    assert [str(w.message) for w in rec] == [m[:-1] if m.endswith("\n") else m for m in want["warnings"]]
    assert all(w.category is pvestorage.StorageWarning for w in rec)


def test_every_upstream_type_is_known():
    cfg = pvestorage.parse_config((DATA / "node.cfg").read_bytes())
    types = {scfg["type"] for scfg in cfg["ids"].values()}
    assert types == {"dir", "lvm", "lvmthin", "zfspool", "zfs", "nfs", "cifs", "cephfs", "rbd", "pbs",
                     "iscsi", "iscsidirect", "btrfs", "esxi"}
