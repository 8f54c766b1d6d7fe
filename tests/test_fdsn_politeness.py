"""Politeness that holds at the server, counted there: every request of any kind (the probe,
token exchanges, digest challenges, queries) within the configured rate in every sliding
1-s window; a Retry-After given as an HTTP date honoured; a trickling answer cut at the
deadline; no service discovery beyond the one probe. And the EIDA token path over https
(a self-signed certificate): the token is exchanged once per process, used through digest
authentication, and never written to the store, the cache or the output; a refused token
stops the run before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fdsn_loopback import FDSNService, self_signed

from faultprobe import cli
from faultprobe.cli.output import terminal
from faultprobe.config import load_config
from faultprobe.pipelines.ingest import ingest
from faultprobe.testing.defects import write_toy_config, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

RATE = 4.0
TOKEN = (
    "-----BEGIN PGP MESSAGE-----\n\nowGbwMvMwCEWvaHx5KSxv4ZXeZ5JDBl1f9byVmVTEi5ZUlqcpGRVVFSqZ1Ofm5qSmZuaWZ\n"
    "-----END PGP MESSAGE-----\n"
)
SECRET_LINE = "owGbwMvMwCEWvaHx5KSxv4ZXeZ5JDBl1f9byVmVTEi5ZUlqcpGRVVFSqZ1Ofm5qSmZuaWZ"


@pytest.fixture(scope="module")
def toy(tmp_path_factory, client):
    d = tmp_path_factory.mktemp("toy")
    study = write_toy_study(str(d), n_events=8, days=2, corrupt=False)
    cfg = load_config(write_toy_config(str(d), study, waveforms={"codec": "zstd-3"}))
    ingest(cfg, client=client)
    return study


def _config(folder: Path, study, waveforms: dict) -> str:
    store = folder / "store"
    store.mkdir(parents=True)
    study.events.to_parquet(store / "events.parquet")
    study.stations.to_parquet(store / "stations.parquet")
    twin = type(study)(str(store), "", study.events, study.stations)
    w = {
        "source": "fdsn",
        "codec": "zstd-3",
        "cache": str(folder / "cache"),
        "max_requests_per_second": RATE,
        "max_concurrent_requests": 2,
        "max_attempts": 2,
        "retry_backoff_s": 0.1,
        "max_bulk_items": 8,
        **waveforms,
    }
    return write_toy_config(str(folder), twin, waveforms=w)


def _same_cube(store: str, ref: str) -> None:
    x = xr.open_zarr(f"{ref}/waveforms.zarr").load()
    y = xr.open_zarr(f"{store}/waveforms.zarr").load()
    np.testing.assert_array_equal(x.waveform.values, y.waveform.values)
    np.testing.assert_array_equal(x.status.values, y.status.values)


def test_retry_after_date_and_trickle_and_rate_at_the_server(tmp_path, toy, client):
    faults = {2: "429date", 5: "trickle"}
    with FDSNService(toy.sds_root, toy.stations, toy.events, faults=faults, trickle_s=30) as svc:
        cfg = load_config(_config(tmp_path, toy, {"fdsn": svc.url, "request_timeout_s": 1.5}))
        summary = ingest(cfg, client=client)
        log = list(svc.log)
    assert summary.complete
    _same_cube(cfg.study.store, toy.store)
    # No request of any kind above the limit in any sliding 1-s window.
    assert svc.requests_in_windows(1.0) <= RATE
    # One probe; no service discovery (application.wadl) from any client.
    kinds = pd.Series([r for _, _, r, _ in log]).value_counts()
    assert kinds.get("version") == 1 and "application.wadl" not in kinds
    # The HTTP-date Retry-After: nothing arrived between the answer and the date.
    ((date, said),) = svc.not_before
    assert not [t for t, *_ in log if said < t < date]
    # The trickling answer (30 s long) was cut at the 1.5 s deadline, then asked again.
    assert len(svc.cut) == 1 and svc.cut[0] < 6.0


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(str(d))
    old = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = cert  # trust the loopback service's certificate
    yield cert, key
    if old is None:
        os.environ.pop("SSL_CERT_FILE", None)
    else:
        os.environ["SSL_CERT_FILE"] = old


def _token_file(folder: Path, text: str) -> str:
    path = folder / "eida_token.txt"
    path.write_text(text)
    return str(path)


def test_eida_token_over_https(tmp_path, toy, client, tls, capsys):
    tokens = {TOKEN.strip(): ("user17", "s3cret-pw")}
    with FDSNService(toy.sds_root, toy.stations, toy.events, tls=tls, tokens=tokens) as svc:
        assert svc.url.startswith("https://")
        token = _token_file(tmp_path, TOKEN)
        cfg = load_config(_config(tmp_path, toy, {"fdsn": svc.url, "eida_token": token}))
        with terminal():  # the command line's log lines and bars: they must not show it either
            summary = ingest(cfg, client=client)
        log = list(svc.log)
    assert summary.complete
    _same_cube(cfg.study.store, toy.store)
    kinds = pd.Series([r for _, _, r, _ in log]).value_counts()
    # The token is exchanged once per process (driver probe; workers share it in-process),
    # and every query goes through digest authentication.
    assert kinds.get("auth") == 1 and kinds.get("queryauth", 0) >= 2 and "query" not in kinds
    assert svc.requests_in_windows(1.0) <= RATE
    out = capsys.readouterr()
    leaks = [
        str(p)
        for root in (tmp_path / "store", tmp_path / "cache")
        for p in root.rglob("*")
        if p.is_file() and SECRET_LINE.encode() in p.read_bytes()
    ]
    assert not leaks
    assert SECRET_LINE not in out.out + out.err and "s3cret-pw" not in out.out + out.err


def test_a_refused_token_stops_before_anything_is_written(tmp_path, toy, tls, capsys):
    with FDSNService(toy.sds_root, toy.stations, toy.events, tls=tls, tokens={}) as svc:
        token = _token_file(tmp_path, TOKEN)
        path = _config(tmp_path, toy, {"fdsn": svc.url, "eida_token": token})
        before = sorted(os.listdir(tmp_path / "store"))
        code = cli.main(["ingest", path, "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "refused the EIDA token" in err[0] and token in err[0]
    assert SECRET_LINE not in err[0]
    assert sorted(os.listdir(tmp_path / "store")) == before
