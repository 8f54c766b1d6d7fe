"""The matched control's train-set matching (faultprobe.ml.matching): a binary run with
`match_caliper` trains, validates and tests on events matched pre-to-post on magnitude,
distance (P travel time) and depth, each split on its own, on a toy cube whose post events
are 0.4 smaller (a composition confound)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from faultprobe.ml import matching, splits
from faultprobe.ml.errors import ModelError
from faultprobe.ml.experiment import select_events
from faultprobe.ml.spec import Labelling, RunSpec
from faultprobe.testing.toycube import ToyStudy, render

TOY = ToyStudy(n_events=500, seed=5, post_magnitude_shift=-0.4, window_s=(-1.0, 2.0))


@pytest.fixture(scope="module")
def cube():
    return render(TOY)


def _spec(**kw) -> RunSpec:
    return RunSpec(stations=("NRCA",), labelling=Labelling(mainshock=TOY.mainshock), **kw)


def test_matched_mask_pairs_within_the_caliper():
    rng = np.random.default_rng(0)
    f = np.r_[rng.normal(0, 1, (200, 2)), rng.normal(1.0, 1, (200, 2))]
    y = np.r_[np.zeros(200), np.ones(200)]
    keep, pairs = matching.matched_mask(f, y, 0.3)
    assert keep.sum() == 2 * len(pairs) and 40 < len(pairs) < 200
    assert (y[pairs[:, 0]] == 0).all() and (y[pairs[:, 1]] == 1).all()
    z = (f - f.mean(0)) / f.std(0)
    assert np.linalg.norm(z[pairs[:, 0]] - z[pairs[:, 1]], axis=1).max() <= 0.3
    # matched: the two classes' features no longer differ (the raw ones do)
    assert sps.mannwhitneyu(f[y == 0, 0], f[y == 1, 0]).pvalue < 1e-6
    assert sps.mannwhitneyu(f[pairs[:, 0], 0], f[pairs[:, 1], 0]).pvalue > 0.2


def test_a_matched_run_matches_train_validation_and_test(cube):
    base = select_events(cube, _spec())
    sel = select_events(cube, _spec(match_caliper=0.8))
    feats = matching.match_features(cube, "NRCA")
    assert np.isfinite(feats).all(axis=1)[base.ok].all()
    for part in (splits.TRAIN, splits.VAL, splits.TEST):
        was, now = base.split == part, sel.split == part
        assert not (now & ~was).any()  # no event changes part: the test set is the CNN's
        pre, post = now & (sel.labels == 0), now & (sel.labels == 1)
        assert pre.sum() == post.sum() >= 4  # one to one
        mag = feats[:, 0]
        # the raw training set has the shift; every matched part has none left
        if part == splits.TRAIN:
            raw = sps.mannwhitneyu(mag[was & (base.labels == 0)], mag[was & (base.labels == 1)])
            assert raw.pvalue < 1e-4
        assert abs(np.mean(mag[pre]) - np.mean(mag[post])) < 0.15


def test_matching_needs_a_binary_run(cube):
    spec = RunSpec(
        stations=("NRCA",),
        labelling=Labelling(kind="ttf", n_classes=4, mainshock=TOY.mainshock),
        match_caliper=0.3,
    )
    with pytest.raises(ModelError, match="2 classes"):
        select_events(cube, spec)


def test_a_run_without_matching_keeps_its_id():
    assert (
        "match_caliper" not in _spec().run_id and _spec().run_id != _spec(match_caliper=0.5).run_id
    )


def test_the_size_reference_copies_the_matched_run_sizes_from_the_cnn_parts(cube):
    """Train and validation: random subsets of the CNN's own parts, balanced, with the
    matched run's sizes per class; test: the CNN's whole test part; the draw fixed by the
    seed (and another seed draws other events)."""
    base = select_events(cube, _spec(seed=2))
    matched = select_events(cube, _spec(seed=2, match_caliper=0.8))
    ref = select_events(cube, _spec(seed=2, size_reference=0.8))
    for part in (splits.TRAIN, splits.VAL):
        was, m, now = (s.split == part for s in (base, matched, ref))
        assert not (now & ~was).any()  # a subset of the CNN's part
        for cls in (0, 1):
            assert (now & (ref.labels == cls)).sum() == (m & (matched.labels == cls)).sum()
        assert (now & (ref.labels == 0)).sum() == (now & (ref.labels == 1)).sum() >= 4
        assert now.sum() < was.sum()  # it did cut
    assert np.array_equal(ref.split == splits.TEST, base.split == splits.TEST)
    assert np.array_equal(ref.labels[ref.split == splits.TEST], base.labels[base.split == 2])
    assert np.array_equal(select_events(cube, _spec(seed=2, size_reference=0.8)).split, ref.split)
    # the same split and sizes drawn with another seed of the reference stream: other events
    other = matching.size_reference_split(base.split, base.labels, matched.split, seed=3)
    assert not np.array_equal(other, ref.split)
    assert np.array_equal(np.bincount(other + 1), np.bincount(ref.split + 1))


def test_a_size_reference_is_never_matched_and_old_ids_stay():
    # the ids these specs had before the size reference existed
    assert _spec().run_id == "NRCA-binary2-s1-63535dd397"
    assert _spec(match_caliper=0.5).run_id == "NRCA-binary2-s1-bff41e5e50"
    assert _spec(size_reference=0.5).run_id != _spec().run_id
    with pytest.raises(ValueError, match="not both"):
        _spec(match_caliper=0.5, size_reference=0.5)
