"""Grid expansion, wrong-date scoring, pairs and spectra: pure functions on small data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching
from study_tables import norcia_table

from faultprobe.analysis import grid as gridmod
from faultprobe.analysis import tables
from faultprobe.analysis.pairs import (
    PairSpectra,
    differing_band,
    find_pairs,
    local_km,
    multitaper_amplitude,
    ratio_summary,
)
from faultprobe.analysis.scoring import false_date_scores, side_recall
from faultprobe.analysis.stats import clopper_pearson
from faultprobe.analysis.tables import table1, table2
from faultprobe.config import parse_config
from faultprobe.config.stages import GridSettings


def _cfg(tmp_path, experiments: dict, **train):
    raw = norcia_table(
        str(tmp_path / "store"),
        ("IV.NRCA", "IV.FDMO"),
        phases=[{"name": "visso", "start": "2016-10-26T19:18:05Z", "end": "2016-10-30T06:40:17Z"}],
        train={"seeds": [1, 2, 3], **train},
        experiments=experiments,
    )
    return parse_config(raw)


def test_table1_grid_is_stations_by_classes_by_seeds(tmp_path):
    cfg = _cfg(tmp_path, {"false_dates": {"enabled": False}, "bands": {"enabled": False}})
    runs = gridmod.expand(cfg, grids=["table1"])
    assert len(runs) == 3 * 4 * 3
    kinds = {(r.spec.labelling.kind, r.spec.labelling.n_classes) for r in runs}
    assert kinds == {("binary", 2), ("ttf", 4), ("ttf", 8), ("phases", 9)}
    assert len({r.run_id for r in runs}) == len(runs)
    far = [r for r in runs if r.spec.stations == ("IV.SMA1",)]
    assert far and all(r.meta["far"] for r in far)


def test_grids_use_every_seed_and_share_the_raw_baseline(tmp_path):
    cfg = _cfg(
        tmp_path,
        {
            "table1": {"classes": [2], "seeds": [1]},
            "false_dates": {"dates": ["2016-10-21T00:00:00Z", "2016-11-09T00:00:00Z"]},
            "bands": {"seeds": [1]},
        },
    )
    runs = gridmod.expand(cfg)
    by_grid = {g: [r for r in runs if r.grid == g] for g in ("table1", "false_dates", "bands")}
    # every [train] seed by default: the true date and two false ones, three seeds
    assert len(by_grid["false_dates"]) == 3 * 3
    assert {r.spec.seed for r in by_grid["false_dates"]} == {1, 2, 3}
    # the paper's 3 Hz steps on multiples of 3 Hz, 3-6 ... 45-48 Hz
    bands = [r.spec.band_hz for r in by_grid["bands"] if r.spec.band_hz]
    assert bands[0] == (3.0, 6.0) and (9.0, 12.0) in bands and bands[-1] == (45.0, 48.0)
    assert len(bands) == 15
    base = {r.run_id for r in by_grid["bands"] if r.spec.band_hz is None}
    nrca_binary = [r for r in by_grid["table1"] if r.spec.stations == ("IV.NRCA",)]
    assert nrca_binary[0].run_id in base  # one run id, trained once, in two grids
    # the wrong-date grid trains its own true-date run, on the spread split
    true_date = [r for r in by_grid["false_dates"] if not r.meta["false_date"]]
    assert all(r.spec.split.kind == "spread" for r in by_grid["false_dates"])
    assert not {r.run_id for r in true_date} & base
    fd = [r for r in by_grid["false_dates"] if r.meta["false_date"]]
    assert {r.spec.labelling.false_mainshock.day for r in fd} == {21, 9}
    # a GridRun survives the JSON round trip that carries it to a worker
    again = gridmod.GridRun.from_json(fd[0].to_json())
    assert again.key == fd[0].key and again.spec == fd[0].spec


def test_seasonality_spans_need_enough_windows(tmp_path):
    cfg = _cfg(
        tmp_path,
        {"seasonality": {"enabled": True, "min_windows": 40, "events": False, "seeds": [1]}},
    )
    t = pd.Series(pd.date_range("2014-01-01", "2016-01-01", freq="6h", tz="UTC"))
    t = t[(t < "2014-05-01") | (t >= "2014-09-01")]  # May-Aug 2014 has no noise
    runs = gridmod.seasonality_runs(GridSettings.of(cfg), t, None)
    starts = sorted(r.meta["span_start"][:7] for r in runs)
    assert starts == ["2014-01", "2014-09", "2015-01", "2015-05", "2015-09"]
    lab = runs[0].spec.labelling
    assert lab.kind == "calendar" and len(lab.edges) == 3


def _preds(real, fake, pred):
    return pd.DataFrame({"true_real": real, "true": fake, "pred": pred, "split": "test"})


def test_false_date_scores_follow_table_2():
    # Oct 21 of the paper: 43 test events in the false interval, 38 classified as
    # foreshocks (their true label), so FP = 5 / 43 = 11.6 %.
    n_pre, n_mid, n_post = 300, 43, 400
    real = np.r_[np.zeros(n_pre + n_mid), np.ones(n_post)].astype(int)
    fake = np.r_[np.zeros(n_pre), np.ones(n_mid + n_post)].astype(int)
    pred = real.copy()
    pred[n_pre : n_pre + 5] = 1  # 5 of the mislabelled ones follow the false labels
    s = false_date_scores(_preds(real, fake, pred))
    assert s["nm"] == 43 and s["nc"] == 38
    assert s["fp"] == pytest.approx(100 * 5 / 43, abs=0.01)
    assert s["accuracy"] == pytest.approx(1 - 5 / (n_pre + n_mid + n_post))


def test_side_recall_groups_pre_and_post_classes():
    names = ["pre1", "pre2", "visso", "post1", "post2"]
    test = pd.DataFrame({"true": [0, 1, 3, 4, 2], "pred": [1, 3, 4, 4, 0]})
    pre, post = side_recall(test, names)
    assert pre == 0.5 and post == 1.0


def _brute_pairs(ev, dmax_m, dmag):
    xyz = local_km(ev["source_latitude_deg"], ev["source_longitude_deg"], ev["source_depth_km"])
    pre = np.flatnonzero(ev["ttf_s"] < 0)
    post = np.flatnonzero(ev["ttf_s"] >= 0)
    d = np.linalg.norm(xyz[pre][:, None] - xyz[post][None], axis=-1) * 1000
    mag = ev["source_magnitude"].to_numpy()
    m = np.abs(mag[pre][:, None] - mag[post][None])
    ok = (d <= dmax_m) & (m <= dmag + 1e-9)
    return {(pre[i], post[j]) for i, j in zip(*np.nonzero(ok))}


def test_pairs_match_brute_force_and_are_one_to_one():
    rng = np.random.default_rng(3)
    n = 400
    ev = pd.DataFrame(
        {
            "source_id": [f"e{i}" for i in range(n)],
            "source_latitude_deg": 42.83 + rng.normal(0, 0.01, n),
            "source_longitude_deg": 13.11 + rng.normal(0, 0.01, n),
            "source_depth_km": rng.uniform(5, 7, n),
            "source_magnitude": np.round(rng.uniform(0.5, 1.5, n), 2),
            "ttf_s": rng.uniform(-1e6, 1e6, n),
        }
    )
    pairs = find_pairs(ev, 500.0, 0.1)
    allowed = _brute_pairs(ev, 500.0, 0.1)
    got = set(zip(pairs["pre_pos"], pairs["post_pos"]))
    assert got and got <= allowed
    assert pairs["pre_pos"].is_unique and pairs["post_pos"].is_unique
    assert (pairs["distance_m"] <= 500).all() and (pairs["dmag"] <= 0.1 + 1e-9).all()
    # as many pairs as a maximum matching of the candidate graph, at its least total distance
    pre_ids = sorted({i for i, _ in allowed})
    post_ids = sorted({j for _, j in allowed})
    rows = [pre_ids.index(i) for i, _ in allowed]
    cols = [post_ids.index(j) for _, j in allowed]
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(pre_ids), len(post_ids)))
    most = int((maximum_bipartite_matching(graph, perm_type="column") >= 0).sum())
    assert len(pairs) == most
    xyz = local_km(ev["source_latitude_deg"], ev["source_longitude_deg"], ev["source_depth_km"])
    big = 1e6
    dense = np.full((len(pre_ids), len(post_ids)), big)
    for (i, j), r, c in zip(allowed, rows, cols):
        dense[r, c] = np.linalg.norm(xyz[i] - xyz[j]) * 1000
    r, c = linear_sum_assignment(dense)
    best = dense[r, c][dense[r, c] < big].sum()
    assert pairs["distance_m"].sum() == pytest.approx(best, rel=1e-6)


def test_optimal_matching_finds_the_pair_greedy_matching_lost():
    # pre A is 10 m from post X and 100 m from post Y; pre B is 20 m from X only.  Taking
    # the closest pair first (A-X) leaves B without a partner; the optimum pairs A-Y, B-X.
    north_m = {"A": 0.0, "B": 30.0, "X": 10.0, "Y": -100.0}
    ev = pd.DataFrame(
        {
            "source_id": list(north_m),
            "source_latitude_deg": [42.83 + v / 1000 / 111.195 for v in north_m.values()],
            "source_longitude_deg": 13.11,
            "source_depth_km": 6.0,
            "source_magnitude": 1.0,
            "ttf_s": [-10.0, -5.0, 5.0, 10.0],
        }
    )
    pairs = find_pairs(ev, 500.0, 0.1)
    assert set(zip(pairs["source_id_pre"], pairs["source_id_post"])) == {("A", "Y"), ("B", "X")}
    assert pairs["distance_m"].tolist() == pytest.approx([20.0, 100.0], abs=0.01)


def test_multitaper_matches_mtspec_and_finds_the_band():
    from multitaper import MTSpec

    fs, n = 100.0, 1000
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, n))
    f, amp = multitaper_amplitude(x, 1 / fs, 4.0)
    ref_f, ref_s = MTSpec(x[1, 2], nw=4.0, kspec=7, dt=1 / fs, iadapt=0).rspec()
    assert np.allclose(f, ref_f.ravel())
    assert np.allclose(amp[1, 2], np.sqrt(ref_s.ravel()))
    # post records with 10x less energy above 20 Hz: the ratio departs from 1 there only
    k = 40
    pre = rng.standard_normal((k, 3, n))
    post = rng.standard_normal((k, 3, n))
    spec = np.fft.rfft(post, axis=-1)
    spec[..., np.fft.rfftfreq(n, 1 / fs) > 20] *= 0.1
    post = np.fft.irfft(spec, n=n, axis=-1)
    f, a_pre = multitaper_amplitude(pre, 1 / fs, 4.0)
    _, a_post = multitaper_amplitude(post, 1 / fs, 4.0)
    summary = ratio_summary(PairSpectra(f, a_pre, a_post), smooth_hz=1.0)
    band = differing_band(summary)
    assert band is not None and 19 <= band[0] <= 23 and band[1] >= 45


def test_tables_mean_and_std_over_seeds_keep_run_ids():
    rows = pd.DataFrame(
        {
            "grid": ["table1"] * 3 + ["false_dates"] * 2,
            "status": "ok",
            "station": "IV.NRCA",
            "n_classes": 2,
            "run_id": ["a", "b", "c", "d", "e"],
            "accuracy": [0.9, 0.8, 0.7, 0.95, 0.9],
            "recall_pre": [1.0, 0.8, 0.6, 1, 1],
            "recall_post": [0.8, 0.8, 0.8, 1, 1],
            "n_test": 100,
            "n_correct": [90, 80, 70, 95, 90],
            "false_date": ["", "", "", "", "2016-10-21T00:00:00Z"],
            "nm": [-1, -1, -1, -1, 43],
            "nc": [-1, -1, -1, -1, 38],
            "fp": [np.nan] * 4 + [11.6],
        }
    )
    t1 = table1(rows)
    assert t1["accuracy %"].iloc[0] == "80.0 ± 10.0" and t1["runs"].iloc[0] == ["a", "b", "c"]
    t2 = table2(rows)
    assert list(t2["date"]) == ["2016-10-21", "true mainshock"]
    assert t2["NM/NC"].iloc[0] == "43/38" and t2["FP % [95% CI]"].iloc[0].startswith("11.6 [")
    # pooled over seeds: 240 of 300 test events, exact interval, binomial verdict
    lo, hi = clopper_pearson(240, 300)
    assert t1["pooled % [95% CI]"].iloc[0] == f"80.0 [{100 * lo:.1f}–{100 * hi:.1f}]"
    assert t1["verdict (p < 0.01)"].iloc[0].startswith("above chance")
    # outside the false interval: 90 - 38 of 100 - 43; FP 5 of 43 is below it
    assert t2["outside % [95% CI]"].iloc[0].startswith(f"{100 * 52 / 57:.1f} [")
    assert t2["FP below outside"].iloc[0] == "1 seed(s): a verdict needs 3"
    three = pd.concat([rows.iloc[[4]]] * 3).assign(run_id=["e", "f", "g"])
    assert tables.table2(three)["FP below outside"].iloc[0].startswith("yes (p = ")


def test_interval_days_leave_out_the_phases():
    from faultprobe.ml.spec import Phase

    visso = Phase(name="visso", start="2016-10-26T19:18:05Z", end="2016-10-30T06:40:17Z")
    main = pd.Timestamp("2016-10-30T06:40:17Z")
    days = tables.interval_days(["2016-10-21T06:40:17Z", "2016-11-04T06:40:17Z"], main, [visso])
    assert days == pytest.approx(
        [9 - (main - pd.Timestamp(visso.start)).total_seconds() / 86400, 5]
    )
