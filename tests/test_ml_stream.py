"""Streaming training from the cube: chunk-aligned buffers, reproducible shuffles, and the
in-memory result when one buffer holds everything."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faultprobe.ml import dataset, splits, stream
from faultprobe.ml.experiment import run_experiment, select_events
from faultprobe.ml.model import FaultNet
from faultprobe.ml.spec import Labelling, RunSpec, Training
from faultprobe.ml.trainer import fit, predict, use_threads
from faultprobe.testing.toycube import ToyStudy, write_toy_store


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("stream") / "store")
    study = ToyStudy(n_events=240, window_s=(-1.0, 2.0), dtstar_jump=0.02, chunk=32, seed=4)
    return write_toy_store(root, study)


def _spec(budget: int | None = None, seed: int = 1, epochs: int = 2) -> RunSpec:
    return RunSpec(
        stations=("IV.NRCA",),
        labelling=Labelling(kind="binary", n_classes=2, mainshock="2016-10-30T06:40:17Z"),
        seed=seed,
        model={"width": 0.125},
        training=Training(
            epochs=epochs, batch_size=16, device="cpu", threads=1, memory_budget=budget
        ),
    )


def _inputs(store, spec, stream_it: bool | None):
    ds = dataset.open_cube(store)
    sel = select_events(ds, spec)
    used = np.flatnonzero(sel.split >= 0)
    y, codes = sel.labels[used], sel.split[used]
    x = stream.model_inputs(ds, spec, used, codes, y, stream=stream_it, store=store)
    return x, y, codes


def _train(x, y, codes, spec):
    use_threads(1)
    tr, va = codes == splits.TRAIN, codes == splits.VAL
    model = FaultNet(2, x.n_channels, width=0.125, generator=torch.Generator().manual_seed(1))
    res = fit(model, x.x_train, y[tr], x.x_val, y[va], spec.training, spec.seed)
    probs, _ = predict(model, x.x_all, 256, torch.device("cpu"))
    return res, probs


def test_one_buffer_holding_everything_equals_the_in_memory_path(toy):
    spec = _spec(budget=10**12)
    mem, y, codes = _inputs(toy, spec, stream_it=False)
    streamed, _, _ = _inputs(toy, spec, stream_it=True)
    assert mem.mode == "memory" and streamed.mode == "stream"
    assert len(streamed.x_train.groups()) == 1
    a, pa = _train(mem, y, codes, spec)
    b, pb = _train(streamed, y, codes, spec)
    assert a.history == b.history
    for k in a.best_state:
        assert torch.equal(a.best_state[k], b.best_state[k]), k
    np.testing.assert_array_equal(pa, pb)


def test_buffers_are_whole_chunks_within_the_budget(toy):
    spec = _spec()
    ds = dataset.open_cube(toy)
    nbytes = stream.slice_bytes(ds, spec, 1)
    x, y, codes = _inputs(toy, spec.model_copy(update={"training": spec.training.model_copy(
        update={"memory_budget": 120 * nbytes})}), stream_it=None)  # fmt: skip
    tr = x.x_train
    assert x.mode == "stream" and tr.chunk_events == 32
    order = tr.chunk_order(torch.Generator().manual_seed(5))
    groups = tr.groups(order)
    assert len(groups) > 2
    chunk_of = tr.positions // 32
    for rows in groups:
        assert len(rows) <= 60 or len(np.unique(chunk_of[rows])) == 1  # 120 / 2 per buffer
        for c in np.unique(chunk_of[rows]):  # a chunk is never split between buffers
            assert set(np.flatnonzero(chunk_of == c)) <= set(rows)
    assert sorted(np.concatenate(groups)) == list(range(len(tr)))
    # an epoch yields every training event once, whatever the shuffles
    g = torch.Generator().manual_seed(7)
    got = sorted(r.tobytes() for xb, _ in tr.epoch_batches(g, 16) for r in xb.numpy())
    want = sorted(r.tobytes() for xb, _ in tr.buffers() for r in xb)
    assert got == want and len(got) == len(tr)
    # chunk order and within-buffer order both depend on the epoch's generator
    o1 = [xb[0, 0, :3].tolist() for xb, _ in tr.epoch_batches(torch.Generator().manual_seed(7), 16)]
    o2 = [xb[0, 0, :3].tolist() for xb, _ in tr.epoch_batches(torch.Generator().manual_seed(7), 16)]
    o3 = [xb[0, 0, :3].tolist() for xb, _ in tr.epoch_batches(torch.Generator().manual_seed(8), 16)]
    assert o1 == o2 and o1 != o3


def test_streamed_run_is_reproducible_for_the_same_seed_and_budget(toy, tmp_path):
    ds = dataset.open_cube(toy)
    budget = 60 * stream.slice_bytes(ds, _spec(), 1)
    spec = _spec(budget=budget)
    first = run_experiment(toy, spec)
    assert first["inputs"]["read"] == "stream"
    again = run_experiment(toy, spec, overwrite=True)
    assert first["history"] == again["history"]
    assert first["test"]["confusion"] == again["test"]["confusion"]
    other = run_experiment(toy, _spec(budget=budget, seed=2))
    assert other["history"] != first["history"]
    # without a budget the same spec trains in memory (and has its own run id)
    mem = run_experiment(toy, _spec())
    assert mem["inputs"]["read"] == "memory" and mem["run_id"] != first["run_id"]
