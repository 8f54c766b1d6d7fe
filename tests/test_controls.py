"""The controls grid and the verdict on real small trained runs (toy cube, CPU, 6 epochs,
3 seeds, the paper's CNN at a quarter width on 4 s windows, grid tasks on a local Dask
cluster).

- fault effect on, no confound (toy seed 3, the honesty tests' effect): the verdict at the
  near station is "fault-zone signal".  It needs five exact tests at p < 0.01 on 162
  pooled test events; in the development run the CNN scored 96.3 %, the noise-only CNN
  48.8 %, the noise spectrum 54.3 %, metadata 59.3 %, with 80/3, 74/6 and 65/5 discordant
  events (McNemar p 1e-20, 3e-16, 1e-14), masking S dropping 32.7 points (p = 2e-15).
  At those rates each McNemar test passes with probability > 0.9999 (`_power_mcnemar`:
  exact binomial on the discordant count).  The matched CNN (trained on the matched ~70 %
  of the events, 1 sd caliper) scored 105/114 = 92.1 %, above chance at p = 3e-22; it
  is judged against its size reference (a CNN trained on as many events drawn from the
  CNN's own parts, scored on the same 114 matched test events): 106/114, discordant 4
  (reference only right) / 3 (matched only), one-sided McNemar p = 0.5.  The old rule
  (Fisher against the CNN's 48/48 unmatched and 156/162 overall, p = 0.11) would call it
  lower with probability up to 0.12 (`stats.power_less`), though the pipeline is right:
  it now only names composition.  P(false "lower") of the McNemar test at alpha 0.01 on
  114 events (`_power_mcnemar`): 0.005 at the discordant rates 18/14 of 576 pooled test
  events that an earlier build of this reference saw on seeds 4-15 (not re-run here);
  0.007 at this run's 4/3 of 114; 0.005 at both pooled (22/17 of 690).  The < 1 % rests
  on those rates, a near tie of the two models; at that earlier build's 3-seed rates
  (6/2 of 114, p = 0.14) it would be 0.08, so a reference that is truly a few points
  better than the matched CNN would still fail this test more often than 1 %.
- fault effect off, the post-mainshock noise 5 times stronger (toy seed 4): the raw CNN is
  above chance and the verdict names noise, never "fault-zone signal".  The noise-spectrum
  control separates the classes perfectly (150/150 at a level factor of 3 already), so
  the CNN can never beat it (McNemar needs CNN-only correct events, and there are none
  when the control is always right): "fault-zone signal" is then impossible, not only
  unlikely.  The raw CNN's above-chance test: in the development run it scored 111/150
  (74 %; seeds 70, 74, 78 %, pooled p = 2e-9); at a true 72 % the one-sided binomial at
  p < 0.01 on 150 events has power 0.9994 (`stats.power_above`).
- fault effect only above 10 Hz (toy seed 3, the CNN and its attribution map only): the
  evidence sits in the wave segments' high bands (figures in the test's docstring).

The composition and station-change confounds on trained runs are in
tests/test_controls_confounds.py; the physics baseline's Δt* recovery in
tests/test_physics.py (the toy cube's 4 s windows are too short for the estimator's 2 s
windows); the verdict logic of every branch is also tested on constructed evidence below.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from faultprobe.analysis import grid as gridmod
from faultprobe.analysis import stats
from faultprobe.analysis.runner import run_grid
from faultprobe.analysis.verdict import (
    Evidence,
    decide,
    mcnemar_greater_p,
    station_evidence,
    step_time,
    verdict_table,
)
from faultprobe.config import NoiseChange, parse_config
from faultprobe.config.stages import GridSettings
from faultprobe.store import Store
from faultprobe.testing.toycube import ToyStudy, write_toy_store

ROOT = Path(__file__).resolve().parents[1]
TOY = {"noise_level": 1.5e-8}


def _power_mcnemar(p10: float, p01: float, n: int, alpha: float = stats.ALPHA) -> float:
    """Probability that the one-sided McNemar test rejects on n paired events with
    discordance rates p10 (CNN only right) and p01 (control only right), exact."""
    total = 0.0
    for d in range(n + 1):
        w = sps.binom.pmf(d, n, p10 + p01)
        if w < 1e-12 or d == 0:
            continue
        k = np.arange(d + 1)
        ok = sps.binom.sf(k - 1, d, 0.5) < alpha
        total += w * sps.binom.pmf(k[ok], d, p10 / (p10 + p01)).sum()
    return total


def _study(tmp: Path, toy: ToyStudy, client, controls: list[str] | None = None):
    write_toy_store(str(tmp), toy)
    raw = tomllib.loads((ROOT / "configs" / "norcia2016.toml").read_text())
    raw["study"]["store"] = str(tmp)
    raw["train"] = {"width": 0.25, "epochs": 6, "patience": 0, "device": "cpu",
                    "threads": 1, "seeds": [1, 2, 3]}  # fmt: skip
    # a caliper of 1 standard deviation: the toy's test splits are small (~50 a seed)
    raw["experiments"] = {"controls": {"enabled": True, "stations": ["NRCA"], "match_caliper": 1.0}}
    if controls is not None:
        raw["experiments"]["controls"]["controls"] = controls
    cfg = parse_config(raw, base=tmp)
    runs = gridmod.controls_runs(GridSettings.of(cfg))
    results = run_grid(Store(str(tmp)), runs, client)
    assert (results["status"] == "ok").all(), results.loc[results.status != "ok", "error"]
    return cfg, results


@pytest.fixture(scope="module")
def effect(tmp_path_factory, client):
    return _study(
        tmp_path_factory.mktemp("controls-effect"),
        ToyStudy(seed=3, dtstar_pre_max=0.01, dtstar_jump=0.06, **TOY),
        client,
    )


@pytest.fixture(scope="module")
def high_band(tmp_path_factory, client):
    """The fault effect only above 10 Hz; only the CNN and its attribution map."""
    return _study(
        tmp_path_factory.mktemp("controls-high-band"),
        ToyStudy(seed=3, dtstar_pre_max=0.01, dtstar_jump=0.06, effect_band_hz=(10.0, 50.0),
                 **TOY),
        client,
        controls=["attribution"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def noisy(tmp_path_factory, client):
    change = NoiseChange(level_factor=5.0)
    return _study(
        tmp_path_factory.mktemp("controls-noise"),
        ToyStudy(seed=4, noise_change=change, **TOY),
        client,
    )


def test_the_grid_writes_a_row_per_control_and_seed(effect):
    cfg, results = effect
    got = results.groupby("control")["seed"].apply(sorted).to_dict()
    want = ["attribution", "cnn", "matched", "metadata", "noise", "noise_spectrum", "physics",
            "size_reference"]  # fmt: skip
    assert sorted(got) == want and all(v == [1, 2, 3] for v in got.values())
    assert len(set(results["key"])) == len(results)
    # the post-hoc controls share the CNN's run (trained once), the noise and the matched
    # CNNs have their own
    cnn = results[results.control == "cnn"].set_index("seed")["run_id"]
    for c in ("metadata", "attribution"):
        assert results[results.control == c].set_index("seed")["run_id"].equals(cnn)
    for c in ("noise", "matched", "size_reference"):
        assert not results[results.control == c]["run_id"].isin(cnn).any()
    # same split: every control scores the CNN's own test events
    ev = station_evidence(Store(cfg.study.store), results, "NRCA")
    assert ev.seeds == 3 and len(ev.cnn) == int(results[results.control == "cnn"].n_test.sum())
    for c in ("noise", "noise_spectrum", "metadata"):
        assert len(ev.controls[c]) == len(ev.cnn)


def test_fault_effect_without_confound_is_a_fault_zone_signal(effect):
    cfg, results = effect
    table = verdict_table(Store(cfg.study.store), results, GridSettings.of(cfg))
    (row,) = table.to_dict("records")
    assert row["verdict"] == "fault-zone signal", row["the numbers that decided it"]
    v = decide(station_evidence(Store(cfg.study.store), results, "NRCA", cfg.mainshock.time))
    assert v.numbers["best_wave_cell"][0] in ("P", "P–S", "S", "coda")
    assert _power_mcnemar(65 / 162, 5 / 162, 162) > 0.9999
    assert stats.power_less(105 / 114, 114, 156 / 162, 162) < 0.15
    assert v.numbers["p_matched_below_reference"] >= stats.ALPHA, v.reasons
    assert _power_mcnemar(18 / 576, 14 / 576, 114) < 0.01


@pytest.mark.slow
def test_an_effect_above_10_hz_sits_in_the_high_bands_of_the_waves(high_band):
    """The best cell of the map is a wave segment in a band above 10 Hz (or a whole
    segment), and masking the best wave cell above 10 Hz costs more than masking the best
    one below (one-sided McNemar, p < 0.01, pooled over the 3 seeds).  Development: the
    CNN 153/162 = 94.4 %; masking S × 10–20 Hz drops 33.3 points, the best cell below
    10 Hz (P × 0.5–2 Hz) 0.6; 54 events right with the low band masked and wrong with the
    high one, 1 the reverse: p = 2e-15.  At 70 % of that discordance the power is
    > 0.9999 (`_power_mcnemar`)."""
    cfg, results = high_band
    ev = station_evidence(Store(cfg.study.store), results, "NRCA")
    assert stats.binom_above_p(int(ev.cnn.sum()), len(ev.cnn), 0.5) < stats.ALPHA
    drops = {c: ev.cnn.mean() - v.mean() for c, v in ev.attribution.items()}
    wave = {c: d for c, d in drops.items() if c[0] in ("P", "P–S", "S", "coda")}
    high = [c for c in wave if c[1] in ("10–20 Hz", "20–50 Hz")]
    low = [c for c in wave if c[1] in ("0.5–2 Hz", "2–5 Hz", "5–10 Hz")]
    best_high, best_low = max(high, key=drops.get), max(low, key=drops.get)
    p, n10, n01 = mcnemar_greater_p(ev.attribution[best_low], ev.attribution[best_high])
    info = (best_high, drops[best_high], best_low, drops[best_low], p, n10, n01, len(ev.cnn))
    assert drops[best_high] > drops[best_low] and p < stats.ALPHA, info
    assert max(wave, key=drops.get)[1] in ("10–20 Hz", "20–50 Hz", "all"), info
    assert _power_mcnemar(0.7 * 54 / 162, 1 / 162, 162) > 0.9999


def test_noise_change_without_fault_effect_is_named_noise(noisy):
    cfg, results = noisy
    cnn = results[results.control == "cnn"]
    p = stats.binom_above_p(int(cnn.n_correct.sum()), int(cnn.n_test.sum()), 0.5)
    assert p < stats.ALPHA, cnn[["seed", "accuracy"]]  # the confound works
    (row,) = verdict_table(Store(cfg.study.store), results, GridSettings.of(cfg)).to_dict("records")
    assert row["verdict"] != "fault-zone signal"
    assert "noise" in row["verdict"], row["the numbers that decided it"]
    assert stats.power_above(0.72, 150, 0.5) > 0.999


def _evidence(rng, cnn=0.9, noise=0.5, meta=0.5, n=300, **kw) -> Evidence:
    c = rng.random(n) < cnn
    return Evidence(
        "X", 3, c, {"noise": rng.random(n) < noise, "noise_spectrum": rng.random(n) < noise,
                    "metadata": rng.random(n) < meta}, **kw,
    )  # fmt: skip


def test_the_verdict_rule_on_constructed_evidence():
    rng = np.random.default_rng(0)
    at_chance = decide(_evidence(rng, cnn=0.5))
    assert at_chance.label == "inconclusive"
    # the CNN beats everything but no matched set or attribution was computed: no signal
    assert decide(_evidence(rng)).label == "inconclusive"
    ev = _evidence(rng, noise=0.95)
    ev.noise_step_days = 0.1
    assert decide(ev).label == "confounded by noise"
    ev.noise_step_days = 20.0  # the noise steps three weeks after the mainshock
    assert decide(ev).label == "confounded by noise"  # ... but a mainshock step fits as well
    ev.noise_step_share = 0.2  # a step at the mainshock explains a fifth as much
    assert decide(ev).label == "confounded by station change"
    ev = _evidence(rng, cnn=0.8, meta=0.85)
    assert decide(ev).label == "confounded by composition"
    ev = _evidence(rng, cnn=0.8)
    ev.matched = np.arange(300) < 150
    ev.cnn = np.r_[rng.random(150) < 0.5, rng.random(150) < 1.0]  # matched half at chance
    assert "composition" in decide(ev).label
    ev.cnn = np.r_[rng.random(150) < 0.8, rng.random(150) < 0.8]
    ev.matched = np.arange(300) < 20  # too few matched events to be above chance: no name
    ev.cnn[:20] = np.arange(20) < 12
    assert decide(ev).label == "inconclusive"
    p, n10, n01 = mcnemar_greater_p([1, 1, 1, 0], [0, 0, 0, 0])
    assert (n10, n01) == (3, 0) and p == pytest.approx(0.125)


def test_the_matched_cnn_is_judged_against_its_size_reference():
    """Constructed: the CNN at 99 %, its controls at chance, the evidence in S.  A matched
    CNN at 90 % is lower than the CNN (Fisher) but not than a size reference at 90 % on
    the same events: kept.  One right only where the reference is right (and not always):
    lower than the reference, not kept, and the Fisher test names composition."""
    rng = np.random.default_rng(5)
    n = 300
    cnn = rng.random(n) < 0.99
    ev = Evidence("X", 3, cnn, {c: rng.random(n) < 0.5 for c in ("noise", "metadata")})
    ev.attribution = {("S", "all"): cnn & (rng.random(n) < 0.6), ("noise", "all"): cnn}
    ev.matched = np.arange(n) < 200
    ev.matched_correct = rng.random(n) < 0.9
    assert decide(ev).label == "confounded by composition"  # the old rule: lower than the CNN
    ev.size_reference = rng.random(n) < 0.9
    v = decide(ev)
    assert v.label == "fault-zone signal", v.reasons
    assert v.numbers["p_matched_lower"] < stats.ALPHA  # Fisher alone would have said lower
    assert v.numbers["p_matched_below_reference"] >= stats.ALPHA
    n_ref, n_m = v.numbers["reference_only_right"], v.numbers["matched_only_right"]
    assert v.numbers["size_reference"] == (int(ev.size_reference[:200].sum()), 200)
    assert n_ref + n_m == int((ev.size_reference[:200] != ev.matched_correct[:200]).sum())
    assert "size reference" in v.reasons[-2] and "McNemar" in v.reasons[-2]
    ev.matched_correct = ev.size_reference & (rng.random(n) < 0.75)
    v = decide(ev)
    assert v.numbers["p_matched_below_reference"] < 1e-6 and v.numbers["matched_only_right"] == 0
    assert v.label == "confounded by composition", v.reasons
    # the CNN no better on its unmatched events than the matched CNN (Fisher silent), the
    # matched CNN below its reference: composition still, not "inconclusive"
    ev.cnn = np.r_[rng.random(200) < 0.99, rng.random(n - 200) < 0.85]
    ev.size_reference = rng.random(n) < 0.97
    ev.matched_correct = ev.size_reference & (rng.random(n) < 0.88)
    v = decide(ev)
    assert v.numbers["p_matched_lower"] >= stats.ALPHA, v.reasons
    assert v.numbers["p_matched_below_reference"] < 1e-4
    assert v.label == "confounded by composition", v.reasons


def test_step_time_finds_a_step():
    import pandas as pd

    t = pd.date_range("2016-09-01", periods=200, freq="6h", tz="UTC")
    v = np.r_[np.zeros(120), np.ones(80)] + np.random.default_rng(1).normal(0, 0.2, 200)
    at, share = step_time(pd.Series(t), v, t[120])
    assert abs((at - t[120]).total_seconds()) < 12 * 3600 and share == pytest.approx(1.0)
    _, share = step_time(pd.Series(t), v, t[20])  # a step far from the real one
    assert share < 0.5
