"""Study configuration: one TOML file parsed once into typed, validated, frozen objects.

Every part of faultprobe takes the pieces of a `StudyConfig` it needs; nothing reads the
TOML again.  A wrong key, type or value raises `ConfigError` naming the file, the dotted
key and what was expected.  Relative paths are resolved against the config file's folder;
`s3://…` and other URLs are kept as they are.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)


class ConfigError(ValueError):
    """A study config that cannot be used; the message names the file and the key."""


def _to_utc(value: Any) -> datetime:
    """Accept TOML datetimes or ISO strings; naive values are taken as UTC."""
    if isinstance(value, str):
        value = pd.Timestamp(value).to_pydatetime()
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise ValueError("expected a date-time such as 2016-10-30T06:40:17Z")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UTCTime = Annotated[datetime, BeforeValidator(_to_utc)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StudyInfo(_Section):
    """Name, store and time window of the study."""

    name: str
    store: str = Field(description="study store folder: local path or s3://bucket/prefix")
    start: UTCTime
    end: UTCTime
    description: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> StudyInfo:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class Shock(_Section):
    """A large earthquake of the sequence (times in UTC)."""

    name: str
    time: UTCTime
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    depth_km: float = Field(ge=0, le=700)
    magnitude: float


class PhaseInterval(_Section):
    """An extra labelled interval, e.g. `visso` between Visso and Norcia."""

    name: str
    start: UTCTime
    end: UTCTime

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v in {"pre", "post"}:
            raise ValueError("'pre' and 'post' are reserved phase names")
        return v


class Fault(_Section):
    """A rectangular fault segment on the plane through the mainshock hypocenter.

    `along_strike_km` is measured from the hypocenter along the strike direction, the
    depth range bounds the segment down dip (top may be 0: the fault reaches the surface).
    """

    strike: float = Field(ge=0, le=360)
    dip: float = Field(gt=0, le=90)
    rake: float = -90.0
    along_strike_km: tuple[float, float] = (-15.0, 15.0)
    depth_km: tuple[float, float] = (0.0, 12.0)

    @field_validator("along_strike_km", "depth_km")
    @classmethod
    def _range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[1] <= v[0]:
            raise ValueError(f"expected [low, high] with low < high, got {list(v)}")
        return v


class Box(_Section):
    """The study box in the fault frame, relative to the mainshock epicenter (km).

    `across_strike_km` is horizontal, perpendicular to strike, positive toward
    strike - 90° (NE for a fault striking 155°): the paper's 15 km NE / 4 km SW is
    [-4, 15].
    """

    along_strike_km: tuple[float, float] = (-20.0, 20.0)
    across_strike_km: tuple[float, float] = (-4.0, 15.0)


class CsvColumns(_Section):
    """Column mapping for CSV catalogs: faultprobe name → name in the file."""

    time: str | None = "time"
    year: str | None = None
    month: str | None = None
    day: str | None = None
    hour: str | None = None
    minute: str | None = None
    second: str | None = None
    latitude: str = "latitude"
    longitude: str = "longitude"
    depth_km: str = "depth"
    magnitude: str = "magnitude"
    magnitude_type: str | None = None
    event_id: str | None = None


CatalogFormat = Literal["tan2021", "quakeml", "fdsn_text", "csv"]


class CatalogSource(_Section):
    """Where the earthquake catalog is read from."""

    path: str
    format: CatalogFormat = "tan2021"
    magnitude: Literal["mw", "ml", "best"] = Field(
        default="mw",
        description="magnitude column used for selection; 'best' is Mw where present, else ML",
    )
    columns: CsvColumns = CsvColumns()
    delimiter: str = ","


class Selection(_Section):
    """Rules that pick the study's events from the full catalog."""

    max_fault_distance_km: float = Field(default=3.0, gt=0)
    min_depth_km: float = 2.0
    min_magnitude: float = 0.5
    box: Box = Box()
    isolation_before_s: float = Field(
        default=5.0, ge=0, description="another event this long before an origin drops it"
    )
    isolation_after_s: float = Field(
        default=25.0,
        ge=0,
        description="another event this long after an origin drops it (20 s window + P time)",
    )


