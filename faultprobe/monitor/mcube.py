"""The monitoring cube: the study cube's schema, growing along the event axis.

A batch of new events becomes a Dataset built by the ingest's own `cube.template` (same
variables, coordinates, CF attributes and encodings) filled with the batch's processed
windows, and is appended along `event`.  An append cut short by a crash leaves the arrays
longer than the committed count; `truncate` cuts every event-axis array back to it.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
import zarr

from faultprobe.pipelines import cube
from faultprobe.pipelines.plan import Plan


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


def append(url: str, ds: xr.Dataset, encoding: dict) -> None:
    """Create the cube with the first batch, append the next ones along `event`."""
    if length(url) is None:
        ds.to_zarr(url, mode="w", consolidated=False, zarr_format=3, encoding=encoding)
    else:
        ds.to_zarr(url, append_dim="event", consolidated=False)
    zarr.consolidate_metadata(zarr.open_group(url, mode="r+").store)


def length(url: str) -> int | None:
    """Events in the cube (None when there is no cube yet)."""
    try:
        group = zarr.open_group(url, mode="r")
        return int(group["event"].shape[0])
    except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError):
        return None


def event_ids(url: str) -> np.ndarray:
    """The cube's event ids, in cube (commit) order."""
    if length(url) is None:
        return np.array([], dtype=object)
    values = zarr.open_group(url, mode="r")["event"][...]
    return np.array([str(v) for v in np.asarray(values).tolist()], dtype=object)


def truncate(url: str, n: int) -> int:
    """Cut every event-axis array back to n events; returns how many were cut."""
    have = length(url)
    if have is None or have <= n:
        return 0
    group = zarr.open_group(url, mode="r+")
    for _, arr in group.arrays():
        dims = arr.metadata.dimension_names or ()
        if dims and dims[0] == "event":
            arr.resize((n, *arr.shape[1:]))
    zarr.consolidate_metadata(group.store)
    return have - n
