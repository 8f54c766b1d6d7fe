"""The one-node SLURM of scripts/slurm-single-node.sh, as the SLURM tests see it."""

from __future__ import annotations

import shutil
import subprocess


def slurm_missing() -> str | None:
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
    if not any(s.rstrip("*~#") in {"idle", "mix", "alloc"} for s in states):
        return f"no usable SLURM node (sinfo states: {states or 'none'})"
    return None


def job_state(job_id: str) -> str:
    """The job's state as squeue shows it; "" once squeue no longer lists it."""
    proc = subprocess.run(
        ["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True, timeout=20
    )
    # After MinJobAge squeue forgets the id and answers "Invalid job id specified".
    return proc.stdout.strip() if proc.returncode == 0 else ""


def jobs_named(name: str, state: str = "RUNNING") -> list[str]:
    """Ids of this user's jobs called `name` in `state`."""
    proc = subprocess.run(
        ["squeue", "-h", "-n", name, "-t", state, "-o", "%i"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    return proc.stdout.split() if proc.returncode == 0 else []
