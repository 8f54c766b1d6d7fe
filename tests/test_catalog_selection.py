"""Event selection rules, phases and the `faultprobe catalog` command end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from catalog_files import NORCIA_STATIONS, random_catalog, write_stationxml, write_tan
from test_catalog_geometry import destination

from faultprobe import cli
from faultprobe.catalogs.selection import REASONS, isolated, select_events
from faultprobe.catalogs.stations import StationError, station_table
from faultprobe.config import Stations, parse_config

MAIN = pd.Timestamp("2016-10-30T06:40:17Z")


def on_fault(u_km: float, v_km: float) -> tuple[float, float, float]:
    """lat, lon, depth of a point of the Norcia fault plane (along strike u, down dip v)."""
    la, lo = destination(42.83, 13.11, 155.0, u_km)
    la, lo = destination(la, lo, 245.0, v_km * np.cos(np.radians(47)))
    return float(la), float(lo), 9.0 + v_km * np.sin(np.radians(47))


def row(eid, t, u=0.0, v=0.0, mag=1.5, depth=None, lat=None, lon=None):
    la, lo, dep = on_fault(u, v)
    return {
        "source_id": eid,
        "source_origin_time": pd.Timestamp(t),
        "source_latitude_deg": la if lat is None else lat,
        "source_longitude_deg": lo if lon is None else lon,
        "source_depth_km": dep if depth is None else depth,
        "mw": mag,
        "ml": mag,
        "source_magnitude": mag,
        "source_magnitude_type": "Mw",
    }


@pytest.fixture
def cfg(norcia_raw):
    return parse_config(norcia_raw)


def test_each_rule_rejects_its_events(cfg):
    cat = pd.DataFrame(
        [
            row("keep-pre", "2016-10-01T00:00:00Z"),
            row("keep-post", "2016-11-15T00:00:00Z", u=5.0, v=-2.0),
            row("keep-visso", "2016-10-28T00:00:00Z", u=-3.0),
            row("late", "2017-03-01T00:00:00Z"),
            row("nomag", "2016-10-02T00:00:00Z", mag=np.nan),
            row("small", "2016-10-03T00:00:00Z", mag=0.5),  # Mw > 0.5 is strict
            row("shallow", "2016-10-04T00:00:00Z", v=-8.0),  # on the fault, 3.1 km deep
            row("shallow2", "2016-10-05T00:00:00Z", v=-10.0),  # 1.7 km deep
            row(
                "sw",
                "2016-10-06T00:00:00Z",
                lat=on_fault(0, 0)[0] - 0.045,
                lon=on_fault(0, 0)[1] - 0.06,
            ),
            row("far", "2016-10-07T00:00:00Z", depth=16.0),  # under the hypocenter, 7 km down
            row("pair-a", "2016-10-08T00:00:00Z"),
            row("pair-b", "2016-10-08T00:00:03Z"),  # 3 s later: neither is isolated
            row("alone", "2016-10-08T00:00:33Z"),  # 30 s after pair-b: isolated
            row("after", "2016-10-08T00:01:10Z"),  # 37 s after: 'alone' is outside its 5 s before
        ]
    )
    sel = select_events(cat, cfg)
    assert set(sel.events["source_id"]) == {
        "keep-pre",
        "keep-post",
        "keep-visso",
        "shallow",
        "alone",
        "after",
    }
    expected = dict.fromkeys(REASONS, 0)
    expected.update(
        {
            "outside study window": 1,
            "no magnitude": 1,
            "below magnitude threshold": 1,
            "shallower than minimum depth": 1,
            "outside study box": 1,
            "too far from fault": 1,
            "not isolated in time": 2,
        }
    )
    assert sel.rejected.to_dict() == expected
    assert sel.n_catalog == len(cat)
    ev = sel.events.set_index("source_id")
    assert ev.loc["keep-pre", "phase"] == "pre" and ev.loc["keep-post", "phase"] == "post"
    assert ev.loc["keep-visso", "phase"] == "visso"
    assert ev.loc["keep-pre", "ttf_s"] == pytest.approx(
        (pd.Timestamp("2016-10-01T00:00:00Z") - MAIN).total_seconds()
    )
    assert ev.loc["keep-post", "ttf_s"] > 0
    assert ev.loc["keep-pre", "fault_distance_km"] < 0.05


def test_isolation_counts_the_full_catalog():
    all_ns = np.sort(np.array([0, 3, 100, 200, 226], dtype=np.int64) * 10**9)
    # the event at 200 s has one 26 s later: outside 25 s; 226 has 200 26 s before: outside 5 s
    assert isolated(all_ns, all_ns, 5.0, 25.0).tolist() == [False, False, True, True, True]
    assert isolated(all_ns, all_ns, 5.0, 26.0).tolist() == [False, False, True, False, True]


def test_event_at_the_mainshock_time_is_post(cfg):
    sel = select_events(pd.DataFrame([row("m", MAIN)]), cfg)
    assert sel.events["phase"].tolist() == ["post"] and sel.events["ttf_s"].tolist() == [0.0]


def test_station_table_with_aliases_and_missing(tmp_path):
    inv_path = write_stationxml(tmp_path / "st.xml", NORCIA_STATIONS)
    from obspy import read_inventory

    cfg = Stations(codes=["IV.NRCA", "8P.T1212", "IV.NOPE"], far=["IV.SMA1"], inventory=str(inv_path),
                   network_aliases={"8P": ["IV"]})  # fmt: skip
    table = station_table(
        read_inventory(str(inv_path)), cfg, pd.Timestamp("2016-09-01"), pd.Timestamp("2016-12-01")
    )
    st = table.stations.set_index("station_code")
    assert table.missing == ["IV.NOPE"]
    t1212 = st.loc["T1212"]
    assert t1212["station_network_code"] == "8P" and t1212["station_data_network_code"] == "IV"
    assert t1212["station_sampling_rate_hz"] == 125.0 and t1212["station_channels"] == "EH"
    assert st.loc["NRCA", "station_channels"] == "HH"
    assert not st.loc["NRCA", "far"] and st.loc["SMA1", "far"]
    with pytest.raises(StationError, match="none of the study's stations"):
        station_table(
            read_inventory(str(inv_path)),
            Stations(codes=["XX.AAA"], inventory="x"),
            pd.Timestamp("2016-09-01"),
            pd.Timestamp("2016-12-01"),
        )


def test_catalog_command_end_to_end(tmp_path, norcia_raw, capsys):
    cat = random_catalog(4000, seed=5, days=200)
    write_tan(tmp_path / "cat.txt", cat, {10: "broken line"})
    write_stationxml(tmp_path / "st.xml", NORCIA_STATIONS)
    norcia_raw["study"]["store"] = "store"
    norcia_raw["catalog"]["path"] = "cat.txt"
    norcia_raw["stations"] = {"codes": ["IV.NRCA", "IV.FDMO", "8P.T1212"], "far": ["IV.SMA1"],
                              "inventory": "st.xml", "network_aliases": {"8P": ["IV"]}}  # fmt: skip
    from test_config import toml_text

    (tmp_path / "study.toml").write_text(toml_text(norcia_raw))
    assert cli.main(["catalog", str(tmp_path / "study.toml"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "cat.txt:31: expected 16 fields, found 2" in out and "not isolated in time" in out

    events = pd.read_parquet(tmp_path / "store" / "events.parquet")
    assert list(events.columns) == [  # SeisBench's names (docs/tables.md)
        "source_id", "source_origin_time", "source_latitude_deg", "source_longitude_deg",
        "source_depth_km", "source_magnitude", "source_magnitude_type", "fault_distance_km",
        "phase", "ttf_s",
    ]  # fmt: skip
    assert len(events) > 50 and set(events["phase"]) <= {"pre", "post", "visso"}
    assert str(events["source_origin_time"].dt.tz) == "UTC"
    assert (events["fault_distance_km"] <= 3.0).all() and (events["source_depth_km"] >= 2.0).all()
    assert (events["source_magnitude"] > 0.5).all()
    assert events["source_origin_time"].is_monotonic_increasing
    assert np.all(
        (events["ttf_s"] < 0) == (events["phase"] == "pre") | (events["phase"] == "visso")
    )
    stations = pd.read_parquet(tmp_path / "store" / "stations.parquet")
    assert stations["station_code"].tolist() == ["NRCA", "FDMO", "T1212", "SMA1"]
    assert stations["station_network_code"].tolist() == ["IV", "IV", "8P", "IV"]
    assert (tmp_path / "store" / "study.toml").exists()
    problems = pd.read_parquet(tmp_path / "store" / "catalog_problems.parquet")
    assert problems["line"].tolist() == [31]


def test_catalog_command_bad_config_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "s.toml"
    bad.write_text("[study]\nname = 'x'\n")
    assert cli.main(["catalog", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "s.toml" in err and "mainshock: required key is missing" in err


def test_stations_from_an_fdsn_station_service(tmp_path):
    """The `fdsn` path: ObsPy's real Client against a station service on loopback."""
    from fdsn_loopback import FDSNService

    from faultprobe.catalogs.stations import load_inventory

    rows = [
        {
            "station_network_code": n,
            "station_code": s,
            "station_latitude_deg": la,
            "station_longitude_deg": lo,
            "station_elevation_m": el,
            "station_channels": b,
            "station_sampling_rate_hz": r,
        }
        for n, s, la, lo, el, b, r in NORCIA_STATIONS
    ]
    (tmp_path / "sds").mkdir()
    with FDSNService(str(tmp_path / "sds"), pd.DataFrame(rows), pd.DataFrame()) as svc:
        cfg = Stations(
            codes=["IV.NRCA", "8P.T1212"],
            far=["IV.SMA1"],
            fdsn=svc.url,
            network_aliases={"8P": ["IV"]},
        )
        t0, t1 = pd.Timestamp("2016-09-01", tz="UTC"), pd.Timestamp("2016-12-01", tz="UTC")
        table = station_table(load_inventory(cfg, t0, t1), cfg, t0, t1)
    assert table.stations["station_code"].tolist() == ["NRCA", "T1212", "SMA1"]
    assert table.stations["station_sampling_rate_hz"].tolist() == [100.0, 125.0, 100.0]
    assert table.missing == []


