"""The request plan for one FDSN data centre: event-window bulks or station-day files.

From the ingest plan (events x stations, P times, blocks) and the centre's limits
(faultprobe.pipelines.limits) it counts, for each way of asking, the requests, samples and
bytes, and their lower-bound time: the longest of requests / allowed rate, bytes /
bandwidth, and requests x latency / requests in flight. The mode with the lower bound is
chosen (or the one the config names). Event windows are cut into bulks per block, at most
`max_bulk_lines` lines and `samples_per_request` samples each (the centre's limit, and
what arrives in half the deadline on the link's share); in station-day mode the driver asks
every station-day that holds a window once, into the SDS cache, and the blocks then read
their windows from there (a day that failed is asked again by its blocks, as windows).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from faultprobe.config import Waveforms
from faultprobe.pipelines.limits import CHANNELS, DAY_S, DCLimits, resolve
from faultprobe.pipelines.plan import Plan
from faultprobe.pipelines.sdscache import DAY_NS
from faultprobe.pipelines.sources import Request

NAT = np.iinfo(np.int64).min
NS = 10**9
RECORD_BYTES = 512  # each line costs about one partial record per channel at its edges
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModeCost:
    """What one way of asking costs: requests, samples, bytes, and the time they take at best."""

    mode: str  # events | days
    bulk_lines: int  # lines per request (0: this mode cannot be used)
    lines: int  # windows or station-days asked for
    requests: int
    samples: float
    bytes: float
    rate_s: float  # requests / allowed rate
    bandwidth_s: float  # bytes / bandwidth
    concurrency_s: float  # requests x latency / requests in flight

    @property
    def lower_bound_s(self) -> float:
        return max(self.rate_s, self.bandwidth_s, self.concurrency_s)

    @property
    def bound_by(self) -> str:
        terms = {
            "rate": self.rate_s,
            "bandwidth": self.bandwidth_s,
            "concurrency": self.concurrency_s,
        }
        return max(terms, key=terms.get)

    @property
    def usable(self) -> bool:
        return self.bulk_lines > 0


@dataclass(frozen=True)
class RequestPlan:
    """The chosen way of asking, the other one, and the limits they were costed under."""

    service: str
    limits: DCLimits
    chosen: ModeCost
    other: ModeCost
    why: str

    @property
    def mode(self) -> str:
        return self.chosen.mode

    @property
    def lower_bound_s(self) -> float:
        return self.chosen.lower_bound_s

    def render(self) -> str:
        lim = self.limits
        centre = f"{lim.max_samples:.3g}" if lim.max_samples else "no limit"
        head = (
            f"request plan for {self.service} (preset {lim.preset}: {lim.per_second:g} "
            f"requests/s, {lim.max_concurrent} in flight, {lim.max_bulk_lines} lines and "
            f"{lim.samples_per_request:.3g} samples per request (the centre's: {centre}; in "
            f"half the {lim.timeout_s:g} s deadline: {lim.timely_samples:.3g}); link "
            f"{lim.bandwidth_bps / 1e6:g} MB/s, latency {lim.latency_s:g} s)"
        )
        rows = [head]
        for cost in (self.chosen, self.other):
            mark = "*" if cost is self.chosen else " "
            rows.append(f" {mark} {_line(cost)}")
        rows.append(f"   mode {self.mode}: {self.why}")
        return "\n".join(rows)


def _line(c: ModeCost) -> str:
    unit = "windows" if c.mode == "events" else "station-days"
    if not c.usable:
        return f"{c.mode:<6}  not possible: one station-day is above the samples limit"
    return (
        f"{c.mode:<6}  {c.requests:,} requests of <= {c.bulk_lines} {unit} "
        f"({c.lines:,} in all), {c.samples:.3g} samples, {_bytes(c.bytes)}; lower bound "
        f"{_duration(c.lower_bound_s)} (rate {_duration(c.rate_s)}, bandwidth "
        f"{_duration(c.bandwidth_s)}, concurrency {_duration(c.concurrency_s)})"
    )


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _duration(s: float) -> str:
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s"


def _cost(mode: str, lim: DCLimits, bulk: int, lines: int, requests: int, samples: float):
    nbytes = samples * lim.bytes_per_sample + lines * CHANNELS * RECORD_BYTES
    return ModeCost(
        mode,
        bulk,
        lines,
        requests,
        samples,
        nbytes,
        rate_s=requests / lim.per_second,
        bandwidth_s=nbytes / lim.bandwidth_bps,
        concurrency_s=requests * lim.latency_s / lim.max_concurrent,
    )


def spans(plan: Plan, w: Waveforms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (event, station): whether it is asked, and the [start, end] ns of its bulk line
    (the window and the padding the blocks ask for; faultprobe.pipelines.blocks)."""
    p = plan.p_time_ns
    valid = p != NAT
    pad = int(round((w.pad_s + 1.0) * NS))
    start = np.where(valid, p + int(round(w.window_s[0] * NS)) - pad, 0)
    end = np.where(valid, p + int(round(w.window_s[1] * NS)) + pad, 0)
    return valid, start, end


