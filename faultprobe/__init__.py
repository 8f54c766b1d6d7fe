"""faultprobe: fault-zone properties through the seismic cycle, from small-earthquake waveforms.

`faultprobe.predict(run, stream_or_array, inventory=None)` gives a trained run's class
probabilities for new traces (see docs/learning.md); the command line is `faultprobe`.
Every module logs to its own `logging` logger under `faultprobe`; nothing is shown unless
the application configures logging (the command line does).
"""

from __future__ import annotations

import logging
from typing import Any

logging.getLogger(__name__).addHandler(logging.NullHandler())

__version__ = "0.1.0"
__all__ = ["__version__", "predict"]


def __getattr__(name: str) -> Any:
    if name == "predict":  # imported on first use: `import faultprobe` stays light
        from faultprobe.ml.inference import predict

        return predict
    raise AttributeError(name)
