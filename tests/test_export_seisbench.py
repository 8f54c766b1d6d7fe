"""`faultprobe export --format seisbench`: the real seisbench package opens the export and
its generators yield windows from it; ingested back, the export gives the same cube."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from dataset_files import dataset_config
from small_study import local_client

from faultprobe.catalogs.study import build_catalog
from faultprobe.cli import main
from faultprobe.pipelines.ingest import ingest

sbd = pytest.importorskip("seisbench.data")
sbg = pytest.importorskip("seisbench.generate")

pytestmark = pytest.mark.filterwarnings(
    "ignore:Consolidated metadata:UserWarning",
    "ignore::FutureWarning",
    "ignore::DeprecationWarning",
)


@pytest.fixture(scope="module")
def exported(small_trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "sb"
    assert main(["export", "--format", "seisbench", small_trained.store, str(out),
                 "--run", small_trained.run]) == 0  # fmt: skip
    return out


def test_seisbench_opens_the_export_and_generates_windows(small_trained, exported):
    data = sbd.WaveformDataset(exported, component_order="ENZ", dimension_order="NCW")
    cube = xr.open_zarr(f"{small_trained.store}/waveforms.zarr")
    assert len(data) == int((cube.status.values == 0).sum())
    meta = data.metadata
    h5py = pytest.importorskip("h5py")
    with h5py.File(exported / "waveforms.hdf5") as f:  # one HDF5 chunk per trace
        shapes = {f["data"][k].shape[1:]: f["data"][k].chunks for k in f["data"]}
    assert shapes and all(c == (1, *s) for s, c in shapes.items())
    assert {"trace_p_arrival_sample", "trace_sampling_rate_hz", "source_origin_time",
            "station_network_code", "split"} <= set(meta.columns)  # fmt: skip
    # the run's splits, in SeisBench's names
    preds = pd.read_parquet(f"{small_trained.run}/predictions.parquet")
    nrca = meta[meta["station_code"] == "NRCA"]
    nrca = nrca.set_index(nrca["source_id"].astype(str))
    want = preds.set_index("source_id")["split"].map(
        {"train": "train", "val": "dev", "test": "test"}
    )
    assert (nrca.loc[want.index, "split"] == want).all()
    # the SNR as traces.parquet holds it, already in dB (not converted a second time)
    tr = pd.read_parquet(f"{small_trained.store}/traces.parquet")
    db = tr[tr["station_code"] == "NRCA"].set_index("source_id")["trace_snr_db"]
    np.testing.assert_allclose(nrca["trace_snr_db"], db.loc[nrca.index], rtol=1e-5)
    test_ids = set(preds.loc[preds["split"] == "test", "source_id"])
    assert len(data.test()) == int(meta["source_id"].astype(str).isin(test_ids).sum()) > 0
    # one trace back equals the cube's trace
    i = int(np.flatnonzero(meta["station_code"] == "NRCA")[0])
    ev = str(meta["source_id"].iloc[i])
    x = data.get_waveforms(i)
    np.testing.assert_array_equal(x, cube.waveform.sel(event=ev, station="IV.NRCA").values)
    assert meta["trace_p_arrival_sample"].iloc[i] == pytest.approx(500, abs=1)
    # a generator cutting 4 s around P, as a SeisBench training pipeline would
    gen = sbg.GenericGenerator(data)
    gen.add_augmentations(
        [
            sbg.WindowAroundSample(["trace_p_arrival_sample"], samples_before=100, windowlen=400),
            sbg.Normalize(demean_axis=-1, amp_norm_axis=-1),
        ]
    )
    sample = gen[i]
    assert sample["X"].shape == (3, 400)
    assert np.isfinite(sample["X"]).all() and np.abs(sample["X"]).max() == pytest.approx(1.0)


@pytest.mark.parametrize("p_arrival", ["model", "dataset"])
def test_export_ingests_back_into_the_same_cube(small_trained, exported, tmp_path, p_arrival):
    cfg = dataset_config(
        _folder(small_trained), exported, "seisbench", tmp_path / "store", p_arrival=p_arrival
    )
    build_catalog(cfg)
    cluster, client = local_client()
    with cluster, client:
        ingest(cfg, client=client)
    a = xr.open_zarr(f"{small_trained.store}/waveforms.zarr").load()
    b = xr.open_zarr(f"{cfg.study.store}/waveforms.zarr").load()
    ok = a.status.values == 0
    assert list(a.event.values) == list(b.event.values)
    np.testing.assert_array_equal(b.status.values, np.where(ok, 0, 1))
    for name in ("waveform", "p_time", "start_time"):
        np.testing.assert_array_equal(a[name].values[ok], b[name].values[ok])
    for c in ("origin_time", "latitude", "longitude", "depth_km", "magnitude", "phase", "ttf_s"):
        np.testing.assert_array_equal(a[c].values, b[c].values)


def _folder(trained):
    from pathlib import Path

    return Path(trained.cfg.synthetic.output).parent
