"""Metrics against hand computation."""

from __future__ import annotations

import math

import numpy as np

from faultprobe.ml.metrics import chance_interval, confusion_frame, confusion_matrix, summarize


def test_confusion_matrix_by_hand():
    true = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    pred = [0, 1, 0, 1, 1, 2, 0, 2, 1]
    cm = confusion_matrix(true, pred, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 2, 0], [1, 1, 2]]


def test_confusion_matrix_matches_a_loop_on_random_labels():
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 5, 1000), rng.integers(0, 5, 1000)
    ref = np.zeros((5, 5), int)
    for a, b in zip(t, p):
        ref[a, b] += 1
    assert (confusion_matrix(t, p, 5) == ref).all()


def test_summary_by_hand():
    cm = np.array([[2, 1, 0], [0, 2, 0], [1, 1, 2]])
    s = summarize(cm, ["a", "b", "c"])
    assert s["n"] == 9
    assert math.isclose(s["accuracy"], 6 / 9)
    assert math.isclose(s["recall"]["a"], 2 / 3)
    assert math.isclose(s["recall"]["c"], 2 / 4)
    assert math.isclose(s["precision"]["b"], 2 / 4)
    assert math.isclose(s["precision"]["a"], 2 / 3)
    assert math.isclose(s["balanced_accuracy"], (2 / 3 + 1 + 1 / 2) / 3)
    assert s["support"] == {"a": 3, "b": 2, "c": 4}


def test_undefined_precision_is_none_and_absent_class_out_of_balanced_accuracy():
    cm = np.array([[3, 0], [0, 0]])
    s = summarize(cm)
    assert s["precision"]["1"] is None and s["recall"]["1"] is None
    assert s["balanced_accuracy"] == 1.0


def test_chance_interval_is_binomial():
    lo, hi = chance_interval(100, 2, 0.99)
    assert 0.35 < lo < 0.38 and 0.62 < hi < 0.65
    lo4, hi4 = chance_interval(100, 4, 0.99)
    assert lo4 < 0.25 < hi4 < hi


def test_confusion_frame_long_form():
    df = confusion_frame(np.array([[1, 2], [3, 4]]), ["pre", "post"])
    assert df["count"].tolist() == [1, 2, 3, 4]
    assert df.loc[1, "true_class"] == "pre" and df.loc[1, "pred_class"] == "post"
