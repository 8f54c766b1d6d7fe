"""Signal processing shared by the ingest and the learning, batched over the last axis:
detrend, cosine taper and the one zero-phase Butterworth band-pass (scipy does the work)."""

from __future__ import annotations

import numpy as np
from scipy import signal

from faultprobe.errors import InputError

DETRENDS = {"demean": "constant", "linear": "linear"}


class BandError(InputError, ValueError):
    """A frequency band that cannot be used (it must be 0 < low < high)."""


def detrend(x: np.ndarray, kind: str) -> np.ndarray:
    """Remove the mean (`demean`) or a least-squares line (`linear`) along the last axis;
    `none` returns x as it is.  A row with a NaN or inf (a window's unfilled gap) comes
    back all NaN, as its mean is not defined."""
    if kind == "none":
        return x
    x = np.asarray(x)
    finite = np.isfinite(x).all(axis=-1)
    if finite.all():
        return signal.detrend(x, axis=-1, type=DETRENDS[kind])
    out = np.full(x.shape, np.nan, dtype=np.result_type(x.dtype, np.float32))
    if finite.any():
        out[finite] = signal.detrend(x[finite], axis=-1, type=DETRENDS[kind])
    return out


def cosine_taper(n: int, fraction: float) -> np.ndarray:
    """A window of n samples with half-cosine ramps over int(fraction * n) samples at each
    end (a Tukey window), 1 in between."""
    m = int(fraction * n)
    if m <= 0 or n < 2:
        return np.ones(n)
    return signal.windows.tukey(n, 2.0 * m / (n - 1))


def bandpass(
    x: np.ndarray,
    band_hz: tuple[float, float],
    fs: float,
    order: int = 4,
    taper: float | None = None,
) -> np.ndarray:
    """Zero-phase Butterworth band-pass over the last axis of a whole batch; a high-pass
    where the band reaches the Nyquist frequency (as ObsPy's `filter("bandpass")`).

    With `taper` (a fraction), a linear detrend and a cosine taper come first, the recipe of
    ObsPy's detrend / taper / filter.  Floating input keeps its dtype.
    """
    lo, hi = band_hz
    if not 0 < lo < hi:
        raise BandError(f"band {list(band_hz)} Hz must be 0 < low < high")
    dtype = x.dtype if np.issubdtype(np.asarray(x).dtype, np.floating) else np.float64
    if taper is not None:
        x = detrend(x, "linear") * cosine_taper(x.shape[-1], taper)
    if hi >= fs / 2:
        sos = signal.butter(order, lo, btype="highpass", fs=fs, output="sos")
    else:
        sos = signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, x, axis=-1).astype(dtype, copy=False)
