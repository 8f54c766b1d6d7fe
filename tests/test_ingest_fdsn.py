"""Ingest through ObsPy's real FDSN Client from a loopback web service that misbehaves:
the cube equals the one built from the SDS files, failures are in traces.parquet, the
request rate stays under the limit, a second run downloads nothing, and once the service
answers the window it kept failing, the next run fetches that window alone and the store
is complete and equal to the SDS-built one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed import Client, LocalCluster
from fdsn_loopback import FDSNService
from obspy import UTCDateTime

from faultprobe.config import load_config
from faultprobe.pipelines.fdsn import redact
from faultprobe.pipelines.ingest import ingest
from faultprobe.testing.defects import write_toy_config, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

RATE, CONCURRENT = 4.0, 2


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("fdsn")
    study = write_toy_study(str(d / "a"), corrupt=False)
    ref_cfg = load_config(write_toy_config(str(d / "a"), study))
    poisoned = ("T1212", UTCDateTime(study.events.source_origin_time[5].to_pydatetime()) + 5)
    faults = {1: "429", 3: "500", 4: "slow", 6: "truncated", 8: "503"}
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        ingest(ref_cfg, client=client)
        fd = d / "b"
        fd.mkdir()
        store = fd / "store"
        store.mkdir()
        study.events.to_parquet(store / "events.parquet")
        study.stations.to_parquet(store / "stations.parquet")
        with FDSNService(
            study.sds_root,
            study.stations,
            study.events,
            faults=faults,
            poison=[poisoned],
            slow_s=2.5,
        ) as svc:
            w = {
                "source": "fdsn",
                "fdsn": svc.url,
                "cache": str(fd / "cache"),
                "max_requests_per_second": RATE,
                "max_concurrent_requests": CONCURRENT,
                "request_timeout_s": 1.5,
                "retry_backoff_s": 0.2,
                "max_attempts": 2,
                "max_bulk_items": 8,
                "block_size": 4,
            }
            toy = type(study)(str(store), "", study.events, study.stations)
            cfg = load_config(write_toy_config(str(fd), toy, waveforms=w))
            first = ingest(cfg, client=client)
            first_log = list(svc.log)
            # Same windows again into a fresh store: everything comes from the cache.
            store2 = fd / "store2"
            store2.mkdir()
            study.events.to_parquet(store2 / "events.parquet")
            study.stations.to_parquet(store2 / "stations.parquet")
            cfg2 = cfg.model_copy(
                update={"study": cfg.study.model_copy(update={"store": str(store2)})}
            )
            n_before = svc.n_dataselect
            ingest(cfg2, client=client)
            again = svc.n_dataselect - n_before
            # The service heals: the next run asks for the failed window only.
            svc.poison = []
            k = len(svc.asked)
            healed = ingest(cfg, client=client)
            asked_then = svc.asked[k:]
            busiest = svc.requests_in_windows(1.0)
    return study, str(store), first_log, again, poisoned, first, healed, asked_then, busiest


def test_first_run_is_incomplete_and_names_the_failed_window(runs):
    _, _, _, _, (bad_station, _), first, _, _, _ = runs
    assert not first.complete
    assert list(zip(first.transient.source_id, first.transient.station_code)) == [
        ("toy0005", bad_station)
    ]
    assert "1 windows failed transiently" in first.problem()
    assert "Internal" in first.problem()


def test_failures_are_in_traces_parquet(runs):
    study, store, _, _, (bad_station, _), *_ = runs
    tr = pd.read_parquet(f"{store}/traces.parquet")
    assert len(tr) == len(study.events) * len(study.stations)
    ghost = tr[tr.station_code == "GHOST"]
    assert (ghost.status == "no_data").all() and ghost.reason.str.contains("no data from").all()
    assert (ghost.failure == "permanent").all()
    assert (tr.source == "fdsn").all()


def test_the_failed_window_was_transient(runs):
    _, _, _, _, (bad_station, _), first, _, _, _ = runs
    row = first.transient.iloc[0]
    assert row.status == "transient" and row.failure == "transient"
    assert "Internal" in row.reason and row.attempts >= 2


def test_healed_run_asks_only_the_failed_window_and_equals_the_sds_cube(runs):
    study, store, _, _, (bad_station, t), _, healed, asked, _ = runs
    assert healed.complete and healed.retried == 1 and healed.ran == 0
    assert {ln[2] for ln in asked} == {bad_station}
    assert all(ln[5] <= t <= ln[6] for ln in asked)
    ref = xr.open_zarr(f"{study.store}/waveforms.zarr").load()
    got = xr.open_zarr(f"{store}/waveforms.zarr").load()
    np.testing.assert_array_equal(got.status.values, ref.status.values)
    np.testing.assert_array_equal(got.waveform.values, ref.waveform.values)
    np.testing.assert_array_equal(got.start_time.values, ref.start_time.values)
    assert got.attrs["source"] == "fdsn" and got.attrs["complete"] is True
    tr = pd.read_parquet(f"{store}/traces.parquet")
    tref = pd.read_parquet(f"{study.store}/traces.parquet")
    pd.testing.assert_series_equal(tr.status, tref.status)
    assert tr.attempts.max() >= 2  # the 500, slow and truncated answers were retried


def test_request_rate_never_exceeds_the_limit(runs):
    _, _, log, _, _, _, _, _, busiest = runs
    assert len(log) >= 8
    assert {r for _, _, r, _ in log} >= {"version", "query"}  # the probe is counted too
    assert busiest <= RATE
    assert any(m == "POST" for _, m, _, _ in log)  # bulk requests


def test_second_run_downloads_nothing(runs):
    _, _, _, again, *_ = runs
    # Only the poisoned window is asked again (it never got an answer).
    assert again <= 2


def test_token_never_in_reasons():
    assert (
        redact("failed with secret-token-123 inside", "secret-token-123")
        == "failed with [token] inside"
    )
