"""What a worker does with one block of events: fetch its windows, preprocess them as one
batch, write its chunks of the cube, its rows of the traces table and its ledger marker.

The driver (faultprobe.pipelines.ingest) plans the blocks and sends each here as a
`BlockSpec`; `run_block` builds a block whole, `retry_block` asks again only the windows
whose status says so and rewrites only their chunks. The monitor and `faultprobe predict`
reuse `process_block` for their own windows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from faultprobe import columns as cols
from faultprobe.config import DATASET_SOURCES, Waveforms
from faultprobe.config.stages import IngestSettings
from faultprobe.pipelines import cube, ledger
from faultprobe.pipelines.errors import IngestError
from faultprobe.pipelines.inputs import RunInfo, run_info
from faultprobe.pipelines.plan import Plan, StationInfo
from faultprobe.pipelines.preprocess import NS, Settings, process
from faultprobe.pipelines.sources import Fetched, Request, SDSSource, Source, WindowSource
from faultprobe.pipelines.status import Failure, Status, failure_class, names
from faultprobe.plugins import plugin_source, source_names
from faultprobe.store import Store

NAT = np.iinfo(np.int64).min


@dataclass(frozen=True)
class BlockSpec:
    """What one task needs: plain arrays, no tables."""

    block: int
    start: int
    stop: int
    event_ids: np.ndarray
    p_ns: np.ndarray  # (n_events, n_stations)
    stations: tuple[StationInfo, ...]


def settings(w: Waveforms) -> Settings:
    """The preprocessing settings of a `[waveforms]` section."""
    return Settings(
        sampling_rate=w.sampling_rate,
        window_s=tuple(w.window_s),
        pad_s=w.pad_s,
        max_gap_s=w.max_gap_s,
        detrend=w.detrend,
        bandpass_hz=tuple(w.bandpass_hz) if w.bandpass_hz else None,
        clip_counts=w.clip_counts,
        clip_run=w.clip_run,
    )


#: A source factory: the ingest's settings and the run's info -> a `Source`.
SourceFactory = Callable[[IngestSettings, RunInfo], Source]


def _sds(s: IngestSettings, info: RunInfo) -> Source:
    return SDSSource(s.waveforms.sds_root)


def _dataset(s: IngestSettings, info: RunInfo) -> Source:
    from faultprobe.pipelines.datasets import DatasetSource

    return DatasetSource(Store(s.store), s.waveforms.source)


def _fdsn(s: IngestSettings, info: RunInfo) -> Source:
    from faultprobe.pipelines.fdsn import FDSNSource
    from faultprobe.pipelines.limits import resolve

    w = s.waveforms
    if not w.cache:
        raise IngestError("source 'fdsn' needs waveforms.cache (a local SDS folder)")
    lim = resolve(w)  # the data centre's preset and the keys set by hand
    return FDSNSource(
        w.fdsn,
        w.cache,
        max_concurrent=lim.max_concurrent,
        per_second=lim.per_second,
        max_samples=lim.samples_per_request,
        timeout=w.request_timeout_s,
        max_attempts=w.max_attempts,
        backoff_s=w.retry_backoff_s,
        max_bulk_items=lim.max_bulk_lines,
        eida_token=w.eida_token,
        run=info.run,
        breaker_failures=w.breaker_failures,
        refresh=info.refresh,
    )


def _synthetic(s: IngestSettings, info: RunInfo) -> Source:
    try:
        from faultprobe.synthetic.archive import SyntheticArchive
    except ImportError as err:
        raise IngestError(
            f"source 'synthetic' needs faultprobe.synthetic.archive ({err})"
        ) from None
    if s.world is None:
        raise IngestError("source 'synthetic' needs the study's [synthetic] world")
    return WindowSource(SyntheticArchive(s.world), "synthetic")


#: The built-in waveform sources by their `[waveforms] source` name; another package adds
#: one through the `faultprobe.sources` entry points (`faultprobe.plugins`).
SOURCES: dict[str, SourceFactory] = {
    "sds": _sds,
    "fdsn": _fdsn,
    "synthetic": _synthetic,
    **{name: _dataset for name in DATASET_SOURCES},
}


def make_source(s: IngestSettings, info: RunInfo | None = None) -> Source:
    """The configured source; built inside each task (nothing unpicklable travels)."""
    name = s.waveforms.source
    factory = SOURCES.get(name) or plugin_source(name)
    if factory is None:
        where = f" in {s.source_path}" if s.source_path else ""
        raise IngestError(
            f"[waveforms] source = {name!r}{where} is not a known source; use one of "
            f"{', '.join(source_names())} (or install the package that registers it)"
        )
    return factory(s, info or RunInfo())


def _orientation(inv) -> dict[str, float] | None:
    """Azimuths of every channel in the inventory, for 1/2 -> E/N (None without one)."""
    if inv is None:
        return None
    return {
        f"{n.code}.{s.code}.{c.location_code}.{c.code}": float(c.azimuth)
        for n in inv
        for s in n
        for c in s
        if c.azimuth is not None
    }


def _inventory(s: IngestSettings, info: RunInfo | None = None):
    """The study's StationXML (once per process and content), or None."""
    from faultprobe.pipelines.response import read_inventory_cached

    info = info or run_info(s)
    path = info.inventory
    try:
        return read_inventory_cached(path, info.inventory_digest) if path else None
    except Exception as err:
        if s.waveforms.remove_response:
            raise IngestError(f"remove_response needs the StationXML {path}: {err}") from None
        return None


