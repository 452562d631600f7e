"""The rbd plugin through the extension against a real Ceph cluster (the
kernel side emulated by fake-rbd): the hint decision table and the faults."""
import json
import os
import shutil
import subprocess

import pytest

import pvestorage

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE = os.path.join(ROOT_DIR, "build", "core", "tests", "fake-rbd")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="SKIP: needs root (mknod of the emulated /dev/rbdN block nodes)"),
    pytest.mark.skipif(not os.access(FAKE, os.X_OK), reason=f"SKIP: {FAKE} is not built (run scripts/build.sh)"),
    pytest.mark.skipif(not os.environ.get("PVS_TEST_CEPH_ENV") and not shutil.which("ceph-mon"),
                       reason="SKIP: ceph-mon/ceph-osd are not installed (run scripts/install-deps.sh)"),
]


@pytest.fixture(scope="module")
def node(ceph, tmp_path_factory):
    """A fake node root with the cluster's ceph.conf and keyring, and an image."""
    root = tmp_path_factory.mktemp("node")
    (root / "etc/pve/priv/ceph").mkdir(parents=True)
    shutil.copy(ceph["CEPH_TEST_CONF"], root / "etc/pve/ceph.conf")
    shutil.copy(ceph["CEPH_TEST_KEYRING"], root / "etc/pve/priv/ceph/ceph.keyring")
    image = f"vm-{800 + os.getpid() % 100}-disk-0"
    rbd = ["rbd", "-c", f"{root}/etc/pve/ceph.conf", "--keyring", f"{root}/etc/pve/priv/ceph/ceph.keyring"]
    subprocess.run(rbd + ["create", "--size", "8M", "--image-feature", "layering", f"rbd/{image}"], check=True)
    old = pvestorage.settings()
    pvestorage.configure(root=str(root), rbd_command=FAKE, kernel_version="6.1", ceph_timeout=10)
    os.environ.update(FAKE_RBD_ROOT=str(root), FAKE_RBD_FSID=ceph["CEPH_TEST_FSID"], FAKE_RBD_LOG=f"{root}/rbd.log")
    cfg = pvestorage.parse_config("rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n")
    yield {"root": root, "image": image, "cfg": cfg, "fsid": ceph["CEPH_TEST_FSID"],
           "dev": f"/dev/rbd-pve/{ceph['CEPH_TEST_FSID']}/rbd/{image}",
           "conn": ["-p", "rbd", "-c", f"{root}/etc/pve/ceph.conf", "--auth_supported", "cephx",
                    "-n", "client.admin", "--keyring", f"{root}/etc/pve/priv/ceph/ceph.keyring"]}
    pvestorage.configure(**old)
    subprocess.run(rbd + ["rm", "--no-progress", f"rbd/{image}"], check=False, capture_output=True)


def take_log(n):
    path = f"{n['root']}/rbd.log"
    try:
        with open(path) as f:
            calls = [json.loads(line) for line in f]
        os.unlink(path)
    except FileNotFoundError:
        calls = []
    return calls


def reset(n, state):
    shutil.rmtree(n["root"] / "dev", ignore_errors=True)
    shutil.rmtree(n["root"] / "sys", ignore_errors=True)
    os.environ.pop("FAKE_RBD_FAIL", None)
    if state != "not mapped":
        opts = ["--options", "rxbounce"] if state == "mapped with rxbounce" else []
        subprocess.run([FAKE] + n["conn"][:4] + n["conn"][-2:] + ["map", n["image"]] + opts,
                       check=True, capture_output=True)
        if state == "config_info unreadable":
            os.unlink(n["root"] / "sys/devices/rbd/0/config_info")
    take_log(n)


def map_options(n):
    try:
        with open(n["root"] / "sys/devices/rbd/0/config_info") as f:
            return f.read().split()[1]
    except FileNotFoundError:
        return None