class Stations(_Section):
    """Stations of the study, as NET.STA codes, and where their metadata is found."""

    codes: list[str]
    far: list[str] = Field(default_factory=list, description="far control stations")
    inventory: str | None = Field(default=None, description="StationXML file")
    fdsn: str | None = Field(default=None, description="FDSN station service (name or URL)")
    channel_priority: list[str] = Field(default_factory=lambda: ["HH?", "EH?", "HN?"])
    network_aliases: dict[str, list[str]] = Field(
        default_factory=dict,
        description="other network codes a station's data may carry, e.g. 8P = ['IV']",
    )

    @field_validator("codes", "far")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        for code in v:
            parts = code.split(".")
            if len(parts) != 2 or not all(parts):
                raise ValueError(f"station code {code!r} is not NET.STA")
        return v

    @model_validator(mode="after")
    def _source(self) -> Stations:
        if self.inventory is None and self.fdsn is None:
            raise ValueError("give 'inventory' (StationXML file) or 'fdsn' (service)")
        return self

    @property
    def all_codes(self) -> list[str]:
        return list(dict.fromkeys([*self.codes, *self.far]))


class Waveforms(_Section):
    """Where waveforms come from and how the study window is cut."""

    source: Literal["sds", "fdsn", "synthetic"] = "sds"
    sds_root: str | None = None
    fdsn: str | None = Field(default=None, description="FDSN dataselect service (name or URL)")
    cache: str | None = Field(default=None, description="SDS cache for fetched miniSEED")
    eida_token: str | None = Field(default=None, description="path to an EIDA token file")
    max_requests_per_second: float = Field(default=4.0, gt=0)
    max_concurrent_requests: int = Field(default=2, ge=1)
    sampling_rate: float = Field(default=100.0, gt=0)
    window_s: tuple[float, float] = (-5.0, 20.0)
    velocity_model: str = "carannante2013"
    block_size: int = Field(default=256, ge=1, description="events per task and chunk")
    max_gap_s: float = Field(default=0.1, ge=0, description="gaps up to this are filled")
    remove_response: bool = False
    bandpass_hz: tuple[float, float] | None = None
    detrend: Literal["none", "demean", "linear"] = Field(
        default="none", description="stored data: raw counts ('none', as the paper) or detrended"
    )
    pad_s: float = Field(default=2.0, ge=0, description="extra data each side for resampling")
    codec: str = Field(default="auto", description="'auto' (measured on a sample) or a name")
    request_timeout_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, description="tries of one request before split")
    retry_backoff_s: float = Field(default=1.0, ge=0, description="first back-off, doubles")
    max_bulk_items: int = Field(default=200, ge=1, description="windows per bulk request")
    clip_counts: float = Field(default=8_388_000.0, gt=0, description="|counts| taken as clipped")
    clip_run: int = Field(default=5, ge=2, description="flat samples at the peak = clipped")

    @model_validator(mode="after")
    def _source(self) -> Waveforms:
        if self.source == "sds" and not self.sds_root:
            raise ValueError("source 'sds' needs 'sds_root'")
        if self.source == "fdsn" and not self.fdsn:
            raise ValueError("source 'fdsn' needs 'fdsn' (service name or URL)")
        if self.window_s[1] <= self.window_s[0]:
            raise ValueError("window_s must be [before, after] with before < after")
        return self

    @property
    def n_samples(self) -> int:
        return int(round((self.window_s[1] - self.window_s[0]) * self.sampling_rate))


class JobQueue(_Section):
    """Batch-system workers (dask-jobqueue)."""

    cores: int = 8
    memory: str = "32GB"
    walltime: str = "02:00:00"
    queue: str | None = None
    account: str | None = None
    jobs: int = 1
    processes: int = 1
    job_extra_directives: list[str] = Field(default_factory=list)
    local_directory: str | None = None


