"""Storage plugins written in Python: register_plugin with Proxmox's plugin
interface, the API version check, dispatch in list order beside the C
plugins, exceptions and warnings, re-entry.

The module has one registry per process: plugins registered here stay for
the other tests, so each type here is one no other test uses, and the case
that replaces a built-in plugin runs in a child interpreter.
"""
import subprocess
import sys
import textwrap
import threading
import warnings

import pytest

import pvestorage

WIN = {"guest-is-windows": True, "plugin-may-deactivate-volume": False}


class Custom:
    """A third-party plugin: its own properties, api 15, what it is given recorded."""

    type = "pycustom"
    api = 15
    plugindata = {"content": [{"images": 1, "rootdir": 1, "none": 1}, {"images": 1}]}
    properties = {
        "py-server": {"type": "string", "format": "pve-storage-server", "description": "where"},
        "py-level": {"type": "integer", "minimum": 1, "maximum": 3, "optional": 1},
    }
    options = {"py-server": {"fixed": 1}, "py-level": {"optional": 1}, "nodes": {"optional": 1},
               "content": {"optional": 1}}
    calls = []

    def parse_volname(self, volname):
        return ("images", volname, "100", None, None, None, "raw")

    def path(self, scfg, volname, storeid, snapname=None):
        return (f"/dev/pycustom/{volname}", "100", "images")

    def activate_storage(self, storeid, scfg, cache=None):
        self.calls.append(f"activate_storage {storeid} server={scfg['py-server']}")
        cache["seen"] = "by activate_storage"

    def activate_volume(self, storeid, scfg, volname, snapname=None, cache=None, hints=None):
        h = ",".join(f"{k}={v}" for k, v in sorted((hints or {}).items()))
        self.calls.append(f"activate_volume {storeid}:{volname} snap={snapname} hints={h} "
                          f"cache={cache.get('seen')}")
        warnings.warn(f"pycustom: activating {volname}")
        if "broken" in volname:
            raise RuntimeError(f"pycustom: cannot activate {volname}")

    def deactivate_volume(self, storeid, scfg, volname, snapname=None, cache=None):
        self.calls.append(f"deactivate_volume {storeid}:{volname}")
        if "busy" in volname:
            raise OSError(f"pycustom: {volname} is busy")

    def map_volume(self, storeid, scfg, volname, snapname=None, hints=None):
        self.calls.append(f"map_volume {storeid}:{volname} hints={sorted(hints or {})}")
        return f"/dev/pycustom-mapped/{volname}"

    def get_identity(self, scfg, storeid):
        # API 14, upstream's argument order: (scfg, storeid)
        if "py-level" not in scfg:
            raise LookupError(f"pycustom: {storeid} has no array")
        return f"array-{scfg['py-server']}-{storeid}"


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    d = tmp_path_factory.mktemp("plugins")
    (d / "d1/template/iso").mkdir(parents=True)
    (d / "d1/template/iso/x.iso").write_bytes(b"")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pvestorage.register_plugin(Custom)   # api 15: no warning
    return pvestorage.parse_config(
        "pycustom: fast\n\tpy-server 192.0.2.9\n\tpy-level 2\n\n"
        f"dir: d1\n\tpath {d}/d1\n\tcontent iso,images\n"), d


def test_sections_parse_with_its_schema(cfg):
    c, _ = cfg
    assert c["ids"]["fast"] == {"type": "pycustom", "py-server": "192.0.2.9", "py-level": 2,
                                "content": {"images": 1}}
    with pytest.warns(pvestorage.StorageWarning) as rec:
        bad = pvestorage.parse_config("pycustom: slow\n\tpy-server not a server\n\tpy-level 9\n", "storage.cfg")
    assert [str(w.message) for w in rec] == [
        "file storage.cfg line 2 (section 'slow') - unable to parse value of 'py-server': invalid format - "
        "value does not look like a valid server name or IP address\n",
        "file storage.cfg line 3 (section 'slow') - unable to parse value of 'py-level': "
        "value must have a maximum value of 3",
        "file storage.cfg line 3 (skip section 'slow'): missing value for required option 'py-server'"]
    assert bad["ids"]["slow"] is None


def test_list_order_hints_and_cache(cfg):
    c, _ = cfg
    Custom.calls.clear()
    with pytest.warns(UserWarning) as rec:
        pvestorage.activate_volumes(c, ["fast:vm-100-disk-0", "d1:iso/x.iso", "fast:vm-100-disk-1"], hints=WIN)
    h = "guest-is-windows=True,plugin-may-deactivate-volume=False"
    assert Custom.calls == [
        "activate_storage fast server=192.0.2.9",
        f"activate_volume fast:vm-100-disk-0 snap=None hints={h} cache=by activate_storage",
        f"activate_volume fast:vm-100-disk-1 snap=None hints={h} cache=by activate_storage"]
    assert [str(w.message) for w in rec] == ["pycustom: activating vm-100-disk-0",
                                            "pycustom: activating vm-100-disk-1"]


