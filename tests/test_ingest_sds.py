"""Ingest from SDS archives: statuses of every bad input, exact window cuts, P times, cube layout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from obspy import UTCDateTime
from obspy.clients.filesystem.sds import Client as SDSClient

from faultprobe.config import load_config
from faultprobe.geodesy import KM_PER_DEGREE, epicentral_km
from faultprobe.pipelines.ingest import IngestError, ingest
from faultprobe.pipelines.velocity import PTable, carannante_nd_text, taup_model
from faultprobe.store import TRACES, Store
from faultprobe.testing.defects import write_toy_config, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


def _utc(value) -> UTCDateTime:
    return UTCDateTime(ns=int(np.asarray(value).astype("datetime64[ns]").astype(np.int64)))


@pytest.fixture(scope="module")
def built(tmp_path_factory, client):
    d = tmp_path_factory.mktemp("sds")
    study = write_toy_study(str(d))
    cfg = load_config(write_toy_config(str(d), study))
    summary = ingest(cfg, client=client)
    return study, cfg, summary


def test_every_bad_input_has_its_status(built):
    study, _, summary = built
    tr = Store(study.store).read_table(TRACES)  # the names of docs/tables.md
    assert len(tr) == len(study.events) * len(study.stations)
    assert not tr.duplicated(["source_id", "station_network_code", "station_code"]).any()
    got = {(r.source_id, r.station_code): r.status for r in tr.itertuples()}
    assert got == study.expected
    reasons = dict(zip(zip(tr.source_id, tr.station_code), tr.reason))
    assert "filled gap" in reasons[("toy0001", "DEF")]
    assert "gap of 1.00 s" in reasons[("toy0002", "DEF")]
    assert "all samples zero" in reasons[("toy0004", "DEF")]
    assert "disagree" in reasons[("toy0006", "DEF")]
    assert "cannot read miniSEED" in reasons[("toy0011", "DEF")]
    assert "E missing" in reasons[("toy0003", "MISS")]
    assert "resampled 125 -> 100 Hz" in reasons[("toy0003", "T1212")]
    assert summary.status_counts["ok"] == sum(v == "ok" for v in study.expected.values())


def test_windows_are_exact_raw_samples_on_the_grid(built):
    """Each ok 100 Hz window equals ObsPy's own read of the archive, sample for sample,
    including the window that crosses midnight (event 0)."""
    study, cfg, _ = built
    ds = xr.open_zarr(f"{study.store}/waveforms.zarr")
    sds = SDSClient(study.sds_root)
    assert ds.sizes["time"] == 2500 and list(ds.component.values) == ["E", "N", "Z"]
    for eid in ("toy0000", "toy0005", "toy0008"):
        cell = ds.sel(event=eid, station="IV.NRCA")
        t0 = _utc(cell.start_time.values)
        p = _utc(cell.p_time.values)
        assert abs((t0 - p) + 5.0) <= 0.005  # on the sample grid, within half a sample of P - 5 s
        st = sds.get_waveforms("IV", "NRCA", "", "HH?", t0, t0 + 24.99)
        for c, comp in enumerate("ENZ"):
            ref = st.select(channel=f"HH{comp}").merge()[0].data
            np.testing.assert_array_equal(cell.waveform.values[c], ref.astype(np.float32))
    first = pd.Timestamp(ds.start_time.sel(event="toy0000", station="IV.NRCA").values)
    assert first.day == 29 and (first + pd.Timedelta(25, "s")).day == 30


def test_resampled_station_matches_obspy_resampling(built):
    """125 Hz -> 100 Hz: the same samples as ObsPy's FFT resampling on a common grid."""
    from scipy import signal

    study, _, _ = built
    ds = xr.open_zarr(f"{study.store}/waveforms.zarr")
    cell = ds.sel(event="toy0005", station="8P.T1212")
    t0 = _utc(cell.start_time.values)
    sds = SDSClient(study.sds_root)
    for shift in (0.0, 0.01, 0.02, 0.03):  # a start on both the 125 Hz and the 100 Hz grid
        tr = sds.get_waveforms("8P", "T1212", "", "EHZ", t0 - 10 - shift, t0 + 35).merge()[0]
        if abs(tr.stats.starttime - (t0 - 10 - shift)) < 1e-6:
            break
    tr.data = tr.data[: len(tr.data) // 5 * 5].astype(float)  # whole 100 Hz samples: no drift
    tr.resample(100.0)
    ref = tr.slice(t0 - 0.001, t0 + 24.995).data[:2500]
    sos = signal.butter(4, 30.0, fs=100.0, output="sos")  # compare below the filters' edges
    a_, b_ = signal.sosfiltfilt(sos, cell.waveform.values[2]), signal.sosfiltfilt(sos, ref)
    core = slice(200, 2300)
    assert np.corrcoef(a_[core], b_[core])[0, 1] > 0.999


def test_gap_samples_are_missing_and_short_gaps_filled(built):
    study, _, _ = built
    ds = xr.open_zarr(f"{study.store}/waveforms.zarr")
    w_long = ds.waveform.sel(event="toy0002", station="IV.DEF").values
    w_short = ds.waveform.sel(event="toy0001", station="IV.DEF").values
    assert 90 <= np.isnan(w_long[2]).sum() <= 110  # the 1 s gap, at 100 Hz
    assert not np.isnan(w_short).any()
    assert np.isnan(ds.waveform.sel(station="IV.GHOST").values).all()
    assert np.isnan(ds.waveform.sel(station="IV.MISS", component="E").values).all()
    assert not np.isnan(ds.waveform.sel(station="IV.MISS", component="Z").values).any()


def test_p_times_from_the_table_match_taup(built):
    study, _, _ = built
    ds = xr.open_zarr(f"{study.store}/waveforms.zarr")
    model = taup_model("carannante2013")
    ev, st = study.events, study.stations
    for i, j in [(0, 0), (5, 1), (9, 3)]:
        d = epicentral_km(
            ev.source_latitude_deg[i],
            ev.source_longitude_deg[i],
            st.station_latitude_deg[j],
            st.station_longitude_deg[j],
        )
        z = ev.source_depth_km[i]
        tt = min(a.time for a in model.get_travel_times(z, d / KM_PER_DEGREE, ["p", "P"]))
        tt += st.station_elevation_m[j] / 1000 / 5.63
        got = (
            ds.p_time.values[i, j] - ev.source_origin_time[i].tz_localize(None).to_datetime64()
        ) / np.timedelta64(1, "s")
        assert abs(got - tt) < 0.02


def test_cube_layout_and_attrs(built):
    study, cfg, _ = built
    ds = xr.open_zarr(f"{study.store}/waveforms.zarr")
    assert ds.waveform.dtype == np.float32 and ds.status.dtype == np.int8
    assert ds.waveform.encoding["chunks"] == (4, 1, 3, 2500)
    for name in (
        "event_id",
        "origin_time",
        "latitude",
        "depth_km",
        "magnitude",
        "phase",
        "ttf_s",
        "network",
    ):
        assert name in ds.coords
    assert ds.attrs["complete"] is True and ds.attrs["codec"] in ds.attrs["codec_measurement"]
    assert ds.attrs["velocity_model"] == "carannante2013" and ds.attrs["sampling_rate"] == 100.0
    assert (ds.status.values >= 0).all()


def test_rerun_is_a_no_op_and_other_plans_are_refused(built, client, tmp_path):
    study, cfg, _ = built
    again = ingest(cfg, client=client)
    assert again.ran == 0 and again.skipped == again.n_blocks
    ev = pd.read_parquet(f"{study.store}/events.parquet")
    ev.loc[0, "source_depth_km"] += 1.0
    other = tmp_path / "store"
    other.mkdir()
    ev.to_parquet(other / "events.parquet")
    study.stations.to_parquet(other / "stations.parquet")
    import shutil

    shutil.copytree(f"{study.store}/waveforms.zarr", other / "waveforms.zarr")
    shutil.copytree(f"{study.store}/ingest", other / "ingest")
    cfg2 = cfg.model_copy(update={"study": cfg.study.model_copy(update={"store": str(other)})})
    with pytest.raises(IngestError, match="other events"):
        ingest(cfg2, client=client)


def test_events_table_without_a_column_is_a_clear_error(tmp_path, client):
    study = write_toy_study(str(tmp_path), n_events=4, days=1)
    study.events.drop(columns=["source_depth_km"]).to_parquet(f"{study.store}/events.parquet")
    cfg = load_config(write_toy_config(str(tmp_path), study))
    missing = r"events.parquet: missing columns \['source_depth_km'\] \(formerly depth_km\)"
    with pytest.raises(ValueError, match=missing):
        ingest(cfg, client=client)


def test_travel_time_table_and_shipped_model():
    from importlib import resources

    shipped = (resources.files("faultprobe") / "data" / "carannante2013.nd").read_text()
    assert shipped == carannante_nd_text()
    table = PTable.load("carannante2013")
    model = taup_model("carannante2013")
    rng = np.random.default_rng(1)
    for d, z in zip(rng.uniform(1, 140, 6), rng.uniform(2, 35, 6)):
        ref = min(a.time for a in model.get_travel_times(z, d / KM_PER_DEGREE, ["p", "P"]))
        assert abs(table.travel_time(np.array([d]), np.array([z]))[0] - ref) < 0.03
    assert np.isnan(table.travel_time(np.array([500.0]), np.array([5.0]))[0])
    iasp = PTable.load("iasp91")
    assert (
        abs(iasp.travel_time(np.array([20.0]), np.array([10.0]))[0] - np.hypot(20, 10) / 5.8) < 0.2
    )


def test_response_removal_matches_obspy(tmp_path, client):
    from obspy import read_inventory

    from faultprobe.testing.defects import write_toy_inventory

    study = write_toy_study(str(tmp_path), n_events=4, days=1)
    inv_path = write_toy_inventory(str(tmp_path), study)
    cfg = load_config(write_toy_config(str(tmp_path), study, waveforms={"remove_response": True}))
    ingest(cfg, client=client)
    ds = xr.open_zarr(f"{study.store}/waveforms.zarr")
    assert ds.attrs["preprocessing"]["remove_response"] is True
    cell = ds.sel(event="toy0002", station="IV.NRCA")
    t0 = _utc(cell.start_time.values)
    tr = SDSClient(study.sds_root).get_waveforms("IV", "NRCA", "", "HHZ", t0, t0 + 24.99)[0]
    tr.remove_response(read_inventory(inv_path), output="VEL", water_level=60, taper_fraction=0.05)
    ours = cell.waveform.values[2].astype(np.float64)
    np.testing.assert_allclose(ours, tr.data, rtol=0, atol=1e-5 * np.abs(tr.data).max())


def test_info_prints_what_the_store_holds(built, capsys):
    from faultprobe.cli import main

    study, _, _ = built
    assert main(["info", study.store]) == 0
    out = capsys.readouterr().out
    assert "events: 12" in out and "IV.DEF" in out and "missing_component" in out
    assert "chunks (4, 1, 3, 2500)" in out and "MB on disk" in out
