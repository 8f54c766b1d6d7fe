"""Status codes of an (event, station) trace, shared by traces.parquet and the cube.

`Status` is the one vocabulary: its int8 value is the cube's `status` code, its `label` the
`status` string of traces.parquet, and it carries its severity (when several problems hit
one trace, the most severe is its status) and its failure class: none (the samples are
stored, perhaps with a defect named in the reason), `permanent` (asking again gives the
same answer: no data, a bad record, data that is not what was asked) or `transient` (the
service was down, slow or refusing; the next `faultprobe ingest` asks again).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

import numpy as np


class Failure(StrEnum):
    """What asking again would give: '' stored, the same answer, or maybe the data."""

    NONE = ""
    PERMANENT = "permanent"
    TRANSIENT = "transient"


class Status(IntEnum):
    """A trace's status: code (the value), severity rank and failure class."""

    severity: int
    failure: Failure

    def __new__(cls, code: int, severity: int, failure: Failure) -> Status:
        obj = int.__new__(cls, code)
        obj._value_ = code
        obj.severity = severity
        obj.failure = failure
        return obj

    OK = 0, 0, Failure.NONE
    NO_DATA = 1, 6, Failure.PERMANENT
    GAP = 2, 2, Failure.NONE
    CLIPPED = 3, 1, Failure.NONE
    BAD_RATE = 4, 4, Failure.NONE
    MISSING_COMPONENT = 5, 3, Failure.NONE
    ERROR = 6, 8, Failure.PERMANENT
    WRONG_DATA = 7, 7, Failure.PERMANENT
    NON_FINITE = 8, 5, Failure.PERMANENT
    TRANSIENT = 9, 9, Failure.TRANSIENT

    @property
    def label(self) -> str:
        """The name in traces.parquet and the cube's flag_meanings (e.g. 'no_data')."""
        return self.name.lower()

    @classmethod
    def of(cls, label: str) -> Status:
        """The status of a traces.parquet label."""
        return cls[label.upper()]

    @classmethod
    def labels(cls, failure: Failure) -> frozenset[str]:
        """The traces.parquet labels of one failure class."""
        return frozenset(s.label for s in cls if s.failure == failure)


NOT_WRITTEN = -1  # the cube's fill value: a block not written yet (no status)
_RANK = np.array([s.severity for s in sorted(Status)])
_LABELS = np.array(["not_written", *(s.label for s in sorted(Status))], dtype=object)
_FAILURE = {s.label: str(s.failure) for s in Status}


def failure_class(status: str) -> str:
    """'' for stored traces, 'permanent' or 'transient' for failures (of a label)."""
    return _FAILURE.get(status, "")


def worst(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise most severe of two status-code arrays."""
    return np.where(_RANK[b] > _RANK[a], b, a).astype(np.int8)


def names(codes: np.ndarray) -> np.ndarray:
    """Status labels for an array of codes (-1: 'not_written')."""
    return _LABELS[np.asarray(codes, int) + 1]
