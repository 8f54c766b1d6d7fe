"""The request planner and the limits it keeps, counted at a loopback FDSN service that
enforces each data centre's published limits (rate -> 429, requests in flight -> 429,
samples per request -> 413): for every preset the ingest gets no refusal, the service's
peak rate per sliding second and its peak in flight stay within the preset, it makes the
requests the plan counted, and the cube equals the one built from the SDS archive; the
service does refuse a client that ignores the limits; station-day mode asks whole days
and builds the same cube; `ingest --plan` fetches nothing; the plan's figures follow from
the limits (the issue's 62 h for 900k events at INGV, one request per event)."""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fdsn_loopback import FDSNService
from plan_study import seen, service_limits, write_config

from faultprobe import cli
from faultprobe.config import Waveforms, load_config
from faultprobe.config.limits import PRESETS, Limits
from faultprobe.pipelines.ingest import ingest
from faultprobe.pipelines.limits import resolve
from faultprobe.pipelines.plan import Plan, StationInfo
from faultprobe.pipelines.planner import plan_requests, plan_study
from faultprobe.testing.defects import write_toy_config, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

BULK = 3  # lines per request: a few events make a dozen requests, so the limits matter
RESIF_SAMPLES = 25_000.0  # scaled down from 10^10: two windows per request at most


@pytest.fixture(scope="module")
def toy(tmp_path_factory, client):
    d = tmp_path_factory.mktemp("toy")
    study = write_toy_study(str(d), n_events=8, days=2, corrupt=False)
    cfg = load_config(write_toy_config(str(d), study, waveforms={"codec": "zstd-3"}))
    ingest(cfg, client=client)
    return study


def _same_cube(store: str, ref: str) -> None:
    x = xr.open_zarr(f"{ref}/waveforms.zarr").load()
    y = xr.open_zarr(f"{store}/waveforms.zarr").load()
    np.testing.assert_array_equal(x.waveform.values, y.waveform.values)
    np.testing.assert_array_equal(x.status.values, y.status.values)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_preset_within_its_limits_at_the_server(tmp_path, toy, client, preset):
    samples = RESIF_SAMPLES if preset == "resif" else None
    limits = service_limits(preset, samples)
    extra = {"max_samples_per_request": samples} if samples else {}
    with FDSNService(toy.sds_root, toy.stations, toy.events, limits=limits) as svc:
        path = write_config(tmp_path, toy, svc.url, preset, extra, max_bulk_items=BULK)
        cfg = load_config(path)
        plan = plan_study(cfg.study.store, cfg.waveforms)
        summary = ingest(cfg, client=client)
        got = seen(svc)
    assert summary.complete
    _same_cube(cfg.study.store, toy.store)
    assert got["refused"] == {}
    assert got["peak_per_s"] <= limits["per_second"]
    assert got["peak_in_flight"] <= limits["concurrent"]
    assert plan.mode == "events" and got["queries"] == plan.chosen.requests
    if samples:  # cut by samples: more requests than lines alone would need
        assert got["max_samples"] <= samples and plan.chosen.bulk_lines < BULK


def _post(url: str, body: bytes) -> int:
    req = urllib.request.Request(f"{url}/fdsnws/dataselect/1/query", data=body)
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


