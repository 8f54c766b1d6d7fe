"""Writers of the simulated sequence in the formats of a real study.

Tan et al. (2021) catalog text, QuakeML, StationXML, an SDS archive of Steim2 miniSEED
and the truth tables (Parquet).  Every writer is deterministic: same input, same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from obspy import Stream
from obspy.core.event import (
    Catalog,
    Event,
    Magnitude,
    Origin,
    OriginQuality,
    ResourceIdentifier,
)

from faultprobe import progress
from faultprobe.config import ConfigError
from faultprobe.synthetic.archive import BATCH, SyntheticArchive

DAY_NS = 86_400 * 10**9

TAN_HEADER = """\
# faultprobe synthetic catalog in the layout of Tan et al. (2021), Amatrice_CAT5
# (Zenodo 10.5281/zenodo.4662870): a header, then one event per line with 16
# whitespace-separated columns.
#
# Study: {name}
# Seed: {seed}
# Events: {n}
# Time span (UTC): {start} to {end}
#
# Columns:
#   1-6   year month day hour minute second (UTC)
#   7-9   latitude (deg), longitude (deg), depth (km)
#   10-12 EH1, EH2 (km): horizontal error ellipse semi-axes; AZ (deg): EH1 azimuth
#   13    EZ (km): vertical error
#   14-15 ML, Mw (NaN where not determined)
#   16    event ID
#
# These events are simulated (docs/synthetic.md); the truth table beside this file
# holds their true parameters.
#
#  year mo dy hr mi     sec      lat       lon    dep   EH1   EH2    AZ    EZ     ML     Mw      ID
"""


def write_tan(catalog: pd.DataFrame, path: Path, name: str, seed: int) -> None:
    """Write the catalog as Tan et al. (2021) text; times are rounded to the millisecond."""
    t = catalog["source_origin_time"].dt.round("ms")
    sec = t.dt.second + t.dt.microsecond / 1e6
    cols = np.column_stack(
        [
            t.dt.year, t.dt.month, t.dt.day, t.dt.hour, t.dt.minute, sec,
            catalog["source_latitude_deg"], catalog["source_longitude_deg"],
            catalog["source_depth_km"],
            catalog["eh1_km"], catalog["eh2_km"], catalog["az_deg"], catalog["ez_km"],
            catalog["ml"], catalog["mw"], catalog["source_id"].astype(np.int64),
        ]
    ).astype(float)  # fmt: skip
    fmt = "%5d %2d %2d %2d %2d %7.3f %9.5f %9.5f %6.3f %5.3f %5.3f %5.1f %5.3f %6.2f %6.2f %7d"
    header = TAN_HEADER.format(
        name=name,
        seed=seed,
        n=len(catalog),
        start=t.min() if len(t) else "-",
        end=t.max() if len(t) else "-",
    )
    with open(path, "w", encoding="ascii") as f:
        f.write(header)
        np.savetxt(f, cols, fmt=fmt)


def write_quakeml(catalog: pd.DataFrame, path: Path) -> None:
    """Write the catalog as QuakeML with fixed resource ids (deterministic)."""
    from obspy import UTCDateTime

    events = []
    for row in catalog.itertuples(index=False):
        eid = row.source_id
        origin = Origin(
            resource_id=ResourceIdentifier(f"smi:local/faultprobe/origin/{eid}"),
            time=UTCDateTime(ns=int(row.source_origin_time.round("ms").value)),
            latitude=float(row.source_latitude_deg),
            longitude=float(row.source_longitude_deg),
            depth=float(row.source_depth_km) * 1000.0,
            quality=OriginQuality(),
        )
        mags = []
        for kind, value in (("Mw", row.mw), ("ML", row.ml)):
            if np.isfinite(value):
                mags.append(
                    Magnitude(
                        resource_id=ResourceIdentifier(f"smi:local/faultprobe/mag/{eid}/{kind}"),
                        mag=float(value),
                        magnitude_type=kind,
                        origin_id=origin.resource_id,
                    )
                )
        ev = Event(
            resource_id=ResourceIdentifier(f"smi:local/faultprobe/event/{eid}"),
            origins=[origin],
            magnitudes=mags,
            event_type="earthquake",
        )
        ev.preferred_origin_id = origin.resource_id
        if mags:
            ev.preferred_magnitude_id = mags[0].resource_id
        events.append(ev)
    cat = Catalog(events=events, resource_id=ResourceIdentifier("smi:local/faultprobe/catalog"))
    cat.write(str(path), format="QUAKEML")


def sds_path(root: Path, net: str, sta: str, cha: str, year: int, jday: int) -> Path:
    """ROOT/YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.JDAY (empty location code)."""
    return root / f"{year}" / net / sta / f"{cha}.D" / f"{net}.{sta}..{cha}.D.{year}.{jday:03d}"


def write_station_sds(archive: SyntheticArchive, i: int, root: Path) -> int:
    """Write every span of station i into day files; returns the number of files written."""
    from obspy import UTCDateTime

    plan = archive.plan(i)
    s = plan.station
    for ep in plan.epochs:
        if DAY_NS % ep.step_ns:
            raise ConfigError(
                f"{s.code}: {ep.sampling_rate:g} Hz does not divide a day into whole samples; "
                "give [[synthetic.stations]] or [[synthetic.station_changes]] a sampling_rate "
                "that does (100, 200, 50, ...)"
            )
    span_per_day = DAY_NS // plan.span_step_ns  # samples a day, per span (its epoch's rate)
    pending: dict[int, list] = {}
    written = 0

    def flush(before_day: int) -> None:
        nonlocal written
        for day in sorted(d for d in pending if d < before_day):
            pieces = pending.pop(day)
            when = UTCDateTime(ns=day * DAY_NS)
            for c, cha in enumerate(s.channels):
                traces = [tr for comp, tr in pieces if comp == c]
                path = sds_path(root, s.network, s.station, cha, when.year, when.julday)
                path.parent.mkdir(parents=True, exist_ok=True)
                Stream(traces).write(str(path), format="MSEED", encoding="STEIM2", reclen=4096)
                written += 1

    groups, group, n_ev = [], [], 0
    for k in range(len(plan.span_start)):  # groups of spans holding about BATCH records
        group.append(k)
        n_ev += len(plan.span_events[k])
        if n_ev >= BATCH:
            groups.append(group)
            group, n_ev = [], 0
    if group:
        groups.append(group)
    rendered: dict[int, np.ndarray] = {}
    for k in progress.bar(range(len(plan.span_start)), desc=f"synth: {s.code}", unit="span"):
        if k not in rendered:
            group = next(g for g in groups if g[0] == k)
            rendered = dict(zip(group, archive.render_spans(i, group)))
        a, b = int(plan.span_start[k]), int(plan.span_end[k])
        per_day = int(span_per_day[k])
        traces = archive.span_traces(i, k, data=rendered.pop(k))
        d0, d1 = a // per_day, (b - 1) // per_day
        for day in range(d0, d1 + 1):
            lo, hi = max(a, day * per_day), min(b, (day + 1) * per_day)
            for c, tr in enumerate(traces):
                piece = tr if d0 == d1 else _piece(tr, lo - a, hi - a, DAY_NS // per_day)
                pending.setdefault(day, []).append((c, piece))
        more = k + 1 < len(plan.span_start)
        next_day = int(plan.span_start[k + 1]) // int(span_per_day[k + 1]) if more else None
        flush(next_day if next_day is not None else d1 + 1)
    return written


def _piece(tr, lo: int, hi: int, step_ns: int):
    out = tr.copy()
    out.data = tr.data[lo:hi].copy()
    out.stats.starttime = tr.stats.starttime + (lo * step_ns) / 1e9
    return out
