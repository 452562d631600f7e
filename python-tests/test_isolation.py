"""Interpreter isolation: each (sub)interpreter that imports pvestorage has
its own module, context and plugins (multi-phase init, module state, the
per-call state handed through the core instead of thread-local variables),
and a Python plugin runs on the thread state of the call that reached it
-- so its exception is chained to that call's error there, too."""
import os

import pytest

import pvestorage

si = pytest.importorskip("_xxsubinterpreters", reason="this Python has no subinterpreter module")

pytestmark = pytest.mark.skipif(bool(os.environ.get("PVS_UNDER_VALGRIND")),
                                reason="subinterpreters under valgrind take minutes")

SUB = r'''
import pvestorage
class P:
    type = "subtype"
    api = 15
    def path(self, scfg, volname, storeid=None, snapname=None):
        return "/sub/" + volname
    def get_identity(self, scfg, storeid):
        raise LookupError("no array here")
pvestorage.register_plugin(P)
cfg = {"ids": {"st": {"type": "subtype"}}}
out = [pvestorage.path(cfg, "st:vm-1")]
try:
    pvestorage.get_identity(cfg, "st")
except pvestorage.PluginError as e:
    out += [str(e), type(e.__cause__).__name__]
try:
    pvestorage.plugin("maintype")
except pvestorage.NotFoundError:
    out.append("no maintype")
with open(OUT, "w") as f:
    f.write("\n".join(out))
'''


class Main:
    type = "maintype"
    api = 15

    def path(self, scfg, volname, storeid=None, snapname=None):
        return "/main/" + volname


def test_a_subinterpreter_has_its_own_module_and_plugins(tmp_path):
    pvestorage.register_plugin(Main)
    out = tmp_path / "out"
    interp = si.create()
    try:
        si.run_string(interp, f"OUT = {str(out)!r}\n" + SUB)
    finally:
        si.destroy(interp)
    assert out.read_text().split("\n") == ["/sub/vm-1", "no array here", "LookupError", "no maintype"]
    with pytest.raises(pvestorage.NotFoundError):
        pvestorage.plugin("subtype")   # registered there, not here
    assert pvestorage.path({"ids": {"mt": {"type": "maintype"}}}, "mt:vm-2") == "/main/vm-2"


class RaisingNames:
    type = "pyraisingnames"
    api = 15

    def parse_volname(self, volname):
        raise KeyError(f"no such name {volname}")


def test_the_call_state_reaches_a_parse_volname_too():
    """parse_volname's slot has no call; the core hands the plugin its call
    all the same, so the exception is kept and chained to the error."""
    pvestorage.register_plugin(RaisingNames)
    cfg = {"ids": {"rn": {"type": "pyraisingnames"}}}
    for call in (lambda: pvestorage.plugin("pyraisingnames").parse_volname("zz"),
                 lambda: pvestorage.path(cfg, "rn:zz")):
        with pytest.raises(pvestorage.PluginError) as e:
            call()
        assert isinstance(e.value.__cause__, KeyError)
        assert "no such name zz" in str(e.value)
