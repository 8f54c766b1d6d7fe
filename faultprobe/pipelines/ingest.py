"""`faultprobe ingest`: events x stations -> waveforms.zarr and traces.parquet, on Dask.

The driver checks the source first (the archive root exists; an FDSN service answers one
probe), plans once (P times, blocks), writes the cube template once, then runs one Dask task
per unfinished block. A task fetches its windows, preprocesses them as one batch, writes its
own event-axis chunks of the cube (no locks: nobody else owns them), writes its rows of
traces.parquet and finally its ledger marker, which records what the block was built from.
Killed at any point, the same command skips the finished blocks and redoes the others whole;
blocks built from other inputs (another StationXML, archive root or preprocessing) are
redone; windows that failed transiently (status `transient`: the service was down, slow or
refusing) are asked again, alone, and only their chunks are rewritten; `retry_failed`
re-asks the permanent failures too. At the end the parts are compacted, every block and
chunk is checked, and the metadata is consolidated; the store is declared complete only
when no window is left transient.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass, field, replace

import pandas as pd

from faultprobe import progress
from faultprobe.config import DATASET_SOURCES, Cluster, StudyConfig
from faultprobe.config.stages import IngestSettings
from faultprobe.pipelines import compaction, cube, ledger
from faultprobe.pipelines.blocks import (
    BlockSpec,
    block_specs,
    make_source,
    process_block,
    retry_block,
    retry_statuses,
    run_block,
)
from faultprobe.pipelines.errors import IngestError, ServiceUnavailable
from faultprobe.pipelines.inputs import RunInfo, changed, inputs_of, run_info
from faultprobe.pipelines.placement import PSource, place, placed_by_picks
from faultprobe.pipelines.plan import Plan, PlanError, make_plan
from faultprobe.pipelines.sources import Source
from faultprobe.pipelines.status import Failure, Status
from faultprobe.store import CUBE, EVENTS, STATIONS, Store

MAX_LISTED = 10
log = logging.getLogger(__name__)


@dataclass
class Summary:
    """What an ingest run did, for the command line."""

    store: str
    n_events: int
    n_stations: int
    n_blocks: int
    ran: int
    skipped: int
    status_counts: dict[str, int]
    codec: str
    seconds: float
    complete: bool = True
    retried: int = 0
    stale: int = 0
    transient: pd.DataFrame = field(default_factory=pd.DataFrame)
    no_response: list[str] = field(default_factory=list)  # channels the StationXML lacks
    stationxml: str | None = None

    def render(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.status_counts.items() if v)
        extra = ""
        if self.retried:
            extra += f"; {self.retried} blocks with windows asked again"
        if self.stale:
            extra += f"; {self.stale} stale blocks redone"
        return (
            f"waveforms.zarr in {self.store}: {self.n_events} events x {self.n_stations} stations, "
            f"{self.n_blocks} blocks ({self.ran} run now, {self.skipped} already done{extra}) in "
            f"{self.seconds:.1f} s; codec {self.codec}\ntraces: {counts}"
        )

    def problem(self) -> str | None:
        """One line for an incomplete store: how many windows, which service, the last error."""
        tr = self.transient
        if not len(tr):
            return None
        reasons = tr["reason"].astype(str)
        asked = reasons[~reasons.str.contains(": not asked, ", regex=False)]
        last = (asked if len(asked) else reasons).iloc[-1]
        stopped = " (then the circuit breaker stopped asking)" if len(asked) < len(tr) else ""
        return (
            f"{len(tr)} windows failed transiently; last error: {last}{stopped}; the store is "
            "not complete: run `faultprobe ingest` again to fetch exactly those windows"
        )

    def nothing_found(self) -> str | None:
        """One line when no window got any samples: the source is not what the config says;
        or when none is usable and the StationXML lacks responses: it says so."""
        total = sum(self.status_counts.values())
        if total and self.no_response and not self.status_counts.get(Status.OK.label, 0):
            shown = ", ".join(self.no_response[:6])
            more = f" and {len(self.no_response) - 6} more" if len(self.no_response) > 6 else ""
            return (
                f"none of the {total} windows could be used: the StationXML {self.stationxml} "
                f"has no instrument response for {shown}{more} (needed by [waveforms] "
                "remove_response = true); add the responses to it, or set remove_response = "
                "false, then run `faultprobe ingest` again"
            )
        empty = [
            s.label for s in (Status.NO_DATA, Status.ERROR, Status.WRONG_DATA, Status.TRANSIENT)
        ]
        if not total or sum(self.status_counts.get(k, 0) for k in empty) < total:
            return None
        top = max(empty, key=lambda k: self.status_counts.get(k, 0))
        return (
            f"none of the {total} windows got any samples (mostly {top}); check the source in "
            "[waveforms] (sds_root, fdsn) and the station codes; traces.parquet says why per window"
        )

    def listing(self) -> str:
        tr = self.transient
        rows = [
            f"  {r.source_id} {r.station_network_code}.{r.station_code}"
            for r in tr.head(MAX_LISTED).itertuples()
        ]
        if len(tr) > MAX_LISTED:
            rows.append(f"  … {len(tr) - MAX_LISTED} more (status 'transient' in traces.parquet)")
        return "\n".join(["windows to fetch again:", *rows])


def check_source(job: IngestSettings, info: RunInfo) -> Source | None:
    """Before anything runs: the archive root exists, or the FDSN service answers a probe.

    Returns the driver's FDSN source (its limiter counts the probe), else None.
    """
    w = job.waveforms
    where = f" in {job.source_path}" if job.source_path else ""
    if w.source == "sds":
        if not os.path.isdir(w.sds_root):
            raise IngestError(
                f"waveforms.sds_root = {w.sds_root} does not exist or is not a folder; mount the "
                f"archive or correct the path{where}"
            )
        return None
    if w.source != "fdsn":
        return None
    from faultprobe.pipelines.fdsn import ServiceDown, ServiceError, base_url, probe

    try:
        source = make_source(job, replace(info, run=f"{info.run}-driver"))
        t0 = time.perf_counter()
        log.info(f"checking the FDSN service {base_url(w.fdsn)} …")
        version = probe(w.fdsn, w.request_timeout_s, source.limiter, w.eida_token)
    except ServiceDown as err:
        raise ServiceUnavailable(str(err)) from None
    except ServiceError as err:
        raise IngestError(str(err)) from None
    log.info(f"  dataselect {version} answers ({time.perf_counter() - t0:.2f} s)")
    return source


def _prepare(
    job: IngestSettings,
    store: Store,
    plan: Plan,
    specs: list[BlockSpec],
    source: Source | None = None,
    info: RunInfo | None = None,
) -> str:
    """Write the template once (codec measured on a sample of the first block)."""
    state = ledger.read_state(store, "template")
    if state is None and store.exists(ledger.LEDGER, "template.json"):
        # Written before writes were atomic and cut by a kill or a full disk: the cube's own
        # attrs say the same, when they can be read.
        state = _state_from_cube(store)
    if state is not None:
        if state["plan_hash"] != plan.plan_hash:
            raise IngestError(
                f"{store.url(CUBE)} was started from other events, stations or waveform settings "
                f"(plan {state['plan_hash']}, now {plan.plan_hash}); remove {store.url(CUBE)} and "
                f"{store.url(ledger.LEDGER)} to start again"
            )
        return state["codec"]
    w = job.waveforms
    if w.codec == "auto":
        first = specs[0]
        k = min(len(first.event_ids), 32)
        sample = BlockSpec(0, 0, k, first.event_ids[:k], first.p_ns[:k], first.stations)
        batch, _ = process_block(job, sample, source=source, info=info)
        good = batch.waveform[batch.status == Status.OK]
        codec, measured = cube.choose_codec(good if len(good) else batch.waveform)
    else:
        codec, measured = cube.codec_by_name(w.codec), {}
    attrs = cube.attrs_for(plan, w, w.source, codec, measured, job.config_hash)
    ds = cube.template(plan, w.n_samples, w.sampling_rate, tuple(w.window_s), attrs)
    if store.exists(ledger.LEDGER):
        store.fs.rm(store.path(ledger.LEDGER), recursive=True)
    cube.write_template(ds, store.url(CUBE), codec)
    ledger.write_state(store, "template", {"plan_hash": plan.plan_hash, "codec": codec.name})
    return codec.name


def _state_from_cube(store: Store) -> dict | None:
    import zarr

    try:
        attrs = dict(zarr.open_group(store.url(CUBE), mode="r").attrs)
        state = {"plan_hash": attrs["plan_hash"], "codec": attrs["codec"]}
    except Exception:
        return None
    ledger.write_state(store, "template", state)
    return state


def _content_attrs(job: IngestSettings, plan: Plan, codec: str) -> dict:
    """The attrs that follow the inputs (redone blocks may come from other settings)."""
    w = job.waveforms
    attrs = cube.attrs_for(plan, w, w.source, cube.codec_by_name(codec), {}, job.config_hash)
    return {k: attrs[k] for k in ("preprocessing", "source", "config_hash", "faultprobe_version")}


def ingest(cfg: StudyConfig, client=None, retry_failed: bool = False) -> Summary:
    """Run (or finish, or repair) the ingest of a study; returns what was done.

    The summary says whether the store is complete; it is not while windows are left
    transient (the next call asks them again). `retry_failed` also re-asks windows that
    ended in a permanent failure (no data, a bad record, wrong data, non-finite samples).
    """
    t0 = time.perf_counter()
    job = IngestSettings.of(cfg)
    store = Store(job.store)
    try:
        plan = make_plan(
            store.read_table(EVENTS),
            store.read_table(STATIONS),
            job.waveforms,
            job.network_aliases,
        )
    except PlanError as err:
        raise IngestError(
            f"{store.root}: {err} (run `faultprobe catalog` again to rewrite the tables)"
        ) from None
    if not len(plan.events) or not plan.stations:
        raise IngestError(
            f"nothing to ingest: {len(plan.events)} events and {len(plan.stations)} stations in "
            f"{store.root} (run `faultprobe catalog` first, or widen the selection)"
        )
    if job.waveforms.source in DATASET_SOURCES:
        plan = _dataset_plan(job, store, plan)
    if job.waveforms.p_arrival == "picks":  # the catalog's P picks, the model elsewhere
        plan = placed_by_picks(plan, store)
    info = run_info(job, run=uuid.uuid4().hex[:12])
    driver_source = check_source(job, info)
    if driver_source is not None:  # FDSN: the request plan (station-days fetched here)
        from faultprobe.pipelines.planner import follow

        follow(plan, job.waveforms, driver_source)
    specs = block_specs(plan)
    url = store.url(CUBE)
    codec = _prepare(job, store, plan, specs, driver_source, info)
    marks = ledger.markers(store)
    inputs = inputs_of(job)
    stale = sorted(b for b, m in marks.items() if m.get("inputs") != info.inputs)
    statuses = retry_statuses(retry_failed)
    todo = [s for s in specs if s.block not in marks or s.block in stale]
    again = [
        s
        for s in specs
        if s.block in marks
        and s.block not in stale
        and any(marks[s.block].get("status", {}).get(k, 0) for k in statuses)
    ]
    log.debug(
        f"plan {plan.plan_hash}: {len(plan.events)} events x {len(plan.stations)} stations in "
        f"{plan.n_blocks} blocks; {len(todo)} to run, {len(again)} to ask again; codec {codec}"
    )
    if stale:
        why = changed(ledger.read_state(store, "inputs"), inputs)
        log.info(
            f"{len(stale)} of {plan.n_blocks} finished blocks were built from other inputs ({why}); redoing them"
        )
    if again:
        n = sum(sum(marks[s.block]["status"].get(k, 0) for k in statuses) for s in again)
        log.info(
            f"asking again for {n} windows in {len(again)} blocks ({', '.join(sorted(statuses))})"
        )
    if driver_source is not None and (todo or again):
        driver_source.limiter.drain()  # the driver's requests are out of the workers' windows
    if todo or again:
        cube.finalize(url, {"complete": False})  # not complete while blocks change
        ledger.drop_state(store, "complete")
        ledger.drop_state(store, compaction.STATE)  # parts change: traces.parquet is old
        ledger.write_state(store, "inputs", inputs)
        _run(job, todo, url, client, info=info, again=again, statuses=statuses, cluster=cfg.cluster)
        marks = ledger.markers(store)
        if driver_source is not None:
            # every worker request has its answer by now: one rate window later they are out
            # of any sliding second that the next run's driver (a fresh limiter) counts in
            time.sleep(driver_source.limiter.window)
    traces = compaction.compact(store, plan.n_blocks, marks)
    _check(store, plan, traces)
    counts = traces.counts
    transient = traces.transient
    complete = not len(transient)
    attrs = {"complete": complete, "status_counts": counts, **_content_attrs(job, plan, codec)}
    cube.finalize(url, attrs)
    if complete:
        ledger.write_state(
            store, "complete", {"plan_hash": plan.plan_hash, "status_counts": counts}
        )
    return Summary(
        store.root,
        len(plan.events),
        len(plan.stations),
        plan.n_blocks,
        len(todo),
        plan.n_blocks - len(todo) - len(again),
        counts,
        codec,
        time.perf_counter() - t0,
        complete=complete,
        retried=len(again),
        stale=len(stale),
        no_response=traces.no_response,
        stationxml=info.inventory,
        transient=transient.reset_index(drop=True),
    )


def _dataset_plan(job: IngestSettings, store: Store, plan: Plan) -> Plan:
    """Index the dataset's traces for the tasks; take its P arrivals if the config says so."""
    from faultprobe.catalogs.datasets import DatasetError
    from faultprobe.pipelines.datasets import build_index, dataset_p_times

    try:
        index = build_index(job, store, plan)
    except (DatasetError, OSError) as err:
        raise IngestError(f"dataset {job.waveforms.dataset}: {err}") from None
    if job.waveforms.p_arrival == "dataset":
        plan = place(plan, *dataset_p_times(plan, index), PSource.DATASET)
    return plan


