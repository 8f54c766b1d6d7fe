"""Co-located pre/post event pairs and their multitaper spectra (Fig. 6 of the paper).

Pairs: the candidate pre/post pairs within `max_distance_m` in 3-D and within
`max_magnitude_difference` in magnitude, found with a KD-tree on local east/north/down
coordinates (km), never a double loop, then an optimal one-to-one matching over them (the
most pairs, then the closest).  Spectra: the `multitaper` package's MTSpec
(adaptive weighting) on each component of both records, the DPSS tapers computed once for
the record length; ratios post/pre per pair and component, summarised by their median and
the 16th-84th percentile spread over pairs, and the band where the median ratio departs
from one by more than its spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from faultprobe._optional import need
from faultprobe.config import PairsAnalysis
from faultprobe.geodesy import KM_PER_DEGREE
from faultprobe.ml.matching import match_pairs


def local_km(lat: np.ndarray, lon: np.ndarray, depth_km: np.ndarray) -> np.ndarray:
    """East, north, down (km) about the mean position: flat-earth, fine over tens of km."""
    lat0 = float(np.mean(lat))
    east = (np.asarray(lon) - np.mean(lon)) * KM_PER_DEGREE * np.cos(np.radians(lat0))
    north = (np.asarray(lat) - lat0) * KM_PER_DEGREE
    return np.column_stack([east, north, np.asarray(depth_km, float)])


def find_pairs(events: pd.DataFrame, max_distance_m: float, max_dmag: float) -> pd.DataFrame:
    """Pre/post pairs within the distance and magnitude limits, closest first.

    `events` needs source_id, source_latitude_deg, source_longitude_deg, source_depth_km,
    source_magnitude and ttf_s (< 0 pre).
    Every event is used at most once, so a pair's two records are independent of the other
    pairs, and the matching is optimal over all candidate pairs: as many pairs as possible,
    then the smallest total separation (`match_pairs`).
    """
    xyz = local_km(
        events["source_latitude_deg"], events["source_longitude_deg"], events["source_depth_km"]
    )
    pre = np.flatnonzero(events["ttf_s"].to_numpy() < 0)
    post = np.flatnonzero(events["ttf_s"].to_numpy() >= 0)
    cols = ["source_id_pre", "source_id_post", "distance_m", "dmag", "pre_pos", "post_pos"]
    if pre.size == 0 or post.size == 0:
        return pd.DataFrame(columns=cols)
    tree = cKDTree(xyz[post])
    coo = cKDTree(xyz[pre]).sparse_distance_matrix(
        tree, max_distance_m / 1000.0, output_type="coo_matrix"
    )
    i, j, d = coo.row, coo.col, coo.data
    mag = events["source_magnitude"].to_numpy()
    dmag = np.abs(mag[pre[i]] - mag[post[j]])
    keep = dmag <= max_dmag + 1e-9
    i, j, d, dmag = i[keep], j[keep], d[keep], dmag[keep]
    # separation first, magnitude difference only to break ties (1 m ~ 0.1 magnitude units)
    sel = match_pairs(i, j, d + 1e-5 * dmag, pre.size, post.size)
    ids = events["source_id"].to_numpy()
    out = pd.DataFrame(
        {
            "source_id_pre": ids[pre[i[sel]]],
            "source_id_post": ids[post[j[sel]]],
            "distance_m": d[sel] * 1000.0,
            "dmag": dmag[sel],
            "pre_pos": pre[i[sel]],
            "post_pos": post[j[sel]],
        }
    )
    return out.sort_values(["distance_m", "dmag"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class PairSpectra:
    """Spectra of the pairs at one station: freq (F,), pre/post (P, 3, F) amplitude."""

    freq: np.ndarray
    pre: np.ndarray
    post: np.ndarray
    components: tuple[str, ...] = ("E", "N", "Z")

    @property
    def ratio(self) -> np.ndarray:
        """post/pre amplitude ratio per pair, component and frequency."""
        return self.post / np.maximum(self.pre, np.finfo(float).tiny)


def multitaper_amplitude(x: np.ndarray, dt: float, nw: float) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude spectra (sqrt of the adaptive multitaper PSD) of traces x (..., n)."""
    what = "the pair spectra (multitaper)"
    MTSpec = need("multitaper", extra="analysis", what=what).MTSpec
    mtutils = need("multitaper.utils", extra="analysis", what=what)

    flat = np.asarray(x, dtype=np.float64).reshape(-1, x.shape[-1])
    n = flat.shape[-1]
    kspec = int(round(2 * nw - 1))
    vn, lamb = mtutils.dpss(n, nw, kspec)  # once for every trace of this length
    freq, rows = None, []
    for trace in flat:  # one MTSpec per trace; its FFTs are vectorised over tapers
        spec = MTSpec(trace[:, None], nw=nw, kspec=kspec, dt=dt, vn=vn, lamb=lamb, iadapt=0)
        f, s = spec.rspec()
        freq = f.ravel()
        rows.append(np.sqrt(np.maximum(s.ravel(), 0.0)))
    return freq, np.asarray(rows).reshape(*x.shape[:-1], -1)


