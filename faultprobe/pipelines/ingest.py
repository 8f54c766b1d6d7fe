"""`faultprobe ingest`: events x stations -> waveforms.zarr and traces.parquet, on Dask.

The driver plans once (P times, blocks), writes the cube template once, then runs one
Dask task per unfinished block. A task fetches its windows, preprocesses them as one
batch, writes its own event-axis chunks of the cube (no locks: nobody else owns them),
writes its rows of traces.parquet and finally its ledger marker. Killed at any point, the
same command skips the finished blocks and redoes the others whole; at the end the parts
are compacted, every block and chunk is checked, and the metadata is consolidated.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from faultprobe.config import StudyConfig
from faultprobe.pipelines import cube, ledger
from faultprobe.pipelines.plan import Plan, StationInfo, make_plan
from faultprobe.pipelines.preprocess import NS, Settings, process
from faultprobe.pipelines.sources import Fetched, Request, SDSSource, Source, WindowSource
from faultprobe.pipelines.status import CODES, names
from faultprobe.store import CUBE, EVENTS, STATIONS, Store

NAT = np.iinfo(np.int64).min


class IngestError(RuntimeError):
    """The store cannot be ingested as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class BlockSpec:
    """What one task needs: plain arrays, no tables."""

    block: int
    start: int
    stop: int
    event_ids: np.ndarray
    p_ns: np.ndarray  # (n_events, n_stations)
    stations: tuple[StationInfo, ...]


@dataclass
class Summary:
    """What an ingest run did, for the command line."""

    store: str
    n_events: int
    n_stations: int
    n_blocks: int
    ran: int
    skipped: int
    status_counts: dict[str, int]
    codec: str
    seconds: float

    def render(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.status_counts.items() if v)
        return (
            f"waveforms.zarr in {self.store}: {self.n_events} events x {self.n_stations} stations, "
            f"{self.n_blocks} blocks ({self.ran} run now, {self.skipped} already done) in "
            f"{self.seconds:.1f} s; codec {self.codec}\ntraces: {counts}"
        )


def settings(cfg: StudyConfig) -> Settings:
    w = cfg.waveforms
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


def make_source(cfg: StudyConfig) -> Source:
    """The configured source; built inside each task (nothing unpicklable travels)."""
    w = cfg.waveforms
    if w.source == "sds":
        return SDSSource(w.sds_root)
    if w.source == "fdsn":
        from faultprobe.pipelines.fdsn import FDSNSource

        if not w.cache:
            raise IngestError("source 'fdsn' needs waveforms.cache (a local SDS folder)")
        return FDSNSource(
            w.fdsn,
            w.cache,
            max_concurrent=w.max_concurrent_requests,
            per_second=w.max_requests_per_second,
            timeout=w.request_timeout_s,
            max_attempts=w.max_attempts,
            backoff_s=w.retry_backoff_s,
            max_bulk_items=w.max_bulk_items,
            eida_token=w.eida_token,
        )
    try:
        from faultprobe.synthetic.archive import SyntheticArchive
    except ImportError as err:
        raise IngestError(
            f"source 'synthetic' needs faultprobe.synthetic.archive ({err})"
        ) from None
    return WindowSource(SyntheticArchive(cfg), "synthetic")


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


def _inventory(cfg: StudyConfig):
    """The study's StationXML (once per process), or None; required for response removal."""
    from faultprobe.pipelines.response import read_inventory_cached

    path = cfg.stations.inventory
    try:
        return read_inventory_cached(path) if path else None
    except Exception as err:
        if cfg.waveforms.remove_response:
            raise IngestError(f"remove_response needs the StationXML {path}: {err}") from None
        return None


def process_block(cfg: StudyConfig, spec: BlockSpec, source: Source | None = None):
    """Fetch and preprocess one block; returns (batch, traces rows)."""
    s = settings(cfg)
    source = source or make_source(cfg)
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
    inv = _inventory(cfg)
    if cfg.waveforms.remove_response and inv is None:
        raise IngestError("remove_response = true needs [stations] inventory (a StationXML file)")
    responses = inv if cfg.waveforms.remove_response else None
    batch = process(items, ws.ravel(), p.ravel(), s, _orientation(inv), responses)
    rows = pd.DataFrame(
        {
            "event_id": np.repeat(spec.event_ids.astype(str), n_st),
            "network": np.tile([st.network for st in spec.stations], n_ev),
            "station": np.tile([st.station for st in spec.stations], n_ev),
            "status": names(batch.status).astype(str),
            "reason": batch.reason,
            "p_time": pd.to_datetime(
                np.where(valid.ravel(), p.ravel(), NAT).view("datetime64[ns]")
            ).tz_localize("UTC"),
            "snr": batch.snr,
            "source": source.name,
            "attempts": np.array([it.attempts for it in items], dtype=np.int32),
            "start_time": pd.to_datetime(batch.start_ns.view("datetime64[ns]")).tz_localize("UTC"),
        }
    )
    return batch, rows


def run_block(cfg: StudyConfig, spec: BlockSpec, cube_url: str) -> dict:
    """The Dask task: one block from fetch to ledger marker."""
    t0, c0 = time.perf_counter(), time.process_time()
    store = Store(cfg.study.store)
    batch, rows = process_block(cfg, spec)
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
    counts = rows["status"].value_counts().to_dict()
    ledger.mark_done(
        store,
        spec.block,
        {
            "block": spec.block,
            "events": n_ev,
            "status": counts,
            "seconds": round(time.perf_counter() - t0, 3),
            "process_seconds": round(t_process, 3),
            "cpu_seconds": round(time.process_time() - c0, 3),
        },
    )
    return {"block": spec.block, "status": counts}


