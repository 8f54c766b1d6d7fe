"""Local coordinates around the mainshock and the fault frame, vectorised.

East/north offsets (km) use the same equirectangular projection as the catalog selection,
depth is positive down.  The fault plane passes through the mainshock hypocenter with the
configured strike and dip (dipping toward strike + 90°).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faultprobe.catalogs.geometry import EARTH_RADIUS_KM, local_xy
from faultprobe.config import Fault, Shock


def latlon(east, north, lat0: float, lon0: float) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `local_xy`."""
    lat = lat0 + np.degrees(np.asarray(north, float) / EARTH_RADIUS_KM)
    mid = np.radians((lat + lat0) / 2.0)
    lon = lon0 + np.degrees(np.asarray(east, float) / (EARTH_RADIUS_KM * np.cos(mid)))
    return lat, lon


@dataclass(frozen=True)
class Frame:
    """Fault frame: unit vectors (east, north, down) and the hypocenter."""

    hypo: Shock
    fault: Fault

    @property
    def along(self) -> np.ndarray:
        s = np.radians(self.fault.strike)
        return np.array([np.sin(s), np.cos(s), 0.0])

    @property
    def down_dip(self) -> np.ndarray:
        s, d = np.radians(self.fault.strike), np.radians(self.fault.dip)
        return np.array([np.cos(d) * np.cos(s), -np.cos(d) * np.sin(s), np.sin(d)])

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.along, self.down_dip)

    def dip_range(self, depth_km: tuple[float, float]) -> tuple[float, float]:
        """Down-dip coordinates (km) of a depth range on the plane."""
        sd = np.sin(np.radians(self.fault.dip))
        return ((depth_km[0] - self.hypo.depth_km) / sd, (depth_km[1] - self.hypo.depth_km) / sd)

    def to_enu(self, u, v, w) -> np.ndarray:
        """(..., 3) east, north, down offsets from fault coordinates (along, down-dip, normal)."""
        u, v, w = (np.asarray(a, float)[..., None] for a in (u, v, w))
        return u * self.along + v * self.down_dip + w * self.normal

    def to_fault(self, enu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return enu @ self.along, enu @ self.down_dip, enu @ self.normal

    def enu(self, lat, lon, depth_km) -> np.ndarray:
        east, north = local_xy(lat, lon, self.hypo.latitude, self.hypo.longitude)
        return np.stack([east, north, np.asarray(depth_km, float) - self.hypo.depth_km], -1)

    def geographic(self, enu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lat, lon = latlon(enu[..., 0], enu[..., 1], self.hypo.latitude, self.hypo.longitude)
        return lat, lon, enu[..., 2] + self.hypo.depth_km


def exposure(
    frame: Frame,
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
