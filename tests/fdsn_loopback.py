"""A real FDSN web service on 127.0.0.1 for the tests, serving an SDS archive.

Implements what ObsPy's `Client` asks for: the `version` and `application.wadl` endpoints
of dataselect, station and event; dataselect GET and POST (bulk) queries (miniSEED, 204 for
no data); station queries (StationXML) and event queries (QuakeML); over https (a
certificate made by `self_signed`), the EIDA token exchange (`auth`) and `queryauth` behind
HTTP digest authentication.

Misbehaviour, as a real data centre shows it:
- `faults` by dataselect request number: "429" / "503" (Retry-After 1 s), "429date"
  (Retry-After as an HTTP date), "500", "slow" (sleep `slow_s`), "truncated", "html" (a 200
  HTML page), "trickle" (the answer, or the next one with data, dribbles out over
  `trickle_s`), "down" (the connection is
  dropped and the service stops listening until `up()`);
- `poison`: every request holding a window of (station, time) answers 500;
- `impostor`: {asked station: served station}: the answer carries the other station's
  miniSEED (with its own codes);
- `down()` / `up()`: stop listening / listen again on the same port;
- `limits` (a data centre's published limits, enforced on dataselect queries as the
  centre does): `per_second` (more arrivals than that within the last second: 429 with
  Retry-After 1), `concurrent` (more queries in flight: 429), `samples` (a request asking
  for more samples, counted as span x rate x 3 components per line: 413). Every refusal is
  counted in `refused` by code.
`quakeml` ({event id: QuakeML bytes}) serves those files to event queries by `eventid` (an
unknown id answers 204, no data).
Every request of any kind is logged with its arrival time (`log`), every dataselect line
asked is kept (`asked`), and the answers cut off by the client are timed (`cut`).
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from obspy import Stream, UTCDateTime
from obspy.clients.filesystem.sds import Client as SDSClient
from obspy.core.event import Catalog, Event, Magnitude, Origin, ResourceIdentifier

from faultprobe import columns
from faultprobe.testing.defects import toy_inventory

PARAMS = {
    "dataselect": [
        "starttime",
        "endtime",
        "network",
        "station",
        "location",
        "channel",
        "quality",
        "minimumlength",
        "longestonly",
    ],
    "station": [
        "starttime",
        "endtime",
        "network",
        "station",
        "location",
        "channel",
        "level",
        "format",
        "latitude",
        "longitude",
        "minradius",
        "maxradius",
        "minlatitude",
        "maxlatitude",
        "minlongitude",
        "maxlongitude",
    ],
    "event": [
        "starttime",
        "endtime",
        "minlatitude",
        "maxlatitude",
        "minlongitude",
        "maxlongitude",
        "mindepth",
        "maxdepth",
        "minmagnitude",
        "maxmagnitude",
        "orderby",
        "format",
        "eventid",
    ],
}
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Maintenance</title></head>"
    b"<body><h1>The service is under maintenance</h1></body></html>"
)
REALM = "FDSN"


def wadl(base: str, service: str) -> bytes:
    params = "".join(f'<param name="{p}" style="query" type="xs:string"/>' for p in PARAMS[service])
    auth = '<resource path="auth"/>' if service == "dataselect" and base.startswith("https") else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><application xmlns="http://wadl.dev.java.net/2009/02">'
        f'<resources base="{base}/fdsnws/{service}/1/"><resource path="query">'
        f'<method name="GET" id="query"><request>{params}</request></method>'
        f'<method name="POST" id="postQuery"/></resource>{auth}</resources></application>'
    ).encode()


def self_signed(folder: str, host: str = "127.0.0.1") -> tuple[str, str]:
    """A certificate and key for `host` (IP address SAN), written as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class FDSNService:
    """Start with `with FDSNService(sds_root, stations, events, faults=...) as svc:`."""

    def __init__(
        self,
        sds_root: str,
        stations,
        events,
        faults: dict[int, str] | None = None,
        poison: list[tuple[str, float]] | None = None,
        slow_s: float = 3.0,
        trickle_s: float = 20.0,
        impostor: dict[str, str] | None = None,
        tls: tuple[str, str] | None = None,
        tokens: dict[str, tuple[str, str]] | None = None,
        quakeml: dict[str, bytes] | None = None,
        limits: dict | None = None,
    ):
        self.sds = SDSClient(sds_root)
        # the stations and events tables in today's names (a table in the short names of
        # older stores is upgraded as the store upgrades it)
        self.stations = columns.from_disk(stations, "stations.parquet")
        self.events = columns.from_disk(events, "events.parquet")
        self.faults = dict(faults or {})
        self.poison = poison or []  # (station, time inside the window)
        self.slow_s = slow_s
        self.trickle_s = trickle_s
        self.impostor = dict(impostor or {})
        self.tls = tls
        self.tokens = dict(tokens or {})  # token text -> (user, password)
        self.quakeml = dict(quakeml or {})  # event id -> QuakeML file
        self.limits = dict(limits or {})  # per_second, concurrent, samples
        self.refused: dict[int, int] = {}  # HTTP code -> how many queries were refused
        self.in_flight = 0
        self.query_times: list[float] = []  # arrivals of dataselect queries
        self.busy: list[float] = []  # seconds from a query's arrival to its answer
        self.peak_in_flight = 0
        self.samples_asked: list[float] = []  # per dataselect query that was answered
        self.lock = threading.Lock()
        self.n_dataselect = 0
        # (arrival time, method, resource, dataselect request number or 0)
        self.log: list[tuple[float, str, str, int]] = []
        self.asked: list[tuple[int, str, str, str, str, UTCDateTime, UTCDateTime]] = []
        self.cut: list[float] = []  # seconds an answer ran before the client hung up
        self.not_before: list[tuple[float, float]] = []  # (Retry-After date, when said)
        self.is_down = False
        self.port = 0
        self.thread = None
        self._life = threading.Lock()
        self._serve()

    # -- life cycle ----------------------------------------------------------------------
    def _serve(self) -> None:
        svc = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                svc.handle(self, "GET", b"")

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                svc.handle(self, "POST", self.rfile.read(n))

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"

    def __enter__(self):
        self.up()
        return self

    def __exit__(self, *exc):
        self.down()

    def up(self) -> None:
        """Listen (again, on the same port)."""
        with self._life:
            if self.thread is not None:
                return
            if self.server is None:
                self._serve()
            self.is_down = False
            self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
            self.thread.start()

    def down(self) -> None:
        """Stop listening: connections are refused until `up()`."""
        with self._life:
            self.is_down = True
            if self.server is not None and self.thread is not None:
                self.server.shutdown()
                self.server.server_close()
                self.thread = None
                self.server = None

    def requests_in_windows(self, seconds: float = 1.0, resources: tuple[str, ...] = ()) -> int:
        """The most requests of any kind (or of these resources) that arrived within one
        sliding window."""
        times = sorted(t for t, _, r, _ in self.log if not resources or r in resources)
        best, j = 0, 0
        for i, t in enumerate(times):
            while times[j] < t - seconds + 1e-9:
                j += 1
            best = max(best, i - j + 1)
        return best

    # -- answers -------------------------------------------------------------------------
    def _send(
        self,
        h,
        code: int,
        body: bytes = b"",
        ctype: str = "text/plain",
        headers: dict | None = None,
        truncate: bool = False,
        trickle: bool = False,
    ):
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if truncate:
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        if trickle:
            t0 = time.monotonic()
            step = max(1, len(body) // max(1, int(self.trickle_s / 0.1)))
            try:
                for k in range(0, len(body), step):
                    h.wfile.write(body[k : k + step])
                    h.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                self.cut.append(time.monotonic() - t0)
            h.close_connection = True
            return
        self._answered(h)
        h.wfile.write(body)

    def handle(self, h, method: str, body: bytes):
        url = urlparse(h.path)
        parts = url.path.strip("/").split("/")  # fdsnws, service, 1, resource
        resource = parts[3] if len(parts) == 4 else url.path
        n = 0
        query = len(parts) == 4 and parts[1] == "dataselect" and resource in ("query", "queryauth")
        if query:
            with self.lock:
                self.n_dataselect += 1
                n = self.n_dataselect
        with self.lock:
            now = time.time()
            self.log.append((now, method, resource, n))
            if query:
                self.query_times.append(now)
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                h.faultprobe_in_flight = True
                h.faultprobe_arrived = now
                code = self._over_limits(now)
        if not query:
            return self._handle(h, method, body, url, parts, resource, n)
        try:
            if code:
                with self.lock:
                    self.refused[code] = self.refused.get(code, 0) + 1
                return self._send(h, code, b"Limit exceeded", headers={"Retry-After": "1"})
            return self._handle(h, method, body, url, parts, resource, n)
        finally:
            self._answered(h)

    def _answered(self, h) -> None:
        """A query leaves the in-flight count once its answer is complete on our side (the
        client's slot is given back only after it has read the answer: no false 429)."""
        with self.lock:
            if getattr(h, "faultprobe_in_flight", False):
                h.faultprobe_in_flight = False
                self.in_flight -= 1
                self.busy.append(time.time() - h.faultprobe_arrived)

    def _over_limits(self, now: float) -> int:
        """429 above the rate or the concurrency limit (called under the lock)."""
        rate = self.limits.get("per_second")
        if rate is not None:
            recent = sum(1 for t in self.query_times[-int(rate) - 2 :] if t > now - 1.0)
            if recent > rate:
                return 429
        conc = self.limits.get("concurrent")
        if conc is not None and self.in_flight > conc:
            return 429
        return 0

    def _samples(self, lines) -> float:
        st, col = self.stations, "station_sampling_rate_hz"
        rates = dict(zip(st["station_code"], st[col])) if col in st else {}
        return float(sum((ln[5] - ln[4]) * rates.get(ln[1], 100.0) * 3 for ln in lines))

    def _handle(self, h, method, body, url, parts, resource, n):
        if self.is_down:  # going down: the listening socket closes within half a second
            h.close_connection = True
            return None
        if len(parts) != 4 or parts[0] != "fdsnws":
            return self._send(h, 404, b"not found")
        service = parts[1]
        if resource == "version":
            return self._send(h, 200, b"1.1.0")
        if resource == "application.wadl":
            return self._send(h, 200, wadl(self.url, service), "application/xml")
        if resource in ("catalogs", "contributors"):
            return self._send(h, 404, b"")
        if service == "dataselect" and resource == "auth":
            return self._auth(h, body)
        if resource not in ("query", "queryauth"):
            return self._send(h, 404, b"")
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if service == "station":
            return self._send(h, 200, self._stationxml(), "application/xml")
        if service == "event" and "eventid" in q and self.quakeml:
            body = self.quakeml.get(q["eventid"])
            return (
                self._send(h, 204) if body is None else self._send(h, 200, body, "application/xml")
            )
        if service == "event":
            return self._send(h, 200, self._quakeml(), "application/xml")
        if resource == "queryauth" and not self._authorized(h, method):
            return None
        lines = self._lines(method, q, body)
        with self.lock:
            self.asked += [(n, *ln) for ln in lines]
        samples = self._samples(lines)
        if self.limits.get("samples") is not None and samples > self.limits["samples"]:
            with self.lock:
                self.refused[413] = self.refused.get(413, 0) + 1
            return self._send(h, 413, b"Request too large: too many samples")
        with self.lock:
            self.samples_asked.append(samples)
        fault = self.faults.get(n)
        if fault == "down":
            self.is_down = True
            threading.Thread(target=self.down, daemon=True).start()
            h.close_connection = True
            return None  # no answer at all
        if fault == "429":
            return self._send(h, 429, b"Too many requests", headers={"Retry-After": "1"})
        if fault == "429date":
            when = time.time() + 2.5
            with self.lock:
                self.not_before.append((float(int(when)), time.time()))
            date = email.utils.formatdate(int(when), usegmt=True)
            return self._send(h, 429, b"Too many requests", headers={"Retry-After": date})
        if fault == "503":
            return self._send(h, 503, b"Busy", headers={"Retry-After": "1"})
        if fault == "500":
            return self._send(h, 500, b"Internal error")
        if fault == "html":
            return self._send(h, 200, HTML_PAGE, "text/html")
        if fault == "slow":
            time.sleep(self.slow_s)
        for sta, t in self.poison:
            if any(ln[1] == sta and ln[4] <= t <= ln[5] for ln in lines):
                return self._send(h, 500, b"Internal error (poisoned item)")
        data = self._mseed(lines)
        if not data:
            if fault == "trickle":  # nothing to dribble: the next answer does it
                with self.lock:
                    self.faults.setdefault(n + 1, "trickle")
            return self._send(h, 204)
        return self._send(
            h,
            200,
            data,
            "application/vnd.fdsn.mseed",
            truncate=fault == "truncated",
            trickle=fault == "trickle",
        )

    # -- EIDA token and digest authentication --------------------------------------------
    def _auth(self, h, body: bytes):
        creds = self.tokens.get(body.decode(errors="replace").strip())
        if creds is None:
            return self._send(h, 403, b"Token not valid")
        return self._send(h, 200, f"{creds[0]}:{creds[1]}".encode())

    def _authorized(self, h, method: str) -> bool:
        header = h.headers.get("Authorization", "")
        if header.startswith("Digest "):
            fields = {}
            for part in header[7:].split(","):
                k, _, v = part.strip().partition("=")
                fields[k] = v.strip('"')
            users = {u: p for u, p in self.tokens.values()}
            password = users.get(fields.get("username", ""))
            if password is not None:
                ha1 = _md5(f"{fields['username']}:{REALM}:{password}")
                ha2 = _md5(f"{method}:{fields.get('uri', '')}")
                want = _md5(
                    f"{ha1}:{fields.get('nonce')}:{fields.get('nc')}:{fields.get('cnonce')}:"
                    f"{fields.get('qop')}:{ha2}"
                )
                if want == fields.get("response"):
                    return True
        nonce = os.urandom(8).hex()
        challenge = f'Digest realm="{REALM}", nonce="{nonce}", qop="auth", algorithm=MD5'
        self._send(h, 401, b"Unauthorized", headers={"WWW-Authenticate": challenge})
        return False

    # -- data ----------------------------------------------------------------------------
    def _lines(self, method, q, body):
        if method == "GET":
            raw = [
                " ".join(
                    [
                        q.get("net", q.get("network")),
                        q.get("sta", q.get("station")),
                        q.get("loc", q.get("location", "--")),
                        q.get("cha", q.get("channel")),
                        q.get("start", q.get("starttime")),
                        q.get("end", q.get("endtime")),
                    ]
                )
            ]
        else:
            raw = [ln for ln in body.decode().splitlines() if ln.strip() and "=" not in ln]
        out = []
        for ln in raw:
            net, sta, loc, cha, t0, t1 = ln.split()
            out.append(
                (net, sta, "" if loc == "--" else loc, cha, UTCDateTime(t0), UTCDateTime(t1))
            )
        return out

    def _mseed(self, lines) -> bytes:
        st = Stream()
        nets = dict(zip(self.stations["station_code"], self.stations["station_network_code"]))
        for net, sta, loc, cha, t0, t1 in lines:
            if sta in self.impostor:
                other = self.impostor[sta]
                net, sta = nets.get(other, net), other
            st += self.sds.get_waveforms(net, sta, loc, cha, t0, t1)
        if not len(st):
            return b""
        buf = io.BytesIO()
        st.write(buf, format="MSEED", encoding="STEIM2", reclen=512)
        return buf.getvalue()

    def _stationxml(self) -> bytes:
        buf = io.BytesIO()
        toy_inventory(self.stations, source="loopback").write(buf, format="STATIONXML")
        return buf.getvalue()

    def _quakeml(self) -> bytes:
        cat = Catalog()
        for r in self.events.itertuples():
            # a stable id when the table has one (new events are told apart from old ones)
            rid = (
                ResourceIdentifier(f"smi:local/event/{r.source_id}")
                if "source_id" in self.events
                else None
            )
            o = Origin(
                time=UTCDateTime(r.source_origin_time.to_pydatetime()),
                latitude=r.source_latitude_deg,
                longitude=r.source_longitude_deg,
                depth=r.source_depth_km * 1000,
            )
            mags = (
                []
                if r.source_magnitude != r.source_magnitude
                else [Magnitude(mag=r.source_magnitude, magnitude_type="Mw")]
            )
            cat.append(Event(resource_id=rid, origins=[o], magnitudes=mags))
        buf = io.BytesIO()
        cat.write(buf, format="QUAKEML")
        return buf.getvalue()
