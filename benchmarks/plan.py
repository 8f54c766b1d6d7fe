"""Request plans benchmark: a study ingested from the loopback FDSN service under each data
centre's limits, enforced by the service (rate and requests in flight -> 429, samples -> 413).

  python benchmarks/plan.py [--events 80] [--seconds 60] [--presets ingv,earthscope,ipgp,resif]

Scaled down from the paper (900k events x 10 stations) in events, and in lines per request
so that the requests keep the count where the rate is the bottleneck (about `--seconds` of
requests per preset at its rate); the limits are the presets' own, except RESIF's samples
limit, scaled with the windows (three windows per request). Per preset: the wall time of
the whole `ingest` (probe, plan, template, blocks, compaction, checks) against the plan's
lower bound (requests / allowed rate; bytes / bandwidth and requests x latency / in flight
are far below on loopback), the service's refusals, its peak rate per sliding second and
peak in flight. Then, for INGV, the same study with the limiter faultprobe had before (each
of N slots held N / R s after its answer): the ratio of the two times.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fdsn_loopback import FDSNService
from plan_study import seen, service_limits, write_config

from faultprobe.config import load_config
from faultprobe.config.limits import PRESETS
from faultprobe.pipelines import fdsn as fdsn_module
from faultprobe.pipelines.ingest import ingest
from faultprobe.pipelines.planner import plan_study
from faultprobe.testing.defects import write_toy_config, write_toy_study

BLOCK = 16
WINDOW_LINE_SAMPLES = 11_625.0  # one window line: 31 s (window and pads) x 125 Hz x 3


class HoldLimiter:
    """The limiter before the planner: N slots, each held N / R x 1.05 s after its answer."""

    def __init__(self, max_concurrent: int, per_second: float):
        self.hold = max_concurrent / per_second * 1.05
        self.leases = 1
        self._sem = threading.BoundedSemaphore(max_concurrent)
        self._until = 0.0

    def pause(self, seconds: float) -> None:
        self._until = max(self._until, time.time() + seconds)

    def drain(self) -> None:
        time.sleep(self.hold)

    @contextlib.contextmanager
    def slot(self):
        with self._sem:
            while (left := self._until - time.time()) > 0:
                time.sleep(left)
            try:
                yield
            finally:
                time.sleep(self.hold)


def lines_for(preset: str, n_events: int, n_stations: int, seconds: float) -> int:
    """Lines per request that make about `seconds` of requests at the preset's rate."""
    n_blocks = math.ceil(n_events / BLOCK)
    per_block = max(1.0, PRESETS[preset].requests_per_second * seconds / n_blocks)
    return max(1, math.ceil(BLOCK * n_stations / per_block))


def serve(study, limits: dict, conn) -> None:
    """The data centre, in a process of its own (its clock and threads are not the
    client's): says its URL, serves until told to stop, then says what it saw."""
    with FDSNService(study.sds_root, study.stations, study.events, limits=limits) as svc:
        conn.send(svc.url)
        conn.recv()
        conn.send(seen(svc))


@contextlib.contextmanager
def service(study, limits: dict):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(study, limits, theirs), daemon=True)
    proc.start()
    box = {"url": ours.recv()}
    try:
        yield box
    finally:
        ours.send("stop")
        box["seen"] = ours.recv()
        proc.join(10)


def run(study, folder: Path, preset: str, lines: int, client, limiter=None) -> dict:
    samples = 3 * WINDOW_LINE_SAMPLES if preset == "resif" else None
    limits = service_limits(preset, samples)
    # event windows: the toy archive holds only the events' segments, so whole days would
    # be far fewer bytes than the plan (which assumes continuous days) says
    extra = {"mode": "events", **({"max_samples_per_request": samples} if samples else {})}
    bulk = 200 if samples else lines
    with service(study, limits) as svc:
        path = write_config(
            folder, study, svc["url"], preset, extra, max_bulk_items=bulk, block_size=BLOCK
        )
        cfg = load_config(path)
        plan = plan_study(cfg.study.store, cfg.waveforms)
        old = fdsn_module.limiter_for
        if limiter is not None:
            fdsn_module.limiter_for = lambda *a: limiter
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            summary = ingest(cfg, client=client)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        finally:
            fdsn_module.limiter_for = old
    got = svc["seen"]
    assert summary.complete, summary.problem()
    bound = max(plan.lower_bound_s, got["queries"] / limits["per_second"])
    # what the service's own answering time allows with the requests in flight it permits
    served = got["busy_s"] / limits["concurrent"]
    return {
        "served": served,
        "cpu": cpu,
        "preset": preset,
        "lines": plan.chosen.bulk_lines,
        "requests": plan.chosen.requests,
        "made": got["queries"],
        "bound": bound,
        "wall": wall,
        "ratio": wall / bound,
        "refused": got["refused"],
        "peak": got["peak_per_s"],
        "rate": limits["per_second"],
        "in_flight": got["peak_in_flight"],
        "concurrent": limits["concurrent"],
    }


def show(r: dict) -> None:
    print(
        f"{r['preset']:<10} {r['lines']:>5} {r['requests']:>8} {r['made']:>5} "
        f"{r['bound']:>8.1f} {r['wall']:>7.1f} {r['ratio']:>6.2f} "
        f"{r['refused'].get(429, 0):>4} {r['refused'].get(413, 0):>4} "
        f"{r['peak']:>3}/{r['rate']:<4g} {r['in_flight']:>3}/{r['concurrent']:<3} "
        f"{r['served']:>8.1f} {r['cpu']:>6.1f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=80)
    ap.add_argument("--seconds", type=float, default=60.0, help="requests per preset, in s")
    ap.add_argument("--presets", default="ingv,earthscope,ipgp,resif")
    ap.add_argument("--no-compare", action="store_true", help="skip the old limiter's run")
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    d = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    study = write_toy_study(str(d / "toy"), n_events=args.events, days=2, corrupt=False)
    write_toy_config(str(d / "toy"), study)
    n_windows = args.events * len(study.stations)
    print(
        f"toy study: {args.events} events x {len(study.stations)} stations = {n_windows} "
        f"windows, blocks of {BLOCK} events (written in {time.perf_counter() - t0:.0f} s)"
    )
    print(
        "preset     lines requests  made  bound_s  wall_s  ratio  429  413  peak/s  in-flight "
        "served_s  cpu_s"
    )
    print(
        "(bound_s: the plan's lower bound; served_s: the service's answering time / requests "
        "in flight allowed; cpu_s: the client process's CPU)"
    )
    results = []
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        for preset in args.presets.split(","):
            lines = lines_for(preset, args.events, len(study.stations), args.seconds)
            r = run(study, d / preset, preset, lines, client)
            results.append(r)
            show(r)
        if not args.no_compare and "ingv" in args.presets:
            ingv = next(r for r in results if r["preset"] == "ingv")
            p = PRESETS["ingv"]
            old = HoldLimiter(p.max_concurrent, p.requests_per_second)
            r = run(study, d / "ingv-hold", "ingv", ingv["lines"], client, limiter=old)
            r["preset"] = "ingv-old"
            show(r)
            print(f"old limiter / planner's limiter, INGV: {r['wall'] / ingv['wall']:.2f}x time")
    worst = max(r["ratio"] for r in results)
    print(f"worst time / lower bound: {worst:.2f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
