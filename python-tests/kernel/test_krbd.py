"""krbd on Linux's own rbd driver (the test guest): the Python binding and the
command map, remap and inspect real kernel devices of the test cluster."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

import pvestorage

from krbd_helpers import CLI, cli, rbd

def sysfs(dev_id, name):
    with open(f"/sys/devices/rbd/{dev_id}/{name}") as f:
        return f.read().rstrip("\n")


def devices_of(image, snap=None):
    """The kernel's devices of an image (of any namespace), lowest first."""
    found = []
    for d in sorted((d for d in os.listdir("/sys/devices/rbd") if d.isdigit()), key=int):
        if sysfs(d, "name") == image and sysfs(d, "current_snap") == (snap or "-"):
            found.append(int(d))
    return found


def options(dev_id):
    """The map options the kernel got: config_info's second field."""
    return sysfs(dev_id, "config_info").split(" ")[1].split(",")


def unmap_all(ceph, image):
    for d in devices_of(image) + [x for s in ("s1",) for x in devices_of(image, s)]:
        rbd(ceph, "device", "unmap", f"/dev/rbd{d}", check=False)


def kernel_map(ceph, spec, opts=None):
    out = rbd(ceph, "device", "map", spec, *(["--options", opts] if opts else [])).stdout.strip()
    assert out.startswith("/dev/rbd"), out
    return int(out[len("/dev/rbd"):])


def assert_is_device(path, dev_id):
    """path is the kernel's block device dev_id: the same node, major and minor."""
    st = os.stat(path)
    assert os.path.realpath(path) == f"/dev/rbd{dev_id}"
    assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (int(sysfs(dev_id, "major")), int(sysfs(dev_id, "minor")))


counter = [0]


@pytest.fixture
def image(ceph, node):
    counter[0] += 1
    name = f"vm-{200 + counter[0]}-disk-{os.getpid()}"
    rbd(ceph, "create", "--size", "8M", "--image-feature", "layering", f"rbd/{name}")
    yield name
    unmap_all(ceph, name)
    rbd(ceph, "rm", "--no-progress", f"rbd/{name}", check=False)


def config():
    return pvestorage.read_config("/etc/pve/storage.cfg")


STATES = ["not mapped", "mapped without rxbounce", "mapped with rxbounce"]
VALUES = [None, False, True]


def kernel_add(ceph, image, opts):
    """Map by hand, as an operator can: the string rbd writes, with the secret
    inline (the kernel takes it as given); then wait for udev's links."""
    mon = re.search(r"v1:([0-9.]+:[0-9]+)", ceph["CEPH_TEST_MON_HOST"]).group(1)
    with open(ceph["CEPH_TEST_KEYRING"]) as f:
        secret = re.search(r"key\s*=\s*(\S+)", f.read()).group(1)
    with open("/sys/bus/rbd/add_single_major", "w") as f:
        f.write(f"{mon} name=admin,secret={secret}{',' + opts if opts else ''} rbd {image} -")
    subprocess.run(["udevadm", "settle"], check=True)


def kernel_remove(image):
    for d in devices_of(image):
        with open("/sys/bus/rbd/remove_single_major", "w") as f:
            f.write(str(d))


@pytest.fixture(scope="module")
def table_images(ceph, node):
    names = {s: f"vm-{300 + i}-disk-{os.getpid()}" for i, s in enumerate(STATES)}
    for n in names.values():
        rbd(ceph, "create", "--size", "8M", "--image-feature", "layering,exclusive-lock", f"rbd/{n}")
    yield names
    for n in names.values():
        unmap_all(ceph, n)
        rbd(ceph, "rm", "--no-progress", f"rbd/{n}", check=False)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("gw", VALUES, ids=["gw-absent", "gw-0", "gw-1"])