STATES = ["not mapped", "mapped without rxbounce", "mapped with rxbounce", "config_info unreadable"]
VALUES = [None, False, True]   # absent, 0, 1


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("gw", VALUES, ids=["gw-absent", "gw-0", "gw-1"])
@pytest.mark.parametrize("pm", VALUES, ids=["pm-absent", "pm-0", "pm-1"])
def test_decision_table(node, state, gw, pm, recwarn):
    n = node
    reset(n, state)
    hints = {}
    if gw is not None:
        hints["guest-is-windows"] = gw
    if pm is not None:
        hints["plugin-may-deactivate-volume"] = int(pm)   # 0/1 ints are accepted too
    plugin = pvestorage.plugin("rbd")
    path = plugin.map_volume("ceph", n["cfg"]["ids"]["ceph"], n["image"], None, hints)
    assert path == n["dev"]
    conn, image, dev = n["conn"], n["image"], n["dev"]
    win = gw is True
    want_calls, want_warn, want_opts = [], [], None
    if state == "not mapped":
        want_calls = [conn + ["map", image] + (["--options", "rxbounce"] if win else [])]
        want_opts = "name=admin,key=client.admin" + (",rxbounce" if win else "")
    elif state == "mapped without rxbounce":
        if win and pm:
            want_calls = [conn + ["unmap", dev], conn + ["map", image, "--options", "rxbounce"]]
            want_opts = "name=admin,key=client.admin,rxbounce"
        else:
            if win:
                want_warn = [f"not unmapping volume {image} to apply rxbounce since it is not safe"]
            want_opts = "name=admin,key=client.admin"
    elif state == "mapped with rxbounce":
        want_opts = "name=admin,key=client.admin,rxbounce"
    elif win:
        want_warn = [f"cannot read map options of /dev/rbd0, not remapping volume {image}"]
    assert take_log(n) == want_calls
    assert [str(w.message) for w in recwarn if w.category is pvestorage.StorageWarning] == want_warn
    assert map_options(n) == want_opts


def test_unmap_fails_during_remap(node):
    n = node
    reset(n, "mapped without rxbounce")
    os.environ["FAKE_RBD_FAIL"] = "unmap"
    with pytest.warns(pvestorage.StorageWarning) as rec:
        path = pvestorage.map_volume(n["cfg"], f"ceph:{n['image']}",
                                     hints={"guest-is-windows": True, "plugin-may-deactivate-volume": True})
    assert path == n["dev"]
    assert [str(w.message) for w in rec] == [
        f"could not unmap to apply rxbounce - can't unmap rbd device {n['dev']}: "
        "rbd: sysfs write failed\n"]
    assert map_options(n) == "name=admin,key=client.admin"


def test_map_fails(node):
    n = node
    reset(n, "not mapped")
    os.environ["FAKE_RBD_FAIL"] = "map"
    with pytest.raises(pvestorage.CommandError) as info:
        pvestorage.activate_volumes(n["cfg"], [f"ceph:{n['image']}"], hints={"guest-is-windows": True})
    assert str(info.value) == f"can't map rbd volume {n['image']}: rbd: sysfs write failed"
    assert info.value.exit_status == 5
    assert "rbd: sysfs write failed" in info.value.stderr
    assert info.value.code == "ECOMMAND"


def test_missing_image_and_bad_names(node):
    n = node
    reset(n, "not mapped")
    with pytest.raises(pvestorage.NotFoundError) as info:
        pvestorage.map_volume(n["cfg"], "ceph:vm-999-disk-404")
    assert str(info.value) == "rbd error: rbd: error opening image vm-999-disk-404: (2) No such file or directory"
    assert take_log(n) == []
    with pytest.raises(pvestorage.InvalidError, match=r"^unable to parse rbd volume name 'vm-1-disk-0/\.\./x'$"):
        pvestorage.map_volume(n["cfg"], "ceph:vm-1-disk-0/../x")


def test_cluster_unreachable(node):
    import time
    cfg = pvestorage.parse_config("rbd: dead\n\tpool rbd\n\tmonhost 127.0.0.1:9\n\tkrbd 1\n")
    pvestorage.configure(ceph_timeout=2)
    try:
        t0 = time.monotonic()
        with pytest.raises((pvestorage.TimeoutError, pvestorage.ClusterError)) as info:
            pvestorage.map_volume(cfg, "dead:vm-100-disk-0")
        assert time.monotonic() - t0 < 8
        assert str(info.value) == ("rbd error: cannot connect to the cluster of storage 'dead': "
                                   "(110) Connection timed out")
    finally:
        pvestorage.configure(ceph_timeout=10)


def test_librbd_path(node):
    n = node
    cfg = pvestorage.parse_config("rbd: lib\n\tpool rbd\n\tnamespace ns9\n")
    assert pvestorage.path(cfg, "lib:vm-100-disk-0", "snap1") == \
        f"rbd:rbd/ns9/vm-100-disk-0@snap1:conf={n['root']}/etc/pve/ceph.conf"
    # no krbd: activation does nothing at all
    pvestorage.activate_volumes(cfg, ["lib:vm-100-disk-0"])
    assert take_log(n) == []


