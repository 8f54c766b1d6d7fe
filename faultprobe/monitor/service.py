"""The monitor's loop: poll, select, ingest, score, commit, index, lines.

One poll reads the catalog (file or event service), adds the new selected events to the
pending ones, and for each batch of pending events runs the ingest's `process_block` on
the configured waveform source.  An event whose windows are all there (or that has waited
`give_up_s` since it was selected) is committed with the batch: appended to the
monitoring cube, scored by `faultprobe.predict` (the trained run, on the cube's windows as
they are stored), its rows added to the tables, then state.json written.  The others stay
pending for the next poll.  Then the index is brought up to date and the due lines printed
and written to monitor.parquet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from faultprobe.analysis import faultstate
from faultprobe.config import StudyConfig
from faultprobe.monitor import alerts, mcube, newevents
from faultprobe.monitor.state import (
    ALERTS,
    EVENTS,
    INDEX,
    PENDING,
    SCORES,
    TRACES,
    MonitorError,
    MonitorStore,
)
from faultprobe.pipelines.status import Status
from faultprobe.store import STATIONS, Store

# Statuses that may change when more data arrive: the event waits for them.
WAIT = frozenset(
    s.label
    for s in (Status.NO_DATA, Status.GAP, Status.MISSING_COMPONENT, Status.TRANSIENT, Status.ERROR)
)
MONITOR = "monitor"
log = logging.getLogger(__name__)
# The monitoring cube's codec when [waveforms] codec is "auto": small appends, written
# often, favour speed over the last per cent of size (benchmarks/monitor.py).
FAST_CODEC = "blosc-lz4-5-shuffle"


@dataclass(frozen=True)
class RunModel:
    """The trained run the monitor scores with, and its calibration (its test events)."""

    folder: object  # faultprobe.ml.runs.RunFolder
    stations: tuple[str, ...]
    classes: list[str]
    threshold: float
    n_calib: int
    m_calib: int

    @property
    def label(self) -> str:
        return "+".join(self.stations)


def load_run(path: str) -> RunModel:
    """The run at STORE/runs/RUN_ID with the median post score of its test events."""
    from faultprobe.ml.runs import METRICS, PREDICTIONS, run_folder_from_path

    folder = run_folder_from_path(path)
    classes = list(folder.read_json(METRICS)["test"]["classes"])
    preds = folder.read_table(PREDICTIONS)
    test = preds[preds["split"] == "test"]
    if test.empty:
        raise MonitorError(f"{path}: the run has no test events to calibrate its scores")
    probs = test[[f"p_{c}" for c in classes]].to_numpy(np.float64)
    odds = faultstate.post_log_odds(probs, faultstate.post_mask(classes))
    threshold, n, m = faultstate.calibration_threshold(odds)
    return RunModel(folder, folder.spec().stations, classes, threshold, n, m)


@dataclass
class PollResult:
    """What one poll did."""

    catalog: int = 0
    new: int = 0
    scored: int = 0
    not_ok: int = 0
    waiting: int = 0
    lines: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def render(self) -> str:
        return (
            f"poll: {self.catalog} catalog events, {self.new} newly selected, {self.scored} "
            f"committed ({self.not_ok} without usable traces), {self.waiting} waiting for "
            f"waveforms ({self.seconds:.1f} s)"
        )


def monitor_root(cfg: StudyConfig) -> str:
    return cfg.monitor.store or Store(cfg.study.store).url(MONITOR)


class Monitor:
    """A monitoring store followed with one run; `poll()` does one round."""

    def __init__(self, cfg: StudyConfig, run: str):
        from faultprobe.pipelines.blocks import make_source
        from faultprobe.pipelines.inputs import run_info

        self.cfg = cfg
        self.model = load_run(run)
        self.mstore = MonitorStore(monitor_root(cfg), self.model.folder.run_id)
        if self.mstore.recovered:
            log.warning(f"monitor: {self.mstore.recovered} uncommitted events of a stopped "
                        "batch removed from the cube; they are done again")  # fmt: skip
        self.stations = self._stations()
        self.info = run_info(cfg, run="monitor")
        self.source = make_source(cfg, self.info)

    def _stations(self) -> pd.DataFrame:
        """The run's stations as rows of the study's stations table, in the run's order."""
        table = Store(self.cfg.study.store).read_table(STATIONS)
        full = table["network"].astype(str) + "." + table["station"].astype(str)
        rows = []
        for code in self.model.stations:
            hit = table[(full == code) | (table["station"] == code.split(".")[-1])]
            if hit.empty:
                raise MonitorError(f"station {code} of the run is not in the study's stations")
            rows.append(hit.iloc[0])
        return pd.DataFrame(rows).reset_index(drop=True)

    # -- one poll --------------------------------------------------------------------------
    def poll(self, now: pd.Timestamp | None = None) -> PollResult:
        t0 = time.perf_counter()
        now = now or newevents.utc_now()
        out = PollResult()
        st = self.mstore.state
        cursor = pd.Timestamp(st.cursor) if st.cursor else None
        catalog, next_cursor = newevents.read_now(self.cfg, cursor, now)
        out.catalog = len(catalog)
        pending = self.mstore.table(PENDING)
        known = self.mstore.committed_ids()
        if pending is not None:
            known |= set(pending["event_id"].astype(str))
        fresh = newevents.new_events(catalog, self.cfg, known, now)
        fresh["first_seen"] = now
        out.new = len(fresh)
        todo = fresh if pending is None or pending.empty else pd.concat([pending, fresh])
        todo = todo.sort_values(["origin_time", "event_id"], kind="stable").reset_index(drop=True)
        waiting = []
        size = self.cfg.monitor.batch_events
        for lo in range(0, len(todo), size):
            chunk = todo.iloc[lo : lo + size].reset_index(drop=True)
            left, committed, not_ok = self._batch(chunk, now)
            waiting.append(left)
            out.scored += committed
            out.not_ok += not_ok
        left = pd.concat(waiting, ignore_index=True) if waiting else todo.iloc[:0]
        out.waiting = len(left)
        self.mstore.store.write_table(left, PENDING)
        st.polls += 1
        st.cursor = next_cursor.isoformat() if next_cursor is not None else None
        self.mstore.save()
        out.lines = self.update_index()
        out.seconds = time.perf_counter() - t0
        return out

    def _batch(self, events: pd.DataFrame, now: pd.Timestamp) -> tuple[pd.DataFrame, int, int]:
        """Process a batch; commit the events that are ready; return the others."""
        from faultprobe.pipelines.blocks import BlockSpec, process_block
        from faultprobe.pipelines.plan import make_plan

        cfg = self.cfg
        plan = make_plan(events, self.stations, cfg.waveforms, cfg.stations.network_aliases)
        ids = events["event_id"].astype(str).to_numpy()
        spec = BlockSpec(0, 0, len(ids), ids, plan.p_time_ns, tuple(plan.stations))
        batch, rows = process_block(cfg, spec, source=self.source, info=self.info)
        n_st = len(plan.stations)
        status = rows["status"].to_numpy().reshape(len(ids), n_st)
        waited = (now - pd.DatetimeIndex(events["first_seen"])).total_seconds().to_numpy()
        ready = ~np.isin(status, list(WAIT)).any(axis=1) | (waited >= cfg.monitor.give_up_s)
        if not ready.any():
            return events, 0, 0
        take = np.flatnonzero(ready)
        self._commit(events.iloc[take].reset_index(drop=True), plan, batch, rows, take, now)
        ok = (status[take] == "ok").all(axis=1)
        return (
            events.iloc[np.flatnonzero(~ready)].reset_index(drop=True),
            len(take),
            int((~ok).sum()),
        )

    def _commit(self, events, plan, batch, rows, take, now) -> None:
        from faultprobe.pipelines import cube
        from faultprobe.pipelines.blocks import settings
        from faultprobe.pipelines.plan import make_plan

        cfg, w = self.cfg, self.cfg.waveforms
        n_st = len(plan.stations)
        flat = (take[:, None] * n_st + np.arange(n_st)[None, :]).ravel()
        sub = replace(
            batch,
            waveform=batch.waveform[flat],
            status=batch.status[flat],
            reason=[batch.reason[i] for i in flat],
            start_ns=batch.start_ns[flat],
            snr=batch.snr[flat],
            seed_ids=[batch.seed_ids[i] for i in flat] if batch.seed_ids else [],
        )
        sub_rows = rows.iloc[flat].reset_index(drop=True)
        plan_now = make_plan(events, self.stations, w, cfg.stations.network_aliases)
        plan_now = replace(plan_now, block_size=cfg.monitor.chunk_events)
        codec = w.codec if w.codec != "auto" else FAST_CODEC
        attrs = cube.attrs_for(plan_now, w, w.source, cube.codec_by_name(codec), {}, cfg.hash())
        attrs.update(complete=True, monitoring=True, run=self.model.folder.run_id)
        s = settings(cfg)
        ds, enc = mcube.batch_dataset(plan_now, sub, w.n_samples, s.sampling_rate, s.window_s,
                                      attrs)  # fmt: skip
        scores = self._scores(events, sub, n_st, now)
        mcube.append(self.mstore.cube_url, ds, enc)  # a crash from here: cut back on opening
        keep = events.drop(columns=["first_seen"]).assign(
            first_seen=pd.DatetimeIndex(events["first_seen"]), committed_time=now
        )
        self.mstore.append_rows(EVENTS, keep)
        self.mstore.append_rows(TRACES, sub_rows.drop(columns=["failure"], errors="ignore"))
        self.mstore.append_rows(SCORES, scores)
        self.mstore.commit(len(events))

    def _scores(self, events, batch, n_st: int, now: pd.Timestamp) -> pd.DataFrame:
        """The run's probabilities (faultprobe.predict on the stored windows), the post
        score against the run's calibration and whether the event is post-like."""
        from faultprobe.ml.inference import predict

        m = self.model
        n = len(events)
        status = batch.status.reshape(n, n_st)
        ok = (status == 0).all(axis=1)
        probs = np.full((n, len(m.classes)), np.nan, dtype=np.float32)
        if ok.any():
            x = batch.waveform.reshape(n, n_st * 3, -1)[ok]
            table = predict(m.folder, x, device="cpu")
            probs[ok] = table[[f"p_{c}" for c in m.classes]].to_numpy(np.float32)
        odds = faultstate.post_log_odds(
            np.nan_to_num(probs, nan=0.5), faultstate.post_mask(m.classes)
        )
        score = np.where(ok, odds - m.threshold, np.nan)
        out = pd.DataFrame({"event_id": events["event_id"].astype(str).to_numpy(),
                            "origin_time": pd.DatetimeIndex(events["origin_time"])})  # fmt: skip
        pred = np.where(ok, np.nan_to_num(probs).argmax(axis=1), -1)
        out["pred"] = pred.astype(np.int64)
        out["pred_class"] = [m.classes[p] if p >= 0 else "" for p in pred]
        for i, c in enumerate(m.classes):
            out[f"p_{c}"] = probs[:, i]
        out["score"] = score
        out["post_like"] = pd.array(np.where(ok, score > 0, pd.NA), dtype="boolean")
        out["status"] = np.where(ok, "ok", "not_usable")
        out["scored_time"] = pd.Timestamp.now(tz="UTC")
        out["poll_time"] = now
        return out

    # -- index and lines -------------------------------------------------------------------
    def update_index(self) -> list[str]:
        """Rewrite index.parquet; write and return the due lines."""
        scores = self.mstore.table(SCORES)
        if scores is None or scores.empty:
            return []
        mon, m = self.cfg.monitor, self.model
        width = mon.window_events or self.cfg.track.window_events
        index = alerts.index_after_each(scores, width, m.n_calib, m.m_calib,
                                        self.cfg.track.chance_level)  # fmt: skip
        self.mstore.store.write_table(index, INDEX)
        old = self.mstore.table(ALERTS)
        new = alerts.due(index, mon.threshold, self.cfg.track.penalty,
                         self.cfg.track.min_segment_events, m.label, old)  # fmt: skip
        if new.empty:
            return []
        new["written_time"] = pd.Timestamp.now(tz="UTC")
        self.mstore.append_rows(ALERTS, new)
        return [alerts.render(r) for _, r in new.iterrows()]


def run_monitor(
    cfg: StudyConfig,
    run: str,
    *,
    once: bool = False,
    max_polls: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Poll until stopped (or once, or `max_polls` times), yielding each due alert line.

    Each poll's outcome is logged (info); an event service that cannot be reached is a
    warning and asked again at the next poll."""
    mon = Monitor(cfg, run)
    log.info(f"monitor: run {mon.model.folder.run_id} on {mon.model.label}; store "
        f"{mon.mstore.store.url()}; {mon.mstore.state.committed} events so far")  # fmt: skip
    polls = 0
    while True:
        try:
            result = mon.poll()
            log.info(result.render())
            yield from result.lines
        except newevents.EventServiceDown as err:
            log.warning(f"monitor: {err}; asking again in {cfg.monitor.poll_s:g} s")
        polls += 1
        if once or (max_polls is not None and polls >= max_polls):
            return
        sleep(cfg.monitor.poll_s)


def poll_once(cfg: StudyConfig, run: str) -> PollResult:
    """One poll (for tests and cron jobs)."""
    return Monitor(cfg, run).poll()


__all__ = ["Monitor", "PollResult", "RunModel", "load_run", "mcube", "poll_once", "run_monitor"]
