"""Catalog scale: every figure of the scaling model, measured in one run, then the projection.

    python benchmarks/scale.py                       # the figures below, defaults
    python benchmarks/scale.py --doc docs/scaling.md # also write the projection there
    python benchmarks/scale.py --quick               # small sizes, a smoke run

1. catalog: a synthetic 900k-event catalog in the Tan et al. (2021) format, read, then
   selected with the paper's rules and with the analyst's mode (every event in the window);
2. plan and template for 900k events x 10 stations: time, driver peak memory (RSS above
   the process's start), metadata size; again at a ninth of the events (linearity);
3. ledger and final check at 900k x 10 (markers and traces parts of every block, the
   streamed compaction into traces.parquet with its duplicate check, the chunk listing and
   status checks), and at a ninth (benchmarks/finalcheck.py: against the in-memory way);
4. ingest of a sample from the simulator and from an SDS archive on 1 and 2 local workers:
   windows/s per core, the scheduler's overhead per task as a share of task time (gaps
   between a worker's tasks over their compute time, from Dask's task stream), and a pure
   NumPy control task on the same clusters in the same run (what the machine allows);
5. training samples/s on the same station slice, streamed from the cube (a budget of a
   quarter of the slice) and in memory;
6. the projection: hours for the whole catalog per 100 cores, cube size per codec (the
   ratios measured on the sample), and the bound set by INGV's dataselect limit (4
   requests/s) at the configured bulk size.

The 900k-event parts (1-3) run at full size. The ingest (4) runs on a sample
(--ingest-events for the simulator, --sds-events for the SDS archive, which is simulated
and written first: 20k events each by default; --sources runs one of them), and the
projection scales it linearly, which parts 2-3 show is how the driver side scales; the
per-window work is the same for every event.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

FIGURES: dict[str, float | str] = {}
INGV_REQUESTS_PER_S = 4.0


def say(text: str) -> None:
    print(text, flush=True)


def record(key: str, value) -> None:
    FIGURES[key] = value


# 1. catalog ------------------------------------------------------------------------------


def write_catalog(folder: Path, n: int) -> Path:
    from catalog_files import random_catalog, write_tan

    path = folder / "Amatrice_CAT5.v20210325"
    write_tan(path, random_catalog(n, seed=1, t0="2016-08-15", days=365))
    return path


def study_config(folder: Path, catalog: Path, mode: str, **sections):
    """The Norcia study over the whole catalog year, reading `catalog`."""
    from faultprobe.config import load_config

    cfg = load_config(ROOT / "configs" / "norcia2016.toml")
    raw = cfg.model_dump(mode="python", exclude_none=True)
    raw["study"].update(
        store=str(folder / f"store-{mode}"),
        start=pd.Timestamp("2016-08-15", tz="UTC").to_pydatetime(),
        end=pd.Timestamp("2017-08-15", tz="UTC").to_pydatetime(),
    )
    raw["catalog"].update(path=str(catalog), format="tan2021")
    raw["selection"]["mode"] = mode
    raw.update(sections)
    from faultprobe.config import parse_config

    return parse_config(raw)


def bench_catalog(folder: Path, n: int) -> pd.DataFrame:
    from faultprobe.catalogs.readers import read_tan2021
    from faultprobe.catalogs.selection import select_events

    path = write_catalog(folder, n)
    t0 = time.perf_counter()
    read = read_tan2021(path, "mw")
    t_read = time.perf_counter() - t0
    out = {}
    for mode in ("paper", "analyst"):
        cfg = study_config(folder, path, mode)
        t0 = time.perf_counter()
        sel = select_events(read.events, cfg)
        out[mode] = (time.perf_counter() - t0, len(sel.events), sel.events)
    say(f"1. catalog: {n} events in the Tan format ({path.stat().st_size / 1e6:.0f} MB)")
    say(f"   read {t_read:.2f} s; select, paper rules {out['paper'][0]:.2f} s "
        f"({out['paper'][1]} kept); analyst mode {out['analyst'][0]:.2f} s "
        f"({out['analyst'][1]} kept)")  # fmt: skip
    record("catalog_read_s", t_read)
    record("select_paper_s", out["paper"][0])
    record("select_analyst_s", out["analyst"][0])
    return out["analyst"][2]


# 2-3. plan, template, ledger, final check (in a child process: its own peak memory) -------

_CHILD = r"""
import json, resource, sys, time, os
import numpy as np, pandas as pd
from faultprobe.config import Waveforms
from faultprobe.pipelines import compaction, cube, ledger
from faultprobe.pipelines import ingest as ing
from faultprobe.pipelines.plan import make_plan
from faultprobe.store import Store
events = pd.read_parquet(sys.argv[1]); stations = pd.read_parquet(sys.argv[2])
root, with_ledger = sys.argv[3], sys.argv[4] == "1"
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base = rss(); out = {}
w = Waveforms(source="synthetic", codec="zstd-3")
t = time.perf_counter(); plan = make_plan(events, stations, w); specs = ing.block_specs(plan)
out["plan_s"] = time.perf_counter() - t
t = time.perf_counter()
codec = cube.codec_by_name(w.codec)
ds = cube.template(plan, w.n_samples, w.sampling_rate, tuple(w.window_s),
                   cube.attrs_for(plan, w, "synthetic", codec, {}, "bench"))
