"""The survey's tables: one row per sequence × station, and the transfer matrix.

Every accuracy is the test events pooled over seeds with its exact 95 % interval and the
verdict against chance (`faultprobe.analysis.transfer.score_columns`, on
`faultprobe.analysis.stats`); every row keeps the run ids it summarises.
"""

from __future__ import annotations

import pandas as pd

from faultprobe.analysis.runner import read_results
from faultprobe.analysis.transfer import score_columns
from faultprobe.config import StudyConfig
from faultprobe.store import Store

TRANSFER_GRID = "table1"


def _ok(cfg: StudyConfig, grid: str = TRANSFER_GRID) -> pd.DataFrame:
    r = read_results(Store(cfg.study.store))
    return r[(r["grid"] == grid) & (r["status"] == "ok")]


def survey_table(configs: list[StudyConfig]) -> pd.DataFrame:
    """Sequence × station × classes of every study's Table 1 runs, seeds pooled."""
    rows = []
    for cfg in configs:
        df = _ok(cfg)
        for (sta, n), g in df.groupby(["station", "n_classes"], sort=True):
            rows.append(
                {
                    "sequence": cfg.study.name,
                    "station": sta,
                    "classes": int(n),
                    "far": sta in cfg.stations.far,
                    **score_columns(list(g["n_correct"]), list(g["n_test"]), int(n)),
                    "runs": list(g["run_id"]),
                }
            )
    return pd.DataFrame(rows)


def binary_runs(cfg: StudyConfig) -> tuple[str, pd.DataFrame]:
    """The study's binary Table 1 runs at its first training station that has them."""
    df = _ok(cfg)
    df = df[df["n_classes"] == 2]
    if df.empty:
        return "", df
    have = list(dict.fromkeys(df["station"]))
    want = [s for s in (cfg.train.stations or cfg.stations.codes) if s in have]
    sta = (want or have)[0]
    return sta, df[df["station"] == sta]


def transfer_counts(run: str, cfg: StudyConfig) -> dict:
    """A Dask task: correct and total balanced events of a run scored on study `cfg`."""
    from faultprobe.analysis.transfer import transfer_run
    from faultprobe.errors import FaultprobeError
    from faultprobe.ml.runs import run_folder_from_path

    try:
        s, _ = transfer_run(run_folder_from_path(run), cfg, device="auto")
    except (FaultprobeError, OSError) as err:  # a cell that cannot be scored says why
        return {"error": str(err)}
    return {"k": s["n_correct"], "n": s["n_events"], "stations": "+".join(s["stations"])}


def transfer_matrix(configs: list[StudyConfig], client) -> pd.DataFrame:
    """Each study's binary runs scored on every study's cube (the diagonal: its own test
    events), seeds pooled, as Dask tasks on the survey's workers."""
    jobs = []
    for a in configs:
        sta, runs = binary_runs(a)
        for b in configs:
            if runs.empty:
                continue
            if a is b:
                jobs.append((a, b, sta, runs, None))
                continue
            paths = [f"{a.study.store}/runs/{r}" for r in runs["run_id"]]
            futs = [client.submit(transfer_counts, p, b, pure=False) for p in paths]
            jobs.append((a, b, sta, runs, futs))
    rows = []
    for a, b, sta, runs, futs in jobs:
        row = {"trained_on": a.study.name, "scored_on": b.study.name, "station_trained": sta}
        if futs is None:
            k, n, at, err = list(runs["n_correct"]), list(runs["n_test"]), sta, ""
        else:
            got = client.gather(futs)
            err = "; ".join(sorted({g["error"] for g in got if "error" in g}))
            ok = [g for g in got if "error" not in g]
            k, n = [g["k"] for g in ok], [g["n"] for g in ok]
            at = ok[0]["stations"] if ok else ""
        row.update(station_scored=at, **score_columns(k, n, 2), error=err)
        row["runs"] = list(runs["run_id"])
        rows.append(row)
    return pd.DataFrame(rows)


def render(table: pd.DataFrame, transfer: pd.DataFrame) -> str:
    """The survey table and the transfer matrix as text."""
    parts = []
    if len(table):
        t = table.assign(
            accuracy=[f"{a:.3f} [{lo:.3f}-{hi:.3f}]" for a, lo, hi in
                      zip(table["pooled_accuracy"], table["ci_lo"], table["ci_hi"])],
        )  # fmt: skip
        cols = ["sequence", "station", "classes", "seeds", "n_events", "accuracy", "verdict"]
        parts.append("survey (pooled test accuracy, 95% exact interval):")
        parts.append(t[cols].to_string(index=False))
    if len(transfer):
        m = transfer.assign(
            cell=[
                f"{a:.3f} [{lo:.3f}-{hi:.3f}]" if n else "-"
                for a, lo, hi, n in zip(
                    transfer["pooled_accuracy"], transfer["ci_lo"], transfer["ci_hi"],
                    transfer["n_events"],
                )
            ]
        )  # fmt: skip
        grid = m.pivot(index="trained_on", columns="scored_on", values="cell")
        parts.append("transfer (binary runs; rows trained on, columns scored on):")
        parts.append(grid.to_string())
    return "\n".join(parts) if parts else "survey: no finished runs to tabulate"
