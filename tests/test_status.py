"""The trace status vocabulary: codes and labels are what the cube and traces.parquet hold."""

from __future__ import annotations

import numpy as np

from faultprobe.pipelines.status import NOT_WRITTEN, Failure, Status, failure_class, names, worst

# The on-disk contract (docs/ingest.md): cube int8 code -> traces.parquet label.
ON_DISK = {
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
MILDEST_FIRST = [
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


def test_codes_and_labels_are_those_on_disk():
    assert {s.label: int(s) for s in Status} == ON_DISK
    assert all(Status.of(label) == code for label, code in ON_DISK.items())
    assert names(np.array([NOT_WRITTEN, *ON_DISK.values()])).tolist() == [
        "not_written",
        *ON_DISK,
    ]


def test_the_most_severe_status_wins_in_either_order():
    order = [Status.of(label) for label in MILDEST_FIRST]
    assert sorted(Status, key=lambda s: s.severity) == order
    codes = np.array([int(s) for s in order], np.int8)
    a, b = np.meshgrid(codes, codes)
    rank = {int(s): i for i, s in enumerate(order)}
    want = np.where(np.vectorize(rank.get)(b) > np.vectorize(rank.get)(a), b, a)
    assert np.array_equal(worst(a, b), want) and np.array_equal(worst(b, a), want)
    assert worst(a, b).dtype == np.int8


def test_failure_classes():
    assert Status.labels(Failure.TRANSIENT) == {"transient"}
    assert Status.labels(Failure.PERMANENT) == {"no_data", "error", "wrong_data", "non_finite"}
    assert [failure_class(s) for s in ("ok", "gap", "error", "transient", "unknown")] == [
        "",
        "",
        "permanent",
        "transient",
        "",
    ]
