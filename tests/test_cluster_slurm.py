"""`connect` with kind "slurm" against a real one-node SLURM (scripts/slurm-single-node.sh).

The worker must start as a SLURM job, run a task, and its job must be gone once the context
closes. Skipped where no SLURM answers.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest
from study_tables import norcia_table

from faultprobe.cluster.connect import connect
from faultprobe.config import parse_config


def _slurm_missing() -> str | None:
    """Why SLURM cannot be used here, or None when `sbatch` exists and `sinfo` answers."""
    if shutil.which("sbatch") is None:
        return "sbatch not on PATH (run scripts/slurm-single-node.sh as root to start one)"
    try:
        proc = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"sinfo does not answer: {err}"
    if proc.returncode != 0:
        return f"sinfo does not answer: {proc.stderr.strip() or proc.returncode}"
    states = proc.stdout.split()
    if not any(s.rstrip("*~#") in {"idle", "mix"} for s in states):
        return f"no idle SLURM node (sinfo states: {states or 'none'})"
    return None


_MISSING = _slurm_missing()
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


def _job_state(job_id: str) -> str:
    """The job's state as squeue shows it; "" once squeue no longer lists it."""
    proc = subprocess.run(
        ["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True, timeout=20
    )
    # After MinJobAge squeue forgets the id and answers "Invalid job id specified".
    return proc.stdout.strip() if proc.returncode == 0 else ""


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
        assert _job_state(job_id) == "RUNNING"
        assert "#SBATCH --mem=" in client.cluster.job_script()
    deadline = time.monotonic() + 60
    while (state := _job_state(job_id)) and time.monotonic() < deadline:
        time.sleep(1)
    assert state == "", f"job {job_id} still in squeue after the context closed ({state})"
