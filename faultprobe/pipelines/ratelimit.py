"""Request limits per data centre: at most N requests in flight and R requests per second.

Two semaphores. The concurrency one has N slots, each held while its request runs (from
before it is sent until its answer has been read), so the data centre never sees more
than N at once. The rate one has n = floor(R) leases (at least one); a lease is given back
`window` = max(1, n / R) seconds after the answer's status line came back (`note_answered`,
called by the HTTP layer for every answer, the digest challenge's included; without one,
after the request ended). A request reaches the data centre before its answer leaves it,
so the next request through that lease arrives at least `window` seconds after it, on the
data centre's own clock, whatever the delays on either side (a loaded client, a slow
server): no sliding second sees more than n requests there, which is where the limit is
counted, and the long-run rate stays below R. What it costs: a lease is busy for `window`
plus the time to the answer's first byte, so the rate reached is n / (window + that time).
Just before each HTTP request goes out (`note_sent`) a pause (Retry-After) that another
request's answer said meanwhile is kept. Inside Dask workers the semaphores and the pause
are Dask's, so the limits hold for the whole cluster; elsewhere they are threading objects
of this process.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator

_SENT = threading.local()


def note_sent() -> None:
    """Called by the HTTP layer each time a request of this thread goes to the connection:
    a pause (Retry-After) said meanwhile by another request's answer is kept here, at the
    last moment."""
    limiter = getattr(_SENT, "limiter", None)
    if limiter is not None:
        limiter._wait_pause()


def note_answered() -> None:
    """Called by the HTTP layer when an answer's status line has come back: the request
    has reached the data centre by then, so its rate lease counts from here."""
    _SENT.at = time.time()


def note_pause(seconds: float | None) -> None:
    """Called by the HTTP layer when an answer says Retry-After: the pause starts at once,
    before the answer has travelled up through the client's error handling."""
    limiter = getattr(_SENT, "limiter", None)
    if limiter is not None and seconds:
        limiter.pause(seconds)


def _lease_count(per_second: float) -> int:
    return max(1, math.floor(per_second + 1e-9))


def _window(per_second: float, margin: float) -> float:
    return max(1.0, _lease_count(per_second) / per_second) * margin


class _Limiter:
    """Slots, leases and pauses; subclasses say where the semaphores and the pause live."""

    window: float
    leases: int
    _conc: contextlib.AbstractContextManager

    def _until(self) -> float:
        raise NotImplementedError

    def _take_lease(self) -> None:
        raise NotImplementedError

    def _give_lease(self) -> None:
        raise NotImplementedError

    def _wait_pause(self) -> None:
        while (left := self._until() - time.time()) > 0:
            time.sleep(left)

    def _give_back_at(self, when: float) -> None:
        delay = when - time.time()
        if delay <= 0:
            self._give_lease()
            return
        timer = threading.Timer(delay, self._give_lease)
        timer.daemon = True
        timer.start()

    def drain(self) -> None:
        """Wait until every lease is back: this limiter's requests are then out of every
        sliding window that a limiter taking over from it (the workers') will count in."""
        for _ in range(self.leases):
            self._take_lease()
        for _ in range(self.leases):
            self._give_lease()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request slot and one rate lease; the lease goes back `window` s after the
        answer came (or the request ended)."""
        with self._conc:
            self._take_lease()
            _SENT.at, _SENT.limiter = None, self
            try:
                self._wait_pause()
                yield
            finally:
                _SENT.limiter = None
                sent = getattr(_SENT, "at", None)
                self._give_back_at((sent if sent is not None else time.time()) + self.window)


class LocalLimiter(_Limiter):
    """Limits for the threads of one process."""

    def __init__(self, max_concurrent: int, per_second: float, margin: float = 1.005):
        self.window = _window(per_second, margin)
        self.leases = _lease_count(per_second)
        self._conc = threading.BoundedSemaphore(max_concurrent)
        self._leases = threading.BoundedSemaphore(self.leases)
        self._pause_until = 0.0
        self._lock = threading.Lock()

    def _take_lease(self) -> None:
        self._leases.acquire()

    def _give_lease(self) -> None:
        self._leases.release()

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

    def __init__(self, name: str, max_concurrent: int, per_second: float, margin: float = 1.005):
        from distributed import Semaphore, get_client

        self.window = _window(per_second, margin)
        self.leases = _lease_count(per_second)
        self._conc = Semaphore(max_leases=max_concurrent, name=f"faultprobe-fdsn-{name}")
        self._leases = Semaphore(max_leases=self.leases, name=f"faultprobe-fdsn-rate-{name}")
        self._client = get_client()
        self._key = ["faultprobe-fdsn-pause", name]

    def _take_lease(self) -> None:
        self._leases.acquire()

    def _give_lease(self) -> None:
        self._leases.release()

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
