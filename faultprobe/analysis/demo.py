"""`faultprobe demo`: the whole method on a small simulated sequence, in one command.

Writes DIR/demo.toml (the packaged configs/synthetic-norcia.toml, made smaller: one near and one far
station, fewer events, a light model, the fault-zone effect confined above 10 Hz), then
simulates, selects, ingests, runs a small grid over three seeds (binary at both stations,
one false date, three bands), the pair spectra, and writes DIR/study/report/index.html.
"""

from __future__ import annotations

import logging
import textwrap
import time
import tomllib
from importlib import resources
from pathlib import Path

from faultprobe.config import StudyConfig, Synthetic, dump_toml, load_config, parse_config

log = logging.getLogger(__name__)

#: The realistic synthetic config, package data (the repository's configs/ holds the same file).
TEMPLATE = Path(str(resources.files("faultprobe") / "configs" / "synthetic-norcia.toml"))

#: What the demo changes in the template (a dotted key -> value).
DEMO_SIZE: dict[str, object] = {
    "stations.codes": ["IV.NRCA"],
    # The paper's far control.  It lies on the fault's along-strike extension and its rays
    # cross the damage zone (mean exposure ~0.46), but the demo's change is confined to
    # 10-50 Hz, where its records, after 30 km of path, barely rise above the noise
    # (median 10-30 Hz signal-to-noise ~1, against ~4 at NRCA).
    "stations.far": ["IV.SMA1"],
    "synthetic.background_per_day": 9.0,
    "synthetic.omori_k": 45.0,
    "synthetic.noise_segments_per_day": 0,
    "synthetic.noise_years": 0.0,
    "synthetic.quakeml": False,
    "synthetic.regions": [],
    "synthetic.effect.band_hz": [10.0, 50.0],
    "synthetic.noise_level": 3e-9,  # a quiet site: the 10-50 Hz change stands above noise
    "synthetic.effect.dtstar_pre_max": 0.04,  # x exposure (~0.25 at NRCA) on each path
    "synthetic.effect.dtstar_jump": 0.25,
    "train.window_s": [-0.5, 3.5],
    "train.width": 0.25,
    "train.epochs": 6,
    "train.patience": 3,
    "train.batch_size": 32,
    # three seeds: the report's verdicts are exact tests on test events pooled over seeds
    "train.seeds": [1, 2, 3],
    "experiments.table1.classes": [2],
    "experiments.false_dates.dates": ["2016-10-16T06:40:17Z"],
    "experiments.false_dates.seeds": [1, 2, 3],
    "experiments.bands.bands": [[3.0, 6.0], [9.0, 12.0], [27.0, 30.0]],
    "experiments.bands.seeds": [1, 2, 3],
    "experiments.seasonality.enabled": False,
    "experiments.null.regions": [],
    "experiments.pairs.max_pairs": 200,
    # the controls and the verdict at both stations (docs/diagnostics.md)
    "experiments.controls.enabled": True,
    "experiments.controls.stations": ["IV.NRCA", "IV.SMA1"],
    "cluster.n_workers": 2,
}


