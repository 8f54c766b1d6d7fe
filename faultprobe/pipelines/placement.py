"""Where each trace's P window is placed: the velocity model, an analyst's pick, a dataset.

The plan starts from the model's P for every (event, station); `[waveforms] p_arrival =
"picks"` replaces it where the catalog has a P pick of that event at that station (the
store's picks.parquet, written by `faultprobe catalog` from a QuakeML), `"dataset"` where a
dataset's trace gives its own P.  The cube's `p_source` records which placed each trace.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from enum import IntEnum

import numpy as np
import pandas as pd

from faultprobe.errors import InputError
from faultprobe.pipelines.plan import Plan
from faultprobe.store import PICKS, Store

log = logging.getLogger(__name__)


class PSource(IntEnum):
    """What placed a trace's P: the cube's `p_source` code."""

    MODEL = 0
    PICK = 1
    DATASET = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class PicksError(InputError, ValueError):
    """`p_arrival = "picks"` without the store's picks table (the message says what to do)."""


def p_sources(plan: Plan) -> np.ndarray:
    """The plan's (event, station) P sources as int8 codes (the model's where unset)."""
    if plan.p_source is not None:
        return plan.p_source
    return np.full(plan.p_time_ns.shape, PSource.MODEL, dtype=np.int8)


def place(plan: Plan, p_ns: np.ndarray, mask: np.ndarray, source: PSource) -> Plan:
    """The plan with `p_ns` where `mask` (placed by `source`); the plan hash follows the
    P times, so a cube started from other picks is not resumed as if it were the same."""
    if not mask.any():
        return plan
    times = np.where(mask, p_ns, plan.p_time_ns).astype(np.int64)
    codes = np.where(mask, np.int8(source), p_sources(plan)).astype(np.int8)
    digest = hashlib.sha256(plan.plan_hash.encode() + times.tobytes()).hexdigest()[:16]
    return replace(plan, p_time_ns=times, p_source=codes, plan_hash=digest)


def first_picks(picks: pd.DataFrame) -> pd.DataFrame:
    """One P pick per (event, network, station): those the preferred origin used first, then
    manual before automatic, then the earliest (the first P, as the model's is)."""
    order = picks.assign(
        _used=~picks["preferred_origin"].astype(bool),
        _auto=picks["trace_p_status"].astype(str) != "manual",
    ).sort_values(["_used", "_auto", "trace_p_arrival_time"], kind="stable")
    return order.drop_duplicates(["source_id", "station_network_code", "station_code"]).drop(
        columns=["_used", "_auto"]
    )


def overlay_p_times(plan: Plan, events, networks, stations, times_ns, *, first: bool = True):
    """The plan's P times with the given (event, network, station) times put in their place
    (network aliases honoured; the first or the last of duplicates wins) and where one was."""
    p = plan.p_time_ns.copy()
    mask = np.zeros(p.shape, dtype=bool)
    keys: dict[tuple[str, str], int] = {}
    for j, s in enumerate(plan.stations):  # a handful of stations: their codes and aliases
        for n in (s.network, *s.aliases):
            keys.setdefault((n, s.station), j)
    if not keys or not len(times_ns):
        return p, mask
    i = pd.Index(plan.events["source_id"].astype(str)).get_indexer(pd.Index(events).astype(str))
    codes = pd.MultiIndex.from_tuples(list(keys))
    given = pd.MultiIndex.from_arrays(
        [pd.Index(networks).astype(str), pd.Index(stations).astype(str)]
    )
    hit = codes.get_indexer(given)
    ok = (i >= 0) & (hit >= 0)
    t = np.asarray(times_ns, dtype=np.int64)[ok]
    flat = i[ok] * p.shape[1] + np.fromiter(keys.values(), dtype=np.int64)[hit[ok]]
    if not first:  # the last of duplicates: the first of the reversed order
        flat, t = flat[::-1], t[::-1]
    flat, at = np.unique(flat, return_index=True)  # each cell's first occurrence
    p.flat[flat], mask.flat[flat] = t[at], True
    return p, mask


def pick_times(plan: Plan, picks: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The (event, station) P times of the picks (network aliases honoured) and where one
    was found."""
    if picks.empty:
        return plan.p_time_ns.copy(), np.zeros(plan.p_time_ns.shape, dtype=bool)
    best = first_picks(picks)
    t = (
        pd.to_datetime(best["trace_p_arrival_time"], utc=True)
        .dt.tz_localize(None)
        .astype("datetime64[ns]")
    )
    ns = t.to_numpy().astype(np.int64)
    ids, nets = best["source_id"], best["station_network_code"]
    return overlay_p_times(plan, ids, nets, best["station_code"], ns)


def placed_by_picks(plan: Plan, store: Store) -> Plan:
    """The plan with P at the store's picks wherever an event has one at a station; says
    how many traces the picks place and how far they are from the model's P."""
    if not store.exists(PICKS):
        raise PicksError(
            f"{store.url(PICKS)} is missing, and [waveforms] p_arrival = 'picks' places the "
            "windows at the catalog's P picks: run `faultprobe catalog --force` with the "
            "QuakeML catalog (it writes them), or set p_arrival = 'model'"
        )
    p, mask = pick_times(plan, store.read_table(PICKS))
    n, total = int(mask.sum()), mask.size
    if not n:
        log.warning(
            f"warning: no P pick of the {len(plan.events)} events at the {len(plan.stations)} "
            f"stations in {store.url(PICKS)}: the velocity model places every window"
        )
        return plan
    model = plan.p_time_ns[mask]
    ok = model != np.iinfo(np.int64).min
    lag = (p[mask][ok] - model[ok]) / 1e9
    spread = (
        f" (pick - model: median {np.median(lag):+.2f} s, largest {lag[np.argmax(abs(lag))]:+.2f} s)"
        if len(lag)
        else ""
    )
    log.info(
        f"P from the catalog's picks for {n} of {total} traces{spread}; the velocity model "
        "places the others"
    )
    return place(plan, p, mask, PSource.PICK)
