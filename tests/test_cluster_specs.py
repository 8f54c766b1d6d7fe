"""Cluster specs built from `[cluster]`: the Kubernetes resources validated against the
Kubernetes schemas and the dask-kubernetes operator's CRDs, and the PBS and SLURM job
scripts of dask-jobqueue checked for their directives. Nothing is started."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from study_tables import norcia_table

from faultprobe.cli import main
from faultprobe.cluster.jobqueue import job_script
from faultprobe.cluster.kubernetes import cluster_resources, dask_cluster
from faultprobe.config import ConfigError, dump_toml, parse_config

kv = pytest.importorskip("kubernetes_validate")
K8S_VERSION = "1.30.0"


def _cluster(tmp_path, **cluster):
    return parse_config(norcia_table(str(tmp_path / "store"), cluster=cluster)).cluster


def _k8s(tmp_path, **extra):
    kube = {
        "image": "ghcr.io/example/faultprobe:0.1",
        "cpu": "4",
        "memory": "16Gi",
        "gpu": 1,
        "env": {"OMP_NUM_THREADS": "4", "AWS_DEFAULT_REGION": "eu-south-1"},
        "credentials_secret": "faultprobe-s3",
        "namespace": "seismo",
        **extra,
    }
    return _cluster(
        tmp_path, kind="kubernetes", adapt={"minimum": 1, "maximum": 8}, kubernetes=kube
    )


def _crd_schema(name: str) -> dict:
    """The operator's CRD schema for a kind; the embedded core PodSpec and ServiceSpec
    (referenced, not inlined, by the CRD) are checked with the Kubernetes schemas."""
    import dask_kubernetes.operator as op

    root = Path(op.__file__).parent / "customresources"
    crd = yaml.safe_load((root / f"{name}.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    if "$ref" in schema:  # DaskCluster: its definition lives in templates.yaml
        defs = yaml.safe_load((root / "templates.yaml").read_text())["definitions"]

        def resolve(node):
            if isinstance(node, dict):
                ref = node.get("$ref", "")
                if ref.startswith("python://k8s_crd_resolver"):
                    return {"type": "object"}
                if "templates.yaml#/definitions/" in ref:
                    return resolve(defs[ref.rsplit("/", 1)[-1]])
                return {k: resolve(v) for k, v in node.items()}
            if isinstance(node, list):
                return [resolve(v) for v in node]
            return node

        schema = resolve(schema)
    return schema


def _paths(node, prefix: str = "") -> set[str]:
    """Key paths of a nested dict (list items merged), to compare shapes."""
    out = set()
    if isinstance(node, dict):
        for k, v in node.items():
            out.add(f"{prefix}/{k}")
            out |= _paths(v, f"{prefix}/{k}")
    elif isinstance(node, list):
        for v in node:
            out |= _paths(v, f"{prefix}[]")
    return out


def test_kubernetes_spec_is_valid_against_the_kubernetes_and_operator_schemas(tmp_path):
    import jsonschema

    cfg = _k8s(tmp_path)
    cluster, autoscaler = cluster_resources(cfg)
    for role in ("worker", "scheduler"):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"faultprobe-{role}", "namespace": "seismo"},
            "spec": cluster["spec"][role]["spec"],
        }
        kv.validate(pod, K8S_VERSION, strict=True)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "faultprobe-scheduler"},
        "spec": cluster["spec"]["scheduler"]["service"],
    }
    kv.validate(service, K8S_VERSION, strict=True)
    jsonschema.validate(cluster, _crd_schema("daskcluster"))
    jsonschema.validate(autoscaler, _crd_schema("daskautoscaler"))
    assert autoscaler["spec"] == {"cluster": "faultprobe", "minimum": 1, "maximum": 8}
    # a wrong spec is caught by the same checks (the validation can fail)
    bad = {**pod, "spec": {"containers": [{"name": "w", "image": "x", "ports": "8788"}]}}
    with pytest.raises(jsonschema.ValidationError):
        kv.validate(bad, K8S_VERSION, strict=True)


def test_kubernetes_spec_has_the_operators_shape_and_requests(tmp_path):
    from dask_kubernetes.operator import make_cluster_spec

    cfg = _k8s(tmp_path)
    ours = dask_cluster(cfg)
    theirs = make_cluster_spec(name="faultprobe", image="ghcr.io/example/faultprobe:0.1")
    missing = _paths(theirs) - _paths(ours)
    assert not missing, f"paths of the operator's spec absent from ours: {sorted(missing)}"
    worker = ours["spec"]["worker"]["spec"]["containers"][0]
    for side in ("requests", "limits"):
        assert worker["resources"][side] == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}
    assert ours["spec"]["worker"]["replicas"] == 1  # the adaptive minimum
    args = worker["args"]
    assert args[:2] == ["dask", "worker"] and args[args.index("--resources") + 1] == "GPU=1"
    assert {"name": "OMP_NUM_THREADS", "value": "4"} in worker["env"]
    assert worker["envFrom"] == [{"secretRef": {"name": "faultprobe-s3"}}]
    assert ours["metadata"]["namespace"] == "seismo"


def test_credentials_only_by_reference(tmp_path):
    text = yaml.safe_dump_all(cluster_resources(_k8s(tmp_path)))
    assert "faultprobe-s3" in text and "AWS_SECRET" not in text
    with pytest.raises(ConfigError, match="AWS_SECRET_ACCESS_KEY looks like a credential"):
        _k8s(tmp_path, env={"AWS_SECRET_ACCESS_KEY": "abc"})
    with pytest.raises(ConfigError, match=r"cluster\.kubernetes"):
        _cluster(tmp_path, kind="kubernetes")


def test_cluster_spec_command_prints_the_same_resources(tmp_path, capsys):
    raw = norcia_table(
        str(tmp_path / "store"),
        cluster={"kind": "kubernetes", "kubernetes": {"image": "img:1", "workers": 3}},
    )
    path = tmp_path / "study.toml"
    path.write_text(dump_toml(parse_config(raw, base=tmp_path)))
    assert main(["cluster-spec", str(path)]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    cfg = parse_config(raw, base=tmp_path).cluster
    assert docs == cluster_resources(cfg)
    assert docs[0]["spec"]["worker"]["replicas"] == 3 and len(docs) == 1


def test_pbs_job_script_directives(tmp_path):
    pytest.importorskip("dask_jobqueue")
    cfg = _cluster(
        tmp_path,
        kind="pbs",
        adapt={"minimum": 0, "maximum": 4},
        worker_resources={"GPU": 1},
        jobqueue={
            "cores": 8,
            "memory": "64GB",
            "walltime": "04:00:00",
            "queue": "gpu",
            "account": "seismo42",
            "job_extra_directives": ["-l ngpus=1"],
            "prologue": ["module load cuda/12.4", "source ~/venvs/faultprobe/bin/activate"],
            "python": "python",
            "interface": "ib0",
            "local_directory": "$TMPDIR",
        },
    )
    script = job_script(cfg)
    directives = [line for line in script.splitlines() if line.startswith("#PBS")]
    assert "#PBS -N faultprobe" in directives
    assert "#PBS -q gpu" in directives and "#PBS -A seismo42" in directives
    assert "#PBS -l walltime=04:00:00" in directives and "#PBS -l ngpus=1" in directives
    select = [d for d in directives if d.startswith("#PBS -l select=")]
    assert len(select) == 1 and "ncpus=8" in select[0] and "mem=" in select[0]
    lines = script.splitlines()
    worker = next(i for i, line in enumerate(lines) if "distributed.cli.dask_worker" in line)
    assert lines.index("module load cuda/12.4") < worker
    assert lines.index("source ~/venvs/faultprobe/bin/activate") < worker
    cmd = lines[worker]
    assert cmd.startswith("python -m distributed.cli.dask_worker")
    for part in ("--resources GPU=1", "--interface ib0", "--local-directory $TMPDIR"):
        assert part in cmd


def test_slurm_job_script_for_a_gpu_partition(tmp_path):
    pytest.importorskip("dask_jobqueue")
    cfg = _cluster(
        tmp_path,
        kind="slurm",
        worker_resources={"GPU": 1},
        jobqueue={
            "cores": 8,
            "memory": "48GB",
            "queue": "gpu",
            "job_extra_directives": ["--gres=gpu:1"],
            "prologue": ["module load cuda"],
        },
    )
    script = job_script(cfg)
    for d in ("#SBATCH -p gpu", "#SBATCH --gres=gpu:1", "#SBATCH --cpus-per-task=8"):
        assert d in script
    assert "--resources GPU=1" in script


def test_no_kubernetes_api_is_one_error_line(tmp_path, monkeypatch, capsys):
    pytest.importorskip("dask_kubernetes")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(var, raising=False)
    raw = norcia_table(
        str(tmp_path / "store"), cluster={"kind": "kubernetes", "kubernetes": {"image": "i:1"}}
    )
    path = tmp_path / "study.toml"
    path.write_text(dump_toml(parse_config(raw, base=tmp_path)))
    assert main(["experiments", str(path), "--yes", "-q"]) == 3  # a service said no
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: [cluster] kind 'kubernetes': no Kubernetes")
