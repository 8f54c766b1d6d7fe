"""Injection and recovery on synthetic records: corner frequency, Δt*, null effect, noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from obspy import UTCDateTime
from scipy.signal.windows import dpss

from faultprobe.synthetic.archive import SyntheticArchive
from faultprobe.synthetic.effect import dtstar_at
from faultprobe.synthetic.events import brune_fc
from faultprobe.synthetic.noise import render_noise
from faultprobe.synthetic.records import render_batch
from faultprobe.testing.studies import small_study

FS = 100.0


def _multitaper_power(x: np.ndarray, nw: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Mean multitaper power spectrum over the last axis (DPSS tapers, 2nw-1 of them)."""
    n = x.shape[-1]
    tapers = dpss(n, nw, int(2 * nw) - 1)
    spec = np.fft.rfft(x[..., None, :] * tapers, axis=-1)
    return np.fft.rfftfreq(n, 1 / FS), np.mean(np.abs(spec) ** 2, axis=-2)


def test_spectra_have_their_corner_at_the_brune_frequency():
    rng = np.random.default_rng(1)
    for mw, drop in [(2.0, 2.0), (2.6, 2.0), (2.4, 10.0), (3.2, 1.0)]:
        n = 24
        x = render_batch(
            np.full(n, mw), drop, 8.0, 2.0, 3.5, sampling_rate=FS, n_samples=4096,
            seeds=rng.integers(0, 2**62, n), tstar_p=0.0, tstar_s=0.0, kappa=0.0,
            incidence_p_deg=5.0, incidence_s_deg=5.0,
        )  # fmt: skip
        f, power = _multitaper_power(x[:, :2])  # horizontals: the S waves
        disp = np.sqrt(power.mean(axis=(0, 1)))[1:] / (2 * np.pi * f[1:])
        f = f[1:]
        band = (f > 0.5) & (f < 45.0)
        trial = np.geomspace(0.5, 60.0, 600)
        model = -np.log1p((f[band][None, :] / trial[:, None]) ** 2)
        resid = np.log(disp[band])[None, :] - model
        resid -= resid.mean(axis=1, keepdims=True)  # free long-period level
        fc_hat = trial[np.argmin((resid**2).sum(axis=1))]
        fc = float(brune_fc(np.array([mw]), np.array([drop]))[0])
        assert abs(fc_hat / fc - 1) < 0.2, (mw, drop, fc, fc_hat)


def _pair_slopes(dtstar_pre: float, dtstar_post: float, n_pairs: int, seed: int) -> np.ndarray:
    """Slopes of ln(post/pre) spectral ratios (5-30 Hz) of co-located pre/post pairs."""
    rng = np.random.default_rng(seed)
    mw = rng.uniform(1.8, 2.6, n_pairs)
    r = rng.uniform(8.0, 14.0, n_pairs)
    ts = r / 3.3
    slopes = []
    for dts in (dtstar_pre, dtstar_post):
        # same place (±0.5 km) and size (±0.1), independent stress drop and source noise
        m = mw + rng.uniform(-0.1, 0.1, n_pairs)
        rr = r + rng.uniform(-0.5, 0.5, n_pairs)
        drop = 2.1 * np.exp(0.5 * rng.normal(size=n_pairs))
        x = render_batch(
            m, drop, rr, 3.0 + rr / 6.0, 3.0 + rr / 3.3, sampling_rate=FS, n_samples=2048,
            seeds=rng.integers(0, 2**62, n_pairs), tstar_p=rr / 6.0 / 350.0,
            tstar_s=ts / 250.0, kappa=0.03, dtstar=dts,
        )  # fmt: skip
        noise = np.stack([render_noise(_noise_cfg(), 2048, FS, 0, s) for s in range(n_pairs)])
        x = x + noise
        onset = int((3.0 + r.mean() / 3.3 - 0.5) * FS)
        f, power = _multitaper_power(x[:, :2, onset : onset + 512])
        slopes.append(np.log(power.mean(axis=1)) / 2.0)  # ln amplitude
    ratio = slopes[1] - slopes[0]
    band = (f >= 5.0) & (f <= 30.0)
    return np.polyfit(f[band], ratio[:, band].T, 1)[0]


def _noise_cfg():
    return small_study("/tmp/unused").synthetic


def test_pair_spectral_ratio_slope_recovers_injected_dtstar():
    injected = 0.010  # s, post minus pre
    slopes = _pair_slopes(0.002, 0.002 + injected, n_pairs=96, seed=3)
    recovered = -slopes.mean() / np.pi
    stderr = slopes.std(ddof=1) / np.sqrt(len(slopes)) / np.pi
    # tolerance: 20 % of the injected value, and within 3 standard errors
    assert abs(recovered - injected) < 0.2 * injected, (recovered, stderr)
    assert abs(recovered - injected) < 3 * stderr + 1e-4


def test_without_effect_pre_and_post_spectra_agree_within_scatter():
    slopes = _pair_slopes(0.0, 0.0, n_pairs=96, seed=4)
    mean, stderr = slopes.mean(), slopes.std(ddof=1) / np.sqrt(len(slopes))
    assert abs(mean) < 3 * stderr
    assert abs(mean / np.pi) < 0.002  # any apparent Δt* is below 2 ms


