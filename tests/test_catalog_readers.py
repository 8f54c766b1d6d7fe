"""Every catalog reader on files in the real formats, and on bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from catalog_files import random_catalog, write_fdsn_text, write_tan
from obspy import UTCDateTime
from obspy.core.event import Catalog, Event, Magnitude, Origin, ResourceIdentifier

from faultprobe.catalogs.readers import (
    CATALOG_COLUMNS,
    CatalogError,
    read_catalog,
    read_csv_catalog,
    read_fdsn_text,
    read_quakeml,
    read_tan2021,
)
from faultprobe.config import CatalogSource

CAT = random_catalog(50, seed=3)


def test_tan_reads_every_row_with_utc_times(tmp_path):
    read = read_tan2021(write_tan(tmp_path / "cat.txt", CAT))
    ev = read.events
    assert list(ev.columns) == CATALOG_COLUMNS and read.problems == []
    assert ev["source_origin_time"].dt.tz is not None
    # Times to the millisecond (the file holds 3 decimals of a second).
    err = (ev["source_origin_time"] - CAT["source_origin_time"]).abs().max()
    assert err <= pd.Timedelta("1ms")
    np.testing.assert_allclose(ev["source_latitude_deg"], CAT["source_latitude_deg"], atol=1e-5)
    np.testing.assert_allclose(ev["source_magnitude"], CAT["mw"], atol=0.005)
    assert (ev["source_magnitude_type"] == "Mw").all()
    assert ev["source_id"].tolist() == CAT["source_id"].tolist()


def test_tan_bad_rows_are_reported_with_line_numbers(tmp_path):
    # 20 header lines; extra lines are inserted before data rows 3, 7, 9 and 12.
    path = write_tan(
        tmp_path / "cat.txt",
        CAT,
        {
            3: "2016 10 30 6 40",  # too few fields
            7: "2016 13 30 6 40 17.0 42.8 13.1 9.0 0.1 0.1 45 0.2 1.0 1.1 999",  # month 13
            9: "2016 10 30 6 40 17.0 north 13.1 9.0 0.1 0.1 45 0.2 1.0 1.1 998",  # text
            12: "",  # blank lines are no problem
        },
    )
    read = read_tan2021(path)
    assert len(read.events) == len(CAT)
    got = {(p.line, p.reason.split(",")[0]) for p in read.problems}
    # data row i (0-based, after insertions) sits on line 20 + i + 1
    assert {line for line, _ in got} == {24, 29, 32}
    assert any("invalid date" in p.reason for p in read.problems if p.line == 29)
    assert all(str(path) in str(p) for p in read.problems)


def test_tan_ragged_rows_with_too_many_fields(tmp_path):
    path = write_tan(tmp_path / "cat.txt", CAT, {5: " ".join(["1"] * 18)})
    read = read_tan2021(path)
    assert len(read.events) == len(CAT)
    assert [(p.line, p.reason) for p in read.problems] == [(26, "expected 16 fields, found 18")]


def test_tan_nan_magnitudes_and_best_choice(tmp_path):
    cat = CAT.copy()
    cat.loc[[1, 2], "mw"] = np.nan
    read = read_tan2021(write_tan(tmp_path / "cat.txt", cat), magnitude="best")
    assert read.problems == []
    ev = read.events
    one = ev.loc[1]
    assert one["source_magnitude_type"] == "ML"
    assert one["source_magnitude"] == pytest.approx(cat.loc[1, "ml"], abs=0.005)
    assert ev.loc[0, "source_magnitude_type"] == "Mw"
    mw_only = read_tan2021(tmp_path / "cat.txt", magnitude="mw").events
    assert np.isnan(mw_only.loc[2, "source_magnitude"])


def test_unreadable_files_name_the_file(tmp_path):
    with pytest.raises(CatalogError, match="not found"):
        read_tan2021(tmp_path / "absent.txt")
    other = tmp_path / "notes.txt"
    other.write_text("just some\nwords here\n")
    with pytest.raises(CatalogError, match=r"notes\.txt: not a Tan"):
        read_tan2021(other)
    xml = tmp_path / "bad.xml"
    xml.write_text("<quakeml><unclosed>")
    with pytest.raises(CatalogError, match=r"bad\.xml: cannot read QuakeML"):
        read_quakeml(xml)
    txt = tmp_path / "fdsn.txt"
    txt.write_text("#A|B\n1|2\n")
    with pytest.raises(CatalogError, match=r"fdsn\.txt: not FDSN event text"):
        read_fdsn_text(txt)


def test_quakeml(tmp_path):
    events = []
    for _, row in CAT.head(5).iterrows():
        o = Origin(time=UTCDateTime(row["source_origin_time"].to_pydatetime()),
                   latitude=row["source_latitude_deg"], longitude=row["source_longitude_deg"],
                   depth=row["source_depth_km"] * 1000.0)  # fmt: skip
        m = Magnitude(mag=row["ml"], magnitude_type="ML")
        ev = Event(resource_id=ResourceIdentifier(f"smi:webservices.ingv.it/fdsnws/event/1/query?eventId={row['source_id']}"),
                   origins=[o], magnitudes=[m])  # fmt: skip
        ev.preferred_origin_id, ev.preferred_magnitude_id = o.resource_id, m.resource_id
        events.append(ev)
    events.insert(2, Event(resource_id=ResourceIdentifier("smi:local/event/broken")))
    path = tmp_path / "cat.xml"
    Catalog(events=events).write(str(path), format="QUAKEML")
    read = read_quakeml(path, magnitude="ml")
    assert read.events["source_id"].tolist() == CAT["source_id"].head(5).tolist()
    np.testing.assert_allclose(read.events["source_depth_km"], CAT["source_depth_km"].head(5))
    assert [(p.line, p.reason) for p in read.problems] == [(3, "event broken has no usable origin")]


def test_fdsn_text(tmp_path):
    path = write_fdsn_text(tmp_path / "events.txt", CAT.head(10))
    with open(path, "a") as f:
        f.write("77|not a time|42.8|13.1|9.0|X||||ML|1.0|--|Norcia|earthquake\n")
    read = read_fdsn_text(path, magnitude="ml")
    assert len(read.events) == 10
    np.testing.assert_allclose(read.events["source_magnitude"], CAT["ml"].head(10), atol=0.005)
    assert [p.line for p in read.problems] == [12]
    assert (
        read.events["source_origin_time"] - CAT["source_origin_time"].head(10)
    ).abs().max() <= pd.Timedelta("1us")


def test_csv_with_a_column_mapping(tmp_path):
    df = CAT.head(8)
    t = df["source_origin_time"].dt.tz_convert("UTC")
    out = pd.DataFrame(
        {"yr": t.dt.year, "mo": t.dt.month, "dy": t.dt.day, "hr": t.dt.hour, "mn": t.dt.minute,
         "sc": t.dt.second + t.dt.microsecond / 1e6, "lat": df["source_latitude_deg"],
         "lon": df["source_longitude_deg"], "dep": df["source_depth_km"], "mw": df["mw"],
         "id": df["source_id"]}
    )  # fmt: skip
    path = tmp_path / "cat.csv"
    out.to_csv(path, index=False)
    src = CatalogSource(
        path=str(path),
        format="csv",
        columns={"time": None, "year": "yr", "month": "mo", "day": "dy", "hour": "hr", "minute": "mn",
                 "second": "sc", "latitude": "lat", "longitude": "lon", "depth_km": "dep",
                 "magnitude": "mw", "event_id": "id"},
    )  # fmt: skip
    read = read_catalog(src)
    assert read.events["source_id"].tolist() == df["source_id"].tolist()
    assert (
        read.events["source_origin_time"] - df["source_origin_time"]
    ).abs().max() <= pd.Timedelta("1ms")
    wrong = src.model_copy(update={"columns": src.columns.model_copy(update={"latitude": "LAT"})})
    with pytest.raises(CatalogError, match=r"cat\.csv: CSV lacks the mapped columns \['LAT'\]"):
        read_csv_catalog(path, wrong)
