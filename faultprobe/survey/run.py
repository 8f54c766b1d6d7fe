"""`faultprobe survey`: every study's stages as tasks of one Dask job, then the tables.

One client on the survey's cluster; each study is driven in a thread of its own through
its stages' top-level functions (catalog, ingest, grids), which submit their tasks to that
client, so the studies' tasks share the workers.  Each study holds its own store's lock
and skips what is finished (the stages' own resumability), so a survey killed in the
middle and run again finishes the rest.  A study that fails is named and the others go on.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from faultprobe.config import StudyConfig, load_config
from faultprobe.errors import FaultprobeError, IncompleteError
from faultprobe.store import EVENTS, STATIONS, STUDY_TOML, Store
from faultprobe.survey.config import StudyEntry, Survey

log = logging.getLogger(__name__)

SURVEY_TABLE, TRANSFER_TABLE = "survey.parquet", "transfer.parquet"


@dataclass(frozen=True)
class Outcome:
    """What became of one study: its config path, name, and the failure (if any)."""

    config: str
    name: str = ""
    error: str = ""
    exit_code: int = 0


@dataclass
class SurveyResult:
    outcomes: list[Outcome]
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    transfer: pd.DataFrame = field(default_factory=pd.DataFrame)
    loso: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.exit_code]


def catalog_done(store: Store) -> bool:
    """The catalog stage wrote its three tables (study.toml last)."""
    return all(store.exists(t) for t in (EVENTS, STATIONS, STUDY_TOML))


def run_study(cfg: StudyConfig, client, grids: list[str]) -> None:
    """A study's stages on the shared client, each skipping what is finished."""
    from faultprobe.analysis.experiments import run_experiments
    from faultprobe.catalogs.study import build_catalog
    from faultprobe.pipelines.ingest import ingest

    name = cfg.study.name
    store = Store(cfg.study.store)
    with store.lock("survey"):
        if not catalog_done(store):
            log.info("%s: catalog", name)
            build_catalog(cfg)
        log.info("%s: ingest", name)
        summary = ingest(cfg, client=client)
        if not summary.complete:
            raise IncompleteError(f"ingest incomplete: {summary.problem()}")
        log.info("%s: grids %s", name, ", ".join(grids))
        results = run_experiments(cfg, client=client, grids=grids)
        failed = int((results["status"] == "failed").sum())
        if failed:
            raise IncompleteError(
                f"{failed} run(s) failed; see the error column of {store.url('results.parquet')}"
            )
        log.info("%s: done", name)


def written_config(entry: StudyEntry) -> None:
    """Write the entry's config from its `init` inputs (`faultprobe init`), once."""
    from faultprobe.derive import InitOptions, derive_study
    from faultprobe.errors import InputError

    if entry.init is None or Path(entry.config).exists():
        return
    try:
        opts = InitOptions(**{**entry.init, "out": entry.config})
    except TypeError as err:
        raise InputError(f"[[studies]] init of {entry.config}: {err}") from None
    result = derive_study(opts)
    result.path.write_text(result.text)
    if result.twin_path:
        result.twin_path.write_text(result.twin_text)
    log.info("%s: written by init", entry.config)
    for w in result.warnings:
        log.warning("%s: %s", entry.config, w)


def _drive(entry: StudyEntry, client, grids: list[str]) -> Outcome:
    """One study from its config file to its results; a failure is an `Outcome`."""
    name, path = "", entry.config
    try:
        written_config(entry)
        cfg = load_config(path)
        name = cfg.study.name
        run_study(cfg, client, grids)
        return Outcome(path, name)
    except FaultprobeError as err:
        return Outcome(path, name, str(err), err.exit_code)
    except Exception as err:  # a bug in one study's run: named, the others go on
        text = f"{type(err).__name__}: {err}"
        log.error("%s: a bug in its run", name or path, exc_info=True)
        return Outcome(path, name, text, 1)


def run_survey(
    survey: Survey,
    *,
    client=None,
) -> SurveyResult:
    """Run every study of the survey on one cluster; write and return its tables."""
    from faultprobe.cluster.connect import connect

    if client is None:
        with connect(survey.cluster) as c:
            return run_survey(survey, client=c)
    opts = survey.survey
    out = Store(opts.store)
    with out.lock("survey"):
        n = opts.parallel or len(survey.studies)
        pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="study")
        try:
            outcomes = list(pool.map(lambda e: _drive(e, client, opts.grids), survey.studies))
        except BaseException:  # Ctrl-C: do not wait for the studies; closing the client
            pool.shutdown(wait=False, cancel_futures=True)  # ends their tasks' waits
            raise
        pool.shutdown()
        from faultprobe.survey.loso import LOSO_TABLE, loso_table
        from faultprobe.survey.report import with_controls, write_report
        from faultprobe.survey.tables import survey_table, transfer_matrix

        done = [o for o in outcomes if not o.exit_code]
        configs = [load_config(o.config) for o in done]
        table = with_controls(survey_table(configs), configs)
        transfer = transfer_matrix(configs, client) if opts.transfer else pd.DataFrame()
        loso = loso_table(configs, client) if opts.loso else pd.DataFrame()
        out.makedirs()
        out.write_table(table, SURVEY_TABLE)
        out.write_table(transfer, TRANSFER_TABLE)
        if opts.loso:
            out.write_table(loso, LOSO_TABLE)
        if opts.report:
            write_report(out, configs, table, transfer, loso)
    return SurveyResult(outcomes, table, transfer, loso)
