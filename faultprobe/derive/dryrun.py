"""The dry run of the selection on a derived config: counts, and whether the method can work."""

from __future__ import annotations

import pandas as pd

from faultprobe.catalogs.classes import class_findings, class_sizes
from faultprobe.catalogs.selection import counts_by_month
from faultprobe.config import (
    StudyConfig,
    Train,
)
from faultprobe.derive import sequence as sq
from faultprobe.derive.options import InitOptions


def class_check(
    events: pd.DataFrame, where: str, opts: InitOptions, window: sq.Window
) -> tuple[list[str], str | None]:
    """Warnings for small classes, and the error when no accuracy could be told from chance
    (the rule of `faultprobe.catalogs.classes`, with init's options as what to change)."""
    longer = (
        f"a longer window (--max-days, now {opts.max_days:g})"
        if window.pre_days >= opts.max_days
        else f"a catalog reaching further back than the mainshock's {window.pre_days:.0f} days"
    )
    change = (
        f"{longer}, smaller events (--min-magnitude, now {opts.min_magnitude:g}, if the "
        "catalog is complete below it) or a catalog with more events"
    )
    side = "lengthen the {} side of the window if the catalog allows"
    lengthen = {k: side.format(k) for k in ("pre", "post")}
    sizes = class_sizes(events, Train().fractions[2])
    return class_findings(sizes, where, change, lengthen)


def summary_lines(
    cfg: StudyConfig, events: pd.DataFrame, ranked: pd.DataFrame, record_km
) -> list[str]:
    """The dry-run selection: counts per phase, per month and per chosen station."""
    lines = [f"dry-run selection ([selection] rules on {cfg.catalog.path}): {len(events)} events"]
    for phase, n in events["phase"].value_counts().sort_index().items():
        lines.append(f"  {phase:>12}: {n}")
    months = counts_by_month(events)
    if not months.empty:
        lines.append("by month:")
        lines += ["  " + row for row in months.to_string().splitlines()]
    chosen = ranked.set_index("code").loc[cfg.stations.all_codes]
    lines.append(
        f"by station (events within {record_km:g} km while it was open; far: any distance):"
    )
    for code, r in chosen.iterrows():
        far = code in cfg.stations.far
        lines.append(
            f"  {code:<12} {'far ' if far else 'near'} {r['distance_km']:6.1f} km   pre "
            f"{r['pre']:>6}   post {r['post']:>6}" + (f"   open for {r['in_epoch']}" if far else "")
        )
    return lines
