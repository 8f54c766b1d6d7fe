"""The control panel's figures per station: the accuracy of the CNN against each control
with its exact 95 % interval, and the attribution map (where the evidence sits)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from faultprobe.analysis import stats
from faultprobe.analysis.figures import _pyplot, _save

#: The bars, top to bottom: evidence key, label, colour.
BARS = (
    ("cnn", "CNN, all test events", "#08519c"),
    ("matched", "matched CNN, matched test events", "#6baed6"),
    ("size_reference", "size reference CNN, matched test events", "#9ecae1"),
    ("noise", "noise-only CNN (pre-P noise)", "0.45"),
    ("noise_spectrum", "noise-spectrum classifier", "0.45"),
    ("metadata", "metadata + SNR classifier", "0.45"),
    ("physics", "spectral-decay t* classifier", "#d95f02"),
)


def control_accuracies(ev) -> pd.DataFrame:
    """Per control of a station's evidence (faultprobe.analysis.verdict.Evidence): correct
    k of n test events pooled over seeds, the accuracy and its exact 95 % interval (%)."""
    found = {"cnn": ev.cnn, **ev.controls}
    if ev.matched is not None:  # the matched CNN (the CNN itself where none is given)
        right = ev.cnn if ev.matched_correct is None else ev.matched_correct
        found["matched"] = right[ev.matched]
        if ev.size_reference is not None:
            found["size_reference"] = ev.size_reference[ev.matched]
    if ev.physics is not None:
        found["physics"] = ev.physics
    rows = []
    for key, label, colour in BARS:
        if key not in found:
            continue
        k, n = int(np.sum(found[key])), int(np.size(found[key]))
        lo, hi = stats.clopper_pearson(k, n) if n else (np.nan, np.nan)
        rows.append({"control": key, "label": label, "colour": colour, "k": k, "n": n,
                     "accuracy": 100 * k / n if n else np.nan, "lo": 100 * lo, "hi": 100 * hi})  # fmt: skip
    return pd.DataFrame(rows)


def control_bars(acc: pd.DataFrame, station: str, verdict: str, path: Path) -> Path:
    """Horizontal bars: accuracy (%) of the CNN and of each control on the same test events
    pooled over seeds, with exact 95 % intervals, chance at 50 % and each bar's numbers."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(acc) + 1.5))
    y = np.arange(len(acc))[::-1]
    err = np.vstack([acc["accuracy"] - acc["lo"], acc["hi"] - acc["accuracy"]])
    ax.barh(y, acc["accuracy"], color=acc["colour"], height=0.62)
    ax.errorbar(acc["accuracy"], y, xerr=err, fmt="none", ecolor="k", capsize=3, lw=1)
    for yi, (_, r) in zip(y, acc.iterrows()):
        ax.text(101, yi, f"{r['accuracy']:.1f} % [{r['lo']:.1f}–{r['hi']:.1f}], n = {r['n']}",
                va="center", fontsize=8)  # fmt: skip
    ax.axvline(50, color="k", ls=":", lw=1)
    ax.text(50, y.max() + 0.62, "chance", ha="center", va="bottom", fontsize=8)
    ax.set_yticks(y, acc["label"], fontsize=9)
    ax.set_xlim(0, 100)
    ax.set_ylim(-0.6, y.max() + 1.0)
    ax.set_xlabel("test accuracy, pooled over seeds (%); bars: exact 95 % interval")
    ax.set_title(f"{station}: CNN against its controls. Verdict: {verdict}", fontsize=9, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    return _save(fig, path)


def attribution_map(drops: pd.DataFrame, station: str, path: Path) -> Path:
    """Accuracy drop (percentage points) when each time segment × frequency band of the
    test inputs is masked: segments along x in time order, bands along y (all bands last),
    a diverging colour scale centred on 0 with its bar beside the map."""
    from faultprobe.analysis.controls import SEGMENTS

    table = drops.pivot_table(index="band", columns="segment", values="drop_pct")
    segs = [s for s in SEGMENTS if s in table.columns]
    bands = sorted((b for b in table.index if b != "all"), key=lambda b: float(b.split("–")[0]))
    rows = [*bands, *(["all"] if "all" in table.index else [])]
    z = table.loc[rows, segs].to_numpy(float)
    lim = max(float(np.nanmax(np.abs(z))), 1.0)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.3 * len(segs) + 2.6, 0.55 * len(rows) + 1.6))
    im = ax.imshow(z, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", origin="lower")
    for i in range(len(rows)):
        for j in range(len(segs)):
            v = z[i, j]
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(v) > 0.6 * lim else "black")  # fmt: skip
    ax.set_xticks(range(len(segs)), [f"{s}" for s in segs])
    ax.set_yticks(
        range(len(rows)), ["all bands" if r == "all" else r.replace(" Hz", "") for r in rows]
    )
    ax.axhline(len(bands) - 0.5, color="k", lw=0.8)
    ax.set_xlabel("masked time segment (noise: before P; P, P–S, S, coda: from the P and S times)")
    ax.set_ylabel("masked frequency band (Hz)")
    ax.set_title(f"{station}: where the evidence sits (accuracy lost when a cell is masked)",
                 fontsize=10, loc="left")  # fmt: skip
    bar = fig.colorbar(im, ax=ax, pad=0.02)
    bar.set_label("test accuracy drop (percentage points)")
    return _save(fig, path)
