"""A small synthetic study through the real one-node SLURM (scripts/slurm-single-node.sh):
`faultprobe ingest` and `faultprobe experiments` on dask-jobqueue workers, adaptive between
0 and 2 jobs, give the local run's cube, traces and accuracies; a worker job cancelled in
the middle of the ingest (scancel) costs nothing: the run completes and the store equals
the uninterrupted one. Skipped where no SLURM answers."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from slurm_helpers import jobs_named, slurm_missing

from faultprobe.cli import main
from faultprobe.config import dump_toml, parse_config
from faultprobe.pipelines import ledger
from faultprobe.store import Store

_MISSING = slurm_missing()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING)),
    pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning"),
]
TABLES = ("events.parquet", "stations.parquet", "study.toml")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The synthetic study's tables (analyst mode: every event of the window) and the
    local run's store, ingested and trained once for every test here."""
    from faultprobe.catalogs.study import build_catalog
    from faultprobe.synthetic.presets import small_study_table
    from faultprobe.synthetic.run import synthesize

    folder = tmp_path_factory.mktemp("slurm-study")
    table = small_study_table(folder)
    table["selection"] = {"mode": "analyst"}
    table["waveforms"] = {**table["waveforms"], "block_size": 8}
    table["train"] = {
        "epochs": 2,
        "width": 0.125,
        "batch_size": 16,
        "seeds": [1],
        "device": "cpu",
        "threads": 1,
        "stations": ["IV.NRCA"],
    }
    table["experiments"] = {
        "table1": {"classes": [2, 4], "stations": ["IV.NRCA"]},
        "false_dates": {"enabled": False},
        "bands": {"enabled": False},
        "null": {"enabled": False},
        "pairs": {"enabled": False},
    }
    cfg = parse_config(table)
    synthesize(cfg, progress=False, parallel=False)
    build_catalog(cfg, progress=False)
    local = _config(folder, table, "local", {"kind": "local", "n_workers": 2})
    assert main(["ingest", local, "-q"]) == 0
    return folder, table, local


def _config(folder, table, name: str, cluster: dict) -> str:
    """A config whose store holds a copy of the study's tables; returns its path."""
    store = folder / name
    store.mkdir()
    for t in TABLES:
        shutil.copy(folder / "store" / t, store / t)
    raw = {**table, "study": {**table["study"], "store": str(store)}, "cluster": cluster}
    path = folder / f"{name}.toml"
    path.write_text(dump_toml(parse_config(raw)))
    return str(path)


def _slurm(folder, job_name: str) -> dict:
    return {
        "kind": "slurm",
        "adapt": {"minimum": 0, "maximum": 2},
        "jobqueue": {
            "cores": 1,
            "memory": "2GB",
            "walltime": "00:20:00",
            "job_name": job_name,
            "local_directory": str(folder / "dask-worker"),
            "log_directory": str(folder / f"logs-{job_name}"),
        },
    }


def _store(path: str) -> str:
    return parse_config(__import__("tomllib").loads(open(path).read())).study.store


def _assert_same_store(a: str, b: str) -> None:
    ca = xr.open_zarr(f"{a}/waveforms.zarr").load()
    cb = xr.open_zarr(f"{b}/waveforms.zarr").load()
    assert ca.attrs["complete"] is True and cb.attrs["complete"] is True
    for v in ("waveform", "status", "p_time", "start_time"):
        np.testing.assert_array_equal(ca[v].values, cb[v].values, err_msg=v)
    pd.testing.assert_frame_equal(
        pd.read_parquet(f"{a}/traces.parquet"), pd.read_parquet(f"{b}/traces.parquet")
    )


def _no_jobs_left(name: str, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(jobs_named(name, s) for s in ("PENDING", "RUNNING", "COMPLETING")):
            return True
        time.sleep(1)
    return False


def _logs(folder, name: str) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.glob(f"logs-{name}/*"))


def test_ingest_and_grid_on_slurm_equal_the_local_run(study):
    folder, table, local = study
    name = f"fp-{uuid.uuid4().hex[:8]}"
    remote = _config(folder, table, "slurm", _slurm(folder, name))
    assert main(["ingest", remote, "-q"]) == 0, _logs(folder, name)[-3000:]
    _assert_same_store(_store(local), _store(remote))
    for path in (local, remote):
        assert main(["experiments", path, "--yes", "-q"]) == 0, _logs(folder, name)[-3000:]
    a = pd.read_parquet(f"{_store(local)}/results.parquet").set_index("run_id").sort_index()
    b = pd.read_parquet(f"{_store(remote)}/results.parquet").set_index("run_id").sort_index()
    assert len(a) == 2 and (a["status"] == "ok").all() and (b["status"] == "ok").all()
    assert list(a.index) == list(b.index)
    # one torch thread on either side: the same arithmetic, the same accuracies
    np.testing.assert_array_equal(a["accuracy"].to_numpy(), b["accuracy"].to_numpy())
    logs = _logs(folder, name)
    assert any(w in logs for w in b["worker"]), "the runs did not run on the SLURM workers"
    assert _no_jobs_left(name), f"jobs {name} still queued after the command returned"


def test_worker_job_cancelled_mid_ingest_loses_nothing(study):
    folder, table, local = study
    name = f"fp-{uuid.uuid4().hex[:8]}"
    remote = _config(folder, table, "slurm-cancel", _slurm(folder, name))
    store = Store(_store(remote))
    n_blocks = -(-len(pd.read_parquet(f"{store.root}/events.parquet")) // 8)
    result: list[int] = []
    run = threading.Thread(target=lambda: result.append(main(["ingest", remote, "-q"])))
    run.start()
    killed, done_then = None, 0
    deadline = time.monotonic() + 300
    while killed is None and run.is_alive() and time.monotonic() < deadline:
        done_then = len(ledger.finished(store)) if store.exists(ledger.LEDGER) else 0
        running = jobs_named(name)
        if done_then >= 1 and running:
            killed = running[0]
            subprocess.run(["scancel", killed], check=True, timeout=30)
        time.sleep(0.2)
    run.join(timeout=600)
    assert not run.is_alive(), "the ingest did not finish after its worker job was cancelled"
    assert killed is not None, "the ingest finished before a worker job could be cancelled"
    assert done_then < n_blocks, "the job was cancelled only after the last block"
    assert result == [0], _logs(folder, name)[-3000:]
    assert len(ledger.finished(store)) == n_blocks
    _assert_same_store(_store(local), store.root)
    assert _no_jobs_left(name)
