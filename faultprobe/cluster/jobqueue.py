"""Batch-system workers (SLURM, PBS) through dask-jobqueue, built from `[cluster]`.

`jobqueue_options` turns the config into dask-jobqueue's keyword arguments (one place, so
the cluster that runs and the job script that `faultprobe cluster-spec` prints agree);
`job_script` renders that script without starting a scheduler or touching a batch system.
"""

from __future__ import annotations

import sys

from faultprobe._optional import need
from faultprobe.config import Cluster

# The address a printed job script names; the real one is known once the scheduler runs.
PLACEHOLDER_SCHEDULER = "tcp://SCHEDULER-ADDRESS:8786"


def _module():
    return need("dask_jobqueue", extra="hpc", what="cluster kinds 'slurm' and 'pbs'")


def resources_arg(resources: dict[str, float]) -> list[str]:
    """dask-worker's `--resources GPU=1,MEM=1e9` arguments (none when empty)."""
    if not resources:
        return []
    return ["--resources", ",".join(f"{k}={v:g}" for k, v in resources.items())]


def jobqueue_options(cfg: Cluster) -> dict:
    """dask-jobqueue keyword arguments shared by the cluster and the printed job script."""
    jq = cfg.jobqueue
    opts = dict(
        cores=jq.cores,
        memory=jq.memory,
        processes=jq.processes,
        walltime=jq.walltime,
        queue=jq.queue,
        account=jq.account,
        job_name=jq.job_name,
        job_extra_directives=list(jq.job_extra_directives),
        job_script_prologue=list(jq.prologue),
        worker_extra_args=resources_arg(cfg.worker_resources),
        python=jq.python or sys.executable,
        interface=jq.interface,
    )
    if jq.local_directory:
        opts["local_directory"] = jq.local_directory
    if jq.log_directory:
        opts["log_directory"] = jq.log_directory
    return opts


def cluster_class(kind: str):
    """SLURMCluster or PBSCluster."""
    jq = _module()
    if kind == "slurm":
        return jq.SLURMCluster
    if kind == "pbs":
        return jq.PBSCluster
    raise ValueError(f"{kind!r} is not a batch-system cluster kind (slurm, pbs)")


def job_script(cfg: Cluster, scheduler: str = PLACEHOLDER_SCHEDULER) -> str:
    """The batch script one worker job would be submitted with (nothing is started)."""
    job_cls = cluster_class(cfg.kind).job_cls
    return job_cls(
        scheduler=scheduler, name="faultprobe-worker", **jobqueue_options(cfg)
    ).job_script()


def make_jobqueue_cluster(cfg: Cluster):
    """A started SLURM/PBS cluster: adaptive between the configured bounds, or fixed jobs."""
    cls = cluster_class(cfg.kind)
    opts = jobqueue_options(cfg)
    scheduler_options = {"dashboard_address": ":8787" if cfg.dashboard else ":0"}
    if cfg.jobqueue.interface:
        scheduler_options["interface"] = cfg.jobqueue.interface
    cluster = cls(scheduler_options=scheduler_options, **opts)
    if cfg.adapt is not None:
        cluster.adapt(minimum_jobs=cfg.adapt.minimum, maximum_jobs=cfg.adapt.maximum)
    elif cfg.jobqueue.jobs:
        cluster.scale(jobs=cfg.jobqueue.jobs)
    return cluster
