"""A Table 1 + bands grid at paper scale on one GPU, several runs sharing it, and the whole
paper grid projected from it.

A toy cube of `--events` events (the paper's runs train on about 7k windows of 3 x 2500
samples), the paper's model; `--runs` runs of the Table 1 and bands grids, `--at-once` of
them at a time on one GPU (cluster kind `local-cuda` with `worker_resources = {GPU = k}`
where dask-cuda is installed, else a local cluster of one worker with k threads and the
same resource), `--epochs` epochs each (no early stopping). The estimate is taken first,
as `faultprobe experiments` takes it. Printed: the estimate and the measured wall time,
the GPU's aggregate training samples/s, and the projection for `--paper-runs` runs x
`--paper-samples` training windows x `--paper-epochs` epochs at that rate.

    python benchmarks/gpu_grid.py                       # on a CUDA machine: 8 runs, 4 at once
    python benchmarks/gpu_grid.py --device cpu --quick  # the same path on a CPU, small
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def config(root: str, folder: Path, args) -> str:
    from study_tables import norcia_table, only_grids, write_study

    cuda = args.device == "cuda" and importlib.util.find_spec("dask_cuda") is not None
    cluster = (
        {"kind": "local-cuda", "threads_per_worker": args.at_once}
        if cuda
        else {"kind": "local", "n_workers": 1, "threads_per_worker": args.at_once}
    )
    cluster["worker_resources"] = {"GPU": float(args.at_once)} if args.device == "cuda" else {}
    raw = norcia_table(
        root,
        cluster=cluster,
        train={
            "epochs": args.epochs,
            "width": args.width,
            "seeds": [1],
            "device": args.device,
            "patience": 0,
        },
        experiments=only_grids(
            table1={"classes": [2, 4, 8, 9], "stations": ["IV.NRCA"]},
            bands={"enabled": True, "station": "IV.NRCA"},
            seasonality={"enabled": False},
        ),
    )
    return write_study(raw, folder / "gpu-grid.toml")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--events", type=int, default=10_000, help="toy events (~70 %% train)")
    ap.add_argument("--runs", type=int, default=8, help="runs of the grid measured")
    ap.add_argument("--at-once", type=int, default=4, help="runs sharing the GPU at a time")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--width", type=float, default=1.0, help="1: the paper's model")
    ap.add_argument("--paper-runs", type=int, default=190)
    ap.add_argument("--paper-samples", type=int, default=7000)
    ap.add_argument("--paper-epochs", type=int, default=40)
    ap.add_argument("--quick", action="store_true", help="small: a check of the path")
    args = ap.parse_args()
    if args.quick:
        args.events, args.runs, args.at_once, args.epochs, args.width = 400, 2, 2, 1, 0.125
    from faultprobe.analysis.estimate import estimate_grid, slots_of
    from faultprobe.analysis.experiments import plan_runs
    from faultprobe.analysis.runner import run_grid
    from faultprobe.cluster import connect
    from faultprobe.cluster.connect import declared_resources
    from faultprobe.config import load_config
    from faultprobe.ml.runs import RunFolder
    from faultprobe.store import Store
    from faultprobe.testing.toycube import ToyStudy, write_toy_store

    folder = Path(tempfile.mkdtemp(prefix="faultprobe-gpu-grid-"))
    atexit.register(_clean_up, folder)
    root = str(folder / "store")
    t = time.perf_counter()
    write_toy_store(root, ToyStudy(n_events=args.events, window_s=(-5.0, 20.0), seed=7))
    print(f"toy cube: {args.events} events x 3 x 2500 samples in {time.perf_counter() - t:.0f} s")
    cfg = load_config(config(root, folder, args))
    store = Store(root)
    runs = plan_runs(cfg)
    grids = sorted({r.grid for r in runs})
    runs = runs[:: max(1, len(runs) // args.runs)][: args.runs]  # both grids' runs
    with connect(cfg.cluster) as client:
        slots = slots_of(cfg.cluster, client)
        res = declared_resources(cfg.cluster)
        est = estimate_grid(store, runs, client, slots, {"GPU": 1} if "GPU" in res else None)
        t = time.perf_counter()
        results = run_grid(store, runs, client, worker_resources=res)
        wall = time.perf_counter() - t
    ok = results[results["status"] == "ok"]
    trained = 0
    for run_id in ok["run_id"]:
        m = RunFolder(store, run_id).read_json("metrics.json")
        n_train = sum(r["count"] for r in m["composition"] if r["split"] == "train")
        trained += n_train * m["epochs_run"]
    rate = trained / wall
    paper = args.paper_runs * args.paper_samples * args.paper_epochs
    lo, hi = est.wall_range_s
    print(f"grids {grids}: {len(ok)} of {len(runs)} runs ok, {slots} at once on "
          f"{cfg.cluster.kind} ({args.device}), width {args.width}, {args.epochs} epochs")  # fmt: skip
    print(f"estimate {est.wall_s:.0f} s ({lo:.0f}-{hi:.0f}), measured {wall:.0f} s -> "
          f"measured/estimate {wall / max(est.wall_s, 1e-9):.2f}")  # fmt: skip
    print(f"aggregate {rate:.0f} training samples/s (epochs x training windows / wall)")
    print(f"projection: {args.paper_runs} runs x {args.paper_samples} samples x "
          f"{args.paper_epochs} epochs = {paper:.3g} samples -> {paper / rate / 60:.1f} min "
          f"at this rate (goal < 15 min on one H100/H200)")  # fmt: skip
    print(f"RESULT projection_min={paper / rate / 60:.2f}")


def _clean_up(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
