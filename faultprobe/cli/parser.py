"""The sub-commands, their options and help texts (`faultprobe --help`)."""

from __future__ import annotations

import argparse

from faultprobe import __version__
from faultprobe.cli import commands

DESCRIPTION = """\
faultprobe learns to tell the seismic waves of small earthquakes before a large
mainshock from those after it (Laurenti et al., 2024), and turns that into a tool:
catalog selection, distributed waveform acquisition into a Zarr cube, training, and
every diagnostic of the paper as parallel Dask tasks.

A study is described by one TOML file (see configs/). The usual order is:

  faultprobe init --quakeml MAINSHOCK.xml --catalog CAT --inventory STATIONS.xml
                                 derive a commented study config from a mainshock
  faultprobe synth CONFIG        simulate a sequence (offline default; real formats)
  faultprobe catalog CONFIG      select events -> events.parquet, stations.parquet
  faultprobe ingest CONFIG       waveforms -> waveforms.zarr, traces.parquet
  faultprobe train CONFIG ...    train the CNN on one station
  faultprobe experiments CONFIG  run the paper's diagnostics as a grid
  faultprobe track CONFIG        the fault state through the cycle (index, change points)
  faultprobe monitor CONFIG --model RUN   score new events as they arrive
  faultprobe report CONFIG       write report/index.html

and with what a study made:

  faultprobe predict RUN FILES   a trained run's probabilities for new miniSEED
  faultprobe export --format seisbench STORE OUT   the cube as a SeisBench dataset

or all of it on a small synthetic sequence: faultprobe demo.  Waveforms and events can
also come from a SeisBench dataset (INSTANCE) or the paper's released data
(configs/laurenti2024-data.toml).

On a batch system or Kubernetes only the config's [cluster] section changes;
`faultprobe cluster-spec CONFIG` prints what it would submit (docs/hpc.md, docs/cloud.md).

Messages and progress bars go to stderr, results to stdout; -q (before or after COMMAND)
keeps only warnings and errors and no bars, -v adds debug lines.

Exit codes: 0 done; 1 finished but incomplete (run the same command again); 2 bad input or
config; 3 a web service could not be used; 4 the store is locked by another command;
5 the disk is full or not writable; 130 interrupted. An expected failure is one line on
stderr; anything else is a bug and shows its traceback (please report it). --debug shows
the traceback of an expected failure too.
"""


DEBUG_HELP = "show the traceback of an expected failure too, not only its one line"


def _add_config(p: argparse.ArgumentParser, writes: bool = True) -> None:
    p.add_argument("config", help="study config file (TOML), e.g. configs/synthetic-norcia.toml")
    if writes:
        p.add_argument(
            "--force",
            action="store_true",
            help="take over the store's lock when its holder cannot be checked (another host)"
            + (FORCE_MORE.get(p.prog.split()[-1], "")),
        )


FORCE_MORE = {
    "catalog": "; and select again on a store that already holds an ingest (an ingest built "
    "from another selection is removed)",
}


