"""Labellings and seeded class balancing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultprobe.ml.labels import balance, make_labels, shuffle_labels
from faultprobe.ml.spec import Labelling, Phase

MAIN = pd.Timestamp("2016-10-30T06:40:17Z")
VISSO = Phase(name="visso", start="2016-10-26T19:18:05Z", end="2016-10-30T06:40:17Z")


def _times(n: int = 1000, seed: int = 0) -> pd.DatetimeIndex:
    rng = np.random.default_rng(seed)
    s = rng.uniform(-61 * 86400, 61 * 86400, n)
    return MAIN + pd.to_timedelta(s, unit="s")


def test_binary_is_pre_post_against_the_mainshock():
    t = pd.DatetimeIndex([MAIN - pd.Timedelta("1s"), MAIN, MAIN + pd.Timedelta("1D")])
    lab, names = make_labels(t, Labelling(kind="binary", mainshock=MAIN))
    assert lab.tolist() == [0, 1, 1] and names == ["pre", "post"]


@pytest.mark.parametrize("n", [2, 4, 8, 6])
def test_ttf_bins_have_equal_counts_on_each_side_and_ordered_in_time(n):
    t = _times(1000)
    lab, names = make_labels(t, Labelling(kind="ttf", n_classes=n, mainshock=MAIN))
    assert len(names) == n and lab.min() == 0 and lab.max() == n - 1
    pre = np.asarray(t < MAIN)
    k = n // 2
    assert set(lab[pre]) == set(range(k)) and set(lab[~pre]) == set(range(k, n))
    for side in (pre, ~pre):
        counts = np.bincount(lab[side])[lab[side].min() :]
        assert counts.max() - counts.min() <= 1
    # classes follow time: the latest event of class c is before the earliest of c + 1
    s = pd.Series(np.asarray(t)).groupby(lab)
    assert (s.max().to_numpy()[:-1] < s.min().to_numpy()[1:]).all()


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.sampled_from([2, 4, 8]))
def test_ttf_equal_counts_for_any_sizes(n_pre, n_post, n):
    t = MAIN + pd.to_timedelta(np.r_[-np.arange(1, n_pre + 1), np.arange(n_post)] * 3600, "s")
    lab, _ = make_labels(t, Labelling(kind="ttf", n_classes=n, mainshock=MAIN))
    k = n // 2
    for side, m in ((lab < k, n_pre), (lab >= k, n_post)):
        counts = np.bincount(lab[side] % k, minlength=k)
        assert counts.sum() == m and counts.max() - counts.min() <= 1


def test_nine_classes_put_the_visso_interval_in_its_own_class():
    t = _times(2000)
    lab, names = make_labels(
        t, Labelling(kind="phases", n_classes=9, mainshock=MAIN, phases=(VISSO,))
    )
    assert names == ["pre1", "pre2", "pre3", "pre4", "visso", "post1", "post2", "post3", "post4"]
    in_visso = np.asarray((t >= VISSO.start) & (t < VISSO.end))
    assert (lab[in_visso] == 4).all() and (lab[~in_visso] != 4).all()
    pre_free = np.asarray(t < VISSO.start)
    counts = np.bincount(lab[pre_free], minlength=4)[:4]
    assert counts.max() - counts.min() <= 1 and (lab[pre_free] < 4).all()
    assert (lab[np.asarray(t >= MAIN)] > 4).all()


def test_calendar_bins_with_edges_and_equal_time_default():
    edges = (
        "2016-09-01T00:00Z",
        "2016-10-01T00:00Z",
        "2016-10-30T06:40:17Z",
        "2016-12-01T00:00Z",
        "2017-01-01T00:00Z",
    )
    t = pd.DatetimeIndex(
        [
            "2016-08-31T00:00Z",
            "2016-09-15T00:00Z",
            "2016-10-29T00:00Z",
            "2016-11-02T00:00Z",
            "2016-12-25T00:00Z",
        ]
    )
    lab, names = make_labels(
        t, Labelling(kind="calendar", n_classes=4, mainshock=MAIN, edges=edges)
    )
    assert lab.tolist() == [-1, 0, 1, 2, 3] and names[0] == "from 2016-09-01"
    lab, _ = make_labels(_times(500), Labelling(kind="calendar", n_classes=4, mainshock=MAIN))
    tt = _times(500)
    days = np.asarray((tt - MAIN).total_seconds() / 86400)
    # equal time bins: about a month each side of the mainshock
    for c in range(4):
        span = np.ptp(days[lab == c])
        assert 25 < span < 31


def test_false_mainshock_moves_the_boundary():
    t = _times(400)
    false = MAIN - pd.Timedelta("14D")
    lab, _ = make_labels(
        t, Labelling(kind="binary", mainshock=MAIN, false_mainshock=false.to_pydatetime())
    )
    assert (lab == np.asarray(t >= false)).all()
    true, _ = make_labels(t, Labelling(kind="binary", mainshock=MAIN))
    moved = np.asarray((t >= false) & (t < MAIN))
    assert (lab[moved] != true[moved]).all() and (lab[~moved] == true[~moved]).all()


def test_balance_is_equal_seeded_and_seed_dependent():
    rng = np.random.default_rng(1)
    lab = rng.choice([-1, 0, 1, 2], p=[0.1, 0.5, 0.3, 0.1], size=3000)
    keep = balance(lab, 3, seed=5)
    counts = np.bincount(lab[keep], minlength=3)
    assert counts.tolist() == [np.sum(lab == 2)] * 3 and (lab[keep] >= 0).all()
    assert (balance(lab, 3, seed=5) == keep).all()
    assert not (balance(lab, 3, seed=6) == keep).all()
    with pytest.raises(ValueError, match="counts per class"):
        balance(np.array([0, 0, 1]), 3, seed=0)


def test_shuffle_permutes_labels_and_keeps_counts():
    lab = np.repeat([0, 1, -1], [50, 50, 10])
    out = shuffle_labels(lab, 3)
    assert (out[lab < 0] == -1).all() and np.bincount(out[out >= 0]).tolist() == [50, 50]
    assert (out != lab).sum() > 20


def test_labelling_rejects_inconsistent_class_counts():
    with pytest.raises(ValueError):
        Labelling(kind="ttf", n_classes=5, mainshock=MAIN)
    with pytest.raises(ValueError):
        Labelling(kind="phases", n_classes=8, mainshock=MAIN, phases=(VISSO,))


@pytest.mark.parametrize(("kind", "n"), [("binary", 2), ("ttf", 4), ("ttf", 8)])
def test_two_four_eight_classes_leave_out_the_visso_interval(kind, n):
    t = _times(3000)
    inside = np.asarray((t >= pd.Timestamp(VISSO.start)) & (t < pd.Timestamp(VISSO.end)))
    assert inside.sum() > 50
    lab, _ = make_labels(t, Labelling(kind=kind, n_classes=n, mainshock=MAIN, phases=(VISSO,)))
    assert (lab[inside] == -1).all() and (lab[~inside] >= 0).all()
    # the config key keeps them (labelled pre, as before the paper's rule)
    keep = Labelling(kind=kind, n_classes=n, mainshock=MAIN, phases=(VISSO,), exclude_phases=False)
    lab_all, _ = make_labels(t, keep)
    assert (lab_all >= 0).all() and (lab_all[inside] < n // 2).all()


def test_nine_classes_keep_the_visso_interval_whatever_the_exclusion_key():
    t = _times(3000)
    inside = np.asarray((t >= pd.Timestamp(VISSO.start)) & (t < pd.Timestamp(VISSO.end)))
    lab, names = make_labels(
        t, Labelling(kind="phases", n_classes=9, mainshock=MAIN, phases=(VISSO,))
    )
    assert (lab[inside] == names.index("visso")).all() and (lab >= 0).all()


def test_calendar_default_is_the_calendar_months_with_most_events():
    t = pd.date_range("2016-08-30T06:40:17Z", "2016-12-30T06:40:17Z", freq="3h")
    lab, names = make_labels(t, Labelling(kind="calendar", n_classes=4, mainshock=MAIN))
    assert names == ["2016-09", "2016-10", "2016-11", "2016-12"]
    months = np.asarray(t.month)
    assert (lab[months == 8] == -1).all()
    for c, m in enumerate((9, 10, 11, 12)):
        assert (lab[months == m] == c).all()
    # two classes: the two busiest consecutive months (later ones on a tie)
    busy = t.append(pd.date_range("2016-09-01", "2016-09-20", freq="1h", tz="UTC"))
    _, names2 = make_labels(busy, Labelling(kind="calendar", n_classes=2, mainshock=MAIN))
    assert names2 == ["2016-09", "2016-10"]