def _stations() -> pd.DataFrame:
    rows = [(la, lo) for _, _, la, lo, *_ in NORCIA_STATIONS]
    return pd.DataFrame(rows, columns=["station_latitude_deg", "station_longitude_deg"])


def _rule(cfg, rule: str):
    sel = cfg.selection.model_copy(update={"isolation": rule})
    return cfg.model_copy(update={"selection": sel})


def _far(eid, t, km, azimuth=200.0):
    """A catalog event `km` from the epicenter (outside the box: never itself selected)."""
    la, lo = destination(42.83, 13.11, azimuth, km)
    return row(eid, t, lat=float(la), lon=float(lo), depth=10.0)


def test_isolation_by_travel_time_at_the_stations(cfg):
    """An event 370 km away inside the old origin-time window does not disturb the window
    (its P reaches the stations ~55 s later); a nearby one still does; a far event whose S
    reaches the stations inside the window does, though its origin is 100 s earlier."""
    t0 = pd.Timestamp("2016-10-08T00:00:00Z")
    cat = pd.DataFrame(
        [
            row("quiet", t0),
            _far("far-after", t0 + pd.Timedelta(seconds=10), 370.0),
            _far("far-before", t0 - pd.Timedelta(seconds=4), 370.0, azimuth=300.0),
            row("near", t0 + pd.Timedelta(hours=1)),
            row("neighbour", t0 + pd.Timedelta(hours=1, seconds=3), u=5.0),
            row("shaken", t0 + pd.Timedelta(hours=2)),
            _far("s-waves", t0 + pd.Timedelta(hours=2, seconds=-100), 370.0),
        ]
    )
    by_time = select_events(cat, _rule(cfg, "origin_time"), _stations())
    by_waves = select_events(cat, _rule(cfg, "travel_time"), _stations())
    assert set(by_time.events["source_id"]) == {"shaken"}
    assert set(by_waves.events["source_id"]) == {"quiet"}
    assert cfg.selection.isolation == "travel_time"  # the default
    assert set(select_events(cat, cfg, _stations()).events["source_id"]) == {"quiet"}


