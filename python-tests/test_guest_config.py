"""The VM-start flow (activate_vm_volumes) with the configuration qemu-server's
vm_start runs with: the [PENDING] section applied (ostype, an added disk, a
deletion), the last of a key given twice, qemu-server's own warnings as
StorageWarning, what a dry run applied on the "pvestorage" logger, and the
file left as it is."""
import logging
import warnings

import pvestorage


CALLS = []


def _record(self, storeid, scfg, volname, snapname=None, cache=None, hints=None):
    CALLS.append(f"{storeid}:{volname} guest-is-windows={hints['guest-is-windows']}")


# A storage whose plugin records the volumes it activates with their hints
# (a type no other test registers: the registry is per process).
GuestRecorder = type("GuestRecorder", (), {
    "type": "pyguestrec", "api": 15,
    "plugindata": {"content": [{"images": 1}, {"images": 1}]},
    "options": {"content": {"optional": 1}},
    "parse_volname": lambda self, volname: ("images", volname, "100", None, None, None, "raw"),
    "path": lambda self, scfg, volname, storeid, snapname=None: (f"/dev/pyguestrec/{volname}", "100", "images"),
    "activate_volume": _record,
})


CONF = ("ostype: l26\nscsi0: rec:vm-100-disk-0\nscsi0: rec:vm-100-disk-1\nvirtio0: rec:vm-100-disk-2\n"
        "cores: x\n\n[PENDING]\nostype: win11\nsata0: rec:vm-100-disk-3\ndelete: virtio0\n")
WARNING = "vm 100 - unable to parse value of 'cores' - type check ('integer') failed - got 'x'"


def test_start_applies_pending(tmp_path, caplog):
    pvestorage.register_plugin(GuestRecorder)
    cfg = pvestorage.parse_config("pyguestrec: rec\n\tcontent images\n", "storage.cfg")
    conf = tmp_path / "etc/pve/qemu-server/100.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(CONF)
    pvestorage.configure(root=str(tmp_path))
    try:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            done = pvestorage.activate_vm_volumes(cfg, 100, True)
        # the pending ostype gives the Windows hint; the last scsi0, the pending disk, not the deleted virtio0
        assert CALLS == ["rec:vm-100-disk-1 guest-is-windows=1",
                                       "rec:vm-100-disk-3 guest-is-windows=1"]
        assert [r["volid"] for r in done] == ["rec:vm-100-disk-1", "rec:vm-100-disk-3"]
        assert [(w.category, str(w.message)) for w in rec] == [(pvestorage.StorageWarning, WARNING)]
        with caplog.at_level(logging.INFO, logger="pvestorage"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = pvestorage.activate_vm_volumes(cfg, 100, True, dry_run=True)
        assert [r.getMessage() for r in caplog.records if r.name == "pvestorage"] == [
            "vm 100 - pending changes applied as vm_start applies them (the configuration file is not changed): "
            "ostype, sata0 set; virtio0 deleted"]
        assert [(r["volid"], r["action"]) for r in plan] == [("rec:vm-100-disk-1", "skipped-dry-run"),
                                                             ("rec:vm-100-disk-3", "skipped-dry-run")]
        assert conf.read_text() == CONF   # qemu-server would have written the applied file
    finally:
        pvestorage.configure(root="/")
