"""Small pieces of the ingest: 1/2 rotation, truncated files, the limiter, the cache, info."""

from __future__ import annotations

import threading
import time

import numpy as np
from obspy import Stream, Trace, UTCDateTime

from faultprobe.pipelines.plan import StationInfo
from faultprobe.pipelines.preprocess import Settings, process
from faultprobe.pipelines.ratelimit import LocalLimiter
from faultprobe.pipelines.sdscache import SDSCache
from faultprobe.pipelines.sources import Fetched, Request, SDSSource, Segment

NS = 10**9
T0 = UTCDateTime("2016-10-30T12:00:00").ns
SETTINGS = Settings(sampling_rate=100.0, window_s=(-5.0, 20.0), pad_s=2.0, max_gap_s=0.1)


def _segments(channels: dict[str, np.ndarray], start_ns: int) -> list[Segment]:
    return [Segment(f"XX.STA..HH{c}", start_ns, 100.0, x) for c, x in channels.items()]


def test_components_1_2_are_rotated_with_their_azimuths():
    rng = np.random.default_rng(0)
    n = 3300
    north, east = rng.normal(0, 100, n), rng.normal(0, 100, n)
    az1, az2 = 30.0, 120.0  # sensor axes 1 and 2, clockwise from north
    c1 = north * np.cos(np.radians(az1)) + east * np.sin(np.radians(az1))
    c2 = north * np.cos(np.radians(az2)) + east * np.sin(np.radians(az2))
    start = T0 - 8 * NS
    segs = _segments({"1": c1, "2": c2, "Z": rng.normal(0, 100, n)}, start)
    orientation = {"XX.STA..HH1": az1, "XX.STA..HH2": az2}
    ws = np.array([T0 - 5 * NS])
    batch = process([Fetched(segs)], ws, np.array([T0]), SETTINGS, orientation)
    assert batch.status[0] == 0 and "rotated" in batch.reason[0]
    i0 = 3 * 100  # the window starts 3 s after the data
    np.testing.assert_allclose(batch.waveform[0, 0], east[i0 : i0 + 2500], atol=1e-3)
    np.testing.assert_allclose(batch.waveform[0, 1], north[i0 : i0 + 2500], atol=1e-3)
    plain = process([Fetched(segs)], ws, np.array([T0]), SETTINGS, None)
    assert "taken as N/E" in plain.reason[0]


def test_a_rate_that_cannot_reach_the_study_rate_is_bad_rate():
    segs = [Segment(f"XX.STA..HH{c}", T0 - 8 * NS, 50.0, np.ones(1700)) for c in "ENZ"]
    batch = process([Fetched(segs)], np.array([T0 - 5 * NS]), np.array([T0]), SETTINGS)
    assert batch.status[0] == 4 and "50 Hz" in batch.reason[0]
    assert np.isnan(batch.waveform[0]).all()


def test_truncated_day_file_keeps_what_is_readable(tmp_path):
    rng = np.random.default_rng(1)
    day = UTCDateTime("2016-10-30")
    st = Stream()
    for c in "ENZ":
        tr = Trace(rng.integers(-500, 500, 100 * 3600).astype(np.int32))
        tr.stats.update(
            dict(network="XX", station="STA", channel=f"HH{c}", sampling_rate=100.0, starttime=day)
        )
        path = tmp_path / "2016" / "XX" / "STA" / f"HH{c}.D" / f"XX.STA..HH{c}.D.2016.304"
        path.parent.mkdir(parents=True)
        tr.write(str(path), format="MSEED", encoding="STEIM2", reclen=512)
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2 + 100])  # cut in the middle of a record
        st += tr
    src = SDSSource(str(tmp_path))
    info = StationInfo("XX", "STA", "", "HH", 100.0)
    early, late = (day + 600).ns, (day + 3000).ns
    got = src.fetch(
        [Request(info, np.array([early, late]), np.array([early + 30 * NS, late + 30 * NS]))]
    )[0]
    assert got[0].status == "ok"
    assert got[1].status in ("no_data", "error")  # past the cut: never a crash
    z = [g for g in got[0].stream if g.channel == "HHZ"][0]
    ref = (
        st.select(channel="HHZ")[0]
        .slice(UTCDateTime(ns=early), UTCDateTime(ns=early + 30 * NS))
        .data
    )
    np.testing.assert_array_equal(z.data, ref)


