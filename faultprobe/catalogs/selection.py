"""Select a study's events from a whole catalog, vectorised, with a reason for every rejection.

The rules (Laurenti et al. 2024): inside the study window, magnitude above a threshold,
deeper than a minimum, inside the study box, within a distance of the fault segment, and
isolated: no other event of the FULL catalog inside the event's waveform window.  By
default isolation is judged where the waves are, at the study's stations: another event
disturbs a window only when its own waves (from its P to its S arrival) reach the station
inside it, so an event hundreds of km away whose waves arrive after the window does not
count (`isolation = "origin_time"`: the first stage's rule on origin times alone).
docs/catalog.md describes both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from faultprobe.catalogs.geometry import distance_to_fault, in_box
from faultprobe.config import PhaseInterval, Shock, StudyConfig
from faultprobe.config import Selection as SelectionRules
from faultprobe.config.stages import SelectionSettings
from faultprobe.earth import PTable, arrival_tables
from faultprobe.geodesy import great_circle_km

# Checked in this order; an event is counted under the first rule it fails.
REASONS = (
    "outside study window",
    "no magnitude",
    "below magnitude threshold",
    "shallower than minimum depth",
    "outside study box",
    "too far from fault",
    "not isolated in time",
)

EVENT_COLUMNS = [
    "source_id",
    "source_origin_time",
    "source_latitude_deg",
    "source_longitude_deg",
    "source_depth_km",
    "source_magnitude",
    "source_magnitude_type",
    "fault_distance_km",
    "phase",
    "ttf_s",
]


@dataclass
class Selection:
    """Selected events (events.parquet columns) and the count of rejections by reason."""

    events: pd.DataFrame
    rejected: pd.Series
    n_catalog: int


def _ns(times: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """UTC times as int64 nanoseconds."""
    return pd.DatetimeIndex(times).tz_convert("UTC").as_unit("ns").asi8


def isolated(
    times_ns: np.ndarray, all_sorted_ns: np.ndarray, before_s: float, after_s: float
) -> np.ndarray:
    """True where no other event of `all_sorted_ns` falls in [t - before, t + after].

    `times_ns` must be members of `all_sorted_ns`; each event finds only itself there.
    """
    lo = np.searchsorted(all_sorted_ns, times_ns - int(before_s * 1e9), side="left")
    hi = np.searchsorted(all_sorted_ns, times_ns + int(after_s * 1e9), side="right")
    return (hi - lo) == 1


def arrivals_ns(
    t_ns: np.ndarray,
    dist_km: np.ndarray,
    depth_km: np.ndarray,
    tables: tuple[PTable, PTable],
    coda_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """When each event's waves reach a station `dist_km` away (its first P) and end there
    (its first S plus `coda_s`), int64 ns."""
    p_table, s_table = tables
    z = np.clip(np.nan_to_num(depth_km, nan=0.0), p_table.depth_km[0], p_table.depth_km[-1])
    tp = np.nan_to_num(p_table.travel_time(dist_km, z), nan=0.0)
    ts = np.fmax(np.nan_to_num(s_table.travel_time(dist_km, z), nan=0.0), tp)
    start = t_ns + np.round(tp * 1e9).astype(np.int64)
    return start, t_ns + np.round((ts + coda_s) * 1e9).astype(np.int64)


def log_amplitude(magnitude: np.ndarray, hypocentral_km: np.ndarray) -> np.ndarray:
    """log10 of the predicted Wood-Anderson amplitude (mm) of events at a distance: the
    local-magnitude attenuation of Hutton & Boore (1987), -log A0 = 1.11 log10(r / 100)
    + 0.00189 (r - 100) + 3."""
    r = np.maximum(np.asarray(hypocentral_km, float), 1.0)
    return np.asarray(magnitude, float) - (1.11 * np.log10(r / 100.0) + 0.00189 * (r - 100.0) + 3.0)


def isolated_at_stations(
    which: np.ndarray,
    t_ns: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    depth_km: np.ndarray,
    stations: list[tuple[float, float]],
    tables: tuple[PTable, PTable],
    before_s: float,
    after_s: float,
    coda_s: float = 0.0,
    magnitude: np.ndarray | None = None,
    floors: list[float] | None = None,
) -> np.ndarray:
    """True for each event `which` (indices into the catalog arrays) whose window at every
    station, [P - before, P + after], no other catalog event's waves (P to S + coda) enter.

    With `floors` (one log amplitude per station), only events whose predicted amplitude
    there (`log_amplitude`; a missing magnitude counts as loud) reaches the floor count.
    Per station: the events whose waves start before the window's end, less those whose
    waves ended before its start (a subset of them), is the count of waves in the window;
    two sorted arrays and two binary searches give it for all events at once.
    """
    ok = np.ones(len(which), dtype=bool)
    if len(which) == 0:
        return ok
    t_ns = np.asarray(t_ns, np.int64)
    # only events whose waves can reach any window matter: P >= 0, S <= the table's longest
    s_max = float(np.nanmax(tables[1].p_s)) + coda_s
    t_w = t_ns[which]
    near = (t_ns <= t_w.max() + int((after_s + s_max) * 1e9)) & (
        t_ns >= t_w.min() - int((before_s + s_max) * 1e9)
    )
    idx = np.flatnonzero(near)
    t, la, lo, z = t_ns[idx], lat[idx], lon[idx], depth_km[idx]
    own = np.searchsorted(idx, which)  # `which` are members of `idx`
    for k, station in enumerate(stations):
        dist = great_circle_km(la, lo, station[0], station[1])
        start, end = arrivals_ns(t, dist, z, tables, coda_s)
        p = start[own]
        heard = np.ones(len(t), dtype=bool)
        if floors is not None:
            m = np.asarray(magnitude, float)[idx]
            loud = log_amplitude(m, np.hypot(dist, np.nan_to_num(z))) >= floors[k]
            heard = np.isnan(m) | loud
        lo_ns, hi_ns = p - int(before_s * 1e9), p + int(after_s * 1e9)
        n = np.searchsorted(np.sort(start[heard]), hi_ns, side="right") - np.searchsorted(
            np.sort(end[heard]), lo_ns, side="left"
        )
        ok &= n - heard[own] == 0  # nothing heard but the event itself
    return ok


def amplitude_floors(
    sel: SelectionRules, main: Shock, stations: list[tuple[float, float]]
) -> list[float] | None:
    """Per station, the log amplitude below which other events' waves do not count: 1 /
    `isolation_amplitude_ratio` of a `min_magnitude` event's at the mainshock hypocenter."""
    ratio = sel.isolation_amplitude_ratio
    if ratio is None:
        return None
    out = []
    for lat, lon in stations:
        r = np.hypot(great_circle_km(main.latitude, main.longitude, lat, lon), main.depth_km)
        out.append(float(log_amplitude(sel.min_magnitude, r)) - np.log10(ratio))
    return out


