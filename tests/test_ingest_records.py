"""Defects inside miniSEED records cost only the windows they touch: a record whose Steim2
frames cannot be decoded (libmseed fails the whole file on it) and NaN/Inf samples in a
float record, which get their own status instead of passing as 'clipped' or data."""

from __future__ import annotations

import os

import numpy as np
from obspy import Stream, Trace, UTCDateTime

from faultprobe.pipelines.plan import StationInfo
from faultprobe.pipelines.preprocess import Settings, process
from faultprobe.pipelines.sources import Request, SDSSource

NS = 10**9
DAY = UTCDateTime("2016-10-29T00:00:00Z")
SETTINGS = Settings(sampling_rate=100.0, window_s=(-5.0, 20.0), pad_s=2.0, max_gap_s=0.1)
STATION = StationInfo("IV", "XX", "", "HH", 100.0)


def _write(root: str, data: dict[str, np.ndarray], encoding: str) -> dict[str, str]:
    paths = {}
    for comp, x in data.items():
        tr = Trace(x)
        tr.stats.update(
            dict(
                network="IV", station="XX", channel=f"HH{comp}", sampling_rate=100.0, starttime=DAY
            )
        )
        name = f"IV.XX..HH{comp}.D.{DAY.year}.{DAY.julday:03d}"
        folder = os.path.join(root, str(DAY.year), "IV", "XX", f"HH{comp}.D")
        os.makedirs(folder, exist_ok=True)
        paths[comp] = os.path.join(folder, name)
        Stream([tr]).write(paths[comp], format="MSEED", encoding=encoding, reclen=512)
    return paths


def _windows(p_s: list[float]) -> tuple[Request, np.ndarray, np.ndarray]:
    p = np.array([(DAY + s).ns for s in p_s], dtype=np.int64)
    ws = p - 5 * NS
    pad = 3 * NS
    return Request(STATION, ws - pad, p + 20 * NS + pad), ws, p


P_TIMES = [300.0, 900.0, 1500.0, 2100.0, 2700.0, 3000.0]  # six windows: the day is read once


def test_a_corrupt_record_costs_only_the_windows_it_covers(tmp_path):
    rng = np.random.default_rng(0)
    data = {c: rng.normal(0, 100, 3600 * 100).astype(np.int32) for c in "ENZ"}
    _write(str(tmp_path / "clean"), data, "STEIM2")
    clean = SDSSource(str(tmp_path / "clean"))
    paths = _write(str(tmp_path / "bad"), data, "STEIM2")
    raw = bytearray(open(paths["Z"], "rb").read())
    # Find the record holding P + 10 s of the second window and garble its Steim2 frames.
    target = (DAY + P_TIMES[1] + 10).ns
    from obspy.io.mseed.util import get_record_information

    k = next(
        i
        for i in range(len(raw) // 512)
        if get_record_information(paths["Z"], offset=i * 512)["endtime"].ns >= target
    )
    raw[k * 512 + 64 : (k + 1) * 512] = rng.integers(0, 256, 448, dtype=np.uint8).tobytes()
    open(paths["Z"], "wb").write(bytes(raw))

    req, ws, p = _windows(P_TIMES)
    got = SDSSource(str(tmp_path / "bad")).fetch([req])[0]
    ref = clean.fetch([req])[0]
    assert got[1].status == "error" and "corrupt miniSEED record" in got[1].reason
    assert paths["Z"] in got[1].reason and "IV.XX..HHZ" in got[1].reason
    ok = [i for i in range(len(P_TIMES)) if i != 1]
    assert all(got[i].status == "ok" for i in ok)
    a = process([got[i] for i in ok], ws[ok], p[ok], SETTINGS)
    b = process([ref[i] for i in ok], ws[ok], p[ok], SETTINGS)
    np.testing.assert_array_equal(a.waveform, b.waveform)
    assert (a.status == 0).all()


def test_non_finite_samples_have_their_own_status(tmp_path):
    rng = np.random.default_rng(1)
    data = {c: rng.normal(0, 100, 3600 * 100) for c in "ENZ"}
    data["Z"][int((P_TIMES[0] + 2) * 100)] = np.inf
    data["E"][int((P_TIMES[2] + 4) * 100) : int((P_TIMES[2] + 4) * 100) + 3] = np.nan
    _write(str(tmp_path), data, "FLOAT64")
    req, ws, p = _windows(P_TIMES)
    got = SDSSource(str(tmp_path)).fetch([req])[0]
    batch = process(got, ws, p, SETTINGS)
    names = ["non_finite" if s == 8 else "ok" if s == 0 else str(s) for s in batch.status]
    assert names == ["non_finite", "ok", "non_finite", "ok", "ok", "ok"]
    assert "1 non-finite samples (NaN/Inf) in Z" in batch.reason[0]
    assert "3 non-finite samples (NaN/Inf) in E" in batch.reason[2]
    # NaN where the record held them, the rest of the trace as recorded.
    z = batch.waveform[0, 2]
    assert np.isnan(z).sum() == 1 and not np.isinf(batch.waveform).any()
    assert np.isnan(batch.waveform[2, 0]).sum() == 3
    assert np.isfinite(batch.waveform[[1, 3, 4, 5]]).all()