store = Store(root); url = store.url("waveforms.zarr")
cube.write_template(ds, url, codec)
ledger.write_state(store, "template", {"plan_hash": plan.plan_hash, "codec": codec.name})
out["template_s"] = time.perf_counter() - t
out["peak_bytes"] = rss() - base; out["peak_abs"] = rss()
out["meta_bytes"] = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(root) for f in fs)
out["blocks"] = plan.n_blocks; out["pairs"] = len(plan.events) * len(plan.stations)
if with_ledger:
    S = len(plan.stations); rows_per = plan.block_size * S
    names = np.array(["ok", "gap", "no_data"], dtype=object)
    t = time.perf_counter()
    for s in specs:  # what every task writes at its end: its traces part and its marker
        n = (s.stop - s.start) * S
        rows = pd.DataFrame({
            "source_id": np.repeat(s.event_ids, S),
            "station_network_code": np.tile([x.network for x in s.stations], s.stop - s.start),
            "station_code": np.tile([x.station for x in s.stations], s.stop - s.start),
            "status": names[np.arange(n) % 3], "reason": "",
            "trace_p_arrival_time": pd.to_datetime(s.p_ns.ravel(), utc=True),
            "trace_snr_db": np.zeros(n, np.float32), "source": "synthetic",
            "attempts": np.ones(n, np.int32),
            "trace_start_time": pd.to_datetime(s.p_ns.ravel(), utc=True)})
        rows = rows.reindex(columns=ledger.TRACE_COLUMNS, fill_value="")  # e.g. "failure"
        ledger.write_part(store, s.block, rows)
        ledger.mark_done(store, s.block, {"block": s.block})
        for j in range(S):  # the chunk file each (block, station) leaves in the cube
            p = f"{root}/waveforms.zarr/waveform/c/{s.block}/{j}/0/0"
            os.makedirs(os.path.dirname(p), exist_ok=True); open(p, "wb").close()
    out["tasks_write_s"] = time.perf_counter() - t
    t = time.perf_counter(); done = ledger.finished(store); marks = ledger.markers(store)
    out["ledger_finished_s"] = time.perf_counter() - t
    t = time.perf_counter(); traces = compaction.compact(store, plan.n_blocks, marks); out["compact_s"] = time.perf_counter() - t
    t = time.perf_counter()
    holes = cube.missing_chunks(url, plan.n_blocks, S)
    cube.check_status(url)
    out["check_s"] = time.perf_counter() - t
    assert len(done) == plan.n_blocks and not holes and not traces.duplicated and traces.n_rows == out["pairs"]
    out["ledger_peak_bytes"] = rss() - base; out["ledger_peak_abs"] = rss()
