"""The `faultprobe` command line: one sub-command per stage of a study.

Each handler parses nothing itself beyond its arguments: it loads the study config once
(`faultprobe.config.load_config`) and hands typed objects to the stage's functions.
"""

from __future__ import annotations

import argparse
import sys

from faultprobe import __version__
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

and with what a study made:

  faultprobe predict RUN FILES   a trained run's probabilities for new miniSEED
  faultprobe export --format seisbench STORE OUT   the cube as a SeisBench dataset

or all of it on a small synthetic sequence: faultprobe demo.  Waveforms and events can
also come from a SeisBench dataset (INSTANCE) or the paper's released data
(configs/laurenti2024-data.toml).
"""


def _cmd_catalog(args: argparse.Namespace) -> int:
    from faultprobe.catalogs.datasets import DatasetError
    from faultprobe.catalogs.readers import CatalogError
    from faultprobe.catalogs.stations import StationError
    from faultprobe.catalogs.study import build_catalog

    cfg = load_config(args.config)
    try:
        summary = build_catalog(cfg, progress=not args.quiet)
    except (CatalogError, StationError, DatasetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
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


def _cmd_predict(args: argparse.Namespace) -> int:
    from faultprobe.ml.commands import predict_command

    return predict_command(args)


def _cmd_experiments(args: argparse.Namespace) -> int:
    from faultprobe.analysis.experiments import run_experiments

    cfg = load_config(args.config)
    results = run_experiments(
        cfg, progress=not args.quiet, grids=args.grid or None, retry_failed=not args.keep_failed
    )
    ok = int((results["status"] == "ok").sum())
    failed = int((results["status"] == "failed").sum())
    print(f"{ok} runs ok, {failed} failed; results: {cfg.study.store}/results.parquet")
    return 1 if failed else 0


def _cmd_report(args: argparse.Namespace) -> int:
    from faultprobe.analysis.report import write_report

    print(f"report: {write_report(load_config(args.config))}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from faultprobe.analysis.demo import run_demo

    index = run_demo(args.out, progress=not args.quiet)
    print(f"report: {index}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from faultprobe.exports.seisbench import export_seisbench

    summary = export_seisbench(args.store, args.out, stations=args.stations, run=args.run)
    print(summary.render())
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

    p = sub.add_parser(
        "info",
        help="print what a study store holds",
        description=(
            "Print what a study store holds: events by phase, stations, trace statuses per "
            "station, the cube's shape, chunking and codec, and sizes on disk."
        ),
    )
    p.add_argument("store", help="study store folder or URL")
    p.set_defaults(handler=_cmd_info)

    p = sub.add_parser(
        "export",
        help="write the cube in another tool's format (a SeisBench dataset)",
        description=(
            "Write the ok traces of a study's cube as a SeisBench dataset (metadata.csv + "
            "waveforms.hdf5) that seisbench.data.WaveformDataset opens and that `faultprobe "
            'ingest` reads back with waveforms.source = "seisbench". Metadata in SeisBench\'s '
            "names: trace_start_time, trace_p_arrival_sample, trace_sampling_rate_hz, "
            "trace_component_order, station_*, source_*, and the split of a run."
        ),
    )
    p.add_argument("--format", choices=["seisbench"], default="seisbench", help="output format")
    p.add_argument("store", help="study store folder or URL")
    p.add_argument("out", help="output folder (created)")
    p.add_argument(
        "--station",
        action="append",
        dest="stations",
        metavar="STA",
        help="station code (STA or NET.STA); repeat for several (default: all)",
    )
    p.add_argument(
        "--run",
        help="run folder STORE/runs/RUN_ID whose train/val/test events fill the split column "
        "(train, dev, test)",
    )
    p.set_defaults(handler=_cmd_export)

    from faultprobe.ml.commands import (
        PREDICT_HELP,
        TRAIN_HELP,
        add_evaluate_arguments,
        add_predict_arguments,
        add_train_arguments,
    )

    p = sub.add_parser(
        "train", help="train the CNN on one station's slice of the cube", description=TRAIN_HELP
    )
    _add_config(p)
    add_train_arguments(p)
    p.set_defaults(handler=_cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="score a trained run on a labelling and station",
        description=(
            "Score a trained run (STORE/runs/RUN_ID) on its own test events or on every usable "
            "event, with its own labels or another labelling (e.g. the true date for a "
            "wrong-date run) and at its own or another station; prints accuracy, recall, "
            "precision and the confusion matrix."
        ),
    )
    p.add_argument("run", help="run folder: STORE/runs/RUN_ID")
    add_evaluate_arguments(p)
    p.set_defaults(handler=_cmd_evaluate)

    p = sub.add_parser(
        "predict",
        help="a trained run's class probabilities for new traces",
        description=PREDICT_HELP,
    )
    add_predict_arguments(p)
    p.set_defaults(handler=_cmd_predict)

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
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(handler=_cmd_experiments)

    p = sub.add_parser(
        "report",
        help="write report/index.html with tables and figures",
        description=(
            "Write STORE/report/index.html and its PNG figures: the map (events, fault, study "
            "box, mainshock, stations), event counts, Table 1 with confusion matrices, the "
            "wrong-date table and figure, frequency bands, null tests, seasonality, the pair "
            "spectra and every finished run in the store (from train and from experiments)."
        ),
    )
    _add_config(p)
    p.set_defaults(handler=_cmd_report)

    p = sub.add_parser(
        "demo",
        help="the whole method on a small synthetic sequence",
        description=(
            "Simulate a small sequence with a strong fault-zone change (about 30 times the "
            "realistic configs/synthetic-norcia.toml: the demo says so), then select, ingest, "
            "run a small grid of the paper's diagnostics with the CPU preset and write the "
            "report, in OUT."
        ),
    )
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


if __name__ == "__main__":
    raise SystemExit(main())
