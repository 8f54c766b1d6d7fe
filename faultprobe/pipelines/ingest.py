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
import sys
import time
import uuid
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from faultprobe.config import DATASET_SOURCES, StudyConfig
from faultprobe.pipelines import cube, ledger
from faultprobe.pipelines.inputs import RunInfo, changed, inputs_of, run_info
from faultprobe.pipelines.plan import Plan, StationInfo, make_plan
from faultprobe.pipelines.preprocess import NS, Settings, process
from faultprobe.pipelines.sources import Fetched, Request, SDSSource, Source, WindowSource
from faultprobe.pipelines.status import CODES, PERMANENT, TRANSIENT, failure_class, names
from faultprobe.store import CUBE, EVENTS, STATIONS, Store

NAT = np.iinfo(np.int64).min
MAX_LISTED = 10


class IngestError(ValueError):
    """The store cannot be ingested as asked (the message says why and what to do)."""


class ServiceUnavailable(IngestError):
    """The waveform service cannot be used now (down, unreachable, refusing)."""


@dataclass(frozen=True)
class BlockSpec:
    """What one task needs: plain arrays, no tables."""

    block: int
    start: int
    stop: int
    event_ids: np.ndarray
    p_ns: np.ndarray  # (n_events, n_stations)
    stations: tuple[StationInfo, ...]


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
        """One line when no window got any samples: the source is not what the config says."""
        empty = ("no_data", "error", "wrong_data", "transient")
        total = sum(self.status_counts.values())
        if not total or sum(self.status_counts.get(k, 0) for k in empty) < total:
            return None
        top = max(empty, key=lambda k: self.status_counts.get(k, 0))
        return (
            f"none of the {total} windows got any samples (mostly {top}); check the source in "
            "[waveforms] (sds_root, fdsn) and the station codes; traces.parquet says why per window"
        )

    def listing(self) -> str:
        tr = self.transient
        rows = [f"  {r.event_id} {r.network}.{r.station}" for r in tr.head(MAX_LISTED).itertuples()]
        if len(tr) > MAX_LISTED:
            rows.append(f"  … {len(tr) - MAX_LISTED} more (status 'transient' in traces.parquet)")
        return "\n".join(["windows to fetch again:", *rows])


def settings(cfg: StudyConfig) -> Settings:
    w = cfg.waveforms
    return Settings(
        sampling_rate=w.sampling_rate,
        window_s=tuple(w.window_s),
        pad_s=w.pad_s,
        max_gap_s=w.max_gap_s,
        detrend=w.detrend,
        bandpass_hz=tuple(w.bandpass_hz) if w.bandpass_hz else None,
        clip_counts=w.clip_counts,
        clip_run=w.clip_run,
    )


def make_source(cfg: StudyConfig, info: RunInfo | None = None) -> Source:
    """The configured source; built inside each task (nothing unpicklable travels)."""
    info = info or RunInfo()
    w = cfg.waveforms
    if w.source == "sds":
        return SDSSource(w.sds_root)
    if w.source in DATASET_SOURCES:
        from faultprobe.pipelines.datasets import DatasetSource

        return DatasetSource(Store(cfg.study.store), w.source)
    if w.source == "fdsn":
        from faultprobe.pipelines.fdsn import FDSNSource

        if not w.cache:
            raise IngestError("source 'fdsn' needs waveforms.cache (a local SDS folder)")
        return FDSNSource(
            w.fdsn,
            w.cache,
            max_concurrent=w.max_concurrent_requests,
            per_second=w.max_requests_per_second,
            timeout=w.request_timeout_s,
            max_attempts=w.max_attempts,
            backoff_s=w.retry_backoff_s,
            max_bulk_items=w.max_bulk_items,
            eida_token=w.eida_token,
            run=info.run,
            breaker_failures=w.breaker_failures,
            refresh=info.refresh,
        )
    try:
        from faultprobe.synthetic.archive import SyntheticArchive
    except ImportError as err:
        raise IngestError(
            f"source 'synthetic' needs faultprobe.synthetic.archive ({err})"
        ) from None
    return WindowSource(SyntheticArchive(cfg), "synthetic")


def _orientation(inv) -> dict[str, float] | None:
    """Azimuths of every channel in the inventory, for 1/2 -> E/N (None without one)."""
    if inv is None:
        return None
    return {
        f"{n.code}.{s.code}.{c.location_code}.{c.code}": float(c.azimuth)
        for n in inv
        for s in n
        for c in s
        if c.azimuth is not None
    }


def _inventory(cfg: StudyConfig, info: RunInfo | None = None):
    """The study's StationXML (once per process and content), or None."""
    from faultprobe.pipelines.response import read_inventory_cached

    info = info or run_info(cfg)
    path = info.inventory
    try:
        return read_inventory_cached(path, info.inventory_digest) if path else None
    except Exception as err:
        if cfg.waveforms.remove_response:
            raise IngestError(f"remove_response needs the StationXML {path}: {err}") from None
        return None


