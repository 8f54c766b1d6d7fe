"""Station epochs: the instrument a station records with between its changes.

A `[[synthetic.station_changes]]` entry (a confound, docs/synthetic.md) starts a new epoch
of its station at `time`: the gain multiplies the sensitivity, a sensor corner (2nd-order
Butterworth high-pass, a geophone's velocity response) and a low-pass (4th-order
Butterworth, a new digitiser's filter) replace the previous ones, and a new sampling rate
replaces the old.  The data pass through the epoch's filters (causal, as an instrument
is) before they become counts; the StationXML gets one channel epoch per documented
change with the same poles and zeros, so an ingest that removes the response undoes it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import pandas as pd
from obspy import UTCDateTime
from obspy.core.inventory import InstrumentSensitivity, Response
from obspy.core.inventory.response import PolesZerosResponseStage
from scipy import signal

from faultprobe.config import StationChange

FIRST = np.iinfo(np.int64).min  # the first epoch starts before any data
HP_ORDER, LP_ORDER = 2, 4


@dataclass(frozen=True)
class Epoch:
    """What a station records with from `start_ns` on (to the next epoch's start)."""

    start_ns: int
    sampling_rate: float
    sensitivity: float  # counts per m/s in the passband
    sensor_corner_hz: float | None = None
    lowpass_hz: float | None = None

    @property
    def step_ns(self) -> int:
        return int(round(1e9 / self.sampling_rate))

    @property
    def filtered(self) -> bool:
        """Whether the response has a shape (not only a sensitivity)."""
        return self.sensor_corner_hz is not None or self.lowpass_hz is not None

    def record(self, velocity: np.ndarray) -> np.ndarray:
        """Ground velocity (..., n) through the epoch's filters, in m/s (causal)."""
        if not self.filtered:
            return velocity
        return signal.sosfilt(_sos(self.sampling_rate, self.sensor_corner_hz, self.lowpass_hz),
                              velocity, axis=-1)  # fmt: skip

    def response(self) -> Response:
        """The StationXML response: a sensitivity, and poles and zeros if filtered."""
        f_norm = self.normalization_hz
        sens = InstrumentSensitivity(
            value=self.sensitivity,
            frequency=f_norm,
            input_units="M/S",
            output_units="COUNTS",
            input_units_description="Velocity in meters per second",
            output_units_description="Digital counts",
        )
        if not self.filtered:
            return Response(instrument_sensitivity=sens)
        zeros, poles = _analog_zp(self.sensor_corner_hz, self.lowpass_hz)
        s = 2j * np.pi * f_norm
        h = np.prod([s - z for z in zeros]) / np.prod([s - p for p in poles])
        stage = PolesZerosResponseStage(
            stage_sequence_number=1,
            stage_gain=self.sensitivity,
            stage_gain_frequency=f_norm,
            input_units="M/S",
            output_units="COUNTS",
            pz_transfer_function_type="LAPLACE (RADIANS/SECOND)",
            normalization_frequency=f_norm,
            zeros=list(zeros),
            poles=list(poles),
            normalization_factor=float(1.0 / abs(h)),
        )
        return Response(instrument_sensitivity=sens, response_stages=[stage])

    @property
    def normalization_hz(self) -> float:
        """Where the sensitivity is given: 1 Hz, or mid-passband for a filtered epoch."""
        if not self.filtered:
            return 1.0
        lo = self.sensor_corner_hz or 0.1
        hi = min(self.lowpass_hz or np.inf, 0.4 * self.sampling_rate)
        return float(np.sqrt(lo * hi))


def _analog_zp(corner_hz: float | None, lowpass_hz: float | None) -> tuple[list, list]:
    """Zeros and poles (rad/s) of the high-pass and low-pass Butterworth filters."""
    zeros: list[complex] = []
    poles: list[complex] = []
    for f, order, kind in ((corner_hz, HP_ORDER, "highpass"), (lowpass_hz, LP_ORDER, "lowpass")):
        if f is not None:
            z, p, _ = signal.butter(order, 2 * np.pi * f, kind, analog=True, output="zpk")
            zeros += [complex(v) for v in z]
            poles += [complex(v) for v in p]
    return zeros, poles


@lru_cache(maxsize=16)
def _sos(rate: float, corner_hz: float | None, lowpass_hz: float | None) -> np.ndarray:
    """The digital (bilinear) version of the epoch's filters, unit gain in the passband."""
    parts = []
    if corner_hz is not None:
        parts.append(signal.butter(HP_ORDER, corner_hz, "highpass", fs=rate, output="sos"))
    if lowpass_hz is not None:
        cut = min(lowpass_hz, 0.45 * rate)
        parts.append(signal.butter(LP_ORDER, cut, "lowpass", fs=rate, output="sos"))
    return np.concatenate(parts)


def station_epochs(
    code: str, sampling_rate: float, sensitivity: float, changes: list[StationChange]
) -> tuple[list[Epoch], list[Epoch]]:
    """The epochs the data are recorded in and those the StationXML documents."""
    first = Epoch(FIRST, sampling_rate, sensitivity)
    data, meta = [first], [first]
    for ch in sorted((c for c in changes if c.station == code), key=lambda c: c.time):
        prev = data[-1]
        new = replace(
            prev,
            start_ns=pd.Timestamp(ch.time).value,
            sampling_rate=ch.sampling_rate or prev.sampling_rate,
            sensitivity=prev.sensitivity * ch.gain_factor,
            sensor_corner_hz=ch.sensor_corner_hz or prev.sensor_corner_hz,
            lowpass_hz=ch.lowpass_hz or prev.lowpass_hz,
        )
        if new == replace(prev, start_ns=new.start_ns):
            continue  # a change that changes nothing is no new epoch
        data.append(new)
        if ch.documented:
            meta.append(new)
    return data, meta


def epoch_dates(epochs: list[Epoch], start: UTCDateTime) -> list[tuple[UTCDateTime, object]]:
    """(start_date, end_date or None) of each epoch; the first starts at `start`.

    An epoch ends a microsecond before the next starts, so one response answers any time.
    """
    starts = [start] + [UTCDateTime(ns=e.start_ns) for e in epochs[1:]]
    ends = [t - 1e-6 for t in starts[1:]]
    return list(zip(starts, [*ends, None]))
