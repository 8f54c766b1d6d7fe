"""Earth models shared by the simulator and the ingest, kept in one place so the two agree,
and the source formulas the simulator and the physics baseline share."""

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

BETA_FC_M_S = 3300.0  # shear velocity in the Brune corner-frequency formula


def moment(mw: np.ndarray) -> np.ndarray:
    """Seismic moment (N·m) of moment magnitude."""
    return 10.0 ** (1.5 * np.asarray(mw, float) + 9.1)


def brune_fc(mw: np.ndarray, stress_drop_mpa: np.ndarray) -> np.ndarray:
    """Brune corner frequency fc = 0.4906 β (Δσ/M0)^(1/3) in SI units (Hz)."""
    return 0.4906 * BETA_FC_M_S * (np.asarray(stress_drop_mpa) * 1e6 / moment(mw)) ** (1 / 3)