def process_block(
    cfg: StudyConfig,
    spec: BlockSpec,
    source: Source | None = None,
    info: RunInfo | None = None,
    inventory=None,
):
    """Fetch and preprocess one block; returns (batch, traces rows).

    Pairs whose P time is NaT are not fetched (status 'error', or left out by the caller).
    `inventory` (an ObsPy Inventory) replaces the config's StationXML, for callers with
    their own traces (`faultprobe.predict`).
    """
    info = info or run_info(cfg)
    s = settings(cfg)
    source = source or make_source(cfg, info)
    p = spec.p_ns
    n_ev, n_st = p.shape
    valid = p != NAT
    ws = np.where(valid, p + int(round(s.window_s[0] * NS)), NAT)
    we = p + int(round(s.window_s[1] * NS))
    pad = int(round((s.pad_s + 1.0) * NS))  # one more second than preprocessing needs
    requests = [
        Request(st, ws[valid[:, j], j] - pad, we[valid[:, j], j] + pad)
        for j, st in enumerate(spec.stations)
    ]
    fetched = source.fetch(requests)
    items: list[Fetched] = []
    cursor = [0] * n_st
    for i in range(n_ev):
        for j in range(n_st):
            if valid[i, j]:
                items.append(fetched[j][cursor[j]])
                cursor[j] += 1
            else:
                items.append(
                    Fetched(
                        None, "error", "no theoretical P (pair beyond the travel-time table)", 0
                    )
                )
    inv = inventory if inventory is not None else _inventory(cfg, info)
    if cfg.waveforms.remove_response and inv is None:
        raise IngestError("remove_response = true needs [stations] inventory (a StationXML file)")
    responses = inv if cfg.waveforms.remove_response else None
    batch = process(items, ws.ravel(), p.ravel(), s, _orientation(inv), responses)
    rows = pd.DataFrame(
        {
            "event_id": np.repeat(spec.event_ids.astype(str), n_st),
            "network": np.tile([st.network for st in spec.stations], n_ev),
            "station": np.tile([st.station for st in spec.stations], n_ev),
            "status": names(batch.status).astype(str),
            "reason": batch.reason,
            "p_time": pd.to_datetime(
                np.where(valid.ravel(), p.ravel(), NAT).view("datetime64[ns]")
            ).tz_localize("UTC"),
            "snr": batch.snr,
            "source": source.name,
            "attempts": np.array([it.attempts for it in items], dtype=np.int32),
            "start_time": pd.to_datetime(batch.start_ns.view("datetime64[ns]")).tz_localize("UTC"),
            **trace_channels(batch.seed_ids),
        }
    )
    rows["failure"] = rows["status"].map(failure_class)
    return batch, rows


def trace_channels(seed_ids: list[list[str | None]]) -> dict[str, list[str]]:
    """Per trace, the location code and the E, N, Z channel codes as read ("" if absent)."""
    loc, cha = [], []
    for ids in seed_ids:
        parts = [s.split(".") for s in ids if s]
        loc.append(parts[0][2] if parts else "")
        cha.append(",".join(s.split(".")[3] if s else "" for s in ids) if parts else "")
    return {"location": loc, "channel": cha}


def _marker(spec: BlockSpec, rows: pd.DataFrame, info: RunInfo, t0: float, c0: float, **extra):
    return {
        "block": spec.block,
        "events": len(spec.event_ids),
        "status": rows["status"].value_counts().to_dict(),
        "inputs": info.inputs,
        "seconds": round(time.perf_counter() - t0, 3),
        "cpu_seconds": round(time.process_time() - c0, 3),
        **extra,
    }


def run_block(
    cfg: StudyConfig, spec: BlockSpec, cube_url: str, info: RunInfo | None = None
) -> dict:
    """The Dask task: one block from fetch to ledger marker."""
    info = info or run_info(cfg)
    t0, c0 = time.perf_counter(), time.process_time()
    store = Store(cfg.study.store)
    batch, rows = process_block(cfg, spec, info=info)
    t_process = time.perf_counter() - t0
    n_ev, n_st = spec.p_ns.shape
    cube.write_region(
        cube_url,
        slice(spec.start, spec.stop),
        batch.waveform.reshape(n_ev, n_st, 3, -1),
        batch.status.reshape(n_ev, n_st),
        batch.start_ns.reshape(n_ev, n_st),
    )
    ledger.write_part(store, spec.block, rows)
    marker = _marker(spec, rows, info, t0, c0, process_seconds=round(t_process, 3))
    ledger.mark_done(store, spec.block, marker)
    return {"block": spec.block, "status": marker["status"]}


