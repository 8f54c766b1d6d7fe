"""`faultprobe ingest` against an FDSN service that is down at the start, goes down in the
middle of a run and comes back: a clear error before anything is written; an incomplete
store and a non-zero exit that lists the windows to fetch again; then a run that fetches
exactly those windows and ends with the store an uninterrupted run gives."""

from __future__ import annotations

import contextlib
import io
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed import LocalCluster
from fdsn_loopback import FDSNService

from faultprobe import cli

# Imported here, so that the 5 s below measure the command, not first imports.
from faultprobe.pipelines import fdsn, ingest  # noqa: F401
from faultprobe.pipelines.info import describe
from faultprobe.store import TRACES, Store
from faultprobe.testing.defects import write_toy_config, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

WAVEFORMS = {
    "source": "fdsn",
    "codec": "zstd-3",
    "max_attempts": 2,
    "retry_backoff_s": 0.1,
    "request_timeout_s": 2.0,
    "breaker_failures": 3,
    "max_bulk_items": 8,
    "block_size": 4,
}


def _store(folder: Path, study, url: str, address: str) -> tuple[str, str]:
    """A store with the study's tables and a config reading from `url`."""
    store = folder / "store"
    store.mkdir(parents=True)
    study.events.to_parquet(store / "events.parquet")
    study.stations.to_parquet(store / "stations.parquet")
    toy = type(study)(str(store), "", study.events, study.stations)
    w = dict(WAVEFORMS, fdsn=url, cache=str(folder / "cache"))
    cfg = write_toy_config(
        str(folder), toy, waveforms=w, cluster={"kind": "address", "address": address}
    )
    return str(store), cfg


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=":0"
    ) as c:
        yield c.scheduler_address


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return write_toy_study(str(tmp_path_factory.mktemp("toy")), n_events=12, corrupt=False)


def test_service_down_at_the_start_is_a_clear_error_and_writes_nothing(
    tmp_path, study, cluster, capsys
):
    svc = FDSNService(study.sds_root, study.stations, study.events)
    svc.up()
    svc.down()  # the port is known and refuses connections
    store, cfg = _store(tmp_path, study, svc.url, cluster)
    before = sorted(os.listdir(store))
    t0 = time.perf_counter()
    code = cli.main(["ingest", cfg, "-q"])
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err.strip().splitlines()
    assert code == cli.EXIT["service"] == 3
    assert elapsed < 5.0
    assert len(err) == 1 and err[0].startswith("error: cannot reach the FDSN dataselect service")
    assert svc.url in err[0] and 'waveforms.source = "sds"' in err[0]
    assert sorted(os.listdir(store)) == before  # nothing written, no lock left behind
    assert not (tmp_path / "cache").exists()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, study, cluster):
    d = tmp_path_factory.mktemp("down")
    with FDSNService(study.sds_root, study.stations, study.events) as svc:
        ref_store, ref_cfg = _store(d / "ref", study, svc.url, cluster)
        assert cli.main(["ingest", ref_cfg, "-q"]) == 0  # the uninterrupted run
        store, cfg = _store(d / "run", study, svc.url, cluster)
        svc.faults = {svc.n_dataselect + 4: "down"}  # drops the 4th query, then refuses
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            first = cli.main(["ingest", cfg, "-q"])
        traces1 = Store(store).read_table(TRACES)
        complete1 = Path(store, "ingest", "complete.json").exists()
        attrs1 = dict(xr.open_zarr(f"{store}/waveforms.zarr").attrs)
        info1 = describe(store)
        svc.up()
        svc.faults = {}
        k = len(svc.asked)
        second = cli.main(["ingest", cfg, "-q"])
        asked = svc.asked[k:]
    return (
        ref_store,
        store,
        first,
        traces1,
        complete1,
        attrs1,
        second,
        asked,
        info1,
        said.getvalue(),
    )


def test_down_in_the_middle_exits_non_zero_and_lists_the_windows(runs, capsys):
    _, _, first, traces1, complete1, attrs1, *_, info1, said = runs
    assert first == cli.EXIT["incomplete"] == 1
    assert not complete1 and attrs1["complete"] is False
    transient = traces1[traces1.status == "transient"]
    assert f"{len(transient)} windows failed transiently" in info1
    assert "cube complete: False" in info1
    assert len(transient) > 0 and (transient.failure == "transient").all()
    assert transient.reason.str.contains("Connection refused|not asked").all()
    lines = said.strip().splitlines()
    assert lines[0] == "windows to fetch again:"
    first_row = transient.iloc[0]
    assert (
        lines[1]
        == f"  {first_row.source_id} {first_row.station_network_code}.{first_row.station_code}"
    )
    assert lines[-1].startswith(f"error: {len(transient)} windows failed transiently")
    assert "Connection refused" in lines[-1] and "faultprobe ingest" in lines[-1]


def test_the_next_run_fetches_exactly_the_transient_windows(runs):
    _, _, _, traces1, _, _, second, asked, _, _ = runs
    assert second == 0
    transient = traces1[traces1.status == "transient"]
    # Each asked line starts 8 s before P (5 s window + 2 s pad + 1 s margin).
    want = {
        (r.station_code, (r.trace_p_arrival_time - pd.Timedelta(8, "s")).floor("ms"))
        for r in transient.itertuples()
    }
    got = {(ln[2], pd.Timestamp(ln[5].datetime, tz="UTC").floor("ms")) for ln in asked}
    assert got == want


def test_the_healed_store_equals_an_uninterrupted_run(runs):
    ref_store, store, *_ = runs
    x = xr.open_zarr(f"{ref_store}/waveforms.zarr").load()
    y = xr.open_zarr(f"{store}/waveforms.zarr").load()
    for var in ("waveform", "status", "start_time", "p_time"):
        np.testing.assert_array_equal(x[var].values, y[var].values)
    assert y.attrs["complete"] is True
    pd.testing.assert_frame_equal(
        pd.read_parquet(f"{ref_store}/traces.parquet"), pd.read_parquet(f"{store}/traces.parquet")
    )
    assert Path(store, "ingest", "complete.json").exists()
