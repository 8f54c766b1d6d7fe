"""Waveform source for machine-learning datasets: SeisBench folders (INSTANCE too) and the
paper's released layout, behind the same `Source` interface as SDS and FDSN.

The driver reads the dataset's metadata once (`faultprobe.catalogs.datasets`), keeps the
traces of the study's stations and window and writes them, with each trace's length and
where its samples sit in the HDF5 files, to STORE/dataset_index.parquet (`build_index`).
Each task's `DatasetSource` reads that index and answers a block's windows with the
samples of the traces that overlap them, as segments with SEED ids, so the same
preprocessing cuts, checks and resamples them as it does miniSEED.
"""

from __future__ import annotations

import functools
from contextlib import ExitStack

import numpy as np
import pandas as pd

from faultprobe._optional import need
from faultprobe.catalogs.datasets import NAT, read_traces
from faultprobe.config.stages import IngestSettings
from faultprobe.pipelines.placement import overlay_p_times
from faultprobe.pipelines.plan import Plan, StationInfo
from faultprobe.pipelines.sources import Fetched, Request, Segment
from faultprobe.store import Store

INDEX = "dataset_index.parquet"
INDEX_COLUMNS = [
    "file",
    "group",  # HDF5 dataset path of the trace or of its block
    "location_slices",  # block location, e.g. "3,:3,:2500" ("" = the whole dataset)
    "time_axis",  # 0 or 1: which axis of the (trace) array is time
    "station_network_code",
    "station_code",
    "station_location_code",
    "station_channels",
    "component_order",
    "trace_sampling_rate_hz",
    "start_ns",
    "n_samples",
    "source_id",
    "p_ns",
]


def parse_location(text: str) -> tuple:
    """SeisBench's block location ("3,:3,:2500", "5,1:7,:") as a tuple of indices/slices."""
    out: list = []
    for part in text.replace(" ", "").split(","):
        if ":" not in part:
            out.append(int(part))
            continue
        bounds = [int(b) if b else None for b in part.split(":")]
        out.append(slice(*bounds))
    return tuple(out)


def _shape_after(shape: tuple[int, ...], loc: tuple) -> tuple[int, ...]:
    """The shape of `array[loc]` for an array of `shape`, without reading it."""
    dims = []
    for i, n in enumerate(shape):
        if i >= len(loc):
            dims.append(n)
        elif isinstance(loc[i], slice):
            dims.append(len(range(*loc[i].indices(n))))
    return tuple(dims)


def _dimension_order(f, fallback: str) -> str:
    """'CW' or 'WC' from a SeisBench file's data_format, else the fallback."""
    if "data_format" in f and "dimension_order" in f["data_format"]:
        v = f["data_format"]["dimension_order"][()]
        return (v.decode() if isinstance(v, bytes) else str(v)).upper()
    return fallback


def locate(traces: pd.DataFrame) -> pd.DataFrame:
    """Where each trace's samples are: HDF5 dataset, block location, time axis, length
    (0 when the file has no such trace).  Reads only HDF5 metadata (dataset shapes)."""
    h5py = need("h5py", extra="datasets", what="SeisBench datasets (HDF5)")

    found = []
    with ExitStack() as stack:
        files: dict[str, tuple] = {}
        for file, locator in zip(traces["file"], traces["locator"]):
            if file not in files:
                f = stack.enter_context(h5py.File(file, "r"))
                files[file] = (f, _dimension_order(f, ""))
            f, order = files[file]
            data, prefix = (f["data"], "data/") if "data" in f else (f, "")
            name, _, where = str(locator).partition("$")
            if name not in data:
                found.append(("", "", -1, 0))
                continue
            shape = _shape_after(data[name].shape, parse_location(where) if where else ())
            if len(shape) != 2:
                raise ValueError(f"{file}: trace {locator} has shape {shape}, not 2-D")
            if order in ("CW", "WC"):
                t = order.index("W")
            else:  # the paper's files: the axis of length 3 holds the components
                t = 0 if shape[1] == 3 and shape[0] != 3 else 1
            found.append((prefix + name, where, t, shape[t]))
    group, where, axis, length = zip(*found) if found else ((), (), (), ())
    return traces.assign(
        group=list(group),
        location_slices=list(where),
        time_axis=np.asarray(axis, dtype=np.int8),
        n_samples=np.asarray(length, dtype=np.int64),
    )


