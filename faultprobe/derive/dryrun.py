"""The dry run of the selection on a derived config: counts, and whether the method can work."""

from __future__ import annotations

import pandas as pd
from scipy import stats

from faultprobe.catalogs.selection import counts_by_month
from faultprobe.config import (
    StudyConfig,
    Train,
)
from faultprobe.derive import sequence as sq
from faultprobe.derive.options import InitOptions

#: the chance bound (p < 0.01) of a balanced binary test above which init warns
WARN_BOUND = 0.60
ALPHA = 0.01


def class_check(
    events: pd.DataFrame, where: str, opts: InitOptions, window: sq.Window
) -> tuple[list[str], str | None]:
    """Warnings for small classes, and the error when no accuracy could be told from chance."""
    n_pre = int((events["phase"] == "pre").sum())
    n_post = int((events["phase"] == "post").sum())
    n_min = min(n_pre, n_post)
    frac = Train().fractions[2]
    n_test = int(2 * n_min * frac)
    k = int(stats.binom.isf(ALPHA, n_test, 0.5)) + 1 if n_test else 1
    longer = (
        f"a longer window (--max-days, now {opts.max_days:g})"
        if window.pre_days >= opts.max_days
        else f"a catalog reaching further back than the mainshock's {window.pre_days:.0f} days"
    )
    change = (
        f"{longer}, smaller events (--min-magnitude, now {opts.min_magnitude:g}, if the "
        "catalog is complete below it) or a catalog with more events"
    )
    numbers = (
        f"the selection keeps {n_pre} pre and {n_post} post events: a balanced binary run has "
        f"{n_min} per class and tests on {n_test}"
    )
    if n_test == 0 or k > n_test:
        return [], (
            f"{where}: {numbers}, too few for any accuracy to be told from chance (p < "
            f"{ALPHA:g}); this sequence has too few events for the method: give {change}"
        )
    warns = []
    bound = k / n_test
    if bound > WARN_BOUND:
        warns.append(
            f"{numbers}: a model must score above {100 * bound:.0f} % to be told from chance "
            f"(p < {ALPHA:g}; the paper had ~4,700 per class); give {change}"
        )
    if n_min and max(n_pre, n_post) > 5 * n_min:
        small = "pre" if n_pre < n_post else "post"
        warns.append(
            f"{small} is the small class ({n_pre} pre, {n_post} post): the balanced run "
            f"discards {max(n_pre, n_post) - n_min} events; lengthen the {small} side of the "
            "window if the catalog allows"
        )
    return warns, None


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
