"""FDSN web services through ObsPy's `Client`, polite, checked and resumable.

Per block: windows already in the local SDS cache are not asked again; the rest go out as
bulk dataselect requests (POST) under the data centre's limits (concurrent requests and
requests per second, shared by the whole Dask cluster). Every request of any kind takes a
slot: the one probe before the run (our service discovery; ObsPy's own is switched off),
the EIDA token exchange, and each query. 429/503 answers pause every request for their
Retry-After (seconds or an HTTP date); an answer must be complete within
`request_timeout_s` (a trickle is cut there). Failures are classified: no data (204/404) is
permanent; connection errors, time-outs, 5xx and answers that are not miniSEED are
transient (retried with back-off, then left for the next run; a circuit breaker stops
asking a data centre that keeps failing); a request the service rejects (400/413), or one
that keeps failing with 500, is split in halves to isolate the bad items. What comes back
is checked against what was asked (network, station, location, channel of every record):
records of another station are never cached and their windows get status `wrong_data`.
Everything accepted lands in the cache and the windows are then read from it by the SDS
reader, so the cube is the same as from an SDS archive.
"""

from __future__ import annotations

import http.client
import io
import socket
import time
import urllib.error
from enum import StrEnum
from urllib.parse import urlparse

import numpy as np
from obspy import Stream, UTCDateTime
from obspy.clients.fdsn import Client
from obspy.clients.fdsn.header import (
    FDSNBadGatewayException,
    FDSNBadRequestException,
    FDSNException,
    FDSNForbiddenException,
    FDSNInternalServerException,
    FDSNNoDataException,
    FDSNRequestTooLargeException,
    FDSNServiceUnavailableException,
    FDSNTimeoutException,
    FDSNTooManyRequestsException,
    FDSNUnauthorizedException,
)

from faultprobe.errors import ServiceFailure
from faultprobe.pipelines.dcstate import state_for
from faultprobe.pipelines.fdsnhttp import (
    ServiceDown,
    ServiceError,
    base_url,
    first_line,
    probe,
    redact,
    retry_handler,
    shared_client,
    token_secret,
)
from faultprobe.pipelines.mseed import read_mseed
from faultprobe.pipelines.ratelimit import limiter_for
from faultprobe.pipelines.sdscache import SDSCache
from faultprobe.pipelines.sources import Fetched, Request, SDSSource, matches

# -- what can go wrong with one request -----------------------------------------------------


class Kind(StrEnum):
    """The kind of a failed request: what the source does next (see the module docstring)."""

    NODATA = "nodata"  # permanent: remembered as asked
    RATE = "rate"  # pause every request for Retry-After, then ask again
    DOWN = "down"  # transient: back off and retry, then leave for the next run
    SERVER = "server"  # split in halves to isolate the bad items
    REJECTED = "rejected"  # split in halves; a single item is an error
    DENIED = "denied"  # an error: the token or the permissions


class BadAnswer(ServiceFailure):
    """A 200 answer that is not miniSEED (e.g. an HTML error page)."""


def classify(err: BaseException) -> Kind:
    """The kind of a failed request (see the module docstring)."""
    if isinstance(err, FDSNNoDataException):
        return Kind.NODATA
    if isinstance(err, FDSNTooManyRequestsException | FDSNServiceUnavailableException):
        return Kind.RATE
    if isinstance(err, FDSNBadRequestException | FDSNRequestTooLargeException):
        return Kind.REJECTED
    if isinstance(err, FDSNUnauthorizedException | FDSNForbiddenException):
        return Kind.DENIED
    if isinstance(err, FDSNInternalServerException):
        return Kind.SERVER
    if isinstance(err, FDSNException) and "Unknown HTTP code: 404" in str(err):
        return Kind.NODATA
    if isinstance(
        err,
        FDSNTimeoutException
        | FDSNBadGatewayException
        | BadAnswer
        | TimeoutError
        | socket.timeout
        | ConnectionError
        | urllib.error.URLError
        | http.client.HTTPException
        | OSError,
    ):
        return Kind.DOWN
    if isinstance(err, FDSNException):
        # "Unknown Error (URLError …)", 504 and other codes without their own class
        return (
            Kind.SERVER
            if "HTTP code: 5" not in str(err) and "Unknown Error" not in str(err)
            else Kind.DOWN
        )
    return Kind.SERVER


def whole_window(stream: Stream, code: str, t0: UTCDateTime, t1: UTCDateTime) -> bool:
    """Whether three channels of `code` each cover [t0, t1] without a gap (the records of
    a window that came whole: one that came in part is asked again by the monitor)."""
    spans: dict[str, list] = {}
    for tr in stream:
        if matches(tr.id, code) and tr.stats.starttime <= t1 and tr.stats.endtime >= t0:
            spans.setdefault(tr.id, []).append((tr.stats.starttime, tr.stats.endtime))
    whole = 0
    for seed_id, parts in spans.items():
        slack = 1.5 / next(tr.stats.sampling_rate for tr in stream if tr.id == seed_id)
        reach = t0
        for a, b in sorted(parts):
            if a > reach + slack:
                break
            reach = max(reach, b)
        whole += reach >= t1 - slack
    return whole >= 3


