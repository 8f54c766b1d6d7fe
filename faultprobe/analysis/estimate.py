"""How long a grid will take, from a short calibration on the workers it will run on.

`calibrate` (a Dask task) times a few training steps and a forward pass of the run's model
on inputs of the run's shape, and one chunk read of its station slice from the cube, on
the worker it lands on. `estimate_grid` sizes every pending run from its labels and split
(read from the cube's status and event table on the driver, no waveforms), asks for
calibrations of every distinct model shape on as many slots at once as the grid will keep
busy (concurrent runs share the machine's cores, caches and memory bandwidth: one run timed
alone is faster than each of two side by side), and adds up: setup (opening the cube,
selecting the events) + read + epochs x (train steps + validation) + scoring. The range
comes from the fastest and slowest training step measured. Epochs are the configured
maximum, so early stopping only makes a run shorter than its estimate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from faultprobe.analysis.grid import GridRun
from faultprobe.analysis.runner import sub_store
from faultprobe.ml.estimate import Cost, human_duration
from faultprobe.ml.estimate import run_seconds as training_seconds
from faultprobe.store import Store

ASK_ABOVE_S = 3600.0
MAX_SIDE_BY_SIDE = 4  # calibrations of one shape run at once, at most


@dataclass(frozen=True)
class Calibration:
    """Measured on one worker for one model shape."""

    step_s: float  # one training step (forward, backward, Adam) of a full batch
    predict_s: float  # forward pass per event in eval mode
    read_bytes_per_s: float  # one chunk of the station slice from the cube
    worker: str
    device: str
    setup_s: float = 0.0  # what a run does before reading: open the cube, select events
    step_range_s: tuple[float, float] | None = None  # fastest and slowest step measured


def combine(cals: list[Calibration]) -> Calibration:
    """Calibrations of one shape measured side by side: their mean, and the range of all."""
    if len(cals) == 1:
        return cals[0]
    ranges = [c.step_range_s or (c.step_s, c.step_s) for c in cals]
    return Calibration(
        step_s=float(np.mean([c.step_s for c in cals])),
        predict_s=float(np.mean([c.predict_s for c in cals])),
        read_bytes_per_s=float(np.mean([c.read_bytes_per_s for c in cals])),
        worker=f"{cals[0].worker} and {len(cals) - 1} more side by side",
        device=cals[0].device,
        setup_s=float(np.mean([c.setup_s for c in cals])),
        step_range_s=(min(r[0] for r in ranges), max(r[1] for r in ranges)),
    )


def calibrate(root: str, storage_options: dict | None, spec_json: str, steps: int = 3) -> dict:
    """Time `steps` training steps, a forward pass and a chunk read for a run's shape."""
    from faultprobe.ml import dataset, stream
    from faultprobe.ml.estimate import measure_cost
    from faultprobe.ml.experiment import select_events
    from faultprobe.ml.spec import RunSpec
    from faultprobe.ml.trainer import resolve_device, use_threads

    spec = RunSpec.from_json(spec_json)
    use_threads(spec.training.threads)
    store = Store(root, storage_options)
    select_events(dataset.open_cube(store), spec)  # a clear error when the cube is missing
    t0 = time.perf_counter()  # again, warm: the grid's runs find this worker's imports done
    select_events(dataset.open_cube(store), spec)
    setup_s = time.perf_counter() - t0
    ds = stream.lazy_cube(store)  # zarr reads, no task graph inside the task
    ch, nt = stream.channels_and_samples(ds, spec)
    chunk = min(stream.event_chunk(ds), ds.sizes["event"])
    t0 = time.perf_counter()
    dataset.read_station_slice(ds, spec.stations, spec.window_s, events=np.arange(chunk))
    read_s = time.perf_counter() - t0
    device = resolve_device(spec.training.device)
    cost = measure_cost(spec, ch, nt, device, steps=steps)
    try:
        from distributed import get_worker

        worker = get_worker().address
    except ValueError:
        worker = "local"
    return {
        "step_s": cost.step_s,
        "predict_s": cost.predict_s,
        "read_bytes_per_s": chunk * ch * ds.sizes["time"] * 4 / max(read_s, 1e-9),
        "worker": worker,
        "device": str(device),
        "setup_s": setup_s,
        "step_range_s": cost.step_range_s,
    }


