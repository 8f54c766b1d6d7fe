"""Fault-frame geometry, vectorised over whole catalogs.

Points are projected onto a local tangent plane around the mainshock epicenter (east, north
in km; depth positive down).  Over the few tens of km of a study the projection error is a
few metres, far below catalog location errors.  The fault segment is a rectangle on the
plane through the hypocenter with the configured strike and dip (dipping to strike + 90°).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faultprobe.config import Box, Fault, Shock

EARTH_RADIUS_KM = 6371.0088


def local_xy(
    lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float
) -> tuple[np.ndarray, np.ndarray]:
    """East and north offsets (km) of points from (lat0, lon0), equirectangular at mid-latitude."""
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    mid = np.radians((lat + lat0) / 2.0)
    east = EARTH_RADIUS_KM * np.radians(lon - lon0) * np.cos(mid)
    north = EARTH_RADIUS_KM * np.radians(lat - lat0)
    return east, north


@dataclass(frozen=True)
class FaultFrame:
    """Unit vectors of the fault frame in (east, north, down) and the hypocenter."""

    hypocenter: Shock
    strike_deg: float
    dip_deg: float

    @property
    def along(self) -> np.ndarray:
        s = np.radians(self.strike_deg)
        return np.array([np.sin(s), np.cos(s), 0.0])

    @property
    def down_dip(self) -> np.ndarray:
        s, d = np.radians(self.strike_deg), np.radians(self.dip_deg)
        horizontal = np.array([np.cos(s), -np.sin(s), 0.0])  # azimuth strike + 90°
        return np.cos(d) * horizontal + np.sin(d) * np.array([0.0, 0.0, 1.0])

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.along, self.down_dip)

    def relative(self, lat: np.ndarray, lon: np.ndarray, depth_km: np.ndarray) -> np.ndarray:
        """(n, 3) east, north, down offsets (km) from the hypocenter."""
        h = self.hypocenter
        east, north = local_xy(lat, lon, h.latitude, h.longitude)
        down = np.asarray(depth_km, dtype=float) - h.depth_km
        return np.stack([east, north, down], axis=-1)

    def coordinates(
        self, lat: np.ndarray, lon: np.ndarray, depth_km: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Along-strike, down-dip and fault-normal coordinates (km) from the hypocenter."""
        p = self.relative(lat, lon, depth_km)
        return p @ self.along, p @ self.down_dip, p @ self.normal


def fault_frame(fault: Fault, hypocenter: Shock) -> FaultFrame:
    return FaultFrame(hypocenter=hypocenter, strike_deg=fault.strike, dip_deg=fault.dip)


def distance_to_fault(
    fault: Fault,
    hypocenter: Shock,
    lat: np.ndarray,
    lon: np.ndarray,
    depth_km: np.ndarray,
) -> np.ndarray:
    """3-D distance (km) from each point to the finite rectangular fault segment."""
    frame = fault_frame(fault, hypocenter)
    u, v, w = frame.coordinates(lat, lon, depth_km)
    sin_dip = np.sin(np.radians(fault.dip))
    v_lo = (fault.depth_km[0] - hypocenter.depth_km) / sin_dip
    v_hi = (fault.depth_km[1] - hypocenter.depth_km) / sin_dip
    du = u - np.clip(u, *fault.along_strike_km)
    dv = v - np.clip(v, v_lo, v_hi)
    return np.sqrt(du * du + dv * dv + w * w)


def box_coordinates(
    fault: Fault, hypocenter: Shock, lat: np.ndarray, lon: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal along-strike and across-strike offsets (km) from the epicenter.

    Across-strike is positive toward strike - 90° (NE for a fault striking 155°).
    """
    east, north = local_xy(lat, lon, hypocenter.latitude, hypocenter.longitude)
    s = np.radians(fault.strike)
    along = east * np.sin(s) + north * np.cos(s)
    across = -(east * np.cos(s) - north * np.sin(s))
    return along, across


def in_box(
    fault: Fault, box: Box, hypocenter: Shock, lat: np.ndarray, lon: np.ndarray
) -> np.ndarray:
    """True where a point lies inside the study box."""
    along, across = box_coordinates(fault, hypocenter, lat, lon)
    return (
        (along >= box.along_strike_km[0])
        & (along <= box.along_strike_km[1])
        & (across >= box.across_strike_km[0])
        & (across <= box.across_strike_km[1])
    )


def to_latlon(
    east: np.ndarray, north: np.ndarray, lat0: float, lon0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude of east/north offsets (km) from (lat0, lon0); the inverse
    of `local_xy`."""
    lat = lat0 + np.degrees(np.asarray(north, float) / EARTH_RADIUS_KM)
    mid = np.radians((lat + lat0) / 2.0)
    lon = lon0 + np.degrees(np.asarray(east, float) / (EARTH_RADIUS_KM * np.cos(mid)))
    return lat, lon


def box_outline(fault: Fault, box: Box, hypocenter: Shock) -> tuple[np.ndarray, np.ndarray]:
    """The study box's corners (closed polygon, lat and lon), as `in_box` defines it."""
    a0, a1 = box.along_strike_km
    c0, c1 = box.across_strike_km
    along = np.array([a0, a1, a1, a0, a0])
    across = np.array([c0, c0, c1, c1, c0])
    s = np.radians(fault.strike)
    east = along * np.sin(s) - across * np.cos(s)
    north = along * np.cos(s) + across * np.sin(s)
    return to_latlon(east, north, hypocenter.latitude, hypocenter.longitude)


def fault_outline(fault: Fault, hypocenter: Shock) -> tuple[np.ndarray, np.ndarray]:
    """The fault segment projected to the surface (closed polygon, lat and lon): its top
    edge first (at the top of its depth range: the surface trace when that is 0 km)."""
    frame = fault_frame(fault, hypocenter)
    sin_dip = np.sin(np.radians(fault.dip))
    v = (np.asarray(fault.depth_km, float) - hypocenter.depth_km) / sin_dip
    u0, u1 = fault.along_strike_km
    corners = np.array([[u0, v[0]], [u1, v[0]], [u1, v[1]], [u0, v[1]], [u0, v[0]]])
    xyz = corners[:, :1] * frame.along + corners[:, 1:] * frame.down_dip
    return to_latlon(xyz[:, 0], xyz[:, 1], hypocenter.latitude, hypocenter.longitude)
