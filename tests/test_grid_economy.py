"""Grid economy: runs reading the same station slice on one worker read the cube once
(the worker's byte-bounded slice cache), with the results of uncached runs."""

from __future__ import annotations

import numpy as np
import pytest
from study_tables import norcia_table

from faultprobe.analysis.grid import expand
from faultprobe.analysis.runner import run_grid
from faultprobe.config import parse_config
from faultprobe.ml.runs import METRICS, RunFolder
from faultprobe.ml.slicecache import SliceCache
from faultprobe.store import Store
from faultprobe.testing.toycube import ToyStudy, write_toy_store


def _cfg(root: str):
    return parse_config(
        norcia_table(
            root,
            train={"epochs": 1, "width": 0.125, "batch_size": 16, "seeds": [1], "device": "cpu"},
            experiments={"table1": {"classes": [2, 4], "stations": ["IV.NRCA"], "seeds": [1, 2]}},
        )
    )


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_second_run_on_a_slice_reads_the_cache_and_gives_the_same_result(tmp_path):
    from distributed import Client, LocalCluster

    study = ToyStudy(n_events=200, window_s=(-1.0, 2.0), dtstar_jump=0.02, seed=6)
    cached, plain = str(tmp_path / "cached"), str(tmp_path / "plain")
    write_toy_store(cached, study)
    write_toy_store(plain, study)
    runs = expand(_cfg(cached), grids=["table1"])
    assert len(runs) == 4
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        a = run_grid(Store(cached), runs, client, cache_bytes=2**30)
        b = run_grid(Store(plain), runs, client, cache_bytes=0)
    reads = [RunFolder(Store(cached), r.run_id).read_json(METRICS)["inputs"]["read"] for r in runs]
    assert sorted(reads) == ["cache", "cache", "cache", "memory"]
    plain_reads = {
        RunFolder(Store(plain), r.run_id).read_json(METRICS)["inputs"]["read"] for r in runs
    }
    assert plain_reads == {"memory"}
    a, b = a.set_index("run_id").sort_index(), b.set_index("run_id").sort_index()
    assert (a["status"] == "ok").all()
    np.testing.assert_array_equal(a["accuracy"], b["accuracy"])  # one thread each: exact


def test_slice_cache_is_bounded_in_bytes_and_least_recently_used():
    class Slice:
        def __init__(self, n):
            self.x = np.zeros(n, np.uint8)
            self.ok = np.zeros(0, bool)

    cache = SliceCache(max_bytes=250)
    loads = []

    def load(n):
        loads.append(n)
        return Slice(n)

    for key, n in [("a", 100), ("b", 100), ("a", 100), ("c", 100), ("b", 100), ("big", 300)]:
        cache.get(key, lambda n=n: load(n))
    # "a" was used again before "c" came, so "b" left first; "big" never fits
    assert loads == [100, 100, 100, 100, 300] and cache.hits == 1
    assert cache.bytes <= 250
    value, hit = cache.get("big", lambda: load(300))
    assert not hit and value.x.nbytes == 300


@pytest.mark.parametrize("threads", [4])
def test_concurrent_readers_of_one_slice_read_it_once(threads):
    import threading
    import time

    cache = SliceCache(max_bytes=10**6)
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return type("S", (), {"x": np.zeros(10), "ok": np.zeros(1)})()

    ts = [threading.Thread(target=cache.get, args=("k", slow)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(calls) == 1 and cache.hits == threads - 1
