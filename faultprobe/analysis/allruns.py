"""Every finished run of a study store, whoever made it (`faultprobe train` or a grid).

The report's tables come from results.parquet, which the experiment grids fill; runs made
with `faultprobe train` (or `run_experiment` directly) only have their folder.  This
module lists every STORE/runs/RUN_ID/ with a metrics.json as one results-style row
(scored by `scoring.result_row`, like a grid run), with the grids that hold it.
"""

from __future__ import annotations

import pandas as pd

from faultprobe.analysis.grid import GridRun
from faultprobe.analysis.scoring import frame, result_row
from faultprobe.store import Store

TRAIN = "train"


def finished_runs(store: Store, results: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per finished run folder (results columns plus `grids`), by run id."""
    from faultprobe.ml.runs import METRICS, PREDICTIONS, RUNS, RunFolder

    if not store.exists(RUNS):
        return frame([]).assign(grids=pd.Series(dtype=object))
    rows = []
    for path in sorted(store.fs.ls(store.path(RUNS), detail=False)):
        folder = RunFolder(store, path.rstrip("/").rsplit("/", 1)[-1])
        if not folder.exists(METRICS):
            continue
        spec = folder.spec()
        false = spec.labelling.false_mainshock
        meta = {"false_date": false.strftime("%Y-%m-%dT%H:%M:%SZ") if false else ""}
        run = GridRun(TRAIN, spec, meta=meta)
        rows.append(result_row(run, folder.read_json(METRICS), folder.read_table(PREDICTIONS)))
    df = frame(rows)
    grids: dict[str, list[str]] = {}
    if results is not None and len(results):
        ok = results[results["status"] == "ok"]
        for run_id, g in ok.groupby("run_id"):
            grids[str(run_id)] = sorted(set(g["grid"]))
    df["grids"] = [grids.get(r, [TRAIN]) for r in df["run_id"]]
    return df


def runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The report's table of every finished run (percent, one row per run)."""
    if runs.empty:
        return pd.DataFrame()

    def pct(v) -> str:
        return "–" if pd.isna(v) else f"{100 * float(v):.1f}"

    band = [
        "" if pd.isna(lo) else f"{lo:g}–{hi:g} Hz"
        for lo, hi in zip(runs["band_lo_hz"], runs["band_hi_hz"])
    ]
    return pd.DataFrame(
        {
            "run": runs["run_id"],
            "made by": [", ".join(g) for g in runs["grids"]],
            "stations": runs["station"],
            "labelling": runs["labelling"],
            "classes": runs["n_classes"],
            "seed": runs["seed"],
            "band": band,
            "false mainshock": [str(d)[:10] for d in runs["false_date"].fillna("")],
            "test events": runs["n_test"].astype("Int64"),
            "accuracy %": runs["accuracy"].map(pct),
            "balanced accuracy %": runs["balanced_accuracy"].map(pct),
            "pre recall %": runs["recall_pre"].map(pct),
            "post recall %": runs["recall_post"].map(pct),
            "chance 99% upper %": runs["chance_hi"].map(pct),
        }
    )
