"""Run a grid as Dask tasks, one training run per task, and keep STORE/results.parquet.

Finished runs (a row with status ok) are skipped, so a killed grid restarted later does
only the missing runs; a run that raises becomes a row with status `failed` and its error
text, and the others go on.  On GPU workers (dask-cuda: one worker per GPU, or batch and
Kubernetes workers started with `GPU = 1` in `[cluster] worker_resources`) each worker
declares one `GPU` resource and each run asks for one, so runs are placed one per GPU.
Each worker keeps the station slices it read in a byte-bounded cache (`GridCache`), and
runs that read the same slice are submitted next to each other, so a grid reads each
slice about once per worker.
"""

from __future__ import annotations

import hashlib
import os
import time
import traceback
from collections.abc import Iterable

import pandas as pd
from distributed import WorkerPlugin

from faultprobe import progress
from faultprobe.analysis.grid import GridRun
from faultprobe.analysis.scoring import RESULT_COLUMNS, failed_row, frame, result_row
from faultprobe.store import RESULTS, Store


class GridCache(WorkerPlugin):
    """A `SliceCache` of `max_bytes` on every worker (also on workers that join later);
    none with `max_bytes` 0."""

    name = "faultprobe-slice-cache"

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.cache = None

    def setup(self, worker) -> None:
        from faultprobe.ml.slicecache import SliceCache

        self.cache = SliceCache(self.max_bytes) if self.max_bytes > 0 else None

    def teardown(self, worker) -> None:
        self.cache = None


def _worker_cache():
    """This worker's slice cache, or None outside a worker or without the plugin."""
    try:
        from distributed import get_worker

        plugin = get_worker().plugins.get(GridCache.name)
    except ValueError:
        return None
    return getattr(plugin, "cache", None)


def sub_store(store: Store, sub: str) -> Store:
    """The store a run reads: the study store itself or a folder inside it."""
    if not sub:
        return store
    return Store(store.url(sub), store.storage_options)


def execute_run(root: str, storage_options: dict | None, runs_json: list[str]) -> list[dict]:
    """Train (or read back) one run and return a results row for each grid that holds it
    (`runs_json`: the same spec and store under one or more grids); never raises."""
    from faultprobe.ml.experiment import run_experiment
    from faultprobe.ml.runs import PREDICTIONS, RunFolder

    runs = [GridRun.from_json(r) for r in runs_json]
    first = runs[0]
    store = sub_store(Store(root, storage_options), first.store)
    worker, device = _worker_identity()
    t0 = time.perf_counter()
    try:
        metrics = run_experiment(store, first.spec, cache=_worker_cache())
        preds = RunFolder(store, first.run_id).read_table(PREDICTIONS)
    except Exception as err:  # a failed run is a row, never the end of the grid
        text = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=6)}"
        rows = [failed_row(run, text, time.perf_counter() - t0) for run in runs]
    else:
        rows = [_row(store, run, metrics, preds) for run in runs]
    for row in rows:
        row.update(worker=worker, device=row.get("device") or device)
    return rows


def _row(store: Store, run: GridRun, metrics: dict, preds: pd.DataFrame) -> dict:
    """The run's results row; a control computed on the trained run (faultprobe.analysis
    .controls) first computes it, and a control that raises is a failed row."""
    from faultprobe.analysis.controls import control_row
    from faultprobe.analysis.grid import POSTHOC

    if run.meta.get("control") not in POSTHOC:
        return result_row(run, metrics, preds)
    t0 = time.perf_counter()
    try:
        return control_row(store, run, metrics, preds)
    except Exception as err:
        text = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=6)}"
        return failed_row(run, text, time.perf_counter() - t0)


def _worker_identity() -> tuple[str, str]:
    """This worker's address and the GPU it sees (CUDA_VISIBLE_DEVICES' first entry)."""
    import torch

    try:
        from distributed import get_worker

        addr = get_worker().address
    except ValueError:
        addr = "local"
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    dev = f"cuda:{gpus.split(',')[0]}" if gpus and torch.cuda.is_available() else "cpu"
    return addr, dev


