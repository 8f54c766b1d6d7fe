"""`faultprobe catalog`: read the catalog and stations, select, write the study tables.

Station metadata from an FDSN station service is saved in the store as StationXML the
first time (STORE/stations.xml) and used from there afterwards, without the network
(`refresh_stations` asks the service again). A store that already holds an ingest is not
re-selected unless forced; then the ingest built from the old selection is removed when the
selection changed, and the summary says so. Nothing is written when no event is selected.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import pandas as pd

from faultprobe import store as st
from faultprobe.catalogs.classes import class_findings, class_sizes
from faultprobe.catalogs.readers import CatalogError, CatalogRead, read_catalog
from faultprobe.catalogs.selection import Selection, counts_by_month, select_events
from faultprobe.catalogs.stations import (
    StationTable,
    fetch_stationxml,
    parse_stationxml,
    read_stationxml,
    station_table,
)
from faultprobe.config import CatalogSource, Stations, StudyConfig, Waveforms, dump_toml
from faultprobe.config.stages import SelectionSettings

log = logging.getLogger(__name__)

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
    invalidated: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # logged too: classes too small
    picks: pd.DataFrame | None = None  # the selected events' P picks (a QuakeML catalog)

    def by_month(self) -> pd.DataFrame:
        return counts_by_month(self.selection.events)

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
        if self.picks is not None:
            n_ev = self.picks["source_id"].nunique()
            lines.append(f"picks: {len(self.picks)} P picks of {n_ev} selected events")
        sta = self.stations.stations
        codes = sta["station_network_code"] + "." + sta["station_code"]
        lines.append(f"stations: {len(sta)} ({', '.join(codes)})")
        if self.stations.missing:
            lines.append(f"  not found in the station metadata: {', '.join(self.stations.missing)}")
        for line in self.stations.inactive:
            lines.append(f"  not used: {line}")
        for line in self.stations.partial:
            lines.append(f"  warning: {line}")
        lines.append(f"written to {self.store}")
        if self.invalidated:
            lines.append(
                "the selection changed: removed what was built from the previous one ("
                + ", ".join(self.invalidated)
                + "); run `faultprobe ingest` again (trained runs and results.parquet, if any, "
                "refer to the previous selection)"
            )
        return "\n".join(lines)


def _dataset_stations(s: Stations, w: Waveforms) -> StationTable:
    """For a dataset source without StationXML or FDSN: the stations of its metadata."""
    from faultprobe.catalogs.datasets import read_traces, stations_from_traces
    from faultprobe.catalogs.stations import STATION_COLUMNS, StationError

    traces = read_traces(w.dataset, w.source)
    table, missing = stations_from_traces(traces, s.codes, s.far, s.network_aliases)
    if table.empty:
        raise StationError(f"none of the study's stations {s.all_codes} are in {w.dataset}")
    return StationTable(table[STATION_COLUMNS], missing)


INGEST_ITEMS = (st.CUBE, st.TRACES, "ingest")


def _ingested(store: st.Store) -> list[str]:
    return [name for name in INGEST_ITEMS if store.exists(name)]


def _stations_xml(s: Stations, window: tuple, store: st.Store, refresh: bool):
    """The StationXML to use: [stations] inventory, the copy saved in the store, or the
    service's answer (returned as bytes to be saved); `window` is the study's (start, end)."""
    if s.inventory:
        log.info(f"reading station metadata {s.inventory} …")
        return read_stationxml(s.inventory), None
    saved = store.url(st.STATIONXML)
    if store.exists(st.STATIONXML) and not refresh:
        log.info(f"station metadata: {saved} (saved earlier; --refresh-stations asks {s.fdsn})")
        return parse_stationxml(store.read_bytes(st.STATIONXML), saved), None
    t0 = time.perf_counter()
    log.info(f"asking the FDSN station service {s.fdsn} for {len(s.all_codes)} stations …")
    data = fetch_stationxml(s, *window)
    log.info(f"  {len(data) / 1e3:.0f} kB in {time.perf_counter() - t0:.1f} s")
    return parse_stationxml(data, f"the answer of {s.fdsn}"), data


def _same(store: st.Store, name: str, df: pd.DataFrame) -> bool:
    """Whether the store's table holds exactly `df` (compared after the same round trip)."""
    import pyarrow as pa

    try:
        old = store.read_table(name)
    except Exception:
        return False
    new = pa.Table.from_pandas(df, preserve_index=False).to_pandas()
    return old.equals(new)


def _unreadable(source: CatalogSource, read: CatalogRead) -> str:
    """The line for a catalog none of whose rows could be read: the reader's problems."""
    shown = "; ".join(f"line {p.line}: {p.reason}" for p in read.problems[:3])
    more = f"; … {len(read.problems) - 3} more" if len(read.problems) > 3 else ""
    return (
        f"{source.path}: none of its {len(read.problems)} rows could be read as a "
        f"{source.format} catalog (catalog.format): {shown}{more}; nothing written: fix "
        "the file or catalog.format (and for CSV its column names, docs/catalog.md)"
    )


