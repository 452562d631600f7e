"""A Python plugin's results and exceptions are input.

- parse_volname returning () (the idiom for "not mine"), a result without a
  format or with a field that is not a str, a path that is ("", None) or not
  a str: one clear PluginError naming the class, the method and the volume,
  never a crash;
- an exception whose __str__ raises: the message says so, the exception is
  kept (the error's __cause__), nothing leaks;
- KeyboardInterrupt, SystemExit and every BaseException that is not an
  Exception propagate as themselves and stop the call (deactivate_volumes
  included), also when Ctrl-C comes while the core runs without the GIL.

The registry is per process: every type here is one no other test uses.
Run these under `-X dev` too.
"""
import os
import signal
import threading
import traceback

import pytest

import pvestorage

VOL = "100/vm-100-disk-0.raw"
MOD = __name__


class Thing:
    pass


class BadStr(Exception):
    def __str__(self):
        raise ValueError("str boom")


class Stop(BaseException):
    """A BaseException of the program's own: it stops the call too."""


class Answers:
    """A plugin whose answers each test sets."""
    type = "pyresults"
    api = pvestorage.APIVER
    calls = []
    answer = {}

    def parse_volname(self, volname):
        return self.answer.get("parse_volname", lambda v: ("images", v, "100", None, None, None, "raw"))(volname)

    def path(self, scfg, volname, storeid, snapname=None):
        return self.answer.get("path", lambda v: f"/dev/r/{v}")(volname)

    def map_volume(self, storeid, scfg, volname, snapname=None, hints=None):
        return self.answer["map_volume"](volname)

    def activate_volume(self, storeid, scfg, volname, snapname=None, cache=None, hints=None):
        self.calls.append(f"activate {volname}")
        return self.answer.get("activate_volume", lambda v: None)(volname)

    def deactivate_volume(self, storeid, scfg, volname, snapname=None, cache=None):
        self.calls.append(f"deactivate {volname}")
        return self.answer.get("deactivate_volume", lambda v: None)(volname)


class BaseLayout:
    """No path method: the base path layout takes parse_volname's result."""
    type = "pyreslayout"
    api = pvestorage.APIVER

    def parse_volname(self, volname):
        return Answers.answer["parse_volname"](volname)


CFG = {"ids": {"rs": {"type": "pyresults", "content": {"images": 1}},
               "bl": {"type": "pyreslayout", "path": "/srv/b", "content": {"images": 1}}}}


@pytest.fixture(scope="module", autouse=True)
def registered():
    pvestorage.register_plugin(Answers)
    pvestorage.register_plugin(BaseLayout)


@pytest.fixture
def answer():
    Answers.answer.clear()
    Answers.calls.clear()
    yield Answers.answer
    Answers.answer.clear()


P = f"storage plugin {MOD}.BaseLayout: parse_volname('{VOL}')"
R = f"storage plugin {MOD}.Answers"


@pytest.mark.parametrize("result,message", [
    (lambda v: (), "returned nothing"),
    (lambda v: None, "returned nothing"),
    (lambda v: ("images", v, "100"), "returned no format"),
    (lambda v: (None, v, "100", None, None, None, "raw"), "returned no vtype"),
    (lambda v: ("images", v, [100], None, None, None, "raw"), "returned a value of type list as its vmid"),
    (lambda v: ("images", v, True, None, None, None, "raw"), "returned a value of type bool as its vmid"),
    (lambda v: ("images", v, "100", None, None, None, Thing()), "returned a value of type Thing as its format"),
    (lambda v: ("images", v, "abc", None, None, None, "raw"), "returned vmid 'abc', which is not a guest ID"),
    (lambda v: ("images", v, -1, None, None, None, "raw"), "returned vmid '-1', which is not a guest ID"),
    (lambda v: ("images", "x\0y", "100", None, None, None, "raw"), "returned a name with a NUL byte"),
    (lambda v: "images", "returned a value of type str, not a tuple"),
])
def test_parse_volname_results(answer, result, message):
    answer["parse_volname"] = result
    with pytest.raises(pvestorage.PluginError) as info:
        pvestorage.path(CFG, f"bl:{VOL}")
    assert str(info.value) == f"{P} {message}"
    assert info.value.code == "EPLUGIN"
    assert info.value.__cause__ is None   # the plugin raised nothing: its result is the culprit
    with pytest.raises(pvestorage.PluginError) as info:
        pvestorage.plugin("pyreslayout").parse_volname(VOL)
    assert str(info.value) == f"{P} {message}"