def block_specs(plan: Plan) -> list[BlockSpec]:
    ids = plan.events["event_id"].astype(str).to_numpy()
    out = []
    for b in range(plan.n_blocks):
        sl = plan.block(b)
        out.append(
            BlockSpec(b, sl.start, sl.stop, ids[sl], plan.p_time_ns[sl], tuple(plan.stations))
        )
    return out


def _prepare(cfg: StudyConfig, store: Store, plan: Plan, specs: list[BlockSpec]) -> str:
    """Write the template once (codec measured on a sample of the first block)."""
    state = ledger.read_state(store, "template")
    if state is not None:
        if state["plan_hash"] != plan.plan_hash:
            raise IngestError(
                f"{store.url(CUBE)} was started from other events, stations or waveform settings "
                f"(plan {state['plan_hash']}, now {plan.plan_hash}); remove {store.url(CUBE)} and "
                f"{store.url(ledger.LEDGER)} to start again"
            )
        return state["codec"]
    w = cfg.waveforms
    if w.codec == "auto":
        first = specs[0]
        k = min(len(first.event_ids), 32)
        sample = BlockSpec(0, 0, k, first.event_ids[:k], first.p_ns[:k], first.stations)
        batch, _ = process_block(cfg, sample)
        good = batch.waveform[batch.status == CODES["ok"]]
        codec, measured = cube.choose_codec(good if len(good) else batch.waveform)
    else:
        codec, measured = cube.codec_by_name(w.codec), {}
    attrs = cube.attrs_for(plan, w, w.source, codec, measured, cfg.hash())
    ds = cube.template(plan, w.n_samples, w.sampling_rate, tuple(w.window_s), attrs)
    if store.exists(ledger.LEDGER):
        store.fs.rm(store.path(ledger.LEDGER), recursive=True)
    cube.write_template(ds, store.url(CUBE), codec)
    ledger.write_state(store, "template", {"plan_hash": plan.plan_hash, "codec": codec.name})
    return codec.name


def ingest(cfg: StudyConfig, progress: bool = True, client=None) -> Summary:
    """Run (or finish) the ingest of a study; returns what was done."""
    t0 = time.perf_counter()
    store = Store(cfg.study.store)
    plan = make_plan(
        store.read_table(EVENTS),
        store.read_table(STATIONS),
        cfg.waveforms,
        cfg.stations.network_aliases,
    )
    if not len(plan.events) or not plan.stations:
        raise IngestError(
            f"nothing to ingest: {len(plan.events)} events and {len(plan.stations)} stations in "
            f"{store.root} (run `faultprobe catalog` first, or widen the selection)"
        )
    specs = block_specs(plan)
    url = store.url(CUBE)
    codec = _prepare(cfg, store, plan, specs)
    done = ledger.finished(store)
    todo = [s for s in specs if s.block not in done]
    if todo:
        _run(cfg, todo, url, progress, client)
    traces = ledger.compact(store, plan.n_blocks)
    _check(store, plan, traces)
    counts = {k: int((traces["status"] == k).sum()) for k in CODES}
    cube.finalize(url, {"complete": True, "status_counts": counts})
    ledger.write_state(store, "complete", {"plan_hash": plan.plan_hash, "status_counts": counts})
    return Summary(
        store.root,
        len(plan.events),
        len(plan.stations),
        plan.n_blocks,
        len(todo),
        plan.n_blocks - len(todo),
        counts,
        codec,
        time.perf_counter() - t0,
    )


def _run(cfg: StudyConfig, todo: list[BlockSpec], url: str, progress: bool, client) -> None:
    from distributed import as_completed

    from faultprobe.cluster.connect import connect

    def go(c) -> None:
        futures = c.map(run_block, [cfg] * len(todo), todo, [url] * len(todo), pure=False)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo), desc="ingest blocks", unit="block")
        for fut in as_completed(futures):
            fut.result()
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()

    if client is not None:
        go(client)
    else:
        say = (lambda m: print(m, file=sys.stderr, flush=True)) if progress else None
        with connect(cfg.cluster, say=say) as c:
            go(c)


def _check(store: Store, plan: Plan, traces: pd.DataFrame) -> None:
    """Every block in the ledger, every chunk present, one traces row per pair."""
    done = ledger.finished(store)
    missing_blocks = sorted(set(range(plan.n_blocks)) - done)
    if missing_blocks:
        raise IngestError(f"blocks not finished: {missing_blocks[:10]} (run ingest again)")
    url = store.url(CUBE)
    holes = cube.missing_chunks(url, plan.n_blocks, len(plan.stations))
    if holes:
        raise IngestError(
            f"waveform chunks missing for (block, station) {holes[:10]}; remove their ledger markers and run again"
        )
    if cube.check_status(url):
        raise IngestError("some (event, station) statuses were never written")
    want = len(plan.events) * len(plan.stations)
    if len(traces) != want or traces.duplicated(["event_id", "network", "station"]).any():
        raise IngestError(f"traces.parquet has {len(traces)} rows for {want} pairs (or duplicates)")
