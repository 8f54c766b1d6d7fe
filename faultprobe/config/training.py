"""The `[train]` and `[experiments]` sections: training options and the diagnostic grids."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    field_validator,
)

from faultprobe.config.base import UTCTime, _Section


class Train(_Section):
    """How the CNN is trained (`faultprobe train`; defaults are the paper's)."""

    stations: list[str] = Field(
        default_factory=list, description="station codes (STA or NET.STA); empty: the first"
    )
    classes: int = Field(default=2, ge=2, description="number of classes")
    labelling: Literal["binary", "ttf", "phases", "calendar"] = Field(
        default="ttf",
        description="binary pre/post, equal-count time-to-failure bins, phases as own "
        "classes (9 = 4 pre + visso + 4 post), or fixed calendar bins",
    )
    calendar_edges: list[UTCTime] = Field(
        default_factory=list,
        description="class edges for 'calendar' (default: the calendar months with most events)",
    )
    exclude_phases: bool = Field(
        default=True,
        description="binary and ttf labellings leave out events inside [[phases]] (the "
        "Visso-Norcia interval), as the paper's 2/4/8-class models do; the phases labelling "
        "(9 classes) always keeps them as classes of their own",
    )
    balance: bool = Field(default=True, description="subsample classes to equal counts")
    split: Literal["temporal", "spread", "blocked"] = Field(
        default="temporal",
        description="temporal: val and test from the middle of each class (the paper); "
        "spread: that layout inside each of `blocks` time blocks per class; blocked: whole "
        "blocks dealt to the splits",
    )
    fractions: tuple[float, float, float] = Field(
        default=(0.7, 0.2, 0.1),
        description="train, validation, test: 70/20/10 as the paper's text; its authors' "
        "released code used 70/10/20",
    )
    purge_s: float = Field(
        default=0.0, ge=0, description="no train event this close in time to a val/test one"
    )
    blocks: int = Field(default=10, ge=1, description="time blocks per class (spread, blocked)")
    window_s: tuple[float, float] | None = Field(
        default=None, description="cut of the cube's time axis fed to the model (s)"
    )
    band_hz: tuple[float, float] | None = Field(default=None, description="band-pass inputs")
    epochs: int = Field(default=40, ge=1)
    batch_size: int = Field(default=32, ge=2)
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-3, ge=0)
    patience: int = Field(default=10, ge=0, description="early stopping; 0 = off")
    width: float = Field(default=1.0, gt=0, description="multiplier of the filter counts")
    dilation: int = Field(default=2, ge=1, description="dilation growth from block 3; 1 = off")
    dropout: float = Field(default=0.2, ge=0, lt=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(
        default=0,
        ge=0,
        description="torch threads per run; 0: $FAULTPROBE_TORCH_THREADS if set, else one "
        "per task slot on Dask workers and all cores for `faultprobe train`",
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        default="auto", description="auto: bf16/fp16 autocast on CUDA, fp32 on CPU"
    )
    seeds: list[int] = Field(default_factory=lambda: [1, 2, 3])
    memory_budget: str | None = Field(
        default=None,
        description="a station slice larger than this (e.g. '8GB') trains by streaming "
        "from the cube; none: always in memory",
    )

    @field_validator("memory_budget")
    @classmethod
    def _budget(cls, v: str | None) -> str | None:
        if v is not None:
            from faultprobe.config.sections import parse_bytes_field

            if parse_bytes_field(v, "memory_budget") <= 0:
                raise ValueError(f"memory_budget must be above 0, got {v!r}")
        return v

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(v) <= 0 or abs(sum(v) - 1.0) > 1e-6:
            raise ValueError(f"fractions must be positive and sum to 1, got {list(v)}")
        return v


class Table1Grid(_Section):
    """Table 1: stations × class counts × seeds (mean ± std of accuracy and recall)."""

    enabled: bool = True
    stations: list[str] = Field(
        default_factory=list, description="NET.STA codes; empty: [stations] codes and far"
    )
    classes: list[int] = Field(default_factory=lambda: [2, 4, 8, 9])
    seeds: list[int] = Field(default_factory=list, description="empty: [train] seeds")

    @field_validator("classes")
    @classmethod
    def _classes(cls, v: list[int]) -> list[int]:
        if any(n < 2 for n in v):
            raise ValueError(f"class counts must be >= 2, got {v}")
        return v


class FalseDatesGrid(_Section):
    """Table 2 / Fig. 4: train binary models on wrong mainshock dates, score on true ones.

    Every run of this grid (the true-date one too) uses the `spread` split: validation and
    test events interleaved with training ones through time, so a false interval anywhere
    in the window holds test events (the paper's NM grows with the interval).  Training
    and validation classes are balanced on the false labels the model trains on; the test
    split keeps every event, so each interval holds test events in proportion to its events
    and the accuracy against the true labels is not skewed by subsampling on false ones.
    """

    enabled: bool = True
    station: str | None = Field(default=None, description="default: the first station")
    dates: list[UTCTime] = Field(default_factory=list, description="false mainshock times")
    seeds: list[int] = Field(default_factory=list, description="empty: [train] seeds")
    blocks: int = Field(default=20, ge=1, description="time blocks per class of the split")
    purge_s: float = Field(
        default=3600.0, ge=0, description="gap between a block's training and held-out events"
    )


class BandsGrid(_Section):
    """Fig. 5: band-pass inputs in fixed-width bands against the raw-trace baseline.

    The default grid is the paper's 3 Hz steps on multiples of 3 Hz from 3 Hz: 3-6, 6-9,
    9-12 (its example), ... 45-48 Hz.  The 0-3 Hz step is left out: a band-pass needs a low
    corner above zero, and below 3 Hz the records hold little but microseism and the
    sensor's roll-off (add `bands = [[0.5, 3.0], ...]` to test it)."""

    enabled: bool = True
    station: str | None = Field(default=None, description="default: the first station")
    width_hz: float = Field(default=3.0, gt=0)
    first_hz: float = Field(default=3.0, gt=0, description="low edge of the first band")
    max_hz: float = Field(default=48.0, gt=0, description="no band reaches above this")
    bands: list[tuple[float, float]] = Field(
        default_factory=list, description="explicit [low, high] bands (override the steps)"
    )
    classes: int = Field(default=2, ge=2)
    seeds: list[int] = Field(default_factory=list, description="empty: [train] seeds")

    def band_list(self) -> list[tuple[float, float]]:
        """The bands of the grid: explicit ones, else steps of `width_hz` up to `max_hz`."""
        if self.bands:
            return [tuple(b) for b in self.bands]
        out, lo = [], self.first_hz
        while lo + self.width_hz <= self.max_hz + 1e-9:
            out.append((round(lo, 6), round(lo + self.width_hz, 6)))
            lo += self.width_hz
        return out


class SeasonalityGrid(_Section):
    """Ambient-noise windows (STA/LTA-checked) in 4-month spans split into two classes."""

    enabled: bool = True
    stations: list[str] = Field(default_factory=list, description="default: the first station")
    start: UTCTime | None = Field(default=None, description="first span start (default: data)")
    end: UTCTime | None = Field(default=None, description="last span end (default: data)")
    span_months: int = Field(default=4, ge=2, description="months per span (two classes)")
    step_months: int = Field(default=4, ge=1, description="months between span starts")
    skip_years: list[int] = Field(default_factory=list, description="years left out")
    window_s: float = Field(default=25.0, gt=0, description="noise window length")
    windows_per_day: int = Field(default=4, ge=1, description="at most this many a day")
    sta_s: float = Field(default=0.5, gt=0)
    lta_s: float = Field(default=10.0, gt=0)
    trigger_on: float = Field(default=3.5, gt=0, description="STA/LTA ratio that is an event")
    event_margin_s: float = Field(
        default=60.0, ge=0, description="no catalog event this close to a window"
    )
    min_windows: int = Field(default=40, ge=4, description="fewer windows: the span is skipped")
    events: bool = Field(default=True, description="also event records in spans of the study")
    seeds: list[int] = Field(default_factory=list, description="empty: [train] seeds")


class NullRegion(_Section):
    """Events from another region, recorded at a station, as a null test."""

    name: str
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    radius_km: float = Field(default=5.0, gt=0)
    min_depth_km: float = 0.0
    stations: list[str] = Field(default_factory=list, description="default: the far stations")


class NullGrid(_Section):
    """Null tests: far stations (binary) and events of other regions."""

    enabled: bool = True
    far: bool = Field(default=True, description="binary runs on the far stations")
    regions: list[NullRegion] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=list, description="empty: [train] seeds")


