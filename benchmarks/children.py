"""Measure in a fresh process: a benchmark's child script prints one `RESULT {json}` line."""

from __future__ import annotations

import json
import subprocess
import sys


def child_result(
    code: str, *args, env: dict | None = None
) -> tuple[dict | None, subprocess.CompletedProcess]:
    """Run `code` in a fresh Python with `args`; its RESULT figures (None without a line) and
    the finished process."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    return (json.loads(line[0][7:]) if line else None), proc


def child_figures(code: str, *args, what: str, env: dict | None = None) -> dict:
    """The child's RESULT figures; a failed child ends the benchmark with its stderr's tail."""
    got, proc = child_result(code, *args, env=env)
    if proc.returncode or got is None:
        raise SystemExit(f"{what} child failed:\n{proc.stderr[-3000:]}")
    return got
