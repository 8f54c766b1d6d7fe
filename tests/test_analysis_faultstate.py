"""The fault-state index's pieces: windows, the exact chance band, change points.

The chance band's claim is checked by simulation: scores of calibration and scored events
drawn from one distribution (no effect), 20000 draws; the band's coverage is exact up to
the discreteness of the counts, so the measured coverage must reach the level less three
binomial standard errors of the simulation (0.99 - 3 x 0.0007).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultprobe.analysis import faultstate


def test_windows_stay_inside_folds():
    folds = np.repeat([0, 1, 2], [95, 100, 47])
    win = faultstate.fold_windows(folds, 30)
    assert np.all(np.diff(win) >= 0)
    for w in np.unique(win):
        assert len(set(folds[win == w])) == 1  # one model per window
    sizes = np.bincount(win)
    assert sizes.tolist() == [30, 30, 35, 30, 30, 40, 30, 17]  # tails under 15 join the one before


def test_chance_band_covers_exchangeable_scores():
    rng = np.random.default_rng(0)
    n_cal, k, draws = 61, 40, 20000
    cal = rng.normal(size=(draws, n_cal))
    scored = rng.normal(size=(draws, k))
    thr = np.sort(cal, axis=1)[:, (n_cal + 1) // 2 - 1]
    counts = (scored > thr[:, None]).sum(axis=1)
    lo, hi = faultstate.chance_counts(k, n_cal, (n_cal + 1) // 2, 0.99)
    inside = ((counts >= lo) & (counts <= hi)).mean()
    assert inside >= 0.99 - 3 * np.sqrt(0.99 * 0.01 / draws)
    # the naive binomial band (threshold taken as exact) is too narrow
    from scipy import stats

    blo, bhi = stats.binom.interval(0.99, k, 0.5)
    assert ((counts >= blo) & (counts <= bhi)).mean() < inside


def test_threshold_and_scores():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    mask = faultstate.post_mask(["pre", "post"])
    odds = faultstate.post_log_odds(probs, mask)
    np.testing.assert_allclose(odds, [np.log(0.1 / 0.9), np.log(4.0), 0.0])
    thr, n, m = faultstate.calibration_threshold(np.array([3.0, 1.0, 2.0, 5.0]))
    assert (thr, n, m) == (2.0, 4, 2)
    assert faultstate.post_mask(["pre1", "pre2", "post1", "post2"]).tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="pre and post"):
        faultstate.post_mask(["from 2016-09-01", "from 2016-10-01"])
    np.testing.assert_allclose(faultstate.expected_ttf(probs, [-10.0, 20.0]), [-7.0, 14.0, 5.0])


def test_change_points_find_a_step_and_not_noise():
    rng = np.random.default_rng(1)
    y = (rng.random(600) < np.where(np.arange(600) < 350, 0.2, 0.8)).astype(float)
    cps = faultstate.change_points(y, 6.0, 20, fold_term=2.5)
    assert len(cps) == 1 and abs(cps[0] - 350) <= 10
    flat = (rng.random(600) < 0.5).astype(float)
    assert faultstate.change_points(flat, 6.0, 20, fold_term=2.5) == []
    t = pd.date_range("2016-10-01", periods=600, freq="h", tz="UTC")
    table = faultstate.change_point_table(
        pd.DataFrame({"source_id": [f"e{i}" for i in range(600)], "source_origin_time": t, "y": y}),
        cps,
    )
    assert table["index_before"].iloc[0] < 0.3 < 0.7 < table["index_after"].iloc[0]
    assert table["time"].dt.tz is not None


def test_a_per_event_table_of_an_older_store_reads_with_today_s_names():
    # LEGACY fixture: tracking parts and control tables written before the column rename
    old = pd.DataFrame({"event_id": ["e1"], "origin_time": [pd.Timestamp("2016-10-30")], "y": 1})
    got = faultstate.upgrade_event_names(old)
    assert got.columns.tolist() == ["source_id", "source_origin_time", "y"]
    assert faultstate.upgrade_event_names(got) is got  # today's tables pass unchanged