def station_days(plan: Plan, w: Waveforms) -> list[np.ndarray]:
    """Per station, the UTC days (days since 1970) that hold part of one of its windows."""
    valid, start, end = spans(plan, w)
    out = []
    for j in range(len(plan.stations)):
        v = valid[:, j]
        # a window (seconds long) spans at most two days
        out.append(np.unique(np.concatenate([start[v, j], end[v, j]]) // DAY_NS))
    return out


def count_bulks(
    runs: np.ndarray, per_line: np.ndarray, max_lines: int, max_samples: float | None
) -> int:
    """How many bulks `cut_bulks` makes of runs[j] lines of per_line[j] samples each, in
    order (the same greedy cut, run by run instead of line by line)."""
    if max_samples is None:
        return math.ceil(int(runs.sum()) / max_lines)
    n, lines, samples = 0, 0, 0.0  # bulks closed; lines and samples of the open one
    for k, s in zip(runs.astype(int), per_line):
        while k > 0:
            room = min(max_lines - lines, int((max_samples - samples) // s)) if lines else k
            take = min(k, max(room, 0))
            if take == 0:  # the open bulk is full: close it
                n, lines, samples = n + 1, 0, 0.0
                continue
            if not lines:  # a new bulk takes at least one line, then what fits
                take = min(k, max(1, min(max_lines, int(max_samples // s))))
            lines, samples, k = lines + take, samples + take * s, k - take
    return n + (lines > 0)


def cost_events(plan: Plan, w: Waveforms, lim: DCLimits) -> ModeCost:
    """Event windows in bulks, cut per block (a task asks for its own block's windows)."""
    valid, _, _ = spans(plan, w)
    rates = np.array([s.sampling_rate for s in plan.stations], float)
    seconds = w.window_s[1] - w.window_s[0] + 2 * (w.pad_s + 1.0)
    per_line = seconds * rates * CHANNELS
    bulk = max(1, lim.lines_within(float(per_line.max(initial=0.0))))
    requests = 0
    for b in range(plan.n_blocks):
        runs = valid[plan.block(b)].sum(axis=0)  # a block asks station by station
        requests += count_bulks(runs, per_line, lim.max_bulk_lines, lim.samples_per_request)
    samples = float((valid * per_line[None, :]).sum())
    return _cost("events", lim, bulk, int(valid.sum()), requests, samples)


def cost_days(plan: Plan, w: Waveforms, lim: DCLimits) -> ModeCost:
    """Whole station-days, each asked once by the driver."""
    days = station_days(plan, w)
    rates = np.array([s.sampling_rate for s in plan.stations], float)
    per_day = DAY_S * rates * CHANNELS
    bulk = lim.lines_within(float(per_day.max(initial=0.0)))
    n = sum(len(d) for d in days)
    samples = float(sum(len(d) * x for d, x in zip(days, per_day)))
    requests = (
        count_bulks(
            np.array([len(d) for d in days]), per_day, lim.max_bulk_lines, lim.samples_per_request
        )
        if bulk
        else 0
    )
    return _cost("days", lim, bulk, n, requests, samples)


def plan_requests(plan: Plan, w: Waveforms, lim: DCLimits | None = None) -> RequestPlan:
    """Cost both modes and choose one (the config's `mode`, or the lower lower bound)."""
    lim = lim or resolve(w)
    ev, dy = cost_events(plan, w, lim), cost_days(plan, w, lim)
    if lim.mode == "events" or (lim.mode == "auto" and not dy.usable):
        why = "as configured" if lim.mode == "events" else "station-days are above the limit"
        chosen, other = ev, dy
    elif lim.mode == "days":
        if not dy.usable:
            from faultprobe.pipelines.errors import IngestError

            raise IngestError(
                "waveforms.limits.mode = 'days', but one station-day is above "
                f"max_samples_per_request ({lim.max_samples:g}); use mode = 'events'"
            )
        chosen, other, why = dy, ev, "as configured"
    elif dy.lower_bound_s < ev.lower_bound_s:
        chosen, other = dy, ev
        why = f"its lower bound is {ev.lower_bound_s / max(dy.lower_bound_s, 1e-9):.3g}x lower"
    else:
        chosen, other = ev, dy
        why = (
            f"its lower bound is {dy.lower_bound_s / max(ev.lower_bound_s, 1e-9):.3g}x lower"
            if dy.usable
            else "station-days are above the limit"
        )
    return RequestPlan(str(w.fdsn), lim, chosen, other, why)


def day_requests(plan: Plan, w: Waveforms) -> list[Request]:
    """One request per station whose spans are its whole station-days."""
    out = []
    for st, days in zip(plan.stations, station_days(plan, w)):
        out.append(Request(st, days * DAY_NS, (days + 1) * DAY_NS))
    return out


def follow(plan: Plan, w: Waveforms, source) -> RequestPlan:
    """Log the plan; in station-day mode, fetch every needed station-day into the cache."""
    rp = plan_requests(plan, w, resolve(w))
    log.info(rp.render())
    if rp.mode == "days":
        failed = source.prefetch(day_requests(plan, w))
        if failed:
            log.info(f"{failed} station-days failed; their blocks ask for those windows")
    return rp


def plan_study(store_root: str, w: Waveforms, aliases: dict | None = None) -> RequestPlan:
    """The request plan of a study's store (events.parquet, stations.parquet), fetching
    nothing: what `faultprobe ingest --plan` prints."""
    from faultprobe.pipelines.errors import IngestError
    from faultprobe.pipelines.plan import PlanError, make_plan
    from faultprobe.store import EVENTS, STATIONS, Store

    store = Store(store_root)
    try:
        plan = make_plan(store.read_table(EVENTS), store.read_table(STATIONS), w, aliases)
    except PlanError as err:
        raise IngestError(f"{store.root}: {err} (run `faultprobe catalog` again)") from None
    except FileNotFoundError as err:
        hint = "" if "faultprobe catalog" in str(err) else " (run `faultprobe catalog` first)"
        raise IngestError(f"{store.root}: {err}{hint}") from None
    return plan_requests(plan, w)
