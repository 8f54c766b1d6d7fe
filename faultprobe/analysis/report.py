"""`faultprobe report`: STORE/report/index.html with the paper's tables and figures.

Reads results.parquet, the run folders, events/stations tables and the pair spectra; every
table row names the runs it summarises, and each figure's caption lists its runs.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from faultprobe.analysis import controlfig, figures, mapfig, tables
from faultprobe.analysis.allruns import TRAIN, finished_runs, runs_table
from faultprobe.analysis.runner import read_results
from faultprobe.config import StudyConfig
from faultprobe.config.stages import GridSettings, SynthWorld, TrackSettings
from faultprobe.store import EVENTS, STATIONS, Store

REPORT = "report"
CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3} td.runs{font-family:monospace;font-size:0.8em;text-align:left}
figure{margin:1em 0} figcaption{font-size:0.85em;color:#555}
img{max-width:100%} code{font-size:0.9em}
.panel{border-left:3px solid #ddd;padding-left:1em;margin-bottom:2em}
"""


def _table_html(df: pd.DataFrame, hidden: tuple[str, ...] = ()) -> str:
    if df.empty:
        return "<p><em>No finished runs.</em></p>"
    cols = [c for c in df.columns if c not in hidden and not c.endswith("_mean")]
    cols = [
        c
        for c in cols
        if c not in {"low_hz", "high_hz", "chance_hi", "false_date", "nm_total", "fp_lo", "fp_hi"}
    ]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = []
    for _, row in df.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if c == "runs":
                cells.append(f'<td class="runs">{"<br>".join(map(html.escape, v))}</td>')
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _figure(src: str, caption: str, runs: list[str] | None = None) -> str:
    ids = f" Runs: <code>{html.escape(', '.join(runs))}</code>." if runs else ""
    return (
        f'<figure><img src="{html.escape(src)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}{ids}</figcaption></figure>"
    )


def _confusions(store: Store, t1: pd.DataFrame, out: Path) -> list[str]:
    """One confusion matrix per station and class count (its first seed's run)."""
    from faultprobe.ml.runs import METRICS, RunFolder

    parts = []
    for _, row in t1.iterrows():
        run_id = row["runs"][0]
        m = RunFolder(store, run_id).read_json(METRICS)["test"]
        name = f"confusion_{run_id}.png"
        title = f"{row['station']}, {row['classes']} classes: accuracy {m['accuracy']:.1%}"
        figures.confusion(np.asarray(m["confusion"]), m["classes"], title, out / name)
        parts.append(_figure(name, f"Test confusion matrix, {title}.", [run_id]))
    return parts


def _train_confusions(store: Store, every: pd.DataFrame, out: Path) -> list[str]:
    """Confusion matrices of the runs no grid holds (made with `faultprobe train`)."""
    from faultprobe.ml.runs import METRICS, RunFolder

    parts = []
    for _, row in every[every["grids"].map(lambda g: g == [TRAIN])].iterrows():
        run_id = row["run_id"]
        m = RunFolder(store, run_id).read_json(METRICS)["test"]
        name = f"confusion_{run_id}.png"
        title = f"{row['station']}, {row['n_classes']} classes: accuracy {m['accuracy']:.1%}"
        figures.confusion(np.asarray(m["confusion"]), m["classes"], title, out / name)
        parts.append(_figure(name, f"Test confusion matrix, {title}.", [run_id]))
    return (["<h3>Confusion matrices of the other runs</h3>", *parts]) if parts else []


