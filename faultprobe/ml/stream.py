"""Model inputs for a run: in memory when the station slice fits the budget, else streamed.

`model_inputs` decides.  Under the budget (or with none) the slice is read in one pass,
through the worker's slice cache when there is one, and the trainer gets arrays, as it
always did.  Above it, each split becomes a `CubeSplit`: its events are read from the cube
(local or `s3://`) in buffers made of whole event chunks, the next buffer read in a
background thread while the current one trains.  An epoch shuffles the chunks (which
chunks share a buffer), then the events inside each buffer; a buffer's events are kept in
cube order before that shuffle, so with one buffer holding everything an epoch is exactly
the in-memory epoch.  Both shuffles come from the epoch's generator, so a run is
reproducible for the same seed and budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from faultprobe.ml import dataset
from faultprobe.ml.spec import RunSpec
from faultprobe.ml.trainer import _batches  # the trainer's own batching: identical epochs

# Salt of the chunk-order generator: the within-buffer shuffle keeps the epoch generator's
# own stream, so one buffer gives the in-memory permutation.
_CHUNK_SALT = 0x5EED_C0DE


def channels_and_samples(ds: xr.Dataset, spec: RunSpec) -> tuple[int, int]:
    """Model input channels (3 per station) and samples per trace for the spec's window."""
    t = dataset._time_slice(ds, spec.window_s)
    n_time = len(range(*t.indices(ds.sizes["time"])))
    return 3 * len(spec.stations), n_time


def slice_bytes(ds: xr.Dataset, spec: RunSpec, n_events: int) -> int:
    """float32 bytes of the spec's stations and window for `n_events` events."""
    ch, nt = channels_and_samples(ds, spec)
    return int(n_events) * ch * nt * 4


def event_chunk(ds: xr.Dataset) -> int:
    """Events per chunk of the cube's waveform (the unit of a streamed read)."""
    return dataset.event_chunk(ds["waveform"])


