"""Shared fixtures: a small study written in the real file formats."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# Under pytest-xdist each worker process shares the cores with the others: one torch
# thread per run there (a test that sets [train] threads keeps its own).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("FAULTPROBE_TORCH_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


@pytest.fixture
def norcia_raw() -> dict:
    """The real study config as a raw TOML table, to be edited by a test."""
    with open(CONFIGS / "norcia2016.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="session")
def small_ingested(tmp_path_factory):
    """A small synthetic study simulated, selected and ingested from its SDS archive, once
    per session; tests copy its store before they change anything."""
    from small_study import ingested_study

    return ingested_study(tmp_path_factory.mktemp("small-ingested"))


@pytest.fixture(scope="session")
def small_trained(small_ingested, tmp_path_factory):
    """`small_ingested` with one short binary run at IV.NRCA (CPU, 2 epochs)."""
    from small_study import trained_run

    return trained_run(small_ingested, tmp_path_factory.mktemp("small-trained"))


@pytest.fixture
def s3(monkeypatch):
    """A local S3 endpoint (moto's server) with an empty bucket (tests/s3_server.py)."""
    pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    from s3_server import moto_s3

    with moto_s3(monkeypatch) as fs:
        yield fs


@pytest.fixture(scope="module")
def client():
    """A local Dask cluster of two single-thread in-process workers, per test module."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c