def write_report(cfg: StudyConfig) -> Path:
    """Write the report folder and return the path of index.html."""
    store = Store(cfg.study.store)
    out = Path(store.path(REPORT))
    out.mkdir(parents=True, exist_ok=True)
    results = read_results(store)
    events = store.read_table(EVENTS)
    stations = store.read_table(STATIONS)
    ms = pd.Timestamp(cfg.mainshock.time)
    sec: list[str] = [f"<h1>faultprobe report: {html.escape(cfg.study.name)}</h1>"]
    every = finished_runs(store, results)
    ok = len(set(every["run_id"]) | set(results.loc[results["status"] == "ok", "run_id"]))
    sec.append(
        f"<p>Mainshock {html.escape(cfg.mainshock.name)} {ms:%Y-%m-%d %H:%M:%S} UTC; "
        f"{len(events)} events, {len(stations)} stations; {ok} finished runs, "
        f"{int(results.loc[results['status'] == 'failed', 'run_id'].nunique())} failed. "
        f"Each run's folder is "
        f"<code>runs/RUN_ID/</code> in the study store; all rows: "
        f"<code>results.parquet</code>.</p>"
    )
    mapfig.event_map(events, stations, out / "map.png", mapfig.map_frame(cfg))
    figures.event_counts(events, ms, out / "counts.png")
    sec += ["<h2>Data</h2>", _figure("map.png", "Left: the selected events by phase (marker area by "
                    "magnitude, with its key), the fault segment projected to the surface with "
                    "its top edge, the study box, the mainshock (red star) and the other large "
                    "shocks, the stations and the far control stations (hollow). Right: the "
                    "cross-section along the fault's dip direction, depth against distance from "
                    "the epicentre (km, no vertical exaggeration), every event projected, with "
                    "the configured fault plane."),
            _figure("counts.png", "Selected events per day (UTC), by phase; the dashed line is the mainshock.")]  # fmt: skip

    t1 = tables.table1(results)
    sec += ["<h2>Table 1: accuracy by station and number of classes</h2>",
            "<p>Test accuracy and pre/post recall (%), mean ± std over seeds; the test events "
            "pooled over seeds with their exact 95 % interval, and the verdict of an exact "
            "test on them at p &lt; 0.01 (above chance: one-sided binomial; inside the chance "
            "band: every seed inside its 99 % chance interval, Bonferroni over seeds).</p>",
            _table_html(t1)]  # fmt: skip
    if not t1.empty:
        sec += ["<h3>Confusion matrices</h3>", *_confusions(store, t1, out)]

    t2 = tables.table2(results)
    sec += ["<h2>Table 2: wrong mainshock dates</h2>",
            "<p>Binary models trained with labels from a false date, scored against the true "
            "date. NM: test events the false date mislabels; NC: of those, classified with "
            "the true label; FP: accuracy inside the false interval against the training "
            "labels, (NM − NC) / NM; outside: accuracy on the test events outside the false "
            "interval. Pooled over seeds with exact 95 % intervals; FP below outside is a "
            "one-sided Fisher exact test at p &lt; 0.01. Every run of this grid uses the "
            "spread split, whose test events lie all through the window.</p>",
            _table_html(t2)]  # fmt: skip
    if not t2.empty:
        slope, r2 = tables.nm_growth(t2, cfg.mainshock.time, cfg.phases)
        if np.isfinite(r2):
            sec.append(
                f"<p>NM grows with the false interval: {slope:.1f} test events per day of "
                f"interval (pooled over seeds, the Visso–Norcia interval not counted), linear "
                f"fit R² = {r2:.2f}.</p>"
            )
        figures.false_dates(t2, ms, out / "false_dates.png")
        runs = [r for rs in t2["runs"] for r in rs]
        sec.append(
            _figure(
                "false_dates.png",
                "Accuracy against the false date: FP with its pooled 95 % interval, against the accuracy outside the false interval and the true-date model.",
                runs,
            )
        )

    bt = tables.bands_table(results)
    sec += ["<h2>Frequency bands</h2>", _table_html(bt)]
    if not bt.empty:
        figures.bands(bt, cfg.experiments.bands.classes, out / "bands.png")
        runs = [r for rs in bt["runs"] for r in rs]
        sec.append(_figure("bands.png", "Test accuracy per band-pass band.", runs))

    sec += ["<h2>Null tests</h2>", _table_html(tables.null_table(results))]
    sec += _controls_section(GridSettings.of(cfg), store, results, out)

    st = tables.seasonality_table(results)
    if not st.empty:
        figures.seasonality(st, out / "seasonality.png")
        runs = [r for rs in st["runs"] for r in rs]
        sec += ["<h2>Seasonality</h2>", _table_html(st),
                _figure("seasonality.png", "Accuracy per span.", runs)]  # fmt: skip

    sec += _fault_state_section(TrackSettings.of(cfg), SynthWorld.of(cfg), store, out)
    sec += ["<h2>Co-located pre/post pairs</h2>", *_pairs_section(store, out)]
    sec += ["<h2>Every finished run</h2>",
            "<p>All runs in <code>runs/</code>, from <code>faultprobe train</code> as from "
            "the experiment grids; test scores (%).</p>", _table_html(runs_table(every))]  # fmt: skip
    sec += _train_confusions(store, every, out)
    failed = tables.failed_table(results)
    if len(failed):
        sec += ["<h2>Failed runs</h2>", _table_html(failed)]
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>faultprobe report: "
        f"{html.escape(cfg.study.name)}</title><style>{CSS}</style></head><body>"
        + "\n".join(sec)
        + "</body></html>"
    )
    index = out / "index.html"
    index.write_text(page)
    return index


