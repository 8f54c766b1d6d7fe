"""The cube as a SeisBench dataset: metadata.csv + waveforms.hdf5 in SeisBench's format.

`seisbench.data.WaveformDataset(OUT)` opens the result, and `faultprobe ingest` with
`waveforms.source = "seisbench"` reads it back into the same cube.  Each station's ok
traces are written one cube chunk at a time as HDF5 blocks (`bucket<k>$<i>,:3,:<T>`),
one HDF5 chunk per trace (SeisBench reads one trace at a time),
in the cube's E, N, Z order, as stored (raw counts unless the study's preprocessing says
otherwise: the `data_format` group records which).  The metadata uses SeisBench's
column names (as faultprobe's tables do); a run given with `--run` adds its train/dev/test `split` per event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from faultprobe import progress
from faultprobe._optional import need
from faultprobe.store import EVENTS, STATIONS, TRACES, Store

#: faultprobe's split names -> SeisBench's.
SPLITS = {"train": "train", "val": "dev", "test": "test"}


@dataclass
class ExportSummary:
    """What was written."""

    out: Path
    traces: int
    stations: list[str]
    skipped: int

    def render(self) -> str:
        return (
            f"SeisBench dataset {self.out}: {self.traces} traces from "
            f"{', '.join(self.stations)} ({self.skipped} traces not ok, left out); open it "
            f"with seisbench.data.WaveformDataset('{self.out}')"
        )


def _iso(ns: np.ndarray) -> list[str]:
    """UTC ISO 8601 with nanoseconds and a Z."""
    t = pd.DatetimeIndex(np.asarray(ns, dtype="datetime64[ns]"))
    return [s + "Z" for s in t.strftime("%Y-%m-%dT%H:%M:%S.%f")] if len(t) else []


def _iso_ns(ns: np.ndarray) -> list[str]:
    ns = np.asarray(ns, dtype="datetime64[ns]").astype(np.int64)
    base = _iso(ns)
    return [b[:-1] + f"{n % 1000:03d}Z" for b, n in zip(base, ns)]


def run_splits(run: str | None) -> dict[str, str]:
    """source_id -> SeisBench split name, from a run folder's predictions (empty: no run)."""
    if not run:
        return {}
    from faultprobe.ml.runs import PREDICTIONS, run_folder_from_path

    preds = run_folder_from_path(run).read_table(PREDICTIONS)
    return dict(zip(preds["source_id"].astype(str), preds["split"].map(SPLITS).fillna("")))


def data_format(ds, rate: float) -> dict:
    """SeisBench's `data_format` group for the cube's processing."""
    pre = ds.attrs.get("preprocessing", {}) or {}
    restituted = bool(pre.get("remove_response"))
    return {
        "dimension_order": "CW",
        "component_order": "".join(map(str, ds["component"].values)),
        "sampling_rate": rate,
        "measurement": "velocity",
        "unit": "m/s" if restituted else "counts",
        "instrument_response": "restituted" if restituted else "not restituted",
        "faultprobe_preprocessing": json.dumps(pre, default=str),
    }


def export_seisbench(
    root: str, out: str | Path, stations: list[str] | None = None, run: str | None = None
) -> ExportSummary:
    """Write the ok traces of `stations` (default: all) to OUT as a SeisBench dataset."""
    h5py = need("h5py", extra="datasets", what="SeisBench datasets (HDF5)")

    from faultprobe.ml.dataset import open_cube, sampling_rate, station_positions

    store = Store(root)
    ds = open_cube(store)
    events = store.read_table(EVENTS).set_index("source_id")
    events.index = events.index.astype(str)
    table = store.read_table(STATIONS)
    traces = store.read_table(TRACES) if store.exists(TRACES) else None
    rate = sampling_rate(ds)
    pos = station_positions(ds, stations or [str(s) for s in ds["station"].values])
    split = run_splits(run)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ev_ids = np.array([str(e) for e in ds["event"].values], dtype=object)
    ev = events.loc[ev_ids]
    origin = (
        ev["source_origin_time"]
        .dt.tz_convert("UTC")
        .dt.tz_localize(None)
        .to_numpy("datetime64[ns]")
    )
    status = ds["status"].values
    p_time = ds["p_time"].values.astype("datetime64[ns]")
    start = ds["start_time"].values.astype("datetime64[ns]")
    n_time = ds.sizes["time"]
    block = int(ds["waveform"].data.chunksize[0])  # one cube chunk per HDF5 block
    rows, bucket, skipped = [], 0, 0
    with h5py.File(out / "waveforms.hdf5", "w") as f:
        g = f.create_group("data_format")
        for key, value in data_format(ds, rate).items():
            g.create_dataset(key, data=value)
        data = f.create_group("data")
        for j in progress.bar(pos, desc="export stations", unit="station"):
            srow = _station_row(table, ds, j)
            snr = _snr(traces, srow, ev_ids)
            ok_all = status[:, j] == 0
            skipped += int((~ok_all).sum())
            for b0 in range(0, len(ev_ids), block):
                sl = slice(b0, min(b0 + block, len(ev_ids)))
                ok = np.flatnonzero(ok_all[sl]) + b0
                if not len(ok):
                    continue
                wf = ds["waveform"].isel(station=j, event=sl).values[ok - b0]
                name = f"bucket{bucket}"
                # one HDF5 chunk per trace: SeisBench reads a trace at a time, and h5py's
                # own chunking (32 traces x 1 component x 313 samples) made each read
                # inflate 24 chunks of 32 traces: 18x slower in benchmarks/peers.py read)
                data.create_dataset(
                    name,
                    data=wf.astype(np.float32),
                    compression="gzip",
                    chunks=(1, *wf.shape[1:]),
                )
                bucket += 1
                rows.append(
                    _metadata(
                        name, ok, n_time, rate, ds, ev, ev_ids, origin, p_time[ok, j],
                        start[ok, j], srow, snr, split,
                    )
                )  # fmt: skip
    meta = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    meta.to_csv(out / "metadata.csv", index=False)
    names = [
        f"{table.iloc[j]['station_network_code']}.{table.iloc[j]['station_code']}" for j in pos
    ]
    return ExportSummary(out, len(meta), names, skipped)


