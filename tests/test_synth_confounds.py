"""The simulator's confound switches (docs/synthetic.md), measured on the written files.

Each switch, off, leaves the archive byte for byte as it is without it; on, it changes
what it says and nothing before its time: the same realisation is written with and
without it, and the files are read back with ObsPy's SDS client, read_inventory and the
project's catalog reader.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from obspy import UTCDateTime, read_inventory
from obspy.clients.filesystem.sds import Client
from scipy import signal

from faultprobe.catalogs.readers import read_tan2021
from faultprobe.config import parse_config
from faultprobe.synthetic.run import synthesize
from faultprobe.testing.studies import small_study_table

NO_EFFECT = {"dtstar_pre_max": 0.0, "dtstar_jump": 0.0}
MAIN = UTCDateTime("2016-10-29T23:59:50Z")
CHANGE = "2016-10-30T12:00:00Z"  # a station change half a day after the mainshock


def _write(folder: Path, **synthetic):
    """One-station (IV.NRCA) small study with these [synthetic] entries, written serially."""
    table = small_study_table(folder, effect=NO_EFFECT, **synthetic)
    table["stations"]["codes"], table["stations"]["far"] = ["IV.NRCA"], []
    cfg = parse_config(table, source="<confound test>")
    synthesize(cfg, parallel=False)
    return folder / "synthetic"


def _digest(root: Path) -> dict[str, str]:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file()
    }


@pytest.fixture(scope="module")
def off(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("off"))


def _pre_p_noise(root: Path) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Per event: the Z counts from 8 s to 1 s before its P at IV.NRCA, from the SDS files."""
    truth = pd.read_parquet(root / "truth.parquet")
    truth = truth[~truth["kind"].str.startswith("shock")]
    client = Client(str(root / "sds"))
    out = {}
    for eid, p in zip(truth["source_id"], truth["p_arrival_IV.NRCA"]):
        t = UTCDateTime(p.value / 1e9)
        st = client.get_waveforms("IV", "NRCA", "", "HHZ", t - 8.0, t - 1.0)
        if len(st) == 1:
            out[eid] = st[0].data.astype(float)
    return truth, out


def test_switches_at_their_neutral_values_write_the_same_bytes(off, tmp_path):
    neutral = _write(
        tmp_path,
        noise_change={"level_factor": 1.0, "band_factor": 1.0, "slope": 0.0},
        composition_change={"magnitude_shift": 0.0},
        station_changes=[{"station": "IV.NRCA", "time": CHANGE, "gain_factor": 1.0}],
    )
    assert _digest(neutral) == _digest(off)
    assert len(_digest(off)) > 5


def test_noise_level_change_scales_the_noise_after_the_mainshock_only(off, tmp_path):
    on = _write(tmp_path, noise_change={"level_factor": 2.0})
    truth, base = _pre_p_noise(off)
    _, changed = _pre_p_noise(on)
    post = set(
        truth.loc[truth["source_origin_time"] >= pd.Timestamp(MAIN.ns, tz="UTC"), "source_id"]
    )
    ratios = {e: np.std(changed[e]) / np.std(base[e]) for e in base}
    pre_ids = [e for e in base if e not in post]
    assert len(pre_ids) > 30 and len(post) > 30
    assert all(np.array_equal(changed[e], base[e]) for e in pre_ids)
    post_r = np.array([ratios[e] for e in base if e in post])
    assert np.median(post_r) == pytest.approx(2.0, abs=0.03)
    assert np.percentile(post_r, 10) > 1.8  # every post window, not a few


def test_noise_band_change_raises_that_band_only(off, tmp_path):
    on = _write(tmp_path, noise_change={"band_hz": [10.0, 20.0], "band_factor": 3.0})
    truth, base = _pre_p_noise(off)
    _, changed = _pre_p_noise(on)
    post = truth.loc[truth["source_origin_time"] >= pd.Timestamp(MAIN.ns, tz="UTC"), "source_id"]
    ids = [e for e in post if e in base]
    f, p0 = signal.welch(np.stack([base[e] for e in ids]), fs=100.0, nperseg=256)
    _, p1 = signal.welch(np.stack([changed[e] for e in ids]), fs=100.0, nperseg=256)
    ratio = np.median(p1 / p0, axis=0)
    assert np.median(ratio[(f > 12) & (f < 18)]) == pytest.approx(9.0, rel=0.15)  # amplitude 3
    assert np.median(ratio[(f > 2) & (f < 7)]) == pytest.approx(1.0, abs=0.1)
    assert np.median(ratio[(f > 25) & (f < 45)]) == pytest.approx(1.0, abs=0.1)


