"""Instrument response removal for a batch of windows, one FFT for all rows of a channel.

Same recipe and helpers as ObsPy's `Trace.remove_response` (zero mean, cosine taper, FFT
length of `_compat.npts2nfft`, water level on the inverted response, output velocity), but the
response of a channel is evaluated once per block and applied to every window of it.
"""

from __future__ import annotations

import functools

import numpy as np
from obspy import UTCDateTime
from obspy.signal.invsim import cosine_taper, invert_spectrum

from faultprobe import _compat


@functools.lru_cache(maxsize=4)
def read_inventory_cached(path: str, digest: str | None = None):
    """A StationXML file read once per process and content (`digest` tells versions apart)."""
    import io

    import fsspec
    from obspy import read_inventory

    with fsspec.open(path, "rb") as f:  # a local file or an item of a store on S3
        return read_inventory(io.BytesIO(f.read()))


def remove_response(
    x: np.ndarray,
    seed_ids: list[list[str | None]],
    times_ns: np.ndarray,
    inventory,
    rate: float,
    output: str = "VEL",
    water_level_db: float = 60.0,
    taper_fraction: float = 0.05,
) -> tuple[np.ndarray, list[str | None]]:
    """Deconvolve (m, 3, T) windows; returns the data and, per row, a problem (or None)."""
    m, _, n = x.shape
    nfft = _compat.npts2nfft(n)
    out = np.full_like(x, np.nan, dtype=np.float64)
    problems: list[str | None] = [None] * m
    groups: dict[str, list[tuple[int, int]]] = {}
    for r in range(m):
        for c in range(3):
            sid = seed_ids[r][c]
            if sid is not None and not np.isnan(x[r, c]).all():
                groups.setdefault(sid, []).append((r, c))
    taper = cosine_taper(n, taper_fraction, sactaper=True, halfcosine=False)
    for sid, cells in groups.items():
        rows, comps = np.array([rc[0] for rc in cells]), np.array([rc[1] for rc in cells])
        try:
            resp = inventory.get_response(sid, UTCDateTime(ns=int(times_ns[rows[0]])))
            h, _ = resp.get_evalresp_response(1.0 / rate, nfft, output=output)
            invert_spectrum(h, water_level_db)
        except Exception as err:
            for r in rows:
                problems[r] = f"no response for {sid}: {str(err).splitlines()[0]}"
            continue
        data = np.nan_to_num(x[rows, comps].astype(np.float64))
        data = (data - data.mean(axis=-1, keepdims=True)) * taper
        spec = np.fft.rfft(data, n=nfft, axis=-1) * h[None, :]
        spec[:, -1] = np.abs(spec[:, -1]) + 0.0j
        out[rows, comps] = np.fft.irfft(spec, n=nfft, axis=-1)[:, :n]
    return out, problems