@pytest.mark.parametrize("pm", VALUES, ids=["pm-absent", "pm-0", "pm-1"])
def test_decision_table(ceph, node, table_images, state, gw, pm, recwarn):
    image = table_images[state]
    kernel_remove(image)
    if state != "not mapped":
        kernel_add(ceph, image, "rxbounce" if state == "mapped with rxbounce" else None)
    hints = {k: v for k, v in (("guest-is-windows", gw), ("plugin-may-deactivate-volume", pm)) if v is not None}
    scfg = config()["ids"]["ceph"]
    path = pvestorage.plugin("rbd").map_volume("ceph", scfg, image, None, hints)
    win = gw is True
    want_rx = {"not mapped": win, "mapped with rxbounce": True,
               "mapped without rxbounce": win and pm is True}[state]
    want_warn = []
    if state == "mapped without rxbounce" and win and pm is not True:
        want_warn = [f"not unmapping volume {image} to apply rxbounce since it is not safe"]
    [dev_id] = devices_of(image)                       # one device, never two
    assert ("rxbounce" in options(dev_id)) == want_rx  # what the kernel really got
    assert path == f"/dev/rbd-pve/{node['fsid']}/rbd/{image}"
    assert_is_device(path, dev_id)
    assert [str(w.message) for w in recwarn if w.category is pvestorage.StorageWarning] == want_warn
    kernel_remove(image)


def test_fresh_and_remap_reports_read_the_kernel(ceph, node, image):
    volid = f"ceph:{image}"
    hints = {"guest-is-windows": True, "plugin-may-deactivate-volume": True}
    [r] = pvestorage.map_volume_report(config(), volid, hints=hints)
    [dev_id] = devices_of(image)
    assert r["action"] == "mapped"
    assert r["options_before"] is None
    assert r["options_after"] == "name=admin,key=client.admin,rxbounce" == ",".join(options(dev_id))
    rbd(ceph, "device", "unmap", f"/dev/rbd{dev_id}")
    kernel_map(ceph, f"rbd/{image}")
    [r] = pvestorage.map_volume_report(config(), volid, hints=hints)
    [dev_id] = devices_of(image)
    assert r["action"] == "remapped"
    assert r["options_before"] == "name=admin,key=client.admin"
    assert r["options_after"] == "name=admin,key=client.admin,rxbounce" == ",".join(options(dev_id))


def test_snapshot_maps_read_only(ceph, node, image):
    rbd(ceph, "snap", "create", f"rbd/{image}@s1")
    path = pvestorage.map_volume(config(), f"ceph:{image}", "s1", {"guest-is-windows": True})
    [dev_id] = devices_of(image, "s1")
    assert path == f"/dev/rbd-pve/{node['fsid']}/rbd/{image}@s1"
    assert_is_device(path, dev_id)
    assert "rxbounce" in options(dev_id)
    with open(f"/sys/block/rbd{dev_id}/ro") as f:
        assert f.read().strip() == "1"
    pvestorage.unmap_volume(config(), f"ceph:{image}", "s1")
    assert devices_of(image, "s1") == []


def test_namespace(ceph, node):
    name = "vm-299-disk-0"
    rbd(ceph, "create", "--size", "8M", "--image-feature", "layering", f"rbd/ns1/{name}")
    try:
        path = pvestorage.map_volume(config(), f"nsstore:{name}", None, {"guest-is-windows": True})
        [dev_id] = devices_of(name)
        assert path == f"/dev/rbd-pve/{node['fsid']}/rbd/ns1/{name}"
        assert_is_device(path, dev_id)
        assert sysfs(dev_id, "pool_ns") == "ns1"
        # rbd map puts _pool_ns after the caller's options
        assert options(dev_id) == ["name=admin", "key=client.admin", "rxbounce", "_pool_ns=ns1"]
        pvestorage.unmap_volume(config(), f"nsstore:{name}")
        assert devices_of(name) == []
    finally:
        unmap_all(ceph, name)
        rbd(ceph, "rm", "--no-progress", f"rbd/ns1/{name}", check=False)


def write_vm(vmid, ostype, disks):
    os.makedirs("/etc/pve/qemu-server", exist_ok=True)
    with open(f"/etc/pve/qemu-server/{vmid}.conf", "w") as f:
        f.write(f"ostype: {ostype}\n")
        for key, volid in disks.items():
            f.write(f"{key}: {volid},size=8M\n")


