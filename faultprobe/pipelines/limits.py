"""The limits one ingest run keeps with one data centre: preset, then the keys set by hand.

Order, later wins: the `[waveforms]` defaults; the preset of `[waveforms.limits]` (or the
one its host selects under `preset = "auto"`); the `[waveforms]` request keys the file
sets (max_requests_per_second, max_concurrent_requests, max_bulk_items); the keys the file
sets in `[waveforms.limits]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from faultprobe.config import Waveforms
from faultprobe.config.limits import PRESETS, Preset

DAY_S = 86_400.0
CHANNELS = 3  # one bulk line asks for the three components (channel code "HH?")


@dataclass(frozen=True)
class DCLimits:
    """What the limiter, the bulk cutter and the planner keep to for one data centre."""

    preset: str  # a preset's name, or "none"
    per_second: float
    max_concurrent: int
    max_bulk_lines: int
    max_samples: float | None
    mode: str  # auto | events | days
    bandwidth_bps: float  # bytes per second
    latency_s: float
    bytes_per_sample: float

    def lines_within(self, samples_per_line: float) -> int:
        """The most bulk lines of `samples_per_line` samples each that one request may carry
        (0 when a single line is already above the samples limit)."""
        if self.max_samples is None:
            return self.max_bulk_lines
        return int(min(self.max_bulk_lines, self.max_samples // max(samples_per_line, 1.0)))


def preset_for(w: Waveforms) -> Preset | None:
    """The preset named in `[waveforms.limits]`, or the one the service's host selects."""
    name = w.limits.preset
    if name == "none":
        return None
    if name != "auto":
        return PRESETS[name]
    if not w.fdsn:
        return None
    from faultprobe.pipelines.fdsnhttp import base_url

    host = (urlparse(base_url(w.fdsn)).hostname or "").lower()
    return next((p for p in PRESETS.values() if host in p.hosts), None)


def resolve(w: Waveforms) -> DCLimits:
    """The limits of this run (see the module docstring for the order)."""
    lim = w.limits
    preset = preset_for(w)
    given = w.model_fields_set
    rate = float(w.max_requests_per_second)
    conc = int(w.max_concurrent_requests)
    samples = None
    if preset is not None:
        rate = rate if "max_requests_per_second" in given else preset.requests_per_second
        conc = conc if "max_concurrent_requests" in given else preset.max_concurrent
        samples = preset.max_samples_per_request
    return DCLimits(
        preset=preset.name if preset else "none",
        per_second=lim.requests_per_second or rate,
        max_concurrent=lim.max_concurrent or conc,
        max_bulk_lines=lim.max_bulk_lines or w.max_bulk_items,
        max_samples=lim.max_samples_per_request or samples,
        mode=lim.mode,
        bandwidth_bps=lim.bandwidth_mb_s * 1e6,
        latency_s=lim.latency_s,
        bytes_per_sample=lim.bytes_per_sample,
    )
