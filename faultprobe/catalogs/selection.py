"""Select a study's events from a whole catalog, vectorised, with a reason for every rejection.

The rules (Laurenti et al. 2024): inside the study window, magnitude above a threshold,
deeper than a minimum, inside the study box, within a distance of the fault segment, and
isolated: no other event of the FULL catalog inside the event's waveform window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from faultprobe.catalogs.geometry import distance_to_fault, in_box
from faultprobe.config import PhaseInterval, StudyConfig

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
    "event_id",
    "origin_time",
    "latitude",
    "longitude",
    "depth_km",
    "magnitude",
    "magnitude_type",
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
    month = events["origin_time"].dt.tz_convert("UTC").dt.strftime("%Y-%m")
    return pd.crosstab(month, events["phase"]).rename_axis(index="month", columns=None)


def select_events(catalog: pd.DataFrame, cfg: StudyConfig) -> Selection:
    """Apply the study's selection to a normalised catalog (see `readers.CATALOG_COLUMNS`).

    Linear apart from one sort of the origin times (isolation, and the output order).
    """
    sel, fault, main = cfg.selection, cfg.fault, cfg.mainshock
    t = _ns(catalog["origin_time"])
    lat = catalog["latitude"].to_numpy(float)
    lon = catalog["longitude"].to_numpy(float)
    depth = catalog["depth_km"].to_numpy(float)
    mag = catalog["magnitude"].to_numpy(float)

    start = pd.Timestamp(cfg.study.start).as_unit("ns").value
    end = pd.Timestamp(cfg.study.end).as_unit("ns").value
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
            ~isolated(t, np.sort(t), sel.isolation_before_s, sel.isolation_after_s),
        ]
        reason = np.select(fails, np.arange(len(REASONS)), default=-1)
    keep = reason == -1
    counts = np.bincount(reason[~keep], minlength=len(REASONS))
    rejected = pd.Series(counts, index=list(REASONS), name="rejected")

    events = catalog.loc[keep].copy()
    events["fault_distance_km"] = dist[keep]
    events["phase"], events["ttf_s"] = assign_phases(events["origin_time"], main.time, cfg.phases)
    events = events.sort_values(["origin_time", "event_id"], kind="stable")[EVENT_COLUMNS]
    return Selection(events.reset_index(drop=True), rejected, n_catalog=len(catalog))