@dataclass
class CubeSplit:
    """One split's events read from the cube in chunk-aligned buffers of at most
    `buffer_bytes`, with the next buffer prefetched in a background thread.

    `positions` are cube event positions (ascending), `labels` their classes.
    """

    ds: xr.Dataset
    spec: RunSpec
    positions: np.ndarray
    labels: np.ndarray
    buffer_bytes: int
    chunk_events: int

    def __post_init__(self) -> None:
        order = np.argsort(self.positions, kind="stable")
        self.positions = np.asarray(self.positions)[order]
        self.labels = np.asarray(self.labels)[order]
        chunk = self.positions // self.chunk_events
        self._cuts = np.flatnonzero(np.diff(chunk)) + 1
        self._chunks = np.split(np.arange(len(self.positions)), self._cuts)
        self.n_channels, self.n_time = channels_and_samples(self.ds, self.spec)
        row = self.n_channels * self.n_time * 4
        self._rows = max(int(self.buffer_bytes // row), 1)

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def n_chunks(self) -> int:
        return len(self._chunks) if len(self.positions) else 0

    def groups(self, chunk_order: np.ndarray | None = None) -> list[np.ndarray]:
        """Row indices of each buffer: chunks taken in `chunk_order` (cube order by
        default) until the next would overflow; rows of a buffer in cube order."""
        if not len(self.positions):
            return []
        order = np.arange(self.n_chunks) if chunk_order is None else chunk_order
        out, current, n = [], [], 0
        for c in order:
            rows = self._chunks[c]
            if current and n + len(rows) > self._rows:
                out.append(np.sort(np.concatenate(current)))
                current, n = [], 0
            current.append(rows)
            n += len(rows)
        out.append(np.sort(np.concatenate(current)))
        return out

    def _read(self, rows: np.ndarray) -> np.ndarray:
        sl = dataset.read_station_slice(
            self.ds, self.spec.stations, self.spec.window_s, events=self.positions[rows]
        )
        return dataset.prepare(sl.x, sl.sampling_rate, self.spec.band_hz, overwrite=True)

    def buffers(
        self, chunk_order: np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(inputs, labels) of each buffer in turn, the next one read while this one is
        used (at most two buffers in memory)."""
        groups = self.groups(chunk_order)
        if not groups:
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="faultprobe-prefetch") as ex:
            nxt = ex.submit(self._read, groups[0])
            for i, rows in enumerate(groups):
                x = nxt.result()
                if i + 1 < len(groups):
                    nxt = ex.submit(self._read, groups[i + 1])
                yield x, self.labels[rows]
                del x

    def chunk_order(self, g: torch.Generator) -> np.ndarray:
        """The epoch's chunk order, from a generator derived from (not drawn from) `g`."""
        cg = torch.Generator().manual_seed(g.initial_seed() ^ _CHUNK_SALT)
        return torch.randperm(self.n_chunks, generator=cg).numpy()

    def n_batches(self, batch_size: int) -> int:
        """Training batches per epoch (the same for every chunk order with one buffer;
        an upper bound otherwise)."""
        return sum(len(_batches(len(r), batch_size, None)) for r in self.groups())

    def epoch_batches(
        self, g: torch.Generator, batch_size: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of (x, y) training batches: chunk-level then in-buffer shuffle."""
        for x, y in self.buffers(self.chunk_order(g)):
            xt = torch.from_numpy(x)
            yt = torch.as_tensor(y, dtype=torch.long)
            perm = torch.randperm(len(xt), generator=g)
            for b in _batches(len(xt), batch_size, perm):
                yield xt[b], yt[b]


@dataclass
class Inputs:
    """What the trainer and the scorer read for one run: arrays, or streamed splits."""

    x_train: np.ndarray | CubeSplit
    x_val: np.ndarray | CubeSplit
    x_all: np.ndarray | CubeSplit
    n_channels: int
    mode: str  # "memory", "cache" or "stream"
    slice_bytes: int


def read_slice(
    ds: xr.Dataset,
    spec: RunSpec,
    positions: np.ndarray,
    cache=None,
    cube_id: tuple = (),
) -> tuple[np.ndarray, str]:
    """The spec's prepared inputs for `positions` in one pass; the raw slice (all events)
    comes from `cache` when it holds it (and is kept there when it fits). Returns (x,
    "memory" | "cache")."""
    whole = slice_bytes(ds, spec, ds.sizes["event"])
    if cache is None or whole > cache.max_bytes:  # uncached, or too big to keep: used rows
        sl = dataset.read_station_slice(ds, spec.stations, spec.window_s, events=positions)
        return dataset.prepare(sl.x, sl.sampling_rate, spec.band_hz, overwrite=True), "memory"
    key = (*cube_id, tuple(spec.stations), spec.window_s)
    raw, hit = cache.get(key, lambda: _whole_slice(ds, spec))
    x = raw.x[np.asarray(positions)]  # a copy: the cached slice is left alone
    return dataset.prepare(
        x, raw.sampling_rate, spec.band_hz, overwrite=True
    ), "cache" if hit else "memory"


def _whole_slice(ds: xr.Dataset, spec: RunSpec) -> dataset.StationSlice:
    return dataset.read_station_slice(ds, spec.stations, spec.window_s)


def model_inputs(
    ds: xr.Dataset,
    spec: RunSpec,
    used: np.ndarray,
    codes: np.ndarray,
    y: np.ndarray,
    *,
    cache=None,
    cube_id: tuple = (),
    stream: bool | None = None,
    store=None,
) -> Inputs:
    """Inputs of a run over the cube positions `used` (split codes `codes`, labels `y`).

    Streams when the slice exceeds `spec.training.memory_budget` (or when `stream` is
    True), reading `store`'s cube; the budget is split between the buffer in use and the
    one being prefetched.
    """
    from faultprobe.ml import splits

    nbytes = slice_bytes(ds, spec, len(used))
    budget = spec.training.memory_budget
    if stream is None:
        stream = budget is not None and nbytes > budget
    tr, va = codes == splits.TRAIN, codes == splits.VAL
    ch, _ = channels_and_samples(ds, spec)
    # Waveforms are read through zarr directly: a dask-backed read inside a Dask task
    # would send its chunks to the cluster that runs the task (and wait on its own slot).
    lazy = lazy_cube(store) if store is not None else ds
    if not stream:
        x, mode = read_slice(lazy, spec, used, cache, cube_id)
        return Inputs(x[tr], x[va], x, ch, mode, nbytes)
    buffer = max((budget or nbytes) // 2, 1)
    chunk = event_chunk(ds)

    def split(mask: np.ndarray) -> CubeSplit:
        return CubeSplit(lazy, spec, used[mask], y[mask], buffer, chunk)

    all_ = np.ones(len(used), dtype=bool)
    return Inputs(split(tr), split(va), split(all_), ch, "stream", nbytes)


def lazy_cube(store) -> xr.Dataset:
    """The cube with zarr-backed lazy arrays: a read touches only its own chunks and builds
    no task graph (works for local folders and s3:// alike)."""
    from faultprobe.store import CUBE

    return xr.open_zarr(store.url(CUBE), chunks=None, storage_options=store.storage_options)
