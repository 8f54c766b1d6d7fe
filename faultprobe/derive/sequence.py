"""A sequence's own activity in a catalog: where it is, how long it lasts, its large shocks.

Times are days relative to the mainshock; positions east, north, down offsets (km) from the
hypocentre. Every function takes arrays and returns numbers with the reason for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from faultprobe.catalogs.geometry import box_coordinates
from faultprobe.config import Fault, Shock
from faultprobe.geodesy import local_xy

#: the post-mainshock rate counts as back to normal below this multiple of the pre rate
RATE_FACTOR = 2.0
#: days over which the post-mainshock rate is averaged (trailing)
RATE_DAYS = 7
#: shortest post-mainshock window (days)
MIN_POST_DAYS = 7.0
#: other shocks: this much below the mainshock's magnitude at most
SHOCK_DROP = 1.5
#: shocks searched this many days before the window too (their aftershocks are in it)
SHOCK_LEAD_DAYS = 30.0
#: a foreshock within this many days and this much below the mainshock opens an interval
FORESHOCK_DAYS = 14.0
FORESHOCK_DROP = 1.0


def rupture_length_km(magnitude: float) -> float:
    """Subsurface rupture length, Wells & Coppersmith (1994), all slip types."""
    return float(10 ** (-2.44 + 0.59 * magnitude))


def search_radius_km(magnitude: float) -> float:
    """How far from the epicentre the sequence is looked for: twice the rupture length."""
    return max(10.0, 2.0 * rupture_length_km(magnitude))


def offsets(events: pd.DataFrame, hypo: Shock) -> np.ndarray:
    """(n, 3) east, north, down offsets (km) of catalog events from the hypocentre."""
    east, north = local_xy(
        events["source_latitude_deg"].to_numpy(float),
        events["source_longitude_deg"].to_numpy(float),
        hypo.latitude,
        hypo.longitude,
    )
    return np.stack([east, north, events["source_depth_km"].to_numpy(float) - hypo.depth_km], -1)


def days_from(events: pd.DataFrame, t0) -> np.ndarray:
    """Days of each origin time after `t0` (negative before)."""
    return (events["source_origin_time"] - pd.Timestamp(t0)).dt.total_seconds().to_numpy() / 86400.0


def completeness(mags: np.ndarray) -> float:
    """Magnitude of completeness by maximum curvature (0.1 bins) plus 0.2 (Woessner & Wiemer
    2005)."""
    m = np.asarray(mags, float)
    m = m[np.isfinite(m)]
    if len(m) == 0:
        return float("nan")
    edges = np.arange(np.floor(m.min() * 10) / 10, m.max() + 0.2, 0.1)
    counts, _ = np.histogram(m, edges)
    return float(np.round(edges[np.argmax(counts)] + 0.05 + 0.2, 1))


def b_value(mags: np.ndarray, mc: float) -> tuple[float, int]:
    """Aki-Utsu maximum-likelihood b above `mc` (binning of 0.1 when the magnitudes are
    rounded to it) and the number of events it rests on."""
    m = np.asarray(mags, float)
    m = m[np.isfinite(m) & (m >= mc - 1e-9)]
    if len(m) < 10 or np.ptp(m) == 0:
        return float("nan"), len(m)
    binned = np.allclose(m * 10, np.round(m * 10), atol=1e-6)
    half = 0.05 if binned else 0.0
    return float(np.log10(np.e) / (m.mean() - (mc - half))), len(m)


@dataclass(frozen=True)
class Window:
    """The study window and how it was set (days relative to the mainshock)."""

    pre_days: float
    post_days: float
    pre_rate: float  # events per day in the pre window within the search radius
    post_note: str
    pre_note: str


def derive_window(
    t_days: np.ndarray, catalog_start: float, catalog_end: float, max_days: float
) -> Window:
    """Pre window as long as allowed (the pre class is the scarce one); post window until
    the aftershock rate falls back to `RATE_FACTOR` times the pre rate.

    `t_days`: the sequence's events (within the search radius), days after the mainshock.
    """
    pre = float(min(max_days, -catalog_start))
    pre_note = (
        f"{pre:g} days before (--max-days)"
        if pre == max_days
        else f"{pre:.1f} days before: the catalog starts then"
    )
    n_pre = int(np.sum((t_days >= -pre) & (t_days < 0)))
    pre_rate = max(n_pre, 1) / pre
    last = float(min(max_days, catalog_end))
    days = np.arange(0, int(np.ceil(last)) + 1)
    daily = np.histogram(t_days[t_days > 0], bins=np.append(days, days[-1] + 1))[0]
    csum = np.concatenate([[0], np.cumsum(daily)])
    ends = np.arange(RATE_DAYS, len(days) + 1)
    mean = (csum[ends] - csum[ends - RATE_DAYS]) / RATE_DAYS  # trailing means ending at day e
    calm = ends[(ends >= MIN_POST_DAYS) & (mean <= RATE_FACTOR * pre_rate)]
    limit = f"{RATE_FACTOR:g}x the pre-mainshock rate of {pre_rate:.1f}/day"
    if len(calm) and calm[0] < last:
        post = float(calm[0])
        note = f"{post:g} days after: the {RATE_DAYS}-day aftershock rate is back to {limit}"
    elif last < max_days:
        post = last
        note = f"{post:.1f} days after: the catalog ends then (rate still above {limit})"
    else:
        post = last
        note = f"{post:g} days after (--max-days): the aftershock rate stays above {limit}"
    return Window(pre, post, pre_rate, note, pre_note)


def derive_box(
    fault: Fault, hypo: Shock, lat: np.ndarray, lon: np.ndarray, pad_km: float = 2.0
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Along- and across-strike extent (km) of the sequence's events (1st-99th percentile,
    padded), and of the fault segment's surface projection, rounded outward to 1 km."""
    along, across = box_coordinates(fault, hypo, lat, lon)
    depth = np.asarray(fault.depth_km, float)
    # the down-dip edge lies toward strike + 90°, which is negative across
    seg_across = -(depth - hypo.depth_km) / np.tan(np.radians(max(fault.dip, 1.0)))
    lo_a = min(np.percentile(along, 1) - pad_km, fault.along_strike_km[0], 0.0)
    hi_a = max(np.percentile(along, 99) + pad_km, fault.along_strike_km[1], 0.0)
    lo_c = min(np.percentile(across, 1) - pad_km, *seg_across, 0.0)
    hi_c = max(np.percentile(across, 99) + pad_km, *seg_across, 0.0)
    return (
        (float(np.floor(lo_a)), float(np.ceil(hi_a))),
        (float(np.floor(lo_c)), float(np.ceil(hi_c))),
    )


