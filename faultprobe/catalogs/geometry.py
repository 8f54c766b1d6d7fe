"""The selection's geometry in the fault frame, vectorised over whole catalogs.

Points are projected onto a local tangent plane around the mainshock epicenter
(`faultprobe.geodesy`: east, north in km; depth positive down).  Over the few tens of km of a
study the projection error is a few metres, far below catalog location errors.  The fault
segment is a rectangle on the plane through the hypocenter with the configured strike and
dip (dipping to strike + 90°).
"""

from __future__ import annotations

import numpy as np

from faultprobe.config import Box, Fault, Shock
from faultprobe.geodesy import FaultFrame, local_xy, to_latlon


def fault_frame(fault: Fault, hypocenter: Shock) -> FaultFrame:
    """The fault frame of the study (docs/catalog.md), shared with the simulator."""
    return FaultFrame(hypocenter, fault)


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
    v_lo, v_hi = frame.dip_range(fault.depth_km)
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
    v = frame.dip_range(fault.depth_km)
    u0, u1 = fault.along_strike_km
    corners = np.array([[u0, v[0]], [u1, v[0]], [u1, v[1]], [u0, v[1]], [u0, v[0]]])
    xyz = corners[:, :1] * frame.along + corners[:, 1:] * frame.down_dip
    return to_latlon(xyz[:, 0], xyz[:, 1], hypocenter.latitude, hypocenter.longitude)
