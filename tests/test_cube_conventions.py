"""The cube speaks CF and the ecosystem: Conventions, units and long names, UTC times that
compare with the tables, stations as NET.STA, channel and location per trace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


def test_cf_attributes(small_ingested):
    cube = xr.open_zarr(f"{small_ingested.store}/waveforms.zarr")
    assert cube.attrs["Conventions"].startswith("CF-")
    assert cube.attrs["time_zone"].startswith("UTC")
    assert cube.waveform.attrs["units"] == "counts"
    assert "raw" in cube.waveform.attrs["long_name"]
    assert cube.time.attrs["units"] == "s"
    assert cube.latitude.attrs["units"] == "degrees_north"
    assert cube.depth_km.attrs["units"] == "km"
    assert cube.station_elevation_m.attrs["units"] == "m"
    assert "UTC" in cube.p_time.attrs["long_name"]
    assert cube.p_time.encoding["units"].endswith("+00:00")


def test_stations_are_net_sta(small_ingested):
    cube = xr.open_zarr(f"{small_ingested.store}/waveforms.zarr")
    assert list(cube.station.values) == ["IV.NRCA", "8P.T1212", "IV.SMA1"]
    assert list(cube.station_code.values) == ["NRCA", "T1212", "SMA1"]
    nrca = cube.sel(station="IV.NRCA")
    assert str(nrca.network.values) == "IV" and str(nrca.channels.values) == "HH"


def test_cube_times_compare_with_the_tables_in_utc(small_ingested):
    cube = xr.open_zarr(f"{small_ingested.store}/waveforms.zarr")
    events = pd.read_parquet(f"{small_ingested.store}/events.parquet")
    assert str(events.source_origin_time.dt.tz) == "UTC"
    # the documented way (docs/ingest.md): the cube's times are UTC without a zone
    origin = pd.DatetimeIndex(cube.origin_time.values).tz_localize("UTC")
    assert (origin == pd.DatetimeIndex(events.source_origin_time)).all()
    traces = pd.read_parquet(f"{small_ingested.store}/traces.parquet")
    first = traces[traces.station_code == "NRCA"].set_index("source_id")["trace_p_arrival_time"]
    p = pd.DatetimeIndex(cube.p_time.sel(station="IV.NRCA").values).tz_localize("UTC")
    assert (p == pd.DatetimeIndex(first.loc[list(cube.event.values)])).all()


def test_channel_and_location_per_trace(small_ingested):
    traces = pd.read_parquet(f"{small_ingested.store}/traces.parquet")
    ok = traces[traces.status == "ok"]
    got = ok.groupby("station_code")["trace_channels"].agg(lambda c: sorted(set(c)))
    assert got["NRCA"] == ["HHE,HHN,HHZ"] and got["T1212"] == ["EHE,EHN,EHZ"]
    assert set(ok["station_location_code"]) == {""}
    nodata = traces[traces.status == "no_data"]
    assert (nodata["trace_channels"] == "").all()
    first = ["trace_name", "source_id", "station_network_code", "station_code"]
    assert list(traces.columns[:4]) == first
    names = (
        traces["source_id"] + "." + traces["station_network_code"] + "." + traces["station_code"]
    )
    assert (traces["trace_name"] == names).all() and not traces["trace_name"].duplicated().any()


def test_tables_use_seisbench_names_in_memory_as_on_disk(small_ingested):
    """On disk and through the store SeisBench's names (docs/tables.md), the SNR in dB;
    the store drops only the derived trace_name."""
    from faultprobe.store import TRACES, Store

    disk = pd.read_parquet(f"{small_ingested.store}/traces.parquet")
    assert {"source_id", "station_code", "trace_p_arrival_time", "trace_start_time",
            "trace_snr_db", "status", "reason"} <= set(disk.columns)  # fmt: skip
    mem = Store(small_ingested.store).read_table(TRACES)
    assert list(mem.columns) == [c for c in disk.columns if c != "trace_name"]
    ok = mem["status"] == "ok"
    np.testing.assert_array_equal(mem.loc[ok, "trace_snr_db"], disk.loc[ok, "trace_snr_db"])
    assert (mem.loc[ok, "trace_snr_db"] > 0).mean() > 0.5  # an amplitude ratio above 1
    part = Store(small_ingested.store).read_table(TRACES, columns=["source_id", "status"])
    assert list(part.columns) == ["source_id", "status"]


def test_a_store_in_the_old_short_names_reads_upgraded(small_ingested, tmp_path):
    """LEGACY fixture: traces.parquet as stores wrote it before the rename (short names, the
    SNR as an amplitude ratio, no trace_name) reads in today's names, the SNR in dB."""
    from faultprobe.columns import legacy
    from faultprobe.store import TRACES, Store

    disk = pd.read_parquet(f"{small_ingested.store}/traces.parquet")
    short = {new: old for old, new in legacy(TRACES).items()}
    old = disk.drop(columns="trace_name").rename(columns=short)
    old["snr"] = (10 ** (disk["trace_snr_db"].astype(float) / 20)).astype(np.float32)
    old.to_parquet(tmp_path / TRACES, index=False)
    mem = Store(str(tmp_path)).read_table(TRACES)
    assert list(mem.columns) == [c for c in disk.columns if c != "trace_name"]
    ok = mem["status"] == "ok"
    np.testing.assert_allclose(
        mem.loc[ok, "trace_snr_db"], disk.loc[ok, "trace_snr_db"], rtol=1e-5, atol=1e-4
    )
    part = Store(str(tmp_path)).read_table(TRACES, columns=["source_id", "status"])
    assert list(part.columns) == ["source_id", "status"]
