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

import re
from pathlib import Path

import numpy as np
import pandas as pd

from faultprobe.catalogs.geometry import distance_to_fault, fault_frame
from faultprobe.catalogs.readers import choose_magnitude, read_catalog
from faultprobe.catalogs.selection import select_events
from faultprobe.catalogs.stations import station_table
from faultprobe.config import (
    Box,
    CatalogSource,
    Fault,
    Selection,
    StudyConfig,
)
from faultprobe.derive import mainshock as msk
from faultprobe.derive import plane as pl
from faultprobe.derive import sequence as sq
from faultprobe.derive import stations as stn
from faultprobe.derive.dryrun import class_check, summary_lines
from faultprobe.derive.errors import DeriveError
from faultprobe.derive.options import Derived, InitOptions, InitResult
from faultprobe.derive.sections import CHANNELS, render_config

#: early aftershocks needed to fit or choose a plane
MIN_CLOUD = 20


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


def _coverage(events, main, near, days, same, radius, where):
    before = int((near & (days < 0) & ~same).sum())
    after = int((near & (days > 0) & ~same).sum())
    if before and after:
        return
    t = events["source_origin_time"]
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
    lat, lon = (
        early["source_latitude_deg"].to_numpy(float),
        early["source_longitude_deg"].to_numpy(float),
    )
    depth = early["source_depth_km"].to_numpy(float)
    u, _, w = fault_frame(fault, hypo).coordinates(lat, lon, depth)
    on = np.abs(w) <= max_km
    u, z = u[on], depth[on]
    along = (float(np.floor(np.percentile(u, 2) - 1)), float(np.ceil(np.percentile(u, 98) + 1)))
    depths = (
        max(0.0, float(np.floor(np.percentile(z, 2) - 1))),
        float(np.ceil(np.percentile(z, 98) + 1)),
    )
    return along, depths, int(on.sum())


def derive(opts: InitOptions) -> Derived:
    """Mainshock, catalog, plane, window, box and shocks (no stations yet)."""
    fmt = opts.catalog_format or guess_format(opts.catalog)
    read = read_catalog(CatalogSource(path=opts.catalog, format=fmt, magnitude="best"))
    events = read.events
    if events.empty:
        raise DeriveError(f"{opts.catalog}: no usable event in the catalog ({fmt})")
    which, mag_note = _magnitude_choice(events)
    mag, kind = choose_magnitude(events["mw"].to_numpy(), events["ml"].to_numpy(), which)
    events = events.assign(source_magnitude=mag, source_magnitude_type=kind)
    main = _mainshock(opts, events)
    hypo = main.shock
    radius = sq.search_radius_km(hypo.magnitude)
    xyz = sq.offsets(events, hypo)
    near = np.hypot(xyz[:, 0], xyz[:, 1]) <= radius
    days = sq.days_from(events, hypo.time)
    same = np.abs(days) * 86400 < 2.0
    if main.event_id is not None:
        same |= (events["source_id"].astype(str) == str(main.event_id)).to_numpy()
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
    in_window = near & (events["source_origin_time"] >= start).to_numpy()
    in_window &= (events["source_origin_time"] <= end).to_numpy()
    lat, lon = (
        events["source_latitude_deg"].to_numpy(float),
        events["source_longitude_deg"].to_numpy(float),
    )
    dist = distance_to_fault(fault, hypo, lat, lon, events["source_depth_km"].to_numpy(float))
    on_fault = in_window & (dist <= max_km)
    use = on_fault if on_fault.sum() >= 5 else in_window
    along_box, across_box = sq.derive_box(fault, hypo, lat[use], lon[use])
    box = Box(along_strike_km=along_box, across_strike_km=across_box)
    box_note = (
        f"1-99 % of the {int(use.sum())} window events within {max_km:g} km of the fault "
        "(+2 km) and the fault's surface projection, to whole km"
    )
    shocks = sq.other_shocks(events, hypo, main.event_id, near, start, end)
    mc = sq.completeness(events["source_magnitude"].to_numpy()[in_window])
    b, n_b = sq.b_value(events["source_magnitude"].to_numpy()[in_window], mc)
    above = events["source_magnitude"].to_numpy() >= mc
    pre_fault = on_fault & (days < 0) & above
    return Derived(
        main=main, events=events, fmt=fmt, magnitude=which, magnitude_note=mag_note,
        radius_km=radius, fault=fault, fault_notes=fault_notes, plane_notes=plane_notes,
        window=window, start=start, end=end, box=box, box_note=box_note, shocks=shocks,
        foreshock=sq.foreshock(shocks, hypo), mc=mc, b=b, n_b=n_b, cloud=cloud,
        pre_rate_fault=float(pre_fault.sum()) / max(window.pre_days, 1e-9),
        n_post_fault=int((on_fault & (days > 0) & ~same & above).sum()), warnings=warnings,
    )  # fmt: skip


def derive_study(opts: InitOptions) -> InitResult:
    """Derive the study (and its twin with `opts.synthetic`); nothing is written."""
    d = derive(opts)
    main = d.main.shock
    placed = main.name != "mainshock"
    name = opts.name or _slug(
        f"{main.name}{main.time:%Y}" if placed else f"sequence-{main.time:%Y%m%d}"
    )
    out = Path(opts.out or f"{name}.toml")
    folder = out.resolve().parent
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
    # rank on the selection made with every candidate as a station (isolated at the
    # epicentre: at every candidate at once would be stricter than any chosen set)
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
    text, cfg, secs = render_config(d, opts, name, folder, choice, out)
    # the dry run: the selection `faultprobe catalog` makes from the written config, with
    # its isolation at the chosen stations as that stage reads them from the same metadata
    chosen = station_table(inv, cfg.stations, cfg.study.start, cfg.study.end).stations
    selected = select_events(d.events, cfg, chosen).events
    final = stn.rank(cands, selected, main, opts.record_km).set_index("code")
    table = choice.table.set_index("code")
    table[["recorded", "pre", "post", "in_epoch"]] = final[["recorded", "pre", "post", "in_epoch"]]
    warnings = list(d.warnings)
    class_warn, error = class_check(selected, opts.catalog, opts, d.window)
    if error:
        raise DeriveError(error)
    warnings += class_warn
    if choice.far is None:
        warnings.append(
            f"no station lies {opts.far_margin_km:g} km beyond the study box within "
            f"{opts.station_radius_km:g} km: the study has no far control (a larger "
            "--station-radius-km finds one)"
        )
    summary = summary_lines(cfg, selected, table.reset_index(), opts.record_km)
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
    return render_config(d, opts, name, folder, Choice(near, far, table), out)[1]