def test_noise_change_decays(off, tmp_path):
    on = _write(tmp_path, noise_change={"level_factor": 3.0, "decay_days": 0.5})
    truth, base = _pre_p_noise(off)
    _, changed = _pre_p_noise(on)
    t = (truth.set_index("source_id")["source_origin_time"] - pd.Timestamp(MAIN.ns, tz="UTC")).dt
    days = t.total_seconds() / 86400.0
    ids = [e for e in base if days[e] > 0]
    got = np.array([np.std(changed[e]) / np.std(base[e]) for e in ids])
    want = 1.0 + 2.0 * np.exp(-days[ids].to_numpy() / 0.5)
    assert np.median(np.abs(got / want - 1.0)) < 0.03
    assert got[days[ids].to_numpy() > 1.5].max() < 1.25  # mostly gone after three e-folds


def test_composition_change_draws_the_post_events_differently(tmp_path):
    base = _write(tmp_path / "a", catalog_only=True)
    on = _write(
        tmp_path / "b",
        composition_change={
            "magnitude_shift": -0.4,
            "along_strike_km": [6.0, 14.0],
            "depth_km": [1.5, 4.0],
            "hours_utc": [0.0, 6.0],
        },
    )
    a = read_tan2021(base / "catalog.txt").events.set_index("source_id")
    b = read_tan2021(on / "catalog.txt").events.set_index("source_id")
    main = pd.Timestamp(MAIN.ns, tz="UTC")
    pre_a, pre_b = a[a["source_origin_time"] < main], b[b["source_origin_time"] < main]
    pd.testing.assert_frame_equal(pre_a, pre_b)  # nothing before the mainshock moves
    post_a = a[a["source_origin_time"] > main]
    post_b = b[(b["source_origin_time"] > main)]
    assert len(post_a) == len(post_b) > 50
    # the same events (same magnitude draws), 0.4 smaller in the catalog (Mw noise cancels)
    assert post_b["mw"].mean() - post_a["mw"].mean() == pytest.approx(-0.4, abs=0.02)
    hours = post_b["source_origin_time"].dt.hour + post_b["source_origin_time"].dt.minute / 60.0
    assert hours.max() < 6.0 and post_a["source_origin_time"].dt.hour.max() > 6
    assert post_b["source_depth_km"].between(1.0, 4.6).mean() > 0.9  # within the range ± spread
    assert post_a["source_depth_km"].between(1.0, 4.6).mean() < 0.5
    truth = pd.read_parquet(on / "truth.parquet")
    after = truth[(truth["source_origin_time"] > main) & truth["kind"].str.startswith("aftershock")]
    assert after["along_strike_km"].between(6.0, 14.0).all()


def _traces(root: Path):
    return Client(str(root / "sds")).get_waveforms(
        "IV", "NRCA", "", "HHZ", UTCDateTime("2016-10-28"), UTCDateTime("2016-11-01"), merge=None
    )


def test_station_gain_and_lowpass_change_on_a_date(off, tmp_path):
    on = _write(
        tmp_path,
        station_changes=[
            {"station": "IV.NRCA", "time": CHANGE, "gain_factor": 2.0, "lowpass_hz": 15.0}
        ],
    )
    when = UTCDateTime(CHANGE)
    a, b = _traces(off), _traces(on)
    before_a = {tr.stats.starttime.ns: tr.data for tr in a if tr.stats.endtime < when}
    before_b = {tr.stats.starttime.ns: tr.data for tr in b if tr.stats.endtime < when}
    assert set(before_a) == set(before_b) and len(before_a) > 20
    assert all(np.array_equal(before_a[t], before_b[t]) for t in before_a)
    # a span running through the change is cut there, as a station restarting
    assert max(tr.stats.endtime for tr in b if tr.stats.starttime < when) < when
    after_a = {tr.stats.starttime.ns: tr for tr in a if tr.stats.starttime >= when}
    after_b = {tr.stats.starttime.ns: tr for tr in b if tr.stats.starttime >= when}
    assert set(after_a) == set(after_b) and len(after_a) > 20
    low, high = [], []
    for t0, tr in after_a.items():
        f, p0 = signal.welch(tr.data.astype(float), fs=100.0, nperseg=512)
        _, p1 = signal.welch(after_b[t0].data.astype(float), fs=100.0, nperseg=512)
        low.append(np.median((p1 / p0)[(f > 2) & (f < 6)]))
        high.append(np.median((p1 / p0)[(f > 35) & (f < 45)]))
    assert np.median(low) == pytest.approx(4.0, rel=0.1)  # gain 2 in the passband
    assert np.median(high) < 4.0 * 1e-2  # 4th-order low-pass at 15 Hz: -38 dB at 40 Hz
    inv = read_inventory(str(on / "stations.xml"))
    r0 = inv.get_response("IV.NRCA..HHZ", when - 3600)
    r1 = inv.get_response("IV.NRCA..HHZ", when + 3600)
    assert r1.instrument_sensitivity.value == pytest.approx(2 * r0.instrument_sensitivity.value)
    h = np.abs(r1.get_evalresp_response_for_frequencies([3.0, 40.0]))
    assert h[0] == pytest.approx(r1.instrument_sensitivity.value, rel=0.01)
    assert h[1] / h[0] < 0.03
    # the verdict reads the documented change from the StationXML's epochs
    from faultprobe.catalogs.epochs import response_changes

    (found,) = response_changes(inv, "IV.NRCA")
    assert found[0] == pd.Timestamp(CHANGE) and "sensitivity x2" in found[2]
    assert "poles/zeros" in found[2]  # the low-pass gives the new epoch a shape


