"""A Dask cluster on Kubernetes: the dask-kubernetes operator's resources, built from config.

`cluster_resources` returns the `DaskCluster` custom resource (and a `DaskAutoscaler` when
`[cluster.adapt]` is set) as plain dicts: pod specs with the configured image, CPU, memory
and `nvidia.com/gpu` requests, environment, and object-store credentials taken from a
Secret by reference (`envFrom`), never inline. `faultprobe cluster-spec` prints them as
YAML for `kubectl apply -f -`; `connect` hands the same dict to `KubeCluster`.
"""

from __future__ import annotations

from faultprobe._optional import need
from faultprobe.cluster.jobqueue import resources_arg
from faultprobe.config import Cluster, Kubernetes

API_VERSION = "kubernetes.dask.org/v1"
SCHEDULER_PORT = 8786
DASHBOARD_PORT = 8787
WORKER_DASHBOARD_PORT = 8788


def _env(k: Kubernetes, credentials: bool) -> dict:
    """A container's `env`, and `envFrom` naming the credentials Secret (workers only: the
    scheduler never touches the store)."""
    out: dict = {"env": [{"name": n, "value": v} for n, v in sorted(k.env.items())]}
    if credentials and k.credentials_secret:
        out["envFrom"] = [{"secretRef": {"name": k.credentials_secret}}]
    return out


def _resources(cpu: str, memory: str, gpu: int) -> dict:
    amounts = {"cpu": cpu, "memory": memory}
    if gpu:
        amounts["nvidia.com/gpu"] = str(gpu)  # extended resource: requests equal limits
    return {"requests": dict(amounts), "limits": dict(amounts)}


def _pod_extras(k: Kubernetes) -> dict:
    out: dict = {}
    if k.service_account:
        out["serviceAccountName"] = k.service_account
    if k.node_selector:
        out["nodeSelector"] = dict(k.node_selector)
    return out


def worker_resources(cfg: Cluster) -> dict[str, float]:
    """Dask resources a worker pod declares: the configured ones, GPU = n with GPUs."""
    res = dict(cfg.worker_resources)
    if cfg.kubernetes and cfg.kubernetes.gpu and "GPU" not in res:
        res["GPU"] = float(cfg.kubernetes.gpu)
    return res


