"""Every private API of ObsPy, zarr and http.client that faultprobe uses, in one place.

The pins are lower bounds only, so an upgrade may remove any of these; each has a test in
tests/test_compat.py that fails by name when it is gone. Nothing else in faultprobe reaches
into another library's underscore names or internal modules. Imports are lazy: this module
is imported on every path, ingest-only workers included.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def fdsn_client(url: str, timeout: float):
    """An ObsPy FDSN `Client` made without its service discovery (`_discover_services`).

    Discovery is five requests per client that no rate limiter would see; faultprobe asks
    once itself (`pipelines.fdsnhttp.probe`).
    """
    from obspy.clients.fdsn import Client

    return Client(url, timeout=timeout, _discover_services=False)


def url_opener(client) -> urllib.request.OpenerDirector:
    """The urllib opener an ObsPy FDSN `Client` sends every request through (`_url_opener`)."""
    return client._url_opener


def service_url(client, service: str, resource: str) -> str:
    """The URL an ObsPy FDSN `Client` uses for a service's resource (`_build_url`)."""
    return client._build_url(service, resource)


def response_socket(fp) -> socket.socket | None:
    """The socket under an http.client response's body (`SocketIO._sock`), or None."""
    return getattr(getattr(fp, "raw", None), "_sock", None)


def read_mseed(src, starttime=None, endtime=None):
    """ObsPy's miniSEED plugin (`obspy.io.mseed.core._read_mseed`): libmseed's record
    selection without `obspy.read`'s format detection; `obspy.read` where it is gone."""
    kwargs = {"starttime": starttime, "endtime": endtime} if starttime is not None else {}
    try:
        from obspy.io.mseed.core import _read_mseed
    except ImportError:
        from obspy import read

        return read(src, format="MSEED", **kwargs)
    return _read_mseed(src, **kwargs)


def npts2nfft(n: int) -> int:
    """The FFT length `Trace.remove_response` uses for n samples (`obspy.signal.util._npts2nfft`),
    so the batched response removal gives ObsPy's numbers."""
    from obspy.signal.util import _npts2nfft

    return int(_npts2nfft(n))


def zarr_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run one of zarr's async store calls to its end on zarr's own loop (`zarr.core.sync`)."""
    from zarr.core.sync import sync

    return sync(coro)


def taup_data_file(name: str) -> Path:
    """A velocity-model file shipped inside ObsPy's TauP package (`obspy/taup/data/NAME`)."""
    import obspy.taup

    return Path(obspy.taup.__file__).parent / "data" / name
