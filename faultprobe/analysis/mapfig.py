"""The report's first figure: the map of events, fault and stations with a magnitude key,
and beneath it the cross-section along the fault's dip direction (depth against distance),
both in the fault frame of faultprobe.geodesy that the selection and the simulator use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from faultprobe.analysis.figures import PHASE_COLORS, _pyplot, _save
from faultprobe.geodesy import KM_PER_DEGREE, FaultFrame


@dataclass(frozen=True)
class MapFrame:
    """What the map draws besides events and stations (lat/lon arrays, closed polygons),
    and the fault frame and depth range the cross-section needs."""

    fault_lat: np.ndarray
    fault_lon: np.ndarray
    fault_top_km: float
    box_lat: np.ndarray
    box_lon: np.ndarray
    mainshock: tuple[str, float, float, float]  # name, lat, lon, magnitude
    shocks: tuple[tuple[str, float, float, float], ...] = ()
    geometry: FaultFrame | None = None
    fault_depth_km: tuple[float, float] = (0.0, 12.0)
    shock_depths_km: tuple[float, ...] = ()  # the mainshock's, then each shock's


def map_frame(cfg) -> MapFrame:
    """The study's fault segment, study box and large shocks, from its config."""
    from faultprobe.catalogs.geometry import box_outline, fault_frame, fault_outline

    flat, flon = fault_outline(cfg.fault, cfg.mainshock)
    blat, blon = box_outline(cfg.fault, cfg.selection.box, cfg.mainshock)
    ms = cfg.mainshock

    def shock(s):
        return (s.name, s.latitude, s.longitude, s.magnitude)

    return MapFrame(
        flat, flon, float(cfg.fault.depth_km[0]), blat, blon, shock(ms),
        tuple(shock(s) for s in cfg.shocks), fault_frame(cfg.fault, ms),
        tuple(float(d) for d in cfg.fault.depth_km),
        tuple(float(s.depth_km) for s in [ms, *cfg.shocks]),
    )  # fmt: skip


def marker_size(magnitude) -> np.ndarray:
    """Marker area (points²) growing with seismic moment's square root: x3.2 per unit."""
    return 5.0 * 10 ** (0.5 * np.clip(np.asarray(magnitude, float), -0.5, 4.5))


def key_magnitudes(magnitude: np.ndarray) -> list[float]:
    """Whole magnitudes spanning the events (at most four) for the size key."""
    m = np.asarray(magnitude, float)
    m = m[np.isfinite(m)]
    if m.size == 0:
        return [1.0, 2.0, 3.0]
    keys = np.arange(np.ceil(m.min()), np.floor(m.max()) + 1)
    keys = keys[:: max(1, int(np.ceil(len(keys) / 4)))]
    return [float(k) for k in keys] or [float(np.round(m.max()))]


def dip_azimuth(frame: FaultFrame) -> float:
    """Azimuth (degrees from north) of the dip direction, strike + 90°."""
    return float(np.mod(frame.fault.strike + 90.0, 360.0))


