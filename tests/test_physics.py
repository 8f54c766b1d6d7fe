"""The physics baseline (faultprobe.analysis.physics): per-record t* and its series.

On rendered records with known t* the estimator recovers it; on a small synthetic study
ingested for real (three simulator seeds, pooled), its running median follows the truth
table's Δt* at the exposed station (IV.NRCA) and the step at the mainshock, corrected for
the estimator's stated low reading (`physics.scaled_jump`), is recovered within its
stated error; with the effect off there is no step.  The study's effect is shaped so that Δt*(t)
has a course to follow inside its four days: growth over the two days before the
mainshock, a step, and healing through the two days after.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from small_study import local_client

from faultprobe.analysis import physics
from faultprobe.config import parse_config
from faultprobe.ml.dataset import open_cube
from faultprobe.store import Store
from faultprobe.synthetic.records import render_batch
from faultprobe.testing.studies import small_study_table

SHAPED = {
    "dtstar_pre_max": 0.03,
    "dtstar_jump": 0.05,
    "pre_days": 2.0,
    "healing_tau_days": 0.3,
    "healing_days": 4.0,
}
OFF = {"dtstar_pre_max": 0.0, "dtstar_jump": 0.0}
STATION = "IV.NRCA"
WIDTH = 21  # events in the running median
DAYS = 1.0  # the step compares the day before the mainshock with the day after


SEEDS = (21, 22, 23)  # not the seeds the estimator's scale was measured on


def _study(folder: Path, effect: dict, seed: int = 7) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Write, select and ingest a one-station study; its t* table joined with the truth."""
    from faultprobe.catalogs.study import build_catalog
    from faultprobe.pipelines.ingest import ingest
    from faultprobe.synthetic.run import synthesize

    table = small_study_table(
        folder,
        effect=effect,
        background_per_day=40.0,
        omori_k=20.0,
        noise_segments_per_day=0,
        seed=seed,
    )
    table["stations"]["codes"], table["stations"]["far"] = [STATION], []
    table["waveforms"]["block_size"] = 64
    cfg = parse_config(table, source="<physics test>")
    synthesize(cfg, parallel=False)
    build_catalog(cfg)
    cluster, client = local_client()
    with cluster, client:
        ingest(cfg, client=client)
    tstar = physics.station_tstar(open_cube(Store(cfg.study.store)), STATION)
    truth = pd.read_parquet(folder / "synthetic" / "truth.parquet")
    tab = tstar.merge(truth[["source_id", f"dtstar_{STATION}"]], on="source_id")
    return tab.rename(columns={f"dtstar_{STATION}": "truth"}), pd.Timestamp(cfg.mainshock.time)


@pytest.fixture(scope="module")
def shaped(tmp_path_factory):
    return [_study(tmp_path_factory.mktemp(f"physics_on{s}"), SHAPED, s) for s in SEEDS]


@pytest.fixture(scope="module")
def unchanged(tmp_path_factory):
    return _study(tmp_path_factory.mktemp("physics_off"), OFF)


def test_estimator_recovers_known_tstar_on_rendered_records():
    """Noise-free stochastic records (Mw 0.6-1.5, 9 km): t*_S = path + κ + Δt*."""
    n, fs, n_t = 200, 100.0, 2500
    rng = np.random.default_rng(3)
    dts, mw = rng.uniform(0.0, 0.04, n), rng.uniform(0.6, 1.5, n)
    tp = 1.5
    x = render_batch(
        mw, 2.0, 9.0, 5.0, 5.0 + tp * (physics.VP_VS - 1.0),
        sampling_rate=fs, n_samples=n_t, seeds=np.arange(n),
        tstar_p=0.004, tstar_s=0.011, kappa=0.03, dtstar=dts,
    )  # fmt: skip
    t = np.round(-5.0 + np.arange(n_t) / fs, 6)
    fit = physics.record_tstar(x.astype(float), t, np.full(n, tp), mw, fs)
    assert np.isfinite(fit.tstar).all()
    slope, icpt = np.polyfit(dts, fit.tstar, 1)
    assert slope == pytest.approx(1.0, abs=0.12)
    assert icpt == pytest.approx(0.011 + 0.03, abs=0.002)
    resid = fit.tstar - (icpt + slope * dts)
    # the stated errors are of the right size: scatter / median error within a factor 2
    assert 0.5 < np.std(resid) / np.median(fit.tstar_se) < 2.0


def test_running_median_and_spearman():
    v = np.array([1.0, np.nan, 3.0, 2.0, 10.0, 4.0, 5.0])
    m = physics.running_median(v, 3)
    assert np.isnan(m[1]) and m[0] == 1.0 and m[4] == 4.0  # NaN skipped, not counted
    assert physics.spearman(np.arange(5.0), np.arange(5.0) ** 3) == pytest.approx(1.0)
    assert np.isnan(physics.spearman(np.ones(5), np.arange(5.0)))


@pytest.mark.slow
def test_series_follows_the_injected_dtstar(shaped):
    """Pooled over the seeds' (running median, truth) pairs: Spearman ≥ 0.8 (development:
    0.89 pooled, 0.94, 0.80 and 0.92 per seed, docs/physics.md; the pooled rank correlation
    of ~420 pairs has a sampling sd near 0.01, so 0.8 lies some 9 sd below)."""
    got, want = [], []
    for tab, _ in shaped:
        fitted = tab[np.isfinite(tab["tstar"])]
        assert len(fitted) > 100  # of ~200 records: the rest lack signal over noise in the band
        series = physics.tstar_series(fitted, WIDTH)
        got.append(series["tstar_median"].to_numpy())
        want.append(physics.running_median(series["truth"].to_numpy(), WIDTH))
    assert physics.spearman(np.concatenate(got), np.concatenate(want)) >= 0.8


@pytest.mark.slow
def test_step_at_the_mainshock_within_its_error(shaped):
    """The seeds' mean step: detected (development: 7.8 ± 1.1 ms; at the estimator's lowest
    scale, 0.6, the true 7.8 ms reads 4.7 ms, 4.2 standard errors: "above 3" then has power
    0.89, at its mean scale 0.8 (6.2 ms, z = 5.6) > 0.9999), and, divided by the scale
    (`physics.scaled_jump`: 9.7 ± 2.8 ms), within 3 total errors (statistical and the
    scale's spread) of the truth's mean step (7.8 ms): a correct error model fails this
    0.3 % of the time."""
    steps, ses, truths = [], [], []
    for tab, main in shaped:
        fitted = tab[np.isfinite(tab["tstar"])]
        step, se = physics.jump(fitted["source_origin_time"], fitted["tstar"], main, DAYS)
        true_step, _ = physics.jump(fitted["source_origin_time"], fitted["truth"], main, DAYS)
        steps.append(step), ses.append(se), truths.append(true_step)
    step, se = float(np.mean(steps)), float(np.sqrt(np.sum(np.square(ses)))) / len(steps)
    true_step = float(np.mean(truths))
    assert true_step > 0.006
    assert step > 3 * se  # detected
    est, err = physics.scaled_jump(step, se)
    assert abs(est - true_step) <= 3 * err, (steps, ses, truths)


def test_no_step_without_the_effect(unchanged):
    tab, main = unchanged
    fitted = tab[np.isfinite(tab["tstar"])]
    assert (fitted["truth"] == 0).all() and len(fitted) > 100
    step, se = physics.jump(fitted["source_origin_time"], fitted["tstar"], main, DAYS)
    assert 0 < se < 0.003
    assert abs(step) <= 3 * se