def fake_qemu(vmid, hold):
    """A running guest as qemu-server sees one: a QEMU with its pid file, holding its disk open."""
    os.makedirs("/var/run/qemu-server", exist_ok=True)
    pidfile = f"/var/run/qemu-server/{vmid}.pid"
    code = f"import os,time; fd=os.open({hold!r}, os.O_RDONLY); open('{pidfile}.up','w'); time.sleep(600)"
    p = subprocess.Popen(["/usr/bin/kvm", "-c", code, "-id", str(vmid), "-pidfile", pidfile], executable=sys.executable)
    with open(pidfile, "w") as f:
        f.write(f"{p.pid}\n")
    for _ in range(300):
        if os.path.exists(pidfile + ".up"):
            return p
        time.sleep(0.05)
    p.kill()
    raise AssertionError("the fake QEMU did not open its disk")


@pytest.fixture
def guests(ceph, node):
    names = {"win0": "vm-101-disk-0", "win1": "vm-101-disk-1", "lin": "vm-102-disk-0"}
    for n in names.values():
        rbd(ceph, "create", "--size", "8M", "--image-feature", "layering", f"rbd/{n}")
    write_vm(101, "win11", {"scsi0": f"ceph:{names['win0']}", "virtio1": f"ceph:{names['win1']}"})
    write_vm(102, "l26", {"scsi0": f"ceph:{names['lin']}"})
    yield names
    for n in names.values():
        unmap_all(ceph, n)
        rbd(ceph, "rm", "--no-progress", f"rbd/{n}", check=False)
    for v in (101, 102):
        os.unlink(f"/etc/pve/qemu-server/{v}.conf")


def test_vm_start_windows_and_linux_then_mapped_and_audit(ceph, node, guests):
    r = cli("--json", "activate", "--vm", "101", "--may-deactivate", check=0)
    out = json.loads(r.stdout)
    assert isinstance(out, dict) and out.get("activated"), r.stdout
    assert out["hints"] == {"guest-is-windows": 1, "plugin-may-deactivate-volume": 1}
    cli("--json", "activate", "--vm", "102", check=0)
    for key in ("win0", "win1"):
        [d] = devices_of(guests[key])
        assert "rxbounce" in options(d)
    [d] = devices_of(guests["lin"])
    assert "rxbounce" not in options(d)
    mapped = {m["image"]: m for m in json.loads(cli("--json", "mapped", check=0).stdout)["devices"]}
    for key in ("win0", "win1", "lin"):
        m = mapped[guests[key]]
        assert m["volid"] == f"ceph:{guests[key]}"
        assert m["options"] == ",".join(options(devices_of(guests[key])[0]))
    audit = cli("--json", "audit")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout)["in_order"] is True


def test_running_guest_holds_its_plain_mapped_disk(ceph, node, guests):
    disk = guests["win1"]
    dev_id = kernel_map(ceph, f"rbd/{disk}")          # mapped plain, as before an upgrade
    q = fake_qemu(101, f"/dev/rbd{dev_id}")
    try:
        audit = cli("--json", "audit")
        assert audit.returncode == 1, audit.stdout + audit.stderr
        res = json.loads(audit.stdout)
        [v] = [v for v in res["volumes"] if v["volid"] == f"ceph:{disk}"]
        assert v["in_order"] is False and v["device"] == f"/dev/rbd{dev_id}"
        assert "rxbounce" not in v["options"]
        assert not v.get("fix")                        # no remap while the guest runs
        # remap asked for although the guest holds it: the kernel says EBUSY
        r = cli("--json", "map", f"ceph:{disk}", "--hint", "guest-is-windows=1",
                "--hint", "plugin-may-deactivate-volume=1", check=0)
        [rec] = json.loads(r.stdout)["volumes"]
        assert rec["action"] == "remap-failed"
        assert rec["error"] == f"can't unmap rbd device /dev/rbd-pve/{node['fsid']}/rbd/{disk}: rbd: sysfs write failed"
        assert rec["warnings"][0].startswith("could not unmap to apply rxbounce - can't unmap rbd device")
        assert devices_of(disk) == [dev_id] and "rxbounce" not in options(dev_id)
        # a plain unmap: upstream's message, the device stays mapped
        r = cli("unmap", f"ceph:{disk}", check=1)
        assert r.stderr.startswith(f"can't unmap rbd device /dev/rbd-pve/{node['fsid']}/rbd/{disk}: rbd: sysfs write failed")
        assert devices_of(disk) == [dev_id]
    finally:
        q.send_signal(signal.SIGKILL)
        q.wait()
        os.unlink("/var/run/qemu-server/101.pid")