def receivers(main: Shock, stations: pd.DataFrame | None) -> list[tuple[float, float]]:
    """(lat, lon) of the study's stations; without a table, the mainshock epicenter."""
    if stations is None or len(stations) == 0:
        return [(main.latitude, main.longitude)]
    lat = stations["station_latitude_deg"].to_numpy(float)
    return list(zip(lat, stations["station_longitude_deg"].to_numpy(float)))


def assign_phases(
    times: pd.Series, mainshock: pd.Timestamp, phases: list[PhaseInterval]
) -> tuple[np.ndarray, np.ndarray]:
    """Phase label (pre, post or a configured interval's name) and ttf_s for each time.

    ttf_s is origin time minus mainshock time in seconds: negative before the mainshock.
    Configured intervals take precedence over pre/post, the later one over an earlier one.
    """
    t = _ns(times)
    main = pd.Timestamp(mainshock).tz_convert("UTC").as_unit("ns").value
    phase = np.where(t < main, "pre", "post").astype(object)
    for interval in phases:
        lo = pd.Timestamp(interval.start).as_unit("ns").value
        hi = pd.Timestamp(interval.end).as_unit("ns").value
        phase[(t >= lo) & (t < hi)] = interval.name
    ttf = (t - main) / 1e9
    return phase.astype(str), ttf


