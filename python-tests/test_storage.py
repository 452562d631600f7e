"""Configuration reading, dir storage on tmp_path, plugin objects, the
exception hierarchy, warnings and settings."""
import pytest

import pvestorage

GW = "guest-is-windows"
PM = "plugin-may-deactivate-volume"
WIN = {GW: True, PM: True}


@pytest.fixture
def cfg(tmp_path):
    text = (f"dir: store\n\tpath {tmp_path}/local\n\tcontent images,iso\n\n"
            f"dir: off\n\tpath {tmp_path}/off\n\tdisable 1\n")
    (tmp_path / "storage.cfg").write_text(text)
    return pvestorage.read_config(str(tmp_path / "storage.cfg"))


def test_read_config_shape(cfg, tmp_path):
    assert cfg == {
        "ids": {
            "store": {"type": "dir", "path": f"{tmp_path}/local", "content": {"images": 1, "iso": 1}},
            "off": {"type": "dir", "path": f"{tmp_path}/off", "disable": 1,
                    "content": {"images": 1, "rootdir": 1}},
            # every node has 'local': upstream's parser adds it
            "local": {"type": "dir", "path": "/var/lib/vz", "priority": 0, "prune-backups": "keep-all=1",
                      "content": {"backup": 1, "images": 1, "iso": 1, "rootdir": 1, "snippets": 1,
                                  "vztmpl": 1}},
        },
        "order": {"store": 1, "off": 2},
    }


def test_read_config_warnings(tmp_path):
    f = tmp_path / "storage.cfg"
    f.write_text("dir: a1\n\tpath /a\n\tfrob 1\n\nzfs: z1\n\tpool x\n\nwidget: w1\n\tpool x\n")
    with pytest.warns(pvestorage.StorageWarning) as rec:
        cfg = pvestorage.read_config(str(f))
    assert [str(w.message) for w in rec] == [
        f"file {f} line 3 (section 'a1') - unable to parse value of 'frob': unknown property type",
        f"file {f} line 6 (skip section 'z1'): missing value for required option 'portal'",
        f"file {f} line 8 (skip section 'w1'): unsupported type 'widget'",
    ]
    assert list(cfg["ids"]) == ["a1", "z1", "local"]
    assert cfg["ids"]["z1"] is None   # upstream keeps a skipped section as undef


def test_read_config_missing(tmp_path):
    with pytest.raises(pvestorage.NotFoundError) as info:
        pvestorage.read_config(str(tmp_path / "nope.cfg"))
    assert str(info.value) == f"unable to read '{tmp_path}/nope.cfg' - No such file or directory"
    assert isinstance(info.value, LookupError)


def test_activate_and_map(cfg, tmp_path):
    vol = "store:100/vm-100-disk-0.raw"
    with pytest.raises(pvestorage.NotFoundError) as info:
        pvestorage.activate_volumes(cfg, [vol], hints=WIN)
    assert str(info.value) == f"volume '{vol}' does not exist"
    assert (tmp_path / "local" / "images").is_dir()
    disk = tmp_path / "local" / "images" / "100" / "vm-100-disk-0.raw"
    disk.parent.mkdir(parents=True)
    disk.write_bytes(b"")
    assert pvestorage.activate_volumes(cfg, [vol], hints=WIN) is None
    assert pvestorage.activate_volumes(cfg, (vol,), None, WIN) is None
    assert pvestorage.map_volume(cfg, vol, hints=WIN) == str(disk)
    assert pvestorage.path(cfg, vol) == str(disk)
    assert pvestorage.unmap_volume(cfg, vol) is None
    assert pvestorage.deactivate_volumes(cfg, [vol]) is None