def process_block(
    job: IngestSettings,
    spec: BlockSpec,
    source: Source | None = None,
    info: RunInfo | None = None,
    inventory=None,
):
    """Fetch and preprocess one block; returns (batch, traces rows).

    Pairs whose P time is NaT are not fetched (status 'error', or left out by the caller).
    `inventory` (an ObsPy Inventory) replaces the config's StationXML, for callers with
    their own traces (`faultprobe.predict`).
    """
    info = info or run_info(job)
    s = settings(job.waveforms)
    source = source or make_source(job, info)
    p = spec.p_ns
    n_ev, n_st = p.shape
    valid = p != NAT
    ws = np.where(valid, p + int(round(s.window_s[0] * NS)), NAT)
    we = p + int(round(s.window_s[1] * NS))
    pad = int(round((s.pad_s + 1.0) * NS))  # one more second than preprocessing needs
    requests = [
        Request(st, ws[valid[:, j], j] - pad, we[valid[:, j], j] + pad)
        for j, st in enumerate(spec.stations)
    ]
    fetched = source.fetch(requests)
    items: list[Fetched] = []
    cursor = [0] * n_st
    for i in range(n_ev):
        for j in range(n_st):
            if valid[i, j]:
                items.append(fetched[j][cursor[j]])
                cursor[j] += 1
            else:
                items.append(
                    Fetched(
                        None, "error", "no theoretical P (pair beyond the travel-time table)", 0
                    )
                )
    inv = inventory if inventory is not None else _inventory(job, info)
    if job.waveforms.remove_response and inv is None:
        raise IngestError("remove_response = true needs [stations] inventory (a StationXML file)")
    responses = inv if job.waveforms.remove_response else None
    batch = process(items, ws.ravel(), p.ravel(), s, _orientation(inv), responses)
    rows = pd.DataFrame(
        {
            "source_id": np.repeat(spec.event_ids.astype(str), n_st),
            "station_network_code": np.tile([st.network for st in spec.stations], n_ev),
            "station_code": np.tile([st.station for st in spec.stations], n_ev),
            "status": names(batch.status).astype(str),
            "reason": batch.reason,
            "trace_p_arrival_time": pd.to_datetime(
                np.where(valid.ravel(), p.ravel(), NAT).view("datetime64[ns]")
            ).tz_localize("UTC"),
            "trace_snr_db": cols.snr_db(batch.snr),
            "source": source.name,
            "attempts": np.array([it.attempts for it in items], dtype=np.int32),
            "trace_start_time": pd.to_datetime(batch.start_ns.view("datetime64[ns]")).tz_localize(
                "UTC"
            ),
            **trace_channels(batch.seed_ids),
        }
    )
    rows["failure"] = rows["status"].map(failure_class)
    return batch, rows


