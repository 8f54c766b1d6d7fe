"""Scores of one finished run for the results table, including the wrong-date numbers.

Table 2 of the paper (wrong mainshock dates), for a model trained with labels drawn from
a false date and tested against the true date:

- accuracy: correctly classified test events over all test events, true labels;
- NM: test events the false date mislabels (those between the false and the true date);
- NC: of those, the ones the model classifies with their true label;
- FP: test accuracy inside the false interval against the labels used in training,
  (NM - NC) / NM in percent (Oct 21: 43/38 -> 11.6 %).

Pre/post recall: for binary runs the recall of each class; for N classes the recall of
the side (a `pre*` event predicted as any `pre*` class counts as right).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RESULT_COLUMNS = [
    "key", "run_id", "grid", "store", "station", "labelling", "n_classes", "seed",
    "band_lo_hz", "band_hi_hz", "false_date", "span_start", "source", "test",
    "n_test", "n_correct", "accuracy", "balanced_accuracy", "recall_pre", "recall_post",
    "chance_lo", "chance_hi", "nm", "nc", "fp", "accuracy_fake_labels",
    "status", "error", "seconds", "cached", "worker", "device", "finished_at",
    "control", "statistic",
]  # fmt: skip


def side_recall(test: pd.DataFrame, class_names: list[str]) -> tuple[float, float]:
    """Recall of the pre side and of the post side (classes named pre* / post*)."""
    names = np.asarray(class_names)
    side = np.where(
        np.char.startswith(names.astype(str), "pre"),
        0,
        np.where(np.char.startswith(names.astype(str), "post"), 1, -1),
    )
    t = side[test["true"].to_numpy()] if len(test) else np.zeros(0, int)
    p = side[test["pred"].to_numpy()] if len(test) else np.zeros(0, int)
    out = []
    for s in (0, 1):
        m = t == s
        out.append(float((p[m] == s).mean()) if m.any() else float("nan"))
    return out[0], out[1]


def false_date_scores(test: pd.DataFrame) -> dict:
    """NM, NC, FP and accuracy against the true labels, from test predictions that carry
    `true` (training labels) and `true_real` (labels from the true mainshock)."""
    real = test["true_real"].to_numpy()
    fake = test["true"].to_numpy()
    pred = test["pred"].to_numpy()
    wrong = real != fake
    nm = int(wrong.sum())
    nc = int((pred[wrong] == real[wrong]).sum())
    return {
        "n_correct": int((pred == real).sum()),
        "accuracy": float((pred == real).mean()) if len(test) else float("nan"),
        "accuracy_fake_labels": float((pred == fake).mean()) if len(test) else float("nan"),
        "nm": nm,
        "nc": nc,
        "fp": float(100.0 * (nm - nc) / nm) if nm else float("nan"),
    }


def result_row(run, metrics: dict, predictions: pd.DataFrame) -> dict:
    """The results-table row of a finished `GridRun` from its metrics and predictions."""
    spec = run.spec
    test = predictions[predictions["split"] == "test"]
    t = metrics["test"]
    wrong_date = spec.labelling.false_mainshock is not None and "true_real" in test
    # wrong-date runs: recall against the true labels, as their accuracy
    scored = test.assign(true=test["true_real"]) if wrong_date else test
    pre, post = side_recall(scored, t["classes"])
    band = spec.band_hz or (np.nan, np.nan)
    chance = metrics.get("chance_99") or (np.nan, np.nan)
    row = _base_row(run)
    row.update(
        n_test=int(t["n"]),
        n_correct=int(np.trace(np.asarray(t["confusion"]))),
        accuracy=float(t["accuracy"]),
        balanced_accuracy=float(t["balanced_accuracy"]),
        recall_pre=pre,
        recall_post=post,
        chance_lo=float(chance[0]),
        chance_hi=float(chance[1]),
        band_lo_hz=float(band[0]),
        band_hi_hz=float(band[1]),
        status="ok",
        error="",
        seconds=float(metrics.get("train_seconds") or 0.0),
        cached=bool(metrics.get("cached", False)),
        device=str(metrics.get("device", "")),
    )
    if wrong_date:
        row.update(false_date_scores(test))
    return row


def failed_row(run, error: str, seconds: float) -> dict:
    """The row of a run that raised: status failed and the error text."""
    row = _base_row(run)
    row.update(status="failed", error=error[-2000:], seconds=seconds)
    return row


def _base_row(run) -> dict:
    spec, meta = run.spec, run.meta
    row = {c: np.nan for c in RESULT_COLUMNS}
    row.update(
        key=run.key,
        run_id=run.run_id,
        grid=run.grid,
        store=run.store,
        station="+".join(spec.stations),
        labelling=spec.labelling.kind,
        n_classes=spec.labelling.n_classes,
        seed=spec.seed,
        false_date=meta.get("false_date") or "",
        span_start=meta.get("span_start") or "",
        source=meta.get("source") or "",
        test=meta.get("test") or "",
        control=meta.get("control") or "",
        status="",
        error="",
        finished_at=pd.Timestamp.now(tz="UTC").isoformat(),
    )
    for k in ("nm", "nc"):
        row[k] = -1
    if spec.band_hz:
        row["band_lo_hz"], row["band_hi_hz"] = spec.band_hz
    return row


def frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as a typed results DataFrame in the fixed column order."""
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    ints = ["n_classes", "seed", "nm", "nc"]
    df[ints] = df[ints].fillna(-1).astype("int64")
    # results written before n_correct was a column: from the accuracy
    derived = (df["accuracy"].astype(float) * df["n_test"].astype(float)).round()
    df["n_correct"] = df["n_correct"].astype(float).fillna(derived).fillna(0).astype("int64")
    df["n_test"] = df["n_test"].fillna(0).astype("int64")
    df["cached"] = df["cached"].astype(object).where(df["cached"].notna(), False).astype(bool)
    for c in (
        "key",
        "run_id",
        "grid",
        "store",
        "station",
        "labelling",
        "false_date",
        "span_start",
        "source",
        "test",
        "status",
        "error",
        "worker",
        "device",
        "finished_at",
        "control",
    ):
        df[c] = df[c].astype(object).where(df[c].notna(), "").astype(str)
    floats = [
        "band_lo_hz", "band_hi_hz", "accuracy", "balanced_accuracy", "recall_pre",
        "recall_post", "chance_lo", "chance_hi", "fp", "accuracy_fake_labels", "seconds",
        "statistic",
    ]  # fmt: skip
    df[floats] = df[floats].astype("float64")
    return df
