"""One handler per sub-command: load the config once, call the stage, print its summary.

Each returns the exit code; stages are imported inside the handlers, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Generator

from faultprobe.cli.errors import EXIT
from faultprobe.config import ConfigError, load_config


@contextlib.contextmanager
def _writing(store: str, args: argparse.Namespace, command: str):
    """Hold the store's lock while a command writes into it."""
    from faultprobe.store import Store

    with Store(store).lock(command, force=getattr(args, "force", False)):
        try:
            yield
        except OSError as err:
            if err.filename is None and err.errno is not None:  # raised in a Dask task, e.g.
                err.filename = store  # by zarr: say where (a message of ours stays)
            raise


def cmd_catalog(args: argparse.Namespace) -> int:
    from faultprobe.catalogs.study import build_catalog

    cfg = load_config(args.config)
    with _writing(cfg.study.store, args, "catalog"):
        summary = build_catalog(cfg, force=args.force, refresh_stations=args.refresh_stations)
    print(summary.render())
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from faultprobe.pipelines.ingest import ingest

    cfg = load_config(args.config)
    if args.plan:
        return _ingest_plan(cfg)
    with _writing(cfg.study.store, args, "ingest"):
        summary = ingest(cfg, retry_failed=args.retry_failed)
    print(summary.render())
    if not summary.complete:
        print(summary.listing(), file=sys.stderr)
        print(f"error: {summary.problem()}", file=sys.stderr)
        return EXIT["incomplete"]
    if summary.nothing_found():
        print(f"error: {summary.nothing_found()}", file=sys.stderr)
        return EXIT["input"]
    return 0


def _ingest_plan(cfg) -> int:
    """`faultprobe ingest --plan`: the request plan and its lower-bound time, nothing fetched."""
    from faultprobe.pipelines.planner import plan_study

    w = cfg.waveforms
    if w.source != "fdsn":
        print(f"waveforms.source = {w.source!r}: nothing is asked of a data centre, no plan")
        return 0
    print(plan_study(cfg.study.store, w, cfg.stations.network_aliases).render())
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from faultprobe.pipelines.info import describe

    print(describe(args.store))
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from faultprobe.synthetic.run import synthesize

    cfg = load_config(args.config)
    if "synthetic" not in cfg.given_sections:
        raise ConfigError(
            f"{args.config}: no [synthetic] section; `faultprobe synth` simulates the sequence "
            "that section describes (see configs/synthetic-norcia.toml and docs/synthetic.md)"
        )
    summary = synthesize(cfg, parallel=not args.serial)
    print(summary.render())
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from faultprobe.ml.commands import train_command

    cfg = load_config(args.config)
    with _writing(cfg.study.store, args, "train"):
        return train_command(cfg, args)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from faultprobe.ml.commands import evaluate_command

    if args.study:
        return _transfer(args)
    return evaluate_command(args)


def _transfer(args: argparse.Namespace) -> int:
    """`faultprobe evaluate RUN --study OTHER`: the run scored on another study's cube."""
    from faultprobe.analysis.transfer import render, transfer_run
    from faultprobe.ml.runs import run_folder_from_path

    others = [
        o for o, v in (("--labelling", args.labelling), ("--false-date", args.false_date),
                       ("--true-date", args.true_date), ("--events", args.events != "test"))
        if v
    ]  # fmt: skip
    if others:
        raise ConfigError(
            f"--study scores every balanced event of the other study against its own "
            f"mainshock; {', '.join(others)} cannot be used with it"
        )
    cfg = load_config(args.study)
    scores, preds = transfer_run(
        run_folder_from_path(args.run),
        cfg,
        stations=tuple(args.stations) if args.stations else None,
        device=args.device,
    )
    print(render(scores))
    if args.out:
        from faultprobe.columns import to_disk

        to_disk(preds, "predictions.parquet").to_parquet(args.out, index=False)
        print(f"predictions: {args.out}", file=sys.stderr)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from faultprobe.ml.commands import predict_command

    return predict_command(args)


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