def other_shocks(
    events: pd.DataFrame,
    main: Shock,
    main_id: str | None,
    near: np.ndarray,
    start,
    end,
) -> pd.DataFrame:
    """Catalog events of the sequence at most `SHOCK_DROP` below the mainshock, from
    `SHOCK_LEAD_DAYS` before the window to its end (the mainshock itself left out)."""
    t = events["source_origin_time"]
    lo = pd.Timestamp(start) - pd.Timedelta(days=SHOCK_LEAD_DAYS)
    same = (t - pd.Timestamp(main.time)).dt.total_seconds().abs() < 2.0
    if main_id is not None:
        same |= events["source_id"].astype(str) == str(main_id)
    big = events["source_magnitude"] >= main.magnitude - SHOCK_DROP
    keep = near & big.to_numpy() & ~same.to_numpy() & (t >= lo).to_numpy()
    keep &= (t <= pd.Timestamp(end)).to_numpy()
    return events[keep].sort_values("source_origin_time")


def foreshock(shocks: pd.DataFrame, main: Shock) -> pd.Series | None:
    """The largest shock in the `FORESHOCK_DAYS` before the mainshock within
    `FORESHOCK_DROP` of its magnitude: it opens an interval of its own (as Visso did)."""
    dt = (pd.Timestamp(main.time) - shocks["source_origin_time"]).dt.total_seconds() / 86400.0
    cand = shocks[
        (dt > 0)
        & (dt <= FORESHOCK_DAYS)
        & (shocks["source_magnitude"] >= main.magnitude - FORESHOCK_DROP)
    ]
    return None if cand.empty else cand.loc[cand["source_magnitude"].idxmax()]
