"""`faultprobe.predict` and `faultprobe predict`: a day of miniSEED from the study's own
archive, through the run's preprocessing, gives the probabilities the run stored for the
same events (to 1e-6); so do the cube's windows given as an array."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import faultprobe
from faultprobe.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


def _day_files(trained) -> tuple[list[Path], pd.DataFrame]:
    """The NRCA day files of the day with most of the run's events, and those events."""
    preds = pd.read_parquet(f"{trained.run}/predictions.parquet")
    day = preds["source_origin_time"].dt.strftime("%Y.%j").value_counts().index[0]
    root = Path(trained.cfg.waveforms.sds_root)
    files = sorted(root.glob(f"*/IV/NRCA/HH?.D/IV.NRCA..HH?.D.{day}"))
    assert len(files) == 3
    return files, preds[preds["source_origin_time"].dt.strftime("%Y.%j") == day]


def _compare(got: pd.DataFrame, stored: pd.DataFrame) -> int:
    both = got.merge(stored, on="source_id", suffixes=("", "_stored"))
    both = both[both["status_NRCA"] == "ok"]
    for c in ("p_pre", "p_post"):
        np.testing.assert_allclose(both[c], both[f"{c}_stored"], rtol=0, atol=1e-6)
    assert (both["pred"] == both["pred_stored"]).all()
    return len(both)


def test_predict_on_a_day_of_miniseed_reproduces_the_runs_probabilities(small_trained):
    files, stored = _day_files(small_trained)
    got = faultprobe.predict(small_trained.run, files)
    assert {"source_id", "source_origin_time", "status_NRCA", "p_time_NRCA", "pred_class", "p_pre",
            "p_post"} <= set(got.columns)  # fmt: skip
    # every event of the run on that day whose window lies inside the day is predicted
    inside = stored[
        (stored["source_origin_time"].dt.hour > 0) & (stored["source_origin_time"].dt.hour < 23)
    ]
    assert _compare(got, stored) >= max(3, len(inside))
    # the P times are the cube's
    cube = xr.open_zarr(f"{small_trained.store}/waveforms.zarr")
    p = cube.p_time.sel(station="IV.NRCA", event=list(got["source_id"])).values
    np.testing.assert_array_equal(
        pd.DatetimeIndex(got["p_time_NRCA"]).tz_convert(None).to_numpy("datetime64[ns]"),
        p.astype("datetime64[ns]"),
    )


def test_the_command_writes_the_same_table(small_trained, tmp_path):
    files, stored = _day_files(small_trained)
    out = tmp_path / "pred.csv"
    assert main(["predict", small_trained.run, *map(str, files), "--out", str(out)]) == 0
    got = pd.read_csv(out, dtype={"source_id": str})
    assert _compare(got, stored) >= 3


def test_cube_windows_as_an_array(small_trained):
    stored = pd.read_parquet(f"{small_trained.run}/predictions.parquet").head(20)
    cube = xr.open_zarr(f"{small_trained.store}/waveforms.zarr")
    x = cube.waveform.sel(station="IV.NRCA", event=list(stored["source_id"])).values
    got = faultprobe.predict(small_trained.run, x)
    np.testing.assert_allclose(got["p_post"], stored["p_post"], rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(n, 3, time\)"):
        faultprobe.predict(small_trained.run, x[:, :2])


def test_traces_of_another_station_are_no_data(small_trained):
    from obspy import read

    files, _ = _day_files(small_trained)
    st = read(str(files[0]))
    for tr in st:
        tr.stats.station = "XXXX"
    events = pd.read_parquet(f"{small_trained.store}/events.parquet").head(3)
    got = faultprobe.predict(small_trained.run, st, events=events)
    assert (got["status_NRCA"] == "no_data").all() and got["p_pre"].isna().all()


def test_a_two_station_run_reads_both_stations_files(small_trained, tmp_path):
    """3 x 2 input channels: NRCA's E, N, Z then T1212's (125 Hz, resampled as ingested)."""
    from small_study import copy_store

    from faultprobe.ml.experiment import run_experiment
    from faultprobe.ml.spec import spec_from_config

    cfg = copy_store(small_trained, tmp_path)
    spec = spec_from_config(cfg, stations=["IV.NRCA", "8P.T1212"], classes=2, seed=3)
    spec = spec.model_copy(
        update={
            "window_s": (-1.0, 4.0),
            "model": spec.model.model_copy(update={"width": 0.25}),
            "training": spec.training.model_copy(update={"epochs": 1, "device": "cpu"}),
        }
    )
    run_experiment(cfg.study.store, spec)
    run = f"{cfg.study.store}/runs/{spec.run_id}"
    stored = pd.read_parquet(f"{run}/predictions.parquet")
    day = stored["source_origin_time"].dt.strftime("%Y.%j").value_counts().index[0]
    root = Path(cfg.waveforms.sds_root)
    files = sorted(root.glob(f"*/*/*/*.D/*.{day}"))
    files = [f for f in files if ".NRCA." in f.name or ".T1212." in f.name]
    assert len(files) == 6
    got = faultprobe.predict(run, files)
    both = got.merge(stored, on="source_id", suffixes=("", "_stored"))
    both = both[(both["status_NRCA"] == "ok") & (both["status_T1212"] == "ok")]
    assert len(both) >= 3
    np.testing.assert_allclose(both["p_post"], both["p_post_stored"], rtol=0, atol=1e-6)


def test_given_p_times_replace_the_theoretical_ones(small_trained):
    """P given per event (here the cube's own, shifted by 0 and by 1 s) is where the
    window is cut: unshifted, the same probabilities; shifted, other ones."""
    files, stored = _day_files(small_trained)
    traces = pd.read_parquet(f"{small_trained.store}/traces.parquet")
    p = traces[traces.station_code == "NRCA"][["source_id", "trace_p_arrival_time"]]
    p = p[p.source_id.isin(stored.source_id)]
    old = p.rename(columns={"trace_p_arrival_time": "p_time"})  # the older name is taken too
    events = pd.read_parquet(f"{small_trained.store}/events.parquet")
    events = events[events.source_id.isin(p.source_id)]
    same = faultprobe.predict(small_trained.run, files, events=events, p_times=old)
    assert _compare(same, stored) >= 3
    later = p.assign(trace_p_arrival_time=p.trace_p_arrival_time + pd.Timedelta(1, "s"))
    moved = faultprobe.predict(small_trained.run, files, events=events, p_times=later)
    both = moved.merge(stored, on="source_id", suffixes=("", "_stored"))
    both = both[both.status_NRCA == "ok"]
    assert len(both) >= 3 and (np.abs(both.p_post - both.p_post_stored) > 1e-6).any()