def test_station_rate_change_is_written_and_documented(off, tmp_path):
    on = _write(
        tmp_path, station_changes=[{"station": "IV.NRCA", "time": CHANGE, "sampling_rate": 200.0}]
    )
    when = UTCDateTime(CHANGE)
    st = _traces(on)
    rates = {(tr.stats.starttime >= when, tr.stats.sampling_rate) for tr in st}
    assert rates == {(False, 100.0), (True, 200.0)}
    assert all(tr.stats.endtime < when for tr in st if tr.stats.sampling_rate == 100.0)
    inv = read_inventory(str(on / "stations.xml"))
    chans = inv.select(station="NRCA", channel="HHZ")[0][0].channels
    assert sorted(c.sample_rate for c in chans) == [100.0, 200.0]
    undocumented = _write(
        tmp_path / "u",
        station_changes=[
            {"station": "IV.NRCA", "time": CHANGE, "sampling_rate": 200.0, "documented": False}
        ],
    )
    inv = read_inventory(str(undocumented / "stations.xml"))
    assert [c.sample_rate for c in inv.select(station="NRCA", channel="HHZ")[0][0]] == [100.0]
    from faultprobe.catalogs.epochs import response_changes

    assert response_changes(inv, "IV.NRCA") == []  # only the traces table can tell
    assert {tr.stats.sampling_rate for tr in _traces(undocumented)} == {100.0, 200.0}


def test_ingest_resamples_the_traces_after_a_rate_change(tmp_path):
    """The real ingest reads each trace at its own rate: 200 Hz after the date, resampled."""
    from small_study import local_client

    from faultprobe.catalogs.study import build_catalog
    from faultprobe.pipelines.ingest import ingest

    table = small_study_table(
        tmp_path,
        effect=NO_EFFECT,
        noise_segments_per_day=0,
        station_changes=[{"station": "IV.NRCA", "time": CHANGE, "sampling_rate": 200.0}],
    )
    table["stations"]["codes"], table["stations"]["far"] = ["IV.NRCA"], []
    cfg = parse_config(table, source="<confound test>")
    synthesize(cfg, parallel=False)
    build_catalog(cfg)
    cluster, client = local_client()
    with cluster, client:
        ingest(cfg, client=client)
    traces = pd.read_parquet(Path(cfg.study.store) / "traces.parquet")
    after = pd.DatetimeIndex(traces["trace_start_time"]) >= pd.Timestamp(CHANGE)
    resampled = traces["reason"].str.contains("resampled 200 -> 100 Hz", regex=False)
    assert after.sum() > 20 and (~after).sum() > 20
    assert (resampled == after).all()
    assert (traces["status"] == "ok").mean() > 0.9
    # the verdict's station-change detector finds the date in the traces table
    from faultprobe.analysis.verdict import instrument_changes
    from faultprobe.store import TRACES, Store

    (found,) = instrument_changes(Store(cfg.study.store).read_table(TRACES), "IV.NRCA")
    at, before, after_sig = found
    assert abs((at - pd.Timestamp(CHANGE)).total_seconds()) < 6 * 3600
    assert before.endswith("|native") and after_sig.endswith("|200")
