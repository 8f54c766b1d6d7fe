"""Model inputs from the cube: one or several stations' slices read in one pass.

`open_cube` opens STORE/waveforms.zarr; `event_table` gives its per-event coordinates as a
DataFrame; `read_station_slice` loads the waveforms of the chosen stations for every event
(one chunk column per station, so no other station is touched) and says which traces are
usable; `prepare` band-passes (optional, vectorised over the batch) and normalises each
trace and component.  Traces whose status is not ok are left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from faultprobe.dsp import bandpass
from faultprobe.errors import NotFoundError
from faultprobe.ml.errors import ModelError
from faultprobe.pipelines.status import NOT_WRITTEN, Status, names
from faultprobe.store import CUBE, Store


def status_name(ds: xr.Dataset, code: int) -> str:
    """Name of a status code: the cube's CF flag attributes if present, else the defaults."""
    attrs = ds["status"].attrs
    if "flag_values" in attrs and "flag_meanings" in attrs:
        meanings = str(attrs["flag_meanings"]).split()
        table = dict(zip(np.atleast_1d(attrs["flag_values"]).tolist(), meanings))
        return table.get(code, "not_written" if code == -1 else str(code))
    return str(names(np.array([code]))[0]) if NOT_WRITTEN <= code < len(Status) else str(code)


def open_cube(store: Store) -> xr.Dataset:
    """The study's cube, lazily (Dask-backed)."""
    if not store.exists(CUBE):
        raise FileNotFoundError(f"{store.url(CUBE)} does not exist (run `faultprobe ingest`)")
    return xr.open_zarr(store.url(CUBE), storage_options=store.storage_options)


