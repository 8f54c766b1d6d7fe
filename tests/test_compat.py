"""Each private API behind faultprobe._compat is still there and does what faultprobe needs.

One test per API: when an upgrade of ObsPy, zarr or Python removes or changes one, its test
here fails by name, not a pipeline test three layers away.
"""

from __future__ import annotations

import http.server
import io
import re
import socket
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import zarr
from obspy import Stream, Trace, UTCDateTime

from faultprobe import _compat


class _Hello(http.server.BaseHTTPRequestHandler):
    paths: list[str] = []

    def do_GET(self):
        self.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args):
        pass


@pytest.fixture
def hello():
    """A loopback HTTP server answering 'hello' to every GET; (url, paths asked)."""
    _Hello.paths = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Hello.paths
    finally:
        server.shutdown()
        server.server_close()


def test_fdsn_client_without_service_discovery(hello):
    url, paths = hello
    client = _compat.fdsn_client(url, timeout=5.0)
    assert client.base_url == url
    assert paths == []  # discovery would have asked for the services' WADLs


class _Mark(urllib.request.BaseHandler):
    def __init__(self):
        self.seen: list[str] = []

    def http_request(self, req):
        self.seen.append(req.full_url)
        return req


def test_url_opener_carries_every_request_of_the_client(hello):
    url, paths = hello
    client = _compat.fdsn_client(url, timeout=5.0)
    opener = _compat.url_opener(client)
    assert isinstance(opener, urllib.request.OpenerDirector)
    mark = _Mark()
    opener.add_handler(mark)
    with pytest.raises(Exception):  # noqa: B017  'hello' is no miniSEED; the request is made
        client.get_waveforms("IV", "NRCA", "", "HHZ", UTCDateTime(0), UTCDateTime(10))
    assert len(mark.seen) == 1 and mark.seen[0].startswith(url + "/fdsnws/dataselect/1/query")
    assert len(paths) == 1


def test_service_url(hello):
    url, _ = hello
    client = _compat.fdsn_client(url, timeout=5.0)
    assert _compat.service_url(client, "dataselect", "version") == (
        f"{url}/fdsnws/dataselect/1/version"
    )


def test_response_socket_of_an_http_client_answer(hello):
    url, _ = hello
    with urllib.request.urlopen(url + "/", timeout=5) as answer:
        sock = _compat.response_socket(answer.fp)
        assert isinstance(sock, socket.socket), "http.client's body no longer has ._sock"
        assert answer.read() == b"hello"


def _mseed_bytes() -> bytes:
    tr = Trace(np.arange(1000, dtype=np.int32), header={"station": "X", "sampling_rate": 100.0})
    tr.stats.starttime = UTCDateTime("2016-10-30T00:00:00Z")
    buf = io.BytesIO()
    Stream([tr]).write(buf, format="MSEED", encoding="STEIM2", reclen=512)
    return buf.getvalue()


def test_read_mseed_is_obspys_plugin_with_record_selection():
    from obspy.io.mseed.core import _read_mseed  # noqa: F401  (fails loudly when gone)

    t0 = UTCDateTime("2016-10-30T00:00:02Z")
    st = _compat.read_mseed(io.BytesIO(_mseed_bytes()), t0, t0 + 3)
    assert isinstance(st, Stream) and len(st) == 1
    assert st[0].stats.starttime <= t0 and st[0].stats.endtime >= t0 + 3
    assert st[0].stats.npts < 1000  # only the records that hold the span
    assert len(_compat.read_mseed(io.BytesIO(_mseed_bytes()))[0]) == 1000


# ObsPy's documented examples: at least 2 n, even, and a length with small prime factors
@pytest.mark.parametrize(
    ("n", "nfft"), [(1000, 2000), (1001, 2004), (1800028, 3600056), (1800029, 4194304)]
)
def test_npts2nfft(n, nfft):
    assert _compat.npts2nfft(n) == nfft


def test_zarr_sync_runs_a_store_listing(tmp_path):
    arr = zarr.create_array(tmp_path / "a.zarr", shape=(4,), chunks=(2,), dtype="int32")
    arr[:] = np.arange(4)

    async def listing() -> list[str]:
        return [k async for k in arr.store.list_prefix("c/")]

    assert sorted(_compat.zarr_sync(listing())) == ["c/0", "c/1"]


def test_taup_data_file():
    path = _compat.taup_data_file("iasp91.tvel")
    assert path.is_file()
    rows = np.loadtxt(path, skiprows=2)
    assert rows.shape[1] == 4 and rows[0, 0] == 0.0


PRIVATE = re.compile(
    r"from (obspy|zarr|http)[\w.]* import [^\n]*\b_[a-z]"  # an underscore name imported
    r"|(obspy|zarr)(\.\w+)*\._[a-z]"  # an underscore module or attribute
    r"|\bzarr\.core\b"  # zarr's internals
    r"|_discover_services|\._url_opener|\._build_url|[\"']_sock[\"']|obspy\.taup\.__file__"
)


def test_no_private_api_outside_compat():
    package = Path(_compat.__file__).parent
    found = [
        f"{path.relative_to(package)}:{n}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "_compat.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE.search(line) and not line.lstrip().startswith("#")
    ]
    assert found == [], "private APIs outside faultprobe/_compat.py:\n" + "\n".join(found)
