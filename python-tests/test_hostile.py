"""Hostile input through the Python binding: bytes that are not UTF-8 in
warnings, errors and results, keys that are not str, structures that share
or nest sub-structures, files that are not files, and Python code (a
warnings handler) calling back into the module during a call.  Whatever
could hang runs in a child interpreter with a timeout, so a regression
fails instead of hanging the suite."""
import os
import subprocess
import sys
import textwrap

import pytest

import pvestorage

GW = "guest-is-windows"
HDR = "internal error - hints are not valid: 400 Parameter verification failed.\n"


def run_child(code, timeout=60):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, timeout=timeout,
                          capture_output=True, text=True)


def test_warning_with_a_non_utf8_byte_from_bytes():
    with pytest.warns(pvestorage.StorageWarning) as rec:
        cfg = pvestorage.parse_config(b"\xff\n")
    assert cfg["order"] == {} and list(cfg["ids"]) == ["local"]   # only the implicit local
    assert [str(w.message) for w in rec] == ["file - line 1 - ignore config line: \udcff"]


def test_warning_with_a_latin1_byte_from_a_file(tmp_path):
    f = tmp_path / "storage.cfg"
    f.write_bytes(b"dir: a1\n\tpath /a\n\tcaf\xe9 1\n")
    with pytest.warns(pvestorage.StorageWarning) as rec:
        cfg = pvestorage.read_config(str(f))
    assert [str(w.message) for w in rec] == [
        f"file {f} line 3 (section 'a1') - unable to parse value of 'caf\udce9': "
        "unknown property type"]
    assert list(cfg["ids"]) == ["a1", "local"]


def test_surrogates_go_back_as_the_same_bytes():
    # a volume ID with an undecodable byte, as os.fsdecode would give it
    assert pvestorage.parse_volume_id("a1:vm-\udcff") == ("a1", "vm-\udcff")
    with pytest.raises(pvestorage.HintError) as info:
        pvestorage.verify_hints({GW: "\udcff"})
    assert str(info.value) == f"{HDR}{GW}: type check ('boolean') failed - got '\udcff'"
    with pytest.raises(pvestorage.HintError) as info:
        pvestorage.verify_hints({"x\udcfe": 1})
    assert str(info.value).endswith("\nx\udcfe: property is not defined in schema and the schema "
                                    "does not allow additional properties")


def test_non_str_keys_are_a_type_error_naming_the_key():
    class Sneaky:
        def __repr__(self):
            return GW
    with pytest.raises(TypeError, match=r"hints: keys must be str, not Sneaky: guest-is-windows"):
        pvestorage.verify_hints({Sneaky(): True})
    with pytest.raises(TypeError, match=r"hints: keys must be str, not int: 1"):
        pvestorage.verify_hints({1: True, "1": True})
    with pytest.raises(TypeError, match=r"hints: keys must be str, not int: 1"):
        pvestorage.verify_hints({1: True}, noerr=True)   # bad input, not a failed verification
    with pytest.raises(TypeError, match=r"cfg: keys must be str, not tuple: \(1, 2\)"):
        pvestorage.path({"ids": {"a1": {"type": "dir", (1, 2): 1}}}, "a1:x")


def test_shared_sub_structures_are_converted_once():
    # 2**64 paths, 64 distinct lists: conversion must follow the lists, not the paths
    res = run_child("""
        import pvestorage
        x = [0]
        for i in range(64):
            x = [x, x]
        try:
            pvestorage.verify_hints({"guest-is-windows": x})
        except pvestorage.HintError as e:
            print(str(e).splitlines()[1])
        d = {"type": "dir", "path": "/nonexistent", "content": {"images": 1}}
        for i in range(64):
            d = {"type": "dir", "path": "/nonexistent", "a": d, "b": d}
        try:
            pvestorage.path({"ids": {"s1": d}}, "s1:100/vm-100-disk-0.raw")
        except pvestorage.Error as e:
            print(type(e).__name__)
        else:
            print("path ok")
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "guest-is-windows: type check ('boolean') failed - got ARRAY"
    assert res.stdout.splitlines()[1] == "path ok"


def test_shared_is_not_a_cycle_but_a_cycle_is():
    shared = {"k": 1}
    assert pvestorage.verify_hints({GW: True}) is not None
    with pytest.raises(pvestorage.HintError) as info:
        pvestorage.verify_hints({GW: [shared, shared]})
    assert str(info.value) == f"{HDR}{GW}: type check ('boolean') failed - got ARRAY"
    loop = [shared]
    loop.append([loop])
    with pytest.raises(pvestorage.HintError) as info:
        pvestorage.verify_hints({GW: loop})
    assert str(info.value) == f"{HDR}_root: data structure contains recursive cycles"


def test_configure_from_a_warnings_handler_does_not_deadlock(tmp_path):
    f = tmp_path / "storage.cfg"
    f.write_text("dir: a1\n\tpath /a\n\tfrob 1\n")
    res = run_child(f"""
        import warnings, pvestorage
        seen = []
        def handler(message, category, filename, lineno, file=None, line=None):
            pvestorage.configure(ceph_timeout=7, kernel_version="5.15")
            seen.append(str(message))
        warnings.showwarning = handler
        warnings.simplefilter("always")
        cfg = pvestorage.read_config({str(f)!r})
        print(len(seen), sorted(cfg["ids"]), pvestorage.settings()["ceph_timeout"])
    """, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1", "['a1',", "'local']", "7"]


def test_configure_is_all_or_nothing():
    before = pvestorage.settings()
    with pytest.raises(pvestorage.InvalidError):
        pvestorage.configure(ceph_timeout=9, kernel_version="x")
    assert pvestorage.settings() == before


@pytest.mark.parametrize("what", ["fifo", "/dev/zero", "directory"])
def test_config_must_be_a_regular_file(tmp_path, what):
    if what == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    elif what == "directory":
        path = tmp_path
    else:
        path = what
    res = run_child(f"""
        import pvestorage
        try:
            pvestorage.read_config({str(path)!r})
        except pvestorage.Error as e:
            print(e)
    """, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"unable to read '{path}' - not a regular file"


def test_config_size_cap(tmp_path):
    f = tmp_path / "storage.cfg"
    with open(f, "wb") as fh:
        fh.truncate(17 << 20)
    with pytest.raises(pvestorage.Error) as info:
        pvestorage.read_config(str(f))
    assert str(info.value) == f"unable to read '{f}' - file too large"


def test_only_the_named_storages_are_read():
    """A call reads only the sections of the storages its volume IDs name:
    a broken section elsewhere does not matter, and cost does not grow with
    the configuration (bench/bench_python.py measures it)."""
    cfg = {"ids": {"a1": {"type": "dir", "path": "/srv/a1", "content": {"iso": 1}},
                   "broken": {"type": "dir", 1: object()}},
           "order": {"a1": 1, "broken": 2}}
    assert pvestorage.path(cfg, "a1:iso/x.iso") == "/srv/a1/template/iso/x.iso"
    with pytest.raises(pvestorage.NotFoundError, match=r"^storage 'nope' does not exist$"):
        pvestorage.path(cfg, "nope:iso/x.iso")
    with pytest.raises(pvestorage.NotFoundError, match=r"^storage 'a1' does not exist$"):
        pvestorage.path({"ids": []}, "a1:iso/x.iso")
