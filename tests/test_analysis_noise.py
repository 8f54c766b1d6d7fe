"""Noise windows from an SDS archive: STA/LTA and catalog checks, the cube's layout."""

from __future__ import annotations

import numpy as np
import pandas as pd
from obspy import Stream, Trace, UTCDateTime

from faultprobe.analysis.grid import seasonality_runs
from faultprobe.analysis.noise import build_noise_cube
from faultprobe.config import parse_config
from faultprobe.config.stages import GridSettings
from faultprobe.ml import dataset
from faultprobe.store import Store

FS = 100.0
DAYS = 6
SECONDS = 1200  # 20 minutes of data a day, from 01:00


def _write_sds(root, bursts: list[UTCDateTime]) -> None:
    rng = np.random.default_rng(0)
    for d in range(DAYS):
        t0 = UTCDateTime(2015, 3, 1, 1) + d * 86400
        st = Stream()
        for comp in "ENZ":
            x = rng.standard_normal(int(SECONDS * FS)) * 100
            for burst_at in bursts:  # impulsive arrivals at 20x the noise STA/LTA must catch
                if comp == "Z" and 0 <= burst_at - t0 < SECONDS:
                    i = int((burst_at - t0) * FS)
                    decay = np.exp(-np.arange(300) / 60.0)
                    x[i : i + 300] += 2000 * decay * rng.standard_normal(300)
            tr = Trace(x.astype(np.int32))
            tr.stats.update(
                {"network": "XX", "station": "AAA", "channel": f"HH{comp}",
                 "sampling_rate": FS, "starttime": t0}
            )  # fmt: skip
            st += tr
        for tr in st:
            day = tr.stats.starttime
            path = root / f"{day.year}/XX/AAA/{tr.stats.channel}.D"
            path.mkdir(parents=True, exist_ok=True)
            name = f"XX.AAA..{tr.stats.channel}.D.{day.year}.{day.julday:03d}"
            tr.write(str(path / name), format="MSEED", encoding="STEIM2")


def test_noise_cube_rejects_triggered_and_catalog_windows(tmp_path):
    day0 = UTCDateTime(2015, 3, 1, 1)
    # Windows are laid on 25 s steps after 10 s of lead-in (one LTA); 4 a day of the 47
    # candidates in 20 minutes: candidates 0, 15, 31, 46.  Bursts 2, 6 and 9 s into a window
    # (inside the first LTA of the window, where a window-only STA/LTA is blind) and a
    # catalog event 12 s into another.
    bursts = [
        day0 + 1 * 86400 + 10 + 15 * 25 + 2,
        day0 + 3 * 86400 + 10 + 31 * 25 + 6,
        day0 + 4 * 86400 + 10 + 46 * 25 + 9,
    ]
    quake = day0 + 2 * 86400 + 10 + 31 * 25 + 12
    _write_sds(tmp_path / "sds", bursts)
    store = Store(str(tmp_path / "store"))
    store.write_table(pd.DataFrame({"source_origin_time": [pd.Timestamp(quake.datetime, tz="UTC")]}),
                      "events.parquet")  # fmt: skip
    raw = {
        "study": {"name": "n", "store": store.root, "start": "2015-01-01", "end": "2015-12-31"},
        "mainshock": {"name": "m", "time": "2015-06-01", "latitude": 42.8, "longitude": 13.1,
                      "depth_km": 9, "magnitude": 6},
        "fault": {"strike": 155, "dip": 47},
        "catalog": {"path": str(tmp_path / "no-catalog.txt")},
        "stations": {"codes": ["XX.AAA"], "inventory": "x.xml"},
        "waveforms": {"source": "sds", "sds_root": str(tmp_path / "sds")},
        "experiments": {"seasonality": {"enabled": True, "windows_per_day": 4,
                                        "event_margin_s": 30.0, "min_windows": 4}},
    }  # fmt: skip
    cfg = parse_config(raw)
    line = build_noise_cube(cfg, client=None)
    assert "4 rejected" in line, line
    noise = Store(store.url("noise"))
    ds = dataset.open_cube(noise)
    assert ds.sizes["event"] == DAYS * 4 - 4
    assert ds.sizes["time"] == 2500 and list(ds["component"].values) == ["E", "N", "Z"]
    ev = dataset.event_table(ds)
    starts = ev["source_origin_time"] - pd.Timedelta(seconds=5)
    assert (np.diff(starts.to_numpy()).astype("timedelta64[s]").astype(int) > 0).all()
    since_data = (starts - starts.dt.floor("D")).dt.total_seconds() - 3600.0
    assert (since_data >= 10.0).all() and (since_data % 25 == 10.0).all()  # after the lead-in
    bad = [pd.Timestamp(t.datetime, tz="UTC") for t in (*bursts, quake)]
    for t in bad:
        assert not ((starts <= t) & (t < starts + pd.Timedelta(seconds=25))).any()
    sl = dataset.read_station_slice(ds, ["XX.AAA"])
    assert sl.ok.all() and np.isfinite(sl.x).all()
    assert "exists" in build_noise_cube(cfg)  # a second call keeps it
    # spans of the noise cube become calendar runs on the noise store
    runs = seasonality_runs(GridSettings.of(cfg), ev["source_origin_time"], None)
    assert runs == [] or all(r.store == "noise" for r in runs)
