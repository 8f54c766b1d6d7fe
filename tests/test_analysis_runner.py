"""The grid runner on a real Dask LocalCluster: failures recorded, restarts resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from study_tables import norcia_table

from faultprobe.analysis.grid import GridRun, expand
from faultprobe.analysis.runner import gpu_workers, read_results, run_grid
from faultprobe.config import dump_toml, parse_config
from faultprobe.store import Store
from faultprobe.testing.toycube import ToyStudy, write_toy_store


def _raw(root: str, **experiments) -> dict:
    return norcia_table(
        root,
        cluster={"n_workers": 1, "threads_per_worker": 1},
        train={"epochs": 1, "width": 0.125, "batch_size": 16, "seeds": [1], "device": "cpu"},
        experiments={
            "false_dates": {"enabled": False},
            "bands": {"enabled": False},
            "null": {"enabled": False},
            "pairs": {"enabled": False},
            **experiments,
        },
    )


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("toy") / "store")
    write_toy_store(root, ToyStudy(n_events=240, window_s=(-1.0, 2.0), dtstar_jump=0.02, seed=2))
    return root


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, Client(cluster) as c:  # fmt: skip
        yield c


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_failed_run_is_recorded_and_the_others_finish(toy_root, client, tmp_path):
    cfg = parse_config(_raw(toy_root, table1={"classes": [2], "seeds": [1]}))
    runs = expand(cfg, grids=["table1"])
    bad_spec = runs[0].spec.model_copy(update={"stations": ("XX.NOPE",)})
    runs.append(GridRun("table1", bad_spec))
    store = Store(toy_root)
    res = run_grid(store, runs, client)
    mine = res[res["key"].isin([r.key for r in runs])]
    assert len(mine) == 3
    failed = mine[mine["status"] == "failed"]
    assert len(failed) == 1 and "XX.NOPE" in failed["error"].iloc[0]
    ok = mine[mine["status"] == "ok"]
    assert len(ok) == 2 and ok["accuracy"].between(0, 1).all() and (ok["n_test"] > 0).all()
    assert set(ok["worker"]).issubset(set(client.scheduler_info()["workers"]))
    # a second call has nothing left but the failed run, which fails again
    again = run_grid(store, runs, client, retry_failed=False)
    assert len(again[again["key"].isin([r.key for r in runs])]) == 3


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_killed_grid_restarts_with_only_the_missing_runs(toy_root, tmp_path):
    root = str(tmp_path / "store")
    write_toy_store(root, ToyStudy(n_events=240, window_s=(-1.0, 2.0), dtstar_jump=0.02, seed=3))
    raw = _raw(root, table1={"classes": [2, 4], "seeds": [1]})
    cfg = parse_config(raw)
    path = tmp_path / "grid.toml"
    path.write_text(dump_toml(cfg))
    n_runs = len(expand(cfg, grids=["table1"]))
    assert n_runs == 4
    cmd = [sys.executable, "-m", "faultprobe.cli", "experiments", str(path), "--grid", "table1"]
    cmd.append("-q")
    proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.DEVNULL)
    store = Store(root)
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            if store.exists("results.parquet") and len(read_results(store)) >= 1:
                break
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole session: client and workers
        proc.wait()
    before = read_results(store)
    assert 1 <= len(before) < n_runs, "the grid should have been killed part-way"
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=480)
    assert done.returncode == 0, done.stderr[-2000:]
    after = read_results(store)
    assert len(after) == n_runs and (after["status"] == "ok").all()
    kept = after.set_index("key").loc[before["key"], "finished_at"]
    assert list(kept) == list(before["finished_at"])  # finished runs were not redone


def test_no_gpu_workers_without_cuda(client):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; see test_runs_are_placed_one_per_gpu")
    assert gpu_workers(client) == []


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA and dask-cuda")
def test_runs_are_placed_one_per_gpu(toy_root):
    pytest.importorskip("dask_cuda")
    from dask_cuda import LocalCUDACluster
    from distributed import Client

    cfg = parse_config(_raw(toy_root, table1={"classes": [2, 4], "seeds": [1, 2]}))
    runs = [
        GridRun(r.grid, r.spec.model_copy(update={"training": r.spec.training.model_copy(
            update={"device": "cuda"})}))
        for r in expand(cfg, grids=["table1"])
    ]  # fmt: skip
    with LocalCUDACluster(threads_per_worker=2) as cluster, Client(cluster) as c:
        n_gpu = len(c.scheduler_info()["workers"])
        assert len(gpu_workers(c)) == n_gpu
        res = run_grid(Store(toy_root), runs, c)
    ok = res[res["key"].isin([r.key for r in runs])]
    assert (ok["status"] == "ok").all()
    assert ok["device"].str.startswith("cuda").all()
    # each worker owns one GPU, so the GPUs used are as many as the workers used
    assert ok.groupby("worker")["device"].nunique().max() == 1
