"""`connect` on a real LocalCluster: local and by address, engines imported on workers."""

from __future__ import annotations

import sys

from distributed import LocalCluster

from faultprobe.cluster.connect import connect
from faultprobe.config.sections import Cluster


def _zarr_loaded() -> bool:
    return "zarr" in sys.modules


def test_local_cluster_workers_start_with_zarr_imported():
    with connect(Cluster(kind="local", n_workers=1, threads_per_worker=1)) as client:
        assert client.submit(_zarr_loaded, pure=False).result()


def test_address_joins_and_leaves_the_scheduler_running():
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster:
        with connect(Cluster(kind="address", address=cluster.scheduler_address)) as client:
            assert client.submit(_zarr_loaded, pure=False).result()
        assert cluster.status.name == "running"
