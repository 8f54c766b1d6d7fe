"""Earth models shared by the simulator and the ingest, kept in one place so the two agree."""

from __future__ import annotations

import numpy as np

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