def test_noise_level_follows_the_configured_seasonal_cycle(tmp_path):
    cfg = small_study(
        tmp_path,
        background_per_day=0.0,
        omori_k=0.0,
        noise_years=1.0,
        noise_segments_per_day=2,
        noise_seasonal_amplitude=0.35,
        noise_seasonal_peak_day=40.0,
        noise_daily_amplitude=0.0,
        segment_s=20.0,
    )
    archive = SyntheticArchive(cfg)
    i = 0  # IV.NRCA
    plan = archive.plan(i)
    sens = archive.stations[i].sensitivity
    rows = []
    for t in archive.noise_ns:
        t0 = UTCDateTime(ns=int(t)) + 1
        st = archive.get_waveforms("IV", "NRCA", "", "HHZ", t0, t0 + 15)
        if (
            len(st) == 1
            and len(plan.span_events[np.searchsorted(plan.span_start, (t + 1) // plan.step_ns) - 1])
            == 0
        ):
            rows.append((t, np.sqrt(np.mean((st[0].data / sens) ** 2))))
    df = pd.DataFrame(rows, columns=["t", "rms"])
    assert len(df) > 600
    doy = np.mod(df["t"].to_numpy() / 86_400e9, 365.2425)
    phase = 2 * np.pi * doy / 365.2425
    design = np.column_stack([np.ones(len(df)), np.cos(phase), np.sin(phase)])
    coef, *_ = np.linalg.lstsq(design, df["rms"].to_numpy(), rcond=None)
    amplitude = np.hypot(coef[1], coef[2]) / coef[0]
    peak_day = np.degrees(np.arctan2(coef[2], coef[1])) % 360 / 360 * 365.2425
    assert abs(amplitude - 0.35) < 0.05
    assert abs(peak_day - 40.0) < 10.0
    assert abs(coef[0] / cfg.synthetic.noise_level - 1) < 0.1


def test_effect_history_grows_jumps_and_heals():
    eff = small_study("/tmp/unused").synthetic.effect
    days = np.array([-200.0, -30.0, -1e-6, 0.0, 1.0, 100.0, eff.healing_days + 1])
    d = dtstar_at(eff, days)
    assert d[0] == 0.0
    assert 0 < d[1] < d[2] == pytest.approx(eff.dtstar_pre_max)
    assert d[3] == eff.dtstar_pre_max + eff.dtstar_jump
    assert d[3] > d[4] > d[5] > d[6] == 0.0
    neg = dtstar_at(eff.model_copy(update={"sign": -1}), days)
    np.testing.assert_allclose(neg, -d)


def test_catalog_pairs_read_through_the_archive_recover_the_truth(tmp_path):
    """Co-located pre/post pairs of the simulated catalog, read as counts like the SDS files."""
    from faultprobe.config import parse_config
    from faultprobe.testing.studies import small_study_table

    table = small_study_table(
        tmp_path,
        background_per_day=25.0,
        omori_k=0.0,
        completeness=1.6,
        max_magnitude=2.6,
        depth_km=[8.0, 9.0],
        fault_spread_km=0.15,
        off_fault_fraction=0.0,
        noise_segments_per_day=0,
        effect={"dtstar_pre_max": 0.0, "dtstar_jump": 0.03, "half_width_km": 4.0},
    )
    table["fault"]["along_strike_km"] = [-1.5, 1.5]
    table["study"]["start"], table["study"]["end"] = "2016-10-20T00:00:00Z", "2016-11-09T00:00:00Z"
    cfg = parse_config(table)
    archive = SyntheticArchive(cfg)
    truth = archive.truth()
    ev = truth[truth["kind"] == "background"].reset_index(drop=True)
    main = pd.Timestamp(cfg.mainshock.time)
    pre, post = ev[ev["source_origin_time"] < main], ev[ev["source_origin_time"] >= main]
    xyz = lambda d: np.column_stack(  # noqa: E731
        [d["along_strike_km"], d["down_dip_km"], d["fault_normal_km"]]
    )
    dist = np.linalg.norm(xyz(pre)[:, None] - xyz(post)[None], axis=-1)
    dmag = np.abs(
        pre["source_magnitude"].to_numpy()[:, None] - post["source_magnitude"].to_numpy()[None]
    )
    i_pre, i_post = np.nonzero((dist < 0.5) & (dmag < 0.1))
    assert len(i_pre) >= 40
    keep = np.random.default_rng(0).permutation(len(i_pre))[:200]
    i_pre, i_post = i_pre[keep], i_post[keep]

    plan = archive.plan(0)  # IV.NRCA
    sens = archive.stations[0].sensitivity
    ts = plan.paths.set_index(archive.events["source_id"])["ts_s"]

    memo: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def log_amp(row) -> tuple[np.ndarray, np.ndarray]:
        if row.source_id in memo:
            return memo[row.source_id]
        t0 = UTCDateTime(ns=int(row.source_origin_time.value)) + float(ts[row.source_id]) - 0.3
        st = archive.get_waveforms("IV", "NRCA", "", "HH[EN]", t0, t0 + 5.11)
        x = np.stack([tr.data[:512] / sens for tr in st])
        f, power = _multitaper_power(x)
        memo[row.source_id] = f, np.log(power.mean(axis=0)) / 2.0
        return memo[row.source_id]

    slopes = []
    for a, b in zip(i_pre, i_post):
        f, la = log_amp(pre.iloc[a])
        _, lb = log_amp(post.iloc[b])
        band = (f >= 5.0) & (f <= 30.0)
        slopes.append(np.polyfit(f[band], (lb - la)[band], 1)[0])
    slopes = np.array(slopes)
    recovered = -slopes.mean() / np.pi
    injected = np.mean(
        post["dtstar_IV.NRCA"].to_numpy()[i_post] - pre["dtstar_IV.NRCA"].to_numpy()[i_pre]
    )
    stderr = slopes.std(ddof=1) / np.sqrt(len(slopes)) / np.pi
    assert injected > 0.005
    assert abs(recovered - injected) < max(0.25 * injected, 3 * stderr), (recovered, injected)
