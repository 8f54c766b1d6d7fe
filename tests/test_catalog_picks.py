"""Analyst picks of a QuakeML catalog: read (P, Pg, Pn), kept in the store's picks.parquet,
one per event and station chosen for the P window; a catalog without them is a clear error
where `p_arrival = "picks"` asks for them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from catalog_files import NORCIA_STATIONS, write_quakeml, write_stationxml
from test_catalog_classes import _events
from test_config import toml_text

from faultprobe import cli
from faultprobe.catalogs.readers import P_PHASES, read_quakeml
from faultprobe.config import Waveforms
from faultprobe.pipelines.placement import first_picks, pick_times
from faultprobe.pipelines.plan import make_plan

AMATRICE = Path(__file__).parent / "data" / "amatrice-2016-08-24-mw6.0.quakeml.xml"
Q = "{http://quakeml.org/xmlns/bed/1.2}"


def _xml_p_picks() -> tuple[set[str], set[str]]:
    """The P picks of the Amatrice file and those its preferred origin's arrivals use, read
    with the standard library (not ObsPy)."""
    root = ET.parse(AMATRICE).getroot()
    ev = root.find(f"{Q}eventParameters/{Q}event")
    picks = {
        p.get("publicID")
        for p in ev.findall(f"{Q}pick")
        if (p.findtext(f"{Q}phaseHint") or "").strip() in P_PHASES
    }
    pref = ev.findtext(f"{Q}preferredOriginID")
    origin = next(o for o in ev.findall(f"{Q}origin") if o.get("publicID") == pref)
    used = {a.findtext(f"{Q}pickID") for a in origin.findall(f"{Q}arrival")}
    return picks, picks & used


@pytest.fixture(scope="module")
def amatrice():
    return read_quakeml(AMATRICE)


def test_the_amatrice_quakeml_gives_its_p_picks(amatrice):
    read = amatrice
    p_ids, used = _xml_p_picks()
    assert len(read.picks) == len(p_ids) == 654  # of its 699 picks, 45 are S
    assert set(read.picks["source_id"]) == {"7073641"}
    assert int(read.picks["preferred_origin"].sum()) == len(used)
    assert str(read.picks["trace_p_arrival_time"].dt.tz) == "UTC"


def test_one_pick_per_station_places_p_near_the_model_s(amatrice):
    """The pick the preferred origin used, manual first: at FDMO not the automatic one, nor
    a manual pick 6 s later that no arrival of the preferred origin uses."""
    read = amatrice
    cols = ["station_network_code", "station_code", "station_location_code",
            "station_channels", "station_latitude_deg", "station_longitude_deg",
            "station_elevation_m", "station_sampling_rate_hz"]  # fmt: skip
    stations = pd.DataFrame(
        [(n, s, "", b, la, lo, el, r) for n, s, la, lo, el, b, r in NORCIA_STATIONS], columns=cols
    )
    plan = make_plan(read.events, stations, Waveforms(source="synthetic"))
    p, mask = pick_times(plan, read.picks)
    assert mask[0].tolist() == [True, True, False, True]  # T1212 has no pick
    best = first_picks(read.picks).set_index("station_code").loc["FDMO"]
    assert best["trace_p_arrival_time"] == pd.Timestamp("2016-08-24T01:36:39.58Z")
    assert best["trace_p_status"] == "manual" and best["preferred_origin"]
    lag = (p[0, mask[0]] - plan.p_time_ns[0, mask[0]]) / 1e9
    assert np.all(np.abs(lag) < 1.5), lag  # same time frame: picks within 1.5 s of the model
    assert p[0, 2] == plan.p_time_ns[0, 2]


def _study(tmp_path, norcia_raw, picks: list[tuple], p_arrival="picks", fmt="quakeml") -> str:
    events = _events(40, 40)
    write_quakeml(tmp_path / "cat.xml", events, picks)
    write_stationxml(tmp_path / "st.xml", NORCIA_STATIONS)
    norcia_raw["study"]["store"] = "store"
    norcia_raw["catalog"] = {"path": "cat.xml", "format": fmt}
    norcia_raw["stations"] = {"codes": ["IV.NRCA"], "far": ["IV.SMA1"], "inventory": "st.xml"}
    norcia_raw["waveforms"]["p_arrival"] = p_arrival
    (tmp_path / "study.toml").write_text(toml_text(norcia_raw))
    return str(tmp_path / "study.toml")


def test_catalog_keeps_the_selected_events_picks_with_seisbench_names(tmp_path, norcia_raw):
    t = pd.Timestamp("2016-11-10T00:00:05Z")
    picks = [
        ("45", "IV", "NRCA", t, "Pg", "manual", True),
        ("45", "IV", "NRCA", t, "S", "manual", True),  # not a P
        ("46", "IV", "FDMO", t, "Pn", "automatic", False),
        ("not-an-event", "IV", "NRCA", t, "P", "manual", True),
    ]
    assert cli.main(["catalog", _study(tmp_path, norcia_raw, picks), "-q"]) == 0
    table = pd.read_parquet(tmp_path / "store" / "picks.parquet")
    assert list(table.columns) == [
        "source_id", "station_network_code", "station_code", "station_location_code",
        "trace_channel", "trace_p_phase", "trace_p_arrival_time", "trace_p_status",
        "preferred_origin",
    ]  # fmt: skip
    assert table["source_id"].tolist() == ["45", "46"]
    assert table["trace_p_phase"].tolist() == ["Pg", "Pn"]
    assert table["preferred_origin"].tolist() == [True, False]


def test_picks_asked_of_a_catalog_format_without_them(tmp_path, norcia_raw, capsys):
    from catalog_files import write_tan

    config = _study(tmp_path, norcia_raw, [], fmt="tan2021")
    write_tan(tmp_path / "cat.xml", _events(40, 40))
    assert cli.main(["catalog", config, "-q"]) == 2
    err = capsys.readouterr().err  # the config's error: its file, then the key and why
    assert err.startswith(f"error: {config}") and "p_arrival = 'picks'" in err
    assert "catalog.format is 'tan2021'" in err and "Traceback" not in err
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("p_arrival", ["picks", "model"])
def test_a_quakeml_without_picks(tmp_path, norcia_raw, capsys, p_arrival):
    config = _study(tmp_path, norcia_raw, [], p_arrival=p_arrival)
    code = cli.main(["catalog", config, "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    if p_arrival == "model":  # nothing asked of the picks: an empty table
        assert code == 0 and pd.read_parquet(tmp_path / "store" / "picks.parquet").empty
        return
    assert code == 2 and len(err) == 1 and "no P pick in the catalog" in err[0], err
    assert "p_arrival = 'model'" in err[0]
    assert not (tmp_path / "store" / "events.parquet").exists()
