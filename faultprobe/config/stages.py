"""The settings each stage takes: small frozen objects built once from a `StudyConfig`.

The stage entry points (`build_catalog`, `ingest`, `synthesize`, the monitor, the grids)
parse the study once and hand these down; a Dask task gets only what it uses, so what
travels to a worker is a few sections, not the whole study.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from faultprobe.config.sections import (
    CatalogSource,
    Fault,
    PhaseInterval,
    Selection,
    Shock,
    Stations,
    Waveforms,
)
from faultprobe.config.synthetic import Synthetic
from faultprobe.config.tracking import Monitor, Track
from faultprobe.config.training import Experiments, Train

if TYPE_CHECKING:
    from faultprobe.config import StudyConfig


def _digest(section) -> str:
    blob = json.dumps(section.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class SynthWorld:
    """What the simulated sequence depends on: the `[synthetic]` section, the shocks, the
    fault, the study window and the station codes (a simulated archive is built from it)."""

    synthetic: Synthetic
    mainshock: Shock
    shocks: tuple[Shock, ...]
    fault: Fault
    start: datetime
    end: datetime
    name: str
    station_codes: tuple[str, ...]
    source_path: str | None = None

    @classmethod
    def of(cls, cfg: StudyConfig) -> SynthWorld:
        return cls(
            cfg.synthetic,
            cfg.mainshock,
            tuple(cfg.shocks),
            cfg.fault,
            cfg.study.start,
            cfg.study.end,
            cfg.study.name,
            tuple(cfg.stations.all_codes),
            cfg.source_path,
        )


@dataclass(frozen=True)
class IngestSettings:
    """What fetching and preprocessing windows into a store needs: the `[waveforms]`
    section, the store, the station metadata and aliases, the study window."""

    waveforms: Waveforms
    store: str
    network_aliases: dict[str, list[str]]
    inventory: str | None  # [stations] inventory (else the store's saved StationXML)
    start: datetime
    end: datetime
    config_hash: str
    source_path: str | None = None
    world: SynthWorld | None = None  # for source 'synthetic' only
    synthetic_digest: str | None = None  # hash of [synthetic], an input of its blocks

    @classmethod
    def of(cls, cfg: StudyConfig) -> IngestSettings:
        synthetic = cfg.waveforms.source == "synthetic"
        return cls(
            cfg.waveforms,
            cfg.study.store,
            cfg.stations.network_aliases,
            cfg.stations.inventory,
            cfg.study.start,
            cfg.study.end,
            cfg.hash(),
            cfg.source_path,
            SynthWorld.of(cfg) if synthetic else None,
            _digest(cfg.synthetic) if synthetic else None,
        )


@dataclass(frozen=True)
class SelectionSettings:
    """What the event selection applies: `[selection]`, the fault and mainshock, the
    study window, the phases and the velocity model (travel-time isolation)."""

    selection: Selection
    fault: Fault
    mainshock: Shock
    phases: tuple[PhaseInterval, ...]
    start: datetime
    end: datetime
    velocity_model: str

    @classmethod
    def of(cls, cfg: StudyConfig) -> SelectionSettings:
        return cls(
            cfg.selection,
            cfg.fault,
            cfg.mainshock,
            tuple(cfg.phases),
            cfg.study.start,
            cfg.study.end,
            cfg.waveforms.velocity_model,
        )


@dataclass(frozen=True)
class TrainSettings:
    """What a run's spec is made of: `[train]`, the mainshock, the phases and the
    `[stations]` section (its first code is the default station). The names are those of
    `StudyConfig`, so `spec_from_config` reads either."""

    train: Train
    mainshock: Shock
    phases: tuple[PhaseInterval, ...]
    stations: Stations

    @classmethod
    def of(cls, cfg: StudyConfig) -> TrainSettings:
        return cls(**_train_fields(cfg))


def _train_fields(cfg: StudyConfig) -> dict:
    """TrainSettings' fields, which the grid and tracking settings extend."""
    return {
        "train": cfg.train,
        "mainshock": cfg.mainshock,
        "phases": tuple(cfg.phases),
        "stations": cfg.stations,
    }


@dataclass(frozen=True)
class GridSettings(TrainSettings):
    """What the experiment grids expand into runs: the run settings, `[experiments]` and
    the store they write to."""

    experiments: Experiments = Experiments()
    store: str = ""

    @classmethod
    def of(cls, cfg: StudyConfig) -> GridSettings:
        return cls(**_train_fields(cfg), experiments=cfg.experiments, store=cfg.study.store)


@dataclass(frozen=True)
class TrackSettings(TrainSettings):
    """What tracking the fault state needs: the run settings, `[track]`, the store, and
    the simulated world when the study is synthetic (its true Δt*), else None."""

    track: Track = Track()
    store: str = ""
    world: SynthWorld | None = None

    @classmethod
    def of(cls, cfg: StudyConfig) -> TrackSettings:
        world = SynthWorld.of(cfg) if "synthetic" in cfg.given_sections else None
        return cls(**_train_fields(cfg), track=cfg.track, store=cfg.study.store, world=world)


@dataclass(frozen=True)
class MonitorSettings:
    """What following a catalog with a trained run needs: `[monitor]`, `[track]` (the
    index), the catalog, the selection and the ingest of new windows."""

    monitor: Monitor
    track: Track
    catalog: CatalogSource
    selection: SelectionSettings
    ingest: IngestSettings

    @classmethod
    def of(cls, cfg: StudyConfig) -> MonitorSettings:
        return cls(
            cfg.monitor,
            cfg.track,
            cfg.catalog,
            SelectionSettings.of(cfg),
            IngestSettings.of(cfg),
        )


__all__ = [
    "GridSettings",
    "IngestSettings",
    "MonitorSettings",
    "SelectionSettings",
    "SynthWorld",
    "TrackSettings",
    "TrainSettings",
]