def build_index(job: IngestSettings, store: Store, plan: Plan) -> pd.DataFrame:
    """The dataset's traces at the plan's stations inside the study window, located in
    their files, written to STORE/dataset_index.parquet; returns them."""
    w = job.waveforms
    traces = read_traces(w.dataset, w.source)
    wanted = {(n, s.station) for s in plan.stations for n in (s.network, *s.aliases)}
    codes = zip(traces["station_network_code"], traces["station_code"])
    keep = np.fromiter(((n, s) in wanted for n, s in codes), bool, len(traces))
    t0 = int(pd.Timestamp(job.start).value) - 86_400 * 10**9
    t1 = int(pd.Timestamp(job.end).value) + 86_400 * 10**9
    keep &= (traces["start_ns"].to_numpy() >= t0) & (traces["start_ns"].to_numpy() <= t1)
    index = locate(traces[keep].reset_index(drop=True))
    index = index[index["n_samples"] > 0][INDEX_COLUMNS].reset_index(drop=True)
    store.write_table(index, INDEX)
    return index


def dataset_p_times(plan: Plan, index: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The plan's P times with the dataset's own P arrival wherever a trace of that event
    and station gives one (the model's elsewhere), and where it gave one."""
    given = index[index["p_ns"] != NAT]
    return overlay_p_times(
        plan,
        given["source_id"],
        given["station_network_code"],
        given["station_code"],
        given["p_ns"],
        first=False,
    )


@functools.lru_cache(maxsize=4)
def _read_index(url: str, token: str) -> pd.DataFrame:
    root, name = url.rsplit("/", 1)
    return Store(root).read_table(name)


def read_index(store: Store) -> pd.DataFrame:
    """STORE/dataset_index.parquet (read once per process and version of the file)."""
    info = store.fs.info(store.path(INDEX))
    token = f"{info.get('size')}-{info.get('mtime', info.get('LastModified', ''))}"
    return _read_index(store.url(INDEX), token)


class DatasetSource:
    """Answers windows from the HDF5 files of a dataset, through its index."""

    def __init__(self, store: Store, name: str):
        self.store = store
        self.name = name

    def fetch(self, requests: list[Request]) -> list[list[Fetched]]:
        index = read_index(self.store)
        with ExitStack() as files:
            opened: dict[str, object] = {}
            return [self._station(r, index, files, opened) for r in requests]

    def _open(self, path: str, files: ExitStack, opened: dict):
        h5py = need("h5py", extra="datasets", what="SeisBench datasets (HDF5)")

        if path not in opened:
            opened[path] = files.enter_context(h5py.File(path, "r"))
        return opened[path]

    def _station(self, req: Request, index: pd.DataFrame, files, opened) -> list[Fetched]:
        st: StationInfo = req.station
        nets = (st.network, *st.aliases)
        rows = index[
            index["station_network_code"].isin(nets) & (index["station_code"] == st.station)
        ]
        if st.location and (rows["station_location_code"] == st.location).any():
            rows = rows[rows["station_location_code"] == st.location]
        rows = rows.sort_values("start_ns", kind="stable")
        start = rows["start_ns"].to_numpy(np.int64)
        rate = rows["trace_sampling_rate_hz"].to_numpy(float)
        end = start + np.round((rows["n_samples"].to_numpy() - 1) * 1e9 / rate).astype(np.int64)
        longest = int((end - start).max()) if len(rows) else 0
        out = []
        for a, b in zip(req.starts_ns, req.ends_ns):
            lo = np.searchsorted(start, int(a) - longest, side="left")
            hi = np.searchsorted(start, int(b), side="right")
            hit = [k for k in range(lo, hi) if end[k] >= a]
            if not hit:
                out.append(
                    Fetched(None, "no_data", f"no trace of {st.code} in {self.name} dataset")
                )
                continue
            segs, errors = [], []
            for k in hit:
                r = rows.iloc[k]
                try:
                    segs += self._segments(r, st, files, opened)
                except (OSError, KeyError, ValueError) as err:
                    errors.append(f"cannot read {r['group']} from {r['file']} ({err})")
            cut = [c for g in segs if (c := g.cut(int(a), int(b)))]
            if not cut:
                reason = "; ".join(errors) or f"no samples of {st.code} in the window"
                out.append(Fetched(None, "error" if errors else "no_data", reason))
            else:
                out.append(Fetched(cut, notes=errors))
        return out

    def _segments(self, r, st: StationInfo, files, opened) -> list[Segment]:
        f = self._open(r["file"], files, opened)
        ds = f[r["group"]]
        loc = parse_location(r["location_slices"]) if r["location_slices"] else ()
        x = np.asarray(ds[loc] if loc else ds[()])
        if int(r["time_axis"]) == 0:
            x = x.T
        channels = r["station_channels"] or st.channels
        out = []
        for c, comp in enumerate(str(r["component_order"])):
            if c >= x.shape[0]:
                break
            seed = f"{st.network}.{st.station}.{r['station_location_code']}.{channels}{comp}"
            rate = float(r["trace_sampling_rate_hz"])
            out.append(Segment(seed, int(r["start_ns"]), rate, x[c]))
        return out