def test_errors_and_hierarchy(cfg):
    vol = "store:100/vm-100-disk-0.raw"
    with pytest.raises(pvestorage.HintError) as info:
        pvestorage.activate_volumes(cfg, [vol], hints={GW: "yes"})
    assert str(info.value) == ("internal error - hints are not valid: 400 Parameter verification failed.\n"
                               "guest-is-windows: type check ('boolean') failed - got 'yes'")
    with pytest.raises(pvestorage.StorageError, match="^storage 'off' is disabled$"):
        pvestorage.activate_volumes(cfg, ["off:iso/x.iso"])
    with pytest.raises(LookupError, match="^storage 'nope' does not exist$"):
        pvestorage.map_volume(cfg, "nope:iso/x.iso")
    with pytest.raises(pvestorage.InvalidError) as info:
        pvestorage.map_volume(cfg, "garbage")
    assert str(info.value) == "unable to parse volume ID 'garbage'"
    assert isinstance(info.value, ValueError) and info.value.code == "EINVAL"
    with pytest.raises(pvestorage.InvalidError, match="^unable to parse directory volume name 'snippets/..'$"):
        pvestorage.map_volume(cfg, "store:snippets/..")
    with pytest.raises(pvestorage.InvalidError, match="^can't snapshot this image format$"):
        pvestorage.map_volume(cfg, vol, snapname="s1")
    with pytest.raises(pvestorage.InvalidError, match=r"^volume ID 'store:x\\0y' contains a NUL byte$"):
        pvestorage.path(cfg, "store:x\0y")
    with pytest.raises(TypeError):
        pvestorage.activate_volumes(cfg, vol)   # a str is not a list of IDs
    with pytest.raises(TypeError):
        pvestorage.map_volume("cfg", vol)
    # an empty list does nothing, not even check the hints (as upstream)
    assert pvestorage.activate_volumes(cfg, [], hints={"bogus": 1}) is None
    for cls in (pvestorage.HintError, pvestorage.InvalidError, pvestorage.NotFoundError,
                pvestorage.CommandError, pvestorage.StorageError, pvestorage.PluginAPIError,
                pvestorage.TimeoutError, pvestorage.ClusterError, pvestorage.DeactivationError):
        assert issubclass(cls, pvestorage.Error)
    assert issubclass(pvestorage.TimeoutError, TimeoutError)
    assert issubclass(pvestorage.StorageWarning, UserWarning)
    err = pvestorage.CommandError("x")
    assert isinstance(err, pvestorage.Error)


class Busy:
    """A plugin whose volumes cannot be deactivated."""
    type = "pybusy"
    api = 15

    def deactivate_volume(self, storeid, scfg, volname, snapname=None, cache=None):
        raise OSError(f"can't deactivate {volname} - device busy")


@pytest.fixture
def busy_cfg(cfg):
    if not _registered("pybusy"):
        pvestorage.register_plugin(Busy)
    return {"ids": dict(cfg["ids"], busy={"type": "pybusy"}), "order": cfg["order"]}


def _registered(t):
    try:
        return pvestorage.plugin(t) is not None
    except pvestorage.NotFoundError:
        return False


def test_dir_deactivates_any_name(cfg):
    # upstream's dir plugin does nothing on deactivation, whatever the name
    assert pvestorage.deactivate_volumes(cfg, ["store:junk1", "store:100/vm-100-disk-0.raw"]) is None


def test_deactivate_warns_and_raises(busy_cfg):
    vol = "store:100/vm-100-disk-0.raw"
    with pytest.warns(pvestorage.StorageWarning) as rec:
        with pytest.raises(pvestorage.DeactivationError) as info:
            pvestorage.deactivate_volumes(busy_cfg, ["busy:junk1", vol, "busy:junk2"])
    assert str(info.value) == "volume deactivation failed: busy:junk1 busy:junk2"
    assert [str(w.message) for w in rec] == [
        "can't deactivate junk1 - device busy",
        "can't deactivate junk2 - device busy",
    ]


def test_warning_as_error_wins(busy_cfg):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", pvestorage.StorageWarning)
        with pytest.raises(pvestorage.StorageWarning, match="junk1"):
            pvestorage.deactivate_volumes(busy_cfg, ["busy:junk1", "busy:junk2"])


def test_caller_data_untouched(cfg, tmp_path):
    import copy
    before = copy.deepcopy(cfg)
    hints = dict(WIN)
    pvestorage.map_volume(cfg, "store:iso/x.iso", hints=hints)
    assert cfg == before
    assert hints == WIN


