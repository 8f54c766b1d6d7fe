"""`faultprobe init`: a study config derived from a mainshock, on the real INGV QuakeML of the
2016 Amatrice mainshock and catalogs of aftershocks simulated on a known plane."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from catalog_files import NORCIA_STATIONS, write_fdsn_text, write_stationxml, write_tan
from fdsn_loopback import FDSNService

from faultprobe import cli
from faultprobe.catalogs.geometry import to_latlon
from faultprobe.config import load_config
from faultprobe.derive.plane import angle_between, normal_of

AMATRICE = Path(__file__).parent / "data" / "amatrice-2016-08-24-mw6.0.quakeml.xml"
HYPO = (42.6983, 13.2335, 8.1)
T0 = pd.Timestamp("2016-08-24T01:36:32Z")
# the Norcia stations of the tests, one near Amatrice
STATIONS = [*NORCIA_STATIONS, ("IV", "AMAT", 42.655, 13.27, 950.0, "HH", 100.0)]


def plane_catalog(
    strike: float,
    dip: float,
    seed: int = 0,
    n_pre: int = 150,
    n_post: int = 400,
    days: float = 20.0,
    hypo=HYPO,
    t0=T0,
    spread_km: float = 0.3,
) -> pd.DataFrame:
    """Hypocentres scattered on the plane (strike, dip) through the hypocentre, the
    mainshock among them: pre events uniform in time, post ones crowded after it."""  # fmt: skip
    rng = np.random.default_rng(seed)
    s, d = np.radians(strike), np.radians(dip)
    along = np.array([np.sin(s), np.cos(s), 0.0])
    down_dip = np.array([np.cos(d) * np.cos(s), -np.cos(d) * np.sin(s), np.sin(d)])
    normal = np.cross(along, down_dip)
    n = n_pre + n_post
    u = rng.uniform(-10, 10, n)
    v = (rng.uniform(2.5, 13.0, n) - hypo[2]) / np.sin(d)
    w = rng.normal(0, spread_km, n)
    enu = u[:, None] * along + v[:, None] * down_dip + w[:, None] * normal
    lat, lon = to_latlon(enu[:, 0], enu[:, 1], hypo[0], hypo[1])
    t_days = np.concatenate(
        [-rng.uniform(0.01, days, n_pre), days * rng.uniform(0, 1, n_post) ** 3]
    )
    mw = np.round(0.6 + rng.exponential(0.45, n), 2)
    df = pd.DataFrame({
        "source_id": np.arange(1, n + 1).astype(str),
        "source_origin_time": t0 + pd.to_timedelta(np.round(t_days * 86400 + 1.0, 2), unit="s"),
        "source_latitude_deg": lat, "source_longitude_deg": lon,
        "source_depth_km": hypo[2] + enu[:, 2],
        "ml": np.round(mw + 0.1, 2), "mw": mw,
    })  # fmt: skip
    main = pd.DataFrame({"source_id": ["999999"], "source_origin_time": [t0],
                         "source_latitude_deg": [hypo[0]], "source_longitude_deg": [hypo[1]],
                         "source_depth_km": [hypo[2]], "ml": [6.1], "mw": [6.0]})  # fmt: skip
    return pd.concat([main, df]).sort_values("source_origin_time").reset_index(drop=True)


def _init(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(["init", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.fixture
def inventory(tmp_path) -> Path:
    return write_stationxml(tmp_path / "stations.xml", STATIONS)


def _fault(path: Path):
    return load_config(path).fault


@pytest.mark.parametrize("plane", [(155.0, 49.0), (331.0, 41.0)])
def test_amatrice_picks_the_nodal_plane_the_aftershocks_lie_on(plane, tmp_path, inventory, capsys):
    cat = write_tan(tmp_path / "cat.txt", plane_catalog(*plane, seed=1))
    out = tmp_path / "amatrice.toml"
    code, stdout, err = _init(capsys, "--quakeml", AMATRICE, "--catalog", cat,
                              "--inventory", inventory, "--out", out)  # fmt: skip
    assert code == 0, err
    cfg = load_config(out)
    assert (cfg.fault.strike, cfg.fault.dip) == plane  # the nodal plane itself
    assert cfg.fault.rake == (-87.0 if plane[0] == 155.0 else -93.0)
    assert cfg.mainshock.magnitude == 6.0 and cfg.mainshock.name == "Accumoli"
    assert cfg.waveforms.velocity_model == "carannante2013"
    text = out.read_text()
    assert "median distance" in text and "nodal plane" in text
    assert "dry-run selection" in stdout and "by station" in stdout
    # the written config runs the project's catalog stage, which selects what the dry run said
    assert cli.main(["catalog", str(out)]) == 0, capsys.readouterr().err
    events = pd.read_parquet(Path(cfg.study.store, "events.parquet"))
    said = dict(re.findall(r"^ +(pre|post): (\d+)$", stdout, flags=re.M))
    assert {k: int(v) for k, v in said.items()} == events["phase"].value_counts().to_dict()


def test_amatrice_study_derives_window_stations_and_shocks(tmp_path, inventory, capsys):
    events = plane_catalog(155.0, 49.0, seed=2)
    # a large foreshock 3 days before (a Visso) and a large aftershock after
    big = events.iloc[[5, 400]].copy()
    big["source_id"] = ["1000001", "1000002"]
    big["source_origin_time"] = [T0 - pd.Timedelta(days=3), T0 + pd.Timedelta(days=2)]
    big["mw"] = [5.4, 5.1]
    events = pd.concat([events, big]).sort_values("source_origin_time")
    cat = write_tan(tmp_path / "cat.txt", events)
    out = tmp_path / "a.toml"
    code, _, err = _init(capsys, "--quakeml", AMATRICE, "--catalog", cat, "--inventory",
                         inventory, "--out", out, "--max-days", "10")  # fmt: skip
    assert code == 0, err
    cfg = load_config(out)
    assert cfg.study.start == (T0 - pd.Timedelta(days=10)).to_pydatetime()
    assert cfg.study.end > cfg.mainshock.time
    assert [round(s.magnitude, 1) for s in cfg.shocks] == [5.4, 5.1]
    assert [p.name for p in cfg.phases] == ["foreshock-20160821"]
    assert cfg.phases[0].end == cfg.mainshock.time
    # the nearest station records most; the far one lies beyond the box
    assert cfg.stations.codes[0] in ("IV.AMAT", "IV.SMA1")
    assert cfg.stations.far and cfg.stations.far[0] not in cfg.stations.codes
    assert cfg.fault.along_strike_km[0] < -8 and cfg.fault.along_strike_km[1] > 8


def _strip(tmp_path: Path, what: str) -> Path:
    from obspy import read_events

    cat = read_events(str(AMATRICE))
    ev = cat[0]
    if what == "mechanism":
        ev.focal_mechanisms = []
        ev.preferred_focal_mechanism_id = None
    elif what == "origin":
        ev.origins = []
        ev.preferred_origin_id = None
    elif what == "magnitude":
        ev.magnitudes = []
        ev.station_magnitudes = []
        ev.preferred_magnitude_id = None
    path = tmp_path / f"no-{what}.xml"
    cat.write(str(path), format="QUAKEML")
    return path


@pytest.mark.parametrize("truth", [(155.0, 49.0), (120.0, 65.0)])
def test_without_a_mechanism_the_cloud_gives_the_plane(truth, tmp_path, inventory, capsys):
    cat = write_tan(tmp_path / "cat.txt", plane_catalog(*truth, seed=3))
    out = tmp_path / "s.toml"
    code, _, err = _init(capsys, "--quakeml", _strip(tmp_path, "mechanism"), "--catalog", cat,
                         "--inventory", inventory, "--out", out)  # fmt: skip
    assert code == 0, err
    f = _fault(out)
    assert angle_between(normal_of(f.strike, f.dip), normal_of(*truth)) < 10
    assert "no focal mechanism" in out.read_text()


def test_a_time_and_a_catalog_give_the_mainshock_and_plane(tmp_path, inventory, capsys):
    truth = (140.0, 55.0)
    cat = write_fdsn_text(tmp_path / "cat.txt", plane_catalog(*truth, seed=4))
    out = tmp_path / "t.toml"
    code, _, err = _init(capsys, "--time", "2016-08-24T01:36:40Z", "--catalog", cat,
                         "--inventory", inventory, "--out", out)  # fmt: skip
    assert code == 0, err
    cfg = load_config(out)
    assert cfg.catalog.format == "fdsn_text"
    assert cfg.mainshock.time == T0.to_pydatetime() and cfg.mainshock.magnitude == pytest.approx(
        6.1
    )
    f = cfg.fault
    assert angle_between(normal_of(f.strike, f.dip), normal_of(*truth)) < 10


def test_an_event_id_at_an_event_service(tmp_path, inventory, capsys):
    cat = write_tan(tmp_path / "cat.txt", plane_catalog(155.0, 49.0, seed=5))
    stations = pd.DataFrame(STATIONS, columns=[
        "station_network_code", "station_code", "station_latitude_deg", "station_longitude_deg",
        "station_elevation_m", "station_channels", "station_sampling_rate_hz",
    ])  # fmt: skip
    with FDSNService(str(tmp_path), stations, pd.DataFrame(),
                     quakeml={"7073641": AMATRICE.read_bytes()}) as svc:  # fmt: skip
        out = tmp_path / "e.toml"
        code, _, err = _init(capsys, "--event-service", svc.url, "--event-id", "7073641",
                             "--catalog", cat, "--station-service", svc.url, "--out", out)  # fmt: skip
        assert code == 0, err
        cfg = load_config(out)
        assert (cfg.fault.strike, cfg.fault.dip) == (155.0, 49.0)
        assert cfg.stations.fdsn == svc.url
        code, _, err = _init(capsys, "--event-service", svc.url, "--event-id", "999",
                             "--catalog", cat, "--inventory", inventory, "--out", out)  # fmt: skip
        assert code == 2 and "has no event 999" in _one_error(err)
    code, _, err = _init(capsys, "--event-service", svc.url, "--event-id", "7073641",
                         "--catalog", cat, "--inventory", inventory, "--out", out)  # fmt: skip
    assert code == 3 and "event service" in _one_error(err)


def test_synthetic_twin_runs_on_the_derived_plane(tmp_path, inventory, capsys):
    events = plane_catalog(155.0, 49.0, seed=6, n_pre=80, n_post=160, days=4.0)
    cat = write_tan(tmp_path / "cat.txt", events)
    out = tmp_path / "tw.toml"
    code, _, err = _init(capsys, "--quakeml", AMATRICE, "--catalog", cat, "--inventory",
                         inventory, "--out", out, "--synthetic", "--near-stations", "2")  # fmt: skip
    assert code == 0, err
    real, twin = load_config(out), load_config(tmp_path / "tw-synthetic.toml")
    assert twin.fault == real.fault and twin.mainshock == real.mainshock
    assert twin.stations.all_codes == real.stations.all_codes
    assert {s.code for s in twin.synthetic.stations} == set(real.stations.all_codes)
    assert twin.synthetic.depth_km == real.fault.depth_km
    assert cli.main(["synth", "--serial", "-q", str(tmp_path / "tw-synthetic.toml")]) == 0
    assert cli.main(["catalog", "-q", str(tmp_path / "tw-synthetic.toml")]) == 0
    ev = pd.read_parquet(Path(twin.study.store, "events.parquet"))
    assert {"pre", "post"} <= set(ev["phase"])


@pytest.mark.parametrize("what", ["origin", "magnitude"])
def test_a_quakeml_without_origin_or_magnitude(what, tmp_path, inventory, capsys):
    cat = write_tan(tmp_path / "cat.txt", plane_catalog(155.0, 49.0))
    code, _, err = _init(capsys, "--quakeml", _strip(tmp_path, what), "--catalog", cat,
                         "--inventory", inventory, "--out", tmp_path / "x.toml")  # fmt: skip
    line = _one_error(err)
    assert code == 2 and f"has no {what}" in line and "--time" in line
    assert not (tmp_path / "x.toml").exists()


def test_a_catalog_that_does_not_cover_the_mainshock(tmp_path, inventory, capsys):
    events = plane_catalog(155.0, 49.0)
    events["source_origin_time"] += pd.Timedelta(days=400)
    cat = write_tan(tmp_path / "cat.txt", events)
    code, _, err = _init(capsys, "--quakeml", AMATRICE, "--catalog", cat, "--inventory",
                         inventory, "--out", tmp_path / "x.toml")  # fmt: skip
    line = _one_error(err)
    assert code == 2 and "does not cover the mainshock" in line and "2017-09" in line


def test_an_inventory_without_a_station_in_range(tmp_path, capsys):
    cat = write_tan(tmp_path / "cat.txt", plane_catalog(155.0, 49.0))
    far = write_stationxml(tmp_path / "far.xml", [("IV", "CLTA", 37.5, 15.0, 100.0, "HH", 100.0)])
    code, _, err = _init(capsys, "--quakeml", AMATRICE, "--catalog", cat, "--inventory", far,
                         "--out", tmp_path / "x.toml")  # fmt: skip
    line = _one_error(err)
    assert code == 2 and "no station within 60 km" in line and "IV.CLTA at" in line
    assert "--station-radius-km" in line


def test_a_sequence_with_too_few_events(tmp_path, inventory, capsys):
    cat = write_tan(tmp_path / "cat.txt", plane_catalog(155.0, 49.0, n_pre=12, n_post=300))
    code, _, err = _init(capsys, "--quakeml", AMATRICE, "--catalog", cat, "--inventory",
                         inventory, "--out", tmp_path / "x.toml")  # fmt: skip
    line = _one_error(err)
    assert code == 2 and "too few events for the method" in line and "11 pre" in line
    assert "--min-magnitude" in line
    assert not (tmp_path / "x.toml").exists()


def test_a_small_class_is_a_warning_with_numbers(tmp_path, inventory, capsys):
    cat = write_tan(tmp_path / "cat.txt", plane_catalog(155.0, 49.0, n_pre=60, n_post=400))
    code, _, err = _init(capsys, "--quakeml", AMATRICE, "--catalog", cat, "--inventory",
                         inventory, "--out", tmp_path / "x.toml")  # fmt: skip
    assert code == 0
    warn = [ln for ln in err.splitlines() if ln.startswith("warning: ") and "chance" in ln]
    assert warn and "58 per class" in warn[0] and "--min-magnitude" in warn[0]
