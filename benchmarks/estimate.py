"""`faultprobe experiments --plan`'s estimate against the measured grid, in one run.

A toy cube, a Table 1 grid (2 and 4 classes x seeds) on a local cluster of 2 workers x 1
thread (the default local cluster on 2 cores); the estimate is taken as `faultprobe
experiments` takes it (calibration on the workers), then the grid runs. Printed: the
estimate (wall and range), the measured wall time, their ratio, and per run the estimated
against the measured task time (Dask's task stream), with the run's parts (read, train).

    nice python benchmarks/estimate.py                 # 6 runs, 5 epochs
    nice python benchmarks/estimate.py --quick         # 4 runs, 3 epochs
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def grid_config(root: str, folder: Path, args) -> str:
    from study_tables import norcia_table, only_grids, write_study

    raw = norcia_table(
        root,
        cluster={"n_workers": 2, "threads_per_worker": 1},
        train={
            "epochs": args.epochs,
            "width": args.width,
            "batch_size": 32,
            "seeds": list(range(1, args.seeds + 1)),
            "device": "cpu",
            "patience": 0,  # no early stopping: the estimate's epochs are the run's
        },
        experiments=only_grids(table1={"classes": [2, 4], "stations": ["IV.NRCA"]}),
    )
    return write_study(raw, folder / "grid.toml")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.events, args.epochs, args.seeds = 600, 3, 2
    from distributed import get_task_stream

    from faultprobe.analysis.experiments import run_experiments
    from faultprobe.cluster import connect
    from faultprobe.config import load_config
    from faultprobe.ml.runs import RunFolder
    from faultprobe.store import Store
    from faultprobe.testing.toycube import ToyStudy, write_toy_store

    load0 = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="faultprobe-estimate-"))
    atexit.register(_clean_up, folder)
    root = str(folder / "store")
    write_toy_store(root, ToyStudy(n_events=args.events, window_s=(-1.0, 4.0), seed=5))
    cfg = load_config(grid_config(root, folder, args))
    seen = {}

    def confirm(est) -> bool:
        seen["est"], seen["t"] = est, time.perf_counter()
        return True

    with connect(cfg.cluster) as client:
        t0 = time.perf_counter()
        with get_task_stream(client) as ts:
            results = run_experiments(cfg, client=client, confirm=confirm)
        t1 = time.perf_counter()
    est = seen["est"]
    measured = t1 - seen["t"]
    tasks = {}
    for t in ts.data:
        if str(t["key"]).startswith("faultprobe-run-"):
            span = [s for s in t["startstops"] if s["action"] == "compute"]
            run_id = str(t["key"]).rsplit("|", 1)[-1]
            tasks[run_id] = sum(s["stop"] - s["start"] for s in span)
    print(f"cpus {len(os.sched_getaffinity(0))}; load average {load0:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at the end (the machine is shared)")  # fmt: skip
    print(f"grid: {len(est.runs)} runs, {args.events} toy events, {args.epochs} epochs, width "
          f"{args.width}, 2 workers x 1 thread; estimate taken in {seen['t'] - t0:.1f} s")  # fmt: skip
    print(est.render(limit=0))
    lo, hi = est.wall_range_s
    print(f"estimate {est.wall_s:.0f} s (range {lo:.0f}-{hi:.0f} s), measured {measured:.0f} s "
          f"-> measured/estimate = {measured / est.wall_s:.2f} (goal 0.7-1.3)")  # fmt: skip
    store = Store(root)
    for row in est.runs.itertuples():
        m = RunFolder(store, row.run_id).read_json("metrics.json")
        task = tasks.get(row.run_id, float("nan"))
        print(f"  {row.run_id}: estimate {row.estimate_s:.1f} s, task {task:.1f} s "
              f"(read {m['inputs']['seconds']:.1f} s, train {m['train_seconds']:.1f} s) "
              f"-> {task / row.estimate_s:.2f}")  # fmt: skip
    ok = int((results["status"] == "ok").sum())
    print(f"{ok} of {len(results)} runs ok")


def _clean_up(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
