"""Open a Dask client for a `Cluster` config section, and close it (and its cluster) after."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from distributed import Client, WorkerPlugin

from faultprobe.config import Cluster


class ImportEngines(WorkerPlugin):
    """Import the storage engines once when a worker starts, before any task runs.

    A worker deserialises in one thread while it runs tasks in another; a first import of
    zarr from both at once can see a half-initialised module (zarr has circular imports)
    and fail a run with "cannot import name ... from partially initialized module".
    """

    name = "faultprobe-import-engines"

    def setup(self, worker) -> None:
        import xarray.backends.zarr  # noqa: F401
        import zarr  # noqa: F401


def _make_cluster(cfg: Cluster):
    """Build the cluster object for `cfg.kind`; imports optional engines only when asked."""
    if cfg.kind == "local":
        from distributed import LocalCluster

        return LocalCluster(
            n_workers=cfg.n_workers,
            threads_per_worker=cfg.threads_per_worker,
            memory_limit=cfg.memory_limit,
            processes=True,
            # ":0" picks a free port; None would mean the default :8787 and clash.
            dashboard_address=":8787" if cfg.dashboard else ":0",
        )
    if cfg.kind == "local-cuda":
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError as err:
            raise RuntimeError(
                "cluster kind 'local-cuda' needs dask-cuda: pip install 'faultprobe[gpu]'"
            ) from err
        # One worker per visible GPU, so each run owns one device.
        return LocalCUDACluster(threads_per_worker=1, memory_limit=cfg.memory_limit)
    if cfg.kind in {"slurm", "pbs"}:
        try:
            import dask_jobqueue
        except ImportError as err:
            raise RuntimeError(
                f"cluster kind '{cfg.kind}' needs dask-jobqueue: pip install 'faultprobe[hpc]'"
            ) from err
        jq = cfg.jobqueue
        cls = dask_jobqueue.SLURMCluster if cfg.kind == "slurm" else dask_jobqueue.PBSCluster
        kwargs = dict(
            cores=jq.cores,
            memory=jq.memory,
            processes=jq.processes,
            walltime=jq.walltime,
            queue=jq.queue,
            account=jq.account,
            job_extra_directives=jq.job_extra_directives,
            # as for local: ":0" picks a free port when the dashboard is off
            scheduler_options={"dashboard_address": ":8787" if cfg.dashboard else ":0"},
        )
        if jq.local_directory:
            kwargs["local_directory"] = jq.local_directory
        cluster = cls(**kwargs)
        cluster.scale(jobs=jq.jobs)
        return cluster
    if cfg.kind == "kubernetes":
        try:
            from dask_kubernetes.operator import KubeCluster
        except ImportError as err:
            raise RuntimeError(
                "cluster kind 'kubernetes' needs dask-kubernetes: pip install 'faultprobe[cloud]'"
            ) from err
        kwargs = {"name": "faultprobe", "n_workers": cfg.n_workers or 2}
        if cfg.kubernetes_image:
            kwargs["image"] = cfg.kubernetes_image
        return KubeCluster(**kwargs)
    raise ValueError(f"unknown cluster kind {cfg.kind!r}")


@contextlib.contextmanager
def connect(cfg: Cluster) -> Iterator[Client]:
    """Yield a Dask client for the configured cluster; everything started here is closed."""
    cluster = None if cfg.kind == "address" else _make_cluster(cfg)
    client = Client(cfg.address if cluster is None else cluster)
    client.register_plugin(ImportEngines())
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:  # a scheduler joined by address stays up
            cluster.close()


def describe(client: Client) -> str:
    """One line on the workers a client sees (count, threads, GPUs)."""
    info = client.scheduler_info(n_workers=-1)
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    gpus = sum(1 for w in workers.values() if w.get("gpu"))
    gpu = f", {gpus} with GPUs" if gpus else ""
    return f"{len(workers)} workers, {threads} threads{gpu} at {client.scheduler.address}"