def test_a_good_result_with_an_int_vmid(answer):
    answer["parse_volname"] = lambda v: ["images", "vm-100-disk-0.raw", 100, None, None, None, "raw"]
    assert pvestorage.path(CFG, f"bl:{VOL}") == "/srv/b/images/100/vm-100-disk-0.raw"
    assert pvestorage.plugin("pyreslayout").parse_volname(VOL) == \
        ("images", "vm-100-disk-0.raw", "100", None, None, None, "raw")


@pytest.mark.parametrize("method,result,message", [
    ("path", lambda v: ("", None), "returned no path"),
    ("path", lambda v: (), "returned no path"),
    ("path", lambda v: None, "returned no path"),
    ("path", lambda v: 5, "returned a value of type int as its path"),
    ("path", lambda v: {"path": "/x"}, "returned a value of type dict as its path"),
    ("path", lambda v: (b"/dev/x", None), "returned a value of type bytes as its path"),
    ("path", lambda v: BadStr(), "returned a value of type BadStr as its path"),
    ("map_volume", lambda v: None, "returned no path"),
    ("map_volume", lambda v: {"path": "/dev/x"}, "returned a value of type dict as its path"),
])
def test_path_results(answer, method, result, message):
    answer[method] = result
    with pytest.raises(pvestorage.PluginError) as info:
        if method == "path":
            pvestorage.path(CFG, "rs:vm-1")
        else:
            pvestorage.map_volume(CFG, "rs:vm-1")
    assert str(info.value) == f"{R}: {method}('vm-1') {message}"


def test_action_results(answer):
    answer["activate_volume"] = lambda v: {"action": 5}
    with pytest.raises(pvestorage.PluginError) as info:
        pvestorage.activate_volumes_report(CFG, ["rs:vm-1"])
    assert str(info.value) == f"{R}: activate_volume('vm-1') returned a value of type int as its action"
    answer["activate_volume"] = lambda v: True   # a plain value says nothing, as upstream's "return 1"
    assert pvestorage.activate_volumes_report(CFG, ["rs:vm-1"])[0]["action"] == "activated"
    answer["activate_volume"] = lambda v: {"action": "attached"}
    assert pvestorage.activate_volumes_report(CFG, ["rs:vm-1"])[0]["action"] == "attached"


def raise_(exc):
    def f(*a):
        raise exc
    return f


def test_an_exception_whose_str_raises(answer):
    answer["activate_volume"] = raise_(BadStr())
    with pytest.raises(pvestorage.PluginError) as info:
        pvestorage.activate_volumes(CFG, ["rs:vm-1", "rs:vm-2"])
    assert str(info.value) == (f"{R}: activate_volume('vm-1') raised BadStr, "
                               "and making it text raised ValueError: str boom")
    assert isinstance(info.value.__cause__, BadStr)   # the original, kept
    assert Answers.calls == ["activate vm-1"]
    answer["deactivate_volume"] = raise_(BadStr())
    with pytest.warns(pvestorage.StorageWarning) as rec, pytest.raises(pvestorage.DeactivationError):
        pvestorage.deactivate_volumes(CFG, ["rs:vm-1"])
    assert [str(w.message) for w in rec] == [
        f"{R}: deactivate_volume('vm-1') raised BadStr, and making it text raised ValueError: str boom"]


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


@pytest.mark.skipif(bool(os.environ.get("PVS_UNDER_VALGRIND")), reason="valgrind checks leaks itself")
def test_failing_calls_do_not_leak(answer):
    def fail(v):
        raise BadStr()   # a new one each time (raising one instance again grows its traceback)
    answer["activate_volume"] = fail
    answer["path"] = lambda v: ("", None)

    def rounds(n):
        for _ in range(n):
            for call in (lambda: pvestorage.activate_volumes(CFG, ["rs:vm-1"]), lambda: pvestorage.path(CFG, "rs:vm-1")):
                try:
                    call()
                except pvestorage.PluginError:
                    pass
            Answers.calls.clear()
    rounds(300)
    before = rss_kib()
    rounds(3000)
    grew = rss_kib() - before
    assert grew < 256, f"6000 failing calls: RSS grew {grew} KiB"


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3), GeneratorExit(), Stop("stop")],
                         ids=["KeyboardInterrupt", "SystemExit", "GeneratorExit", "own BaseException"])
