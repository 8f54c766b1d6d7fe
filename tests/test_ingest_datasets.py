"""Dataset sources: a SeisBench folder (written by the real seisbench package, with and
without blocks and chunks) and the paper's released layout ingest into the same cube as
the study's own SDS archive; events and stations come from the dataset's metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from dataset_files import dataset_config, raw_windows, write_laurenti2024, write_seisbench
from small_study import local_client

from faultprobe.analysis.report import write_report
from faultprobe.catalogs.datasets import DatasetError, read_traces
from faultprobe.catalogs.study import build_catalog
from faultprobe.pipelines.datasets import parse_location
from faultprobe.pipelines.ingest import ingest

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


@pytest.fixture(scope="module")
def windows(small_ingested):
    return raw_windows(small_ingested.cfg)


def _ingest(cfg):
    build_catalog(cfg)
    cluster, client = local_client()
    with cluster, client:
        ingest(cfg, client=client)
    return xr.open_zarr(f"{cfg.study.store}/waveforms.zarr").load()


def _same_cube(a: xr.Dataset, b: xr.Dataset) -> None:
    """Every ok trace of `a` is ok in `b` with the same samples and times."""
    assert list(a.event.values) == list(b.event.values)
    assert list(a.station.values) == list(b.station.values)
    ok = a.status.values == 0
    assert ok.sum() > 20
    np.testing.assert_array_equal(b.status.values[ok], 0)
    np.testing.assert_array_equal(a.waveform.values[ok], b.waveform.values[ok])
    np.testing.assert_array_equal(a.start_time.values[ok], b.start_time.values[ok])
    np.testing.assert_array_equal(a.p_time.values[ok], b.p_time.values[ok])
    for c in ("origin_time", "latitude", "longitude", "depth_km", "magnitude", "phase"):
        np.testing.assert_array_equal(a[c].values, b[c].values)


@pytest.mark.parametrize("blocks,chunks", [(True, True), (False, False)])
def test_seisbench_folder_ingests_to_the_sds_cube(
    small_ingested, windows, tmp_path, blocks, chunks
):
    folder = write_seisbench(windows, tmp_path / "sb", blocks=blocks, chunks=chunks)
    names = read_traces(folder, "seisbench")["locator"]
    assert names.str.contains(r"\$").all() == blocks
    for p_arrival in ("model", "dataset"):
        cfg = dataset_config(
            small_ingested.folder, folder, "seisbench", tmp_path / p_arrival, p_arrival=p_arrival
        )
        b = _ingest(cfg)
        a = xr.open_zarr(f"{small_ingested.store}/waveforms.zarr").load()
        _same_cube(a, b)
        assert b.attrs["source"] == "seisbench"
        placed = "dataset" if p_arrival == "dataset" else "model"  # the cube says which
        codes = dict(
            zip(b.p_source.attrs["flag_meanings"].split(), b.p_source.attrs["flag_values"])
        )
        assert (b.p_source.values[a.status.values == 0] == codes[placed]).all()
    stations = pd.read_parquet(f"{cfg.study.store}/stations.parquet")
    want = pd.read_parquet(f"{small_ingested.store}/stations.parquet")
    cols = ["station_network_code", "station_code", "station_latitude_deg",
            "station_longitude_deg", "station_sampling_rate_hz", "far"]  # fmt: skip
    pd.testing.assert_frame_equal(stations[cols], want[cols])


def test_paper_layout_ingests_trains_and_reports(small_ingested, windows, tmp_path):
    folder = write_laurenti2024(windows, tmp_path / "paper")
    assert sorted(p.name for p in (folder / "NRCA").iterdir()) == [
        "NRCA_post.csv", "NRCA_post.hdf5", "NRCA_pre.csv", "NRCA_pre.hdf5",
    ]  # fmt: skip
    cfg = dataset_config(
        small_ingested.folder, folder, "laurenti2024", tmp_path / "store", p_arrival="dataset"
    )
    b = _ingest(cfg)
    a = xr.open_zarr(f"{small_ingested.store}/waveforms.zarr").load()
    _same_cube(a, b)
    traces = pd.read_parquet(f"{cfg.study.store}/traces.parquet")
    assert set(traces["source"]) == {"laurenti2024"}
    # trains (`faultprobe train` with a small CPU model) and reports, the run shown
    run_id = _train_small(cfg)
    page = write_report(cfg).read_text()
    assert "1 finished runs" in page and run_id in page and "Every finished run" in page
    assert f"confusion_{run_id}.png" in page


def _train_small(cfg) -> str:
    from faultprobe.cli import main

    toml = cfg.study.store + "/study.toml"
    args = ["train", toml, "--station", "NRCA", "--classes", "2", "--epochs", "2",
            "--width", "0.25", "--device", "cpu", "-q"]  # fmt: skip
    assert main(args) == 0
    runs = list(Path(cfg.study.store, "runs").iterdir())
    assert len(runs) == 1
    return runs[0].name


def test_block_locations_parse_as_numpy_indices():
    x = np.arange(4 * 3 * 10).reshape(4, 3, 10)
    assert np.array_equal(x[parse_location("2,:3,:7")], x[2, :3, :7])
    assert np.array_equal(x[parse_location("1, 1:3, -4:")], x[1, 1:3, -4:])


def test_a_folder_that_is_not_a_dataset_names_itself(tmp_path):
    with pytest.raises(DatasetError, match="not a SeisBench dataset"):
        read_traces(tmp_path, "seisbench")
    (tmp_path / "NRCA_pre.csv").write_text("trace_name,source_id\nx,1\n")
    (tmp_path / "NRCA_pre.hdf5").write_bytes(b"")
    with pytest.raises(DatasetError, match="NRCA_pre.csv: no column source_origin_time"):
        read_traces(tmp_path, "laurenti2024")


def test_the_paper_data_config_reads():
    from conftest import CONFIGS

    from faultprobe.config import load_config

    cfg = load_config(CONFIGS / "laurenti2024-data.toml")
    assert cfg.catalog.format == cfg.waveforms.source == "laurenti2024"
    assert cfg.waveforms.p_arrival == "dataset" and cfg.stations.inventory is None


def test_a_missing_dataset_is_one_error_line(small_ingested, tmp_path, capsys):
    from faultprobe.cli import main
    from faultprobe.config import dump_toml

    cfg = dataset_config(small_ingested.folder, tmp_path / "nowhere", "seisbench", tmp_path / "s")
    (tmp_path / "study.toml").write_text(dump_toml(cfg))
    assert main(["catalog", str(tmp_path / "study.toml"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'nowhere'}: dataset folder not found"]
