"""The cube written to s3:// on a local S3 endpoint (moto's server) and read back."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from distributed import Client, LocalCluster

from faultprobe.config import load_config
from faultprobe.pipelines.ingest import ingest
from faultprobe.store import Store
from faultprobe.testing.defects import write_toy_config, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


def test_cube_on_s3_reads_back_through_xarray(tmp_path, s3):
    local = write_toy_study(str(tmp_path), n_events=6, days=1)
    root = "s3://faultprobe-test/study"
    s3.put(f"{local.store}/events.parquet", "faultprobe-test/study/events.parquet")
    s3.put(f"{local.store}/stations.parquet", "faultprobe-test/study/stations.parquet")
    remote = type(local)(root, local.sds_root, local.events, local.stations)
    cfg = load_config(write_toy_config(str(tmp_path), remote, waveforms={"block_size": 3}))
    cfg_local = load_config(
        write_toy_config(str(tmp_path), local, waveforms={"block_size": 3}, name="local.toml")
    )
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        summary = ingest(cfg, client=client)
        ingest(cfg_local, client=client)
    assert summary.n_events == 6
    assert s3.exists("faultprobe-test/study/waveforms.zarr/zarr.json")
    assert s3.exists("faultprobe-test/study/traces.parquet")
    ds = xr.open_zarr(f"{root}/waveforms.zarr").load()
    ref = xr.open_zarr(f"{local.store}/waveforms.zarr").load()
    assert ds.attrs["complete"] is True
    np.testing.assert_array_equal(ds.waveform.values, ref.waveform.values)
    np.testing.assert_array_equal(ds.status.values, ref.status.values)
    tr = Store(root).read_table("traces.parquet")
    assert len(tr) == 6 * len(local.stations)
