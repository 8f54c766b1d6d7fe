"""Machine-learning datasets written by the tests from a study's raw miniSEED: a SeisBench
folder (through the real `seisbench` writer, with or without blocks and chunks) and the
paper's released layout (per-station CSV + HDF5, the authors' column names)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from obspy import UTCDateTime
from obspy.clients.filesystem.sds import Client as SDSClient

from faultprobe.config import StudyConfig, parse_config
from faultprobe.store import EVENTS, STATIONS, Store
from faultprobe.testing.studies import small_study_table


def raw_windows(cfg: StudyConfig, before_s: float = 9.0, after_s: float = 25.0) -> list[dict]:
    """Raw 3-component samples around P of every ok (event, station) of the cube."""
    ds = xr.open_zarr(f"{cfg.study.store}/waveforms.zarr")
    store = Store(cfg.study.store)  # SeisBench names (docs/tables.md)
    events = store.read_table(EVENTS).set_index("source_id")
    stations = store.read_table(STATIONS)
    sds = SDSClient(cfg.waveforms.sds_root)
    out = []
    status = ds["status"].values
    p = ds["p_time"].values
    for j, srow in stations.iterrows():
        for i, ev_id in enumerate(ds["event"].values):
            if status[i, j] != 0:
                continue
            t = UTCDateTime(ns=int(p[i, j].astype("datetime64[ns]").astype(np.int64)))
            st = sds.get_waveforms(
                srow["station_network_code"], srow["station_code"], "*",
                f"{srow['station_channels']}?", t - before_s, t + after_s,
            )  # fmt: skip
            st.merge()
            comps = {tr.stats.channel[-1]: tr for tr in st}
            start = max(tr.stats.starttime for tr in st)
            n = min(len(tr.data) for tr in st)
            if set(comps) != {"E", "N", "Z"} or any(tr.stats.starttime != start for tr in st):
                continue
            out.append(
                {
                    "event": events.loc[str(ev_id)],
                    "event_id": str(ev_id),
                    "station": srow,
                    "p_ns": int(p[i, j].astype("datetime64[ns]").astype(np.int64)),
                    "start_ns": start.ns,
                    "rate": float(st[0].stats.sampling_rate),
                    "channels": srow["station_channels"],
                    "data": {c: np.asarray(comps[c].data[:n]) for c in "ENZ"},
                }
            )
    return out


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, unit="ns", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.%f") + (
        f"{ns % 1000:03d}Z"
    )


def write_seisbench(windows: list[dict], out: Path, blocks: bool, chunks: bool) -> Path:
    """A SeisBench dataset written by seisbench's own WaveformDataWriter (ZNE order)."""
    import seisbench.data as sbd

    groups = {}
    for w in windows:
        key = w["station"]["station_code"] if chunks else ""
        groups.setdefault(key, []).append(w)
    out.mkdir(parents=True, exist_ok=True)
    for chunk, items in groups.items():
        with sbd.WaveformDataWriter(
            out / f"metadata{chunk}.csv", out / f"waveforms{chunk}.hdf5"
        ) as writer:
            writer.data_format = {
                "dimension_order": "CW",
                "component_order": "ZNE",
                "measurement": "velocity",
                "unit": "counts",
                "instrument_response": "not restituted",
            }
            if not blocks:  # one trace per bucket: a dataset named by the trace
                writer.bucket_size = 1
            for w in items:
                ev, sta = w["event"], w["station"]
                meta = {
                    "trace_name": ".".join(
                        [w["event_id"], sta["station_network_code"], sta["station_code"]]
                    ),
                    "trace_start_time": _iso(w["start_ns"]),
                    "trace_sampling_rate_hz": w["rate"],
                    "trace_p_arrival_sample": (w["p_ns"] - w["start_ns"]) * w["rate"] / 1e9,
                    "station_network_code": sta["station_network_code"],
                    "station_code": sta["station_code"],
                    "station_location_code": sta["station_location_code"],
                    "station_channels": w["channels"],
                    "station_latitude_deg": sta["station_latitude_deg"],
                    "station_longitude_deg": sta["station_longitude_deg"],
                    "station_elevation_m": sta["station_elevation_m"],
                    "source_id": w["event_id"],
                    "source_origin_time": _iso(ev["source_origin_time"].value),
                    "source_latitude_deg": ev["source_latitude_deg"],
                    "source_longitude_deg": ev["source_longitude_deg"],
                    "source_depth_km": ev["source_depth_km"],
                    "source_magnitude": ev["source_magnitude"],
                    "source_magnitude_type": ev["source_magnitude_type"],
                }
                data = np.stack([w["data"][c] for c in "ZNE"]).astype(np.int32)
                writer.add_trace(meta, data)
    if chunks:
        (out / "chunks").write_text("\n".join(sorted(groups)) + "\n")
    return out


def write_laurenti2024(windows: list[dict], out: Path) -> Path:
    """The paper's released layout: per station, pre and post CSV + HDF5 (3 x N, E N Z)."""
    import h5py

    out.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[str, str], list[dict]] = {}
    for w in windows:
        groups.setdefault((w["station"]["station_code"], w["event"]["phase"]), []).append(w)
    for (sta_code, phase), items in groups.items():
        stem = out / sta_code / f"{sta_code}_{phase}"
        stem.parent.mkdir(exist_ok=True)
        rows = []
        with h5py.File(stem.with_suffix(".hdf5"), "w") as f:
            g = f.create_group("data")
            for w in items:
                ev, sta = w["event"], w["station"]
                name = f"{sta['station_code']}.{sta['station_network_code']}.{w['event_id']}_EV"
                g.create_dataset(name, data=np.stack([w["data"][c] for c in "ENZ"]))
                rows.append(
                    {
                        "trace_name": name,
                        "trace_start_time": _iso(w["start_ns"]),
                        "network_code": sta["station_network_code"],
                        "receiver_name": sta["station_code"],
                        "receiver_type": w["channels"],
                        "receiver_elevation_m": sta["station_elevation_m"],
                        "receiver_latitude": sta["station_latitude_deg"],
                        "receiver_longitude": sta["station_longitude_deg"],
                        "source_id": w["event_id"],
                        "source_depth_km": ev["source_depth_km"],
                        "source_latitude": ev["source_latitude_deg"],
                        "source_longitude": ev["source_longitude_deg"],
                        "source_magnitude_type": ev["source_magnitude_type"],
                        "source_magnitude": ev["source_magnitude"],
                        "source_origin_time": _iso(ev["source_origin_time"].value),
                        "p_travel_sec": (w["p_ns"] - ev["source_origin_time"].value) / 1e9,
                        # not in the authors' files (all 100 Hz): needed for the 125 Hz one
                        "trace_sampling_rate_hz": w["rate"],
                    }
                )
        pd.DataFrame(rows).to_csv(stem.with_suffix(".csv"), index=False)
    return out


def dataset_config(
    folder: Path, dataset: Path, layout: str, store: Path, **waveforms
) -> StudyConfig:
    """The small study reading `dataset` for its catalog, stations and waveforms."""
    table = small_study_table(folder)
    table["study"]["store"] = str(store)
    table["catalog"] = {"path": str(dataset), "format": layout}
    table["stations"].pop("inventory")
    table["waveforms"] = {"source": layout, "dataset": str(dataset), "block_size": 32, **waveforms}
    return parse_config(table, source="<dataset study>")