def _traffic(client, info: RunInfo, since: float) -> str:
    from faultprobe.pipelines.dcstate import run_totals

    t = run_totals(client, info.run)
    rate = t["requests"] / max(time.perf_counter() - since, 1e-9)
    return (
        f"windows {t['windows']} ({t['cached']} cached), {t['requests']} requests "
        f"({rate:.1f}/s), {t['bytes'] / 1e6:.1f} MB, {t['retries']} retries, "
        f"{t['failed']} failed"
    )


class _TaskErrors(logging.Filter):
    """Drops the workers' own log of a failed or cancelled task: the driver re-raises the
    task's error (one line on the command line, the traceback with --debug)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        return not (msg.startswith("Compute Failed") or "ended with CancelledError" in msg)


def _quiet_task_errors() -> None:
    for name in ("distributed.worker", "distributed.worker.state_machine"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _TaskErrors) for f in logger.filters):
            logger.addFilter(_TaskErrors())


def _run(
    job: IngestSettings,
    todo: list[BlockSpec],
    url: str,
    client,
    info: RunInfo | None = None,
    again: list[BlockSpec] = (),
    statuses: frozenset[str] = Status.labels(Failure.TRANSIENT),
    cluster: Cluster | None = None,
) -> None:
    from distributed import wait

    from faultprobe.cluster.connect import connect
    from faultprobe.pipelines.dcstate import forget_run

    info = info or run_info(job)
    network = job.waveforms.source == "fdsn"
    retry_info = replace(info, refresh=statuses != Status.labels(Failure.TRANSIENT))

    def go(c) -> None:
        c.run(_quiet_task_errors)
        n, m = len(todo), len(again)
        futures = c.map(run_block, [job] * n, todo, [url] * n, [info] * n, pure=False)
        futures += c.map(
            retry_block, [job] * m, again, [url] * m, [retry_info] * m, [statuses] * m, pure=False
        )
        bar = progress.bar(total=len(futures), desc="ingest blocks", unit="block")
        since = time.perf_counter()
        pending = set(futures)
        try:
            while pending:
                try:
                    done, pending = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done = set()
                for fut in done:
                    fut.result()
                    bar.update(1)
                if network and progress.shown():
                    bar.set_postfix_str(_traffic(c, info, since), refresh=True)
        except BaseException:
            c.cancel(futures)
            raise
        finally:
            bar.close()
            if network:
                forget_run(c, info.run)

    if client is not None:
        go(client)
    else:
        with connect(cluster or Cluster()) as c:
            go(c)


def _check(store: Store, plan: Plan, traces: compaction.Traces) -> None:
    """Every block in the ledger, every chunk present, one traces row per pair."""
    done = ledger.finished(store)
    missing_blocks = sorted(set(range(plan.n_blocks)) - done)
    if missing_blocks:
        raise IngestError(f"blocks not finished: {missing_blocks[:10]} (run ingest again)")
    url = store.url(CUBE)
    holes = cube.missing_chunks(url, plan.n_blocks, len(plan.stations))
    if holes:
        raise IngestError(
            f"waveform chunks missing for (block, station) {holes[:10]}; remove their ledger markers and run again"
        )
    if cube.check_status(url):
        raise IngestError("some (event, station) statuses were never written")
    want = len(plan.events) * len(plan.stations)
    if traces.n_rows != want or traces.duplicated:
        raise IngestError(
            f"traces.parquet has {traces.n_rows} rows for {want} pairs (or duplicates)"
        )
