"""Instrument changes a station's StationXML documents: consecutive epochs of a channel
whose sensitivity, response shape (poles and zeros) or sampling rate differ.

A change that keeps the codes and the rate (a new gain, a new sensor with the same
channel names) leaves no trace in the ingest's traces table; the metadata are the only
record of it, and the verdict reads it from here (docs/diagnostics.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from obspy import Inventory

#: A sensitivity that differs by more than this share is a gain change.
SENSITIVITY_SHARE = 0.01


def _poles_zeros(response) -> tuple[np.ndarray, np.ndarray]:
    """All poles and zeros of a response's poles-and-zeros stages, sorted (rad/s or Hz
    as the stage gives them; only compared with the same channel's other epochs)."""
    poles, zeros = [], []
    for stage in getattr(response, "response_stages", None) or []:
        poles += [complex(p) for p in getattr(stage, "poles", None) or []]
        zeros += [complex(z) for z in getattr(stage, "zeros", None) or []]
    return np.sort_complex(np.asarray(poles, complex)), np.sort_complex(np.asarray(zeros, complex))


def _sensitivity(response) -> float | None:
    sens = getattr(response, "instrument_sensitivity", None)
    value = getattr(sens, "value", None)
    return float(value) if value else None


def describe(channel) -> str:
    """One channel epoch in words: code, rate, sensitivity, poles/zeros count."""
    sens = _sensitivity(channel.response)
    poles, zeros = _poles_zeros(channel.response)
    gain = f"{sens:.4g}" if sens is not None else "no sensitivity"
    return (
        f"{channel.location_code}.{channel.code} {float(channel.sample_rate):g} Hz, "
        f"{gain}, {len(poles)} poles {len(zeros)} zeros"
    )


def epoch_change(old, new) -> list[str]:
    """What differs between two epochs of one channel, in words (empty when nothing)."""
    what = []
    if float(old.sample_rate) != float(new.sample_rate):
        what.append(f"sampling rate {float(old.sample_rate):g} -> {float(new.sample_rate):g} Hz")
    a, b = _sensitivity(old.response), _sensitivity(new.response)
    if a is not None and b is not None and abs(b / a - 1.0) > SENSITIVITY_SHARE:
        what.append(f"sensitivity x{b / a:.3g}")
    (pa, za), (pb, zb) = _poles_zeros(old.response), _poles_zeros(new.response)
    same_shape = (
        pa.shape == pb.shape
        and za.shape == zb.shape
        and np.allclose(pa, pb, rtol=1e-3)
        and np.allclose(za, zb, rtol=1e-3)
    )
    if not same_shape:
        what.append(f"response {len(pa)}/{len(za)} -> {len(pb)}/{len(zb)} poles/zeros")
    return what


def _stations(inv: Inventory, station: str):
    """The station's entries in `inv` (NET.STA; the station code alone when the network
    is not in it: data published under another network code)."""
    net, _, code = station.rpartition(".")
    found = inv.select(network=net, station=code) if net else inv.select(station=code)
    if net and not len(found):
        found = inv.select(station=code)
    return [sta for network in found for sta in network]


def response_changes(inv: Inventory, station: str) -> list[tuple[pd.Timestamp, str, str]]:
    """Dates at which the station's channel epochs change sensitivity (more than 1 %),
    response shape or sampling rate: (time, before, after) each, one per date, in UTC."""
    by_channel: dict[tuple[str, str], list] = {}
    for sta in _stations(inv, station):
        for ch in sta.channels:
            if ch.start_date is not None:
                by_channel.setdefault((ch.location_code, ch.code), []).append(ch)
    at: dict[pd.Timestamp, tuple[list[str], list[str]]] = {}
    for chans in by_channel.values():
        chans.sort(key=lambda c: c.start_date)
        for old, new in zip(chans, chans[1:]):
            what = epoch_change(old, new)
            if not what:
                continue
            when = pd.Timestamp(new.start_date.datetime, tz="UTC").floor("s")
            before, after = at.setdefault(when, ([], []))
            before.append(describe(old))
            after.append(f"{describe(new)} ({', '.join(what)})")
    return [(t, "; ".join(b), "; ".join(a)) for t, (b, a) in sorted(at.items())]
