"""`connect` with kind "slurm" against a real one-node SLURM (scripts/slurm-single-node.sh).

The worker must start as a SLURM job, run a task, and its job must be gone once the context
closes. Skipped where no SLURM answers.
"""

from __future__ import annotations

import os
import socket
import time

import pytest
from slurm_helpers import job_state, slurm_missing
from study_tables import norcia_table

from faultprobe.cluster.connect import connect
from faultprobe.config import parse_config

_MISSING = slurm_missing()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))]


def _raw(tmp_path) -> dict:
    return norcia_table(
        str(tmp_path / "store"),
        cluster={
            "kind": "slurm",
            "jobqueue": {
                "cores": 1,
                "memory": "1GB",
                "processes": 1,
                "walltime": "00:10:00",
                "jobs": 1,
                "local_directory": str(tmp_path / "dask-worker"),
                "job_extra_directives": [f"--output={tmp_path}/slurm-%j.out"],
            },
        },
    )


def _logs(tmp_path) -> str:
    return "\n".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("slurm-*.out"))


def test_slurm_worker_runs_tasks_in_a_job_that_ends_with_the_context(tmp_path):
    def in_job(x: int) -> tuple[int, str, str, int]:
        """On the worker: the result, its SLURM job, host and process. Nested, so it is
        pickled by value: the job's Python cannot import this test module."""
        return x * x, os.environ.get("SLURM_JOB_ID", ""), socket.gethostname(), os.getpid()

    cfg = parse_config(_raw(tmp_path), base=tmp_path)
    assert cfg.cluster.kind == "slurm"
    with connect(cfg.cluster) as client:
        try:
            client.wait_for_workers(1, timeout=180)
        except TimeoutError:
            pytest.fail(f"no SLURM worker within 180 s; job logs:\n{_logs(tmp_path)}")
        square, job_id, host, pid = client.submit(in_job, 7, pure=False).result(timeout=60)
        assert square == 49
        assert job_id, "the worker did not run inside a SLURM job (no SLURM_JOB_ID)"
        assert host == socket.gethostname() and pid != os.getpid()
        assert job_state(job_id) == "RUNNING"
        assert "#SBATCH --mem=" in client.cluster.job_script()
    deadline = time.monotonic() + 60
    while (state := job_state(job_id)) and time.monotonic() < deadline:
        time.sleep(1)
    assert state == "", f"job {job_id} still in squeue after the context closed ({state})"
