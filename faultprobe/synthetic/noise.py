"""Ambient noise: coloured Gaussian ground velocity with seasonal and daily cycles.

The amplitude spectrum has a secondary-microseism peak near 0.2 Hz, a flat cultural band
and a roll-off above 20 Hz; its rms is `noise_level` (m/s) times
    (1 + a_season cos 2π(doy - peak_day)/365.2425) (1 + a_day cos 2π(hour - peak_hour)/24),
evaluated at every sample.  With `noise_seasonal_band_hz` the seasonal factor applies to
that band of the spectrum only (e.g. the microseism, or a cultural band), so the noise
changes its spectral shape with the season and not just its level.  A span's noise depends
only on the seed, the station and the span's first sample, so it is the same however it
is asked for.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft as sfft

from faultprobe.config import Synthetic
from faultprobe.synthetic.effect import band_weight

YEAR_DAYS = 365.2425


def noise_shape(freqs: np.ndarray) -> np.ndarray:
    """Relative amplitude spectrum of ground-velocity noise."""
    f = np.maximum(np.asarray(freqs, float), 1e-6)
    highpass = (f / 0.05) ** 2 / (1.0 + (f / 0.05) ** 2)
    micro = 1.0 + 3.0 * np.exp(-0.5 * (np.log(f / 0.2) / 0.35) ** 2)
    return highpass * micro / np.sqrt(1.0 + (f / 20.0) ** 4)


def seasonal_factor(syn: Synthetic, time_ns: np.ndarray) -> np.ndarray:
    """Seasonal factor on the noise rms at these times (ns since 1970, UTC)."""
    doy = np.mod(np.asarray(time_ns, dtype=np.int64) / 86_400e9, YEAR_DAYS)
    return 1.0 + syn.noise_seasonal_amplitude * np.cos(
        2 * np.pi * (doy - syn.noise_seasonal_peak_day) / YEAR_DAYS
    )


def daily_factor(syn: Synthetic, time_ns: np.ndarray) -> np.ndarray:
    """Daily factor on the noise rms at these times (ns since 1970, UTC)."""
    hour = np.mod(np.asarray(time_ns, dtype=np.int64) / 86_400e9, 1.0) * 24.0
    return 1.0 + syn.noise_daily_amplitude * np.cos(
        2 * np.pi * (hour - syn.noise_daily_peak_hour) / 24.0
    )


def modulation(syn: Synthetic, time_ns: np.ndarray) -> np.ndarray:
    """Seasonal × daily factor on the noise rms at these times (ns since 1970, UTC)."""
    return seasonal_factor(syn, time_ns) * daily_factor(syn, time_ns)


def render_noise(
    syn: Synthetic, n: int, sampling_rate: float, start_ns: int, seed: int
) -> np.ndarray:
    """(3, n) noise ground velocity (m/s) for a span starting at `start_ns`."""
    if syn.noise_level == 0.0 or n == 0:
        return np.zeros((3, n))
    nfft = sfft.next_fast_len(n, real=True)
    shaped = _unit_shape(nfft, float(sampling_rate))
    g = np.random.Generator(np.random.SFC64([int(seed), 11]))
    # uniform real and imaginary parts of unit variance: Gaussian in time by the CLT
    spec = g.random((3, len(shaped), 2), dtype=np.float32)
    spec -= np.float32(0.5)
    spec = spec.view(np.complex64)[..., 0]
    spec *= shaped
    # the cycles change slowly: evaluate them every 10 s and interpolate
    step_ns = int(round(1e9 / sampling_rate))
    end_ns = start_ns + (n - 1) * step_ns
    knots = np.append(np.arange(start_ns, end_ns, 10 * 10**9, dtype=np.int64), end_ns)

    def at_samples(factor: np.ndarray) -> np.ndarray:
        return np.interp(np.arange(n) * float(step_ns), (knots - start_ns).astype(float), factor)

    band = syn.noise_seasonal_band_hz
    if band is None:
        x = sfft.irfft(spec, n=nfft, axis=-1)[:, :n]
        return x * (syn.noise_level * at_samples(modulation(syn, knots)))[None, :]
    # the seasonal cycle acts on the band only: split the spectrum, modulate, add
    w = band_weight(sfft.rfftfreq(nfft, 1.0 / sampling_rate), band).astype(np.float32)
    in_band = sfft.irfft(spec * w, n=nfft, axis=-1)[:, :n]
    rest = sfft.irfft(spec * (1 - w), n=nfft, axis=-1)[:, :n]
    daily = at_samples(daily_factor(syn, knots))
    season = at_samples(seasonal_factor(syn, knots))
    return (rest + in_band * season[None, :]) * (syn.noise_level * daily)[None, :]


@lru_cache(maxsize=64)
def _unit_shape(nfft: int, sampling_rate: float) -> np.ndarray:
    """Noise amplitude spectrum scaled so that the irfft of shaped unit noise has rms 1."""
    f = sfft.rfftfreq(nfft, 1.0 / sampling_rate)
    a = noise_shape(f)
    weight = np.full(len(f), 2.0)
    weight[0] = 1.0
    if nfft % 2 == 0:
        weight[-1] = 1.0
    rms = np.sqrt(np.sum(weight * 2.0 * a**2)) / nfft
    out = (a / rms * np.sqrt(12.0)).astype(np.float32)  # sqrt(12): unit-variance uniforms
    out.flags.writeable = False
    return out


def noise_times_ns(syn: Synthetic, study_start_ns: int, study_end_ns: int) -> np.ndarray:
    """Start times (ns) of the ambient-noise segments, `noise_segments_per_day` a day."""
    k = syn.noise_segments_per_day
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    day = 86_400 * 10**9
    start = study_start_ns
    if syn.noise_years > 0:
        start = study_end_ns - int(syn.noise_years * YEAR_DAYS * day)
    first = start // day
    days = np.arange(first, study_end_ns // day + 1)
    g = np.random.default_rng([syn.seed, 3])
    slot = (np.arange(k) + 0.5) / k
    jitter = g.uniform(-0.3, 0.3, (len(days), k)) / k
    t = ((days[:, None] + slot[None, :] + jitter) * day).astype(np.int64).ravel()
    seg = int(syn.segment_s * 1e9)
    return t[(t >= start) & (t + seg <= study_end_ns)]
