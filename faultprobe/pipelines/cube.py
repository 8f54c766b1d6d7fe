"""The Zarr cube: template written once, block regions written by tasks, checks at the end.

Layout (docs/architecture.md): dims event, station, component (E, N, Z), time (s relative to P);
`waveform` float32 chunked (block_size, 1, 3, n_time) so one station's slice reads alone;
`status` int8 (-1 = not written yet); `p_time` and `start_time` datetime64; `p_source` int8
(what placed the P: `placement.PSource`).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import dask.array as da
import numcodecs
import numpy as np
import xarray as xr
import zarr
import zarr.codecs

from faultprobe import __version__, _compat
from faultprobe import columns as cols
from faultprobe.config import Waveforms
from faultprobe.pipelines.placement import PSource, p_sources
from faultprobe.pipelines.plan import Plan
from faultprobe.pipelines.preprocess import COMPONENTS
from faultprobe.pipelines.status import NOT_WRITTEN, Status

warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")

NAT = np.iinfo(np.int64).min
#: The cube's event coordinates: short names (the cube keeps them), read from the events
#: frame's SeisBench columns (`EVENT_FROM`).
EVENT_COORDS = [
    "event_id",
    "origin_time",
    "latitude",
    "longitude",
    "depth_km",
    "magnitude",
    "phase",
    "ttf_s",
]
#: Cube event coordinate -> the events column it is read from.
EVENT_FROM = {c: cols.LEGACY["events.parquet"].get(c, c) for c in EVENT_COORDS}
#: The cube's numeric station coordinates -> the stations column each is read from.
STATION_FROM = {
    "station_latitude": "station_latitude_deg",
    "station_longitude": "station_longitude_deg",
    "station_elevation_m": "station_elevation_m",
}
#: CF time encoding: integer nanoseconds from the epoch, in UTC.
TIME_UNITS = "nanoseconds since 1970-01-01T00:00:00Z"
#: Units and long names of the coordinates (CF attributes).
COORD_ATTRS = {
    "origin_time": {"long_name": "origin time (UTC)", "standard_name": "time"},
    "latitude": {"units": "degrees_north", "long_name": "epicentre latitude"},
    "longitude": {"units": "degrees_east", "long_name": "epicentre longitude"},
    "depth_km": {"units": "km", "long_name": "hypocentre depth", "positive": "down"},
    "magnitude": {"units": "1", "long_name": "magnitude (type in events.parquet)"},
    "phase": {"long_name": "phase of the sequence (pre, post, or an extra interval)"},
    "ttf_s": {"units": "s", "long_name": "time to the mainshock (negative before it)"},
    "network": {"long_name": "FDSN network code"},
    "station_code": {"long_name": "FDSN station code"},
    "location": {"long_name": "FDSN location code asked for"},
    "channels": {"long_name": "band and instrument code asked for (e.g. HH)"},
    "station_latitude": {"units": "degrees_north", "long_name": "station latitude"},
    "station_longitude": {"units": "degrees_east", "long_name": "station longitude"},
    "station_elevation_m": {"units": "m", "long_name": "station elevation"},
}


@dataclass(frozen=True)
class Codec:
    """A compressor candidate: the numcodecs object used to measure, the zarr codec to write."""

    name: str
    measure: numcodecs.abc.Codec
    zarr: zarr.abc.codec.BytesBytesCodec


CANDIDATES = [
    Codec("zstd-3", numcodecs.Zstd(level=3), zarr.codecs.ZstdCodec(level=3)),
    Codec(
        "blosc-zstd-5-shuffle",
        numcodecs.Blosc("zstd", 5, numcodecs.Blosc.SHUFFLE, blocksize=0),
        zarr.codecs.BloscCodec(cname="zstd", clevel=5, shuffle="shuffle", typesize=4),
    ),
    Codec(
        "blosc-zstd-5-bitshuffle",
        numcodecs.Blosc("zstd", 5, numcodecs.Blosc.BITSHUFFLE, blocksize=0),
        zarr.codecs.BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle", typesize=4),
    ),
    Codec(
        "blosc-lz4-5-shuffle",
        numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE, blocksize=0),
        zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle", typesize=4),
    ),
]


def choose_codec(sample: np.ndarray) -> tuple[Codec, dict[str, dict[str, float]]]:
    """Compress a sample of processed windows with each candidate; keep the smallest.

    Candidates within 2 % of the best ratio are ranked by encoding speed.
    """
    raw = np.ascontiguousarray(np.nan_to_num(sample, nan=0.0), dtype=np.float32).tobytes()
    found = {}
    for c in CANDIDATES:
        c.measure.encode(raw[:4096])  # warm up (thread pools, contexts)
        t0 = time.perf_counter()
        n = len(c.measure.encode(raw))
        dt = time.perf_counter() - t0
        found[c.name] = {
            "ratio": round(len(raw) / max(n, 1), 3),
            "MB_per_s": round(len(raw) / 1e6 / max(dt, 1e-9), 1),
        }
    best = max(r["ratio"] for r in found.values())
    near = [c for c in CANDIDATES if found[c.name]["ratio"] >= 0.98 * best]
    pick = max(near, key=lambda c: found[c.name]["MB_per_s"])
    return pick, found


def codec_by_name(name: str) -> Codec:
    for c in CANDIDATES:
        if c.name == name:
            return c
    raise ValueError(f"unknown codec {name!r}; choose from {[c.name for c in CANDIDATES]}")


def template(
    plan: Plan, n_time: int, rate: float, window_s: tuple[float, float], attrs: dict
) -> xr.Dataset:
    """The whole cube as lazy arrays plus its coordinates (nothing computed).

    The lazy arrays are one dask chunk each: the template never computes them (the tasks
    write their own blocks), and a graph of one task per zarr chunk would only cost time
    (70 % of the template at 900k events x 10 stations). `encoding` sets the zarr chunks."""
    ev, S = plan.events, len(plan.stations)
    E = len(ev)
    coords = {
        "event": ("event", ev["source_id"].astype(str).to_numpy(dtype=object)),
        "station": ("station", np.array(plan.station_names, dtype=object)),
        "component": ("component", np.array(COMPONENTS, dtype=object)),
        "time": ("time", np.round(window_s[0] + np.arange(n_time) / rate, 6)),
    }
    for col, frame_col in EVENT_FROM.items():
        if frame_col in ev.columns:
            v = ev[frame_col]
            if col == "origin_time":
                v = v.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
            arr = v.to_numpy()
            coords[col] = (
                "event",
                arr.astype(object)
                if arr.dtype.kind in "OUT" or str(arr.dtype).startswith("str")
                else arr,
            )
    st = plan.stations
    coords["network"] = ("station", np.array([s.network for s in st], dtype=object))
    coords["station_code"] = ("station", np.array([s.station for s in st], dtype=object))
    coords["location"] = ("station", np.array([s.location for s in st], dtype=object))
    coords["channels"] = ("station", np.array([s.channels for s in st], dtype=object))
    for col, frame_col in STATION_FROM.items():
        coords[col] = ("station", np.asarray(plan.station_table[frame_col], float))
    data = {
        "waveform": (
            ("event", "station", "component", "time"),
            da.full((E, S, 3, n_time), np.nan, dtype=np.float32, chunks=-1),
        ),
        "status": (
            ("event", "station"),
            da.full((E, S), NOT_WRITTEN, dtype=np.int8, chunks=-1),
        ),
        "p_time": (("event", "station"), plan.p_time_ns.view("datetime64[ns]")),
        "p_source": (("event", "station"), p_sources(plan)),
        # Lazy like `status`: every block writes its own rows, so the template leaves them.
        "start_time": (
            ("event", "station"),
            da.full((E, S), NAT, dtype=np.int64, chunks=-1).view("datetime64[ns]"),
        ),
    }
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    for name, a in COORD_ATTRS.items():
        if name in ds.coords:
            ds[name].attrs.update(a)
    ds["station"].attrs["long_name"] = "station as NET.STA"
    ds["component"].attrs["long_name"] = "component (E, N, Z; 1/2 rotated to E/N)"
    ds["waveform"].attrs.update(waveform_attrs(attrs.get("preprocessing") or {}))
    ds["time"].attrs.update(units="s", long_name="time relative to the P arrival (p_source)")
    ds["status"].attrs.update(
        flag_values=[int(s) for s in Status],
        flag_meanings=" ".join(s.label for s in Status),
        not_written=NOT_WRITTEN,
    )
    ds["p_time"].attrs.update(long_name="P arrival the window is cut around (UTC)")
    ds["p_source"].attrs.update(
        long_name="what placed the P: the velocity model, the catalog's pick, the dataset",
        flag_values=[int(s) for s in PSource],
        flag_meanings=" ".join(s.label for s in PSource),
    )
    ds["start_time"].attrs.update(long_name="time of the window's first sample (UTC)")
    return ds


def waveform_attrs(pre: dict) -> dict:
    """CF units and long name of `waveform` for the study's preprocessing."""
    steps = []
    if pre.get("detrend", "none") != "none":
        steps.append(f"{pre['detrend']} removed")
    if pre.get("bandpass_hz"):
        lo, hi = pre["bandpass_hz"]
        steps.append(f"band-passed {lo:g}-{hi:g} Hz")
    if pre.get("remove_response"):
        units, what = "m s-1", "ground velocity, instrument response removed"
    else:
        units, what = "counts", "ground velocity in digitizer counts (raw, as recorded)"
    if steps:
        what += "; " + ", ".join(steps)
    return {"units": units, "long_name": what}


