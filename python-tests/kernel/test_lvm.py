"""LVM and LVM-thin on the real kernel: volume groups on loop devices in the
test guest (device-mapper and dm-thin of Debian's kernel, the host's lvm2,
Debian's thin_check), driven through the Python binding and the command
(the C library) as a node's local-lvm and a SAN lvm storage are."""
import json
import os
import stat
import subprocess

import pytest

import pvestorage
from krbd_helpers import cli

MiB = 1024 * 1024
CFG_TEXT = ("lvmthin: local-lvm\n\tthinpool data\n\tvgname pvsthin\n\tcontent rootdir,images\n\n"
            "lvm: san-lvm\n\tvgname pvssan\n\tcontent images\n\tshared 1\n")


def run(*argv):
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def attr(vg, lv):
    return run("lvs", "--noheadings", "-o", "lv_attr", f"{vg}/{lv}").strip()


def active(vg, lv):
    return attr(vg, lv)[4] == "a"


def is_block(path):
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def lvm(tmp_path_factory):
    """Two volume groups on loop devices: pvsthin (a thin pool, thin volumes,
    a base volume, a snapshot) and pvssan (plain volumes)."""
    d = tmp_path_factory.mktemp("lvm")
    loops = []
    for name in ("thin", "san"):
        img = d / f"{name}.img"
        run("truncate", "-s", "384M", str(img))
        loops.append(run("losetup", "-f", "--show", str(img)).strip())
    run("pvcreate", "-q", *loops)
    run("vgcreate", "-q", "pvsthin", loops[0])
    run("vgcreate", "-q", "pvssan", loops[1])
    run("lvcreate", "-q", "-L", "256M", "-T", "pvsthin/data")
    for lv in ("vm-100-disk-0", "vm-100-disk-1", "base-101-disk-0"):
        run("lvcreate", "-q", "-V", "64M", "-T", "pvsthin/data", "-n", lv)
    run("lvchange", "-q", "-pr", "-ky", "pvsthin/base-101-disk-0")   # as upstream's create_base
    run("lvcreate", "-q", "-n", "snap_vm-100-disk-0_s1", "-pr", "-s", "pvsthin/vm-100-disk-0")
    run("lvcreate", "-q", "-L", "32M", "-n", "vm-200-disk-0", "--addtag", "pve-vm-200", "pvssan")
    run("lvcreate", "-q", "-L", "16M", "-n", "vm-201-disk-0", "pvssan")
    cfg = pvestorage.parse_config(CFG_TEXT)
    cfgfile = d / "storage.cfg"
    cfgfile.write_text(CFG_TEXT)
    yield {"cfg": cfg, "file": str(cfgfile)}
    subprocess.run(["vgremove", "-q", "-f", "pvsthin", "pvssan"], capture_output=True)
    subprocess.run(["pvremove", "-q", *loops], capture_output=True)
    for dev in loops:
        subprocess.run(["losetup", "-d", dev], capture_output=True)


def all_inactive():
    run("vgchange", "-q", "-an", "pvsthin", "pvssan")


def test_thin_activation_activates_the_pool_and_the_volumes(lvm):
    all_inactive()
    assert not active("pvsthin", "data")
    pvestorage.activate_volumes(lvm["cfg"], ["local-lvm:vm-100-disk-0", "local-lvm:vm-100-disk-1"])
    assert active("pvsthin", "data")
    for lv in ("vm-100-disk-0", "vm-100-disk-1"):
        assert active("pvsthin", lv)
        path = pvestorage.path(lvm["cfg"], f"local-lvm:{lv}")
        assert path == f"/dev/pvsthin/{lv}"
        assert is_block(path)
    # a plain volume stays active on deactivation, as upstream keeps it
    pvestorage.deactivate_volumes(lvm["cfg"], ["local-lvm:vm-100-disk-0"])
    assert active("pvsthin", "vm-100-disk-0")


def test_thin_snapshot_and_base_volume_skip_activation_until_asked(lvm):
    all_inactive()
    pvestorage.activate_volumes(lvm["cfg"], ["local-lvm:vm-100-disk-0"], "s1")
    assert active("pvsthin", "snap_vm-100-disk-0_s1")
    assert is_block("/dev/pvsthin/snap_vm-100-disk-0_s1")
    pvestorage.deactivate_volumes(lvm["cfg"], ["local-lvm:vm-100-disk-0"], "s1")
    assert not active("pvsthin", "snap_vm-100-disk-0_s1")
    pvestorage.activate_volumes(lvm["cfg"], ["local-lvm:base-101-disk-0"])
    assert active("pvsthin", "base-101-disk-0")
    pvestorage.deactivate_volumes(lvm["cfg"], ["local-lvm:base-101-disk-0"])
    assert not active("pvsthin", "base-101-disk-0")


