"""The limits one ingest run keeps with one data centre: preset, then the keys set by hand.

Order, later wins: 4 requests/s and 2 in flight; the preset of `[waveforms.limits]` (or
the one its host selects under `preset = "auto"`); the `[waveforms]` request keys the file
sets (max_requests_per_second, max_concurrent_requests, max_bulk_items); the keys the file
sets in `[waveforms.limits]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from faultprobe.config import Waveforms
from faultprobe.config.limits import PRESETS, Preset

DAY_S = 86_400.0
DEFAULT_RATE, DEFAULT_CONCURRENT = 4.0, 2  # without a preset or keys: INGV's dataselect rate
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
    timeout_s: float = 60.0  # the whole-answer deadline (request_timeout_s)

    @property
    def timely_samples(self) -> float:
        """The samples one request may carry to be answered in half the deadline, with the
        link shared by every request in flight."""
        share = self.bandwidth_bps / self.max_concurrent
        return 0.5 * self.timeout_s * share / self.bytes_per_sample

    @property
    def samples_per_request(self) -> float:
        """What a bulk may carry: within the centre's samples limit and in time."""
        if self.max_samples is None:
            return self.timely_samples
        return min(self.max_samples, self.timely_samples)

    def lines_within(self, samples_per_line: float) -> int:
        """The most bulk lines of `samples_per_line` samples each that one request may carry
        (0 when a single line is already above the centre's samples limit; at least 1
        otherwise, however long it takes)."""
        n = int(min(self.max_bulk_lines, self.samples_per_request // max(samples_per_line, 1.0)))
        if self.max_samples is not None and samples_per_line > self.max_samples:
            return 0
        return max(n, 1)


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
    rate, conc, samples = DEFAULT_RATE, DEFAULT_CONCURRENT, None
    if preset is not None:
        rate, conc = preset.requests_per_second, preset.max_concurrent
        samples = preset.max_samples_per_request
    if w.max_requests_per_second is not None:
        rate = w.max_requests_per_second
    if w.max_concurrent_requests is not None:
        conc = w.max_concurrent_requests
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
        timeout_s=w.request_timeout_s,
    )
