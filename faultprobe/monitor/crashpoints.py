"""Named steps of the monitor's commit protocol, where a test can kill the process.

`reached(name)` is called at every step of an append and a commit (docs/monitoring.md).
It does nothing unless the environment sets FAULTPROBE_MONITOR_KILL_AT (tests only, never
in production): "NAME" or "NAME:N" makes the process SIGKILL itself the N-th time (default
1) it reaches NAME, so a test can stop the monitor deterministically at every step and
check that a restart neither loses nor repeats an event.  FAULTPROBE_MONITOR_TRACE=FILE
appends the name of every step reached to FILE, so a test can list the steps.
"""

from __future__ import annotations

import os
import signal

KILL_AT, TRACE = "FAULTPROBE_MONITOR_KILL_AT", "FAULTPROBE_MONITOR_TRACE"
# Steps reached so far in this process; only counted while a test sets KILL_AT.
_counts: dict[str, int] = {}


def reached(name: str) -> None:
    """The monitor has reached step `name` (a no-op unless a test asks for a kill here)."""
    trace, spec = os.environ.get(TRACE), os.environ.get(KILL_AT)
    if not trace and not spec:
        return
    if trace:
        with open(trace, "a") as f:
            f.write(name + "\n")
    if not spec:
        return
    want, _, nth = spec.partition(":")
    if want != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
