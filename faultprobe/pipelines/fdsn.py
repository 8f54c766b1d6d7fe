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

import email.utils
import http.client
import io
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC
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

from faultprobe.pipelines.dcstate import state_for
from faultprobe.pipelines.mseed import read_mseed
from faultprobe.pipelines.ratelimit import limiter_for
from faultprobe.pipelines.sdscache import SDSCache
from faultprobe.pipelines.sources import Fetched, Request, SDSSource, matches


class ServiceError(RuntimeError):
    """The service cannot be used as configured (unknown, token refused): stop before the run."""


class ServiceDown(ServiceError):
    """The service cannot be reached or answers with a server error: try again later."""


# -- HTTP details ObsPy's Client does not handle --------------------------------------------


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header in seconds: given as seconds or as an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


class RetryAfter(urllib.request.BaseHandler):
    """Remembers the Retry-After header of 429/503 answers (ObsPy's Client drops it)."""

    def __init__(self):
        self.local = threading.local()

    def _keep(self, req, fp, code, msg, hdrs):
        value = hdrs.get("Retry-After") if hdrs is not None else None
        self.local.seconds = retry_after_seconds(value)
        return None  # let the default handler raise as usual

    http_error_429 = _keep
    http_error_503 = _keep

    def pop(self) -> float | None:
        seconds = getattr(self.local, "seconds", None)
        self.local.seconds = None
        return seconds


