"""`connect` on a real LocalCluster: adaptive from zero workers, declared worker
resources, and the dashboard link said at start."""

from __future__ import annotations

import logging

from faultprobe.cluster.connect import connect, declared_resources
from faultprobe.config import Cluster


def _square(x: int) -> int:
    return x * x


def test_adaptive_local_cluster_starts_from_zero_and_says_its_dashboard(caplog):
    caplog.set_level(logging.INFO, logger="faultprobe")
    cfg = Cluster(
        kind="local",
        threads_per_worker=1,
        adapt={"minimum": 0, "maximum": 1},
        worker_resources={"GPU": 1},
    )
    with connect(cfg) as client:
        assert len(client.scheduler_info()["workers"]) == 0
        # a task asking for the declared resource brings a worker up and runs there
        fut = client.submit(_square, 7, resources={"GPU": 1}, pure=False)
        assert fut.result(timeout=120) == 49
        workers = client.scheduler_info()["workers"].values()
        assert [w["resources"] for w in workers] == [{"GPU": 1.0}]
    said = [r.getMessage() for r in caplog.records if r.name.startswith("faultprobe")]
    assert len(said) == 1 and said[0].startswith("Dask dashboard: http")
    assert "/status" in said[0]
    assert declared_resources(cfg) == {"GPU": 1.0}
