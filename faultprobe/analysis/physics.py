"""The physics baseline: each record's spectral decay t* from its P or S spectrum.

A classical estimator beside the deep-learning result (docs/diagnostics.md).  For every
record of a station, a window after the phase (P: the cube's P time; S: the P travel
time times vp/vs) and a window of pre-P noise of the same length get multitaper
amplitude spectra (the vector sum of E, N, Z); the velocity spectrum becomes displacement
(÷ 2πf), and over the band where the signal stands `snr_min` above the noise

    ln A(f) = ln Ω0 − ln(1 + (f/fc)²) − π f t*                   (Brune ω², whole path)

is fitted by least squares for ln Ω0 and t*, with the corner fc fixed from the catalog
magnitude (Brune, assumed stress drop; the P corner 1.5 times the S corner, Madariaga
1976), or fitted over a grid of corners.  t* holds path, site (κ) and any fault-zone
change; a change of the medium shows as a change of t* through the sequence at fixed
paths, which is what `tstar_series`, `jump` and `spearman` measure.  Everything is
vectorised over records: a batch of traces in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats
from scipy.signal import windows

from faultprobe.earth import brune_fc

FC_P_OVER_S = 1.5  # P corner relative to S (Madariaga 1976)
VP_VS = 1.85  # Carannante et al. (2013) below 4 km
MAD_TO_SIGMA = 1.4826
MEDIAN_SE = 1.2533  # standard error of a median: 1.2533 σ / √n (normal data)
# The estimator reads a step of t* low (docs/physics.md, "Limits"): on the simulated
# studies the step `jump` measures was 0.6-1.1 times the truth's (mean 0.8, four seeds of
# the small study; rendered records with white noise: slopes 0.85-0.95).  `scaled_jump`
# divides by the mean and carries the spread as a systematic error.
STEP_SCALE = 0.8
STEP_SCALE_SD = 0.2


@dataclass(frozen=True)
class DecayOptions:
    """Choices of the estimator (defaults for local records at 100 Hz)."""

    phase: str = "S"  # "P" or "S"
    window_s: float = 2.0  # signal (and noise) window length
    lead_s: float = 0.1  # the window starts this long before the phase
    band_hz: tuple[float, float] = (2.0, 40.0)
    snr_min: float = 2.0  # amplitude signal-to-noise ratio a frequency needs
    min_freqs: int = 8  # fewer usable frequencies: no fit (NaN)
    nw: float = 2.5  # multitaper time-bandwidth product
    stress_drop_mpa: float = 2.0  # for the corner from the magnitude
    fit_corner: bool = False  # True: grid-search fc (1-100 Hz) instead
    vp_vs: float = VP_VS


@dataclass(frozen=True)
class DecayFit:
    """Per record: t* (s), its standard error, ln Ω0, the corner used and the band size."""

    tstar: np.ndarray
    tstar_se: np.ndarray
    log_omega0: np.ndarray
    fc_hz: np.ndarray
    n_freqs: np.ndarray


def multitaper_amplitude(x: np.ndarray, dt: float, nw: float) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude spectra (√ of the eigenvalue-weighted multitaper PSD) of x (..., n).

    Thomson's estimate with 2nw − 1 DPSS tapers, all traces in one FFT: these windows are
    short and many (thousands per station), where the per-trace adaptive MTSpec of the
    pairs analysis would dominate the cost; adaptive weighting matters for spectra of
    high dynamic range, which the signal-to-noise band here keeps out.
    """
    x = np.asarray(x, float)
    n = x.shape[-1]
    freq = np.fft.rfftfreq(n, dt)
    k = max(int(round(2 * nw - 1)), 1)
    tapers, ratios = windows.dpss(n, nw, k, return_ratios=True)
    spec = np.fft.rfft(x[..., None, :] * tapers, axis=-1)
    power = np.tensordot(np.abs(spec) ** 2, ratios / ratios.sum(), axes=([-2], [0]))
    return freq, np.sqrt(2.0 * dt * power)


def cut_windows(x: np.ndarray, start: np.ndarray, length: int) -> np.ndarray:
    """Windows x[i, :, start[i] : start[i] + length] of (n, c, T) traces; NaN off the ends."""
    idx = np.asarray(start, np.int64)[:, None] + np.arange(length)[None, :]
    inside = (idx >= 0) & (idx < x.shape[-1])
    got = np.take_along_axis(x, np.clip(idx, 0, x.shape[-1] - 1)[:, None, :], axis=-1)
    return np.where(inside[:, None, :], got, np.nan)


