"""No leaks: 200k calls (valid and invalid) with tracemalloc and RSS growth
under 2 MiB; reference counts of the arguments unchanged after calls."""
import sys
import tracemalloc

import pytest

import pvestorage

GW = "guest-is-windows"


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def calls(n, valid, invalid, cyclic):
    for i in range(n):
        pvestorage.verify_hints(valid)
        try:
            pvestorage.verify_hints(invalid)
        except pvestorage.HintError:
            pass
        pvestorage.verify_hints(invalid, noerr=True)
        if i % 10 == 0:
            try:
                pvestorage.verify_hints(cyclic)
            except pvestorage.HintError:
                pass


@pytest.mark.slow
def test_200k_calls_do_not_grow():
    valid = {GW: True, "plugin-may-deactivate-volume": 0}
    invalid = {GW: "yes", "bogus": [1, {"2": 3}], "": object()}
    cyclic = {}
    cyclic["me"] = cyclic
    calls(5000, valid, invalid, cyclic)   # warm up
    tracemalloc.start()
    snap0 = tracemalloc.take_snapshot()
    rss0 = rss_kib()
    calls(67_000, valid, invalid, cyclic)   # 3 calls per round: 200k calls, plus cyclic ones
    rss1 = rss_kib()
    snap1 = tracemalloc.take_snapshot()
    tracemalloc.stop()
    py_growth = sum(s.size_diff for s in snap1.compare_to(snap0, "filename"))
    assert rss1 - rss0 < 2048, f"RSS grew {rss1 - rss0} KiB"
    assert py_growth < 256 * 1024, f"Python heap grew {py_growth} bytes"
    cyclic.clear()


def test_refcounts_unchanged(tmp_path):
    hints = {GW: True}
    bad = {GW: "yes"}
    cfg = pvestorage.parse_config(f"dir: store\n\tpath {tmp_path}\n")
    vol = "store:iso/x.iso"
    vols = [vol]
    objs = [hints, bad, cfg, vol, vols]
    before = [sys.getrefcount(o) for o in objs]
    for _ in range(1000):
        assert pvestorage.verify_hints(hints) is hints
        with pytest.raises(pvestorage.HintError):
            pvestorage.verify_hints(bad)
        pvestorage.map_volume(cfg, vol, hints=hints)
        pvestorage.path(cfg, vol)
        with pytest.raises(pvestorage.HintError):
            pvestorage.activate_volumes(cfg, vols, hints=bad)
    after = [sys.getrefcount(o) for o in objs]
    assert after == before