def retry_statuses(retry_failed: bool) -> frozenset[str]:
    """Statuses asked again by a run: transient ones always, permanent ones on request."""
    return TRANSIENT | PERMANENT if retry_failed else TRANSIENT


def retry_block(
    cfg: StudyConfig, spec: BlockSpec, cube_url: str, info: RunInfo, statuses: frozenset[str]
) -> dict:
    """The Dask task for a finished block with windows to ask again: only those are fetched,
    their pairs replaced in the cube (only their stations' chunks rewritten) and in the part."""
    t0, c0 = time.perf_counter(), time.process_time()
    store = Store(cfg.study.store)
    old = ledger.read_part(store, spec.block)
    n_ev, n_st = spec.p_ns.shape
    again = (old["status"].isin(statuses).to_numpy() & (spec.p_ns.ravel() != NAT)).reshape(
        n_ev, n_st
    )
    if again.any():
        sub = replace(spec, p_ns=np.where(again, spec.p_ns, NAT))
        batch, rows = process_block(cfg, sub, info=info)
        cube.merge_region(
            cube_url,
            slice(spec.start, spec.stop),
            again,
            batch.waveform.reshape(n_ev, n_st, 3, -1),
            batch.status.reshape(n_ev, n_st),
            batch.start_ns.reshape(n_ev, n_st),
        )
        flat = again.ravel()
        new = old.copy()
        for col in ledger.TRACE_COLUMNS:
            new.loc[flat, col] = rows.loc[flat, col].to_numpy()
        new["attempts"] = new["attempts"].astype(np.int32)
        new["snr"] = new["snr"].astype(np.float32)
        old = new
    ledger.write_part(store, spec.block, old)
    marker = _marker(spec, old, info, t0, c0, retried=int(again.sum()))
    ledger.mark_done(store, spec.block, marker)
    return {"block": spec.block, "status": marker["status"]}


def block_specs(plan: Plan) -> list[BlockSpec]:
    ids = plan.events["event_id"].astype(str).to_numpy()
    out = []
    for b in range(plan.n_blocks):
        sl = plan.block(b)
        out.append(
            BlockSpec(b, sl.start, sl.stop, ids[sl], plan.p_time_ns[sl], tuple(plan.stations))
        )
    return out


def check_source(cfg: StudyConfig, info: RunInfo, say) -> Source | None:
    """Before anything runs: the archive root exists, or the FDSN service answers a probe.

    Returns the driver's FDSN source (its limiter counts the probe), else None.
    """
    w = cfg.waveforms
    where = f" in {cfg.source_path}" if cfg.source_path else ""
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
        source = make_source(cfg, replace(info, run=f"{info.run}-driver"))
        t0 = time.perf_counter()
        say(f"checking the FDSN service {base_url(w.fdsn)} …")
        version = probe(w.fdsn, w.request_timeout_s, source.limiter, w.eida_token)
    except ServiceDown as err:
        raise ServiceUnavailable(str(err)) from None
    except ServiceError as err:
        raise IngestError(str(err)) from None
    say(f"  dataselect {version} answers ({time.perf_counter() - t0:.2f} s)")
    return source


