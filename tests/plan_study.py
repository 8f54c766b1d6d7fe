"""A toy study asked of the loopback FDSN service under one data centre's limits: the
config (with its `[waveforms.limits]` table) and the service's limits for a preset, and
what the service saw. Shared by tests/test_request_plans.py and benchmarks/plan.py."""

from __future__ import annotations

from pathlib import Path

from faultprobe.config.limits import PRESETS
from faultprobe.testing.defects import write_toy_config

QUERIES = ("query", "queryauth")


def service_limits(preset: str, samples: float | None = None) -> dict:
    """The limits the loopback service enforces for a preset (samples: a scaled-down limit)."""
    p = PRESETS[preset]
    return {
        "per_second": p.requests_per_second,
        "concurrent": p.max_concurrent,
        "samples": samples if samples is not None else p.max_samples_per_request,
    }


def write_config(
    folder: Path, study, url: str, preset: str, limits: dict | None = None, **waveforms
) -> str:
    """A config asking `url` for the toy study under `preset` (extra [waveforms.limits] keys
    in `limits`, extra [waveforms] keys as keywords); the store holds the study's tables."""
    store = folder / "store"
    store.mkdir(parents=True, exist_ok=True)
    study.events.to_parquet(store / "events.parquet")
    study.stations.to_parquet(store / "stations.parquet")
    twin = type(study)(str(store), "", study.events, study.stations)
    w = {
        "source": "fdsn",
        "fdsn": url,
        "codec": "zstd-3",
        "cache": str(folder / "cache"),
        "max_attempts": 2,
        "retry_backoff_s": 0.1,
        **waveforms,
    }
    path = write_toy_config(str(folder), twin, waveforms=w)
    table = {"preset": preset, **(limits or {})}
    rows = [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v!r}" for k, v in table.items()]
    with open(path, "a") as f:
        f.write("\n[waveforms.limits]\n" + "\n".join(rows) + "\n")
    return path


def seen(svc) -> dict:
    """What the service saw: queries, refusals, peak rate per sliding second, peak in flight."""
    return {
        "queries": sum(1 for _, _, r, _ in svc.log if r in QUERIES),
        "refused": dict(svc.refused),
        "peak_per_s": svc.requests_in_windows(1.0, QUERIES),
        "peak_in_flight": svc.peak_in_flight,
        "max_samples": max(svc.samples_asked, default=0.0),
        "busy_s": float(sum(svc.busy)),  # the service's time answering, summed
    }
