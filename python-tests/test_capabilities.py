"""What a Python plugin says it can do (pvestorage_capabilities): one that
honours a dry run is asked in one and sees pvestorage.dry_run() true; any
other is not called (skipped-dry-run); an unknown capability is refused at
registration."""
import pytest

import pvestorage


class Images:
    """a storage of images whose names are all guest 100's"""
    api = 15
    plugindata = {"content": [{"images": 1}, {"images": 1}]}
    options = {"content": {"optional": 1}}

    def parse_volname(self, volname):
        return ("images", volname, "100", None, None, None, "raw")


class DryRunner(Images):
    type = "pydryrunner"
    pvestorage_capabilities = ["dry_run"]
    seen = []

    def activate_volume(self, storeid, scfg, volname, snapname=None, cache=None, hints=None):
        DryRunner.seen.append((volname, pvestorage.dry_run()))
        return {"action": "would-attach" if pvestorage.dry_run() else "attached"}


class Careless(Images):
    type = "pycareless"
    seen = []

    def activate_volume(self, storeid, scfg, volname, snapname=None, cache=None, hints=None):
        Careless.seen.append(volname)


pvestorage.register_plugin(DryRunner)
pvestorage.register_plugin(Careless)
CFG = pvestorage.parse_config("pydryrunner: dr\n\tcontent images\n\npycareless: ca\n\tcontent images\n")


def test_outside_a_call_no_dry_run():
    assert pvestorage.dry_run() is False


def test_only_a_capable_plugin_is_asked_in_a_dry_run():
    DryRunner.seen.clear()
    Careless.seen.clear()
    r = pvestorage.activate_volumes_report(CFG, ["dr:vm-1", "ca:vm-2"], dry_run=True)
    assert [(x["volid"], x["action"]) for x in r] == [("dr:vm-1", "would-attach"), ("ca:vm-2", "skipped-dry-run")]
    assert DryRunner.seen == [("vm-1", True)]
    assert Careless.seen == []


def test_a_real_run_asks_both():
    DryRunner.seen.clear()
    Careless.seen.clear()
    r = pvestorage.activate_volumes_report(CFG, ["dr:vm-1", "ca:vm-2"])
    assert [(x["volid"], x["action"]) for x in r] == [("dr:vm-1", "attached"), ("ca:vm-2", "activated")]
    assert DryRunner.seen == [("vm-1", False)] and Careless.seen == ["vm-2"]


@pytest.mark.parametrize("caps, message", [
    (["dry_run", "fly"], "pvestorage_capabilities: unknown capability 'fly' (known: dry_run)"),
    ("dry_run", "pvestorage_capabilities must be a list of names"),
])
def test_a_bad_declaration_is_refused(caps, message):
    class Flyer:
        type = "pyflyer"
        api = 15
        pvestorage_capabilities = caps
    with pytest.raises(pvestorage.InvalidError) as e:
        pvestorage.register_plugin(Flyer)
    assert str(e.value) == message
    with pytest.raises(pvestorage.NotFoundError):
        pvestorage.plugin("pyflyer")   # not registered
