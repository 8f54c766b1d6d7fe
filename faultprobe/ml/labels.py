"""Class labels from event origin times, and seeded class balancing.

Labels are integers 0..N-1 in time order (earliest class first); -1 marks an event that
no class takes (outside the calendar months, or inside an extra phase such as the
Visso-Norcia interval, which the paper leaves out of its 2/4/8-class models).  Everything is vectorised over
the events and pure: times in, labels out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from faultprobe.ml.errors import ModelError
from faultprobe.ml.spec import Labelling

UNLABELLED = -1


def _utc(times: np.ndarray | pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(times)
    return idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")


def _seconds_from(times: pd.DatetimeIndex, ref: pd.Timestamp) -> np.ndarray:
    return (times - ref).total_seconds().to_numpy(dtype=np.float64)


def _equal_count_bins(t: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Bin the events under `mask` into k equal-count groups by time (0 = earliest)."""
    out = np.full(t.shape, UNLABELLED, dtype=np.int64)
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return out
    order = idx[np.argsort(t[idx], kind="stable")]
    out[order] = (np.arange(order.size) * k) // order.size
    return out


def month_edges(times: pd.DatetimeIndex, n: int) -> pd.DatetimeIndex:
    """Starts of the n consecutive calendar months holding the most events, plus the end of
    the last (n + 1 edges; ties go to the later months).  Aug 30 - Dec 30 and n = 4 gives
    September ... December, the paper's months."""
    if len(times) == 0:
        raise ModelError("calendar labelling without edges needs events to place the months")
    months = times.tz_convert("UTC").tz_localize(None).to_period("M")
    first, last = months.min(), months.max()
    span = pd.period_range(first, max(last, first + (n - 1)), freq="M")
    counts = pd.Series(months).value_counts().reindex(span, fill_value=0).to_numpy()
    totals = np.convolve(counts, np.ones(n, dtype=np.int64), mode="valid")
    start = span[len(totals) - 1 - int(np.argmax(totals[::-1]))]
    return pd.DatetimeIndex([(start + i).start_time for i in range(n + 1)]).tz_localize("UTC")


def in_phases(times: pd.DatetimeIndex, phases) -> np.ndarray:
    """Index of the phase interval [start, end) holding each time (-1 = none; the earliest
    phase wins where two overlap)."""
    out = np.full(len(times), -1, dtype=np.int64)
    for j, ph in enumerate(sorted(phases, key=lambda p: p.start)):
        lo = pd.Timestamp(ph.start).tz_convert("UTC")
        hi = pd.Timestamp(ph.end).tz_convert("UTC")
        out[np.asarray((times >= lo) & (times < hi)) & (out < 0)] = j
    return out


def make_labels(
    origin_time: np.ndarray | pd.Series | pd.DatetimeIndex, labelling: Labelling
) -> tuple[np.ndarray, list[str]]:
    """Integer labels (-1 = no class) and class names for events with these origin times."""
    times = _utc(origin_time)
    ref = pd.Timestamp(labelling.reference_time).tz_convert("UTC")
    t = _seconds_from(times, ref)
    pre, post = t < 0, t >= 0
    n = labelling.n_classes
    kind = labelling.kind

    # The paper's 2/4/8-class models leave out the extra phases (the Visso-Norcia interval);
    # its 9-class model makes each phase a class of its own.
    if kind in ("binary", "ttf") and labelling.exclude_phases and labelling.phases:
        keep = in_phases(times, labelling.phases) < 0
        pre, post = pre & keep, post & keep

    if kind == "binary":
        lab = np.where(pre, 0, np.where(post, 1, UNLABELLED)).astype(np.int64)
        return lab, ["pre", "post"]

    if kind == "ttf":
        k = n // 2
        lab = _equal_count_bins(t, pre, k)
        lab = np.where(post, _equal_count_bins(t, post, k) + k, lab)
        return lab, [f"pre{i + 1}" for i in range(k)] + [f"post{i + 1}" for i in range(k)]

    if kind == "phases":
        phases = sorted(labelling.phases, key=lambda p: p.start)
        in_phase = in_phases(times, phases)
        free = in_phase < 0
        k = (n - len(phases)) // 2
        lab = _equal_count_bins(t, pre & free, k)
        lab = np.where(free & post, _equal_count_bins(t, post & free, k) + k + len(phases), lab)
        lab = np.where(~free, in_phase + k, lab)
        names = [f"pre{i + 1}" for i in range(k)] + [p.name for p in phases]
        return lab, names + [f"post{i + 1}" for i in range(k)]

    if kind == "calendar":
        edge_times = _utc(list(labelling.edges)) if labelling.edges else month_edges(times, n)
        edges = _seconds_from(edge_times, ref)
        if edges.size != n + 1 or np.any(np.diff(edges) <= 0):
            raise ModelError(f"calendar labelling with {n} classes needs {n + 1} rising edges")
        b = np.searchsorted(edges, t, side="right") - 1
        lab = np.where((b >= 0) & (b < n), b, UNLABELLED).astype(np.int64)
        if labelling.edges:
            return lab, [f"from {x:%Y-%m-%d}" for x in edge_times[:-1]]
        return lab, [f"{x:%Y-%m}" for x in edge_times[:-1]]

    raise ValueError(f"unknown labelling kind {kind!r}")


def balance(labels: np.ndarray, n_classes: int, seed: int) -> np.ndarray:
    """Boolean mask keeping the same number of events in every class, drawn with `seed`.

    Raises if a class is empty (a balanced set would then be empty).
    """
    labels = np.asarray(labels)
    valid = labels >= 0
    counts = np.bincount(labels[valid], minlength=n_classes)
    if counts.min() == 0:
        raise ModelError(f"cannot balance classes: counts per class are {counts.tolist()}")
    m = counts.min()
    rng = np.random.default_rng(seed)
    key = rng.random(labels.size)
    order = np.lexsort((key, np.where(valid, labels, n_classes)))
    sorted_lab = np.where(valid, labels, n_classes)[order]
    starts = np.searchsorted(sorted_lab, sorted_lab, side="left")
    rank = np.arange(labels.size) - starts
    keep = np.zeros(labels.size, dtype=bool)
    keep[order] = (rank < m) & (sorted_lab < n_classes)
    return keep


def shuffle_labels(labels: np.ndarray, seed: int) -> np.ndarray:
    """Permute the labels of the labelled events among themselves (a null test)."""
    out = np.array(labels, copy=True)
    idx = np.flatnonzero(out >= 0)
    out[idx] = np.random.default_rng(seed).permutation(out[idx])
    return out