print("RESULT " + json.dumps(out))
"""


def driver_side(folder: Path, events: pd.DataFrame, stations: pd.DataFrame, ledger: bool) -> dict:
    ev, st = folder / "events.parquet", folder / "stations.parquet"
    events.to_parquet(ev, index=False)
    stations.to_parquet(st, index=False)
    root = folder / "store"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    from children import child_figures

    got = child_figures(_CHILD, ev, st, root, "1" if ledger else "0", what="driver-side")
    shutil.rmtree(root, ignore_errors=True)
    return got


def norcia_stations() -> pd.DataFrame:
    from faultprobe.synthetic.stations import BUILTIN

    rows = []
    for code, s in BUILTIN.items():
        net, sta = code.split(".")
        rows.append(
            dict(station_network_code=net, station_code=sta, station_location_code="",
                 station_channels=f"{s.band}Z", station_latitude_deg=s.latitude,
                 station_longitude_deg=s.longitude, station_elevation_m=s.elevation_m,
                 station_sampling_rate_hz=s.sampling_rate)
        )  # fmt: skip
    return pd.DataFrame(rows)


def bench_driver(folder: Path, events: pd.DataFrame) -> None:
    stations = norcia_stations()
    small = events.iloc[: len(events) // 9]
    full = driver_side(folder, events, stations, ledger=True)
    ninth = driver_side(folder, small, stations, ledger=True)
    pt = full["plan_s"] + full["template_s"]
    say(f"2. plan + template, {len(events)} events x {len(stations)} stations "
        f"({full['blocks']} blocks): plan {full['plan_s']:.1f} s, template {full['template_s']:.1f} s "
        f"-> {pt:.1f} s (goal < 60 s); driver peak RSS {full['peak_abs'] / 2**30:.2f} GiB "
        f"({full['peak_bytes'] / 2**30:.2f} GiB above the process with its tables loaded; "
        f"goal < 2 GB); metadata {full['meta_bytes'] / 1e6:.0f} MB")  # fmt: skip
    pn = ninth["plan_s"] + ninth["template_s"]
    say(f"   a ninth of the events: {pn:.1f} s -> full/ninth = {pt / pn:.1f} (linear: 9)")
    say(f"3. ledger at {full['blocks']} blocks: tasks' parts + markers written "
        f"{full['tasks_write_s']:.1f} s (spread over the tasks), finished blocks and their "
        f"markers read {full['ledger_finished_s']:.2f} s, compaction into traces.parquet "
        f"{full['compact_s']:.1f} s, final check {full['check_s']:.1f} s; driver peak RSS "
        f"{full['ledger_peak_abs'] / 2**30:.2f} GiB ({len(events) * 10:,} traces rows)")  # fmt: skip
    fc = full["ledger_finished_s"] + full["compact_s"] + full["check_s"]
    nc = ninth["ledger_finished_s"] + ninth["compact_s"] + ninth["check_s"]
    say(f"   ledger + check at a ninth: {nc:.1f} s -> full/ninth = {fc / nc:.1f} (linear: 9)")
    record("plan_template_s", pt)
    record("driver_peak_gib", full["peak_abs"] / 2**30)
    record("finalize_peak_gib", full["ledger_peak_abs"] / 2**30)
    record("metadata_mb", full["meta_bytes"] / 1e6)
    record("plan_linearity", pt / pn)
    record("finalize_s", fc)
    record("finalize_linearity", fc / nc)


# 4. ingest on 1 and 2 workers ------------------------------------------------------------


def _cpu_task(i: int) -> float:
    from ingest import _cpu_work  # benchmarks/ingest.py's pure NumPy control

    return _cpu_work(i)


def sample_study(folder: Path, n: int, source: str, block: int):
    """A simulated Norcia study of exactly `n` events (analyst mode: all of them), with its
    SDS archive written for source 'sds'; returns the config."""
    from faultprobe.catalogs.study import build_catalog
    from faultprobe.config import load_config
    from faultprobe.synthetic.archive import SyntheticArchive
    from faultprobe.synthetic.run import STATIONXML_FILE, synthesize

    cfg = load_config(ROOT / "configs" / "synthetic-norcia.toml")
    out = folder / f"synthetic-{source}"
    syn = cfg.synthetic.model_copy(
        update={"output": str(out), "catalog_events": n, "quakeml": False,
                "catalog_only": source == "synthetic"}
    )  # fmt: skip
    w = cfg.waveforms.model_copy(
        update={
            "source": source,
            "sds_root": str(out / "sds"),
            "codec": "auto",
            "block_size": block,
        }
    )
    cfg = cfg.model_copy(
        update={
            "synthetic": syn,
            "waveforms": w,
            "selection": cfg.selection.model_copy(update={"mode": "analyst"}),
            "study": cfg.study.model_copy(update={"store": str(folder / f"store-{source}")}),
            "catalog": cfg.catalog.model_copy(update={"path": str(out / "catalog.txt")}),
            "stations": cfg.stations.model_copy(update={"inventory": str(out / STATIONXML_FILE)}),
        }
    )
    t0 = time.perf_counter()
    synthesize(cfg, parallel=True)
    if source == "synthetic":
        SyntheticArchive(cfg).inventory().write(str(out / STATIONXML_FILE), format="STATIONXML")
    build_catalog(cfg)
    say(f"   ({source}: {n} events simulated{' and written as SDS' if source == 'sds' else ''} "
        f"in {time.perf_counter() - t0:.0f} s)")  # fmt: skip
    return cfg


def task_overhead(stream: list[dict]) -> tuple[float, float, float]:
    """(mean compute s per task, mean gap s between a worker's consecutive tasks, span s)."""
    per_worker: dict[str, list[tuple[float, float]]] = {}
    for t in stream:
        for ss in t["startstops"]:
            if ss["action"] == "compute":
                per_worker.setdefault(t["worker"], []).append((ss["start"], ss["stop"]))
    compute, gaps, starts, stops = [], [], [], []
    for spans in per_worker.values():
        spans.sort()
        compute += [b - a for a, b in spans]
        gaps += [max(spans[i + 1][0] - spans[i][1], 0.0) for i in range(len(spans) - 1)]
        starts.append(spans[0][0])
        stops.append(spans[-1][1])
    return float(np.mean(compute)), float(np.mean(gaps)) if gaps else 0.0, max(stops) - min(starts)


def _control(client, k: int) -> float:
    """Control tasks per second on the cluster's k workers (8 tasks per worker)."""
    t0 = time.perf_counter()
    client.gather(client.map(_cpu_task, range(8 * k), pure=False))
    return 8 * k / (time.perf_counter() - t0)


def _cpu_seconds(root: Path) -> float:
    """CPU seconds the blocks' tasks spent, from their ledger markers."""
    total = 0.0
    for p in (root / "ingest" / "blocks").glob("*.json"):
        total += float(json.loads(p.read_text()).get("cpu_seconds", 0.0))
    return total


def bench_ingest(cfg, workers_list=(1, 2)) -> dict:
    """Ingest the sample on 1 and 2 workers (fresh stores); the control task runs on the
    same cluster just before and just after (the machine may be shared)."""
    from distributed import Client, LocalCluster, get_task_stream

    from faultprobe.pipelines import ingest as ing

    base = Path(cfg.study.store)
    res = {}
    for k in workers_list:
        root = base.parent / f"{base.name}-{k}w"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        for t in ("events.parquet", "stations.parquet"):
            shutil.copy(base / t, root / t)
        c = cfg.model_copy(update={"study": cfg.study.model_copy(update={"store": str(root)})})
        with (
            LocalCluster(n_workers=k, threads_per_worker=1, processes=True,
                         dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):  # fmt: skip
            client.run(lambda: __import__("faultprobe.pipelines.ingest"))  # warm imports
            before = _control(client, k)
            with get_task_stream(client) as ts:
                summary = ing.ingest(c, client=client)
            after = _control(client, k)
            blocks = [t for t in ts.data if str(t["key"]).startswith("run_block")]
            compute, gap, span = task_overhead(blocks)
        windows = summary.n_events * summary.n_stations
        res[k] = dict(span=span, compute=compute, gap=gap, windows=windows,
                      control=(before + after) / 2, cpu=_cpu_seconds(root),
                      codec=summary.codec, root=str(root))  # fmt: skip
    return res


def report_ingest(name: str, res: dict) -> dict:
    one, two = res[1], res[2]
    rate1 = one["windows"] / one["span"]
    rate2 = two["windows"] / two["span"]
    speed = rate2 / rate1
    control = two["control"] / one["control"]  # control tasks per second, 2 workers vs 1
    share = max(one["gap"] / one["compute"], two["gap"] / two["compute"])
    per_cpu = two["windows"] / two["cpu"] if two["cpu"] else float("nan")
    say(
        f"   {name}: {one['windows']} windows; 1 worker {rate1:.0f} windows/s, 2 workers "
        f"{rate2:.0f} windows/s ({rate2 / 2:.0f} per core by wall clock, {per_cpu:.0f} per "
        f"CPU-second of the tasks) -> {speed:.2f}x; control task {control:.2f}x -> "
        f"{speed / control:.0%} of what the machine gives (goal >= 95 %)"
    )
    say(f"      scheduler overhead per task: {two['gap'] * 1e3:.0f} ms between tasks for "
        f"{two['compute']:.2f} s of task -> {share:.2%} of task time (goal < 2 %)")  # fmt: skip
    return dict(per_core=rate2 / 2, per_cpu=per_cpu, speed=speed, control=control, share=share)


def codec_sizes(root: str) -> dict[str, float]:
    """Compression ratio of every candidate codec, as the ingest measured on its sample."""
    import xarray as xr

    attrs = xr.open_zarr(f"{root}/waveforms.zarr").attrs
    return {k: v["ratio"] for k, v in attrs.get("codec_measurement", {}).items()}


# 5. streaming vs in-memory training ------------------------------------------------------


def bench_stream(folder: Path, n_events: int, epochs: int) -> float:
    import torch

    from faultprobe.ml import dataset, splits, stream
    from faultprobe.ml.experiment import select_events
    from faultprobe.ml.model import FaultNet
    from faultprobe.ml.spec import Labelling, RunSpec, Training
    from faultprobe.ml.trainer import fit, use_threads
    from faultprobe.testing.toycube import ToyStudy, write_toy_store

    store = write_toy_store(
        str(folder / "toy"), ToyStudy(n_events=n_events, window_s=(-5.0, 20.0), seed=3)
    )
    use_threads(1)
    spec = RunSpec(
        stations=("IV.NRCA",),
        labelling=Labelling(mainshock="2016-10-30T06:40:17Z"),
        model={"width": 0.25},
        training=Training(epochs=epochs, batch_size=32, device="cpu", threads=1, patience=0),
    )
    ds = dataset.open_cube(store)
    sel = select_events(ds, spec)
    used = np.flatnonzero(sel.split >= 0)
    y, codes = sel.labels[used], sel.split[used]
    nbytes = stream.slice_bytes(ds, spec, len(used))
    budget = spec.model_copy(
        update={"training": spec.training.model_copy(update={"memory_budget": nbytes // 4})}
    )
    rates = {}
    for name, s, st in (("memory", spec, False), ("stream", budget, True)):
        t0 = time.perf_counter()
        x = stream.model_inputs(ds, s, used, codes, y, stream=st, store=store)
        tr, va = codes == splits.TRAIN, codes == splits.VAL
        model = FaultNet(2, x.n_channels, width=0.25, generator=torch.Generator().manual_seed(1))
        fit(model, x.x_train, y[tr], x.x_val, y[va], s.training, 1)
        rates[name] = (int(tr.sum()) * epochs) / (time.perf_counter() - t0)
        buffers = len(x.x_train.groups()) if st else 1
        rates[name + "_buffers"] = buffers
    ratio = rates["stream"] / rates["memory"]
    say(f"5. training on one station's slice ({nbytes / 1e6:.0f} MB, {len(used)} events, "
        f"{epochs} epochs, reads included): in memory {rates['memory']:.0f} samples/s, streamed "
        f"with a quarter-slice budget ({rates['stream_buffers']} buffers per epoch) "
        f"{rates['stream']:.0f} samples/s -> {ratio:.0%} (goal >= 80 %)")  # fmt: skip
    record("stream_ratio", ratio)
    return ratio


# 6. projection ---------------------------------------------------------------------------


def projection(n_events: int, n_stations: int, rates: dict, ratios: dict, bulk: int) -> str:
    windows = n_events * n_stations
    raw = windows * 3 * 2500 * 4
    ingv_h = windows / (INGV_REQUESTS_PER_S * bulk) / 3600
    lines = [
        f"Whole catalog: {n_events:,} events x {n_stations} stations = {windows:,} windows "
        f"({raw / 1e12:.2f} TB as float32).",
        "",
    ]
    names = {
        "sds": "an SDS archive (local disk)",
        "synthetic": "the simulator (rendering included)",
    }
    for source, (per_core, per_cpu) in rates.items():
        lines.append(
            f"- Ingest from {names[source]}: {windows / (per_core * 100) / 3600:.2f} h per 100 "
            f"cores at the {per_core:.0f} windows/s per core measured by wall clock here, "
            f"{windows / (per_cpu * 100) / 3600:.2f} h at {per_cpu:.0f} windows per CPU-second "
            "(a core of its own)."
        )
    lines += [
        f"- From INGV's dataselect at 4 requests/s and {bulk} windows per bulk request: at "
        f"least {ingv_h:.1f} h, whatever the cores (the service's limit, not ours).",
        "- Cube size by codec (ratios measured on the ingested sample):",
    ]
    for name, r in sorted(ratios.items(), key=lambda kv: -kv[1]):
        lines.append(f"  - {name}: ratio {r:.2f} -> {raw / r / 1e12:.2f} TB")
    return "\n".join(lines)


def write_doc(path: Path, text: str, figures: str) -> None:
    doc = path.read_text() if path.exists() else ""
    block = (
        "<!-- scale:begin (written by benchmarks/scale.py --doc) -->\n"
        f"{text}\n\nMeasured figures:\n\n```\n{figures}\n```\n<!-- scale:end -->"
    )
    if "<!-- scale:begin" in doc:
        doc = re.sub(r"<!-- scale:begin.*?<!-- scale:end -->", lambda _: block, doc, flags=re.S)
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    path.write_text(doc)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=900_058, help="catalog size (Tan et al.)")
    ap.add_argument("--ingest-events", type=int, default=20_000)
    ap.add_argument("--sds-events", type=int, default=20_000)
    ap.add_argument(
        "--sources",
        nargs="+",
        choices=["synthetic", "sds"],
        default=["synthetic", "sds"],
        help="part 4's ingest sources",
    )
    ap.add_argument("--train-events", type=int, default=2_000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--block-size", type=int, default=256, help="events per ingest task")
    ap.add_argument("--only", type=int, action="append", choices=[1, 2, 3, 4, 5])
    ap.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    ap.add_argument("--doc", type=Path, help="write the projection into this Markdown file")
    args = ap.parse_args()
    if args.quick:
        args.events, args.ingest_events, args.sds_events, args.train_events = 90_000, 512, 256, 600
        args.block_size = 32
    only = set(args.only or [1, 2, 3, 4, 5])
    say(f"cpus: {len(os.sched_getaffinity(0))}; load average at start "
        f"{os.getloadavg()[0]:.1f} (figures are only as quiet as the machine)")  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="faultprobe-scale-"))
    t_all = time.perf_counter()
    try:
        if only & {1, 2, 3}:
            events = bench_catalog(folder, args.events)
            if only & {2, 3}:
                bench_driver(folder, events)
        ingest = {}
        ratios: dict[str, float] = {}
        if 4 in only:
            say("4. ingest samples on 1 and 2 local workers (one thread each):")
            sizes = {"synthetic": args.ingest_events, "sds": args.sds_events}
            for source, n in ((k, sizes[k]) for k in args.sources):
                cfg = sample_study(folder, n, source, args.block_size)
                res = bench_ingest(cfg)
                ingest[source] = report_ingest(f"{source} ({n} events)", res)
                ratios = ratios or codec_sizes(res[2]["root"])
            for src, v in ingest.items():
                record(f"windows_per_core_{src}", v["per_core"])
                record(f"windows_per_cpu_second_{src}", v["per_cpu"])
                record(f"two_workers_speedup_{src}", v["speed"])
                record(f"control_speedup_{src}", v["control"])
            record("overhead_share", max(v["share"] for v in ingest.values()))
            record("worker_efficiency", min(v["speed"] / v["control"] for v in ingest.values()))
        if 5 in only:
            bench_stream(folder, args.train_events, args.epochs)
        if ingest:
            from faultprobe.config import Waveforms

            bulk = Waveforms(source="synthetic").max_bulk_items
            rates = {k: (v["per_core"], v["per_cpu"]) for k, v in ingest.items()}
            text = projection(args.events, 10, rates, ratios, bulk)
            say("6. projection\n" + text)
            if args.doc:
                write_doc(args.doc, text, json.dumps(FIGURES, indent=1, default=str))
                say(f"written to {args.doc}")
        say(f"(benchmark wall time {time.perf_counter() - t_all:.0f} s; peak RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB)")  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
