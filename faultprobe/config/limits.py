"""`[waveforms.limits]`: a data centre's published request limits, by preset or by hand.

A preset names a data centre's limits (docs/ingest.md, "Request plans", gives the sources);
every key set here overrides the preset, and `preset = "auto"` picks the preset from the
host of `waveforms.fdsn` (none for an unknown host: the `[waveforms]` request keys apply).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from faultprobe.config.base import _Section


@dataclass(frozen=True)
class Preset:
    """One data centre's limits; None where the centre publishes none."""

    name: str
    hosts: tuple[str, ...]  # service hosts that select it under preset = "auto"
    requests_per_second: float  # dataselect requests per sliding second
    max_concurrent: int  # dataselect requests in flight
    max_samples_per_request: float | None = None  # above it the centre answers 413
    source: str = ""  # where the figures come from


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "ingv",
            ("webservices.ingv.it",),
            4.0,
            4,
            source="INGV statement (2019): 10 requests/s per IP, 4/s for dataselect, 429 above; "
            "concurrency not published (4 is faultprobe's choice)",
        ),
        Preset(
            "earthscope",
            ("service.iris.edu", "service.earthscope.org"),
            10.0,
            5,
            source="EarthScope (IRIS DMC) web service usage: at most 5 concurrent connections "
            "and 10 requests/s per client",
        ),
        Preset(
            "ipgp",
            ("ws.ipgp.fr",),
            5.0,
            2,
            source="IPGP data centre: at most 2 concurrent requests and 5 requests/s",
        ),
        Preset(
            "resif",
            ("ws.resif.fr",),
            5.0,
            4,
            max_samples_per_request=1e10,
            source="RESIF/Epos-France dataselect: HTTP 413 above 10^10 samples per request; "
            "rate and concurrency not published (5/s and 4 are faultprobe's choice)",
        ),
    )
}


class Limits(_Section):
    """A data centre's request limits and what the request planner assumes of the link."""

    preset: Literal["auto", "none", "ingv", "earthscope", "ipgp", "resif"] = Field(
        default="auto",
        description="the data centre's published limits; 'auto' picks one from the host of "
        "waveforms.fdsn, 'none' uses [waveforms] max_requests_per_second and "
        "max_concurrent_requests",
    )
    requests_per_second: float | None = Field(
        default=None, gt=0, description="dataselect requests per sliding second (overrides)"
    )
    max_concurrent: int | None = Field(
        default=None, ge=1, description="dataselect requests in flight (overrides)"
    )
    max_samples_per_request: float | None = Field(
        default=None, gt=0, description="samples one request may ask for (overrides; 413 above)"
    )
    max_bulk_lines: int | None = Field(
        default=None, ge=1, description="lines of one bulk request (default: max_bulk_items)"
    )
    mode: Literal["auto", "events", "days"] = Field(
        default="auto",
        description="event-window bulk requests, station-day continuous requests, or the "
        "one with the lower lower-bound time",
    )
    bandwidth_mb_s: float = Field(
        default=10.0, gt=0, description="the link to the data centre, MB/s (for the plan)"
    )
    latency_s: float = Field(
        default=0.1, ge=0, description="the shortest time one request takes (for the plan)"
    )
    bytes_per_sample: float = Field(
        default=1.5, gt=0, description="miniSEED bytes per sample (Steim2; for the plan)"
    )
