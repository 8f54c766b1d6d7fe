"""The monitoring cube: the study cube's schema, growing along the event axis.

A batch of new events becomes a Dataset built by the ingest's own `cube.template` (same
variables, coordinates, CF attributes and encodings) filled with the batch's processed
windows.  The first batch creates the cube; a later one grows every event-axis array to
the new length, then writes the batch into that region.  A kill at any step leaves the
arrays at lengths between the committed count and the new one, never shorter, with the
committed events untouched (each chunk is written atomically); `truncate` cuts every
event-axis array back to the committed count, so the arrays never go out of step.  The
cube's metadata is read without the consolidated copy (which a kill may leave stale).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
import zarr

from faultprobe.errors import InputError
from faultprobe.monitor.crashpoints import reached
from faultprobe.pipelines import cube
from faultprobe.pipelines.plan import Plan

EVENT = "event"


class CubeError(InputError, ValueError):
    """The monitoring cube is not what the monitor wrote (the message says what to do)."""


def batch_dataset(
    plan: Plan, batch, n_time: int, rate: float, window_s: tuple[float, float], attrs: dict
) -> tuple[xr.Dataset, dict]:
    """The batch as a cube Dataset (in memory) and the encoding of a first write."""
    ds = cube.template(plan, n_time, rate, window_s, attrs)
    n, s = len(plan.events), len(plan.stations)
    codec = cube.codec_by_name(attrs["codec"])
    enc = cube.encoding(ds, codec)
    ds["waveform"] = ds["waveform"].copy(data=batch.waveform.reshape(n, s, 3, -1))
    ds["status"] = ds["status"].copy(data=batch.status.reshape(n, s))
    start = batch.start_ns.reshape(n, s).view("datetime64[ns]")
    ds["start_time"] = ds["start_time"].copy(data=start)
    return ds, enc


def _group(url: str, mode: str = "r"):
    try:
        return zarr.open_group(url, mode=mode, use_consolidated=False)
    except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError):
        return None


def event_arrays(group) -> dict:
    """The group's arrays along the event axis, by name."""
    out = {}
    for name, arr in group.arrays():
        dims = tuple(arr.metadata.dimension_names or ())
        if EVENT in dims:
            out[name] = arr
    return out


def lengths(url: str) -> dict[str, int] | None:
    """Length of every event-axis array (None when there is no cube yet)."""
    group = _group(url)
    if group is None or EVENT not in group:
        return None
    return {name: int(arr.shape[0]) for name, arr in event_arrays(group).items()}


def length(url: str) -> int | None:
    """Events in the cube: its `event` array (None when there is no cube yet)."""
    have = lengths(url)
    return None if have is None else have[EVENT]


def event_ids(url: str, n: int | None = None) -> np.ndarray:
    """The cube's first n event ids (all by default), in cube (commit) order."""
    group = _group(url)
    if group is None or EVENT not in group:
        return np.array([], dtype=object)
    values = group[EVENT][: n if n is not None else group[EVENT].shape[0]]
    return np.array([str(v) for v in np.asarray(values).tolist()], dtype=object)


def append(url: str, ds: xr.Dataset, encoding: dict, committed: int) -> None:
    """Add the batch after the `committed` events: create the cube with the first batch;
    later, grow every event-axis array, then write the batch into the new region."""
    if committed == 0:
        ds.to_zarr(url, mode="w", consolidated=False, zarr_format=3, encoding=encoding)
        reached("append.create")
    else:
        k = ds.sizes[EVENT]
        group = _group(url, "r+")
        arrays = event_arrays(group)
        wrong = {n: a.shape[0] for n, a in arrays.items() if a.shape[0] != committed}
        if wrong:  # the store was opened (and cut back) before: a bug, or another writer
            raise CubeError(f"{url}: event-axis arrays {wrong} do not match the {committed} "
                            "committed events; start the monitor again (it cuts them back)")  # fmt: skip
        names = {v for v in ds.variables if EVENT in ds[v].dims}
        if set(arrays) != names:
            raise CubeError(f"{url} has other event variables ({sorted(set(arrays) ^ names)}) "
                            "than this version writes; give the monitor a new store "
                            "([monitor] store)")  # fmt: skip
        for _, arr in sorted(arrays.items()):
            arr.resize((committed + k, *arr.shape[1:]))
            reached("append.grow")
        region = ds.drop_vars([v for v in ds.variables if EVENT not in ds[v].dims])
        region.to_zarr(url, mode="r+", region={EVENT: slice(committed, committed + k)},
                       consolidated=False)  # fmt: skip
        reached("append.write")
        # xarray's region write leaves index coordinates alone: the event ids go directly
        group[EVENT][committed:] = np.asarray(ds[EVENT].values, dtype=str)
        reached("append.ids")
    zarr.consolidate_metadata(_group(url, "r+").store)
    reached("append.consolidate")


def truncate(url: str, n: int) -> int:
    """Cut every event-axis array back to n events; returns the most that were cut.

    With n = 0 the cube (perhaps a first batch cut short) is removed.  An array shorter
    than n was not written by the monitor: a `CubeError`."""
    group = _group(url, "r+")
    if group is None:
        if n:
            raise CubeError(f"{url} is missing but {n} events were committed to it")
        return 0
    arrays = event_arrays(group) if EVENT in group else {}
    short = {name: a.shape[0] for name, a in arrays.items() if a.shape[0] < n}
    if n and (short or not arrays):
        raise CubeError(f"{url}: event-axis arrays {short or '(none)'} are shorter than the "
                        f"{n} committed events")  # fmt: skip
    longest = max((a.shape[0] for a in arrays.values()), default=0)
    if n == 0:
        _rm(url)
        return longest
    for arr in arrays.values():
        if arr.shape[0] > n:
            arr.resize((n, *arr.shape[1:]))
    zarr.consolidate_metadata(group.store)
    return longest - n


def _rm(url: str) -> None:
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)
