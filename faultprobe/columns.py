"""Column names of the store's Parquet tables: SeisBench's vocabulary on disk.

On disk every table uses SeisBench's `CATEGORY_PARAMETER_UNIT` names where SeisBench has
one (`source_id`, `source_origin_time`, `source_latitude_deg`, `station_network_code`,
`station_code`, `trace_start_time`, `trace_snr_db`, …), so a table opened with pandas
joins with SeisBench metadata and INSTANCE as it is; faultprobe's own quantities keep
their descriptive names with units (`phase`, `ttf_s`, `fault_distance_km`, `status`), and
`station` in results.parquet and pairs/*.parquet stays: it holds NET.STA (or several
joined with +), which no SeisBench column does.
In memory the stages work with short names (`event_id`, `origin_time`, `latitude`, …);
`Store.write_table` and `Store.read_table` translate at the edge, with the mapping
below, so tables written before the rename read the same.  docs/tables.md lists it.
"""

from __future__ import annotations

import posixpath

import numpy as np
import pandas as pd

_SOURCE = {
    "event_id": "source_id",
    "origin_time": "source_origin_time",
    "latitude": "source_latitude_deg",
    "longitude": "source_longitude_deg",
    "depth_km": "source_depth_km",
    "magnitude": "source_magnitude",
    "magnitude_type": "source_magnitude_type",
}
_STATION = {
    "network": "station_network_code",
    "station": "station_code",
    "location": "station_location_code",
    "channels": "station_channels",
    "latitude": "station_latitude_deg",
    "longitude": "station_longitude_deg",
    "elevation_m": "station_elevation_m",
    "sampling_rate": "station_sampling_rate_hz",
    "data_network": "station_data_network_code",
}

#: In-memory name -> on-disk name, per table file name.
TABLES: dict[str, dict[str, str]] = {
    "events.parquet": dict(_SOURCE),
    "stations.parquet": dict(_STATION),
    "traces.parquet": {
        "event_id": "source_id",
        "network": "station_network_code",
        "station": "station_code",
        "location": "station_location_code",
        "channel": "trace_channels",
        "p_time": "trace_p_arrival_time",
        "start_time": "trace_start_time",
        "snr": "trace_snr_db",
    },
    # analyst P picks of a QuakeML catalog (`faultprobe catalog`; [waveforms] p_arrival)
    "picks.parquet": {
        "event_id": "source_id",
        "network": "station_network_code",
        "station": "station_code",
        "location": "station_location_code",
        "channel": "trace_channel",
        "phase": "trace_p_phase",
        "time": "trace_p_arrival_time",
        "evaluation_mode": "trace_p_status",
    },
    "predictions.parquet": {"event_id": "source_id", "origin_time": "source_origin_time"},
    "pairs.parquet": {"pre_id": "source_id_pre", "post_id": "source_id_post"},
    # fault-state tracking (tracking/NET.STA/) and monitoring (monitor/)
    "changepoints.parquet": {"event_id": "source_id"},
    "index.parquet": {"event_id": "source_id", "origin_time": "source_origin_time"},
    "monitor.parquet": {"event_id": "source_id", "origin_time": "source_origin_time"},
    "pending.parquet": dict(_SOURCE),
    "examples.parquet": {"pre_id": "source_id_pre", "post_id": "source_id_post"},
    "example_traces.parquet": {"pre_id": "source_id_pre", "post_id": "source_id_post"},
}
#: Columns whose values change unit on the way (in memory: amplitude ratio; disk: dB).
_DECIBELS = {"snr": "trace_snr_db"}


def mapping(name: str) -> dict[str, str]:
    """In-memory -> on-disk names for a table given by its path in the store."""
    return TABLES.get(posixpath.basename(name), {})


#: Derived on disk, dropped on reading: SeisBench's trace_name, EVENT.NET.STA.
TRACE_NAME = "trace_name"


def to_disk(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """The DataFrame with the table's on-disk names (and units)."""
    m = {k: v for k, v in mapping(name).items() if k in df.columns}
    if not m:
        return df
    out = df.rename(columns=m)
    if posixpath.basename(name) == "traces.parquet" and {"event_id", "network", "station"} <= set(
        df.columns
    ):
        ids = df["event_id"].astype(str) + "." + df["network"].astype(str) + "."
        out.insert(0, TRACE_NAME, ids + df["station"].astype(str))
    for k, v in _DECIBELS.items():
        if k in m:
            with np.errstate(divide="ignore", invalid="ignore"):
                out[v] = (20.0 * np.log10(df[k].to_numpy(np.float64))).astype(np.float32)
    return out


def from_disk(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """The DataFrame with the in-memory names (and units) of the table's columns."""
    back = {v: k for k, v in mapping(name).items() if v in df.columns}
    if not back:
        return df
    out = df.rename(columns=back)
    if posixpath.basename(name) == "traces.parquet" and TRACE_NAME in out.columns:
        out = out.drop(columns=TRACE_NAME)
    for k, v in _DECIBELS.items():
        if v in back:
            out[k] = (10.0 ** (df[v].to_numpy(np.float64) / 20.0)).astype(np.float32)
    return out


def disk_names(columns: list[str], name: str, present: list[str]) -> list[str]:
    """On-disk names of requested in-memory `columns`, for a file holding `present`."""
    m = mapping(name)
    return [m[c] if c in m and m[c] in present else c for c in columns]
