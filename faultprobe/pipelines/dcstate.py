"""What the tasks of one ingest run share about a data centre: a circuit breaker and counters.

The breaker counts consecutive failures that say the service itself is in trouble
(connection refused or reset, time-outs, 502/503/504, answers that are not miniSEED); any
answer resets it. After `limit` in a row it opens: nobody asks that data centre again in
this run, and the windows not yet fetched are marked transient (the next run asks again).
The counters (requests, bytes, windows, retries) feed the driver's progress line.

Inside Dask workers both live in the scheduler's metadata under the run's id, so every task
of the run sees them; elsewhere they are plain objects of this process.
"""

from __future__ import annotations

import os
import threading
from collections import Counter

COUNTERS = ("requests", "bytes", "windows", "cached", "retries", "failed")


class _State:
    limit: int

    def _get(self, key: str, default):
        raise NotImplementedError

    def _set(self, key: str, value) -> None:
        raise NotImplementedError

    def tripped(self) -> str | None:
        """The reason the breaker is open, or None."""
        return self._get("open", None)

    def failure(self, what: str) -> str | None:
        """Count one service failure; returns the breaker's reason if it is (now) open."""
        n = int(self._get("fails", 0)) + 1
        self._set("fails", n)
        if n >= self.limit and not self.tripped():
            self._set("open", f"the service failed {n} times in a row (last: {what})")
        return self.tripped()

    def success(self) -> None:
        if int(self._get("fails", 0)):
            self._set("fails", 0)


class LocalState(_State):
    """Breaker and counters for the threads of one process."""

    def __init__(self, limit: int):
        self.limit = limit
        self._values: dict = {}
        self._counts: Counter = Counter()
        self._lock = threading.Lock()

    def _get(self, key, default):
        return self._values.get(key, default)

    def _set(self, key, value):
        self._values[key] = value

    def count(self, **deltas: int) -> None:
        with self._lock:
            self._counts.update(deltas)

    def totals(self) -> dict[str, int]:
        return {k: int(self._counts.get(k, 0)) for k in COUNTERS}


class DaskState(_State):
    """The same, shared by every task of one run through the scheduler's metadata."""

    def __init__(self, run: str, name: str, limit: int):
        from distributed import get_client

        self.limit = limit
        self._client = get_client()
        self._key = ["faultprobe-run", run, "dc", name]
        self._stats_key = ["faultprobe-run", run, "stats", f"{os.getpid()}-{threading.get_ident()}"]
        self._counts: Counter = Counter()
        self._lock = threading.Lock()  # the source's bulk threads count through one state

    def _get(self, key, default):
        return self._client.get_metadata([*self._key, key], default=default)

    def _set(self, key, value):
        self._client.set_metadata([*self._key, key], value)

    def count(self, **deltas: int) -> None:
        # Each thread publishes its own running totals under its own key: no lost updates.
        with self._lock:  # in order: a newer total is never overwritten by an older one
            self._counts.update(deltas)
            self._client.set_metadata(self._stats_key, dict(self._counts))


_LOCAL: dict[tuple[str, str], LocalState] = {}
_DASK: dict[tuple[str, str, int], DaskState] = {}
_GUARD = threading.Lock()


def state_for(run: str, name: str, limit: int):
    """The run's state for one data centre: Dask-wide inside a worker, else this process's."""
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        with _GUARD:
            return _LOCAL.setdefault((run, name), LocalState(limit))
    key = (run, name, threading.get_ident())
    with _GUARD:
        if key not in _DASK:
            _DASK[key] = DaskState(run, name, limit)
        return _DASK[key]


def run_totals(client, run: str) -> dict[str, int]:
    """Sum of every task thread's counters for a run (read by the driver)."""
    per_thread = client.get_metadata(["faultprobe-run", run, "stats"], default={}) or {}
    total: Counter = Counter()
    for counts in per_thread.values():
        total.update(counts)
    return {k: int(total.get(k, 0)) for k in COUNTERS}


def forget_run(client, run: str) -> None:
    """Drop a finished run's shared state from the scheduler."""
    try:
        client.set_metadata(["faultprobe-run", run], {})
    except Exception:
        pass