def _prepare(
    cfg: StudyConfig,
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
    w = cfg.waveforms
    if w.codec == "auto":
        first = specs[0]
        k = min(len(first.event_ids), 32)
        sample = BlockSpec(0, 0, k, first.event_ids[:k], first.p_ns[:k], first.stations)
        batch, _ = process_block(cfg, sample, source=source, info=info)
        good = batch.waveform[batch.status == CODES["ok"]]
        codec, measured = cube.choose_codec(good if len(good) else batch.waveform)
    else:
        codec, measured = cube.codec_by_name(w.codec), {}
    attrs = cube.attrs_for(plan, w, w.source, codec, measured, cfg.hash())
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


def _content_attrs(cfg: StudyConfig, plan: Plan, codec: str) -> dict:
    """The attrs that follow the inputs (redone blocks may come from other settings)."""
    w = cfg.waveforms
    attrs = cube.attrs_for(plan, w, w.source, cube.codec_by_name(codec), {}, cfg.hash())
    return {k: attrs[k] for k in ("preprocessing", "source", "config_hash", "faultprobe_version")}


def _say(progress: bool):
    if not progress:
        return lambda msg: None
    return lambda msg: print(msg, file=sys.stderr, flush=True)


def ingest(
    cfg: StudyConfig,
    progress: bool = True,
    client=None,
    retry_failed: bool = False,
    say=None,
) -> Summary:
    """Run (or finish, or repair) the ingest of a study; returns what was done.

    The summary says whether the store is complete; it is not while windows are left
    transient (the next call asks them again). `retry_failed` also re-asks windows that
    ended in a permanent failure (no data, a bad record, wrong data, non-finite samples).
    """
    t0 = time.perf_counter()
    say = say or _say(progress)
    store = Store(cfg.study.store)
    try:
        plan = make_plan(
            store.read_table(EVENTS),
            store.read_table(STATIONS),
            cfg.waveforms,
            cfg.stations.network_aliases,
        )
    except ValueError as err:
        if isinstance(err, IngestError):
            raise
        raise IngestError(
            f"{store.root}: {err} (run `faultprobe catalog` again to rewrite the tables)"
        ) from None
    if not len(plan.events) or not plan.stations:
        raise IngestError(
            f"nothing to ingest: {len(plan.events)} events and {len(plan.stations)} stations in "
            f"{store.root} (run `faultprobe catalog` first, or widen the selection)"
        )
    if cfg.waveforms.source in DATASET_SOURCES:
        plan = _dataset_plan(cfg, store, plan)
    info = run_info(cfg, run=uuid.uuid4().hex[:12])
    driver_source = check_source(cfg, info, say)
    specs = block_specs(plan)
    url = store.url(CUBE)
    codec = _prepare(cfg, store, plan, specs, driver_source, info)
    marks = ledger.markers(store)
    inputs = inputs_of(cfg)
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
    if stale:
        why = changed(ledger.read_state(store, "inputs"), inputs)
        say(
            f"{len(stale)} of {plan.n_blocks} finished blocks were built from other inputs ({why}); redoing them"
        )
    if again:
        n = sum(sum(marks[s.block]["status"].get(k, 0) for k in statuses) for s in again)
        say(f"asking again for {n} windows in {len(again)} blocks ({', '.join(sorted(statuses))})")
    if todo or again:
        cube.finalize(url, {"complete": False})  # not complete while blocks change
        ledger.drop_state(store, "complete")
        ledger.write_state(store, "inputs", inputs)
        _run(cfg, todo, url, progress, client, info=info, again=again, statuses=statuses)
    traces = ledger.compact(store, plan.n_blocks)
    _check(store, plan, traces)
    counts = {k: int((traces["status"] == k).sum()) for k in CODES}
    transient = traces[traces["status"].isin(TRANSIENT)]
    complete = not len(transient)
    attrs = {"complete": complete, "status_counts": counts, **_content_attrs(cfg, plan, codec)}
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
        transient=transient.reset_index(drop=True),
    )


def _dataset_plan(cfg: StudyConfig, store: Store, plan: Plan) -> Plan:
    """Index the dataset's traces for the tasks; take its P arrivals if the config says so."""
    from dataclasses import replace

    from faultprobe.catalogs.datasets import DatasetError
    from faultprobe.pipelines.datasets import build_index, dataset_p_times

    try:
        index = build_index(cfg, store, plan)
    except (DatasetError, OSError) as err:
        raise IngestError(f"dataset {cfg.waveforms.dataset}: {err}") from None
    if cfg.waveforms.p_arrival == "dataset":
        plan = replace(plan, p_time_ns=dataset_p_times(plan, index))
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
        log = logging.getLogger(name)
        if not any(isinstance(f, _TaskErrors) for f in log.filters):
            log.addFilter(_TaskErrors())


def _run(
    cfg: StudyConfig,
    todo: list[BlockSpec],
    url: str,
    progress: bool,
    client,
    info: RunInfo | None = None,
    again: list[BlockSpec] = (),
    statuses: frozenset[str] = TRANSIENT,
) -> None:
    from distributed import wait

    from faultprobe.cluster.connect import connect
    from faultprobe.pipelines.dcstate import forget_run

    info = info or run_info(cfg)
    network = cfg.waveforms.source == "fdsn"
    retry_info = replace(info, refresh=statuses != TRANSIENT)

    def go(c) -> None:
        c.run(_quiet_task_errors)
        n, m = len(todo), len(again)
        futures = c.map(run_block, [cfg] * n, todo, [url] * n, [info] * n, pure=False)
        futures += c.map(
            retry_block, [cfg] * m, again, [url] * m, [retry_info] * m, [statuses] * m, pure=False
        )
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(futures), desc="ingest blocks", unit="block")
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
                    if bar is not None:
                        bar.update(1)
                if bar is not None and network:
                    bar.set_postfix_str(_traffic(c, info, since), refresh=True)
        except BaseException:
            c.cancel(futures)
            raise
        finally:
            if bar is not None:
                bar.close()
            if network:
                forget_run(c, info.run)

    if client is not None:
        go(client)
    else:
        say = (lambda m: print(m, file=sys.stderr, flush=True)) if progress else None
        with connect(cfg.cluster, say=say) as c:
            go(c)


def _check(store: Store, plan: Plan, traces: pd.DataFrame) -> None:
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
    if len(traces) != want or traces.duplicated(["event_id", "network", "station"]).any():
        raise IngestError(f"traces.parquet has {len(traces)} rows for {want} pairs (or duplicates)")
