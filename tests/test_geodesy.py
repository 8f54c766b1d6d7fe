"""The one geodesy module: WGS84 geodesics against ObsPy's, the sphere and the tangent plane
against them, and one fault frame for the simulator and the selection."""

from __future__ import annotations

import numpy as np
import pytest
from obspy.geodetics import gps2dist_azimuth

from faultprobe import geodesy
from faultprobe.catalogs.geometry import distance_to_fault
from faultprobe.config import Fault, Shock

HYPO = Shock(
    name="Norcia",
    time="2016-10-30T06:40:17Z",
    latitude=42.83,
    longitude=13.11,
    depth_km=9.0,
    magnitude=6.5,
)
FAULT = Fault(strike=155.0, dip=47.0, along_strike_km=(-15.0, 15.0), depth_km=(0.0, 12.0))


def test_geodesic_matches_obspy_and_broadcasts():
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(36, 47, 20), rng.uniform(6, 19, 20)
    km, az = geodesy.geodesic(lat[:, None], lon[:, None], 42.76, 13.21)
    assert km.shape == az.shape == (20, 1)
    for i in range(20):  # ObsPy: geographiclib or its own Vincenty, on the same ellipsoid
        d_m, a, _ = gps2dist_azimuth(lat[i], lon[i], 42.76, 13.21)
        assert km[i, 0] == pytest.approx(d_m / 1000.0, abs=1e-6)
        assert az[i, 0] == pytest.approx(a, abs=1e-6)
    assert np.ndim(geodesy.epicentral_km(42.0, 13.0, 42.1, 13.0)) == 0
    sliced = geodesy.geodesic(lat[:, None], lon[:, None], lat[None, :5], lon[None, :5], chunk=7)
    whole = geodesy.geodesic(lat[:, None], lon[:, None], lat[None, :5], lon[None, :5])
    assert all(np.array_equal(a, b) for a, b in zip(sliced, whole))


def test_the_sphere_and_the_tangent_plane_stay_close_to_the_geodesic():
    rng = np.random.default_rng(4)
    lat, lon = rng.uniform(36, 47, 500), rng.uniform(6, 19, 500)
    exact = geodesy.epicentral_km(lat, lon, HYPO.latitude, HYPO.longitude)
    sphere = geodesy.great_circle_km(lat, lon, HYPO.latitude, HYPO.longitude)
    assert np.max(np.abs(sphere / exact - 1)) < 0.0035  # the ellipsoid's flattening
    near = exact < 40.0
    e, n = geodesy.local_xy(lat[near], lon[near], HYPO.latitude, HYPO.longitude)
    assert np.max(np.abs(np.hypot(e, n) - exact[near])) < 0.15  # a study's few tens of km
    la, lo = geodesy.to_latlon(e, n, HYPO.latitude, HYPO.longitude)
    assert np.allclose(la, lat[near], atol=1e-9) and np.allclose(lo, lon[near], atol=1e-9)


def test_one_fault_frame_for_the_simulator_and_the_selection():
    """Points placed in the frame (as the simulator places events) are where the selection
    measures them: on the rupture rectangle at distance 0, off the plane at |w|."""
    frame = geodesy.FaultFrame(HYPO, FAULT)
    assert np.allclose(np.cross(frame.along, frame.down_dip), frame.normal)
    assert frame.down_dip[2] == pytest.approx(np.sin(np.radians(FAULT.dip)))
    rng = np.random.default_rng(5)
    v_lo, v_hi = frame.dip_range(FAULT.depth_km)
    u, v = rng.uniform(-14, 14, 200), rng.uniform(v_lo + 0.1, v_hi - 0.1, 200)
    w = rng.uniform(-2, 2, 200)
    lat, lon, depth = frame.geographic(frame.to_enu(u, v, w))
    d = distance_to_fault(FAULT, HYPO, lat, lon, depth)
    assert np.allclose(d, np.abs(w), atol=1e-9)
    back = frame.coordinates(lat, lon, depth)
    assert np.allclose(np.stack(back), np.stack([u, v, w]), atol=1e-9)


def test_one_radius():
    assert geodesy.KM_PER_DEGREE == pytest.approx(111.19508, abs=1e-5)
    from faultprobe.pipelines import velocity

    assert velocity.KM_PER_DEGREE is geodesy.KM_PER_DEGREE