def section_coordinates(
    frame: FaultFrame, lat: np.ndarray, lon: np.ndarray, depth_km: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal distance (km) from the epicentre along the dip direction, and depth (km)."""
    enu = frame.enu(lat, lon, depth_km)
    d = np.radians(dip_azimuth(frame))
    return enu[..., 0] * np.sin(d) + enu[..., 1] * np.cos(d), np.asarray(depth_km, float)


def fault_section(frame: FaultFrame, depth_km: tuple[float, float]) -> tuple[np.ndarray, ...]:
    """The fault plane's trace in the section: (distance, depth) of its top and bottom."""
    v = np.asarray(frame.dip_range(depth_km))
    dip = np.radians(frame.fault.dip)
    return v * np.cos(dip), frame.hypocenter.depth_km + v * np.sin(dip)


def _scale_bar(ax, lat0: float, km: float = 10.0) -> None:
    """A `km` bar in the lower left corner of a map in degrees."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    dlon = km / (KM_PER_DEGREE * np.cos(np.radians(lat0)))
    x, y = x0 + 0.05 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    ax.plot([x, x + dlon], [y, y], "k", lw=3, solid_capstyle="butt")
    ax.annotate(f"{km:g} km", (x + dlon / 2, y), xytext=(0, 4), textcoords="offset points",
                ha="center", fontsize=8)  # fmt: skip


PHASE_NAMES = {"pre": "pre-mainshock", "post": "post-mainshock"}


def _phases(events: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Events by phase, the most numerous first so the fewer are drawn on top."""
    return sorted(events.groupby("phase"), key=lambda kv: -len(kv[1]))


def _dots(ax, x, y, g: pd.DataFrame, phase: str):
    return ax.scatter(x, y, s=marker_size(g["source_magnitude"]), c=PHASE_COLORS.get(phase, "#7570b3"),
                      alpha=0.55, lw=0.3, edgecolors="w")  # fmt: skip


def event_map(
    events: pd.DataFrame, stations: pd.DataFrame, path: Path, frame: MapFrame | None = None
) -> Path:
    """Map of the events (colour: phase; size: magnitude, with its key), the fault segment's
    surface projection and top edge, the study box, the large shocks (stars) and the
    stations (far controls hollow), in degrees with a km scale bar; beside it the
    cross-section along dip (depth against distance, no vertical exaggeration) with the
    fault plane.  The legends sit under the section, off the data."""
    plt = _pyplot()
    Line2D = need_line2d()
    fig = plt.figure(figsize=(13, 8.5))
    grid = fig.add_gridspec(2, 2, width_ratios=[1, 0.85], height_ratios=[1, 0.8], wspace=0.18,
                            hspace=0.25)  # fmt: skip
    ax = fig.add_subplot(grid[:, 0])
    proxy = []
    if frame is not None:
        ax.fill(frame.fault_lon, frame.fault_lat, color="0.85", zorder=0)
        ax.plot(frame.fault_lon[:2], frame.fault_lat[:2], color="#7f2704", lw=3)
        ax.plot(frame.box_lon, frame.box_lat, "k--", lw=1)
        top = (
            "surface trace" if frame.fault_top_km == 0 else f"top edge ({frame.fault_top_km:g} km)"
        )
        proxy += [
            plt.Rectangle((0, 0), 1, 1, color="0.85", label="fault segment, surface projection (map)"),
            Line2D([], [], color="#7f2704", lw=3, label=f"fault {top} (map), fault plane (section)"),
            Line2D([], [], color="k", ls="--", lw=1, label="study box (map)"),
        ]  # fmt: skip
    for phase, g in _phases(events):
        _dots(ax, g["source_longitude_deg"], g["source_latitude_deg"], g, phase)
        proxy.append(Line2D([], [], ls="", marker="o", ms=7, mew=0, alpha=0.7,
                            color=PHASE_COLORS.get(phase, "#7570b3"),
                            label=f"{PHASE_NAMES.get(phase, phase + '-interval')} events ({len(g)})"))  # fmt: skip
    if frame is not None:
        for name, lat, lon, mag in frame.shocks:
            ax.scatter(lon, lat, marker="*", s=220, c="#fdd0a2", edgecolors="k", lw=0.6, zorder=4)
            ax.annotate(f"{name} M{mag:g}", (lon, lat), xytext=(6, -11),
                        textcoords="offset points", fontsize=8)  # fmt: skip
        name, lat, lon, mag = frame.mainshock
        ax.scatter(lon, lat, marker="*", s=480, c="#e31a1c", edgecolors="k", lw=0.8, zorder=5)
        proxy.append(Line2D([], [], ls="", marker="*", ms=16, mfc="#e31a1c", mec="k",
                            label=f"mainshock: {name} M{mag:g}"))  # fmt: skip
        if frame.shocks:
            proxy.append(Line2D([], [], ls="", marker="*", ms=12, mfc="#fdd0a2", mec="k",
                                label="other large shocks"))  # fmt: skip
    far = stations.get("far", pd.Series(False, index=stations.index)).astype(bool)
    for is_far, g in stations.groupby(far):
        ax.scatter(g["station_longitude_deg"], g["station_latitude_deg"], marker="^", s=130,
                   facecolors="w" if is_far else "k", edgecolors="k", lw=1.2, zorder=6)  # fmt: skip
        proxy.append(Line2D([], [], ls="", marker="^", ms=10, mec="k",
                            mfc="w" if is_far else "k",
                            label="far control station" if is_far else "station"))  # fmt: skip
        for _, s in g.iterrows():
            ax.annotate(f"{s['station_network_code']}.{s['station_code']}",
                        (s["station_longitude_deg"], s["station_latitude_deg"]),
                        xytext=(6, 5), textcoords="offset points", fontsize=9,
                        fontweight="bold", zorder=7)  # fmt: skip
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    lat0 = (
        events["source_latitude_deg"].mean()
        if len(events)
        else stations["station_latitude_deg"].mean()
    )
    ax.set_aspect(1 / np.cos(np.radians(lat0)))
    ax.margins(0.06)
    _scale_bar(ax, lat0)
    ax.set_title("Map", loc="left", fontsize=10)
    if frame is not None and frame.geometry is not None:
        _section(fig.add_subplot(grid[0, 1]), events, frame)
    side = fig.add_subplot(grid[1, 1])
    side.axis("off")
    side.add_artist(side.legend(handles=proxy, loc="upper left", fontsize=8, frameon=False,
                                borderaxespad=0))  # fmt: skip
    keys = key_magnitudes(events["source_magnitude"]) if len(events) else [1.0, 2.0, 3.0]
    sizes = [side.scatter([], [], s=marker_size(m), c="0.55", lw=0.3, edgecolors="w",
                          label=f"M {m:g}") for m in keys]  # fmt: skip
    side.legend(handles=sizes, loc="upper right", fontsize=8, frameon=False, labelspacing=2.6, handletextpad=1.6,
                borderpad=0.6, borderaxespad=0, title="magnitude\n(marker area)",
                title_fontsize=8)  # fmt: skip
    return _save(fig, path)


def need_line2d():
    """matplotlib's Line2D (the legends' proxy markers)."""
    _pyplot()
    from matplotlib.lines import Line2D

    return Line2D


def _section(ax, events: pd.DataFrame, frame: MapFrame) -> None:
    """Depth against distance along dip: events, the fault plane, the large shocks."""
    geo = frame.geometry
    xs = []
    for phase, g in _phases(events):
        x, z = section_coordinates(
            geo, g["source_latitude_deg"], g["source_longitude_deg"], g["source_depth_km"]
        )
        _dots(ax, x, z, g, phase)
        xs.append(x)
    fx, fz = fault_section(geo, frame.fault_depth_km)
    ax.plot(fx, fz, color="#7f2704", lw=3)
    shocks = [frame.mainshock, *frame.shocks]
    if len(frame.shock_depths_km) == len(shocks):
        lat = np.array([s[1] for s in shocks])
        lon = np.array([s[2] for s in shocks])
        sx, sz = section_coordinates(geo, lat, lon, np.array(frame.shock_depths_km))
        ax.scatter(sx[1:], sz[1:], marker="*", s=220, c="#fdd0a2", edgecolors="k", lw=0.6,
                   zorder=4)  # fmt: skip
        ax.scatter(sx[:1], sz[:1], marker="*", s=480, c="#e31a1c", edgecolors="k", lw=0.8,
                   zorder=5)  # fmt: skip
    ax.axhline(0, color="0.3", lw=0.8)
    x = np.concatenate([*xs, fx])
    x = x[np.isfinite(x)]
    pad = 0.06 * (x.max() - x.min()) + 0.5
    ax.set_xlim(x.min() - pad, x.max() + pad)
    depth = events["source_depth_km"].to_numpy(float)
    deepest = max(float(fz.max()), float(np.max(depth[np.isfinite(depth)], initial=0.0)))
    ax.set_ylim(deepest * 1.06 + 0.5, -0.5)
    ax.set_aspect("equal", adjustable="box")
    az = dip_azimuth(geo)
    ax.set_xlabel(f"distance from the epicentre along the dip, N{az:.0f}°E (km)")
    ax.set_ylabel("depth (km)")
    ax.set_title(
        f"Cross-section along dip (strike {geo.fault.strike:g}°, dip {geo.fault.dip:g}°):\n"
        "every event projected, no vertical exaggeration", loc="left", fontsize=10,
    )  # fmt: skip
