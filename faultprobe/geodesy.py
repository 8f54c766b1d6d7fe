"""Positions on the Earth and in the fault frame: the one radius, distances and the frame.

Three kinds of distance, each where its accuracy is needed:

- `epicentral_km` / `geodesic`: geodesics on the WGS84 ellipsoid (`pyproj.Geod`), for the
  station-event distances that give the ingest's theoretical P arrivals;
- `great_circle_km`: the great circle on the sphere of the mean Earth radius (NumPy,
  ~10x faster; within 0.3 % of the geodesic), for the isolation rule of the selection,
  which compares arrivals from a whole catalog at every station to about a second;
- `local_xy` / `to_latlon`: east/north offsets on a tangent plane around a point, for the
  few tens of km of a study (a few metres from the geodesic there).

The fault frame (`FaultFrame`) is the one the catalog selection measures distances in and
the simulator places its events in, so the two agree by construction (docs/catalog.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from faultprobe.config import Fault, Shock

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius R1 = (2a + b) / 3 of WGS84
KM_PER_DEGREE = np.pi * EARTH_RADIUS_KM / 180.0


@cache
def _wgs84():
    from pyproj import Geod

    return Geod(ellps="WGS84")


def geodesic(lat1, lon1, lat2, lon2, chunk: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 geodesic distance (km) and forward azimuth (degrees from north, 0-360) from
    points 1 to points 2; arrays broadcast (events x stations is computed in slices of
    about `chunk` pairs, so memory stays that of the result)."""
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (lat1, lon1, lat2, lon2)))
    shape = arrays[0].shape
    km, az = np.empty(shape), np.empty(shape)
    rows = max(1, chunk // max(1, int(np.prod(shape[1:], dtype=np.int64)))) if shape else 1
    for i in range(0, shape[0] if shape else 1, rows):
        part = (slice(i, i + rows),) if shape else ()
        la1, lo1, la2, lo2 = (np.ravel(a[part]) for a in arrays)
        fwd, _, metres = _wgs84().inv(lo1, la1, lo2, la2)
        km[part] = np.asarray(metres, float).reshape(km[part].shape) / 1000.0
        az[part] = np.mod(np.asarray(fwd, float), 360.0).reshape(az[part].shape)
    return km[()], az[()]  # 0-d: scalars


def epicentral_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """WGS84 geodesic distance (km) between arrays of points (broadcasting)."""
    return geodesic(lat1, lon1, lat2, lon2)[0]


def great_circle_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (km) on the mean-radius sphere (haversine, broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


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


def to_latlon(
    east: np.ndarray, north: np.ndarray, lat0: float, lon0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude of east/north offsets (km) from (lat0, lon0): the inverse of
    `local_xy`."""
    lat = lat0 + np.degrees(np.asarray(north, float) / EARTH_RADIUS_KM)
    mid = np.radians((lat + lat0) / 2.0)
    lon = lon0 + np.degrees(np.asarray(east, float) / (EARTH_RADIUS_KM * np.cos(mid)))
    return lat, lon


@dataclass(frozen=True)
class FaultFrame:
    """The fault frame: unit vectors (east, north, down) of a plane through the hypocenter
    with the fault's strike and dip (dipping toward strike + 90°).

    Positions are east/north/down offsets (km) from the hypocenter (`enu`); fault
    coordinates are along strike, down dip and along the normal (`to_fault`).
    """

    hypocenter: Shock
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
        z0 = self.hypocenter.depth_km
        return (depth_km[0] - z0) / sd, (depth_km[1] - z0) / sd

    def enu(self, lat, lon, depth_km) -> np.ndarray:
        """(..., 3) east, north, down offsets (km) of points from the hypocenter."""
        h = self.hypocenter
        east, north = local_xy(lat, lon, h.latitude, h.longitude)
        down = np.asarray(depth_km, dtype=float) - h.depth_km
        east, north, down = np.broadcast_arrays(east, north, down)
        return np.stack([east, north, down], axis=-1)

    def geographic(self, enu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Latitude, longitude and depth (km) of east/north/down offsets: inverse of `enu`."""
        h = self.hypocenter
        lat, lon = to_latlon(enu[..., 0], enu[..., 1], h.latitude, h.longitude)
        return lat, lon, enu[..., 2] + h.depth_km

    def to_fault(self, enu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Along-strike, down-dip and fault-normal coordinates (km) of offsets."""
        return enu @ self.along, enu @ self.down_dip, enu @ self.normal

    def to_enu(self, u, v, w) -> np.ndarray:
        """(..., 3) east, north, down offsets from fault coordinates: inverse of `to_fault`."""
        u, v, w = (np.asarray(a, float)[..., None] for a in (u, v, w))
        return u * self.along + v * self.down_dip + w * self.normal

    def coordinates(
        self, lat: np.ndarray, lon: np.ndarray, depth_km: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fault coordinates (km) of geographic points."""
        return self.to_fault(self.enu(lat, lon, depth_km))