def parse_changes(items: list[str]) -> dict[str, object]:
    """`KEY=VALUE` strings (a dotted config key, a TOML value) as a changes dict for the demo."""
    from faultprobe.config import ConfigError

    changes: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key.strip():
                raise tomllib.TOMLDecodeError("no KEY=")
            changes[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            raise ConfigError(
                f"--set {item!r}: give a dotted config key and a TOML value, e.g. "
                "--set train.epochs=2 or --set 'stations.far=[\"IV.SMA1\"]'"
            ) from None
    return changes


def _set(table: dict, dotted: str, value: object) -> None:
    *head, last = dotted.split(".")
    for k in head:
        table = table.setdefault(k, {})
    table[last] = value


def effect_comparison(d: Synthetic, t: Synthetic) -> str:
    """How the demo's injected fault-zone change (`d`, its `[synthetic]`) compares with the
    realistic config's (`t`)."""
    de, te = d.effect, t.effect

    def band(e) -> str:
        return f"{e.band_hz[0]:g}-{e.band_hz[1]:g} Hz" if e.band_hz else "all frequencies"

    jump = de.dtstar_jump / te.dtstar_jump if te.dtstar_jump else float("inf")
    pre = de.dtstar_pre_max / te.dtstar_pre_max if te.dtstar_pre_max else float("inf")
    noise = t.noise_level / d.noise_level if d.noise_level else float("inf")
    return (
        f"the demo's fault-zone change is {jump:.0f}x the realistic config's at the mainshock "
        f"(dt* jump {1000 * de.dtstar_jump:g} ms against {1000 * te.dtstar_jump:g} ms in "
        f"{TEMPLATE.name}) and {pre:.0f}x before it ({1000 * de.dtstar_pre_max:g} against "
        f"{1000 * te.dtstar_pre_max:g} ms), in {band(de)} (there: {band(te)}), on a site "
        f"{noise:.0f}x quieter; its accuracies show the method working, not what a realistic "
        f"change would give (docs/synthetic.md)"
    )


def demo_config(out: Path, template: Path = TEMPLATE, changes: dict | None = None) -> Path:
    """Write OUT/demo.toml: the template made small, every path inside OUT."""
    if not template.exists():
        raise FileNotFoundError(
            f"{template} does not exist: reinstall faultprobe (its configs are package data)"
        )
    raw = tomllib.loads(template.read_text())
    for key, value in {**DEMO_SIZE, **(changes or {})}.items():
        _set(raw, key, value)
    data = out / "data"
    _set(raw, "study.name", "faultprobe-demo")
    _set(raw, "study.store", str(out / "study"))
    _set(raw, "synthetic.output", str(data))
    _set(raw, "catalog.path", str(data / "catalog.txt"))
    _set(raw, "stations.inventory", str(data / "stations.xml"))
    _set(raw, "waveforms.sds_root", str(data / "sds"))
    cfg = parse_config(raw, source=str(template), base=template.parent)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "demo.toml"
    note = effect_comparison(cfg.synthetic, load_config(template).synthetic)
    header = (
        "# Written by `faultprobe demo` from configs/synthetic-norcia.toml, made smaller;\n"
        "# re-run any stage with it, e.g. `faultprobe report demo.toml`.\n"
        + "".join(f"# {line}\n" for line in textwrap.wrap(note[0].upper() + note[1:], 88))
    )
    path.write_text(header + dump_toml(cfg))
    return path


def run_demo(out: str | Path, *, changes: dict | None = None) -> Path:
    """Simulate, select, ingest, run the grid and the pairs, write the report."""
    from faultprobe.analysis.experiments import run_experiments
    from faultprobe.analysis.report import write_report
    from faultprobe.catalogs.study import build_catalog
    from faultprobe.cluster import connect
    from faultprobe.pipelines.ingest import ingest
    from faultprobe.synthetic.run import synthesize

    out = Path(out).resolve()
    t0 = time.perf_counter()
    path = demo_config(out, changes=changes)
    cfg: StudyConfig = load_config(path)
    log.info(f"demo: config {path}")
    log.info(f"demo: {effect_comparison(cfg.synthetic, load_config(TEMPLATE).synthetic)}")
    steps = []
    t = time.perf_counter()
    synthesize(cfg)
    steps.append(("synth", time.perf_counter() - t))
    t = time.perf_counter()
    build_catalog(cfg, force=True)  # a re-run selects the same events
    steps.append(("catalog", time.perf_counter() - t))
    with connect(cfg.cluster) as client:
        t = time.perf_counter()
        ingest(cfg, client=client)
        steps.append(("ingest", time.perf_counter() - t))
        t = time.perf_counter()
        run_experiments(cfg, client=client)
        steps.append(("experiments", time.perf_counter() - t))
    t = time.perf_counter()
    index = write_report(cfg)
    steps.append(("report", time.perf_counter() - t))
    took = ", ".join(f"{k} {v:.0f} s" for k, v in steps)
    log.info(f"demo: done in {time.perf_counter() - t0:.0f} s ({took})")
    return index
