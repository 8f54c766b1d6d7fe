"""Expand the `[experiments]` section into runs: one `GridRun` per training run.

Each grid of the paper (Table 1, wrong mainshock dates, frequency bands, seasonality, null
tests) becomes a list of `RunSpec`s built from the `[train]` section, so the run id is the
hash of everything that changes a result and a run shared by two grids (the raw-trace
baseline of the bands grid is a Table 1 run) is trained once.  Pure: config in, runs out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from faultprobe.config import StudyConfig
from faultprobe.config.stages import GridSettings
from faultprobe.ml.spec import Labelling, RunSpec, Split, spec_from_config

NOISE_STORE = "noise"
REGIONS_STORE = "regions"


@dataclass(frozen=True)
class GridRun:
    """One run of a grid: which store it reads (relative to the study store), its spec,
    and the grid's own coordinates (band, false date, span) for the results table."""

    grid: str
    spec: RunSpec
    store: str = ""
    meta: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def run_id(self) -> str:
        return self.spec.run_id

    @property
    def key(self) -> str:
        """Unique over grids and stores: a run is finished once per (grid, store, id), and
        a control once per (grid, store, id, control)."""
        control = self.meta.get("control")
        return f"{self.grid}|{self.store}|{self.run_id}" + (f"|{control}" if control else "")

    def to_json(self) -> str:
        return json.dumps(
            {
                "grid": self.grid,
                "store": self.store,
                "spec": json.loads(self.spec.to_json()),
                "meta": self.meta,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> GridRun:
        d = json.loads(text)
        return cls(d["grid"], RunSpec.model_validate(d["spec"]), d["store"], d["meta"])


def _seeds(cfg: GridSettings, seeds: list[int]) -> list[int]:
    """A grid's seeds: its own, else all of [train] seeds (verdicts pool at least three)."""
    return list(seeds) if seeds else list(cfg.train.seeds)


def _first_station(cfg: GridSettings, station: str | None) -> str:
    return station or (cfg.train.stations[0] if cfg.train.stations else cfg.stations.codes[0])


def table1_runs(cfg: GridSettings) -> list[GridRun]:
    """Stations × class counts × seeds with the paper's labellings (9 = phases)."""
    g = cfg.experiments.table1
    if not g.enabled:
        return []
    stations = g.stations or cfg.stations.all_codes
    out = []
    for sta in stations:
        for n in g.classes:
            if n % 2 and not cfg.phases:
                continue  # an odd class count needs a phase interval (the 9-class model)
            for seed in _seeds(cfg, g.seeds):
                spec = spec_from_config(cfg, stations=[sta], classes=n, labelling="ttf", seed=seed)
                out.append(GridRun("table1", spec, meta={"far": sta in cfg.stations.far}))
    return out


def false_date_runs(cfg: GridSettings) -> list[GridRun]:
    """Binary runs labelled by each false mainshock date, plus the true-date run."""
    g = cfg.experiments.false_dates
    if not g.enabled or not g.dates:
        return []
    sta = _first_station(cfg, g.station)
    split = Split(kind="spread", fractions=cfg.train.fractions, purge_s=g.purge_s, blocks=g.blocks)
    out = []
    for seed in _seeds(cfg, g.seeds):
        for d in [None, *g.dates]:
            spec = spec_from_config(
                cfg, stations=[sta], classes=2, labelling="binary", seed=seed,
                false_mainshock=d, split=split, balance_test=False,
            )  # fmt: skip
            out.append(GridRun("false_dates", spec, meta={"false_date": _iso(d) if d else None}))
    return out


def band_runs(cfg: GridSettings) -> list[GridRun]:
    """The raw-trace baseline and one run per band-pass band."""
    g = cfg.experiments.bands
    if not g.enabled:
        return []
    sta = _first_station(cfg, g.station)
    kind = "binary" if g.classes == 2 else "ttf"
    out = []
    for seed in _seeds(cfg, g.seeds):
        base = spec_from_config(cfg, stations=[sta], classes=g.classes, labelling=kind, seed=seed)
        out.append(GridRun("bands", base, meta={"band": None}))
        for lo, hi in g.band_list():
            spec = spec_from_config(
                cfg,
                stations=[sta],
                classes=g.classes,
                labelling=kind,
                seed=seed,
                band_hz=(lo, hi),
            )
            out.append(GridRun("bands", spec, meta={"band": [lo, hi]}))
    return out


def null_runs(cfg: GridSettings) -> list[GridRun]:
    """Binary runs on the far stations, and on events of each named other region."""
    g = cfg.experiments.null
    if not g.enabled:
        return []
    out = []
    for seed in _seeds(cfg, g.seeds):
        if g.far:
            for sta in cfg.stations.far:
                spec = spec_from_config(
                    cfg, stations=[sta], classes=2, labelling="binary", seed=seed
                )
                out.append(GridRun("null", spec, meta={"test": "far", "far": True}))
        for region in g.regions:
            for sta in region.stations or cfg.stations.far or cfg.stations.codes[:1]:
                spec = spec_from_config(
                    cfg,
                    stations=[sta],
                    classes=2,
                    labelling="binary",
                    seed=seed,
                    name=f"region-{region.name}",
                )
                store = f"{REGIONS_STORE}/{region.name}"
                out.append(GridRun("null", spec, store, {"test": f"region {region.name}"}))
    return out


POSTHOC = ("noise_spectrum", "metadata", "physics", "attribution")


def controls_runs(cfg: GridSettings) -> list[GridRun]:
    """Per station and seed: the binary CNN, the CNN on pre-P noise, the CNN trained and
    tested on the matched events of the same split with its size reference (a CNN trained
    on as many events of the CNN's own parts, tested on all of its test events), and the
    controls computed on the CNN's own split (the same task as the CNN: they read its
    run)."""
    g = cfg.experiments.controls
    if not g.enabled:
        return []
    out = []
    opts = g.model_dump(mode="json", exclude={"enabled", "stations", "seeds", "controls"})
    for sta in g.stations or [_first_station(cfg, None)]:
        far = sta in cfg.stations.far
        for seed in _seeds(cfg, g.seeds):
            base = spec_from_config(cfg, stations=[sta], classes=2, labelling="binary", seed=seed)
            out.append(GridRun("controls", base, meta={"control": "cnn", "far": far}))
            if "noise" in g.controls:
                noise = RunSpec.model_validate(
                    {**base.model_dump(), "window_s": tuple(g.noise_window_s), "name": "noise"}
                )
                out.append(GridRun("controls", noise, meta={"control": "noise", "far": far}))
            if "matched" in g.controls:
                matched = RunSpec.model_validate(
                    {**base.model_dump(), "match_caliper": g.match_caliper, "name": "matched"}
                )
                out.append(GridRun("controls", matched, meta={"control": "matched", "far": far}))
                ref = RunSpec.model_validate(
                    {**base.model_dump(), "size_reference": g.match_caliper,
                     "name": "size-reference"}
                )  # fmt: skip
                meta = {"control": "size_reference", "far": far}
                out.append(GridRun("controls", ref, meta=meta))
            for c in POSTHOC:
                if c in g.controls:
                    meta = {"control": c, "far": far, "options": opts}
                    out.append(GridRun("controls", base, meta=meta))
    return out


def spans(start: pd.Timestamp, end: pd.Timestamp, months: int, step: int) -> list[pd.Timestamp]:
    """Starts of `months`-long spans on month boundaries, `step` months apart, inside
    [start, end]."""
    first = start.normalize().replace(day=1)
    if first < start:
        first += pd.DateOffset(months=1)
    out, s = [], first
    while s + pd.DateOffset(months=months) <= end:
        out.append(s)
        s += pd.DateOffset(months=step)
    return out


def season_labelling(cfg: GridSettings, span_start: pd.Timestamp, months: int) -> Labelling:
    """Two calendar classes: the first and the second half of the span."""
    half = months // 2
    edges = (
        span_start,
        span_start + pd.DateOffset(months=half),
        span_start + pd.DateOffset(months=months),
    )
    return Labelling(
        kind="calendar",
        n_classes=2,
        mainshock=cfg.mainshock.time,
        edges=tuple(e.to_pydatetime() for e in edges),
    )


def seasonality_runs(
    cfg: GridSettings, noise_times: pd.Series | None, event_times: pd.Series | None
) -> list[GridRun]:
    """One binary calendar run per span with enough windows (noise) or events.

    `noise_times` / `event_times` are the origin times in the noise and event cubes; a
    span whose smaller class has fewer than `min_windows // 2` entries is left out.
    """
    g = cfg.experiments.seasonality
    if not g.enabled:
        return []
    stations = g.stations or [_first_station(cfg, None)]
    out = []
    for kind, times in (("noise", noise_times), ("events", event_times if g.events else None)):
        if times is None or len(times) == 0:
            continue
        t = pd.DatetimeIndex(times)
        t = t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")
        lo = pd.Timestamp(g.start) if g.start else t.min()
        hi = pd.Timestamp(g.end) if g.end else t.max()
        for s in spans(lo, hi, g.span_months, g.step_months):
            if s.year in g.skip_years:
                continue
            lab = season_labelling(cfg, s, g.span_months)
            mid, e = (pd.Timestamp(x) for x in lab.edges[1:])
            counts = (((t >= s) & (t < mid)).sum(), ((t >= mid) & (t < e)).sum())
            if min(counts) < g.min_windows // 2:
                continue
            for sta in stations:
                for seed in _seeds(cfg, g.seeds):
                    base = spec_from_config(
                        cfg, stations=[sta], classes=2, labelling="binary", seed=seed
                    )
                    spec = RunSpec.model_validate(
                        {
                            **base.model_dump(),
                            "labelling": lab.model_dump(),
                            "name": f"{kind}-{s:%Y%m}",
                        }
                    )
                    store = NOISE_STORE if kind == "noise" else ""
                    out.append(
                        GridRun("seasonality", spec, store, {"source": kind, "span_start": _iso(s)})
                    )
    return out


def expand(
    cfg: GridSettings | StudyConfig,
    noise_times: pd.Series | None = None,
    event_times: pd.Series | None = None,
    grids: list[str] | None = None,
) -> list[GridRun]:
    """All runs of the configured grids (or of `grids` only), each (grid, run) once; a
    whole study is taken too (its grid settings are read from it here)."""
    if not isinstance(cfg, GridSettings):
        cfg = GridSettings.of(cfg)
    makers = {
        "table1": lambda: table1_runs(cfg),
        "false_dates": lambda: false_date_runs(cfg),
        "bands": lambda: band_runs(cfg),
        "null": lambda: null_runs(cfg),
        "seasonality": lambda: seasonality_runs(cfg, noise_times, event_times),
        "controls": lambda: controls_runs(cfg),
    }
    unknown = set(grids or []) - set(makers)
    if unknown:
        raise ValueError(f"unknown grid(s) {sorted(unknown)}; known: {sorted(makers)}")
    out: dict[str, GridRun] = {}
    for name, make in makers.items():
        if grids and name not in grids:
            continue
        for run in make():
            out.setdefault(run.key, run)
    return list(out.values())


def _iso(t: datetime | pd.Timestamp) -> str:
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
