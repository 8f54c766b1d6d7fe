"""The report's figures: the geometry the map's cross-section draws, and that each figure
function writes a PNG from small tables (not pixel tests: the pictures were looked at)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from faultprobe.analysis import figures, mapfig
from faultprobe.config import load_config

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "configs" / "norcia2016.toml")


def _png(path: Path) -> None:
    blob = path.read_bytes()
    assert blob[:8] == PNG and len(blob) > 8000, path


def test_points_on_the_fault_plane_fall_on_its_section_line(cfg):
    frame = mapfig.map_frame(cfg)
    geo = frame.geometry
    rng = np.random.default_rng(0)
    u, v = rng.uniform(-10, 10, 50), rng.uniform(*geo.dip_range(cfg.fault.depth_km), 50)
    lat, lon, depth = geo.geographic(geo.to_enu(u, v, np.zeros(50)))
    x, z = mapfig.section_coordinates(geo, lat, lon, depth)
    (x0, x1), (z0, z1) = mapfig.fault_section(geo, cfg.fault.depth_km)
    # on the line through the plane's top and bottom, whatever the along-strike position
    np.testing.assert_allclose(z, z0 + (x - x0) * (z1 - z0) / (x1 - x0), atol=0.02)
    np.testing.assert_allclose(np.degrees(np.arctan2(z1 - z0, x1 - x0)), cfg.fault.dip, atol=0.1)
    assert (z0, z1) == pytest.approx(cfg.fault.depth_km)
    # 2 km off the plane along its normal: 2 / cos(dip) km off the line in depth
    lat, lon, depth = geo.geographic(geo.to_enu(3.0, 1.0, 2.0))
    x, z = mapfig.section_coordinates(geo, lat, lon, depth)
    off = abs(z - (z0 + (x - x0) * (z1 - z0) / (x1 - x0)))
    assert off == pytest.approx(2 / np.cos(np.radians(cfg.fault.dip)), abs=0.02)


def test_magnitude_key_spans_the_events_in_whole_units():
    assert mapfig.key_magnitudes(np.array([0.6, 1.2, 2.9])) == [1.0, 2.0]
    assert mapfig.key_magnitudes(np.array([0.5, 6.5])) == [1.0, 3.0, 5.0]
    assert mapfig.key_magnitudes(np.array([0.2, 0.4])) == [0.0]
    s = mapfig.marker_size([1.0, 2.0])
    assert s[1] / s[0] == pytest.approx(10**0.5)


def _events(cfg, n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ms = cfg.mainshock
    return pd.DataFrame(
        {
            "source_latitude_deg": ms.latitude + rng.normal(0, 0.05, n),
            "source_longitude_deg": ms.longitude + rng.normal(0, 0.05, n),
            "source_depth_km": rng.uniform(2, 11, n),
            "source_magnitude": rng.uniform(0.5, 3.5, n),
            "phase": np.where(np.arange(n) < n // 2, "pre", "post"),
            "source_origin_time": pd.Timestamp(ms.time)
            + pd.to_timedelta(np.arange(n) - n // 2, "h"),
        }
    )


def test_the_map_is_written_with_its_section(cfg, tmp_path):
    stations = pd.DataFrame({"station_network_code": ["IV", "IV"],
                             "station_code": ["NRCA", "SMA1"],
                             "station_latitude_deg": [42.83, 42.63],
                             "station_longitude_deg": [13.11, 13.33],
                             "far": [False, True]})  # fmt: skip
    _png(mapfig.event_map(_events(cfg), stations, tmp_path / "map.png", mapfig.map_frame(cfg)))
    _png(mapfig.event_map(_events(cfg), stations, tmp_path / "bare.png"))  # no frame: map only
    holes = _events(cfg).assign(source_depth_km=np.nan)  # a catalog without depths still draws
    _png(mapfig.event_map(holes, stations, tmp_path / "holes.png", mapfig.map_frame(cfg)))


def test_the_fault_state_figure_is_written_with_its_truth(tmp_path):
    ms = pd.Timestamp("2016-10-30T06:40:17Z")
    t = pd.date_range("2016-09-01", "2017-01-20", periods=20, tz="UTC")
    x = np.where(t > ms, 0.8, 0.3)
    index = pd.DataFrame({"time": t, "index": x, "index_lo": x - 0.1, "index_hi": x + 0.1,
                          "chance_lo": 0.3, "chance_hi": 0.7})  # fmt: skip
    changes = pd.DataFrame({"time": [ms]})
    truth = {"IV.NRCA": (pd.DatetimeIndex(t), np.where(t > ms, 0.06, 0.01))}
    panels = [("IV.NRCA", index, changes), ("IV.SMA1", index, changes.iloc[:0])]
    _png(figures.fault_state(panels, [("Norcia", ms)], tmp_path / "fs.png", truth))


def test_the_pairs_figure_draws_the_records_beside_the_spectra(tmp_path):
    from faultprobe.analysis import pairs as pairmod
    from faultprobe.analysis.experiments import _example_traces, _examples

    rng = np.random.default_rng(0)
    t = np.arange(-1.0, 3.0, 0.01)
    x = rng.normal(size=(8, 3, t.size)) * np.where(t > 0, np.exp(-t), 0.05)
    pairs = pd.DataFrame({"source_id_pre": list("abcd"), "source_id_post": list("efgh"),
                          "distance_m": [50.0, 80, 90, 120], "dmag": 0.05,
                          "pre_pos": np.arange(4), "post_pos": 4 + np.arange(4)})  # fmt: skip
    spectra = pairmod.pair_spectra(x, 100.0, pairs, 3.0)
    traces = _example_traces(pairs, x, t, spectra.components)
    # the closest pairs' records, sample for sample, on the time axis after P
    assert len(traces) == 3 * 3 * t.size
    z = traces[(traces["pair"] == 1) & (traces["component"] == "Z")]
    np.testing.assert_allclose(z["post"], x[5, 2]) and np.testing.assert_allclose(z["time_s"], t)
    ex = _examples(pairs, spectra, None, None, None)
    summary = pairmod.ratio_summary(spectra)
    _png(figures.pair_spectra(ex, summary, tmp_path / "p.png", pairs, "m/s", traces))
    # with each record's S time after P (the attribution's), the P–S window is drawn
    s_after_p = 1.2 + 0.1 * np.arange(8)
    traces = _example_traces(pairs, x, t, spectra.components, s_after_p)
    first = traces[traces["pair"] == 0]
    assert set(first["s_pre_s"]) == {1.2} and set(first["s_post_s"]) == {1.6}
    _png(figures.pair_spectra(ex, summary, tmp_path / "ps.png", pairs, "m/s", traces))
    _png(figures.pair_spectra(ex, summary, tmp_path / "old.png", pairs))  # spectra only


def test_the_control_panel_figures_carry_the_exact_intervals(tmp_path):
    from faultprobe.analysis import controlfig, stats
    from faultprobe.analysis.verdict import Evidence

    cnn = np.arange(100) < 80
    ev = Evidence("IV.NRCA", 3, cnn, {"noise": np.arange(100) < 50}, np.arange(100) < 40)
    acc = controlfig.control_accuracies(ev).set_index("control")
    assert list(acc.index) == ["cnn", "matched", "noise"]  # no metadata nor physics here
    assert acc.loc["matched", ["k", "n"]].tolist() == [40, 40]  # the CNN on the matched set
    lo, hi = stats.clopper_pearson(50, 100)
    assert acc.loc["noise", ["lo", "hi"]].tolist() == pytest.approx([100 * lo, 100 * hi])
    bars = controlfig.control_bars(acc.reset_index(), "IV.NRCA", "inconclusive", tmp_path / "c.png")
    _png(bars)
    # with a matched CNN of its own and its size reference: each bar is its own model's
    ev.matched_correct, ev.size_reference = np.arange(100) < 30, np.arange(100) < 35
    acc = controlfig.control_accuracies(ev).set_index("control")
    assert list(acc.index) == ["cnn", "matched", "size_reference", "noise"]
    assert acc.loc[["cnn", "matched", "size_reference"], "k"].tolist() == [80, 30, 35]
    assert acc.loc["matched", "label"].startswith("matched CNN")
    assert acc.loc["cnn", "label"].startswith("CNN")
    _png(controlfig.control_bars(acc.reset_index(), "IV.NRCA", "x", tmp_path / "ref.png"))
    drops = pd.DataFrame(
        [{"segment": s, "band": b, "drop_pct": float(i)}
         for i, (s, b) in enumerate((s, b) for s in ("noise", "P", "S") for b in ("2–8 Hz", "all"))]
    )  # fmt: skip
    _png(controlfig.attribution_map(drops, "IV.NRCA", tmp_path / "a.png"))