def test_thin_missing_volume_is_named(lvm):
    with pytest.raises(pvestorage.NotFoundError, match="^no such logical volume pvsthin/vm-100-disk-9$"):
        pvestorage.activate_volumes(lvm["cfg"], ["local-lvm:vm-100-disk-9"])


def test_lvm_raw_volume_exclusive_then_deactivated(lvm):
    all_inactive()
    pvestorage.activate_volumes(lvm["cfg"], ["san-lvm:vm-200-disk-0"])
    a = attr("pvssan", "vm-200-disk-0")
    assert a[4] == "a"
    assert is_block("/dev/pvssan/vm-200-disk-0")
    pvestorage.deactivate_volumes(lvm["cfg"], ["san-lvm:vm-200-disk-0"])
    assert not active("pvssan", "vm-200-disk-0")
    assert not is_block("/dev/pvssan/vm-200-disk-0")
    # a deactivated (absent) device: nothing to do, no error
    pvestorage.deactivate_volumes(lvm["cfg"], ["san-lvm:vm-200-disk-0"])


def test_deactivate_storage_deactivates_the_volume_group(lvm):
    pvestorage.activate_volumes(lvm["cfg"], ["san-lvm:vm-200-disk-0", "san-lvm:vm-201-disk-0"])
    pvestorage.deactivate_storage(lvm["cfg"], "san-lvm")
    assert not active("pvssan", "vm-200-disk-0") and not active("pvssan", "vm-201-disk-0")


def test_status_and_list_are_what_lvm_says(lvm):
    pvestorage.activate_volumes(lvm["cfg"], ["local-lvm:vm-100-disk-0"])
    st = {s["storage"]: s for s in pvestorage.storage_status(lvm["cfg"])}
    thin, san = st["local-lvm"], st["san-lvm"]
    assert thin["active"] is True and thin["total"] == 256 * MiB
    pct = float(run("lvs", "--noheadings", "-o", "data_percent", "pvsthin/data").strip())
    assert thin["used"] == int(pct * 256 * MiB / 100) and thin["avail"] == thin["total"] - thin["used"]
    vg = run("vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_size,vg_free", "pvssan").split()
    assert san["active"] is True and (san["total"], san["avail"]) == (int(vg[0]), int(vg[1]))
    vols = pvestorage.list_volumes(lvm["cfg"], "local-lvm")
    assert [(v["volid"], v["size"], v["vmid"]) for v in vols] == [
        ("local-lvm:base-101-disk-0", 64 * MiB, 101), ("local-lvm:vm-100-disk-0", 64 * MiB, 100),
        ("local-lvm:vm-100-disk-1", 64 * MiB, 100)]
    assert [v["volid"] for v in pvestorage.list_volumes(lvm["cfg"], "san-lvm", 200)] == ["san-lvm:vm-200-disk-0"]


def test_command_plans_then_activates(lvm):
    """The command (the C library): a dry run plans the pool's and the
    volume's activation and changes nothing; the real run does it."""
    all_inactive()
    r = cli("--config", lvm["file"], "--json", "activate", "--dry-run", "local-lvm:vm-100-disk-1", check=0)
    rec = json.loads(r.stdout)["volumes"][0]
    assert rec["action"] == "activated"
    changes = [c for c in rec["commands"] if c[0] == "lvchange"]
    assert changes == [["lvchange", "-ay", "-K", "pvsthin/data"], ["lvchange", "-ay", "-K", "pvsthin/vm-100-disk-1"]]
    assert not active("pvsthin", "data") and not active("pvsthin", "vm-100-disk-1")
    cli("--config", lvm["file"], "activate", "local-lvm:vm-100-disk-1", check=0)
    assert active("pvsthin", "vm-100-disk-1")
    r = cli("--config", lvm["file"], "list", "local-lvm", check=0)
    assert "local-lvm:vm-100-disk-1                      raw      images         67108864 100" in r.stdout
    r = cli("--config", lvm["file"], "--json", "status", check=0)
    thin = next(s for s in json.loads(r.stdout)["storages"] if s["storage"] == "local-lvm")
    assert thin["active"] is True and thin["total"] == 256 * MiB
