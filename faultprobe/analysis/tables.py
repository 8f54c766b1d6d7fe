"""The paper's tables from results.parquet: pure DataFrame in, DataFrame out.

Every row keeps the run ids it summarises, so each number in the report leads back to
STORE/runs/RUN_ID/.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _ok(results: pd.DataFrame, grid: str) -> pd.DataFrame:
    return results[(results["grid"] == grid) & (results["status"] == "ok")]


def _mean_std(v: pd.Series) -> str:
    v = v.dropna() * 100.0
    if v.empty:
        return "–"
    if len(v) == 1:
        return f"{v.iloc[0]:.1f}"
    return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}"


def table1(results: pd.DataFrame) -> pd.DataFrame:
    """Station × classes: accuracy and pre/post recall, mean ± std over seeds (%)."""
    df = _ok(results, "table1")
    if df.empty:
        return pd.DataFrame()
    rows = []
    for (sta, n), g in df.groupby(["station", "n_classes"], sort=True):
        rows.append(
            {
                "station": sta,
                "classes": int(n),
                "seeds": len(g),
                "accuracy %": _mean_std(g["accuracy"]),
                "pre recall %": _mean_std(g["recall_pre"]),
                "post recall %": _mean_std(g["recall_post"]),
                "chance %": f"{100.0 / n:.1f}",
                "test events": int(g["n_test"].mean()),
                "accuracy_mean": float(g["accuracy"].mean()),
                "runs": list(g["run_id"]),
            }
        )
    return pd.DataFrame(rows)


def table2(results: pd.DataFrame) -> pd.DataFrame:
    """Wrong mainshock dates: accuracy vs true labels, NM/NC and FP per date (and seed)."""
    df = _ok(results, "false_dates")
    if df.empty:
        return pd.DataFrame()
    rows = []
    for date, g in df.groupby("false_date", sort=True):
        true_date = date == ""
        rows.append(
            {
                "date": "true mainshock" if true_date else date[:10],
                "false_date": date,
                "accuracy %": _mean_std(g["accuracy"]),
                "NM/NC": "–" if true_date else "; ".join(
                    f"{int(a)}/{int(b)}" for a, b in zip(g["nm"], g["nc"])
                ),
                "FP %": "–" if true_date else _mean_std(g["fp"] / 100.0),
                "accuracy_mean": float(g["accuracy"].mean()),
                "fp_mean": float(g["fp"].mean()) if not true_date else np.nan,
                "runs": list(g["run_id"]),
            }
        )  # fmt: skip
    out = pd.DataFrame(rows)
    order = pd.to_datetime(out["false_date"].replace("", None), utc=True)
    return out.assign(_o=order).sort_values("_o", na_position="last").drop(columns="_o")


def bands_table(results: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per band-pass band, with the raw-trace baseline first (band '' )."""
    df = _ok(results, "bands")
    if df.empty:
        return pd.DataFrame()
    rows = []
    for (lo, hi), g in df.groupby(
        [df["band_lo_hz"].fillna(-1.0), df["band_hi_hz"].fillna(-1.0)], sort=True
    ):
        raw = lo < 0
        rows.append(
            {
                "band": "raw" if raw else f"{lo:g}–{hi:g} Hz",
                "low_hz": np.nan if raw else lo,
                "high_hz": np.nan if raw else hi,
                "accuracy %": _mean_std(g["accuracy"]),
                "accuracy_mean": float(g["accuracy"].mean()),
                "chance_hi": float(g["chance_hi"].mean()),
                "runs": list(g["run_id"]),
            }
        )
    return pd.DataFrame(rows)


def null_table(results: pd.DataFrame) -> pd.DataFrame:
    """Null tests: far stations and other regions, binary accuracy."""
    df = _ok(results, "null")
    if df.empty:
        return pd.DataFrame()
    rows = []
    for (test, sta), g in df.groupby(["test", "station"], sort=True):
        rows.append(
            {
                "test": test,
                "station": sta,
                "accuracy %": _mean_std(g["accuracy"]),
                "pre recall %": _mean_std(g["recall_pre"]),
                "post recall %": _mean_std(g["recall_post"]),
                "chance 99% upper %": f"{100 * g['chance_hi'].mean():.1f}",
                "runs": list(g["run_id"]),
            }
        )
    return pd.DataFrame(rows)


def seasonality_table(results: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per 4-month span, for noise windows and for event records."""
    df = _ok(results, "seasonality")
    if df.empty:
        return pd.DataFrame()
    rows = []
    for (src, span, sta), g in df.groupby(["source", "span_start", "station"], sort=True):
        rows.append(
            {
                "source": src,
                "span start": span[:10],
                "station": sta,
                "accuracy %": _mean_std(g["accuracy"]),
                "test windows": int(g["n_test"].mean()),
                "accuracy_mean": float(g["accuracy"].mean()),
                "runs": list(g["run_id"]),
            }
        )
    return pd.DataFrame(rows)


def failed_table(results: pd.DataFrame) -> pd.DataFrame:
    """Failed runs with the first line of their error."""
    df = results[results["status"] == "failed"]
    return pd.DataFrame(
        {
            "grid": df["grid"],
            "run": df["run_id"],
            "error": df["error"].str.split("\n").str[0],
        }
    )