class PairsAnalysis(_Section):
    """Fig. 6: co-located pre/post pairs, multitaper spectra and post/pre ratios."""

    enabled: bool = True
    station: str | None = Field(default=None, description="default: the first station")
    max_distance_m: float = Field(default=500.0, gt=0)
    max_magnitude_difference: float = Field(default=0.1, ge=0)
    max_pairs: int = Field(default=1000, ge=1, description="closest pairs kept")
    time_bandwidth: float = Field(default=4.0, gt=0, description="multitaper NW")
    window_s: tuple[float, float] | None = Field(
        default=None, description="cut of the record used (default: the whole window)"
    )
    smooth_hz: float = Field(default=1.0, ge=0, description="ratio smoothing width")


class ControlsGrid(_Section):
    """Controls per station against the confounds: noise, composition, station changes
    (docs/diagnostics.md, "Controls and the verdict")."""

    enabled: bool = False
    stations: list[str] = Field(default_factory=list, description="default: the first station")
    seeds: list[int] = Field(default_factory=list, description="empty: [train] seeds")
    controls: list[
        Literal["noise", "noise_spectrum", "metadata", "matched", "physics", "attribution"]
    ] = Field(
        default_factory=lambda: [
            "noise", "noise_spectrum", "metadata", "matched", "physics", "attribution"
        ]
    )  # fmt: skip
    noise_window_s: tuple[float, float] = Field(
        default=(-5.0, -0.5), description="pre-P window (s from P) of the noise-only controls"
    )
    match_caliper: float = Field(
        default=0.5, gt=0, description="largest matched distance in standard deviations"
    )
    bands_hz: list[tuple[float, float]] = Field(
        default_factory=lambda: [(0.5, 2.0), (2.0, 5.0), (5.0, 10.0), (10.0, 20.0), (20.0, 50.0)],
        description="frequency bands of the attribution map",
    )
    p_window_s: float = Field(default=0.5, gt=0, description="P segment length (s)")
    s_window_s: float = Field(default=1.0, gt=0, description="S segment length (s)")
    vp_vs: float = Field(default=1.85, gt=1, description="for the S time from the P travel time")
    station_change_days: float = Field(
        default=2.0, gt=0, description="a noise step this far from the mainshock: a station change"
    )


class Experiments(_Section):
    """The paper's diagnostics as named grids (`faultprobe experiments`); docs/diagnostics.md."""

    table1: Table1Grid = Table1Grid()
    false_dates: FalseDatesGrid = FalseDatesGrid()
    bands: BandsGrid = BandsGrid()
    seasonality: SeasonalityGrid = SeasonalityGrid(enabled=False)
    null: NullGrid = NullGrid()
    pairs: PairsAnalysis = PairsAnalysis()
    controls: ControlsGrid = ControlsGrid()
    retries: int = Field(default=0, ge=0, description="extra tries of a failed run")