def dask_cluster(cfg: Cluster) -> dict:
    """The `DaskCluster` resource for the dask-kubernetes operator."""
    k = cfg.kubernetes
    if k is None:
        raise ValueError("[cluster.kubernetes] is missing (image, workers, cpu, memory, …)")
    # `dask worker` (distributed no longer installs `dask-worker`); the operator puts the
    # scheduler's address in DASK_SCHEDULER_ADDRESS, which dask reads as its config.
    worker_args = [
        "dask",
        "worker",
        "--name",
        "$(DASK_WORKER_NAME)",
        "--nthreads",
        str(cfg.threads_per_worker),
        "--dashboard",
        "--dashboard-address",
        str(WORKER_DASHBOARD_PORT),
        *resources_arg(worker_resources(cfg)),
    ]
    worker = {
        "name": "worker",
        "image": k.image,
        "imagePullPolicy": k.image_pull_policy,
        "args": worker_args,
        **_env(k, credentials=True),
        "resources": _resources(k.cpu, k.memory, k.gpu),
        "ports": [
            {"name": "http-dashboard", "containerPort": WORKER_DASHBOARD_PORT, "protocol": "TCP"}
        ],
    }

    def probe(delay: int, period: int, **extra: int) -> dict:
        return {
            "httpGet": {"port": "http-dashboard", "path": "/health"},
            "initialDelaySeconds": delay,
            "periodSeconds": period,
            **extra,
        }

    scheduler = {
        "name": "scheduler",
        "image": k.image,
        "imagePullPolicy": k.image_pull_policy,
        "args": ["dask", "scheduler", "--host", "0.0.0.0"],
        **_env(k, credentials=False),
        "resources": _resources(k.scheduler_cpu, k.scheduler_memory, 0),
        "ports": [
            {"name": "tcp-comm", "containerPort": SCHEDULER_PORT, "protocol": "TCP"},
            {"name": "http-dashboard", "containerPort": DASHBOARD_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": probe(0, 1, timeoutSeconds=300),
        "livenessProbe": probe(15, 20),
    }
    metadata = {"name": k.name, "labels": {"app.kubernetes.io/part-of": "faultprobe"}}
    if k.namespace:
        metadata["namespace"] = k.namespace
    replicas = cfg.adapt.minimum if cfg.adapt is not None else k.workers
    return {
        "apiVersion": API_VERSION,
        "kind": "DaskCluster",
        "metadata": metadata,
        "spec": {
            "idleTimeout": 0,
            "worker": {
                "replicas": replicas,
                "spec": {"containers": [worker], **_pod_extras(k)},
            },
            "scheduler": {
                "spec": {"containers": [scheduler], **_pod_extras(k)},
                "service": {
                    "type": "ClusterIP",
                    "selector": {
                        "dask.org/cluster-name": k.name,
                        "dask.org/component": "scheduler",
                    },
                    "ports": [
                        {
                            "name": "tcp-comm",
                            "protocol": "TCP",
                            "port": SCHEDULER_PORT,
                            "targetPort": "tcp-comm",
                        },
                        {
                            "name": "http-dashboard",
                            "protocol": "TCP",
                            "port": DASHBOARD_PORT,
                            "targetPort": "http-dashboard",
                        },
                    ],
                },
            },
        },
    }


def dask_autoscaler(cfg: Cluster) -> dict | None:
    """The `DaskAutoscaler` resource for `[cluster.adapt]` (None without it)."""
    if cfg.adapt is None or cfg.kubernetes is None:
        return None
    metadata = {"name": cfg.kubernetes.name}
    if cfg.kubernetes.namespace:
        metadata["namespace"] = cfg.kubernetes.namespace
    return {
        "apiVersion": API_VERSION,
        "kind": "DaskAutoscaler",
        "metadata": metadata,
        "spec": {
            "cluster": cfg.kubernetes.name,
            "minimum": cfg.adapt.minimum,
            "maximum": cfg.adapt.maximum,
        },
    }


def cluster_resources(cfg: Cluster) -> list[dict]:
    """Every resource to create: the DaskCluster, then its autoscaler if adaptive."""
    out = [dask_cluster(cfg)]
    auto = dask_autoscaler(cfg)
    return out + ([auto] if auto else [])


def to_yaml(resources: list[dict]) -> str:
    """Multi-document YAML, in order, for `kubectl apply -f -`."""
    import yaml

    return yaml.safe_dump_all(resources, sort_keys=False)


def make_kube_cluster(cfg: Cluster):
    """A started KubeCluster from the same spec (needs a Kubernetes API and the operator)."""
    what = "cluster kind 'kubernetes'"
    KubeCluster = need("dask_kubernetes.operator", extra="cloud", what=what).KubeCluster
    kr8s = need("kr8s", extra="cloud", what=what)
    try:  # the API first: a KubeCluster half made would be reaped noisily at exit
        kr8s.api(namespace=cfg.kubernetes.namespace)
    except Exception as err:
        raise RuntimeError(
            f"kind 'kubernetes': no Kubernetes API ({type(err).__name__}: {err}); check "
            "kubectl's current context or the pod's service account"
        ) from None
    spec = dask_cluster(cfg)
    kwargs = {"custom_cluster_spec": spec, "quiet": True}
    if cfg.kubernetes.namespace:
        kwargs["namespace"] = cfg.kubernetes.namespace
    cluster = KubeCluster(**kwargs)
    if cfg.adapt is not None:
        cluster.adapt(minimum=cfg.adapt.minimum, maximum=cfg.adapt.maximum)
    return cluster
