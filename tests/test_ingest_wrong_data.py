"""Data that is not what was asked: a 200 answer carrying another station's miniSEED, an
HTML page instead of miniSEED, an SDS day file holding another station's records. Each
window gets a status naming what was found, nothing of the wrong station reaches the cube
or the cache, and once the source is right the next run gives the SDS-built cube."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fdsn_loopback import FDSNService
from obspy import UTCDateTime

from faultprobe.config import load_config
from faultprobe.pipelines.ingest import ingest
from faultprobe.pipelines.status import Status
from faultprobe.store import TRACES, Store
from faultprobe.testing.defects import T0, write_toy_config, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

KEEP = ["NRCA", "T1212"]  # the study's stations; DEF is the impostor
FDSN = {
    "source": "fdsn",
    "codec": "zstd-3",
    "max_attempts": 2,
    "retry_backoff_s": 0.1,
    "request_timeout_s": 3.0,
    "breaker_failures": 3,
    "max_bulk_items": 8,
}


@pytest.fixture(scope="module")
def toy(tmp_path_factory, client):
    """The toy archive, a study of two of its stations, and the cube built from the files."""
    d = tmp_path_factory.mktemp("toy")
    study = write_toy_study(str(d), n_events=8, days=2, corrupt=False)
    stations = study.stations[study.stations.station_code.isin(KEEP)].reset_index(drop=True)
    stations.to_parquet(f"{study.store}/stations.parquet")
    study = type(study)(study.store, study.sds_root, study.events, stations)
    cfg = load_config(write_toy_config(str(d), study, waveforms={"codec": "zstd-3"}))
    assert ingest(cfg, client=client).complete
    return study


def _config(folder: Path, study, waveforms: dict) -> object:
    store = folder / "store"
    store.mkdir(parents=True)
    study.events.to_parquet(store / "events.parquet")
    study.stations.to_parquet(store / "stations.parquet")
    twin = type(study)(str(store), study.sds_root, study.events, study.stations)
    return load_config(write_toy_config(str(folder), twin, waveforms=waveforms))


def _cube(store: str) -> xr.Dataset:
    return xr.open_zarr(f"{store}/waveforms.zarr").load()


def _assert_same_cube(store: str, ref: str) -> None:
    x, y = _cube(ref), _cube(store)
    for var in ("waveform", "status", "start_time"):
        np.testing.assert_array_equal(x[var].values, y[var].values)
    a, b = pd.read_parquet(f"{ref}/traces.parquet"), pd.read_parquet(f"{store}/traces.parquet")
    pd.testing.assert_series_equal(a.status, b.status)


def test_another_stations_miniseed_from_a_service(tmp_path, toy, client):
    with FDSNService(toy.sds_root, toy.stations, toy.events, impostor={"NRCA": "DEF"}) as svc:
        cfg = _config(tmp_path, toy, dict(FDSN, fdsn=svc.url, cache=str(tmp_path / "cache")))
        first = ingest(cfg, client=client)
        tr = Store(cfg.study.store).read_table(TRACES)
        nrca = tr[tr.station_code == "NRCA"]
        wrong = nrca[nrca.status == "wrong_data"]
        # DEF lacks data for one window: that one is no data, every other one wrong data.
        assert len(wrong) >= len(nrca) - 1 and not (nrca.status == "ok").any()
        assert wrong.reason.str.contains("asked IV.NRCA..HH?").all()
        assert wrong.reason.str.contains("IV.DEF..HHZ", regex=False).all()
        assert (wrong.failure == "permanent").all()
        assert (tr[tr.station_code == "T1212"].status == "ok").all()  # same answers, right codes
        assert first.complete  # a permanent failure: the store is complete
        cube = _cube(cfg.study.store).sel(station="IV.NRCA")
        assert np.isnan(cube.waveform.values).all()
        assert set(np.unique(cube.status.values)) <= {Status.WRONG_DATA, Status.NO_DATA}
        cache = tmp_path / "cache"
        assert not list(cache.rglob("*DEF*"))  # never cached
        assert not list(cache.rglob("IV.NRCA*.D.*"))  # nor filed under the asked station
        record = cache / ".fetched" / "IV.NRCA..HH.txt"  # only the windows without data
        n_recorded = len(record.read_text().splitlines()) if record.exists() else 0
        assert n_recorded == (nrca.status == "no_data").sum()
        # The service is fixed: the permanent failures are asked again on request.
        svc.impostor = {}
        again = ingest(cfg, client=client, retry_failed=True)
    assert again.complete and again.retried > 0
    _assert_same_cube(cfg.study.store, toy.store)


def test_an_html_page_instead_of_miniseed(tmp_path, toy, client):
    with FDSNService(
        toy.sds_root, toy.stations, toy.events, faults={n: "html" for n in range(1, 100)}
    ) as svc:
        cfg = _config(tmp_path, toy, dict(FDSN, fdsn=svc.url, cache=str(tmp_path / "cache")))
        first = ingest(cfg, client=client)
        tr = Store(cfg.study.store).read_table(TRACES)
        assert not first.complete and (tr.status == "transient").all()
        asked = tr[~tr.reason.str.contains("not asked")]
        assert len(asked) and asked.reason.str.contains("HTML").all()
        assert np.isnan(_cube(cfg.study.store).waveform.values).all()
        assert not list((tmp_path / "cache").rglob("*.D.*"))
        svc.faults = {}
        healed = ingest(cfg, client=client)
    assert healed.complete
    _assert_same_cube(cfg.study.store, toy.store)


def test_an_sds_day_file_of_another_station(tmp_path, toy, client):
    sds = tmp_path / "sds"
    shutil.copytree(toy.sds_root, sds)
    day = UTCDateTime(T0)
    name = f"D.{day.year}.{day.julday:03d}"
    ours = sds / str(day.year) / "IV" / "NRCA" / "HHZ.D" / f"IV.NRCA..HHZ.{name}"
    theirs = sds / str(day.year) / "IV" / "DEF" / "HHZ.D" / f"IV.DEF..HHZ.{name}"
    original = ours.read_bytes()
    ours.write_bytes(theirs.read_bytes())  # DEF's records filed under NRCA
    cfg = _config(tmp_path / "s", toy, {"sds_root": str(sds), "codec": "zstd-3"})
    ingest(cfg, client=client)
    tr = Store(cfg.study.store).read_table(TRACES)
    nrca = tr[tr.station_code == "NRCA"].reset_index(drop=True)
    on_day0 = (nrca.trace_p_arrival_time - pd.Timedelta(8, "s")) < pd.Timestamp(
        day.datetime, tz="UTC"
    ) + pd.Timedelta(1, "D")
    wrong = nrca[on_day0]
    assert len(wrong) and (wrong.status == "wrong_data").all()
    assert wrong.reason.str.contains("holds records of IV.DEF..HHZ, not IV.NRCA..HH?").all()
    assert (nrca[~on_day0].status == "ok").all()
    cube = _cube(cfg.study.store).sel(station="IV.NRCA")
    assert np.isnan(cube.waveform.values[on_day0.to_numpy()]).all()
    ours.write_bytes(original)  # the archive is fixed
    ingest(cfg, client=client, retry_failed=True)
    _assert_same_cube(cfg.study.store, toy.store)
