"""Status codes of an (event, station) trace, shared by traces.parquet and the cube.

Each status belongs to one failure class: none (the samples are stored, perhaps with a
defect named in the reason), `permanent` (asking again gives the same answer: no data, a
bad record, data that is not what was asked) or `transient` (the service was down, slow or
refusing; the next `faultprobe ingest` asks again).
"""

from __future__ import annotations

import numpy as np

NOT_WRITTEN = -1
CODES: dict[str, int] = {
    "ok": 0,
    "no_data": 1,
    "gap": 2,
    "clipped": 3,
    "bad_rate": 4,
    "missing_component": 5,
    "error": 6,
    "wrong_data": 7,
    "non_finite": 8,
    "transient": 9,
}
NAMES: dict[int, str] = {v: k for k, v in CODES.items()}
# When several problems hit one trace, the most severe one is its status.
SEVERITY = [
    "ok",
    "clipped",
    "gap",
    "missing_component",
    "bad_rate",
    "non_finite",
    "no_data",
    "wrong_data",
    "error",
    "transient",
]
_RANK = np.array([SEVERITY.index(NAMES[c]) for c in range(len(CODES))])

TRANSIENT = frozenset({"transient"})
PERMANENT = frozenset({"no_data", "error", "wrong_data", "non_finite"})


def failure_class(status: str) -> str:
    """'' for stored traces, 'permanent' or 'transient' for failures."""
    if status in TRANSIENT:
        return "transient"
    return "permanent" if status in PERMANENT else ""


def worst(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise most severe of two status-code arrays."""
    return np.where(_RANK[b] > _RANK[a], b, a).astype(np.int8)


def names(codes: np.ndarray) -> np.ndarray:
    """Status names for an array of codes."""
    table = np.array([NAMES.get(i, "not_written") for i in range(-1, len(CODES))], dtype=object)
    return table[np.asarray(codes, int) + 1]
