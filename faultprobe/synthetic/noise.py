"""Ambient noise: coloured Gaussian ground velocity with seasonal and daily cycles.

The amplitude spectrum has a secondary-microseism peak near 0.2 Hz, a flat cultural band
and a roll-off above 20 Hz; its rms is `noise_level` (m/s) times
    (1 + a_season cos 2π(doy - peak_day)/365.2425) (1 + a_day cos 2π(hour - peak_hour)/24),
evaluated at every sample.  With `noise_seasonal_band_hz` the seasonal factor applies to
that band of the spectrum only (e.g. the microseism, or a cultural band), so the noise
changes its spectral shape with the season and not just its level.  A span's noise depends
only on the seed, the station and the span's first sample, so it is the same however it
is asked for.

A confound (`[synthetic.noise_change]`, off by default) changes the noise after the
mainshock: its rms by `level_factor` and its spectrum by `band_factor` inside `band_hz`
and a tilt (f / pivot_hz)^slope, a step at the mainshock or decaying as exp(-t/decay_days).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft as sfft

from faultprobe.config import NoiseChange, Synthetic
from faultprobe.synthetic.effect import band_weight

YEAR_DAYS = 365.2425
DAY_NS = 86_400 * 10**9


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


def change_weight(change: NoiseChange, time_ns: np.ndarray, mainshock_ns: int) -> np.ndarray:
    """How much of the post-mainshock noise change acts at these times (0 before, 1 at it)."""
    t = (np.asarray(time_ns, dtype=np.int64) - mainshock_ns) / DAY_NS
    g = (t >= 0.0).astype(float)
    if change.decay_days is not None:
        g *= np.exp(-np.maximum(t, 0.0) / change.decay_days)
    return g


def change_spectrum(change: NoiseChange, freqs: np.ndarray) -> np.ndarray:
    """Amplitude factor of the changed noise spectrum: band factor times the tilt."""
    f = np.asarray(freqs, float)
    w = np.ones_like(f)
    if change.band_hz is not None:
        w = w + (change.band_factor - 1.0) * band_weight(f, change.band_hz)
    if change.slope != 0.0:
        floor = f[1] if len(f) > 1 else 1.0  # no tilt at DC: its value would be 0 or infinite
        w = w * (np.maximum(f, floor) / change.pivot_hz) ** change.slope
    return w


def render_noise(
    syn: Synthetic,
    n: int,
    sampling_rate: float,
    start_ns: int,
    seed: int,
    mainshock_ns: int | None = None,
) -> np.ndarray:
    """(3, n) noise ground velocity (m/s) for a span starting at `start_ns`.

    With `mainshock_ns` and an active `noise_change`, the change applies from that time on.
    """
    if syn.noise_level == 0.0 or n == 0:
        return np.zeros((3, n))
    step_ns = int(round(1e9 / sampling_rate))
    change = syn.noise_change
    if mainshock_ns is not None and change.active and start_ns + (n - 1) * step_ns >= mainshock_ns:
        return _render_changed(syn, n, sampling_rate, start_ns, seed, mainshock_ns)
    return _render_plain(syn, n, sampling_rate, start_ns, seed)[0]


def _render_changed(
    syn: Synthetic, n: int, sampling_rate: float, start_ns: int, seed: int, mainshock_ns: int
) -> np.ndarray:
    """The noise of a span that reaches past the mainshock, with the noise change in it."""
    change = syn.noise_change
    x, spec, nfft, scale = _render_plain(syn, n, sampling_rate, start_ns, seed)
    step_ns = int(round(1e9 / sampling_rate))
    g = change_weight(change, start_ns + np.arange(n, dtype=np.int64) * step_ns, mainshock_ns)
    if change.spectral:
        w = change_spectrum(change, sfft.rfftfreq(nfft, 1.0 / sampling_rate)) - 1.0
        extra = sfft.irfft(spec * w.astype(np.float32), n=nfft, axis=-1)[:, :n]
        x = x + extra * (scale * g)[None, :]
    return x * (1.0 + (change.level_factor - 1.0) * g)[None, :]


def _render_plain(
    syn: Synthetic, n: int, sampling_rate: float, start_ns: int, seed: int
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """The noise without the confound, its spectrum, FFT length and rms scale per sample."""
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
    scale = syn.noise_level * at_samples(modulation(syn, knots))
    if band is None:
        x = sfft.irfft(spec, n=nfft, axis=-1)[:, :n]
        return x * scale[None, :], spec, nfft, scale
    # the seasonal cycle acts on the band only: split the spectrum, modulate, add
    w = band_weight(sfft.rfftfreq(nfft, 1.0 / sampling_rate), band).astype(np.float32)
    in_band = sfft.irfft(spec * w, n=nfft, axis=-1)[:, :n]
    rest = sfft.irfft(spec * (1 - w), n=nfft, axis=-1)[:, :n]
    daily = at_samples(daily_factor(syn, knots))
    season = at_samples(seasonal_factor(syn, knots))
    x = (rest + in_band * season[None, :]) * (syn.noise_level * daily)[None, :]
    return x, spec, nfft, scale


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
