"""SIGKILL the `faultprobe ingest` process (and its Dask workers) at different points,
resume, and compare with an uninterrupted run: same cube, same traces.parquet."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed import Client, LocalCluster

from faultprobe.config import load_config
from faultprobe.pipelines.ingest import ingest
from faultprobe.testing.defects import write_toy_config, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


def _start(config: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "faultprobe.cli", "ingest", config, "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the driver and its workers
    )


def _markers(store: str) -> int:
    folder = Path(store) / "ingest" / "blocks"
    return len(list(folder.glob("*.json"))) if folder.exists() else 0


def _kill_when(
    proc: subprocess.Popen, store: str, blocks: int | None, after_s: float | None = None
) -> bool:
    """SIGKILL once `blocks` markers exist (or after `after_s`); True if it was still running."""
    t0 = time.time()
    while proc.poll() is None and time.time() - t0 < 120:
        if (blocks is not None and _markers(store) >= blocks) or (
            after_s is not None and time.time() - t0 >= after_s
        ):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.01)
    proc.wait()
    return False


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_killed_runs_resume_to_the_uninterrupted_result(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    study = write_toy_study(str(a), n_events=16)
    cfg_a = write_toy_config(str(a), study, waveforms={"block_size": 2})
    b.mkdir()
    (b / "store").mkdir()
    study.events.to_parquet(b / "store" / "events.parquet")
    study.stations.to_parquet(b / "store" / "stations.parquet")
    twin = type(study)(str(b / "store"), study.sds_root, study.events, study.stations)
    cfg_b = write_toy_config(str(b), twin, waveforms={"block_size": 2})

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        ingest(load_config(cfg_a), client=client)  # the uninterrupted run

    landed = []
    for blocks, after in ((None, 2.0), (2, None), (5, None)):
        landed.append(_kill_when(_start(cfg_b), twin.store, blocks, after))
        assert not (Path(twin.store) / "ingest" / "complete.json").exists() or not landed[-1]
    assert sum(landed) >= 2, landed  # most kills hit a run in progress
    final = _start(cfg_b)
    out, _ = final.communicate(timeout=180)
    assert final.returncode == 0, out.decode()
    assert "already done" in out.decode()

    x = xr.open_zarr(f"{study.store}/waveforms.zarr").load()
    y = xr.open_zarr(f"{twin.store}/waveforms.zarr").load()
    np.testing.assert_array_equal(x.waveform.values, y.waveform.values)
    np.testing.assert_array_equal(x.status.values, y.status.values)
    np.testing.assert_array_equal(x.start_time.values, y.start_time.values)
    np.testing.assert_array_equal(x.p_time.values, y.p_time.values)
    assert y.attrs["complete"] is True

    tx = pd.read_parquet(f"{study.store}/traces.parquet")
    ty = pd.read_parquet(f"{twin.store}/traces.parquet")
    assert len(ty) == 16 * len(study.stations)
    assert not ty.duplicated(["source_id", "station_network_code", "station_code"]).any()
    pd.testing.assert_frame_equal(tx, ty)
