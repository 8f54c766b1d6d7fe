"""The `[synthetic]` section: every knob of the sequence simulator (docs/synthetic.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from faultprobe.config.base import UTCTime, _Section


def _valid_band(v: tuple[float, float] | None) -> tuple[float, float] | None:
    """A frequency band [f1, f2] with 0 <= f1 < f2, or None."""
    if v is not None and not 0 <= v[0] < v[1]:
        raise ValueError(f"expected [f1, f2] with 0 <= f1 < f2, got {list(v)}")
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
    """The injected, time-varying fault-zone attenuation change (docs/synthetic.md)."""

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
        return _valid_band(v)


class NoiseChange(_Section):
    """A confound: the ambient noise changes after the mainshock (docs/synthetic.md)."""

    level_factor: float = Field(
        default=1.0, gt=0, description="noise rms times this just after the mainshock"
    )
    band_hz: tuple[float, float] | None = Field(
        default=None, description="band whose noise amplitude is multiplied by band_factor"
    )
    band_factor: float = Field(default=1.0, ge=0, description="amplitude factor in band_hz")
    slope: float = Field(
        default=0.0, description="spectral tilt: amplitude times (f / pivot_hz)^slope"
    )
    pivot_hz: float = Field(default=5.0, gt=0, description="frequency the tilt leaves alone")
    decay_days: float | None = Field(
        default=None, gt=0, description="the change decays as exp(-t/decay_days) (None: a step)"
    )

    @field_validator("band_hz")
    @classmethod
    def _band(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        return _valid_band(v)

    @property
    def spectral(self) -> bool:
        """Whether the change alters the noise's spectral shape (not only its level)."""
        return (self.band_hz is not None and self.band_factor != 1.0) or self.slope != 0.0

    @property
    def active(self) -> bool:
        """Whether the switch is on (any knob away from its neutral default)."""
        return self.level_factor != 1.0 or self.spectral


class CompositionChange(_Section):
    """A confound: events after the mainshock are drawn differently (docs/synthetic.md)."""

    magnitude_shift: float = Field(
        default=0.0, description="added to every post-mainshock magnitude (< 0: smaller)"
    )
    along_strike_km: tuple[float, float] | None = Field(
        default=None, description="post events along strike in this range (default: fault's)"
    )
    depth_km: tuple[float, float] | None = Field(
        default=None, description="post events in this depth range (default: depth_km)"
    )
    hours_utc: tuple[float, float] | None = Field(
        default=None, description="post events moved into this UTC hour-of-day window [h1, h2)"
    )

    @field_validator("along_strike_km", "depth_km")
    @classmethod
    def _range(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and v[1] <= v[0]:
            raise ValueError(f"expected [low, high] with low < high, got {list(v)}")
        return v

    @field_validator("hours_utc")
    @classmethod
    def _hours(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not 0 <= v[0] < v[1] <= 24:
            raise ValueError(f"expected [h1, h2] with 0 <= h1 < h2 <= 24, got {list(v)}")
        return v

    @property
    def active(self) -> bool:
        """Whether the switch is on (any knob away from its neutral default)."""
        return self.magnitude_shift != 0.0 or any(
            x is not None for x in (self.along_strike_km, self.depth_km, self.hours_utc)
        )


class StationChange(_Section):
    """A confound: one station's gain, response or sampling rate changes on a date."""

    station: str = Field(description="NET.STA")
    time: UTCTime = Field(description="when the change takes effect")
    gain_factor: float = Field(default=1.0, gt=0, description="counts per m/s times this")
    sensor_corner_hz: float | None = Field(
        default=None, gt=0, description="a 2nd-order high-pass (a geophone's natural frequency)"
    )
    lowpass_hz: float | None = Field(
        default=None, gt=0, description="a 4th-order Butterworth low-pass (a new digitiser)"
    )
    sampling_rate: float | None = Field(default=None, gt=0, description="new rate (Hz)")
    documented: bool = Field(
        default=True, description="StationXML gets a new channel epoch with the change"
    )

    @field_validator("station")
    @classmethod
    def _code(cls, v: str) -> str:
        return SyntheticStation._code(v)

    @field_validator("sampling_rate")
    @classmethod
    def _exact_rate(cls, v: float | None) -> float | None:
        return None if v is None else SyntheticStation._exact_rate(v)


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
    noise_change: NoiseChange = Field(
        default_factory=NoiseChange, description="post-mainshock noise change (a confound)"
    )
    composition_change: CompositionChange = Field(
        default_factory=CompositionChange,
        description="post-mainshock catalog composition change (a confound)",
    )
    station_changes: list[StationChange] = Field(
        default_factory=list, description="station changes on dates (confounds)"
    )
    noise_level: float = Field(default=3e-8, ge=0, description="noise rms (m/s)")
    noise_seasonal_amplitude: float = Field(default=0.3, ge=0, lt=1)
    noise_seasonal_peak_day: float = Field(default=15.0, description="day of year of the peak")
    noise_seasonal_band_hz: tuple[float, float] | None = Field(
        default=None,
        description="the seasonal cycle acts on this band of the noise only (default: all)",
    )
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

    @field_validator("noise_seasonal_band_hz")
    @classmethod
    def _noise_band(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        return _valid_band(v)

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