def read_results(store: Store) -> pd.DataFrame:
    """The results table (empty, with its columns, before the first run)."""
    if not store.exists(RESULTS):
        return frame([])
    df = store.read_table(RESULTS)
    for c in RESULT_COLUMNS:
        if c not in df:
            df[c] = pd.NA
    return frame(df[RESULT_COLUMNS].to_dict("records"))


def append_results(store: Store, rows: list[dict]) -> pd.DataFrame:
    """Add rows (a newer row of the same key replaces the older one); atomic rewrite."""
    old = read_results(store)
    new = frame(rows)
    both = pd.concat([old, new], ignore_index=True) if len(old) else new
    both = both.drop_duplicates("key", keep="last").reset_index(drop=True)
    store.write_table(both, RESULTS)
    return both


def pending(runs: Iterable[GridRun], results: pd.DataFrame, retry_failed: bool) -> list[GridRun]:
    """Runs without an ok row (and, unless `retry_failed` is off, failed ones again)."""
    ok = set(results.loc[results["status"] == "ok", "key"])
    failed = set(results.loc[results["status"] == "failed", "key"])
    return [r for r in runs if r.key not in ok and (retry_failed or r.key not in failed)]


async def _declare_gpu(dask_worker) -> bool:
    """Give a worker that sees a CUDA device one `GPU` resource (one run at a time)."""
    import torch

    if not torch.cuda.is_available():
        return False
    if dask_worker.state.total_resources.get("GPU", 0) < 1:
        await dask_worker.set_resources(GPU=1)
    return True


def gpu_workers(client) -> list[str]:
    """Addresses of workers with a CUDA device, each now holding one `GPU` resource.

    Workers that leave while asked (adaptive scaling, preemption) are left out; workers
    that join later declare their GPUs through `[cluster] worker_resources`."""
    found = client.run(_declare_gpu, on_error="return")
    return sorted(addr for addr, has in found.items() if has is True)


def slice_key(run: GridRun) -> tuple:
    """What a run reads from the cube: runs with the same key share a station slice."""
    return (run.store, tuple(run.spec.stations), str(run.spec.window_s))


def run_grid(
    store: Store,
    runs: list[GridRun],
    client,
    *,
    retry_failed: bool = True,
    cache_bytes: int = 0,
    worker_resources: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Run every pending run as one Dask task; append each row as it finishes.

    `cache_bytes` > 0 gives every worker a slice cache of that size; `worker_resources`
    are those the cluster's workers declare (a `GPU` there means one GPU per run)."""
    from distributed import as_completed

    todo = pending(runs, read_results(store), retry_failed)
    if not todo:
        return read_results(store)
    groups: dict[tuple[str, str], list[GridRun]] = {}
    for run in todo:  # a run shared by grids (the bands baseline is a Table 1 run) trains once
        groups.setdefault((run.store, run.run_id), []).append(run)
    groups = dict(sorted(groups.items(), key=lambda kv: slice_key(kv[1][0])))
    client.register_plugin(GridCache(cache_bytes))  # replaces an earlier grid's (0 = off)
    declared = "GPU" in (worker_resources or {})
    resources = {"GPU": 1} if declared or gpu_workers(client) else None
    # the store is part of the key: grids of several studies sharing one cluster (a survey)
    # may hold runs of the same spec, and Dask would give one of them the other's result
    where = hashlib.sha256(store.root.encode()).hexdigest()[:8]
    futures = {
        client.submit(
            execute_run,
            store.root,
            store.storage_options,
            [r.to_json() for r in group],
            key=f"faultprobe-run-{where}-{sub}|{run_id}",
            resources=resources,
            pure=False,
        ): group
        for (sub, run_id), group in groups.items()
    }
    bar = progress.bar(total=len(futures), desc="runs", unit="run")
    try:
        for fut in as_completed(list(futures)):
            try:
                rows = fut.result()
            except Exception as err:  # the worker died (memory, kill): the run failed
                text = f"{type(err).__name__}: {err}"
                rows = [failed_row(run, text, 0.0) for run in futures[fut]]
            append_results(store, rows)
            bar.update(1)
            bar.set_postfix_str(f"{rows[0]['run_id']}: {rows[0]['status']}")
    finally:
        bar.close()
    return read_results(store)
