"""How much of each ray from a source to a receiver crosses the damage zone, vectorised.

Positions are east/north/down offsets (km) in the fault frame of `faultprobe.geodesy`, the
same frame the catalog selection measures fault distances in.
"""

from __future__ import annotations

import numpy as np

from faultprobe.geodesy import FaultFrame


def exposure(
    frame: FaultFrame,
    sources: np.ndarray,
    receivers: np.ndarray,
    half_width_km: float,
    along_strike_km: tuple[float, float] | None = None,
    depth_km: tuple[float, float] | None = None,
    n: int = 96,
) -> np.ndarray:
    """Fraction of each straight ray inside the damage zone around the rupture.

    sources (m, 3) and receivers (k, 3) are east/north/down offsets; returns (m, k).  The
    zone is the slab |normal distance| <= half_width around the rupture rectangle on the
    fault plane (by default the fault's along-strike and depth extent).
    """
    s = np.linspace(0.5 / n, 1.0 - 0.5 / n, n)
    u_lo, u_hi = along_strike_km or frame.fault.along_strike_km
    v_lo, v_hi = frame.dip_range(depth_km or frame.fault.depth_km)
    us, vs, ws = frame.to_fault(sources)
    ur, vr, wr = frame.to_fault(receivers)
    out = np.zeros((len(sources), len(receivers)))
    for k in range(len(receivers)):
        u = us[:, None] + (ur[k] - us[:, None]) * s
        v = vs[:, None] + (vr[k] - vs[:, None]) * s
        w = ws[:, None] + (wr[k] - ws[:, None]) * s
        inside = (
            (np.abs(w) <= half_width_km) & (u >= u_lo) & (u <= u_hi) & (v >= v_lo) & (v <= v_hi)
        )
        out[:, k] = inside.mean(axis=1)
    return out
