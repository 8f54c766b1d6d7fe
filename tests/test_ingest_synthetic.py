"""The simulator end to end: `synth` writes SDS files, `catalog` selects events, and the
cube ingested from the SDS files equals the cube ingested from the simulator directly."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed import Client, LocalCluster

from faultprobe.pipelines.ingest import ingest

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

presets = pytest.importorskip("faultprobe.testing.studies")


def test_sds_cube_equals_synthetic_source_cube(tmp_path):
    from faultprobe.catalogs.study import build_catalog
    from faultprobe.synthetic.run import synthesize

    cfg = presets.small_study(tmp_path, background_per_day=8.0, omori_k=4.0)
    cfg = cfg.model_copy(update={"waveforms": cfg.waveforms.model_copy(update={"block_size": 16})})
    synthesize(cfg, parallel=False)
    build_catalog(cfg)
    store2 = tmp_path / "store-synthetic"
    store2.mkdir()
    for name in ("events.parquet", "stations.parquet"):
        shutil.copy(f"{cfg.study.store}/{name}", store2 / name)
    cfg2 = cfg.model_copy(
        update={
            "study": cfg.study.model_copy(update={"store": str(store2)}),
            "waveforms": cfg.waveforms.model_copy(update={"source": "synthetic"}),
        }
    )
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        ingest(cfg, client=client)
        ingest(cfg2, client=client)
    a = xr.open_zarr(f"{cfg.study.store}/waveforms.zarr").load()
    b = xr.open_zarr(f"{store2}/waveforms.zarr").load()
    assert a.sizes["event"] >= 10
    np.testing.assert_array_equal(a.status.values, b.status.values)
    np.testing.assert_array_equal(a.waveform.values, b.waveform.values)
    np.testing.assert_array_equal(a.start_time.values, b.start_time.values)
    assert a.attrs["source"] == "sds" and b.attrs["source"] == "synthetic"
    ta = pd.read_parquet(f"{cfg.study.store}/traces.parquet")
    tb = pd.read_parquet(f"{store2}/traces.parquet")
    pd.testing.assert_frame_equal(ta.drop(columns="source"), tb.drop(columns="source"))
    assert (ta.status == "ok").sum() > 0
