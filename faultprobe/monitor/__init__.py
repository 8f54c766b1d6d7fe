"""Live monitoring: new events scored with a trained run as their data arrive.

`faultprobe monitor CONFIG --model RUN` polls for new events (the study's catalog file read
again, or an FDSN event service), keeps those that pass the study's selection rules, cuts
and preprocesses their windows with the ingest's own functions
(`faultprobe.pipelines.blocks.process_block`) from the configured waveform source, appends
them to a monitoring cube (same schema as the study's, growing along the event axis),
scores them with `faultprobe.predict`, and updates the fault-state index
(`faultprobe.analysis.faultstate`); a line is printed and written to monitor.parquet when
the index crosses the configured threshold or a change point appears.  Every step of a
batch is committed by one atomic write of the state, so a crash loses nothing and a restart
neither skips nor repeats an event (docs/monitoring.md).
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "run_monitor": "faultprobe.monitor.service",
    "poll_once": "faultprobe.monitor.service",
    "MonitorStore": "faultprobe.monitor.state",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