def test_base_exceptions_propagate_and_stop(answer, exc):
    answer["activate_volume"] = raise_(exc)
    with pytest.raises(type(exc)) as info:
        pvestorage.activate_volumes(CFG, ["rs:vm-1", "rs:vm-2"])
    assert info.value is exc
    assert not isinstance(info.value, pvestorage.Error)
    assert Answers.calls == ["activate vm-1"]
    # deactivation goes on past a volume's failure, never past this
    Answers.calls.clear()
    def deactivate(v):
        if v == "vm-1":
            raise OSError(f"{v} busy")
        raise exc
    answer["deactivate_volume"] = deactivate
    with pytest.warns(pvestorage.StorageWarning) as rec, pytest.raises(type(exc)) as info:
        pvestorage.deactivate_volumes(CFG, ["rs:vm-1", "rs:vm-2", "rs:vm-3"])
    assert info.value is exc
    assert Answers.calls == ["deactivate vm-1", "deactivate vm-2"]
    assert [str(w.message) for w in rec] == ["vm-1 busy"]


def test_an_interruption_is_not_caught_by_except_exception(answer):
    answer["activate_volume"] = raise_(KeyboardInterrupt())
    caught = None
    try:
        try:
            pvestorage.activate_volumes(CFG, ["rs:vm-1"])
        except Exception as e:   # what a script's error handling catches
            caught = e
    except KeyboardInterrupt:
        caught = "interrupt"
    assert caught == "interrupt"


def test_interruptions_elsewhere_in_the_call(answer):
    answer["parse_volname"] = raise_(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        pvestorage.plugin("pyresults").parse_volname("vm-1")
    answer.clear()
    answer["path"] = raise_(SystemExit(0))   # the path of a report's record
    with pytest.raises(SystemExit):
        pvestorage.activate_volumes_report(CFG, ["rs:vm-1"])
    # path_to_volume_id asks each storage's parse_volname whether a file is
    # its volume: a refusal is "not mine", an interruption stops the call
    answer["parse_volname"] = raise_(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        pvestorage.path_to_volume_id(CFG, "/srv/b/images/100/vm-100-disk-0.raw")
    answer["parse_volname"] = raise_(ValueError("not mine"))
    assert pvestorage.path_to_volume_id(CFG, "/srv/b/images/100/vm-100-disk-0.raw") is None


class SignalFirst:
    """Its storage's activation lets a helper thread send SIGINT to the main
    thread while the core, without the GIL, activates the dir storages."""
    type = "pyressigfirst"
    api = pvestorage.APIVER
    sent = threading.Event()
    done = threading.Event()

    def activate_storage(self, storeid, scfg, cache=None):
        main = threading.main_thread().ident

        def send():
            self.sent.wait(30)
            signal.pthread_kill(main, signal.SIGINT)
            self.done.set()
        threading.Thread(target=send, daemon=True).start()
        self.sent.set()   # the thread runs once this returns and the GIL is free


class SignalLast:
    type = "pyressiglast"
    api = pvestorage.APIVER
    called = []

    def activate_storage(self, storeid, scfg, cache=None):
        self.called.append(storeid)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals are handled in the main thread only")
def test_ctrl_c_while_the_gil_is_released_stops_at_the_next_plugin(tmp_path):
    pvestorage.register_plugin(SignalFirst)
    pvestorage.register_plugin(SignalLast)
    ids = {"first": {"type": "pyressigfirst", "content": {"images": 1}}}
    for i in range(30):   # the C part in between: each dir storage's bounded check
        (tmp_path / f"d{i}").mkdir()
        ids[f"dir{i}"] = {"type": "dir", "path": str(tmp_path / f"d{i}"), "content": {"iso": 1}}
    ids["last"] = {"type": "pyressiglast", "content": {"images": 1}}
    vols = ["first:vm-1"] + [f"dir{i}:iso/x.iso" for i in range(30)] + ["last:vm-1"]
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            pvestorage.activate_volumes({"ids": ids}, vols)
        assert SignalFirst.done.wait(30)
    finally:
        signal.signal(signal.SIGINT, old)
    assert SignalLast.called == [], "the plugin after the signal was not called"
    # stopped before its code, not inside it (Python would raise it there, at its first line)
    assert [f.name for f in traceback.extract_tb(info.value.__traceback__) if f.name == "activate_storage"] == []
