"""Request limits per data centre: at most N requests in flight and R requests per second.

One primitive gives both bounds: a semaphore of N slots where each slot is held N / R
seconds after its request has ended.  A request reaches the server before its answer
ends, so two requests through one slot reach the server at least N / R seconds apart,
whatever the delays between taking a slot and sending: no window of N / R seconds sees
more than N requests at the data centre, which is where the limit is counted. Inside Dask
workers the semaphore and the pause (Retry-After) are Dask's, so the limits hold for the
whole cluster; elsewhere they are threading objects of this process.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator


class _Limiter:
    """Slots and pauses; subclasses say where the semaphore and the pause time live."""

    hold: float
    _sem: contextlib.AbstractContextManager

    def _until(self) -> float:
        raise NotImplementedError

    def _wait_pause(self) -> None:
        while (left := self._until() - time.time()) > 0:
            time.sleep(left)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request slot: wait for a free slot and any pause, keep it `hold` s after."""
        with self._sem:
            self._wait_pause()
            try:
                yield
            finally:
                time.sleep(self.hold)


class LocalLimiter(_Limiter):
    """Limits for the threads of one process."""

    def __init__(self, max_concurrent: int, per_second: float, margin: float = 1.05):
        self.hold = max_concurrent / per_second * margin
        self._sem = threading.BoundedSemaphore(max_concurrent)
        self._pause_until = 0.0
        self._lock = threading.Lock()

    def _until(self) -> float:
        return self._pause_until

    def pause(self, seconds: float) -> None:
        """Let no request start for `seconds` (a Retry-After answer)."""
        with self._lock:
            self._pause_until = max(self._pause_until, time.time() + seconds)


class DaskLimiter(_Limiter):
    """The same limits shared by every task of a Dask cluster (named per data centre).

    The pause (Retry-After) lives in the scheduler's metadata, read with a default.
    """

    def __init__(self, name: str, max_concurrent: int, per_second: float, margin: float = 1.05):
        from distributed import Semaphore, get_client

        self.hold = max_concurrent / per_second * margin
        self._sem = Semaphore(max_leases=max_concurrent, name=f"faultprobe-fdsn-{name}")
        self._client = get_client()
        self._key = ["faultprobe-fdsn-pause", name]

    def _until(self) -> float:
        return float(self._client.get_metadata(self._key, default=0.0))

    def pause(self, seconds: float) -> None:
        self._client.set_metadata(self._key, max(self._until(), time.time() + seconds))


def limiter_for(name: str, max_concurrent: int, per_second: float):
    """Dask-wide limits inside a Dask worker, process-wide limits elsewhere."""
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return LocalLimiter(max_concurrent, per_second)
    return DaskLimiter(name, max_concurrent, per_second)
