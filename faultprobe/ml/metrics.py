"""Classification metrics from integer labels, vectorised (one `np.bincount`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts C[i, j] of events of true class i predicted as class j."""
    true = np.asarray(true, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    flat = np.bincount(true * n_classes + pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def summarize(cm: np.ndarray, class_names: list[str] | None = None) -> dict:
    """Accuracy, balanced accuracy (mean recall over present classes), per-class recall and
    precision (NaN where undefined), and the matrix itself, JSON-ready."""
    cm = np.asarray(cm, dtype=np.int64)
    n = cm.shape[0]
    names = class_names or [str(i) for i in range(n)]
    total = cm.sum()
    diag = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, diag / support, np.nan)
        precision = np.where(predicted > 0, diag / predicted, np.nan)
    present = support > 0
    return {
        "n": int(total),
        "accuracy": float(diag.sum() / total) if total else float("nan"),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else float("nan"),
        "recall": {k: _num(v) for k, v in zip(names, recall)},
        "precision": {k: _num(v) for k, v in zip(names, precision)},
        "support": {k: int(v) for k, v in zip(names, support)},
        "confusion": cm.tolist(),
        "classes": list(names),
    }


def _num(v: float) -> float | None:
    return None if np.isnan(v) else float(v)


def chance_interval(n: int, n_classes: int, level: float = 0.99) -> tuple[float, float]:
    """The central `level` binomial interval of accuracy at chance (1 / n_classes) on n
    balanced events; (nan, nan) for n = 0.  The one chance interval of the project: the
    run summaries and the diagnostics' verdicts (`faultprobe.analysis.stats`) use it."""
    if n <= 0:
        return float("nan"), float("nan")
    lo, hi = stats.binom.interval(level, n, 1.0 / n_classes)
    return float(lo / n), float(hi / n)


def confusion_frame(cm: np.ndarray, class_names: list[str]) -> pd.DataFrame:
    """The confusion matrix as a long table: true, pred, count (for confusion.parquet)."""
    n = len(class_names)
    t, p = np.divmod(np.arange(n * n), n)
    return pd.DataFrame(
        {
            "true": t,
            "pred": p,
            "true_class": [class_names[i] for i in t],
            "pred_class": [class_names[i] for i in p],
            "count": np.asarray(cm).ravel(),
        }
    )