def run_sizes(store: Store, run: GridRun, cubes: dict) -> dict:
    """Events of a run by split, and its slice bytes, from labels and split alone."""
    from faultprobe.ml import dataset, splits, stream
    from faultprobe.ml.experiment import select_events

    where = sub_store(store, run.store)
    if where.root not in cubes:
        cubes[where.root] = dataset.open_cube(where)
    ds = cubes[where.root]
    sel = select_events(ds, run.spec)
    n = np.bincount(sel.split[sel.split >= 0], minlength=3)
    used = int(n.sum())
    return {
        "n_train": int(n[splits.TRAIN]),
        "n_val": int(n[splits.VAL]),
        "n_test": int(n[splits.TEST]),
        "slice_bytes": stream.slice_bytes(ds, run.spec, used),
    }


def shape_key(run: GridRun) -> tuple:
    """Runs with the same key cost the same per step (classes barely matter)."""
    s = run.spec
    return (
        run.store,
        len(s.stations),
        s.window_s,
        s.model,
        s.training.batch_size,
        s.training.device,
    )


def run_seconds(sizes: dict, spec, cal: Calibration, step_s: float | None = None) -> float:
    """Setup + read + epochs x (training steps + validation) + scoring every used event; a
    slice above the memory budget is read again every epoch (it streams). `step_s` replaces
    the calibration's mean step (for the range)."""
    used = sizes["n_train"] + sizes["n_val"] + sizes["n_test"]
    read = sizes["slice_bytes"] / max(cal.read_bytes_per_s, 1.0)
    budget = spec.training.memory_budget
    if budget is not None and sizes["slice_bytes"] > budget:  # streamed: read every epoch
        read *= spec.training.epochs + 1
    cost = Cost(cal.step_s if step_s is None else step_s, cal.predict_s)
    train = training_seconds(cost, spec, sizes["n_train"], sizes["n_val"], used)
    return cal.setup_s + read + train


def run_range(sizes: dict, spec, cal: Calibration) -> tuple[float, float]:
    """The run's seconds at the fastest and at the slowest training step measured."""
    lo, hi = cal.step_range_s or (cal.step_s, cal.step_s)
    return run_seconds(sizes, spec, cal, lo), run_seconds(sizes, spec, cal, hi)


@dataclass
class GridEstimate:
    """The pending runs with their estimated times, and the grid's wall time on `slots`."""

    runs: pd.DataFrame
    slots: int
    calibrations: list[Calibration]

    @property
    def total_s(self) -> float:
        return float(self.runs["estimate_s"].sum()) if len(self.runs) else 0.0

    def _wall(self, column: str) -> float:
        """Runs spread over the slots, longest first (no faster than the longest run)."""
        if not len(self.runs):
            return 0.0
        loads = np.zeros(max(self.slots, 1))
        for t in sorted(self.runs[column].fillna(0.0), reverse=True):
            loads[loads.argmin()] += t
        return float(loads.max())

    @property
    def wall_s(self) -> float:
        return self._wall("estimate_s")

    @property
    def wall_range_s(self) -> tuple[float, float]:
        """The wall time at the fastest and at the slowest training steps measured."""
        if "estimate_lo_s" not in self.runs:
            return self.wall_s, self.wall_s
        return self._wall("estimate_lo_s"), self._wall("estimate_hi_s")

    def render(self, limit: int = 40) -> str:
        """The totals, the calibrations, and the first `limit` runs (none for 0)."""
        df = self.runs
        lo, hi = self.wall_range_s
        spread = f" ({human_duration(lo)} to {human_duration(hi)})" if hi > lo * 1.05 else ""
        lines = [
            f"{len(df)} runs to do; estimated {human_duration(self.total_s)} of run time, about "
            f"{human_duration(self.wall_s)}{spread} on {self.slots} concurrent slot(s) (up to "
            "the configured epochs; early stopping shortens runs)"
        ]
        for c in self.calibrations:
            lines.append(
                f"  calibration on {c.worker} ({c.device}): {c.step_s * 1e3:.0f} ms per training "
                f"step, {c.predict_s * 1e3:.2f} ms per event scored, cube read "
                f"{c.read_bytes_per_s / 1e6:.0f} MB/s, setup {c.setup_s:.1f} s"
            )
        if len(df):
            cols = ["grid", "run_id", "n_train", "n_val", "n_test", "estimate"]
            if "error" in df:
                bad = df["error"].dropna()
                if len(bad):
                    lines.append(
                        f"  {len(bad)} run(s) cannot start and will be recorded as failed "
                        f"(e.g. {bad.iloc[0]})"
                    )
            n = int(df["later"].fillna(False).astype(bool).sum()) if "later" in df else 0
            if n:
                lines.append(
                    f"  {n} run(s) read stores this command builds first (other regions): "
                    "not in the estimate"
                )
            if limit > 0:
                shown = df.assign(estimate=df["estimate_s"].map(human_duration))[cols]
                text = shown.head(limit).to_string(index=False)
                lines += ["  " + line for line in text.splitlines()]
                if len(df) > limit:
                    lines.append(f"  … and {len(df) - limit} more")
        return "\n".join(lines)


