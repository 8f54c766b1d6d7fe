"""Small synthetic studies for tests, demos and quick honesty checks (seconds to write)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faultprobe.config import StudyConfig, parse_config


def small_study_table(folder: str | Path, **synthetic: Any) -> dict[str, Any]:
    """The TOML table of a 4-day study around a mainshock at 23:59:50 (its segment crosses midnight).

    Three stations (IV.NRCA at 100 Hz, 8P.T1212 at 125 Hz, far IV.SMA1), a few hundred
    events, 40 s segments (the default cube window fits at every station); `synthetic`
    entries override the [synthetic] section.
    """
    folder = Path(folder)
    out = folder / "synthetic"
    syn: dict[str, Any] = {
        "output": str(out),
        "seed": 7,
        "background_per_day": 30.0,
        "omori_k": 15.0,
        "noise_segments_per_day": 2,
        "segment_s": 40.0,
        "segment_lead_s": 10.0,
        "quakeml": True,
        "effect": {"dtstar_pre_max": 0.005, "dtstar_jump": 0.01},
    }
    for key, value in synthetic.items():
        if key == "effect" and isinstance(value, dict):
            syn["effect"] = {**syn["effect"], **value}
        else:
            syn[key] = value
    return {
        "study": {
            "name": "synthetic-small",
            "store": str(folder / "store"),
            "start": "2016-10-28T00:00:00Z",
            "end": "2016-11-01T00:00:00Z",
        },
        "mainshock": {
            "name": "Norcia",
            "time": "2016-10-29T23:59:50Z",
            "latitude": 42.83,
            "longitude": 13.11,
            "depth_km": 9.0,
            "magnitude": 6.5,
        },
        "fault": {"strike": 155.0, "dip": 47.0, "along_strike_km": [-15.0, 15.0]},
        "catalog": {"path": str(out / "catalog.txt"), "format": "tan2021"},
        "stations": {
            "codes": ["IV.NRCA", "8P.T1212"],
            "far": ["IV.SMA1"],
            "inventory": str(out / "stations.xml"),
        },
        "waveforms": {"source": "sds", "sds_root": str(out / "sds")},
        "cluster": {"kind": "local", "n_workers": 1},
        "synthetic": syn,
    }


def small_study(folder: str | Path, **synthetic: Any) -> StudyConfig:
    """`small_study_table` parsed into a `StudyConfig`."""
    return parse_config(small_study_table(folder, **synthetic), source="<small synthetic study>")
