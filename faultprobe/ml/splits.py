"""Train/validation/test splits by event, in time, so no split leaks into another.

`temporal`: the paper's layout.  Within each class, events in time order are cut into
[train | validation | test | train]: validation and test from the middle of the class,
train from both ends.  `spread`: each class is cut into `blocks` equal-count time blocks
and the paper's layout is applied inside every block, so validation and test events are
interleaved with training ones all through the class: a sub-interval anywhere in the
window (a wrong mainshock date's) holds test events in proportion to its events.
`blocked`: whole contiguous time blocks of each class are dealt to the splits (seeded).
Any way, `purge_s` drops every training event closer in time than that to a validation or
test event, of any class (the gap between a block's training and held-out parts).
`time_folds` and `crossfit_split`: cross-fitting for fault-state tracking, where every event
is scored by a model trained on other time blocks, never its own nor its neighbours in time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from faultprobe.ml.errors import ModelError
from faultprobe.ml.spec import Split

TRAIN, VAL, TEST, UNUSED = 0, 1, 2, -1
CALIB = 3  # cross-fitting: events that set a fold model's decision threshold, never fitted
SPLIT_NAMES = {TRAIN: "train", VAL: "val", TEST: "test"}


def _counts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    n_val = int(round(n * fractions[1]))
    n_test = int(round(n * fractions[2]))
    return n - n_val - n_test, n_val, n_test


def _middle_layout(n: int, fractions) -> np.ndarray:
    """[train | val | test | train] codes for n events in time order (the paper's layout)."""
    n_train, n_val, n_test = _counts(n, fractions)
    front = n_train - n_train // 2
    return np.repeat(
        np.array([TRAIN, VAL, TEST, TRAIN], dtype=np.int8), [front, n_val, n_test, n_train // 2]
    )


def temporal_split(t: np.ndarray, labels: np.ndarray, fractions=(0.7, 0.2, 0.1)) -> np.ndarray:
    """Split codes (0 train, 1 val, 2 test, -1 unused) with the paper's temporal layout."""
    out = np.full(labels.shape, UNUSED, dtype=np.int8)
    for c in np.unique(labels[labels >= 0]):
        idx = np.flatnonzero(labels == c)
        out[idx[np.argsort(t[idx], kind="stable")]] = _middle_layout(idx.size, fractions)
    return out


def spread_split(
    t: np.ndarray, labels: np.ndarray, fractions=(0.7, 0.2, 0.1), blocks: int = 40
) -> np.ndarray:
    """Split codes with the paper's layout repeated inside each of `blocks` equal-count time
    blocks of every class.

    An event's place inside its block (its phase, 0..1) picks its split, so the fractions
    hold over the class as a whole and no block size rounds its test share up or down."""
    f_train, f_val, f_test = fractions
    cuts = np.cumsum([f_train / 2, f_val, f_test])
    codes = np.array([TRAIN, VAL, TEST, TRAIN], dtype=np.int8)
    out = np.full(labels.shape, UNUSED, dtype=np.int8)
    for c in np.unique(labels[labels >= 0]):
        idx = np.flatnonzero(labels == c)
        idx = idx[np.argsort(t[idx], kind="stable")]
        k = max(1, min(blocks, idx.size))
        phase = ((np.arange(idx.size) + 0.5) * k / idx.size) % 1.0
        out[idx] = codes[np.searchsorted(cuts, phase, side="right")]
    return out


def blocked_split(
    t: np.ndarray, labels: np.ndarray, fractions=(0.7, 0.2, 0.1), blocks: int = 10, seed: int = 0
) -> np.ndarray:
    """Split codes with whole contiguous time blocks of each class dealt to the splits."""
    n_train_b, n_val_b, n_test_b = _counts(blocks, fractions)
    n_val_b, n_test_b = max(n_val_b, 1), max(n_test_b, 1)
    n_train_b = blocks - n_val_b - n_test_b
    if n_train_b < 1:
        raise ModelError(f"{blocks} blocks are too few for fractions {list(fractions)}")
    rng = np.random.default_rng(seed)
    out = np.full(labels.shape, UNUSED, dtype=np.int8)
    for c in np.unique(labels[labels >= 0]):
        idx = np.flatnonzero(labels == c)
        idx = idx[np.argsort(t[idx], kind="stable")]
        block = (np.arange(idx.size) * blocks) // max(idx.size, 1)
        deal = rng.permutation(
            np.repeat(np.array([TRAIN, VAL, TEST], dtype=np.int8), [n_train_b, n_val_b, n_test_b])
        )
        out[idx] = deal[block]
    return out


def purge(t: np.ndarray, split: np.ndarray, gap_s: float) -> np.ndarray:
    """Drop (mark unused) training events within `gap_s` seconds of a val/test event."""
    if gap_s <= 0:
        return split
    held = np.sort(t[(split == VAL) | (split == TEST)])
    out = split.copy()
    train = np.flatnonzero(split == TRAIN)
    if held.size == 0 or train.size == 0:
        return out
    pos = np.searchsorted(held, t[train])
    left = held[np.clip(pos - 1, 0, held.size - 1)]
    right = held[np.clip(pos, 0, held.size - 1)]
    near = np.minimum(np.abs(t[train] - left), np.abs(right - t[train])) < gap_s
    out[train[near]] = UNUSED
    return out


def time_folds(t: np.ndarray, n_folds: int) -> np.ndarray:
    """Fold of every event: `n_folds` equal-count contiguous blocks in time (0 = earliest)."""
    t = np.asarray(t, dtype=np.float64)
    if n_folds < 2 or n_folds > t.size:
        raise ModelError(f"{n_folds} folds for {t.size} events: need 2 <= folds <= events")
    out = np.empty(t.size, dtype=np.int64)
    out[np.argsort(t, kind="stable")] = (np.arange(t.size) * n_folds) // t.size
    return out


def crossfit_split(
    t: np.ndarray,
    labels: np.ndarray,
    folds: np.ndarray,
    fold: int,
    purge_s: float,
    fractions=(0.7, 0.15, 0.15),
    blocks: int = 10,
) -> np.ndarray:
    """Split codes for scoring fold `fold` with a model trained on the other folds.

    TEST: every event of the fold, labelled or not (all are scored).  Events of other folds
    closer than `purge_s` to the fold's time span are unused (its neighbours in time).  The
    remaining labelled events take the spread layout (`spread_split`) with `fractions` as
    train / validation (best epoch) / calibration (`CALIB`: the decision threshold, never
    fitted nor used to pick the epoch, so under no effect they are exchangeable with the
    fold's events)."""
    t = np.asarray(t, dtype=np.float64)
    labels = np.asarray(labels)
    held = np.asarray(folds) == fold
    if not held.any():
        raise ModelError(f"fold {fold} holds no event")
    out = np.full(t.shape, UNUSED, dtype=np.int8)
    out[held] = TEST
    lo, hi = t[held].min(), t[held].max()
    free = (~held) & (labels >= 0) & ((t <= lo - purge_s) | (t >= hi + purge_s))
    inner = spread_split(t[free], labels[free], fractions, blocks)
    out[free] = np.where(inner == TEST, CALIB, inner)
    return out


def make_split(t: np.ndarray, labels: np.ndarray, split: Split, seed: int) -> np.ndarray:
    """Split codes for events at times `t` (seconds) with `labels` (-1 = not used)."""
    t = np.asarray(t, dtype=np.float64)
    labels = np.asarray(labels)
    if split.kind == "temporal":
        codes = temporal_split(t, labels, split.fractions)
    elif split.kind == "spread":
        codes = spread_split(t, labels, split.fractions, split.blocks)
    else:
        codes = blocked_split(t, labels, split.fractions, split.blocks, seed)
    return purge(t, codes, split.purge_s)


def composition(
    origin_time: pd.DatetimeIndex | np.ndarray,
    labels: np.ndarray,
    codes: np.ndarray,
    class_names: list[str],
) -> pd.DataFrame:
    """Counts and date ranges per split and class (the table printed and stored per run)."""
    df = pd.DataFrame(
        {"source_origin_time": pd.DatetimeIndex(origin_time), "label": labels, "split": codes}
    )
    df = df[(df.split >= 0) & (df.label >= 0)]
    g = df.groupby(["split", "label"], sort=True)["source_origin_time"]
    out = g.agg(["count", "min", "max"]).reset_index()
    out.columns = ["split", "label", "count", "first", "last"]
    out.insert(2, "class", [class_names[i] for i in out["label"]])
    out["split"] = out["split"].map(SPLIT_NAMES)
    return out


def render_composition(comp: pd.DataFrame) -> str:
    """A short text table of a split composition."""
    rows = [f"{'split':<6} {'class':<16} {'count':>6}  first ... last"]
    cols = [comp[k] for k in ("split", "class", "count", "first", "last")]
    for split, name, count, first, last in zip(*cols):
        rows.append(
            f"{split:<6} {name:<16} {count:>6}  {first:%Y-%m-%d %H:%M} ... {last:%Y-%m-%d %H:%M}"
        )
    return "\n".join(rows)