def _controls_section(
    cfg: GridSettings, store: Store, results: pd.DataFrame, out: Path
) -> list[str]:
    """The control panel per station: the verdict with its numbers, the CNN's accuracy
    against each control's, the attribution map."""
    from faultprobe.analysis.verdict import attribution_map, station_evidence, verdict_table

    vt = verdict_table(store, results, cfg)
    if vt.empty:
        return []
    parts = [
        "<h2>Controls and the verdict</h2>",
        "<p>Per station, binary, pooled over seeds on the same test events: the CNN against "
        "a CNN on the records' pre-P noise, a classifier on the pre-P noise spectrum, a "
        "classifier on the catalog metadata and SNR, a CNN trained and tested on events "
        "matched pre-to-post on magnitude, distance and depth with its size reference (a CNN "
        "trained on as many events of the CNN's own), a classifier on the spectral-decay "
        "t*, and the accuracy lost when each time segment × band is masked. "
        "<b>fault-zone signal</b> only when the CNN beats the noise and metadata controls "
        "(one-sided McNemar exact test, p &lt; 0.01), keeps its accuracy on the matched set "
        "(above chance there and, McNemar, not lower than the size reference on the same "
        "events; without a size reference, Fisher exact against the CNN) and masking a "
        "wave segment costs it "
        "accuracy (McNemar) more than masking the noise; what each control can and cannot "
        "rule out: docs/diagnostics.md.</p>",
        _table_html(vt, hidden=("the numbers that decided it",)),
        "<p>The numbers that decided each verdict:</p><ul>"
        + "".join(
            f"<li><b>{html.escape(r['station'])}: {html.escape(r['verdict'])}</b>. "
            f"{html.escape(r['the numbers that decided it'])}.</li>"
            for _, r in vt.iterrows()
        )
        + "</ul>",
    ]
    for _, row in vt.iterrows():
        station, runs = row["station"], list(row["runs"])
        slug = station.replace(".", "_")
        figs = []
        ev = station_evidence(store, results, station)
        if ev is not None:
            name = f"controls_{slug}.png"
            controlfig.control_bars(controlfig.control_accuracies(ev), station, row["verdict"],
                                    out / name)  # fmt: skip
            figs.append(_figure(name, f"{station}: test accuracy of the CNN and of each "
                                "control on the same test events pooled over seeds, with its "
                                "exact 95 % (Clopper–Pearson) interval; dotted: chance.",
                                runs))  # fmt: skip
        drops = attribution_map(store, results, station)
        if not drops.empty:
            name = f"attribution_{slug}.png"
            controlfig.attribution_map(drops, station, out / name)
            figs.append(_figure(name, f"{station}: test accuracy drop (percentage points, "
                                "pooled over seeds) with each time segment × frequency band "
                                "of the inputs masked at inference; red: the evidence is "
                                "there.", runs))  # fmt: skip
        if figs:
            parts += [f"<h3>Control panel: {html.escape(station)} ({html.escape(row['verdict'])})"
                      "</h3>", f'<div class="panel">{"".join(figs)}</div>']  # fmt: skip
    return parts