def trace_channels(seed_ids: list[list[str | None]]) -> dict[str, list[str]]:
    """Per trace, the location code and the E, N, Z channel codes as read ("" if absent)."""
    loc, cha = [], []
    for ids in seed_ids:
        parts = [s.split(".") for s in ids if s]
        loc.append(parts[0][2] if parts else "")
        cha.append(",".join(s.split(".")[3] if s else "" for s in ids) if parts else "")
    return {"station_location_code": loc, "trace_channels": cha}


def _marker(spec: BlockSpec, rows: pd.DataFrame, info: RunInfo, t0: float, c0: float, **extra):
    return {
        "block": spec.block,
        "events": len(spec.event_ids),
        "status": rows["status"].value_counts().to_dict(),
        "inputs": info.inputs,
        "seconds": round(time.perf_counter() - t0, 3),
        "cpu_seconds": round(time.process_time() - c0, 3),
        **extra,
    }


def run_block(
    job: IngestSettings, spec: BlockSpec, cube_url: str, info: RunInfo | None = None
) -> dict:
    """The Dask task: one block from fetch to ledger marker."""
    info = info or run_info(job)
    t0, c0 = time.perf_counter(), time.process_time()
    store = Store(job.store)
    batch, rows = process_block(job, spec, info=info)
    t_process = time.perf_counter() - t0
    n_ev, n_st = spec.p_ns.shape
    cube.write_region(
        cube_url,
        slice(spec.start, spec.stop),
        batch.waveform.reshape(n_ev, n_st, 3, -1),
        batch.status.reshape(n_ev, n_st),
        batch.start_ns.reshape(n_ev, n_st),
    )
    ledger.write_part(store, spec.block, rows)
    marker = _marker(spec, rows, info, t0, c0, process_seconds=round(t_process, 3))
    ledger.mark_done(store, spec.block, marker)
    return {"block": spec.block, "status": marker["status"]}


def retry_statuses(retry_failed: bool) -> frozenset[str]:
    """Statuses asked again by a run: transient ones always, permanent ones on request."""
    transient = Status.labels(Failure.TRANSIENT)
    return transient | Status.labels(Failure.PERMANENT) if retry_failed else transient


def retry_block(
    job: IngestSettings, spec: BlockSpec, cube_url: str, info: RunInfo, statuses: frozenset[str]
) -> dict:
    """The Dask task for a finished block with windows to ask again: only those are fetched,
    their pairs replaced in the cube (only their stations' chunks rewritten) and in the part."""
    t0, c0 = time.perf_counter(), time.process_time()
    store = Store(job.store)
    old = ledger.read_part(store, spec.block)
    n_ev, n_st = spec.p_ns.shape
    again = (old["status"].isin(statuses).to_numpy() & (spec.p_ns.ravel() != NAT)).reshape(
        n_ev, n_st
    )
    if again.any():
        sub = replace(spec, p_ns=np.where(again, spec.p_ns, NAT))
        batch, rows = process_block(job, sub, info=info)
        cube.merge_region(
            cube_url,
            slice(spec.start, spec.stop),
            again,
            batch.waveform.reshape(n_ev, n_st, 3, -1),
            batch.status.reshape(n_ev, n_st),
            batch.start_ns.reshape(n_ev, n_st),
        )
        flat = again.ravel()
        new = old.copy()
        for col in ledger.TRACE_COLUMNS:
            new.loc[flat, col] = rows.loc[flat, col].to_numpy()
        new["attempts"] = new["attempts"].astype(np.int32)
        new["trace_snr_db"] = new["trace_snr_db"].astype(np.float32)
        old = new
    ledger.write_part(store, spec.block, old)
    marker = _marker(spec, old, info, t0, c0, retried=int(again.sum()))
    ledger.mark_done(store, spec.block, marker)
    return {"block": spec.block, "status": marker["status"]}


def block_specs(plan: Plan) -> list[BlockSpec]:
    ids = plan.events["source_id"].astype(str).to_numpy()
    out = []
    for b in range(plan.n_blocks):
        sl = plan.block(b)
        out.append(
            BlockSpec(b, sl.start, sl.stop, ids[sl], plan.p_time_ns[sl], tuple(plan.stations))
        )
    return out
