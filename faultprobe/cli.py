"""The `faultprobe` command line: one sub-command per stage of a study.

Each handler parses nothing itself beyond its arguments: it loads the study config once
(`faultprobe.config.load_config`) and hands typed objects to the stage's functions.
"""

from __future__ import annotations

import argparse
import sys

from faultprobe import __version__
from faultprobe.cluster.connect import ClusterError
from faultprobe.config import ConfigError, load_config

DESCRIPTION = """\
faultprobe learns to tell the seismic waves of small earthquakes before a large
mainshock from those after it (Laurenti et al., 2024), and turns that into a tool:
catalog selection, distributed waveform acquisition into a Zarr cube, training, and
every diagnostic of the paper as parallel Dask tasks.

A study is described by one TOML file (see configs/). The usual order is:

  faultprobe synth CONFIG        simulate a sequence (offline default; real formats)
  faultprobe catalog CONFIG      select events -> events.parquet, stations.parquet
  faultprobe ingest CONFIG       waveforms -> waveforms.zarr, traces.parquet
  faultprobe train CONFIG ...    train the CNN on one station
  faultprobe experiments CONFIG  run the paper's diagnostics as a grid
  faultprobe report CONFIG       write report/index.html

or all of it on a small synthetic sequence: faultprobe demo

On a batch system or Kubernetes only the config's [cluster] section changes;
`faultprobe cluster-spec CONFIG` prints what it would submit (docs/hpc.md, docs/cloud.md).
"""


def _cmd_catalog(args: argparse.Namespace) -> int:
    from faultprobe.catalogs.study import build_catalog

    cfg = load_config(args.config)
    summary = build_catalog(cfg, progress=not args.quiet)
    print(summary.render())
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from faultprobe.pipelines.ingest import IngestError, ingest

    cfg = load_config(args.config)
    try:
        summary = ingest(cfg, progress=not args.quiet)
    except IngestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(summary.render())
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from faultprobe.pipelines.info import describe

    print(describe(args.store))
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from faultprobe.synthetic.run import synthesize

    cfg = load_config(args.config)
    summary = synthesize(cfg, progress=not args.quiet, parallel=not args.serial)
    print(summary.render())
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from faultprobe.ml.commands import train_command

    return train_command(load_config(args.config), args)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from faultprobe.ml.commands import evaluate_command

    return evaluate_command(args)


def _confirm(estimate, yes: bool) -> bool:
    """Go ahead under an hour, with --yes, or when the user says so at a terminal."""
    from faultprobe.analysis.estimate import ASK_ABOVE_S

    if yes or estimate.wall_s <= ASK_ABOVE_S:
        return True
    hours = estimate.wall_s / 3600
    if not sys.stdin.isatty():
        print(
            f"error: the grid is estimated at {hours:.1f} h (above 1 h); run again with --yes "
            "to start it, or --plan to see the runs",
            file=sys.stderr,
        )
        return False
    answer = input(f"the grid is estimated at {hours:.1f} h; start it? [y/N] ")
    return answer.strip().lower() in {"y", "yes"}


def _cmd_experiments(args: argparse.Namespace) -> int:
    from faultprobe.analysis.experiments import GridDeclined, run_experiments

    cfg = load_config(args.config)
    try:
        results = run_experiments(
            cfg,
            progress=not args.quiet,
            grids=args.grid or None,
            retry_failed=not args.keep_failed,
            plan_only=args.plan,
            confirm=None if args.yes else (lambda est: _confirm(est, False)),
        )
    except GridDeclined as err:
        print(f"experiments: {err}", file=sys.stderr)
        return 1
    if args.plan:
        return 0
    ok = int((results["status"] == "ok").sum())
    failed = int((results["status"] == "failed").sum())
    print(f"{ok} runs ok, {failed} failed; results: {cfg.study.store}/results.parquet")
    return 1 if failed else 0