def event_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per-event coordinates of the cube in cube order, with the events table's names
    (source_id, source_origin_time UTC, source_magnitude, phase, ttf_s)."""
    cube_to_frame = {
        "event_id": "source_id",
        "origin_time": "source_origin_time",
        "magnitude": "source_magnitude",
        "phase": "phase",
        "ttf_s": "ttf_s",
    }  # the cube keeps its own coordinate names
    cols = {new: ds[old].values for old, new in cube_to_frame.items() if old in ds.coords}
    if "source_id" not in cols:
        cols["source_id"] = ds["event"].values
    df = pd.DataFrame(cols)
    df["source_id"] = df["source_id"].astype(str)
    t = pd.DatetimeIndex(df["source_origin_time"])
    df["source_origin_time"] = t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")
    return df


def station_positions(ds: xr.Dataset, stations: tuple[str, ...] | list[str]) -> list[int]:
    """Positions of stations given as STA or NET.STA; an unknown code is a clear error.

    The cube labels stations NET.STA (older cubes and the toy cube: STA, with a
    `network` coordinate); both spellings are accepted either way.
    """
    labels = [str(s) for s in ds["station"].values]
    nets = [str(n) for n in ds["network"].values] if "network" in ds.coords else [""] * len(labels)
    codes = [s.split(".", 1)[1] if "." in s else s for s in labels]
    full = [s if "." in s else (f"{n}.{s}" if n else s) for s, n in zip(labels, nets)]
    out = []
    for want in stations:
        if want in full:
            out.append(full.index(want))
        elif want in codes:
            out.append(codes.index(want))
        elif "." in want and want.split(".", 1)[1] in codes:
            out.append(codes.index(want.split(".", 1)[1]))
        else:
            raise NotFoundError(f"station {want!r} is not in the cube (it has {', '.join(full)})")
    return out


def sampling_rate(ds: xr.Dataset) -> float:
    if "sampling_rate" in ds.attrs:
        return float(ds.attrs["sampling_rate"])
    t = ds["time"].values
    return float(round(1.0 / float(np.median(np.diff(t))), 6))


@dataclass(frozen=True)
class StationSlice:
    """Raw traces of the chosen stations: x (events, stations*3, time) and usability."""

    x: np.ndarray
    ok: np.ndarray
    status_counts: dict[str, int]
    sampling_rate: float


def _time_slice(ds: xr.Dataset, window_s: tuple[float, float] | None) -> slice:
    return time_slice(ds["time"].values, window_s)


def time_slice(t: np.ndarray, window_s: tuple[float, float] | None) -> slice:
    """The samples of the time axis `t` (s from P) inside [start, end) of `window_s`."""
    if window_s is None:
        return slice(None)
    lo = int(np.searchsorted(t, window_s[0] - 1e-9))
    hi = int(np.searchsorted(t, window_s[1] - 1e-9))
    if hi - lo < 16:
        raise ModelError(f"window {list(window_s)} s keeps {hi - lo} samples of the cube")
    return slice(lo, hi)


def read_station_slice(
    ds: xr.Dataset,
    stations: tuple[str, ...] | list[str],
    window_s: tuple[float, float] | None = None,
    events: np.ndarray | None = None,
) -> StationSlice:
    """Load the stations' traces for all events (or the `events` positions) in one pass.

    A trace is usable when its status is 0 at every chosen station; the rest are counted
    by status name (per station) and their events left out by the caller.
    """
    pos = station_positions(ds, stations)
    sel = {"station": pos, "time": _time_slice(ds, window_s)}
    if events is not None:
        sel["event"] = np.asarray(events)
    status = ds["status"].isel(station=pos, **({"event": sel["event"]} if "event" in sel else {}))
    status = np.asarray(status.values)
    wf = _read_waveforms(ds["waveform"], sel)
    n_ev, n_sta, n_comp, n_t = wf.shape
    ok = np.all(status == 0, axis=1)
    names = [str(ds["station"].values[p]) for p in pos]
    counts: dict[str, int] = {}
    for j, sta in enumerate(names):
        codes, n = np.unique(status[:, j], return_counts=True)
        for c, k in zip(codes.tolist(), n.tolist()):
            counts[f"{sta}:{status_name(ds, int(c))}"] = int(k)
    x = wf.reshape(n_ev, n_sta * n_comp, n_t)
    return StationSlice(x=x, ok=ok, status_counts=counts, sampling_rate=sampling_rate(ds))


def event_chunk(wf: xr.DataArray) -> int:
    """Events per chunk of a waveform array (its encoding; the whole axis if unchunked)."""
    chunks = wf.encoding.get("chunks") or wf.encoding.get("preferred_chunks")
    if isinstance(chunks, dict):
        return int(chunks.get("event", wf.sizes["event"]))
    return int(chunks[0]) if chunks else wf.sizes["event"]


#: Bytes of decoded chunks one read holds at most (at least one chunk): a read of many
#: chunks at once fetches them concurrently (what s3:// needs) but holds them all.
READ_GROUP_BYTES = 32 * 2**20


def _read_waveforms(wf: xr.DataArray, sel: dict) -> np.ndarray:
    """float32 (events, stations, components, time) of `sel`, read a few event chunks at a
    time into one array: a single read holds every decoded chunk at once (3x the slice at
    its peak, benchmarks/peers.py train); this holds `READ_GROUP_BYTES` above the result."""
    events = np.asarray(sel.get("event", np.arange(wf.sizes["event"])))
    rest = {k: v for k, v in sel.items() if k != "event"}
    sub = wf.isel(rest)
    out = np.empty((len(events), *(sub.sizes[d] for d in sub.dims[1:])), dtype=np.float32)
    if not len(events):
        return out
    chunk = event_chunk(wf)
    per_group = max(READ_GROUP_BYTES // max(out[:1].nbytes * chunk, 1), 1)  # chunks a read
    group = (events // chunk) // per_group
    cuts = np.flatnonzero(np.diff(group)) + 1
    for rows in np.split(np.arange(len(events)), cuts):
        ev = events[rows]
        contiguous = bool(np.all(np.diff(ev) == 1))
        part = sub.isel(event=slice(int(ev[0]), int(ev[-1]) + 1) if contiguous else ev)
        out[rows[0] : rows[-1] + 1] = part.values
    return out


def normalise(x: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """Remove each trace-component's mean and scale its peak to 1 (dead traces stay 0).

    One copy of `x` (the result) and no other temporaries the size of `x`; with
    `overwrite` (x is the caller's to lose) float32 input is normalised in its own memory.
    """
    mean = x.mean(axis=-1, keepdims=True)
    if overwrite and x.flags.writeable:
        x -= mean
    else:
        x = x - mean
    peak = np.maximum(x.max(axis=-1, keepdims=True), -x.min(axis=-1, keepdims=True))
    x /= np.where(peak > 0, peak, 1.0).astype(x.dtype)
    return x.astype(np.float32, copy=False)


def prepare(
    x: np.ndarray, fs: float, band_hz: tuple[float, float] | None = None, overwrite: bool = False
) -> np.ndarray:
    """Model inputs: optional band-pass, then per trace and component normalisation
    (`overwrite`: `x` may be normalised in place, the caller does not keep it)."""
    if band_hz is not None:
        x, overwrite = bandpass(x, band_hz, fs), True  # a new array: ours to overwrite
    return normalise(x, overwrite)