def pair_spectra(
    waveforms: np.ndarray, sampling_rate: float, pairs: pd.DataFrame, nw: float
) -> PairSpectra:
    """Spectra of both records of every pair; `waveforms` is (event, 3, time)."""
    both = np.concatenate(
        [waveforms[pairs["pre_pos"].to_numpy()], waveforms[pairs["post_pos"].to_numpy()]]
    )
    freq, amp = multitaper_amplitude(both, 1.0 / sampling_rate, nw)
    k = len(pairs)
    return PairSpectra(freq, amp[:k], amp[k:])


def smooth(freq: np.ndarray, values: np.ndarray, width_hz: float) -> np.ndarray:
    """Running mean over `width_hz` along the last axis (a box of whole bins)."""
    if width_hz <= 0 or freq.size < 2:
        return values
    k = max(1, int(round(width_hz / (freq[1] - freq[0]))))
    kernel = np.ones(k) / k
    return np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), -1, values)


def ratio_summary(spectra: PairSpectra, smooth_hz: float = 1.0) -> pd.DataFrame:
    """Median and 16-84 % spread of log10 post/pre over pairs, per component and frequency,
    and whether the median departs from 0 (ratio 1) by more than the spread's half-width
    over the standard error (`differs`)."""
    lr = np.log10(spectra.ratio)
    lr = smooth(spectra.freq, lr, smooth_hz)
    med = np.median(lr, axis=0)
    lo, hi = np.percentile(lr, [16, 84], axis=0)
    n = lr.shape[0]
    se = 1.253 * (hi - lo) / 2.0 / np.sqrt(max(n, 1))  # standard error of a median
    rows = []
    for c, comp in enumerate(spectra.components):
        rows.append(
            pd.DataFrame(
                {
                    "component": comp,
                    "freq_hz": spectra.freq,
                    "median_log10_ratio": med[c],
                    "p16_log10_ratio": lo[c],
                    "p84_log10_ratio": hi[c],
                    "differs": np.abs(med[c]) > 3.0 * se[c],
                    "n_pairs": n,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def differing_band(summary: pd.DataFrame, min_width_hz: float = 2.0) -> tuple[float, float] | None:
    """The widest run of frequencies where all components' median ratio differs from one."""
    wide = summary.pivot_table(index="freq_hz", columns="component", values="differs")
    ok = wide.all(axis=1).to_numpy()
    f = wide.index.to_numpy()
    best, start = None, None
    for k, v in enumerate(np.append(ok, False)):  # runs of True over the frequency axis
        if v and start is None:
            start = k
        elif not v and start is not None:
            lo, hi = f[start], f[k - 1]
            if hi - lo >= min_width_hz and (best is None or hi - lo > best[1] - best[0]):
                best = (float(lo), float(hi))
            start = None
    return best


def analyse_pairs(
    events: pd.DataFrame, waveforms: np.ndarray, sampling_rate: float, cfg: PairsAnalysis
) -> tuple[pd.DataFrame, PairSpectra | None, pd.DataFrame]:
    """Pairs table, their spectra and the ratio summary for one station's records."""
    pairs = find_pairs(events, cfg.max_distance_m, cfg.max_magnitude_difference)
    pairs = pairs.head(cfg.max_pairs).reset_index(drop=True)
    if pairs.empty:
        return pairs, None, pd.DataFrame()
    spectra = pair_spectra(waveforms, sampling_rate, pairs, cfg.time_bandwidth)
    return pairs, spectra, ratio_summary(spectra, cfg.smooth_hz)
