"""The fault-state index: from per-event class probabilities to a time series with bands.

Every event gets a score, the log-odds that its waves are post-mainshock rather than pre
(the post classes' probability against the pre classes'), minus the decision threshold of
the model that scored it: the median score of that model's calibration events, a
class-balanced set it was neither fitted on nor selected with.  An event is *post-like*
when its score is above zero.  The index is the post-like fraction of the events in a
window (0.5 is chance: a model with nothing to tell puts half of any window above its own
median), shown with a bootstrap band over the window's events, and its chance band:

- exact: with the threshold the m-th smallest of n calibration scores, the count of
  post-like events among k scored ones is beta-binomial(k, n - m + 1, m) whenever the
  scored and calibration events are exchangeable (no effect), whatever the model learnt;
- windows lie inside one fold (one model per fold and seed), so each has its own band.

Change points are found on the per-event post-like sequence (the fraction over seeds) with
`ruptures` (kernel change-point detection with a linear kernel: the least-squares cost),
penalised per change by `penalty` x 0.25 x (log n + n_fold / n_calib): 0.25 is the largest
variance of a post-like indicator, log n the events' own noise (as BIC), and n_fold /
n_calib the noise of the folds' thresholds (each is the median of n_calib calibration
scores, so with no effect a whole fold's fraction moves by about 0.5 / sqrt(n_calib)).  On
simulated sequences with no effect (600-3000 events, 4-5 folds, 20-400 calibration events,
200 draws each) one seed's sequence showed a change point in at most 1.5 % of the draws at
penalty 4 and 0.5 % at 6, the default; a shift of 0.5 in the fraction at the middle of 600
events costs 37 against a penalty near 15.  Pure functions of arrays and tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from faultprobe._optional import need
from faultprobe.ml.errors import ModelError

EPS = 1e-12


def post_mask(class_names: list[str]) -> np.ndarray:
    """Which classes are post-mainshock (`post`, `post1`…); the others are pre."""
    mask = np.array([str(c).startswith("post") for c in class_names])
    if mask.all() or not mask.any():
        raise ModelError(f"classes {class_names} need both pre and post classes")
    return mask


def post_log_odds(probs: np.ndarray, is_post: np.ndarray) -> np.ndarray:
    """log P(post classes) - log P(pre classes) for every row of class probabilities."""
    probs = np.asarray(probs, dtype=np.float64)
    post = probs[:, is_post].sum(axis=1)
    pre = probs[:, ~is_post].sum(axis=1)
    return np.log(np.maximum(post, EPS)) - np.log(np.maximum(pre, EPS))


def calibration_threshold(scores: np.ndarray) -> tuple[float, int, int]:
    """The decision threshold (the m-th smallest of n calibration scores, m = ceil(n/2)),
    with n and m: a new exchangeable score exceeds it with probability ~ Beta(n - m + 1, m)."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    if s.size == 0:
        raise ModelError("no calibration events to set the decision threshold")
    m = (s.size + 1) // 2
    return float(s[m - 1]), int(s.size), int(m)


def expected_ttf(probs: np.ndarray, class_ttf_s: np.ndarray) -> np.ndarray:
    """Expected time to the mainshock (s; < 0 before): class probabilities weighted by each
    class's median time to the mainshock among the events the model was fitted on."""
    return np.asarray(probs, dtype=np.float64) @ np.asarray(class_ttf_s, dtype=np.float64)


