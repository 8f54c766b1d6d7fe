"""A real FDSN web service on 127.0.0.1 for the ingest tests, serving an SDS archive.

Implements what ObsPy's `Client` asks for: the `version` and `application.wadl` endpoints
of dataselect, station and event; dataselect GET and POST (bulk) queries (miniSEED, 204 for
no data); station queries (StationXML) and event queries (QuakeML). Faults are injected by
request number (429 with Retry-After, 500, a slow answer, a truncated answer) and by item
(every request that contains a poisoned window answers 500).
"""

from __future__ import annotations

import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from obspy import Stream, UTCDateTime
from obspy.clients.filesystem.sds import Client as SDSClient
from obspy.core.event import Catalog, Event, Magnitude, Origin

from faultprobe.pipelines.toyarchive import toy_inventory

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


def wadl(base: str, service: str) -> bytes:
    params = "".join(f'<param name="{p}" style="query" type="xs:string"/>' for p in PARAMS[service])
    return (
        '<?xml version="1.0" encoding="UTF-8"?><application xmlns="http://wadl.dev.java.net/2009/02">'
        f'<resources base="{base}/fdsnws/{service}/1/"><resource path="query">'
        f'<method name="GET" id="query"><request>{params}</request></method>'
        '<method name="POST" id="postQuery"/></resource></resources></application>'
    ).encode()


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
    ):
        self.sds = SDSClient(sds_root)
        self.stations = stations
        self.events = events
        self.faults = dict(faults or {})
        self.poison = poison or []  # (station, time inside the window)
        self.slow_s = slow_s
        self.lock = threading.Lock()
        self.n_dataselect = 0
        self.log: list[tuple[float, str, int]] = []  # (arrival time, kind, status)
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # -- answers -------------------------------------------------------------------------
    def _send(
        self,
        h,
        code: int,
        body: bytes = b"",
        ctype: str = "text/plain",
        headers: dict | None = None,
        truncate: bool = False,
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
        h.wfile.write(body)

    def handle(self, h, method: str, body: bytes):
        url = urlparse(h.path)
        parts = url.path.strip("/").split("/")  # fdsnws, service, 1, resource
        if len(parts) != 4 or parts[0] != "fdsnws":
            return self._send(h, 404, b"not found")
        service, resource = parts[1], parts[3]
        if resource == "version":
            return self._send(h, 200, b"1.1.0")
        if resource == "application.wadl":
            return self._send(h, 200, wadl(self.url, service), "application/xml")
        if resource in ("catalogs", "contributors"):
            return self._send(h, 404, b"")
        if resource != "query":
            return self._send(h, 404, b"")
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if service == "station":
            return self._send(h, 200, self._stationxml(), "application/xml")
        if service == "event":
            return self._send(h, 200, self._quakeml(), "application/xml")
        with self.lock:
            self.n_dataselect += 1
            n = self.n_dataselect
            self.log.append((time.time(), method, n))
        lines = self._lines(method, q, body)
        fault = self.faults.get(n)
        if fault == "429":
            return self._send(h, 429, b"Too many requests", headers={"Retry-After": "1"})
        if fault == "503":
            return self._send(h, 503, b"Busy", headers={"Retry-After": "1"})
        if fault == "500":
            return self._send(h, 500, b"Internal error")
        if fault == "slow":
            time.sleep(self.slow_s)
        for sta, t in self.poison:
            if any(ln[1] == sta and ln[4] <= t <= ln[5] for ln in lines):
                return self._send(h, 500, b"Internal error (poisoned item)")
        data = self._mseed(lines)
        if not data:
            return self._send(h, 204)
        return self._send(h, 200, data, "application/vnd.fdsn.mseed", truncate=fault == "truncated")

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
        for net, sta, loc, cha, t0, t1 in lines:
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
            o = Origin(
                time=UTCDateTime(r.origin_time.to_pydatetime()),
                latitude=r.latitude,
                longitude=r.longitude,
                depth=r.depth_km * 1000,
            )
            cat.append(
                Event(origins=[o], magnitudes=[Magnitude(mag=r.magnitude, magnitude_type="Mw")])
            )
        buf = io.BytesIO()
        cat.write(buf, format="QUAKEML")
        return buf.getvalue()
