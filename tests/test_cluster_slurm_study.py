"""A small synthetic study through the real one-node SLURM (scripts/slurm-single-node.sh):
`faultprobe ingest` and `faultprobe experiments` on dask-jobqueue workers, adaptive between
0 and 2 jobs, give the local run's cube, traces and accuracies; a worker job cancelled in
the middle of the ingest (scancel) costs nothing: the run completes and the store equals
the uninterrupted one. Skipped where no SLURM answers."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid

import numpy as np
import pandas as pd
import pytest
from grid_study import assert_same_store, build_grid_study, config_copy, store_of
from slurm_helpers import jobs_named, slurm_missing

from faultprobe.cli import main
from faultprobe.pipelines import ledger
from faultprobe.store import Store

_MISSING = slurm_missing()
# dask-jobqueue sets a signal handler when first imported, which only the main thread may
# do; the commands below run in threads (to bound their time), so import it here.
pytest.importorskip("dask_jobqueue")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING)),
    pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning"),
]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The synthetic study's tables and the local run's store, ingested once."""
    folder = tmp_path_factory.mktemp("slurm-study")
    table = build_grid_study(folder)
    local = config_copy(folder, table, "local", {"kind": "local", "n_workers": 2})
    assert main(["ingest", local, "-q"]) == 0
    return folder, table, local


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


def _no_jobs_left(name: str, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(jobs_named(name, s) for s in ("PENDING", "RUNNING", "COMPLETING")):
            return True
        time.sleep(1)
    return False


@pytest.fixture
def job_name():
    """A job name of this test's own; its jobs are cancelled whatever happens."""
    name = f"fp-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["scancel", "-n", name], capture_output=True, timeout=30, check=False)


def _cli(args: list[str], timeout: float = 600) -> int | None:
    """`faultprobe ARGS` in a thread; None when it has not ended within `timeout`
    (e.g. SLURM never started the jobs)."""
    result: list[int] = []
    run = threading.Thread(target=lambda: result.append(main(args)), daemon=True)
    run.start()
    run.join(timeout)
    return result[0] if result else None


def _logs(folder, name: str) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.glob(f"logs-{name}/*"))


def test_ingest_and_grid_on_slurm_equal_the_local_run(study, job_name):
    folder, table, local = study
    name = job_name
    remote = config_copy(folder, table, "slurm", _slurm(folder, name))
    assert _cli(["ingest", remote, "-q"]) == 0, _logs(folder, name)[-3000:]
    assert_same_store(store_of(local), store_of(remote))
    for path in (local, remote):
        assert _cli(["experiments", path, "--yes", "-q"]) == 0, _logs(folder, name)[-3000:]
    a = pd.read_parquet(f"{store_of(local)}/results.parquet").set_index("run_id").sort_index()
    b = pd.read_parquet(f"{store_of(remote)}/results.parquet").set_index("run_id").sort_index()
    assert len(a) == 2 and (a["status"] == "ok").all() and (b["status"] == "ok").all()
    assert list(a.index) == list(b.index)
    # one torch thread on either side: the same arithmetic, the same accuracies
    np.testing.assert_array_equal(a["accuracy"].to_numpy(), b["accuracy"].to_numpy())
    logs = _logs(folder, name)
    assert any(w in logs for w in b["worker"]), "the runs did not run on the SLURM workers"
    assert _no_jobs_left(name), f"jobs {name} still queued after the command returned"


def test_worker_job_cancelled_mid_ingest_loses_nothing(study, job_name):
    folder, table, local = study
    name = job_name
    remote = config_copy(folder, table, "slurm-cancel", _slurm(folder, name))
    store = Store(store_of(remote))
    n_blocks = -(-len(pd.read_parquet(f"{store.root}/events.parquet")) // 8)
    result: list[int] = []
    run = threading.Thread(
        target=lambda: result.append(main(["ingest", remote, "-q"])), daemon=True
    )
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
    assert_same_store(store_of(local), store.root)
    assert _no_jobs_left(name)
