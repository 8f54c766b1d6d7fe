"""`faultprobe train` and `faultprobe evaluate`: arguments and handlers.

Kept free of heavy imports at module level so that `faultprobe --help` stays fast; the
work itself is `run_experiment` and `evaluate_run`.
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np

from faultprobe.config import StudyConfig

log = logging.getLogger(__name__)

TRAIN_HELP = (
    "Train the paper's CNN on one station's (or several stations') slice of the cube and "
    "write STORE/runs/RUN_ID/ (spec.json, metrics.json, predictions.parquet, "
    "confusion.parquet, composition.parquet, model.safetensors).  Defaults come from the "
    "config's [train] section; options here override them.  A finished run with the same "
    "spec is read back, not redone; an interrupted one resumes from its checkpoint.  Uses "
    "the GPU and mixed precision when one is present."
)


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--station",
        action="append",
        dest="stations",
        metavar="STA",
        help="station code (STA or NET.STA); repeat for several stations",
    )
    p.add_argument("--classes", type=int, help="number of classes (2, 4, 8, 9, ...)")
    p.add_argument(
        "--labelling",
        choices=["binary", "ttf", "phases", "calendar"],
        help="how events become classes (default from [train]; odd --classes means phases)",
    )
    p.add_argument("--seed", type=int, help="seed (default: the first of [train].seeds)")
    p.add_argument(
        "--all-seeds",
        action="store_true",
        help="one run per seed of [train].seeds, then mean ± std of test accuracy",
    )
    p.add_argument("--false-date", help="a false mainshock time (wrong-date diagnostic)")
    p.add_argument("--shuffle-labels", action="store_true", help="null test: permute labels")
    p.add_argument(
        "--split",
        choices=["temporal", "spread", "blocked"],
        help="temporal: val/test from the middle of each class (the paper); spread: that "
        "layout inside time blocks through each class; blocked: whole blocks dealt out",
    )
    p.add_argument(
        "--fractions",
        type=float,
        nargs=3,
        metavar=("TRAIN", "VAL", "TEST"),
        help="split fractions (default [train].fractions: 0.7 0.2 0.1, the paper's text; "
        "0.7 0.1 0.2 is what its authors' code used)",
    )
    p.add_argument("--purge-s", type=float, help="purge gap around val/test events (s)")
    p.add_argument("--band", type=float, nargs=2, metavar=("LOW", "HIGH"), help="band-pass (Hz)")
    p.add_argument("--epochs", type=int, help="most epochs (default [train].epochs: 40)")
    p.add_argument("--width", type=float, help="filter-count multiplier (1 = the paper's)")
    p.add_argument(
        "--preset",
        choices=["paper", "cpu"],
        default="paper",
        help="paper: the config's model and window; cpu: the narrow model (width 0.25) on "
        "the window -0.5 to 5.5 s around P, tens of times faster on a CPU",
    )
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        help="auto: CUDA when present (default [train].device); on a CPU the expected time "
        "is printed first",
    )
    p.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default [train].threads; 0: $FAULTPROBE_TORCH_THREADS or all "
        "cores); results can differ in the last digits with the thread count",
    )
    p.add_argument("--name", default="", help="a tag added to the run id")
    p.add_argument("--overwrite", action="store_true", help="retrain even if the run exists")


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--station",
        action="append",
        dest="stations",
        metavar="STA",
        help="score on this station's traces instead of the run's (repeat for several)",
    )
    p.add_argument(
        "--labelling",
        choices=["binary", "ttf", "phases", "calendar"],
        help="label the events this way instead of the run's way (same class count)",
    )
    p.add_argument("--false-date", help="label against this mainshock time instead")
    p.add_argument("--true-date", action="store_true", help="label against the real mainshock time")
    p.add_argument(
        "--events",
        choices=["test", "all"],
        default="test",
        help="test: the run's test events (never trained on); all: every usable event",
    )
    p.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="where the model runs"
    )
    p.add_argument("--out", help="write the predictions to this Parquet file")
    p.add_argument(
        "--study",
        metavar="CONFIG",
        help="score on another study's cube (transfer across sequences): its events labelled "
        "against its own mainshock, balanced, brought to the run's rate, window and band",
    )


def train_command(cfg: StudyConfig, args: argparse.Namespace) -> int:
    """Handler of `faultprobe train`: a bad option or station is a `ModelError` (exit 2)."""
    from faultprobe.ml.experiment import result_line, run_experiment
    from faultprobe.ml.spec import spec_from_config, validated
    from faultprobe.store import Store

    spec = spec_from_config(
        cfg,
        stations=args.stations,
        classes=args.classes,
        labelling=args.labelling,
        seed=args.seed,
        false_mainshock=args.false_date,
    )
    upd: dict = {"name": args.name}
    if args.shuffle_labels:
        upd["labelling"] = {**spec.labelling.model_dump(), "shuffle": True}
    if args.band:
        upd["band_hz"] = tuple(args.band)
    fractions = tuple(args.fractions) if args.fractions else None
    split = {
        k: v
        for k, v in (("kind", args.split), ("purge_s", args.purge_s), ("fractions", fractions))
        if v is not None
    }
    if split:
        upd["split"] = {**spec.split.model_dump(), **split}
    training = {
        k: v
        for k, v in (("epochs", args.epochs), ("device", args.device), ("threads", args.threads))
        if v is not None
    }
    if training:
        upd["training"] = {**spec.training.model_dump(), **training}
    if args.preset == "cpu":  # the narrow model on the short window (docs/learning.md)
        from faultprobe.ml.estimate import CPU_PRESET

        upd["model"] = {**spec.model.model_dump(), "width": CPU_PRESET["width"]}
        upd["window_s"] = CPU_PRESET["window_s"]
    if args.width is not None:
        upd["model"] = {**spec.model.model_dump(), "width": args.width}
    spec = validated(type(spec), {**spec.model_dump(), **upd})
    store = Store(cfg.study.store)
    seeds = list(cfg.train.seeds) if args.all_seeds else [spec.seed]
    _log_estimate(store, spec, len(seeds), args.overwrite)
    acc = []
    for seed in seeds:
        run = spec.model_copy(update={"seed": seed})
        result = run_experiment(store, run, overwrite=args.overwrite)
        if result.get("cached"):
            print(f"run {run.run_id} already finished (use --overwrite to retrain)")
        else:
            print(result_line(store, result))
        print(_render_scores(result["test"]))
        acc.append(result["test"]["accuracy"])
    if len(acc) > 1:
        a = np.asarray(acc)
        print(f"test accuracy over seeds {seeds}: {a.mean():.3f} ± {a.std(ddof=1):.3f}")
    return 0


def _log_estimate(store, spec, n_runs: int, overwrite: bool) -> None:
    """On a CPU, the expected training time (and the CPU preset's advice) before starting."""
    from faultprobe.ml.estimate import cpu_advice, estimate_run, needs_estimate
    from faultprobe.ml.runs import METRICS, RunFolder

    if not needs_estimate(spec.training.device):
        return
    if not overwrite and RunFolder(store, spec.run_id).exists(METRICS) and n_runs == 1:
        return
    est = estimate_run(store, spec)
    what = "this run" if n_runs == 1 else f"each of the {n_runs} runs"
    log.warning(est.render(what))  # a warning: training on a CPU is slow, also with -q
    advice = cpu_advice(spec)
    if advice and est.seconds > 600:
        log.warning(advice)


def evaluate_command(args: argparse.Namespace) -> int:
    """Handler of `faultprobe evaluate`."""
    from faultprobe.ml.experiment import evaluate_run
    from faultprobe.ml.runs import run_folder_from_path
    from faultprobe.ml.spec import validated

    folder = run_folder_from_path(args.run)
    spec = folder.spec()
    lab = spec.labelling
    upd: dict = {}
    if args.labelling:
        upd["kind"] = args.labelling
    if args.false_date:
        upd["false_mainshock"] = args.false_date
    if args.true_date:
        upd["false_mainshock"] = None
    if upd:
        lab = validated(type(lab), {**lab.model_dump(), **upd})
    scores, preds = evaluate_run(
        folder,
        stations=tuple(args.stations) if args.stations else None,
        labelling=lab,
        events=args.events,
        device=args.device,
    )
    print(f"run {scores['run_id']} on {'+'.join(scores['stations'])}, {args.events} events")
    print(_render_scores(scores))
    if args.out:
        from faultprobe.columns import to_disk

        to_disk(preds, "predictions.parquet").to_parquet(args.out, index=False)
        log.info(f"predictions: {args.out}")
    return 0


def _render_scores(s: dict) -> str:
    lines = [
        f"accuracy {s['accuracy']:.3f}  balanced accuracy {s['balanced_accuracy']:.3f}  "
        f"on {s['n']} events",
        f"{'class':<16} {'recall':>7} {'precision':>9} {'n':>6}",
    ]
    for c in s["classes"]:
        r, p = s["recall"][c], s["precision"][c]
        lines.append(
            f"{c:<16} {_pct(r):>7} {_pct(p):>9} {s['support'][c]:>6}",
        )
    lines.append("confusion (rows true, columns predicted): " + json.dumps(s["confusion"]))
    return "\n".join(lines)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


PREDICT_HELP = (
    "Class probabilities of a trained run for new traces: miniSEED (or any format ObsPy "
    "reads) in, the run's own preprocessing applied (window around the theoretical P of the "
    "study's velocity model, the study's ingest preprocessing, the run's cut, band and "
    "normalisation), one row per event out.  Events default to those of the run's store "
    "whose windows the files cover."
)


def add_predict_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder: STORE/runs/RUN_ID")
    p.add_argument("files", nargs="+", help="waveform files (miniSEED, SAC, ...)")
    p.add_argument(
        "--events",
        help="events table (Parquet or CSV with the columns of events.parquet: source_id, "
        "source_origin_time, source_latitude_deg, source_longitude_deg, source_depth_km); "
        "default: the run's store's events that the files cover",
    )
    p.add_argument("--inventory", help="StationXML: 1/2 orientation and response removal")
    p.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="where the model runs"
    )
    p.add_argument("--out", help="write the table here (.parquet or .csv) instead of printing it")


def predict_command(args: argparse.Namespace) -> int:
    """Handler of `faultprobe predict`."""
    import pandas as pd

    from faultprobe.ml.inference import predict

    inv = None
    if args.inventory:
        from faultprobe.catalogs.stations import read_stationxml

        inv = read_stationxml(args.inventory, "--inventory", "correct the path")
    table = predict(args.run, args.files, inv, events=args.events, device=args.device)
    if args.out:
        (table.to_csv if args.out.endswith(".csv") else table.to_parquet)(args.out, index=False)
        log.info(f"{len(table)} events: {args.out}")
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(table.to_string(index=False))
    return 0
