"""Theoretical P arrivals from a 1-D velocity model through a distance x depth table.

The central Italy model of Carannante et al. (2013) is shipped as a TauP `.nd` file (the
crust and upper mantle to 80 km, IASP91 below) together with the TauP model built from it
(`obspy.taup.taup_create.build_taup_model`) and a precomputed table of first-P times.
Travel times for every event x station pair then come from one vectorised bilinear
interpolation instead of one TauP call per pair (~20 ms each).  The same TauP models give
the whole-Earth first-P and first-S tables of the selection's isolation rule
(`build_arrival_table`; read by `faultprobe.earth.arrival_tables`).  This module builds
the shipped files (`python -m faultprobe.pipelines.velocity`); `faultprobe.earth` reads them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from faultprobe import _compat
from faultprobe.config import ConfigError
from faultprobe.earth import (
    CARANNANTE2013,
    MODELS,
    PTable,
    data_dir,
    obspy_velocity_models,
    velocity_models,
)
from faultprobe.geodesy import KM_PER_DEGREE

log = logging.getLogger(__name__)

TABLE_DISTANCES_KM = np.arange(0.0, 151.0, 1.0)
TABLE_DEPTHS_KM = np.arange(0.0, 41.0, 1.0)
# First P and first S over the whole Earth, for the selection's isolation rule (to ~1 s).
ARRIVAL_DISTANCES_KM = np.concatenate(
    [np.arange(0.0, 150.0, 2.0), np.arange(150.0, 2000.0, 10.0), np.arange(2000.0, 20101.0, 100.0)]
)
ARRIVAL_DEPTHS_KM = np.array(
    [0, 2, 5, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 150, 200, 300, 400, 500, 600, 700],
    dtype=float,
)
P_PHASES = ("p", "P", "Pn", "Pdiff", "PKP", "PKIKP")
S_PHASES = ("s", "S", "Sn", "Sdiff", "SKS", "SKIKS")


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

    path = data_dir() / f"{name}.npz"
    return TauPyModel(str(path) if path.exists() else name)


def _first_p_row(args: tuple) -> np.ndarray:
    """First arrival (s) of the phases (default p, P) at one source depth for all
    distances (NaN where none)."""
    from obspy.taup.seismic_phase import SeismicPhase

    name, depth, distances, *names = args
    model = taup_model(name).model.depth_correct(depth)
    phases = [SeismicPhase(p, model) for p in (names[0] if names else ("p", "P"))]
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
    jobs = [(name, float(z), np.asarray(distances, float)) for z in depths]
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    # spawn: the caller may run threads (a Dask client) that a fork would copy mid-lock
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        rows = list(pool.map(_first_p_row, jobs))
    return {
        "distance_km": np.asarray(distances, float),
        "depth_km": np.asarray(depths, float),
        "p_s": np.vstack(rows),
    }


def build_arrival_table(
    name: str, distances=ARRIVAL_DISTANCES_KM, depths=ARRIVAL_DEPTHS_KM, workers: int | None = None
) -> dict[str, np.ndarray]:
    """First-P and first-S times over a whole-Earth distance x depth grid with TauP
    (slow: run once); gaps of a phase family along distance (shadow zones) are filled by
    linear interpolation."""
    workers = workers or os.cpu_count() or 1
    dist = np.asarray(distances, float)
    out = {"distance_km": dist, "depth_km": np.asarray(depths, float)}
    for key, names in (("p_s", P_PHASES), ("s_s", S_PHASES)):
        jobs = [(name, float(z), dist, names) for z in depths]
        with ProcessPoolExecutor(workers) as pool:
            rows = np.vstack(list(pool.map(_first_p_row, jobs)))
        for row in rows:
            ok = ~np.isnan(row)
            row[~ok] = np.interp(dist[~ok], dist[ok], row[ok])
        out[key] = rows
    return out


def cache_dir() -> Path:
    """Where tables of ObsPy's models are kept: $XDG_CACHE_HOME/faultprobe (~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "faultprobe"


def write_p_table(name: str, path: Path, **grid) -> Path:
    """Build a model's first-P table (`build_p_table`, the shipped grid unless given) and
    write it atomically, so a killed build leaves no half table behind."""
    table = build_p_table(name, **grid)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}.npz")
    np.savez_compressed(tmp, **table)
    os.replace(tmp, path)
    return path


def load_p_table(name: str) -> PTable:
    """The first-P table of `name`: shipped (carannante2013, iasp91), or for another model of
    ObsPy's TauPy (ak135, prem, …) built from it once and kept in the user's cache
    (`cache_dir()`); building it is logged (info)."""
    if name in MODELS:
        return PTable.load(name)
    if name not in obspy_velocity_models():
        raise ConfigError(
            f"unknown velocity model {name!r}; accepted: {', '.join(velocity_models())}"
        )
    path = cache_dir() / f"{name}_p_table.npz"
    if not path.exists():
        log.info(f"building the first-P table of ObsPy's {name} model (once; {path}) …")
        write_p_table(name, path)
    vp0 = float(taup_model(name).model.s_mod.v_mod.evaluate_below(0.0, "p")[0])
    with np.load(path) as z:
        return PTable(name, z["depth_km"], z["distance_km"], z["p_s"], vp0)


def main() -> None:
    """Rebuild the shipped model files: python -m faultprobe.pipelines.velocity."""
    folder = data_dir()
    build_model("carannante2013", folder)
    for name in MODELS:
        table = build_p_table(name)
        np.savez_compressed(folder / f"{name}_p_table.npz", **table)
        print(name, table["p_s"].shape, np.isnan(table["p_s"]).sum(), "NaN")
        arrivals = build_arrival_table(name)
        np.savez_compressed(folder / f"{name}_arrivals.npz", **arrivals)
        print(name, "arrivals", arrivals["p_s"].shape)


if __name__ == "__main__":
    main()
