"""Where Dask tasks run: a local cluster (default), local GPUs, a batch system, Kubernetes,
or an existing scheduler. `pipelines` and `analysis` use this; it uses neither."""

from faultprobe.cluster.connect import ClusterError, connect, describe

__all__ = ["ClusterError", "connect", "describe"]
