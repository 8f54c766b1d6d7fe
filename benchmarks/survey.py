"""A survey on one cluster against the same studies run one after another; the plan at scale.

    python benchmarks/survey.py [--folder DIR] [--sequences 3] [--plan 100]

1. Wall time.  N small simulated studies (the 4-day small study of
   faultprobe.testing.studies, analyst selection, a one-run binary Table 1 grid of a tiny
   CPU model), each with its own store: `faultprobe.survey.run_survey` on one local cluster
   (the studies' catalog, ingest and grid tasks sharing its workers) against the same
   studies driven one after another, each starting its own cluster as N separate commands
   would.  Prints both walls and their ratio.
2. Plan at scale (no training).  M study configs parsed and their grids expanded in the
   driver (tracemalloc peak: the driver's memory per sequence), then one no-op task per
   planned run submitted under the runs' own keys and gathered (the scheduler's overhead
   per task).  Keep M at the hundreds: it is a plan, not a survey.
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
            run_study(cfg, client, ["table1"], lambda m: None)


def wall(folder: Path, n: int) -> None:
    from faultprobe.survey import run_survey

    table = study_table(folder / "sim")
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


def plan(folder: Path, m: int) -> None:
    from distributed import Client, LocalCluster

    from faultprobe.analysis import grid as gridmod
    from faultprobe.testing.studies import small_study_table

    base = small_study_table(folder / "plan-sim")
    base["experiments"] = {"table1": {"classes": [2, 4, 8], "stations": ["IV.NRCA"]}}
    tracemalloc.start()
    t0 = time.perf_counter()
    runs = []
    for i in range(m):
        raw = {**base, "study": {**base["study"], "name": f"p{i}", "store": f"{folder}/p{i}"}}
        cfg = parse_config(raw)
        runs += [(cfg.study.store, r.run_id) for r in gridmod.expand(cfg, grids=["table1"])]
    t_plan = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:  # fmt: skip
        t0 = time.perf_counter()
        futs = [client.submit(noop, s, r, key=f"plan-{i}-{r}", pure=False)
                for i, (s, r) in enumerate(runs)]  # fmt: skip
        client.gather(futs)
        t_sched = time.perf_counter() - t0
    print(f"{m} sequences, {len(runs)} runs planned in {t_plan:.2f} s; driver peak "
          f"{peak / 2**20:.1f} MiB ({peak / m / 1024:.0f} KiB per sequence); scheduler "
          f"{1e3 * t_sched / len(runs):.2f} ms per task")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", help="work folder (default: a temporary one, removed)")
    ap.add_argument("--sequences", type=int, default=3, help="studies of the wall test")
    ap.add_argument("--plan", type=int, default=100, help="sequences of the plan test")
    args = ap.parse_args()
    folder = Path(args.folder or tempfile.mkdtemp(prefix="fp-survey-bench-"))
    try:
        if args.sequences:
            wall(folder, args.sequences)
        if args.plan:
            plan(folder, args.plan)
    finally:
        if not args.folder:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
