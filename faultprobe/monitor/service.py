"""The monitor's loop: poll, select, ingest, score, commit, index, lines.

One poll reads the catalog (file or event service), adds the new selected events to the
pending ones (state.json), and for each batch of pending events runs the ingest's
`process_block` on the configured waveform source.  An event whose windows are all there
(or that has waited `give_up_s` since it was selected) is committed with the batch:
appended to the monitoring cube, scored by `faultprobe.predict` (the trained run, on the
cube's windows as they are stored), its rows added to the tables, then state.json written
with it committed and no longer pending (one atomic write, state.py).  The others stay
pending for the next poll; a pending event's row is its latest in the catalog (a revision
stands), a committed one is never scored again.  Then the index is brought up to date and
the due lines printed and written to monitor.parquet; a line whose index window holds
events the run saw in training says "in-sample".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from faultprobe.analysis import faultstate
from faultprobe.config import StudyConfig
from faultprobe.config.stages import MonitorSettings
from faultprobe.monitor import alerts, mcube, newevents
from faultprobe.monitor.crashpoints import reached
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
    seen: frozenset[str] = frozenset()  # ids of the events it was trained and tested on
    trained_until: pd.Timestamp | None = None  # the latest origin time among them

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
    seen = frozenset(preds["source_id"].astype(str)) if "source_id" in preds else frozenset()
    until = None
    if "source_origin_time" in preds and preds["source_origin_time"].notna().any():
        until = pd.Timestamp(preds["source_origin_time"].max()).tz_convert("UTC")
    return RunModel(folder, folder.spec().stations, classes, threshold, n, m, seen, until)


@dataclass
class PollResult:
    """What one poll did."""

    catalog: int = 0
    new: int = 0
    scored: int = 0
    not_ok: int = 0
    in_sample: int = 0
    waiting: int = 0
    revised_scored: list[str] = field(default_factory=list)
    revised_pending: int = 0
    dropped: int = 0
    lines: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def render(self) -> str:
        extra = f", {self.in_sample} in-sample" if self.in_sample else ""
        text = (
            f"poll: {self.catalog} catalog events, {self.new} newly selected, {self.scored} "
            f"committed ({self.not_ok} without usable traces{extra}), {self.waiting} waiting "
            f"for waveforms ({self.seconds:.1f} s)"
        )
        if self.revised_scored:
            shown = ", ".join(self.revised_scored[:5]) + (
                " …" if len(self.revised_scored) > 5 else ""
            )
            text += (f"; {len(self.revised_scored)} revised in the catalog after they were "
                     f"scored ({shown}): not scored again")  # fmt: skip
        if self.revised_pending:
            text += f"; {self.revised_pending} waiting events revised: their latest row is used"
        if self.dropped:
            text += (f"; {self.dropped} waiting events no longer pass the selection (revised "
                     "or gone from the catalog): dropped")  # fmt: skip
        return text


def monitor_root(m: MonitorSettings) -> str:
    return m.monitor.store or Store(m.ingest.store).url(MONITOR)


class Monitor:
    """A monitoring store followed with one run; `poll()` does one round."""

    def __init__(self, m: MonitorSettings | StudyConfig, run: str):
        from faultprobe.pipelines.blocks import make_source
        from faultprobe.pipelines.inputs import run_info

        if not isinstance(m, MonitorSettings):  # a whole study (tests, benchmarks)
            m = MonitorSettings.of(m)
        self.settings = m
        self.model = load_run(run)
        self.mstore = MonitorStore(monitor_root(m), self.model.folder.run_id)
        if self.mstore.recovered:
            log.warning(f"monitor: {self.mstore.recovered} uncommitted events of a stopped "
                        "batch removed from the cube; they are done again")  # fmt: skip
        self.stations = self._stations()
        self.info = run_info(m.ingest, run="monitor")
        self.source = make_source(m.ingest, self.info)
        if hasattr(self.source, "remember_no_data"):
            # Late data: a window without data yet is asked again at the next poll, until
            # its event is committed (complete, or give_up_s after it was first selected).
            self.source.remember_no_data = False
        self.start = self._start()
        # what the last poll saw of the catalog file, kept across restarts (--once jobs)
        seen = self.mstore.state.extra.get("catalog_seen")
        self.watch = newevents.FileWatch(tuple(seen) if seen else None)

    def _start(self) -> pd.Timestamp:
        """`[monitor] start`, else just after the run's latest event, else now (kept in
        state.json, so a restart does not move it)."""
        st = self.mstore.state
        if self.settings.monitor.start is not None:
            return pd.Timestamp(self.settings.monitor.start).tz_convert("UTC")
        if st.extra.get("start"):
            return pd.Timestamp(st.extra["start"]).tz_convert("UTC")
        until = self.model.trained_until
        start = until + pd.Timedelta(milliseconds=1) if until is not None else newevents.utc_now()
        st.extra["start"] = start.isoformat()
        self.mstore.save()
        return start

    def _stations(self) -> pd.DataFrame:
        """The run's stations as rows of the study's stations table, in the run's order."""
        table = Store(self.settings.ingest.store).read_table(STATIONS)
        full = table["station_network_code"].astype(str) + "." + table["station_code"].astype(str)
        rows = []
        for code in self.model.stations:
            hit = table[(full == code) | (table["station_code"] == code.split(".")[-1])]
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
        oldest = min((pd.Timestamp(v["origin_time"]) for v in st.pending.values()), default=None)
        cat = newevents.read_now(self.settings, cursor, self.start, self.watch, oldest)
        out.catalog = len(cat.events)
        if self.watch.seen is not None:
            st.extra["catalog_seen"] = list(self.watch.seen)
        todo = self._todo(cat, now, out)
        size = self.settings.monitor.batch_events
        for lo in range(0, len(todo), size):
            chunk = todo.iloc[lo : lo + size].reset_index(drop=True)
            committed, not_ok, in_sample = self._batch(chunk, now)
            out.scored += committed
            out.not_ok += not_ok
            out.in_sample += in_sample
        out.waiting = len(st.pending)
        left = todo[todo["source_id"].astype(str).isin(list(st.pending))].reset_index(drop=True)
        self.mstore.store.write_table(left, PENDING)  # a copy for reading; state.json counts
        st.polls += 1
        st.cursor = cat.cursor.isoformat() if cat.cursor is not None else None
        reached("poll.save")
        self.mstore.save()
        out.lines = self.update_index()
        out.seconds = time.perf_counter() - t0
        return out

    def _todo(self, cat: newevents.CatalogNow, now: pd.Timestamp, out: PollResult):
        """The pending events (their latest rows) and the new ones, in origin-time order;
        the pending ones of state.json updated (one atomic write) when they changed."""
        st = self.mstore.state
        committed = self.mstore.committed_ids()
        sel = newevents.selected(cat.events, self.settings, self.start)
        ids = sel["source_id"].astype(str)
        waiting = ids.isin(list(st.pending)).to_numpy()
        ready = newevents.decidable(sel, cat.events, self.settings, now).to_numpy()
        fresh = ready & ~waiting & ~ids.isin(committed).to_numpy()
        seen = set(st.revised)
        new_rev = [e for e in cat.revised if e not in seen]
        out.revised_scored = [e for e in new_rev if e in committed]
        out.revised_pending = sum(e in st.pending for e in new_rev)
        st.revised = sorted(seen | set(new_rev))
        gone = set(st.pending) - set(ids[waiting])
        out.dropped, out.new = len(gone), int(fresh.sum())
        if gone or fresh.any():
            for e in gone:
                st.pending.pop(e)
            for e, t in zip(ids[fresh], sel.loc[fresh, "source_origin_time"]):
                st.pending[e] = {"first_seen": now.isoformat(), "origin_time": t.isoformat()}
            reached("poll.pending")
            self.mstore.save()
        todo = sel[waiting | fresh].copy()
        todo["first_seen"] = pd.to_datetime(
            [st.pending[e]["first_seen"] for e in todo["source_id"].astype(str)], utc=True
        )
        todo = todo.sort_values(["source_origin_time", "source_id"], kind="stable")
        return todo.reset_index(drop=True)

    def _batch(self, events: pd.DataFrame, now: pd.Timestamp) -> tuple[int, int, int]:
        """Process a batch; commit the events that are ready (the others stay pending);
        how many were committed, without usable traces and in-sample."""
        from faultprobe.pipelines.blocks import BlockSpec, process_block
        from faultprobe.pipelines.plan import make_plan

        cfg, job = self.settings, self.settings.ingest
        plan = make_plan(events, self.stations, job.waveforms, job.network_aliases)
        ids = events["source_id"].astype(str).to_numpy()
        spec = BlockSpec(0, 0, len(ids), ids, plan.p_time_ns, tuple(plan.stations))
        batch, rows = process_block(job, spec, source=self.source, info=self.info)
        n_st = len(plan.stations)
        status = rows["status"].to_numpy().reshape(len(ids), n_st)
        waited = (now - pd.DatetimeIndex(events["first_seen"])).total_seconds().to_numpy()
        ready = ~np.isin(status, list(WAIT)).any(axis=1) | (waited >= cfg.monitor.give_up_s)
        if not ready.any():
            return 0, 0, 0
        take = np.flatnonzero(ready)
        self._commit(events.iloc[take].reset_index(drop=True), plan, batch, rows, take, now)
        ok = (status[take] == "ok").all(axis=1)
        in_sample = int(np.isin(ids[take], list(self.model.seen)).sum())
        return len(take), int((~ok).sum()), in_sample

    def _commit(self, events, plan, batch, rows, take, now) -> None:
        from faultprobe.pipelines import cube
        from faultprobe.pipelines.blocks import settings
        from faultprobe.pipelines.plan import make_plan

        cfg, job, w = self.settings, self.settings.ingest, self.settings.ingest.waveforms
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
        plan_now = make_plan(events, self.stations, w, job.network_aliases)
        plan_now = replace(plan_now, block_size=cfg.monitor.chunk_events)
        codec = w.codec if w.codec != "auto" else FAST_CODEC
        attrs = cube.attrs_for(
            plan_now, w, w.source, cube.codec_by_name(codec), {}, job.config_hash
        )
        attrs.update(complete=True, monitoring=True, run=self.model.folder.run_id)
        s = settings(w)
        ds, enc = mcube.batch_dataset(plan_now, sub, w.n_samples, s.sampling_rate, s.window_s,
                                      attrs)  # fmt: skip
        scores = self._scores(events, sub, n_st, now)
        # A kill from here to the commit is cut back when the store is opened again.
        mcube.append(self.mstore.cube_url, ds, enc, self.mstore.state.committed)
        keep = events.drop(columns=["first_seen"]).assign(
            first_seen=pd.DatetimeIndex(events["first_seen"]), committed_time=now
        )
        self.mstore.append_rows(EVENTS, keep)
        reached("commit.events")
        self.mstore.append_rows(TRACES, sub_rows.drop(columns=["failure"], errors="ignore"))
        reached("commit.traces")
        self.mstore.append_rows(SCORES, scores)
        reached("commit.scores")
        self.mstore.commit(list(events["source_id"].astype(str)))

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
        out = pd.DataFrame({"source_id": events["source_id"].astype(str).to_numpy(),
                            "source_origin_time": pd.DatetimeIndex(events["source_origin_time"])})  # fmt: skip
        pred = np.where(ok, np.nan_to_num(probs).argmax(axis=1), -1)
        out["pred"] = pred.astype(np.int64)
        out["pred_class"] = [m.classes[p] if p >= 0 else "" for p in pred]
        for i, c in enumerate(m.classes):
            out[f"p_{c}"] = probs[:, i]
        out["score"] = score
        out["post_like"] = pd.array(np.where(ok, score > 0, pd.NA), dtype="boolean")
        out["status"] = np.where(ok, "ok", "not_usable")
        out["in_sample"] = out["source_id"].isin(m.seen).to_numpy()
        out["scored_time"] = pd.Timestamp.now(tz="UTC")
        out["poll_time"] = now
        return out

    # -- index and lines -------------------------------------------------------------------
    def update_index(self) -> list[str]:
        """Rewrite index.parquet; write and return the due lines."""
        scores = self.mstore.table(SCORES)
        if scores is None or scores.empty:
            return []
        mon, m = self.settings.monitor, self.model
        width = mon.window_events or self.settings.track.window_events
        index = alerts.index_after_each(scores, width, m.n_calib, m.m_calib,
                                        self.settings.track.chance_level)  # fmt: skip
        self.mstore.store.write_table(index, INDEX)
        old = self.mstore.table(ALERTS)
        new = alerts.due(index, mon.threshold, self.settings.track.penalty,
                         self.settings.track.min_segment_events, m.label, old)  # fmt: skip
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
) -> Generator[str, None, int]:
    """Poll until stopped (or once, or `max_polls` times), yielding each due alert line;
    returns how many of the polls could not read the catalog (0: every poll did its job).

    Each poll's outcome is logged (info); an event service that cannot be reached, or a
    catalog file that is empty, unreadable or changing while read, is a warning and is
    read again at the next poll."""
    m = MonitorSettings.of(cfg)
    mon = Monitor(m, run)
    log.info(f"monitor: run {mon.model.folder.run_id} on {mon.model.label}; store "
        f"{mon.mstore.store.url()}; {mon.mstore.state.committed} events so far")  # fmt: skip
    polls = failed = 0
    while True:
        try:
            result = mon.poll()
            log.info(result.render())
            yield from result.lines
        except newevents.EventServiceDown as err:
            failed += 1
            log.warning(f"warning: monitor: {err}; asked again at the next poll (in "
                        f"{m.monitor.poll_s:g} s)")  # fmt: skip
        except newevents.CatalogUnavailable as err:
            failed += 1
            log.warning(f"warning: monitor: {err} (in {m.monitor.poll_s:g} s)")
        polls += 1
        if once or (max_polls is not None and polls >= max_polls):
            return failed
        sleep(m.monitor.poll_s)


def poll_once(m: MonitorSettings | StudyConfig, run: str) -> PollResult:
    """One poll (for tests and cron jobs)."""
    return Monitor(m, run).poll()


__all__ = ["Monitor", "PollResult", "RunModel", "load_run", "mcube", "poll_once", "run_monitor"]
