"""One small synthetic study, ingested (and trained) once per test session.

Several tests need the same thing: a cube built by the real ingest from a real SDS
archive (exports, dataset sources, predict).  They share it through the session
fixtures of conftest.py and copy the store before they change it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from faultprobe.config import StudyConfig


@dataclass(frozen=True)
class Ingested:
    cfg: StudyConfig
    folder: Path

    @property
    def store(self) -> str:
        return self.cfg.study.store


@dataclass(frozen=True)
class Trained:
    cfg: StudyConfig
    run_id: str

    @property
    def store(self) -> str:
        return self.cfg.study.store

    @property
    def run(self) -> str:
        return f"{self.cfg.study.store}/runs/{self.run_id}"


def local_client():
    """A threads-only Dask cluster and client (use as a context manager each)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    return cluster, Client(cluster)


def ingested_study(folder: Path) -> Ingested:
    from faultprobe.catalogs.study import build_catalog
    from faultprobe.pipelines.ingest import ingest
    from faultprobe.synthetic.run import synthesize
    from faultprobe.testing.studies import small_study

    cfg = small_study(folder, background_per_day=10.0, omori_k=5.0)
    cfg = cfg.model_copy(update={"waveforms": cfg.waveforms.model_copy(update={"block_size": 32})})
    synthesize(cfg, parallel=False)
    build_catalog(cfg)
    cluster, client = local_client()
    with cluster, client:
        ingest(cfg, client=client)
    return Ingested(cfg, folder)


def copy_store(study: Ingested | Trained, folder: Path) -> StudyConfig:
    """The study's config pointing at a fresh copy of its store in `folder`."""
    target = folder / "store"
    shutil.copytree(study.store, target)
    return study.cfg.model_copy(
        update={"study": study.cfg.study.model_copy(update={"store": str(target)})}
    )


def trained_run(study: Ingested, folder: Path) -> Trained:
    from faultprobe.ml.experiment import run_experiment
    from faultprobe.ml.spec import spec_from_config

    cfg = copy_store(study, folder)
    spec = spec_from_config(cfg, stations=["IV.NRCA"], classes=2, seed=1)
    spec = spec.model_copy(
        update={
            "window_s": (-1.0, 6.0),
            "model": spec.model.model_copy(update={"width": 0.25}),
            "training": spec.training.model_copy(
                update={"epochs": 2, "device": "cpu", "batch_size": 16}
            ),
        }
    )
    run_experiment(cfg.study.store, spec)
    return Trained(cfg, spec.run_id)
