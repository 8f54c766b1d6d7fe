"""The paper's tables from results.parquet: pure DataFrame in, DataFrame out.

Every accuracy is given as mean ± std over seeds and as the accuracy of the test events
pooled over seeds with its exact 95 % (Clopper-Pearson) interval; every verdict is an exact
test on the pooled counts at p < 0.01 (faultprobe.analysis.stats).  Every row keeps the
run ids it summarises, so each number in the report leads back to STORE/runs/RUN_ID/.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from faultprobe.analysis import stats


def _ok(results: pd.DataFrame, grid: str) -> pd.DataFrame:
    return results[(results["grid"] == grid) & (results["status"] == "ok")]


def _mean_std(v: pd.Series) -> str:
    v = v.dropna() * 100.0
    if v.empty:
        return "–"
    if len(v) == 1:
        return f"{v.iloc[0]:.1f}"
    return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}"


def _pooled(g: pd.DataFrame, n_classes: int) -> stats.Pooled:
    return stats.pool(g["n_correct"], g["n_test"], n_classes)


def _ci(k: int, n: int) -> str:
    """`96.2 [94.1–97.7]`: a pooled proportion in % with its 95 % exact interval."""
    if n <= 0:
        return "–"
    lo, hi = _percent_interval(k, n)
    return f"{100 * k / n:.1f} [{lo:.1f}–{hi:.1f}]"


def _percent_interval(k: int, n: int) -> tuple[float, float]:
    """The 95 % exact interval of k of n, in % (NaN when n is 0), for figures."""
    if n <= 0:
        return np.nan, np.nan
    lo, hi = stats.clopper_pearson(k, n)
    return 100 * lo, 100 * hi


def _accuracy_columns(g: pd.DataFrame, n_classes: int) -> dict:
    """Mean ± std over seeds, the pooled accuracy with its interval, and the verdict."""
    p = _pooled(g, n_classes)
    return {
        "accuracy %": _mean_std(g["accuracy"]),
        "pooled % [95% CI]": _ci(p.k, p.n),
        "verdict (p < 0.01)": p.verdict(),
    }


def _per_group(results: pd.DataFrame, grid: str, by, row) -> pd.DataFrame:
    """One row per group of a grid's finished runs: `row(key, group)` and the run ids.

    `by` is what `DataFrame.groupby` takes, or a function of the grid's rows returning it.
    """
    df = _ok(results, grid)
    if df.empty:
        return pd.DataFrame()
    groups = df.groupby(by(df) if callable(by) else by, sort=True)
    return pd.DataFrame([{**row(key, g), "runs": list(g["run_id"])} for key, g in groups])


def table1(results: pd.DataFrame) -> pd.DataFrame:
    """Station × classes: accuracy and pre/post recall, mean ± std over seeds (%)."""

    def row(key, g):
        sta, n = key
        return {
            "station": sta,
            "classes": int(n),
            "seeds": len(g),
            **_accuracy_columns(g, int(n)),
            "pre recall %": _mean_std(g["recall_pre"]),
            "post recall %": _mean_std(g["recall_post"]),
            "chance %": f"{100.0 / n:.1f}",
            "test events": int(g["n_test"].mean()),
            "accuracy_mean": float(g["accuracy"].mean()),
        }

    return _per_group(results, "table1", ["station", "n_classes"], row)


def table2(results: pd.DataFrame) -> pd.DataFrame:
    """Wrong mainshock dates: accuracy vs true labels, NM/NC, FP per date (pooled over
    seeds), against the accuracy on the test events outside the false interval.

    The paper's claim (Fig. 4): FP "is always lower than the performance using the correct
    mainshock date".  Verdict: one-sided Fisher exact test, FP (false-label predictions
    in the interval, NM - NC of NM) below the outside accuracy, p < 0.01.
    """

    def row(date, g):
        true_date = date == ""
        out = {
            "date": "true mainshock" if true_date else date[:10],
            "false_date": date,
            "seeds": len(g),
            **_accuracy_columns(g, 2),
            "accuracy_mean": float(g["accuracy"].mean()),
        }
        if true_date:
            return {**out, "NM/NC": "–", "FP % [95% CI]": "–", "outside % [95% CI]": "–",
                    "FP below outside": "–", "nm_total": 0, "fp_mean": np.nan,
                    "fp_lo": np.nan, "fp_hi": np.nan, "outside_mean": np.nan}  # fmt: skip
        nm, nc = int(g["nm"].sum()), int(g["nc"].sum())
        n_out = int((g["n_test"] - g["nm"]).sum())
        k_out = int((g["n_correct"] - g["nc"]).sum())
        p = stats.fisher_less_p(nm - nc, nm, k_out, n_out)
        if len(g) < stats.MIN_SEEDS:
            below = f"{len(g)} seed(s): a verdict needs {stats.MIN_SEEDS}"
        elif p < stats.ALPHA:
            below = f"yes (p = {p:.1g})"
        else:
            below = f"not shown (p = {p:.2g})"
        return {
            **out,
            "NM/NC": "; ".join(f"{int(a)}/{int(b)}" for a, b in zip(g["nm"], g["nc"])),
            "FP % [95% CI]": _ci(nm - nc, nm),
            "outside % [95% CI]": _ci(k_out, n_out),
            "FP below outside": below,
            "nm_total": nm,
            "fp_mean": float(100.0 * (nm - nc) / nm) if nm else np.nan,
            **dict(zip(("fp_lo", "fp_hi"), _percent_interval(nm - nc, nm))),
            "outside_mean": float(k_out / n_out) if n_out else np.nan,
        }

    out = _per_group(results, "false_dates", "false_date", row)
    if out.empty:
        return out
    order = pd.to_datetime(out["false_date"].replace("", None), utc=True)
    return out.assign(_o=order).sort_values("_o", na_position="last").drop(columns="_o")


def interval_days(false_dates, mainshock, phases=()) -> np.ndarray:
    """Length in days of each false interval (false date to mainshock), without the time
    it shares with left-out phases (the Visso-Norcia interval holds no labelled event)."""
    ms = pd.Timestamp(mainshock).tz_convert("UTC")
    out = []
    for d in false_dates:
        lo, hi = sorted((pd.Timestamp(d).tz_convert("UTC"), ms))
        days = (hi - lo).total_seconds()
        for ph in phases:
            a, b = pd.Timestamp(ph.start).tz_convert("UTC"), pd.Timestamp(ph.end).tz_convert("UTC")
            days -= max(0.0, (min(hi, b) - max(lo, a)).total_seconds())
        out.append(days / 86400.0)
    return np.asarray(out)


def nm_growth(t2: pd.DataFrame, mainshock, phases=()) -> tuple[float, float]:
    """Test events per day of false interval (pooled NM over seeds, least squares) and
    the R² of that line: how evenly the test events spread through the window."""
    fake = t2[t2["false_date"] != ""]
    if len(fake) < 3:
        return float("nan"), float("nan")
    x = interval_days(fake["false_date"], mainshock, phases)
    y = fake["nm_total"].to_numpy(float)
    return float(np.polyfit(x, y, 1)[0]), stats.linear_r2(x, y)


def bands_table(results: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per band-pass band, with the raw-trace baseline first (band '' )."""

    def row(key, g):
        lo, hi = key
        raw = lo < 0
        return {
            "band": "raw" if raw else f"{lo:g}–{hi:g} Hz",
            "low_hz": np.nan if raw else lo,
            "high_hz": np.nan if raw else hi,
            **_accuracy_columns(g, int(g["n_classes"].iloc[0])),
            "accuracy_mean": float(g["accuracy"].mean()),
            "chance_hi": float(g["chance_hi"].mean()),
        }

    def by(df):  # the raw baseline has no band: sort it first
        return [df["band_lo_hz"].fillna(-1.0), df["band_hi_hz"].fillna(-1.0)]

    return _per_group(results, "bands", by, row)


def null_table(results: pd.DataFrame) -> pd.DataFrame:
    """Null tests: far stations and other regions, binary accuracy."""

    def row(key, g):
        test, sta = key
        return {
            "test": test,
            "station": sta,
            **_accuracy_columns(g, 2),
            "pre recall %": _mean_std(g["recall_pre"]),
            "post recall %": _mean_std(g["recall_post"]),
            "chance 99% upper %": f"{100 * g['chance_hi'].mean():.1f}",
        }

    return _per_group(results, "null", ["test", "station"], row)


def seasonality_table(results: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per 4-month span, for noise windows and for event records."""

    def row(key, g):
        src, span, sta = key
        return {
            "source": src,
            "span start": span[:10],
            "station": sta,
            **_accuracy_columns(g, 2),
            "test windows": int(g["n_test"].mean()),
            "accuracy_mean": float(g["accuracy"].mean()),
        }

    return _per_group(results, "seasonality", ["source", "span_start", "station"], row)


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
