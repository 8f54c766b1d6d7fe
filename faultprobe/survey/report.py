"""The survey report: the survey table (with each study's controls verdict where its
controls grid ran), the transfer matrix, the leave-one-sequence-out table and a map of the
sequences, written as report.md and sequences.png into the survey store."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from faultprobe.config import StudyConfig
from faultprobe.store import Store

log = logging.getLogger(__name__)

REPORT, MAP = "report.md", "sequences.png"
VERDICT_COLORS = {"above": "#d95f02", "weakly": "#fdae6b", "inside": "#1b9e77", "other": "0.6"}


def controls_columns(cfg: StudyConfig) -> pd.DataFrame:
    """Per station, the verdict of the study's controls grid and the numbers that decided
    it (`analysis.verdict.verdict_table`); empty where that grid has not run."""
    from faultprobe.analysis.runner import read_results
    from faultprobe.analysis.verdict import verdict_table
    from faultprobe.config.stages import GridSettings

    store = Store(cfg.study.store)
    results = read_results(store)
    if results.empty or not ((results["grid"] == "controls") & (results["status"] == "ok")).any():
        return pd.DataFrame()
    vt = verdict_table(store, results, GridSettings.of(cfg))
    if vt.empty:
        return vt
    cols = {"verdict": "controls verdict", "the numbers that decided it": "controls numbers"}
    return vt[["station", *cols]].rename(columns=cols).assign(sequence=cfg.study.name)


def with_controls(table: pd.DataFrame, configs: list[StudyConfig]) -> pd.DataFrame:
    """The survey table with the controls columns joined per sequence × station ('–' where
    a study has no controls grid)."""
    if table.empty:
        return table
    parts = [c for c in (controls_columns(cfg) for cfg in configs) if not c.empty]
    out = table.copy()
    if parts:
        out = out.merge(pd.concat(parts), on=["sequence", "station"], how="left")
    for col in ("controls verdict", "controls numbers"):
        out[col] = out[col].fillna("–") if col in out else "–"
    return out


def _kind(verdict: str) -> str:
    for key in ("above", "weakly", "inside"):
        if str(verdict).startswith(key):
            return key
    return "other"


def sequence_map(configs: list[StudyConfig], table: pd.DataFrame, path: Path) -> Path:
    """Overview of the sequences (mainshock epicentres coloured by the survey verdict at the
    training station, sized by magnitude) and one panel per sequence: its fault segment's
    surface projection, study box, mainshock and stations."""
    from faultprobe.analysis.figures import _pyplot, _save
    from faultprobe.analysis.mapfig import map_frame

    plt = _pyplot()
    n = len(configs)
    cols = min(n, 3)
    rows = 1 + int(np.ceil(n / cols))
    fig = plt.figure(figsize=(4.2 * cols, 3.8 * rows))
    grid = fig.add_gridspec(rows, cols)
    ax = fig.add_subplot(grid[0, :])
    verdicts = {}
    if not table.empty:
        binary = table[table["classes"] == 2]
        for name, g in binary.groupby("sequence"):
            near = g[~g["far"].astype(bool)] if "far" in g else g
            verdicts[name] = (near if len(near) else g).iloc[0]["verdict"]
    from matplotlib.lines import Line2D

    labels = {"above": "above chance", "weakly": "weakly above chance",
              "inside": "inside the chance band", "other": "no verdict"}  # fmt: skip
    seen: list[str] = []
    for i, cfg in enumerate(configs):
        ms, name = cfg.mainshock, cfg.study.name
        kind = _kind(verdicts.get(name, ""))
        ax.scatter(ms.longitude, ms.latitude, s=12 * ms.magnitude**2, marker="*",
                   c=VERDICT_COLORS[kind], edgecolors="k", lw=0.7, zorder=3)  # fmt: skip
        if kind not in seen:
            seen.append(kind)
        ax.annotate(f"{name}, M{ms.magnitude:.1f} {ms.time:%Y-%m-%d}", (ms.longitude, ms.latitude),
                    xytext=(10, 10 - 14 * (i % 3)), textcoords="offset points", fontsize=8)  # fmt: skip
    handles = [
        Line2D(
            [], [], marker="*", ls="", ms=12, mfc=VERDICT_COLORS[k], mec="k", label=labels[k]
        )  # fmt: skip
        for k in seen
    ]
    lons = [c.mainshock.longitude for c in configs]
    lats = [c.mainshock.latitude for c in configs]
    pad = max(2.0, 0.15 * max(np.ptp(lons), np.ptp(lats)))
    ax.set_xlim(min(lons) - pad, max(lons) + 3 * pad)
    ax.set_ylim(min(lats) - pad, max(lats) + pad)
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    ax.set_title("Sequences of the survey (star size: mainshock magnitude)")
    ax.legend(handles=handles, fontsize=8, loc="upper right", title="survey verdict, near station (exact test, p < 0.01)",
              title_fontsize=8)  # fmt: skip
    ax.grid(alpha=0.3)
    for i, cfg in enumerate(configs):
        a = fig.add_subplot(grid[1 + i // cols, i % cols])
        f = map_frame(cfg)
        a.fill(f.fault_lon, f.fault_lat, color="0.85", label="fault (surface projection)")
        a.plot(f.box_lon, f.box_lat, "k--", lw=1, label="study box")
        _, lat, lon, mag = f.mainshock
        a.scatter(lon, lat, marker="*", s=200, c="#e31a1c", edgecolors="k", zorder=5,
                  label=f"mainshock M{mag:g}")  # fmt: skip
        _stations(a, cfg)
        a.set_xlabel("longitude (°E)")
        a.set_ylabel("latitude (°N)")
        a.set_aspect(1 / np.cos(np.radians(lat)))
        a.set_title(f"{cfg.study.name}: strike {cfg.fault.strike:g}°, dip {cfg.fault.dip:g}°",
                    fontsize=9)  # fmt: skip
        if i == 0:
            a.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return _save(fig, path)


def _stations(ax, cfg: StudyConfig) -> None:
    """The study's stations from its store (near filled, far hollow), where it has them."""
    store = Store(cfg.study.store)
    if not store.exists("stations.parquet"):
        return
    st = store.read_table("stations.parquet")
    net, sta = st.get("station_network_code"), st["station_code"]
    code = sta if net is None else net + "." + sta
    far = code.isin(cfg.stations.far).to_numpy()
    for is_far in (False, True):
        g = st[far == is_far]
        if g.empty:
            continue
        ax.scatter(g["station_longitude_deg"], g["station_latitude_deg"], marker="^", s=70,
                   facecolors="none" if is_far else "k", edgecolors="k", zorder=6,
                   label="far control station" if is_far else "station")  # fmt: skip
        for (_, s), c in zip(g.iterrows(), code[far == is_far]):
            ax.annotate(c, (s["station_longitude_deg"], s["station_latitude_deg"]), xytext=(4, 3),
                        textcoords="offset points", fontsize=7)  # fmt: skip


def write_report(store: Store, configs: list[StudyConfig], table: pd.DataFrame,
                 transfer: pd.DataFrame, loso: pd.DataFrame) -> str:  # fmt: skip
    """report.md (the tables as text) and sequences.png into the survey store; returns the
    report's text."""
    from faultprobe.survey import loso as lo
    from faultprobe.survey.tables import render

    parts = ["# Survey report", "", "```", render(table, transfer)]
    if not loso.empty:
        parts += ["", lo.render(loso)]
    if "controls verdict" in table and (table["controls verdict"] != "–").any():
        cols = ["sequence", "station", "controls verdict"]
        parts += ["", "controls (per station, where the controls grid ran):",
                  table[cols].to_string(index=False)]  # fmt: skip
    parts += ["```", "", f"![Sequences of the survey]({MAP})", ""]
    text = "\n".join(parts)
    if configs:
        with tempfile.TemporaryDirectory() as tmp:
            png = sequence_map(configs, table, Path(tmp) / MAP)
            store.write_bytes(png.read_bytes(), MAP)
    store.write_text(text, REPORT)
    return text