def fit_decay(
    freq: np.ndarray,
    amp: np.ndarray,
    noise: np.ndarray,
    fc_hz: np.ndarray,
    opts: DecayOptions,
) -> DecayFit:
    """Least-squares ln Ω0 and t* of displacement spectra amp (n, F) against noise (n, F).

    Frequencies in the band where amp > snr_min · noise count, with the noise power
    subtracted (noise left in would flatten the high end and bias t* low).
    The standard error is the least-squares one from the residuals, inflated by √(2 nw)
    because a multitaper spectrum's neighbouring frequencies are not independent (its
    resolution is 2 nw bins).  fc_hz (n,): the corner of each record, or (n, G) to fit:
    the corner of the smallest residual wins.
    """
    lo, hi = opts.band_hz
    use = (freq >= lo) & (freq <= hi) & (freq > 0)
    w = use[None, :] & (amp > opts.snr_min * noise) & np.isfinite(amp) & (amp > 0)
    x = -np.pi * freq[None, :]
    fcs = np.atleast_2d(np.asarray(fc_hz, float).T).T  # (n, G)
    clean = np.sqrt(np.maximum(amp**2 - noise**2, 0.0))  # the noise's power taken out
    y0 = np.log(np.where(w, clean, 1.0))
    best = None
    for g in range(fcs.shape[1]):
        y = y0 + np.log1p((freq[None, :] / fcs[:, g : g + 1]) ** 2)
        fit = _line(x, y, w)
        if best is None:
            best = (*fit, fcs[:, g].copy())
        else:
            better = fit[2] < best[2]
            best = tuple(np.where(better, new, old) for new, old in zip((*fit, fcs[:, g]), best))
    slope, icpt, _, se, fc_used = best
    n_f = w.sum(axis=1)
    ok = n_f >= max(opts.min_freqs, 3)
    nan = np.full(len(n_f), np.nan)
    return DecayFit(
        tstar=np.where(ok, slope, nan),
        tstar_se=np.where(ok, se * np.sqrt(2.0 * opts.nw), nan),
        log_omega0=np.where(ok, icpt, nan),
        fc_hz=fc_used,
        n_freqs=n_f,
    )


def _line(x: np.ndarray, y: np.ndarray, w: np.ndarray):
    """Row-wise weighted (0/1) least-squares line y = a + b x: b, a, residual rms, se(b)."""
    wf = w.astype(float)
    s0 = wf.sum(1)
    s1 = (wf * x).sum(1)
    s2 = (wf * x * x).sum(1)
    sy = (wf * y).sum(1)
    sxy = (wf * x * y).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        det = s0 * s2 - s1 * s1
        b = (s0 * sxy - s1 * sy) / det
        a = (sy - b * s1) / s0
        res = np.where(w, y - a[:, None] - b[:, None] * x, 0.0)
        rss = (res**2).sum(1) / np.maximum(s0 - 2, 1)
        se = np.sqrt(rss * s0 / det)
    return b, a, np.where(np.isfinite(rss), rss, np.inf), se


def record_tstar(
    waveforms: np.ndarray,
    time_s: np.ndarray,
    p_travel_s: np.ndarray,
    magnitude: np.ndarray,
    sampling_rate: float,
    opts: DecayOptions = DecayOptions(),
) -> DecayFit:
    """t* of a batch of 3-component records (n, 3, T) on the cube's time axis (s from P).

    p_travel_s: each record's P travel time (for the S window); magnitude: catalog Mw.
    """
    dt = 1.0 / sampling_rate
    length = int(round(opts.window_s * sampling_rate))
    p_index = int(np.searchsorted(time_s, 0.0 - 1e-9))
    shift = 0.0 if opts.phase == "P" else np.asarray(p_travel_s, float) * (opts.vp_vs - 1.0)
    start = p_index + np.round((shift - opts.lead_s) * sampling_rate).astype(np.int64)
    start = np.broadcast_to(start, (len(waveforms),))
    noise_start = np.full(len(waveforms), p_index - int(round(0.3 * sampling_rate)) - length)
    both = np.concatenate(
        [cut_windows(waveforms, start, length), cut_windows(waveforms, noise_start, length)]
    )
    freq, amp = multitaper_amplitude(np.nan_to_num(both), dt, opts.nw)
    complete = np.isfinite(both).all(axis=(1, 2))
    amp = np.sqrt((amp**2).sum(axis=1))  # vector sum of the components
    amp[~complete] = np.nan
    with np.errstate(divide="ignore"):
        disp = amp / (2 * np.pi * np.where(freq > 0, freq, np.inf))[None, :]
    n = len(waveforms)
    fc = brune_fc(np.asarray(magnitude, float), opts.stress_drop_mpa)
    fc = fc * (FC_P_OVER_S if opts.phase == "P" else 1.0)
    if opts.fit_corner:
        fc = np.broadcast_to(np.geomspace(1.0, 100.0, 25), (n, 25))
    return fit_decay(freq, disp[:n], disp[n:], fc, opts)


