"""HTTP around ObsPy's FDSN `Client`: what it does not handle, and one client per process.

- `Retry-After` of 429/503 answers, as seconds or as an HTTP date (ObsPy drops the header);
- a whole-answer deadline: a socket timeout alone lets an answer that trickles a few bytes
  at a time run forever;
- one client per process and data centre, made without ObsPy's service discovery (five
  requests per client that no limiter would see) and with one EIDA token exchange;
- the probe before a run (faultprobe's one service discovery, through the limiter), which
  turns a service that is down, unknown or refusing the token into one clear error;
- the token's text kept out of every message.
"""

from __future__ import annotations

import email.utils
import http.client
import io
import re
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC

from obspy.clients.fdsn import Client
from obspy.clients.fdsn.header import FDSNForbiddenException, FDSNUnauthorizedException

from faultprobe import _compat
from faultprobe.errors import InputError, ServiceFailure
from faultprobe.pipelines.ratelimit import note_answered, note_pause, note_sent


class ServiceError(InputError, RuntimeError):
    """The service cannot be used as configured (unknown, token refused): stop before the run."""


class ServiceDown(ServiceFailure, ServiceError):
    """The service cannot be reached or answers with a server error: try again later."""


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
        note_pause(self.local.seconds)  # every request waits from now, not from the raise
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
        note_sent()  # a pause said meanwhile is kept (faultprobe.pipelines.ratelimit)
        return req

    def http_response(self, req, response):
        note_answered()  # the request has arrived: its rate lease counts from here
        deadline = getattr(req, "faultprobe_deadline", None)
        fp = getattr(response, "fp", None)
        sock = _compat.response_socket(fp)
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


# -- one client per process and data centre -------------------------------------------------

_CLIENTS: dict[tuple, Client] = {}
_CLIENTS_LOCK = threading.Lock()


def base_url(url: str) -> str:
    """A service name such as 'INGV' or a URL, as the service's base URL."""
    from obspy.clients.fdsn.header import URL_MAPPINGS

    return URL_MAPPINGS.get(url.upper(), url).rstrip("/")


def _new_client(url: str, timeout: float, token: str | None, limiter) -> Client:
    client = _compat.fdsn_client(url, timeout)
    if token:
        client.services["eida-auth"] = True  # the probe asked; no second discovery
        with limiter.slot():
            client.set_eida_token(token)
    _compat.url_opener(client).add_handler(RetryAfter())
    _compat.url_opener(client).add_handler(Deadline(timeout))
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


def retry_handler(client: Client) -> RetryAfter:
    return next(h for h in _compat.url_opener(client).handlers if isinstance(h, RetryAfter))


def first_line(err: BaseException) -> str:
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
        client = _compat.fdsn_client(url, timeout)
    except ValueError as err:
        raise ServiceError(f"waveforms.fdsn = {url!r}: {err}") from None
    target = _compat.service_url(client, "dataselect", "version")
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
                f"{base} refused the EIDA token in {token} ({first_line(err).split(':')[0]}); "
                "get a new token (EIDA tokens expire) or remove waveforms.eida_token"
            ) from None
        except Exception as err:
            raise ServiceError(
                redact(f"the EIDA token exchange with {base} failed ({first_line(err)})", secret)
            ) from None
    return version