def _station_row(table: pd.DataFrame, ds, j: int) -> pd.Series:
    code = str(ds["station"].values[j]).split(".")[-1]
    net = str(ds["network"].values[j]) if "network" in ds.coords else None  # cube coord
    same_net = (table["station_network_code"] == net) if net else True
    sel = table[(table["station_code"] == code) & same_net]
    return sel.iloc[0]


def _snr(traces: pd.DataFrame | None, srow: pd.Series, ev_ids: np.ndarray) -> np.ndarray:
    """The traces' SNR in dB (as traces.parquet holds it), in the cube's event order."""
    if traces is None or "trace_snr_db" not in traces:
        return np.full(len(ev_ids), np.nan)
    net, code = srow["station_network_code"], srow["station_code"]
    t = traces[(traces["station_code"] == code) & (traces["station_network_code"] == net)]
    by_id = t.set_index(t["source_id"].astype(str))["trace_snr_db"]
    return by_id.reindex(ev_ids).to_numpy(float)


def _metadata(name, ok, n_time, rate, ds, ev, ev_ids, origin, p, start, srow, snr, split):
    n = len(ok)
    p_ns, s_ns = p.astype(np.int64), start.astype(np.int64)
    e = ev.iloc[ok]
    return pd.DataFrame(
        {
            "trace_name": [f"{name}${i},:{ds.sizes['component']},:{n_time}" for i in range(n)],
            "trace_name_original": [
                f"{eid}.{srow['station_network_code']}.{srow['station_code']}" for eid in ev_ids[ok]
            ],
            "trace_start_time": _iso_ns(start),
            "trace_sampling_rate_hz": rate,
            "trace_npts": n_time,
            "trace_component_order": "".join(map(str, ds["component"].values)),
            "trace_p_arrival_sample": (p_ns - s_ns) * rate / 1e9,
            "trace_snr_db": snr[ok],
            "station_network_code": srow["station_network_code"],
            "station_code": srow["station_code"],
            "station_location_code": srow.get("station_location_code", ""),
            "station_channels": srow.get("station_channels", ""),
            "station_latitude_deg": srow["station_latitude_deg"],
            "station_longitude_deg": srow["station_longitude_deg"],
            "station_elevation_m": srow["station_elevation_m"],
            "source_id": ev_ids[ok],
            "source_origin_time": _iso_ns(origin[ok]),
            "source_latitude_deg": e["source_latitude_deg"].to_numpy(float),
            "source_longitude_deg": e["source_longitude_deg"].to_numpy(float),
            "source_depth_km": e["source_depth_km"].to_numpy(float),
            "source_magnitude": e["source_magnitude"].to_numpy(float),
            "source_magnitude_type": e["source_magnitude_type"].to_numpy()
            if "source_magnitude_type" in e
            else "",
            "path_p_travel_s": (p_ns - origin[ok].astype(np.int64)) / 1e9,
            "phase": e["phase"].to_numpy() if "phase" in e else "",
            "ttf_s": e["ttf_s"].to_numpy(float) if "ttf_s" in e else np.nan,
            "fault_distance_km": e["fault_distance_km"].to_numpy(float)
            if "fault_distance_km" in e
            else np.nan,
            "split": [split.get(str(i), "") for i in ev_ids[ok]],
        }
    )
