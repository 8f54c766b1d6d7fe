"""The report's figures as PNG files (matplotlib, Agg backend): data in, file path out."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from faultprobe._optional import need

PHASE_COLORS = {"pre": "#d95f02", "post": "#1b9e77"}
DPI = 110


@functools.cache
def _pyplot():
    """matplotlib.pyplot on the Agg backend, imported on first use (the analysis extra)."""
    matplotlib = need("matplotlib", extra="analysis", what="the report's figures")
    matplotlib.use("Agg")
    return need("matplotlib.pyplot", extra="analysis", what="the report's figures")


def _plain():
    """Log-axis labels as plain numbers (0.5, 2) instead of 5 x 10^-1."""
    return _pyplot().FuncFormatter(lambda v, _: f"{v:g}")


def _plain_minor():
    """Minor ticks labelled only at 2, 3 and 5 times a power of ten (0.9 and 1 would collide)."""
    return _pyplot().FuncFormatter(
        lambda v, _: f"{v:g}" if round(v / 10 ** np.floor(np.log10(v)), 6) in (2, 3, 5) else ""
    )


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def event_counts(events: pd.DataFrame, mainshock: pd.Timestamp, path: Path) -> Path:
    """Events per day, stacked by phase, with the mainshock marked."""
    fig, ax = _pyplot().subplots(figsize=(8, 3))
    t = pd.DatetimeIndex(events["source_origin_time"]).tz_convert("UTC").tz_localize(None)
    days = pd.date_range(t.min().floor("D"), t.max().ceil("D") + pd.Timedelta(days=1), freq="D")
    bottom = np.zeros(len(days) - 1)
    for phase in sorted(events["phase"].unique()):
        h, _ = np.histogram(t[events["phase"].to_numpy() == phase], bins=days)
        ax.bar(days[:-1], h, width=1.0, bottom=bottom, align="edge",
               color=PHASE_COLORS.get(phase, "#7570b3"), label=phase)  # fmt: skip
        bottom += h
    ax.axvline(pd.Timestamp(mainshock).tz_convert("UTC").tz_localize(None), color="k", ls="--",
               lw=1, label="mainshock")  # fmt: skip
    ax.set_ylabel("events per day")
    ax.set_xlabel("origin date (UTC)")
    ax.legend(fontsize=8)
    ax.set_title("Selected events per day, by phase")
    fig.autofmt_xdate()
    return _save(fig, path)


def confusion(cm: np.ndarray, classes: list[str], title: str, path: Path) -> Path:
    """Row-normalised confusion matrix: class names on both axes, each true class's event
    count on its label, the fraction and the count in each cell."""
    cm = np.asarray(cm, dtype=float)
    frac = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    fig, ax = _pyplot().subplots(figsize=(1.2 + 0.6 * n, 1.0 + 0.6 * n))
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{frac[i, j]:.2f}\n({int(cm[i, j])})", ha="center", va="center",
                    fontsize=7, color="w" if frac[i, j] > 0.6 else "k")  # fmt: skip
    rows = cm.sum(axis=1).astype(int)
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), [f"{c} (n={k})" for c, k in zip(classes, rows)], fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (test events)")
    ax.set_title(title, fontsize=8)
    return _save(fig, path)


def false_dates(t2: pd.DataFrame, mainshock: pd.Timestamp, path: Path) -> Path:
    """Fig. 4b: per false mainshock date, the accuracy against the true labels and FP, the
    share of the false interval's test events classified with the false (training) label;
    the model trained with the true date as a reference line."""
    fig, ax = _pyplot().subplots(figsize=(10.5, 3.8))
    fake = t2[t2["false_date"] != ""]
    true = t2[t2["false_date"] == ""]
    d = pd.to_datetime(fake["false_date"], utc=True).dt.tz_localize(None)
    ms = pd.Timestamp(mainshock).tz_convert("UTC").tz_localize(None)
    ax.plot(d, 100 * fake["accuracy_mean"], "o", color="0.3", ms=7,
            label="accuracy against the true labels (all test events)")  # fmt: skip
    ax.plot(d, 100 * fake["outside_mean"], "^", color="#33a02c", ms=7, mfc="none",
            label="accuracy outside the false interval")  # fmt: skip
    fp = fake["fp_mean"].to_numpy(float)  # with its pooled 95 % exact interval
    err = np.vstack([fp - fake["fp_lo"].to_numpy(float), fake["fp_hi"].to_numpy(float) - fp])
    ax.errorbar(d, fp, yerr=err, fmt="s", color="#1f78b4", ms=7, capsize=3,
                label="FP: false-interval test events given the false label (95 % CI)")  # fmt: skip
    if len(true):
        ax.axhline(100 * true["accuracy_mean"].iloc[0], color="r", ls="--",
                   label="accuracy of the model trained with the true date")  # fmt: skip
    ax.axvline(ms, color="k", lw=1, label="true mainshock")
    ax.axhline(50, color="0.6", ls=":", lw=1, label="chance (2 classes)")
    span = [*d, ms]
    ax.set_xlim(min(span) - pd.Timedelta(days=7), max(span) + pd.Timedelta(days=7))
    ax.set_ylim(-3, 102)  # an FP of 0 stays visible
    ax.set_ylabel("percent of test events (%)")
    ax.set_xlabel("mainshock date used for the training labels (UTC)")
    ax.set_title("Models trained with wrong mainshock dates")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), framealpha=0.9)
    fig.autofmt_xdate()
    return _save(fig, path)


def bands(bt: pd.DataFrame, n_classes: int, path: Path) -> Path:
    """Fig. 5c: accuracy per band-pass band against the raw-trace baseline."""
    fig, ax = _pyplot().subplots(figsize=(7, 3.5))
    b = bt[bt["low_hz"].notna()]
    raw = bt[bt["low_hz"].isna()]
    ax.errorbar((b["low_hz"] + b["high_hz"]) / 2, 100 * b["accuracy_mean"],
                xerr=(b["high_hz"] - b["low_hz"]) / 2, fmt="o", color="k", label="band-passed")  # fmt: skip
    if len(raw):
        ax.axhline(100 * raw["accuracy_mean"].iloc[0], color="r", ls="--", label="raw traces")
    ax.axhline(100 / n_classes, color="0.5", ls=":", label="chance")
    if len(b):
        ax.axhline(100 * b["chance_hi"].mean(), color="0.7", ls=":", label="chance, 99 % upper")
    ax.set_xlabel("band-pass band (Hz): the dot at its centre, the bar across it")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 102)
    ax.set_title("Accuracy against frequency band")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)


def pair_spectra(
    examples: pd.DataFrame,
    summary: pd.DataFrame,
    path: Path,
    pairs: pd.DataFrame | None = None,
    units: str = "counts",
    traces: pd.DataFrame | None = None,
) -> Path:
    """Fig. 6: the closest pair's records per component (s after P, pre above post on one
    amplitude scale) beside their multitaper spectra, and under them the median post/pre
    ratio over all pairs with its 16-84 % spread."""
    plt = _pyplot()
    comps = ["E", "N", "Z"]
    ex = examples[examples["pair"] == 0]
    tr = traces[traces["pair"] == 0] if traces is not None and len(traces) else None
    label = ""
    if len(ex):
        pre_id, post_id = ex["source_id_pre"].iloc[0], ex["source_id_post"].iloc[0]
        label = f"pre {pre_id} / post {post_id}"
        if pairs is not None and len(pairs):
            hit = pairs[(pairs["source_id_pre"] == pre_id) & (pairs["source_id_post"] == post_id)]
            if len(hit):
                label += f", {hit['distance_m'].iloc[0]:.0f} m apart, ΔM {hit['dmag'].iloc[0]:.2f}"
    fig = plt.figure(figsize=(12, 10.5))
    top, bottom = fig.subfigures(2, 1, height_ratios=[3.0, 1.15], hspace=0.0)
    cols = 2 if tr is not None else 1
    axes = top.subplots(3, cols, squeeze=False, sharex="col",
                        gridspec_kw={"width_ratios": [1.25, 1][:cols], "wspace": 0.22})  # fmt: skip
    spec_axes = axes[:, -1]
    if tr is not None:
        peak = float(np.nanmax(np.abs(tr[["pre", "post"]].to_numpy()))) or 1.0
        for c, comp in enumerate(comps):
            ax = axes[c, 0]
            e = tr[tr["component"] == comp]
            ax.plot(e["time_s"], 1.0 + e["pre"] / peak, color=PHASE_COLORS["pre"], lw=0.6,
                    label=f"pre {pre_id}")  # fmt: skip
            ax.plot(e["time_s"], -1.0 + e["post"] / peak, color=PHASE_COLORS["post"], lw=0.6,
                    label=f"post {post_id}")  # fmt: skip
            ax.axvline(0.0, color="k", lw=0.8, ls="--")
            for rec, (lo, hi) in (("pre", (0.0, 2.1)), ("post", (-2.1, 0.0))):
                s_at = e[f"s_{rec}_s"].iloc[0] if f"s_{rec}_s" in e and len(e) else np.nan
                if np.isfinite(s_at):  # the P–S window of this record, shaded up to its S
                    ax.fill_between([0.0, s_at], lo, hi, color=PHASE_COLORS[rec], alpha=0.07,
                                    lw=0)  # fmt: skip
                    ax.vlines(s_at, lo, hi, color="k", lw=0.8, ls=":")
            ax.set_ylim(-2.1, 2.1)
            ax.set_yticks([-1, 1], ["post", "pre"])
            ax.set_ylabel(f"{comp} component")
        with_s = "s_pre_s" in tr and tr["s_pre_s"].notna().any()
        axes[0, 0].set_title(f"Records on one amplitude scale (peak {peak:.3g} {units}); dashed: P"
                             + ("; dotted: S, P–S shaded" if with_s else ""),
                             fontsize=9, loc="left")  # fmt: skip
        axes[-1, 0].set_xlabel("time after the P arrival (s)")
    for c, comp in enumerate(comps):
        e = ex[ex["component"] == comp]
        ax = spec_axes[c]
        ax.loglog(e["freq_hz"], e["pre_amplitude"], color=PHASE_COLORS["pre"], lw=0.9, label="pre")
        ax.loglog(e["freq_hz"], e["post_amplitude"], color=PHASE_COLORS["post"], lw=0.9,
                  label="post")  # fmt: skip
        ax.set_ylabel(f"{comp}: ASD ({units}/√Hz)", fontsize=9)
        ax.xaxis.set_major_formatter(_plain())
        ax.grid(True, which="major", color="0.9", lw=0.6)
    spec_axes[0].set_title("Multitaper amplitude spectral density", fontsize=9, loc="left")
    spec_axes[0].legend(fontsize=8, loc="lower left")
    spec_axes[-1].set_xlabel("frequency (Hz)")
    top.suptitle(f"Closest co-located pair: {label}", fontsize=10)
    ratio_axes = bottom.subplots(1, 3, sharey=True)
    n = int(summary["n_pairs"].iloc[0]) if len(summary) else 0
    for c, comp in enumerate(comps):
        s = summary[summary["component"] == comp]
        ax = ratio_axes[c]
        ax.fill_between(s["freq_hz"], 10 ** s["p16_log10_ratio"], 10 ** s["p84_log10_ratio"],
                        color="0.8", label="16–84 % of pairs")  # fmt: skip
        ax.semilogy(s["freq_hz"], 10 ** s["median_log10_ratio"], "k", lw=1, label="median")
        diff = s["differs"].to_numpy(bool)
        if diff.any():
            ax.semilogy(s["freq_hz"][diff], 10 ** s["median_log10_ratio"][diff], ".",
                        color="#e31a1c", ms=2, label="median differs from 1")  # fmt: skip
        ax.axhline(1.0, color="r", ls="--", lw=0.8)
        ax.yaxis.set_major_formatter(_plain())
        ax.yaxis.set_minor_formatter(_plain_minor())
        ax.set_xlabel("frequency (Hz)")
        ax.set_title(f"{comp}: post/pre ratio over {n} pairs", fontsize=9, loc="left")
    ratio_axes[0].set_ylabel("post / pre amplitude")
    ratio_axes[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return _save(fig, path)


def seasonality(st: pd.DataFrame, path: Path) -> Path:
    """Accuracy per 4-month span, noise windows and event records."""
    fig, ax = _pyplot().subplots(figsize=(7, 3.5))
    for src, g in st.groupby("source"):
        t = pd.to_datetime(g["span start"])
        ax.plot(t, 100 * g["accuracy_mean"], "o-" if src == "noise" else "s", label=src)
    ax.axhline(50, color="0.5", ls=":", label="chance")
    ax.set_ylim(0, 102)
    ax.set_ylabel("test accuracy (%)")
    ax.set_xlabel("start of the 4-month span (UTC)")
    ax.set_title("Two 2-month classes per span")
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    return _save(fig, path)


def fault_state(
    panels: list[tuple[str, pd.DataFrame, pd.DataFrame]],
    shocks: list[tuple[str, pd.Timestamp]],
    path: Path,
    truth: dict[str, tuple[pd.DatetimeIndex, np.ndarray]] | None = None,
) -> Path:
    """The fault state through the cycle: per station (near first, far after) the index
    with its bootstrap band and chance band, change points and shocks marked; on a synthetic
    study the injected Δt*(t) of the station's paths on a second axis.  One legend for all
    panels sits under them, off the data; dates are UTC days."""
    plt = _pyplot()
    from matplotlib.dates import DateFormatter

    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.9 * len(panels)), sharex=True,
                             squeeze=False)  # fmt: skip
    naive = lambda t: pd.DatetimeIndex(t).tz_convert("UTC").tz_localize(None)  # noqa: E731
    peaks = [np.nanmax(np.abs(d)) for _, d in (truth or {}).values() if len(d)]
    top = max(1000 * float(max(peaks, default=0.0)), 1e-3)  # one Δt* scale for all panels
    legend: dict[str, object] = {}
    for ax, (station, index, changes) in zip(axes[:, 0], panels):
        t = naive(index["time"])
        h = [ax.fill_between(t, index["chance_lo"], index["chance_hi"], step="mid",
                             color="0.88", lw=0, label="chance band of a model with nothing "
                             "to tell (exact, 99 %)"),
             ax.fill_between(t, index["index_lo"], index["index_hi"], step="mid",
                             color="#9ecae1", lw=0, label="bootstrap band over the window's "
                             "events (95 %)"),
             *ax.step(t, index["index"], where="mid", color="#08519c", lw=1.4,
                      label="index: post-like fraction of the window's events"),
             ax.axhline(0.5, color="0.4", ls=":", lw=0.8, label="0.5: chance")]  # fmt: skip
        for k, (name, when) in enumerate(shocks):
            w = naive([when])[0]
            h.append(ax.axvline(w, color="k", lw=1.2 if k == 0 else 0.8,
                                ls="-" if k == 0 else "--", label=f"{name}, {w:%Y-%m-%d %H:%M}"))  # fmt: skip
        for when in changes["time"] if len(changes) else []:
            h.append(ax.axvline(naive([when])[0], color="#e31a1c", ls=":", lw=1.6,
                                label="change point (ruptures)"))  # fmt: skip
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("post-like fraction")
        ax.set_title(station, fontsize=9, loc="left")
        if truth and station in truth:
            tt, dts = truth[station]
            ax2 = ax.twinx()
            h += ax2.plot(naive(tt), 1000 * np.asarray(dts), color="#d95f02", lw=1.3,
                          label="injected Δt* on the station's paths (ms, right axis)")  # fmt: skip
            ax2.set_ylabel("injected Δt* (ms)", color="#d95f02")
            ax2.tick_params(axis="y", colors="#d95f02")
            ax2.set_ylim(-0.02 * top, 1.05 * top)
        for handle in h:
            legend.setdefault(handle.get_label(), handle)
    ax = axes[-1, 0]
    ax.set_xlabel("origin time (UTC)")
    ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))
    fig.suptitle("Fault state through the cycle (cross-fitted scores of every event)")
    fig.autofmt_xdate()
    fig.legend(legend.values(), legend.keys(), loc="upper center", ncol=2, fontsize=8,
               bbox_to_anchor=(0.5, 0.0), frameon=False)  # fmt: skip
    return _save(fig, path)