def counts_by_month(events: pd.DataFrame) -> pd.DataFrame:
    """Selected events per calendar month (UTC) and phase."""
    if events.empty:
        return pd.DataFrame()
    month = events["source_origin_time"].dt.tz_convert("UTC").dt.strftime("%Y-%m")
    return pd.crosstab(month, events["phase"]).rename_axis(index="month", columns=None)


def select_events(
    catalog: pd.DataFrame,
    rules: SelectionSettings | StudyConfig,
    stations: pd.DataFrame | None = None,
) -> Selection:
    """Apply the study's selection to a normalised catalog (see `readers.CATALOG_COLUMNS`).

    `stations` (the stations table: station_latitude_deg, station_longitude_deg) are where the travel-time
    isolation looks; without them, at the mainshock epicenter.  Linear apart from sorts of
    the origin times or arrivals (isolation, and the output order).  A whole study config
    is taken too (its selection settings are read from it here).
    """
    if not isinstance(rules, SelectionSettings):
        rules = SelectionSettings.of(rules)
    sel, fault, main = rules.selection, rules.fault, rules.mainshock
    t = _ns(catalog["source_origin_time"])
    lat = catalog["source_latitude_deg"].to_numpy(float)
    lon = catalog["source_longitude_deg"].to_numpy(float)
    depth = catalog["source_depth_km"].to_numpy(float)
    mag = catalog["source_magnitude"].to_numpy(float)

    start = pd.Timestamp(rules.start).as_unit("ns").value
    end = pd.Timestamp(rules.end).as_unit("ns").value
    dist = distance_to_fault(fault, main, lat, lon, depth)
    outside = (t < start) | (t > end)
    if sel.mode == "analyst":  # the whole catalog inside the window: no other rule
        reason = np.where(outside, 0, -1)
    else:
        fails = [
            outside,
            np.isnan(mag),
            ~(mag > sel.min_magnitude),
            depth < sel.min_depth_km,
            ~in_box(fault, sel.box, main, lat, lon),
            dist > sel.max_fault_distance_km,
        ]
        alone = np.ones(len(t), dtype=bool)
        if sel.isolation == "origin_time":
            alone = isolated(t, np.sort(t), sel.isolation_before_s, sel.isolation_after_s)
        else:  # only the events that pass every other rule are looked at
            which = np.flatnonzero(~np.logical_or.reduce(fails))
            at = receivers(main, stations)
            alone[which] = isolated_at_stations(
                which, t, lat, lon, depth, at, arrival_tables(rules.velocity_model),
                sel.isolation_before_s, sel.isolation_after_s, sel.isolation_coda_s,
                mag, amplitude_floors(sel, main, at),
            )  # fmt: skip
        fails.append(~alone)
        reason = np.select(fails, np.arange(len(REASONS)), default=-1)
    keep = reason == -1
    counts = np.bincount(reason[~keep], minlength=len(REASONS))
    rejected = pd.Series(counts, index=list(REASONS), name="rejected")

    events = catalog.loc[keep].copy()
    events["fault_distance_km"] = dist[keep]
    phase, ttf = assign_phases(events["source_origin_time"], main.time, rules.phases)
    events["phase"], events["ttf_s"] = phase, ttf
    order = ["source_origin_time", "source_id"]
    events = events.sort_values(order, kind="stable")[EVENT_COLUMNS]
    return Selection(events.reset_index(drop=True), rejected, n_catalog=len(catalog))
