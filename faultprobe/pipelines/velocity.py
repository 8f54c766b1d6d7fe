"""Theoretical P arrivals from a 1-D velocity model through a distance x depth table.

The central Italy model of Carannante et al. (2013) is shipped as a TauP `.nd` file (the
crust and upper mantle to 80 km, IASP91 below) together with the TauP model built from it
(`obspy.taup.taup_create.build_taup_model`) and a precomputed table of first-P times.
Travel times for every event x station pair then come from one vectorised bilinear
interpolation instead of one TauP call per pair (~20 ms each).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from importlib import resources
from pathlib import Path

import numpy as np

from faultprobe import _compat
from faultprobe.earth import CARANNANTE2013

EARTH_RADIUS_KM = 6371.0
KM_PER_DEGREE = np.pi * EARTH_RADIUS_KM / 180.0

MODELS = {"carannante2013": "carannante2013", "iasp91": "iasp91"}
TABLE_DISTANCES_KM = np.arange(0.0, 151.0, 1.0)
TABLE_DEPTHS_KM = np.arange(0.0, 41.0, 1.0)


def _data_dir() -> Path:
    return Path(str(resources.files("faultprobe") / "data"))


def _iasp91_rows() -> np.ndarray:
    """IASP91 (depth, vp, vs, rho) rows from ObsPy's tvel file."""
    return np.loadtxt(_compat.taup_data_file("iasp91.tvel"), skiprows=2)


def carannante_nd_text() -> str:
    """The TauP `.nd` text of the Carannante et al. (2013) model over IASP91.

    Density is not used for travel times; it follows Gardner's rule rho = 1.74 Vp^0.25.
    Below 80 km the IASP91 mantle and core are appended with their named discontinuities.
    """
    lines = ["# Carannante et al. (2013) central Italy 1-D model (0-80 km) over IASP91."]
    for depth, vp, vs in CARANNANTE2013:
        lines.append(f"{depth:9.3f} {vp:8.4f} {vs:8.4f} {1.74 * vp**0.25:8.4f}")
    rows = _iasp91_rows()
    deep = rows[rows[:, 0] > 80.0]
    at80 = [
        np.interp(80.0, rows[rows[:, 0] >= 35.0][:, 0], rows[rows[:, 0] >= 35.0][:, i])
        for i in (1, 2, 3)
    ]
    lines.append("mantle")
    lines.append(f"{80.0:9.3f} {at80[0]:8.4f} {at80[1]:8.4f} {at80[2]:8.4f}")
    prev_vs = at80[1]
    for depth, vp, vs, rho in deep:
        if prev_vs > 0 and vs == 0:
            lines.append("outer-core")
        elif prev_vs == 0 and vs > 0:
            lines.append("inner-core")
        lines.append(f"{depth:9.3f} {vp:8.4f} {vs:8.4f} {rho:8.4f}")
        prev_vs = vs
    return "\n".join(lines) + "\n"


def build_model(name: str, folder: Path) -> Path:
    """Write `<name>.nd` and build the TauP model `<name>.npz` into `folder`."""
    from obspy.taup.taup_create import build_taup_model

    folder.mkdir(parents=True, exist_ok=True)
    nd = folder / f"{name}.nd"
    nd.write_text(carannante_nd_text())
    build_taup_model(str(nd), output_folder=str(folder), verbose=False)
    return folder / f"{name}.npz"


def taup_model(name: str):
    """A `TauPyModel` for a shipped model name, or any model ObsPy knows."""
    from obspy.taup import TauPyModel

    path = _data_dir() / f"{name}.npz"
    return TauPyModel(str(path) if path.exists() else name)


