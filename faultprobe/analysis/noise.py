"""Ambient-noise windows as a cube (STORE/noise/waveforms.zarr), for the seasonality grid.

The ingest cuts windows around P arrivals of catalog events; seasonality needs windows
with no event at all.  Per station and day of the SDS archive (read with ObsPy's SDS
client, one Dask task per station-month), windows of the cube's length are laid evenly
over the day's continuous three-component data (at most `windows_per_day`), and a window
is kept when ObsPy's classic STA/LTA on the vertical, run on the continuous trace with at
least one LTA of data before the window, stays below `trigger_on` over the whole window,
and no catalog event lies within `event_margin_s`.  The cube has the ingest's layout (event =
window, time -5 ... 19.99 s around a reference 5 s after the window start, phase "noise")
so the learning core reads it unchanged; status is ok only for the window's own station.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from faultprobe import progress
from faultprobe.analysis.grid import NOISE_STORE
from faultprobe.config import CatalogSource, Stations, StudyConfig
from faultprobe.config.stages import GridSettings
from faultprobe.store import CUBE, EVENTS, Store

DAY_NS = 86_400 * 10**9


def sds_days(sds_root: str, net: str, sta: str) -> np.ndarray:
    """Days (ns since epoch, UTC midnight) with vertical-component files for a station."""
    days = []
    for p in Path(sds_root).glob(f"*/{net}/{sta}/??Z.D/*"):
        parts = p.name.split(".")
        if len(parts) >= 7 and parts[-2].isdigit() and parts[-1].isdigit():
            t = pd.Timestamp(f"{parts[-2]}-01-01", tz="UTC") + pd.Timedelta(days=int(parts[-1]) - 1)
            days.append(t.value)
    return np.unique(np.asarray(days, dtype=np.int64))


def sta_lta_peaks(z: np.ndarray, fs: float, sta_s: float, lta_s: float, n_t: int) -> np.ndarray:
    """Largest classic STA/LTA ratio in each window of n_t samples laid back to back on one
    continuous trace after a lead-in of one LTA, so every window sample, its first ones
    included, is judged against a full LTA of the data before it."""
    from obspy.signal.trigger import classic_sta_lta

    nsta, nlta = int(sta_s * fs), int(lta_s * fs)
    n_win = (z.size - nlta) // n_t
    if n_win <= 0:
        return np.zeros(0)
    ratio = classic_sta_lta(np.asarray(z, dtype=np.float64), nsta, nlta)  # ObsPy's C routine
    return ratio[nlta : nlta + n_win * n_t].reshape(n_win, n_t).max(axis=1)


def _day_windows(stream, n_t: int, fs: float, k: int, g: dict) -> tuple:
    """Up to k windows evenly over the day's continuous E/N/Z data: starts (ns), data, and
    whether STA/LTA on the vertical stays below the trigger (computed on the continuous
    trace, with one LTA of lead-in before each window)."""
    by_comp = {}
    for tr in stream:
        by_comp.setdefault(tr.stats.channel[-1], []).append(tr)
    empty = (np.zeros(0, np.int64), [], np.zeros(0, bool))
    if not all(c in by_comp for c in "ENZ"):
        return empty
    step = int(round(1e9 / fs))
    lead = int(g["lta_s"] * fs)
    cands, clean = [], []
    for tr in by_comp["Z"]:
        peaks = sta_lta_peaks(tr.data, fs, g["sta_s"], g["lta_s"], n_t)
        t0 = tr.stats.starttime.ns + lead * step
        cands.append(t0 + np.arange(peaks.size, dtype=np.int64) * n_t * step)
        clean.append(peaks < g["on"])
    cands, clean = np.concatenate(cands), np.concatenate(clean)
    if cands.size > k:
        pick = np.linspace(0, cands.size - 1, k).round().astype(int)
        cands, clean = cands[pick], clean[pick]
    starts, data, ok = [], [], []
    for t, c in zip(cands, clean):
        rows = []
        for comp in "ENZ":
            seg = next(
                (tr for tr in by_comp[comp]
                 if tr.stats.starttime.ns <= t and t + (n_t - 1) * step <= tr.stats.endtime.ns),
                None,
            )  # fmt: skip
            if seg is None:
                break
            i0 = int(round((t - seg.stats.starttime.ns) / step))
            rows.append(seg.data[i0 : i0 + n_t])
        if len(rows) == 3 and all(len(r) == n_t for r in rows):
            starts.append(t)
            data.append(np.stack(rows).astype(np.float32))
            ok.append(bool(c))
    return np.asarray(starts, dtype=np.int64), data, np.asarray(ok, dtype=bool)


def station_month_windows(
    sds_root: str, code: str, channels: str, days: list[int], params: dict
) -> tuple[np.ndarray, np.ndarray, int]:
    """Clean noise windows of one station over some days: starts (ns), data (w, 3, n), and
    the number of candidates rejected (STA/LTA trigger or a catalog event near).  Runs as
    one Dask task."""
    from obspy import UTCDateTime
    from obspy.clients.filesystem.sds import Client

    client = Client(sds_root)
    net, sta = code.split(".")
    n_t, fs = params["n_t"], params["fs"]
    starts, data, clean = [], [], []
    for day in days:
        t0 = UTCDateTime(ns=int(day))
        # one LTA of the day before, so the day's first window has its lead-in too
        st = client.get_waveforms(net, sta, "*", f"{channels}?", t0 - params["lta_s"], t0 + 86400)
        # Cleanup merge: joins only contiguous or identically overlapping pieces and keeps
        # each gap-free run a trace of its own.  (A masked merge and split() costs ~0.2 s
        # per channel-day on sparse archives: ObsPy scans the whole masked day.)
        st.merge(method=-1)
        s, d, c = _day_windows(st, n_t, fs, params["windows_per_day"], params)
        inside = (s >= day) & (s < day + DAY_NS)  # windows belong to the day they start in
        starts.append(s[inside])
        data += [x for x, i in zip(d, inside) if i]
        clean.append(c[inside])
    starts = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    clean = np.concatenate(clean) if clean else np.zeros(0, bool)
    x = np.stack(data) if data else np.zeros((0, 3, n_t), np.float32)
    events = np.asarray(params["event_ns"], dtype=np.int64)
    margin = int(params["event_margin_s"] * 1e9)
    end = starts + int(n_t / fs * 1e9)
    lo = np.searchsorted(events, starts - margin)
    hi = np.searchsorted(events, end + margin)
    keep = (hi == lo) & clean  # no catalog event within the margin, no STA/LTA trigger
    return starts[keep], x[keep], int((~keep).sum())


def _catalog_times(catalog: CatalogSource, store: Store) -> np.ndarray:
    """Origin times (ns, sorted) of every catalog event, the study's if the catalog is gone."""
    try:
        from faultprobe.catalogs.readers import read_catalog

        t = read_catalog(catalog).events["source_origin_time"]
    except Exception:  # no readable catalog: the study's selected events still count
        if not store.exists(EVENTS):
            return np.zeros(0, dtype=np.int64)
        t = store.read_table(EVENTS)["source_origin_time"]
    return np.sort(pd.DatetimeIndex(t).as_unit("ns").asi8)