class _DeadlineReader(io.RawIOBase):
    """Reads an answer's body, never past the deadline (each read waits at most what is left)."""

    def __init__(self, fp, sock, deadline: float, limit: float):
        self.fp, self.sock, self.deadline, self.limit = fp, sock, deadline, limit

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"answer not complete within {self.limit:g} s")
        self.sock.settimeout(left)
        data = self.fp.read1(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.fp.close()
        super().close()


class Deadline(urllib.request.BaseHandler):
    """A whole-answer deadline: a socket timeout alone lets a trickling answer run forever."""

    handler_order = 400

    def __init__(self, seconds: float):
        self.seconds = seconds

    def http_request(self, req):
        req.faultprobe_deadline = time.monotonic() + self.seconds
        return req

    def http_response(self, req, response):
        deadline = getattr(req, "faultprobe_deadline", None)
        fp = getattr(response, "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
        if deadline is not None and sock is not None:
            response.fp = io.BufferedReader(_DeadlineReader(fp, sock, deadline, self.seconds))
        return response

    https_request = http_request
    https_response = http_response


def redact(text: str, secret: str | None) -> str:
    """The text with the secret (an EIDA token) replaced."""
    if not secret:
        return text
    for s in {secret, secret.strip()} | {
        ln.strip() for ln in secret.splitlines() if len(ln.strip()) > 8
    }:
        text = text.replace(s, "[token]")
    return text


_redact = redact  # the name the tests know


# -- one client per process and data centre -------------------------------------------------

_CLIENTS: dict[tuple, Client] = {}
_CLIENTS_LOCK = threading.Lock()


def base_url(url: str) -> str:
    """A service name such as 'INGV' or a URL, as the service's base URL."""
    from obspy.clients.fdsn.header import URL_MAPPINGS

    return URL_MAPPINGS.get(url.upper(), url).rstrip("/")


def _new_client(url: str, timeout: float, token: str | None, limiter) -> Client:
    client = Client(url, timeout=timeout, _discover_services=False)
    if token:
        client.services["eida-auth"] = True  # the probe asked; no second discovery
        with limiter.slot():
            client.set_eida_token(token)
    client._url_opener.add_handler(RetryAfter())
    client._url_opener.add_handler(Deadline(timeout))
    return client


def shared_client(url: str, timeout: float, token: str | None, limiter) -> Client:
    """This process's client for a data centre (made once: no discovery, one token exchange)."""
    key = (url, timeout, token)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _new_client(url, timeout, token, limiter)
            _CLIENTS[key] = client
        return client


def _retry_handler(client: Client) -> RetryAfter:
    return next(h for h in client._url_opener.handlers if isinstance(h, RetryAfter))


def _first_line(err: BaseException) -> str:
    """The error in one short line (ObsPy's wrapping of connection errors unwrapped)."""
    text = str(err).strip()
    inner = re.search(r"<urlopen error (?:\[Errno -?\d+\] )?(.*?)>", text)
    if inner:
        return inner.group(1)
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def token_secret(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path) as f:
            return f.read().strip() or None
    except OSError as err:
        raise ServiceError(
            f"cannot read the EIDA token file {path} (waveforms.eida_token): {err.strerror}"
        ) from None


def probe(url: str, timeout: float, limiter, token: str | None = None) -> str:
    """One request before the run (the dataselect version); a clear error if it fails.

    With an EIDA token the token is exchanged too, so a refused token stops the run here.
    """
    base = base_url(url)
    try:
        client = Client(url, timeout=timeout, _discover_services=False)
    except ValueError as err:
        raise ServiceError(f"waveforms.fdsn = {url!r}: {err}") from None
    target = client._build_url("dataselect", "version")
    advice = (
        'check the network connection and waveforms.fdsn, or use waveforms.source = "sds" '
        "with a local archive (waveforms.sds_root)"
    )
    try:
        with limiter.slot():
            with urllib.request.urlopen(target, timeout=min(timeout, 10.0)) as answer:
                version = answer.read(64).decode(errors="replace").strip()
    except urllib.error.HTTPError as err:
        if err.code == 429:
            limiter.pause(retry_after_seconds(err.headers.get("Retry-After")) or 1.0)
            version = "?"
        elif err.code == 404:
            raise ServiceError(
                f"{base} has no FDSN dataselect service ({target} answers 404); {advice}"
            ) from None
        else:
            raise ServiceDown(
                f"the FDSN dataselect service at {base} answers HTTP {err.code} ({err.reason}); "
                f"it may be down for maintenance: try again later, or {advice.split(', or ')[1]}"
            ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise ServiceDown(
            f"cannot reach the FDSN dataselect service at {base} ({reason}); {advice}"
        ) from None
    if token:
        secret = token_secret(token)
        try:
            shared_client(url, timeout, token, limiter)
        except (FDSNUnauthorizedException, FDSNForbiddenException) as err:
            raise ServiceError(
                f"{base} refused the EIDA token in {token} ({_first_line(err).split(':')[0]}); "
                "get a new token (EIDA tokens expire) or remove waveforms.eida_token"
            ) from None
        except Exception as err:
            raise ServiceError(
                redact(f"the EIDA token exchange with {base} failed ({_first_line(err)})", secret)
            ) from None
    return version


# -- what can go wrong with one request -----------------------------------------------------

NODATA, RATE, DOWN, SERVER, REJECTED, DENIED = (
    "nodata",
    "rate",
    "down",
    "server",
    "rejected",
    "denied",
)


class BadAnswer(Exception):
    """A 200 answer that is not miniSEED (e.g. an HTML error page)."""


def classify(err: BaseException) -> str:
    """The kind of a failed request (see the module docstring)."""
    if isinstance(err, FDSNNoDataException):
        return NODATA
    if isinstance(err, FDSNTooManyRequestsException | FDSNServiceUnavailableException):
        return RATE
    if isinstance(err, FDSNBadRequestException | FDSNRequestTooLargeException):
        return REJECTED
    if isinstance(err, FDSNUnauthorizedException | FDSNForbiddenException):
        return DENIED
    if isinstance(err, FDSNInternalServerException):
        return SERVER
    if isinstance(err, FDSNException) and "Unknown HTTP code: 404" in str(err):
        return NODATA
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
        return DOWN
    if isinstance(err, FDSNException):
        # "Unknown Error (URLError …)", 504 and other codes without their own class
        return (
            SERVER if "HTTP code: 5" not in str(err) and "Unknown Error" not in str(err) else DOWN
        )
    return SERVER


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
    ):
        self.url = url
        self.base = base_url(url)
        self.cache = SDSCache(cache)
        self.reader = SDSSource(cache)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_bulk_items = max_bulk_items
        self.eida_token = eida_token
        self.refresh = refresh
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

    def _bulk_all(self, items, requests, failures, attempts) -> None:
        for k in range(0, len(items), self.max_bulk_items):
            self._bulk(items[k : k + self.max_bulk_items], requests, failures, attempts)

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
        error, kind = "no attempt", DOWN
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
                        f"the answer is not readable miniSEED ({_first_line(err)})"
                    ) from None
            except Exception as err:
                kind = classify(err)
                error = _first_line(err)
                if kind == NODATA:
                    self.state.success()
                    self._remember(items, requests)
                    return
                if kind == RATE:
                    wait = self._retry_handler_seconds() or self.backoff_s * 2 ** (tries - 1)
                    self.limiter.pause(wait)
                    error = f"{type(err).__name__} (retry after {wait:g} s)"
                    if isinstance(err, FDSNServiceUnavailableException):
                        self.state.failure(error)
                    if waits < 3 * self.max_attempts:
                        waits += 1
                        tries -= 1  # a rate-limit answer is not the items' fault
                    continue
                if kind in (REJECTED, DENIED):
                    break
                if kind == DOWN:
                    self.state.failure(error)
                time.sleep(self.backoff_s * 2 ** (tries - 1))
                continue
            self.state.success()
            if got is None:  # 200 without a body: no data
                self._remember(items, requests)
                return
            self._accept(got, items, requests, failures)
            return
        if kind in (REJECTED, SERVER) and len(items) > 1:
            half = len(items) // 2
            self._bulk(items[:half], requests, failures, attempts)
            self._bulk(items[half:], requests, failures, attempts)
            return
        status = "error" if kind in (REJECTED, DENIED) else "transient"
        self._fail(items, failures, attempts, status, error)

    def _retry_handler_seconds(self) -> float | None:
        return _retry_handler(self.client).pop()

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
