"""Benchmark of the sequence simulator: records per second rendered and written.

    python benchmarks/synth.py                     # paper scale: 10k events x 10 stations
    python benchmarks/synth.py --events 2000       # a quicker run

1. Rendering: `render_batch` on batches of 32 records against the naive way, one record
   per call, in the same run (ratio printed).
2. Writing: `faultprobe synth` on the synthetic Norcia study with exactly --events events
   (catalog_events), every record written as Steim2 miniSEED into an SDS archive, with
   the Dask cluster of the config (2 local workers by default) or --serial; the whole
   set is measured, nothing is extrapolated.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from faultprobe.config import load_config
from faultprobe.synthetic.records import render_batch
from faultprobe.synthetic.run import synthesize

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "synthetic-norcia.toml"


def render_rate(n: int, batch: int, n_samples: int = 6000) -> tuple[float, float]:
    """Records per second (wall, CPU) rendered by `render_batch`, `batch` records per call."""
    rng = np.random.default_rng(0)
    mw = rng.uniform(0.6, 3.0, n)
    r = rng.uniform(5.0, 30.0, n)
    t, cpu = time.perf_counter(), time.process_time()
    for lo in range(0, n, batch):
        sl = slice(lo, lo + batch)
        render_batch(
            mw[sl], 2.1, r[sl], 15.0 + r[sl] / 6.0, 15.0 + r[sl] / 3.4, sampling_rate=100.0,
            n_samples=n_samples, seeds=np.arange(lo, lo + len(mw[sl])), tstar_p=0.005,
            tstar_s=0.01, dtstar=0.004,
        )  # fmt: skip
    return n / (time.perf_counter() - t), n / (time.process_time() - cpu)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--out", default=None, help="output folder (default: a temporary one)")
    ap.add_argument("--serial", action="store_true", help="write in this process, no Dask")
    ap.add_argument("--workers", type=int, default=2, help="Dask worker processes (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the written files")
    args = ap.parse_args()

    print(f"cpus visible: {len(os.sched_getaffinity(0))}   load average: {os.getloadavg()[0]:.1f}")
    # alternate the two ways three times and keep each one's best: the machine may be shared
    naive, batched = (0.0, 0.0), (0.0, 0.0)
    for _ in range(3):
        naive = max(naive, render_rate(128, 1), key=lambda x: x[1])
        batched = max(batched, render_rate(512, 32), key=lambda x: x[1])
    print("render (60 s, 100 Hz, 3 components), records/s by wall clock and by CPU time:")
    print(f"  1 record per call  : {naive[0]:7.0f} wall  {naive[1]:7.0f} CPU")
    print(f"  32 records per call: {batched[0]:7.0f} wall  {batched[1]:7.0f} CPU   "
          f"ratio {batched[1] / naive[1]:.2f}x (CPU)")  # fmt: skip
    cfg = load_config(CONFIG)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="faultprobe-synth-"))
    syn = cfg.synthetic.model_copy(
        update={"output": str(out), "catalog_events": args.events, "quakeml": False}
    )
    cluster = cfg.cluster.model_copy(update={"n_workers": args.workers})
    cfg = cfg.model_copy(update={"synthetic": syn, "cluster": cluster})
    t = time.perf_counter()
    cpu = time.process_time()
    summary = synthesize(cfg, parallel=not args.serial)
    wall = time.perf_counter() - t
    size = sum(p.stat().st_size for p in (out / "sds").rglob("*") if p.is_file())
    print(summary.render())
    print(
        f"written: {summary.records} records ({summary.events} events x {summary.stations} "
        f"stations) + noise, {summary.spans} spans, {size / 1e6:.0f} MB of Steim2 miniSEED"
    )
    print(f"wall time: {wall:.1f} s   ({summary.records / wall:.0f} records/s written)")
    print(f"CPU time: this process {time.process_time() - cpu:.1f} s, waveform tasks "
          f"{summary.task_cpu_s:.1f} s ({summary.task_cpu_s / summary.records * 1e3:.2f} ms per "
          f"record); on 2 idle cores the waveforms take about {summary.task_cpu_s / 2:.0f} s")  # fmt: skip
    goal = 600.0
    print(f"paper-scale goal (10k x 10 in < {goal:.0f} s): {'met' if wall < goal else 'NOT met'}"
          if args.events >= 10000 else "")  # fmt: skip
    if not args.keep and not args.out:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
