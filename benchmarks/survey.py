"""A survey on one cluster against the same studies run one after another; the plan at scale.

    python benchmarks/survey.py [--folder DIR] [--sequences 3] [--plan 100]

1. Wall time.  N small simulated studies (the 4-day small study of
   faultprobe.testing.studies, analyst selection, a one-run binary Table 1 grid of a tiny
   CPU model), each with its own store: `faultprobe.survey.run_survey` on one local cluster
   (the studies' catalog, ingest and grid tasks sharing its workers) against the same
   studies driven one after another, each starting its own cluster as N separate commands
   would.  Prints both walls and their ratio.
2. Plan at scale (no training).  M study configs, each with a store holding the simulated
   study's events and stations (file copies); the driver loads every config, plans its
   ingest (P times, blocks) and expands its Table 1 grid: the survey's task graph, one
   catalog task per study, one per ingest block after it, one per grid run after those
   (tracemalloc peak and the process's peak RSS: the driver's memory).  The graph's tasks,
   no-ops carrying their payloads under their own keys, go to a local scheduler as one
   graph (the survey) and study after study (each waited for, as one command after
   another): the scheduler's time per task and the ratio.  Keep M at the hundreds.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

from faultprobe.config import Cluster, dump_toml, parse_config

CLUSTER = {"kind": "local", "n_workers": 2, "threads_per_worker": 1}


def study_table(folder: Path) -> dict:
    """The small study with a one-run grid (as tests/grid_study.py), simulated once."""
    from faultprobe.catalogs.study import build_catalog
    from faultprobe.synthetic.run import synthesize
    from faultprobe.testing.studies import small_study_table

    table = small_study_table(folder)
    table["selection"] = {"mode": "analyst"}
    table["waveforms"] = {**table["waveforms"], "block_size": 8}
    table["train"] = {"epochs": 1, "width": 0.125, "batch_size": 16, "seeds": [1],
                      "device": "cpu", "threads": 1, "stations": ["IV.NRCA"]}  # fmt: skip
    table["experiments"] = {
        "table1": {"classes": [2], "stations": ["IV.NRCA"]},
        **{g: {"enabled": False} for g in ("false_dates", "bands", "null", "pairs")},
    }
    cfg = parse_config(table)
    synthesize(cfg, parallel=False)
    build_catalog(cfg)
    return table


def configs(folder: Path, table: dict, n: int, tag: str) -> list[str]:
    out = []
    for i in range(n):
        name = f"{tag}-{i:03d}"
        raw = {**table, "study": {**table["study"], "name": name, "store": str(folder / name)}}
        path = folder / f"{name}.toml"
        path.write_text(dump_toml(parse_config(raw)))
        out.append(str(path))
    return out


def survey_of(folder: Path, paths: list[str]):
    from faultprobe.survey.config import StudyEntry, Survey, SurveyOptions

    return Survey(
        survey=SurveyOptions(store=str(folder / "survey-out")),
        cluster=Cluster(**CLUSTER),
        studies=[StudyEntry(config=p) for p in paths],
    )


def one_after_another(paths: list[str]) -> None:
    """Each study as its own command would run it: a cluster each, stage after stage."""
    from faultprobe.cluster.connect import connect
    from faultprobe.config import load_config
    from faultprobe.survey.run import run_study

    for p in paths:
        cfg = load_config(p)
        with connect(Cluster(**CLUSTER)) as client:
            run_study(cfg, client, ["table1"])


def wall(folder: Path, n: int, table: dict) -> None:
    from faultprobe.survey import run_survey

    t0 = time.perf_counter()
    result = run_survey(survey_of(folder, configs(folder, table, n, "one")))
    t_survey = time.perf_counter() - t0
    assert not result.failed, result.failed
    t0 = time.perf_counter()
    one_after_another(configs(folder, table, n, "seq"))
    t_seq = time.perf_counter() - t0
    print(f"{n} sequences: survey on one cluster {t_survey:.1f} s, one after another "
          f"{t_seq:.1f} s, ratio {t_seq / t_survey:.2f}")  # fmt: skip


def noop(*_):
    return None


def plan_stores(folder: Path, table: dict, m: int) -> list[str]:
    """M study configs, each with a store holding the simulated study's events and
    stations tables (file copies: what `faultprobe catalog` would have written)."""
    from faultprobe.store import EVENTS, STATIONS, STUDY_TOML

    base = dict(table)
    base["experiments"] = {"table1": {"classes": [2, 4, 8], "stations": ["IV.NRCA"]}}
    src = Path(table["study"]["store"])
    paths = configs(folder, base, m, "plan")
    for p in paths:
        store = folder / Path(p).stem
        store.mkdir(parents=True, exist_ok=True)
        for name in (EVENTS, STATIONS, STUDY_TOML):
            shutil.copy(src / name, store / name)
    return paths


def plan_graph(paths: list[str]) -> list[list[tuple]]:
    """Per study, the survey's tasks as (key, dependencies, payload): its catalog, one
    ingest task per block (its BlockSpec), then one per grid run (after every block)."""
    from faultprobe.analysis import grid as gridmod
    from faultprobe.config import load_config
    from faultprobe.pipelines.blocks import block_specs
    from faultprobe.pipelines.plan import make_plan
    from faultprobe.store import EVENTS, STATIONS, Store

    out = []
    for i, p in enumerate(paths):
        cfg = load_config(p)
        store = Store(cfg.study.store)
        ingest_plan = make_plan(store.read_table(EVENTS), store.read_table(STATIONS),
                                cfg.waveforms, cfg.stations.network_aliases)  # fmt: skip
        cat = (f"catalog-{i}", (), cfg.study.store)
        blocks = [(f"ingest-{i}-{b.block}", (cat[0],), b) for b in block_specs(ingest_plan)]
        after = tuple(k for k, _, _ in blocks)
        runs = [(f"run-{i}-{r.run_id}", after, r) for r in gridmod.expand(cfg, grids=["table1"])]
        out.append([cat, *blocks, *runs])
    return out


def submit(client, tasks: list[tuple], futures: dict) -> list:
    """Submit tasks whose dependencies are futures already submitted (by key)."""
    new = []
    for key, deps, payload in tasks:
        futures[key] = client.submit(noop, payload, *(futures[d] for d in deps), key=key,
                                     pure=False)  # fmt: skip
        new.append(futures[key])
    return new


def plan(folder: Path, m: int, table: dict | None = None) -> None:
    import resource

    from distributed import Client, LocalCluster, wait

    table = table or study_table(folder / "plan-sim")
    paths = plan_stores(folder, table, m)
    plan_graph(paths[:1])  # imports and the P table's first load: not per sequence
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    graph = plan_graph(paths)
    t_plan, c_plan = time.perf_counter() - t0, time.process_time() - c0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB (Linux): whole process
    n = sum(len(g) for g in graph)
    n_blocks = sum(k.startswith("ingest-") for g in graph for k, _, _ in g)
    n_runs = sum(k.startswith("run-") for g in graph for k, _, _ in g)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:  # fmt: skip
        client.submit(noop, 0, key="warm", pure=False).result()
        t0, c0 = time.perf_counter(), time.process_time()
        futures: dict = {}
        every = [f for g in graph for f in submit(client, g, futures)]  # the survey: one graph
        wait(every)
        t_one, c_one = time.perf_counter() - t0, time.process_time() - c0
        del every, futures
        graph = [[(f"seq-{k}", tuple(f"seq-{d}" for d in deps), x) for k, deps, x in g]
                 for g in graph]  # fmt: skip
        t0, c0 = time.perf_counter(), time.process_time()
        for g in graph:  # the same tasks study after study, each waited for
            wait(submit(client, g, {}))
        t_seq, c_seq = time.perf_counter() - t0, time.process_time() - c0
    rss_end = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{m} sequences planned: {n} tasks ({m} catalogs, {n_blocks} ingest blocks, {n_runs} "
          f"grid runs) in {t_plan:.2f} s ({c_plan:.2f} s CPU, traced); driver peak {peak / 2**20:.1f} MiB traced "
          f"({peak / m / 1024:.0f} KiB per sequence), process peak RSS {rss / 1024:.0f} MiB "
          f"({(rss - rss0) / 1024:.0f} MiB for the plan; {rss_end / 1024:.0f} MiB after scheduling it; "
          "run with --sequences 0 for the plan's own)")  # fmt: skip
    print(f"scheduler (in-process workers: the driver's CPU is the scheduler's and the "
          f"workers'): one graph {1e3 * t_one / n:.2f} ms per task ({t_one:.2f} s wall, "
          f"{c_one:.2f} s CPU), study after study {1e3 * t_seq / n:.2f} ms per task "
          f"({t_seq:.2f} s wall, {c_seq:.2f} s CPU), ratio {t_seq / t_one:.2f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", help="work folder (default: a temporary one, removed)")
    ap.add_argument("--sequences", type=int, default=3, help="studies of the wall test")
    ap.add_argument("--plan", type=int, default=100, help="sequences of the plan test")
    args = ap.parse_args()
    folder = Path(args.folder or tempfile.mkdtemp(prefix="fp-survey-bench-"))
    try:
        table = study_table(folder / "sim")
        if args.sequences:
            wall(folder, args.sequences, table)
        if args.plan:
            plan(folder, args.plan, table)
    finally:
        if not args.folder:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
