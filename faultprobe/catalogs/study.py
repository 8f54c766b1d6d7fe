"""`faultprobe catalog`: read the catalog and stations, select, write the study tables."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import pandas as pd

from faultprobe import store as st
from faultprobe.catalogs.readers import CatalogRead, read_catalog
from faultprobe.catalogs.selection import Selection, select_events
from faultprobe.catalogs.stations import StationTable, load_inventory, station_table
from faultprobe.config import StudyConfig, dump_toml

PROBLEMS = "catalog_problems.parquet"
MAX_PROBLEMS_SHOWN = 10


@dataclass
class CatalogSummary:
    """What `build_catalog` read, kept and rejected; `render()` prints it."""

    store: str
    read: CatalogRead
    selection: Selection
    stations: StationTable
    seconds: float

    def by_month(self) -> pd.DataFrame:
        ev = self.selection.events
        if ev.empty:
            return pd.DataFrame()
        month = ev["origin_time"].dt.tz_convert("UTC").dt.strftime("%Y-%m")
        return pd.crosstab(month, ev["phase"]).rename_axis(index="month", columns=None)

    def render(self) -> str:
        ev, sel = self.selection.events, self.selection
        lines = [
            f"catalog: {sel.n_catalog} events read, {len(self.read.problems)} rows left out "
            f"while reading ({self.seconds:.1f} s)",
        ]
        for p in self.read.problems[:MAX_PROBLEMS_SHOWN]:
            lines.append(f"  {p}")
        if len(self.read.problems) > MAX_PROBLEMS_SHOWN:
            lines.append(f"  … all {len(self.read.problems)} in {PROBLEMS}")
        lines.append(f"selected: {len(ev)} events")
        for phase, n in ev["phase"].value_counts().sort_index().items():
            lines.append(f"  {phase:>8}: {n}")
        lines.append("rejected (first rule failed):")
        for reason, n in sel.rejected.items():
            lines.append(f"  {reason:<30} {n}")
        months = self.by_month()
        if not months.empty:
            lines.append("selected by month:")
            lines.extend("  " + row for row in months.to_string().splitlines())
        sta = self.stations.stations
        lines.append(f"stations: {len(sta)} ({', '.join(sta['network'] + '.' + sta['station'])})")
        if self.stations.missing:
            lines.append(f"  not found in the station metadata: {', '.join(self.stations.missing)}")
        lines.append(f"written to {self.store}")
        return "\n".join(lines)


def _stations(cfg: StudyConfig) -> StationTable:
    """From StationXML or FDSN, or, for a dataset source without either, its metadata."""
    s = cfg.stations
    if s.inventory is None and s.fdsn is None:
        from faultprobe.catalogs.datasets import read_traces, stations_from_traces
        from faultprobe.catalogs.stations import STATION_COLUMNS, StationError

        w = cfg.waveforms
        traces = read_traces(w.dataset, w.source)
        table, missing = stations_from_traces(traces, s.codes, s.far, s.network_aliases)
        if table.empty:
            raise StationError(f"none of the study's stations {s.all_codes} are in {w.dataset}")
        return StationTable(table[STATION_COLUMNS], missing)
    inv = load_inventory(s, cfg.study.start, cfg.study.end)
    return station_table(inv, s, cfg.study.start, cfg.study.end)


def build_catalog(cfg: StudyConfig, progress: bool = True) -> CatalogSummary:
    """Read, select and write events.parquet, stations.parquet and study.toml into the store."""
    say = (lambda msg: print(msg, file=sys.stderr, flush=True)) if progress else (lambda msg: None)
    t0 = time.perf_counter()
    say(f"reading {cfg.catalog.format} catalog {cfg.catalog.path} …")
    read = read_catalog(cfg.catalog)
    say(f"selecting from {len(read.events)} events …")
    selection = select_events(read.events, cfg)
    say("reading station metadata …")
    stations = _stations(cfg)

    out = st.Store(cfg.study.store)
    out.write_table(selection.events, st.EVENTS)
    out.write_table(stations.stations, st.STATIONS)
    problems = pd.DataFrame(
        [(p.file, p.line, p.reason) for p in read.problems], columns=["file", "line", "reason"]
    )
    out.write_table(problems, PROBLEMS)
    out.write_text(dump_toml(cfg), st.STUDY_TOML)
    return CatalogSummary(out.root, read, selection, stations, time.perf_counter() - t0)
