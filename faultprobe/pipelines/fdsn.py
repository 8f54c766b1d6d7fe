"""FDSN web services through ObsPy's `Client`, polite and resumable.

Per block: windows already in the local SDS cache are not asked again; the rest go out as
bulk dataselect requests (POST) under the data centre's limits (concurrent requests and
requests per second, shared by the whole Dask cluster). 429/503 answers pause every
request for their Retry-After; other errors are retried with exponential back-off, and a
bulk request that keeps failing is split in halves to isolate the bad items. 204 means
no data. Everything fetched lands in the cache, and the windows are then read from the
cache by the SDS reader, so the cube is the same as from an SDS archive.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from urllib.parse import urlparse

import numpy as np
from obspy import UTCDateTime
from obspy.clients.fdsn import Client
from obspy.clients.fdsn.header import (
    FDSNBadRequestException,
    FDSNNoDataException,
    FDSNRequestTooLargeException,
    FDSNServiceUnavailableException,
    FDSNTooManyRequestsException,
)

from faultprobe.pipelines.ratelimit import limiter_for
from faultprobe.pipelines.sdscache import SDSCache
from faultprobe.pipelines.sources import Fetched, Request, SDSSource


class RetryAfter(urllib.request.BaseHandler):
    """Remembers the Retry-After header of 429/503 answers (ObsPy's Client drops it)."""

    def __init__(self):
        self.local = threading.local()

    def _keep(self, req, fp, code, msg, hdrs):
        value = hdrs.get("Retry-After") if hdrs is not None else None
        try:
            self.local.seconds = float(value) if value is not None else None
        except ValueError:
            self.local.seconds = None
        return None  # let the default handler raise as usual

    http_error_429 = _keep
    http_error_503 = _keep

    def pop(self) -> float | None:
        seconds = getattr(self.local, "seconds", None)
        self.local.seconds = None
        return seconds


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "[token]") if secret else text


class FDSNSource:
    """Bulk dataselect with limits, retries and a local SDS cache."""

    name = "fdsn"

    def __init__(
        self,
        url: str,
        cache: str,
        *,
        max_concurrent: int = 2,
        per_second: float = 4.0,
        timeout: float = 60.0,
        max_attempts: int = 4,
        backoff_s: float = 1.0,
        max_bulk_items: int = 200,
        eida_token: str | None = None,
        limiter=None,
    ):
        self.url = url
        self.cache = SDSCache(cache)
        self.reader = SDSSource(cache)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_bulk_items = max_bulk_items
        self.eida_token = eida_token
        host = urlparse(url).netloc or url
        self.limiter = limiter or limiter_for(host.replace(":", "_"), max_concurrent, per_second)
        self._client = None
        self._retry_after = RetryAfter()
        self._secret = None
        if eida_token:
            with open(eida_token) as f:
                self._secret = f.read().strip()

    @property
    def client(self) -> Client:
        if self._client is None:
            with self.limiter.slot():
                self._client = Client(self.url, timeout=self.timeout, eida_token=self.eida_token)
            self._client._url_opener.add_handler(self._retry_after)
        return self._client

    def fetch(self, requests: list[Request]) -> list[list[Fetched]]:
        failures: dict[tuple[int, int], Fetched] = {}
        attempts: dict[tuple[int, int], int] = {}
        items = []  # (request index, window index, bulk line)
        for r, req in enumerate(requests):
            st = req.station
            done = self.cache.covered(self._key(st), req.starts_ns, req.ends_ns)
            for w in np.flatnonzero(~done):
                line = (
                    st.network,
                    st.station,
                    st.location or "--",
                    f"{st.channels}?",
                    UTCDateTime(ns=int(req.starts_ns[w])),
                    UTCDateTime(ns=int(req.ends_ns[w])),
                )
                items.append((r, int(w), line))
        self._bulk_all(items, requests, failures, attempts)
        out = self.reader.fetch(requests)
        # Windows with no data under the study's network code are asked again under its
        # aliases (e.g. 8P stations that older holdings file under IV); the cache keeps
        # what comes back under the code it came with, and the reader tries the aliases.
        again = [
            (r, w, (alias, *line[1:]))
            for r, w, line in items
            if (r, w) not in failures and out[r][w].status == "no_data"
            for alias in requests[r].station.aliases
        ]
        if again:
            self._bulk_all(again, requests, failures, attempts)
            out = self.reader.fetch(requests)
        for r, rows in enumerate(out):
            for w, row in enumerate(rows):
                row.attempts = attempts.get((r, w), 0)
                if (r, w) in failures:
                    rows[w] = failures[(r, w)]
                elif row.status == "no_data":
                    row.reason = f"no data from {self.url}"
        return out

    def _bulk_all(self, items, requests, failures, attempts) -> None:
        for k in range(0, len(items), self.max_bulk_items):
            self._bulk(items[k : k + self.max_bulk_items], requests, failures, attempts)

    @staticmethod
    def _key(st) -> str:
        return f"{st.network}.{st.station}.{st.location}.{st.channels}"

    def _bulk(self, items, requests, failures, attempts) -> None:
        """One bulk request with retries; split in halves when it keeps failing."""
        error = "no attempt"
        tries = 0
        waits = 0
        while tries < self.max_attempts:
            tries += 1
            for r, w, _ in items:
                attempts[(r, w)] = attempts.get((r, w), 0) + 1
            try:
                with self.limiter.slot():
                    stream = self.client.get_waveforms_bulk([line for _, _, line in items])
            except FDSNNoDataException:
                self._remember(items, requests)
                return
            except (FDSNTooManyRequestsException, FDSNServiceUnavailableException) as err:
                wait = self._retry_after.pop() or self.backoff_s * 2 ** (tries - 1)
                self.limiter.pause(wait)
                error = f"{type(err).__name__} (retry after {wait:g} s)"
                if waits < 3 * self.max_attempts:
                    waits += 1
                    tries -= 1  # a rate-limit answer is not the items' fault
                continue
            except (FDSNBadRequestException, FDSNRequestTooLargeException) as err:
                error = f"{type(err).__name__}: {str(err).splitlines()[0]}"
                break
            except Exception as err:  # 500, timeouts, truncated answers, bad miniSEED
                error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                time.sleep(self.backoff_s * 2 ** (tries - 1))
                continue
            self.cache.add(stream)
            self._remember(items, requests)
            return
        if len(items) > 1:
            half = len(items) // 2
            self._bulk(items[:half], requests, failures, attempts)
            self._bulk(items[half:], requests, failures, attempts)
            return
        r, w, _ = items[0]
        reason = _redact(f"{self.url}: {error} after {attempts[(r, w)]} attempts", self._secret)
        failures[(r, w)] = Fetched(None, "error", reason, attempts[(r, w)])

    def _remember(self, items, requests) -> None:
        by_key: dict[str, list[tuple[int, int]]] = {}
        for r, w, _ in items:
            req = requests[r]
            by_key.setdefault(self._key(req.station), []).append(
                (int(req.starts_ns[w]), int(req.ends_ns[w]))
            )
        for key, iv in by_key.items():
            self.cache.record(key, iv)