def test_the_service_refuses_a_client_that_ignores_the_limits(toy):
    ev = pd.Timestamp(toy.events.source_origin_time[1]).strftime("%Y-%m-%dT%H:%M:%S")
    end = (pd.Timestamp(toy.events.source_origin_time[1]) + pd.Timedelta(seconds=20)).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    line = f"IV NRCA -- HH? {ev} {end}\n".encode()
    limits = {"per_second": 4, "concurrent": 2, "samples": 10_000}
    with FDSNService(toy.sds_root, toy.stations, toy.events, limits=limits) as svc:
        codes = []
        threads = [
            threading.Thread(target=lambda: codes.append(_post(svc.url, line))) for _ in range(10)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(1.1)  # out of the last second's window
        too_big = _post(svc.url, line * 2)  # 2 x 20 s x 100 Hz x 3 = 12,000 samples
    assert 429 in codes and 200 in codes and too_big == 413
    assert svc.refused == {429: codes.count(429), 413: 1}


def test_station_day_mode_asks_whole_days_once(tmp_path, toy, client):
    limits = service_limits("ingv")
    with FDSNService(toy.sds_root, toy.stations, toy.events, limits=limits) as svc:
        path = write_config(tmp_path, toy, svc.url, "ingv", {"mode": "days"})
        cfg = load_config(path)
        plan = plan_study(cfg.study.store, cfg.waveforms)
        summary = ingest(cfg, client=client)
        got = seen(svc)
        spans = {round(float(t1 - t0)) for *_, t0, t1 in svc.asked}
        asked = [(ln[2], ln[4], str(ln[5])) for ln in svc.asked]
        again = ingest(cfg, client=client)
        after = seen(svc)
    assert summary.complete and again.complete
    _same_cube(cfg.study.store, toy.store)
    assert plan.mode == "days" and spans == {86_400}
    assert len(asked) == len(set(asked)) == plan.chosen.lines  # each station-day once
    assert got["queries"] == plan.chosen.requests and got["refused"] == {}
    assert after["queries"] == got["queries"]  # the second run asks nothing


def test_ingest_plan_prints_the_plan_and_fetches_nothing(tmp_path, toy, capsys):
    # a port nobody listens on: the plan must not need the service
    path = write_config(tmp_path, toy, "http://127.0.0.1:9", "ingv", max_bulk_items=BULK)
    before = sorted(os.listdir(tmp_path / "store"))
    assert cli.main(["ingest", path, "--plan"]) == 0
    out = capsys.readouterr().out
    assert "preset ingv: 4 requests/s" in out and "* events" in out and "lower bound" in out
    assert sorted(os.listdir(tmp_path / "store")) == before
    assert not (tmp_path / "cache").exists()
    os.remove(tmp_path / "store" / "events.parquet")  # no catalog yet: one line, exit 2
    assert cli.main(["ingest", path, "--plan"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "events.parquet" in err[0] and "faultprobe catalog" in err[0]


def _synthetic_plan(n_events: int, n_stations: int, per_day: float, block: int = 256) -> Plan:
    """A plan of `n_events` at `per_day` events a day, every station 3 s after the origin."""
    t0 = pd.Timestamp("2016-08-24", tz="UTC").value
    origin = t0 + (np.arange(n_events) * (86_400e9 / per_day)).astype(np.int64)
    p = origin[:, None] + np.full((1, n_stations), 3 * 10**9, np.int64)
    stations = [StationInfo("IV", f"S{j}", "", "HH", 100.0) for j in range(n_stations)]
    events = pd.DataFrame({"source_id": np.arange(n_events)})
    return Plan(events, stations, pd.DataFrame(), [s.code for s in stations], p, block, "x")


def _waveforms(**limits) -> Waveforms:
    return Waveforms(
        source="fdsn", fdsn="INGV", cache="cache", max_bulk_items=10, limits=Limits(**limits)
    )


def test_plan_figures_follow_from_the_limits():
    # INGV chosen from the service name; the figure: 900k events, one bulk request
    # per event (a line per station: 2 stations here, 10 in the paper), 4/s -> 62.5 h
    w = _waveforms(mode="events", bandwidth_mb_s=1000.0, max_bulk_lines=2)
    lim = resolve(w)
    assert (lim.preset, lim.per_second, lim.max_bulk_lines) == ("ingv", 4.0, 2)
    rp = plan_requests(_synthetic_plan(900_000, 2, 2_500.0, block=1_000), w)
    assert rp.chosen.requests == 900_000 and rp.chosen.bound_by == "rate"
    assert abs(rp.lower_bound_s / 3600 - 62.5) < 0.01
    # auto: a dense catalog on a fast link is cheaper as station-days; a sparse one on a
    # 10 MB/s link is not
    w = _waveforms(bandwidth_mb_s=1000.0)
    assert plan_requests(_synthetic_plan(20_000, 10, 2_500.0), w).mode == "days"
    sparse = plan_requests(_synthetic_plan(200, 10, 2.0), _waveforms())
    assert sparse.mode == "events" and sparse.other.bound_by == "bandwidth"
    # RESIF: 10^10 samples = 385 station-days of 3 x 100 Hz (on a link fast enough for
    # them to come within the deadline); on 10 MB/s shared by 4 requests, one day each
    w = _waveforms(preset="resif", max_bulk_lines=1000, mode="days", bandwidth_mb_s=1e6)
    assert plan_requests(_synthetic_plan(2_000, 10, 100.0), w).chosen.bulk_lines == 385
    w = _waveforms(preset="resif", max_bulk_lines=1000, mode="days")
    assert plan_requests(_synthetic_plan(2_000, 10, 100.0), w).chosen.bulk_lines == 1
    # keys set by hand win over the preset
    w = _waveforms(preset="earthscope", max_concurrent=3)
    assert (resolve(w).per_second, resolve(w).max_concurrent) == (10.0, 3)
