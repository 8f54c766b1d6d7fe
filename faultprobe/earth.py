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
