"""The derived study as config sections, each value with the comment saying where it came from."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pandas as pd

from faultprobe.config import (
    Selection,
    StudyConfig,
    Waveforms,
    parse_config,
)
from faultprobe.derive import sequence as sq
from faultprobe.derive import stations as stn
from faultprobe.derive.options import Derived, InitOptions
from faultprobe.derive.writer import Section, render

#: central Italy, where the Carannante et al. (2013) model applies (lat, lon ranges)
CENTRAL_ITALY = ((41.5, 44.5), (11.5, 15.5))
CHANNELS = ["HH?", "EH?", "HN?"]


def _rel(path: str, folder: Path) -> str:
    """A path as the config writes it: relative to the config's folder (URLs kept)."""
    if "://" in path:
        return path
    return os.path.relpath(Path(path).resolve(), folder.resolve())


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


def _title(d: Derived) -> str:
    """'the Mw 6.0 Accumoli mainshock of 2016-08-24'."""
    m = d.main.shock
    place = f" {m.name}" if m.name != "mainshock" else ""
    return f"the {d.main.magnitude_type} {m.magnitude:.1f}{place} mainshock of {m.time:%Y-%m-%d}"


def _shock_name(row: pd.Series) -> str:
    return f"M{row['source_magnitude']:.1f} {row['source_origin_time']:%Y-%m-%d %H:%M}"


def _phase_name(row: pd.Series) -> str:
    return f"foreshock-{row['source_origin_time']:%Y%m%d}"


def sections(
    d: Derived, opts: InitOptions, name: str, folder: Path, stations: dict
) -> list[Section]:
    """The config's sections with their notes and comments."""
    main, hypo = d.main, d.main.shock
    w = d.window
    out = []
    s = Section("study")
    s.add("name", name, "--name" if opts.name else "from the mainshock's place and date")
    s.add("description", f"Pre/post classification around {_title(d)} (derived by faultprobe "
          "init)")  # fmt: skip
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
        dt = (row["source_origin_time"] - pd.Timestamp(hypo.time)).total_seconds() / 86400
        notes = []
        if i == 0:
            notes = [
                f"Other large shocks: catalog events within {d.radius_km:.0f} km at most "
                f"{sq.SHOCK_DROP:g} below the mainshock, from {sq.SHOCK_LEAD_DAYS:g} days "
                "before the window to its end (rename them as you like)."
            ]
        s = Section("shocks", array=True, notes=notes)
        s.add("name", _shock_name(row), f"{dt:+.2f} days from the mainshock; event "
              f"{row['source_id']} of the catalog")  # fmt: skip
        s.add("time", row["source_origin_time"].to_pydatetime())
        s.add("latitude", round(float(row["source_latitude_deg"]), 5))
        s.add("longitude", round(float(row["source_longitude_deg"]), 5))
        s.add("depth_km", round(max(float(row["source_depth_km"]), 0.0), 3))
        s.add(
            "magnitude",
            round(float(row["source_magnitude"]), 2),
            row["source_magnitude_type"] or "",
        )
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
        s.add("start", f["source_origin_time"].to_pydatetime())
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


def _stations_sections(d: Derived, opts, folder, choice, ranked_note, name) -> dict:
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


def render_config(d, opts, name, folder, choice, out) -> tuple[str, StudyConfig, list[Section]]:
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
        f"Study config derived by `faultprobe init` from {_title(d)}. Every value says "
        "where it came from; check them before a long run (docs/sequences.md). All times UTC.",
    ]
    text = render(secs, header)
    cfg = parse_config(tomllib.loads(text), source=str(out), base=folder)
    return text, cfg, secs