def build_noise_cube(cfg: StudyConfig, client=None) -> str:
    """Write STORE/noise/waveforms.zarr (skipped if it exists); returns a summary line."""
    from faultprobe.analysis.grid import _first_station

    g = cfg.experiments.seasonality
    root = Store(cfg.study.store)
    store = Store(root.url(NOISE_STORE), root.storage_options)
    if store.exists(CUBE):
        return f"noise: {store.url(CUBE)} exists, kept"
    if cfg.waveforms.source != "sds" or not cfg.waveforms.sds_root:
        raise ValueError(
            "the seasonality grid reads noise from an SDS archive (waveforms.sds_root)"
        )
    fs = cfg.waveforms.sampling_rate
    before = cfg.waveforms.window_s[0]
    n_t = cfg.waveforms.n_samples
    params = dict(
        n_t=n_t, fs=fs, windows_per_day=g.windows_per_day, sta_s=g.sta_s, lta_s=g.lta_s,
        on=g.trigger_on, event_margin_s=g.event_margin_s, event_ns=_catalog_times(cfg.catalog, root),
    )  # fmt: skip
    stations = g.stations or [_first_station(GridSettings.of(cfg), None)]
    chans = {c: _channel_prefix(cfg.stations) for c in stations}
    tasks = []
    for code in stations:
        net, sta = code.split(".")
        days = sds_days(cfg.waveforms.sds_root, net, sta)
        if g.start:
            days = days[days >= pd.Timestamp(g.start).value - DAY_NS]
        if g.end:
            days = days[days <= pd.Timestamp(g.end).value]
        months = pd.DatetimeIndex(days).strftime("%Y-%m") if days.size else []
        for m in sorted(set(months)):
            tasks.append((code, [int(d) for d, mm in zip(days, months) if mm == m]))
    if client is not None:
        futs = [
            client.submit(station_month_windows, cfg.waveforms.sds_root, code, chans[code], days,
                          params, pure=False)
            for code, days in tasks
        ]  # fmt: skip
        progress.dask_bar(futs)
        parts = client.gather(futs)
    else:
        parts = [
            station_month_windows(cfg.waveforms.sds_root, code, chans[code], days, params)
            for code, days in tasks
        ]
    ds = _noise_dataset(cfg.mainshock.time, stations, [t[0] for t in tasks], parts, before, fs, n_t)
    n_t_chunk = ds.sizes["time"]
    enc = {"waveform": {"chunks": (256, 1, 3, n_t_chunk)}, "status": {"chunks": (256, 1)}}
    store.makedirs()
    ds.to_zarr(store.url(CUBE), mode="w", encoding=enc, consolidated=True)
    rejected = sum(p[2] for p in parts)
    return (
        f"noise: {ds.sizes['event']} clean windows at {', '.join(stations)} "
        f"({rejected} rejected: STA/LTA trigger or catalog event); {store.url(CUBE)}"
    )


