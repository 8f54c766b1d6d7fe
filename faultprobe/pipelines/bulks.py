"""Cutting bulk dataselect lines into requests: at most so many lines, and (where a data
centre answers 413 above a number of samples, as RESIF does) at most so many samples."""

from __future__ import annotations

from faultprobe.pipelines.limits import CHANNELS


def line_samples(line, sampling_rate: float) -> float:
    """Samples one bulk line asks for: its span times the rate, for the three components."""
    return float(line[5] - line[4]) * sampling_rate * CHANNELS


def cut_bulks(
    items: list, rates: list[float], max_lines: int, max_samples: float | None
) -> list[list]:
    """Consecutive runs of `items` ((request, window, line) triples) within both limits.

    A line alone above the samples limit goes alone (the service may still refuse it; the
    source then reports its window as an error).
    """
    bulks: list[list] = []
    cur: list = []
    total = 0.0
    for item, rate in zip(items, rates):
        n = line_samples(item[2], rate) if max_samples is not None else 0.0
        if cur and (len(cur) >= max_lines or (max_samples is not None and total + n > max_samples)):
            bulks.append(cur)
            cur, total = [], 0.0
        cur.append(item)
        total += n
    if cur:
        bulks.append(cur)
    return bulks