def cmd_experiments(args: argparse.Namespace) -> int:
    from faultprobe.analysis.experiments import plan_listing, run_experiments

    cfg = load_config(args.config)
    if args.plan:  # lists and stops: nothing is written, no lock taken
        print(plan_listing(cfg, grids=args.grid or None, retry_failed=not args.keep_failed))
        return 0
    with _writing(
        cfg.study.store, args, "experiments"
    ):  # a declined grid is a GridDeclined (exit 2)
        results = run_experiments(
            cfg,
            grids=args.grid or None,
            retry_failed=not args.keep_failed,
            confirm=None if args.yes else (lambda est: _confirm(est, False)),
        )
    ok = int((results["status"] == "ok").sum())
    failed = int((results["status"] == "failed").sum())
    print(f"{ok} runs ok, {failed} failed; results: {cfg.study.store}/results.parquet")
    return 1 if failed else 0


def cmd_track(args: argparse.Namespace) -> int:
    from faultprobe.analysis.tracking import run_tracking

    cfg = load_config(args.config)
    track = {k: v for k, v in (("folds", args.folds), ("seeds", args.seeds)) if v}
    if track:
        cfg = cfg.model_copy(update={"track": cfg.track.model_copy(update=track)})
    with _writing(cfg.study.store, args, "track"):
        results = run_tracking(cfg, args.stations)
    for r in results:
        print(r.render())
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    from faultprobe.config.stages import MonitorSettings
    from faultprobe.monitor.service import monitor_root, run_monitor
    from faultprobe.store import Store

    cfg = load_config(args.config)
    if args.interval is not None:
        cfg = cfg.model_copy(
            update={"monitor": cfg.monitor.model_copy(update={"poll_s": args.interval})}
        )
    with Store(monitor_root(MonitorSettings.of(cfg))).lock("monitor", force=args.force):
        failed = _print_each(run_monitor(cfg, args.model, once=args.once, max_polls=args.polls))
    # --once or --polls: a poll that could not read its events did not do its job
    return EXIT["incomplete"] if failed and (args.once or args.polls) else 0


def _print_each(lines: Generator[str, None, int]) -> int:
    """Print each line a generator yields as it comes (stdout); return what it returns."""
    while True:
        try:
            print(next(lines), flush=True)
        except StopIteration as done:
            return done.value


def cmd_cluster_spec(args: argparse.Namespace) -> int:
    from faultprobe.cluster.spec import render_spec
    from faultprobe.errors import MissingExtra

    cfg = load_config(args.config)
    try:
        text = render_spec(cfg.cluster)
    except MissingExtra as err:  # an optional engine (dask-jobqueue) is missing
        raise ConfigError(f"{args.config}: [cluster] kind {cfg.cluster.kind!r}: {err}") from None
    sys.stdout.write(text)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from faultprobe.analysis.report import write_report

    cfg = load_config(args.config)
    with _writing(cfg.study.store, args, "report"):
        print(f"report: {write_report(cfg)}")
    return 0


def cmd_survey(args: argparse.Namespace) -> int:
    from faultprobe.survey import load_survey, run_survey
    from faultprobe.survey.tables import render

    survey = load_survey(args.survey)
    from faultprobe.survey import loso

    result = run_survey(survey)
    print(render(result.table, result.transfer))
    if not result.loso.empty:
        print(loso.render(result.loso))
    extra = ", loso.parquet" if survey.survey.loso else ""
    print(f"survey tables: {survey.survey.store}/survey.parquet, transfer.parquet{extra}")
    if survey.survey.report:
        print(f"survey report: {survey.survey.store}/report.md (map: sequences.png)")
    for o in result.failed:
        print(f"error: study {o.name or '?'} ({o.config}): {o.error}", file=sys.stderr)
    if result.failed:
        names = ", ".join(o.name or o.config for o in result.failed)
        print(
            f"error: {len(result.failed)} of {len(result.outcomes)} studies failed ({names}); "
            "fix them and run the same command again (finished work is kept)",
            file=sys.stderr,
        )
        return max(o.exit_code for o in result.failed)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from faultprobe.analysis.demo import parse_changes, run_demo

    index = run_demo(args.out, changes=parse_changes(args.set))
    print(f"report: {index}")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from faultprobe.cli.init import init_command

    return init_command(args)


def cmd_export(args: argparse.Namespace) -> int:
    from faultprobe.exports.seisbench import export_seisbench

    summary = export_seisbench(args.store, args.out, stations=args.stations, run=args.run)
    print(summary.render())
    return 0
