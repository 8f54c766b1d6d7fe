"""What `faultprobe cluster-spec CONFIG` prints: the resources a cluster kind submits.

Kubernetes: the operator's DaskCluster (and DaskAutoscaler) as YAML; SLURM and PBS: one
worker's batch script; local kinds and a joined scheduler submit nothing, said in a line.
"""

from __future__ import annotations

from faultprobe.config import Cluster


def render_spec(cfg: Cluster) -> str:
    """The text `faultprobe cluster-spec` prints for this `[cluster]` section."""
    scale = (
        f"adaptive between {cfg.adapt.minimum} and {cfg.adapt.maximum}"
        if cfg.adapt is not None
        else None
    )
    if cfg.kind == "kubernetes":
        from faultprobe.cluster.kubernetes import cluster_resources, to_yaml

        head = f"# DaskCluster for the dask-kubernetes operator; workers {scale or 'fixed'}\n"
        return head + to_yaml(cluster_resources(cfg))
    if cfg.kind in {"slurm", "pbs"}:
        from faultprobe.cluster.jobqueue import job_script

        jobs = f"jobs {scale}" if scale else f"{cfg.jobqueue.jobs} job(s)"
        head = (
            f"# one worker job of the {cfg.kind.upper()} cluster ({jobs}); the scheduler "
            "address is filled in at start\n"
        )
        return head + job_script(cfg)
    if cfg.kind == "address":
        return f"# cluster kind 'address': joins the running scheduler at {cfg.address}\n"
    workers = scale or f"{cfg.n_workers or 'one per core'} workers"
    return f"# cluster kind '{cfg.kind}': workers on this machine ({workers}); nothing to submit\n"
