"""The one detrend, taper and band-pass (faultprobe.dsp): scipy's functions give the
numbers of the formulas they replace, and the ingest's recipe gives ObsPy's."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest
from obspy import Stream, Trace

from faultprobe import dsp


def test_detrend_is_the_least_squares_line_and_nan_rows_stay_nan():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 10, (3, 2, 500)).cumsum(axis=-1)
    t = np.linspace(-1.0, 1.0, x.shape[-1])  # the formulas scipy replaced
    slope = (x * t).sum(axis=-1, keepdims=True) / (t * t).sum()
    line = x - x.mean(axis=-1, keepdims=True) - slope * t
    assert np.allclose(dsp.detrend(x, "linear"), line, rtol=0, atol=1e-10)
    assert np.allclose(dsp.detrend(x, "demean"), x - x.mean(-1, keepdims=True), atol=1e-12)
    assert dsp.detrend(x, "none") is x
    x[1, 0, 7] = np.nan
    y = dsp.detrend(x, "linear")
    assert np.isnan(y[1, 0]).all() and np.isfinite(np.delete(y.reshape(6, -1), 2, 0)).all()
    assert np.allclose(y[0], line[0], atol=1e-10)


@pytest.mark.parametrize("n, fraction", [(2500, 0.05), (2501, 0.1), (37, 0.3), (10, 0.0)])
def test_cosine_taper_is_the_half_cosine_ramp(n, fraction):
    m = int(fraction * n)
    want = np.ones(n)
    ramp = 0.5 * (1 - np.cos(np.pi * np.arange(m) / m)) if m else np.zeros(0)
    want[:m], want[n - m :] = ramp, ramp[::-1]
    assert np.allclose(dsp.cosine_taper(n, fraction), want, rtol=0, atol=1e-14)


def test_the_ingest_recipe_is_obspys_detrend_taper_filter():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 100, (4, 2500)).cumsum(axis=1)
    for band in [(2.0, 20.0), (5.0, 60.0)]:  # the second reaches Nyquist: a high-pass
        ours = dsp.bandpass(x, band, 100.0, taper=0.05)
        st = Stream([Trace(row.copy(), header={"sampling_rate": 100.0}) for row in x])
        for tr in st:
            tr.detrend("linear")
            tr.taper(0.05, type="cosine")
            with pytest.warns(UserWarning) if band[1] >= 50 else nullcontext():
                tr.filter("bandpass", freqmin=band[0], freqmax=band[1], corners=4, zerophase=True)
        ref = np.array([tr.data for tr in st])
        err = np.abs(ours - ref)[:, 200:-200].max() / np.abs(ref).max()
        assert err < 1e-3, band


def test_bandpass_keeps_the_input_dtype_and_checks_the_band():
    x = np.zeros((2, 3, 400), np.float32)
    assert dsp.bandpass(x, (1.0, 10.0), 100.0).dtype == np.float32
    assert dsp.bandpass(x.astype(int), (1.0, 10.0), 100.0).dtype == np.float64
    with pytest.raises(ValueError, match="0 < low < high"):
        dsp.bandpass(x, (0.0, 10.0), 100.0)
