"""8 threads at once give the same results as serial calls."""
import os
import threading

import pytest

import pvestorage

GW = "guest-is-windows"


def workload(cfg, n):
    """A mix of calls whose results (values or error messages) we can compare."""
    out = []
    for i in range(n):
        for hints in ({GW: True}, {GW: "yes", "x": 1}, {GW: 0.5}):
            try:
                out.append(("ok", pvestorage.verify_hints(hints) is hints))
            except pvestorage.HintError as e:
                out.append(("err", str(e)))
        out.append(pvestorage.parse_volume_id(f"store:{i % 7}/vm-{i % 7}-disk-0.raw"))
        out.append(pvestorage.path(cfg, f"store:iso/{i % 5}.iso"))
        try:
            pvestorage.activate_volumes(cfg, [f"store:{i % 3}/vm-{i % 3}-disk-0.raw"], hints={GW: True})
            out.append("activated")
        except pvestorage.NotFoundError as e:
            out.append(str(e))
        out.append(pvestorage.map_volume(cfg, "store:100/vm-100-disk-0.raw", hints={GW: 1}))
    return out


@pytest.fixture
def cfg(tmp_path):
    disk = tmp_path / "images" / "100" / "vm-100-disk-0.raw"
    disk.parent.mkdir(parents=True)
    disk.write_bytes(b"")
    (tmp_path / "images" / "1").mkdir()
    (tmp_path / "images" / "1" / "vm-1-disk-0.raw").write_bytes(b"")
    return pvestorage.parse_config(f"dir: store\n\tpath {tmp_path}\n\tcontent images,iso\n")


def test_eight_threads_match_serial(cfg):
    # under valgrind every call is ~50x slower (and activation forks): fewer rounds
    n = 20 if os.environ.get("PVS_UNDER_VALGRIND") else 150
    serial = workload(cfg, n)
    results = [None] * 8
    errors = []
    barrier = threading.Barrier(8)

    def run(k):
        try:
            barrier.wait()
            results[k] = workload(cfg, n)
        except BaseException as e:   # reported below, never swallowed
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not any(t.is_alive() for t in threads), "a thread did not finish in 600 s"
    assert not errors
    for k, r in enumerate(results):
        assert r == serial, f"thread {k} differs from the serial run"
    assert "activated" in serial and any("does not exist" in str(x) for x in serial)


def test_warnings_from_threads(cfg):
    """Warnings made while the GIL is released reach warnings.warn, one per
    call, intact, from every thread.  catch_warnings is process-global, so
    it is entered once, around all the threads."""
    import warnings
    done = []

    class Busy:   # a plugin whose volumes cannot be deactivated: the core warns why
        type = "pythreadbusy"
        api = 15

        def deactivate_volume(self, storeid, scfg, volname, snapname=None, cache=None):
            raise OSError(f"can't deactivate {volname} - device busy")

    pvestorage.register_plugin(Busy)
    busy = {"ids": dict(cfg["ids"], busy={"type": "pythreadbusy"})}

    def run():
        try:
            pvestorage.deactivate_volumes(busy, ["busy:junk"])
        except pvestorage.DeactivationError:
            done.append(1)

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert len(done) == 4
    assert [str(w.message) for w in rec] == ["can't deactivate junk - device busy"] * 4
    assert all(w.category is pvestorage.StorageWarning for w in rec)