def _first_p_row(args: tuple[str, float, np.ndarray]) -> np.ndarray:
    """First P time (s) at one source depth for all distances (NaN where none)."""
    from obspy.taup.seismic_phase import SeismicPhase

    name, depth, distances = args
    model = taup_model(name).model.depth_correct(depth)
    phases = [SeismicPhase(p, model) for p in ("p", "P")]
    out = np.full(len(distances), np.nan)
    for i, km in enumerate(distances):
        times = [a.time for ph in phases for a in ph.calc_time(km / KM_PER_DEGREE)]
        if times:
            out[i] = min(times)
    return out


def build_p_table(
    name: str, distances=TABLE_DISTANCES_KM, depths=TABLE_DEPTHS_KM, workers: int | None = None
) -> dict[str, np.ndarray]:
    """First-P travel times over a distance x depth grid with TauP (slow: run once)."""
    workers = workers or os.cpu_count() or 1
    jobs = [(name, float(z), np.asarray(distances, float)) for z in depths]
    with ProcessPoolExecutor(workers) as pool:
        rows = list(pool.map(_first_p_row, jobs))
    return {
        "distance_km": np.asarray(distances, float),
        "depth_km": np.asarray(depths, float),
        "p_s": np.vstack(rows),
    }


class PTable:
    """First-P travel times interpolated bilinearly over a (depth, distance) grid."""

    def __init__(
        self,
        name: str,
        depth_km: np.ndarray,
        distance_km: np.ndarray,
        p_s: np.ndarray,
        surface_vp: float,
    ):
        self.name = name
        self.depth_km = depth_km
        self.distance_km = distance_km
        self.p_s = p_s
        self.surface_vp = surface_vp

    @classmethod
    def load(cls, name: str) -> PTable:
        """The shipped table for `name` (carannante2013 or iasp91)."""
        if name not in MODELS:
            raise ValueError(f"unknown velocity model {name!r}; shipped: {sorted(MODELS)}")
        path = _data_dir() / f"{name}_p_table.npz"
        with np.load(path) as z:
            vp0 = 5.63 if name == "carannante2013" else 5.8
            return cls(name, z["depth_km"], z["distance_km"], z["p_s"], vp0)

    def travel_time(
        self, distance_km: np.ndarray, depth_km: np.ndarray, elevation_m: np.ndarray | float = 0.0
    ) -> np.ndarray:
        """P travel time (s) for arrays of epicentral distance and depth (NaN off the table).

        The receiver elevation adds elevation / Vp(surface), a vertical-ray correction.
        """
        x = np.asarray(distance_km, float)
        z = np.clip(np.asarray(depth_km, float), self.depth_km[0], None)
        ok = (x >= self.distance_km[0]) & (x <= self.distance_km[-1]) & (z <= self.depth_km[-1])
        xi = np.clip(
            np.searchsorted(self.distance_km, x, side="right") - 1, 0, len(self.distance_km) - 2
        )
        zi = np.clip(np.searchsorted(self.depth_km, z, side="right") - 1, 0, len(self.depth_km) - 2)
        fx = (x - self.distance_km[xi]) / (self.distance_km[xi + 1] - self.distance_km[xi])
        fz = (z - self.depth_km[zi]) / (self.depth_km[zi + 1] - self.depth_km[zi])
        t = self.p_s
        out = (
            t[zi, xi] * (1 - fx) * (1 - fz)
            + t[zi, xi + 1] * fx * (1 - fz)
            + t[zi + 1, xi] * (1 - fx) * fz
            + t[zi + 1, xi + 1] * fx * fz
        )
        out = out + np.asarray(elevation_m, float) / 1000.0 / self.surface_vp
        return np.where(ok, out, np.nan)


def epicentral_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (km) between arrays of points (haversine, broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def main() -> None:
    """Rebuild the shipped model files: python -m faultprobe.pipelines.velocity."""
    folder = _data_dir()
    build_model("carannante2013", folder)
    for name in MODELS:
        table = build_p_table(name)
        np.savez_compressed(folder / f"{name}_p_table.npz", **table)
        print(name, table["p_s"].shape, np.isnan(table["p_s"]).sum(), "NaN")


if __name__ == "__main__":
    main()
