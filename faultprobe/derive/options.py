"""What `faultprobe init` is given, what it derives on the way, and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from faultprobe.config import (
    Box,
    Fault,
    StudyConfig,
)
from faultprobe.derive import mainshock as msk
from faultprobe.derive import plane as pl
from faultprobe.derive import sequence as sq


@dataclass(frozen=True)
class InitOptions:
    """What `faultprobe init` was given (paths as the user typed them)."""

    catalog: str
    out: str
    quakeml: str | None = None
    event_service: str | None = None
    event_id: str | None = None
    time: str | None = None
    time_tolerance_s: float = 60.0
    catalog_format: str | None = None
    inventory: str | None = None
    station_service: str | None = None
    sds_root: str | None = None
    dataselect: str | None = None
    name: str | None = None
    store: str | None = None
    early_days: float = 14.0
    max_days: float = 60.0
    min_magnitude: float = 0.5
    station_radius_km: float = 60.0
    record_km: float = 30.0
    n_near: int = 8
    far_margin_km: float = 5.0
    synthetic: bool = False
    seed: int = 0


@dataclass
class InitResult:
    """The config text (and its simulated twin's), the dry-run summary and the warnings."""

    path: Path
    text: str
    cfg: StudyConfig
    summary: list[str]
    warnings: list[str] = field(default_factory=list)
    twin_path: Path | None = None
    twin_text: str | None = None


@dataclass
class Derived:
    """Everything derived before the stations are chosen."""

    main: msk.Mainshock
    events: pd.DataFrame
    fmt: str
    magnitude: str
    magnitude_note: str
    radius_km: float
    fault: Fault
    fault_notes: dict[str, str]
    plane_notes: list[str]
    window: sq.Window
    start: pd.Timestamp
    end: pd.Timestamp
    box: Box
    box_note: str
    shocks: pd.DataFrame
    foreshock: pd.Series | None
    mc: float
    b: float
    n_b: int
    cloud: pl.PlaneFit
    pre_rate_fault: float
    n_post_fault: int
    warnings: list[str] = field(default_factory=list)