def estimate_grid(
    store: Store,
    runs: list[GridRun],
    client,
    slots: int,
    resources: dict | None = None,
) -> GridEstimate:
    """Size every run, calibrate each distinct shape on the cluster, add up."""
    cubes: dict = {}
    rows, keys = [], {}
    unsized = {"n_train": 0, "n_val": 0, "n_test": 0, "slice_bytes": 0}
    for run in runs:
        if run.store and not sub_store(store, run.store).exists("waveforms.zarr"):
            # an other-region store `faultprobe experiments` builds before the grid runs
            rows.append({"grid": run.grid, "run_id": run.run_id, **unsized, "later": True})
            continue
        try:
            sizes = run_sizes(store, run, cubes)
        except (ValueError, KeyError, FileNotFoundError) as err:  # it will fail as a row
            sizes = {**unsized, "error": str(err)}
        rows.append({"grid": run.grid, "run_id": run.run_id, **sizes})
        keys.setdefault(shape_key(run), run)
    # as many side by side as the grid keeps busy (at most MAX_SIDE_BY_SIDE per shape)
    side = max(1, min(slots, MAX_SIDE_BY_SIDE, -(-len(rows) // max(len(keys), 1))))
    futures = {
        key: [
            client.submit(
                calibrate,
                sub_store(store, run.store).root,
                store.storage_options,
                run.spec.to_json(),
                resources=resources,
                pure=False,
            )
            for _ in range(side)
        ]
        for key, run in keys.items()
    }
    cals: dict[tuple, Calibration | None] = {}
    for key, futs in futures.items():
        try:
            cals[key] = combine([Calibration(**f.result()) for f in futs])
        except Exception as err:  # e.g. a station not in the cube: the run will fail as a row
            cals[key] = None
            for row, run in zip(rows, runs):
                if shape_key(run) == key:
                    row.setdefault("error", f"{type(err).__name__}: {err}")
    for row, run in zip(rows, runs):
        cal = None if row.get("later") or row.get("error") else cals[shape_key(run)]
        row["estimate_s"] = run_seconds(row, run.spec, cal) if cal else 0.0
        row["estimate_lo_s"], row["estimate_hi_s"] = (
            run_range(row, run.spec, cal) if cal else (0.0, 0.0)
        )
    # every row's keys: an error or a later store may be on any row, not the first
    df = pd.DataFrame(rows).reindex(columns=list(dict.fromkeys(k for r in rows for k in r)))
    for col in ("grid", "run_id", "estimate_s"):
        if col not in df:
            df[col] = pd.Series(dtype=float if col == "estimate_s" else object)
    return GridEstimate(df, slots, [c for c in cals.values() if c is not None])


def slots_of(cluster_cfg, client) -> int:
    """Runs that can go at once: the cluster's largest size (adaptive maximum), else the
    worker threads it has now (one run per GPU on GPU workers)."""
    info = client.scheduler_info(n_workers=-1).get("workers", {})
    now = sum(w.get("nthreads", 1) for w in info.values())
    gpus = sum(int(w.get("resources", {}).get("GPU", 0)) for w in info.values())
    c = cluster_cfg
    if c.adapt is None:
        return max(gpus or now, 1)
    per = c.threads_per_worker
    if c.kind in {"slurm", "pbs"}:
        per = c.jobqueue.cores
    if "GPU" in c.worker_resources:
        per = int(c.worker_resources["GPU"]) * (
            c.jobqueue.processes if c.kind in {"slurm", "pbs"} else 1
        )
    return max(c.adapt.maximum * per, now, 1)