def test_hanging_rbd_is_a_timeout_error(node, tmp_path):
    """One deadline per call: a hanging rbd raises TimeoutError (a
    pvestorage.Error and Python's TimeoutError) within one ceph_timeout."""
    import time
    n = node
    reset(n, "not mapped")
    script = tmp_path / "hanging-rbd"
    script.write_text(f"#!/bin/sh\ncase \" $* \" in *\" map \"*) exec sleep 300;; esac\nexec {FAKE} \"$@\"\n")
    script.chmod(0o755)
    pvestorage.configure(rbd_command=str(script), ceph_timeout=2)
    try:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            pvestorage.activate_volumes(n["cfg"], [f"ceph:{n['image']}"])
        took = time.monotonic() - t0
        assert took < 2 + 2, f"took {took:.1f} s, more than one ceph_timeout"
        assert isinstance(info.value, pvestorage.TimeoutError)
        assert info.value.code == "ETIMEDOUT"
        assert str(info.value).endswith("failed: got timeout")
    finally:
        pvestorage.configure(rbd_command=FAKE, ceph_timeout=10)
    assert take_log(n) == []


def test_forked_child_connects_on_its_own(node):
    """A child forked after the parent cached a cluster connection maps with a
    connection of its own (it used to hang on the parent's)."""
    n = node
    reset(n, "not mapped")
    assert pvestorage.map_volume(n["cfg"], f"ceph:{n['image']}") == n["dev"]
    assert pvestorage.unmap_volume(n["cfg"], f"ceph:{n['image']}") is None
    take_log(n)
    pid = os.fork()
    if pid == 0:
        import signal
        signal.alarm(30)
        try:
            ok = pvestorage.map_volume(n["cfg"], f"ceph:{n['image']}") == n["dev"]
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status:#x}"
    assert [c[c.index("map")] for c in take_log(n) if "map" in c] == ["map"]
    pvestorage.unmap_volume(n["cfg"], f"ceph:{n['image']}")


def test_warnings_handler_runs_after_the_call(node):
    """No Python code runs while the core holds an image's map lock: the
    'not safe' warning reaches a handler after the call, and the handler may
    map the very same image again (it used to wait for the lock until the
    deadline)."""
    import time
    import warnings
    n = node
    reset(n, "mapped without rxbounce")
    nested = []

    def handler(message, category, filename, lineno, file=None, line=None):
        nested.append(pvestorage.map_volume(n["cfg"], f"ceph:{n['image']}"))

    pvestorage.configure(ceph_timeout=5)
    try:
        with warnings.catch_warnings():   # restores showwarning on the way out
            warnings.showwarning = handler
            warnings.simplefilter("always")
            t0 = time.monotonic()
            path = pvestorage.map_volume(n["cfg"], f"ceph:{n['image']}", hints={"guest-is-windows": 1})
            took = time.monotonic() - t0
    finally:
        pvestorage.configure(ceph_timeout=10)
    assert path == n["dev"] and nested == [n["dev"]]
    assert took < 3, f"the handler waited {took:.1f} s for a lock"
    assert take_log(n) == []
    pvestorage.unmap_volume(n["cfg"], f"ceph:{n['image']}")


class Mixed:
    """A Python plugin between rbd volumes: it looks at what rbd mapped when its turn comes."""
    type = "pymixed"
    api = 15
    plugindata = {"content": [{"images": 1}, {"images": 1}]}
    options = {"content": {"optional": 1}}
    seen = []

    def activate_volume(self, storeid, scfg, volname, snapname=None, cache=None, hints=None):
        self.seen.append((volname, hints["guest-is-windows"], take_log(self.node)))


