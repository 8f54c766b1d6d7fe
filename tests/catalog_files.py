"""Writers of small catalogs and station files in the real formats, for the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from faultprobe.testing.defects import toy_inventory

TAN_HEADER = [
    "# Machine-learning-based high-resolution earthquake catalog",
    "# for the 2016-2017 central Italy sequence (Tan, Waldhauser & Ellsworth, 2021)",
    "#",
    "# Columns:",
    "# YEAR MONTH DAY HOUR MINUTE SECOND LAT LON DEPTH EH1 EH2 AZ EZ ML MW ID",
    *[f"# header line {i}" for i in range(15)],
]


def random_catalog(
    n: int, seed: int = 0, center=(42.83, 13.11), t0="2016-08-24", days=200
) -> pd.DataFrame:
    """A catalog scattered around a point: source_id, source_origin_time, source_latitude_deg,
    source_longitude_deg, source_depth_km, ml, mw."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(t0, tz="UTC")
    secs = np.sort(rng.uniform(0, days * 86400, n))
    return pd.DataFrame(
        {
            "source_id": np.arange(1, n + 1).astype(str),
            "source_origin_time": start + pd.to_timedelta(np.round(secs, 2), unit="s"),
            "source_latitude_deg": center[0] + rng.normal(0, 0.12, n),
            "source_longitude_deg": center[1] + rng.normal(0, 0.12, n),
            "source_depth_km": rng.uniform(0.5, 14, n),
            "ml": np.round(rng.exponential(0.45, n) + 0.2, 2),
            "mw": np.round(rng.exponential(0.45, n) + 0.3, 2),
        }
    )


def tan_lines(df: pd.DataFrame) -> list[str]:
    """Catalog rows in the Tan et al. (2021) 16-column layout."""
    t = df["source_origin_time"].dt.tz_convert("UTC")
    sec = t.dt.second + t.dt.microsecond / 1e6
    cols = [
        t.dt.year.astype(str), t.dt.month.astype(str), t.dt.day.astype(str),
        t.dt.hour.astype(str), t.dt.minute.astype(str), sec.map("{:6.3f}".format),
        df["source_latitude_deg"].map("{:9.5f}".format),
        df["source_longitude_deg"].map("{:9.5f}".format),
        df["source_depth_km"].map("{:7.3f}".format),
        pd.Series(["0.123"] * len(df), index=df.index), pd.Series(["0.101"] * len(df), index=df.index),
        pd.Series(["45.0"] * len(df), index=df.index), pd.Series(["0.250"] * len(df), index=df.index),
        df["ml"].map("{:5.2f}".format), df["mw"].map("{:5.2f}".format),
        df["source_id"].astype(str),
    ]  # fmt: skip
    out = cols[0]
    for c in cols[1:]:
        out = out + " " + c
    return out.tolist()


def write_tan(path: Path, df: pd.DataFrame, extra_lines: dict[int, str] | None = None) -> Path:
    """Write a Tan-format file; `extra_lines` inserts raw lines before data row i (0-based)."""
    rows = tan_lines(df)
    for i, line in sorted((extra_lines or {}).items(), reverse=True):
        rows.insert(i, line)
    path.write_text("\n".join(TAN_HEADER + rows) + "\n")
    return path


def write_fdsn_text(path: Path, df: pd.DataFrame) -> Path:
    head = "#EventID|Time|Latitude|Longitude|Depth/Km|Author|Catalog|Contributor|ContributorID|MagType|Magnitude|MagAuthor|EventLocationName|EventType"
    t = df["source_origin_time"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    lines = [
        f"{e}|{tt}|{la:.5f}|{lo:.5f}|{d:.2f}|SURVEY-INGV||||ML|{m:.2f}|--|Norcia|earthquake"
        for e, tt, la, lo, d, m in zip(
            df["source_id"],
            t,
            df["source_latitude_deg"],
            df["source_longitude_deg"],
            df["source_depth_km"],
            df["ml"],
        )
    ]
    path.write_text("\n".join([head, *lines]) + "\n")
    return path


def write_stationxml(path: Path, stations: list[tuple]) -> Path:
    """stations: (net, sta, lat, lon, elev_m, band, rate) tuples; E, N, Z channels each."""
    cols = [
        "station_network_code",
        "station_code",
        "station_latitude_deg",
        "station_longitude_deg",
        "station_elevation_m",
        "station_channels",
        "station_sampling_rate_hz",
    ]
    toy_inventory(pd.DataFrame(stations, columns=cols), source="faultprobe tests").write(
        str(path), format="STATIONXML"
    )
    return path


NORCIA_STATIONS = [
    ("IV", "NRCA", 42.83355, 13.11427, 927.0, "HH", 100.0),
    ("IV", "FDMO", 43.0365, 13.0873, 550.0, "HH", 100.0),
    ("IV", "T1212", 42.751556, 13.044636, 869.0, "EH", 125.0),
    ("IV", "SMA1", 42.6305, 13.3353, 1150.0, "EH", 100.0),
]


def write_quakeml(path: Path, events: pd.DataFrame, picks: list[tuple] = ()) -> Path:
    """A QuakeML catalog of `events` (source_id, source_origin_time, source_latitude_deg,
    source_longitude_deg, source_depth_km, mw) with `picks`: (source_id, net, sta, time,
    phase, mode, used by the origin) tuples."""
    from obspy import UTCDateTime
    from obspy.core.event import (
        Arrival,
        Catalog,
        Event,
        Magnitude,
        Origin,
        Pick,
        ResourceIdentifier,
        WaveformStreamID,
    )  # fmt: skip

    by_event: dict[str, list[tuple]] = {}
    for p in picks:
        by_event.setdefault(str(p[0]), []).append(p)
    cat = Catalog()
    for r in events.itertuples():
        eid = str(r.source_id)
        origin = Origin(
            resource_id=ResourceIdentifier(f"smi:test/origin/{eid}"),
            time=UTCDateTime(pd.Timestamp(r.source_origin_time).to_pydatetime()),
            latitude=float(r.source_latitude_deg), longitude=float(r.source_longitude_deg),
            depth=float(r.source_depth_km) * 1000.0,
        )  # fmt: skip
        ev = Event(resource_id=ResourceIdentifier(f"smi:test/event/{eid}"), origins=[origin])
        ev.magnitudes = [Magnitude(mag=float(r.mw), magnitude_type="Mw")]
        for k, (_, net, sta, t, phase, mode, used) in enumerate(by_event.get(eid, [])):
            rid = ResourceIdentifier(f"smi:test/pick/{eid}/{k}")
            ev.picks.append(Pick(
                resource_id=rid, time=UTCDateTime(pd.Timestamp(t).to_pydatetime()),
                waveform_id=WaveformStreamID(net, sta, "", "HHZ"), phase_hint=phase,
                evaluation_mode=mode,
            ))  # fmt: skip
            if used:
                origin.arrivals.append(Arrival(pick_id=rid, phase=phase))
        ev.preferred_origin_id = origin.resource_id
        cat.append(ev)
    cat.write(str(path), format="QUAKEML")
    return path
