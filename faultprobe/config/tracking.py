"""The `[track]` and `[monitor]` sections: fault-state tracking and live monitoring."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from faultprobe.config.base import UTCTime, _Section


class Track(_Section):
    """`faultprobe track`: cross-fitted scores of every event and the fault-state index.

    The model, its inputs and the training options come from `[train]`; this section says
    how the events are cut into folds and how the index is built from their scores.
    """

    stations: list[str] = Field(
        default_factory=list,
        description="stations tracked by default (STA or NET.STA); empty: the first station "
        "of [stations] and the far ones",
    )
    classes: int = Field(
        default=2, ge=2, description="2: pre/post; an even number: time-to-failure classes"
    )
    folds: int = Field(default=5, ge=2, description="equal-count time blocks (cross-fitting)")
    purge_s: float = Field(
        default=86400.0,
        ge=0,
        description="events of other folds this close in time to a scored fold are left out "
        "of its model (its neighbours in time)",
    )
    fractions: tuple[float, float, float] = Field(
        default=(0.7, 0.15, 0.15),
        description="the other folds' events as train, validation (best epoch) and "
        "calibration (the decision threshold: the median score of a balanced set never fitted)",
    )
    blocks: int = Field(default=10, ge=1, description="time blocks of the inner spread layout")
    seeds: list[int] = Field(default_factory=list, description="empty: [train] seeds")
    window_events: int = Field(
        default=40, ge=5, description="events per window of the index (inside one fold)"
    )
    bootstrap: int = Field(default=1000, ge=100, description="bootstrap draws for the band")
    band_level: float = Field(default=0.95, gt=0, lt=1, description="bootstrap band level")
    chance_level: float = Field(
        default=0.99, gt=0, lt=1, description="level of the chance band of every window"
    )
    penalty: float = Field(
        default=6.0,
        gt=0,
        description="change-point penalty, in units of 0.25 (log n + events per fold / "
        "calibration events per fold) (docs/tracking.md)",
    )
    min_segment_events: int = Field(
        default=20, ge=2, description="fewest events between two change points"
    )

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(v) <= 0 or abs(sum(v) - 1.0) > 1e-6:
            raise ValueError(f"fractions must be positive and sum to 1, got {list(v)}")
        return v

    @field_validator("classes")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError(f"tracking needs pre and post classes: an even count, got {v}")
        return v


class Monitor(_Section):
    """`faultprobe monitor`: new events scored as their data arrive (docs/monitoring.md)."""

    store: str | None = Field(
        default=None,
        description="monitoring store (cube, scores, index, alerts); default: STORE/monitor",
    )
    events: Literal["catalog", "fdsn"] = Field(
        default="catalog",
        description="where new events come from: the [catalog] file read again at every "
        "poll, or an FDSN event service ('fdsn_event')",
    )
    fdsn_event: str | None = Field(default=None, description="FDSN event service (name or URL)")
    start: UTCTime | None = Field(
        default=None,
        description="events from this origin time on; default: the end of the run's data "
        "(its latest training, validation or test event; now when unknown), so the monitor "
        "scores only events the run never saw; an earlier start replays them, and every "
        "line from such events says 'in-sample'",
    )
    poll_s: float = Field(default=60.0, gt=0, description="seconds between polls")
    lookback_s: float = Field(
        default=86400.0,
        ge=0,
        description="each poll asks the event service again this far back (late reports)",
    )
    catalog_delay_s: float = Field(
        default=600.0,
        ge=0,
        description="the catalog is taken as complete up to this long before now (UTC), so "
        "the isolation rule is decided without waiting for a later event",
    )
    replay: bool = Field(
        default=False,
        description="a past sequence fed as if live: the catalog counts as complete only up "
        "to its latest event (the wall clock says nothing about it)",
    )
    give_up_s: float = Field(
        default=3 * 86400.0,
        ge=0,
        description="an event whose waveforms are still incomplete this long after the "
        "monitor first selected it is stored with its status (no_data, gap…) instead of "
        "waiting for them",
    )
    batch_events: int = Field(default=256, ge=1, description="most events per cube append")
    chunk_events: int = Field(default=32, ge=1, description="events per chunk of the cube")
    window_events: int | None = Field(
        default=None, ge=5, description="events per index window (default: [track])"
    )
    threshold: float = Field(
        default=0.7,
        gt=0,
        lt=1,
        description="a line when the index (post-like fraction of the last window) crosses it",
    )
    request_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _service(self) -> Monitor:
        if self.events == "fdsn" and not self.fdsn_event:
            raise ValueError("events = 'fdsn' needs 'fdsn_event' (service name or URL)")
        return self