def _output(p: argparse.ArgumentParser, default=False) -> None:
    """-v/-q: on the top-level parser and, as aliases, after every sub-command."""
    p.add_argument("-v", "--verbose", action="store_true", default=default, help="also debug lines")
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="warnings and errors only, no progress bars",
    )


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help=DEBUG_HELP,
    )
    _output(p, default=argparse.SUPPRESS)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="faultprobe",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"faultprobe {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    _output(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = [_common()]

    from faultprobe.cli.init import INIT_HELP, add_init_arguments

    p = sub.add_parser(
        "init",
        parents=common,
        help="derive a commented study config from a mainshock, a catalog and stations",
        description=INIT_HELP,
    )
    add_init_arguments(p)
    p.set_defaults(handler=commands.cmd_init)

    p = sub.add_parser(
        "catalog",
        parents=common,
        help="read the catalog, select the study's events, write events/stations Parquet",
        description=(
            "Read the earthquake catalog named in the config (Tan et al. 2021 text, QuakeML, "
            "FDSN text or CSV), keep events near the fault segment, deep enough, large enough, "
            "inside the study window and box, and isolated in time from every other catalog "
            "event; label each pre/post (and extra phases) with its time to the mainshock. "
            "Writes events.parquet, stations.parquet and study.toml into the store and prints "
            "counts by phase and month and what was rejected and why. Station metadata from an "
            "FDSN station service is saved as STORE/stations.xml the first time and reused "
            "without the network afterwards. On a store that already holds an ingest it "
            "refuses unless --force."
        ),
    )
    _add_config(p)
    p.add_argument(
        "--refresh-stations",
        action="store_true",
        help="ask the FDSN station service again instead of using STORE/stations.xml",
    )
    p.set_defaults(handler=commands.cmd_catalog)

    p = sub.add_parser(
        "synth",
        parents=common,
        help="simulate a sequence and write catalog, StationXML, SDS",
        description=(
            "Simulate the study's earthquake sequence from its [synthetic] section "
            "(docs/synthetic.md) and write, into synthetic.output: a Tan et al. (2021) catalog "
            "(catalog.txt; catalog.xml QuakeML on request), a StationXML inventory "
            "(stations.xml), an SDS archive of Steim2 miniSEED (sds/) and the truth tables "
            "(truth.parquet, paths.parquet). Same config and seed, same bytes."
        ),
    )
    _add_config(p, writes=False)
    p.add_argument(
        "--serial", action="store_true", help="write in this process instead of Dask tasks"
    )
    p.set_defaults(handler=commands.cmd_synth)

    p = sub.add_parser(
        "ingest",
        parents=common,
        help="fetch and cut waveforms into waveforms.zarr",
        description=(
            "Cut a window around the theoretical P arrival (1-D model) of every event at every "
            "station from an SDS archive, FDSN web services or the simulator, preprocess it and "
            "write waveforms.zarr and traces.parquet, one Dask task per block of events. "
            "Interrupted, the same command finishes the job (finished blocks are kept). "
            "An FDSN service is probed first (a clear error if it cannot be used); windows "
            "that fail transiently (service down, time-outs, 5xx) leave the store incomplete "
            "with exit code 1, and the next run fetches exactly those. Blocks built from other "
            "inputs (StationXML, archive root, preprocessing) are redone. See docs/ingest.md "
            "for every failure and what the next run does."
        ),
    )
    _add_config(p)
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="also ask again for windows that failed permanently (no data, bad records, "
        "wrong data, non-finite samples)",
    )
    p.add_argument(
        "--plan",
        action="store_true",
        help="print the request plan (event-window bulks or station-days, bulk size, "
        "requests, bytes, lower-bound time under the data centre's limits) and fetch nothing",
    )
    p.set_defaults(handler=commands.cmd_ingest)

    p = sub.add_parser(
        "info",
        parents=common,
        help="print what a study store holds",
        description=(
            "Print what a study store holds: events by phase, stations, trace statuses per "
            "station, the cube's shape, chunking and codec, and sizes on disk."
        ),
    )
    p.add_argument("store", help="study store folder or URL")
    p.set_defaults(handler=commands.cmd_info)

    p = sub.add_parser(
        "export",
        parents=common,
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
    p.set_defaults(handler=commands.cmd_export)

    from faultprobe.ml.commands import (
        PREDICT_HELP,
        TRAIN_HELP,
        add_evaluate_arguments,
        add_predict_arguments,
        add_train_arguments,
    )

    p = sub.add_parser(
        "train",
        parents=common,
        help="train the CNN on one station's slice of the cube",
        description=TRAIN_HELP,
    )
    _add_config(p)
    add_train_arguments(p)
    p.set_defaults(handler=commands.cmd_train)

    p = sub.add_parser(
        "evaluate",
        parents=common,
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
    p.set_defaults(handler=commands.cmd_evaluate)

    p = sub.add_parser(
        "predict",
        parents=common,
        help="a trained run's class probabilities for new traces",
        description=PREDICT_HELP,
    )
    add_predict_arguments(p)
    p.set_defaults(handler=commands.cmd_predict)

    p = sub.add_parser(
        "experiments",
        parents=common,
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
        choices=["table1", "false_dates", "bands", "seasonality", "null", "pairs", "controls"],
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
    p.set_defaults(handler=commands.cmd_experiments)

    p = sub.add_parser(
        "track",
        parents=common,
        help="the fault state through the cycle: cross-fitted scores, index, change points",
        description=(
            "Score every event of the study with a model that never saw it nor its "
            "neighbours in time: the station's events are cut into [track] folds (equal-count "
            "time blocks); for each fold and seed a Dask task trains the CNN ([train] options) "
            "on the other folds, leaving out events within purge_s of the fold, and gives each "
            "of the fold's events its class probabilities, expected time to the mainshock and "
            "its post log-odds against the model's own calibration median. From these: the "
            "fault-state index (post-like fraction per window, bootstrap band, exact chance "
            "band) and its change points (ruptures). Writes STORE/tracking/NET.STA/ "
            "(events.parquet, index.parquet, changepoints.parquet, summary.json); finished "
            "folds are kept. See docs/tracking.md."
        ),
    )
    _add_config(p)
    p.add_argument(
        "--station",
        action="append",
        dest="stations",
        metavar="STA",
        help="station (STA or NET.STA); repeatable; default: [track] stations, else the "
        "first station and the far ones",
    )
    p.add_argument("--folds", type=int, help="time blocks (default [track].folds)")
    p.add_argument(
        "--seed", action="append", type=int, dest="seeds", help="seed (repeatable; default "
        "[track].seeds, else [train].seeds)"
    )  # fmt: skip
    p.set_defaults(handler=commands.cmd_track)

    p = sub.add_parser(
        "monitor",
        parents=common,
        help="score new events as their data arrive and follow the fault-state index",
        description=(
            "Follow a study as it goes on: every poll reads the catalog again ([monitor] "
            "events: the [catalog] file, or an FDSN event service), keeps the new events that "
            "pass the study's selection, cuts and preprocesses their windows from the "
            "configured waveform source as the ingest does, appends them to a monitoring cube "
            "(the study cube's schema, growing along the event axis), scores them with the "
            "trained run (faultprobe predict) and updates the fault-state index. A line is "
            "printed and written to monitor.parquet when the index crosses [monitor] threshold "
            "or a change point appears. Events whose waveforms have not all arrived wait for "
            "the next poll. Stopped at any moment (Ctrl-C, SIGTERM, a crash), the next start "
            "neither skips nor repeats an event. The monitoring store ([monitor] store, "
            "default STORE/monitor) has its own lock, so the study store stays usable. "
            "See docs/monitoring.md."
        ),
    )
    _add_config(p)
    p.add_argument("--model", required=True, metavar="RUN", help="trained run: STORE/runs/RUN_ID")
    p.add_argument("--once", action="store_true", help="one poll, then exit (cron, batch jobs)")
    p.add_argument("--polls", type=int, metavar="N", help="stop after N polls")
    p.add_argument("--interval", type=float, metavar="S", help="seconds between polls "
                   "(default [monitor].poll_s)")  # fmt: skip
    p.set_defaults(handler=commands.cmd_monitor)

    p = sub.add_parser(
        "cluster-spec",
        parents=common,
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
    p.set_defaults(handler=commands.cmd_cluster_spec)

    p = sub.add_parser(
        "report",
        parents=common,
        help="write report/index.html with tables and figures",
        description=(
            "Write STORE/report/index.html and its PNG figures: the map (events, fault, study "
            "box, mainshock, stations), event counts, Table 1 with confusion matrices, the "
            "wrong-date table and figure, frequency bands, null tests, seasonality, the pair "
            "spectra and every finished run in the store (from train and from experiments)."
        ),
    )
    _add_config(p)
    p.set_defaults(handler=commands.cmd_report)

    p = sub.add_parser(
        "survey",
        parents=common,
        help="run many studies as one Dask job and compare them",
        description=(
            "Run every study a survey file lists (catalog, ingest, the grids of [survey] "
            "grids) as tasks of one Dask job on the survey's [cluster], each into its own "
            "store, skipping what is finished; then write SURVEY_STORE/survey.parquet (one "
            "row per sequence x station: pooled accuracy, exact 95% interval, verdict) and "
            "transfer.parquet (each study's binary run scored on every other study's cube). "
            "A study that fails is named and the others finish (exit non-zero). "
            "docs/sequences.md."
        ),
    )
    p.add_argument("survey", help="survey file (TOML): [survey], [cluster], [[studies]]")
    p.set_defaults(handler=commands.cmd_survey)

    p = sub.add_parser(
        "demo",
        parents=common,
        help="the whole method on a small synthetic sequence",
        description=(
            "Simulate a small sequence with a strong fault-zone change (about 30 times the "
            "realistic configs/synthetic-norcia.toml: the demo says so), then select, ingest, "
            "run a small grid of the paper's diagnostics with the CPU preset and write the "
            "report, in OUT."
        ),
    )
    p.add_argument("--out", default="faultprobe-demo", help="output folder")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one demo setting: a dotted config key and a TOML value, e.g. "
        "--set train.epochs=2 (repeatable; applied after the demo's own changes)",
    )
    p.set_defaults(handler=commands.cmd_demo)
    return parser