def encoding(ds: xr.Dataset, codec: Codec) -> dict:
    """Zarr chunks (one block of events; one station per waveform chunk) and codecs."""
    B = int(ds.attrs["block_size"])
    S, T = ds.sizes["station"], ds.sizes["time"]
    rows = (min(B, ds.sizes["event"]), S)
    times = {"units": TIME_UNITS, "dtype": "int64", "_FillValue": NAT}
    out = {"origin_time": {"units": TIME_UNITS, "dtype": "int64"}} if "origin_time" in ds else {}
    return out | {
        "waveform": {"compressors": [codec.zarr], "chunks": (rows[0], 1, 3, T)},
        "status": {"fill_value": NOT_WRITTEN, "chunks": rows},
        "p_time": dict(times, chunks=rows),
        "p_source": {"chunks": rows},
        "start_time": dict(times, chunks=rows),
    }


def write_template(
    ds: xr.Dataset, url: str, codec: Codec, storage_options: dict | None = None
) -> None:
    """Write metadata, coordinates and eager arrays; the waveform chunks stay unwritten."""
    ds.to_zarr(
        url,
        mode="w",
        compute=False,
        consolidated=False,
        zarr_format=3,
        encoding=encoding(ds, codec),
        storage_options=storage_options,
    )


def write_region(
    url: str,
    sl: slice,
    waveform: np.ndarray,
    status: np.ndarray,
    start_ns: np.ndarray,
    storage_options: dict | None = None,
) -> None:
    """Write one block's rows (whole event-axis chunks) of the data variables."""
    block = xr.Dataset(
        {
            "waveform": (("event", "station", "component", "time"), waveform),
            "status": (("event", "station"), status),
            "start_time": (("event", "station"), start_ns.view("datetime64[ns]")),
        }
    )
    block.to_zarr(
        url,
        region={"event": sl},
        consolidated=False,
        write_empty_chunks=True,
        storage_options=storage_options,
    )


