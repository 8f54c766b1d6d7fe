"""Column names of faultprobe's tables: SeisBench's vocabulary, in memory and on disk.

Every table, in memory and in the store, uses SeisBench's `CATEGORY_PARAMETER_UNIT`
names where SeisBench has one (`source_id`, `source_origin_time`, `source_latitude_deg`,
`station_network_code`, `station_code`, `trace_start_time`, `trace_snr_db`, …), so a
table opened with pandas joins with SeisBench metadata and INSTANCE as it is;
faultprobe's own quantities keep descriptive names with units (`phase`, `ttf_s`,
`fault_distance_km`, `status`), and `station` in results, predictions and pairs stays:
it holds NET.STA (or several joined with +), which no SeisBench column does.
Stores written before the rename used short names (`event_id`, `latitude`, …, the SNR
as an amplitude ratio); `from_disk` upgrades them on reading, with `LEGACY` below, so
old stores read the same.  docs/tables.md lists the names.
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

#: The short names of stores written before the rename -> today's names, per table file.
LEGACY: dict[str, dict[str, str]] = {
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
#: Legacy columns whose values also change unit (then: amplitude ratio; now: dB).
_DECIBELS = {"snr": "trace_snr_db"}

#: Derived on disk, dropped on reading: SeisBench's trace_name, SOURCE_ID.NET.STA.
TRACE_NAME = "trace_name"
_TRACE_KEYS = ["source_id", "station_network_code", "station_code"]


def legacy(name: str) -> dict[str, str]:
    """Legacy short name -> today's name, for a table given by its path in the store."""
    return LEGACY.get(posixpath.basename(name), {})


def snr_db(ratio) -> np.ndarray:
    """An SNR amplitude ratio in dB (20 log10), float32; 0 -> -inf, NaN stays NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (20.0 * np.log10(np.asarray(ratio, np.float64))).astype(np.float32)


def to_disk(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """The DataFrame as the table is stored: traces gain SeisBench's `trace_name`."""
    if posixpath.basename(name) != "traces.parquet" or TRACE_NAME in df.columns:
        return df
    if not set(_TRACE_KEYS) <= set(df.columns):
        return df
    ids = df["source_id"].astype(str) + "." + df["station_network_code"].astype(str) + "."
    out = df.copy(deep=False)
    out.insert(0, TRACE_NAME, ids + df["station_code"].astype(str))
    return out


def from_disk(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """The stored table as the stages use it: legacy names (and units) upgraded,
    `trace_name` dropped (it is derived)."""
    old = {k: v for k, v in legacy(name).items() if k in df.columns and v not in df.columns}
    out = df.rename(columns=old) if old else df
    for k, v in _DECIBELS.items():
        if k in old:
            out[v] = snr_db(df[k].to_numpy(np.float64))
    if posixpath.basename(name) == "traces.parquet" and TRACE_NAME in out.columns:
        out = out.drop(columns=TRACE_NAME)
    return out


def disk_names(columns: list[str], name: str, present: list[str]) -> list[str]:
    """The stored names to read for the requested `columns` of a file holding `present`:
    a legacy file gives the short name of a column it has only under that name."""
    back = {v: k for k, v in legacy(name).items()}
    return [back[c] if c not in present and back.get(c) in present else c for c in columns]