def _cmd_cluster_spec(args: argparse.Namespace) -> int:
    from faultprobe.cluster.spec import render_spec

    cfg = load_config(args.config)
    try:
        text = render_spec(cfg.cluster)
    except RuntimeError as err:  # an optional engine (dask-jobqueue) is missing
        print(f"error: {args.config}: [cluster] kind {cfg.cluster.kind!r}: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from faultprobe.analysis.report import write_report

    print(f"report: {write_report(load_config(args.config))}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from faultprobe.analysis.demo import run_demo

    index = run_demo(args.out, progress=not args.quiet)
    print(f"report: {index}")
    return 0


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="study config file (TOML), e.g. configs/synthetic-norcia.toml")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faultprobe",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"faultprobe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "catalog",
        help="read the catalog, select the study's events, write events/stations Parquet",
        description=(
            "Read the earthquake catalog named in the config (Tan et al. 2021 text, QuakeML, "
            "FDSN text or CSV), keep events near the fault segment, deep enough, large enough, "
            "inside the study window and box, and isolated in time from every other catalog "
            "event; label each pre/post (and extra phases) with its time to the mainshock. "
            "Writes events.parquet, stations.parquet and study.toml into the store and prints "
            "counts by phase and month and what was rejected and why."
        ),
    )
    _add_config(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(handler=_cmd_catalog)

    p = sub.add_parser(
        "synth",
        help="simulate a sequence and write catalog, StationXML, SDS",
        description=(
            "Simulate the study's earthquake sequence from its [synthetic] section "
            "(docs/synthetic.md) and write, into synthetic.output: a Tan et al. (2021) catalog "
            "(catalog.txt; catalog.xml QuakeML on request), a StationXML inventory "
            "(stations.xml), an SDS archive of Steim2 miniSEED (sds/) and the truth tables "
            "(truth.parquet, paths.parquet). Same config and seed, same bytes."
        ),
    )
    _add_config(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument(
        "--serial", action="store_true", help="write in this process instead of Dask tasks"
    )
    p.set_defaults(handler=_cmd_synth)

    p = sub.add_parser(
        "ingest",
        help="fetch and cut waveforms into waveforms.zarr",
        description=(
            "Cut a window around the theoretical P arrival (1-D model) of every event at every "
            "station from an SDS archive, FDSN web services or the simulator, preprocess it and "
            "write waveforms.zarr and traces.parquet, one Dask task per block of events. "
            "Interrupted, the same command finishes the job (finished blocks are kept)."
        ),
    )
    _add_config(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_ingest)

    p = sub.add_parser("info", help="print what a study store holds")
    p.add_argument("store", help="study store folder or URL")
    p.set_defaults(handler=_cmd_info)

    from faultprobe.ml.commands import TRAIN_HELP, add_evaluate_arguments, add_train_arguments

    p = sub.add_parser(
        "train", help="train the CNN on one station's slice of the cube", description=TRAIN_HELP
    )
    _add_config(p)
    add_train_arguments(p)
    p.set_defaults(handler=_cmd_train)

    p = sub.add_parser("evaluate", help="score a trained run on a labelling and station")
    p.add_argument("run", help="run folder: STORE/runs/RUN_ID")
    add_evaluate_arguments(p)
    p.set_defaults(handler=_cmd_evaluate)

    p = sub.add_parser(
        "experiments",
        help="run the study's experiment grids as Dask tasks",
        description=(
            "Expand the config's [experiments] grids (Table 1, wrong mainshock dates, "
            "frequency bands, seasonality, null tests) into runs and execute them as Dask "
            "tasks, one run per task (one GPU per run on GPU workers); finished runs are "
            "skipped, failed runs recorded; then the co-located pair spectra. Rows go to "
            "results.parquet. See docs/diagnostics.md."
        ),
    )
    _add_config(p)
    p.add_argument(
        "--grid",
        action="append",
        choices=["table1", "false_dates", "bands", "seasonality", "null", "pairs"],
        help="run only this grid (repeatable)",
    )
    p.add_argument("--keep-failed", action="store_true", help="do not retry failed runs")
    p.add_argument(
        "--plan",
        action="store_true",
        help="list the pending runs with estimated times (a short calibration on the "
        "workers) and stop",
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help="start without estimating and without asking (otherwise a grid estimated above "
        "one hour asks first, or stops where nobody can answer)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(handler=_cmd_experiments)

    p = sub.add_parser(
        "cluster-spec",
        help="print what the [cluster] section submits (Kubernetes YAML, batch job script)",
        description=(
            "Print the resources the config's [cluster] section starts, without starting "
            "anything: for kind 'kubernetes' the dask-kubernetes operator's DaskCluster (and "
            "DaskAutoscaler with [cluster.adapt]) as YAML, ready for `kubectl apply -f -`; "
            "for 'slurm' and 'pbs' the batch script of one worker job (dask-jobqueue). "
            "Object-store credentials appear only as the name of a Kubernetes Secret. "
            "See docs/hpc.md and docs/cloud.md."
        ),
    )
    _add_config(p)
    p.set_defaults(handler=_cmd_cluster_spec)

    p = sub.add_parser("report", help="write report/index.html with tables and figures")
    _add_config(p)
    p.set_defaults(handler=_cmd_report)

    p = sub.add_parser("demo", help="the whole method on a small synthetic sequence")
    p.add_argument("--out", default="faultprobe-demo", help="output folder")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    try:
        return args.handler(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ClusterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
