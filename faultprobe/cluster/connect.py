"""Open a Dask client for a `Cluster` config section, and close it (and its cluster) after."""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import threading
from collections.abc import Iterator
from multiprocessing import resource_tracker

from distributed import Client, WorkerPlugin

from faultprobe._optional import need
from faultprobe.config import Cluster
from faultprobe.errors import ServiceFailure

log = logging.getLogger(__name__)


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


class ClusterError(ServiceFailure, RuntimeError):
    """The configured cluster cannot be started or reached (the message says why)."""


def _start(cfg: Cluster):
    """`_make_cluster`, with what went wrong said in one line naming the cluster kind."""
    try:
        if cfg.kind in {"local", "local-cuda"}:
            return _start_local(cfg)
        return _make_cluster(cfg)
    except RuntimeError as err:  # a missing optional engine: its message says what to install
        raise ClusterError(f"[cluster] {err}") from None
    except Exception as err:  # the batch system or the Kubernetes API said no
        raise ClusterError(
            f"[cluster] kind {cfg.kind!r}: could not start the cluster "
            f"({type(err).__name__}: {err}); `faultprobe cluster-spec CONFIG` shows what "
            "would be submitted"
        ) from None


def _start_local(cfg: Cluster):
    """A local cluster started with SIGINT blocked in this thread: the threads it starts (its
    event loop) and the worker processes they spawn, later ones too, keep it blocked, so a
    Ctrl-C at a terminal, which reaches the whole process group, is the driver's alone (one
    line, exit 130; it closes the cluster). One pressed meanwhile closes the new cluster,
    then interrupts. Only the main thread blocks (Python handles signals there)."""
    if threading.current_thread() is not threading.main_thread():
        return _make_cluster(cfg)
    # The first spawn starts multiprocessing's resource tracker, which unblocks SIGINT in
    # the spawning thread afterwards; started here first, it leaves the loop's mask alone.
    resource_tracker.ensure_running()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        cluster = _make_cluster(cfg)
        if signal.SIGINT in signal.sigpending():
            with _quiet("distributed"):
                cluster.close()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)  # a pending Ctrl-C is raised here
    return cluster


def _make_cluster(cfg: Cluster):
    """Build the cluster object for `cfg.kind`; imports optional engines only when asked."""
    if cfg.kind == "local":
        from distributed import LocalCluster

        cluster = LocalCluster(
            n_workers=0 if cfg.adapt is not None else cfg.n_workers,
            threads_per_worker=cfg.threads_per_worker,
            memory_limit=cfg.memory_limit,
            processes=True,
            resources=dict(cfg.worker_resources) or None,
            # ":0" picks a free port; None would mean the default :8787 and clash.
            dashboard_address=":8787" if cfg.dashboard else ":0",
        )
        if cfg.adapt is not None:
            cluster.adapt(minimum=cfg.adapt.minimum, maximum=cfg.adapt.maximum)
        return cluster
    if cfg.kind == "local-cuda":
        LocalCUDACluster = need(
            "dask_cuda", extra="gpu", what="cluster kind 'local-cuda'"
        ).LocalCUDACluster
        # One worker per visible GPU; `threads_per_worker` runs at once on it when the
        # workers declare that many GPU slots (worker_resources = {GPU = k}), else one.
        return LocalCUDACluster(
            threads_per_worker=cfg.threads_per_worker,
            resources=dict(cfg.worker_resources) or None,
            memory_limit=cfg.memory_limit,
            dashboard_address=":8787" if cfg.dashboard else ":0",
        )
    if cfg.kind in {"slurm", "pbs"}:
        from faultprobe.cluster.jobqueue import make_jobqueue_cluster

        return make_jobqueue_cluster(cfg)
    if cfg.kind == "kubernetes":
        from faultprobe.cluster.kubernetes import make_kube_cluster

        return make_kube_cluster(cfg)
    raise ValueError(f"unknown cluster kind {cfg.kind!r}")


@contextlib.contextmanager
def connect(cfg: Cluster) -> Iterator[Client]:
    """Yield a Dask client for the configured cluster; everything started here is closed.

    The dashboard link is logged (info) once the scheduler is up.
    """
    cluster = None if cfg.kind == "address" else _start(cfg)
    try:
        client = Client(cfg.address if cluster is None else cluster, timeout=60)
    except (OSError, TimeoutError) as err:
        if cluster is not None:
            cluster.close()
        raise ClusterError(
            f"[cluster] cannot reach the Dask scheduler at {cfg.address or 'the new cluster'} "
            f"({err}); check that it runs and the address and port"
        ) from None
    except BaseException:  # Ctrl-C while the client connects: the cluster goes too
        if cluster is not None:
            with _quiet("distributed"):
                cluster.close()
        raise
    try:
        client.register_plugin(ImportEngines())
        log.info(f"Dask dashboard: {client.dashboard_link} ({cfg.kind} cluster)")
        if log.isEnabledFor(logging.DEBUG):
            log.debug(describe(client))
        yield client
    except BaseException:
        # An interrupt or an error can leave a message to the scheduler half-sent; closing
        # then logs "dangling stream" warnings that tell the user nothing, who is owed one
        # line saying what happened (the CLI prints it).
        with _quiet("distributed"):
            _close(client, cluster)
        raise
    _close(client, cluster)


def _close(client: Client, cluster) -> None:
    """Close the client, and the cluster when it was started here."""
    client.close()
    if cluster is not None:  # a scheduler joined by address stays up
        cluster.close()


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Silence logger `name` below CRITICAL for the block, and collect the garbage it left
    (a comm dropped unclosed logs when it is collected), then restore the level."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
        gc.collect()
    finally:
        logger.setLevel(level)


def declared_resources(cfg: Cluster) -> dict[str, float]:
    """The resources every worker of this cluster declares when it starts."""
    if cfg.kind == "kubernetes":
        from faultprobe.cluster.kubernetes import worker_resources

        return worker_resources(cfg)
    return dict(cfg.worker_resources)


def describe(client: Client) -> str:
    """One line on the workers a client sees (count, threads, GPUs)."""
    info = client.scheduler_info(n_workers=-1)
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    gpus = sum(1 for w in workers.values() if w.get("gpu"))
    gpu = f", {gpus} with GPUs" if gpus else ""
    return f"{len(workers)} workers, {threads} threads{gpu} at {client.scheduler.address}"
