"""Fault effect off, one confound on: the controls name it, never "fault-zone signal".

Real small trained runs as in tests/test_controls.py (toy cube, CPU, 6 epochs, seeds 1-3,
the paper's CNN at a quarter width on 4 s windows, the controls grid on a local Dask
cluster), each test pooled over the three seeds with exact tests at p < 0.01:

- composition: the post-mainshock events 0.7 magnitude units smaller (toy seed 6);
- station change: NRCA's response gets an undocumented 8 Hz low-pass and half the gain
  30 days after the mainshock (toy seed 7), left in the data as an ingest that cannot
  remove it leaves it.

Powers (the probability that a correct pipeline passes; each test's docstring gives its
own): the raw CNN's above-chance test is a one-sided binomial at p < 0.01 on the pooled
test events (`stats.power_above` at the accuracy the confound allows, below the
development runs' figures); the verdict's naming rests on tests whose development p-values
lie orders of magnitude below 0.01 (given in each docstring), so at those rates each
passes with probability > 0.99 (`stats.power_above`, `stats.power_less`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from faultprobe.analysis import grid as gridmod
from faultprobe.analysis import stats
from faultprobe.analysis.runner import run_grid
from faultprobe.analysis.verdict import Evidence, decide, station_evidence, verdict_table
from faultprobe.config import StationChange, parse_config
from faultprobe.store import Store
from faultprobe.testing.toycube import ToyStudy, write_toy_store

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TOY = {"noise_level": 1.5e-8}
CALIPER = 1.0  # standard deviations: the toy's test splits are small (~50 events a seed)
CHANGE = "2016-11-29T06:40:17Z"  # 30 days after the toy's mainshock


def _study(tmp: Path, toy: ToyStudy, client):
    write_toy_store(str(tmp), toy)
    raw = tomllib.loads((ROOT / "configs" / "norcia2016.toml").read_text())
    raw["study"]["store"] = str(tmp)
    raw["train"] = {"width": 0.25, "epochs": 6, "patience": 0, "device": "cpu",
                    "threads": 1, "seeds": [1, 2, 3]}  # fmt: skip
    raw["experiments"] = {
        "controls": {"enabled": True, "stations": ["NRCA"], "match_caliper": CALIPER}
    }
    cfg = parse_config(raw, base=tmp)
    results = run_grid(Store(str(tmp)), gridmod.controls_runs(cfg), client)
    assert (results["status"] == "ok").all(), results.loc[results.status != "ok", "error"]
    store = Store(cfg.study.store)
    ev = station_evidence(store, results, "NRCA", cfg.mainshock.time)
    (row,) = verdict_table(store, results, cfg).to_dict("records")
    return results, ev, decide(ev, station_change_days=2.0), row


@pytest.fixture(scope="module")
def composition(tmp_path_factory, client):
    return _study(
        tmp_path_factory.mktemp("controls-composition"),
        ToyStudy(seed=6, post_magnitude_shift=-0.7, **TOY),
        client,
    )


@pytest.fixture(scope="module")
def station(tmp_path_factory, client):
    change = StationChange(station="IV.NRCA", time=CHANGE, gain_factor=0.5, lowpass_hz=8.0)
    return _study(
        tmp_path_factory.mktemp("controls-station"),
        ToyStudy(seed=7, station_changes=(change,), **TOY),
        client,
    )


def _raw_cnn_p(results) -> float:
    cnn = results[results.control == "cnn"]
    return stats.binom_above_p(int(cnn.n_correct.sum()), int(cnn.n_test.sum()), 0.5)


def test_composition_change_is_named_composition(composition):
    """Raw CNN above chance: development 120/156 = 76.9 % [69.5–83.3] (seeds 71, 81, 79 %),
    p = 5e-12; at a true 72 % the binomial test's power is 0.9997.  Named composition by
    either of two routes: the matched CNN falls (development 43/78 = 55.1 % against the
    CNN's 73/78 on the unmatched events and 120/156 on all, Fisher p = 1e-8 and 6e-4;
    the smaller test's power at the development rates 0.82, `stats.power_less`), or the
    metadata control (development 86.5 %, p = 7e-22) is unbeaten (CNN better on 2 events,
    metadata on 17) with both noise controls at chance (52 %, 53 %): with the CNN no
    better than metadata and the noise controls at chance that route fails at most 3 % of
    the time (three tests of size 1 %), so both together fail < 1 % (0.18 × 0.03).  The
    size reference (development 44/78 = 56.4 % on the same matched test events,
    discordant 2/1, McNemar p = 0.5: a learnt mix helps neither model there) does not
    change this: the matched CNN is not kept because it is at chance (p = 0.2), and the
    Fisher tests, which now only name, name composition."""
    results, ev, v, row = composition
    assert _raw_cnn_p(results) < stats.ALPHA, results[results.control == "cnn"].accuracy
    assert row["verdict"] != "fault-zone signal"
    assert "composition" in row["verdict"], row["the numbers that decided it"]
    assert v.label == row["verdict"]
    assert stats.power_above(0.72, 156, 0.5) > 0.999
    assert stats.power_less(43 / 78, 78, 120 / 156, 156) > 0.8


def test_station_change_is_named_station_change(station):
    """Raw CNN above chance: development 150/162 = 92.6 % [87.4–96.1] (seeds 85, 100,
    93 %), p = 8e-32; at a true 85 % the binomial test's power is > 0.9999.  Named station
    change: the noise spectrum above chance (development 90.1 %, p = 1e-27; power at a
    true 80 % > 0.9999) and not beaten by the CNN (McNemar p = 0.3; with the CNN no
    better, that test rejects at most 1 % of the time), and the pre-P noise level's best
    step at +30.1 days, where a step at the mainshock explains 34 % as much (the change
    after half the post days makes that a third in expectation, below the rule's 50 %)."""
    results, ev, v, row = station
    assert _raw_cnn_p(results) < stats.ALPHA, results[results.control == "cnn"].accuracy
    assert row["verdict"] != "fault-zone signal"
    assert "station change" in row["verdict"], row["the numbers that decided it"]
    assert 20 < ev.noise_step_days < 40 and ev.noise_step_share < 0.5
    assert stats.power_above(0.85, 162, 0.5) > 0.9999
    assert stats.power_above(0.80, 162, 0.5) > 0.9999


def _evidence(rng, n=300) -> Evidence:
    """A CNN at 90 % beating controls at chance, the matched set keeping it, the evidence
    in S: a fault-zone signal, until something says otherwise."""
    cnn = rng.random(n) < 0.9
    ev = Evidence("X", 3, cnn, {c: rng.random(n) < 0.5 for c in ("noise", "metadata")})
    ev.matched = np.arange(n) < n // 2
    ev.matched_correct = rng.random(n) < 0.9
    ev.attribution = {("S", "all"): cnn & (rng.random(n) < 0.6), ("noise", "all"): cnn}
    return ev


def test_a_logged_instrument_change_near_the_mainshock_is_a_station_change():
    rng = np.random.default_rng(2)
    ev = _evidence(rng)
    assert decide(ev).label == "fault-zone signal"
    ev.instrument_change_days = (25.0,)  # far from the mainshock, the noise unchanged
    assert decide(ev).label == "fault-zone signal"
    ev.instrument_change_days = (0.4,)  # the day of the mainshock: cannot be told apart
    v = decide(ev)
    assert v.label == "confounded by station change" and "+0.4 days" in v.reasons[-1]
    ev = _evidence(rng)
    ev.matched_correct = rng.random(300) < 0.5  # the matched CNN at chance: composition
    assert decide(ev).label == "confounded by composition"