def test_python_plugin_in_list_order_between_rbd_volumes(node, tmp_path):
    n = node
    image2 = f"vm-{900 + os.getpid() % 100}-disk-0"
    rbd = ["rbd", "-c", f"{n['root']}/etc/pve/ceph.conf", "--keyring", f"{n['root']}/etc/pve/priv/ceph/ceph.keyring"]
    subprocess.run(rbd + ["create", "--size", "8M", "--image-feature", "layering", f"rbd/{image2}"], check=True)
    try:
        Mixed.node = n
        pvestorage.register_plugin(Mixed)
        (tmp_path / "template/iso").mkdir(parents=True)
        (tmp_path / "template/iso/x.iso").write_bytes(b"")
        cfg = pvestorage.parse_config("rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n\n"
                                      f"dir: isos\n\tpath {tmp_path}\n\tcontent iso\n\n"
                                      "pymixed: mx\n\tcontent images\n")
        reset(n, "not mapped")
        take_log(n)
        pvestorage.activate_volumes(cfg, [f"ceph:{n['image']}", "isos:iso/x.iso", "mx:vm-100-disk-0",
                                          f"ceph:{image2}"], hints={"guest-is-windows": True})
        conn = n["conn"]
        assert Mixed.seen == [("vm-100-disk-0", True, [conn + ["map", n["image"], "--options", "rxbounce"]])]
        assert take_log(n) == [conn + ["map", image2, "--options", "rxbounce"]]
    finally:
        reset(n, "not mapped")
        subprocess.run(rbd + ["rm", "--no-progress", f"rbd/{image2}"], check=False, capture_output=True)


def test_feature_change_is_logged(node, caplog):
    """What upstream prints on stdout when it changes image features goes to
    the logging module, logger "pvestorage", at INFO."""
    import logging
    n = node
    fresh = f"vm-{500 + os.getpid() % 100}-disk-9"
    rbd = ["rbd", "-c", f"{n['root']}/etc/pve/ceph.conf", "--keyring", f"{n['root']}/etc/pve/priv/ceph/ceph.keyring"]
    subprocess.run(rbd + ["create", "--size", "8M", "--image-feature", "layering", f"rbd/{fresh}"], check=True)
    try:
        reset(n, "not mapped")
        with caplog.at_level(logging.INFO, logger="pvestorage"):
            pvestorage.map_volume(n["cfg"], f"ceph:{fresh}")
        assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
            ("pvestorage", "INFO",
             "enable RBD image features this kernel RBD drivers supports: fast-diff,object-map,exclusive-lock")]
        pvestorage.unmap_volume(n["cfg"], f"ceph:{fresh}")
    finally:
        reset(n, "not mapped")
        subprocess.run(rbd + ["rm", "--no-progress", f"rbd/{fresh}"], check=False, capture_output=True)


# ---- outcomes: what each volume got, and the dry run that plans it ----

REPORT_CASES = [("not mapped", True, "mapped"), ("mapped without rxbounce", True, "remapped"),
                ("mapped without rxbounce", False, "remap-skipped-unsafe"),
                ("mapped with rxbounce", True, "already-mapped"), ("config_info unreadable", True, "options-unknown")]


@pytest.mark.parametrize("state,may,action", REPORT_CASES)
def test_report_actions_and_dry_run(node, state, may, action, recwarn):
    n = node
    volid = f"ceph:{n['image']}"
    hints = {"guest-is-windows": True, "plugin-may-deactivate-volume": may}
    reset(n, state)
    before = map_options(n)
    plan = pvestorage.activate_volumes_report(n["cfg"], [volid], hints=hints, dry_run=True)
    assert take_log(n) == []                      # no rbd command ran
    assert map_options(n) == before               # the kernel as it was
    [p] = plan
    assert (p["volid"], p["path"], p["action"]) == (volid, n["dev"], action)
    done = pvestorage.activate_volumes_report(n["cfg"], [volid], hints=hints)
    [d] = done
    assert d["action"] == action
    assert d.get("commands") == p.get("commands")  # the plan is what ran
    assert take_log(n) == [c[1:] for c in d.get("commands") or []]   # (the log leaves out argv[0])
    assert all(c[0] == FAKE for c in d.get("commands") or [])
    if action in ("mapped", "remapped"):
        assert d["options_after"] == "name=admin,key=client.admin,rxbounce"
    if action == "remap-skipped-unsafe":
        assert d["warnings"] == [f"not unmapping volume {n['image']} to apply rxbounce since it is not safe"]
    # the upstream-compatible call is unchanged: no return value
    reset(n, state)
    assert pvestorage.activate_volumes(n["cfg"], [volid], hints=hints) is None