def test_kernel_refuses_a_map_option(ceph, node, image):
    # rbd passes queue_depth=0 on (a number), Linux refuses it (out of range)
    bogus = {"CEPH_ARGS": "--rbd_default_map_options=queue_depth=0"}
    r = cli("map", f"ceph:{image}", "--hint", "guest-is-windows=1", env=bogus, check=1)
    assert r.stderr == f"can't map rbd volume {image}: rbd: sysfs write failed\n"
    assert devices_of(image) == []
    # the same refusal after the unmap of a remap: the error names the volume
    dev_id = kernel_map(ceph, f"rbd/{image}")
    r = cli("map", f"ceph:{image}", "--hint", "guest-is-windows=1", "--hint", "plugin-may-deactivate-volume=1",
            env=bogus, check=1)
    assert f"volume 'ceph:{image}' was unmapped to apply rxbounce and is no longer mapped" in r.stderr
    assert devices_of(image) == []
    assert dev_id >= 0


def test_two_processes_map_one_image(ceph, node, image):
    args = [CLI, "map", f"ceph:{image}", "--hint", "guest-is-windows=1"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    [dev_id] = devices_of(image)                       # one device
    # (one of them may say first that it enabled the image's features)
    paths = [out.splitlines()[-1] for out, _ in outs]
    assert paths == [f"/dev/rbd-pve/{node['fsid']}/rbd/{image}"] * 2
    assert_is_device(paths[0], dev_id)


def test_without_a_udev_rule_the_kernel_device_is_returned(ceph, node, image):
    rules = [f for f in os.listdir("/etc/udev/rules.d") if "pvestorage" in f]
    assert rules, "the guest runs with pvestorage's udev rule"
    os.makedirs("/run/pvs-rules-away", exist_ok=True)
    for f in rules:
        shutil.move(f"/etc/udev/rules.d/{f}", f"/run/pvs-rules-away/{f}")
    subprocess.run(["udevadm", "control", "--reload"], check=True)
    try:
        r = cli("--json", "map", f"ceph:{image}", "--hint", "guest-is-windows=1", check=0)
        [dev_id] = devices_of(image)
        [rec] = json.loads(r.stdout)["volumes"]
        assert rec["path"] == f"/dev/rbd/rbd/{image}"   # Ceph's own rule's link, as path() finds it
        assert rec["warnings"] == [f"no udev rule made '/dev/rbd-pve/{node['fsid']}/rbd/{image}' "
                                   f"(install pvestorage's or Proxmox's rule); using /dev/rbd/rbd/{image}"]
        assert_is_device(rec["path"], dev_id)
        assert cli("path", f"ceph:{image}", check=0).stdout == rec["path"] + "\n"
        # without Ceph's link either: the kernel's own device
        os.unlink(f"/dev/rbd/rbd/{image}")
        assert cli("path", f"ceph:{image}", check=0).stdout == f"/dev/rbd{dev_id}\n"
        r = cli("--json", "map", f"ceph:{image}", "--hint", "guest-is-windows=1", check=0)
        assert json.loads(r.stdout)["volumes"][0]["action"] == "already-mapped"
        cli("unmap", f"ceph:{image}", check=0)
        assert devices_of(image) == []
    finally:
        for f in rules:
            shutil.move(f"/run/pvs-rules-away/{f}", f"/etc/udev/rules.d/{f}")
        subprocess.run(["udevadm", "control", "--reload"], check=True)
