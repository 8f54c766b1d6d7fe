"""Earth models shared by the simulator, the selection and the ingest, kept in one place so
they agree: the 1-D velocity model and the shipped travel-time tables built from it
(`faultprobe.pipelines.velocity` builds them with TauP), and the source formulas the
simulator and the physics baseline share."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

MODELS = {"carannante2013": "carannante2013", "iasp91": "iasp91"}

# Carannante et al. (2013), JGR 118:5391, the 1-D central-Italy model used for INGV
# relocations: nodes with linear gradients between them (docs/norcia2016.md).
# Columns: depth km, Vp km/s, Vs km/s.
CARANNANTE2013 = np.array(
    [
        [0.0, 5.63, 2.80],
        [4.0, 6.22, 3.34],
        [8.0, 6.23, 3.386],
        [12.0, 6.24, 3.39],
        [20.0, 6.26, 3.37],
        [30.0, 6.62, 3.64],
        [80.0, 7.92, 4.33],
    ]
)

BETA_FC_M_S = 3300.0  # shear velocity in the Brune corner-frequency formula


def moment(mw: np.ndarray) -> np.ndarray:
    """Seismic moment (N·m) of moment magnitude."""
    return 10.0 ** (1.5 * np.asarray(mw, float) + 9.1)


def brune_fc(mw: np.ndarray, stress_drop_mpa: np.ndarray) -> np.ndarray:
    """Brune corner frequency fc = 0.4906 β (Δσ/M0)^(1/3) in SI units (Hz)."""
    return 0.4906 * BETA_FC_M_S * (np.asarray(stress_drop_mpa) * 1e6 / moment(mw)) ** (1 / 3)


def data_dir() -> Path:
    """The package's data folder (the models and travel-time tables)."""
    return Path(str(resources.files("faultprobe") / "data"))


class PTable:
    """First-arrival travel times interpolated bilinearly over a (depth, distance) grid."""

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
        path = data_dir() / f"{name}_p_table.npz"
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
        if self.surface_vp:
            out = out + np.asarray(elevation_m, float) / 1000.0 / self.surface_vp
        return np.where(ok, out, np.nan)


def arrival_tables(name: str) -> tuple[PTable, PTable]:
    """The shipped whole-Earth first-P and first-S tables for `name` (no station
    elevation term: their use, the selection's isolation, needs about a second)."""
    if name not in MODELS:
        raise ValueError(f"unknown velocity model {name!r}; shipped: {sorted(MODELS)}")
    with np.load(data_dir() / f"{name}_arrivals.npz") as z:
        depth, dist = z["depth_km"], z["distance_km"]
        return (
            PTable(f"{name} P", depth, dist, z["p_s"], 0.0),
            PTable(f"{name} S", depth, dist, z["s_s"], 0.0),
        )


# Velocity models with a first-P table shipped in faultprobe/data (docs/ingest.md).
SHIPPED_VELOCITY_MODELS = ("carannante2013", "iasp91")


def obspy_velocity_models() -> list[str]:
    """The 1-D models ObsPy's TauPy ships built (ak135, prem, …), found without importing it."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("obspy")
    if spec is None or spec.origin is None:
        return []
    return sorted(p.stem for p in (Path(spec.origin).parent / "taup" / "data").glob("*.npz"))


def velocity_models() -> list[str]:
    """Every name `[waveforms] velocity_model` accepts: the shipped models, then ObsPy's."""
    obspy = [m for m in obspy_velocity_models() if m not in SHIPPED_VELOCITY_MODELS]
    return [*SHIPPED_VELOCITY_MODELS, *obspy]