def test_hints_are_the_callers_object(cfg):
    c, _ = cfg
    seen = []
    orig = Custom.activate_volume
    Custom.activate_volume = lambda self, *a, hints=None, **k: seen.append(hints)
    try:
        pvestorage.activate_volumes(c, ["fast:vm-100-disk-0"], hints=WIN)
    finally:
        Custom.activate_volume = orig
    assert seen[0] is WIN


def test_an_exception_stops_the_call_and_is_chained(cfg):
    c, _ = cfg
    Custom.calls.clear()
    with pytest.warns(UserWarning), pytest.raises(pvestorage.PluginError) as info:
        pvestorage.activate_volumes(c, ["fast:vm-100-disk-0", "fast:vm-100-broken", "d1:iso/missing.iso"],
                                    hints=WIN)
    assert str(info.value) == "pycustom: cannot activate vm-100-broken"
    assert isinstance(info.value.__cause__, RuntimeError)
    assert info.value.code == "EPLUGIN"
    assert len([x for x in Custom.calls if x.startswith("activate_volume")]) == 2


def test_map_path_and_deactivate(cfg):
    c, _ = cfg
    assert pvestorage.map_volume(c, "fast:vm-100-disk-0", hints=WIN) == "/dev/pycustom-mapped/vm-100-disk-0"
    assert pvestorage.path(c, "fast:vm-100-disk-0") == "/dev/pycustom/vm-100-disk-0"
    assert pvestorage.plugin("pycustom").parse_volname("vm-1") == ("images", "vm-1", "100", None, None, None, "raw")
    Custom.calls.clear()
    with pytest.warns(pvestorage.StorageWarning) as rec, pytest.raises(pvestorage.DeactivationError) as info:
        pvestorage.deactivate_volumes(c, ["fast:vm-100-busy", "fast:vm-100-disk-0"])
    assert str(info.value) == "volume deactivation failed: fast:vm-100-busy"
    assert [str(w.message) for w in rec] == ["pycustom: vm-100-busy is busy"]
    assert len(Custom.calls) == 2


def test_plugin_calls_back_into_pvestorage(cfg):
    c, d = cfg
    seen = []

    def activate(self, storeid, scfg, volname, snapname=None, cache=None, hints=None):
        seen.append(pvestorage.path(c, "d1:iso/x.iso"))
        # and from another thread, while this call is under way: nothing is held
        t = threading.Thread(target=lambda: seen.append(pvestorage.parse_volume_id("fast:x")))
        t.start()
        t.join(10)

    orig = Custom.activate_volume
    Custom.activate_volume = activate
    try:
        pvestorage.activate_volumes(c, ["fast:vm-100-disk-0"])
    finally:
        Custom.activate_volume = orig
    assert seen == [f"{d}/d1/template/iso/x.iso", ("fast", "x")]


def test_a_nested_failure_is_the_cause(cfg):
    c, _ = cfg

    def activate(self, storeid, scfg, volname, snapname=None, cache=None, hints=None):
        pvestorage.activate_volumes(c, ["fast:vm-100-broken"])

    orig = Custom.activate_volume
    Custom.activate_volume = activate
    try:
        with pytest.raises(pvestorage.PluginError) as info:
            pvestorage.activate_volumes(c, ["fast:vm-100-disk-0"])
    finally:
        Custom.activate_volume = orig
    assert isinstance(info.value.__cause__, pvestorage.PluginError)


def test_a_warning_filter_that_raises_stops_the_call(cfg):
    c, _ = cfg
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(pvestorage.PluginError) as info:
            pvestorage.activate_volumes(c, ["fast:vm-100-disk-0"])
    assert str(info.value) == "pycustom: activating vm-100-disk-0"
    assert isinstance(info.value.__cause__, UserWarning)


@pytest.mark.parametrize("api,error,warning", [
    (15, None, None),
    (14, None, 'Plugin "test_plugins.Old14" is implementing an older storage API, an upgrade is recommended'),
    (9, None, 'Plugin "test_plugins.Old9" is implementing an older storage API, an upgrade is recommended'),
    (16, "implements an API version newer than current (16 > 15)", None),
    (8, "API version too old, please update the plugin (8 < 9)", None),
])
def test_api_versions(api, error, warning):
    cls = type(f"Old{api}", (), {"type": f"pyapi{api}", "api": api, "activate_volume": lambda self, *a, **k: None,
                                 "__module__": "test_plugins"})
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        if error:
            with pytest.raises(pvestorage.PluginAPIError) as info:
                pvestorage.register_plugin(cls)
            assert str(info.value) == error
        else:
            pvestorage.register_plugin(cls)
    assert [str(w.message) for w in rec] == ([warning] if warning else [])


