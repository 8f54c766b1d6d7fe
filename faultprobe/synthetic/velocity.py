"""Travel times of direct P and S in the 1-D Carannante et al. (2013) model.

The model (docs/norcia2016.md) has velocity nodes with linear gradients between them.  The
simulator traces the direct up-going ray exactly in a finely layered version of it (0.1
km layers): for each source depth, X(p) and T(p) are summed over the layers above the
source for a dense set of ray parameters p and inverted at each epicentral distance.
Receivers sit at the model's surface, as in TauP; the archive adds a vertical leg through
the station elevation (elevation / surface velocity), as the ingest P table does.  Within the distances
of a study (< 60 km) the direct ray is the first arrival; where it cannot reach (a source
below a faster layer) the straight-ray time is used instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faultprobe.earth import CARANNANTE2013

LAYER_KM = 0.1


def velocity_at(depth_km: np.ndarray, wave: str) -> np.ndarray:
    """Velocity (km/s) at depth in the node model (linear between nodes)."""
    col = 1 if wave == "P" else 2
    return np.interp(np.asarray(depth_km, float), CARANNANTE2013[:, 0], CARANNANTE2013[:, col])


@dataclass(frozen=True)
class Rays:
    """Travel time (s), ray parameter (s/km) and surface incidence angle (deg) per pair."""

    time_s: np.ndarray
    p_s_per_km: np.ndarray
    incidence_deg: np.ndarray


def direct_rays(distance_km: np.ndarray, depth_km: np.ndarray, wave: str) -> Rays:
    """Direct-ray travel times from sources at depth to surface receivers at distance."""
    dist = np.asarray(distance_km, float)
    depth = np.clip(np.asarray(depth_km, float), 0.0, 79.0)
    out_t = np.empty(dist.shape)
    out_p = np.empty(dist.shape)
    rows = np.rint(depth / LAYER_KM).astype(int)
    v_surface = float(velocity_at(0.0, wave))
    for row in np.unique(rows):
        sel = rows == row
        zs = row * LAYER_KM
        n_lay = max(row, 1)
        h = zs / n_lay if row else 0.0
        mids = (np.arange(n_lay) + 0.5) * (h if row else 0.0)
        v = velocity_at(mids, wave)
        if row == 0:
            d = dist[sel]
            out_t[sel] = d / v_surface
            out_p[sel] = 1.0 / v_surface
            continue
        u = np.linspace(0.0, 1.0, 800)
        theta = (0.5 * np.pi - 1e-4) * (1.0 - (1.0 - u) ** 3)
        p = np.sin(theta)[:, None] / v.max()
        cos = np.sqrt(1.0 - (p * v[None, :]) ** 2)
        x = (h * p * v / cos).sum(axis=1)
        t = (h / (v * cos)).sum(axis=1)
        d = dist[sel]
        reach = d <= x[-1]
        tt = np.interp(d, x, t)
        pp = np.interp(d, x, p[:, 0])
        straight = np.hypot(d, zs) * np.mean(1.0 / v)
        out_t[sel] = np.where(reach, tt, straight)
        out_p[sel] = np.where(reach, pp, d / np.hypot(d, zs) / v.max())
    inc = np.degrees(np.arcsin(np.clip(out_p * v_surface, 0.0, 1.0)))
    return Rays(out_t, out_p, inc)
