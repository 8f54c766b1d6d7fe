"""The monitor's index and its lines: threshold crossings and change points.

The index after each committed event is the post-like fraction of the last `width` scored
events (commit order, the order the monitor saw them), with the exact chance band of the
run's calibration (`faultstate.chance_counts`).  A line is due when the index crosses the
threshold (either way) or a change point appears on the post-like sequence that is not
within `min_size` events of one already reported.  Each line has a key (kind and event),
so one written before a crash is never written again.  A line whose index window holds an
event the run was trained or tested on says "in-sample" (`[monitor] start` before the end
of the run's data): its index is not a measurement on new events.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from faultprobe.analysis import faultstate

ALERT_COLUMNS = [
    "key",
    "written_time",
    "kind",
    "station",
    "source_id",
    "source_origin_time",
    "index",
    "threshold",
    "in_sample",
    "message",
]


def index_after_each(
    scores: pd.DataFrame, width: int, n_cal: int, m_cal: int, level: float = 0.99
) -> pd.DataFrame:
    """The index after every scored event (NaN until `width` events are scored), and
    whether its window holds an in-sample event."""
    s = scores[scores["post_like"].notna()].reset_index(drop=True)
    y = s["post_like"].astype(float).to_numpy()
    j = np.arange(len(y))
    full = j >= width - 1
    index = np.where(full, _window_sums(y, width) / width, np.nan)
    seen = s["in_sample"].fillna(False).astype(float).to_numpy() if "in_sample" in s else 0 * y
    lo, hi = faultstate.chance_counts(width, n_cal, m_cal, level)
    return pd.DataFrame(
        {
            "source_id": s["source_id"].astype(str),
            "source_origin_time": s["source_origin_time"],
            "post_like": s["post_like"].astype(bool),
            "index": index,
            "chance_lo": lo / width,
            "chance_hi": hi / width,
            "in_sample": _window_sums(seen, width) > 0,
        }
    )


def _window_sums(y: np.ndarray, width: int) -> np.ndarray:
    """Sum of the last `width` values at every position (fewer at the start)."""
    csum = np.concatenate([[0.0], np.cumsum(y)])
    j = np.arange(len(y))
    return csum[j + 1] - csum[np.maximum(j + 1 - width, 0)]


def due(
    index: pd.DataFrame,
    threshold: float,
    penalty: float,
    min_size: int,
    station: str,
    reported: pd.DataFrame | None,
) -> pd.DataFrame:
    """The lines the index calls for that are not in `reported` yet."""
    rows = []
    v = index["index"].to_numpy()
    prev, cur = v[:-1], v[1:]
    up = np.flatnonzero((prev < threshold) & (cur >= threshold)) + 1
    down = np.flatnonzero((prev >= threshold) & (cur < threshold)) + 1
    for j, kind in [*((j, "threshold_up") for j in up), *((j, "threshold_down") for j in down)]:
        word = "above" if kind == "threshold_up" else "below"
        rows.append(_row(index, j, kind, station, threshold,
                         f"index {v[j]:.2f} went {word} {threshold:.2f}"))  # fmt: skip
    old = reported if reported is not None else pd.DataFrame(columns=ALERT_COLUMNS)
    seen = old.loc[old["kind"] == "change_point", "source_id"].astype(str)
    pos = {e: i for i, e in enumerate(index["source_id"])}
    seen_at = np.array([pos[e] for e in seen if e in pos], dtype=np.int64)
    y = index["post_like"].astype(float).to_numpy()
    for b in faultstate.change_points(y, penalty, min_size):
        if seen_at.size and np.abs(seen_at - b).min() < min_size:
            continue
        before, after = y[max(0, b - min_size) : b].mean(), y[b : b + min_size].mean()
        rows.append(_row(index, b, "change_point", station, threshold,
                         f"change point: post-like fraction {before:.2f} -> {after:.2f}"))  # fmt: skip
        seen_at = np.append(seen_at, b)
    new = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    return new[~new["key"].isin(set(old["key"]))].sort_values("source_origin_time", kind="stable")


def _row(index: pd.DataFrame, j: int, kind: str, station: str, threshold: float, text: str):
    eid = str(index["source_id"].iloc[j])
    in_sample = bool(index["in_sample"].iloc[j]) if "in_sample" in index else False
    if in_sample:
        text += " (in-sample: the run was trained or tested on events of this window)"
    return {
        "key": f"{kind}:{eid}",
        "written_time": pd.NaT,
        "kind": kind,
        "station": station,
        "source_id": eid,
        "source_origin_time": index["source_origin_time"].iloc[j],
        "index": float(index["index"].iloc[j]),
        "threshold": threshold,
        "in_sample": in_sample,
        "message": text,
    }


def render(row) -> str:
    """The printed line of an alert."""
    t = pd.Timestamp(row["source_origin_time"]).tz_convert("UTC")
    return (
        f"{pd.Timestamp(row['written_time']):%Y-%m-%dT%H:%M:%SZ} {row['station']} "
        f"{row['kind']}: {row['message']} at event {row['source_id']} "
        f"(origin {t:%Y-%m-%dT%H:%M:%SZ})"
    )