def test_bad_classes():
    with pytest.raises(pvestorage.PluginAPIError, match="^does not provide an api\\(\\) method$"):
        pvestorage.register_plugin(type("NoApi", (), {"type": "pynoapi"}))
    with pytest.raises(TypeError, match="type must be a non-empty str"):
        pvestorage.register_plugin(type("NoType", (), {"api": 15}))
    with pytest.raises(pvestorage.InvalidError, match="^duplicate property 'pool'$"):
        pvestorage.register_plugin(type("Clash", (), {"type": "pyclash", "api": 15,
                                                      "properties": {"pool": {"type": "string"}}}))
    with pytest.raises(pvestorage.InvalidError, match="^duplicate storage plugin type 'pycustom'$"):
        pvestorage.register_plugin(Custom)


def test_replacing_a_builtin_plugin():
    # in a child interpreter: the registry is per process
    code = textwrap.dedent("""
        import pvestorage
        class PyDir:
            type = "dir"
            api = 15
            properties = {"path": {"type": "string", "format": "pve-storage-path"}}
            options = {"path": {"fixed": 1}, "content": {"optional": 1}}
            plugindata = {"content": [{"iso": 1, "images": 1}, {"images": 1}]}
            seen = []
            def activate_volume(self, storeid, scfg, volname, snapname=None, cache=None, hints=None):
                self.seen.append(volname)
        pvestorage.register_plugin(PyDir)
        cfg = pvestorage.parse_config("dir: d1\\n\\tpath /nonexistent\\n\\tcontent iso\\n")
        pvestorage.activate_volumes(cfg, ["d1:iso/not-there.iso"])
        print(PyDir.seen)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "['iso/not-there.iso']"


class Attaching:
    """Says what it did: its own action in a reporting call."""
    type = "pyattach"
    api = 15
    plugindata = {"content": [{"images": 1}, {"images": 1}]}

    def activate_volume(self, storeid, scfg, volname, snapname=None, cache=None, hints=None):
        return {"action": "attached"}


class Passive:
    """Has no activate_volume (only deactivate_volume): nothing was done for
    its volumes."""
    type = "pypassive"
    api = 15
    plugindata = {"content": [{"images": 1}, {"images": 1}]}

    def deactivate_volume(self, storeid, scfg, volname, snapname=None, cache=None):
        pass


def test_plugin_actions_in_a_report():
    pvestorage.register_plugin(Attaching)
    pvestorage.register_plugin(Passive)
    cfg = pvestorage.parse_config("pyattach: at\n\npypassive: pa\n")
    vols = ["at:100/vm-100-disk-0.raw", "pa:100/vm-100-disk-1.raw"]
    assert [r["action"] for r in pvestorage.activate_volumes_report(cfg, vols)] == ["attached", "not-implemented"]
    # the upstream-compatible call ignores what the plugin returned
    assert pvestorage.activate_volumes(cfg, vols) is None
    assert [r["action"] for r in pvestorage.activate_volumes_report(cfg, vols, dry_run=True)] == \
        ["skipped-dry-run", "skipped-dry-run"]


def test_get_identity(cfg):
    """API 14: the plugin's answer, its exception, and upstream's base die
    for a plugin without one (the C dir plugin, as upstream's DirPlugin)."""
    c, _ = cfg
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pvestorage.get_identity(c, "fast") == "array-192.0.2.9-fast"
    slow = {"ids": {"slow": {"type": "pycustom", "py-server": "x"}}}
    with pytest.raises(pvestorage.PluginError) as info:
        pvestorage.get_identity(slow, "slow")
    assert str(info.value) == "pycustom: slow has no array"
    assert isinstance(info.value.__cause__, LookupError)
    with pytest.raises(pvestorage.PluginError) as info:
        pvestorage.get_identity(c, "d1")
    assert str(info.value) == "get_identity not implemented for this plugin"
    assert info.value.code == "EPLUGIN"
    with pytest.raises(pvestorage.NotFoundError) as info:
        pvestorage.get_identity(c, "nope")
    assert str(info.value) == "storage 'nope' does not exist"
    with pytest.raises(pvestorage.PluginError) as info:
        pvestorage.plugin("dir").get_identity(c["ids"]["d1"], "d1")
    assert str(info.value) == "get_identity not implemented for this plugin"
