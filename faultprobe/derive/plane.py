"""The fault plane of an aftershock cloud (PCA), its uncertainty, and the nodal plane it picks.

Points are (n, 3) east, north, down offsets in km (`faultprobe.catalogs.geometry`). A plane
is given by strike and dip in the config's convention (dipping toward strike + 90°); its
unit normal here points up, toward the dip direction: (sin δ sin φ, sin δ cos φ, -cos δ)
with φ = strike + 90°.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: points farther than this many robust standard deviations from a fit are left out of the next
TRIM_SIGMA = 3.0
#: smallest robust spread (km) used for trimming, so a perfect cloud keeps every point
MIN_SPREAD_KM = 0.05


def normal_of(strike, dip) -> np.ndarray:
    """(..., 3) upward unit normals of planes with these strikes and dips (degrees)."""
    phi = np.radians(np.asarray(strike, float) + 90.0)
    d = np.radians(np.asarray(dip, float))
    return np.stack([np.sin(d) * np.sin(phi), np.sin(d) * np.cos(phi), -np.cos(d)], axis=-1)


def strike_dip(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Strike (0-360) and dip (0-90) of planes with these (..., 3) normals, either sign."""
    n = np.asarray(normal, float)
    n = np.where(n[..., 2:3] > 0, -n, n)  # the upward one
    n = n / np.linalg.norm(n, axis=-1, keepdims=True)
    dip = np.degrees(np.arccos(np.clip(-n[..., 2], -1.0, 1.0)))
    strike = np.mod(np.degrees(np.arctan2(n[..., 0], n[..., 1])) - 90.0, 360.0)
    return strike, dip


def angle_between(n1: np.ndarray, n2: np.ndarray) -> np.ndarray:
    """Angle (degrees, 0-90) between planes with normals n1 and n2."""
    n1 = n1 / np.linalg.norm(n1, axis=-1, keepdims=True)
    n2 = n2 / np.linalg.norm(n2, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.abs(np.sum(n1 * n2, axis=-1)), 0.0, 1.0)))


def _smallest_axis(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal (smallest principal axis) and eigenvalues of (..., n, 3) point sets."""
    centred = points - points.mean(axis=-2, keepdims=True)
    cov = np.einsum("...ni,...nj->...ij", centred, centred) / points.shape[-2]
    values, vectors = np.linalg.eigh(cov)
    return vectors[..., :, 0], values


@dataclass(frozen=True)
class PlaneFit:
    """The plane of a cloud: orientation, where it passes, how flat the cloud is about it."""

    strike: float
    dip: float
    normal: np.ndarray
    centroid: np.ndarray
    n_used: int
    n_points: int
    spread_km: float  # robust std (1.4826 MAD) of the used points' distances to the plane
    strike_sd: float  # bootstrap standard deviations (degrees)
    dip_sd: float
    thickness_ratio: float  # smallest / middle principal std: 0 for a perfect plane


def robust_sd(x: np.ndarray) -> float:
    """1.4826 × the median absolute deviation from the median."""
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if len(x) else float("nan")


def fit_plane(
    points: np.ndarray, seed: int = 0, n_boot: int = 200, iterations: int = 3
) -> PlaneFit:
    """The least-squares plane (PCA) of a cloud, refitted without its outliers.

    Points farther than `TRIM_SIGMA` robust deviations from the plane are left out of the
    next fit; the orientation's spread comes from `n_boot` bootstrap resamples of the kept
    points (drawn with `seed`).
    """
    pts = np.asarray(points, float)
    keep = np.ones(len(pts), bool)
    for _ in range(iterations):
        normal, _ = _smallest_axis(pts[keep])
        d = (pts - pts[keep].mean(axis=0)) @ normal
        sd = max(robust_sd(d[keep]), MIN_SPREAD_KM)
        new = np.abs(d - np.median(d[keep])) <= TRIM_SIGMA * sd
        if new.sum() < 3 or np.array_equal(new, keep):
            break
        keep = new
    used = pts[keep]
    normal, values = _smallest_axis(used)
    centroid = used.mean(axis=0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(used), size=(n_boot, len(used)))
    boot, _ = _smallest_axis(used[idx])
    strike, dip = strike_dip(normal)
    b_strike, b_dip = strike_dip(boot)
    d_strike = np.mod(b_strike - strike + 180.0, 360.0) - 180.0
    return PlaneFit(
        strike=float(strike),
        dip=float(dip),
        normal=strike_dip_normal(normal),
        centroid=centroid,
        n_used=int(keep.sum()),
        n_points=len(pts),
        spread_km=robust_sd((used - centroid) @ normal),
        strike_sd=float(np.sqrt(np.mean(d_strike**2))),
        dip_sd=float(np.sqrt(np.mean((b_dip - dip) ** 2))),
        thickness_ratio=float(np.sqrt(max(values[0], 0.0) / max(values[1], 1e-12))),
    )


def strike_dip_normal(normal: np.ndarray) -> np.ndarray:
    """The upward unit normal of the same plane."""
    n = np.asarray(normal, float)
    n = -n if n[2] > 0 else n
    return n / np.linalg.norm(n)


@dataclass(frozen=True)
class PlaneScore:
    """How well a plane through the hypocentre fits a cloud (distances in km)."""

    strike: float
    dip: float
    median_km: float  # median |distance| of the points to the plane through the hypocentre
    rms_km: float
    angle_to_cloud: float  # degrees between this plane and the cloud's own


def score_planes(points: np.ndarray, strikes, dips, cloud: PlaneFit) -> list[PlaneScore]:
    """Misfit of each plane (through the origin of `points`, the hypocentre) to the cloud."""
    normals = normal_of(strikes, dips)  # (k, 3)
    d = np.abs(np.asarray(points, float) @ normals.T)  # (n, k)
    angles = angle_between(normals, cloud.normal[None, :])
    return [
        PlaneScore(float(s), float(dp), float(m), float(r), float(a))
        for s, dp, m, r, a in zip(
            np.atleast_1d(strikes), np.atleast_1d(dips), np.median(d, axis=0),
            np.sqrt(np.mean(d**2, axis=0)), angles,
        )
    ]  # fmt: skip