class Cluster(_Section):
    """Where Dask tasks run."""

    kind: Literal["local", "local-cuda", "slurm", "pbs", "kubernetes", "address"] = "local"
    n_workers: int | None = Field(default=None, ge=1, description="default: one per core")
    threads_per_worker: int = Field(default=1, ge=1)
    memory_limit: str = "auto"
    address: str | None = Field(default=None, description="scheduler address for 'address'")
    dashboard: bool = False
    jobqueue: JobQueue = JobQueue()
    kubernetes_image: str | None = None

    @model_validator(mode="after")
    def _address(self) -> Cluster:
        if self.kind == "address" and not self.address:
            raise ValueError("kind 'address' needs 'address' (e.g. tcp://host:8786)")
        return self


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
        default_factory=list, description="class edges for 'calendar' (default: months)"
    )
    balance: bool = Field(default=True, description="subsample classes to equal counts")
    split: Literal["temporal", "blocked"] = "temporal"
    fractions: tuple[float, float, float] = Field(
        default=(0.7, 0.2, 0.1), description="train, validation, test"
    )
    purge_s: float = Field(
        default=0.0, ge=0, description="no train event this close in time to a val/test one"
    )
    blocks: int = Field(default=10, ge=3, description="time blocks per class ('blocked')")
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
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        default="auto", description="auto: bf16/fp16 autocast on CUDA, fp32 on CPU"
    )
    seeds: list[int] = Field(default_factory=lambda: [1, 2, 3])

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(v) <= 0 or abs(sum(v) - 1.0) > 1e-6:
            raise ValueError(f"fractions must be positive and sum to 1, got {list(v)}")
        return v


class SyntheticStation(_Section):
    """A station of the simulated network (overrides the built-in table of real stations)."""

    code: str = Field(description="NET.STA")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    elevation_m: float = 0.0
    band: str = Field(default="HH", description="band + instrument code, e.g. HH or EH")
    sampling_rate: float = Field(default=100.0, gt=0)
    sensitivity: float = Field(default=5.03316e8, gt=0, description="counts per m/s")
    kappa_s: float | None = Field(default=None, ge=0, description="site kappa (s)")

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        parts = v.split(".")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"station code {v!r} is not NET.STA")
        return v

    @field_validator("sampling_rate")
    @classmethod
    def _exact_rate(cls, v: float) -> float:
        if (1e9 / v) != round(1e9 / v):
            raise ValueError("the sample interval must be a whole number of nanoseconds")
        return v


class SyntheticRegion(_Section):
    """An extra cluster of events away from the fault, for null tests."""

    name: str
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    depth_km: float = Field(default=8.0, ge=0)
    radius_km: float = Field(default=3.0, gt=0)
    rate_per_day: float = Field(default=5.0, ge=0)


class OmoriSequence(_Section):
    """Omori-Utsu aftershock rate K / (t + c)^p (t in days) after one named shock."""

    shock: str = Field(description="name of the mainshock or of one of [[shocks]]")
    k: float = Field(ge=0, description="events per day at t = 1 day (for c << 1)")
    c_days: float = Field(default=0.05, gt=0)
    p: float = Field(default=1.1, gt=0)