def test_report_failure_carries_the_records(node):
    n = node
    reset(n, "not mapped")
    with pytest.raises(pvestorage.NotFoundError) as e:
        pvestorage.activate_volumes_report(n["cfg"], [f"ceph:{n['image']}", "ceph:vm-999-disk-404"],
                                           hints={"guest-is-windows": True})
    assert [r["action"] for r in e.value.volumes] == ["mapped", "failed"]
    assert e.value.volumes[1]["error"] == \
        "rbd error: rbd: error opening image vm-999-disk-404: (2) No such file or directory"
    reset(n, "mapped without rxbounce")
    os.environ["FAKE_RBD_FAIL"] = "unmap"
    try:
        with pytest.warns(pvestorage.StorageWarning, match="could not unmap to apply rxbounce"):
            [r] = pvestorage.map_volume_report(n["cfg"], f"ceph:{n['image']}",
                                               hints={"guest-is-windows": True, "plugin-may-deactivate-volume": True})
    finally:
        os.environ.pop("FAKE_RBD_FAIL", None)
    assert r["action"] == "remap-failed"
    assert r["warnings"][0].startswith("could not unmap to apply rxbounce - can't unmap rbd device")
    reset(n, "not mapped")


class Reporting:
    type = "pyreport"
    api = 15
    plugindata = {"content": [{"images": 1}, {"images": 1}]}
    options = {"content": {"optional": 1}}
    calls = []

    def activate_volume(self, storeid, scfg, volname, snapname=None, cache=None, hints=None):
        self.calls.append(volname)


def use_reporting():
    """Register the plugin once per process (a type is registered once)."""
    if not getattr(Reporting, "registered", False):
        pvestorage.register_plugin(Reporting)
        Reporting.registered = True
    Reporting.calls = []


def test_foreign_plugin_is_not_asked_in_a_dry_run(node, tmp_path):
    use_reporting()
    cfg = pvestorage.parse_config(f"pyreport: pr\n\tcontent images\n\ndir: dd\n\tpath {tmp_path}\n\tcontent images\n")
    (tmp_path / "images/100").mkdir(parents=True)
    (tmp_path / "images/100/vm-100-disk-0.raw").write_bytes(b"")
    vols = ["pr:vm-100-disk-0", "dd:100/vm-100-disk-0.raw"]
    plan = pvestorage.activate_volumes_report(cfg, vols, dry_run=True)
    assert [r["action"] for r in plan] == ["skipped-dry-run", "activated"]
    assert Reporting.calls == []
    done = pvestorage.activate_volumes_report(cfg, vols)
    assert [r["action"] for r in done] == ["activated", "activated"]
    assert done[1]["path"] == f"{tmp_path}/images/100/vm-100-disk-0.raw"
    assert Reporting.calls == ["vm-100-disk-0"]


def test_vm_start_flow(node, tmp_path):
    """A Windows 11 guest with disks on krbd, dir and a Python plugin, a cdrom,
    an unused disk and a snapshot section: qemu-server's volumes and hints."""
    n = node
    use_reporting()
    (tmp_path / "images/100").mkdir(parents=True)
    (tmp_path / "images/100/vm-100-disk-1.qcow2").write_bytes(b"")
    cfg = pvestorage.parse_config("rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n\n"
                                  f"dir: dd\n\tpath {tmp_path}\n\tcontent images\n\n"
                                  "pyreport: pr\n\tcontent images\n")
    confdir = n["root"] / "etc/pve/qemu-server"
    confdir.mkdir(parents=True, exist_ok=True)
    (confdir / "100.conf").write_text(
        "ostype: win11\n"
        f"scsi0: ceph:{n['image']},size=8M\n"
        "virtio0: dd:100/vm-100-disk-1.qcow2\n"
        "sata0: pr:100/vm-100-disk-2.raw\n"
        "ide2: none,media=cdrom\n"
        "unused0: ceph:vm-100-disk-404\n"
        "\n[snap]\nscsi1: ceph:vm-100-disk-405\n")
    reset(n, "not mapped")
    plan = pvestorage.activate_vm_volumes(cfg, 100, True, dry_run=True)
    assert [(r["volid"], r["action"]) for r in plan] == [
        (f"ceph:{n['image']}", "mapped"), ("dd:100/vm-100-disk-1.qcow2", "activated"),
        ("pr:100/vm-100-disk-2.raw", "skipped-dry-run")]
    assert take_log(n) == [] and Reporting.calls == []
    done = pvestorage.activate_vm_volumes(cfg, 100, may_deactivate=True)
    assert [r["action"] for r in done] == ["mapped", "activated", "activated"]
    assert take_log(n) == [n["conn"] + ["map", n["image"], "--options", "rxbounce"]]
    assert Reporting.calls == ["100/vm-100-disk-2.raw"]
    # a Linux guest: no rxbounce
    (confdir / "101.conf").write_text(f"ostype: l26\nscsi0: ceph:{n['image']}\n")
    reset(n, "not mapped")
    [r] = pvestorage.activate_vm_volumes(cfg, 101)
    assert r["options_after"] == "name=admin,key=client.admin"
    # a disk on a storage that is not there: the disk key is named
    (confdir / "102.conf").write_text("ostype: win11\nscsi0: gone:vm-102-disk-0\n")
    with pytest.raises(pvestorage.NotFoundError, match="^scsi0: storage 'gone' does not exist$"):
        pvestorage.activate_vm_volumes(cfg, 102, True)
    reset(n, "not mapped")


