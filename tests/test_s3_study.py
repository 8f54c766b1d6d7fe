"""A study whose store is s3:// (moto's server on loopback): `faultprobe ingest` writes the
cube and traces there, `faultprobe experiments` trains by streaming the slice from it and
writes runs and results.parquet there, with the local run's cube and accuracies."""

from __future__ import annotations

import numpy as np
import pytest
from grid_study import assert_same_store, build_grid_study, config_copy, store_of
from s3_server import BUCKET

from faultprobe.cli import main
from faultprobe.ml.runs import METRICS, WEIGHTS, RunFolder
from faultprobe.store import RESULTS, Store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning"),
]


def test_ingest_and_streamed_grid_on_s3_equal_the_local_run(tmp_path, s3):
    table = build_grid_study(tmp_path, classes=(2,))
    # a memory budget of a few dozen traces: every run streams its slice from the cube
    train = {**table["train"], "memory_budget": "64KB"}
    cluster = {"kind": "local", "n_workers": 1}  # a worker process: it sees s3 by the env
    waveforms = {**table["waveforms"], "block_size": 64}
    remote = config_copy(
        tmp_path, table, "s3", cluster, store=f"s3://{BUCKET}/study", train=train,
        waveforms=waveforms,
    )  # fmt: skip
    local = config_copy(tmp_path, table, "local", cluster, train=train, waveforms=waveforms)
    for path in (remote, local):
        assert main(["ingest", path, "-q"]) == 0
        assert main(["experiments", path, "--yes", "-q"]) == 0
    root = store_of(remote)
    assert s3.exists(f"{BUCKET}/study/waveforms.zarr/zarr.json")
    assert_same_store(store_of(local), root)
    store = Store(root)
    results = store.read_table(RESULTS)
    assert len(results) == 1 and (results["status"] == "ok").all()
    run = RunFolder(store, results["run_id"].iloc[0])
    assert run.exists(WEIGHTS) and run.exists("predictions.parquet")
    metrics = run.read_json(METRICS)
    assert metrics["inputs"]["read"] == "stream"
    assert metrics["inputs"]["bytes"] > 64_000  # the slice was larger than the budget
    mine = Store(store_of(local)).read_table(RESULTS)
    np.testing.assert_array_equal(results["accuracy"], mine["accuracy"])
    np.testing.assert_array_equal(results["run_id"], mine["run_id"])
