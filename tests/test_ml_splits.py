"""Splits by event in time: the paper's temporal layout, blocked split, purge gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from faultprobe.ml.spec import Split
from faultprobe.ml.splits import (
    TEST,
    TRAIN,
    UNUSED,
    VAL,
    blocked_split,
    composition,
    make_split,
    purge,
    render_composition,
    spread_split,
    temporal_split,
)


def _study(n_per_class: int = 500, n_classes: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 120 * 86400, n_per_class * n_classes))
    lab = np.repeat(np.arange(n_classes), n_per_class)  # classes in time order
    return t, lab


@pytest.mark.parametrize("n_classes", [2, 4, 9])
def test_temporal_split_layout_fractions_and_balance(n_classes):
    t, lab = _study(300, n_classes)
    codes = temporal_split(t, lab, (0.7, 0.2, 0.1))
    assert (codes >= 0).all()
    for c in range(n_classes):
        seq = codes[lab == c][np.argsort(t[lab == c])]
        # train | val | test | train, in time
        starts = np.flatnonzero(np.diff(seq, prepend=-9) != 0)
        assert seq[starts].tolist() == [TRAIN, VAL, TEST, TRAIN]
        counts = np.bincount(seq, minlength=3)
        assert counts.tolist() == [210, 60, 30]
        # validation and test sit in the middle of the class, train at both ends
        tc = np.sort(t[lab == c])
        mid = (t[(lab == c) & (codes == TEST)]).mean()
        assert tc[len(tc) // 4] < mid < tc[3 * len(tc) // 4]
    # same counts in every class: balanced splits
    per = pd.crosstab(lab, codes)
    assert (per.nunique(axis=0) == 1).all()


def test_blocked_split_deals_whole_blocks_and_is_seeded():
    t, lab = _study(400, 2)
    a = blocked_split(t, lab, (0.7, 0.2, 0.1), blocks=10, seed=1)
    b = blocked_split(t, lab, (0.7, 0.2, 0.1), blocks=10, seed=1)
    c = blocked_split(t, lab, (0.7, 0.2, 0.1), blocks=10, seed=2)
    assert (a == b).all() and not (a == c).all()
    for k in range(2):
        seq = a[lab == k][np.argsort(t[lab == k])]
        assert np.bincount(seq).tolist() == [280, 80, 40]
        # every run of one split is a whole number of 40-event blocks
        edges = np.flatnonzero(np.diff(seq) != 0) + 1
        assert all(e % 40 == 0 for e in edges)


def test_no_event_in_two_splits_and_ids_partition():
    t, lab = _study(200, 4)
    for kind in ("temporal", "blocked"):
        codes = make_split(t, lab, Split(kind=kind, purge_s=3600.0), seed=0)
        ids = np.arange(t.size)
        sets = [set(ids[codes == s]) for s in (TRAIN, VAL, TEST)]
        assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
        assert sum(len(s) for s in sets) + int((codes == UNUSED).sum()) == t.size


@pytest.mark.parametrize("kind", ["temporal", "blocked"])
def test_purge_gap_keeps_train_away_from_val_and_test(kind):
    t, lab = _study(500, 2)
    gap = 2 * 86400.0
    codes = make_split(t, lab, Split(kind=kind, purge_s=gap), seed=3)
    train = np.sort(t[codes == TRAIN])
    held = np.sort(t[(codes == VAL) | (codes == TEST)])
    d = np.abs(train[:, None] - held[None, :]).min()
    assert d >= gap
    # purging removes only training events, and only near held-out ones
    plain = make_split(t, lab, Split(kind=kind, purge_s=0.0), seed=3)
    assert ((plain != codes) <= (plain == TRAIN)).all()
    assert (codes[plain != TRAIN] == plain[plain != TRAIN]).all()
    assert (codes == UNUSED).sum() > 0


def test_purge_without_gap_is_identity():
    codes = np.array([0, 1, 2, 0], dtype=np.int8)
    assert (purge(np.arange(4.0), codes, 0.0) == codes).all()


def test_composition_counts_and_date_ranges():
    t, lab = _study(100, 2)
    codes = temporal_split(t, lab)
    times = pd.Timestamp("2016-08-30T00:00Z") + pd.to_timedelta(t, unit="s")
    comp = composition(times, lab, codes, ["pre", "post"])
    assert comp["count"].sum() == 200
    row = comp[(comp.split == "test") & (comp["class"] == "post")].iloc[0]
    sel = times[(lab == 1) & (codes == TEST)]
    assert row["count"] == 10 and row["first"] == sel.min() and row["last"] == sel.max()
    text = render_composition(comp)
    assert "test" in text and "post" in text


def test_spread_split_puts_val_and_test_in_every_block_of_every_class():
    t, lab = _study(400, 2)
    codes = spread_split(t, lab, (0.7, 0.2, 0.1), blocks=20)
    for c in range(2):
        seq = codes[lab == c][np.argsort(t[lab == c])]
        for b in np.split(seq, 20):  # the paper's layout inside each block
            starts = np.flatnonzero(np.diff(b, prepend=-9) != 0)
            assert b[starts].tolist() == [TRAIN, VAL, TEST, TRAIN]
        assert (seq == TEST).sum() == 40 and (seq == VAL).sum() == 80
    # one block is the paper's temporal split, to an event
    one = spread_split(t, lab, (0.7, 0.1, 0.2), blocks=1)
    assert (
        np.abs(np.bincount(one) - np.bincount(temporal_split(t, lab, (0.7, 0.1, 0.2)))).max() <= 1
    )


def test_spread_split_holds_test_events_in_any_five_day_interval():
    t, lab = _study(600, 2)  # 1200 events over 120 days, 10 a day
    spread = make_split(t, lab, Split(kind="spread", blocks=20, purge_s=3600.0), seed=0)
    temporal = make_split(t, lab, Split(kind="temporal"), seed=0)
    day = 86400.0
    counts_spread, counts_temporal = [], []
    for start in np.arange(0, 115 * day, day):
        inside = (t >= start) & (t < start + 5 * day)
        counts_spread.append(int((spread[inside] == TEST).sum()))
        counts_temporal.append(int((temporal[inside] == TEST).sum()))
    assert min(counts_spread) > 0
    assert min(counts_temporal) == 0  # the paper's layout leaves most of the window bare
    # purge: no training event within an hour of a held-out one
    held = t[(spread == VAL) | (spread == TEST)]
    train = t[spread == TRAIN]
    assert np.abs(train[:, None] - held[None, :]).min() >= 3600.0
