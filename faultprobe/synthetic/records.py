"""Render earthquake records (ground velocity) for a batch of (event, station) pairs.

Stochastic point-source method (Boore 1983; 2003): for each phase (P, SV, SH) a white
Gaussian series is shaped in time by an envelope (rise, decay over the source+path
duration, and an exponential coda), transformed, normalised to unit mean power and
multiplied by the target Fourier amplitude spectrum of ground velocity

    A(f) = C M0 / (1 + (f/fc)^2) · G(r) · 2πf · exp(-π f (t* + κ)) · E(f)

(C = R F / (4π ρ c^3), F = 2 free surface; G(r) = 1/r to 10 km, then r^-1.68; E(f) the
fault-zone change), then inverse-transformed.  Everything is arrays over the batch.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from faultprobe.synthetic.effect import band_weight
from faultprobe.synthetic.events import brune_fc, moment

RHO = 2700.0  # kg/m^3, source region
ALPHA = 6200.0  # m/s, P velocity at source depth
BETA = 3400.0  # m/s, S velocity at source depth
RAD_P, RAD_S = 0.52, 0.63  # average radiation coefficients (Boore & Boatwright 1984)
FREE_SURFACE = 2.0
FC_P_OVER_S = 1.5  # P corner frequency relative to S (Madariaga 1976)
CODA_RATIO = 0.15  # coda amplitude relative to the direct phase at its onset


def spreading(r_km: np.ndarray) -> np.ndarray:
    """Geometric spreading (1/m): 1/r to 10 km, r^-1.68 beyond (Pacor et al. 2016)."""
    r = np.maximum(np.asarray(r_km, float), 0.1)
    near = 1.0 / (r * 1e3)
    far = 1.0 / 10e3 * (10.0 / r) ** 1.68
    return np.where(r <= 10.0, near, far)


def source_spectrum(freqs: np.ndarray, mw, stress_drop_mpa, phase: str) -> np.ndarray:
    """Brune ω² displacement source spectrum M0/(1+(f/fc)^2) (N·m·s), shape (n, nf)."""
    m0 = moment(mw)[:, None]
    fc = brune_fc(mw, stress_drop_mpa)[:, None] * (FC_P_OVER_S if phase == "P" else 1.0)
    return m0 / (1.0 + (freqs[None, :] / fc) ** 2)


def _envelope(t: np.ndarray, onset: np.ndarray, duration: np.ndarray, coda_s: np.ndarray):
    """Envelope (n, nt), float32: (1 - e^(-τ/0.1d)) (e^(-τ/d) + c e^(-τ/coda)) after onset."""
    tau = np.maximum(t[None, :] - onset[:, None].astype(np.float32), 0.0)
    e1 = np.exp(-tau / duration[:, None].astype(np.float32))
    e2 = e1 * e1
    e8 = e2 * e2
    e8 *= e8
    rise = 1.0 - e8 * e2  # e^(-10 τ/d)
    shape = e1 + np.float32(CODA_RATIO) * np.exp(-tau / coda_s[:, None].astype(np.float32))
    return rise * shape


def render_batch(
    magnitude,
    stress_drop_mpa,
    distance_km,
    t_p,
    t_s,
    *,
    sampling_rate: float,
    n_samples: int,
    seeds,
    tstar_p=0.0,
    tstar_s=0.0,
    kappa=0.03,
    dtstar=0.0,
    band_hz: tuple[float, float] | None = None,
    azimuth_deg=0.0,
    incidence_p_deg=20.0,
    incidence_s_deg=20.0,
) -> np.ndarray:
    """Three-component ground velocity (m/s, float32), shape (n, 3, n_samples), E/N/Z.

    magnitude (Mw), stress_drop_mpa, distance_km (hypocentral), t_p and t_s (arrival
    times in s from the first sample), tstar_p/tstar_s (path t* = T/Q, s), kappa (site, s),
    dtstar (extra fault-zone t*, s; with band_hz only inside that band), azimuth_deg
    (source to station, clockwise from north) and the incidence angles at the surface are
    arrays of length n or scalars.  seeds: n integers; record i depends only on its own
    parameters and seeds[i], never on the rest of the batch.
    """
    seeds = np.atleast_1d(np.asarray(seeds))
    n = len(seeds)

    def arr(x) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, float), (n,)).astype(float)

    mw, drop, r = arr(magnitude), arr(stress_drop_mpa), arr(distance_km)
    tp, ts = arr(t_p), arr(t_s)
    tsp, tss, kap, dts = arr(tstar_p), arr(tstar_s), arr(kappa), arr(dtstar)
    az, ip, is_ = (np.radians(arr(a)) for a in (azimuth_deg, incidence_p_deg, incidence_s_deg))

    nfft = sfft.next_fast_len(int(n_samples * 1.25) + 64, real=True)
    dt = 1.0 / sampling_rate
    t = (np.arange(nfft) * dt).astype(np.float32)
    f = sfft.rfftfreq(nfft, dt)

    white = np.empty((n, 3, nfft), dtype=np.float32)
    psi = np.empty(n)
    for i, s in enumerate(seeds):  # one generator per record: independent of the batch
        g = np.random.Generator(np.random.SFC64([int(s), 7]))
        g.random((3, nfft), dtype=np.float32, out=white[i])  # uniform white noise (Boore 2003)
        psi[i] = g.uniform(0.0, 2.0 * np.pi)
    white -= np.float32(0.5)

    fc = brune_fc(mw, drop)
    geo = spreading(r)[:, None]
    extra = dts[:, None] * band_weight(f, band_hz)[None, :]  # fault-zone Δt*, maybe in a band
    series = []
    env_s = None
    for k, (phase, onset, tstar, c, rad) in enumerate(
        (("P", tp, tsp, ALPHA, RAD_P), ("S", ts, tss, BETA, RAD_S), ("S", ts, tss, BETA, RAD_S))
    ):
        if k < 2:  # SV and SH share the S envelope and target spectrum
            fcp = fc * (FC_P_OVER_S if phase == "P" else 1.0)
            duration = 1.0 / fcp + 0.05 * r
            coda = 2.0 + 0.5 * onset + 2.0 * np.maximum(mw - 1.0, 0.0)
            env_s = _envelope(t, onset, duration, coda)
            amp = (rad * FREE_SURFACE / (4 * np.pi * RHO * c**3)) * source_spectrum(
                f, mw, drop, phase
            )
            amp *= geo * (2 * np.pi * f[None, :]) * sampling_rate
            amp *= np.exp(-np.pi * f[None, :] * ((tstar + kap)[:, None] + extra))
        spec = sfft.rfft(env_s * white[:, k], axis=-1)
        power = np.mean(spec.real**2 + spec.imag**2, axis=-1, keepdims=True)
        spec *= (amp / (np.sqrt(power) + 1e-30)).astype(np.float32)
        series.append(sfft.irfft(spec, n=nfft, axis=-1)[:, :n_samples])
    p, sv, sh = series

    def col(x: np.ndarray) -> np.ndarray:
        return x.astype(np.float32)[:, None]

    sv = sv * col(np.cos(psi))
    sh = sh * col(np.sin(psi))
    radial = p * col(np.sin(ip)) + sv * col(np.cos(is_))
    vertical = p * col(np.cos(ip)) - sv * col(np.sin(is_))
    east = radial * col(np.sin(az)) + sh * col(np.cos(az))
    north = radial * col(np.cos(az)) - sh * col(np.sin(az))
    return np.stack([east, north, vertical], axis=1, dtype=np.float32)
