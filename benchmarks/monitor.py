"""Monitoring speed: from an event's data landing to its score, and a burst of events.

    python benchmarks/monitor.py [--folder DIR] [--events 5]

Builds the small synthetic study (faultprobe.testing.studies.small_study: SDS archive,
catalog, ingest on a local Dask cluster) and a narrow run (width 0.25, 2 epochs, CPU),
then follows a live copy of it with `faultprobe.monitor` (catalog mode, as a replay):

1. Latency.  The live catalog already lists the next event (and the one after, so the
   isolation rule is decided); the day's SDS files hold data up to just before its
   window.  The files then land (written aside, renamed into place) with data through the
   window's end, and the time until the event is committed with its score is measured,
   the monitor polling in another thread every 0.1 s.  Per event and the median; the goal
   is under 5 s on a laptop.  In real time the window's end itself comes 20 s (+ padding)
   after the P arrival: that wait is physics, not pipeline, and is not counted.
2. Burst.  The whole archive and catalog land at once; events committed per second by
   one poll, with the narrow model (goal: >= 200/s), against the naive way (one event per
   batch: its own ingest call, cube append, model load and table writes), as a ratio.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from obspy import UTCDateTime, read

from faultprobe.catalogs.readers import read_catalog
from faultprobe.catalogs.selection import select_events
from faultprobe.config.stages import MonitorSettings
from faultprobe.monitor import newevents
from faultprobe.monitor.service import Monitor
from faultprobe.synthetic.writers import write_tan


def build(folder: Path):
    """The small study, ingested, and a narrow run on NRCA; (cfg, run path)."""
    from distributed import Client, LocalCluster

    from faultprobe.catalogs.study import build_catalog
    from faultprobe.ml.experiment import run_experiment
    from faultprobe.ml.spec import spec_from_config
    from faultprobe.pipelines.ingest import ingest
    from faultprobe.synthetic.run import synthesize
    from faultprobe.testing.studies import small_study

    cfg = small_study(folder, background_per_day=40.0, omori_k=40.0)
    cfg = cfg.model_copy(update={"waveforms": cfg.waveforms.model_copy(update={"block_size": 64})})
    spec = spec_from_config(cfg, stations=["IV.NRCA"], classes=2, seed=1)
    spec = spec.model_copy(update={
        "window_s": (-1.0, 6.0),
        "model": spec.model.model_copy(update={"width": 0.25}),
        "training": spec.training.model_copy(update={"epochs": 2, "device": "cpu"}),
    })  # fmt: skip
    run = f"{cfg.study.store}/runs/{spec.run_id}"
    if Path(run, "model.safetensors").exists():  # built by an earlier run in --folder
        return cfg, run
    t0 = time.perf_counter()
    synthesize(cfg, parallel=False)
    build_catalog(cfg)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as c, Client(c) as client:  # fmt: skip
        ingest(cfg, client=client)
    run_experiment(cfg.study.store, spec)
    print(f"study built and run trained in {time.perf_counter() - t0:.0f} s")
    return cfg, run


def _catalog(lines: pd.DataFrame, path: Path) -> None:
    """The live catalog file, replaced at once (the monitor may read it any time)."""
    part = path.with_name(path.name + ".part")
    write_tan(lines, part, "live", 0)
    part.replace(path)


def _monitor_cfg(cfg, store: Path, sds: Path, catalog: Path, **monitor):
    # start: the study's own events replayed (in-sample for the run, as the lines say)
    mon = cfg.monitor.model_copy(
        update={"store": str(store), "replay": True, "start": cfg.study.start, **monitor}
    )
    return cfg.model_copy(update={
        "monitor": mon,
        "waveforms": cfg.waveforms.model_copy(update={"sds_root": str(sds)}),
        "catalog": cfg.catalog.model_copy(update={"path": str(catalog)}),
    })  # fmt: skip


def _write_until(src: Path, dst: Path, until: UTCDateTime, station: str = "NRCA") -> float:
    """The station's day files with data up to `until`, written aside and then renamed into
    dst together; returns the time (perf_counter) the last one landed."""
    parts = []
    for f in sorted(src.rglob(f"*.{station}..*.D.*")):
        st = read(str(f))
        st.trim(endtime=until)
        if not len(st):
            continue
        target = dst / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        st.write(str(part), format="MSEED", encoding="STEIM2", reclen=512)
        parts.append((part, target))
    for part, target in parts:
        part.replace(target)
    return time.perf_counter()


class Poller(threading.Thread):
    """Polls the monitor continuously; records when each event was committed."""

    def __init__(self, mon: Monitor, every: float = 0.1):
        super().__init__(daemon=True)
        self.mon, self.every = mon, every
        self.committed: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.mon.poll()
            now = time.perf_counter()
            for e in self.mon.mstore.committed_ids() - set(self.committed):
                self.committed[e] = now
            time.sleep(self.every)


def latency(cfg, run: str, work: Path, n: int) -> list[float]:
    from faultprobe.synthetic.archive import SyntheticArchive

    full = read_catalog(cfg.catalog).events
    lines = SyntheticArchive(cfg).catalog()  # the simulator's catalog, as write_tan takes it
    sel = select_events(full, newevents.monitoring_selection(MonitorSettings.of(cfg))).events
    day = sel["source_origin_time"].dt.floor("D").value_counts().index[0]
    picks = sel[(sel["source_origin_time"] > day + pd.Timedelta(hours=6))
                & (sel["source_origin_time"] < day + pd.Timedelta(hours=20))]  # fmt: skip
    picks = picks.iloc[:: max(1, len(picks) // n)].head(n)
    live, catalog = work / "live-sds", work / "live-catalog.txt"
    live.mkdir(parents=True)
    src = Path(cfg.waveforms.sds_root)
    first = UTCDateTime(picks["source_origin_time"].iloc[0].to_pydatetime())
    _write_until(src, live, first - 30)
    mcfg = _monitor_cfg(cfg, work / "monitor", live, catalog)
    first_t = picks["source_origin_time"].iloc[0]
    reach = pd.Timedelta(seconds=cfg.selection.isolation_after_s)
    _catalog(lines[lines["source_origin_time"] < first_t], catalog)
    mon = Monitor(mcfg, run)
    mon.poll()  # the past: everything before the first pick
    poller = Poller(mon)
    poller.start()
    out = []
    try:
        for r in picks.itertuples():
            t = pd.Timestamp(r.source_origin_time)
            # the catalog up to the first event 25 s after this one: isolation is decided
            later = lines.loc[lines["source_origin_time"] > t + reach, "source_origin_time"]
            upto = later.iloc[0] if len(later) else t + reach
            _catalog(lines[lines["source_origin_time"] <= upto], catalog)
            time.sleep(0.5)  # the event is known and waits for its waveforms
            assert r.source_id not in poller.committed
            landed = _write_until(src, live, UTCDateTime(t.to_pydatetime()) + 40)
            while r.source_id not in poller.committed:
                if time.perf_counter() - landed > 120:
                    raise RuntimeError(f"event {r.source_id} not scored after 120 s")
                time.sleep(0.01)
            out.append(poller.committed[r.source_id] - landed)
            print(f"  event {r.source_id} ({t:%H:%M:%S}): landed -> scored {out[-1]:.2f} s")
    finally:
        poller.stop.set()
        poller.join()
    return out


def burst(cfg, run: str, work: Path, batch: int) -> tuple[int, float, float]:
    mcfg = _monitor_cfg(cfg, work / f"burst-{batch}", Path(cfg.waveforms.sds_root),
                        Path(cfg.catalog.path), batch_events=batch)  # fmt: skip
    mon = Monitor(mcfg, run)
    t0, c0 = time.perf_counter(), time.process_time()
    result = mon.poll()
    return result.scored, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", help="work folder (default: a temporary one)")
    ap.add_argument("--events", type=int, default=5, help="events for the latency")
    args = ap.parse_args()
    tmp = None if args.folder else tempfile.mkdtemp(prefix="faultprobe-bench-monitor-")
    work = Path(args.folder or tmp)
    try:
        cfg, run = build(work / "study")
        print("1. latency, data landing -> score written (monitor polling every 0.1 s):")
        lat = latency(cfg, run, work / "latency", args.events)
        print(f"   median {np.median(lat):.2f} s, max {max(lat):.2f} s over {len(lat)} events "
              f"(goal: under 5 s)")  # fmt: skip
        print("2. burst, every event landing at once, narrow model (width 0.25):")
        n, sec, cpu = burst(cfg, run, work, 256)
        print(f"   faultprobe: {n} events in {sec:.2f} s = {n / sec:.0f} events/s "
              f"({cpu:.2f} CPU s, {n / cpu:.0f} events per CPU s; goal >= 200/s)")  # fmt: skip
        n1, sec1, cpu1 = burst(cfg, run, work, 1)
        print(f"   naive (one event per batch): {n1} events in {sec1:.2f} s = "
              f"{n1 / sec1:.1f} events/s ({n1 / cpu1:.1f} per CPU s); ratio "
              f"{(n / sec) / (n1 / sec1):.1f}x")  # fmt: skip
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