def merge_region(
    url: str,
    sl: slice,
    mask: np.ndarray,
    waveform: np.ndarray,
    status: np.ndarray,
    start_ns: np.ndarray,
    storage_options: dict | None = None,
) -> None:
    """Replace the (event, station) pairs of one block where `mask` is True, keep the rest.

    Only the waveform chunks of stations with a replaced pair are rewritten.
    """

    # An all-NaN chunk is a written chunk (the completeness check lists chunk keys).
    with zarr.config.set({"array.write_empty_chunks": True}):
        wf, st, t0 = (
            zarr.open_array(url, path=name, mode="r+", storage_options=storage_options)
            for name in ("waveform", "status", "start_time")
        )
        cur_status, cur_start = st[sl, :], t0[sl, :]
        cur_status[mask] = status[mask]
        cur_start[mask] = start_ns[mask]
        for j in np.flatnonzero(mask.any(axis=0)):
            cur = wf[sl, j]
            cur[mask[:, j]] = waveform[mask[:, j], j]
            wf[sl, j] = cur
        st[sl, :] = cur_status
        t0[sl, :] = cur_start


def finalize(url: str, attrs: dict, storage_options: dict | None = None) -> None:
    """Record final attrs and consolidate the metadata once."""
    group = zarr.open_group(url, mode="r+", storage_options=storage_options)
    group.attrs.update(attrs)
    zarr.consolidate_metadata(group.store)


def missing_chunks(
    url: str, n_blocks: int, n_stations: int, storage_options: dict | None = None
) -> list[tuple[int, int]]:
    """(block, station) pairs whose waveform chunk is absent from the store."""
    arr = zarr.open_array(url, path="waveform", mode="r", storage_options=storage_options)

    async def _list() -> list[str]:
        return [k async for k in arr.store.list_prefix(arr.path + "/c/")]

    have = {(int(k.split("/")[-4]), int(k.split("/")[-3])) for k in _compat.zarr_sync(_list())}
    return [(b, s) for b in range(n_blocks) for s in range(n_stations) if (b, s) not in have]


def check_status(url: str, storage_options: dict | None = None) -> int:
    """How many (event, station) statuses are still 'not written'."""
    st = zarr.open_array(url, path="status", mode="r", storage_options=storage_options)[...]
    return int((st == NOT_WRITTEN).sum())


def attrs_for(
    plan: Plan, w: Waveforms, source: str, codec: Codec, measured: dict, config_hash: str
) -> dict:
    return {
        "Conventions": "CF-1.10",
        "title": "faultprobe waveform cube: event x station x component x time",
        "time_zone": "UTC (every time in the cube; the Parquet tables use tz-aware UTC)",
        "sampling_rate": w.sampling_rate,
        "window": list(w.window_s),
        "n_time": w.n_samples,
        "preprocessing": {
            "detrend": w.detrend,
            "remove_response": w.remove_response,
            "bandpass_hz": list(w.bandpass_hz) if w.bandpass_hz else None,
            "max_gap_s": w.max_gap_s,
            "resampling": "scipy.signal.resample_poly (Kaiser anti-aliasing FIR)",
        },
        "source": source,
        "p_arrival": getattr(w, "p_arrival", "model"),
        "velocity_model": w.velocity_model,
        "faultprobe_version": __version__,
        "config_hash": config_hash,
        "plan_hash": plan.plan_hash,
        "dtype": "float32",
        "codec": codec.name,
        "codec_measurement": measured,
        "block_size": plan.block_size,
        "complete": False,
    }
