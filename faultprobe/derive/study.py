"""`faultprobe init`: a commented study config derived from a mainshock, a catalog and stations.

In order: the mainshock (QuakeML, event service or catalog row); the catalog, which must
cover it; the fault plane (the nodal plane the early aftershocks fit best, or the cloud's own
plane); the window, box, other shocks and a foreshock interval from the catalog's activity;
candidate stations ranked by the selectable events they recorded; the velocity model; then
the project's own selection run dry on the written config, with its counts per month and
station and a warning (or, when no accuracy could be told from chance, an error) for classes
too small for the method. docs/sequences.md walks through it.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from faultprobe.catalogs.geometry import distance_to_fault, fault_frame
from faultprobe.catalogs.readers import choose_magnitude, read_catalog
from faultprobe.catalogs.selection import counts_by_month, select_events
from faultprobe.config import (
    Box,
    CatalogSource,
    Fault,
    Selection,
    StudyConfig,
    Train,
    Waveforms,
    parse_config,
)
from faultprobe.derive import mainshock as msk
from faultprobe.derive import plane as pl
from faultprobe.derive import sequence as sq
from faultprobe.derive import stations as stn
from faultprobe.derive.errors import DeriveError
from faultprobe.derive.writer import Section, render

#: early aftershocks needed to fit or choose a plane
MIN_CLOUD = 20
#: the chance bound (p < 0.01) of a balanced binary test above which init warns
WARN_BOUND = 0.60
ALPHA = 0.01
#: central Italy, where the Carannante et al. (2013) model applies (lat, lon ranges)
CENTRAL_ITALY = ((41.5, 44.5), (11.5, 15.5))
CHANNELS = ["HH?", "EH?", "HN?"]


@dataclass(frozen=True)
class InitOptions:
    """What `faultprobe init` was given (paths as the user typed them)."""

    catalog: str
    out: str
    quakeml: str | None = None
    event_service: str | None = None
    event_id: str | None = None
    time: str | None = None
    time_tolerance_s: float = 60.0
    catalog_format: str | None = None
    inventory: str | None = None
    station_service: str | None = None
    sds_root: str | None = None
    dataselect: str | None = None
    name: str | None = None
    store: str | None = None
    early_days: float = 14.0
    max_days: float = 60.0
    min_magnitude: float = 0.5
    station_radius_km: float = 60.0
    record_km: float = 30.0
    n_near: int = 8
    far_margin_km: float = 5.0
    synthetic: bool = False
    seed: int = 0


@dataclass
class InitResult:
    """The config text (and its simulated twin's), the dry-run summary and the warnings."""

    path: Path
    text: str
    cfg: StudyConfig
    summary: list[str]
    warnings: list[str] = field(default_factory=list)
    twin_path: Path | None = None
    twin_text: str | None = None


def guess_format(path: str) -> str:
    """The catalog reader for a file: by its suffix, else by its first line."""
    suffix = Path(path).suffix.lower()
    if suffix in (".xml", ".qml", ".quakeml"):
        return "quakeml"
    if suffix == ".csv":
        return "csv"
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError:
        return "tan2021"  # the reader names the missing file
    if first.lstrip().startswith("<"):
        return "quakeml"
    if "EventID" in first and "|" in first:
        return "fdsn_text"
    return "tan2021"


def _magnitude_choice(events: pd.DataFrame) -> tuple[str, str]:
    """'mw' where (nearly) every event has one, else 'ml', else 'best'; and why."""
    mw, ml = events["mw"].notna().mean(), events["ml"].notna().mean()
    if mw >= 0.9:
        return "mw", f"Mw for {100 * mw:.0f} % of the events"
    if ml >= 0.9:
        return "ml", f"Mw for {100 * mw:.0f} %, ML for {100 * ml:.0f} % of the events"
    return "best", f"Mw where given ({100 * mw:.0f} %), else ML"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "sequence"


def _rel(path: str, folder: Path) -> str:
    """A path as the config writes it: relative to the config's folder (URLs kept)."""
    if "://" in path:
        return path
    return os.path.relpath(Path(path).resolve(), folder.resolve())


def _mainshock(opts: InitOptions, events: pd.DataFrame) -> msk.Mainshock:
    given = [opts.quakeml is not None, opts.event_id is not None, opts.time is not None]
    if sum(given) != 1:
        raise DeriveError(
            "faultprobe init: give the mainshock one way: --quakeml FILE, --event-service URL "
            "--event-id ID, or --time UTC (the largest --catalog event then)"
        )
    if opts.quakeml:
        return msk.read_mainshock(opts.quakeml)
    if opts.event_id:
        if not opts.event_service:
            raise DeriveError("faultprobe init: --event-id needs --event-service URL")
        return msk.fetch_mainshock(opts.event_service, opts.event_id)
    try:
        t = pd.Timestamp(opts.time)
    except ValueError:
        raise DeriveError(
            f"--time {opts.time!r} is not a date-time; give it as 2016-08-24T01:36:32Z (UTC)"
        ) from None
    return msk.from_catalog(events, t, opts.time_tolerance_s, opts.catalog)


def velocity_model(lat: float, lon: float) -> tuple[str, str]:
    """The built-in regional model where it applies, else iasp91, and why."""
    (la0, la1), (lo0, lo1) = CENTRAL_ITALY
    if la0 <= lat <= la1 and lo0 <= lon <= lo1:
        return "carannante2013", (
            f"central Italy ({la0:g}-{la1:g} N, {lo0:g}-{lo1:g} E): the 1-D model of "
            "Carannante et al. (2013) used for INGV relocations"
        )
    return "iasp91", (
        f"no regional model ships for {lat:.2f} N, {lon:.2f} E: the global iasp91 (P times "
        "good to a second or so; a local 1-D model is better where you have one)"
    )


@dataclass
class _Derived:
    """Everything derived before the stations are chosen."""

    main: msk.Mainshock
    events: pd.DataFrame
    fmt: str
    magnitude: str
    magnitude_note: str
    radius_km: float
    fault: Fault
    fault_notes: dict[str, str]
    plane_notes: list[str]
    window: sq.Window
    start: pd.Timestamp
    end: pd.Timestamp
    box: Box
    box_note: str
    shocks: pd.DataFrame
    foreshock: pd.Series | None
    mc: float
    b: float
    n_b: int
    cloud: pl.PlaneFit
    pre_rate_fault: float
    n_post_fault: int
    warnings: list[str] = field(default_factory=list)


def _coverage(events, main, near, days, same, radius, where):
    before = int((near & (days < 0) & ~same).sum())
    after = int((near & (days > 0) & ~same).sum())
    if before and after:
        return
    t = events["origin_time"]
    span = f"{t.min():%Y-%m-%d} to {t.max():%Y-%m-%d}" if len(t) else "nothing"
    raise DeriveError(
        f"{where}: the catalog does not cover the mainshock ({main.time:%Y-%m-%dT%H:%M:%SZ}, "
        f"{main.latitude:.3f} N {main.longitude:.3f} E): it spans {span}, with {before} "
        f"events within {radius:.0f} km before the mainshock and {after} after; give a "
        "catalog of the sequence with events before and after the mainshock"
    )


def _plane(d_xyz, main: msk.Mainshock, cloud: pl.PlaneFit, early_days, warnings):
    """The fault's strike, dip, rake and the notes on how they were chosen."""
    n = cloud.n_points
    own = (
        f"the cloud's own plane (PCA of {cloud.n_used} of {n} events) is {cloud.strike:.1f}/"
        f"{cloud.dip:.1f} ± {cloud.strike_sd:.1f}/{cloud.dip_sd:.1f}° (bootstrap)"
    )
    if main.planes:
        strikes = [p.strike for p in main.planes]
        dips = [p.dip for p in main.planes]
        scores = pl.score_planes(d_xyz, strikes, dips, cloud)
        best = int(np.argmin([s.median_km for s in scores]))
        p, s = main.planes[best], scores[best]
        others = [
            f"nodal plane {i + 1} ({q.strike:.0f}/{q.dip:.0f}/{q.rake:.0f}): {o.median_km:.2f} km"
            for i, (q, o) in enumerate(zip(main.planes, scores))
            if i != best
        ]
        ratio = min((o.median_km for i, o in enumerate(scores) if i != best), default=np.inf)
        ratio /= max(s.median_km, 1e-3)
        sure = "clear" if ratio >= 2 else "weak: check the cloud"
        notes = [
            f"Fault plane: nodal plane {best + 1} of the focal mechanism ({p.strike:.0f}/"
            f"{p.dip:.0f}/{p.rake:.0f}), the one the {n} early aftershocks (first "
            f"{early_days:g} days) fit best: median distance {s.median_km:.2f} km (RMS "
            f"{s.rms_km:.2f} km) to it through the hypocentre, against "
            + "; ".join(others)
            + f" ({sure}: {ratio:.1f}x). The{own[3:]}, {s.angle_to_cloud:.1f}° from the chosen "
            "plane."
        ]
        if ratio < 2:
            warnings.append(
                f"the early aftershocks fit nodal plane {best + 1} only {ratio:.1f}x better "
                "than the other: the fault plane is uncertain; look at the cloud (--early-days "
                "changes which events it holds)"
            )
        comments = {
            "strike": f"nodal plane {best + 1}; cloud {cloud.strike:.1f} ± {cloud.strike_sd:.1f}",
            "dip": f"nodal plane {best + 1}; cloud {cloud.dip:.1f} ± {cloud.dip_sd:.1f}",
            "rake": "nodal plane's rake",
        }
        return p.strike, p.dip, p.rake, notes, comments
    offset = float(abs(cloud.centroid @ cloud.normal))
    notes = [
        f"Fault plane: no focal mechanism, so {own}, from the early aftershocks (first "
        f"{early_days:g} days); they spread {cloud.spread_km:.2f} km about it (robust std) and "
        f"the hypocentre lies {offset:.1f} km off it (the selection measures distances to the "
        "plane through the hypocentre)."
    ]
    if cloud.strike_sd > 10 or cloud.dip_sd > 10 or cloud.thickness_ratio > 0.5:
        warnings.append(
            f"the aftershock cloud is not clearly planar (strike ± {cloud.strike_sd:.0f}°, dip "
            f"± {cloud.dip_sd:.0f}°, thickness/width {cloud.thickness_ratio:.2f}): the fault "
            "plane is uncertain; a QuakeML with a focal mechanism would help"
        )
    comments = {
        "strike": f"PCA of the cloud, ± {cloud.strike_sd:.1f} (bootstrap)",
        "dip": f"PCA of the cloud, ± {cloud.dip_sd:.1f} (bootstrap)",
        "rake": "unknown without a focal mechanism (normal assumed; not used by selection)",
    }
    return round(cloud.strike, 1), round(cloud.dip, 1), -90.0, notes, comments


def _extent(fault: Fault, hypo, early: pd.DataFrame, max_km: float):
    """Along-strike and depth extent of the early events near the plane (2-98 %, +1 km)."""
    lat, lon = early["latitude"].to_numpy(float), early["longitude"].to_numpy(float)
    depth = early["depth_km"].to_numpy(float)
    u, _, w = fault_frame(fault, hypo).coordinates(lat, lon, depth)
    on = np.abs(w) <= max_km
    u, z = u[on], depth[on]
    along = (float(np.floor(np.percentile(u, 2) - 1)), float(np.ceil(np.percentile(u, 98) + 1)))
    depths = (
        max(0.0, float(np.floor(np.percentile(z, 2) - 1))),
        float(np.ceil(np.percentile(z, 98) + 1)),
    )
    return along, depths, int(on.sum())


def derive(opts: InitOptions) -> _Derived:
    """Mainshock, catalog, plane, window, box and shocks (no stations yet)."""
    fmt = opts.catalog_format or guess_format(opts.catalog)
    read = read_catalog(CatalogSource(path=opts.catalog, format=fmt, magnitude="best"))
    events = read.events
    if events.empty:
        raise DeriveError(f"{opts.catalog}: no usable event in the catalog ({fmt})")
    which, mag_note = _magnitude_choice(events)
    mag, kind = choose_magnitude(events["mw"].to_numpy(), events["ml"].to_numpy(), which)
    events = events.assign(magnitude=mag, magnitude_type=kind)
    main = _mainshock(opts, events)
    hypo = main.shock
    radius = sq.search_radius_km(hypo.magnitude)
    xyz = sq.offsets(events, hypo)
    near = np.hypot(xyz[:, 0], xyz[:, 1]) <= radius
    days = sq.days_from(events, hypo.time)
    same = np.abs(days) * 86400 < 2.0
    if main.event_id is not None:
        same |= (events["event_id"].astype(str) == str(main.event_id)).to_numpy()
    _coverage(events, hypo, near, days, same, radius, opts.catalog)
    early_mask = near & (days > 0) & (days <= opts.early_days) & ~same
    if early_mask.sum() < MIN_CLOUD:
        raise DeriveError(
            f"{opts.catalog}: only {int(early_mask.sum())} events within {radius:.0f} km in the "
            f"{opts.early_days:g} days after the mainshock; at least {MIN_CLOUD} are needed to "
            "fit or choose the fault plane: give a catalog with the aftershocks, or a longer "
            "--early-days"
        )
    cloud = pl.fit_plane(xyz[early_mask], seed=opts.seed)
    warnings: list[str] = []
    strike, dip, rake, plane_notes, fault_notes = _plane(
        xyz[early_mask], main, cloud, opts.early_days, warnings
    )
    plane_only = Fault(strike=strike, dip=dip, rake=rake)
    max_km = Selection().max_fault_distance_km
    along, depths, n_on = _extent(plane_only, hypo, events[early_mask], max_km)
    fault = Fault(strike=strike, dip=dip, rake=rake, along_strike_km=along, depth_km=depths)
    fault_notes["along_strike_km"] = (
        f"2-98 % of the {n_on} early aftershocks within {max_km:g} km of the plane, +1 km"
    )
    fault_notes["depth_km"] = "their depths, 2-98 %, +1 km"
    window = sq.derive_window(
        days[near & ~same], float(days.min()), float(days.max()), opts.max_days
    )
    t0 = pd.Timestamp(hypo.time)
    start = (t0 - pd.Timedelta(days=window.pre_days)).ceil("s")
    end = t0 + pd.Timedelta(days=window.post_days)
    in_window = near & (events["origin_time"] >= start).to_numpy()
    in_window &= (events["origin_time"] <= end).to_numpy()
    lat, lon = events["latitude"].to_numpy(float), events["longitude"].to_numpy(float)
    dist = distance_to_fault(fault, hypo, lat, lon, events["depth_km"].to_numpy(float))
    on_fault = in_window & (dist <= max_km)
    use = on_fault if on_fault.sum() >= 5 else in_window
    along_box, across_box = sq.derive_box(fault, hypo, lat[use], lon[use])
    box = Box(along_strike_km=along_box, across_strike_km=across_box)
    box_note = (
        f"1-99 % of the {int(use.sum())} window events within {max_km:g} km of the fault "
        "(+2 km) and the fault's surface projection, to whole km"
    )
    shocks = sq.other_shocks(events, hypo, main.event_id, near, start, end)
    mc = sq.completeness(events["magnitude"].to_numpy()[in_window])
    b, n_b = sq.b_value(events["magnitude"].to_numpy()[in_window], mc)
    above = events["magnitude"].to_numpy() >= mc
    pre_fault = on_fault & (days < 0) & above
    return _Derived(
        main=main, events=events, fmt=fmt, magnitude=which, magnitude_note=mag_note,
        radius_km=radius, fault=fault, fault_notes=fault_notes, plane_notes=plane_notes,
        window=window, start=start, end=end, box=box, box_note=box_note, shocks=shocks,
        foreshock=sq.foreshock(shocks, hypo), mc=mc, b=b, n_b=n_b, cloud=cloud,
        pre_rate_fault=float(pre_fault.sum()) / max(window.pre_days, 1e-9),
        n_post_fault=int((on_fault & (days > 0) & ~same & above).sum()), warnings=warnings,
    )  # fmt: skip


def _shock_name(row: pd.Series) -> str:
    return f"M{row['magnitude']:.1f} {row['origin_time']:%Y-%m-%d %H:%M}"


def _phase_name(row: pd.Series) -> str:
    return f"foreshock-{row['origin_time']:%Y%m%d}"


def sections(
    d: _Derived, opts: InitOptions, name: str, folder: Path, stations: dict
) -> list[Section]:
    """The config's sections with their notes and comments."""
    main, hypo = d.main, d.main.shock
    w = d.window
    out = []
    s = Section("study")
    s.add("name", name, "--name" if opts.name else "from the mainshock's place and year")
    s.add("description", f"Pre/post classification around the {main.magnitude_type} "
          f"{hypo.magnitude:.1f} {hypo.name} "
          f"mainshock (derived by faultprobe init)")  # fmt: skip
    s.add("store", opts.store or f"studies/{name}", "where the study's tables and cube go")
    s.add("start", d.start.to_pydatetime(), w.pre_note)
    s.add("end", d.end.to_pydatetime(), w.post_note)
    s.notes.append(
        f"The window: the pre class is usually the scarce one, so it reaches back as far as "
        f"allowed; the post window ends when the aftershock rate within {d.radius_km:.0f} km "
        f"(twice the Wells & Coppersmith 1994 rupture length) is back to "
        f"{sq.RATE_FACTOR:g}x the pre-mainshock rate ({w.pre_rate:.2f} events/day)."
    )
    out.append(s)

    s = Section("mainshock", notes=[f"From {main.source}."])
    s.add("name", hypo.name, main.region or "")
    s.add("time", hypo.time, "UTC")
    s.add("latitude", round(hypo.latitude, 5))
    s.add("longitude", round(hypo.longitude, 5))
    s.add("depth_km", round(hypo.depth_km, 3))
    s.add("magnitude", round(hypo.magnitude, 2), main.magnitude_type)
    out.append(s)

    for i, (_, row) in enumerate(d.shocks.iterrows()):
        dt = (row["origin_time"] - pd.Timestamp(hypo.time)).total_seconds() / 86400
        notes = []
        if i == 0:
            notes = [
                f"Other large shocks: catalog events within {d.radius_km:.0f} km at most "
                f"{sq.SHOCK_DROP:g} below the mainshock, from {sq.SHOCK_LEAD_DAYS:g} days "
                "before the window to its end (rename them as you like)."
            ]
        s = Section("shocks", array=True, notes=notes)
        s.add("name", _shock_name(row), f"{dt:+.2f} days from the mainshock; event "
              f"{row['event_id']} of the catalog")  # fmt: skip
        s.add("time", row["origin_time"].to_pydatetime())
        s.add("latitude", round(float(row["latitude"]), 5))
        s.add("longitude", round(float(row["longitude"]), 5))
        s.add("depth_km", round(max(float(row["depth_km"]), 0.0), 3))
        s.add("magnitude", round(float(row["magnitude"]), 2), row["magnitude_type"] or "")
        out.append(s)

    if d.foreshock is not None:
        f = d.foreshock
        s = Section("phases", array=True, notes=[
            f"The interval between the largest foreshock within {sq.FORESHOCK_DAYS:g} days and "
            f"{sq.FORESHOCK_DROP:g} magnitude units of the mainshock ({_shock_name(f)}) and the "
            "mainshock is its own class, as the paper's Visso-Norcia interval; binary and "
            "time-to-failure runs leave it out ([train] exclude_phases). Delete this table to "
            "keep those events in pre."
        ])  # fmt: skip
        s.add("name", _phase_name(f))
        s.add("start", f["origin_time"].to_pydatetime())
        s.add("end", hypo.time)
        out.append(s)

    s = Section("fault", notes=d.plane_notes)
    fn = d.fault_notes
    s.add("strike", round(d.fault.strike, 1), fn["strike"])
    s.add("dip", round(d.fault.dip, 1), fn["dip"])
    s.add("rake", round(d.fault.rake, 1), fn["rake"])
    s.add("along_strike_km", list(d.fault.along_strike_km), fn["along_strike_km"])
    s.add("depth_km", list(d.fault.depth_km), fn["depth_km"])
    out.append(s)

    s = Section("catalog", notes=[f"The catalog given to faultprobe init ({d.fmt})."])
    s.add("path", _rel(opts.catalog, folder))
    s.add("format", d.fmt, "--catalog-format" if opts.catalog_format else "from the file")
    s.add("magnitude", d.magnitude, d.magnitude_note)
    out.append(s)

    s = Section("selection", notes=[
        f"The paper's rules (docs/catalog.md). Completeness of the window's events near the "
        f"mainshock: Mc {d.mc:.1f} (maximum curvature + 0.2), b = {d.b:.2f} above it "
        f"({d.n_b} events)."
    ])  # fmt: skip
    sel = Selection()
    s.add("max_fault_distance_km", sel.max_fault_distance_km, "the paper's")
    s.add("min_depth_km", sel.min_depth_km, "the paper's")
    s.add(
        "min_magnitude",
        opts.min_magnitude,
        "--min-magnitude" if opts.min_magnitude != sel.min_magnitude else "the paper's",
    )
    s.add("isolation_before_s", sel.isolation_before_s, "the paper's")
    s.add("isolation_after_s", sel.isolation_after_s, "the paper's: the 20 s window and P")
    out.append(s)
    s = Section("selection.box")
    s.add("along_strike_km", list(d.box.along_strike_km), d.box_note)
    s.add("across_strike_km", list(d.box.across_strike_km), "positive toward strike - 90°")
    out.append(s)

    out.append(stations["section"])
    out.append(stations["waveforms"])
    out.append(Section("cluster").add("kind", "local", "docs/configuration.md for others"))
    return out


def _stations_sections(d: _Derived, opts, folder, choice, ranked_note, name) -> dict:
    table = choice.table.set_index("code")

    def note(code: str) -> str:
        r = table.loc[code]
        return (
            f"{r['distance_km']:.1f} km from the epicentre; records {r['recorded']} selectable "
            f"events (pre {r['pre']}, post {r['post']})"
        )

    s = Section("stations", notes=[ranked_note])
    s.add("codes", choice.near, "", items=[note(c) for c in choice.near])
    if choice.far:
        r = table.loc[choice.far]
        s.add("far", [choice.far], f"{r['outside_box_km']:.1f} km beyond the study box, "
              f"{r['distance_km']:.0f} km from the epicentre")  # fmt: skip
    else:
        s.add("far", [], f"no station {opts.far_margin_km:g} km beyond the study box")
    if opts.inventory:
        s.add("inventory", _rel(opts.inventory, folder))
    else:
        s.add("fdsn", opts.station_service)
    s.add("channel_priority", CHANNELS)
    model, model_note = velocity_model(d.main.shock.latitude, d.main.shock.longitude)
    wf = Section("waveforms")
    if opts.sds_root:
        wf.add("source", "sds", "--sds-root")
        wf.add("sds_root", _rel(opts.sds_root, folder))
    else:
        service = opts.dataselect or opts.station_service
        how = "--dataselect" if opts.dataselect else "the station service's data centre"
        if service is None:
            service = "INGV" if model == "carannante2013" else "IRIS"
            how = "a guess from the region: set the data centre of your stations' networks"
        wf.add("source", "fdsn")
        wf.add("fdsn", service, how)
        wf.add("cache", f"studies/{name}-cache", "fetched miniSEED is kept here (SDS layout)")
    paper = Waveforms.model_fields
    wf.add("sampling_rate", paper["sampling_rate"].default, "the paper's; others are resampled")
    wf.add("window_s", list(paper["window_s"].default), "the paper's: 5 s before to 20 s after P")
    wf.add("velocity_model", model, model_note)
    return {"section": s, "waveforms": wf}


def _class_check(
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


def derive_study(opts: InitOptions, say=lambda msg: None) -> InitResult:
    """Derive the study (and its twin with `opts.synthetic`); nothing is written."""
    d = derive(opts)
    main = d.main.shock
    name = opts.name or _slug(
        f"{d.main.shock.name if d.main.shock.name != 'mainshock' else 'sequence'}{main.time:%Y}"
    )
    out = Path(opts.out or f"{name}.toml")
    folder = out.resolve().parent
    say(f"mainshock: {d.main.source}")
    if opts.inventory:
        inv, where = stn.load_inventory(opts.inventory), opts.inventory
    elif opts.station_service:
        inv, _ = stn.fetch_inventory(
            opts.station_service, main, opts.station_radius_km, d.start, d.end
        )
        where = f"the station service {opts.station_service}"
    else:
        raise DeriveError(
            "faultprobe init: give the stations: --inventory FILE (StationXML) or "
            "--station-service URL"
        )
    cands, usable = stn.candidates(inv, main, opts.station_radius_km, d.start, d.end, CHANNELS)
    if cands.empty:
        raise stn.no_station_error(where, main, opts.station_radius_km, usable)
    # the selection does not depend on which stations are chosen: run it once on them all
    provisional = _config(d, opts, name, folder, cands["code"].tolist(), None, out)
    selected = select_events(d.events, provisional).events
    ranked = stn.rank(cands, selected, main, opts.record_km)
    choice = stn.choose(ranked, d.fault, d.box, main, opts.n_near, opts.far_margin_km)
    if not choice.near:
        raise DeriveError(
            f"{where}: none of its {len(cands)} stations within {opts.station_radius_km:g} km "
            f"was open within {opts.record_km:g} km of a selectable event; give an inventory "
            "that covers the study window, or a larger --record-km"
        )
    text, cfg, secs = _render(d, opts, name, folder, choice, out)
    warnings = list(d.warnings)
    class_warn, error = _class_check(selected, opts.catalog, opts, d.window)
    if error:
        raise DeriveError(error)
    warnings += class_warn
    if choice.far is None:
        warnings.append(
            f"no station lies {opts.far_margin_km:g} km beyond the study box within "
            f"{opts.station_radius_km:g} km: the study has no far control (a larger "
            "--station-radius-km finds one)"
        )
    summary = summary_lines(cfg, selected, choice.table, opts.record_km)
    text += "\n" + "\n".join(f"# {line}".rstrip() for line in summary) + "\n"
    result = InitResult(out, text, cfg, summary, warnings)
    if opts.synthetic:
        from faultprobe.derive.twin import twin_text

        result.twin_path = out.with_name(out.stem + "-synthetic.toml")
        result.twin_text = twin_text(secs, d, choice, result.twin_path, name)
    return result


def _config(d, opts, name, folder, near, far, out) -> StudyConfig:
    """A config for the derived values with these stations (validated as the file would be)."""
    from faultprobe.derive.stations import Choice

    table = pd.DataFrame({"code": near, "distance_km": 0.0, "recorded": 0, "pre": 0,
                          "post": 0, "outside_box_km": 0.0})  # fmt: skip
    return _render(d, opts, name, folder, Choice(near, far, table), out)[1]


def _render(d, opts, name, folder, choice, out) -> tuple[str, StudyConfig, list[Section]]:
    ranked_note = (
        f"Stations: those with {', '.join(CHANNELS)} channels open in the window within "
        f"{opts.station_radius_km:g} km of the epicentre, ranked by the selectable events "
        f"each recorded within {opts.record_km:g} km (the {opts.n_near} best, each with at "
        f"least {100 * stn.NEAR_FRACTION:.0f} % of the best one's); the far "
        f"control is the one open for most events at least {opts.far_margin_km:g} km beyond "
        "the study box (the nearest of those)."
    )
    st = _stations_sections(d, opts, folder, choice, ranked_note, name)
    secs = sections(d, opts, name, folder, st)
    header = [
        f"Study config derived by `faultprobe init` from the {d.main.magnitude_type} "
        f"{d.main.shock.magnitude:.1f} "
        f"{d.main.shock.name} mainshock of {d.main.shock.time:%Y-%m-%d}. Every value says "
        "where it came from; check them before a long run (docs/sequences.md). All times UTC.",
    ]
    text = render(secs, header)
    cfg = parse_config(tomllib.loads(text), source=str(out), base=folder)
    return text, cfg, secs