def test_audit(node):
    """A Windows guest's disk mapped without rxbounce needs action; the fix is
    offered only while the guest is not running; remapped, all is in order."""
    n = node
    confdir = n["root"] / "etc/pve/qemu-server"
    confdir.mkdir(parents=True, exist_ok=True)
    for f in confdir.glob("*.conf"):
        f.unlink()
    volid = f"ceph:{n['image']}"
    (confdir / "300.conf").write_text(f"ostype: win10\nvirtio0: {volid}\n")
    reset(n, "mapped without rxbounce")
    res = pvestorage.audit(n["cfg"])
    assert res["needs_action"] == 1 and res["guest_errors"] == []
    [r] = res["volumes"]
    assert (r["vmid"], r["key"], r["volid"], r["device"], r["in_order"]) == (300, "virtio0", volid, "/dev/rbd0", False)
    assert r["command"] == ["pvestorage", "map", volid, "--hint", "guest-is-windows=1",
                            "--hint", "plugin-may-deactivate-volume=1"]
    runs = n["root"] / "var/run/qemu-server"
    runs.mkdir(parents=True, exist_ok=True)
    (runs / "300.pid").write_text("4242\n")
    proc = n["root"] / "proc/4242"
    proc.mkdir(parents=True, exist_ok=True)
    (proc / "stat").write_text("4242 (kvm) S 1 4242 4242 0 -1\n")
    (proc / "cmdline").write_bytes(b"/usr/bin/kvm\0-id\0" b"300\0-pidfile\0/var/run/qemu-server/300.pid\0")
    [r] = pvestorage.audit(n["cfg"])["volumes"]
    assert r["running"] is True and r["command"] is None
    assert "once the guest is shut down" in r["remedy"]
    # a pid file whose process is no QEMU of this guest (a reused pid): not running
    (proc / "cmdline").write_bytes(b"/bin/bash\0-c\0true\0")
    [r] = pvestorage.audit(n["cfg"])["volumes"]
    assert r["running"] is False and r["command"] is not None
    (runs / "300.pid").unlink()
    pvestorage.map_volume(n["cfg"], volid, hints={"guest-is-windows": True, "plugin-may-deactivate-volume": True})
    res = pvestorage.audit(n["cfg"])
    assert res["needs_action"] == 0 and res["volumes"][0]["options"] == "name=admin,key=client.admin,rxbounce"
    (confdir / "300.conf").unlink()
    reset(n, "not mapped")


def test_without_an_rbd_pve_link_the_mapped_device_is_returned(node, recwarn):
    """A host where no udev rule makes /dev/rbd-pve links: map returns the
    kernel's device and says why; the next calls find the mapping."""
    n = node
    reset(n, "not mapped")
    volid = f"ceph:{n['image']}"
    os.environ["FAKE_RBD_NO_PVE_LINK"] = "1"
    try:
        path = pvestorage.map_volume(n["cfg"], volid, hints={"guest-is-windows": True})
    finally:
        os.environ.pop("FAKE_RBD_NO_PVE_LINK", None)
    assert path == "/dev/rbd0"
    assert [str(w.message) for w in recwarn if w.category is pvestorage.StorageWarning] == [
        f"no udev rule made '{n['dev']}' (install pvestorage's or Proxmox's rule); using /dev/rbd0"]
    assert map_options(n) == "name=admin,key=client.admin,rxbounce"
    assert pvestorage.path(n["cfg"], volid) == "/dev/rbd0"
    [r] = pvestorage.map_volume_report(n["cfg"], volid, hints={"guest-is-windows": True})
    assert r["action"] == "already-mapped" and r["path"] == "/dev/rbd0"
    assert [c for c in take_log(n) if "map" in c] == [n["conn"] + ["map", n["image"], "--options", "rxbounce"]]
    pvestorage.unmap_volume(n["cfg"], volid)
    assert not os.path.exists(n["root"] / "sys/devices/rbd/0")
