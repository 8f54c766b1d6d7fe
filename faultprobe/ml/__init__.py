"""Learning core: labels, splits, dataset, the CNN, the trainer, metrics, run folders.

The public entry points (imported lazily, so `import faultprobe.ml.spec` stays light):
`RunSpec`, `spec_from_config` (what a run is), `run_experiment(store, spec) -> dict` (train,
score and write STORE/runs/RUN_ID/), `evaluate_run(folder, ...)` (score a trained run) and
`predict(run, stream_or_array)` (a trained run's probabilities for new traces).
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "RunSpec": "faultprobe.ml.spec",
    "spec_from_config": "faultprobe.ml.spec",
    "run_experiment": "faultprobe.ml.experiment",
    "evaluate_run": "faultprobe.ml.experiment",
    "RunFolder": "faultprobe.ml.runs",
    "predict": "faultprobe.ml.inference",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