def test_travel_time_isolation_equals_a_pairwise_check():
    """The sorted-arrival counting gives what comparing every pair of events gives, at
    several stations, with events near and hundreds of km away."""
    from faultprobe.catalogs.selection import arrivals_ns, isolated_at_stations
    from faultprobe.earth import arrival_tables
    from faultprobe.geodesy import great_circle_km

    rng = np.random.default_rng(11)
    n = 400
    t = np.sort(rng.uniform(0, 4 * 3600, n) * 1e9).astype(np.int64)
    far = rng.uniform(size=n) < 0.3
    km = np.where(far, rng.uniform(50, 900, n), rng.uniform(0, 20, n))
    lat, lon = destination(42.83, 13.11, rng.uniform(0, 360, n), km)
    depth = rng.uniform(0, 30, n)
    which = np.flatnonzero(~far)
    stations = [(42.84, 13.09), (42.70, 13.25), (42.63, 13.34)]
    tables = arrival_tables("carannante2013")
    got = isolated_at_stations(which, t, lat, lon, depth, stations, tables, 5.0, 25.0, 3.0)
    want = np.ones(len(which), dtype=bool)
    for st in stations:
        a, b = arrivals_ns(t, great_circle_km(lat, lon, *st), depth, tables, 3.0)
        for k, i in enumerate(which):
            hit = (a <= a[i] + 25 * 10**9) & (b >= a[i] - 5 * 10**9)
            hit[i] = False
            want[k] &= not hit.any()
    assert want.sum() not in (0, len(which))  # some of each
    assert got.tolist() == want.tolist()


