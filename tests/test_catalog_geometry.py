"""Distances to a dipping fault plane, checked against an independent geodetic computation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from faultprobe.catalogs.geometry import box_coordinates, distance_to_fault, in_box
from faultprobe.config import Box, Fault, Shock

HYPO = Shock(
    name="Norcia",
    time="2016-10-30T06:40:17Z",
    latitude=42.83,
    longitude=13.11,
    depth_km=9.0,
    magnitude=6.5,
)
FAULT = Fault(strike=155.0, dip=47.0, along_strike_km=(-15.0, 15.0), depth_km=(0.0, 12.0))

# WGS84 ellipsoid
A, F = 6378.137, 1 / 298.257223563
E2 = F * (2 - F)


def ecef(lat, lon, depth_km):
    """Earth-centred coordinates (km) on the WGS84 ellipsoid: independent of the projection."""
    la, lo = np.radians(lat), np.radians(lon)
    n = A / np.sqrt(1 - E2 * np.sin(la) ** 2)
    h = -np.asarray(depth_km)
    return np.stack(
        [
            (n + h) * np.cos(la) * np.cos(lo),
            (n + h) * np.cos(la) * np.sin(lo),
            (n * (1 - E2) + h) * np.sin(la),
        ],
        axis=-1,
    )


def destination(lat, lon, azimuth_deg, dist_km, radius=6371.0088):
    """Great-circle destination point: the fault drawn on the sphere, not on a flat map."""
    la, lo, az = np.radians(lat), np.radians(lon), np.radians(azimuth_deg)
    d = np.asarray(dist_km) / radius
    la2 = np.arcsin(np.sin(la) * np.cos(d) + np.cos(la) * np.sin(d) * np.cos(az))
    lo2 = lo + np.arctan2(np.sin(az) * np.sin(d) * np.cos(la), np.cos(d) - np.sin(la) * np.sin(la2))
    return np.degrees(la2), np.degrees(lo2)


def fault_points(step_km=0.05):
    """A dense grid of points on the fault rectangle, placed geodetically."""
    sin_d, cos_d = np.sin(np.radians(FAULT.dip)), np.cos(np.radians(FAULT.dip))
    u = np.arange(FAULT.along_strike_km[0], FAULT.along_strike_km[1] + 1e-9, step_km)
    v = np.arange(
        (FAULT.depth_km[0] - HYPO.depth_km) / sin_d,
        (FAULT.depth_km[1] - HYPO.depth_km) / sin_d + 1e-9,
        step_km,
    )
    uu, vv = np.meshgrid(u, v)
    lat1, lon1 = destination(HYPO.latitude, HYPO.longitude, FAULT.strike, uu)
    lat2, lon2 = destination(lat1, lon1, FAULT.strike + 90.0, vv * cos_d)
    return ecef(lat2, lon2, HYPO.depth_km + vv * sin_d).reshape(-1, 3)


GRID = fault_points()


def brute_distance(lat, lon, depth):
    p = ecef(np.array([lat]), np.array([lon]), np.array([depth]))[0]
    return float(np.sqrt(((GRID - p) ** 2).sum(axis=1)).min())


@settings(max_examples=25, deadline=None)
@given(
    lat=st.floats(42.55, 43.1),
    lon=st.floats(12.8, 13.45),
    depth=st.floats(0.0, 20.0),
)
def test_distance_matches_independent_geodetic_computation(lat, lon, depth):
    ours = distance_to_fault(FAULT, HYPO, np.array([lat]), np.array([lon]), np.array([depth]))[0]
    # Grid spacing 50 m → brute force overestimates by at most ~35 m; projection error small.
    assert abs(ours - brute_distance(lat, lon, depth)) < 0.08


def test_analytic_cases():
    # Points on the plane inside the rectangle are at zero distance.
    frame_pts = [(0.0, 0.0), (10.0, 2.0), (-12.0, -8.0)]
    sin_d, cos_d = np.sin(np.radians(47)), np.cos(np.radians(47))
    for u, v in frame_pts:
        la, lo = destination(HYPO.latitude, HYPO.longitude, 155.0, u)
        la, lo = destination(la, lo, 245.0, v * cos_d)
        d = distance_to_fault(
            FAULT, HYPO, np.array([la]), np.array([lo]), np.array([9.0 + v * sin_d])
        )[0]
        assert d < 0.02
    # Straight above the hypocenter at the surface: perpendicular distance z0·cos(dip).
    d = distance_to_fault(
        FAULT, HYPO, np.array([HYPO.latitude]), np.array([HYPO.longitude]), np.array([0.0])
    )[0]
    assert abs(d - 9.0 * np.cos(np.radians(47))) < 1e-6
    # Beyond the along-strike end, on the strike line at hypocenter depth: distance to the edge.
    la, lo = destination(HYPO.latitude, HYPO.longitude, 155.0, 20.0)
    d = distance_to_fault(FAULT, HYPO, np.array([la]), np.array([lo]), np.array([9.0]))[0]
    assert abs(d - 5.0) < 0.02
    # Below the bottom edge, along the dip direction.
    la, lo = destination(HYPO.latitude, HYPO.longitude, 245.0, (3.0 / sin_d + 2.0) * cos_d)
    d = distance_to_fault(
        FAULT, HYPO, np.array([la]), np.array([lo]), np.array([9.0 + (3.0 / sin_d + 2.0) * sin_d])
    )[0]
    assert abs(d - 2.0) < 0.02


def test_box_is_asymmetric_across_strike():
    box = Box(along_strike_km=(-20, 20), across_strike_km=(-4, 15))
    ne = destination(HYPO.latitude, HYPO.longitude, 155.0 - 90.0, np.array([3.0, 14.0, 16.0]))
    sw = destination(HYPO.latitude, HYPO.longitude, 155.0 + 90.0, np.array([3.0, 5.0]))
    assert in_box(FAULT, box, HYPO, *ne).tolist() == [True, True, False]
    assert in_box(FAULT, box, HYPO, *sw).tolist() == [True, False]
    along, across = box_coordinates(FAULT, HYPO, *ne)
    np.testing.assert_allclose(across, [3.0, 14.0, 16.0], atol=0.01)
    np.testing.assert_allclose(along, 0.0, atol=0.03)
