"""The injected fault-zone effect: extra t* as a function of time to the mainshock.

Δt*(t) grows linearly over `pre_days` to `dtstar_pre_max` just before the mainshock, steps
up by `dtstar_jump` at it, and heals after it in log time,
    Δt*(t > 0) = (pre_max + jump) · max(0, 1 - ln(1 + t/τ) / ln(1 + T/τ)),
with τ = `healing_tau_days` and T = `healing_days`, times `sign`.  A record sees
Δt*(t) · exposure, exposure being the fraction of its ray inside the damage zone.
"""

from __future__ import annotations

import numpy as np

from faultprobe.config import FaultZoneEffect


def dtstar_at(effect: FaultZoneEffect, days_from_mainshock: np.ndarray) -> np.ndarray:
    """Signed extra t* (s) on a fully exposed path at these times (days, < 0 before)."""
    t = np.asarray(days_from_mainshock, float)
    pre = effect.dtstar_pre_max * np.clip(1.0 + t / effect.pre_days, 0.0, 1.0)
    tau, total = effect.healing_tau_days, effect.healing_days
    heal = 1.0 - np.log1p(np.maximum(t, 0.0) / tau) / np.log1p(total / tau)
    post = (effect.dtstar_pre_max + effect.dtstar_jump) * np.clip(heal, 0.0, 1.0)
    return effect.sign * np.where(t < 0.0, pre, post)


def band_weight(freqs: np.ndarray, band_hz: tuple[float, float] | None, taper_hz: float = 1.0):
    """1 inside the band, 0 outside, with cosine tapers of `taper_hz`; None: 1 everywhere."""
    f = np.asarray(freqs, float)
    if band_hz is None:
        return np.ones_like(f)
    f1, f2 = band_hz
    up = np.clip((f - (f1 - taper_hz)) / taper_hz, 0.0, 1.0)
    down = np.clip(((f2 + taper_hz) - f) / taper_hz, 0.0, 1.0)
    return 0.25 * (1 - np.cos(np.pi * up)) * (1 - np.cos(np.pi * down))