def test_local_limiter_bounds_rate_and_concurrency():
    lim = LocalLimiter(max_concurrent=2, per_second=10.0)
    starts, active, peak = [], [0], [0]
    lock = threading.Lock()

    def work():
        for _ in range(5):
            with lim.slot():
                with lock:
                    starts.append(time.monotonic())
                    active[0] += 1
                    peak[0] = max(peak[0], active[0])
                time.sleep(0.01)
                with lock:
                    active[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = np.sort(starts)
    assert peak[0] <= 2
    assert (np.searchsorted(s, s + 1.0) - np.arange(len(s))).max() <= 10
    lim.pause(0.3)
    t0 = time.time()
    with lim.slot():
        assert time.time() - t0 >= 0.25


def test_cache_records_survive_a_cut_line(tmp_path):
    cache = SDSCache(str(tmp_path))
    cache.record("XX.STA..HH", [(100, 200), (150, 400)])
    with open(tmp_path / ".fetched" / "XX.STA..HH.txt", "a") as f:
        f.write("500 9")  # a line cut by a crash
    got = cache.covered("XX.STA..HH", np.array([120, 300, 500]), np.array([390, 450, 600]))
    assert got.tolist() == [True, False, False]


def test_an_empty_selection_is_a_clear_error(tmp_path):
    import pytest

    from faultprobe.config import load_config
    from faultprobe.pipelines.ingest import IngestError, ingest
    from faultprobe.testing.defects import write_toy_config, write_toy_study

    study = write_toy_study(str(tmp_path), n_events=4, days=1)
    study.events.iloc[:0].to_parquet(f"{study.store}/events.parquet")
    cfg = load_config(write_toy_config(str(tmp_path), study))
    with pytest.raises(IngestError, match="nothing to ingest: 0 events"):
        ingest(cfg)


def test_retry_after_in_seconds_or_as_an_http_date():
    import email.utils

    from faultprobe.pipelines.fdsnhttp import retry_after_seconds

    now = 1_477_809_617.0  # 2016-10-30T06:40:17Z
    assert retry_after_seconds("2", now) == 2.0
    assert retry_after_seconds(email.utils.formatdate(now + 30, usegmt=True), now) == 30.0
    assert retry_after_seconds(email.utils.formatdate(now - 30, usegmt=True), now) == 0.0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None) is None


def test_failed_requests_are_classified():
    from urllib.error import URLError

    from obspy.clients.fdsn.header import (
        FDSNBadRequestException,
        FDSNException,
        FDSNInternalServerException,
        FDSNNoDataException,
        FDSNTimeoutException,
        FDSNTooManyRequestsException,
    )

    from faultprobe.pipelines.fdsn import BadAnswer, classify

    assert classify(FDSNNoDataException("x")) == "nodata"
    assert classify(FDSNException("Unknown HTTP code: 404", "")) == "nodata"
    assert classify(FDSNTooManyRequestsException("x")) == "rate"
    assert classify(FDSNBadRequestException("x")) == "rejected"
    assert classify(FDSNInternalServerException("x")) == "server"
    for down in (
        FDSNTimeoutException("Timed Out"),
        FDSNException("Unknown Error (URLError): <urlopen error [Errno 111] refused>"),
        FDSNException("Unknown HTTP code: 504", ""),
        TimeoutError("answer not complete within 2 s"),
        ConnectionResetError(),
        URLError("refused"),
        BadAnswer("html"),
    ):
        assert classify(down) == "down", down
