"""`[waveforms] p_arrival = "picks"`: the catalog's analyst P picks place the windows where
an event has one at the station, the velocity model elsewhere, and the cube says which."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from catalog_files import write_quakeml
from obspy import UTCDateTime
from obspy.clients.filesystem.sds import Client as SDSClient

from faultprobe.catalogs.study import build_catalog
from faultprobe.config import load_config
from faultprobe.pipelines.ingest import ingest
from faultprobe.pipelines.placement import PicksError, PSource, placed_by_picks
from faultprobe.pipelines.plan import make_plan
from faultprobe.store import EVENTS, STATIONS, TRACES, Store
from faultprobe.testing.defects import write_toy_config, write_toy_inventory, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

#: (event number, station, seconds from the model's P): the analyst's picks
PICKED = [(0, "NRCA", 0.8), (2, "NRCA", -0.6), (4, "NRCA", 1.3), (5, "T1212", 0.5)]


def _ns(t) -> int:
    return int(np.asarray(t).astype("datetime64[ns]").astype(np.int64))


@pytest.fixture(scope="module")
def built(tmp_path_factory, client):
    d = tmp_path_factory.mktemp("picks")
    study = write_toy_study(str(d), n_events=8, corrupt=False)
    write_toy_inventory(str(d), study)
    model = make_plan(study.events, study.stations, load_config(
        write_toy_config(str(d), study, name="model.toml")).waveforms)  # fmt: skip
    net = dict(zip(study.stations["station_code"], study.stations["station_network_code"]))
    col = {s: j for j, s in enumerate(study.stations["station_code"])}
    picks, want = [], {}
    for i, sta, lag in PICKED:
        t = pd.Timestamp(model.p_time_ns[i, col[sta]] + int(lag * 1e9), tz="UTC").round("us")
        eid = study.events["source_id"][i]
        picks.append((eid, net[sta], sta, t, "P", "manual", True))
        want[(eid, sta)] = t
    # an S pick and an automatic P pick no arrival uses, both earlier: neither places P
    early = want[(study.events["source_id"][0], "NRCA")] - pd.Timedelta(seconds=2)
    picks += [(study.events["source_id"][0], "IV", "NRCA", early, "S", "manual", True),
              (study.events["source_id"][0], "IV", "NRCA", early, "P", "automatic", False)]  # fmt: skip
    write_quakeml(
        d / "catalog.xml", study.events.assign(mw=study.events["source_magnitude"]), picks
    )
    path = write_toy_config(str(d), study, waveforms={"p_arrival": "picks"})
    text = (
        open(path)
        .read()
        .replace('path = "catalog.txt"', 'path = "catalog.xml"\nformat = "quakeml"')
    )
    open(path, "w").write(text + '\n[selection]\nmode = "analyst"\n')
    cfg = load_config(path)
    build_catalog(cfg)
    summary = ingest(cfg, client=client)
    return study, cfg, model, want, summary


def test_picked_traces_are_cut_at_the_pick_the_others_at_the_model_time(built):
    study, cfg, model, want, _ = built
    ds = xr.open_zarr(f"{study.store}/waveforms.zarr")
    events = Store(study.store).read_table(EVENTS)
    assert events["source_id"].tolist() == study.events["source_id"].tolist()
    p_source = ds.p_source.values
    p_time = ds.p_time.values.astype("datetime64[ns]").astype(np.int64)
    for i, eid in enumerate(ds.event.values):
        for j, code in enumerate(ds.station.values):
            sta = code.split(".")[1]
            if (eid, sta) in want:
                assert p_source[i, j] == PSource.PICK and p_time[i, j] == want[(eid, sta)].value
            else:
                assert p_source[i, j] == PSource.MODEL and p_time[i, j] == model.p_time_ns[i, j]
    assert int((p_source == PSource.PICK).sum()) == len(PICKED)
    assert ds.p_source.attrs["flag_meanings"] == "model pick dataset"
    assert ds.attrs["p_arrival"] == "picks"
    traces = Store(study.store).read_table(TRACES).set_index(["source_id", "station_code"])
    for (eid, sta), t in want.items():
        assert traces.loc[(eid, sta), "trace_p_arrival_time"] == t


def test_the_picked_window_is_the_archive_from_the_pick(built):
    """The samples of a picked window are the archive's from pick - 5 s: the window moved."""
    study, _, _, want, _ = built
    ds = xr.open_zarr(f"{study.store}/waveforms.zarr")
    eid = study.events["source_id"][4]
    cell = ds.sel(event=eid, station="IV.NRCA")
    assert str(ds.status.sel(event=eid, station="IV.NRCA").values) == "0"
    t0 = UTCDateTime(ns=_ns(cell.start_time.values))
    assert abs((t0 - UTCDateTime(want[(eid, "NRCA")].to_pydatetime())) + 5.0) <= 0.005
    st = SDSClient(study.sds_root).get_waveforms("IV", "NRCA", "", "HH?", t0, t0 + 24.99)
    for c, comp in enumerate("ENZ"):
        ref = st.select(channel=f"HH{comp}").merge()[0].data
        np.testing.assert_array_equal(cell.waveform.values[c], ref.astype(np.float32))


def test_without_the_picks_table_the_ingest_says_what_to_do(built, tmp_path):
    study, cfg, _, _, _ = built
    src, empty = Store(study.store), Store(str(tmp_path / "s"))
    plan = make_plan(src.read_table(EVENTS), src.read_table(STATIONS), cfg.waveforms)
    with pytest.raises(PicksError, match="picks.parquet is missing.*faultprobe catalog --force"):
        placed_by_picks(plan, empty)


def test_picks_at_none_of_the_stations_is_a_warning(built, tmp_path, caplog):
    study, cfg, _, _, _ = built
    src, other = Store(study.store), Store(str(tmp_path / "s"))
    plan = make_plan(src.read_table(EVENTS), src.read_table(STATIONS), cfg.waveforms)
    picks = src.read_table("picks.parquet").assign(station_code="ELSEWHERE")
    other.write_table(picks, "picks.parquet")
    with caplog.at_level(logging.WARNING, logger="faultprobe"):
        assert placed_by_picks(plan, other) is plan
    assert (
        "no P pick of the 8 events" in caplog.text and "velocity model places every" in caplog.text
    )