def _channel_prefix(stations: Stations) -> str:
    pri = stations.channel_priority
    return pri[0][:2] if pri else "HH"


def _noise_dataset(mainshock, stations, codes, parts, before, fs, n_t) -> xr.Dataset:
    """The noise cube in the ingest's layout (one event per window)."""
    starts = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    data = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, 3, n_t), np.float32)
    owner = np.concatenate([[stations.index(c)] * len(p[0]) for c, p in zip(codes, parts)])
    owner = owner.astype(int) if len(owner) else np.zeros(0, int)
    order = np.lexsort((owner, starts))
    starts, data, owner = starts[order], data[order], owner[order]
    n, k = len(starts), len(stations)
    wf = np.full((n, k, 3, n_t), np.nan, dtype=np.float32)
    status = np.ones((n, k), dtype=np.int8)  # 1 = no_data at the other stations
    wf[np.arange(n), owner] = data
    status[np.arange(n), owner] = 0
    ref = pd.to_datetime(starts, utc=True) - pd.Timedelta(seconds=before)
    ms = pd.Timestamp(mainshock)
    # text as object arrays: zarr writes them as variable-length strings (Zarr v3's `string`),
    # as the event cube does; numpy's fixed-length `<U` has no Zarr v3 specification
    nets = np.array([c.split(".")[0] for c in stations], dtype=object)
    names = np.array([c.split(".")[1] for c in stations], dtype=object)
    event_ids = np.array([f"noise-{names[o]}-{t}" for o, t in zip(owner, starts)], dtype=object)
    return xr.Dataset(
        {
            "waveform": (("event", "station", "component", "time"), wf),
            "status": (("event", "station"), status),
        },
        coords={
            "event": np.arange(n),
            "station": names,
            "component": np.array(["E", "N", "Z"], dtype=object),
            "time": np.round(before + np.arange(n_t) / fs, 6),
            "event_id": ("event", event_ids),
            "origin_time": ("event", ref.tz_localize(None).to_numpy()),
            "magnitude": ("event", np.full(n, np.nan)),
            "phase": ("event", np.full(n, "noise", dtype=object)),
            "ttf_s": ("event", (ref - ms).total_seconds().to_numpy()),
            "network": ("station", nets),
        },
        attrs={"sampling_rate": fs, "window": [before, before + n_t / fs], "source": "noise"},
    )
