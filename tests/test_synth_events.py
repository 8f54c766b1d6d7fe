"""The simulated catalog: geometry, Omori decay, Gutenberg-Richter, P times, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultprobe.catalogs.geometry import distance_to_fault
from faultprobe.config import ConfigError
from faultprobe.config.stages import SynthWorld
from faultprobe.geodesy import FaultFrame, epicentral_km
from faultprobe.pipelines.velocity import PTable
from faultprobe.synthetic.archive import SyntheticArchive
from faultprobe.synthetic.events import simulate_events
from faultprobe.synthetic.geometry import exposure
from faultprobe.synthetic.run import synthesize
from faultprobe.testing.studies import small_study


def test_gutenberg_richter_b_value_is_recovered(tmp_path):
    cfg = small_study(tmp_path, catalog_events=20000, b_value=1.1, completeness=0.6)
    ev = simulate_events(SynthWorld.of(cfg))
    assert len(ev) == 20000 + 1  # the exact total, plus the mainshock itself
    m = ev.loc[ev["kind"] != "shock:Norcia", "source_magnitude"].to_numpy()
    b_hat = np.log10(np.e) / (m.mean() - 0.6)  # Aki's estimator (max magnitude far above)
    assert b_hat == pytest.approx(1.1, abs=0.05)
    assert m.min() >= 0.6 and m.max() <= cfg.synthetic.max_magnitude


def test_aftershock_rate_decays_with_the_omori_exponent(tmp_path):
    cfg = small_study(tmp_path, background_per_day=0.0, omori_k=400.0, omori_p=1.2)
    ev = simulate_events(SynthWorld.of(cfg))
    after = ev[ev["kind"] == "aftershock:Norcia"]
    t = (after["source_origin_time"] - pd.Timestamp(cfg.mainshock.time)).dt.total_seconds() / 86400
    edges = np.geomspace(0.3, 2.0, 7)  # well after c, inside the study window
    counts, _ = np.histogram(t, edges)
    rate = counts / np.diff(edges)
    centre = np.sqrt(edges[1:] * edges[:-1])
    p_hat = -np.polyfit(np.log(centre + cfg.synthetic.omori_c_days), np.log(rate), 1)[0]
    assert p_hat == pytest.approx(1.2, abs=0.15)


def test_fault_events_lie_on_the_fault_that_the_selection_uses(tmp_path):
    cfg = small_study(tmp_path, background_per_day=200.0, off_fault_fraction=0.0)
    ev = simulate_events(SynthWorld.of(cfg))
    on = ev[ev["kind"] == "background"]
    d = distance_to_fault(
        cfg.fault,
        cfg.mainshock,
        on["source_latitude_deg"],
        on["source_longitude_deg"],
        on["source_depth_km"],
    )
    assert np.mean(d < 1.5) > 0.99  # 3 σ of the 0.5 km spread
    assert on["source_depth_km"].between(*cfg.synthetic.depth_km).mean() > 0.97


def test_p_arrivals_match_the_taup_table_of_the_ingest(tmp_path):
    cfg = small_study(tmp_path, background_per_day=150.0)
    archive = SyntheticArchive(cfg)
    ev = archive.events
    table = PTable.load("carannante2013")
    deep = ev["source_depth_km"].to_numpy() >= 2.0  # the studies keep events deeper than 2 km
    for i, s in enumerate(archive.stations):
        tp = archive.plan(i).paths["tp_s"].to_numpy()
        d = epicentral_km(
            ev["source_latitude_deg"].to_numpy(),
            ev["source_longitude_deg"].to_numpy(),
            s.latitude,
            s.longitude,
        )
        ref = table.travel_time(d, ev["source_depth_km"].to_numpy(), s.elevation_m)
        assert np.nanmax(np.abs(tp - ref)[deep]) < 0.2, s.code
        assert abs(np.nanmedian(tp - ref)) < 0.03, s.code


def test_exposure_is_the_fraction_of_the_ray_in_the_damage_zone(tmp_path):
    cfg = small_study(tmp_path)
    frame = FaultFrame(cfg.mainshock, cfg.fault)
    src = np.zeros((1, 3))  # the hypocenter, on the plane
    across = frame.to_enu(0.0, 0.0, 10.0)[None, :]  # 10 km along the fault normal
    inside = frame.to_enu(5.0, -3.0, 0.0)[None, :]  # in the plane, inside the rupture
    assert exposure(frame, src, across, 1.5)[0, 0] == pytest.approx(0.15, abs=0.02)
    assert exposure(frame, src, inside, 1.5)[0, 0] == pytest.approx(1.0)
    beyond = frame.to_enu(30.0, 0.0, 0.0)[None, :]  # in the plane, 15 km past the rupture end
    assert exposure(frame, src, beyond, 1.5)[0, 0] == pytest.approx(0.5, abs=0.02)


def test_exposure_dilutes_with_distance_except_along_the_fault(tmp_path):
    """Stations across strike see less of the zone the farther they are; a station on the
    fault's along-strike extension (IV.SMA1's place) keeps a large share at any distance."""
    cfg = small_study(tmp_path, background_per_day=100.0, omori_k=0.0)
    frame = FaultFrame(cfg.mainshock, cfg.fault)
    truth = SyntheticArchive(cfg).truth()
    ev = truth[truth["kind"] == "background"]
    src = frame.enu(ev["source_latitude_deg"], ev["source_longitude_deg"], ev["source_depth_km"])
    depth = cfg.mainshock.depth_km

    def mean_exposure(east: float, north: float) -> float:
        rec = np.array([[east, north, -depth]])
        return float(exposure(frame, src, rec, 1.5).mean())

    near = mean_exposure(0.3, 0.4)  # IV.NRCA, above the hypocenter
    dip = np.radians(cfg.fault.strike + 90.0)  # the hanging wall's direction
    across = [mean_exposure(r * np.sin(dip), r * np.cos(dip)) for r in (15.0, 30.0, 60.0)]
    assert across[0] > across[1] > across[2]
    assert across[1] < 0.3 * near
    sma1 = frame.enu(42.6305, 13.3353, 0.0)
    assert mean_exposure(sma1[0], sma1[1]) > near


def test_catalog_only_mode_writes_just_the_catalog(tmp_path):
    cfg = small_study(tmp_path, catalog_only=True, catalog_events=5000, quakeml=False)
    summary = synthesize(cfg, parallel=False)
    out = tmp_path / "synthetic"
    assert sorted(p.name for p in out.iterdir()) == ["catalog.txt"]
    assert summary.events == 5001
    lines = [ln for ln in (out / "catalog.txt").read_text().splitlines() if not ln.startswith("#")]
    assert len(lines) == 5001 and all(len(ln.split()) == 16 for ln in lines)


def test_a_station_missing_from_the_tables_is_named(tmp_path):
    from faultprobe.config import parse_config
    from faultprobe.testing.studies import small_study_table

    table = small_study_table(tmp_path)
    table["stations"]["codes"].append("XX.NOPE")
    cfg = parse_config(table, source="study.toml")
    with pytest.raises(ValueError, match=r"study.toml: station XX.NOPE is not in the built-in"):
        SyntheticArchive(cfg)
    table["synthetic"]["effect"]["band_hz"] = [20.0, 10.0]
    with pytest.raises(ConfigError, match=r"synthetic.effect.band_hz"):
        parse_config(table, source="study.toml")