def station_tstar(
    ds: xr.Dataset, station: str, opts: DecayOptions = DecayOptions(), batch: int = 512
) -> pd.DataFrame:
    """Per event of the cube at one station: origin time, t*, its error (NaN: no fit).

    Reads the station's ok traces in batches of `batch` events (one chunk column).
    """
    from faultprobe.ml.dataset import event_table, sampling_rate, station_positions

    pos = station_positions(ds, [station])[0]
    events = event_table(ds)
    status = np.asarray(ds["status"].isel(station=pos).values)
    p_time = pd.DatetimeIndex(np.asarray(ds["p_time"].isel(station=pos).values))
    p_time = p_time.tz_localize("UTC") if p_time.tz is None else p_time
    travel = (p_time - pd.DatetimeIndex(events["source_origin_time"])).total_seconds().to_numpy()
    mags = np.asarray(events["source_magnitude"], float)
    rate, t = sampling_rate(ds), np.asarray(ds["time"].values, float)
    ok = np.flatnonzero(status == 0)
    cols = {k: np.full(len(events), np.nan) for k in ("tstar", "tstar_se", "fc_hz", "n_freqs")}
    for lo in range(0, len(ok), batch):
        idx = ok[lo : lo + batch]
        wf = np.asarray(ds["waveform"].isel(event=idx, station=pos).values, dtype=np.float64)
        fit = record_tstar(wf, t, travel[idx], mags[idx], rate, opts)
        for k in cols:
            cols[k][idx] = getattr(fit, k)
    return pd.DataFrame(
        {
            "source_id": events["source_id"],
            "source_origin_time": events["source_origin_time"],
            "source_magnitude": mags,
            **cols,
        }
    )


def running_median(values: np.ndarray, width: int) -> np.ndarray:
    """Centred running median over `width` finite values (in their order), NaN kept out."""
    v = np.asarray(values, float)
    good = np.flatnonzero(np.isfinite(v))
    out = np.full(len(v), np.nan)
    if len(good) == 0:
        return out
    half = width // 2
    padded = np.pad(v[good], half, mode="edge")
    view = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    out[good] = np.median(view, axis=1)
    return out


def tstar_series(table: pd.DataFrame, width: int = 31) -> pd.DataFrame:
    """The per-event t* in time order with its running median over `width` events."""
    out = table.sort_values("source_origin_time", kind="stable").reset_index(drop=True)
    out["tstar_median"] = running_median(out["tstar"].to_numpy(), width)
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation over the entries where both series are finite."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3 or np.ptp(a[keep]) == 0 or np.ptp(b[keep]) == 0:
        return float("nan")
    return float(stats.spearmanr(a[keep], b[keep]).statistic)


def robust_median(values: np.ndarray) -> tuple[float, float, int]:
    """Median of the finite values, its standard error (1.2533 · 1.4826 MAD / √n), n."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return float("nan"), float("nan"), len(v)
    med = float(np.median(v))
    sigma = MAD_TO_SIGMA * float(np.median(np.abs(v - med)))
    return med, MEDIAN_SE * sigma / np.sqrt(len(v)), len(v)


def jump(
    times: pd.Series, values: np.ndarray, mainshock: pd.Timestamp, days: float
) -> tuple[float, float]:
    """Step of a per-event series at the mainshock: median of the `days` after it minus
    median of the `days` before, and its standard error (the two medians' in quadrature)."""
    dt = (pd.DatetimeIndex(times) - pd.Timestamp(mainshock)).total_seconds().to_numpy() / 86400
    v = np.asarray(values, float)
    before, se_b, _ = robust_median(v[(dt < 0) & (dt >= -days)])
    after, se_a, _ = robust_median(v[(dt >= 0) & (dt < days)])
    return after - before, float(np.hypot(se_a, se_b))


def scaled_jump(step: float, se: float) -> tuple[float, float]:
    """A step from `jump` corrected for the estimator's low reading (÷ STEP_SCALE), and its
    total error: the statistical one and the scale's spread (STEP_SCALE_SD) in quadrature."""
    est = step / STEP_SCALE
    return est, float(np.hypot(se / STEP_SCALE, abs(est) * STEP_SCALE_SD / STEP_SCALE))