class FDSNSource:
    """Bulk dataselect with limits, retries, checks and a local SDS cache."""

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
        run: str = "local",
        breaker_failures: int = 8,
        refresh: bool = False,
        remember_no_data: bool = True,
        max_samples: float | None = None,
    ):
        self.url = url
        self.base = base_url(url)
        self.cache = SDSCache(cache)
        self.reader = SDSSource(cache)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_bulk_items = max_bulk_items
        # RESIF-style limit: a request above it is answered 413, so bulks are cut below it.
        self.max_samples = max_samples
        self.max_concurrent = max_concurrent
        self.eida_token = eida_token
        self.refresh = refresh
        # False (the monitor): a window answered without data, or with only part of it, is
        # not recorded as fetched, so it is asked again later (late data).
        self.remember_no_data = remember_no_data
        host = (urlparse(self.base).netloc or url).replace(":", "_")
        # An authenticated query is two HTTP requests (the digest challenge, then the query).
        rate = per_second / 2 if eida_token else per_second
        self.limiter = limiter or limiter_for(host, max_concurrent, rate)
        self.state = state_for(run, host, breaker_failures)
        self._secret = token_secret(eida_token)

    @property
    def client(self) -> Client:
        return shared_client(self.url, self.timeout, self.eida_token, self.limiter)

    def fetch(self, requests: list[Request]) -> list[list[Fetched]]:
        failures: dict[tuple[int, int], Fetched] = {}
        attempts: dict[tuple[int, int], int] = {}
        items, n_windows = self._items(requests)
        self.state.count(windows=n_windows, cached=n_windows - len(items))
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
                if (r, w) in failures:
                    row = rows[w] = failures[(r, w)]
                row.attempts = attempts.get((r, w), 0)
                if (r, w) not in failures and row.status == "no_data":
                    row.reason = f"no data from {self.base}"
        self.state.count(failed=sum(f.status == "transient" for f in failures.values()))
        return out

    def prefetch(self, requests: list[Request]) -> int:
        """Fetch spans (e.g. whole station-days) into the cache without reading them back;
        returns how many failed (their windows are asked again, as windows, by the blocks)."""
        failures: dict[tuple[int, int], Fetched] = {}
        items, _ = self._items(requests)
        self._bulk_all(items, requests, failures, {})
        # Spans that came without data under the study's code are asked under its aliases
        # (as fetch() does for windows); the reader then finds them under the alias.
        again = [
            (r, w, (alias, *line[1:]))
            for r, w, line in items
            if (r, w) not in failures
            and requests[r].station.aliases
            and not self.cache.has_data(requests[r].station, line[4], line[5])
            for alias in requests[r].station.aliases
        ]
        if again:
            self._bulk_all(again, requests, failures, {})
        return len(failures)

    def _items(self, requests: list[Request]) -> tuple[list, int]:
        """The bulk lines of the windows not in the cache: (request, window, line); and
        how many windows were asked for in all."""
        items = []  # (request index, window index, bulk line)
        n_windows = 0
        for r, req in enumerate(requests):
            st = req.station
            n_windows += len(req.starts_ns)
            done = (
                np.zeros(len(req.starts_ns), bool)
                if self.refresh
                else self.cache.covered(self._key(st), req.starts_ns, req.ends_ns)
            )
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
        return items, n_windows

    def _bulk_all(self, items, requests, failures, attempts) -> None:
        """Cut the items into bulks within the line and samples limits; ask them with as
        many threads as the data centre allows requests in flight (the limiter keeps the
        rate)."""
        from faultprobe.pipelines.bulks import cut_bulks

        rates = [requests[r].station.sampling_rate for r, _, _ in items]
        bulks = cut_bulks(items, rates, self.max_bulk_items, self.max_samples)
        if len(bulks) <= 1 or self.max_concurrent <= 1:
            for bulk in bulks:
                self._bulk(bulk, requests, failures, attempts)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(self.max_concurrent, len(bulks))) as pool:
            for done in [pool.submit(self._bulk, b, requests, failures, attempts) for b in bulks]:
                done.result()

    @staticmethod
    def _key(st) -> str:
        return f"{st.network}.{st.station}.{st.location}.{st.channels}"

    def _fail(self, items, failures, attempts, status: str, error: str) -> None:
        for r, w, _ in items:
            n = attempts.get((r, w), 0)
            tries = f" after {n} attempts" if n else ""
            reason = redact(f"{self.base}: {error}{tries}", self._secret)
            failures[(r, w)] = Fetched(None, status, reason, n)

    def _ask(self, lines) -> bytes:
        """One bulk query; the raw answer (raises ObsPy's exceptions for HTTP errors)."""
        buf = io.BytesIO()
        self.client.get_waveforms_bulk(lines, filename=buf)
        data = buf.getvalue()
        self.state.count(requests=1, bytes=len(data))
        head = data[:512].lstrip().lower()
        if head.startswith(b"<") or b"<html" in head or b"<!doctype" in head:
            raise BadAnswer("the answer is an HTML/XML page, not miniSEED")
        return data

    def _bulk(self, items, requests, failures, attempts) -> None:
        """One bulk request with retries; split in halves when the service rejects it."""
        error, kind = "no attempt", Kind.DOWN
        tries = waits = 0
        while tries < self.max_attempts:
            reason = self.state.tripped()
            if reason:
                self._fail(items, failures, attempts, "transient", f"not asked, {reason}")
                return
            tries += 1
            for r, w, _ in items:
                attempts[(r, w)] = attempts.get((r, w), 0) + 1
            if tries > 1 or waits:
                self.state.count(retries=1)
            try:
                with self.limiter.slot():
                    data = self._ask([line for _, _, line in items])
                try:
                    got = read_mseed(data) if data else None
                except Exception as err:
                    raise BadAnswer(
                        f"the answer is not readable miniSEED ({first_line(err)})"
                    ) from None
            except Exception as err:
                kind = classify(err)
                error = first_line(err)
                if kind == Kind.NODATA:
                    self.state.success()
                    if self.remember_no_data:
                        self._remember(items, requests)
                    return
                if kind == Kind.RATE:
                    wait = self._retry_handler_seconds() or self.backoff_s * 2 ** (tries - 1)
                    self.limiter.pause(wait)
                    error = f"{type(err).__name__} (retry after {wait:g} s)"
                    if isinstance(err, FDSNServiceUnavailableException):
                        self.state.failure(error)
                    if waits < 3 * self.max_attempts:
                        waits += 1
                        tries -= 1  # a rate-limit answer is not the items' fault
                    continue
                if kind in (Kind.REJECTED, Kind.DENIED):
                    break
                if kind == Kind.DOWN:
                    self.state.failure(error)
                time.sleep(self.backoff_s * 2 ** (tries - 1))
                continue
            self.state.success()
            if got is None:  # 200 without a body: no data
                if self.remember_no_data:
                    self._remember(items, requests)
                return
            self._accept(got, items, requests, failures)
            return
        if kind in (Kind.REJECTED, Kind.SERVER) and len(items) > 1:
            half = len(items) // 2
            self._bulk(items[:half], requests, failures, attempts)
            self._bulk(items[half:], requests, failures, attempts)
            return
        status = "error" if kind in (Kind.REJECTED, Kind.DENIED) else "transient"
        self._fail(items, failures, attempts, status, error)

    def _retry_handler_seconds(self) -> float | None:
        return retry_handler(self.client).pop()

    def _accept(self, got, items, requests, failures) -> None:
        """Check every record against the request; cache what matches, flag the rest.

        A record whose codes match no line of the request is never cached; a window that
        got no matching record, while such records came back over it (or anywhere, when
        they overlap no window), gets status `wrong_data` naming the codes found.
        """
        asked = [f"{ln[0]}.{ln[1]}.{'' if ln[2] == '--' else ln[2]}.{ln[3]}" for _, _, ln in items]
        good, wrong = Stream(), Stream()
        for tr in got.stream:
            (good if any(matches(tr.id, a) for a in asked) else wrong).append(tr)

        def over(tr, line) -> bool:
            return tr.stats.starttime <= line[5] and tr.stats.endtime >= line[4]

        stray = [tr for tr in wrong if not any(over(tr, ln) for _, _, ln in items)]
        keep: list = []
        for (r, w, line), code in zip(items, asked):
            if wrong and not any(matches(tr.id, code) and over(tr, line) for tr in good):
                hit = [tr.id for tr in wrong if over(tr, line)] or [tr.id for tr in stray]
                if hit:
                    found = ", ".join(dict.fromkeys(hit))
                    reason = f"asked {code}, {self.base} sent {found}"
                    failures[(r, w)] = Fetched(None, "wrong_data", reason)
                    continue
            broken = [m for a, b, m in got.bad if a <= line[5].ns and b >= line[4].ns]
            if broken:
                reason = f"corrupt miniSEED record from {self.base}: {broken[0]}"
                failures[(r, w)] = Fetched(None, "error", reason)
                continue
            if self.remember_no_data or whole_window(good, code, line[4], line[5]):
                keep.append((r, w, line))
        self.cache.add(good)
        self._remember(keep, requests)

    def _remember(self, items, requests) -> None:
        by_key: dict[str, list[tuple[int, int]]] = {}
        for r, w, _ in items:
            req = requests[r]
            by_key.setdefault(self._key(req.station), []).append(
                (int(req.starts_ns[w]), int(req.ends_ns[w]))
            )
        for key, iv in by_key.items():
            self.cache.record(key, iv)


__all__ = [
    "BadAnswer",
    "FDSNSource",
    "Kind",
    "ServiceDown",
    "ServiceError",
    "base_url",
    "classify",
    "probe",
    "redact",
]
