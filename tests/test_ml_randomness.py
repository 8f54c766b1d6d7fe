"""A run owns its randomness: no draw from torch's global generator, so two runs sharing a
process (two threads of one Dask worker) give what each gives alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from distributed import Client, LocalCluster, wait

from faultprobe.ml.experiment import run_experiment
from faultprobe.ml.model import FaultNet
from faultprobe.ml.runs import PREDICTIONS, RunFolder
from faultprobe.ml.spec import Labelling, Model, RunSpec, Training
from faultprobe.ml.trainer import fit
from faultprobe.store import Store
from faultprobe.testing.toycube import ToyStudy, write_toy_store

MAIN = "2016-10-30T06:40:17Z"
TOY = ToyStudy(n_events=200, window_s=(-1.0, 2.0), dtstar_jump=0.02, seed=5)


def _spec(seed: int) -> RunSpec:
    return RunSpec(
        stations=("NRCA",),
        labelling=Labelling(kind="binary", mainshock=MAIN),
        model=Model(width=0.125, dropout=0.5),
        training=Training(epochs=3, batch_size=16, patience=0, device="cpu"),
        seed=seed,
    )


def test_training_leaves_the_global_generator_alone():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 3, 200)).astype(np.float32)
    y = rng.integers(0, 2, 48)
    m = FaultNet(2, width=0.125, dropout=0.5, generator=torch.Generator().manual_seed(1))
    before = torch.get_rng_state()
    fit(m, x[:32], y[:32], x[32:], y[32:], Training(epochs=2, batch_size=8, device="cpu"), 1)  # fmt: skip
    assert torch.equal(before, torch.get_rng_state())
    # the same seed draws the same weights whatever the global generator did in between
    torch.manual_seed(123)
    a = FaultNet(2, width=0.125, generator=torch.Generator().manual_seed(7)).state_dict()
    torch.rand(1000)
    b = FaultNet(2, width=0.125, generator=torch.Generator().manual_seed(7)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def _run(root: str, seed: int) -> dict:
    return run_experiment(Store(root), _spec(seed))


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_two_runs_on_one_two_thread_worker_equal_the_same_runs_one_after_the_other(tmp_path):
    together, apart = str(tmp_path / "together"), str(tmp_path / "apart")
    for root in (together, apart):
        write_toy_store(root, TOY)
    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None)
        as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        both = [client.submit(_run, together, s, pure=False) for s in (1, 2)]
        wait(both)
        for s in (1, 2):  # one after the other on the same worker
            client.submit(_run, apart, s, pure=False).result()
    for s in (1, 2):
        run_id = _spec(s).run_id
        a = RunFolder(Store(together), run_id)
        b = RunFolder(Store(apart), run_id)
        ha, hb = a.read_json("metrics.json")["history"], b.read_json("metrics.json")["history"]
        assert ha == hb
        pa, pb = a.read_table(PREDICTIONS), b.read_table(PREDICTIONS)
        pd.testing.assert_frame_equal(pa, pb)
    # and the two seeds are different runs (the check can tell runs apart)
    p1 = RunFolder(Store(apart), _spec(1).run_id).read_table(PREDICTIONS)
    p2 = RunFolder(Store(apart), _spec(2).run_id).read_table(PREDICTIONS)
    assert not np.array_equal(p1["p_post"].to_numpy(), p2["p_post"].to_numpy())