def _pairs_section(store: Store, out: Path) -> list[str]:
    from faultprobe.analysis.experiments import PAIRS
    from faultprobe.analysis.pairs import differing_band

    if not store.exists(PAIRS, "summary.parquet"):
        return ["<p><em>Not analysed (run <code>faultprobe experiments</code>).</em></p>"]
    summary = store.read_table(f"{PAIRS}/summary.parquet")
    pairs = store.read_table(f"{PAIRS}/pairs.parquet")
    if summary.empty:
        return ["<p>No co-located pre/post pairs.</p>"]
    examples = store.read_table(f"{PAIRS}/examples.parquet")
    units = "counts"
    if store.exists("waveforms.zarr"):
        from faultprobe.ml.dataset import open_cube

        units = str(open_cube(store)["waveform"].attrs.get("units", "counts"))
    traces = None
    if store.exists(PAIRS, "example_traces.parquet"):
        traces = store.read_table(f"{PAIRS}/example_traces.parquet")
    figures.pair_spectra(examples, summary, out / "pairs.png", pairs, units, traces)
    band = differing_band(summary)
    where = f"{band[0]:.1f}–{band[1]:.1f} Hz" if band else "no band of 2 Hz or more"
    station = html.escape(str(pairs["station"].iloc[0]))
    return [
        f"<p>{len(pairs)} pairs at {station} (median separation "
        f"{pairs['distance_m'].median():.0f} m, |ΔM| ≤ {pairs['dmag'].max():.2f}). The median "
        f"post/pre ratio differs from one on all components in: <b>{where}</b>.</p>",
        _figure(
            "pairs.png",
            (
                "Top: the closest pair's records per component (time after P, pre above post on "
                "one amplitude scale) beside their multitaper amplitude spectral densities (log "
                "axes)"
                if traces is not None
                else "Top: the closest pair's multitaper amplitude "
                "spectral densities (log axes; its records were not stored: re-run the pairs with "
                "faultprobe experiments)"
            )
            + ". Bottom: the median post/pre amplitude ratio over all pairs, its 16–84 % "
            "spread, and where the median differs from one.",
        ),
    ]


def _exposures(world: SynthWorld) -> dict[str, float]:
    """Mean damage-zone exposure per station of a synthetic study (its truth table)."""
    from faultprobe.synthetic.run import TRUTH_FILE, output_dir

    path = output_dir(world) / TRUTH_FILE
    if not path.exists():
        return {}
    truth = pd.read_parquet(path)
    return {
        c[len("exposure_") :]: float(truth[c].mean()) for c in truth if c.startswith("exposure_")
    }


def _fault_state_section(
    cfg: TrackSettings, world: SynthWorld, store: Store, out: Path
) -> list[str]:
    """The fault state through the cycle: near stations first, far ones after (`world`:
    the study's shocks and window; its truth only when `cfg.world` is set)."""
    from faultprobe.analysis.tracking import dtstar_truth, read_tracking, tracked_stations

    stations = tracked_stations(store)
    if not stations:
        return []
    far = set(cfg.stations.far)
    stations.sort(key=lambda s: (s in far or s.split(".")[-1] in far, s))
    panels, truth, lines = [], {}, []
    exposure = _exposures(world)
    for sta in stations:
        index, changes, summary = read_tracking(store, sta)
        panels.append((sta, index, changes))
        dts = dtstar_truth(cfg.world, index["time"])
        if dts is not None:
            truth[sta] = (pd.DatetimeIndex(index["time"]), dts * exposure.get(sta, 1.0))
        cps = ", ".join(f"{pd.Timestamp(t):%Y-%m-%d %H:%M}" for t in summary["change_points"])
        rho = summary.get("spearman_dtstar")
        lines.append(
            f"<li><b>{html.escape(sta)}</b>: {summary['n_events']} events, "
            f"{summary['folds']} folds x {len(summary['seeds'])} seeds; index "
            f"{summary['index_min']:.2f}–{summary['index_max']:.2f}; "
            f"{summary['windows_outside_chance']} of {summary['n_windows']} windows outside "
            f"the chance band; change points: {html.escape(cps or 'none')}"
            + (f"; Spearman with the injected Δt*(t): {rho:.2f}" if rho is not None else "")
            + "</li>"
        )
    shocks = [(world.mainshock.name, pd.Timestamp(world.mainshock.time))]
    shocks += [(s.name, pd.Timestamp(s.time)) for s in world.shocks]
    start, end = pd.Timestamp(world.start), pd.Timestamp(world.end)
    shocks = [(n, t) for n, t in shocks if start <= t <= end]
    figures.fault_state(panels, shocks, out / "fault_state.png", truth or None)
    return [
        "<h2>Fault state through the cycle</h2>",
        "<p>Every event scored by a model trained on other time blocks (never its own nor "
        "its neighbours in time); the index is the fraction of a window's events whose waves "
        "look post-mainshock to their model (0.5: chance), with a bootstrap band over the "
        "window's events and the exact chance band of a model with nothing to tell. Red "
        "dotted lines: change points (ruptures). A research signal, not a forecast "
        "(docs/tracking.md).</p>",
        f"<ul>{''.join(lines)}</ul>",
        _figure("fault_state.png", "Fault state through the cycle"
                + ("; orange: the injected Δt*(t) times the station's mean exposure." if truth
                   else ".")),
    ]  # fmt: skip