def test_plugin_objects(cfg, tmp_path):
    p = pvestorage.plugin("dir")
    assert p.type == "dir" and p.api == 15
    assert repr(p) == "<pvestorage plugin 'dir' (API 15)>"
    with pytest.raises(LookupError, match="^unknown storage type 'nosuchtype'$"):
        pvestorage.plugin("nosuchtype")
    with pytest.raises(TypeError):
        pvestorage.Plugin()
    assert p.parse_volname("100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2") == (
        "images", "vm-101-disk-0.qcow2", "101", "base-100-disk-0.qcow2", "100", None, "qcow2")
    assert p.parse_volname("iso/x.iso") == ("iso", "x.iso", None, None, None, None, "raw")
    with pytest.raises(pvestorage.InvalidError, match="^unable to parse directory volume name 'bogus'$"):
        p.parse_volname("bogus")
    scfg = cfg["ids"]["store"]
    disk = tmp_path / "local" / "images" / "100" / "vm-100-disk-0.raw"
    assert p.path(scfg, "100/vm-100-disk-0.raw", "store") == str(disk)
    assert p.path(scfg, "iso/x.iso") == f"{tmp_path}/local/template/iso/x.iso"
    p.activate_storage("store", scfg)
    assert (tmp_path / "local" / "template" / "iso").is_dir()
    with pytest.raises(pvestorage.NotFoundError, match="^volume 'store:100/vm-100-disk-0.raw' does not exist$"):
        p.activate_volume("store", scfg, "100/vm-100-disk-0.raw", None, None, WIN)
    disk.parent.mkdir(parents=True)
    disk.write_bytes(b"")
    assert p.activate_volume("store", scfg, "100/vm-100-disk-0.raw", hints=WIN) is None
    assert p.map_volume("store", scfg, "100/vm-100-disk-0.raw", None, WIN) == str(disk)
    assert p.unmap_volume("store", scfg, "100/vm-100-disk-0.raw") is None
    assert p.deactivate_volume("store", scfg, "100/vm-100-disk-0.raw", cache={}) is None
    with pytest.raises(pvestorage.InvalidError, match="^storage definition has no path$"):
        p.map_volume("x", {"type": "dir"}, "iso/x.iso")


def test_settings(tmp_path):
    old = pvestorage.settings()
    try:
        pvestorage.configure(root=str(tmp_path), kernel_version="5.15", ceph_timeout=5)
        s = pvestorage.settings()
        assert s["root"] == str(tmp_path) and s["kernel_version"] == "5.15" and s["ceph_timeout"] == "5"
        with pytest.raises(pvestorage.InvalidError) as info:
            pvestorage.configure(root="/elsewhere", colour="blue")
        assert str(info.value) == ("unknown setting 'colour' (known: root, rbd_command, "
                                   "ceph_timeout, kernel_version)")
        assert pvestorage.settings() == s   # nothing changed
        with pytest.raises(pvestorage.InvalidError, match=r"^invalid value for setting 'ceph_timeout'"):
            pvestorage.configure(ceph_timeout="soon")
        with pytest.raises(TypeError):
            pvestorage.configure("root")
    finally:
        pvestorage.configure(**old)
    assert pvestorage.settings() == old


def test_docstrings_have_signatures():
    assert pvestorage.map_volume.__text_signature__ == "(cfg, volid, snapname=None, hints=None)"
    assert pvestorage.verify_hints.__text_signature__ == "(hints, noerr=False)"
    assert "STOREID:VOLNAME" in pvestorage.parse_volume_id.__doc__


def test_type_without_plugin_is_one_clear_error(cfg):
    """A node's configuration as upstream's parser gives it: a type with no
    plugin here fails the call, naming the storage and the type."""
    node_cfg = {"ids": dict(cfg["ids"], **{"pbs1": {"type": "pbs", "server": "192.0.2.9",
                                                    "datastore": "store1"}})}
    with pytest.raises(pvestorage.NotFoundError) as info:
        pvestorage.activate_volumes(node_cfg, ["store:iso/x.iso", "pbs1:backup/vm/100/2025-01-01T00:00:00Z"])
    assert str(info.value) == ("storage 'pbs1' has type 'pbs', for which no plugin is "
                               "registered (a plugin can be registered for it)")


def test_path_to_volume_id_and_get_subdir(cfg, tmp_path):
    iso = tmp_path / "local" / "template" / "iso" / "x.iso"
    assert pvestorage.path_to_volume_id(cfg, str(iso)) == ("iso", "store:iso/x.iso")
    assert pvestorage.path_to_volume_id(cfg, "/etc/passwd") is None
    assert pvestorage.path_to_volume_id(cfg, "store:iso/x.iso") == ("iso", "store:iso/x.iso")
    with pytest.raises(pvestorage.InvalidError, match="^unable to parse directory volume name 'junk'$"):
        pvestorage.path_to_volume_id(cfg, "store:junk")
    assert pvestorage.get_subdir(cfg["ids"]["store"], "iso") == f"{tmp_path}/local/template/iso"
    with pytest.raises(pvestorage.InvalidError, match="^unknown vtype 'none'$"):
        pvestorage.get_subdir(cfg["ids"]["store"], "none")
