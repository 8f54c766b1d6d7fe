"""Status codes of an (event, station) trace, shared by traces.parquet and the cube."""

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
}
NAMES: dict[int, str] = {v: k for k, v in CODES.items()}
# When several problems hit one trace, the most severe one is its status.
SEVERITY = ["ok", "clipped", "gap", "missing_component", "bad_rate", "no_data", "error"]
_RANK = np.array([SEVERITY.index(NAMES[c]) for c in range(len(CODES))])


def worst(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise most severe of two status-code arrays."""
    return np.where(_RANK[b] > _RANK[a], b, a).astype(np.int8)


def names(codes: np.ndarray) -> np.ndarray:
    """Status names for an array of codes."""
    table = np.array([NAMES.get(i, "not_written") for i in range(-1, len(CODES))], dtype=object)
    return table[np.asarray(codes, int) + 1]