def class_warnings(cfg: StudyConfig, read: CatalogRead, selection: Selection) -> list[str]:
    """The selection's classes against the method (`faultprobe.catalogs.classes`), with
    what to change in the config's terms: the window, the magnitude floor, the catalog."""
    t = read.events["source_origin_time"]
    start, end = pd.Timestamp(cfg.study.start), pd.Timestamp(cfg.study.end)
    first, last = t.min(), t.max()
    sides = {
        "pre": (f"[study] start earlier (now {start:%Y-%m-%d})", first <= start, first, "back before"),
        "post": (f"[study] end later (now {end:%Y-%m-%d})", last >= end, last, "past"),
    }  # fmt: skip
    lengthen = {
        k: f"move {key}" if more else f"give a catalog reaching {how} {edge:%Y-%m-%d}"
        for k, (key, more, edge, how) in sides.items()
    }
    change = [f"a wider window ({sides['pre'][0]}, {sides['post'][0]}, within the catalog's "
              f"{first:%Y-%m-%d} to {last:%Y-%m-%d})"]  # fmt: skip
    if cfg.selection.mode == "paper":
        change.append(
            f"smaller events ([selection] min_magnitude, now {cfg.selection.min_magnitude:g}, "
            "if the catalog is complete below it)"
        )
        rules = selection.rejected.drop("outside study window").sort_values(ascending=False)
        if len(rules) and rules.iloc[0] > 0:
            change.append(f"looser rules (the most rejected: {rules.index[0]}, {rules.iloc[0]})")
    text = ", ".join(change) + " or a catalog with more events"
    sizes = class_sizes(selection.events, cfg.train.fractions[2])
    warns, hopeless = class_findings(sizes, cfg.catalog.path, text, lengthen)
    return [hopeless] if hopeless else warns


def study_picks(cfg: StudyConfig, read: CatalogRead, selection: Selection) -> pd.DataFrame | None:
    """The selected events' P picks (None for a catalog format without picks); with
    `p_arrival = "picks"` a catalog without any P pick is an error: nothing would place P."""
    if read.picks is None:
        return None
    if cfg.waveforms.p_arrival == "picks" and read.picks.empty:
        raise CatalogError(
            f"{cfg.catalog.path}: no P pick in the catalog (catalog.path), but [waveforms] "
            "p_arrival = 'picks' places the windows at them; give a QuakeML with its picks (an "
            "FDSN event service adds them with includearrivals=true), or set p_arrival = "
            "'model'; nothing written"
        )
    keep = read.picks["source_id"].isin(selection.events["source_id"])
    return read.picks[keep].reset_index(drop=True)


def build_catalog(
    cfg: StudyConfig, force: bool = False, refresh_stations: bool = False
) -> CatalogSummary:
    """Read, select and write events.parquet, stations.parquet and study.toml into the store."""
    t0 = time.perf_counter()
    out = st.Store(cfg.study.store)
    ingested = _ingested(out)
    if ingested and not force:
        raise st.StoreError(
            f"{out.root} already holds an ingest ({', '.join(ingested)}) built from its "
            "events.parquet; `faultprobe catalog` again would replace the events under it. "
            "Pass --force to select again (if the selection changes, the cube, traces.parquet "
            "and the ingest ledger are removed and must be rebuilt)"
        )
    log.info(f"reading {cfg.catalog.format} catalog {cfg.catalog.path} …")
    read = read_catalog(cfg.catalog)
    if read.events.empty and read.problems:
        raise CatalogError(_unreadable(cfg.catalog, read))
    if cfg.stations.inventory is None and cfg.stations.fdsn is None:
        log.info(f"station metadata from the dataset {cfg.waveforms.dataset} …")
        stations, fetched = _dataset_stations(cfg.stations, cfg.waveforms), None
    else:
        window = (cfg.study.start, cfg.study.end)
        inv, fetched = _stations_xml(cfg.stations, window, out, refresh_stations)
        stations = station_table(inv, cfg.stations, cfg.study.start, cfg.study.end)
    log.info(f"selecting from {len(read.events)} events …")
    selection = select_events(
        read.events, SelectionSettings.of(cfg), stations.stations
    )  # isolation at the stations
    log.debug(
        f"selected {len(selection.events)} of {selection.n_catalog} events; rejected: "
        + ", ".join(f"{k} {v}" for k, v in selection.rejected.items() if v)
    )
    if fetched is not None:
        out.write_bytes(fetched, st.STATIONXML)
        log.info(f"  saved to {out.url(st.STATIONXML)}")
    if selection.events.empty:
        rules = ", ".join(f"{k} {v}" for k, v in selection.rejected.items() if v)
        raise CatalogError(
            f"no event of {selection.n_catalog} in {cfg.catalog.path} passed the selection "
            f"({rules}); nothing written: check [selection] and the study window"
        )
    picks = study_picks(cfg, read, selection)
    warnings = class_warnings(cfg, read, selection)
    for w in warnings:
        log.warning(f"warning: {w}")
    invalidated = []
    same_picks = cfg.waveforms.p_arrival != "picks" or _same(out, st.PICKS, picks)
    if ingested and not (
        _same(out, st.EVENTS, selection.events)
        and _same(out, st.STATIONS, stations.stations)
        and same_picks
    ):
        invalidated = [name for name in INGEST_ITEMS if out.remove(name)]
    out.write_table(selection.events, st.EVENTS)
    out.write_table(stations.stations, st.STATIONS)
    if picks is not None:
        out.write_table(picks, st.PICKS)
    else:  # a catalog without picks now: none of an earlier one's stay
        out.remove(st.PICKS)
    problems = pd.DataFrame(
        [(p.file, p.line, p.reason) for p in read.problems], columns=["file", "line", "reason"]
    )
    out.write_table(problems, PROBLEMS)
    out.write_text(dump_toml(cfg), st.STUDY_TOML)
    return CatalogSummary(
        out.root, read, selection, stations, time.perf_counter() - t0, invalidated, warnings,
        picks,
    )  # fmt: skip