def test_the_origin_time_option_is_the_old_rule(cfg):
    """`isolation = "origin_time"` keeps exactly the events with no other origin in
    [t - 5 s, t + 25 s] among those that pass the other rules (checked pair by pair)."""
    cat = random_catalog(3000, seed=8, t0="2016-09-01", days=3)
    cat["source_magnitude"], cat["source_magnitude_type"] = cat["mw"], "Mw"
    old = select_events(cat, _rule(cfg, "origin_time"))
    loose = cfg.selection.model_copy(
        update={"isolation": "origin_time", "isolation_before_s": 0.0, "isolation_after_s": 0.0}
    )
    rest = select_events(cat, cfg.model_copy(update={"selection": loose})).events
    t = cat["source_origin_time"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    keep = set()
    rest_t = rest["source_origin_time"].dt.tz_localize(None).to_numpy()
    for eid, ti in zip(rest["source_id"], rest_t):
        dt = (t - ti) / np.timedelta64(1, "s")
        if ((dt >= -5.0) & (dt <= 25.0)).sum() == 1:
            keep.add(eid)
    assert 0 < len(keep) < len(rest)
    assert set(old.events["source_id"]) == keep
    assert old.rejected["not isolated in time"] == len(rest) - len(keep)


def test_the_arrival_tables_are_taups_first_p_and_s():
    from faultprobe.earth import arrival_tables
    from faultprobe.geodesy import KM_PER_DEGREE
    from faultprobe.pipelines.velocity import P_PHASES, S_PHASES, taup_model

    model = taup_model("carannante2013")
    p_table, s_table = arrival_tables("carannante2013")
    for km, z in [(12.0, 8.0), (373.0, 11.0), (3210.0, 95.0)]:
        for table, phases in ((p_table, P_PHASES), (s_table, S_PHASES)):
            ref = min(a.time for a in model.get_travel_times(z, km / KM_PER_DEGREE, list(phases)))
            got = table.travel_time(np.array([km]), np.array([z]))[0]
            assert abs(got - ref) < 0.5, (km, z, phases[1], got, ref)


def test_the_amplitude_ratio_ignores_waves_too_weak_to_matter(cfg):
    """With `isolation_amplitude_ratio`, a small event 370 km away whose S crosses the
    window no longer counts; a large one still does, and so does a neighbour."""
    t0 = pd.Timestamp("2016-10-08T00:00:00Z")
    ago = pd.Timedelta(seconds=-100)  # its S reaches the stations inside the window
    cat = pd.DataFrame(
        [
            row("a", t0), {**_far("small-far", t0 + ago, 370.0), "source_magnitude": 1.5},
            row("b", t0 + pd.Timedelta(hours=1)),
            {**_far("large-far", t0 + pd.Timedelta(hours=1) + ago, 370.0),
             "source_magnitude": 4.5},
            row("c", t0 + pd.Timedelta(hours=2)),
            row("near", t0 + pd.Timedelta(hours=2, seconds=3), mag=1.0),
        ]
    )  # fmt: skip
    every = select_events(cat, cfg, _stations())
    assert set(every.events["source_id"]) == set()
    sel = cfg.selection.model_copy(update={"isolation_amplitude_ratio": 1.0})
    loud = select_events(cat, cfg.model_copy(update={"selection": sel}), _stations())
    assert set(loud.events["source_id"]) == {"a"}