def fold_windows(folds: np.ndarray, width: int) -> np.ndarray:
    """Window id of every event (events in time order): runs of `width` events inside each
    fold; a fold's last run shorter than width / 2 joins the run before it."""
    folds = np.asarray(folds)
    out = np.empty(folds.size, dtype=np.int64)
    start, next_id = 0, 0
    while start < folds.size:
        stop = start
        while stop < folds.size and folds[stop] == folds[start]:
            stop += 1
        n = stop - start
        k = max(1, n // width + (1 if n % width >= width / 2 else 0))
        ids = np.minimum(np.arange(n) // width, k - 1)
        out[start:stop] = next_id + ids
        next_id += k
        start = stop
    return out


def chance_counts(n: np.ndarray, n_cal: np.ndarray, m: np.ndarray, level: float):
    """Central `level` interval of the post-like count among n scored events when nothing
    distinguishes them from the calibration events (beta-binomial; arrays broadcast)."""
    lo, hi = stats.betabinom.interval(level, n, np.asarray(n_cal) - np.asarray(m) + 1, m)
    return lo.astype(np.int64), hi.astype(np.int64)


#: Names of per-event tables (tracking parts, control tables) written before the rename.
OLD_EVENT_NAMES = {"event_id": "source_id", "origin_time": "source_origin_time"}


def upgrade_event_names(df: pd.DataFrame) -> pd.DataFrame:
    """A per-event table of a store written before the rename, with today's names
    (`columns.from_disk` knows only the store's named tables)."""
    old = {k: v for k, v in OLD_EVENT_NAMES.items() if k in df.columns and v not in df.columns}
    return df.rename(columns=old) if old else df


def window_counts(events: pd.DataFrame, width: int) -> pd.DataFrame:
    """Post-like counts per window and seed from the per-event, per-seed table (columns
    source_id, source_origin_time, fold, seed, post_like, n_calib, m_calib)."""
    first = events[events["seed"] == events["seed"].iloc[0]].sort_values(
        ["source_origin_time", "source_id"], kind="stable"
    )
    win = pd.Series(fold_windows(first["fold"].to_numpy(), width), index=first["source_id"])
    df = events.assign(window=events["source_id"].map(win).to_numpy())
    g = df.groupby(["window", "seed"], sort=True)
    out = g.agg(
        fold=("fold", "first"),
        k=("post_like", "sum"),
        n=("post_like", "size"),
        n_calib=("n_calib", "first"),
        m_calib=("m_calib", "first"),
    ).reset_index()
    out["k"] = out["k"].astype(np.int64)
    return out


def inside_chance(counts: pd.DataFrame, alpha: float = 0.01) -> tuple[bool, pd.DataFrame]:
    """Every window of every seed inside its exact chance band at level 1 - alpha / (windows
    x seeds) (Bonferroni): with no effect this fails with probability at most alpha, however
    the windows and seeds depend on each other.  Returns the verdict and the rows outside."""
    level = 1.0 - alpha / max(len(counts), 1)
    lo, hi = chance_counts(counts["n"], counts["n_calib"], counts["m_calib"], level)
    outside = (counts["k"] < lo) | (counts["k"] > hi)
    return not bool(outside.any()), counts[outside.to_numpy()]


def bootstrap_band(
    values: list[np.ndarray], draws: int, level: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the mean of each array (events resampled)."""
    rng = np.random.default_rng(seed)
    lo, hi = np.empty(len(values)), np.empty(len(values))
    q = [(1 - level) / 2, (1 + level) / 2]
    for i, v in enumerate(values):
        means = v[rng.integers(0, v.size, size=(draws, v.size))].mean(axis=1)
        lo[i], hi[i] = np.quantile(means, q)
    return lo, hi


def per_event(events: pd.DataFrame) -> pd.DataFrame:
    """One row per event (time order): post-like fraction over seeds (`y`), mean score,
    mean expected time to failure, the fold."""
    g = events.groupby("source_id", sort=False)
    out = g.agg(
        source_origin_time=("source_origin_time", "first"),
        fold=("fold", "first"),
        y=("post_like", "mean"),
        score=("score", "mean"),
        expected_ttf_s=("expected_ttf_s", "mean"),
    ).reset_index()
    return out.sort_values(["source_origin_time", "source_id"], kind="stable").reset_index(
        drop=True
    )


def index_table(
    events: pd.DataFrame,
    width: int,
    *,
    draws: int = 1000,
    band_level: float = 0.95,
    chance_level: float = 0.99,
    seed: int = 0,
) -> pd.DataFrame:
    """The index per window: the post-like fraction over its events and seeds, a bootstrap
    band over its events, and the chance band (the seeds' exact bands, averaged)."""
    ev = per_event(events)
    ev["window"] = fold_windows(ev["fold"].to_numpy(), width)
    counts = window_counts(events, width)
    lo, hi = chance_counts(counts["n"], counts["n_calib"], counts["m_calib"], chance_level)
    counts = counts.assign(chance_lo=lo / counts["n"], chance_hi=hi / counts["n"])
    chance = counts.groupby("window")[["chance_lo", "chance_hi"]].mean()
    groups = [g for _, g in ev.groupby("window", sort=True)]
    b_lo, b_hi = bootstrap_band([g["y"].to_numpy() for g in groups], draws, band_level, seed)
    t = [pd.DatetimeIndex(g["source_origin_time"]) for g in groups]
    table = pd.DataFrame(
        {
            "window": np.arange(len(groups)),
            "fold": [int(g["fold"].iloc[0]) for g in groups],
            "time": [x[len(x) // 2] for x in t],
            "start_time": [x.min() for x in t],
            "end_time": [x.max() for x in t],
            "n_events": [len(g) for g in groups],
            "index": [g["y"].mean() for g in groups],
            "index_lo": b_lo,
            "index_hi": b_hi,
            "chance_lo": chance["chance_lo"].to_numpy(),
            "chance_hi": chance["chance_hi"].to_numpy(),
            "score_mean": [g["score"].mean() for g in groups],
            "expected_ttf_s": [g["expected_ttf_s"].mean() for g in groups],
        }
    )
    for c in ("time", "start_time", "end_time"):
        table[c] = pd.DatetimeIndex(table[c]).tz_convert("UTC")
    return table


def change_points(
    y: np.ndarray, penalty: float, min_size: int, fold_term: float = 0.0
) -> list[int]:
    """Positions where the mean of `y` changes (the first event after each change), by
    kernel change-point detection (linear kernel, ruptures) with the penalty
    `penalty` x 0.25 x (log n + `fold_term`), `fold_term` being events per fold over
    calibration events per fold model (0 for one model)."""
    ruptures = need("ruptures", extra="analysis", what="change-point detection (fault state)")

    y = np.asarray(y, dtype=np.float64)
    if y.size < 2 * min_size:
        return []
    algo = ruptures.KernelCPD(kernel="linear", min_size=min_size).fit(y.reshape(-1, 1))
    ends = algo.predict(pen=penalty * 0.25 * (np.log(y.size) + fold_term))
    return [int(b) for b in ends if b < y.size]


def change_point_table(ev: pd.DataFrame, cps: list[int]) -> pd.DataFrame:
    """Each change point's time (half-way between the events either side) and the mean
    post-like fraction of the segments before and after it."""
    t = pd.DatetimeIndex(ev["source_origin_time"])
    y = ev["y"].to_numpy()
    edges = [0, *cps, len(y)]
    rows = []
    for i, b in enumerate(cps):
        before = y[edges[i] : b].mean()
        after = y[b : edges[i + 2]].mean()
        rows.append(
            {
                "time": t[b - 1] + (t[b] - t[b - 1]) / 2,
                "event_index": b,
                "source_id": str(ev["source_id"].iloc[b]),
                "index_before": float(before),
                "index_after": float(after),
                "shift": float(after - before),
            }
        )
    cols = ["time", "event_index", "source_id", "index_before", "index_after", "shift"]
    out = pd.DataFrame(rows, columns=cols)
    out["time"] = pd.DatetimeIndex(out["time"]).tz_convert("UTC") if len(out) else out["time"]
    return out


def follows(index: pd.DataFrame, truth: np.ndarray) -> float:
    """Spearman rank correlation of the index with a reference series at its windows."""
    if len(index) < 3 or np.ptp(truth) == 0:
        return float("nan")
    return float(stats.spearmanr(index["index"].to_numpy(), truth).statistic)