class FaultZoneEffect(_Section):
    """The injected, time-varying fault-zone attenuation change (DESIGN.md §5)."""

    dtstar_pre_max: float = Field(
        default=0.0, ge=0, description="extra t* (s) reached just before the mainshock"
    )
    dtstar_jump: float = Field(
        default=0.0, ge=0, description="step in extra t* (s) at the mainshock"
    )
    pre_days: float = Field(
        default=60.0, gt=0, description="the pre-mainshock growth lasts this long"
    )
    healing_tau_days: float = Field(default=1.0, gt=0, description="log-time healing scale")
    healing_days: float = Field(default=730.0, gt=0, description="time to heal fully")
    sign: Literal[1, -1] = Field(default=1, description="+1 more attenuation, -1 less")
    band_hz: tuple[float, float] | None = Field(
        default=None, description="confine the change to this band instead of all frequencies"
    )
    half_width_km: float = Field(default=1.5, gt=0, description="damage-zone half-width")
    along_strike_km: tuple[float, float] | None = Field(
        default=None, description="along-strike extent of the zone (default: [fault])"
    )
    depth_km: tuple[float, float] | None = Field(
        default=None, description="depth extent of the zone (default: [fault])"
    )

    @field_validator("band_hz")
    @classmethod
    def _band(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not 0 <= v[0] < v[1]:
            raise ValueError(f"expected [f1, f2] with 0 <= f1 < f2, got {list(v)}")
        return v


class Synthetic(_Section):
    """The offline sequence simulator (`faultprobe synth`); docs/synthetic.md."""

    output: str = Field(default="synthetic", description="folder the simulator writes into")
    seed: int = Field(default=0, ge=0)
    start: UTCTime | None = Field(default=None, description="catalog start (default: study start)")
    end: UTCTime | None = Field(default=None, description="catalog end (default: study end)")
    background_per_day: float = Field(default=20.0, ge=0, description="background events/day")
    omori_k: float = Field(default=300.0, ge=0, description="K of the mainshock's Omori law")
    omori_c_days: float = Field(default=0.05, gt=0)
    omori_p: float = Field(default=1.1, gt=0)
    omori_alpha: float = Field(
        default=1.0, ge=0, description="K of other shocks: omori_k * 10^(alpha (M - M_main))"
    )
    sequences: list[OmoriSequence] = Field(
        default_factory=list, description="per-shock Omori parameters (override the above)"
    )
    b_value: float = Field(default=1.1, gt=0)
    completeness: float = Field(default=0.6, description="completeness magnitude Mc")
    max_magnitude: float = Field(default=4.5)
    stress_drop_mpa: float = Field(default=2.1, gt=0, description="median stress drop")
    stress_drop_log_sigma: float = Field(default=0.5, ge=0, description="std of ln(stress drop)")
    fault_spread_km: float = Field(default=0.5, ge=0, description="std of distance to the plane")
    off_fault_fraction: float = Field(default=0.05, ge=0, le=1)
    depth_km: tuple[float, float] = Field(default=(1.0, 11.0), description="event depth range")
    location_error_km: float = Field(default=0.05, ge=0, description="catalog location noise")
    kappa_s: float = Field(default=0.03, ge=0, description="site kappa for stations without one")
    q_p: float = Field(default=350.0, gt=0)
    q_s: float = Field(default=250.0, gt=0)
    effect: FaultZoneEffect = FaultZoneEffect()
    noise_level: float = Field(default=3e-8, ge=0, description="noise rms (m/s)")
    noise_seasonal_amplitude: float = Field(default=0.3, ge=0, lt=1)
    noise_seasonal_peak_day: float = Field(default=15.0, description="day of year of the peak")
    noise_daily_amplitude: float = Field(default=0.4, ge=0, lt=1)
    noise_daily_peak_hour: float = Field(default=12.0, description="UTC hour of the peak")
    noise_segments_per_day: int = Field(default=4, ge=0)
    noise_years: float = Field(
        default=0.0, ge=0, description="noise segments over this many years to the study end"
    )
    regions: list[SyntheticRegion] = Field(default_factory=list)
    segment_s: float = Field(default=60.0, gt=0, description="length of every segment")
    segment_lead_s: float = Field(default=15.0, ge=0, description="segment start before origin")
    catalog_only: bool = False
    catalog_events: int | None = Field(
        default=None, ge=1, description="exact number of events (scale tests)"
    )
    quakeml: bool = False
    stations: list[SyntheticStation] = Field(
        default_factory=list, description="station table (default: built-in real stations)"
    )

    @field_validator("depth_km")
    @classmethod
    def _depths(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[1] <= v[0]:
            raise ValueError(f"expected [low, high] with low < high, got {list(v)}")
        return v

    @model_validator(mode="after")
    def _magnitudes(self) -> Synthetic:
        if self.max_magnitude <= self.completeness:
            raise ValueError("max_magnitude must exceed completeness")
        if self.segment_lead_s >= self.segment_s:
            raise ValueError("segment_lead_s must be shorter than segment_s")
        return self


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
    """Table 2 / Fig. 4: train binary models on wrong mainshock dates, score on true ones."""

    enabled: bool = True
    station: str | None = Field(default=None, description="default: the first station")
    dates: list[UTCTime] = Field(default_factory=list, description="false mainshock times")
    seeds: list[int] = Field(default_factory=list, description="empty: the first [train] seed")


class BandsGrid(_Section):
    """Fig. 5: band-pass inputs in fixed-width bands against the raw-trace baseline."""

    enabled: bool = True
    station: str | None = Field(default=None, description="default: the first station")
    width_hz: float = Field(default=3.0, gt=0)
    first_hz: float = Field(default=1.0, gt=0, description="low edge of the first band")
    max_hz: float = Field(default=48.0, gt=0, description="no band reaches above this")
    bands: list[tuple[float, float]] = Field(
        default_factory=list, description="explicit [low, high] bands (override the steps)"
    )
    classes: int = Field(default=2, ge=2)
    seeds: list[int] = Field(default_factory=list, description="empty: the first [train] seed")

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
    seeds: list[int] = Field(default_factory=list, description="empty: the first [train] seed")


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
    seeds: list[int] = Field(default_factory=list, description="empty: the first [train] seed")


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


class Experiments(_Section):
    """The paper's diagnostics as named grids (`faultprobe experiments`); docs/diagnostics.md."""

    table1: Table1Grid = Table1Grid()
    false_dates: FalseDatesGrid = FalseDatesGrid()
    bands: BandsGrid = BandsGrid()
    seasonality: SeasonalityGrid = SeasonalityGrid(enabled=False)
    null: NullGrid = NullGrid()
    pairs: PairsAnalysis = PairsAnalysis()
    retries: int = Field(default=0, ge=0, description="extra tries of a failed run")


class StudyConfig(_Section):
    """A whole study: what the TOML file describes."""

    study: StudyInfo
    mainshock: Shock
    shocks: list[Shock] = Field(default_factory=list, description="other large events")
    phases: list[PhaseInterval] = Field(default_factory=list)
    fault: Fault
    catalog: CatalogSource
    selection: Selection = Selection()
    stations: Stations
    waveforms: Waveforms
    cluster: Cluster = Cluster()
    # Sections filled by later stages; kept as plain tables until their stage types them.
    synthetic: Synthetic = Synthetic()
    train: Train = Train()
    experiments: Experiments = Experiments()

    source_path: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _mainshock_in_window(self) -> StudyConfig:
        if not self.study.start <= self.mainshock.time <= self.study.end:
            raise ValueError(
                f"mainshock time {self.mainshock.time} is outside the study window "
                f"[{self.study.start}, {self.study.end}]"
            )
        return self

    def hash(self) -> str:
        """A short, stable hash of the config content (paths included)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _is_url(path: str) -> bool:
    return "://" in path


def _resolve(path: str | None, base: Path) -> str | None:
    if path is None or _is_url(path):
        return path
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make every file path in the raw table absolute against the config's folder."""
    wanted = {
        ("study", "store"),
        ("catalog", "path"),
        ("stations", "inventory"),
        ("waveforms", "sds_root"),
        ("waveforms", "cache"),
        ("waveforms", "eida_token"),
        ("synthetic", "output"),
    }
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for section, key in wanted:
        table = out.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str):
            table[key] = _resolve(table[key], base)
    return out


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid study config"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling and section)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        got = e.get("input")
        shown = "" if e["type"] in {"missing"} or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {key}: {msg}{shown}")
    return "\n".join(lines)


def parse_config(
    raw: dict[str, Any], source: str = "<config>", base: Path | None = None
) -> StudyConfig:
    """Validate a TOML table into a `StudyConfig`; errors name `source` and the key.

    Relative paths (given or defaulted) are resolved against `base` (the config's folder).
    """
    base = base or Path.cwd()
    try:
        cfg = StudyConfig.model_validate(raw)
        cfg = StudyConfig.model_validate(_resolve_paths(cfg.model_dump(), base))
    except ValidationError as err:
        raise ConfigError(_format_errors(err, source)) from None
    return cfg.model_copy(update={"source_path": source})


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate a study config file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config ({err.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    return parse_config(raw, source=str(path), base=path.resolve().parent)


def dump_toml(cfg: StudyConfig) -> str:
    """Serialise a config back to TOML (the frozen copy written into the store)."""
    return _toml(cfg.model_dump(mode="python", exclude_none=True))


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return (
            "{ "
            + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items())
            + " }"
        )
    return json.dumps(str(v))


def _toml(table: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer: scalars first, then sub-tables and arrays of tables."""
    scalars, tables, arrays = [], [], []
    for k, v in table.items():
        if isinstance(v, dict):
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            arrays.append((k, v))
        else:
            scalars.append(f"{k} = {_toml_value(v)}")
    out = "\n".join(scalars) + ("\n" if scalars else "")
    for k, v in tables:
        name = f"{prefix}{k}"
        out += f"\n[{name}]\n" + _toml(v, prefix=name + ".")
    for k, items in arrays:
        name = f"{prefix}{k}"
        for item in items:
            out += f"\n[[{name}]]\n" + _toml(item, prefix=name + ".")
    return out
