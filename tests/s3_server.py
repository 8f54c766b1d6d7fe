"""A local S3 endpoint (moto's server on loopback) for the object-store tests.

The endpoint and keys reach every s3:// path the way a user sets them for a non-AWS
store: environment variables (AWS_* keys, FSSPEC_S3_ENDPOINT_URL), so Dask worker
processes started afterwards see them too, and fsspec's configuration in this process.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

BUCKET = "faultprobe-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def moto_s3(monkeypatch) -> Iterator:
    """Start moto's S3 server, point fsspec at it, create BUCKET; yields an S3FileSystem."""
    import fsspec.config
    import moto.server
    import s3fs

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = moto.server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FSSPEC_S3_ENDPOINT_URL": endpoint,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setitem(
        fsspec.config.conf, "s3", {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
    )
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing")
    fs.mkdir(BUCKET)
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        yield fs
    finally:
        fs.rm(BUCKET, recursive=True)  # moto keeps buckets across servers in one process
        server.stop()
